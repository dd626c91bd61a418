import type { Tensor } from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { buildLstm } from '../../src/model/lstm.js';
import { seededDropout } from '../../src/model/seeded-dropout.js';

let tf: TF;
beforeAll(async () => {
  quietTfWarnings();
  ({ tf } = await loadTf('wasm'));
});

const values = (t: Tensor | Tensor[]) => Array.from((Array.isArray(t) ? t[0]! : t).dataSync());

describe('seeded dropout with its mask kept', () => {
  it('gives exactly what tf.layers.dropout gives, call after call, in training and in inference', () => {
    const x = tf.randomNormal([7, 5, 12], 0, 1, 'float32', 3);
    const stock = tf.layers.dropout({ rate: 0.3, seed: 9 });
    const kept = seededDropout(tf, { rate: 0.3, seed: 9 });
    for (let call = 0; call < 3; call++)
      expect(values(kept.apply(x, { training: true }) as Tensor)).toEqual(values(stock.apply(x, { training: true }) as Tensor));
    expect(values(kept.apply(x) as Tensor)).toEqual(values(x));
    // A batch of another shape gets the mask tfjs would draw for that shape.
    const small = tf.randomNormal([2, 5, 12], 0, 1, 'float32', 4);
    expect(values(kept.apply(small, { training: true }) as Tensor)).toEqual(values(stock.apply(small, { training: true }) as Tensor));
  });

  it('passes the same gradient back as tf.layers.dropout', () => {
    const x = tf.randomNormal([4, 6, 8], 0, 1, 'float32', 5);
    const dy = tf.randomNormal([4, 6, 8], 0, 1, 'float32', 6);
    const grad = (layer: { apply(t: Tensor, k: object): unknown }) =>
      tf.grad((input: Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as Tensor, dy)))(x);
    expect(values(grad(seededDropout(tf, { rate: 0.2, seed: 2 })))).toEqual(values(grad(tf.layers.dropout({ rate: 0.2, seed: 2 }))));
  });

  it('keeps a few masks at most, and frees them with the layer', () => {
    const kept = seededDropout(tf, { rate: 0.5, seed: 1 });
    const before = tf.memory().numTensors;
    for (let n = 1; n <= 8; n++)
      tf.tidy(() => {
        kept.apply(tf.ones([n, 3]), { training: true });
      });
    expect(tf.memory().numTensors - before).toBe(4);
    kept.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('saves as a stock Dropout, so any tfjs reads the model', () => {
    const model = buildLstm(tf, {
      windowSteps: 6,
      features: 4,
      units: [8, 4],
      dropout: 0.25,
      learningRate: 0.01,
      seed: 3,
      recurrentActivation: 'sigmoid',
    });
    const topology = JSON.stringify(model.toJSON(null, false));
    expect(topology.match(/"class_name":"Dropout"/g)).toHaveLength(2);
  });

  it('draws a new mask every training call when asked, repeatably from its seed, keeping the expected share', () => {
    const x = tf.ones([64, 50, 16]);
    const a = seededDropout(tf, { rate: 0.25, seed: 7, fresh: true });
    const b = seededDropout(tf, { rate: 0.25, seed: 7, fresh: true });
    const first = values(a.apply(x, { training: true }) as Tensor);
    const second = values(a.apply(x, { training: true }) as Tensor);
    expect(second).not.toEqual(first);
    // Another layer with the same seed draws the same sequence of masks: a run repeats.
    expect(values(b.apply(x, { training: true }) as Tensor)).toEqual(first);
    expect(values(b.apply(x, { training: true }) as Tensor)).toEqual(second);
    // Inverted dropout: kept units scaled by 1/keep, about a quarter dropped.
    expect(new Set(first)).toEqual(new Set([0, Math.fround(1 / 0.75)]));
    const dropped = first.filter((v) => v === 0).length / first.length;
    expect(dropped).toBeGreaterThan(0.24);
    expect(dropped).toBeLessThan(0.26);
    // Inference passes the input through.
    expect(values(a.apply(x) as Tensor)).toEqual(values(x));
  });
});
