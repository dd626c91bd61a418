import type Database from 'better-sqlite3';
import cron, { type ScheduledTask } from 'node-cron';
import type { SchedulerSections } from './config.js';
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SensorStore } from '../core/sensor-store.js';
import { MIN_HEALTH_WINDOWS, healthFor, learningFor, type TrainingManager } from '../training/index.js';
import type { ModelRegistry } from '../registry/index.js';
import type { EnergyAccountant } from './energy/accountant.js';
import { storeKinds, type KindGroup } from '../features/index.js';
import { assessNeed, type Need } from './training-need.js';
import { assessHealthNeed } from './health-need.js';
import type { ModelRole } from '../core/model-roles.js';
import type { VerdictBook } from '../core/verdict-book.js';
import { decide, type Decision, type PolicyInput } from './policy.js';
import type { SeriesPoint } from './series.js';
import type { CarbonSource } from './sources/carbon.js';
import type { CpuLoad, GpuSample, PlantBusySignal } from './sources/host.js';
import type { WeeklySchedule } from './sources/weekly.js';

export interface DecisionRecord {
  id: number;
  at: number;
  action: Decision['action'];
  reason: string;
  deadline: number | null;
  window: { start: number; end: number; cost: number } | null;
  nowCost: number | null;
  runId: number | null;
}

export interface SchedulerDeps {
  db: Database.Database;
  store: SensorStore;
  training: TrainingManager;
  registry: ModelRegistry;
  accountant: EnergyAccountant;
  clock: Clock;
  log: Logger;
  carbon: CarbonSource | null;
  tariff: WeeklySchedule | null;
  busyCalendar: WeeklySchedule | null;
  plantBusy: PlantBusySignal | null;
  cpu: CpuLoad;
  gpu: (() => Promise<GpuSample[] | null>) | null;
  onBattery: () => boolean;
  /** Verdicts on anomaly alerts: new ones are a reason to retrain a kind's health model. */
  verdicts?: Pick<VerdictBook, 'counts'>;
}

/** What a tick found worth a run: the need, the kind and the model role it is for. */
interface KindNeed {
  need: Need;
  kind: string | null;
  role: ModelRole;
  lastRun: { startedAt: number } | null;
}

/**
 * The node-cron tick that asks the energy policy whether to retrain now, records every decision with
 * its reason, and starts the run when the answer is yes.
 */
export class EnergyScheduler {
  private task: ScheduledTask | null = null;
  private ticking = false;
  private requestedBy: string | null = null;
  private requestedKind: string | null = null;
  private requestedRole: ModelRole | null = null;
  /** Per kind without a health model: how much normal operation it still needs, as of the last tick. */
  private readonly healthProgress = new Map<string, string>();
  lastError: string | null = null;

  constructor(
    private readonly cfg: SchedulerSections,
    private readonly d: SchedulerDeps,
  ) {}

  start(): void {
    const s = this.cfg.schedule;
    if (!s.enabled) return;
    this.task = cron.schedule(s.cron, () => this.tick(), { timezone: s.timezone, noOverlap: true, name: 'vigil-energy-policy' });
  }

  async stop(): Promise<void> {
    await this.task?.destroy();
    this.task = null;
  }

  nextTick(): number | null {
    return this.task?.getNextRun()?.getTime() ?? null;
  }

  /**
   * An operator wants a run (of `kind`, or the kind most in need; of `role`, or the failure
   * predictor) but lets the policy pick the time (before the usual deadline).
   */
  async request(by: string, kind?: string, role?: ModelRole): Promise<DecisionRecord | null> {
    this.requestedBy = by;
    this.requestedKind = kind ?? null;
    this.requestedRole = role ?? null;
    return this.tick();
  }

  /** How far a kind without a health model is from its first, as the last tick found (null: not short, or not looked at). */
  learningNormal(kind: string): string | null {
    return this.healthProgress.get(kind) ?? null;
  }

