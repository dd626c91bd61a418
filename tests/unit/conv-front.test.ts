import type { Tensor, Variable } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { causalConv, CAUSAL_CONV_CLASS } from '../../src/model/conv-front.js';
import { combineMembers, extractMember } from '../../src/model/ensemble.js';
import { loadFastLstm } from '../../src/model/fast-lstm/load.js';
import type { KernelRuntime } from '../../src/model/fast-lstm/kernel-runtime.js';
import { FastPredictor } from '../../src/model/fast-lstm/predictor.js';
import { fileHandler } from '../../src/model/file-io.js';
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
  // Loading the kernels (a start-up check included) can take more than the default 10 s on a busy machine.
}, 60_000);
afterAll(async () => {
  await runtime?.close();
});

/** The convolution written out in plain arithmetic: y[n,t,f] = tanh(b_f + Σ_k Σ_c x[n, t−K+1+k, c]·W[k·C + c, f]). */
function referenceConv(
  x: Float32Array,
  [B, T, C]: [number, number, number],
  w: Float32Array,
  b: Float32Array,
  K: number,
  F: number,
): Float64Array {
  const out = new Float64Array(B * T * F);
  for (let n = 0; n < B; n++)
    for (let t = 0; t < T; t++)
      for (let f = 0; f < F; f++) {
        let z = b[f]!;
        for (let k = 0; k < K; k++) {
          const s = t - K + 1 + k;
          if (s < 0) continue; // before the window: zeros
          for (let c = 0; c < C; c++) z += x[(n * T + s) * C + c]! * w[(k * C + c) * F + f]!;
        }
        out[(n * T + t) * F + f] = Math.tanh(z);
      }
  return out;
}

