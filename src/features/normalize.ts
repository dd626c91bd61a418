import type { Segment } from './align.js';

/** Per-sensor statistics fitted on the training split only and stored with the model. */
export interface Normalisation {
  /** Sensors the model uses, in input order. */
  sensors: string[];
  mean: number[];
  std: number[];
  /** Sensors left out because they were constant in training. */
  dropped: string[];
}

/** Fits z-score statistics; a sensor whose spread is negligible against its level carries no signal. */
export function fitNormalisation(segments: readonly Segment[], sensors: readonly string[]): Normalisation {
  const F = sensors.length;
  const n = new Float64Array(F);
  const mean = new Float64Array(F);
  const m2 = new Float64Array(F);
  for (const seg of segments) {
    for (let k = 0; k < seg.steps; k++) {
      for (let f = 0; f < F; f++) {
        const v = seg.data[k * F + f]!;
        if (Number.isNaN(v)) continue;
        // Welford: stable for large series.
        n[f]!++;
        const d = v - mean[f]!;
        mean[f]! += d / n[f]!;
        m2[f]! += d * (v - mean[f]!);
      }
    }
  }
  const out: Normalisation = { sensors: [], mean: [], std: [], dropped: [] };
  sensors.forEach((s, f) => {
    const sd = n[f]! > 1 ? Math.sqrt(m2[f]! / (n[f]! - 1)) : 0;
    // Only truly constant sensors go: a tiny spread on a large level (a shaft speed) can carry the signal.
    if (n[f] === 0 || sd <= 1e-6 * Math.max(1, Math.abs(mean[f]!))) out.dropped.push(s);
    else {
      out.sensors.push(s);
      out.mean.push(mean[f]!);
      out.std.push(sd);
    }
  });
  return out;
}

/** Normalised copy of a segment with only the model's sensors; missing values become 0 (the mean). */
export function applyNormalisation(seg: Segment, norm: Normalisation): Segment {
  const srcCol = new Map(seg.sensors.map((s, i) => [s, i]));
  const F = norm.sensors.length;
  const Fin = seg.sensors.length;
  const data = new Float32Array(seg.steps * F);
  const cols = norm.sensors.map((s) => srcCol.get(s) ?? -1);
  for (let k = 0; k < seg.steps; k++) {
    for (let f = 0; f < F; f++) {
      const c = cols[f]!;
      const v = c < 0 ? NaN : seg.data[k * Fin + c]!;
      data[k * F + f] = Number.isNaN(v) ? 0 : (v - norm.mean[f]!) / norm.std[f]!;
    }
  }
  return { ...seg, sensors: norm.sensors, data };
}
