import type Database from 'better-sqlite3';
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { IngestBatch, MachineRef } from '../core/types.js';
import type { SensorStore } from '../store/sensor-store.js';
import type { ModelMeta } from '../training/registry.js';
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
  /** What the last scoring attempt found: scored, waiting for data, or no model to score with. */
  status: 'scored' | 'warming_up' | 'no_model';
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

/**
 * Online scoring: each machine's latest window in memory, scored with the champion as steps complete,
 * many machines per predict call, each at most once per interval. The champion is reloaded without a
 * restart when the registry's champion changes; before the first model, machines say so.
 */
export class ScoringService {
  private readonly windows = new Map<string, MachineWindow>();
  private readonly states = new Map<string, MachineState>();
  private readonly dirty = new Set<string>();
  private readonly lastScoredAt = new Map<string, number>();
  private champion: ChampionView | null = null;
  private loadedVersion: string | null = null;
  /** A champion that failed to load is retried after a pause, not on every 50 ms tick. */
  private loadFailure: { version: string; at: number } | null = null;
  private busy = false;
  private timer: TimerHandle = undefined;
  private pruneTimer: TimerHandle = undefined;
  private readonly listeners: ScoreListener[] = [];
  readonly stats = { batches: 0, scored: 0, scoredWithMissingInputs: 0, errors: 0, lastBatchMs: null as number | null, lastBatchSize: 0, lastError: null as string | null, loadedAt: null as number | null };
  /** Inference time of the most recent batches (ms), for benchmarks and percentiles. */
  readonly recentBatchMs: number[] = [];

  constructor(
    private readonly inference: InferenceClient,
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly o: ScoringOptions,
    private readonly modelsDir: string,
  ) {}

  onScore(listener: ScoreListener): void {
    this.listeners.push(listener);
  }

  /** Sets (or clears) the champion; the worker loads it before the next batch. */
  setChampion(champion: ChampionView | null): void {
    if (champion?.version === this.champion?.version) return;
    const before = this.grid();
    this.champion = champion;
    const after = this.grid();
    // Buffers on another step cannot serve the new model: they refill on its grid.
    if (before.stepMs !== after.stepMs || before.keep !== after.keep) this.windows.clear();
    for (const id of this.windows.keys()) this.dirty.add(id);
  }

  get championVersion(): string | null {
    return this.champion?.version ?? null;
  }

  /** Reads each known machine's recent readings so scoring resumes at once after a restart. */
  async seed(store: SensorStore): Promise<void> {
    const { stepMs, keep } = this.grid();
    for (const m of await store.listMachines()) {
      if (m.lastTs === null) continue;
      const samples = await store.queryReadings({ machine: m.ref.machine, from: m.lastTs - keep * stepMs, to: m.lastTs + 1 });
      // Read back, not received: its arrival is no later than its own time stamp.
      this.observe({ samples, events: [] }, Math.min(this.clock.now(), m.lastTs));
    }
  }

  observe(batch: IngestBatch, receivedAt = this.clock.now()): void {
    const { stepMs, keep } = this.grid();
    for (const s of batch.samples) {
      const id = s.machine.machine;
      let w = this.windows.get(id);
      if (!w) {
        w = new MachineWindow(s.machine, stepMs, keep);
        this.windows.set(id, w);
        this.states.set(id, { ref: s.machine, status: this.champion ? 'warming_up' : 'no_model', detail: null, score: null, lastSeenTs: s.ts, lastReceivedAt: receivedAt, latest: {} });
      }
      w.add(s);
      this.dirty.add(id);
      const st = this.states.get(id)!;
      st.lastSeenTs = w.lastTs;
      st.lastReceivedAt = receivedAt;
    }
    for (const e of batch.events) {
      // A failure ends the run and a repair starts a new one: old readings must not be scored again.
      if (e.type === 'failure' || e.type === 'repair' || e.type === 'maintenance') this.windows.get(e.machine.machine)?.reset();
    }
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
    return [...this.states.values()].map((s) => this.view(s));
  }

  machine(id: string): MachineState | null {
    const s = this.states.get(id);
    return s ? this.view(s) : null;
  }

