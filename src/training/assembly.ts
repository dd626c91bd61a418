/**
 * One training run, whatever trains it: load the backend → read the data → prepare → fit (and
 * validate) → decide against the champion → register. The daemon's runs, federation's adoption of a
 * federated model and each model role give their own steps; loading, reading, the champion's score
 * on the same data and registering are the same for all of them, here.
 */
import type { LayersModel } from '@tensorflow/tfjs';
import type { LearningConfig } from './config.js';
import { KindResolver } from '../core/kinds.js';
import { groupByKind, type KindGroup } from '../features/index.js';
import { loadTf, quietTfWarnings, type LoadedTf, type TF, loadFastLstm } from '../model/index.js';
import { ModelRegistry, type AnyModelMeta } from '../registry/index.js';
import { createSensorStore } from '../store/index.js';
import type { SensorStore } from '../core/sensor-store.js';
import { loadDataset, type Dataset } from './dataset.js';
import type { TrainingProgress, TrainingResult } from './types.js';
import type { TrainingConfig } from './worker-input.js';

/** The backend a run computes with and the LSTM kernels it trains with. */
export interface RunBackend {
  tf: TF;
  backend: string;
  provider: LoadedTf['provider'];
  lstm: Awaited<ReturnType<typeof loadFastLstm>>;
}

export async function loadRunBackend(cfg: LearningConfig): Promise<RunBackend> {
  quietTfWarnings();
  const { tf, backend, provider } = await loadTf(cfg.backend);
  const lstm = await loadFastLstm(tf, { preference: cfg.kernel, ...(cfg.kernelThreads > 0 ? { threads: cfg.kernelThreads } : {}) });
  return { tf, backend, provider, lstm };
}

/** What a run's steps share: its inputs, its backend and the registry it decides and registers in. */
export interface RunContext extends RunBackend {
  config: TrainingConfig;
  now: number;
  registry: ModelRegistry;
  startedAt: number;
  progress: (p: TrainingProgress) => void;
  shouldStop?: () => boolean;
}

/** What a run's fit step made: the model to register, and what the decide and describe steps need of it. */
export interface Fitted {
  model: LayersModel;
}

/** A model role's way through a run (the failure predictor's, the health model's, a federated model's). */
export interface RunSteps<D, P, F extends Fitted> {
  /** The data to learn from (a kind's, from the store). */
  read(ctx: RunContext): Promise<D>;
  /** Split, scale and window it; throws NotEnoughDataError when it cannot be learned from. */
  prepare(ctx: RunContext, data: D): Promise<P>;
  /** Trains (or takes) the model and validates it on the held-out part; null when cancelled. */
  fit(ctx: RunContext, data: D, prepared: P): Promise<F | null>;
  /** Whether it replaces the champion, measured on the same held-out data, and its meta.json. */
  decide(ctx: RunContext, data: D, prepared: P, fitted: F): Promise<AnyModelMeta>;
}

/** Runs the steps in order, then registers what they made; the model is disposed either way. */
export async function assembleRun<D, P, F extends Fitted>(
  input: { config: TrainingConfig; now: number; onProgress?: (p: TrainingProgress) => void; shouldStop?: () => boolean },
  steps: RunSteps<D, P, F>,
): Promise<TrainingResult> {
  const backend = await loadRunBackend(input.config.learning);
  const ctx: RunContext = {
    ...backend,
    config: input.config,
    now: input.now,
    registry: new ModelRegistry(input.config.learning.modelsDir),
    startedAt: Date.now(),
    progress: input.onProgress ?? (() => undefined),
    shouldStop: input.shouldStop,
  };
  const data = await steps.read(ctx);
  const prepared = await steps.prepare(ctx, data);
  const fitted = await steps.fit(ctx, data, prepared);
  if (!fitted) return { cancelled: true, meta: null };
  try {
    ctx.progress({ phase: 'evaluating', message: 'scoring the champion on the same held-out data' });
    const meta = await steps.decide(ctx, data, prepared, fitted);
    ctx.progress({ phase: 'saving', message: meta.decision.reason });
    await registerModel(ctx, fitted.model, meta);
    return { cancelled: false, meta };
  } finally {
    fitted.model.dispose();
  }
}

/** Saves the model (atomically), promotes it when its decision says so, and applies the retention. */
export async function registerModel(
  ctx: Pick<RunContext, 'tf' | 'registry' | 'config'>,
  model: LayersModel,
  meta: AnyModelMeta,
): Promise<void> {
  await ctx.registry.save(ctx.tf, model, meta);
  if (meta.decision.promoted) ctx.registry.promote(meta.version, meta.decision.reason);
  ctx.registry.enforceRetention(ctx.config.learning.retain);
}

/**
 * A kind's machines and data over the lookback from the store, on the grid of `learning` for the
 * kind picked (its recipe; a federation plan's grid may differ from the gateway's). `pick` chooses the
 * kind among those in the store; `load` reads its data (the failure predictor's labelled data set
 * unless a role reads its own).
 */
export async function readKindData<D = Dataset>(
  config: TrainingConfig,
  learning: (kind: string) => LearningConfig,
  now: number,
  pick: (kinds: KindGroup[], failedMachines: string[]) => KindGroup | null,
  load?: (store: SensorStore, kind: KindGroup) => Promise<D>,
): Promise<{ kind: KindGroup; dataset: D } | null> {
  const store = createSensorStore(config);
  await store.open();
  try {
    const kinds = groupByKind(await store.listMachines(), new KindResolver(config.machines));
    const failed = (await store.queryEvents({ from: now - config.learning.lookback, to: now + 1, types: ['failure'] })).map(
      (e) => e.machine.machine,
    );
    const kind = pick(kinds, failed);
    if (!kind) return null;
    const dataset = load ? await load(store, kind) : ((await loadDataset(store, learning(kind.kind), now, kind)) as D);
    return { kind, dataset };
  } finally {
    await store.close();
  }
}
