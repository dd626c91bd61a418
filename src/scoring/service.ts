// Over 400 lines on purpose: the per-machine windows, their slab-backed state, the scoring round and
// the champion swap share one fleet map and its bounds; the window itself is machine-window.ts.
import type Database from 'better-sqlite3';
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { Float64Pool } from '../core/f64-pool.js';
import { SensorLayout } from '../core/sensor-layout.js';
import type { FleetMembership, IngestBatch, MachineRef } from '../core/types.js';
import type { SensorStore } from '../core/sensor-store.js';
import { inputNames } from '../features/normalize.js';
import type { ModelMeta } from '../registry/registry.js';
import type { InferenceClient } from './inference-client.js';
import { MachineWindow } from './machine-window.js';

export interface ScoringOptions {
  /** Minimum time between two scores of one machine. */
  intervalMs: number;
  maxBatch: number;
  topSensors: number;
  historyRetentionMs: number;
  /** Grid and gap rule used when no champion exists yet (the champion's own are used after). */
  stepMs: number;
  windowSteps: number;
  maxGapSteps: number;
  /** Sensors tracked per machine; values of further sensors are stored but not scored. */
  maxSensorsPerMachine?: number;
}

export interface MachineScore {
  at: number;
  dataTs: number;
  probability: number;
  rulSteps: number;
  /** RUL in time: steps × the model's step. */
  rulMs: number;
  model: string;
  topSensors: Array<{ sensor: string; contribution: number }>;
  /** Model inputs the machine sent no reading of in this window: scored at their training mean. */
  missingInputs?: string[];
}

export interface MachineState {
  ref: MachineRef;
  /**
   * What the last scoring attempt found: scored, waiting for data, no model to score with, or down
   * (failed, not repaired yet: a score of a broken machine means nothing).
   */
  status: 'scored' | 'warming_up' | 'no_model' | 'down';
  detail: string | null;
  score: MachineScore | null;
  /** Data time of its newest reading, and when (daemon clock) a reading last arrived: replayed data differs. */
  lastSeenTs: number;
  lastReceivedAt: number;
  latest: Record<string, { value: number; ts: number }>;
}

export interface ChampionView {
  version: string;
  meta: ModelMeta;
}

type ScoreListener = (machine: MachineRef, score: MachineScore, threshold: number) => void;

interface Tracked {
  window: MachineWindow;
  status: MachineState['status'];
  detail: string | null;
  score: MachineScore | null;
  lastReceivedAt: number;
  lastScoredAt: number;
  /** Data time of the failure it is down since, until a repair or maintenance after it. */
  downSince: number | null;
}

/**
 * Online scoring: each machine's latest window in memory, scored with the champion as steps complete,
 * many machines per predict call, each at most once per interval. The champion is reloaded without a
 * restart when the registry's champion changes; before the first model, machines say so.
 */
export class ScoringService {
  /** Per tracked machine: its window and how scoring went (one small record: there may be tens of thousands). */
  private readonly machinesById = new Map<string, Tracked>();
  private readonly layouts = SensorLayout.root();
  /** The windows' numbers, in shared slabs outside the JS heap. */
  private readonly pool = new Float64Pool();
  private readonly dirty = new Set<string>();
  /** Machines per status, kept as statuses change: the status endpoint must not walk the fleet. */
  private readonly statusCounts: Record<MachineState['status'], number> = { scored: 0, warming_up: 0, no_model: 0, down: 0 };
  private champion: ChampionView | null = null;
  private noModelReason = 'no model trained yet';
  private loadedVersion: string | null = null;
  /** A champion that failed to load is retried after a pause, not on every 50 ms tick. */
  private loadFailure: { version: string; at: number } | null = null;
  private busy = false;
  private timer: TimerHandle = undefined;
  private pruneTimer: TimerHandle = undefined;
  private readonly listeners: ScoreListener[] = [];
  private readonly insertScore: Database.Statement;
  private readonly historyQuery: Database.Statement;
  private readonly pruneScores: Database.Statement;
  readonly name = 'scoring';
  readonly stats = {
    batches: 0,
    scored: 0,
    scoredWithMissingInputs: 0,
    errors: 0,
    lastBatchMs: null as number | null,
    lastBatchSize: 0,
    lastError: null as string | null,
    loadedAt: null as number | null,
    /** Readings older than their machine's window (or its current run) when they arrived: stored, not scored. */
    lateReadings: 0,
    /** Values of sensors beyond a machine's sensor cap. */
    untrackedSensorValues: 0,
  };
  /** Inference time of the most recent batches (ms), for benchmarks and percentiles. */
  readonly recentBatchMs: number[] = [];

