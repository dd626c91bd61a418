import type { LayersModel } from '@tensorflow/tfjs';
import { Rng } from '../core/random.js';
import { applyNormalisation, fitNormalisation, type Normalisation } from '../features/normalize.js';
import { splitByMachineAndTime, type LabelledSegment, type Split } from '../features/split.js';
import { buildWindows, oversamplePositives, type WindowSet } from '../features/windows.js';
import type { TF } from '../model/backend.js';
import { buildLstm, predict, type LstmSpec } from '../model/lstm.js';
import { bestF1Threshold, classification, leadTimes, rulMetrics, type ClassificationMetrics, type RulMetrics } from '../model/metrics.js';
import { fitModel, type FitOptions, type FitResult } from './fit.js';

export interface PrepareOptions {
  windowSteps: number;
  stride: number;
  validationFraction: number;
  positiveShare: number;
  seed: number;
  /** Reuse these statistics (warm start from a champion with the same features). */
  normalisation?: Normalisation;
}

export interface PreparedData {
  norm: Normalisation;
  split: Split;
  train: WindowSet;
  validation: WindowSet;
  report: {
    trainWindows: number;
    trainPositives: number;
    /** Training windows after oversampling failures. */
    trainWindowsBalanced: number;
    validationWindows: number;
    validationPositives: number;
    splitMethod: Split['method'];
    trainMachines: number;
    validationMachines: string[];
  };
}

/** Split (validation never sees training data), fit normalisation on the training part only, window. */
export function prepareData(items: readonly LabelledSegment[], sensors: readonly string[], o: PrepareOptions): PreparedData {
  const rng = new Rng(o.seed ^ 0x5eed);
  const split = splitByMachineAndTime(items, o.validationFraction, o.windowSteps, () => rng.next());
  const norm = o.normalisation ?? fitNormalisation(split.train.map((i) => i.seg), sensors);
  const normalise = (list: readonly LabelledSegment[]) => list.map((i) => ({ seg: applyNormalisation(i.seg, norm), labels: i.labels }));
  const trainRaw = buildWindows(normalise(split.train), o.windowSteps, o.stride);
  const train = oversamplePositives(trainRaw, o.positiveShare, () => rng.next());
  const validation = buildWindows(normalise(split.validation), o.windowSteps, o.stride);
  const count = (w: WindowSet) => w.failure.reduce((n, v) => n + v, 0);
  return {
    norm,
    split,
    train,
    validation,
    report: {
      trainWindows: trainRaw.n,
      trainPositives: count(trainRaw),
      trainWindowsBalanced: train.n,
      validationWindows: validation.n,
      validationPositives: count(validation),
      splitMethod: split.method,
      trainMachines: new Set(split.train.map((i) => i.seg.machine)).size,
      validationMachines: split.validationMachines,
    },
  };
}

export interface Validation {
  threshold: number;
  classification: ClassificationMetrics;
  rul: RulMetrics;
  lead: { detected: number; missed: number; meanLeadMs: number | null };
}

/** Scores a model on validation windows; the threshold is chosen here (best F1) unless given. */
export function validate(tf: TF, model: LayersModel, ws: WindowSet, o: { rulCap: number; horizon: number; stepMs: number; threshold?: number }): Validation {
  const { p, rul } = predict(tf, model, ws.x, ws.n, ws.windowSteps, ws.features);
  const threshold = o.threshold ?? bestF1Threshold(p, ws.failure);
  const predRul = Array.from(rul, (r) => Math.min(o.rulCap, Math.max(0, r * o.rulCap)));
  return {
    threshold,
    classification: classification(p, ws.failure, threshold),
    rul: rulMetrics(predRul, ws.rul),
    lead: leadTimes(
      Array.from({ length: ws.n }, (_, i) => ({ machine: ws.machine[i]!, endTs: ws.endTs[i]!, rulSteps: ws.rul[i]!, score: p[i]! })),
      threshold,
      o.horizon,
      o.stepMs,
    ),
  };
}

export interface TrainOutcome {
  model: LayersModel;
  fit: FitResult;
  validation: Validation;
  spec: LstmSpec;
}

export async function trainAndValidate(
  tf: TF,
  data: PreparedData,
  spec: Omit<LstmSpec, 'windowSteps' | 'features'>,
  fit: Omit<FitOptions, 'seed'> & { horizon: number; stepMs: number },
  initial?: LayersModel,
): Promise<TrainOutcome> {
  const fullSpec: LstmSpec = { ...spec, windowSteps: data.train.windowSteps, features: data.norm.sensors.length };
  const model = initial ?? buildLstm(tf, fullSpec);
  const result = await fitModel(tf, model, data.train, data.validation, { ...fit, seed: spec.seed });
  const validation = validate(tf, model, data.validation, { rulCap: fit.rulCap, horizon: fit.horizon, stepMs: fit.stepMs });
  return { model, fit: result, validation, spec: fullSpec };
}
