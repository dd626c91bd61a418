import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LayersModel } from '@tensorflow/tfjs';
import {
  averageOverLastWindows,
  CMAPSS_INPUTS,
  CMAPSS_SENSORS,
  evaluateCmapssTest,
  labelledTrainingUnits,
} from '../../bench/lib/cmapss.js';
import type { TF } from '../../src/model/backend.js';
import { tempDir } from '../support/fixtures.js';

const row = (unit: number, cycle: number) =>
  `${unit} ${cycle} ${Array.from({ length: 24 }, (_, i) => (i * 1.5 + cycle).toFixed(2)).join(' ')}`;

describe('C-MAPSS model inputs', () => {
  it('the cycle count is an input column next to the sensors, and --sensors-only leaves it out', () => {
    const file = path.join(tempDir(), 'train_FD001.txt');
    writeFileSync(file, Array.from({ length: 60 }, (_, k) => row(1, k + 1)).join('\n'));
    const [unit] = labelledTrainingUnits(file, { window: 50, horizon: 30, rulCap: 125 });
    expect(unit!.seg.sensors).toEqual(CMAPSS_INPUTS);
    const cycleColumn = CMAPSS_INPUTS.indexOf('cycle');
    const F = CMAPSS_INPUTS.length;
    expect(Array.from({ length: 60 }, (_, k) => unit!.seg.data[k * F + cycleColumn])).toEqual(Array.from({ length: 60 }, (_, k) => k + 1));
    const [sensorsOnly] = labelledTrainingUnits(file, { window: 50, horizon: 30, rulCap: 125, inputs: CMAPSS_SENSORS });
    expect(sensorsOnly!.seg.sensors).toEqual(CMAPSS_SENSORS);
  });

  it('the test protocol refuses a model input the C-MAPSS files do not have, instead of scoring it as its mean', () => {
    const norm = { sensors: ['s2', 'hours'], mean: [0, 0], std: [1, 1], dropped: [] };
    const unused = null as unknown as TF;
    expect(() =>
      evaluateCmapssTest(unused, null as unknown as LayersModel, norm, 'test_FD001.txt', 'RUL_FD001.txt', {
        window: 50,
        horizon: 30,
        rulCap: 125,
        threshold: 0.5,
      }),
    ).toThrow(/the model's inputs hours are not C-MAPSS values/);
  });
});

describe('averaging each engine over its last windows', () => {
  // Two engines, windows in time order, one cycle apart; RUL predictions as fractions of the cap (100).
  const ws = { n: 5, machine: ['a', 'a', 'a', 'b', 'b'], endTs: Float64Array.from([10, 11, 12, 20, 21]) };
  const p = [0.1, 0.2, 0.6, 0.9, 0.5];
  const rul = [0.5, 0.45, 0.4, 0.2, 0.21];

  it('averages within an engine only, earlier RULs less the cycles since', () => {
    const out = averageOverLastWindows(ws, p, rul, 2, { rulCap: 100, stepMs: 1 });
    expect(Array.from(out.p).map((v) => Math.round(v * 1e9) / 1e9)).toEqual([0.1, 0.15, 0.4, 0.9, 0.7]);
    // Window 2: (45 − 1 + 40) / 2 = 42; engine b's first window has no predecessor of its own.
    expect(Array.from(out.rul).map((r) => Math.round(r * 100) / 100)).toEqual([50, 47, 42, 20, 20]);
  });

  it('with one window is the prediction itself', () => {
    const out = averageOverLastWindows(ws, p, rul, 1, { rulCap: 100, stepMs: 1 });
    expect(Array.from(out.p)).toEqual(p);
    expect(Array.from(out.rul).map((r) => Math.round(r * 100) / 100)).toEqual([50, 45, 40, 20, 21]);
  });
});
