import { beforeAll, describe, expect, it } from 'vitest';
import { applyNormalisation, borrowStatistics, type Normalisation } from '../../src/features/normalize.js';
import type { LabelledSegment } from '../../src/features/split.js';
import { buildWindows } from '../../src/features/windows.js';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { combineMembers } from '../../src/model/ensemble.js';
import { buildLstm, type LstmSpec } from '../../src/model/lstm.js';
import { transferMember } from '../../src/model/transfer.js';
import { decideTransfer } from '../../src/training/run.js';
import { transferSource, withRehearsal } from '../../src/training/transfer.js';
import { testMeta } from '../support/model-meta.js';

let tf: TF;
beforeAll(async () => {
  quietTfWarnings();
  tf = (await loadTf('cpu')).tf;
});

const spec = (features: number, seed = 1): LstmSpec => ({
  windowSteps: 5,
  features,
  units: [4, 4],
  dropout: 0,
  learningRate: 0.001,
  recurrentActivation: 'sigmoid',
  seed,
});
const rows = (kernel: Float32Array, cols: number, r: number) => Array.from(kernel.subarray(r * cols, (r + 1) * cols));

describe('transfer to a new kind', () => {
  it('copies every weight, the input weights of shared inputs by name, and keeps fresh ones for new inputs', () => {
    const src = buildLstm(tf, spec(3, 1));
    const t = transferMember(tf, src, ['a', 'b', 'c'], ['c', 'x', 'a'], 0, spec(3, 9))!;
    expect(t.shared).toEqual(['c', 'a']);
    expect(t.fresh).toEqual(['x']);
    const srcKernel = src.getLayer('lstm_0').getWeights()[0]!.dataSync() as Float32Array;
    const dstKernel = t.model.getLayer('lstm_0').getWeights()[0]!.dataSync() as Float32Array;
    const cols = 16;
    expect(rows(dstKernel, cols, 0)).toEqual(rows(srcKernel, cols, 2)); // c
    expect(rows(dstKernel, cols, 2)).toEqual(rows(srcKernel, cols, 0)); // a
    expect(rows(dstKernel, cols, 1)).not.toEqual(rows(srcKernel, cols, 1)); // x: fresh
    for (const name of ['lstm_1', 'failure', 'rul'])
      expect(Array.from(t.model.getLayer(name).getWeights()[0]!.dataSync())).toEqual(
        Array.from(src.getLayer(name).getWeights()[0]!.dataSync()),
      );
    // Member 1 of an ensemble; none shared, or another stack: nothing to transfer.
    const ensemble = combineMembers(tf, [buildLstm(tf, spec(3, 1)), buildLstm(tf, spec(3, 2))], spec(3));
    expect(transferMember(tf, ensemble, ['a', 'b', 'c'], ['a', 'b'], 1, spec(2))).not.toBeNull();
    expect(transferMember(tf, ensemble, ['a', 'b', 'c'], ['a', 'b'], 2, spec(2))).toBeNull();
    expect(transferMember(tf, src, ['a', 'b', 'c'], ['y', 'z'], 0, spec(2))).toBeNull();
    expect(transferMember(tf, src, ['a', 'b', 'c'], ['a', 'b'], 0, { ...spec(2), units: [8, 4] })).toBeNull();
  });

  it('keeps the source scaling for shared sensors, and picks the compatible champion sharing the most sensors', () => {
    const fitted: Normalisation = { sensors: ['a', 'x'], mean: [1, 2], std: [1, 1], dropped: [] };
    const source: Normalisation = { sensors: ['a', 'b'], mean: [10, 20], std: [3, 4], dropped: [] };
    expect(borrowStatistics(fitted, source)).toEqual({ sensors: ['a', 'x'], mean: [10, 2], std: [3, 1], dropped: [] });
    const metas = {
      v0001: testMeta('v0001', { kind: 'motor', sensors: ['a', 'b'], normalisation: source }),
      v0002: testMeta('v0002', { kind: 'fan', sensors: ['a', 'x', 'z'], normalisation: { ...fitted, sensors: ['a', 'x', 'z'] } }),
      v0003: testMeta('v0003', { kind: 'press', window: 99, sensors: ['a', 'x'], normalisation: fitted }),
    };
    const registry = {
      champions: () => ({ motor: 'v0001', fan: 'v0002', press: 'v0003' }),
      failureMeta: (v: string) => metas[v as keyof typeof metas],
    };
    const m = metas.v0001;
    const o = {
      stepMs: m.stepMs,
      window: m.window,
      horizon: m.horizon,
      rulCap: m.rulCap,
      units: m.architecture.units,
      pooling: 'last' as const,
      minShared: 0.5,
    };
    expect(transferSource(registry, 'pump', ['a', 'x'], o)?.version).toBe('v0002');
    expect(transferSource(registry, 'fan', ['a', 'x'], o)?.version).toBe('v0001');
    expect(transferSource(registry, 'pump', ['q', 'r', 's'], o)).toBeNull();
    // Heads that read another pooling cannot take its weights.
    expect(transferSource(registry, 'pump', ['a', 'x'], { ...o, pooling: 'attention' })).toBeNull();
  });

  it('promotes a transferred model on few failures only when it beats its source unchanged on them', () => {
    const v = (prAuc: number, rmse: number, failures: number) => ({
      threshold: 0.5,
      classification: { ...testMeta('v1').metrics.validation.classification, prAuc, confusion: { tp: 0, fp: 0, tn: 0, fn: 0 } },
      rul: { rmse, mae: 0, score: 0, n: 1 },
      rulBands: [],
      lead: { detected: failures, missed: 0, meanLeadMs: null },
    });
    const o = { minValidationFailures: 1, kind: 'pump' };
    expect(decideTransfer(v(0.9, 10, 1), { ...v(0.6, 30, 1), version: 'v0004' }, o)).toEqual({
      promoted: true,
      reason: expect.stringMatching(/^first model of pump, transferred from v0004: validated on 1 failure; PR-AUC 0.900 vs 0.600/),
    });
    expect(decideTransfer(v(0.9, 40, 1), { ...v(0.6, 30, 1), version: 'v0004' }, o).reason).toMatch(/does not beat its source/);
    expect(decideTransfer(v(0.9, 10, 0), { ...v(0.6, 30, 0), version: 'v0004' }, o).reason).toMatch(/validation holds 0 failures/);
    expect(decideTransfer(v(0.9, 10, 1), null, o).promoted).toBe(false);
  });
});

