import type { Tensor, Variable } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporalAttention, TEMPORAL_ATTENTION_CLASS } from '../../src/model/attention.js';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { combineMembers, extractMember } from '../../src/model/ensemble.js';
import { fastLstmRuntime } from '../../src/model/fast-lstm/layer.js';
import { loadFastLstm } from '../../src/model/fast-lstm/load.js';
import type { KernelRuntime } from '../../src/model/fast-lstm/kernel-runtime.js';
import { fileHandler } from '../../src/model/file-io.js';
import { FastPredictor } from '../../src/model/fast-lstm/predictor.js';
import { buildLstm, modelOutputs, type LstmSpec } from '../../src/model/lstm.js';
import { tempDir } from '../support/fixtures.js';
import { centralDifferences, modelGradients } from '../support/gradients.js';
import { relativeError } from '../support/numeric.js';

let tf: TF;
let runtime: KernelRuntime | null;
beforeAll(async () => {
  quietTfWarnings();
  ({ tf } = await loadTf('wasm'));
  runtime = (await loadFastLstm(tf, { preference: 'auto' })).runtime;
});
afterAll(async () => {
  await runtime?.close();
});

/** The pooling written out in plain arithmetic from its weights: the reference its tfjs ops must match. */
function referencePooling(
  h: Float32Array,
  [B, T, U]: [number, number, number],
  w: Float32Array,
  b: Float32Array,
  v: Float32Array,
  A: number,
): Float64Array {
  const out = new Float64Array(B * 2 * U);
  for (let n = 0; n < B; n++) {
    const e = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let a = 0; a < A; a++) {
        let z = b[a]!;
        for (let u = 0; u < U; u++) z += h[(n * T + t) * U + u]! * w[u * A + a]!;
        s += Math.tanh(z) * v[a]!;
      }
      e[t] = s;
    }
    const max = Math.max(...e);
    const exp = e.map((x) => Math.exp(x - max));
    const sum = exp.reduce((x, y) => x + y, 0);
    for (let u = 0; u < U; u++) {
      let c = 0;
      for (let t = 0; t < T; t++) c += (exp[t]! / sum) * h[(n * T + t) * U + u]!;
      out[n * 2 * U + u] = c;
      out[n * 2 * U + U + u] = h[(n * T + T - 1) * U + u]!;
    }
  }
  return out;
}