  /** One policy round; returns the recorded decision (none while a run is in progress). */
  async tick(): Promise<DecisionRecord | null> {
    // A federated round holding the trainer defers the policy to the next tick.
    if (this.ticking || this.d.training.running || this.d.training.heldBy) return null;
    this.ticking = true;
    try {
      const decision = await this.evaluate();
      let runId: number | null = null;
      if (decision.action === 'train') {
        const run = this.d.training.trigger({
          trigger: 'schedule',
          requestedBy: this.requestedBy,
          ...(decision.kind !== null ? { kind: decision.kind } : {}),
          role: decision.role,
          failuresLabelled: decision.role === 'failure' ? decision.failures : undefined,
        });
        runId = run.id;
        this.requestedBy = null;
        this.requestedKind = null;
        this.requestedRole = null;
      }
      this.lastError = null;
      return this.record(decision, runId);
    } catch (err) {
      this.lastError = errorMessage(err);
      this.d.log.error({ err }, 'energy policy tick failed');
      return null;
    } finally {
      this.ticking = false;
    }
  }

  /**
   * One need per machine kind and model role, each against its own champion and its own last run. A
   * forced need comes first; else a kind's first health model (until then its machines are watched
   * by nothing), else the first kind with any reason.
   */
  private async kindNeed(now: number): Promise<KindNeed> {
    const kinds = await storeKinds(this.d.store, this.cfg.machines);
    const asked = this.requestedKind;
    const candidates = asked !== null ? kinds.filter((k) => k.kind === asked) : kinds;
    if (asked !== null && candidates.length === 0) throw new Error(`no machine of kind ${asked} in the store`);
    const several = kinds.length > 1;
    const roles: ModelRole[] = this.requestedRole ? [this.requestedRole] : this.cfg.health.enabled ? ['health', 'failure'] : ['failure'];
    const failureEvents = roles.includes('failure')
      ? await this.d.store.queryEvents({ from: now - this.cfg.learning.lookback, to: now + 1, types: ['failure'] })
      : [];
    let chosen: KindNeed | null = null;
    let firstHealth: KindNeed | null = null;
    for (const k of candidates) {
      for (const role of roles) {
        const entry = role === 'health' ? await this.healthNeed(k, now) : await this.failureNeed(k, now, failureEvents);
        if (entry.need.reason && several) entry.need.reason = `${k.kind}${role === 'health' ? ' (health)' : ''}: ${entry.need.reason}`;
        if (entry.need.forced) return entry;
        if (!entry.need.reason) continue;
        if (role === 'health' && this.d.registry.championVersion(k.kind, 'health') === null) firstHealth ??= entry;
        chosen ??= entry;
      }
    }
    const role = this.requestedRole ?? 'failure';
    // Nothing due: a run an operator asked for without a kind trains the one the worker finds most in need.
    return (
      firstHealth ??
      chosen ?? {
        need: { reason: null, forced: false, failures: 0, drift: null },
        kind: asked,
        role,
        lastRun: this.d.training.lastRun(asked ?? undefined, role),
      }
    );
  }

  private async failureNeed(k: KindGroup, now: number, failureEvents: Array<{ machine: { machine: string } }>): Promise<KindNeed> {
    const s = this.cfg.schedule;
    const champVersion = this.d.registry.championVersion(k.kind);
    const champ = champVersion ? this.d.registry.failureMeta(champVersion) : null;
    const lastRun = this.d.training.lastRun(k.kind);
    const need = await assessNeed(
      this.d.store,
      {
        now,
        lastRun,
        champion: champ ? { createdAt: Date.parse(champ.createdAt), normalisation: champ.normalisation } : null,
        machines: new Set(k.machines),
        failureEvents,
      },
      {
        minFailures: s.need.minFailures,
        minNewFailures: s.need.minNewFailures,
        minIntervalMs: s.need.minInterval,
        driftThreshold: s.need.driftThreshold,
        driftWindowMs: s.need.driftWindow,
        maxModelAgeMs: s.maxModelAge,
        lookbackMs: this.cfg.learning.lookback,
      },
    );
    return { need, kind: k.kind, role: 'failure', lastRun };
  }

