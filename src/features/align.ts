import type { Sample } from '../core/types.js';

/**
 * A machine's readings on a fixed time grid: `steps` rows of `sensors.length` values, row k covering
 * [startTs + k·stepMs, startTs + (k+1)·stepMs). NaN where a sensor has no value in the segment at all.
 */
export interface Segment {
  machine: string;
  startTs: number;
  stepMs: number;
  sensors: readonly string[];
  steps: number;
  data: Float32Array;
}

export interface AlignStats {
  /** Per sensor: share of grid steps with no reading of it (before filling). */
  missingRatio: Record<string, number>;
  /** Per sensor: share of its observed steps that repeat the previous observed value exactly (stuck sensors). */
  flatlineRatio: Record<string, number>;
  /** Steps filled forward across short gaps. */
  filledSteps: number;
  /** Sequences cut at gaps longer than maxGapSteps. */
  breaks: number;
}

/**
 * Resamples to a fixed step: the mean of readings within a step; a sensor missing for up to
 * `maxGapSteps` steps is carried forward; a gap with no reading at all longer than that ends the
 * segment (a stopped machine must not look like a steady one). Steps are aligned to multiples of
 * `stepMs` since the epoch, so every machine shares one grid.
 */
export function alignToGrid(
  machine: string,
  samples: readonly Sample[],
  sensors: readonly string[],
  stepMs: number,
  maxGapSteps: number,
): { segments: Segment[]; stats: AlignStats } {
  const F = sensors.length;
  const col = new Map(sensors.map((s, i) => [s, i]));
  const stats: AlignStats = {
    missingRatio: Object.fromEntries(sensors.map((s) => [s, 0])),
    flatlineRatio: Object.fromEntries(sensors.map((s) => [s, 0])),
    filledSteps: 0,
    breaks: 0,
  };
  if (samples.length === 0 || F === 0) return { segments: [], stats };
  const sorted = [...samples].sort((a, b) => a.ts - b.ts);
  const first = Math.floor(sorted[0]!.ts / stepMs);
  const last = Math.floor(sorted[sorted.length - 1]!.ts / stepMs);
  const total = last - first + 1;
  const sum = new Float64Array(total * F);
  const count = new Uint32Array(total * F);
  const present = new Uint8Array(total);
  for (const s of sorted) {
    const k = Math.floor(s.ts / stepMs) - first;
    for (const name in s.values) {
      const f = col.get(name);
      if (f === undefined) continue;
      sum[k * F + f]! += s.values[name]!;
      count[k * F + f]!++;
      present[k] = 1;
    }
  }
  const missing = new Uint32Array(F);
  const repeats = new Uint32Array(F);
  const prev = new Float64Array(F).fill(NaN);
  for (let k = 0; k < total; k++) {
    for (let f = 0; f < F; f++) {
      const c = count[k * F + f]!;
      if (c === 0) {
        missing[f]!++;
        continue;
      }
      const mean = sum[k * F + f]! / c;
      if (mean === prev[f]) repeats[f]!++;
      prev[f] = mean;
    }
  }
  sensors.forEach((s, f) => {
    stats.missingRatio[s] = missing[f]! / total;
    const observed = total - missing[f]!;
    stats.flatlineRatio[s] = observed > 1 ? repeats[f]! / (observed - 1) : 0;
  });

  // Cut at runs of empty steps longer than maxGapSteps.
  const ranges: Array<[number, number]> = [];
  let segStart = 0;
  let gap = 0;
  for (let k = 0; k < total; k++) {
    if (present[k]) {
      if (gap > maxGapSteps) {
        ranges.push([segStart, k - gap]);
        segStart = k;
        stats.breaks++;
      }
      gap = 0;
    } else gap++;
  }
  ranges.push([segStart, total - gap]);

  const segments: Segment[] = [];
  for (const [a, b] of ranges) {
    const steps = b - a;
    if (steps <= 0) continue;
    const data = new Float32Array(steps * F).fill(NaN);
    for (let f = 0; f < F; f++) {
      let lastValue = NaN;
      let since = Infinity;
      let firstSeen = -1;
      for (let k = 0; k < steps; k++) {
        const idx = (a + k) * F + f;
        if (count[idx]! > 0) {
          lastValue = sum[idx]! / count[idx]!;
          since = 0;
          if (firstSeen < 0) firstSeen = k;
          data[k * F + f] = lastValue;
        } else if (++since <= maxGapSteps) {
          data[k * F + f] = lastValue;
          if (!Number.isNaN(lastValue)) stats.filledSteps++;
        } else if (!Number.isNaN(lastValue)) {
          // A sensor silent for long while the machine runs: keep its last value rather than lose the machine.
          data[k * F + f] = lastValue;
        }
      }
      // Steps before the sensor's first value in the segment take that first value.
      if (firstSeen > 0) for (let k = 0; k < firstSeen; k++) data[k * F + f] = data[firstSeen * F + f]!;
    }
    segments.push({ machine, startTs: (first + a) * stepMs, stepMs, sensors, steps, data });
  }
  return { segments, stats };
}
