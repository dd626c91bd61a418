/**
 * From a health model's reconstruction to a health index: residual features per window, their
 * Mahalanobis distance from held-out normal windows, smoothing over time, and the index a technician
 * reads: 100 = like its normal, 50 = as far as the 99th percentile of normal, 100/(1 + k) at k
 * times that distance (25 at three times, 10 at nine): it falls fast at first and never flattens into
 * ties, so a worse machine always reads lower. Plain arithmetic, shared by training (calibration), the inference
 * worker and the benchmarks.
 */

/** Features per sensor: the window's mean residual (signed: which way it departs), then log RMS residual (how noisy). */
export const FEATURES_PER_SENSOR = 2;

/**
 * Residual features of windows [n, L, F] against their reconstructions [n, L·S]: n × 2S values,
 * sensor means first, then log RMS. A sensor with no reading in a window (`known` 0) gets NaN: the
 * caller treats it as normal.
 */
export function residualFeatures(
  x: Float32Array,
  recon: Float32Array,
  n: number,
  windowSteps: number,
  features: number,
  sensors: number,
  known?: Uint8Array,
): Float32Array {
  const S = sensors;
  const out = new Float32Array(n * 2 * S);
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < S; s++) {
      if (known && known[i * S + s] === 0) {
        out[i * 2 * S + s] = Number.NaN;
        out[i * 2 * S + S + s] = Number.NaN;
        continue;
      }
      let sum = 0;
      let sq = 0;
      for (let k = 0; k < windowSteps; k++) {
        const r = x[(i * windowSteps + k) * features + s]! - recon[(i * windowSteps + k) * S + s]!;
        sum += r;
        sq += r * r;
      }
      out[i * 2 * S + s] = sum / windowSteps;
      out[i * 2 * S + S + s] = Math.log(Math.sqrt(sq / windowSteps) + 1e-3);
    }
  }
  return out;
}

export interface FeatureMoments {
  mean: number[];
  sd: number[];
  /** Row-major inverse of the shrunk covariance. */
  precision: number[];
}

/**
 * Mean, spread and precision of features [n, p] (rows with NaN left out). The covariance is shrunk
 * towards its diagonal by `shrinkage` and given a small ridge, so it inverts even with few windows or
 * sensors that move together exactly.
 */
export function featureMoments(f: Float32Array, n: number, p: number, shrinkage: number): FeatureMoments {
  const mean = new Float64Array(p);
  let rows = 0;
  for (let i = 0; i < n; i++) {
    if (rowHasNaN(f, i, p)) continue;
    rows++;
    for (let a = 0; a < p; a++) mean[a]! += f[i * p + a]!;
  }
  if (rows < 2) throw new Error(`residual moments need at least 2 complete windows, found ${rows}`);
  for (let a = 0; a < p; a++) mean[a]! /= rows;
  const cov = new Float64Array(p * p);
  for (let i = 0; i < n; i++) {
    if (rowHasNaN(f, i, p)) continue;
    for (let a = 0; a < p; a++) {
      const da = f[i * p + a]! - mean[a]!;
      for (let b = a; b < p; b++) cov[a * p + b]! += da * (f[i * p + b]! - mean[b]!);
    }
  }
  let trace = 0;
  for (let a = 0; a < p; a++) {
    for (let b = a; b < p; b++) {
      cov[a * p + b]! /= rows - 1;
      cov[b * p + a] = cov[a * p + b]!;
    }
    trace += cov[a * p + a]!;
  }
  const ridge = 1e-6 * Math.max(trace / p, 1e-12);
  const shrunk = new Float64Array(p * p);
  for (let a = 0; a < p; a++)
    for (let b = 0; b < p; b++) shrunk[a * p + b] = a === b ? cov[a * p + a]! + ridge : (1 - shrinkage) * cov[a * p + b]!;
  const sd = Array.from({ length: p }, (_, a) => Math.sqrt(shrunk[a * p + a]!));
  return { mean: Array.from(mean), sd, precision: Array.from(invertSpd(shrunk, p)) };
}

