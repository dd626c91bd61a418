import { describe, expect, it } from 'vitest';
import type { MachineEvent, Sample } from '../../src/core/types.js';
import { alignToGrid } from '../../src/features/align.js';
import { labelSteps } from '../../src/features/labels.js';
import { applyNormalisation, fitNormalisation } from '../../src/features/normalize.js';
import { splitByMachineAndTime } from '../../src/features/split.js';
import { buildWindows, lastWindow, oversamplePositives } from '../../src/features/windows.js';

const M = { site: 's', line: 'l', machine: 'm' };
const STEP = 60_000;
const at = (k: number, values: Record<string, number>, offset = 0): Sample => ({ machine: M, ts: k * STEP + offset, values });
const col = (seg: { data: Float32Array; sensors: readonly string[]; steps: number }, name: string) => {
  const f = seg.sensors.indexOf(name);
  return Array.from({ length: seg.steps }, (_, k) => seg.data[k * seg.sensors.length + f]);
};

describe('alignment to a fixed step', () => {
  it('averages within a step, forward-fills short gaps, breaks at long ones', () => {
    const samples = [at(0, { a: 1 }), at(0, { a: 3 }, 30_000), at(1, { a: 5, b: 7 }), at(3, { a: 6 }), at(10, { a: 9, b: 1 })];
    const { segments, stats } = alignToGrid('m', samples, ['a', 'b'], STEP, 2);
    expect(segments.map((s) => [s.startTs, s.steps])).toEqual([
      [0, 4],
      [10 * STEP, 1],
    ]);
    expect(col(segments[0]!, 'a')).toEqual([2, 5, 5, 6]);
    // b is back-filled before its first reading, carried forward after it.
    expect(col(segments[0]!, 'b')).toEqual([7, 7, 7, 7]);
    expect(stats.breaks).toBe(1);
    expect(stats.missingRatio.a).toBeCloseTo(7 / 11);
    expect(stats.flatlineRatio.a).toBe(0);
  });

  it('reports stuck sensors as a flatline ratio', () => {
    const { stats } = alignToGrid(
      'm',
      Array.from({ length: 11 }, (_, k) => at(k, { stuck: 4.2, live: k })),
      ['stuck', 'live'],
      STEP,
      0,
    );
    expect(stats.flatlineRatio).toEqual({ stuck: 1, live: 0 });
  });

  it('leaves a sensor that never reports as NaN, which normalisation turns into 0', () => {
    const { segments } = alignToGrid('m', [at(0, { a: 1 }), at(1, { a: 2 })], ['a', 'zz'], STEP, 0);
    expect(col(segments[0]!, 'zz').every(Number.isNaN)).toBe(true);
    const norm = fitNormalisation(segments, ['a', 'zz']);
    expect(norm.sensors).toEqual(['a']);
    expect(norm.dropped).toEqual(['zz']);
  });
});

