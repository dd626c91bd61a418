import type Database from 'better-sqlite3';
import type { VigilConfig } from '../config/schema.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SensorStore } from '../store/sensor-store.js';
import type { TrainingProgress } from './run.js';
import { TrainingRun, type RunState } from './runner.js';

export type RunTrigger = 'api' | 'schedule' | 'cli';

export interface TrainingRunRecord {
  id: number;
  trigger: RunTrigger;
  requestedBy: string | null;
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

export class TrainingBusyError extends Error {
  constructor(readonly runId: number) {
    super(`training run ${runId} is still in progress`);
    this.name = 'TrainingBusyError';
  }
}

/**
 * Training runs of the daemon: one at a time, each in its own worker thread, recorded in the state DB
 * with its progress. The automatic trigger starts a run once enough failures are labelled, and again
 * when new failures arrived and the minimum interval has passed.
 */
export class TrainingManager {
  private current: { id: number; run: TrainingRun } | null = null;
  private timer: TimerHandle = undefined;
  private lastProgressWrite = 0;
  private readonly promotedListeners: Array<(version: string) => void> = [];

  constructor(
    private readonly config: VigilConfig,
    private readonly db: Database.Database,
    private readonly store: SensorStore,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    // A run the previous process did not finish can never report back.
    db.prepare("UPDATE training_runs SET state = 'interrupted', finished_at = ? WHERE state = 'running'").run(clock.now());
  }

  onPromoted(listener: (version: string) => void): void {
    this.promotedListeners.push(listener);
  }

  start(): void {
    const auto = this.config.learning.autoTrain;
    if (!auto.enabled) return;
    this.timer = this.clock.setInterval(() => void this.maybeAutoTrain(), auto.checkEvery);
  }

  async stop(): Promise<void> {
    this.clock.clearInterval(this.timer);
    const cur = this.current;
    if (cur) {
      cur.run.cancel();
      await cur.run.terminate();
    }
  }

  get running(): TrainingRunRecord | null {
    return this.current ? this.get(this.current.id) : null;
  }

  trigger(o: { trigger: RunTrigger; requestedBy?: string | null; warmStart?: boolean; epochs?: number; failuresLabelled?: number; bypassEnergyPolicy?: boolean }): TrainingRunRecord {
    if (this.current) throw new TrainingBusyError(this.current.id);
    const now = this.clock.now();
    const id = Number(
      this.db
        .prepare("INSERT INTO training_runs (trigger, requested_by, state, started_at, failures_labelled, bypass_energy) VALUES (?, ?, 'running', ?, ?, ?)")
        .run(o.trigger, o.requestedBy ?? null, now, o.failuresLabelled ?? null, Number(o.bypassEnergyPolicy ?? false)).lastInsertRowid,
    );
    const run = new TrainingRun(this.config, { now, warmStart: o.warmStart, epochs: o.epochs });
    this.current = { id, run };
    this.log.info({ run: id, trigger: o.trigger }, 'training run started');
    run.on('progress', (p: TrainingProgress) => {
      const t = this.clock.now();
      if (p.phase === 'batch' && t - this.lastProgressWrite < 1000) return;
      this.lastProgressWrite = t;
      this.db.prepare('UPDATE training_runs SET progress = ? WHERE id = ?').run(JSON.stringify(p), id);
    });
    void run.result.then((outcome) => {
      const meta = outcome.meta;
      this.db
        .prepare('UPDATE training_runs SET state = ?, finished_at = ?, version = ?, promoted = ?, reason = ?, error = ? WHERE id = ?')
        .run(outcome.state, this.clock.now(), meta?.version ?? null, meta ? Number(meta.decision.promoted) : null, meta?.decision.reason ?? null, outcome.error, id);
      this.current = null;
      this.log.info({ run: id, state: outcome.state, version: meta?.version, promoted: meta?.decision.promoted, error: outcome.error }, 'training run finished');
      if (meta?.decision.promoted) for (const l of this.promotedListeners) l(meta.version);
    });
    return this.get(id)!;
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

  /** Starts a run when enough labelled failures exist and something new happened since the last one. */
  async maybeAutoTrain(): Promise<boolean> {
    if (this.current) return false;
    const auto = this.config.learning.autoTrain;
    const now = this.clock.now();
    const last = this.db
      .prepare("SELECT started_at, failures_labelled FROM training_runs WHERE state IN ('succeeded', 'running') ORDER BY id DESC LIMIT 1")
      .get() as { started_at: number; failures_labelled: number | null } | undefined;
    if (last && now - last.started_at < auto.minInterval) return false;
    try {
      const failures = await this.store.queryEvents({ from: now - this.config.learning.lookback, to: now + 1, types: ['failure'] });
      if (failures.length < auto.minFailures) return false;
      // Counted, not compared by time: replayed data carries timestamps from the past.
      if (last && failures.length - (last.failures_labelled ?? 0) < auto.minNewFailures) return false;
      this.trigger({ trigger: 'schedule', failuresLabelled: failures.length });
      return true;
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'automatic training check failed');
      return false;
    }
  }
}

function toRecord(r: RunRow): TrainingRunRecord {
  return {
    id: r.id,
    trigger: r.trigger,
    requestedBy: r.requested_by,
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
