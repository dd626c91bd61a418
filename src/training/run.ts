import type { LayersModel } from '@tensorflow/tfjs';
import { regimeOptions } from './config.js';
import { learningFor, recipeOverrides } from './recipes.js';
import { borrowStatistics, inputNames, type Normalisation, type KindGroup, heldOutFailures, failedMachines } from '../features/index.js';
import { extractMember, compile, type LstmSpec } from '../model/index.js';
import { kindOf, poolingOf, type ModelMeta } from '../registry/index.js';
import { assembleRun, readKindData, type RunContext, type RunSteps } from './assembly.js';
import type { Dataset } from './dataset.js';
import { chooseKind, decide, decideTransfer } from './decide.js';
import { championOnSame, dataReport, validationMetrics } from './model-report.js';
import { prepareData, prepareFolds, trainAndValidate, type PreparedData, type TrainOutcome } from './pipeline.js';
import { rehearseData, transferSource, transferredMembers } from './transfer.js';
import { NotEnoughDataError, type TrainingProgress, type TrainingResult } from './types.js';
import type { TrainingConfig } from './worker-input.js';

export { chooseKind, decide, decideTransfer } from './decide.js';

export interface TrainingRequest {
  config: TrainingConfig;
  now: number;
  kind?: string;
  warmStart?: boolean;
  epochs?: number;
  onProgress?: (p: TrainingProgress) => void;
  shouldStop?: () => boolean;
}

/**
 * One training run of the failure predictor: data from the store, a challenger trained (fine-tuned
 * from the champion when the features are unchanged, or from a related kind's champion when its own
 * failures are too few), both scored on the same held-out data, the challenger saved and promoted
 * only if it is better. Runs in the training worker, never on the daemon's event loop.
 */
export function runTraining(req: TrainingRequest): Promise<TrainingResult> {
  return assembleRun(req, failureSteps(req));
}

interface Read {
  kind: KindGroup;
  dataset: Dataset;
}

interface Prepared {
  data: PreparedData;
  spec: LstmSpec;
  champion: ModelMeta | null;
  initial: Array<LayersModel | undefined>;
  warm: boolean;
  source: ModelMeta | null;
  /** The source kind's windows trained beside the new kind's (transfer with rehearsal). */
  rehearsal: { windows: number; machines: number } | null;
}

type Trained = TrainOutcome;

