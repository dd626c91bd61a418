import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/core/backoff.js';

describe('backoff', () => {
  it('doubles from the initial wait with each failure, up to the maximum', () => {
    const o = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((f) => backoffDelay(f, o))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(0, o)).toBe(100);
  });

  it('adds at most its jitter share, never less than the base', () => {
    expect(backoffDelay(2, { initialMs: 100, maxMs: 1000, jitter: 0.2, random: () => 0 })).toBe(200);
    expect(backoffDelay(2, { initialMs: 100, maxMs: 1000, jitter: 0.2, random: () => 1 })).toBe(240);
    for (let i = 0; i < 100; i++) expect(backoffDelay(9, { initialMs: 100, maxMs: 1000, jitter: 0.2 })).toBeGreaterThanOrEqual(1000);
  });
});
