import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import type { LabelledSegment } from '../../src/features/split.js';
import { bootstrapOverMachines, rulByBand } from '../../src/model/metrics.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { biasReport, liveRegimeWarnings } from '../../src/training/bias-report.js';
import { describeModel } from '../../src/commands/model-text.js';
import { tempDir } from '../support/fixtures.js';
import { testMeta } from '../support/model-meta.js';

/** A segment of `steps` steps whose labels lead up to the given failure times (NaN: none in sight). */
function item(machine: string, failures: number[], steps = 20): LabelledSegment {
  const failureTs = new Float64Array(steps).fill(NaN);
  failures.forEach((ts, i) => failureTs.fill(ts, Math.floor((i * steps) / failures.length)));
  return {
    seg: { machine, startTs: 0, stepMs: 1, sensors: ['a'], steps, data: new Float32Array(steps) },
    labels: { failure: new Uint8Array(steps), rul: new Float32Array(steps), failureTs, usable: new Uint8Array(steps).fill(1) },
  };
}

describe('bias and coverage report', () => {
  it('names the machines failures were learned from and warns a technician about what is thin', () => {
    const train = [item('m1', [100, 200, 300]), ...['m2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'].map((m) => item(m, []))];
    const report = biasReport({
      split: { train, validation: [item('v1', [50]), item('v2', [])], method: 'by-machine', validationMachines: ['v1', 'v2'] },
      norm: {
        sensors: ['a'],
        mean: [0],
        std: [1],
        dropped: ['b'],
        regimes: {
          model: {
            conditions: ['load'],
            centre: [0],
            scale: [1],
            centroids: [[0], [1]],
            chosenBy: 'rule',
            explained: 1,
            trainShare: [0.995, 0.005],
          },
          mean: [[0], [0]],
          std: [[1], [1]],
        },
      },
      positives: { train: 10, trainWindows: 1000, validation: 5, validationWindows: 100 },
      quality: { missingRatio: { a: 0.1, c: 0.8 }, flatlineRatio: { a: 0.95 } },
      span: { from: 0, to: 10 },
      intervals: null,
    });
    expect(report.failures.train).toEqual([{ machine: 'm1', failures: 3 }]);
    expect(report.failures.validation).toEqual([{ machine: 'v1', failures: 1 }]);
    expect(report.positiveShare).toEqual({ train: 0.01, validation: 0.05 });
    expect(report.heldOut).toEqual(['v1', 'v2']);
    expect(report.sensors).toEqual({ missing: [{ sensor: 'c', share: 0.8 }], flatlined: [{ sensor: 'a', share: 0.95 }], dropped: ['b'] });
    expect(report.warnings).toEqual([
      '1 of 8 machines contribute all 3 training failures: the model knows how they fail, perhaps not the others',
      'validation holds only 1 failure: metrics are uncertain',
      'only 1.0 % of the training windows precede a failure: the failure head has little to learn from',
      'c had no reading 80 % of the time: its input is mostly its training mean',
      'a repeated its last value 95 % of the time: a stuck sensor?',
      'regime 2 is 0.5 % of the training data: the model has seen little of it',
    ]);
    expect(liveRegimeWarnings([0.995, 0.005, 0], [0.5, 0.2, 0.3])).toEqual([
      'regime 2 was only 0.5 % in training, now 20 % of live data',
      'regime 3 was never seen in training, now 30 % of live data',
    ]);
  });

  it('reports RUL error by true-RUL band, near failure first, and bootstrap intervals over machines', () => {
    const bands = rulByBand([10, 20, 40, 125], [0, 20, 30, 125], 30, 125);
    expect(bands.map((b) => [b.from, b.to, b.n])).toEqual([
      [0, 15, 1],
      [15, 30, 1],
      [30, 60, 1],
      [60, 125, 0],
      [125, null, 1],
    ]);
    expect(bands[0]).toMatchObject({ bias: 10, rmse: 10 });
    expect(bands[2]).toMatchObject({ bias: 10 });

    const rng = new Rng(4);
    const machine: string[] = [];
    const p: number[] = [];
    const failure: number[] = [];
    for (let m = 0; m < 12; m++)
      for (let k = 0; k < 30; k++) {
        machine.push(`m${m}`);
        const y = k >= 25 ? 1 : 0;
        failure.push(y);
        p.push(Math.min(1, Math.max(0, 0.7 * y + 0.3 * rng.next())));
      }
    const iv = bootstrapOverMachines({ machine, p, failure, predRul: p, actualRul: failure }, 0.5, {
      samples: 100,
      level: 0.9,
      random: () => rng.next(),
    })!;
    expect(iv.samples).toBe(100);
    expect(iv.f1[0]).toBeLessThanOrEqual(iv.f1[1]);
    expect(iv.f1[1]).toBeLessThanOrEqual(1);
    // One machine: nothing to resample.
    expect(
      bootstrapOverMachines({ machine: ['a'], p: [1], failure: [1], predRul: [1], actualRul: [1] }, 0.5, {
        samples: 10,
        level: 0.9,
        random: Math.random,
      }),
    ).toBeNull();
  });

  it('refuses a meta.json whose regime statistics do not fit its sensors, and shows a report in models show', async () => {
    const dir = tempDir();
    const reg = new ModelRegistry(dir);
    const meta = testMeta('v0001');
    await import('node:fs').then((fs) => fs.mkdirSync(path.join(dir, 'v0001'), { recursive: true }));
    const regimes = {
      model: {
        conditions: ['load'],
        centre: [0],
        scale: [1],
        centroids: [[0], [1]],
        chosenBy: 'rule',
        explained: 1,
        trainShare: [0.5, 0.5],
      },
      mean: [
        [0, 0, 0],
        [0, 0],
      ],
      std: [
        [1, 1, 1],
        [1, 1, 1],
      ],
    };
    writeFileSync(path.join(dir, 'v0001', 'meta.json'), JSON.stringify({ ...meta, normalisation: { ...meta.normalisation, regimes } }));
    expect(() => reg.meta('v0001')).toThrow(/invalid at \/normalisation: a regime's statistics do not have one value per sensor \(3\)/);

    const text = describeModel({
      ...meta,
      decision: { promoted: false, reason: 'validation holds 1 failure, fewer than learning.minValidationFailures (3)' },
      training: { ...meta.training, members: [1, 2].map((k) => ({ seed: k, epochs: 10 + k, bestEpoch: 5 + k, stoppedEarly: true })) },
      report: {
        failures: { train: [{ machine: 'm1', failures: 2 }], validation: [], trainMachines: 4, validationMachines: 1 },
        positiveShare: { train: 0.1, validation: 0 },
        regimes: null,
        sensors: { missing: [], flatlined: [], dropped: [] },
        span: { from: 0, to: 86_400_000 },
        heldOut: ['v1'],
        intervals: { level: 0.9, samples: 200, f1: [0.5, 0.9], prAuc: [0.6, 0.95], rmse: [10, 20] },
        warnings: ['validation holds only 0 failures: metrics are uncertain (see the intervals)'],
      },
    });
    expect(text).toMatch(/2 members, epochs 11\/12 \(best 6\/7\)/);
    expect(text).toMatch(/not promoted: validation holds 1 failure/);
    expect(text).toMatch(/90 % intervals \(bootstrap over validation machines\): F1 0\.500–0\.900/);
    expect(text).toMatch(/failures learned from \(4 training machines\): m1 2/);
    expect(text).toMatch(/warning: validation holds only 0 failures/);
  });
});