describe('causal convolution front end', () => {
  it('computes each step from it and the kernel − 1 before it, zeros before the window, as written out by hand', () => {
    const [B, T, C, K, F]: [number, number, number, number, number] = [3, 7, 4, 3, 5];
    const layer = causalConv(tf, { filters: F, kernel: K, seed: 3 });
    const x = tf.randomNormal([B, T, C], 0, 1, 'float32', 11);
    expect((layer.apply(x) as Tensor).shape).toEqual([B, T, F]);
    const [w] = layer.getWeights().map((t) => t.dataSync() as Float32Array);
    // A non-zero bias, so that it is tested too.
    const bias = Float32Array.of(0.1, -0.2, 0.3, 0.05, -0.4);
    layer.setWeights([tf.tensor(w!, [K * C, F]), tf.tensor(bias)]);
    const got = (layer.apply(x) as Tensor).dataSync();
    expect(relativeError(got, referenceConv(x.dataSync() as Float32Array, [B, T, C], w!, bias, K, F))).toBeLessThan(1e-5);
    // Causal: changing the last step changes only the last step's outputs.
    const later = x.dataSync().slice() as Float32Array;
    for (let n = 0; n < B; n++) for (let c = 0; c < C; c++) later[(n * T + T - 1) * C + c]! += 1;
    const moved = (layer.apply(tf.tensor3d(later, [B, T, C])) as Tensor).dataSync();
    for (let n = 0; n < B; n++)
      for (let t = 0; t < T - 1; t++) for (let f = 0; f < F; f++) expect(moved[(n * T + t) * F + f]).toBe(got[(n * T + t) * F + f]);
  });

  it('its gradients (input and both weights) agree with central finite differences', () => {
    const [B, T, C, K, F]: [number, number, number, number, number] = [2, 6, 3, 4, 5];
    const layer = causalConv(tf, { filters: F, kernel: K, seed: 5 });
    const x = tf.randomNormal([B, T, C], 0, 1, 'float32', 2);
    const dy = tf.randomNormal([B, T, F], 0, 1, 'float32', 3);
    layer.apply(x);
    layer.setWeights([layer.getWeights()[0]!, tf.tensor(Float32Array.of(0.2, -0.1, 0, 0.3, -0.3))]);
    const weights = layer.trainableWeights.map((wt) => (wt as unknown as { read(): Variable }).read());
    const f = () => tf.sum(tf.mul(layer.apply(x) as Tensor, dy)) as import('@tensorflow/tfjs').Scalar;
    const { grads } = tf.variableGrads(f, weights);
    const dx = tf
      .grad((input: Tensor) => tf.sum(tf.mul(layer.apply(input) as Tensor, dy)))(x)
      .dataSync();
    // In float64 on the hand-written reference (float32 differences are too coarse).
    const xs = Float32Array.from(x.dataSync());
    const ws = weights.map((wt) => Float32Array.from(wt.dataSync()));
    const d = dy.dataSync();
    const loss = () => referenceConv(xs, [B, T, C], ws[0]!, ws[1]!, K, F).reduce((s, v, i) => s + v * d[i]!, 0);
    const numeric = (arr: Float32Array) => centralDifferences(arr, loss);
    expect(relativeError(dx, numeric(xs))).toBeLessThan(2e-3);
    weights.forEach((wt, k) => expect(relativeError(grads[wt.name]!.dataSync(), numeric(ws[k]!)), wt.name).toBeLessThan(2e-3));
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
    conv: { filters: 8, kernel: 3 },
  });

  it('on the fast kernels, the whole model’s gradients (the convolution’s through the LSTM’s input) are tf.layers.lstm’s', () => {
    if (!runtime) throw new Error('no LSTM kernels loaded');
    const x = tf.randomNormal([6, 9, 5], 0, 1, 'float32', 8);
    const grads = (kernel: 'fast' | 'stock') => modelGradients(tf, spec(kernel), x);
    const fast = grads('fast');
    const stock = grads('stock');
    expect(fast.length).toBe(stock.length);
    // The convolution's kernel is the first weight; its gradient is not zero (it reaches it through the LSTM).
    expect(fast[0]!.name).toMatch(/conv/);
    expect(Math.max(...Array.from(fast[0]!.g, Math.abs))).toBeGreaterThan(1e-6);
    fast.forEach((w, k) => expect(relativeError(w.g, stock[k]!.g), w.name).toBeLessThan(1e-4));
  });

  it('saves and loads as its own class in each member; scoring takes the tfjs path and agrees; absurd sizes are refused', async () => {
    const members = [0, 1].map((k) => buildLstm(tf, { ...spec('fast'), seed: 7 + 1000 * k }));
    const ensemble = combineMembers(tf, members, spec('fast'));
    expect(ensemble.layers.filter((l) => l.getClassName() === CAUSAL_CONV_CLASS).map((l) => l.name)).toEqual(['m0_conv', 'm1_conv']);
    const x = tf.randomNormal([4, 9, 5], 0, 1, 'float32', 9);
    const before = modelOutputs(tf, ensemble, x.dataSync() as Float32Array, 4, 9, 5);
    const dir = tempDir('vigil-conv-');
    await ensemble.save(fileHandler(tf, dir));
    const loaded = await tf.loadLayersModel(fileHandler(tf, dir));
    const after = modelOutputs(tf, loaded, x.dataSync() as Float32Array, 4, 9, 5);
    before.forEach((o, k) => expect(relativeError(after[k]!, o)).toBeLessThan(1e-6));
    // The kernels' scoring path knows no convolution: it declines, and scoring is tfjs's graph.
    if (runtime) expect(FastPredictor.fromModel(loaded, runtime)).toBeNull();
    const graph = (loaded.predict(x) as Tensor[]).map((t) => t.dataSync());
    after.forEach((o, k) => expect(relativeError(o, graph[k]!), `output ${k}`).toBeLessThan(1e-6));
    // Member 1 taken out for fine-tuning keeps its convolution; a spec without one does not take it.
    const member = extractMember(tf, loaded, 1, { ...spec('fast'), seed: 1007 })!;
    expect(
      relativeError(member.getLayer('conv').getWeights()[0]!.dataSync(), members[1]!.getLayer('conv').getWeights()[0]!.dataSync()),
    ).toBe(0);
    const { conv: _conv, ...plain } = spec('fast');
    expect(extractMember(tf, loaded, 0, plain)).toBeNull();
    expect(() => causalConv(tf, { filters: 1e9, kernel: 3, seed: 1 })).toThrow(/filters must be an integer from 1 to 1024/);
    expect(() => causalConv(tf, { filters: 8, kernel: 0, seed: 1 })).toThrow(/kernel from 1 to 64/);
  });
});
