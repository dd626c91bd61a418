import type { LayersModel } from '@tensorflow/tfjs';
import { Rng } from '../core/random.js';
import {
  applyNormalisation,
  endsInFailure,
  fitNormalisation,
  inputNames,
  type Normalisation,
  type RegimeFitOptions,
  splitByMachineAndTime,
  type LabelledSegment,
  type Split,
  buildWindows,
  oversamplePositives,
  type WindowSet,
} from '../features/index.js';
import {
  type TF,
  combineMembers,
  buildLstm,
  predict,
  type LstmSpec,
  bestF1Threshold,
  thresholdForShare,
  classification,
  leadTimes,
  rulByBand,
  rulMetrics,
  type ClassificationMetrics,
  bootstrapOverMachines,
  type MetricIntervals,
  type RulBand,
  type RulMetrics,
} from '../model/index.js';
import { fitModel, type FitOptions, type FitResult } from './fit.js';

export interface PrepareOptions {
  windowSteps: number;
  stride: number;
  validationFraction: number;
  positiveShare: number;
  seed: number;
  /** Reuse these statistics (warm start from a champion with the same features). */
  normalisation?: Normalisation;
  /** Condition channels and the regime rule (fitted on the training part only, like the statistics). */
  regimes?: RegimeFitOptions;
  /** Weight of the newest step in the smoothing of each z-scored sensor (1 or absent = none). */
  smoothing?: number;
}