describe('labels', () => {
  // One machine, 20 steps of data, a failure at the end of step 11 (ts 12·STEP), repaired at step 14.
  const seg = alignToGrid(
    'm',
    Array.from({ length: 20 }, (_, k) => at(k, { a: k })),
    ['a'],
    STEP,
    0,
  ).segments[0]!;
  const events: MachineEvent[] = [
    { machine: M, ts: 12 * STEP, type: 'failure' },
    { machine: M, ts: 14 * STEP, type: 'repair' },
  ];

  it('positive within the horizon, RUL to the failure, nothing across or right after it', () => {
    const l = labelSteps(seg, 3, events, { horizonSteps: 4, rulCapSteps: 6, observedUntil: 20 * STEP });
    const usable = Array.from(l.usable);
    // Window ending with step 11 ends exactly at the failure: RUL 0.
    expect(l.rul[11]).toBe(0);
    expect(l.failure[11]).toBe(1);
    expect(l.rul[7]).toBe(4);
    expect(l.failure[7]).toBe(1);
    expect(l.rul[6]).toBe(5);
    expect(l.failure[6]).toBe(0);
    expect(l.rul[2]).toBe(6); // capped
    // Windows ending at steps 12..16 contain the failure or start before the repair.
    expect(usable.slice(12, 17)).toEqual([0, 0, 0, 0, 0]);
    // Step 17's window (steps 15..17) starts after the repair: usable, and with no failure ahead it
    // needs max(horizon, cap) = 6 steps of data after it — only 2 remain, so censored.
    expect(usable.slice(17)).toEqual([0, 0, 0]);
    expect(usable.slice(0, 12)).toEqual(Array(12).fill(1));
  });

  it('windows far enough from the end with no failure ahead are negative with RUL at the cap', () => {
    const l = labelSteps(seg, 3, [], { horizonSteps: 2, rulCapSteps: 3, observedUntil: 20 * STEP });
    expect(Array.from(l.usable)).toEqual([...Array(17).fill(1), 0, 0, 0]);
    expect(l.failure.every((v) => v === 0)).toBe(true);
    expect(l.rul[0]).toBe(3);
  });
});

describe('windows', () => {
  const seg = alignToGrid(
    'm',
    Array.from({ length: 10 }, (_, k) => at(k, { a: k, b: 10 + k })),
    ['a', 'b'],
    STEP,
    0,
  ).segments[0]!;
  const labels = labelSteps(seg, 4, [{ machine: M, ts: 10 * STEP, type: 'failure' }], {
    horizonSteps: 2,
    rulCapSteps: 100,
    observedUntil: 10 * STEP,
  });

  it('slides with a stride anchored on the newest step', () => {
    const ws = buildWindows([{ seg, labels }], 4, 3);
    expect(ws.n).toBe(3);
    expect(Array.from(ws.rul)).toEqual([6, 3, 0]);
    expect(Array.from(ws.failure)).toEqual([0, 0, 1]);
    // Window 0 covers steps 0..3 of feature a, b interleaved.
    expect(Array.from(ws.x.subarray(0, 8))).toEqual([0, 10, 1, 11, 2, 12, 3, 13]);
    expect(ws.endTs[2]).toBe(10 * STEP);
  });

  it('front-pads the last window of a short series', () => {
    const short = { ...seg, steps: 2, data: seg.data.slice(0, 4) };
    expect(Array.from(lastWindow(short, 4))).toEqual([0, 10, 0, 10, 0, 10, 1, 11]);
  });

  it('with a shorter minimum history, adds windows front-padded as the last window of a short series', () => {
    const ws = buildWindows([{ seg, labels }], 4, 3, 2);
    // Steps 9, 6, 3 as before, and step 0 is below the minimum history of 2: no further window.
    expect(ws.n).toBe(3);
    const padded = buildWindows([{ seg, labels }], 4, 1, 2);
    expect(padded.n).toBe(9);
    expect(Array.from(padded.rul.subarray(0, 3))).toEqual([8, 7, 6]);
    // The window ending at step 1 equals the scoring path's window of a two-step series.
    const short = { ...seg, steps: 2, data: seg.data.slice(0, 4) };
    expect(Array.from(padded.x.subarray(0, 8))).toEqual(Array.from(lastWindow(short, 4)));
    expect(padded.endTs[0]).toBe(2 * STEP);
    // From step 3 on, the windows are the full ones.
    expect(Array.from(padded.x.subarray(2 * 8, 3 * 8))).toEqual([0, 10, 1, 11, 2, 12, 3, 13]);
    expect(buildWindows([{ seg, labels }], 4, 1).n).toBe(7);
  });

  it('oversamples failure windows to the requested share', () => {
    const ws = buildWindows([{ seg, labels }], 4, 1);
    expect(ws.failure.reduce((a, b) => a + b, 0)).toBe(3);
    const balanced = oversamplePositives(ws, 0.5, () => 0.3);
    expect(balanced.failure.reduce((a, b) => a + b, 0) / balanced.n).toBeCloseTo(0.5, 1);
  });
});