/** The failure predictor's steps: choose the kind and read it, prepare (warm start or transfer), fit an ensemble, decide. */
export function failureSteps(req: TrainingRequest): RunSteps<Read, Prepared, Trained> {
  return {
    async read(ctx) {
      const cfg = ctx.config.learning;
      ctx.progress({
        phase: 'loading',
        message: `reading ${cfg.lookback / 86_400_000} days of data from the ${ctx.config.store.kind} store`,
      });
      const found = await readKindData(
        ctx.config,
        (kind) => learningFor(ctx.config, kind),
        ctx.now,
        (kinds, failed) => chooseKind(kinds, req.kind, ctx.registry, failed),
      );
      const { kind, dataset } = found!;
      if (dataset.failures === 0)
        throw new NotEnoughDataError(
          `no failure events of ${kind.kind} machines in the last ${cfg.lookback / 86_400_000} days: nothing to learn from yet`,
        );
      return { kind, dataset };
    },

    async prepare(ctx, { kind, dataset }) {
      const cfg = learningFor(ctx.config, kind.kind);
      ctx.progress({
        phase: 'preparing',
        message: `${kind.kind}: ${dataset.machines} machines, ${dataset.failures} failures, ${dataset.quality.samples} samples; ${ctx.backend} backend, LSTM ${ctx.lstm.describe}`,
      });
      const championVersion = ctx.registry.championVersion(kind.kind);
      const champion = championVersion ? ctx.registry.failureMeta(championVersion) : null;
      const regimes = regimeOptions(cfg);
      // Scaling fitted on the training split (regimes included), or a given one a starting model was learned on.
      const prepare = (normalisation?: Normalisation) =>
        prepareData(dataset.items, dataset.sensors, {
          windowSteps: cfg.window,
          stride: cfg.stride,
          validationFraction: cfg.validationFraction,
          positiveShare: cfg.positiveShare,
          seed: cfg.model.seed,
          ...(normalisation ? { normalisation } : { regimes, smoothing: cfg.smoothing }),
        });
      let data = prepare();
      const sameFeatures =
        champion !== null &&
        champion.window === cfg.window &&
        champion.stepMs === cfg.step &&
        champion.horizon === cfg.horizon &&
        champion.rulCap === cfg.rulCap &&
        (champion.normalisation.smoothing?.alpha ?? 1) === cfg.smoothing &&
        JSON.stringify(inputNames(champion.normalisation)) === JSON.stringify(inputNames(data.norm)) &&
        JSON.stringify(champion.architecture.units) === JSON.stringify(cfg.model.units) &&
        poolingOf(champion) === cfg.model.pooling;
      const warm = (req.warmStart ?? cfg.model.warmStart) && sameFeatures;
      const spec: LstmSpec = {
        windowSteps: cfg.window,
        features: inputNames(data.norm).length,
        units: cfg.model.units,
        pooling: cfg.model.pooling,
        attentionUnits: cfg.model.attentionUnits,
        rulLateWeight: cfg.model.rulLateWeight,
        dropout: cfg.model.dropout,
        learningRate: cfg.model.learningRate,
        seed: cfg.model.seed,
        recurrentActivation: 'sigmoid',
        kernel: ctx.lstm.kernel,
      };
      const initial: Array<LayersModel | undefined> = [];
      let rehearsal: Prepared['rehearsal'] = null;
      // A kind's first model starts from a related kind's champion when its own failures are too few to
      // validate a model from scratch (a model from scratch is preferred when they are not).
      const source =
        !champion && cfg.transfer.enabled && heldOutFailures(data.split) < cfg.minValidationFailures
          ? transferSource(ctx.registry, kind.kind, data.norm.sensors, {
              stepMs: cfg.step,
              window: cfg.window,
              horizon: cfg.horizon,
              rulCap: cfg.rulCap,
              units: cfg.model.units,
              pooling: cfg.model.pooling,
              minShared: cfg.transfer.minSharedSensors,
            })
          : null;
      if (source) {
        // Its weights were learned on its scaling: the shared sensors keep it.
        data = prepare(borrowStatistics(data.norm, source.normalisation));
        // With a few failed machines, one held out would decide every member's epoch: each member holds out its own.
        const folds = Math.min(cfg.model.members, failedMachines(dataset.items));
        if (cfg.transfer.folds && folds >= 2)
          data = prepareFolds(dataset.items, dataset.sensors, {
            windowSteps: cfg.window,
            stride: cfg.stride,
            validationFraction: cfg.validationFraction,
            positiveShare: cfg.positiveShare,
            seed: cfg.model.seed,
            normalisation: data.norm,
            folds,
          });
        spec.learningRate = cfg.model.learningRate * cfg.transfer.learningRateFactor;
        const loaded = await ctx.registry.load(ctx.tf, source.version);
        initial.push(...transferredMembers(ctx.tf, loaded, source.normalisation, data.norm, spec, cfg.model.members));
        loaded.dispose();
        rehearsal = await rehearse(ctx, source, data, cfg);
        ctx.progress({
          phase: 'preparing',
          message:
            `${kind.kind}: starting from ${source.version} (${kindOf(source)}), ${data.norm.sensors.filter((x) => source.normalisation.sensors.includes(x)).length} of ${data.norm.sensors.length} sensors shared` +
            (rehearsal ? `; fine-tuned beside ${kindOf(source)} machines (up to ${cfg.transfer.rehearsal}× its windows)` : '') +
            (data.folds ? `; ${data.folds.count} members on folds of its machines` : ''),
        });
      }
      if (warm && champion) {
        // Fine-tuning keeps the champion's scaling, so its weights mean what they meant.
        data = prepare(champion.normalisation);
        const loaded = await ctx.registry.load(ctx.tf, champion.version);
        // Each member starts from the champion's member of the same index; members it lacks start afresh.
        for (let k = 0; k < cfg.model.members; k++) {
          const member = extractMember(ctx.tf, loaded, k, { ...spec, seed: cfg.model.seed + 1000 * k });
          if (member) compile(ctx.tf, member, cfg.model.learningRate, 1, cfg.model.rulLateWeight);
          initial.push(member ?? undefined);
        }
        loaded.dispose();
      }
      if (data.report.trainWindows < 10 || data.report.trainPositives === 0) {
        throw new NotEnoughDataError(
          `not enough labelled windows: ${data.report.trainWindows} for training, ${data.report.trainPositives} of them before a failure`,
        );
      }
      if (data.validation.n === 0) throw new NotEnoughDataError('no labelled windows left for validation');
      return { data, spec, champion, initial, warm, source, rehearsal };
    },

    async fit(ctx, read, p) {
      const cfg = learningFor(ctx.config, read.kind.kind);
      const epochs = req.epochs ?? cfg.model.epochs;
      const outcome = await trainAndValidate(
        ctx.tf,
        p.data,
        p.spec,
        {
          members: cfg.model.members,
          epochs,
          batchSize: cfg.model.batchSize,
          patience: cfg.model.patience,
          reduceLrAfter: Math.max(2, Math.floor(cfg.model.patience / 2)),
          monitor: cfg.model.monitor,
          rulCap: cfg.rulCap,
          horizon: cfg.horizon,
          stepMs: cfg.step,
          onEpoch: (e) => ctx.progress({ phase: 'training', ...e }),
          // A transferred start is fine-tuned toward its source (L2-SP), not away from it at will.
          anchor: p.source && p.initial.length > 0 ? cfg.transfer.anchor : 0,
          // Members on folds (transfer): the threshold carried over as the alarm rate it gives (docs/predictor.md).
          foldThreshold: 'alarm-rate',
          bootstrap: { samples: 200, seed: cfg.model.seed },
          onBatch: (done, total, epoch, member, members) => ctx.progress({ phase: 'batch', done, total, epoch, epochs, member, members }),
          shouldStop: ctx.shouldStop,
        },
        p.initial,
      );
      if (outcome.fit.cancelled) {
        outcome.model.dispose();
        return null;
      }
      return outcome;
    },

    decide: (ctx, read, p, outcome) => describeFailureModel(ctx, read, p, outcome),
  };
}

