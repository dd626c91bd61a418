import path from 'node:path';
import { Type, type StaticDecode } from '@sinclair/typebox';
import type { ProblemReport } from '../config/load.js';
import { Duration, OptionalDuration, strict } from '../config/schema-parts.js';
import { KIND_NAME } from '../core/kinds.js';

// Rehearsal ratio for transfer, chosen on C-MAPSS validation (docs/predictor.md).
const REHEARSAL_DEFAULT = 2;

export const LearningSchema = Type.Object(
  {
    modelsDir: Type.String({ minLength: 1, default: './models', description: 'model registry directory' }),
    backend: Type.Union(
      ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'].map((b) => Type.Literal(b)),
      { default: 'auto' },
    ),
    kernel: Type.Union([Type.Literal('auto'), Type.Literal('native'), Type.Literal('wasm'), Type.Literal('stock')], {
      default: 'auto',
      description:
        "LSTM kernels: native SIMD (AVX-512, AVX2, NEON; built at install), WebAssembly SIMD (wasm), tfjs's own layer (stock), or the best that loads and passes its start-up check (auto)",
    }),
    lstmKernel: Type.Optional(
      Type.Union([Type.Literal('auto'), Type.Literal('fast'), Type.Literal('stock')], {
        description: 'deprecated, use learning.kernel (fast = wasm); read when learning.kernel is auto',
      }),
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
    smoothing: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      default: 1,
      description:
        "weight of the newest step in a causal exponential smoothing of each sensor (after its z-score, per regime) before the failure predictor reads it: noisy sensors' slow drift shows through; 1 = none (docs/predictor.md)",
    }),
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
        anchor: Type.Number({
          minimum: 0,
          maximum: 1000,
          default: 0,
          description:
            "L2-SP: fine-tuning pulls each weight back toward the source's by the learning rate × this × the difference, each batch (0 = none; docs/predictor.md)",
        }),
        rehearsal: Type.Number({
          minimum: 0,
          maximum: 100,
          default: REHEARSAL_DEFAULT,
          description:
            "the source kind's machines train beside the new kind's, their windows up to this many times the new kind's (0 = the new kind's alone; docs/predictor.md)",
        }),
        folds: Type.Boolean({
          default: true,
          description:
            'with two or more failed machines, each member fine-tunes on all but one fold of them and stops early on that fold (metrics out of fold; the threshold flags the share of windows the out-of-fold one did), rather than all on one held-out part (docs/predictor.md)',
        }),
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
        pooling: Type.Union([Type.Literal('last'), Type.Literal('attention')], {
          default: 'last',
          description:
            "what the heads read: the last LSTM state (last), or attention over the window's states beside it (attention; docs/predictor.md compares them)",
        }),
        attentionUnits: Type.Integer({ minimum: 1, maximum: 256, default: 16, description: "width of the attention's hidden layer" }),
        rulLateWeight: Type.Number({
          minimum: 1,
          maximum: 100,
          default: 1,
          description:
            "weight of a late RUL error (predicted longer than true) against an early one in the training loss; 1 = plain squared error (docs/predictor.md: 2 in FD003's recipe)",
        }),
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

export const HealthSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: "learn each kind's normal behaviour from its readings alone and score every machine's health from the first day",
    }),
    minNormal: Duration('24h', {
      minimum: 1,
      description:
        'normal operation of a kind (over all its machines) before its first health model; until then machines say how much is still needed',
    }),
    minMachines: Type.Integer({ minimum: 1, default: 2, description: 'machines of the kind that must have sent that data' }),
    falseAlarmsPerMachineMonth: Type.Number({
      exclusiveMinimum: 0,
      default: 1,
      description: 'the false-alarm budget the alert threshold is chosen for, estimated on held-out normal data',
    }),
    holdOut: Type.Number({
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      // Half: a threshold calibrated on less alarmed about twice as often as its budget on the next weeks' data.
      default: 0.5,
      description:
        "share of each machine's latest normal data (or of the machines, with five or more) held out to calibrate the index and its threshold",
    }),
    window: Type.Optional(Type.Integer({ minimum: 4, maximum: 1000, description: 'steps per window; default learning.window' })),
    stride: Type.Integer({ minimum: 1, default: 2, description: 'steps between training windows' }),
    maxWindows: Type.Integer({
      minimum: 100,
      default: 30_000,
      description: 'training windows at most (an even sample beyond): bounds a run',
    }),
    smoothing: Type.Number({ exclusiveMinimum: 0, default: 5, description: 'time constant of the smoothing of the score, in steps' }),
    openAfter: Type.Integer({ minimum: 1, default: 3, description: 'scores below the threshold in a row before an anomaly alert opens' }),
    closeAfter: Type.Integer({ minimum: 1, default: 5, description: 'scores back above threshold + hysteresis in a row before it closes' }),
    hysteresis: Type.Number({
      minimum: 0,
      maximum: 50,
      default: 5,
      description: 'index points above the threshold that count as recovered',
    }),
    units: Type.Array(Type.Integer({ minimum: 1, maximum: 1024 }), { minItems: 1, maxItems: 4, default: [32, 16] }),
    dropout: Type.Number({ minimum: 0, maximum: 0.9, default: 0 }),
    learningRate: Type.Number({ exclusiveMinimum: 0, default: 0.003 }),
    batchSize: Type.Integer({ minimum: 1, default: 128 }),
    epochs: Type.Integer({ minimum: 1, default: 25 }),
    patience: Type.Integer({ minimum: 1, default: 4 }),
    shrinkage: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.2,
      description: "weight of the residuals' own spreads in their covariance",
    }),
    verdictWeight: Type.Integer({
      minimum: 1,
      maximum: 20,
      default: 5,
      description: 'times a window a technician called normal counts in the next training',
    }),
    maxAge: Duration('7d', { minimum: 1, description: 'a health model older than this is retrained (on fresh normal data)' }),
    minNewNormal: Duration('24h', { minimum: 1, description: 'new normal operation of a kind since its last run that is worth a new one' }),
  },
  {
    ...strict,
    description:
      "the health model of each kind, learned without failure labels: data before the first model, the false-alarm budget, smoothing and the anomaly alert's debounce, the model",
  },
);