  private async healthNeed(k: KindGroup, now: number): Promise<KindNeed> {
    const h = healthFor(this.cfg, k.kind);
    const champVersion = this.d.registry.championVersion(k.kind, 'health');
    const champ = champVersion ? this.d.registry.healthMeta(champVersion) : null;
    const lastRun = this.d.training.lastRun(k.kind, 'health');
    const since = lastRun?.startedAt ?? -Infinity;
    const newVerdicts = (this.d.verdicts?.counts(since) ?? []).filter((c) => c.kind === k.kind).reduce((n, c) => n + c.n, 0);
    const need = await assessHealthNeed(
      this.d.store,
      {
        now,
        machines: k.sensors.length > 0 ? k.machines.map((machine) => ({ machine, sensor: k.sensors[0]! })) : [],
        champion: champ ? { createdAt: Date.parse(champ.createdAt) } : null,
        lastRun,
        newVerdicts,
      },
      {
        minNormalMs: h.minNormal,
        minMachines: h.minMachines,
        windowSteps: h.window,
        stride: h.stride,
        stepMs: learningFor(this.cfg, k.kind).step,
        holdOut: h.holdOut,
        minWindows: MIN_HEALTH_WINDOWS,
        minNewNormalMs: h.minNewNormal,
        maxAgeMs: h.maxAge,
        minIntervalMs: this.cfg.schedule.need.minInterval,
        lookbackMs: this.cfg.learning.lookback,
      },
    );
    if (need.progress) this.healthProgress.set(k.kind, need.progress);
    else this.healthProgress.delete(k.kind);
    return { need: { reason: need.reason, forced: false, failures: 0, drift: null }, kind: k.kind, role: 'health', lastRun };
  }

  private async evaluate(): Promise<Decision & { deadline: number; failures: number; kind: string | null; role: ModelRole }> {
    const s = this.cfg.schedule;
    const now = this.d.clock.now();
    const { need, kind, role, lastRun } = await this.kindNeed(now);
    if (!need.reason && this.requestedBy)
      need.reason = `requested by ${this.requestedBy}${kind && this.requestedKind ? ` for ${kind}` : ''}`;
    // The deadline runs from the first tick that found a reason, across restarts.
    const since = need.reason ? (this.dueSince(lastRun?.startedAt ?? 0) ?? now) : now;
    const deadline = since + s.maxDelay;
    const expectedRunMs = this.d.training.typicalRunMs() ?? s.expectedRun;
    const horizonEnd = deadline + expectedRunMs;
    let carbon: SeriesPoint[] | null = null;
    try {
      carbon = this.d.carbon ? await this.d.carbon.series(now) : null;
    } catch (err) {
      this.d.log.warn({ err }, 'no carbon intensity: deciding on the other inputs');
    }
    const decision = await this.decideAt(now, need, deadline, expectedRunMs, carbon, horizonEnd);
    return { ...decision, deadline, failures: need.failures, kind, role };
  }

  /**
   * When to start work that must end by `deadline` (a federated round): the same policy as a run —
   * carbon or price window, busy host, battery, budget — asked for a start, not a yes/no. Returns
   * now when nothing argues for waiting.
   */
  async startWithin(deadline: number, expectedRunMs: number, what: string): Promise<{ startAt: number; reason: string }> {
    const now = this.d.clock.now();
    const carbon: SeriesPoint[] | null = this.d.carbon ? await this.d.carbon.series(now).catch(() => null) : null;
    const d = await this.decideAt(now, { reason: what, forced: false }, deadline, expectedRunMs, carbon, deadline);
    if (d.action === 'train') return { startAt: now, reason: d.reason };
    // Deferred: the best window when there is one, else try again in a few minutes (still before the deadline).
    const retry = Math.min(now + 5 * 60_000, deadline - expectedRunMs);
    return { startAt: Math.max(now, d.window && d.window.start > now ? d.window.start : retry), reason: d.reason };
  }

  /** The policy's inputs as this gateway sees them now, and its decision. */
  private async decideAt(
    now: number,
    need: PolicyInput['need'],
    deadline: number,
    expectedRunMs: number,
    carbon: SeriesPoint[] | null,
    priceUntil: number,
  ): Promise<Decision> {
    const s = this.cfg.schedule;
    const periodStart = now - (s.budget.period === 'day' ? 86_400_000 : 7 * 86_400_000);
    return decide({
      now,
      need,
      deadline,
      expectedRunMs,
      carbon,
      price: this.d.tariff?.series(now, priceUntil) ?? null,
      objective: s.objective,
      weights: s.weights,
      tolerance: s.tolerance,
      busy: await this.busyReason(now),
      busyCalendar: this.d.busyCalendar?.series(now, now + expectedRunMs) ?? null,
      onBattery: s.deferOnBattery && this.d.onBattery(),
      budget: {
        usedKWh: this.d.accountant.usedKWhSince(periodStart),
        limitKWh: s.budget.limitKWh ?? null,
        expectedRunKWh: this.d.accountant.typicalRunKWh() ?? (expectedRunMs / 3_600_000) * (s.energy.wattsPerCore / 1000),
      },
    });
  }

