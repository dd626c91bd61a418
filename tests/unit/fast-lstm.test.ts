import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Tensor, Variable } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { fastLstm, FAST_LSTM_CLASS, registerFastLstm } from '../../src/model/fast-lstm/layer.js';
import { chooseKernels, loadFastLstm, probeNativeKernels, selfCheck } from '../../src/model/fast-lstm/load.js';
import { NativeLstmRuntime } from '../../src/model/fast-lstm/native-runtime.js';
import { FastPredictor } from '../../src/model/fast-lstm/predictor.js';
import type { KernelRuntime } from '../../src/model/fast-lstm/kernel-runtime.js';
import { FastLstmRuntime } from '../../src/model/fast-lstm/runtime.js';
import { toFastTopology, toStockTopology } from '../../src/model/fast-lstm/topology.js';
import { LstmWorkspace } from '../../src/model/fast-lstm/workspace.js';
import { fileHandler } from '../../src/model/file-io.js';
import { buildLstm, predict, type LstmSpec } from '../../src/model/lstm.js';
import { tempDir } from '../support/fixtures.js';
import { relativeError } from '../support/numeric.js';

let tf: TF;
let runtime: KernelRuntime;
beforeAll(async () => {
  quietTfWarnings();
  ({ tf } = await loadTf('wasm'));
  const choice = await loadFastLstm(tf, { preference: 'wasm' });
  runtime = choice.runtime!;
});
afterAll(async () => {
  await runtime?.close();
});

const TOLERANCE = 2e-5;

interface Case {
  batch: number;
  steps: number;
  features: number;
  units: number;
  sequences: boolean;
  activation: 'sigmoid' | 'hardSigmoid';
}

/** Output and gradients (input, kernel, recurrent kernel, bias) of sum(layer(x) · dy). */
function outputAndGradients(layer: ReturnType<typeof fastLstm>, x: Tensor, dy: Tensor): { out: Float32Array; grads: Float32Array[] } {
  const weights = layer.trainableWeights.map((w) => (w as unknown as { read(): Variable }).read());
  const loss = () => tf.sum(tf.mul(layer.apply(x) as Tensor, dy)) as import('@tensorflow/tfjs').Scalar;
  const { grads } = tf.variableGrads(loss, weights);
  const dx = tf.grad((input: Tensor) => tf.sum(tf.mul(layer.apply(input) as Tensor, dy)))(x);
  const out = (layer.apply(x) as Tensor).dataSync() as Float32Array;
  return { out, grads: [dx.dataSync() as Float32Array, ...weights.map((w) => grads[w.name]!.dataSync() as Float32Array)] };
}

/**
 * The LSTM written out with tfjs ops, one step at a time: the reference where the stock layer cannot
 * be differentiated (tfjs fails on windows of one step).
 */
function referenceLstm(
  x: Tensor,
  kernel: Tensor,
  recurrent: Tensor,
  bias: Tensor,
  units: number,
  sequences: boolean,
  hard: boolean,
): Tensor {
  const [batch, steps] = x.shape as [number, number, number];
  const gate = (z: Tensor) => (hard ? tf.clipByValue(tf.add(tf.mul(z, 0.2), 0.5), 0, 1) : tf.sigmoid(z));
  let h: Tensor = tf.zeros([batch, units]);
  let c: Tensor = tf.zeros([batch, units]);
  const outputs: Tensor[] = [];
  for (let t = 0; t < steps; t++) {
    const xt = tf.squeeze(tf.slice(x, [0, t, 0], [batch, 1, -1]), [1]);
    const z = tf.add(tf.add(tf.matMul(xt, kernel), tf.matMul(h, recurrent)), bias);
    const [zi, zf, zc, zo] = tf.split(z, 4, 1);
    c = tf.add(tf.mul(gate(zf!), c), tf.mul(gate(zi!), tf.tanh(zc!)));
    h = tf.mul(gate(zo!), tf.tanh(c));
    outputs.push(h);
  }
  return sequences ? tf.stack(outputs, 1) : h;
}

/** Every kernel build this machine runs: the WebAssembly kernels and each native instruction set. */
const PATHS: Array<{ name: string; create: () => Promise<KernelRuntime> }> = [
  { name: 'wasm', create: () => Promise.resolve(runtime) },
  ...NativeLstmRuntime.instructionSets().map((isa) => ({
    name: `native ${isa}`,
    create: (): Promise<KernelRuntime> => NativeLstmRuntime.create({ instructionSet: isa }),
  })),
];

