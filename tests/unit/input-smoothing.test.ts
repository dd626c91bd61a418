import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import type { Sample } from '../../src/core/types.js';
import { alignToGrid, type Segment } from '../../src/features/align.js';
import { applyNormalisation, borrowStatistics, fitNormalisation, smoothingWarmupSteps } from '../../src/features/normalize.js';
import { normalisationProblem } from '../../src/registry/meta.js';
import { kindGrid } from '../../src/scoring/kind-champions.js';
import { M1 } from '../support/fixtures.js';

const STEP = 1000;
const col = (seg: Segment, f: number) => Array.from({ length: seg.steps }, (_, k) => seg.data[k * seg.sensors.length + f]!);

/** A slow drift under noise five times its size, and a second sensor on another scale. */
function noisy(steps: number, seed: number): Segment {
  const rng = new Rng(seed);
  const samples: Sample[] = Array.from({ length: steps }, (_, k) => ({
    machine: M1,
    ts: k * STEP,
    values: { temp: 500 + 0.02 * k + 5 * rng.normal(), flow: 3 + 0.1 * rng.normal() },
  }));
  return alignToGrid('m1', samples, ['temp', 'flow'], STEP, 2).segments[0]!;
}

/** Exponential smoothing of one series, a missing value carrying the smoothed one. */
function ewma(xs: readonly number[], alpha: number): number[] {
  let s = NaN;
  return xs.map((v) => (s = Number.isNaN(v) ? s : Number.isNaN(s) ? v : alpha * v + (1 - alpha) * s));
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: readonly number[]) => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1));

