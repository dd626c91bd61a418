import type { Segment } from './align.js';
import { fitRegimes, segmentRegimes, type RegimeModel, type RegimeOptions } from './regimes.js';

/** Per-sensor statistics fitted on the training split only and stored with the model. */
export interface Normalisation {
  /** Sensors the model uses, in input order. */
  sensors: string[];
  /** Over all training steps (with regimes: what drift and reports fall back on when a step's regime is unknown). */
  mean: number[];
  std: number[];
  /** Sensors left out because they were constant in training (with regimes: constant within every regime). */
  dropped: string[];
  /**
   * Operating regimes, when the conditions form more than one: each sensor is z-scored with its own
   * regime's statistics ([regime][sensor]) and the regime is one more input per regime (one-hot),
   * after the sensors.
   */
  regimes?: { model: RegimeModel; mean: number[][]; std: number[][] };
  /**
   * Causal exponential smoothing of each z-scored sensor along time (`alpha` = the newest step's
   * weight), then re-centred and re-scaled by the smoothed values' training mean and spread, so the
   * inputs keep unit spread. Smoothing after the z-score (per regime) keeps a regime change from
   * reading as a jump; on one regime it equals smoothing the readings and z-scoring the result.
   * Absent: no smoothing.
   */
  smoothing?: { alpha: number; mean: number[]; std: number[] };
}

export type RegimeFitOptions = RegimeOptions & { conditions: readonly string[] };

/** The model's input columns: its sensors, then one per regime. */
export function inputNames(norm: Normalisation): string[] {
  const k = norm.regimes?.model.centroids.length ?? 0;
  return [...norm.sensors, ...Array.from({ length: k }, (_, r) => regimeInput(r))];
}

export const regimeInput = (r: number): string => `regime ${r + 1}`;

/** The channels a segment must carry to be normalised: the sensors and the condition channels. */
export function channels(norm: Normalisation): string[] {
  const conditions = norm.regimes?.model.conditions ?? [];
  return [...norm.sensors, ...conditions.filter((c) => !norm.sensors.includes(c))];
}

/** Running mean and sum of squared deviations (Welford: stable for long series). */
class Moments {
  readonly n: Float64Array;
  readonly mean: Float64Array;
  readonly m2: Float64Array;
  constructor(F: number) {
    this.n = new Float64Array(F);
    this.mean = new Float64Array(F);
    this.m2 = new Float64Array(F);
  }
  add(f: number, v: number): void {
    this.n[f]!++;
    const d = v - this.mean[f]!;
    this.mean[f]! += d / this.n[f]!;
    this.m2[f]! += d * (v - this.mean[f]!);
  }
  sd(f: number): number {
    return this.n[f]! > 1 ? Math.sqrt(this.m2[f]! / (this.n[f]! - 1)) : 0;
  }
}

// Only truly constant sensors go: a tiny spread on a large level (a shaft speed) can carry the signal.
export const negligible = (sd: number, mean: number) => sd <= 1e-6 * Math.max(1, Math.abs(mean));

/**
 * Fits z-score statistics on the training segments. With condition channels given, regimes are found
 * first (`fitRegimes`); when there is more than one, the statistics are per regime and the condition
 * channels become the regime inputs instead of sensors of their own.
 */
