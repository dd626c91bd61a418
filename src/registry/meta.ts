import { Type, type Static } from '@sinclair/typebox';
import { BiasReportSchema } from './bias-report-schema.js';

/** meta.json of a model of either role, validated whenever read (registry.ts). */

const Version = Type.String({ pattern: '^v\\d{4,}$' });
const Decision = Type.Object({ promoted: Type.Boolean(), reason: Type.String() });

/** How a model was trained: backend, kernels, time, epochs, seed. */
const TrainingFacts = Type.Object({
  backend: Type.String(),
  provider: Type.String(),
  durationMs: Type.Number(),
  epochs: Type.Integer(),
  bestEpoch: Type.Integer(),
  samplesPerSecond: Type.Number(),
  /** Which LSTM implementation trained it, e.g. "fast (relaxed-simd, 2 threads)"; absent in older versions. */
  lstmKernel: Type.Optional(Type.String()),
  seed: Type.Integer(),
  stoppedEarly: Type.Boolean(),
  /** Per member of an ensemble: its seed, epochs trained and best epoch. */
  members: Type.Optional(
    Type.Array(Type.Object({ seed: Type.Integer(), epochs: Type.Integer(), bestEpoch: Type.Integer(), stoppedEarly: Type.Boolean() })),
  ),
});

/**
 * The settings of its kind's own recipe (`kinds.<kind>` in the config) it was trained with, as paths
 * (`step`, `model.units`, `health.window`); the rest were the global ones. Absent in older versions.
 * The values themselves are the meta's own (stepMs, window, horizon, rulCap, architecture, regimes).
 */
const RecipeUsed = Type.Object({ overrides: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 }) });

const Metrics = Type.Object({
  classification: Type.Object({
    threshold: Type.Number(),
    accuracy: Type.Number(),
    precision: Type.Number(),
    recall: Type.Number(),
    f1: Type.Number(),
    prAuc: Type.Number(),
    rocAuc: Type.Number(),
    positives: Type.Integer(),
    n: Type.Integer(),
  }),
  rul: Type.Object({ rmse: Type.Number(), mae: Type.Number(), score: Type.Number(), n: Type.Integer() }),
});

/** A model's input scaling (features/normalize.ts), as meta.json and federation plans carry it. */
export const NormalisationSchema = Type.Object({
  sensors: Type.Array(Type.String()),
  mean: Type.Array(Type.Number()),
  std: Type.Array(Type.Number()),
  dropped: Type.Array(Type.String()),
  regimes: Type.Optional(
    Type.Object({
      model: Type.Object({
        conditions: Type.Array(Type.String(), { minItems: 1 }),
        centre: Type.Array(Type.Number()),
        scale: Type.Array(Type.Number({ exclusiveMinimum: 0 })),
        centroids: Type.Array(Type.Array(Type.Number()), { minItems: 2 }),
        chosenBy: Type.Union([Type.Literal('given'), Type.Literal('rule')]),
        explained: Type.Number(),
        trainShare: Type.Array(Type.Number()),
      }),
      mean: Type.Array(Type.Array(Type.Number())),
      std: Type.Array(Type.Array(Type.Number({ exclusiveMinimum: 0 }))),
    }),
  ),
  /** Smoothing of the z-scored sensors and the smoothed values' statistics; absent when none (and in older versions). */
  smoothing: Type.Optional(
    Type.Object({
      alpha: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
      mean: Type.Array(Type.Number()),
      std: Type.Array(Type.Number({ exclusiveMinimum: 0 })),
    }),
  ),
});

