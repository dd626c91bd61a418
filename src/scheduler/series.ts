/** A forecast or measured series: each point holds from `ts` for `durationMs` (gCO2e/kWh, or price/kWh). */
export interface SeriesPoint {
  ts: number;
  durationMs: number;
  value: number;
}

/** Value at `ts`: the point covering it, or null outside the series. */
export function valueAt(series: readonly SeriesPoint[], ts: number): number | null {
  let lo = 0;
  let hi = series.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const p = series[mid]!;
    if (ts < p.ts) hi = mid - 1;
    else if (ts >= p.ts + p.durationMs) lo = mid + 1;
    else return p.value;
  }
  return null;
}

/** Mean of the series over [from, from + lengthMs), time-weighted; null where it has no coverage. */
export function meanOver(series: readonly SeriesPoint[], from: number, lengthMs: number): number | null {
  const to = from + lengthMs;
  let sum = 0;
  let covered = 0;
  for (const p of series) {
    const a = Math.max(from, p.ts);
    const b = Math.min(to, p.ts + p.durationMs);
    if (b > a) {
      sum += p.value * (b - a);
      covered += b - a;
    }
  }
  return covered >= lengthMs * 0.999 ? sum / covered : null;
}

export interface Window {
  start: number;
  end: number;
  /** Mean cost over the window (the series' unit). */
  mean: number;
}

/**
 * The start in [earliest, latestStart] (on the series' point boundaries, plus `earliest` itself) whose
 * window of `lengthMs` has the lowest mean — the Carbon Aware SDK's "optimal data point" for a
 * workload of that duration. Ties go to the earliest start. Null when no start has full coverage.
 */
export function bestWindow(all: readonly SeriesPoint[], earliest: number, latestStart: number, lengthMs: number): Window | null {
  const series = all.filter((p) => p.ts + p.durationMs > earliest && p.ts < latestStart + lengthMs);
  const starts = new Set<number>([earliest]);
  for (const p of series) if (p.ts > earliest && p.ts <= latestStart) starts.add(p.ts);
  let best: Window | null = null;
  for (const start of [...starts].sort((a, b) => a - b)) {
    const mean = meanOver(series, start, lengthMs);
    if (mean === null) continue;
    if (!best || mean < best.mean - 1e-12) best = { start, end: start + lengthMs, mean };
  }
  return best;
}