export function fitNormalisation(
  segments: readonly Segment[],
  sensors: readonly string[],
  regimeFit?: RegimeFitOptions,
  smoothingAlpha = 1,
): Normalisation {
  const regimeModel = regimeFit && regimeFit.conditions.length > 0 ? fitRegimes(segments, regimeFit.conditions, regimeFit) : null;
  const byRegime = regimeModel && regimeModel.centroids.length > 1 ? regimeModel : null;
  const candidates = byRegime ? sensors.filter((s) => !regimeFit!.conditions.includes(s)) : [...sensors];
  const F = candidates.length;
  const K = byRegime?.centroids.length ?? 0;
  const all = new Moments(F);
  const per = Array.from({ length: K }, () => new Moments(F));
  for (const seg of segments) {
    const cols = candidates.map((s) => seg.sensors.indexOf(s));
    const Fin = seg.sensors.length;
    const regimes = byRegime ? segmentRegimes(byRegime, seg) : null;
    for (let k = 0; k < seg.steps; k++) {
      const r = regimes ? regimes[k]! : -1;
      for (let f = 0; f < F; f++) {
        const c = cols[f]!;
        const v = c < 0 ? NaN : seg.data[k * Fin + c]!;
        if (Number.isNaN(v)) continue;
        all.add(f, v);
        if (r >= 0) per[r]!.add(f, v);
      }
    }
  }
  const out: Normalisation = { sensors: [], mean: [], std: [], dropped: [] };
  const regimeMean: number[][] = per.map(() => []);
  const regimeStd: number[][] = per.map(() => []);
  candidates.forEach((s, f) => {
    const sd = all.sd(f);
    if (!byRegime) {
      if (all.n[f] === 0 || negligible(sd, all.mean[f]!)) out.dropped.push(s);
      else {
        out.sensors.push(s);
        out.mean.push(all.mean[f]!);
        out.std.push(sd);
      }
      return;
    }
    // Pooled within-regime spread: a sensor the regime alone determines (an inlet temperature set by
    // altitude) carries nothing once the regime is an input.
    let m2 = 0;
    let dof = 0;
    for (const p of per) {
      m2 += p.m2[f]!;
      dof += Math.max(0, p.n[f]! - 1);
    }
    const pooled = dof > 0 ? Math.sqrt(m2 / dof) : 0;
    if (all.n[f] === 0 || negligible(pooled, all.mean[f]!)) {
      out.dropped.push(s);
      return;
    }
    out.sensors.push(s);
    out.mean.push(all.mean[f]!);
    out.std.push(sd);
    per.forEach((p, r) => {
      const rsd = p.sd(f);
      // A regime seen too little to have its own spread borrows the pooled one.
      regimeMean[r]!.push(p.n[f]! > 0 ? p.mean[f]! : all.mean[f]!);
      regimeStd[r]!.push(p.n[f]! > 1 && !negligible(rsd, p.mean[f]!) ? rsd : pooled);
    });
  });
  if (byRegime) out.regimes = { model: byRegime, mean: regimeMean, std: regimeStd };
  return smoothingAlpha < 1 ? { ...out, smoothing: fitSmoothing(segments, out, smoothingAlpha) } : out;
}

/** The smoothed z-scores' mean and spread per sensor over the training segments. */
function fitSmoothing(segments: readonly Segment[], norm: Normalisation, alpha: number): NonNullable<Normalisation['smoothing']> {
  const S = norm.sensors.length;
  const F = inputNames(norm).length;
  const m = new Moments(S);
  for (const seg of segments) {
    const z = zScores(seg, norm);
    smoothColumns(z, seg.steps, F, S, alpha);
    for (let k = 0; k < seg.steps; k++)
      for (let f = 0; f < S; f++) {
        const v = z[k * F + f]!;
        if (!Number.isNaN(v)) m.add(f, v);
      }
  }
  const mean = Array.from({ length: S }, (_, f) => m.mean[f]!);
  // A sensor whose smoothed values barely move keeps the z-score's scale rather than blowing noise up.
  const std = Array.from({ length: S }, (_, f) => (m.n[f]! > 1 && !negligible(m.sd(f), 1) ? m.sd(f) : 1));
  return { alpha, mean, std };
}

/** Steps of history before a window that bring a smoothed input within 0.1 % of its value from a longer one. */
export function smoothingWarmupSteps(norm: Pick<Normalisation, 'smoothing'>): number {
  const alpha = norm.smoothing?.alpha;
  if (alpha === undefined || alpha >= 1) return 0;
  return Math.ceil(Math.log(1e-3) / Math.log(1 - alpha));
}

