/**
 * The NEON kernels, which an x86 machine cannot load: cross-compiled with Debian's aarch64 toolchain into
 * a small static program (native/test/harness.cc) and run under qemu-user on the parity cases of the
 * kernel tests, against tf.layers.lstm. On an aarch64 machine the addon runs them directly instead
 * (fast-lstm.test.ts), and this file has nothing to add.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Tensor, Variable } from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { tempDir } from '../support/fixtures.js';
import { relativeError } from '../support/numeric.js';

const CROSS = 'aarch64-linux-gnu-g++';
const QEMU = 'qemu-aarch64';
const onArm = process.arch === 'arm64';
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

let tf: TF;
let harness = '';
beforeAll(async () => {
  quietTfWarnings();
  ({ tf } = await loadTf('wasm'));
  if (onArm) return;
  const missing = [CROSS, QEMU].filter((t) => !has(t));
  if (missing.length > 0)
    throw new Error(`${missing.join(' and ')} missing: apt-get install g++-aarch64-linux-gnu qemu-user (.ci/run does)`);
  const src = path.resolve('native');
  harness = path.join(tempDir(), 'harness-arm64');
  execFileSync(CROSS, [
    '-std=c++17',
    '-O2',
    '-static',
    `-I${path.join(src, 'src')}`,
    path.join(src, 'test', 'harness.cc'),
    path.join(src, 'src', 'isa-neon.cc'),
    path.join(src, 'src', 'isa-scalar.cc'),
    '-o',
    harness,
  ]);
}, 120_000);

interface Case {
  batch: number;
  steps: number;
  features: number;
  units: number;
  sequences: boolean;
  activation: 'sigmoid' | 'hardSigmoid';
}

const CASES: Case[] = [
  { batch: 1, steps: 2, features: 3, units: 4, sequences: false, activation: 'sigmoid' },
  { batch: 3, steps: 5, features: 14, units: 8, sequences: false, activation: 'hardSigmoid' },
  { batch: 37, steps: 20, features: 7, units: 12, sequences: true, activation: 'hardSigmoid' },
  { batch: 64, steps: 50, features: 14, units: 64, sequences: true, activation: 'sigmoid' },
  { batch: 50, steps: 6, features: 15, units: 32, sequences: false, activation: 'sigmoid' },
];

describe.skipIf(onArm)('NEON kernels (aarch64, under qemu-user) against tf.layers.lstm', () => {
  for (const isa of ['neon', 'scalar'] as const)
    for (const c of CASES)
      it(`${isa}: batch ${c.batch}, window ${c.steps}, ${c.features}→${c.units}, ${c.sequences ? 'sequences' : 'last step'}, ${c.activation}`, () => {
        const layer = tf.layers.lstm({
          units: c.units,
          returnSequences: c.sequences,
          recurrentActivation: c.activation,
          kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
          recurrentInitializer: tf.initializers.orthogonal({ seed: 2 }),
          biasInitializer: tf.initializers.randomNormal({ seed: 3, stddev: 0.5 }),
        });
        const x = tf.randomNormal([c.batch, c.steps, c.features], 0, 1, 'float32', 4);
        const dy = tf.randomNormal(c.sequences ? [c.batch, c.steps, c.units] : [c.batch, c.units], 0, 1, 'float32', 5);
        const out = (layer.apply(x) as Tensor).dataSync();
        const weights = layer.trainableWeights.map((w) => (w as unknown as { read(): Variable }).read());
        const loss = () => tf.sum(tf.mul(layer.apply(x) as Tensor, dy)) as import('@tensorflow/tfjs').Scalar;
        const { grads } = tf.variableGrads(loss, weights);
        const dx = tf.grad((input: Tensor) => tf.sum(tf.mul(layer.apply(input) as Tensor, dy)))(x);
        const expected = [out, dx.dataSync(), ...weights.map((w) => grads[w.name]!.dataSync())];

        const dir = tempDir();
        const header = new Int32Array([c.batch, c.steps, c.features, c.units, c.sequences ? 1 : 0, c.activation === 'hardSigmoid' ? 1 : 0]);
        const parts = [x, ...weights, dy].map((t) => Buffer.from((t.dataSync() as Float32Array).buffer.slice(0)));
        writeFileSync(path.join(dir, 'in'), Buffer.concat([Buffer.from(header.buffer), ...parts]));
        const r = spawnSync(QEMU, [harness, isa, path.join(dir, 'in'), path.join(dir, 'out')], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        const got = new Float32Array(new Uint8Array(readFileSync(path.join(dir, 'out'))).buffer);
        let at = 0;
        ['output', 'input gradient', 'kernel gradient', 'recurrent gradient', 'bias gradient'].forEach((what, i) => {
          const want = expected[i]!;
          expect(relativeError(got.subarray(at, at + want.length), want), what).toBeLessThan(2e-5);
          at += want.length;
        });
        expect(at).toBe(got.length);
      });
});
