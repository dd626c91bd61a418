/**
 * Federated normalisation: each gateway sends, per sensor, the count, mean and sum of squared
 * deviations of its training split (its machines' readings never leave it); the coordinator merges
 * them exactly (Chan et al.'s parallel update) into the statistics one gateway holding all the data
 * would have fitted, with the same rule for dropping constant sensors.
 */
import { type Segment, negligible, type Normalisation } from '../features/index.js';

export interface Moments {
  sensors: string[];
  count: number[];
  mean: number[];
  m2: number[];
}

/** Moments of the raw readings and, when the model smooths its inputs, of the smoothed readings. */
export type GatewayMoments = Moments & { smoothed?: Omit<Moments, 'sensors'> };

/**
 * Welford moments of `sensors` over the segments' steps (missing values skipped); with `alpha` < 1,
 * of each sensor exponentially smoothed along its segment (a missing value carrying the smoothed one).
 */
export function segmentMoments(segments: readonly Segment[], sensors: readonly string[], alpha = 1): Moments {
  const F = sensors.length;
  const count = new Float64Array(F);
  const mean = new Float64Array(F);
  const m2 = new Float64Array(F);
  for (const seg of segments) {
    const cols = sensors.map((s) => seg.sensors.indexOf(s));
    const Fin = seg.sensors.length;
    const smoothed = new Float64Array(F).fill(NaN);
    for (let k = 0; k < seg.steps; k++)
      for (let f = 0; f < F; f++) {
        const c = cols[f]!;
        let v = c < 0 ? NaN : seg.data[k * Fin + c]!;
        if (alpha < 1) {
          const s = smoothed[f]!;
          v = Number.isNaN(v) ? s : Number.isNaN(s) ? v : alpha * v + (1 - alpha) * s;
          smoothed[f] = v;
        }
        if (Number.isNaN(v)) continue;
        count[f]!++;
        const d = v - mean[f]!;
        mean[f]! += d / count[f]!;
        m2[f]! += d * (v - mean[f]!);
      }
  }
  return { sensors: [...sensors], count: Array.from(count), mean: Array.from(mean), m2: Array.from(m2) };
}

/** Merges moments of possibly different sensor sets; a sensor some gateways lack merges over those that have it. */
export function mergeMoments(parts: readonly Moments[]): Moments {
  const sensors = [...new Set(parts.flatMap((p) => p.sensors))].sort();
  const out: Moments = { sensors, count: sensors.map(() => 0), mean: sensors.map(() => 0), m2: sensors.map(() => 0) };
  for (const p of parts)
    p.sensors.forEach((s, i) => {
      const f = sensors.indexOf(s);
      const nb = p.count[i]!;
      if (nb === 0) return;
      const na = out.count[f]!;
      const n = na + nb;
      const d = p.mean[i]! - out.mean[f]!;
      out.mean[f] = out.mean[f]! + (d * nb) / n;
      out.m2[f] = out.m2[f]! + p.m2[i]! + (d * d * na * nb) / n;
      out.count[f] = n;
    });
  return out;
}

/**
 * z-score statistics from merged moments, in the order of `sensors`; constant or unseen sensors are
 * dropped. With the smoothed readings' moments (one regime, as a federation fits), the smoothed
 * z-scores' statistics follow exactly: smoothing is linear, so their mean is (mean − μ) / σ of the
 * smoothed readings and their spread sd / σ — what `fitNormalisation` fits on the pooled data.
 */
export function normalisationFromMoments(
  m: Moments,
  sensors: readonly string[],
  smoothing?: { alpha: number; moments: Moments },
): Normalisation {
  const out: Normalisation = { sensors: [], mean: [], std: [], dropped: [] };
  const sm = smoothing && smoothing.alpha < 1 ? { alpha: smoothing.alpha, mean: [] as number[], std: [] as number[] } : null;
  for (const s of sensors) {
    const f = m.sensors.indexOf(s);
    const n = f < 0 ? 0 : m.count[f]!;
    const sd = n > 1 ? Math.sqrt(m.m2[f]! / (n - 1)) : 0;
    if (n === 0 || negligible(sd, m.mean[f]!)) out.dropped.push(s);
    else {
      out.sensors.push(s);
      out.mean.push(m.mean[f]!);
      out.std.push(sd);
      if (!sm) continue;
      const g = smoothing!.moments.sensors.indexOf(s);
      const ns = g < 0 ? 0 : smoothing!.moments.count[g]!;
      const sds = ns > 1 ? Math.sqrt(smoothing!.moments.m2[g]! / (ns - 1)) / sd : 0;
      sm.mean.push(ns > 0 ? (smoothing!.moments.mean[g]! - m.mean[f]!) / sd : 0);
      sm.std.push(ns > 1 && !negligible(sds, 1) ? sds : 1);
    }
  }
  return sm ? { ...out, smoothing: sm } : out;
}

/** Problems with a gateway's moments that the schema cannot state. */
export function momentsProblem(m: GatewayMoments): string | null {
  const n = m.sensors.length;
  if (m.count.length !== n || m.mean.length !== n || m.m2.length !== n)
    return `${n} sensors but ${m.count.length} counts, ${m.mean.length} means, ${m.m2.length} sums of squares`;
  if (new Set(m.sensors).size !== n) return 'a sensor is listed twice';
  const sm = m.smoothed;
  if (sm && (sm.count.length !== n || sm.mean.length !== n || sm.m2.length !== n))
    return `${n} sensors but smoothed moments for ${sm.count.length}, ${sm.mean.length}, ${sm.m2.length}`;
  return null;
}