/**
 * The source kind's labelled machines beside the new kind's training windows (on the new kind's grid,
 * which the source's shares: transferSource checks), or null when rehearsal is off or finds none.
 * Validation stays the new kind's own.
 */
async function rehearse(
  ctx: RunContext,
  source: ModelMeta,
  data: PreparedData,
  cfg: ReturnType<typeof learningFor>,
): Promise<Prepared['rehearsal']> {
  if (cfg.transfer.rehearsal <= 0) return null;
  const sourceKind = kindOf(source);
  const found = await readKindData(
    ctx.config,
    () => cfg,
    ctx.now,
    (kinds) => kinds.find((k) => k.kind === sourceKind) ?? null,
  );
  if (!found) return null;
  return rehearseData(data, found.dataset.items, {
    ratio: cfg.transfer.rehearsal,
    windowSteps: cfg.window,
    stride: cfg.stride,
    positiveShare: cfg.positiveShare,
    seed: cfg.model.seed,
  });
}

/** The champion (or the transfer source) on the same held-out data, the decision, and the model's meta.json. */
async function describeFailureModel(ctx: RunContext, { kind, dataset }: Read, p: Prepared, outcome: Trained): Promise<ModelMeta> {
  const cfg = learningFor(ctx.config, kind.kind);
  const { data, champion, source, initial } = p;
  // A transferred model is measured against its source unchanged: what it must improve on.
  const baseline = champion ?? (source && initial.length > 0 ? source : null);
  const onSame = baseline ? await championOnSame(ctx.tf, ctx.registry, baseline, data.split.validation, cfg.stride) : null;
  const v = outcome.validation;
  const transferred = source !== null && initial.length > 0;
  const decision = transferred
    ? decideTransfer(v, onSame, { minValidationFailures: cfg.transfer.minValidationFailures, kind: kind.kind })
    : decide(v, onSame, { minValidationFailures: cfg.minValidationFailures, kind: kind.kind });
  return {
    version: ctx.registry.nextVersion(),
    kind: kind.kind,
    createdAt: new Date().toISOString(),
    parent: champion?.version ?? null,
    warmStartedFrom: p.warm && champion && initial.some(Boolean) ? champion.version : null,
    transferredFrom: transferred
      ? {
          version: source.version,
          kind: kindOf(source),
          ...(p.rehearsal && p.rehearsal.windows > 0 ? { rehearsal: { ...p.rehearsal } } : {}),
        }
      : null,
    decision,
    dataRange: { from: dataset.from, to: dataset.to },
    machines: { train: data.report.trainMachines, validation: data.report.validationMachines, splitMethod: data.report.splitMethod },
    sensors: data.norm.sensors,
    dropped: data.norm.dropped,
    stepMs: cfg.step,
    window: cfg.window,
    horizon: cfg.horizon,
    rulCap: cfg.rulCap,
    recipe: { overrides: recipeOverrides(ctx.config, kind.kind) },
    normalisation: data.norm,
    architecture: {
      units: cfg.model.units,
      pooling: cfg.model.pooling,
      ...(cfg.model.pooling === 'attention' ? { attentionUnits: cfg.model.attentionUnits } : {}),
      ...(cfg.model.rulLateWeight !== 1 ? { rulLateWeight: cfg.model.rulLateWeight } : {}),
      dropout: cfg.model.dropout,
      recurrentActivation: 'sigmoid',
      learningRate: cfg.model.learningRate,
      batchSize: cfg.model.batchSize,
      members: cfg.model.members,
    },
    threshold: v.threshold,
    metrics: validationMetrics(v, onSame),
    training: {
      backend: ctx.backend,
      provider: ctx.provider,
      durationMs: Date.now() - ctx.startedAt,
      epochs: outcome.fit.history.length,
      bestEpoch: outcome.fit.bestEpoch,
      samplesPerSecond: Math.round(outcome.fit.samplesPerSecond),
      lstmKernel: ctx.lstm.describe,
      seed: cfg.model.seed,
      stoppedEarly: outcome.fit.stoppedEarly,
      ...(outcome.members.length > 1 ? { members: outcome.members } : {}),
    },
    ...dataReport(data, dataset, v),
  };
}
