/**
 * A health model measured on held-out data: its calibration (unless it is a champion with its own),
 * the false alarms its threshold raises on normal data and where technicians said normal, how well it
 * separates labelled pre-failure and abnormal windows, how early it warned of each, and how many
 * synthetic shifts of one sensor it notices. Then the decision between challenger and champion.
 */
import type { LayersModel } from '@tensorflow/tfjs';
import { applyNormalisation, inputNames, type Normalisation } from '../features/index.js';
import { anomalyScores, reconstruct, residualFeatures, scoreAtIndex, type FeatureMoments, type TF } from '../model/index.js';
import type { HealthCalibration, HealthModelMeta } from '../registry/index.js';
import type { HealthConfig } from './config.js';
import {
  announcements,
  budgetThreshold,
  episodeRateFit,
  expectedFalseAlarms,
  falseAlarms,
  labelledThreshold,
  machineHours,
  quantile,
  rocAuc,
  smoothSeries,
  type Positive,
  type RuleOptions,
} from './health-calibration.js';
import { gather, seriesOf, windowFeatures, type WindowFeatures, type WindowRefs } from './health-evaluate.js';

export interface ScoredModel {
  model: LayersModel;
  norm: Normalisation;
  windowSteps: number;
  moments: Pick<FeatureMoments, 'mean' | 'precision' | 'sd'>;
  stepMs: number;
  /** A champion's own calibration, kept as it is; absent: calibrate on these data. */
  fixed?: HealthCalibration;
}

export interface EvaluationData {
  calibration: WindowRefs[];
  positives: Array<{ machine: string; kind: 'failure' | 'abnormal'; ts: number; from: number; refs: WindowRefs[] }>;
  /** Windows in periods technicians called normal. */
  vouched: WindowRefs[];
}

export interface HealthEvaluation {
  calibration: HealthCalibration;
  figures: Omit<HealthModelMeta['metrics'], 'championOnSameData'>;
  /** Alerts its threshold opens in periods technicians called normal. */
  vouchedFalseAlarms: number;
  /** Share of synthetic 2-σ shifts of one sensor over half a window it scores above its threshold. */
  sensitivity: number;
}

