/**
 * One training run of a kind's health model: its readings with every window marked normal or not
 * (health-data.ts), an LSTM that reconstructs normal windows, calibrated on each machine's latest
 * normal data (health-calibration.ts), checked against labelled failures and abnormal periods where
 * there are any, compared with the champion on the same held-out data, and registered. Runs in the
 * training worker, through the same assembly as the failure predictor.
 */
import { regimeOptions } from './config.js';
import { healthFor, learningFor, recipeOverrides } from './recipes.js';
import { Rng } from '../core/random.js';
import { applyNormalisation, fitNormalisation, inputNames, type KindGroup, type Normalisation } from '../features/index.js';
import { buildHealthLstm, featureMoments, scoreAtIndex } from '../model/index.js';
import type { HealthModelMeta, ModelRegistry } from '../registry/index.js';
import { assembleRun, readKindData, type Fitted, type RunContext, type RunSteps } from './assembly.js';
import { loadHealthData, type HealthData, type VerdictPeriod } from './health-data.js';
import { gather, windowFeatures, type WindowRefs } from './health-evaluate.js';
import { fitHealth, type HealthFitResult, type HealthWindows } from './health-fit.js';
import { splitNormal } from './health-split.js';
import { decideHealth, evaluateHealth, type HealthEvaluation } from './health-decide.js';
import { NotEnoughDataError, type TrainingProgress, type TrainingResult } from './types.js';
import type { TrainingConfig } from './worker-input.js';

export interface HealthRequest {
  config: TrainingConfig;
  now: number;
  kind?: string;
  /** Technicians' verdicts and unjudged anomaly alerts of the lookback (the daemon reads them from its alerts). */
  verdicts?: VerdictPeriod[];
  epochs?: number;
  onProgress?: (p: TrainingProgress) => void;
  shouldStop?: () => boolean;
}

export function runHealthTraining(req: HealthRequest): Promise<TrainingResult> {
  return assembleRun(req, healthSteps(req));
}

/**
 * The kind a health run trains: the one asked for, else a kind without a health champion (the one
 * with the most machines), else the one whose champion is oldest.
 */
export function chooseHealthKind(
  kinds: KindGroup[],
  asked: string | undefined,
  registry: Pick<ModelRegistry, 'championVersion' | 'meta'>,
): KindGroup {
  if (kinds.length === 0) throw new NotEnoughDataError('no machines in the store yet: no normal behaviour to learn');
  if (asked !== undefined) {
    const k = kinds.find((g) => g.kind === asked);
    if (!k) throw new NotEnoughDataError(`no machine of kind ${asked} in the store (kinds: ${kinds.map((g) => g.kind).join(', ')})`);
    return k;
  }
  const age = (g: KindGroup) => {
    const v = registry.championVersion(g.kind, 'health');
    return v ? Date.parse(registry.meta(v).createdAt) : -Infinity;
  };
  return [...kinds].sort((a, b) => age(a) - age(b) || b.machines.length - a.machines.length || (a.kind < b.kind ? -1 : 1))[0]!;
}

interface Prepared {
  windowSteps: number;
  norm: Normalisation;
  train: HealthWindows;
  val: HealthWindows;
  /** Held-out normal windows (whole machines, or each machine's latest): what the index and its threshold are calibrated on. */
  calibration: WindowRefs[];
  /** Windows before each labelled failure, and in each abnormal period: what the threshold must warn of. */
  positives: Array<{ machine: string; kind: 'failure' | 'abnormal'; ts: number; from: number; refs: WindowRefs[] }>;
  /** Windows in periods technicians called normal: where a model should raise no alarm. */
  vouched: WindowRefs[];
  trainMachines: number;
  splitMethod: 'by-machine' | 'by-time';
  champion: HealthModelMeta | null;
}

interface Trained extends Fitted {
  fit: HealthFitResult;
}

/** Normal windows a health run needs on each side of its split: fewer fit and calibrate nothing. */
export const MIN_HEALTH_WINDOWS = 50;

