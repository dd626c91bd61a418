/**
 * npm run bench:cmapss [-- --subset FD001|FD002|FD003 --seeds 1,2,3 --window 50 --conditions --regimes auto|N
 *   --members N --folds N --epochs N --stride S --units 64,32 --rul-late-weight W --monitor metrics|loss
 *   --backend auto|wasm|cpu --kernel auto|native|wasm|stock (fast = wasm) --sensors-only --save DIR --validation-only
 *   --fresh-dropout --average-last N[,N…] --pooling last|attention --attention-units N --smoothing A --rul-knee K --conv F,K --load DIR]
 *
 * Trains Vigil's two-headed LSTM on a C-MAPSS subset (train_FD00N.txt; 20% of the engines held out
 * for validation, early stopping and the alert threshold) and evaluates on test_FD00N.txt +
 * RUL_FD00N.txt with the published protocols, once per seed; the last line is the mean ± sd over the
 * seeds. The test files inform no choice: they are read after training.
 */
import type { LayersModel } from '@tensorflow/tfjs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileHandler } from '../src/model/file-io.js';
import { CAUSAL_CONV_CLASS } from '../src/model/conv-front.js';
import { loadTf, quietTfWarnings, type BackendPreference } from '../src/model/backend.js';
import { loadFastLstm, type LstmKernelPreference } from '../src/model/fast-lstm/load.js';
import { applyNormalisation, inputNames, type RegimeFitOptions } from '../src/features/normalize.js';
import { buildWindows } from '../src/features/windows.js';
import { bestF1Threshold, classification, rulByBand, rulMetrics, type RulBand } from '../src/model/metrics.js';
import { predict } from '../src/model/lstm.js';
import {
  prepareData,
  prepareFolds,
  trainAndValidate,
  validate,
  type PreparedData,
  type TrainOutcome,
  type Validation,
} from '../src/training/pipeline.js';
import {
  CMAPSS_CONDITIONS,
  CMAPSS_INPUTS,
  CMAPSS_SENSORS,
  CMAPSS_SUBSETS,
  cmapssFiles,
  averageOverLastWindows,
  evaluateCmapssTest,
  labelledTrainingUnits,
  type CmapssSubset,
} from './lib/cmapss.js';
import { describe, meanPlusMinus, parseSeeds } from './lib/seeds.js';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: path.resolve('../shared/data/cmapss') },
    subset: { type: 'string', default: 'FD001' },
    epochs: { type: 'string', default: '40' },
    patience: { type: 'string', default: '8' },
    'reduce-lr': { type: 'string', default: '3' },
    // Cycles a window spans (the test protocol's binary engines stay those with at least 50).
    window: { type: 'string', default: '50' },
    stride: { type: 'string', default: '2' },
    units: { type: 'string', default: '64,32' },
    // What the heads read: the last LSTM state, or temporal attention over the states beside it.
    pooling: { type: 'string', default: 'last' },
    'attention-units': { type: 'string', default: '16' },
    // A causal convolution in front of the LSTM: F filters over the last K cycles (conv-front.ts).
    conv: { type: 'string' },
    dropout: { type: 'string', default: '0.2' },
    // A new dropout mask every batch (tfjs draws one mask per batch shape when seeded).
    'fresh-dropout': { type: 'boolean', default: false },
    lr: { type: 'string', default: '0.002' },
    // 128 chosen on validation only (docs/predictor.md: seeds 1–3, RUL RMSE 14.54 against 15.95 at 256, same F1 and PR-AUC).
    batch: { type: 'string', default: '128' },
    seed: { type: 'string' },
    seeds: { type: 'string' },
    // 5 chosen on validation only (docs/predictor.md: seeds 1–3, F1 0.929 and PR-AUC 0.984 against 0.922 / 0.981 for one model, RUL RMSE 14.07 against 14.54).
    members: { type: 'string', default: '5' },
    // Cross-validation over N folds of the training engines (one member per fold; threshold from
    // out-of-fold predictions) instead of holding 20 % of the engines out; 0 = hold out.
    folds: { type: 'string', default: '0' },
    'rul-weight': { type: 'string', default: '1' },
    'rul-late-weight': { type: 'string', default: '1' },
    // The piecewise-linear target's knee the model is trained to (its rulCap); every figure keeps the
    // protocol's cap of 125, predictions clipped there.
    'rul-knee': { type: 'string', default: '125' },
    // Weight of the newest cycle in the exponential smoothing of each z-scored sensor (1 = none).
    smoothing: { type: 'string', default: '1' },
    // Average each engine's last N windows (stride apart): validation prints every N given, the test uses the first.
    'average-last': { type: 'string', default: '1' },
    monitor: { type: 'string', default: 'metrics' },
    backend: { type: 'string', default: 'auto' },
    kernel: { type: 'string', default: 'auto' },
    // The 21 sensors without the cycle count (the default before it was chosen on validation).
    'sensors-only': { type: 'boolean', default: false },
    // The operational settings as condition channels: regimes found on the training engines, sensors
    // normalised per regime, the regime an input. Only when told: FD001 and FD003 have one condition.
    conditions: { type: 'boolean', default: false },
    regimes: { type: 'string', default: 'auto' },
    save: { type: 'string' },
    // Models a --save run kept (DIR/seed-N): validated again and, unless
    // --validation-only, scored on the test files without training, so a configuration chosen on
    // validation is read on the test files with the very models it was chosen with.
    load: { type: 'string' },
    // For choosing a configuration: stop after validation, so the test files are never looked at.
    'validation-only': { type: 'boolean', default: false },
  },
});
// The window the binary test protocol was set with: its engines are those with at least this many cycles.
const PROTOCOL_WINDOW = 50;
const WINDOW = Number(a.window);
if (!Number.isInteger(WINDOW) || WINDOW < 2) throw new Error(`--window takes a whole number of cycles ≥ 2, got "${a.window}"`);
// The test files score each engine's last window however few cycles it ran, front-padded; validation
// reports windows from this many cycles as well (beside whole windows only, the runs' usual figure).
const SHORT_FROM = 20;
const SMOOTHING = Number(a.smoothing);
if (!(SMOOTHING > 0 && SMOOTHING <= 1)) throw new Error(`--smoothing takes a weight in (0, 1] (1 = none), got "${a.smoothing}"`);
const HORIZON = 30;
const RUL_CAP = 125;
const RUL_KNEE = Number(a['rul-knee']);
if (!Number.isInteger(RUL_KNEE) || RUL_KNEE < RUL_CAP)
  throw new Error(`--rul-knee takes whole cycles ≥ the protocol's cap ${RUL_CAP}, got "${a['rul-knee']}"`);
