import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { fileHandler } from '../../src/model/file-io.js';
import { buildHealthLstm, reconstruct } from '../../src/model/health-lstm.js';
import { buildLstm, predict } from '../../src/model/lstm.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { decide } from '../../src/training/run.js';
import { tempDir } from '../support/fixtures.js';
import { testMeta as meta } from '../support/model-meta.js';

let tf: TF;
beforeAll(async () => {
  quietTfWarnings();
  ({ tf } = await loadTf('cpu'));
});

const spec = {
  windowSteps: 6,
  features: 3,
  units: [5, 4],
  dropout: 0.1,
  learningRate: 0.01,
  seed: 3,
  recurrentActivation: 'sigmoid' as const,
};

describe('LSTM model', () => {
  it('has two heads: p(failure) in [0, 1] and RUL', () => {
    const model = buildLstm(tf, spec);
    expect(model.outputNames).toEqual(['failure', 'rul']);
    const x = Float32Array.from({ length: 4 * 18 }, (_, i) => Math.sin(i));
    const { p, rul } = predict(tf, model, x, 4, 6, 3);
    expect(p.length).toBe(4);
    expect(rul.length).toBe(4);
    for (const v of p) expect(v).toBeGreaterThanOrEqual(0);
    for (const v of p) expect(v).toBeLessThanOrEqual(1);
  });

  it('the health model reconstructs every sensor at every step, in batches as in one call', () => {
    const model = buildHealthLstm(tf, { windowSteps: 6, features: 3, sensors: 2, units: [5], dropout: 0, learningRate: 0.01, seed: 4 });
    const x = Float32Array.from({ length: 5 * 18 }, (_, i) => Math.cos(i / 3));
    const out = reconstruct(tf, model, x, 5, 6, 3, 2);
    expect(out.length).toBe(5 * 6 * 2);
    const whole = (model.predict(tf.tensor3d(x, [5, 6, 3])) as import('@tensorflow/tfjs').Tensor).dataSync();
    expect(Array.from(out)).toEqual(Array.from(whole));
  });

  it('charges a late RUL error rulLateWeight times an early one of the same size, and the plain loss both alike', () => {
    const x = tf.tensor3d(
      Float32Array.from({ length: 4 * 18 }, (_, i) => Math.sin(i)),
      [4, 6, 3],
    );
    const failure = tf.zeros([4, 1]);
    const rulLoss = (late: number, shift: number): number => {
      const model = buildLstm(tf, { ...spec, dropout: 0, rulLateWeight: late });
      const rul = tf.tidy(() => (model.predict(x) as import('@tensorflow/tfjs').Tensor[])[1]!.sub(shift));
      // evaluate's last figure is the RUL head's loss; a positive shift makes the prediction later than the target.
      const losses = (model.evaluate(x, [failure, rul]) as import('@tensorflow/tfjs').Scalar[]).map((t) => t.dataSync()[0]!);
      tf.dispose(rul);
      model.dispose();
      return losses.at(-1)!;
    };
    expect(rulLoss(3, 0.1)).toBeCloseTo(3 * 0.01, 5);
    expect(rulLoss(3, -0.1)).toBeCloseTo(0.01, 5);
    expect(rulLoss(1, 0.1)).toBeCloseTo(rulLoss(1, -0.1), 6);
    tf.dispose([x, failure]);
  });

  it('is initialised reproducibly from its seed', () => {
    const a = buildLstm(tf, spec)
      .getWeights()
      .map((w) => Array.from(w.dataSync()));
    const b = buildLstm(tf, spec)
      .getWeights()
      .map((w) => Array.from(w.dataSync()));
    expect(a).toEqual(b);
  });

  it('round-trips through model.json + weights.bin bit for bit', async () => {
    const dir = tempDir();
    const model = buildLstm(tf, spec);
    await model.save(fileHandler(tf, dir));
    expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    const loaded = await tf.loadLayersModel(fileHandler(tf, dir));
    const before = model.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).buffer));
    const after = loaded.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).buffer));
    expect(after.length).toBe(before.length);
    after.forEach((buf, i) => expect(buf.equals(before[i]!)).toBe(true));
    const x = Float32Array.from({ length: 18 }, (_, i) => i / 10);
    expect(Array.from(predict(tf, loaded, x, 1, 6, 3).p)).toEqual(Array.from(predict(tf, model, x, 1, 6, 3).p));
    // Saving the loaded model writes the same weights bytes again.
    const dir2 = tempDir();
    await loaded.save(fileHandler(tf, dir2));
    expect(readFileSync(path.join(dir2, 'weights.bin')).equals(readFileSync(path.join(dir, 'weights.bin')))).toBe(true);
  });

  it.each([
    [
      'truncated weights',
      (dir: string) => writeFileSync(path.join(dir, 'weights.bin'), readFileSync(path.join(dir, 'weights.bin')).subarray(0, 100)),
      /weights are 100 bytes/,
    ],
    ['not JSON', (dir: string) => writeFileSync(path.join(dir, 'model.json'), '{oops'), /not JSON/],
    [
      'path escape',
      (dir: string) => {
        const j = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
        j.weightsManifest[0].paths = ['../../etc/passwd'];
        writeFileSync(path.join(dir, 'model.json'), JSON.stringify(j));
      },
      /outside the model directory/,
    ],
  ])('refuses a damaged model file (%s) with a clear error', async (_n, damage, message) => {
    const dir = tempDir();
    await buildLstm(tf, spec).save(fileHandler(tf, dir));
    damage(dir);
    await expect(tf.loadLayersModel(fileHandler(tf, dir))).rejects.toThrow(message);
  });
});