/** meta.json: what a model is, what it learned from and how good it was. Validated whenever read. */
export const ModelMetaSchema = Type.Object({
  version: Version,
  /** Absent in versions from before model roles: every one of those predicts failures. */
  role: Type.Optional(Type.Literal('failure')),
  /** The machine kind it serves; absent in versions from before kinds, which serve any kind without its own champion. */
  kind: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
  createdAt: Type.String(),
  parent: Type.Union([Type.String(), Type.Null()]),
  warmStartedFrom: Type.Union([Type.String(), Type.Null()]),
  /** The champion of another kind whose weights it started from (transfer to a kind with few failures). */
  transferredFrom: Type.Optional(
    Type.Union([
      Type.Object({
        version: Type.String(),
        kind: Type.String(),
        /** The source kind's windows and machines it was fine-tuned beside (rehearsal), when any. */
        rehearsal: Type.Optional(Type.Object({ windows: Type.Integer({ minimum: 0 }), machines: Type.Integer({ minimum: 0 }) })),
      }),
      Type.Null(),
    ]),
  ),
  /** The federated training it came from: the federation, its last round and the gateways in it. */
  federation: Type.Optional(
    Type.Union([
      Type.Object({
        id: Type.String(),
        session: Type.String(),
        round: Type.Integer({ minimum: 1 }),
        clients: Type.Array(Type.String()),
        personalised: Type.Boolean(),
      }),
      Type.Null(),
    ]),
  ),
  decision: Decision,
  dataRange: Type.Object({ from: Type.Number(), to: Type.Number() }),
  machines: Type.Object({ train: Type.Integer(), validation: Type.Array(Type.String()), splitMethod: Type.String() }),
  sensors: Type.Array(Type.String(), { minItems: 1 }),
  dropped: Type.Array(Type.String()),
  stepMs: Type.Number({ exclusiveMinimum: 0 }),
  window: Type.Integer({ minimum: 1 }),
  horizon: Type.Integer({ minimum: 1 }),
  rulCap: Type.Integer({ minimum: 1 }),
  recipe: Type.Optional(RecipeUsed),
  normalisation: NormalisationSchema,
  architecture: Type.Object({
    units: Type.Array(Type.Integer()),
    dropout: Type.Number(),
    recurrentActivation: Type.String(),
    learningRate: Type.Number(),
    batchSize: Type.Integer(),
    /** Models averaged in this one (an ensemble); absent in older versions, which have one. */
    members: Type.Optional(Type.Integer({ minimum: 1 })),
    /** What the heads read (model/lstm.ts): absent in older versions, which read the last state. */
    pooling: Type.Optional(Type.Union([Type.Literal('last'), Type.Literal('attention')])),
    attentionUnits: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Weight of a late RUL error in its loss (model/lstm.ts compile); absent when 1, and in older versions. */
    rulLateWeight: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  }),
  threshold: Type.Number(),
  metrics: Type.Object({
    validation: Metrics,
    leadTime: Type.Object({ detected: Type.Integer(), missed: Type.Integer(), meanLeadMs: Type.Union([Type.Number(), Type.Null()]) }),
    championOnSameData: Type.Union([Type.Intersect([Metrics, Type.Object({ version: Type.String() })]), Type.Null()]),
    /** RUL error by true-RUL band (steps), near failure first; absent in older versions. */
    rulBands: Type.Optional(
      Type.Array(
        Type.Object({
          from: Type.Number(),
          to: Type.Union([Type.Number(), Type.Null()]),
          n: Type.Integer(),
          bias: Type.Number(),
          rmse: Type.Number(),
        }),
      ),
    ),
  }),
  training: TrainingFacts,
  data: Type.Record(Type.String(), Type.Unknown()),
  /** What the model learned from and what it did not see (training/bias-report.ts); absent in older versions. */
  report: Type.Optional(BiasReportSchema),
});
export type ModelMeta = Static<typeof ModelMetaSchema>;