if (RUL_KNEE !== RUL_CAP && Number(a.folds) > 0) throw new Error('--rul-knee is not combined with --folds');
// Validation figures on the protocol's cap, whatever the knee trained to.
const judged = { rulCap: RUL_KNEE, scoreCap: RUL_CAP, horizon: HORIZON, stepMs: 1 };

const pooling = a.pooling as 'last' | 'attention';
if (pooling !== 'last' && pooling !== 'attention') throw new Error(`--pooling must be last or attention, got "${a.pooling}"`);
const conv = a.conv === undefined ? undefined : parseConv(a.conv);
// How the summary lines name the architecture beside the pooling.
const shape = `pooling ${pooling}${conv ? `, causal conv ${conv.filters}×${conv.kernel}` : ''}${RUL_KNEE !== RUL_CAP ? `, RUL knee ${RUL_KNEE}` : ''}`;
const subset = a.subset.toUpperCase() as CmapssSubset;
if (!CMAPSS_SUBSETS.includes(subset)) throw new Error(`--subset must be one of ${CMAPSS_SUBSETS.join(', ')}, got "${a.subset}"`);
const files = cmapssFiles(a.data, subset);
const seeds = parseSeeds(a.seeds ?? a.seed ?? '1');
const averageLast = a['average-last'].split(',').map(Number);
if (!averageLast.every((n) => Number.isInteger(n) && n >= 1))
  throw new Error(`--average-last takes whole numbers ≥ 1, got "${a['average-last']}"`);