describe('model registry', () => {
  it('numbers versions, keeps the champion pointer, rolls back, and enforces retention', async () => {
    const reg = new ModelRegistry(tempDir());
    for (let i = 0; i < 5; i++) {
      const v = reg.nextVersion();
      await reg.save(tf, buildLstm(tf, spec), meta(v));
      if (i !== 3) reg.promote(v, 'better');
    }
    expect(reg.versions()).toEqual(['v0001', 'v0002', 'v0003', 'v0004', 'v0005']);
    expect(reg.championVersion()).toBe('v0005');
    expect(reg.rollback()).toBe('v0003');
    expect(reg.championVersion()).toBe('v0003');
    const removed = reg.enforceRetention(2);
    expect(reg.versions()).toContain('v0003');
    expect(removed).toContain('v0001');
    expect(reg.versions().length).toBeLessThanOrEqual(5 - removed.length);
    const loaded = await reg.load(tf, 'v0003');
    expect(loaded.outputNames).toEqual(['failure', 'rul']);
  });

  it('an interrupted save leaves the champion intact and its leftovers are cleaned up', async () => {
    const dir = tempDir();
    const reg = new ModelRegistry(dir);
    await reg.save(tf, buildLstm(tf, spec), meta('v0001'));
    reg.promote('v0001', 'first');
    // What a crash between writing weights and the rename leaves behind.
    mkdirSync(path.join(dir, '.tmp-v0002-999'));
    writeFileSync(path.join(dir, '.tmp-v0002-999', 'weights.bin'), Buffer.alloc(10));
    const again = new ModelRegistry(dir);
    expect(readdirSync(dir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
    expect(again.championVersion()).toBe('v0001');
    expect(again.nextVersion()).toBe('v0002');
    await expect(again.load(tf, 'v0001')).resolves.toBeTruthy();
  });

  it('refuses a meta.json that does not validate', async () => {
    const dir = tempDir();
    const reg = new ModelRegistry(dir);
    await reg.save(tf, buildLstm(tf, spec), meta('v0001'));
    writeFileSync(path.join(dir, 'v0001', 'meta.json'), JSON.stringify({ ...meta('v0001'), window: 'fifty' }));
    expect(() => reg.meta('v0001')).toThrow(/meta\.json is invalid at \/window/);
    expect(() => reg.meta('../etc')).toThrow(/no model version/);
  });

  it('promotes a challenger only when it beats the champion on the same data', () => {
    const v = (prAuc: number, rmse: number) => ({
      threshold: 0.5,
      classification: { ...meta('v0001').metrics.validation.classification, prAuc, confusion: { tp: 0, fp: 0, tn: 0, fn: 0 } },
      rul: { rmse, mae: 0, score: 0, n: 1 },
      rulBands: [],
      lead: { detected: 3, missed: 0, meanLeadMs: null },
    });
    expect(decide(v(0.8, 10), null).promoted).toBe(true);
    // Too few failures held out: the metrics are unmeasured, so nothing is promoted, even the first model.
    const thin = { ...v(0.99, 1), lead: { detected: 1, missed: 0, meanLeadMs: null } };
    expect(decide(thin, null, { minValidationFailures: 2 })).toEqual({
      promoted: false,
      reason: 'validation holds 1 failure, fewer than learning.minValidationFailures (2): its metrics would be unmeasured',
    });
    expect(decide(thin, { ...v(0.5, 30), version: 'v0001' }, { minValidationFailures: 2 }).promoted).toBe(false);
    expect(decide(v(0.85, 10), { ...v(0.8, 10), version: 'v0001' }).promoted).toBe(true);
    expect(decide(v(0.8, 9), { ...v(0.8, 10), version: 'v0001' }).promoted).toBe(true);
    expect(decide(v(0.9, 11), { ...v(0.8, 10), version: 'v0001' })).toEqual({
      promoted: false,
      reason: expect.stringMatching(/does not beat the champion: PR-AUC 0.900 vs 0.800, RUL RMSE 11.00 vs 10.00/),
    });
    expect(decide(v(0.8, 10), { ...v(0.8, 10), version: 'v0001' }).promoted).toBe(false);
  });
});
