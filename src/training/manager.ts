import type Database from 'better-sqlite3';
import { isHealthMeta, type AnyModelMeta, type ModelRegistry } from '../registry/index.js';
import { healthFor, learningFor } from './recipes.js';
import type { ModelRole } from '../core/model-roles.js';
import type { JudgedPeriod } from '../core/verdict-book.js';
import type { VerdictPeriod } from './health-data.js';
import type { TrainingConfig } from './worker-input.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { TrainingProgress } from './types.js';
import { TrainingRun, type RunState } from './runner.js';

export type RunTrigger = 'api' | 'schedule' | 'cli';

export interface TrainingRunRecord {
  id: number;
  trigger: RunTrigger;
  requestedBy: string | null;
  /** The machine kind trained; null until the worker has chosen one for a run that named none. */
  kind: string | null;
  role: ModelRole;
  state: RunState | 'interrupted';
  startedAt: number;
  finishedAt: number | null;
  version: string | null;
  promoted: boolean | null;
  reason: string | null;
  error: string | null;
  progress: TrainingProgress | null;
  bypassedEnergyPolicy: boolean;
}

interface RunRow {
  id: number;
  trigger: RunTrigger;
  requested_by: string | null;
  kind: string | null;
  role: ModelRole;
  state: TrainingRunRecord['state'];
  started_at: number;
  finished_at: number | null;
  version: string | null;
  promoted: number | null;
  reason: string | null;
  error: string | null;
  progress: string | null;
  bypass_energy: number;
}

/** What a finished run did, for reporting what early stopping and warm starts saved. */
export interface RunSummary {
  state: string;
  epochs: number | null;
  epochCap: number;
  warmStartedFrom: string | null;
}

/** Told when a run starts and ends (energy accounting hooks in here). Must not throw. */
export interface RunObserver {
  runStarted(runId: number, at: number): void;
  runFinished(runId: number, startedAt: number, endedAt: number, run: RunSummary): unknown;
}

export class TrainingBusyError extends Error {
  constructor(
    readonly runId: number | null,
    holder?: string,
  ) {
    super(runId !== null ? `training run ${runId} is still in progress` : `the trainer is busy: ${holder}`);
    this.name = 'TrainingBusyError';
  }
}

/**
 * Training runs of the daemon: one at a time, each in its own worker thread, recorded in the state DB
 * with its progress. When to start one is the scheduler's business (or an operator's).
 */
export class TrainingManager {
  private current: { id: number; run: TrainingRun } | null = null;
  /** Work outside a run that needs the trainer to itself (a federated round), by what holds it. */
  private holder: string | null = null;
  private lastProgressWrite = 0;
  private readonly observers: RunObserver[] = [];

  constructor(
    private readonly config: TrainingConfig,
    private readonly db: Database.Database,
    private readonly registry: Pick<ModelRegistry, 'championsChanged'>,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** The stretches anomaly alerts pointed at and their verdicts: what a health run learns from or leaves out. */
    private readonly verdicts?: { periods(from: number): JudgedPeriod[] },
  ) {
    // A run the previous process did not finish can never report back.
    db.prepare("UPDATE training_runs SET state = 'interrupted', finished_at = ? WHERE state = 'running'").run(clock.now());
  }

  observe(observer: RunObserver): void {
    this.observers.push(observer);
  }

  /** How long runs take here: the median of the last successful ones (null before the first). */
  typicalRunMs(): number | null {
    const rows = this.db
      .prepare("SELECT finished_at - started_at AS ms FROM training_runs WHERE state = 'succeeded' ORDER BY id DESC LIMIT 5")
      .all() as Array<{ ms: number }>;
    if (rows.length === 0) return null;
    const sorted = rows.map((r) => r.ms).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  }

  async stop(): Promise<void> {
    const cur = this.current;
    if (cur) {
      cur.run.cancel();
      await cur.run.terminate();
    }
  }

  /**
   * Takes the trainer for other work (one at a time: two trainings would halve each other's speed and
   * could race for a registry version); null while a run or another holder has it. Call the returned
   * function to give it back.
   */
  hold(holder: string): (() => void) | null {
    if (this.current || this.holder) return null;
    this.holder = holder;
    return () => {
      if (this.holder === holder) this.holder = null;
    };
  }

  /** What holds the trainer outside a run, or null. */
  get heldBy(): string | null {
    return this.holder;
  }

  get running(): TrainingRunRecord | null {
    return this.current ? this.get(this.current.id) : null;
  }