function rowHasNaN(f: Float32Array, i: number, p: number): boolean {
  for (let a = 0; a < p; a++) if (Number.isNaN(f[i * p + a]!)) return true;
  return false;
}

/** Inverse of a symmetric positive definite matrix through its Cholesky factor. */
export function invertSpd(m: Float64Array, p: number): Float64Array {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = m[i * p + j]!;
      for (let k = 0; k < j; k++) s -= l[i * p + k]! * l[j * p + k]!;
      if (i === j) {
        if (!(s > 0)) throw new Error('the residual covariance is not positive definite');
        l[i * p + i] = Math.sqrt(s);
      } else l[i * p + j] = s / l[j * p + j]!;
    }
  }
  // inv(L) by forward substitution, then inv(M) = inv(L)ᵀ inv(L).
  const li = new Float64Array(p * p);
  for (let c = 0; c < p; c++) {
    for (let i = c; i < p; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= l[i * p + k]! * li[k * p + c]!;
      li[i * p + c] = s / l[i * p + i]!;
    }
  }
  const inv = new Float64Array(p * p);
  for (let a = 0; a < p; a++)
    for (let b = a; b < p; b++) {
      let s = 0;
      for (let k = b; k < p; k++) s += li[k * p + a]! * li[k * p + b]!;
      inv[a * p + b] = s;
      inv[b * p + a] = s;
    }
  return inv;
}

/**
 * Squared Mahalanobis distance of each row of features [n, p] from the normal windows' moments. A
 * missing sensor's features (NaN) count as their normal mean.
 */
export function anomalyScores(f: Float32Array, n: number, m: Pick<FeatureMoments, 'mean' | 'precision'>): Float32Array {
  const p = m.mean.length;
  const out = new Float32Array(n);
  const d = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < p; a++) {
      const v = f[i * p + a]!;
      d[a] = Number.isNaN(v) ? 0 : v - m.mean[a]!;
    }
    let s = 0;
    for (let a = 0; a < p; a++) {
      let row = 0;
      for (let b = 0; b < p; b++) row += m.precision[a * p + b]! * d[b]!;
      s += d[a]! * row;
    }
    out[i] = s;
  }
  return out;
}

/**
 * Exponential smoothing in data time: a window `dtSteps` after the previous one moves the smoothed
 * score by 1 − e^(−dt/τ) of the way, so one noisy window moves it little whatever the scoring rate.
 */
export function smoothScore(previous: number, score: number, dtSteps: number, tauSteps: number): number {
  const a = 1 - Math.exp(-Math.max(0, dtSteps) / tauSteps);
  return previous + a * (score - previous);
}

/** 100 at the normal median (and below it), 50 at its 99th percentile, 100/(1 + k) at k times that excess; two decimals. */
export function healthIndex(smoothed: number, scale: { median: number; p99: number }): number {
  const excess = Math.max(0, smoothed - scale.median) / (scale.p99 - scale.median);
  return Math.round(10_000 / (1 + excess)) / 100;
}

/** The smoothed score at which the index reads `index` (the inverse of healthIndex). */
export function scoreAtIndex(index: number, scale: { median: number; p99: number }): number {
  return scale.median + (scale.p99 - scale.median) * (100 / Math.min(100, Math.max(1e-6, index)) - 1);
}

/**
 * How far each sensor's mean residual departs from normal, in its own normal spread (signed: positive
 * is above what the model expected); a missing sensor's is 0.
 */
export function sensorDeviations(row: ArrayLike<number>, m: Pick<FeatureMoments, 'mean' | 'sd'>, sensors: number): Float32Array {
  const out = new Float32Array(sensors);
  for (let s = 0; s < sensors; s++) {
    const v = row[s]!;
    out[s] = Number.isNaN(v) ? 0 : (v - m.mean[s]!) / m.sd[s]!;
  }
  return out;
}