  constructor(
    private readonly inference: InferenceClient,
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly o: ScoringOptions,
    private readonly modelsDir: string,
    /** Which machines get a window; all when absent. */
    private readonly fleet?: FleetMembership,
  ) {
    this.insertScore = db.prepare(
      'INSERT OR REPLACE INTO scores (machine, ts, scored_at, probability, rul, model) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.historyQuery = db.prepare(
      'SELECT ts, scored_at, probability, rul, model FROM scores WHERE machine = ? AND ts >= ? AND ts < ? ORDER BY ts DESC LIMIT ?',
    );
    this.pruneScores = db.prepare('DELETE FROM scores WHERE scored_at < ?');
  }

  onScore(listener: ScoreListener): void {
    this.listeners.push(listener);
  }

  /**
   * Sets (or clears) the champion; the worker loads it before the next batch. Without one,
   * `whyNone` is what each machine's status says (e.g. why the last model was not promoted).
   */
  setChampion(champion: ChampionView | null, whyNone = 'no model trained yet'): void {
    if (champion?.version === this.champion?.version && (champion || whyNone === this.noModelReason)) return;
    this.noModelReason = whyNone;
    const before = this.grid();
    this.champion = champion;
    const after = this.grid();
    // Buffers on another step cannot serve the new model: they refill on its grid.
    const regrid = before.stepMs !== after.stepMs || before.keep !== after.keep;
    for (const [id, m] of this.machinesById) {
      if (regrid) {
        m.window.dispose();
        m.window = new MachineWindow(m.window.ref, after.stepMs, after.keep, this.layouts, this.o.maxSensorsPerMachine, this.pool);
      }
      if (m.downSince !== null) continue;
      if (!champion) this.setStatus(m, 'no_model', whyNone);
      this.dirty.add(id);
    }
  }

  get championVersion(): string | null {
    return this.champion?.version ?? null;
  }

  /** Reads each known machine's recent readings so scoring resumes at once after a restart. */
  async seed(store: SensorStore): Promise<void> {
    const { stepMs, keep } = this.grid();
    // Only machines whose last readings still fall in a window from now, the most recent first: a
    // store full of machines long silent must not take the places of the ones still sending.
    const since = this.clock.now() - keep * stepMs;
    const recent = (await store.listMachines()).filter((m) => m.lastTs !== null && m.lastTs >= since).sort((a, b) => b.lastTs! - a.lastTs!);
    for (const m of recent) {
      if (m.lastTs === null || (this.fleet && !this.fleet.admit(m.ref.machine))) continue;
      const samples = await store.queryReadings({ machine: m.ref.machine, from: m.lastTs - keep * stepMs, to: m.lastTs + 1 });
      // Read back, not received: its arrival is no later than its own time stamp.
      this.observe({ samples, events: [] }, Math.min(this.clock.now(), m.lastTs));
    }
  }

  observe(batch: IngestBatch, receivedAt = this.clock.now()): void {
    for (const s of batch.samples) {
      const id = s.machine.machine;
      let m = this.machinesById.get(id);
      if (!m) {
        if (this.fleet && !this.fleet.has(id)) continue;
        m = this.track(s.machine, receivedAt);
      }
      const added = m.window.add(s);
      if (added.untracked > 0) this.stats.untrackedSensorValues += added.untracked;
      if (added.late) {
        for (const _ in s.values) this.stats.lateReadings++;
        continue;
      }
      if (m.downSince === null) this.dirty.add(id);
      m.lastReceivedAt = receivedAt;
    }
    for (const e of batch.events) {
      if (e.type !== 'failure' && e.type !== 'repair' && e.type !== 'maintenance') continue;
      const m = this.machinesById.get(e.machine.machine);
      if (!m) continue;
      // Judged before the reset drops the window: a failure older than what the window spans was
      // recorded late or backfilled, and says nothing about the machine now.
      const newest = m.window.newestTs();
      const { stepMs, keep } = this.grid();
      const current = newest === null || e.ts >= newest - keep * stepMs;
      // A failure ends the run and a repair starts a new one: older readings must not be scored again.
      m.window.reset(e.ts);
      if (e.type === 'failure') {
        if (current && (m.downSince === null || e.ts > m.downSince)) {
          m.downSince = e.ts;
          m.score = null;
          this.dirty.delete(e.machine.machine);
          this.setStatus(m, 'down', `down since the failure at ${new Date(e.ts).toISOString()}: not scored until a repair or maintenance`);
        }
      } else if (m.downSince !== null && e.ts >= m.downSince) {
        m.downSince = null;
        this.setStatus(m, this.champion ? 'warming_up' : 'no_model', this.champion ? null : this.noModelReason);
      }
    }
  }