/** Normal steps a kind needs before its first model, as a sentence for the page when short of them. */
export function learningNormal(
  data: Pick<HealthData, 'normalSteps' | 'normalMachines'>,
  stepMs: number,
  h: TrainingConfig['health'],
): string | null {
  const have = (data.normalSteps * stepMs) / 3_600_000;
  const need = h.minNormal / 3_600_000;
  if (have >= need && data.normalMachines >= h.minMachines) return null;
  const machines = data.normalMachines < h.minMachines ? ` on ${h.minMachines} machines (${data.normalMachines} so far)` : '';
  return `learning normal: ${formatHours(have)} of ${formatHours(need)}${machines}`;
}

const formatHours = (h: number) => (h >= 48 ? `${(h / 24).toFixed(1)} days` : `${h < 10 ? h.toFixed(1) : Math.round(h)} h`);

export function healthSteps(req: HealthRequest): RunSteps<HealthData, Prepared, Trained> {
  return {
    async read(ctx) {
      const lookback = ctx.config.learning.lookback;
      ctx.progress({ phase: 'loading', message: `reading ${lookback / 86_400_000} days of readings for a health model` });
      // Each kind on its own recipe's grid and window.
      const found = await readKindData(
        ctx.config,
        (kind) => ({ ...learningFor(ctx.config, kind), window: healthFor(ctx.config, kind).window }),
        ctx.now,
        (kinds) => chooseHealthKind(kinds, req.kind, ctx.registry),
        (store, kind) =>
          loadHealthData(
            store,
            learningFor(ctx.config, kind.kind),
            healthFor(ctx.config, kind.kind).window,
            ctx.now,
            kind,
            req.verdicts ?? [],
          ),
      );
      const data = found!.dataset;
      const short = learningNormal(data, learningFor(ctx.config, data.kind.kind).step, healthFor(ctx.config, data.kind.kind));
      if (short) throw new NotEnoughDataError(`${data.kind.kind}: ${short}`);
      return data;
    },

    async prepare(ctx, data) {
      const cfg = learningFor(ctx.config, data.kind.kind);
      const h = healthFor(ctx.config, data.kind.kind);
      const windowSteps = h.window;
      const rng = new Rng(cfg.model.seed ^ 0x4ea1);
      ctx.progress({
        phase: 'preparing',
        message: `${data.kind.kind}: ${data.normalMachines} machines, ${Math.round((data.normalSteps * cfg.step) / 3_600_000)} h of normal operation; ${ctx.backend} backend, LSTM ${ctx.lstm.describe}`,
      });
      const split = splitNormal(data, { windowSteps, stride: h.stride, holdOut: h.holdOut, verdictWeight: h.verdictWeight }, rng);
      const trainRefs = split.train;
      const calibration = split.calibration;
      const calibrationWindows = calibration.reduce((n, r) => n + r.ends.length, 0);
      const trainWindows = trainRefs.reduce((n, r) => n + r.weight.reduce((a, w) => a + w, 0), 0);
      if (trainWindows < MIN_HEALTH_WINDOWS || calibrationWindows < MIN_HEALTH_WINDOWS)
        throw new NotEnoughDataError(
          `${data.kind.kind}: ${trainWindows} normal windows to train on and ${calibrationWindows} to calibrate, ${MIN_HEALTH_WINDOWS} of each needed`,
        );
      const regimes = regimeOptions(cfg);
      const norm = fitNormalisation(
        trainRefs.map((r) => r.seg),
        data.sensors,
        regimes,
      );
      // Every training window as often as its weight (a verdict of normal counts more), an even sample beyond maxWindows.
      const picks: Array<[number, number]> = [];
      trainRefs.forEach((r, i) =>
        r.ends.forEach((k, j) => {
          for (let w = 0; w < r.weight[j]!; w++) picks.push([i, k]);
        }),
      );
      rng.shuffle(picks);
      const kept = picks.slice(0, h.maxWindows);
      // A tenth of them watch for overfitting (early stopping); calibration stays untouched until decide.
      const valCount = Math.max(20, Math.round(kept.length * 0.1));
      const toWindows = (list: Array<[number, number]>): HealthWindows => {
        const F = inputNames(norm).length;
        const x = new Float32Array(list.length * windowSteps * F);
        const bySeg = new Map<number, Array<{ k: number; at: number }>>();
        list.forEach(([i, k], at) => bySeg.set(i, [...(bySeg.get(i) ?? []), { k, at }]));
        for (const [i, entries] of bySeg) {
          const normed = applyNormalisation(trainRefs[i]!.seg, norm);
          const { x: part } = gather(
            normed,
            trainRefs[i]!.seg,
            entries.map((e) => e.k),
            windowSteps,
            norm.sensors,
          );
          entries.forEach((e, j) => x.set(part.subarray(j * windowSteps * F, (j + 1) * windowSteps * F), e.at * windowSteps * F));
        }
        return { n: list.length, windowSteps, features: F, sensors: norm.sensors.length, x };
      };
      const positives = positiveStretches(data, windowSteps, cfg.horizon);
      const vouched = data.items
        .map((it) => ({ seg: it.seg, ends: Array.from(it.vouched.keys()).filter((k) => it.vouched[k] === 1) }))
        .filter((r) => r.ends.length > 0);
      const championVersion = ctx.registry.championVersion(data.kind.kind, 'health');
      return {
        windowSteps,
        norm,
        val: toWindows(kept.slice(0, valCount)),
        train: toWindows(kept.slice(valCount)),
        calibration,
        positives,
        vouched,
        trainMachines: new Set(trainRefs.map((r) => r.seg.machine)).size,
        splitMethod: split.method,
        champion: championVersion ? ctx.registry.healthMeta(championVersion) : null,
      };
    },

    async fit(ctx, data, p) {
      const h = healthFor(ctx.config, data.kind.kind);
      const seed = ctx.config.learning.model.seed;
      const model = buildHealthLstm(ctx.tf, {
        windowSteps: p.windowSteps,
        features: p.train.features,
        sensors: p.train.sensors,
        units: h.units,
        dropout: h.dropout,
        learningRate: h.learningRate,
        seed,
        kernel: ctx.lstm.kernel,
      });
      const fit = await fitHealth(ctx.tf, model, p.train, p.val, {
        epochs: req.epochs ?? h.epochs,
        batchSize: h.batchSize,
        patience: h.patience,
        seed,
        onEpoch: (e) => ctx.progress({ phase: 'training', ...e, failureLoss: 0, rulLoss: e.loss, valPrAuc: null, valRulRmse: null }),
        onBatch: (done, total, epoch) =>
          ctx.progress({ phase: 'batch', done, total, epoch, epochs: req.epochs ?? h.epochs, member: 1, members: 1 }),
        shouldStop: ctx.shouldStop,
      });
      if (fit.cancelled) {
        model.dispose();
        return null;
      }
      return { model, fit };
    },

    decide: (ctx, data, p, trained) => describeHealthModel(ctx, data, p, trained),
  };
}