describe('split and normalisation', () => {
  const machines = Array.from({ length: 10 }, (_, i) => `m${i}`);
  // Each machine has its own level, so statistics betray which machines they came from.
  const items = machines.map((name, i) => {
    const seg = alignToGrid(
      name,
      Array.from({ length: 30 }, (_, k) => ({ machine: { ...M, machine: name }, ts: k * STEP, values: { a: i * 100 + (k % 3) } })),
      ['a'],
      STEP,
      0,
    ).segments[0]!;
    return { seg, labels: labelSteps(seg, 5, [], { horizonSteps: 5, rulCapSteps: 5, observedUntil: 40 * STEP }) };
  });

  it('holds out whole machines, seeded, and normalisation sees only the training machines', () => {
    let x = 0.1;
    const rng = () => (x = (x * 9301 + 0.49297) % 1);
    const split = splitByMachineAndTime(items, 0.2, 5, rng);
    expect(split.method).toBe('by-machine');
    expect(split.validationMachines).toHaveLength(2);
    const trainMachines = new Set(split.train.map((i) => i.seg.machine));
    for (const m of split.validationMachines) expect(trainMachines.has(m)).toBe(false);
    const norm = fitNormalisation(
      split.train.map((i) => i.seg),
      ['a'],
    );
    const trainLevels = [...trainMachines].map((m) => Number(m.slice(1)) * 100 + 1);
    expect(norm.mean[0]).toBeCloseTo(trainLevels.reduce((a, b) => a + b, 0) / trainLevels.length, 6);
    const z = applyNormalisation(split.train[0]!.seg, norm);
    expect(z.sensors).toEqual(['a']);
  });

  it('with few machines and failed runs, holds out the latest lives whole: training keeps failures, validation is later', () => {
    // Two machines, three lives each (30 steps, a failure at the end of each), then a live run with no failure yet.
    const lives = ['a', 'b'].flatMap((name, m) =>
      [0, 1, 2, 3].map((life) => {
        const start = (life * 40 + m * 5) * STEP;
        const seg = alignToGrid(
          name,
          Array.from({ length: 30 }, (_, k) => ({ machine: { ...M, machine: name }, ts: start + k * STEP, values: { a: k } })),
          ['a'],
          STEP,
          0,
        ).segments[0]!;
        const events: MachineEvent[] = life < 3 ? [{ machine: { ...M, machine: name }, ts: start + 30 * STEP, type: 'failure' }] : [];
        return { seg, labels: labelSteps(seg, 5, events, { horizonSteps: 5, rulCapSteps: 10, observedUntil: 200 * STEP }) };
      }),
    );
    const split = splitByMachineAndTime(lives, 0.34, 5, () => 0);
    expect(split.method).toBe('by-life');
    const failed = (xs: typeof lives) => xs.filter((i) => i.labels.failure.some((v) => v === 1)).length;
    expect(failed(split.train)).toBe(4);
    expect(failed(split.validation)).toBe(2);
    // Both live runs (no failure yet) are the latest data: they validate.
    expect(split.validation).toHaveLength(4);
    const lastTrainEnd = Math.max(...split.train.map((i) => i.seg.startTs + i.seg.steps * STEP));
    for (const v of split.validation) expect(v.seg.startTs + v.seg.steps * STEP).toBeGreaterThan(lastTrainEnd);
    expect(split.validationMachines).toEqual(['a', 'b']);
  });

  it('with few machines, holds out the latest part of each with a window-long gap', () => {
    const split = splitByMachineAndTime(items.slice(0, 2), 0.2, 5, () => 0);
    expect(split.method).toBe('by-time');
    const train = split.train[0]!.seg;
    const val = split.validation[0]!.seg;
    expect(train.startTs + train.steps * STEP + 5 * STEP).toBeLessThanOrEqual(val.startTs);
  });
});
