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
export function fitNormalisation(segments: readonly Segment[], sensors: readonly string[], regimeFit?: RegimeFitOptions): Normalisation {
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
  return out;
}

/**
 * Normalised copy of a segment with the model's input columns (`inputNames`); a missing value
 * becomes 0 (its mean). A step whose conditions are missing is normalised with the overall
 * statistics and has no regime input set.
 */
export function applyNormalisation(seg: Segment, norm: Normalisation): Segment {
  const srcCol = new Map(seg.sensors.map((s, i) => [s, i]));
  const S = norm.sensors.length;
  const names = inputNames(norm);
  const F = names.length;
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
      const v = c < 0 ? NaN : seg.data[k * Fin + c]!;
      data[k * F + f] = Number.isNaN(v) ? 0 : (v - mean[f]!) / std[f]!;
    }
    if (r >= 0) data[k * F + S + r] = 1;
  }
  return { ...seg, sensors: names, data };
}

/**
 * A transferred model's scaling: the source's statistics for the sensors it shares with `fitted`
 * (its weights were learned on that scale), `fitted`'s for the rest. With operating regimes on
 * either side, the statistics are per regime of its own clustering and cannot be mixed: `fitted`.
 */
export function borrowStatistics(fitted: Normalisation, source: Normalisation): Normalisation {
  if (fitted.regimes || source.regimes) return fitted;
  const mean = fitted.sensors.map((s, i) => {
    const at = source.sensors.indexOf(s);
    return at >= 0 ? source.mean[at]! : fitted.mean[i]!;
  });
  const std = fitted.sensors.map((s, i) => {
    const at = source.sensors.indexOf(s);
    return at >= 0 ? source.std[at]! : fitted.std[i]!;
  });
  return { ...fitted, mean, std };
}
