import { describe, expect, it } from 'vitest';
import { labelSteps } from '../../src/features/labels.js';
import { buildWindows } from '../../src/features/windows.js';
import {
  averagePrecision,
  bestF1Threshold,
  classification,
  leadTimes,
  rocAuc,
  rulMetrics,
  thresholdForShare,
} from '../../src/model/metrics.js';

describe('metrics', () => {
  const scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2];
  const labels = [1, 1, 0, 1, 0, 0, 1, 0];

  it('computes the confusion matrix, precision, recall, F1 and accuracy at a threshold', () => {
    const m = classification(scores, labels, 0.55);
    expect(m.confusion).toEqual({ tp: 3, fp: 1, tn: 3, fn: 1 });
    expect(m.precision).toBeCloseTo(0.75);
    expect(m.recall).toBeCloseTo(0.75);
    expect(m.f1).toBeCloseTo(0.75);
    expect(m.accuracy).toBeCloseTo(0.75);
  });

  it('average precision and ROC AUC match hand computation', () => {
    // Precision at each positive: 1/1, 2/2, 3/4, 4/7 → AP = (1 + 1 + 0.75 + 4/7) / 4.
    expect(averagePrecision(scores, labels)).toBeCloseTo((1 + 1 + 0.75 + 4 / 7) / 4);
    // Pairs (pos, neg) ranked right: 4+4+3+1 of 16.
    expect(rocAuc(scores, labels)).toBeCloseTo(12 / 16);
    expect(rocAuc([0.5, 0.5], [1, 0])).toBe(0.5);
    expect(averagePrecision([0.1, 0.2], [0, 0])).toBe(0);
  });

  it('picks the threshold with the best F1', () => {
    expect(bestF1Threshold([0.1, 0.4, 0.35, 0.8], [0, 1, 0, 1])).toBe(0.4);
  });

  it('carries a threshold over as the share of windows it flags', () => {
    const scores = [0.9, 0.2, 0.6, 0.4, 0.7];
    const flags = (t: number) => scores.filter((s) => s >= t).length;
    // Two of five: halfway between the second highest (0.7) and the third (0.6).
    expect(thresholdForShare(scores, 0.4)).toBeCloseTo(0.65, 9);
    for (const share of [0, 0.2, 0.4, 0.6, 0.8, 1]) expect(flags(thresholdForShare(scores, share))).toBe(Math.round(share * 5));
    // Windows tied with the last one flagged are flagged with it.
    expect(flags(thresholdForShare([0.5, 0.5, 0.5, 0.1], 0.5))).toBe(3);
    expect(thresholdForShare([], 0.3)).toBe(0.5);
  });

  it('RUL RMSE, MAE and the Saxena score (late costs more than early)', () => {
    const m = rulMetrics([10, 20, 30], [13, 20, 20]);
    expect(m.rmse).toBeCloseTo(Math.sqrt((9 + 0 + 100) / 3));
    expect(m.mae).toBeCloseTo(13 / 3);
    expect(m.score).toBeCloseTo(Math.exp(3 / 13) - 1 + Math.exp(10 / 10) - 1);
    expect(rulMetrics([0], [10]).score).toBeLessThan(rulMetrics([20], [10]).score);
  });

  it('lead time: the start of the final run of alarms before each failure; a failure without one is missed', () => {
    const step = 60_000;
    const w = (machine: string, k: number, failAt: number, score: number) => ({
      machine,
      endTs: k * step,
      failureTs: failAt * step,
      score,
    });
    const windows = [
      w('a', 5, 10, 0.9),
      w('a', 6, 10, 0.1),
      w('a', 7, 10, 0.8),
      w('a', 8, 10, 0.9),
      w('a', 9, 10, 0.95),
      w('b', 8, 10, 0.9),
      w('b', 9, 10, 0.1),
    ];
    expect(leadTimes(windows, 0.5, 5 * step)).toEqual({ detected: 1, missed: 1, meanLeadMs: 3 * step });
  });

  it('lead time counts failures, not windows, when the RUL cap is below the horizon', () => {
    // A horizon of 144 steps and a RUL cap of 125: two failures, each led up to by many windows.
    const step = 600_000;
    const seg = { machine: 'm', sensors: ['a'], stepMs: step, startTs: 0, steps: 400, data: new Float32Array(400) };
    const ref = { site: 's', line: 'l', machine: 'm' };
    const events = [
      { machine: ref, ts: 200 * step, type: 'failure' as const },
      { machine: ref, ts: 220 * step, type: 'repair' as const },
      { machine: ref, ts: 390 * step, type: 'failure' as const },
    ];
    const labels = labelSteps(seg, 10, events, { horizonSteps: 144, rulCapSteps: 125, observedUntil: 400 * step });
    const windows = buildWindows([{ seg, labels }], 10, 1);
    // Alarms in the last 20 steps before each failure.
    const at = (i: number) => ({
      machine: 'm',
      endTs: windows.endTs[i]!,
      failureTs: windows.failureTs[i]!,
      score: windows.failureTs[i]! - windows.endTs[i]! <= 20 * step ? 0.9 : 0.1,
    });
    const lead = leadTimes(
      Array.from({ length: windows.n }, (_, i) => at(i)),
      0.5,
      144 * step,
    );
    expect(lead).toEqual({ detected: 2, missed: 0, meanLeadMs: 20 * step });
  });
});