/** The windows before each labelled failure (its run since the last restart) and within each abnormal period. */
function positiveStretches(data: HealthData, windowSteps: number, horizonSteps: number): Prepared['positives'] {
  const out: Prepared['positives'] = [];
  const stretch = (machine: string, from: number, to: number) =>
    data.items
      .filter((it) => it.seg.machine === machine && it.seg.startTs < to && it.seg.startTs + it.seg.steps * it.seg.stepMs >= from)
      .map((it) => ({
        seg: it.seg,
        ends: Array.from({ length: it.seg.steps }, (_, k) => k).filter((k) => {
          const end = it.seg.startTs + (k + 1) * it.seg.stepMs;
          return k >= windowSteps - 1 && end >= from && end <= to;
        }),
      }))
      .filter((r) => r.ends.length > 0);
  for (const f of data.failures) {
    const refs = stretch(f.machine, -Infinity, f.ts);
    if (refs.length > 0)
      out.push({ machine: f.machine, kind: 'failure', ts: f.ts, from: f.ts - horizonSteps * data.items[0]!.seg.stepMs, refs });
  }
  for (const a of data.abnormal) {
    const refs = stretch(a.machine, a.from - 4 * windowSteps * (data.items[0]?.seg.stepMs ?? 0), a.to);
    if (refs.length > 0) out.push({ machine: a.machine, kind: 'abnormal', ts: a.to, from: a.from, refs });
  }
  return out;
}

