import { Worker } from 'node:worker_threads';
import type { Clock } from '../core/clock.js';
import type { TrainingConfig } from '../training/index.js';
import type { GatewayTask } from './gateway-tasks.js';
import type { LocalUpdate } from './local.js';
import type { Plan, WeightLayout } from './messages.js';
import type { Adoption, Learner } from './participant.js';
import type { Moments } from './stats.js';

export interface WorkerLearnerOptions {
  config: TrainingConfig;
  client: string;
  personalise: { enabled: boolean; epochs: number };
  wattsPerCore: number;
  heapMb: number;
  clock: Clock;
  /** Takes the trainer for the task (null: busy with a run) and gives it back. */
  hold: (what: string) => (() => void) | null;
  /** Called after the final model became this kind's champion. */
  onPromoted: (version: string) => void;
}

export class TrainerBusy extends Error {
  constructor(what: string) {
    super(`the trainer is busy with a training run: ${what} waits`);
    this.name = 'TrainerBusy';
  }
}

/** The daemon's Learner: each task in a worker thread of its own, while it holds the trainer. */
export class WorkerLearner implements Learner {
  private readonly running = new Set<Worker>();
  constructor(private readonly o: WorkerLearnerOptions) {}

  stats(plan: Plan) {
    return this.run<(Moments & { machines: number; failures: number }) | null>('stats', plan, null);
  }
  train(plan: Plan, global: Float32Array) {
    return this.run<(LocalUpdate & { energyJ: number }) | null>('train', plan, global);
  }
  async adopt(plan: Plan, global: Float32Array): Promise<Adoption> {
    const a = await this.run<Adoption>('adopt', plan, global);
    if (a.promoted && a.version) this.o.onPromoted(a.version);
    return a;
  }

  /** The coordinator's first global model, built in a worker like the rest (tfjs stays off the event loop). */
  initialModel(plan: Plan): Promise<{ layout: WeightLayout; values: Float32Array }> {
    return this.run('init', plan, null);
  }

  async terminate(): Promise<void> {
    await Promise.all([...this.running].map((w) => w.terminate()));
  }

  private async run<T>(task: GatewayTask['task'], plan: Plan, global: Float32Array | null): Promise<T> {
    const what = `federated ${task} of ${plan.kind}, round ${plan.round}`;
    const release = task === 'stats' || task === 'init' ? () => undefined : this.o.hold(what);
    if (!release) throw new TrainerBusy(what);
    try {
      const input: GatewayTask = {
        task,
        config: this.o.config,
        client: this.o.client,
        plan,
        global,
        now: this.o.clock.now(),
        personalise: this.o.personalise,
        wattsPerCore: this.o.wattsPerCore,
      };
      const worker = new Worker(new URL('./worker.js', import.meta.url), {
        workerData: input,
        resourceLimits: { maxOldGenerationSizeMb: this.o.heapMb },
      });
      this.running.add(worker);
      // A round's update is worthless after its deadline: the worker is stopped there, not left to run on.
      const left = task === 'train' ? plan.deadline - this.o.clock.now() : Number.POSITIVE_INFINITY;
      let late = false;
      const timer = Number.isFinite(left)
        ? this.o.clock.setTimeout(
            () => {
              late = true;
              void worker.terminate();
            },
            Math.max(0, left),
          )
        : null;
      try {
        return await this.settle<T>(worker, () => late);
      } finally {
        if (timer !== null) this.o.clock.clearTimeout(timer);
      }
    } finally {
      release();
    }
  }

  private settle<T>(worker: Worker, late: () => boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      worker.once('message', (m: { type: 'done'; result: T } | { type: 'error'; message: string }) =>
        m.type === 'done' ? resolve(m.result) : reject(new Error(m.message)),
      );
      worker.once('error', (err) => reject(new Error(`federation worker crashed: ${err.message}`)));
      worker.once('exit', (code) => {
        this.running.delete(worker);
        reject(late() ? new RoundDeadline() : new Error(`federation worker exited with code ${code}`));
      });
    });
  }
}

export class RoundDeadline extends Error {
  constructor() {
    super("the round's deadline passed while training: stopped");
    this.name = 'RoundDeadline';
  }
}