for (const kernels of PATHS) {
  describe(`kernels: ${kernels.name}`, () => {
    let rt: KernelRuntime;
    beforeAll(async () => {
      rt = await kernels.create();
      registerFastLstm(tf, rt);
    });
    afterAll(async () => {
      registerFastLstm(tf, runtime);
      if (rt !== runtime) await rt.close();
    });

    describe('fast LSTM layer against tf.layers.lstm', () => {
      const cases: Case[] = [
        { batch: 1, steps: 2, features: 3, units: 4, sequences: false, activation: 'sigmoid' },
        { batch: 3, steps: 5, features: 14, units: 8, sequences: true, activation: 'sigmoid' },
        { batch: 3, steps: 5, features: 14, units: 8, sequences: false, activation: 'hardSigmoid' },
        { batch: 37, steps: 20, features: 7, units: 12, sequences: true, activation: 'hardSigmoid' },
        { batch: 64, steps: 50, features: 14, units: 64, sequences: true, activation: 'sigmoid' },
        { batch: 512, steps: 6, features: 15, units: 32, sequences: false, activation: 'sigmoid' },
        { batch: 2, steps: 200, features: 6, units: 16, sequences: true, activation: 'sigmoid' },
      ];

      for (const c of cases) {
        it(`forward and every gradient match: batch ${c.batch}, window ${c.steps}, ${c.features}→${c.units}, ${c.sequences ? 'sequences' : 'last step'}, ${c.activation}`, () => {
          const args = {
            units: c.units,
            returnSequences: c.sequences,
            recurrentActivation: c.activation,
            kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
            recurrentInitializer: tf.initializers.orthogonal({ seed: 2 }),
            // Non-zero biases, so a gate-order mistake cannot hide behind zeros.
            biasInitializer: tf.initializers.randomNormal({ seed: 3, stddev: 0.5 }),
          };
          const stock = tf.layers.lstm({ ...args, name: 'stock' });
          const fast = fastLstm({ ...args, name: 'fast' });
          const x = tf.randomNormal([c.batch, c.steps, c.features], 0, 1, 'float32', 4);
          const dy = tf.randomNormal(c.sequences ? [c.batch, c.steps, c.units] : [c.batch, c.units], 0, 1, 'float32', 5);
          stock.apply(x);
          fast.apply(x);
          fast.setWeights(stock.getWeights());
          const a = outputAndGradients(stock, x, dy);
          const b = outputAndGradients(fast, x, dy);
          expect(relativeError(b.out, a.out)).toBeLessThan(TOLERANCE);
          a.grads.forEach((g, i) =>
            expect(relativeError(b.grads[i]!, g), ['input', 'kernel', 'recurrent kernel', 'bias'][i]).toBeLessThan(TOLERANCE),
          );
        });
      }

      it('a window of one step matches the written-out LSTM (stock tfjs cannot differentiate it)', () => {
        for (const activation of ['sigmoid', 'hardSigmoid'] as const) {
          const fast = fastLstm({ units: 8, recurrentActivation: activation, biasInitializer: tf.initializers.randomNormal({ seed: 7 }) });
          const x = tf.randomNormal([5, 1, 4], 0, 1, 'float32', 8);
          const dy = tf.randomNormal([5, 8], 0, 1, 'float32', 9);
          fast.apply(x);
          const b = outputAndGradients(fast, x, dy);
          const [kernel, recurrent, bias] = fast.getWeights();
          const ref = (xx: Tensor, k: Tensor, r: Tensor, bb: Tensor) =>
            tf.sum(tf.mul(referenceLstm(xx, k, r, bb, 8, false, activation === 'hardSigmoid'), dy));
          const grads = tf.grads(ref as never)([x, kernel!, recurrent!, bias!]);
          expect(
            relativeError(b.out, referenceLstm(x, kernel!, recurrent!, bias!, 8, false, activation === 'hardSigmoid').dataSync()),
          ).toBeLessThan(TOLERANCE);
          grads.forEach((g, i) => expect(relativeError(b.grads[i]!, g.dataSync())).toBeLessThan(TOLERANCE));
        }
      });

      it('starts from the same weights as the stock layer with the same seeds', () => {
        const spec: LstmSpec = {
          windowSteps: 10,
          features: 6,
          units: [16, 8],
          dropout: 0.2,
          learningRate: 0.01,
          seed: 5,
          recurrentActivation: 'sigmoid',
        };
        const stock = buildLstm(tf, { ...spec, kernel: 'stock' });
        const fast = buildLstm(tf, { ...spec, kernel: 'fast' });
        expect(fast.layers.filter((l) => l.getClassName() === FAST_LSTM_CLASS)).toHaveLength(2);
        expect(fast.getWeights().map((w) => w.shape)).toEqual(stock.getWeights().map((w) => w.shape));
        fast.getWeights().forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(stock.getWeights()[i]!.dataSync())));
      });

      it('trains to the same weights as the stock layer (ten Adam steps with dropout off)', async () => {
        const spec: LstmSpec = {
          windowSteps: 12,
          features: 5,
          units: [16, 8],
          dropout: 0,
          learningRate: 0.01,
          seed: 11,
          recurrentActivation: 'sigmoid',
        };
        const stock = buildLstm(tf, { ...spec, kernel: 'stock' });
        const fast = buildLstm(tf, { ...spec, kernel: 'fast' });
        for (let step = 0; step < 10; step++) {
          const x = tf.randomNormal([32, 12, 5], 0, 1, 'float32', 100 + step);
          const yf = tf.cast(tf.greater(tf.randomUniform([32, 1], 0, 1, 'float32', 200 + step), 0.7), 'float32');
          const yr = tf.randomUniform([32, 1], 0, 1, 'float32', 300 + step);
          const ls = (await stock.trainOnBatch(x, [yf, yr])) as number[];
          const lf = (await fast.trainOnBatch(x, [yf, yr])) as number[];
          expect(Math.abs(ls[0]! - lf[0]!)).toBeLessThan(1e-4);
        }
        stock.getWeights().forEach((w, i) => expect(relativeError(fast.getWeights()[i]!.dataSync(), w.dataSync())).toBeLessThan(1e-3));
      });

      it('keeps units that are not a multiple of 4 on the stock layer', () => {
        const model = buildLstm(tf, {
          windowSteps: 4,
          features: 3,
          units: [5, 8],
          dropout: 0,
          learningRate: 0.01,
          seed: 1,
          recurrentActivation: 'sigmoid',
          kernel: 'fast',
        });
        expect(model.layers.map((l) => l.getClassName()).filter((c) => c.includes('LSTM'))).toEqual(['LSTM', FAST_LSTM_CLASS]);
        expect(() => fastLstm({ units: 6 })).toThrow(/multiple of 4/);
        expect(() => fastLstm({ units: 8, stateful: true })).toThrow(/stateful/);
      });
    });

    describe('fast LSTM scoring path', () => {
      const spec: LstmSpec = {
        windowSteps: 30,
        features: 7,
        units: [16, 8],
        dropout: 0.2,
        learningRate: 0.01,
        seed: 2,
        recurrentActivation: 'sigmoid',
      };

      it('gives model.predict’s answers for one window and for batches beyond its chunk size', () => {
        const model = buildLstm(tf, { ...spec, kernel: 'stock' });
        const predictor = FastPredictor.fromModel(model, rt)!;
        expect(predictor).not.toBeNull();
        for (const n of [1, 3, 700]) {
          const x = tf.randomNormal([n, 30, 7], 0, 1, 'float32', n).dataSync() as Float32Array;
          const [p, rul] = predictor.predict(x, n, 30);
          const [ep, er] = model.predict(tf.tensor3d(x, [n, 30, 7])) as Tensor[];
          expect(relativeError(p!, ep!.dataSync())).toBeLessThan(TOLERANCE);
          expect(relativeError(rul!, er!.dataSync())).toBeLessThan(TOLERANCE);
        }
        predictor.dispose();
      });

      it('predict() uses it and agrees with the tfjs path', () => {
        const model = buildLstm(tf, { ...spec, kernel: 'fast' });
        const x = tf.randomNormal([40, 30, 7], 0, 1, 'float32', 9).dataSync() as Float32Array;
        const viaPredict = predict(tf, model, x, 40, 30, 7);
        const [ep] = model.predict(tf.tensor3d(x, [40, 30, 7])) as Tensor[];
        expect(relativeError(viaPredict.p, ep!.dataSync())).toBeLessThan(TOLERANCE);
      });

      it('declines architectures it does not know', () => {
        const input = tf.input({ shape: [5, 3] });
        const gru = tf.layers.gru({ units: 4 }).apply(input) as import('@tensorflow/tfjs').SymbolicTensor;
        const out = tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(gru) as import('@tensorflow/tfjs').SymbolicTensor;
        expect(FastPredictor.fromModel(tf.model({ inputs: input, outputs: out }), rt)).toBeNull();
      });
    });
  });
}