export function evaluateHealth(
  tf: TF,
  m: ScoredModel,
  data: EvaluationData,
  h: HealthConfig & { stepMs: number },
  calib: WindowFeatures,
): HealthEvaluation {
  const rule: RuleOptions = {
    stepMs: m.stepMs,
    smoothingSteps: m.fixed?.smoothingSteps ?? h.smoothing,
    openAfter: h.openAfter,
    closeAfter: h.closeAfter,
    hysteresis: h.hysteresis,
  };
  const raw = seriesOf(calib, m.moments);
  const initial =
    m.fixed?.scale.median ??
    quantile(
      raw.flatMap((s) => Array.from(s.score)),
      0.5,
    );
  const smooth = (series: typeof raw, start: number) => smoothSeries(series, rule, start, m.windowSteps);
  let normal = smooth(raw, initial);
  const all = Float32Array.from(normal.flatMap((s) => Array.from(s.smoothed)));
  let scale = m.fixed?.scale ?? { median: quantile(all, 0.5), p99: quantile(all, 0.99) };
  if (!(scale.p99 > scale.median)) scale = { median: scale.median, p99: scale.median + Math.max(1e-6, Math.abs(scale.median) * 1e-3) };
  if (!m.fixed) normal = smooth(raw, scale.median);
  const scored = data.positives.flatMap((p) => {
    const wf = windowFeatures(tf, m.model, m.norm, m.windowSteps, p.refs);
    const [series] = smooth(seriesOf(wf, m.moments), scale.median);
    return series ? [{ positive: { machine: p.machine, kind: p.kind, ts: p.ts, series } satisfies Positive, from: p.from }] : [];
  });
  const positives = scored.map((s) => s.positive);
  const budget = budgetThreshold(normal, scale, h.falseAlarmsPerMachineMonth, rule);
  const labelled = m.fixed ? null : labelledThreshold(positives, budget.threshold, scale, rule);
  const threshold = m.fixed?.threshold ?? Math.min(budget.threshold, labelled ?? budget.threshold);
  const calibration: HealthCalibration = m.fixed ?? {
    features: 'mean-and-log-rms',
    mean: m.moments.mean,
    precision: m.moments.precision,
    sd: m.moments.sd,
    shrinkage: h.shrinkage,
    smoothingSteps: rule.smoothingSteps,
    scale,
    threshold,
    chosenBy: labelled !== null && labelled < budget.threshold ? 'labelled' : 'budget',
    budgetThreshold: budget.threshold,
    budget: { falseAlarmsPerMachineMonth: h.falseAlarmsPerMachineMonth },
    estimate: {
      falseAlarmsPerMachineMonth: Math.round(budget.falseAlarmsPerMachineMonth * 1000) / 1000,
      intercept: budget.intercept,
      slope: budget.slope,
      points: budget.points,
    },
  };
  const fa = falseAlarms(normal, threshold, scale, rule);
  const expected = expectedFalseAlarms(episodeRateFit(normal, scale, rule), threshold, scale);
  // Windows within the horizon before each labelled failure, and in each abnormal period: what separation is judged on.
  const positiveWindows: number[] = [];
  scored.forEach(({ positive: p, from }) => {
    for (let k = 0; k < p.series.smoothed.length; k++)
      if (p.series.endTs[k]! >= from && p.series.endTs[k]! <= p.ts) positiveWindows.push(p.series.smoothed[k]!);
  });
  const vouched =
    data.vouched.length > 0
      ? smooth(seriesOf(windowFeatures(tf, m.model, m.norm, m.windowSteps, data.vouched), m.moments), scale.median)
      : [];
  return {
    calibration,
    figures: {
      normal: {
        windows: calib.n,
        machines: normal.length,
        machineHours: Math.round(machineHours(normal, m.stepMs) * 10) / 10,
        falseAlarms: fa.count,
        falseAlarmsPerMachineMonth: fa.perMachineMonth === null ? null : Math.round(fa.perMachineMonth * 100) / 100,
        expectedFalseAlarmsPerMachineMonth: expected === null ? null : Math.round(expected * 1000) / 1000,
      },
      labelled: { positives: positiveWindows.length, auc: rocAuc(positiveWindows, all) },
      announced: announcements(positives, threshold, scale, rule),
      reconstructionRmse: reconstructionRmse(calib, m.norm.sensors.length),
    },
    vouchedFalseAlarms: vouched.length > 0 ? falseAlarms(vouched, threshold, scale, rule).count : 0,
    sensitivity: shiftSensitivity(tf, m, data.calibration, scoreAtIndex(threshold, scale)),
  };
}

/** RMS of the sensors' reconstruction error over the windows, from their log-RMS features. */
function reconstructionRmse(wf: WindowFeatures, sensors: number): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < wf.n; i++)
    for (let s = 0; s < sensors; s++) {
      const v = wf.features[i * 2 * sensors + sensors + s]!;
      if (Number.isNaN(v)) continue;
      sum += (Math.exp(v) - 1e-3) ** 2;
      n++;
    }
  return n > 0 ? Math.round(Math.sqrt(sum / n) * 1e4) / 1e4 : 0;
}

const SHIFT_SIGMAS = 2;
const SHIFT_WINDOWS = 150;

/**
 * A label-free look at sensitivity: held-out normal windows with one sensor at a time raised by two
 * of its standard deviations over the window's second half, scored; the share above the threshold's
 * score. Both models see the same raw shift (in the global spread of the model being scored).
 */
function shiftSensitivity(tf: TF, m: ScoredModel, refs: readonly WindowRefs[], thresholdScore: number): number {
  const picks: Array<{ ref: WindowRefs; k: number }> = [];
  const total = refs.reduce((n, r) => n + r.ends.length, 0);
  const every = Math.max(1, Math.floor(total / SHIFT_WINDOWS));
  let i = 0;
  for (const ref of refs) for (const k of ref.ends) if (i++ % every === 0 && k >= m.windowSteps - 1) picks.push({ ref, k });
  if (picks.length === 0) return 0;
  const S = m.norm.sensors.length;
  const F = inputNames(m.norm).length;
  const L = m.windowSteps;
  const base = new Float32Array(picks.length * L * F);
  const known = new Uint8Array(picks.length * S);
  const normed = new Map<WindowRefs, ReturnType<typeof applyNormalisation>>();
  picks.forEach(({ ref, k }, w) => {
    let n = normed.get(ref);
    if (!n) normed.set(ref, (n = applyNormalisation(ref.seg, m.norm)));
    const g = gather(n, ref.seg, [k], L, m.norm.sensors);
    base.set(g.x, w * L * F);
    known.set(g.known, w * S);
  });
  const x = new Float32Array(picks.length * S * L * F);
  for (let w = 0; w < picks.length; w++)
    for (let s = 0; s < S; s++) {
      const at = (w * S + s) * L * F;
      x.set(base.subarray(w * L * F, (w + 1) * L * F), at);
      for (let k = Math.floor(L / 2); k < L; k++) x[at + k * F + s]! += SHIFT_SIGMAS;
    }
  const n = picks.length * S;
  const recon = reconstruct(tf, m.model, x, n, L, F);
  const knownAll = new Uint8Array(n * S);
  for (let w = 0; w < picks.length; w++) for (let s = 0; s < S; s++) knownAll.set(known.subarray(w * S, (w + 1) * S), (w * S + s) * S);
  const scores = anomalyScores(residualFeatures(x, recon, n, L, F, S, knownAll), n, m.moments);
  let above = 0;
  for (let j = 0; j < n; j++) if (scores[j]! > thresholdScore) above++;
  return Math.round((above / n) * 1000) / 1000;
}