describe('temporal attention pooling', () => {
  it('computes the attention-weighted states beside the last one, as written out by hand', () => {
    const [B, T, U, A]: [number, number, number, number] = [3, 7, 5, 4];
    const layer = temporalAttention(tf, { attentionUnits: A, seed: 3 });
    const x = tf.randomNormal([B, T, U], 0, 1, 'float32', 11);
    const y = layer.apply(x) as Tensor;
    expect(y.shape).toEqual([B, 2 * U]);
    const [w, b, v] = layer.getWeights().map((t) => t.dataSync() as Float32Array);
    // Non-zero bias, so that it is tested too.
    layer.setWeights([tf.tensor(w!, [U, A]), tf.tensor([0.1, -0.2, 0.3, 0.05]), tf.tensor(v!, [A, 1])]);
    const expected = referencePooling(x.dataSync() as Float32Array, [B, T, U], w!, Float32Array.of(0.1, -0.2, 0.3, 0.05), v!, A);
    expect(relativeError((layer.apply(x) as Tensor).dataSync(), expected)).toBeLessThan(1e-5);
    expect(b!.length).toBe(A);
  });

  it('its gradients (input and every weight) agree with central finite differences', () => {
    const [B, T, U, A]: [number, number, number, number] = [2, 5, 4, 3];
    const layer = temporalAttention(tf, { attentionUnits: A, seed: 5 });
    const x = tf.randomNormal([B, T, U], 0, 1, 'float32', 2);
    const dy = tf.randomNormal([B, 2 * U], 0, 1, 'float32', 3);
    layer.apply(x);
    const weights = layer.trainableWeights.map((wt) => (wt as unknown as { read(): Variable }).read());
    const f = () => tf.sum(tf.mul(layer.apply(x) as Tensor, dy)) as import('@tensorflow/tfjs').Scalar;
    const { grads } = tf.variableGrads(f, weights);
    const dx = tf
      .grad((input: Tensor) => tf.sum(tf.mul(layer.apply(input) as Tensor, dy)))(x)
      .dataSync();
    // Finite differences in float64 on the hand-written reference (float32 differences are too coarse).
    const eps = 1e-4;
    const loss = (xs: Float32Array, ws: Float32Array[]) => {
      const out = referencePooling(xs, [B, T, U], ws[0]!, ws[1]!, ws[2]!, A);
      const d = dy.dataSync();
      let s = 0;
      for (let i = 0; i < out.length; i++) s += out[i]! * d[i]!;
      return s;
    };
    const xs = Float32Array.from(x.dataSync());
    const ws = weights.map((wt) => Float32Array.from(wt.dataSync()));
    const numeric = (arr: Float32Array) => centralDifferences(arr, () => loss(xs, ws), eps);
    expect(relativeError(dx, numeric(xs))).toBeLessThan(2e-3);
    weights.forEach((wt, k) => expect(relativeError(grads[wt.name]!.dataSync(), numeric(ws[k]!)), wt.name).toBeLessThan(2e-3));
  });

  it('on the kernels’ runtime (attention-op.ts) gives tfjs’s outputs and gradients, batch by batch', () => {
    if (!runtime) throw new Error('no LSTM kernels loaded');
    expect(fastLstmRuntime()).toBe(runtime);
    const x = tf.randomNormal([70, 11, 8], 0, 1, 'float32', 21);
    const dy = tf.randomNormal([70, 16], 0, 1, 'float32', 22);
    const run = (kernel: 'fast' | 'stock') => {
      const layer = temporalAttention(tf, { attentionUnits: 12, seed: 9, kernel });
      const out = (layer.apply(x) as Tensor).dataSync();
      const weights = layer.trainableWeights.map((wt) => (wt as unknown as { read(): Variable }).read());
      const f = () => tf.sum(tf.mul(layer.apply(x) as Tensor, dy)) as import('@tensorflow/tfjs').Scalar;
      const { grads } = tf.variableGrads(f, weights);
      const dx = tf
        .grad((input: Tensor) => tf.sum(tf.mul(layer.apply(input) as Tensor, dy)))(x)
        .dataSync();
      return { out, grads: [dx, ...weights.map((wt) => grads[wt.name]!.dataSync())] };
    };
    const fast = run('fast');
    const stock = run('stock');
    expect(relativeError(fast.out, stock.out)).toBeLessThan(1e-5);
    fast.grads.forEach((g, k) => expect(relativeError(g, stock.grads[k]!), `gradient ${k}`).toBeLessThan(1e-4));
  });

  const spec = (kernel: 'fast' | 'stock'): LstmSpec => ({
    windowSteps: 9,
    features: 5,
    units: [8, 4],
    dropout: 0,
    learningRate: 0.01,
    seed: 7,
    recurrentActivation: 'sigmoid',
    kernel,
    pooling: 'attention',
    attentionUnits: 6,
  });

  it('on the fast kernels, the whole model’s gradients are those of tf.layers.lstm with the same pooling', () => {
    if (!runtime) throw new Error('no LSTM kernels loaded');
    const x = tf.randomNormal([6, 9, 5], 0, 1, 'float32', 8);
    const grads = (kernel: 'fast' | 'stock') => modelGradients(tf, spec(kernel), x).map((w) => w.g);
    const fast = grads('fast');
    const stock = grads('stock');
    expect(fast.length).toBe(stock.length);
    fast.forEach((g, k) => expect(relativeError(g, stock[k]!), `weight ${k}`).toBeLessThan(1e-4));
  });

  it('saves and loads as its own class; a model of five members keeps each member’s attention; scoring reads it', async () => {
    const members = [0, 1].map((k) => buildLstm(tf, { ...spec('fast'), seed: 7 + 1000 * k }));
    const ensemble = combineMembers(tf, members, spec('fast'));
    expect(ensemble.layers.filter((l) => l.getClassName() === TEMPORAL_ATTENTION_CLASS).map((l) => l.name)).toEqual([
      'm0_attention',
      'm1_attention',
    ]);
    const x = tf.randomNormal([4, 9, 5], 0, 1, 'float32', 9);
    const before = modelOutputs(tf, ensemble, x.dataSync() as Float32Array, 4, 9, 5);
    const dir = tempDir('vigil-attention-');
    await ensemble.save(fileHandler(tf, dir));
    const loaded = await tf.loadLayersModel(fileHandler(tf, dir));
    const after = modelOutputs(tf, loaded, x.dataSync() as Float32Array, 4, 9, 5);
    before.forEach((o, k) => expect(relativeError(after[k]!, o)).toBeLessThan(1e-6));
    // The scoring path computes the pooling itself, as tfjs's graph does.
    const direct = FastPredictor.fromModel(loaded, runtime!);
    expect(direct).not.toBeNull();
    const fast = direct!.predict(x.dataSync() as Float32Array, 4, 9);
    direct!.dispose();
    const graph = (loaded.predict(x) as Tensor[]).map((t) => t.dataSync());
    fast.forEach((o, k) => expect(relativeError(o, graph[k]!), `output ${k}`).toBeLessThan(1e-5));
    // Member 1 taken out for fine-tuning: its attention weights come with it.
    const member = extractMember(tf, loaded, 1, { ...spec('fast'), seed: 1007 })!;
    expect(member).not.toBeNull();
    expect(
      relativeError(
        member.getLayer('attention').getWeights()[0]!.dataSync(),
        members[1]!.getLayer('attention').getWeights()[0]!.dataSync(),
      ),
    ).toBe(0);
    // A model file claiming an attention no real model has is refused before anything is allocated.
    expect(() => temporalAttention(tf, { attentionUnits: 1e9, seed: 1 })).toThrow(/attentionUnits must be an integer from 1 to 1024/);
    // A last-state spec does not take an attention model's member (its shapes differ).
    expect(extractMember(tf, loaded, 0, { ...spec('fast'), pooling: 'last' })).toBeNull();
  });
});
