// Over 400 lines on purpose: the fleet's windows, their statuses, the events that stop and restart
// scoring and the scoring round share one map and its bounds; what a model role makes of a window is
// its own file (failure-role.ts), the score history too (score-history.ts).
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { Float64Pool } from '../core/f64-pool.js';
import { SensorLayout } from '../core/sensor-layout.js';
import type { FleetMembership, IngestBatch, MachineRef } from '../core/types.js';
import type { SensorStore } from '../core/sensor-store.js';
import { ANY_KIND, type KindResolver } from '../core/kinds.js';
import { KindChampions } from './kind-champions.js';
import type { InferenceClient } from './inference-client.js';
import { MachineWindow } from './machine-window.js';
import { FailureRole, type ReadyWindow } from './failure-role.js';
import type { ScoreHistory, ScoreRecord } from './score-history.js';
import type { ChampionView, MachineScore, MachineState, ScoreListener, ScoringOptions } from './types.js';

interface Tracked {
  window: MachineWindow;
  /** Its kind from a `machines:` pattern; null: inferred from the sensors its window holds. */
  configuredKind: string | null;
  status: MachineState['status'];
  detail: string | null;
  score: MachineScore | null;
  lastReceivedAt: number;
  lastScoredAt: number;
  /** Data time of the failure it is down since, until a repair or maintenance after it. */
  downSince: number | null;
}

