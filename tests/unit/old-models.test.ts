import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { loadFastLstm } from '../../src/model/fast-lstm/load.js';
import type { KernelRuntime } from '../../src/model/fast-lstm/kernel-runtime.js';
import { modelOutputs } from '../../src/model/lstm.js';
import { poolingOf } from '../../src/registry/meta.js';
import { recipeText } from '../../src/registry/recipe.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { tempDir } from '../support/fixtures.js';
import { relativeError } from '../support/numeric.js';

/**
 * A registry written before kinds had recipes and before attention pooling (tests/fixtures/models-v0:
 * a two-member failure model and a health model, with their outputs on fixed windows as the code of
 * that time computed them with stock tfjs): it must still read, and score the same.
 */
const FIXTURE = path.resolve('tests/fixtures/models-v0');
const expected = JSON.parse(readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8')) as Record<
  'x' | 'p' | 'rul' | 'reconstruction',
  number[]
>;

let tf: TF;
let runtime: KernelRuntime | null = null;
beforeAll(async () => {
  quietTfWarnings();
  ({ tf } = await loadTf('wasm'));
  runtime = (await loadFastLstm(tf, { preference: 'auto' })).runtime;
});
afterAll(async () => {
  await runtime?.close();
});

describe('models saved before recipes and pooling', () => {
  it('read as they were: the last-state pooling, no recipe, their champions', () => {
    const reg = new ModelRegistry(copy());
    const meta = reg.failureMeta('v0001');
    expect(poolingOf(meta)).toBe('last');
    expect(meta.recipe).toBeUndefined();
    expect(recipeText(meta)).toBe('step 1m · window 6 · horizon 2 · RUL cap 10 · LSTM 8/4');
    expect(reg.healthMeta('v0002').recipe).toBeUndefined();
    expect(reg.champions()).toEqual({ pump: 'v0001' });
    expect(reg.champions('health')).toEqual({ pump: 'v0002' });
  });

  it('score the same windows as they did, on the LSTM kernels and through tfjs', async () => {
    const reg = new ModelRegistry(copy());
    const x = Float32Array.from(expected.x);
    const failure = await reg.load(tf, 'v0001');
    // The kernels' scoring path (this thread has them) …
    const [p, rul] = modelOutputs(tf, failure, x, 5, 6, 3);
    expect(relativeError(p!, expected.p)).toBeLessThan(1e-5);
    expect(relativeError(rul!, expected.rul)).toBeLessThan(1e-5);
    // … and tfjs's own graph.
    const [tp, trul] = failure.predict(tf.tensor3d(x, [5, 6, 3])) as import('@tensorflow/tfjs').Tensor[];
    expect(relativeError(tp!.dataSync(), expected.p)).toBeLessThan(1e-5);
    expect(relativeError(trul!.dataSync(), expected.rul)).toBeLessThan(1e-5);
    const health = await reg.load(tf, 'v0002');
    const recon = health.predict(tf.tensor3d(x, [5, 6, 3])) as import('@tensorflow/tfjs').Tensor;
    expect(relativeError(recon.dataSync(), expected.reconstruction)).toBeLessThan(1e-5);
  });
});

/** The fixture is read-only in the repository: each test reads a copy. */
function copy(): string {
  const dir = tempDir('vigil-old-models-');
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}