  private track(ref: MachineRef, receivedAt: number): Tracked {
    const { stepMs, keep } = this.grid();
    const m: Tracked = {
      window: new MachineWindow(ref, stepMs, keep, this.layouts, this.o.maxSensorsPerMachine, this.pool),
      status: 'no_model',
      detail: this.champion ? null : this.noModelReason,
      score: null,
      lastReceivedAt: receivedAt,
      lastScoredAt: -Infinity,
      downSince: null,
    };
    this.statusCounts.no_model++;
    if (this.champion) this.setStatus(m, 'warming_up', null);
    this.machinesById.set(ref.machine, m);
    return m;
  }

  private setStatus(m: Tracked, status: MachineState['status'], detail: string | null): void {
    if (m.status !== status) {
      this.statusCounts[m.status]--;
      this.statusCounts[status]++;
      m.status = status;
    }
    m.detail = detail;
  }

  /** A short tick: a machine's new data waits at most this long (plus its throttle) to be scored. */
  start(tickMs = 50): void {
    this.timer = this.clock.setInterval(() => void this.tick(), tickMs);
    this.pruneTimer = this.clock.setInterval(() => this.prune(), 3_600_000);
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
    this.clock.clearInterval(this.pruneTimer);
  }

  machines(): MachineState[] {
    return [...this.machinesById.values()].map((m) => this.view(m));
  }

  /** Each tracked machine's state, without its latest values (cheap enough for a whole fleet). */
  *states(): IterableIterator<Omit<MachineState, 'latest'>> {
    for (const m of this.machinesById.values()) yield this.summary(m);
  }

  /** How many tracked machines are in each status, without walking them. */
  counts(): { machines: number } & Record<MachineState['status'], number> {
    return { machines: this.machinesById.size, ...this.statusCounts };
  }

  /** The `n` machines at the highest risk, highest first: one pass over the fleet, no full sort. */
  topScores(n: number): Array<{ ref: MachineRef; score: MachineScore }> {
    const top: Array<{ ref: MachineRef; score: MachineScore }> = [];
    for (const m of this.machinesById.values()) {
      const score = m.score;
      if (!score || (top.length >= n && score.probability <= top[top.length - 1]!.score.probability)) continue;
      let i = top.length;
      while (i > 0 && top[i - 1]!.score.probability < score.probability) i--;
      top.splice(i, 0, { ref: m.window.ref, score });
      if (top.length > n) top.pop();
    }
    return top;
  }

  machine(id: string): MachineState | null {
    const m = this.machinesById.get(id);
    return m ? this.view(m) : null;
  }

  history(
    machine: string,
    from: number,
    to: number,
    limit: number,
  ): Array<{ dataTs: number; at: number; probability: number; rulSteps: number; model: string }> {
    return (
      this.historyQuery.all(machine, from, to, limit) as Array<{
        ts: number;
        scored_at: number;
        probability: number;
        rul: number;
        model: string;
      }>
    )
      .reverse()
      .map((r) => ({ dataTs: r.ts, at: r.scored_at, probability: r.probability, rulSteps: r.rul, model: r.model }));
  }

