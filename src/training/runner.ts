import { EventEmitter } from 'node:events';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { TrainingConfig } from './worker-input.js';
import type { TrainingProgress } from './types.js';
import type { AnyModelMeta } from '../registry/index.js';
import type { ModelRole } from '../core/model-roles.js';
import type { VerdictPeriod } from './health-data.js';
import { trainingConfig, type WorkerInput, type WorkerMessage } from './worker-input.js';

export type RunState = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface RunOutcome {
  state: Exclude<RunState, 'running'>;
  meta: AnyModelMeta | null;
  error: string | null;
}

export interface TrainingRunOptions {
  now?: number;
  kind?: string;
  warmStart?: boolean;
  epochs?: number;
  /** The failure predictor (default) or the kind's health model. */
  role?: ModelRole;
  /** A health run's verdicts and unjudged alert stretches. */
  verdicts?: VerdictPeriod[];
  resourceLimits?: ResourceLimits;
}

/**
 * A training run in a worker thread. Emits `progress` (TrainingProgress); `result` settles with the
 * outcome, never rejects: a failed or crashed worker is an outcome, not an exception in the caller.
 */
export class TrainingRun extends EventEmitter {
  state: RunState = 'running';
  lastProgress: TrainingProgress | null = null;
  readonly startedAt = Date.now();
  readonly result: Promise<RunOutcome>;
  private readonly worker: Worker;

  constructor(config: TrainingConfig, options: TrainingRunOptions = {}) {
    super();
    const input: WorkerInput = {
      config: trainingConfig(config),
      now: options.now ?? Date.now(),
      kind: options.kind,
      warmStart: options.warmStart,
      epochs: options.epochs,
      role: options.role ?? 'failure',
      verdicts: options.verdicts,
    };
    // Its own heap budget: the daemon may run with a small one, training needs room for its windows.
    const resourceLimits = options.resourceLimits ?? { maxOldGenerationSizeMb: config.learning.workerHeapMb };
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: input, resourceLimits });
    this.result = new Promise<RunOutcome>((resolve) => {
      let settled = false;
      const finish = (outcome: RunOutcome) => {
        if (settled) return;
        settled = true;
        this.state = outcome.state;
        resolve(outcome);
      };
      this.worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'progress') {
          this.lastProgress = m.progress;
          this.emit('progress', m.progress);
        } else if (m.type === 'done') finish({ state: 'succeeded', meta: m.meta as AnyModelMeta, error: null });
        else if (m.type === 'cancelled') finish({ state: 'cancelled', meta: null, error: null });
        else finish({ state: 'failed', meta: null, error: `${m.name}: ${m.message}` });
      });
      this.worker.on('error', (err) => finish({ state: 'failed', meta: null, error: `training worker crashed: ${err.message}` }));
      this.worker.on('exit', (code) =>
        finish({ state: 'failed', meta: null, error: `training worker exited with code ${code} before finishing` }),
      );
    });
  }

  /** Asks the worker to stop after the current batch; nothing is saved. */
  cancel(): void {
    if (this.state === 'running') this.worker.postMessage({ type: 'cancel' });
  }

  /** Ends the worker at once (shutdown). */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
