import { describe, expect, it } from 'vitest';
import { HysteresisRule } from '../../src/core/hysteresis.js';

const opts = { high: 0.7, low: 0.3, openAfter: 3, closeAfter: 2 };

describe('failure-risk rule (debounce + hysteresis)', () => {
  it.each([
    ['one spike opens nothing', [0.9, 0.1, 0.9, 0.1], [null, null, null, null]],
    ['k consecutive highs open', [0.8, 0.9, 0.75], [null, null, 'open']],
    ['a score between the thresholds breaks the run', [0.8, 0.9, 0.5, 0.8, 0.9], [null, null, null, null, null]],
    ['repeats while open update', [0.8, 0.8, 0.8, 0.95, 0.5], ['', '', 'open', 'update', null]],
    ['closes after m consecutive lows only', [0.8, 0.8, 0.8, 0.2, 0.5, 0.2, 0.1], ['', '', 'open', null, null, null, 'close']],
    ['hovering between low and high keeps it open', [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.4], ['', '', 'open', null, null, null, null]],
    [
      'reopens after closing only with a fresh run',
      [0.8, 0.8, 0.8, 0.1, 0.1, 0.8, 0.8, 0.8],
      ['', '', 'open', null, 'close', null, null, 'open'],
    ],
    ['exactly at high counts as high; exactly at low is not low', [0.7, 0.7, 0.7, 0.3, 0.3], ['', '', 'open', 'x', 'x']],
  ])('%s', (_name, scores, expected) => {
    const rule = new HysteresisRule(opts);
    const got = scores.map((p) => rule.observe(p));
    expected.forEach((e, i) => {
      if (e === '') return;
      if (e === 'x') expect(got[i]).not.toBe('close');
      else expect(got[i]).toBe(e);
    });
  });

  it('starts counting afresh after an outside reset, and can resume as open', () => {
    const rule = new HysteresisRule(opts);
    rule.observe(0.9);
    rule.observe(0.9);
    rule.reset(false);
    expect(rule.observe(0.9)).toBeNull();
    const resumed = new HysteresisRule(opts);
    resumed.reset(true);
    expect(resumed.observe(0.9)).toBe('update');
    expect(resumed.observe(0.1)).toBeNull();
    expect(resumed.observe(0.1)).toBe('close');
  });

  it('takes a new champion threshold without losing its state', () => {
    const rule = new HysteresisRule(opts);
    rule.observe(0.8);
    rule.observe(0.8);
    rule.setHigh(0.75, 0.3);
    expect(rule.observe(0.8)).toBe('open');
    const stricter = new HysteresisRule(opts);
    stricter.setHigh(0.85, 0.3);
    expect([0.8, 0.8, 0.8].map((p) => stricter.observe(p))).toEqual([null, null, null]);
  });
});
