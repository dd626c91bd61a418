import path from 'node:path';
import { Type, type StaticDecode } from '@sinclair/typebox';
import type { ProblemReport } from '../config/load.js';
import { Duration, strict } from '../config/schema-parts.js';

export const LearningSchema = Type.Object(
  {
    modelsDir: Type.String({ minLength: 1, default: './models', description: 'model registry directory' }),
    backend: Type.Union(
      ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'].map((b) => Type.Literal(b)),
      { default: 'auto' },
    ),
    lstmKernel: Type.Union(
      ['auto', 'fast', 'stock'].map((b) => Type.Literal(b)),
      {
        default: 'auto',
        description: "fused WebAssembly SIMD LSTM kernels (fast), tfjs's own layer (stock), or fast where they load (auto)",
      },
    ),
    kernelThreads: Type.Integer({
      minimum: 0,
      maximum: 16,
      default: 0,
      description: 'threads per LSTM kernel call; 0 = one per core, at most 8 for training and 4 for scoring',
    }),
    step: Duration('1m', { minimum: 1 }),
    window: Type.Integer({ minimum: 2, maximum: 1000, default: 50, description: 'steps per input window' }),
    stride: Type.Integer({ minimum: 1, default: 1, description: 'steps between training windows' }),
    horizon: Type.Integer({ minimum: 1, default: 30, description: 'steps: positive when a failure follows within this' }),
    rulCap: Type.Integer({ minimum: 1, default: 125, description: 'steps: RUL targets are capped here' }),
    maxGapSteps: Type.Integer({ minimum: 0, default: 5, description: 'longer gaps break a sequence' }),
    lookback: Duration('90d', { minimum: 1 }),
    sensors: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'sensors to learn from; empty = all' }),
    conditions: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'condition channels (load, speed, setpoint, ambient, …): their clusters are operating regimes; each sensor is normalised per regime and the regime is an input',
    }),
    regimes: Type.Object(
      {
        count: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1, maximum: 32 })], {
          default: 'auto',
          description:
            "a fixed number of regimes, or 'auto': the smallest k up to maxCount whose clusters explain minExplained of the conditions' variance (else one)",
        }),
        maxCount: Type.Integer({ minimum: 2, maximum: 32, default: 10 }),
        minExplained: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.99 }),
      },
      strict,
    ),
    validationFraction: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.2 }),
    positiveShare: Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0.3,
      description: 'oversample failure windows to this share',
    }),
    minValidationFailures: Type.Integer({
      minimum: 1,
      default: 3,
      description: 'failures the validation machines must hold before a model can be promoted: fewer leave its metrics unmeasured',
    }),
    transfer: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: "a kind's first model starts from the champion of the kind sharing the most sensors with it",
        }),
        minSharedSensors: Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: 'share of its sensors a source must have' }),
        learningRateFactor: Type.Number({
          exclusiveMinimum: 0,
          maximum: 1,
          default: 1,
          description:
            'fine-tuning learning rate, as a share of learning.model.learningRate (1 chosen on C-MAPSS validation: docs/predictor.md)',
        }),
        minValidationFailures: Type.Integer({
          minimum: 1,
          default: 1,
          description:
            'failures a transferred model needs in validation (it must also beat its source unchanged on them): fewer than a model from scratch, since it starts from a measured one',
        }),
      },
      strict,
    ),
    retain: Type.Integer({ minimum: 1, default: 10, description: 'model versions kept (the champion always)' }),
    workerHeapMb: Type.Integer({ minimum: 64, default: 2048, description: "heap of the training worker, apart from the daemon's own" }),
    model: Type.Object(
      {
        units: Type.Array(Type.Integer({ minimum: 1, maximum: 1024 }), { minItems: 1, maxItems: 4, default: [64, 32] }),
        dropout: Type.Number({ minimum: 0, maximum: 0.9, default: 0.2 }),
        learningRate: Type.Number({ exclusiveMinimum: 0, default: 0.002 }),
        batchSize: Type.Integer({ minimum: 1, default: 256 }),
        epochs: Type.Integer({ minimum: 1, default: 30 }),
        patience: Type.Integer({ minimum: 1, default: 5, description: 'epochs without validation improvement before stopping' }),
        monitor: Type.Union([Type.Literal('metrics'), Type.Literal('loss')], {
          default: 'metrics',
          description: 'early stopping on validation RUL RMSE + PR-AUC (metrics) or on validation loss',
        }),
        seed: Type.Integer({ minimum: 0, default: 1 }),
        members: Type.Integer({
          minimum: 1,
          maximum: 16,
          default: 5,
          description:
            'models trained from different seeds and averaged (an ensemble): steadier and more accurate, at that many times the training time',
        }),
        warmStart: Type.Boolean({
          default: true,
          description: "fine-tune from the champion's weights when the features are unchanged",
        }),
      },
      strict,
    ),
  },
  { ...strict, description: 'how models are trained: the grid and windows, labels, the model, validation, transfer and the registry' },
);

export type LearningConfig = StaticDecode<typeof LearningSchema>;

/** The model registry relative to the working directory. */
export function resolveLearning(l: LearningConfig, cwd: string): LearningConfig {
  return { ...l, modelsDir: path.resolve(cwd, l.modelsDir) };
}

export function checkLearning(l: LearningConfig, problem: ProblemReport): void {
  // Capped at or below the horizon, RUL could never say more than the alert horizon it informs.
  if (l.rulCap <= l.horizon)
    problem(
      'learning.rulCap',
      `must exceed learning.horizon (${l.horizon} steps), or RUL can never say more than the horizon; e.g. ${Math.max(125, 2 * l.horizon)}`,
    );
}