  private async busyReason(now: number): Promise<string | null> {
    const s = this.cfg.schedule.idle;
    const cpu = this.d.cpu.sample();
    if (cpu.utilisation > s.maxCpu) return `CPU ${(cpu.utilisation * 100).toFixed(0)}% busy`;
    if (cpu.loadPerCore > s.maxLoadPerCore) return `load ${cpu.loadPerCore.toFixed(2)} per core`;
    const gpus = this.d.gpu ? await this.d.gpu() : null;
    const gpuUse = gpus?.reduce((m, g) => Math.max(m, g.utilisation ?? 0), 0) ?? 0;
    if (gpuUse > s.maxGpu) return `GPU ${gpuUse.toFixed(0)}% busy`;
    if (this.d.plantBusy?.busy(now)) return 'the plant says it is busy';
    return null;
  }

  private dueSince(after: number): number | null {
    const r = this.d.db.prepare("SELECT MIN(at) AS at FROM energy_decisions WHERE action = 'defer' AND at > ?").get(after) as {
      at: number | null;
    };
    return r.at;
  }

  /** When the need behind run `runId` first arose (for its avoided-emissions figure). */
  dueSinceOfRun(runId: number): number | null {
    const r = this.d.db.prepare('SELECT deadline FROM energy_decisions WHERE run_id = ?').get(runId) as
      { deadline: number | null } | undefined;
    return r?.deadline != null ? r.deadline - this.cfg.schedule.maxDelay : null;
  }

  private record(d: Decision & { deadline: number }, runId: number | null): DecisionRecord {
    const at = this.d.clock.now();
    const id = Number(
      this.d.db
        .prepare(
          'INSERT INTO energy_decisions (at, action, reason, deadline, window_start, window_end, window_cost, now_cost, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          at,
          d.action,
          d.reason,
          d.action === 'skip' ? null : d.deadline,
          d.window?.start ?? null,
          d.window?.end ?? null,
          d.window?.mean ?? null,
          d.nowCost,
          runId,
        ).lastInsertRowid,
    );
    // A decision every tick adds up; three months of them is plenty to explain the present.
    this.d.db.prepare('DELETE FROM energy_decisions WHERE at < ?').run(at - 90 * 86_400_000);
    if (d.action !== 'skip') this.d.log.info({ action: d.action, reason: d.reason, run: runId }, 'energy policy decision');
    return {
      id,
      at,
      action: d.action,
      reason: d.reason,
      deadline: d.action === 'skip' ? null : d.deadline,
      window: d.window && { start: d.window.start, end: d.window.end, cost: d.window.mean },
      nowCost: d.nowCost,
      runId,
    };
  }

  decisionCounts(): Record<string, number> {
    const out: Record<string, number> = { train: 0, defer: 0, skip: 0 };
    for (const r of this.d.db.prepare('SELECT action, COUNT(*) AS n FROM energy_decisions GROUP BY action').all() as Array<{
      action: string;
      n: number;
    }>)
      out[r.action] = r.n;
    return out;
  }

  decisions(limit: number): DecisionRecord[] {
    const rows = this.d.db.prepare('SELECT * FROM energy_decisions ORDER BY id DESC LIMIT ?').all(limit) as Array<{
      id: number;
      at: number;
      action: Decision['action'];
      reason: string;
      deadline: number | null;
      window_start: number | null;
      window_end: number | null;
      window_cost: number | null;
      now_cost: number | null;
      run_id: number | null;
    }>;
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      action: r.action,
      reason: r.reason,
      deadline: r.deadline,
      window: r.window_start !== null ? { start: r.window_start, end: r.window_end!, cost: r.window_cost! } : null,
      nowCost: r.now_cost,
      runId: r.run_id,
    }));
  }
}