/** Exponential smoothing of the first `S` of `F` columns in place; a missing value carries the smoothed one. */
function smoothColumns(data: Float32Array, steps: number, F: number, S: number, alpha: number): void {
  for (let f = 0; f < S; f++) {
    let s = NaN;
    for (let k = 0; k < steps; k++) {
      const v = data[k * F + f]!;
      s = Number.isNaN(v) ? s : Number.isNaN(s) ? v : alpha * v + (1 - alpha) * s;
      data[k * F + f] = s;
    }
  }
}

/** z-scores in the model's input columns, a missing value left NaN, the regime inputs set. */
function zScores(seg: Segment, norm: Normalisation): Float32Array {
  const srcCol = new Map(seg.sensors.map((s, i) => [s, i]));
  const S = norm.sensors.length;
  const F = inputNames(norm).length;
  const Fin = seg.sensors.length;
  const data = new Float32Array(seg.steps * F);
  const cols = norm.sensors.map((s) => srcCol.get(s) ?? -1);
  const regimes = norm.regimes ? segmentRegimes(norm.regimes.model, seg) : null;
  for (let k = 0; k < seg.steps; k++) {
    const r = regimes ? regimes[k]! : -1;
    const mean = r >= 0 ? norm.regimes!.mean[r]! : norm.mean;
    const std = r >= 0 ? norm.regimes!.std[r]! : norm.std;
    for (let f = 0; f < S; f++) {
      const c = cols[f]!;
      data[k * F + f] = c < 0 ? NaN : (seg.data[k * Fin + c]! - mean[f]!) / std[f]!;
    }
    if (r >= 0) data[k * F + S + r] = 1;
  }
  return data;
}

/**
 * Normalised copy of a segment with the model's input columns (`inputNames`), smoothed along the
 * segment when the model smooths its inputs; a missing value becomes 0 (its mean). A step whose
 * conditions are missing is normalised with the overall statistics and has no regime input set.
 */
export function applyNormalisation(seg: Segment, norm: Normalisation): Segment {
  const names = inputNames(norm);
  const F = names.length;
  const S = norm.sensors.length;
  const data = zScores(seg, norm);
  const sm = norm.smoothing;
  if (sm) smoothColumns(data, seg.steps, F, S, sm.alpha);
  for (let k = 0; k < seg.steps; k++)
    for (let f = 0; f < S; f++) {
      const v = data[k * F + f]!;
      data[k * F + f] = Number.isNaN(v) ? 0 : sm ? (v - sm.mean[f]!) / sm.std[f]! : v;
    }
  return { ...seg, sensors: names, data };
}

/**
 * A transferred model's scaling: the source's statistics for the sensors it shares with `fitted`
 * (its weights were learned on that scale), `fitted`'s for the rest. With operating regimes on
 * either side, the statistics are per regime of its own clustering and cannot be mixed: `fitted`;
 * so too when the two smooth differently (the smoothed statistics are of each one's own z-scores).
 */
export function borrowStatistics(fitted: Normalisation, source: Normalisation): Normalisation {
  if (fitted.regimes || source.regimes) return fitted;
  if (fitted.smoothing?.alpha !== source.smoothing?.alpha) return fitted;
  const pick = (own: readonly number[], theirs: readonly number[]) =>
    fitted.sensors.map((s, i) => {
      const at = source.sensors.indexOf(s);
      return at >= 0 ? theirs[at]! : own[i]!;
    });
  const out: Normalisation = { ...fitted, mean: pick(fitted.mean, source.mean), std: pick(fitted.std, source.std) };
  if (fitted.smoothing && source.smoothing)
    out.smoothing = {
      alpha: fitted.smoothing.alpha,
      mean: pick(fitted.smoothing.mean, source.smoothing.mean),
      std: pick(fitted.smoothing.std, source.smoothing.std),
    };
  return out;
}