/**
 * Whether a challenger replaces the health champion, judged on the same held-out data: better where
 * labelled windows say so (or as good, with fewer false alarms), else no more false alarms (counted on
 * held-out normal data and where technicians said normal, then as the fitted rate) at no less
 * sensitivity, and strictly better in one of them.
 */
export function decideHealth(
  ch: HealthEvaluation,
  champ: (HealthEvaluation & { version: string }) | null,
  o: { kind: string; budget: number },
): { promoted: boolean; reason: string } {
  const t = ch.calibration;
  const fa = (e: HealthEvaluation) => e.figures.normal.falseAlarms + e.vouchedFalseAlarms;
  if (!champ)
    return {
      promoted: true,
      reason: `first health model of ${o.kind}: alerts below index ${t.threshold}, about ${t.estimate.falseAlarmsPerMachineMonth.toFixed(2)} false alarms per machine-month expected (budget ${o.budget})`,
    };
  const vs = `${champ.version}`;
  // Counted alarms on a few days of held-out data are mostly 0 vs 0: the fitted rate tells them apart.
  const rate = (e: HealthEvaluation) =>
    e.figures.normal.expectedFalseAlarmsPerMachineMonth ?? e.figures.normal.falseAlarmsPerMachineMonth ?? 0;
  const fewerAlarms = fa(ch) < fa(champ) || (fa(ch) === fa(champ) && rate(ch) < 0.9 * rate(champ));
  const alarms = `false alarms ${fa(ch)} vs ${fa(champ)} (${ch.vouchedFalseAlarms} vs ${champ.vouchedFalseAlarms} where technicians said normal), about ${rate(ch).toFixed(2)} vs ${rate(champ).toFixed(2)} per machine-month expected`;
  const aucCh = ch.figures.labelled.auc;
  const aucChamp = champ.figures.labelled.auc;
  if (aucCh !== null && aucChamp !== null) {
    const auc = `ROC-AUC ${aucCh.toFixed(3)} vs ${aucChamp.toFixed(3)}`;
    if (aucCh > aucChamp + 0.01)
      return { promoted: true, reason: `separates labelled pre-failure and abnormal windows better than ${vs}: ${auc}; ${alarms}` };
    if (aucCh >= aucChamp - 0.01 && fewerAlarms)
      return {
        promoted: true,
        reason: `as good as ${vs} on labelled windows (${auc}) with fewer false alarms on the same data: ${alarms}`,
      };
    return { promoted: false, reason: `not better than ${vs} on the same held-out data: ${auc}, ${alarms}` };
  }
  const figures = `${alarms}, shifts noticed ${pct(ch.sensitivity)} vs ${pct(champ.sensitivity)}`;
  const lessSensitive = ch.sensitivity < champ.sensitivity - 0.02;
  const moreSensitive = fa(ch) <= fa(champ) && rate(ch) <= 1.1 * rate(champ) && ch.sensitivity > champ.sensitivity + 0.01;
  if (!lessSensitive && (fewerAlarms || moreSensitive))
    return { promoted: true, reason: `better than ${vs} on the same held-out data: ${figures}` };
  return { promoted: false, reason: `not better than ${vs} on the same held-out data: ${figures}` };
}

const pct = (v: number) => `${Math.round(v * 100)}%`;