async function describeHealthModel(ctx: RunContext, data: HealthData, p: Prepared, trained: Trained): Promise<HealthModelMeta> {
  const cfg = learningFor(ctx.config, data.kind.kind);
  const h = healthFor(ctx.config, data.kind.kind);
  ctx.progress({ phase: 'evaluating', message: 'calibrating the health index on held-out normal data' });
  const calib = windowFeatures(ctx.tf, trained.model, p.norm, p.windowSteps, p.calibration);
  const moments = featureMoments(calib.features, calib.n, calib.features.length / Math.max(1, calib.n), h.shrinkage);
  const challenger = evaluateHealth(
    ctx.tf,
    { model: trained.model, norm: p.norm, windowSteps: p.windowSteps, moments, stepMs: cfg.step },
    p,
    { ...h, stepMs: cfg.step },
    calib,
  );
  const onSame = p.champion ? await championOnSame(ctx, p.champion, p) : null;
  const decision = decideHealth(challenger, onSame, { kind: data.kind.kind, budget: h.falseAlarmsPerMachineMonth });
  const c = challenger.calibration;
  return {
    version: ctx.registry.nextVersion(),
    role: 'health',
    kind: data.kind.kind,
    createdAt: new Date().toISOString(),
    parent: p.champion?.version ?? null,
    decision,
    dataRange: { from: data.from, to: data.to },
    machines: {
      train: p.trainMachines,
      validation: [...new Set(p.calibration.map((r) => r.seg.machine))].sort(),
      splitMethod: p.splitMethod,
    },
    sensors: p.norm.sensors,
    dropped: p.norm.dropped,
    stepMs: cfg.step,
    window: p.windowSteps,
    recipe: { overrides: recipeOverrides(ctx.config, data.kind.kind) },
    normalisation: p.norm,
    architecture: { design: 'reconstruct', units: h.units, dropout: h.dropout, learningRate: h.learningRate, batchSize: h.batchSize },
    calibration: c,
    metrics: { ...challenger.figures, championOnSameData: onSame ? { ...onSame.figures, version: onSame.version } : null },
    verdicts: data.verdicts,
    training: {
      backend: ctx.backend,
      provider: ctx.provider,
      durationMs: Date.now() - ctx.startedAt,
      epochs: trained.fit.epochs,
      bestEpoch: trained.fit.bestEpoch,
      samplesPerSecond: Math.round(trained.fit.samplesPerSecond),
      lstmKernel: ctx.lstm.describe,
      seed: cfg.model.seed,
      stoppedEarly: trained.fit.stoppedEarly,
    },
    data: {
      machines: data.machines,
      samples: data.samples,
      normalHours: Math.round((data.normalSteps * cfg.step) / 360_000) / 10,
      trainWindows: p.train.n,
      calibrationWindows: calib.n,
      threshold: `${c.threshold} (${c.chosenBy === 'budget' ? `from the budget of ${h.falseAlarmsPerMachineMonth} false alarms per machine-month` : 'from labelled failures and abnormal periods, within the budget'}; score ${scoreAtIndex(c.threshold, c.scale).toFixed(1)})`,
    },
  };
}

/** The champion on the challenger's held-out data, with its own scaling, calibration and threshold. */
async function championOnSame(
  ctx: RunContext,
  champion: HealthModelMeta,
  p: Prepared,
): Promise<(HealthEvaluation & { version: string }) | null> {
  const h = healthFor(ctx.config, champion.kind);
  const model = await ctx.registry.load(ctx.tf, champion.version);
  try {
    const calib = windowFeatures(ctx.tf, model, champion.normalisation, champion.window, p.calibration);
    if (calib.n === 0) return null;
    const c = champion.calibration;
    const evaluation = evaluateHealth(
      ctx.tf,
      { model, norm: champion.normalisation, windowSteps: champion.window, moments: c, stepMs: champion.stepMs, fixed: c },
      p,
      { ...h, stepMs: champion.stepMs },
      calib,
    );
    return { ...evaluation, version: champion.version };
  } finally {
    model.dispose();
  }
}
