// Over 400 lines on purpose: the fleet's windows, their statuses, the events that stop and restart
// scoring and the scoring round of each model role share one map and its bounds; what a role makes of
// a window is its own file (failure-role.ts, health-role.ts), loading models and the histories too.
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { Float64Pool } from '../core/f64-pool.js';
import { SensorLayout } from '../core/sensor-layout.js';
import type { FleetMembership, IngestBatch, MachineRef } from '../core/types.js';
import type { SensorStore } from '../core/sensor-store.js';
import { ANY_KIND, type KindResolver } from '../core/kinds.js';
import { KindChampions, kindGrid, type Grid } from './kind-champions.js';
import type { InferenceClient } from './inference-client.js';
import { MachineWindow } from './machine-window.js';
import { FailureRole, type ReadyWindow } from './failure-role.js';
import { HealthRole } from './health-role.js';
import type { HealthHistory, HealthRecord } from './health-history.js';
import { ModelLoader } from './model-loader.js';
import type { ScoreHistory, ScoreRecord } from './score-history.js';
import type {
  ChampionView,
  HealthChampionView,
  HealthListener,
  MachineHealth,
  MachineScore,
  MachineState,
  ScoreListener,
  ScoringOptions,
} from './types.js';

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
  health: MachineHealth | null;
  /** Why it has no health index (no health model of its kind yet: how much normal data is still needed). */
  healthDetail: string | null;
  lastHealthAt: number;
}

/** One model role's side of the round: its champions, the machines with new data for it, how it scores. */
interface RoleSlot<C extends { version: string; meta: { stepMs: number; window: number; kind?: string } }> {
  champions: KindChampions<C>;
  dirty: Set<string>;
  lastAt(m: Tracked): number;
  /** The machine has no model of this role to score it with, and why. */
  none(m: Tracked, why: string): void;
  score(ids: string[], champion: C): Promise<void>;
}

export type { ChampionView, HealthChampionView, MachineHealth, MachineScore, MachineState, ScoringOptions } from './types.js';
export { topContributions } from './failure-role.js';

/**
 * Online scoring: each machine's latest window in memory, scored by the champion of each model role
 * of its kind (failure risk, health) as steps complete, many machines per predict call, each at most
 * once per interval. Champions are reloaded without a restart when the registry's change; before a
 * kind's first model of a role, its machines say why.
 */
