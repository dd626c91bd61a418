import type { LayersModel } from '@tensorflow/tfjs';
import { Rng } from '../core/random.js';
import { applyNormalisation, fitNormalisation, type Normalisation } from '../features/normalize.js';
import { splitByMachineAndTime, type LabelledSegment, type Split } from '../features/split.js';
import { buildWindows, oversamplePositives, type WindowSet } from '../features/windows.js';
import type { TF } from '../model/backend.js';
import { combineMembers } from '../model/ensemble.js';
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
  /** The model to save: the single member, or the members averaged in one model. */
  model: LayersModel;
  /** All members' epochs together (history, samples/s); `bestEpoch` is the first member's. */
  fit: FitResult;
  members: Array<{ seed: number; epochs: number; bestEpoch: number; stoppedEarly: boolean }>;
  validation: Validation;
  spec: LstmSpec;
}

/**
 * Trains `members` models of the same architecture on the same split (member k seeded with
 * seed + 1000·k; member 0 is what a single-model run trains), each early-stopped on validation, then
 * validates their average. `initial[k]`, when given, is member k's starting point (a warm start).
 */
export async function trainAndValidate(
  tf: TF,
  data: PreparedData,
  spec: Omit<LstmSpec, 'windowSteps' | 'features'>,
  fit: Omit<FitOptions, 'seed'> & { horizon: number; stepMs: number; members?: number },
  initial: ReadonlyArray<LayersModel | undefined> = [],
): Promise<TrainOutcome> {
  const fullSpec: LstmSpec = { ...spec, windowSteps: data.train.windowSteps, features: data.norm.sensors.length };
  const count = Math.max(1, fit.members ?? 1);
  const trained: LayersModel[] = [];
  const fits: FitResult[] = [];
  const members: TrainOutcome['members'] = [];
  try {
    for (let k = 0; k < count; k++) {
      const seed = spec.seed + 1000 * k;
      const model = initial[k] ?? buildLstm(tf, { ...fullSpec, seed });
      trained.push(model);
      const memberStart = performance.now();
      const result = await fitModel(tf, model, data.train, data.validation, {
        ...fit,
        seed,
        // The ETA covers the members still to come, each taking about as long as this one.
        onEpoch: fit.onEpoch && ((p) => fit.onEpoch!({ ...p, etaMs: p.etaMs + (count - 1 - k) * (performance.now() - memberStart + p.etaMs), member: k + 1, members: count })),
      });
      fits.push(result);
      members.push({ seed, epochs: result.history.length, bestEpoch: result.bestEpoch, stoppedEarly: result.stoppedEarly });
      if (result.cancelled) break;
    }
    const cancelled = fits.some((f) => f.cancelled);
    const model = cancelled ? trained[0]! : combineMembers(tf, trained, fullSpec);
    const trainedSamples = fits.reduce((n, f) => n + f.trainedSamples, 0);
    const seconds = fits.reduce((t, f) => t + f.trainedSamples / Math.max(f.samplesPerSecond, 1e-9), 0);
    const aggregate: FitResult = {
      history: fits.flatMap((f) => f.history),
      bestEpoch: fits[0]!.bestEpoch,
      stoppedEarly: fits.every((f) => f.stoppedEarly),
      cancelled,
      samplesPerSecond: trainedSamples / Math.max(seconds, 1e-9),
      trainedSamples,
    };
    const validation = validate(tf, model, data.validation, { rulCap: fit.rulCap, horizon: fit.horizon, stepMs: fit.stepMs });
    // The members live on as the ensemble's copies; their own weights are no longer needed.
    if (model !== trained[0]) trained.forEach((m) => m.dispose());
    else trained.slice(1).forEach((m) => m.dispose());
    trained.length = 0;
    return { model, fit: aggregate, members, validation, spec: fullSpec };
  } finally {
    trained.forEach((m) => m.dispose());
  }
}