  trigger(o: {
    trigger: RunTrigger;
    requestedBy?: string | null;
    /** Absent: the kind most in need (chooseKind, chooseHealthKind). */
    kind?: string;
    /** The failure predictor (default) or the kind's health model. */
    role?: ModelRole;
    warmStart?: boolean;
    epochs?: number;
    failuresLabelled?: number;
    bypassEnergyPolicy?: boolean;
  }): TrainingRunRecord {
    if (this.current) throw new TrainingBusyError(this.current.id);
    if (this.holder) throw new TrainingBusyError(null, this.holder);
    const now = this.clock.now();
    const role = o.role ?? 'failure';
    const id = Number(
      this.db
        .prepare(
          "INSERT INTO training_runs (trigger, requested_by, kind, role, state, started_at, failures_labelled, bypass_energy) VALUES (?, ?, ?, ?, 'running', ?, ?, ?)",
        )
        .run(o.trigger, o.requestedBy ?? null, o.kind ?? null, role, now, o.failuresLabelled ?? null, Number(o.bypassEnergyPolicy ?? false))
        .lastInsertRowid,
    );
    const run = new TrainingRun(this.config, {
      now,
      kind: o.kind,
      warmStart: o.warmStart,
      epochs: o.epochs,
      role,
      ...(role === 'health' ? { verdicts: this.verdictPeriods(now) } : {}),
    });
    this.current = { id, run };
    this.log.info({ run: id, trigger: o.trigger, role }, 'training run started');
    for (const ob of this.observers) ob.runStarted(id, now);
    run.on('progress', (p: TrainingProgress) => {
      const t = this.clock.now();
      if (p.phase === 'batch' && t - this.lastProgressWrite < 1000) return;
      this.lastProgressWrite = t;
      try {
        this.db.prepare('UPDATE training_runs SET progress = ? WHERE id = ?').run(JSON.stringify(p), id);
      } catch (err) {
        // Progress is for display; failing to keep it must not stop the run or the daemon.
        this.log.warn({ run: id, err }, 'could not record training progress');
      }
    });
    void run.result
      .then(async (outcome) => {
        const meta = outcome.meta;
        const finishedAt = this.clock.now();
        for (const ob of this.observers) {
          try {
            await ob.runFinished(id, now, finishedAt, {
              state: outcome.state,
              epochs: meta?.training.epochs ?? null,
              // Every member could have run the cap: the epochs actually run are summed over members too.
              epochCap: epochCap(this.config, role, o.epochs, meta),
              warmStartedFrom: meta && !isHealthMeta(meta) ? meta.warmStartedFrom : null,
            });
          } catch (err) {
            this.log.warn({ run: id, err }, 'run observer failed');
          }
        }
        this.db
          .prepare(
            'UPDATE training_runs SET state = ?, finished_at = ?, version = ?, promoted = ?, reason = ?, error = ?, kind = coalesce(?, kind) WHERE id = ?',
          )
          .run(
            outcome.state,
            finishedAt,
            meta?.version ?? null,
            meta ? Number(meta.decision.promoted) : null,
            meta?.decision.reason ?? null,
            outcome.error,
            meta?.kind ?? null,
            id,
          );
        this.current = null;
        this.log.info(
          { run: id, state: outcome.state, version: meta?.version, promoted: meta?.decision.promoted, error: outcome.error },
          'training run finished',
        );
        // The worker promoted it in the registry's files: this process's listeners (scoring) hear of it here.
        if (meta?.decision.promoted) this.registry.championsChanged();
      })
      .catch((err: unknown) => {
        // Recording the outcome failed (state DB): the run is over either way; the next one may start.
        this.current = null;
        this.log.error({ run: id, err }, 'could not record the end of a training run');
      });
    return this.get(id)!;
  }

  /**
   * The verdicts a health run learns from: stretches called normal (learned from, with weight),
   * abnormal or failure (left out), and those nobody judged yet (left out too), over the lookback.
   */
  private verdictPeriods(now: number): VerdictPeriod[] {
    if (!this.verdicts) return [];
    return this.verdicts.periods(now - this.config.learning.lookback).map((p) => ({
      machine: p.machine,
      from: p.from,
      to: p.to ?? now,
      // A failure verdict's failure event is the positive; the stretch before it is left out like any unjudged one.
      verdict: p.verdict === 'normal' ? 'normal' : p.verdict === 'abnormal' ? 'abnormal' : 'suspect',
    }));
  }

  cancel(id: number): boolean {
    if (this.current?.id !== id) return false;
    this.current.run.cancel();
    return true;
  }

  get(id: number): TrainingRunRecord | null {
    const row = this.db.prepare('SELECT * FROM training_runs WHERE id = ?').get(id) as RunRow | undefined;
    return row ? toRecord(row) : null;
  }

  list(limit: number): TrainingRunRecord[] {
    return (this.db.prepare('SELECT * FROM training_runs ORDER BY id DESC LIMIT ?').all(limit) as RunRow[]).map(toRecord);
  }

  /**
   * The last run (of `kind`, when given, and of `role`) that started and did not fail: what "new since
   * the last run" is counted from.
   */
  lastRun(kind?: string, role: ModelRole = 'failure'): { startedAt: number; failuresLabelled: number | null } | null {
    const r = (
      kind === undefined
        ? this.db
            .prepare(
              "SELECT started_at, failures_labelled FROM training_runs WHERE state IN ('succeeded', 'running') AND role = ? ORDER BY id DESC LIMIT 1",
            )
            .bind(role)
        : this.db
            .prepare(
              "SELECT started_at, failures_labelled FROM training_runs WHERE state IN ('succeeded', 'running') AND kind = ? AND role = ? ORDER BY id DESC LIMIT 1",
            )
            .bind(kind, role)
    ).get() as { started_at: number; failures_labelled: number | null } | undefined;
    return r ? { startedAt: r.started_at, failuresLabelled: r.failures_labelled } : null;
  }
}

function toRecord(r: RunRow): TrainingRunRecord {
  return {
    id: r.id,
    trigger: r.trigger,
    requestedBy: r.requested_by,
    kind: r.kind,
    role: r.role,
    state: r.state,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    version: r.version,
    promoted: r.promoted === null ? null : r.promoted === 1,
    reason: r.reason,
    error: r.error,
    progress: r.progress ? (JSON.parse(r.progress) as TrainingProgress) : null,
    bypassedEnergyPolicy: r.bypass_energy === 1,
  };
}

/** The epochs a run could have run, by its kind's recipe: summed over an ensemble's members, each of which could have run the cap. */
function epochCap(config: TrainingConfig, role: ModelRole, asked: number | undefined, meta: AnyModelMeta | null): number {
  const kind = meta?.kind;
  if (role === 'health') return asked ?? (kind ? healthFor(config, kind) : config.health).epochs;
  const cap = asked ?? (kind ? learningFor(config, kind) : config.learning).model.epochs;
  return cap * (meta && !isHealthMeta(meta) ? (meta.architecture.members ?? 1) : 1);
}