describe('fast LSTM model files', () => {
  const spec: LstmSpec = {
    windowSteps: 8,
    features: 4,
    units: [8, 4],
    dropout: 0.1,
    learningRate: 0.01,
    seed: 4,
    recurrentActivation: 'sigmoid',
  };

  it('saves as a stock tfjs model that loads without the kernels, and loads stock models as fast ones', async () => {
    const dir = tempDir();
    const fast = buildLstm(tf, { ...spec, kernel: 'fast' });
    await fast.save(fileHandler(tf, dir));
    const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as {
      modelTopology: { config: { layers: Array<{ class_name: string }> } };
    };
    const classes = json.modelTopology.config.layers.map((l) => l.class_name);
    expect(classes).toContain('LSTM');
    expect(classes).not.toContain(FAST_LSTM_CLASS);

    const x = tf.randomNormal([6, 8, 4], 0, 1, 'float32', 1);
    const expected = (fast.predict(x) as Tensor[])[0]!.dataSync();
    // As any tfjs without Vigil's kernels reads it: the stock topology that is in the file.
    const artifacts = await fileHandler(tf, dir).load!();
    const plain = await tf.loadLayersModel(tf.io.fromMemory({ ...artifacts, modelTopology: toStockTopology(artifacts.modelTopology) }));
    expect(plain.layers.map((l) => l.getClassName())).toContain('LSTM');
    expect(relativeError((plain.predict(x) as Tensor[])[0]!.dataSync(), expected)).toBeLessThan(TOLERANCE);
    // Where the kernels are loaded, the same file comes back with fast layers.
    const reloaded = await tf.loadLayersModel(fileHandler(tf, dir));
    expect(reloaded.layers.map((l) => l.getClassName())).toContain(FAST_LSTM_CLASS);
    expect(relativeError((reloaded.predict(x) as Tensor[])[0]!.dataSync(), expected)).toBeLessThan(TOLERANCE);
  });

  it('leaves LSTMs it cannot implement as they are', () => {
    const topology = {
      config: {
        layers: [
          { class_name: 'LSTM', config: { units: 8, recurrent_activation: 'sigmoid', go_backwards: true } },
          { class_name: 'LSTM', config: { units: 8 } },
        ],
      },
    };
    const { topology: out, swapped } = toFastTopology(topology);
    expect(swapped).toBe(1);
    expect(out.config.layers.map((l) => l.class_name)).toEqual(['LSTM', FAST_LSTM_CLASS]);
    expect(topology.config.layers[1]!.class_name).toBe('LSTM');
  });
});