export type { ChampionView, MachineScore, MachineState, ScoringOptions } from './types.js';
export { topContributions } from './failure-role.js';

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
  /** Each kind's champion, why a kind has none, each machine's kind. */
  private readonly champions: KindChampions;
  private readonly loadedVersions = new Set<string>();
  /** A champion that failed to load is retried after a pause, not on every 50 ms tick. */
  private readonly loadFailures = new Map<string, number>();
  private busy = false;
  private timer: TimerHandle = undefined;
  /** The model roles that score machines, by name: each its champions and its way from window to result. */
  private readonly roles: Map<'failure', FailureRole>;
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
    private readonly scores: ScoreHistory,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly o: ScoringOptions,
    private readonly modelsDir: string,
    /** Which machines get a window; all when absent. */
    private readonly fleet?: FleetMembership,
    /** Machine kinds; without one every machine is of one kind, served by a model of any kind. */
    kinds?: KindResolver,
  ) {
    this.champions = new KindChampions(kinds);
    this.roles = new Map([['failure', new FailureRole(inference, scores, o.topSensors)]]);
  }

  onScore(listener: ScoreListener): void {
    this.roles.get('failure')!.onScore(listener);
  }

  /** Sets (or clears) one model for every machine (a model from before kinds, or a test's). */
  setChampion(champion: ChampionView | null, whyNone = 'no model trained yet'): void {
    this.setChampions(champion ? new Map([[ANY_KIND, champion]]) : new Map(), () => whyNone);
  }

  /**
   * Sets the champion of each kind; the worker loads each before its next batch. A machine whose
   * kind has none (and no model from before kinds serves it) says why: `whyNone(kind)`.
   */
  setChampions(champions: ReadonlyMap<string, ChampionView>, whyNone: (kind: string) => string): void {
    const before = this.grid();
    const kinds = new Set<string>();
    for (const m of this.machinesById.values()) kinds.add(this.kindOf(m));
    if (!this.champions.set(champions, whyNone, kinds)) return;
    const after = this.grid();
    // Buffers on another step cannot serve the new models: they refill on their grid.
    const regrid = before.stepMs !== after.stepMs || before.keep !== after.keep;
    for (const [id, m] of this.machinesById) {
      if (regrid) {
        m.window.dispose();
        m.window = new MachineWindow(m.window.ref, after.stepMs, after.keep, this.layouts, this.o.maxSensorsPerMachine, this.pool);
      }
      if (m.downSince !== null) continue;
      if (!this.championOf(m)) this.setStatus(m, 'no_model', this.whyNoModel(m));
      else if (m.status === 'no_model') this.setStatus(m, 'warming_up', null);
      this.dirty.add(id);
    }
  }

  /** One version when one model serves every kind; else each kind's, as `version (kind)`. */
  get championVersion(): string | null {
    return this.champions.describe();
  }

  /** The champion of each kind. */
  championVersions(): Record<string, string> {
    return this.champions.byKind();
  }

  private championOf(m: Tracked): ChampionView | null {
    return this.champions.servingFor(this.kindOf(m));
  }

  private whyNoModel(m: Tracked): string {
    return this.champions.whyNone(this.kindOf(m));
  }

  private kindOf(m: Tracked): string {
    return this.champions.kindOf(m.configuredKind, m.window.sensorLayout);
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
        const serving = this.championOf(m);
        this.setStatus(m, serving ? 'warming_up' : 'no_model', serving ? null : this.whyNoModel(m));
      }
    }
  }

  private track(ref: MachineRef, receivedAt: number): Tracked {
    const { stepMs, keep } = this.grid();
    const m: Tracked = {
      window: new MachineWindow(ref, stepMs, keep, this.layouts, this.o.maxSensorsPerMachine, this.pool),
      configuredKind: this.champions.configured(ref.machine),
      status: 'no_model',
      detail: null,
      score: null,
      lastReceivedAt: receivedAt,
      lastScoredAt: -Infinity,
      downSince: null,
    };
    this.statusCounts.no_model++;
    // Its sensors (and so an inferred kind) are known once its first values are in: until then it waits.
    m.detail = this.champions.size > 0 ? null : this.champions.defaultWhyNone;
    if (this.champions.size > 0) this.setStatus(m, 'warming_up', null);
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
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
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

  /** The validation threshold of the champion that scores the machine, or null when none does. */
  thresholdOf(id: string): number | null {
    const m = this.machinesById.get(id);
    return (m && this.championOf(m)?.meta.threshold) ?? null;
  }

  /** A machine's failure scores with data time in [from, to), the newest `limit`, oldest first. */
  history(machine: string, from: number, to: number, limit: number): ScoreRecord[] {
    return this.scores.history(machine, from, to, limit);
  }

  /** One round: due machines grouped by the champion of their kind, each loaded if needed, scored in batches. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      if (this.champions.size === 0) {
        // Statuses say "no model" already (set when the champion went or the machine came).
        this.dirty.clear();
        return;
      }
      if (!this.inference.started) this.loadedVersions.clear();
      const now = this.clock.now();
      const { stepMs } = this.grid();
      const groups = new Map<string, { champion: ChampionView; ids: string[] }>();
      for (const id of this.dirty) {
        const m = this.machinesById.get(id);
        if (!m || now - m.lastScoredAt < this.o.intervalMs) continue;
        const champion = this.championOf(m);
        if (!champion) {
          this.dirty.delete(id);
          if (m.downSince === null) this.setStatus(m, 'no_model', this.whyNoModel(m));
          continue;
        }
        if (champion.meta.stepMs !== stepMs) {
          this.dirty.delete(id);
          if (m.downSince === null)
            this.setStatus(
              m,
              'no_model',
              `champion ${champion.version} has a ${champion.meta.stepMs} ms step, the other kinds' ${stepMs} ms: retrain it`,
            );
          continue;
        }
        let g = groups.get(champion.version);
        if (!g) groups.set(champion.version, (g = { champion, ids: [] }));
        g.ids.push(id);
      }
      for (const { champion, ids } of groups.values()) {
        if (!this.loadedVersions.has(champion.version)) {
          const failedAt = this.loadFailures.get(champion.version);
          if (failedAt !== undefined && now - failedAt < 60_000) continue;
          if (!(await this.load(champion, ids))) continue;
        }
        for (let i = 0; i < ids.length; i += this.o.maxBatch) await this.scoreBatch(ids.slice(i, i + this.o.maxBatch), champion);
      }
    } catch (err) {
      this.stats.errors++;
      this.stats.lastError = errorMessage(err);
      this.log.error({ err }, 'scoring failed');
    } finally {
      this.busy = false;
    }
  }

  /** Loads a champion beside the others still serving; on failure its machines say so (retried in a minute). */
  private async load(champion: ChampionView, ids: readonly string[]): Promise<boolean> {
    const keep = this.champions.versions();
    const reply = await this.inference
      .request({ type: 'load', modelsDir: this.modelsDir, version: champion.version, keep })
      .catch((err: unknown) => ({ type: 'error' as const, id: 0, message: errorMessage(err) }));
    if (reply.type === 'error') {
      this.loadFailures.set(champion.version, this.clock.now());
      for (const id of ids) {
        const m = this.machinesById.get(id);
        if (m && m.downSince === null) this.setStatus(m, 'no_model', `champion ${champion.version} cannot be loaded: ${reply.message}`);
      }
      this.stats.errors++;
      this.stats.lastError = `cannot load champion ${champion.version}: ${reply.message}; retrying in a minute`;
      this.log.error({ version: champion.version, reason: reply.message }, 'cannot load champion; retrying in a minute');
      return false;
    }
    this.loadFailures.delete(champion.version);
    for (const v of this.loadedVersions) if (!keep.includes(v)) this.loadedVersions.delete(v);
    this.loadedVersions.add(champion.version);
    this.stats.loadedAt = this.clock.now();
    this.log.info({ version: champion.version, kind: champion.meta.kind ?? ANY_KIND }, 'scoring with champion');
    return true;
  }

  private async scoreBatch(ids: string[], champion: ChampionView): Promise<void> {
    const meta = champion.meta;
    const ready: ReadyWindow[] = [];
    for (const id of ids) {
      this.dirty.delete(id);
      const m = this.machinesById.get(id);
      if (!m || m.downSince !== null) continue;
      const r = m.window.window(meta.normalisation, meta.window, this.o.maxGapSteps);
      if (!r.ok) {
        this.setStatus(m, 'warming_up', r.reason);
        continue;
      }
      ready.push({ machine: id, ref: m.window.ref, x: r.x, endTs: r.endTs, missing: r.missing });
    }
    if (ready.length === 0) return;
    const role = this.roles.get('failure')!;
    const now = this.clock.now();
    const { scores, cost } = await role.score(champion, ready, now);
    this.stats.batches++;
    this.stats.scored += cost.scored;
    this.stats.lastBatchMs = cost.ms;
    this.recentBatchMs.push(cost.ms);
    if (this.recentBatchMs.length > 1000) this.recentBatchMs.shift();
    this.stats.lastBatchSize = cost.scored;
    const scored: Array<{ ref: MachineRef; score: MachineScore }> = [];
    scores.forEach((score, i) => {
      const m = this.machinesById.get(ready[i]!.machine);
      if (!m) return;
      if ((score.missingInputs?.length ?? 0) > 0) this.stats.scoredWithMissingInputs++;
      this.setStatus(m, 'scored', null);
      m.score = score;
      m.lastScoredAt = now;
      scored.push({ ref: m.window.ref, score });
    });
    role.announce(scored, meta.threshold);
  }

  private grid(): { stepMs: number; keep: number } {
    return this.champions.grid(this.o);
  }

  private summary(m: Tracked): Omit<MachineState, 'latest'> {
    return {
      ref: m.window.ref,
      kind: { kind: this.kindOf(m), source: m.configuredKind !== null ? 'config' : 'inferred' },
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
