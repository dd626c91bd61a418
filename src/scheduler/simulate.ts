import { Rng } from '../core/random.js';
import { decide } from './policy.js';
import { meanOver, type SeriesPoint } from './series.js';

export interface ReplayOptions {
  /** Measured intensity (gCO2e/kWh): what the runs really emit. */
  actual: SeriesPoint[];
  jobMs: number;
  deadlineMs: number;
  /** Minutes after midnight UTC at which the daily retrain falls due (the carbon-agnostic baseline starts then). */
  dueAtMinute: number;
  /** Relative standard deviation of the day-ahead forecast's error (0 = perfect forecast). */
  forecastError: number;
  tolerance: number;
  seed: number;
  /** Only days starting in [from, to). */
  from?: number;
  to?: number;
}

export interface ReplayRun {
  dueAt: number;
  baselineStart: number;
  policyStart: number;
  baselineIntensity: number;
  policyIntensity: number;
  reason: string;
}

export interface ReplayResult {
  runs: ReplayRun[];
  /** Mean gCO2e/kWh of the runs (every run uses the same energy, so this ranks emissions). */
  baselineIntensity: number;
  policyIntensity: number;
  avoidedPercent: number;
  meanDelayMs: number;
}

const DAY = 86_400_000;

/** One day-ahead forecast: the actual series with independent multiplicative Gaussian errors. */
export function noisyForecast(actual: readonly SeriesPoint[], from: number, to: number, relError: number, rng: Rng): SeriesPoint[] {
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  return actual
    .filter((p) => p.ts + p.durationMs > from && p.ts < to)
    .map((p) => ({ ...p, value: relError > 0 ? Math.max(0, p.value * (1 + relError * gauss())) : p.value }));
}

/**
 * A year of daily retrains decided by Vigil's own policy (`decide`), ticking at the series' step
 * from the moment each run falls due until it starts, against the carbon-agnostic baseline that
 * starts at once. Decisions see only the forecast; emissions are counted on the actual series.
 */
export function replayDecisions(o: ReplayOptions): ReplayResult {
  const rng = new Rng(o.seed);
  const step = o.actual[0]!.durationMs;
  const first = Math.ceil((o.from ?? o.actual[0]!.ts) / DAY) * DAY;
  const seriesEnd = o.actual[o.actual.length - 1]!.ts + o.actual[o.actual.length - 1]!.durationMs;
  const last = Math.min(o.to ?? Infinity, seriesEnd - o.deadlineMs - o.jobMs);
  const runs: ReplayRun[] = [];
  for (let day = first; day + o.dueAtMinute * 60_000 < last; day += DAY) {
    const dueAt = day + o.dueAtMinute * 60_000;
    const deadline = dueAt + o.deadlineMs;
    const forecast = noisyForecast(o.actual, dueAt, deadline + o.jobMs, o.forecastError, rng);
    let start = dueAt;
    let reason = '';
    for (let now = dueAt; now <= deadline - o.jobMs; now += step) {
      const d = decide({
        now,
        need: { reason: 'daily retrain', forced: false },
        deadline,
        expectedRunMs: o.jobMs,
        carbon: forecast,
        price: null,
        objective: 'carbon',
        weights: { carbon: 1, price: 0 },
        tolerance: o.tolerance,
        busy: null,
        busyCalendar: null,
        onBattery: false,
        budget: { usedKWh: 0, limitKWh: null, expectedRunKWh: 0 },
      });
      start = now;
      reason = d.reason;
      if (d.action === 'train') break;
    }
    const baselineIntensity = meanOver(o.actual, dueAt, o.jobMs);
    const policyIntensity = meanOver(o.actual, start, o.jobMs);
    if (baselineIntensity === null || policyIntensity === null) continue;
    runs.push({ dueAt, baselineStart: dueAt, policyStart: start, baselineIntensity, policyIntensity, reason });
  }
  const mean = (f: (r: ReplayRun) => number) => runs.reduce((s, r) => s + f(r), 0) / Math.max(1, runs.length);
  const baselineIntensity = mean((r) => r.baselineIntensity);
  const policyIntensity = mean((r) => r.policyIntensity);
  return {
    runs,
    baselineIntensity,
    policyIntensity,
    avoidedPercent: (100 * (baselineIntensity - policyIntensity)) / baselineIntensity,
    meanDelayMs: mean((r) => r.policyStart - r.dueAt),
  };
}

/** One week as SVG: the intensity, the policy's runs (green) and the baseline's (red). */
export function weekSvg(actual: readonly SeriesPoint[], runs: readonly ReplayRun[], from: number, jobMs: number, title: string): string {
  const to = from + 7 * DAY;
  const pts = actual.filter((p) => p.ts >= from && p.ts < to);
  const W = 1000;
  const H = 320;
  const pad = 40;
  const max = Math.max(...pts.map((p) => p.value)) * 1.05;
  const x = (t: number) => pad + ((t - from) / (to - from)) * (W - 2 * pad);
  const y = (v: number) => H - pad - (v / max) * (H - 2 * pad);
  const line = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.ts).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  const rects = runs
    .filter((r) => r.dueAt >= from && r.dueAt < to)
    .flatMap((r) => [
      `<rect x="${x(r.baselineStart).toFixed(1)}" y="${pad}" width="${Math.max(2, x(r.baselineStart + jobMs) - x(r.baselineStart)).toFixed(1)}" height="${H - 2 * pad}" fill="#d62728" fill-opacity="0.35"/>`,
      `<rect x="${x(r.policyStart).toFixed(1)}" y="${pad}" width="${Math.max(2, x(r.policyStart + jobMs) - x(r.policyStart)).toFixed(1)}" height="${H - 2 * pad}" fill="#2ca02c" fill-opacity="0.45"/>`,
    ]);
  const days = Array.from({ length: 8 }, (_, i) => from + i * DAY).map(
    (t) =>
      `<line x1="${x(t)}" x2="${x(t)}" y1="${pad}" y2="${H - pad}" stroke="#ccc"/><text x="${x(t) + 3}" y="${H - pad + 14}" font-size="11">${new Date(t).toISOString().slice(0, 10)}</text>`,
  );
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="4" y="${y(max * f) + 4}" font-size="11">${(max * f).toFixed(0)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${pad}" y="20" font-size="14">${title}</text>
<text x="${W - 330}" y="20" font-size="12"><tspan fill="#2ca02c">■ Vigil's runs</tspan>  <tspan fill="#d62728">■ baseline (at the cron time)</tspan></text>
${days.join('\n')}
${ticks.join('\n')}
${rects.join('\n')}
<path d="${line}" fill="none" stroke="#1f77b4" stroke-width="1.2"/>
<text x="${pad}" y="${H - 6}" font-size="11">gCO2e/kWh, UTC</text>
</svg>
`;
}