if (RUL_KNEE !== RUL_CAP && (averageLast.length > 1 || averageLast[0]! > 1))
  throw new Error('--average-last is not combined with --rul-knee');
const averaged: Array<{ seed: number; count: number; f1: number; prAuc: number; rmse: number }> = [];
const regimeFit: RegimeFitOptions | undefined = a.conditions
  ? {
      conditions: CMAPSS_CONDITIONS,
      k: a.regimes === 'auto' ? undefined : Number(a.regimes),
      maxK: 10,
      minExplained: 0.99,
      seed: 1,
    }
  : undefined;

quietTfWarnings();
const { tf, backend, provider } = await loadTf(a.backend as BackendPreference);
const lstm = await loadFastLstm(tf, { preference: a.kernel as LstmKernelPreference });
const sensors = a['sensors-only'] ? CMAPSS_SENSORS : CMAPSS_INPUTS;
const items = labelledTrainingUnits(files.train, {
  window: WINDOW,
  horizon: HORIZON,
  rulCap: RUL_KNEE,
  inputs: regimeFit ? [...sensors, ...regimeFit.conditions] : sensors,
});

interface SeedResult {
  seed: number;
  validation: { f1: number; prAuc: number; rmse: number; shortRmse: number };
  test?: { f1: number; rmse: number; score: number; bands: RulBand[] };
  seconds: number;
  /** Training windows per second (oversampled windows × epochs run, over the members). */
  windowsPerSecond: number;
}

const bandText = (bands: readonly RulBand[]) =>
  bands
    .filter((b) => b.n > 0)
    .map(
      (b) =>
        `${b.to === null ? `≥${b.from}` : `${b.from}–${b.to}`}: bias ${b.bias >= 0 ? '+' : ''}${b.bias.toFixed(1)}, RMSE ${b.rmse.toFixed(1)} (${b.n})`,
    )
    .join('; ');