export interface PreparedData {
  norm: Normalisation;
  split: Split;
  train: WindowSet;
  validation: WindowSet;
  /**
   * Cross-validation instead of one held-out part: member k of the ensemble trains on every fold but
   * k and stops early on fold k, and the threshold and validation metrics come from each window's
   * prediction by the member that did not see it (out of fold). `validation` then holds every window.
   */
  folds?: { count: number; build(k: number): { train: WindowSet; validation: WindowSet; trainWindows: number } };
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
  const norm =
    o.normalisation ??
    fitNormalisation(
      split.train.map((i) => i.seg),
      sensors,
      o.regimes,
      o.smoothing,
    );
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

/**
 * Folds of whole machines (seeded) for cross-validation; normalisation is fitted on all of them (it
 * uses no labels). Windows are built per member as it trains, so only one fold's copy is in memory.
 */
export function prepareFolds(
  items: readonly LabelledSegment[],
  sensors: readonly string[],
  o: PrepareOptions & { folds: number },
): PreparedData {
  const rng = new Rng(o.seed ^ 0x5eed);
  const shuffled = [...new Set(items.map((i) => i.seg.machine))].sort();
  if (shuffled.length < o.folds)
    throw new Error(`cross-validation over ${o.folds} folds needs at least ${o.folds} machines, found ${shuffled.length}`);
  rng.shuffle(shuffled);
  // Machines that failed are dealt out first, so each fold holds failures while there are enough of them.
  const failed = new Set(items.filter(endsInFailure).map((i) => i.seg.machine));
  const machines = [...shuffled.filter((m) => failed.has(m)), ...shuffled.filter((m) => !failed.has(m))];
  const foldOf = new Map(machines.map((m, i) => [m, i % o.folds]));
  const norm =
    o.normalisation ??
    fitNormalisation(
      items.map((i) => i.seg),
      sensors,
      o.regimes,
      o.smoothing,
    );
  const normalised = items.map((i) => ({ seg: applyNormalisation(i.seg, norm), labels: i.labels, fold: foldOf.get(i.seg.machine)! }));
  const all = buildWindows(normalised, o.windowSteps, o.stride);
  const buildFold = (k: number) => {
    const foldRng = new Rng((o.seed ^ 0xf01d) + k);
    const train = buildWindows(
      normalised.filter((i) => i.fold !== k),
      o.windowSteps,
      o.stride,
    );
    return {
      train: oversamplePositives(train, o.positiveShare, () => foldRng.next()),
      trainWindows: train.n,
      validation: buildWindows(
        normalised.filter((i) => i.fold === k),
        o.windowSteps,
        o.stride,
      ),
    };
  };
  const count = (w: WindowSet) => w.failure.reduce((n, v) => n + v, 0);
  // Fold 0 is built here for the report and handed to its member once, not built a second time.
  let first: ReturnType<typeof buildFold> | null = buildFold(0);
  const report = { trainWindowsBalanced: first.train.n, train: first.train };
  const build = (k: number) => {
    if (k === 0 && first) {
      const fold = first;
      first = null;
      return fold;
    }
    return buildFold(k);
  };
  return {
    norm,
    split: { train: [...items], validation: [...items], method: 'by-machine', validationMachines: machines.slice().sort() },
    train: report.train,
    validation: all,
    folds: { count: o.folds, build },
    report: {
      trainWindows: all.n,
      trainPositives: count(all),
      trainWindowsBalanced: report.trainWindowsBalanced,
      validationWindows: all.n,
      validationPositives: count(all),
      splitMethod: 'by-machine',
      trainMachines: machines.length,
      validationMachines: machines.slice().sort(),
    },
  };
}

export interface Validation {
  threshold: number;
  classification: ClassificationMetrics;
  rul: RulMetrics;
  /** RUL error by true-RUL band (near failure first). */
  rulBands: RulBand[];
  /** Bootstrap intervals over validation machines, when asked for. */
  intervals?: MetricIntervals | null;
  lead: { detected: number; missed: number; meanLeadMs: number | null };
}

/** Validation from out-of-fold predictions: every window scored by the member that did not train on it. */
function outOfFold(
  parts: ReadonlyArray<{ ws: WindowSet; p: Float32Array; rul: Float32Array }>,
  o: { rulCap: number; horizon: number; stepMs: number },
): Validation {
  const p = parts.flatMap((x) => Array.from(x.p));
  const failure = parts.flatMap((x) => Array.from(x.ws.failure));
  const predRul = parts.flatMap((x) => Array.from(x.rul, (r) => Math.min(o.rulCap, Math.max(0, r * o.rulCap))));
  const actualRul = parts.flatMap((x) => Array.from(x.ws.rul));
  const threshold = bestF1Threshold(p, failure);
  const windows = parts.flatMap((x) =>
    Array.from({ length: x.ws.n }, (_, i) => ({ machine: x.ws.machine[i]!, endTs: x.ws.endTs[i]!, failureTs: x.ws.failureTs[i]! })),
  );
  return {
    threshold,
    classification: classification(p, failure, threshold),
    rul: rulMetrics(predRul, actualRul),
    rulBands: rulByBand(predRul, actualRul, o.horizon, o.rulCap),
    lead: leadTimes(
      windows.map((w, i) => ({ ...w, score: p[i]! })),
      threshold,
      o.horizon * o.stepMs,
    ),
  };
}

/** The ensemble's threshold after cross-validation (see `foldThreshold` in trainAndValidate). */
function foldThreshold(tf: TF, model: LayersModel, all: WindowSet, v: Validation, rule: 'out-of-fold' | 'alarm-rate'): Validation {
  if (rule === 'out-of-fold' || all.n === 0) return v;
  const { tp, fp, tn, fn } = v.classification.confusion;
  const share = (tp + fp) / Math.max(1, tp + fp + tn + fn);
  const { p } = predict(tf, model, all.x, all.n, all.windowSteps, all.features);
  return { ...v, threshold: thresholdForShare(p, share) };
}

/** Scores a model on validation windows; the threshold is chosen here (best F1) unless given. */
export function validate(
  tf: TF,
  model: LayersModel,
  ws: WindowSet,
  o: {
    rulCap: number;
    horizon: number;
    stepMs: number;
    threshold?: number;
    bootstrap?: { samples: number; seed: number };
    /** Judge RUL with true and predicted values capped here (a protocol's cap below the model's `rulCap`). */
    scoreCap?: number;
  },
): Validation {
  const { p, rul } = predict(tf, model, ws.x, ws.n, ws.windowSteps, ws.features);
  const threshold = o.threshold ?? bestF1Threshold(p, ws.failure);
  const cap = Math.min(o.rulCap, o.scoreCap ?? o.rulCap);
  const predRul = Array.from(rul, (r) => Math.min(cap, Math.max(0, r * o.rulCap)));
  const actualRul = cap < o.rulCap ? Array.from(ws.rul, (r) => Math.min(cap, r)) : ws.rul;
  const rng = o.bootstrap ? new Rng(o.bootstrap.seed ^ 0xb007) : null;
  return {
    ...(o.bootstrap && rng
      ? {
          intervals: bootstrapOverMachines({ machine: ws.machine, p, failure: ws.failure, predRul, actualRul }, threshold, {
            samples: o.bootstrap.samples,
            level: 0.9,
            random: () => rng.next(),
          }),
        }
      : {}),
    threshold,
    classification: classification(p, ws.failure, threshold),
    rul: rulMetrics(predRul, actualRul),
    rulBands: rulByBand(predRul, actualRul, o.horizon, cap),
    lead: leadTimes(
      Array.from({ length: ws.n }, (_, i) => ({ machine: ws.machine[i]!, endTs: ws.endTs[i]!, failureTs: ws.failureTs[i]!, score: p[i]! })),
      threshold,
      o.horizon * o.stepMs,
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
  fit: Omit<FitOptions, 'seed' | 'onBatch'> & {
    horizon: number;
    stepMs: number;
    members?: number;
    onBatch?: (done: number, total: number, epoch: number, member: number, members: number) => void;
    /**
     * With folds, the threshold the ensemble serves with: the out-of-fold one as it is, or carried
     * over as the share of windows it flags out of fold (`alarm-rate`) — the members' average is
     * steadier than any one member, so the same value can flag fewer windows. Metrics stay out of fold.
     */
    foldThreshold?: 'out-of-fold' | 'alarm-rate';
    /** Bootstrap intervals over the validation machines (hold-out validation only). */
    bootstrap?: { samples: number; seed: number };
  },
  initial: ReadonlyArray<LayersModel | undefined> = [],
): Promise<TrainOutcome> {
  const fullSpec: LstmSpec = { ...spec, windowSteps: data.train.windowSteps, features: inputNames(data.norm).length };
  const count = data.folds ? data.folds.count : Math.max(1, fit.members ?? 1);
  // Out-of-fold predictions, filled as each member finishes (cross-validation only).
  const oof = data.folds ? { parts: [] as Array<{ ws: WindowSet; p: Float32Array; rul: Float32Array }> } : null;
  const trained: LayersModel[] = [];
  const fits: FitResult[] = [];
  const members: TrainOutcome['members'] = [];
  try {
    for (let k = 0; k < count; k++) {
      const seed = spec.seed + 1000 * k;
      const model = initial[k] ?? buildLstm(tf, { ...fullSpec, seed });
      trained.push(model);
      const memberStart = performance.now();
      const fold = data.folds ? data.folds.build(k) : { train: data.train, validation: data.validation };
      const result = await fitModel(tf, model, fold.train, fold.validation, {
        ...fit,
        seed,
        // The ETA covers the members still to come, each taking about as long as this one.
        onBatch: fit.onBatch && ((done, total, epoch) => fit.onBatch!(done, total, epoch, k + 1, count)),
        onEpoch:
          fit.onEpoch &&
          ((p) =>
            fit.onEpoch!({
              ...p,
              etaMs: p.etaMs + (count - 1 - k) * (performance.now() - memberStart + p.etaMs),
              member: k + 1,
              members: count,
            })),
      });
      fits.push(result);
      members.push({ seed, epochs: result.history.length, bestEpoch: result.bestEpoch, stoppedEarly: result.stoppedEarly });
      if (result.cancelled) break;
      if (oof)
        oof.parts.push({
          ws: fold.validation,
          ...predict(tf, model, fold.validation.x, fold.validation.n, fold.validation.windowSteps, fold.validation.features),
        });
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
    const validation =
      oof && !cancelled
        ? foldThreshold(
            tf,
            model,
            data.validation,
            outOfFold(oof.parts, { rulCap: fit.rulCap, horizon: fit.horizon, stepMs: fit.stepMs }),
            fit.foldThreshold ?? 'out-of-fold',
          )
        : validate(tf, model, data.validation, {
            rulCap: fit.rulCap,
            horizon: fit.horizon,
            stepMs: fit.stepMs,
            ...(fit.bootstrap ? { bootstrap: fit.bootstrap } : {}),
          });
    // The members live on as the ensemble's copies; their own weights are no longer needed.
    if (model !== trained[0]) trained.forEach((m) => m.dispose());
    else trained.slice(1).forEach((m) => m.dispose());
    trained.length = 0;
    return { model, fit: aggregate, members, validation, spec: fullSpec };
  } finally {
    trained.forEach((m) => m.dispose());
  }
}