describe('smoothed inputs', () => {
  it('on one regime equal smoothing the readings and z-scoring the result by its training statistics', () => {
    const train = [noisy(300, 1), noisy(200, 2)];
    const norm = fitNormalisation(train, ['temp', 'flow'], undefined, 0.3);
    expect(norm.smoothing?.alpha).toBe(0.3);
    // The same arithmetic written out: smooth each raw series, fit mean and spread on the smoothed values.
    train[0]!.sensors.forEach((_, f) => {
      const smoothed = train.map((seg) => ewma(col(seg, f), 0.3));
      const all = smoothed.flat();
      const out = applyNormalisation(train[1]!, norm);
      const expected = smoothed[1]!.map((v) => (v - mean(all)) / sd(all));
      col(out, f).forEach((v, k) => expect(v).toBeCloseTo(expected[k]!, 4));
    });
    // The smoothed inputs keep unit spread on the training data, and the drift shows through the noise.
    const out = applyNormalisation(train[0]!, norm);
    expect(sd(train.flatMap((seg) => col(applyNormalisation(seg, norm), 0)))).toBeCloseTo(1, 4);
    const raw = applyNormalisation(train[0]!, fitNormalisation(train, ['temp', 'flow']));
    const withTime = (xs: number[]) => {
      const ks = xs.map((_, k) => k);
      return mean(xs.map((v, k) => (v - mean(xs)) * (k - mean(ks)))) / (sd(xs) * sd(ks));
    };
    // Correlation with time: 0.27 raw, 0.57 smoothed on this series.
    expect(withTime(col(out, 0))).toBeGreaterThan(2 * withTime(col(raw, 0)));
  });

  it('smooths after the per-regime z-score, so a regime change is not a jump, and leaves the regime inputs alone', () => {
    const rng = new Rng(3);
    // Two operating points a hundred units apart, switching every few steps.
    const samples: Sample[] = Array.from({ length: 400 }, (_, k) => {
      const r = Math.floor(k / 3) % 2;
      return { machine: M1, ts: k * STEP, values: { load: r * 50 + 0.01 * rng.normal(), temp: 100 + 100 * r + rng.normal() } };
    });
    const seg = alignToGrid('m1', samples, ['temp', 'load'], STEP, 2).segments[0]!;
    const fit = { conditions: ['load'], k: 2, maxK: 4, minExplained: 0.99, seed: 1 };
    const norm = fitNormalisation([seg], ['temp', 'load'], fit, 0.2);
    const out = applyNormalisation(seg, norm);
    expect(out.sensors).toEqual(['temp', 'regime 1', 'regime 2']);
    // z within each regime is noise of unit spread; smoothed, it stays near zero across every switch.
    expect(Math.max(...col(out, 0).slice(20).map(Math.abs))).toBeLessThan(4);
    expect(new Set(col(out, 1))).toEqual(new Set([0, 1]));
    expect(col(out, 1).map((v, k) => v + col(out, 2)[k]!)).toEqual(col(out, 1).map(() => 1));
  });

  it('carries the smoothed value over a missing reading; none before the first (the mean)', () => {
    const seg: Segment = { machine: 'm1', startTs: 0, stepMs: 1, sensors: ['a'], steps: 5, data: Float32Array.from([NaN, 0, 10, NaN, 10]) };
    const norm = { sensors: ['a'], mean: [0], std: [1], dropped: [], smoothing: { alpha: 0.5, mean: [0], std: [1] } };
    expect(Array.from(applyNormalisation(seg, norm).data)).toEqual([0, 0, 5, 5, 7.5]);
    const plain = { sensors: ['a'], mean: [0], std: [1], dropped: [] };
    expect(Array.from(applyNormalisation(seg, plain).data)).toEqual([0, 0, 10, 0, 10]);
  });

  it('keeps history for the smoothing to settle before the window, and none without it', () => {
    expect(smoothingWarmupSteps({ smoothing: { alpha: 0.3, mean: [], std: [] } })).toBe(20);
    expect(0.7 ** 20).toBeLessThan(1e-3);
    expect(smoothingWarmupSteps({})).toBe(0);
    const smoothed = { stepMs: 60_000, window: 50, normalisation: { smoothing: { alpha: 0.3, mean: [], std: [] } } };
    expect(kindGrid([smoothed], { stepMs: 60_000, windowSteps: 50 }, 5).keep).toBe(50 + 20 + 5 + 2);
    expect(kindGrid([{ stepMs: 60_000, window: 50, normalisation: {} }], { stepMs: 60_000, windowSteps: 50 }, 5).keep).toBe(57);
  });

  it('a scored window matches the training one once the history covers the settling steps', () => {
    const seg = noisy(200, 4);
    const norm = fitNormalisation([seg], ['temp', 'flow'], undefined, 0.3);
    const whole = applyNormalisation(seg, norm);
    const from = 200 - 50 - smoothingWarmupSteps(norm);
    const tail: Segment = { ...seg, startTs: from * STEP, steps: 200 - from, data: seg.data.slice(from * 2) };
    const recent = applyNormalisation(tail, norm);
    for (let k = 1; k <= 50; k++)
      for (let f = 0; f < 2; f++)
        expect(Math.abs(recent.data[(recent.steps - k) * 2 + f]! - whole.data[(200 - k) * 2 + f]!)).toBeLessThan(0.01);
  });

  it('a transfer borrows the smoothed statistics with the plain ones, and neither when the two smooth differently', () => {
    const a = fitNormalisation([noisy(200, 5)], ['temp', 'flow'], undefined, 0.3);
    const b = fitNormalisation([noisy(200, 6)], ['temp', 'flow'], undefined, 0.3);
    const borrowed = borrowStatistics(a, b);
    expect(borrowed.mean).toEqual(b.mean);
    expect(borrowed.smoothing).toEqual(b.smoothing);
    const unsmoothed = fitNormalisation([noisy(200, 6)], ['temp', 'flow']);
    expect(borrowStatistics(a, unsmoothed)).toBe(a);
  });

  it('model files with smoothed statistics of the wrong length are refused', () => {
    const norm = { sensors: ['a', 'b'], mean: [0, 0], std: [1, 1], dropped: [], smoothing: { alpha: 0.3, mean: [0], std: [1] } };
    expect(normalisationProblem(norm)).toBe('2 sensors but smoothed statistics for 1');
    expect(normalisationProblem({ ...norm, smoothing: { alpha: 0.3, mean: [0, 0], std: [1, 1] } })).toBeNull();
  });
});