export type HealthConfig = StaticDecode<typeof HealthSchema>;

const Units = Type.Array(Type.Integer({ minimum: 1, maximum: 1024 }), { minItems: 1, maxItems: 4 });
const closed = { additionalProperties: false } as const;

/**
 * One kind's learning recipe: any of the grid, label and model settings of `learning` (and of the
 * health model's in `health`), for that kind only; what it leaves out is the global setting.
 */
export const KindRecipeSchema = Type.Object(
  {
    step: OptionalDuration("this kind's learning.step", { minimum: 1 }),
    window: Type.Optional(Type.Integer({ minimum: 2, maximum: 1000, description: "this kind's learning.window" })),
    stride: Type.Optional(Type.Integer({ minimum: 1 })),
    smoothing: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: "this kind's learning.smoothing" })),
    horizon: Type.Optional(Type.Integer({ minimum: 1, description: "this kind's learning.horizon, in its steps" })),
    rulCap: Type.Optional(Type.Integer({ minimum: 1, description: "this kind's learning.rulCap, in its steps" })),
    sensors: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    conditions: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    model: Type.Optional(
      Type.Object(
        {
          units: Type.Optional(Units),
          pooling: Type.Optional(Type.Union([Type.Literal('last'), Type.Literal('attention')])),
          attentionUnits: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
          rulLateWeight: Type.Optional(Type.Number({ minimum: 1, maximum: 100 })),
          dropout: Type.Optional(Type.Number({ minimum: 0, maximum: 0.9 })),
          learningRate: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
          batchSize: Type.Optional(Type.Integer({ minimum: 1 })),
          epochs: Type.Optional(Type.Integer({ minimum: 1 })),
          patience: Type.Optional(Type.Integer({ minimum: 1 })),
          members: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
        },
        { ...closed, description: "this kind's failure predictor (learning.model)" },
      ),
    ),
    health: Type.Optional(
      Type.Object(
        {
          window: Type.Optional(Type.Integer({ minimum: 4, maximum: 1000 })),
          stride: Type.Optional(Type.Integer({ minimum: 1 })),
          units: Type.Optional(Units),
          dropout: Type.Optional(Type.Number({ minimum: 0, maximum: 0.9 })),
          learningRate: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
          batchSize: Type.Optional(Type.Integer({ minimum: 1 })),
          epochs: Type.Optional(Type.Integer({ minimum: 1 })),
          patience: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { ...closed, description: "this kind's health model (health.window, units, …)" },
      ),
    ),
  },
  closed,
);

export const KindsSchema = Type.Record(Type.String({ pattern: KIND_NAME }), KindRecipeSchema, {
  default: {},
  maxProperties: 1000,
  description:
    "each configured kind's own learning recipe, by kind name (a kind named in machines:): e.g. compressor: { step: 10m, window: 36, horizon: 144, rulCap: 432 }. Settings it leaves out are the global ones of learning and health; both model roles of the kind use it",
});

export type KindRecipes = StaticDecode<typeof KindsSchema>;
export type KindRecipe = StaticDecode<typeof KindRecipeSchema>;

/** How per-regime normalisation finds the regimes, for a run of either role; none without condition channels. */
export function regimeOptions(cfg: LearningConfig) {
  return cfg.conditions.length > 0
    ? {
        conditions: cfg.conditions,
        k: cfg.regimes.count === 'auto' ? undefined : cfg.regimes.count,
        maxK: cfg.regimes.maxCount,
        minExplained: cfg.regimes.minExplained,
        seed: cfg.model.seed,
      }
    : undefined;
}

/** The model registry relative to the working directory; the deprecated lstmKernel read into kernel. */
export function resolveLearning(l: LearningConfig, cwd: string): LearningConfig {
  const legacy = l.lstmKernel === 'fast' ? 'wasm' : l.lstmKernel;
  return { ...l, modelsDir: path.resolve(cwd, l.modelsDir), kernel: l.kernel === 'auto' && legacy ? legacy : l.kernel };
}

export function checkLearning(l: LearningConfig, problem: ProblemReport): void {
  if (!(l.step >= 1)) problem('learning.step', 'must be at least 1 ms (e.g. 1m)');
  // Capped at or below the horizon, RUL could never say more than the alert horizon it informs.
  if (l.rulCap <= l.horizon)
    problem(
      'learning.rulCap',
      `must exceed learning.horizon (${l.horizon} steps), or RUL can never say more than the horizon; e.g. ${Math.max(125, 2 * l.horizon)}`,
    );
}