/** Shapes the schema cannot state: every per-sensor list as long as the sensors, every regime complete. */
export function normalisationProblem(n: ModelMeta['normalisation']): string | null {
  const S = n.sensors.length;
  if (n.mean.length !== S || n.std.length !== S) return `${S} sensors but ${n.mean.length} means and ${n.std.length} standard deviations`;
  if (n.smoothing && (n.smoothing.mean.length !== S || n.smoothing.std.length !== S))
    return `${S} sensors but smoothed statistics for ${n.smoothing.mean.length}`;
  if (!n.regimes) return null;
  const { model, mean, std } = n.regimes;
  const C = model.conditions.length;
  const K = model.centroids.length;
  if (model.centre.length !== C || model.scale.length !== C || model.centroids.some((c) => c.length !== C))
    return `regime centroids do not have one value per condition (${C})`;
  if (mean.length !== K || std.length !== K || model.trainShare.length !== K) return `${K} regimes but statistics for ${mean.length}`;
  if ([...mean, ...std].some((row) => row.length !== S)) return `a regime's statistics do not have one value per sensor (${S})`;
  return null;
}

/**
 * How a health model turns a window into a health index (model/health-score.ts): the residual
 * features' mean and precision on held-out normal data (a Mahalanobis distance), the smoothing, the
 * scale that maps the smoothed score to 100 (like its normal) … 0, and the alert threshold.
 */
export const HealthCalibrationSchema = Type.Object({
  /** Per sensor: the window's mean residual, then the log of its RMS residual (2 × sensors features). */
  features: Type.Literal('mean-and-log-rms'),
  mean: Type.Array(Type.Number()),
  /** Row-major inverse of the shrunk covariance of the features on held-out normal windows. */
  precision: Type.Array(Type.Number()),
  /** Standard deviation of each feature on held-out normal windows: how far a sensor deviates, in its own spread. */
  sd: Type.Array(Type.Number({ exclusiveMinimum: 0 })),
  /** Weight of the diagonal in the covariance (0 = as estimated). */
  shrinkage: Type.Number({ minimum: 0, maximum: 1 }),
  /** Time constant of the exponential smoothing of the score, in steps. */
  smoothingSteps: Type.Number({ exclusiveMinimum: 0 }),
  /** The smoothed score's median and 99th percentile on held-out normal data: index 100 and 50. */
  scale: Type.Object({ median: Type.Number(), p99: Type.Number() }),
  /** Health index below which an anomaly alert opens (after `alerts.anomaly.openAfter` scores). */
  threshold: Type.Number({ minimum: 0, maximum: 100 }),
  /** What chose it: the false-alarm budget alone, or labelled failures and abnormal periods within it. */
  chosenBy: Type.Union([Type.Literal('budget'), Type.Literal('labelled')]),
  /** The threshold the false-alarm budget alone gives. */
  budgetThreshold: Type.Number({ minimum: 0, maximum: 100 }),
  budget: Type.Object({ falseAlarmsPerMachineMonth: Type.Number({ exclusiveMinimum: 0 }) }),
  /**
   * The false alarms per machine-month expected at the threshold: alert episodes counted with the
   * alert rule on held-out normal data at lower thresholds, their log-rate fitted as linear in the
   * smoothed score (`intercept` + `slope` × score) over `points` thresholds.
   */
  estimate: Type.Object({
    falseAlarmsPerMachineMonth: Type.Number({ minimum: 0 }),
    intercept: Type.Number(),
    slope: Type.Number(),
    points: Type.Integer({ minimum: 0 }),
  }),
});
export type HealthCalibration = Static<typeof HealthCalibrationSchema>;

/** A labelled failure (or abnormal period) and how the health index announced it at the threshold. */
const Announced = Type.Object({
  machine: Type.String(),
  kind: Type.Union([Type.Literal('failure'), Type.Literal('abnormal')]),
  /** The failure's time, or the end of the abnormal period. */
  ts: Type.Number(),
  warned: Type.Boolean(),
  leadMs: Type.Union([Type.Number(), Type.Null()]),
});

