import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import type { WindowSet } from '../../src/features/windows.js';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { combineMembers, extractMember, memberCount } from '../../src/model/ensemble.js';
import { loadFastLstm } from '../../src/model/fast-lstm/load.js';
import { FastPredictor } from '../../src/model/fast-lstm/predictor.js';
import type { KernelRuntime } from '../../src/model/fast-lstm/kernel-runtime.js';
import { buildLstm, predict, type LstmSpec } from '../../src/model/lstm.js';
import { alignToGrid } from '../../src/features/align.js';
import { labelSteps } from '../../src/features/labels.js';
import type { LabelledSegment } from '../../src/features/split.js';
import { prepareFolds, trainAndValidate, validate, type PreparedData } from '../../src/training/pipeline.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { rehearseData } from '../../src/training/transfer.js';
import { tempDir } from '../support/fixtures.js';
import { testMeta } from '../support/model-meta.js';

let tf: TF;
let runtime: KernelRuntime;
beforeAll(async () => {
  quietTfWarnings();
  ({ tf } = await loadTf('wasm'));
  runtime = (await loadFastLstm(tf, { preference: 'fast' })).runtime!;
});
afterAll(async () => {
  await runtime?.close();
});

const spec: LstmSpec = {
  windowSteps: 7,
  features: 3,
  units: [8, 4],
  dropout: 0.2,
  learningRate: 0.01,
  seed: 11,
  recurrentActivation: 'sigmoid',
  kernel: 'stock',
};
const members = () => [0, 1, 2].map((k) => buildLstm(tf, { ...spec, seed: spec.seed + 1000 * k }));
const windows = (n: number) => Float32Array.from({ length: n * spec.windowSteps * spec.features }, (_, i) => Math.sin(i * 0.37) * 1.5);

/** tfjs's own forward pass: [p(failure), RUL] per window. */
function tfPredict(model: LayersModel, x: Float32Array, n: number): Float32Array[] {
  return tf.tidy(() =>
    (model.predict(tf.tensor3d(x, [n, spec.windowSteps, spec.features])) as Tensor[]).map((t) => t.dataSync() as Float32Array),
  );
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe('ensemble of LSTMs', () => {
  it('outputs the average of its members, through tfjs and through the kernels', () => {
    const ms = members();
    const ensemble = combineMembers(tf, ms, spec);
    expect(memberCount(ensemble)).toBe(3);
    expect(ensemble.outputNames).toEqual(['failure', 'rul']);
    const x = windows(37);
    const own = ms.map((m) => tfPredict(m, x, 37));
    const combined = tfPredict(ensemble, x, 37);
    for (const head of [0, 1]) {
      const mean = combined[head]!.map((_, i) => own.reduce((s, o) => s + o[head]![i]!, 0) / 3);
      expect(maxDiff(combined[head]!, mean)).toBeLessThan(1e-6);
      // The members really differ, so the average is not any one of them.
      expect(maxDiff(own[0]![head]!, own[1]![head]!)).toBeGreaterThan(1e-3);
    }
    const direct = FastPredictor.fromModel(ensemble, runtime)!;
    expect(direct).not.toBeNull();
    const fast = direct.predict(x, 37, spec.windowSteps);
    direct.dispose();
    expect(maxDiff(fast[0]!, combined[0]!)).toBeLessThan(2e-5);
    expect(maxDiff(fast[1]!, combined[1]!)).toBeLessThan(2e-5);
  });

  it('is one plain model: one member is returned unchanged, and it has one member', () => {
    const [only] = members();
    expect(combineMembers(tf, [only!], spec)).toBe(only);
    expect(memberCount(only!)).toBe(1);
    expect(() => combineMembers(tf, [], spec)).toThrow(/at least one member/);
  });

  it('saves and loads through the registry with the same outputs', async () => {
    const ensemble = combineMembers(tf, members(), spec);
    const registry = new ModelRegistry(tempDir());
    await registry.save(tf, ensemble, testMeta('v0001'));
    const loaded = await registry.load(tf, 'v0001');
    expect(memberCount(loaded)).toBe(3);
    const bytes = (m: LayersModel) => m.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).buffer).toString('base64'));
    expect(bytes(loaded)).toEqual(bytes(ensemble));
    // Loaded with the kernels' LSTM layers: the same function to float rounding.
    const x = windows(5);
    expect(maxDiff(tfPredict(loaded, x, 5)[0]!, tfPredict(ensemble, x, 5)[0]!)).toBeLessThan(2e-5);
  });

  it('gives back each member for fine-tuning, and nothing for a member it lacks or other shapes', () => {
    const ms = members();
    const ensemble = combineMembers(tf, ms, spec);
    const second = extractMember(tf, ensemble, 1, spec)!;
    const weights = (m: LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
    expect(weights(second)).toEqual(weights(ms[1]!));
    expect(extractMember(tf, ensemble, 3, spec)).toBeNull();
    expect(extractMember(tf, ensemble, 0, { ...spec, units: [8, 8] })).toBeNull();
    expect(weights(extractMember(tf, ms[0]!, 0, spec)!)).toEqual(weights(ms[0]!));
    expect(extractMember(tf, ms[0]!, 1, spec)).toBeNull();
  });
});