describe('fast LSTM runtime', () => {
  it('gives the same answers on one thread as on several', async () => {
    const single = await FastLstmRuntime.create({ threads: 1 });
    try {
      const shape = { batch: 96, steps: 10, features: 5, units: 8 };
      const rnd = (n: number, seed: number) => tf.randomNormal([n], 0, 0.5, 'float32', seed).dataSync() as Float32Array;
      const x = rnd(96 * 10 * 5, 1);
      const w = { kernel: rnd(5 * 32, 2), recurrent: rnd(8 * 32, 3), bias: rnd(32, 4) };
      const dy = rnd(96 * 8, 5);
      const one = new LstmWorkspace(single, false);
      const many = new LstmWorkspace(runtime, false);
      expect(Array.from(many.forward(x, w, shape, false).output)).toEqual(Array.from(one.forward(x, w, shape, false).output));
      const g1 = one.backward(dy, w, false);
      const g2 = many.backward(dy, w, false);
      expect(Array.from(g2.dx)).toEqual(Array.from(g1.dx));
      // Weight gradients are summed per thread, then added: only the order of additions differs.
      expect(relativeError(g2.kernel, g1.kernel)).toBeLessThan(1e-6);
      expect(relativeError(g2.recurrent, g1.recurrent)).toBeLessThan(1e-6);
      one.release();
      many.release();
    } finally {
      await single.close();
    }
  });

  it('reuses freed kernel memory', () => {
    const a = runtime.alloc(1000);
    const b = runtime.alloc(1000);
    runtime.free(a, 1000);
    expect(runtime.alloc(500)).toBe(a);
    runtime.free(b, 1000);
  });

  it('reports a failing kernel on a helper thread as an error instead of hanging', () => {
    const huge = 0xfffffff0;
    // A pointer past the end of memory traps in every part, helpers included.
    const parts = (at: number) => Array.from({ length: runtime.threads }, () => [4, 4, 4, at, 4, at, 4, at, 4, 0]);
    expect(() => runtime.parallel('gemm', parts(huge))).toThrow();
    const ok = runtime.alloc(64);
    expect(() => runtime.parallel('gemm', parts(ok))).not.toThrow();
    runtime.free(ok, 64);
  });

  it('native: one thread and several give the same bits, the batch shared out by the addon', async () => {
    const one = await NativeLstmRuntime.create({ threads: 1 });
    const many = await NativeLstmRuntime.create({ threads: 2 });
    const shape = { batch: 100, steps: 9, features: 6, units: 20 };
    const rnd = (n: number, seed: number) => tf.randomNormal([n], 0, 0.5, 'float32', seed).dataSync() as Float32Array;
    const x = rnd(100 * 9 * 6, 1);
    const w = { kernel: rnd(6 * 80, 2), recurrent: rnd(20 * 80, 3), bias: rnd(80, 4) };
    const dy = rnd(100 * 9 * 20, 5);
    const a = new LstmWorkspace(one, true);
    const b = new LstmWorkspace(many, true);
    expect(Array.from(b.forward(x, w, shape, true).output)).toEqual(Array.from(a.forward(x, w, shape, true).output));
    const g1 = a.backward(dy, w, true);
    const g2 = b.backward(dy, w, true);
    expect(Array.from(g2.dx)).toEqual(Array.from(g1.dx));
    // Weight gradients are summed per slice of the batch, in slice order: the same bits on any number of
    // threads, whichever thread took which slice — a seeded training run repeats exactly.
    for (let call = 0; call < 3; call++) {
      const again = b.backward(dy, w, true);
      expect(Array.from(again.kernel)).toEqual(Array.from(g1.kernel));
      expect(Array.from(again.recurrent)).toEqual(Array.from(g1.recurrent));
      expect(Array.from(again.bias)).toEqual(Array.from(g1.bias));
    }
    a.release();
    b.release();
  });

  it('native: a call that would reach outside kernel memory is an error, never a stray write', async () => {
    const rt = await NativeLstmRuntime.create({ threads: 2 });
    const at = rt.alloc(64);
    const end = rt.f32.byteLength;
    expect(() => rt.call('gemm', [4, 4, 4, at, 4, at, 4, end - 16, 4, 0])).toThrow(/C reaches past the end of kernel memory/);
    expect(() => rt.call('gemm', [4, 4, 4, at + 2, 4, at, 4, at, 4, 0])).toThrow(/A is not 4-byte aligned/);
    expect(() => rt.call('gemm', [4, 4, 4, -64, 4, at, 4, at, 4, 0])).toThrow(/not an unsigned 32-bit integer/);
    expect(() => rt.call('gemm', [4, 4, 4, at])).toThrow(/takes 10 arguments/);
    expect(() => rt.parallel('forward', [[64, 2, 3, 6, at, at, at, at, at, at, at, at, 0]])).toThrow(/multiple of 4/);
    expect(() => rt.parallel('forward', [[1 << 20, 50, 14, 64, at, at, at, at, at, at, at, at, 0]])).toThrow(/reaches past the end/);
    expect(() => rt.call('gemm', [4, 4, 4, at, 4, at, 4, at, 4, 0])).not.toThrow();
    rt.free(at, 64);
  });

  it('native: built on this machine, passes its start-up check and is what auto chooses', async () => {
    const probe = await probeNativeKernels();
    expect(probe.reason).toBeNull();
    expect(NativeLstmRuntime.instructionSets()).toContain(probe.instructionSet);
    const auto = await chooseKernels('auto');
    expect(auto.describe).toMatch(/^native \((avx512|avx2|neon|scalar), \d+ threads?\)$/);
    expect((await chooseKernels('wasm')).describe).toMatch(/^wasm \((relaxed-simd|simd), \d+ threads?\)$/);
    // 'fast' is what learning.lstmKernel called the WebAssembly kernels.
    expect((await chooseKernels('fast')).runtime?.info.build).toBe('wasm');
  });

  it('native: the start-up check catches kernels that disagree with the WebAssembly ones', async () => {
    const broken = await NativeLstmRuntime.create({ threads: 1 });
    const parallel = broken.parallel.bind(broken);
    // A kernel that loses the last unit of every step: exactly the kind of tile-edge slip the check is for.
    broken.parallel = (kernel, argLists) => {
      parallel(kernel, argLists);
      if (kernel === 'forward') for (const a of argLists) broken.f32.fill(0, a[11]! / 4 + a[3]! - 1, a[11]! / 4 + a[3]!);
    };
    expect(await selfCheck(broken)).toMatch(/^output differs from the reference/);
  });

  it('is skipped on request, with the reason reported', async () => {
    const choice = await loadFastLstm(tf, { preference: 'stock' });
    expect(choice.kernel).toBe('stock');
    expect(choice.describe).toBe('stock (configured)');
  });
});
