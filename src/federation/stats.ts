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

/** Welford moments of `sensors` over the segments' steps (missing values skipped). */
export function segmentMoments(segments: readonly Segment[], sensors: readonly string[]): Moments {
  const F = sensors.length;
  const count = new Float64Array(F);
  const mean = new Float64Array(F);
  const m2 = new Float64Array(F);
  for (const seg of segments) {
    const cols = sensors.map((s) => seg.sensors.indexOf(s));
    const Fin = seg.sensors.length;
    for (let k = 0; k < seg.steps; k++)
      for (let f = 0; f < F; f++) {
        const c = cols[f]!;
        const v = c < 0 ? NaN : seg.data[k * Fin + c]!;
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

/** z-score statistics from merged moments, in the order of `sensors`; constant or unseen sensors are dropped. */
export function normalisationFromMoments(m: Moments, sensors: readonly string[]): Normalisation {
  const out: Normalisation = { sensors: [], mean: [], std: [], dropped: [] };
  for (const s of sensors) {
    const f = m.sensors.indexOf(s);
    const n = f < 0 ? 0 : m.count[f]!;
    const sd = n > 1 ? Math.sqrt(m.m2[f]! / (n - 1)) : 0;
    if (n === 0 || negligible(sd, m.mean[f]!)) out.dropped.push(s);
    else {
      out.sensors.push(s);
      out.mean.push(m.mean[f]!);
      out.std.push(sd);
    }
  }
  return out;
}

/** Problems with a gateway's moments that the schema cannot state. */
export function momentsProblem(m: Moments): string | null {
  const n = m.sensors.length;
  if (m.count.length !== n || m.mean.length !== n || m.m2.length !== n)
    return `${n} sensors but ${m.count.length} counts, ${m.mean.length} means, ${m.m2.length} sums of squares`;
  if (new Set(m.sensors).size !== n) return 'a sensor is listed twice';
  return null;
}