export class ScoringService {
  /** Per tracked machine: its window and how scoring went (one small record: there may be tens of thousands). */
  private readonly machinesById = new Map<string, Tracked>();
  private readonly layouts = SensorLayout.root();
  /** Each kind's grid under the current champions (gridOf). */
  private readonly grids = new Map<string, Grid>();
  /** The windows' numbers, in shared slabs outside the JS heap. */
  private readonly pool = new Float64Pool();
  /** Machines per status, kept as statuses change: the status endpoint must not walk the fleet. */
  private readonly statusCounts: Record<MachineState['status'], number> = { scored: 0, warming_up: 0, no_model: 0, down: 0 };
  /** Machines with a current health index, kept the same way. */
  private healthCount = 0;
  private readonly models: ModelLoader;
  private busy = false;
  private timer: TimerHandle = undefined;
  /** The model roles that score machines: each its champions per kind and its way from window to result. */
  private readonly failureRole: FailureRole;
  private readonly healthRole: HealthRole;
  private readonly failure: RoleSlot<ChampionView>;
  private readonly health: RoleSlot<HealthChampionView>;
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
    /** Health indices computed (part of `scored`). */
    healthScored: 0,
  };
  /** Inference time of the most recent batches (ms), for benchmarks and percentiles. */
  readonly recentBatchMs: number[] = [];

  constructor(
    private readonly inference: InferenceClient,
    private readonly histories: { scores: ScoreHistory; health: HealthHistory },
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly o: ScoringOptions,
    modelsDir: string,
    /** Which machines get a window; all when absent. */
    private readonly fleet?: FleetMembership,
    /** Machine kinds; without one every machine is of one kind, served by a model of any kind. */
    kinds?: KindResolver,
  ) {
    this.models = new ModelLoader(inference, modelsDir, clock, log);
    this.failureRole = new FailureRole(inference, histories.scores, o.topSensors);
    this.healthRole = new HealthRole(inference, histories.health, o.topSensors);
    this.failure = {
      champions: new KindChampions<ChampionView>(kinds),
      dirty: new Set(),
      lastAt: (m) => m.lastScoredAt,
      none: (m, why) => this.setStatus(m, 'no_model', why),
      score: (ids, champion) => this.scoreBatch(ids, champion),
    };
    this.health = {
      champions: new KindChampions<HealthChampionView>(kinds),
      dirty: new Set(),
      lastAt: (m) => m.lastHealthAt,
      none: (m, why) => this.setHealth(m, null, why),
      score: (ids, champion) => this.scoreHealth(ids, champion),
    };
  }

  onScore(listener: ScoreListener): void {
    this.failureRole.onScore(listener);
  }

  /** Told each machine's new health index, with its kind. */
  onHealth(listener: HealthListener): void {
    this.healthRole.onHealth(listener);
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
    this.changeChampions(this.failure, champions, whyNone, (m) => {
      if (!this.championOf(m)) this.setStatus(m, 'no_model', this.whyNoModel(m));
      else if (m.status === 'no_model') this.setStatus(m, 'warming_up', null);
    });
  }

  /** Sets the health champion of each kind; a machine whose kind has none says why (`whyNone(kind)`). */
  setHealthChampions(champions: ReadonlyMap<string, HealthChampionView>, whyNone: (kind: string) => string): void {
    this.changeChampions(this.health, champions, whyNone, (m) => {
      const serving = this.health.champions.servingFor(this.kindOf(m));
      if (!serving) this.setHealth(m, null, this.health.champions.whyNone(this.kindOf(m)));
      else if (m.health && m.health.model !== serving.version) this.setHealth(m, null, null);
    });
  }

  private changeChampions<C extends ChampionView | HealthChampionView>(
    slot: RoleSlot<C>,
    champions: ReadonlyMap<string, C>,
    whyNone: (kind: string) => string,
    restate: (m: Tracked) => void,
  ): void {
    const kinds = new Set<string>();
    for (const m of this.machinesById.values()) kinds.add(this.kindOf(m));
    if (!slot.champions.set(champions, whyNone, kinds)) return;
    this.grids.clear();
    for (const [id, m] of this.machinesById) {
      // Buffers on another step cannot serve the kind's new models: they refill on its grid.
      this.regridIfNeeded(m);
      if (m.downSince !== null) continue;
      restate(m);
      slot.dirty.add(id);
    }
  }

  /** Puts the machine's window on its kind's grid when it is on another (its sensor layout kept, so its kind stays); true when it moved. */
  private regridIfNeeded(m: Tracked): boolean {
    const g = this.gridOf(this.kindOf(m));
    if (m.window.stepMs === g.stepMs && m.window.keepSteps === g.keep) return false;
    const layout = m.window.sensorLayout;
    m.window.dispose();
    m.window = new MachineWindow(m.window.ref, g.stepMs, g.keep, layout, this.o.maxSensorsPerMachine, this.pool);
    return true;
  }

  /** One version when one failure model serves every kind; else each kind's, as `version (kind)`. */
  get championVersion(): string | null {
    return this.failure.champions.describe();
  }

  /** The failure champion of each kind. */
  championVersions(): Record<string, string> {
    return this.failure.champions.byKind();
  }

  /** The health champion of each kind. */
  healthChampionVersions(): Record<string, string> {
    return this.health.champions.byKind();
  }

  /** Which roles have a model for the machine's kind now (a failure while neither had one went unwatched). */
  watchedBy(machine: string): { failure: boolean; health: boolean } | null {
    const m = this.machinesById.get(machine);
    if (!m) return null;
    const kind = this.kindOf(m);
    return { failure: this.failure.champions.servingFor(kind) !== null, health: this.health.champions.servingFor(kind) !== null };
  }

  /** The kind a machine is of now: a tracked one's, else the configured one; null when neither tells. */
  kindOfMachine(machine: string): string | null {
    const m = this.machinesById.get(machine);
    return m ? this.kindOf(m) : this.failure.champions.configured(machine);
  }

  private championOf(m: Tracked): ChampionView | null {
    return this.failure.champions.servingFor(this.kindOf(m));
  }

  private whyNoModel(m: Tracked): string {
    return this.failure.champions.whyNone(this.kindOf(m));
  }

  private kindOf(m: Tracked): string {
    return this.failure.champions.kindOf(m.configuredKind, m.window.sensorLayout);
  }

  /** Reads each known machine's recent readings so scoring resumes at once after a restart. */
  async seed(store: SensorStore): Promise<void> {
    const now = this.clock.now();
    // Each machine on its kind's grid. Only machines whose last readings still fall in a window from
    // now, the most recent first: a store full of machines long silent must not take the places of
    // the ones still sending.
    const spanOf = (m: { ref: MachineRef; sensors: string[] }) => {
      const g = this.gridOf(this.failure.champions.kindOfSensors(m.ref.machine, m.sensors));
      return g.keep * g.stepMs;
    };
    const recent = (await store.listMachines())
      .filter((m) => m.lastTs !== null && m.lastTs >= now - spanOf(m))
      .sort((a, b) => b.lastTs! - a.lastTs!);
    for (const m of recent) {
      if (m.lastTs === null || (this.fleet && !this.fleet.admit(m.ref.machine))) continue;
      const samples = await store.queryReadings({ machine: m.ref.machine, from: m.lastTs - spanOf(m), to: m.lastTs + 1 });
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
        m = this.track(s.machine, receivedAt, Object.keys(s.values));
      }
      const added = m.window.add(s);
      if (added.untracked > 0) this.stats.untrackedSensorValues += added.untracked;
      if (added.late) {
        for (const _ in s.values) this.stats.lateReadings++;
        continue;
      }
      if (m.downSince === null) {
        this.failure.dirty.add(id);
        this.health.dirty.add(id);
      }
      m.lastReceivedAt = receivedAt;
    }
    for (const e of batch.events) {
      if (e.type !== 'failure' && e.type !== 'repair' && e.type !== 'maintenance') continue;
      const m = this.machinesById.get(e.machine.machine);
      if (!m) continue;
      // Judged before the reset drops the window: a failure older than what the window spans was
      // recorded late or backfilled, and says nothing about the machine now.
      const newest = m.window.newestTs();
      const current = newest === null || e.ts >= newest - m.window.keepSteps * m.window.stepMs;
      // A failure ends the run and a repair starts a new one: older readings must not be scored again.
      m.window.reset(e.ts);
      this.healthRole.reset(e.machine.machine);
      if (e.type === 'failure') {
        if (current && (m.downSince === null || e.ts > m.downSince)) {
          m.downSince = e.ts;
          m.score = null;
          this.setHealth(m, null, 'down: not scored until a repair or maintenance');
          this.failure.dirty.delete(e.machine.machine);
          this.health.dirty.delete(e.machine.machine);
          this.setStatus(m, 'down', `down since the failure at ${new Date(e.ts).toISOString()}: not scored until a repair or maintenance`);
        }
      } else if (m.downSince !== null && e.ts >= m.downSince) {
        m.downSince = null;
        const serving = this.championOf(m);
        this.setStatus(m, serving ? 'warming_up' : 'no_model', serving ? null : this.whyNoModel(m));
        const healthy = this.health.champions.servingFor(this.kindOf(m));
        this.setHealth(m, null, healthy ? null : this.health.champions.whyNone(this.kindOf(m)));
      }
    }
  }

  private track(ref: MachineRef, receivedAt: number, sensors: readonly string[]): Tracked {
    // On its kind's grid from the first reading (an inferred kind from the sensors of that reading).
    const { stepMs, keep } = this.gridOf(this.failure.champions.kindOfSensors(ref.machine, sensors));
    const m: Tracked = {
      window: new MachineWindow(ref, stepMs, keep, this.layouts, this.o.maxSensorsPerMachine, this.pool),
      configuredKind: this.failure.champions.configured(ref.machine),
      status: 'no_model',
      detail: null,
      score: null,
      lastReceivedAt: receivedAt,
      lastScoredAt: -Infinity,
      downSince: null,
      health: null,
      healthDetail: this.health.champions.size > 0 ? null : this.health.champions.defaultWhyNone,
      lastHealthAt: -Infinity,
    };
    this.statusCounts.no_model++;
    // Its sensors (and so an inferred kind) are known once its first values are in: until then it waits.
    m.detail = this.failure.champions.size > 0 ? null : this.failure.champions.defaultWhyNone;
    if (this.failure.champions.size > 0) this.setStatus(m, 'warming_up', null);
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

  private setHealth(m: Tracked, health: MachineHealth | null, detail: string | null): void {
    if ((m.health === null) !== (health === null)) this.healthCount += health ? 1 : -1;
    m.health = health;
    m.healthDetail = detail;
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

  /** How many tracked machines are in each status, and have a health index, without walking them. */
  counts(): { machines: number; health: number } & Record<MachineState['status'], number> {
    return { machines: this.machinesById.size, health: this.healthCount, ...this.statusCounts };
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

  /** The `n` machines with the lowest health index, lowest first: one pass over the fleet, no full sort. */
  lowestHealth(n: number): Array<{ ref: MachineRef; health: MachineHealth }> {
    const low: Array<{ ref: MachineRef; health: MachineHealth }> = [];
    for (const m of this.machinesById.values()) {
      const health = m.health;
      if (!health || (low.length >= n && health.index >= low[low.length - 1]!.health.index)) continue;
      let i = low.length;
      while (i > 0 && low[i - 1]!.health.index > health.index) i--;
      low.splice(i, 0, { ref: m.window.ref, health });
      if (low.length > n) low.pop();
    }
    return low;
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
    return this.histories.scores.history(machine, from, to, limit);
  }

  /** A machine's health index with data time in [from, to), the newest `limit`, oldest first. */
  healthHistory(machine: string, from: number, to: number, limit: number): HealthRecord[] {
    return this.histories.health.history(machine, from, to, limit);
  }

  /** One round: for each role, due machines grouped by the champion of their kind, each loaded if needed, scored in batches. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      this.models.forgetIfRestarted();
      await this.round(this.failure);
      await this.round(this.health);
    } catch (err) {
      this.stats.errors++;
      this.stats.lastError = errorMessage(err);
      this.log.error({ err }, 'scoring failed');
    } finally {
      this.busy = false;
    }
  }

  private async round<C extends ChampionView | HealthChampionView>(slot: RoleSlot<C>): Promise<void> {
    if (slot.champions.size === 0) {
      // Machines say why already (set when the champion went or the machine came).
      slot.dirty.clear();
      return;
    }
    const now = this.clock.now();
    const groups = new Map<string, { champion: C; ids: string[] }>();
    for (const id of slot.dirty) {
      const m = this.machinesById.get(id);
      if (!m || now - slot.lastAt(m) < this.o.intervalMs) continue;
      // Its sensors can have changed its (inferred) kind since it came: then its window refills on that kind's grid.
      this.regridIfNeeded(m);
      const champion = slot.champions.servingFor(this.kindOf(m));
      if (!champion || champion.meta.stepMs !== m.window.stepMs) {
        slot.dirty.delete(id);
        if (m.downSince !== null) continue;
        if (!champion) slot.none(m, slot.champions.whyNone(this.kindOf(m)));
        else
          slot.none(
            m,
            `champion ${champion.version} has a ${champion.meta.stepMs} ms step, the kind's failure model ${m.window.stepMs} ms: retrain it`,
          );
        continue;
      }
      let g = groups.get(champion.version);
      if (!g) groups.set(champion.version, (g = { champion, ids: [] }));
      g.ids.push(id);
    }
    const keep = [...this.failure.champions.versions(), ...this.health.champions.versions()];
    for (const { champion, ids } of groups.values()) {
      const kind = champion.meta.kind ?? ANY_KIND;
      const ready = await this.models.ensure(champion.version, kind, keep, (message) => {
        for (const id of ids) {
          const m = this.machinesById.get(id);
          if (m && m.downSince === null) slot.none(m, `champion ${champion.version} cannot be loaded: ${message}`);
        }
        this.stats.errors++;
        this.stats.lastError = `cannot load champion ${champion.version}: ${message}; retrying in a minute`;
      });
      if (!ready) continue;
      this.stats.loadedAt = this.models.loadedAt;
      for (let i = 0; i < ids.length; i += this.o.maxBatch) await slot.score(ids.slice(i, i + this.o.maxBatch), champion);
    }
  }

  /** The machines' latest windows as `meta` reads them; a machine not ready yet says why through `notReady`. */
  private readyWindows(
    ids: readonly string[],
    slot: RoleSlot<ChampionView> | RoleSlot<HealthChampionView>,
    meta: ChampionView['meta'] | HealthChampionView['meta'],
    notReady: (m: Tracked, reason: string) => void,
  ): ReadyWindow[] {
    const ready: ReadyWindow[] = [];
    for (const id of ids) {
      slot.dirty.delete(id);
      const m = this.machinesById.get(id);
      if (!m || m.downSince !== null) continue;
      const r = m.window.window(meta.normalisation, meta.window, this.o.maxGapSteps);
      if (!r.ok) {
        notReady(m, r.reason);
        continue;
      }
      ready.push({ machine: id, ref: m.window.ref, x: r.x, endTs: r.endTs, missing: r.missing });
    }
    return ready;
  }

  private noteBatch(cost: { ms: number; scored: number }): void {
    this.stats.batches++;
    this.stats.scored += cost.scored;
    this.stats.lastBatchMs = cost.ms;
    this.recentBatchMs.push(cost.ms);
    if (this.recentBatchMs.length > 1000) this.recentBatchMs.shift();
    this.stats.lastBatchSize = cost.scored;
  }

  private async scoreHealth(ids: string[], champion: HealthChampionView): Promise<void> {
    const ready = this.readyWindows(ids, this.health, champion.meta, (m, reason) => {
      if (!m.health) m.healthDetail = reason;
    });
    if (ready.length === 0) return;
    const now = this.clock.now();
    const { healths, cost } = await this.healthRole.score(champion, ready, now);
    this.noteBatch(cost);
    this.stats.healthScored += cost.scored;
    const scored: Array<{ ref: MachineRef; health: MachineHealth; kind: string }> = [];
    healths.forEach((health, i) => {
      const m = this.machinesById.get(ready[i]!.machine);
      if (!m) return;
      this.setHealth(m, health, null);
      m.lastHealthAt = now;
      scored.push({ ref: m.window.ref, health, kind: this.kindOf(m) });
    });
    this.healthRole.announce(scored);
  }

  private async scoreBatch(ids: string[], champion: ChampionView): Promise<void> {
    const meta = champion.meta;
    const ready = this.readyWindows(ids, this.failure, meta, (m, reason) => this.setStatus(m, 'warming_up', reason));
    if (ready.length === 0) return;
    const now = this.clock.now();
    const { scores, cost } = await this.failureRole.score(champion, ready, now);
    this.noteBatch(cost);
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
    this.failureRole.announce(scored, meta.threshold);
  }

  /** A kind's grid, from the champions of both roles serving it, else its recipe; kept until the champions change. */
  private gridOf(kind: string): Grid {
    let grid = this.grids.get(kind);
    if (!grid) {
      const recipe = this.o.gridFor?.(kind) ?? { stepMs: this.o.stepMs, windowSteps: this.o.windowSteps };
      grid = kindGrid(
        [this.failure.champions.servingFor(kind)?.meta, this.health.champions.servingFor(kind)?.meta],
        recipe,
        this.o.maxGapSteps,
      );
      // Inferred kinds are bounded by the resolver's own cache; this one never outgrows it.
      if (this.grids.size >= 10_000) this.grids.clear();
      this.grids.set(kind, grid);
    }
    return grid;
  }

  private summary(m: Tracked): Omit<MachineState, 'latest'> {
    return {
      ref: m.window.ref,
      kind: { kind: this.kindOf(m), source: m.configuredKind !== null ? 'config' : 'inferred' },
      status: m.status,
      detail: m.detail,
      score: m.score,
      health: m.health,
      healthDetail: m.healthDetail,
      lastSeenTs: m.window.lastTs,
      lastReceivedAt: m.lastReceivedAt,
    };
  }

  private view(m: Tracked): MachineState {
    return { ...this.summary(m), latest: m.window.latest() };
  }
}
