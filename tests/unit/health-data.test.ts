import { describe, expect, it } from 'vitest';
import type { MachineEvent } from '../../src/core/types.js';
import type { Segment } from '../../src/features/index.js';
import { normalWindows, type VerdictPeriod } from '../../src/training/health-data.js';
import { M1 } from '../support/fixtures.js';

const STEP = 600_000;
const seg: Segment = { machine: 'm1', startTs: 0, stepMs: STEP, sensors: ['a'], steps: 100, data: new Float32Array(100) };
/** The end of the window that ends with step k. */
const endOf = (k: number) => (k + 1) * STEP;
const opts = (periods: VerdictPeriod[] = []) => ({ windowSteps: 10, horizonSteps: 5, periods });
const ones = (a: Uint8Array) => [...a.keys()].filter((k) => a[k] === 1);

describe('normal windows of a health model', () => {
  it('every full window is normal with no labels and no verdicts', () => {
    const { normal, vouched } = normalWindows(seg, [], opts());
    expect(ones(normal)).toEqual([...Array(91).keys()].map((k) => k + 9));
    expect(ones(vouched)).toEqual([]);
  });

  it('leaves out the run-up to a labelled failure and the time until its repair', () => {
    const events: MachineEvent[] = [
      { machine: M1, ts: endOf(50), type: 'failure' },
      { machine: M1, ts: endOf(70), type: 'repair' },
    ];
    const { normal } = normalWindows(seg, events, opts());
    const n = ones(normal);
    // Windows ending within the horizon (5 steps) before the failure, or containing it: out.
    expect(n).toContain(44);
    expect(n).not.toContain(45);
    expect(n).not.toContain(50);
    // Between the failure and the repair: out; windows starting after the repair: back in.
    expect(n).not.toContain(65);
    expect(n).not.toContain(79);
    expect(n).toContain(80);
  });

  it('leaves out abnormal and unjudged periods, and marks the ones called normal', () => {
    const periods: VerdictPeriod[] = [
      { machine: 'm1', from: endOf(20), to: endOf(25), verdict: 'abnormal' },
      { machine: 'm1', from: endOf(60), to: endOf(62), verdict: 'suspect' },
      { machine: 'm1', from: endOf(85), to: endOf(90), verdict: 'normal' },
      { machine: 'm2', from: 0, to: endOf(99), verdict: 'abnormal' },
    ];
    const { normal, vouched } = normalWindows(seg, [], opts(periods));
    const n = ones(normal);
    // A window touches a period that begins before its end and ends at or after its start.
    expect(n).toContain(20);
    expect(n).not.toContain(21);
    expect(n).not.toContain(34);
    expect(n).toContain(36);
    expect(n).not.toContain(61);
    expect(n).toContain(90);
    expect(ones(vouched)).toEqual([...Array(14).keys()].map((k) => k + 86));
  });
});