async function runSeed(seed: number): Promise<SeedResult> {
  const prepare = {
    windowSteps: WINDOW,
    stride: Number(a.stride),
    validationFraction: 0.2,
    positiveShare: 0.3,
    seed,
    regimes: regimeFit,
    smoothing: SMOOTHING,
  };
  const folds = Number(a.folds);
  // To compare cross-validation with holding out on validation only, the cross-validated ensemble is
  // trained on the engines a hold-out run trains on (same seed, same split) and judged on the
  // engines that run validates on, with the threshold from its own out-of-fold predictions.
  const outer = folds > 0 && a['validation-only'] ? prepareData(items, sensors, prepare) : null;
  const data =
    folds > 0 ? prepareFolds(outer ? outer.split.train : items, sensors, { ...prepare, folds }) : prepareData(items, sensors, prepare);
  const regimes = data.norm.regimes?.model;
  console.log(
    `bench:cmapss — ${subset} seed ${seed}, window ${WINDOW}, horizon ${HORIZON}, RUL cap ${RUL_CAP}${RUL_KNEE !== RUL_CAP ? ` (trained to a knee at ${RUL_KNEE})` : ''}, backend ${backend} (${provider}), LSTM ${lstm.describe}; ` +
      `${inputNames(data.norm).length} inputs (${data.norm.dropped.join(', ') || 'none'} constant, dropped)${SMOOTHING < 1 ? `, smoothed (newest cycle's weight ${SMOOTHING})` : ''}; ` +
      (regimeFit
        ? regimes
          ? `${regimes.centroids.length} regimes from ${regimes.conditions.join(', ')} (${regimes.chosenBy === 'rule' ? 'k by rule' : 'k given'}, ${(100 * regimes.explained).toFixed(2)} % of their variance), sensors normalised per regime; `
          : 'conditions form one regime; '
        : '') +
      `train ${data.report.trainWindows} windows (${data.report.trainPositives} positive, ${data.report.trainWindowsBalanced} after oversampling) from ${data.report.trainMachines} engines; ` +
      `validation ${data.report.validationWindows} windows from ${data.report.validationMachines.length} engines`,
  );
  const t0 = performance.now();
  // Always per seed, so seeds run as separate processes into one DIR load together later.
  const modelDir = (root: string) => path.join(root, `seed-${seed}`);
  const trained = a.load
    ? await loadTrained(modelDir(a.load), data)
    : describeTraining(
        await trainAndValidate(
          tf,
          data,
          {
            units: a.units.split(',').map(Number),
            dropout: Number(a.dropout),
            freshDropout: a['fresh-dropout'],
            learningRate: Number(a.lr),
            seed,
            recurrentActivation: 'sigmoid',
            rulLossWeight: Number(a['rul-weight']),
            rulLateWeight: Number(a['rul-late-weight']),
            kernel: lstm.kernel,
            pooling,
            attentionUnits: Number(a['attention-units']),
            ...(conv ? { conv } : {}),
          },
          {
            epochs: Number(a.epochs),
            batchSize: Number(a.batch),
            patience: Number(a.patience),
            reduceLrAfter: Number(a['reduce-lr']),
            monitor: a.monitor === 'metrics' ? 'metrics' : 'loss',
            members: Number(a.members),
            rulCap: RUL_KNEE,
            horizon: HORIZON,
            stepMs: 1,
            onEpoch: (p) =>
              console.log(
                `  ${p.members && p.members > 1 ? `member ${p.member}/${p.members} ` : ''}epoch ${p.epoch}/${p.epochs}: loss ${p.loss.toFixed(4)} (failure ${p.failureLoss.toFixed(4)}, rul ${p.rulLoss.toFixed(4)}), val ${p.valLoss.toFixed(4)}${p.valRulRmse !== null ? ` (RMSE ${p.valRulRmse.toFixed(2)}, PR-AUC ${p.valPrAuc!.toFixed(3)})` : ''}, best ${p.bestEpoch}, ${p.samplesPerSecond.toFixed(0)} samples/s, ETA ${(p.etaMs / 1000).toFixed(0)} s`,
              ),
          },
        ),
      );
  const seconds = (performance.now() - t0) / 1000;
  let v = trained.validation;
  try {
    // Trained to a higher knee: the same windows and threshold, judged on the protocol's cap.
    if (RUL_KNEE !== RUL_CAP && !a.load) v = validate(tf, trained.model, data.validation, { ...judged, threshold: v.threshold });
    if (outer) {
      const heldOut = buildWindows(
        outer.split.validation.map((i) => ({ seg: applyNormalisation(i.seg, data.norm), labels: i.labels })),
        WINDOW,
        Number(a.stride),
      );
      console.log(
        `out of fold (${folds} folds of the ${outer.report.trainMachines} training engines): threshold ${v.threshold.toFixed(3)}, F1 ${v.classification.f1.toFixed(3)}, PR-AUC ${v.classification.prAuc.toFixed(3)}, RUL RMSE ${v.rul.rmse.toFixed(2)}`,
      );
      v = validate(tf, trained.model, heldOut, { ...judged, threshold: v.threshold });
    }
    if (averageLast[0]! > 1 || averageLast.length > 1) {
      const ws = outer ? null : data.validation;
      if (!ws) throw new Error('--average-last needs a held-out validation part (not --folds)');
      const raw = predict(tf, trained.model, ws.x, ws.n, ws.windowSteps, ws.features);
      for (const count of averageLast) {
        const avg = averageOverLastWindows(ws, raw.p, raw.rul, count, { rulCap: RUL_CAP, stepMs: 1 });
        const threshold = bestF1Threshold(avg.p, ws.failure);
        const c = classification(avg.p, ws.failure, threshold);
        const r = rulMetrics(avg.rul, ws.rul);
        console.log(
          `validation (seed ${seed}), last ${count} window${count > 1 ? 's' : ''} averaged: threshold ${threshold.toFixed(3)}, F1 ${c.f1.toFixed(3)}, PR-AUC ${c.prAuc.toFixed(3)}, RUL RMSE ${r.rmse.toFixed(2)}`,
        );
        averaged.push({ seed, count, f1: c.f1, prAuc: c.prAuc, rmse: r.rmse });
        // The first count given is the configuration: its threshold and figures are the run's.
        if (count === averageLast[0])
          v = { ...v, threshold, classification: c, rul: r, rulBands: rulByBand(avg.rul, ws.rul, HORIZON, RUL_CAP) };
      }
    }
    console.log(
      `validation (seed ${seed}): threshold ${v.threshold.toFixed(3)}, F1 ${v.classification.f1.toFixed(3)}, PR-AUC ${v.classification.prAuc.toFixed(3)}, RUL RMSE ${v.rul.rmse.toFixed(2)}; by true RUL: ${bandText(v.rulBands)}`,
    );
    const short = outer ? null : shortHistories(trained.model, data, v.rul.rmse);
    if (short)
      console.log(
        `validation (seed ${seed}), histories from ${SHORT_FROM} cycles as the test protocol scores them (shorter ones front-padded): RUL RMSE ${short.rmse.toFixed(2)} over ${short.n} windows; the ${short.padded} padded alone ${short.paddedRmse.toFixed(2)}`,
      );
    const result: SeedResult = {
      seed,
      validation: { f1: v.classification.f1, prAuc: v.classification.prAuc, rmse: v.rul.rmse, shortRmse: short?.rmse ?? Number.NaN },
      seconds,
      windowsPerSecond: trained.windowsPerSecond,
    };
    if (a['validation-only']) {
      console.log(`${trainingText(trained, seconds)}; test set not read (--validation-only)`);
      await save(trained.model);
      return result;
    }
    const test = evaluateCmapssTest(tf, trained.model, data.norm, files.test, files.rul, {
      window: WINDOW,
      binaryFrom: PROTOCOL_WINDOW,
      horizon: HORIZON,
      rulCap: RUL_CAP,
      rulScale: RUL_KNEE,
      threshold: v.threshold,
      averageLast: { count: averageLast[0]!, spacing: Number(a.stride) },
    });
    const c = test.classification;
    console.log(
      `test ${subset} seed ${seed} (binary, ${test.binaryEngines} engines, ${c.positives} positive): accuracy ${c.accuracy.toFixed(3)}, precision ${c.precision.toFixed(3)}, recall ${c.recall.toFixed(3)}, F1 ${c.f1.toFixed(3)}, ROC-AUC ${c.rocAuc.toFixed(3)}`,
    );
    console.log(
      `test ${subset} seed ${seed} (RUL, ${test.rul.n} engines): RMSE ${test.rul.rmse.toFixed(2)}, MAE ${test.rul.mae.toFixed(2)}, score ${test.rul.score.toFixed(0)}; by true RUL: ${bandText(test.rulBands)}`,
    );
    console.log(`${trainingText(trained, seconds)}, backend ${backend}, LSTM ${lstm.describe}`);
    await save(trained.model);
    return { ...result, test: { f1: c.f1, rmse: test.rul.rmse, score: test.rul.score, bands: test.rulBands } };
  } finally {
    trained.model.dispose();
  }

  async function save(model: LayersModel): Promise<void> {
    if (!a.save) return;
    // For inspection and --load: the registry is the place for models the daemon serves.
    const dir = modelDir(a.save);
    await model.save(fileHandler(tf, dir));
    await writeFile(path.join(dir, 'normalisation.json'), JSON.stringify(data.norm));
    await writeFile(path.join(dir, 'targets.json'), JSON.stringify({ rulKnee: RUL_KNEE }));
    console.log(`model saved to ${dir}`);
  }
}

/**
 * RUL error over the held-out engines' windows from SHORT_FROM cycles of history, the shorter ones
 * front-padded as the test protocol pads a short engine; the padded windows' share is derived from
 * the whole-window figure, since the whole windows are the same ones (both anchor on the newest cycle).
 */
function shortHistories(model: LayersModel, data: PreparedData, wholeRmse: number) {
  const ws = buildWindows(
    data.split.validation.map((i) => ({ seg: applyNormalisation(i.seg, data.norm), labels: i.labels })),
    WINDOW,
    Number(a.stride),
    SHORT_FROM,
  );
  const { rul } = predict(tf, model, ws.x, ws.n, ws.windowSteps, ws.features);
  const r = rulMetrics(
    Array.from(rul, (x) => Math.min(RUL_CAP, Math.max(0, x * RUL_KNEE))),
    Array.from(ws.rul, (x) => Math.min(RUL_CAP, x)),
  );
  const padded = ws.n - data.validation.n;
  const paddedSse = r.rmse ** 2 * ws.n - wholeRmse ** 2 * data.validation.n;
  return { rmse: r.rmse, n: ws.n, padded, paddedRmse: Math.sqrt(Math.max(0, paddedSse) / Math.max(1, padded)) };
}

/** A trained (or loaded) ensemble, its validation and what to say about how it came to be. */
interface Trained {
  model: LayersModel;
  validation: Validation;
  /** Training windows per second; NaN for loaded models. */
  windowsPerSecond: number;
  summary: string;
}

function describeTraining(outcome: TrainOutcome): Trained {
  const summary =
    outcome.members.length === 1
      ? `${outcome.fit.history.length} epochs (best ${outcome.fit.bestEpoch})`
      : `${outcome.members.length} members averaged (epochs/best: ${outcome.members.map((m) => `${m.epochs}/${m.bestEpoch}`).join(', ')})`;
  return { model: outcome.model, validation: outcome.validation, windowsPerSecond: outcome.fit.samplesPerSecond, summary };
}

/** Loads a saved model and validates it on this seed's split, as training would have (threshold: best F1). */
async function loadTrained(dir: string, data: PreparedData): Promise<Trained> {
  if (data.folds) throw new Error('--load needs a held-out validation part (not --folds)');
  const model = await tf.loadLayersModel(fileHandler(tf, dir));
  const [, steps, features] = model.inputs[0]!.shape;
  if (steps !== data.validation.windowSteps || features !== data.validation.features) {
    model.dispose();
    throw new Error(
      `${dir} holds a model for windows of ${steps} × ${features}; these flags make ${data.validation.windowSteps} × ${data.validation.features} (--window, --sensors-only and --conditions must be the saving run's)`,
    );
  }
  // The scaling the model learned on is refitted from the flags; a saving run's record of it must match.
  const saved = await readFile(path.join(dir, 'normalisation.json'), 'utf8').catch(() => null);
  if (saved !== null && saved !== JSON.stringify(data.norm)) {
    model.dispose();
    throw new Error(
      `${dir} was saved with another input scaling than these flags fit (--smoothing and --conditions must be the saving run's)`,
    );
  }
  // Models saved before the knee was a flag were trained to the cap.
  const targets = await readFile(path.join(dir, 'targets.json'), 'utf8').catch(() => null);
  const saidKnee: unknown = targets === null ? RUL_CAP : parseOr(targets)?.rulKnee;
  if (typeof saidKnee !== 'number' || !Number.isInteger(saidKnee)) {
    model.dispose();
    throw new Error(`${dir}/targets.json holds no whole rulKnee: ${targets ?? ''}`);
  }
  const knee = saidKnee;
  if (knee !== RUL_KNEE) {
    model.dispose();
    throw new Error(`${dir} was trained to a RUL knee at ${knee}; pass --rul-knee ${knee}`);
  }
  const convLayer = model.layers.find((l) => l.getClassName() === CAUSAL_CONV_CLASS) as unknown as
    { filters: number; kernel: number } | undefined;
  const savedConv = convLayer ? `${convLayer.filters},${convLayer.kernel}` : null;
  if (savedConv !== (conv ? `${conv.filters},${conv.kernel}` : null)) {
    model.dispose();
    throw new Error(
      `${dir} holds a model ${savedConv ? `with --conv ${savedConv}` : 'without a convolution'}; pass the saving run's --conv`,
    );
  }
  const validation = validate(tf, model, data.validation, judged);
  return { model, validation, windowsPerSecond: Number.NaN, summary: `loaded from ${dir}` };
}

function parseConv(text: string): { filters: number; kernel: number } {
  const [filters, kernel, ...rest] = text.split(',').map(Number);
  if (rest.length > 0 || !Number.isInteger(filters) || !Number.isInteger(kernel) || filters! < 1 || kernel! < 1 || kernel! > WINDOW)
    throw new Error(`--conv takes FILTERS,KERNEL (whole numbers, the kernel at most the window), got "${text}"`);
  return { filters: filters!, kernel: kernel! };
}

function parseOr(text: string): { rulKnee?: unknown } | null {
  try {
    return JSON.parse(text) as { rulKnee?: unknown };
  } catch {
    return null;
  }
}

function trainingText(t: Trained, seconds: number): string {
  return Number.isNaN(t.windowsPerSecond)
    ? `model ${t.summary} in ${seconds.toFixed(0)} s (not trained here)`
    : `training: ${seconds.toFixed(0)} s, ${t.summary}, ${t.windowsPerSecond.toFixed(0)} windows/s`;
}

const results: SeedResult[] = [];
for (const seed of seeds) results.push(await runSeed(seed));
const list = seeds.join(',');
const pick = (f: (r: SeedResult) => number) => results.map(f);
console.log(
  `validation ${subset} mean over seeds ${list}: F1 ${describe(
    pick((r) => r.validation.f1),
    3,
  )}, PR-AUC ${describe(
    pick((r) => r.validation.prAuc),
    3,
  )}, RUL RMSE ${describe(
    pick((r) => r.validation.rmse),
    2,
  )}${
    results.every((r) => !Number.isNaN(r.validation.shortRmse))
      ? ` (histories from ${SHORT_FROM} cycles: ${describe(
          pick((r) => r.validation.shortRmse),
          2,
        )})`
      : ''
  }; ${
    a.load
      ? `models loaded from ${a.load}`
      : `training ${describe(
          pick((r) => r.seconds),
          0,
        )} s, ${describe(
          pick((r) => r.windowsPerSecond),
          0,
        )} windows/s`
  }; ${shape}`,
);
for (const count of averageLast.length > 1 || averageLast[0]! > 1 ? averageLast : []) {
  const rows = averaged.filter((r) => r.count === count);
  console.log(
    `validation ${subset}, last ${count} window${count > 1 ? 's' : ''} averaged, mean over seeds ${list}: F1 ${describe(
      rows.map((r) => r.f1),
      3,
    )}, PR-AUC ${describe(
      rows.map((r) => r.prAuc),
      3,
    )}, RUL RMSE ${describe(
      rows.map((r) => r.rmse),
      2,
    )}`,
  );
}
if (results.every((r) => r.test)) {
  const tests = results.map((r) => r.test!);
  // Near-failure bias, pooled over seeds: the band an alert's reader pays for.
  const near = tests.map((t) => t.bands.find((b) => b.from === 0)!).filter((b) => b.n > 0);
  console.log(
    `test ${subset} per seed: F1 ${tests.map((t) => t.f1.toFixed(3)).join(' / ')}, RMSE ${tests.map((t) => t.rmse.toFixed(2)).join(' / ')}, score ${tests.map((t) => t.score.toFixed(0)).join(' / ')}` +
      (near.length > 0
        ? `; RUL bias at true RUL < ${near[0]!.to}: ${near.map((b) => `${b.bias >= 0 ? '+' : ''}${b.bias.toFixed(1)}`).join(' / ')}`
        : ''),
  );
  console.log(
    `${subset} mean over seeds ${list}: F1 ${meanPlusMinus(
      tests.map((t) => t.f1),
      3,
    )}, RMSE ${meanPlusMinus(
      tests.map((t) => t.rmse),
      2,
    )}; ${
      a.load
        ? `models loaded from ${a.load} (their training figures are the saving run's)`
        : `training ${describe(
            pick((r) => r.seconds),
            0,
          )} s a run, ${meanPlusMinus(
            pick((r) => r.windowsPerSecond),
            0,
          )} windows/s`
    } (${shape})`,
  );
}