/** Windows whose label is whether the first signal ramps up at the end. */
function synthetic(n: number, seed: number): WindowSet {
  const rng = new Rng(seed);
  const { windowSteps: L, features: F } = spec;
  const x = new Float32Array(n * L * F);
  const failure = new Float32Array(n);
  const rul = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const degrading = rng.next() < 0.4;
    for (let k = 0; k < L; k++)
      for (let f = 0; f < F; f++) x[(i * L + k) * F + f] = rng.normal(0, 0.3) + (f === 0 && degrading ? (k / L) * 2 : 0);
    failure[i] = degrading ? 1 : 0;
    rul[i] = degrading ? 2 : 10;
  }
  return {
    n,
    windowSteps: L,
    features: F,
    x,
    failure,
    rul,
    machine: Array.from({ length: n }, (_, i) => `m${i % 7}`),
    endTs: Float64Array.from({ length: n }, (_, i) => i * 1000),
    failureTs: new Float64Array(n).fill(Number.NaN),
  };
}

describe('training an ensemble', () => {
  const data = {
    norm: { sensors: ['a', 'b', 'c'], mean: [0, 0, 0], std: [1, 1, 1], dropped: [] },
    train: synthetic(192, 1),
    validation: synthetic(96, 2),
  } as unknown as PreparedData;
  const fit = { epochs: 3, batchSize: 32, patience: 3, rulCap: 10, horizon: 3, stepMs: 1000 };
  const lstm = { units: [8], dropout: 0, learningRate: 0.02, seed: 5, recurrentActivation: 'sigmoid' as const, kernel: 'fast' as const };

  it('trains each member from its own seed, member 0 as a single model would, and validates the average', async () => {
    const progress: Array<[number | undefined, number | undefined]> = [];
    const single = await trainAndValidate(tf, data, lstm, fit);
    const pair = await trainAndValidate(tf, data, lstm, { ...fit, members: 2, onEpoch: (p) => progress.push([p.member, p.members]) });
    expect(pair.members.map((m) => m.seed)).toEqual([5, 1005]);
    expect(memberCount(pair.model)).toBe(2);
    expect(progress[0]).toEqual([1, 2]);
    expect(progress.at(-1)).toEqual([2, 2]);
    expect(pair.fit.history.length).toBe(pair.members[0]!.epochs + pair.members[1]!.epochs);
    const first = extractMember(tf, pair.model, 0, { ...lstm, windowSteps: 7, features: 3 })!;
    expect(first.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(single.model.getWeights().map((w) => Array.from(w.dataSync())));
    const again = validate(tf, pair.model, data.validation, { rulCap: 10, horizon: 3, stepMs: 1000 });
    expect(again.rul.rmse).toBeCloseTo(pair.validation.rul.rmse, 6);
    expect(pair.validation.rul.rmse).not.toBeCloseTo(single.validation.rul.rmse, 6);
  });

  it('starts each member from the given weights when warm-starting', async () => {
    const start = buildLstm(tf, { ...lstm, windowSteps: 7, features: 3, seed: 77 });
    const before = start.getWeights().map((w) => Array.from(w.dataSync()));
    const outcome = await trainAndValidate(tf, data, lstm, { ...fit, epochs: 1, members: 2 }, [start]);
    const first = extractMember(tf, outcome.model, 0, { ...lstm, windowSteps: 7, features: 3 })!;
    const fresh = buildLstm(tf, { ...lstm, windowSteps: 7, features: 3 })
      .getWeights()
      .map((w) => Array.from(w.dataSync()));
    const after = first.getWeights().map((w) => Array.from(w.dataSync()));
    // One epoch moves the weights a little from where they started, not from a fresh initialisation.
    const distance = (a: number[][], b: number[][]) => Math.max(...a.map((w, i) => maxDiff(w, b[i]!)));
    expect(distance(after, before)).toBeLessThan(distance(after, fresh));
  });

  it('cross-validates: member k never trains on fold k, and every window is scored once, out of fold', async () => {
    const items = runToFailure(10);
    const data = prepareFolds(items, ['a', 'b', 'c'], {
      windowSteps: 7,
      stride: 2,
      validationFraction: 0.2,
      positiveShare: 0.3,
      seed: 3,
      folds: 3,
    });
    const held: string[][] = [];
    for (let k = 0; k < 3; k++) {
      const { train, validation } = data.folds!.build(k);
      const heldOut = new Set(validation.machine);
      expect(train.machine.some((m) => heldOut.has(m))).toBe(false);
      held.push([...heldOut].sort());
    }
    // The folds part the machines: each held out exactly once.
    expect(held.flat().sort()).toEqual(Array.from({ length: 10 }, (_, i) => `u${i}`).sort());
    const outcome = await trainAndValidate(tf, data, lstm, { ...fit, rulCap: 30 });
    expect(outcome.members).toHaveLength(3);
    expect(memberCount(outcome.model)).toBe(3);
    // Out-of-fold: one score per window of every machine, not the average model's on data it saw.
    expect(outcome.validation.classification.n).toBe(data.validation.n);
    const averaged = validate(tf, outcome.model, data.validation, { rulCap: 30, horizon: 3, stepMs: 1000 });
    expect(outcome.validation.rul.rmse).not.toBeCloseTo(averaged.rul.rmse, 6);
  });

  it('with folds, can carry the out-of-fold threshold to the ensemble as the share of windows it flags', async () => {
    const items = runToFailure(9);
    const options = { windowSteps: 7, stride: 2, validationFraction: 0.2, positiveShare: 0.3, seed: 3, folds: 3 };
    const oof = await trainAndValidate(tf, prepareFolds(items, ['a', 'b', 'c'], options), lstm, { ...fit, rulCap: 30 });
    const data = prepareFolds(items, ['a', 'b', 'c'], options);
    const rate = await trainAndValidate(tf, data, lstm, { ...fit, rulCap: 30, foldThreshold: 'alarm-rate' });
    // The same members and out-of-fold metrics; only the threshold the ensemble serves with differs.
    expect(rate.validation.classification).toEqual(oof.validation.classification);
    const { tp, fp, n } = { ...rate.validation.classification.confusion, n: rate.validation.classification.n };
    const { p } = predict(tf, rate.model, data.validation.x, data.validation.n, 7, 3);
    expect(Array.from(p).filter((x) => x >= rate.validation.threshold).length).toBe(Math.round(((tp + fp) / n) * data.validation.n));
  });

  it('deals the machines that failed out first, so every fold holds a failure while there are enough', () => {
    // Three of ten machines failed (the rest ran without one in sight): one in each of three folds.
    const items = runToFailure(10).map((item, u) =>
      u < 7 ? { ...item, labels: { ...item.labels, failure: new Uint8Array(item.labels.failure.length) } } : item,
    );
    for (const seed of [1, 2, 3]) {
      const data = prepareFolds(items, ['a', 'b', 'c'], {
        windowSteps: 7,
        stride: 2,
        validationFraction: 0.2,
        positiveShare: 0.3,
        seed,
        folds: 3,
      });
      for (let k = 0; k < 3; k++) expect(data.folds!.build(k).validation.failure.some((f) => f === 1)).toBe(true);
    }
  });

  it('rehearses a source beside every fold’s training part, and only there', () => {
    const items = runToFailure(6);
    const source = runToFailure(8).map((i) => ({ ...i, seg: { ...i.seg, machine: `source-${i.seg.machine}` } }));
    const folds = () =>
      prepareFolds(items, ['a', 'b', 'c'], { windowSteps: 7, stride: 2, validationFraction: 0.2, positiveShare: 0, seed: 3, folds: 3 });
    const data = folds();
    const plain = [0, 1, 2].map((k) => folds().folds!.build(k));
    const added = rehearseData(data, source, { ratio: 1, windowSteps: 7, stride: 2, positiveShare: 0, seed: 3 })!;
    for (let k = 0; k < 3; k++) {
      const fold = data.folds!.build(k);
      const fromSource = fold.train.machine.filter((m) => m.startsWith('source-')).length;
      // At least as many source windows as the fold's own (whole machines), its own windows unchanged and first.
      expect(fromSource).toBeGreaterThanOrEqual(plain[k]!.trainWindows);
      expect(fold.train.machine.slice(0, plain[k]!.train.n)).toEqual(plain[k]!.train.machine);
      expect(fold.validation.machine.some((m) => m.startsWith('source-'))).toBe(false);
    }
    expect(added.windows).toBeGreaterThan(0);
    expect(added.machines).toBeGreaterThanOrEqual(1);
  });
});

/** Machines that run to a failure: sensor a drifts up over the last third of each run. */
function runToFailure(machines: number): LabelledSegment[] {
  const rng = new Rng(9);
  return Array.from({ length: machines }, (_, u) => {
    const steps = 40 + u * 3;
    const machine = { site: 's', line: 'l', machine: `u${u}` };
    const samples = Array.from({ length: steps }, (_, k) => ({
      machine,
      ts: k * 1000,
      values: { a: rng.normal(0, 0.2) + Math.max(0, k - (2 * steps) / 3) * 0.2, b: rng.normal(0, 1), c: rng.normal(5, 1) },
    }));
    const seg = alignToGrid(machine.machine, samples, ['a', 'b', 'c'], 1000, 0).segments[0]!;
    return {
      seg,
      labels: labelSteps(seg, 7, [{ machine, ts: steps * 1000, type: 'failure' }], {
        horizonSteps: 3,
        rulCapSteps: 30,
        observedUntil: steps * 1000,
      }),
    };
  });
}