  history(machine: string, from: number, to: number, limit: number): Array<{ dataTs: number; at: number; probability: number; rulSteps: number; model: string }> {
    return (
      this.db
        .prepare('SELECT ts, scored_at, probability, rul, model FROM scores WHERE machine = ? AND ts >= ? AND ts < ? ORDER BY ts DESC LIMIT ?')
        .all(machine, from, to, limit) as Array<{ ts: number; scored_at: number; probability: number; rul: number; model: string }>
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
        for (const s of this.states.values()) (s.status = 'no_model'), (s.detail = 'no model trained yet');
        this.dirty.clear();
        return;
      }
      if (this.loadedVersion !== this.champion.version || !this.inference.started) {
        const f = this.loadFailure;
        if (f && f.version === this.champion.version && this.clock.now() - f.at < 60_000) return;
        await this.load(this.champion);
      }
      const now = this.clock.now();
      const due = [...this.dirty].filter((id) => now - (this.lastScoredAt.get(id) ?? -Infinity) >= this.o.intervalMs);
      for (let i = 0; i < due.length; i += this.o.maxBatch) await this.scoreBatch(due.slice(i, i + this.o.maxBatch), this.champion);
    } catch (err) {
      this.stats.errors++;
      this.stats.lastError = errorMessage(err);
      this.log.error({ err: errorMessage(err) }, 'scoring failed');
    } finally {
      this.busy = false;
    }
  }

  private async load(champion: ChampionView): Promise<void> {
    const reply = await this.inference.request({ type: 'load', modelsDir: this.modelsDir, version: champion.version }).catch((err: Error) => ({ type: 'error' as const, id: 0, message: err.message }));
    if (reply.type === 'error') {
      this.loadFailure = { version: champion.version, at: this.clock.now() };
      for (const st of this.states.values()) (st.status = 'no_model'), (st.detail = `champion ${champion.version} cannot be loaded: ${reply.message}`);
      throw new Error(`cannot load champion ${champion.version}: ${reply.message}; retrying in a minute`);
    }
    this.loadFailure = null;
    this.loadedVersion = champion.version;
    this.stats.loadedAt = this.clock.now();
    this.log.info({ version: champion.version }, 'scoring with champion');
  }

  private async scoreBatch(ids: string[], champion: ChampionView): Promise<void> {
    const meta = champion.meta;
    const F = meta.normalisation.sensors.length;
    const size = meta.window * F;
    const ready: Array<{ id: string; endTs: number; missing: string[] }> = [];
    const x = new Float32Array(ids.length * size);
    for (const id of ids) {
      this.dirty.delete(id);
      const r = this.windows.get(id)!.window(meta.normalisation, meta.window, this.o.maxGapSteps);
      const st = this.states.get(id)!;
      if (!r.ok) {
        st.status = 'warming_up';
        st.detail = r.reason;
        continue;
      }
      x.set(r.x, ready.length * size);
      ready.push({ id, endTs: r.endTs, missing: r.missing });
    }
    if (ready.length === 0) return;
    const occlude = this.o.topSensors > 0;
    const reply = await this.inference.request({ type: 'score', x: x.slice(0, ready.length * size), n: ready.length, windowSteps: meta.window, features: F, occlude });
    if (reply.type !== 'scores') throw new Error(reply.type === 'error' ? reply.message : 'unexpected reply from the inference worker');
    const now = this.clock.now();
    this.stats.batches++;
    this.stats.scored += ready.length;
    this.stats.lastBatchMs = reply.ms;
    this.recentBatchMs.push(reply.ms);
    if (this.recentBatchMs.length > 1000) this.recentBatchMs.shift();
    this.stats.lastBatchSize = ready.length;
    const insert = this.db.prepare('INSERT OR REPLACE INTO scores (machine, ts, scored_at, probability, rul, model) VALUES (?, ?, ?, ?, ?, ?)');
    const scored: Array<{ ref: MachineRef; score: MachineScore }> = [];
    this.db.transaction(() => {
      ready.forEach(({ id, endTs, missing }, i) => {
        const p = reply.p[i]!;
        const rulSteps = Math.min(meta.rulCap, Math.max(0, reply.rul[i]! * meta.rulCap));
        const topSensors = reply.occludedP ? topContributions(p, reply.occludedP.subarray(i * F, (i + 1) * F), meta.normalisation.sensors, this.o.topSensors) : [];
        const score: MachineScore = { at: now, dataTs: endTs, probability: p, rulSteps, rulMs: rulSteps * meta.stepMs, model: champion.version, topSensors, missingInputs: missing };
        if (missing.length > 0) this.stats.scoredWithMissingInputs++;
        const st = this.states.get(id)!;
        Object.assign(st, { status: 'scored', detail: null, score });
        this.lastScoredAt.set(id, now);
        insert.run(id, endTs, now, p, rulSteps, champion.version);
        scored.push({ ref: st.ref, score });
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
    this.db.prepare('DELETE FROM scores WHERE scored_at < ?').run(this.clock.now() - this.o.historyRetentionMs);
  }

  private view(s: MachineState): MachineState {
    const w = this.windows.get(s.ref.machine);
    return { ...s, latest: w ? w.latest() : {} };
  }
}

/** Sensors whose removal lowers p(failure) most: they pushed the score up. */
export function topContributions(p: number, occluded: Float32Array, sensors: readonly string[], n: number): Array<{ sensor: string; contribution: number }> {
  return sensors
    .map((sensor, f) => ({ sensor, contribution: p - occluded[f]! }))
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
    .slice(0, n);
}