describe('rehearsal: the source kind beside the new kind’s few machines', () => {
  /** A machine of `steps` steps whose sensor values are `base + step + column`, failing after its last step. */
  const machine = (name: string, sensors: readonly string[], steps: number, base: number): LabelledSegment => {
    const data = new Float32Array(steps * sensors.length);
    for (let k = 0; k < steps; k++) for (let f = 0; f < sensors.length; f++) data[k * sensors.length + f] = base + k + f;
    const failure = new Uint8Array(steps).map((_, k) => (k === steps - 1 ? 1 : 0));
    return {
      seg: { machine: name, startTs: 0, stepMs: 1, sensors, steps, data },
      labels: {
        failure,
        rul: new Float32Array(steps).map((_, k) => steps - 1 - k),
        failureTs: new Float64Array(steps).fill(steps),
        usable: new Uint8Array(steps).fill(1),
      },
    };
  };
  const norm: Normalisation = { sensors: ['a', 'b'], mean: [10, 0], std: [2, 1], dropped: [] };
  const target = buildWindows(
    [machine('t1', ['a', 'b'], 12, 100)].map((i) => ({ ...i, seg: applyNormalisation(i.seg, norm) })),
    5,
    1,
  );
  // Six source machines of 10 steps (6 windows each), one of which lacks sensor b.
  const source = [...Array.from({ length: 5 }, (_, i) => machine(`s${i}`, ['a', 'b'], 10, 10 * i)), machine('s5', ['a', 'c'], 10, 50)];
  const o = { windowSteps: 5, stride: 1, positiveShare: 0, seed: 7 };

  it('adds whole source machines until their windows are the ratio times the target’s, on the target’s scaling', () => {
    const r = withRehearsal({ train: target, trainWindows: target.n }, source, norm, { ...o, ratio: 2 });
    // 8 target windows × 2 = 16 wanted: three machines of 6 windows (whole machines, not 16 of them).
    expect(r).toMatchObject({ windows: 18, machines: 3 });
    expect(r.train.n).toBe(target.n + 18);
    // The target's windows first and unchanged; the source's after them, scaled as the target's.
    expect(r.train.x.subarray(0, target.x.length)).toEqual(target.x);
    const added = new Set(r.train.machine.slice(target.n));
    expect(added.size).toBe(3);
    for (let w = target.n; w < r.train.n; w++) {
      const m = source.find((s) => s.seg.machine === r.train.machine[w])!;
      const last = 9 - r.train.rul[w]!;
      const raw = m.seg.data[last * m.seg.sensors.length]!;
      // The window's last step, sensor a: (raw − 10) / 2.
      expect(r.train.x[(w * 5 + 4) * 2]).toBeCloseTo((raw - 10) / 2, 5);
    }
  });

  it('is seeded, reads a sensor the source lacks as its mean, and oversamples the source’s failures', () => {
    const all = withRehearsal({ train: target, trainWindows: target.n }, source, norm, { ...o, ratio: 100 });
    expect(all).toMatchObject({ windows: 36, machines: 6 });
    const again = withRehearsal({ train: target, trainWindows: target.n }, source, norm, { ...o, ratio: 2 });
    const other = withRehearsal({ train: target, trainWindows: target.n }, source, norm, { ...o, ratio: 2, seed: 8 });
    expect(again.train.machine).toEqual(
      withRehearsal({ train: target, trainWindows: target.n }, source, norm, { ...o, ratio: 2 }).train.machine,
    );
    expect(new Set(other.train.machine.slice(target.n))).not.toEqual(new Set(again.train.machine.slice(target.n)));
    const lacking = all.train.machine.indexOf('s5');
    expect(Array.from({ length: 5 }, (_, k) => all.train.x[(lacking * 5 + k) * 2 + 1])).toEqual([0, 0, 0, 0, 0]);
    const balanced = withRehearsal({ train: target, trainWindows: target.n }, source, norm, { ...o, ratio: 100, positiveShare: 0.5 });
    const added = Array.from(balanced.train.failure.subarray(target.n));
    expect(added.filter((f) => f === 1).length / added.length).toBeCloseTo(0.5, 1);
  });

  it('leaves the target alone with a ratio of 0 or no source machines', () => {
    expect(withRehearsal({ train: target, trainWindows: target.n }, source, norm, { ...o, ratio: 0 })).toEqual({
      train: target,
      windows: 0,
      machines: 0,
    });
    expect(withRehearsal({ train: target, trainWindows: target.n }, [], norm, { ...o, ratio: 4 })).toEqual({
      train: target,
      windows: 0,
      machines: 0,
    });
  });
});