const HealthFigures = Type.Object({
  /** Held-out normal data: windows, machines and hours, and the false alarms at the threshold there. */
  normal: Type.Object({
    windows: Type.Integer(),
    machines: Type.Integer(),
    machineHours: Type.Number(),
    falseAlarms: Type.Integer(),
    falseAlarmsPerMachineMonth: Type.Union([Type.Number(), Type.Null()]),
    /** The same, from the episode rate fitted on this data (calibration.estimate's method): null without a fit. */
    expectedFalseAlarmsPerMachineMonth: Type.Union([Type.Number(), Type.Null()]),
  }),
  /** Separation of labelled pre-failure and abnormal windows from normal ones (ROC-AUC of the smoothed score). */
  labelled: Type.Object({ positives: Type.Integer(), auc: Type.Union([Type.Number(), Type.Null()]) }),
  announced: Type.Array(Announced),
  /** RMS reconstruction error of the sensors on held-out windows (normalised units). */
  reconstructionRmse: Type.Number(),
});

/** meta.json of a health model: what it learned from, its calibration, and how it did on held-out data. */
export const HealthMetaSchema = Type.Object({
  version: Version,
  role: Type.Literal('health'),
  kind: Type.String({ minLength: 1, maxLength: 40 }),
  createdAt: Type.String(),
  parent: Type.Union([Type.String(), Type.Null()]),
  decision: Decision,
  dataRange: Type.Object({ from: Type.Number(), to: Type.Number() }),
  machines: Type.Object({ train: Type.Integer(), validation: Type.Array(Type.String()), splitMethod: Type.String() }),
  sensors: Type.Array(Type.String(), { minItems: 1 }),
  dropped: Type.Array(Type.String()),
  stepMs: Type.Number({ exclusiveMinimum: 0 }),
  window: Type.Integer({ minimum: 2 }),
  recipe: Type.Optional(RecipeUsed),
  normalisation: NormalisationSchema,
  architecture: Type.Object({
    /** An LSTM encoder and a dense decoder that reconstructs the window's sensors from its last state. */
    design: Type.Literal('reconstruct'),
    units: Type.Array(Type.Integer()),
    dropout: Type.Number(),
    learningRate: Type.Number(),
    batchSize: Type.Integer(),
  }),
  calibration: HealthCalibrationSchema,
  metrics: Type.Intersect([
    HealthFigures,
    Type.Object({
      championOnSameData: Type.Union([Type.Intersect([HealthFigures, Type.Object({ version: Type.String() })]), Type.Null()]),
    }),
  ]),
  /** Technicians' verdicts the run learned from: normal periods added, abnormal ones left out. */
  verdicts: Type.Object({ normal: Type.Integer(), abnormal: Type.Integer(), normalHours: Type.Number(), abnormalHours: Type.Number() }),
  training: TrainingFacts,
  data: Type.Record(Type.String(), Type.Unknown()),
});
export type HealthModelMeta = Static<typeof HealthMetaSchema>;

/** Either role's meta.json. */
export type AnyModelMeta = ModelMeta | HealthModelMeta;

export function roleOf(meta: Pick<AnyModelMeta, 'role'>): 'failure' | 'health' {
  return meta.role ?? 'failure';
}

/** What a failure model's heads read; models from before the option read the last state. */
export function poolingOf(meta: ModelMeta): 'last' | 'attention' {
  return meta.architecture.pooling ?? 'last';
}

export function isHealthMeta(meta: AnyModelMeta): meta is HealthModelMeta {
  return meta.role === 'health';
}

/** Shapes the calibration schema cannot state: two features per sensor, a square precision matrix. */
export function calibrationProblem(m: HealthModelMeta): string | null {
  const p = 2 * m.normalisation.sensors.length;
  const c = m.calibration;
  if (c.mean.length !== p || c.sd.length !== p)
    return `${m.normalisation.sensors.length} sensors need ${p} residual features, found ${c.mean.length}`;
  if (c.precision.length !== p * p) return `the precision matrix needs ${p * p} values, found ${c.precision.length}`;
  if (!(c.scale.p99 > c.scale.median)) return 'the score scale needs p99 above the median';
  return null;
}