  /** One round: load a new champion if needed, then score due machines in batches. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      if (!this.champion) {
        // Statuses say "no model" already (set when the champion went or the machine came).
        this.dirty.clear();
        return;
      }
      if (this.loadedVersion !== this.champion.version || !this.inference.started) {
        const f = this.loadFailure;
        if (f && f.version === this.champion.version && this.clock.now() - f.at < 60_000) return;
        await this.load(this.champion);
      }
      const now = this.clock.now();
      const due: string[] = [];
      for (const id of this.dirty) if (now - (this.machinesById.get(id)?.lastScoredAt ?? -Infinity) >= this.o.intervalMs) due.push(id);
      for (let i = 0; i < due.length; i += this.o.maxBatch) await this.scoreBatch(due.slice(i, i + this.o.maxBatch), this.champion);
    } catch (err) {
      this.stats.errors++;
      this.stats.lastError = errorMessage(err);
      this.log.error({ err }, 'scoring failed');
    } finally {
      this.busy = false;
    }
  }

  private async load(champion: ChampionView): Promise<void> {
    const reply = await this.inference
      .request({ type: 'load', modelsDir: this.modelsDir, version: champion.version })
      .catch((err: unknown) => ({ type: 'error' as const, id: 0, message: errorMessage(err) }));
    if (reply.type === 'error') {
      this.loadFailure = { version: champion.version, at: this.clock.now() };
      for (const m of this.machinesById.values())
        if (m.downSince === null) this.setStatus(m, 'no_model', `champion ${champion.version} cannot be loaded: ${reply.message}`);
      throw new Error(`cannot load champion ${champion.version}: ${reply.message}; retrying in a minute`);
    }
    this.loadFailure = null;
    this.loadedVersion = champion.version;
    this.stats.loadedAt = this.clock.now();
    this.log.info({ version: champion.version }, 'scoring with champion');
  }

  private async scoreBatch(ids: string[], champion: ChampionView): Promise<void> {
    const meta = champion.meta;
    const F = inputNames(meta.normalisation).length;
    const S = meta.normalisation.sensors.length;
    const size = meta.window * F;
    const ready: Array<{ id: string; endTs: number; missing: string[] }> = [];
    const x = new Float32Array(ids.length * size);
    for (const id of ids) {
      this.dirty.delete(id);
      const m = this.machinesById.get(id);
      if (!m || m.downSince !== null) continue;
      const r = m.window.window(meta.normalisation, meta.window, this.o.maxGapSteps);
      if (!r.ok) {
        this.setStatus(m, 'warming_up', r.reason);
        continue;
      }
      x.set(r.x, ready.length * size);
      ready.push({ id, endTs: r.endTs, missing: r.missing });
    }
    if (ready.length === 0) return;
    const occlude = this.o.topSensors > 0;
    const reply = await this.inference.request({
      type: 'score',
      x: x.slice(0, ready.length * size),
      n: ready.length,
      windowSteps: meta.window,
      features: F,
      // The sensors only: they come first; the regime inputs after them are not a reason a technician can act on.
      occlude: occlude ? S : 0,
    });
    if (reply.type !== 'scores') throw new Error(reply.type === 'error' ? reply.message : 'unexpected reply from the inference worker');
    const now = this.clock.now();
    this.stats.batches++;
    this.stats.scored += ready.length;
    this.stats.lastBatchMs = reply.ms;
    this.recentBatchMs.push(reply.ms);
    if (this.recentBatchMs.length > 1000) this.recentBatchMs.shift();
    this.stats.lastBatchSize = ready.length;
    const scored: Array<{ ref: MachineRef; score: MachineScore }> = [];
    this.db.transaction(() => {
      ready.forEach(({ id, endTs, missing }, i) => {
        const p = reply.p[i]!;
        const rulSteps = Math.min(meta.rulCap, Math.max(0, reply.rul[i]! * meta.rulCap));
        const topSensors = reply.occludedP
          ? topContributions(p, reply.occludedP.subarray(i * S, (i + 1) * S), meta.normalisation.sensors, this.o.topSensors)
          : [];
        const score: MachineScore = {
          at: now,
          dataTs: endTs,
          probability: p,
          rulSteps,
          rulMs: rulSteps * meta.stepMs,
          model: champion.version,
          topSensors,
          missingInputs: missing,
        };
        if (missing.length > 0) this.stats.scoredWithMissingInputs++;
        const m = this.machinesById.get(id)!;
        this.setStatus(m, 'scored', null);
        m.score = score;
        m.lastScoredAt = now;
        this.insertScore.run(id, endTs, now, p, rulSteps, champion.version);
        scored.push({ ref: m.window.ref, score });
      });
    })();
    for (const { ref, score } of scored) for (const l of this.listeners) l(ref, score, meta.threshold);
  }

  private grid(): { stepMs: number; keep: number } {
    const m = this.champion?.meta;
    const stepMs = m?.stepMs ?? this.o.stepMs;
    return { stepMs, keep: (m?.window ?? this.o.windowSteps) + this.o.maxGapSteps + 2 };
  }

  private prune(): void {
    this.pruneScores.run(this.clock.now() - this.o.historyRetentionMs);
  }

  private summary(m: Tracked): Omit<MachineState, 'latest'> {
    return {
      ref: m.window.ref,
      status: m.status,
      detail: m.detail,
      score: m.score,
      lastSeenTs: m.window.lastTs,
      lastReceivedAt: m.lastReceivedAt,
    };
  }

  private view(m: Tracked): MachineState {
    return { ...this.summary(m), latest: m.window.latest() };
  }
}

/** Sensors whose removal lowers p(failure) most: they pushed the score up. */
export function topContributions(
  p: number,
  occluded: Float32Array,
  sensors: readonly string[],
  n: number,
): Array<{ sensor: string; contribution: number }> {
  return sensors
    .map((sensor, f) => ({ sensor, contribution: p - occluded[f]! }))
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
    .slice(0, n);
}
