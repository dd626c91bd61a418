import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import type { WindowSet } from '../../src/features/windows.js';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { buildLstm, predict } from '../../src/model/lstm.js';
import { fitModel } from '../../src/training/fit.js';
import { validate } from '../../src/training/pipeline.js';

let tf: TF;
beforeAll(async () => {
  quietTfWarnings();
  ({ tf } = await loadTf('cpu'));
});

/** Windows whose label is whether the signal ramps up at the end: learnable, not trivially constant. */
function synthetic(n: number, seed: number): WindowSet {
  const rng = new Rng(seed);
  const L = 8;
  const F = 2;
  const x = new Float32Array(n * L * F);
  const failure = new Float32Array(n);
  const rul = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const degrading = rng.next() < 0.4;
    for (let k = 0; k < L; k++) {
      x[(i * L + k) * F] = rng.normal(0, 0.3) + (degrading ? (k / L) * 2 : 0);
      x[(i * L + k) * F + 1] = rng.normal(0, 1);
    }
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

const spec = { windowSteps: 8, features: 2, units: [8], dropout: 0, learningRate: 0.02, seed: 5, recurrentActivation: 'sigmoid' as const };

describe('training loop', () => {
  it('L2-SP: an anchor pulls the weights back toward where fine-tuning started, in proportion to its strength', async () => {
    const drift = async (anchor: number) => {
      const model = buildLstm(tf, spec);
      const start = model.getWeights().map((w) => w.dataSync().slice());
      await fitModel(tf, model, synthetic(128, 3), synthetic(64, 4), {
        epochs: 3,
        batchSize: 32,
        patience: 9,
        seed: 1,
        rulCap: 10,
        anchor,
      });
      let sq = 0;
      model.getWeights().forEach((w, k) => w.dataSync().forEach((v, i) => (sq += (v - start[k]![i]!) ** 2)));
      model.dispose();
      return Math.sqrt(sq);
    };
    const free = await drift(0);
    const held = await drift(10);
    // lr 0.02 × 50 = 1: every batch ends back at the start.
    const pinned = await drift(50);
    expect(free).toBeGreaterThan(0.05);
    expect(held).toBeLessThan(free * 0.8);
    expect(pinned).toBeLessThan(1e-5);
  });

  it('learns a separable degradation pattern and keeps the best epoch', async () => {
    const model = buildLstm(tf, spec);
    const epochs: number[] = [];
    const fit = await fitModel(tf, model, synthetic(256, 1), synthetic(128, 2), {
      epochs: 12,
      batchSize: 32,
      patience: 4,
      seed: 1,
      rulCap: 10,
      onEpoch: (p) => epochs.push(p.valLoss),
    });
    expect(fit.cancelled).toBe(false);
    expect(fit.bestEpoch).toBeGreaterThan(0);
    expect(Math.min(...epochs)).toBeLessThan(epochs[0]!);
    const v = validate(tf, model, synthetic(128, 3), { rulCap: 10, horizon: 3, stepMs: 1000 });
    expect(v.classification.rocAuc).toBeGreaterThan(0.9);
    expect(v.rul.rmse).toBeLessThan(4);
  });

  it('judges RUL on a protocol cap below the knee the model was trained to', () => {
    const model = buildLstm(tf, spec);
    const ws = synthetic(64, 6);
    // Targets up to 12 (the knee), judged on a lower cap: truth and prediction both clipped there.
    ws.rul.forEach((r, i) => (ws.rul[i] = r === 10 ? 12 : r));
    const { rul } = predict(tf, model, ws.x, ws.n, ws.windowSteps, ws.features);
    // A cap inside the untrained model's range, so predictions are clipped as well as truths.
    const scaled = Array.from(rul, (r) => r * 12).sort((a, b) => a - b);
    const cap = Math.max(4, Math.round(scaled[Math.floor(scaled.length / 2)]!));
    expect(scaled.some((r) => r > cap)).toBe(true);
    const v = validate(tf, model, ws, { rulCap: 12, scoreCap: cap, horizon: 3, stepMs: 1000 });
    let se = 0;
    rul.forEach((r, i) => (se += (Math.min(cap, Math.max(0, r * 12)) - Math.min(cap, ws.rul[i]!)) ** 2));
    expect(v.rul.rmse).toBeCloseTo(Math.sqrt(se / ws.n), 5);
    expect(v.rulBands[v.rulBands.length - 1]!.from).toBe(cap);
    model.dispose();
  });

  it('can stop early on the promotion metrics and reports them each epoch', async () => {
    const model = buildLstm(tf, spec);
    const seen: Array<[number | null, number | null]> = [];
    const fit = await fitModel(tf, model, synthetic(128, 1), synthetic(64, 2), {
      epochs: 4,
      batchSize: 32,
      patience: 4,
      seed: 1,
      rulCap: 10,
      monitor: 'metrics',
      onEpoch: (p) => seen.push([p.valPrAuc, p.valRulRmse]),
    });
    expect(seen).toHaveLength(4);
    for (const [prAuc, rmse] of seen) {
      expect(prAuc).toBeGreaterThan(0);
      expect(rmse).toBeGreaterThanOrEqual(0);
    }
    expect(fit.bestEpoch).toBeGreaterThan(0);
  });

  it('is reproducible on one backend with one seed', async () => {
    const run = async () => {
      const model = buildLstm(tf, spec);
      await fitModel(tf, model, synthetic(64, 1), synthetic(32, 2), { epochs: 2, batchSize: 16, patience: 5, seed: 9, rulCap: 10 });
      return model.getWeights().map((w) => Array.from(w.dataSync()));
    };
    expect(await run()).toEqual(await run());
  });

  it('stops between batches when cancelled', async () => {
    const model = buildLstm(tf, spec);
    let batches = 0;
    const fit = await fitModel(tf, model, synthetic(256, 1), synthetic(32, 2), {
      epochs: 50,
      batchSize: 16,
      patience: 50,
      seed: 1,
      rulCap: 10,
      onBatch: () => batches++,
      shouldStop: () => batches >= 3,
    });
    expect(fit.cancelled).toBe(true);
    expect(batches).toBe(3);
    expect(fit.history).toEqual([]);
  });
});
