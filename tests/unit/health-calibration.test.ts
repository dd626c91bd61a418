import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import { healthIndex, scoreAtIndex } from '../../src/model/index.js';
import {
  alertEpisodes,
  budgetThreshold,
  labelledThreshold,
  quantile,
  smoothSeries,
  type Positive,
  type RuleOptions,
  type ScoreSeries,
} from '../../src/training/health-calibration.js';

const STEP = 600_000;
const DAY_STEPS = 144;
const rule: RuleOptions = { stepMs: STEP, smoothingSteps: 5, openAfter: 3, closeAfter: 5, hysteresis: 5 };

/** Raw anomaly scores as a Mahalanobis distance gives them on normal data: chi-square with `dof` degrees. */
function normalSeries(rng: Rng, machines: number, days: number, dof = 8, from = 0): ScoreSeries[] {
  return Array.from({ length: machines }, (_, m) => {
    const n = days * DAY_STEPS;
    const endTs = new Float64Array(n);
    const score = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      endTs[i] = from + i * STEP;
      let s = 0;
      for (let k = 0; k < dof; k++) s += rng.normal() ** 2;
      score[i] = s;
    }
    return { machine: `m${m}`, endTs, score };
  });
}

function scaleOf(series: ReturnType<typeof smoothSeries>) {
  const all = Float32Array.from(series.flatMap((s) => Array.from(s.smoothed)));
  return { median: quantile(all, 0.5), p99: quantile(all, 0.99) };
}

const episodesPerMonth = (series: ReturnType<typeof smoothSeries>, threshold: number, scale: { median: number; p99: number }) => {
  const count = alertEpisodes(series, threshold, scale, rule).reduce((n, e) => n + e.opened.length, 0);
  const months = series.reduce((h, s) => h + s.score.length, 0) / DAY_STEPS / 30;
  return count / months;
};

describe('health index', () => {
  it('reads 100 at the normal median, 50 at its 99th percentile, and inverts', () => {
    const scale = { median: 2, p99: 6 };
    expect(healthIndex(1, scale)).toBe(100);
    expect(healthIndex(2, scale)).toBe(100);
    expect(healthIndex(6, scale)).toBe(50);
    expect(healthIndex(10, scale)).toBeCloseTo(33.33, 2);
    for (const x of [2.5, 6, 14, 40]) expect(scoreAtIndex(healthIndex(x, scale), scale)).toBeCloseTo(x, 1);
    expect(healthIndex(7, scale)).toBeLessThan(healthIndex(6.5, scale));
  });
});

describe('smoothing', () => {
  it('lets one noisy window pass and a lasting shift through; a gap starts afresh', () => {
    const endTs = Float64Array.from({ length: 40 }, (_, i) => (i < 30 ? i : i + 100) * STEP);
    const score = new Float32Array(40).fill(1);
    score[5] = 30; // one noisy window
    for (let i = 15; i < 30; i++) score[i] = 30; // a lasting shift
    const [s] = smoothSeries([{ machine: 'm', endTs, score }], rule, 1, 3);
    expect(s!.smoothed[5]).toBeLessThan(10);
    expect(s!.smoothed[29]).toBeGreaterThan(25);
    // After the gap of 100 steps the smoothing restarts from the normal median, not from 30.
    expect(s!.smoothed[30]).toBeCloseTo(1, 5);
    const [e] = alertEpisodes([s!], 50, { median: 1, p99: 5 }, rule);
    expect(e!.opened).toHaveLength(1);
    expect(e!.opened[0]).toBeGreaterThanOrEqual(15 * STEP);
  });
});

describe('false-alarm budget', () => {
  it('chooses a threshold that alarms no more often than the budget on fresh normal data', () => {
    const rng = new Rng(7);
    // Calibration: two weeks of four machines; then two months of the same machines, unseen.
    const calib = smoothSeries(normalSeries(rng, 4, 14), rule, 8, 3);
    const scale = scaleOf(calib);
    const fresh = smoothSeries(normalSeries(rng, 4, 60), rule, scale.median, 3);
    for (const budget of [1, 4, 16]) {
      const b = budgetThreshold(calib, scale, budget, rule);
      expect(b.points).toBeGreaterThanOrEqual(3);
      expect(b.slope).toBeLessThan(0);
      expect(b.falseAlarmsPerMachineMonth).toBeLessThanOrEqual(budget * 1.05);
      const seen = episodesPerMonth(fresh, b.threshold, scale);
      // Eight machine-months of fresh data hold few alarms: within twice the budget.
      expect(seen).toBeLessThanOrEqual(budget * 2);
      // Where alarms are common enough to count, the estimate is close; beyond, the exponential tail
      // extrapolates conservatively for a score whose tail is lighter (as a chi-square's is).
      if (budget >= 16) expect(seen).toBeGreaterThan(budget / 2);
    }
    // A tighter budget asks for a lower index before alarming.
    expect(budgetThreshold(calib, scale, 0.25, rule).threshold).toBeLessThan(budgetThreshold(calib, scale, 4, rule).threshold);
  });

  it('never picks a threshold at which more than the budget was counted', () => {
    const rng = new Rng(11);
    const calib = smoothSeries(normalSeries(rng, 4, 30), rule, 8, 3);
    const scale = scaleOf(calib);
    const budget = 2;
    const b = budgetThreshold(calib, scale, budget, rule);
    expect(episodesPerMonth(calib, b.threshold, scale)).toBeLessThanOrEqual(budget);
  });

  it('stays within the index and falls back without a usable fit', () => {
    const flat = [{ machine: 'm', endTs: Float64Array.from({ length: 100 }, (_, i) => i * STEP), score: new Float32Array(100).fill(3) }];
    const s = smoothSeries(flat, rule, 3, 3);
    const b = budgetThreshold(s, { median: 3, p99: 3.01 }, 1, rule);
    expect(b.points).toBe(0);
    expect(b.threshold).toBeGreaterThanOrEqual(1);
    expect(b.threshold).toBeLessThanOrEqual(99);
  });
});

describe('few-shot threshold from labelled failures', () => {
  /** Normal scores, then a run-up to a failure at the end: the score climbs over the last `rampSteps`. */
  function runUp(rng: Rng, machine: string, steps: number, rampSteps: number, height: number): Positive {
    const [raw] = normalSeries(rng, 1, Math.ceil(steps / DAY_STEPS));
    const score = raw!.score.subarray(0, steps);
    for (let i = steps - rampSteps; i < steps; i++) score[i]! += (height * (i - (steps - rampSteps))) / rampSteps;
    const endTs = raw!.endTs.subarray(0, steps);
    const [series] = smoothSeries([{ machine, endTs, score }], rule, 8, 3);
    return { machine, kind: 'failure', ts: endTs[steps - 1]!, series: series! };
  }

  it('keeps warning of each labelled failure with a less sensitive threshold than the budget alone', () => {
    const rng = new Rng(3);
    const calib = smoothSeries(normalSeries(rng, 4, 14), rule, 8, 3);
    const scale = scaleOf(calib);
    const budget = budgetThreshold(calib, scale, 1, rule).threshold;
    const positives = [runUp(rng, 'm0', 600, 200, 200), runUp(rng, 'm1', 600, 150, 150)];
    const chosen = labelledThreshold(positives, budget, scale, rule);
    expect(chosen).not.toBeNull();
    expect(chosen!).toBeLessThanOrEqual(budget);
    for (const p of positives) {
      const [e] = alertEpisodes([p.series], chosen!, scale, rule);
      expect(e!.openAt(p.ts)).not.toBeNull();
    }
  });

  it('gives nothing when the budget threshold itself misses a labelled failure', () => {
    const rng = new Rng(5);
    const calib = smoothSeries(normalSeries(rng, 4, 14), rule, 8, 3);
    const scale = scaleOf(calib);
    const budget = budgetThreshold(calib, scale, 1, rule).threshold;
    // A failure with no run-up at all: nothing within the budget announces it.
    expect(labelledThreshold([runUp(rng, 'm0', 400, 10, 0)], budget, scale, rule)).toBeNull();
    expect(labelledThreshold([], budget, scale, rule)).toBeNull();
  });
});
