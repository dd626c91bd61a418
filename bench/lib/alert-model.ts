import type { SymbolicTensor } from '@tensorflow/tfjs';
import type { TF } from '../../src/model/backend.js';
import type { ModelMeta } from '../../src/registry/meta.js';

/**
 * A model for measuring the serving path, not for predicting: the production-size LSTM stack
 * (64/32 units, so inference costs what it costs in the field) feeds the RUL head, while p(failure)
 * is a steep sigmoid of the newest reading of sensor `x`. So the benchmark knows exactly which
 * message crosses the threshold and can time everything after it.
 */
export function buildAlertBenchModel(tf: TF, window: number, sensors: string[]) {
  const F = sensors.length;
  const input = tf.input({ shape: [window, F], name: 'window' });
  const flat = tf.layers.flatten().apply(input) as SymbolicTensor;
  const kernel = new Float32Array(window * F);
  kernel[(window - 1) * F + sensors.indexOf('x')] = 20;
  const failure = tf.layers
    .dense({ units: 1, activation: 'sigmoid', name: 'failure', weights: [tf.tensor2d(kernel, [window * F, 1]), tf.tensor1d([-10])] })
    .apply(flat) as SymbolicTensor;
  const l1 = tf.layers.lstm({ units: 64, returnSequences: true, recurrentActivation: 'sigmoid' }).apply(input) as SymbolicTensor;
  const l2 = tf.layers.lstm({ units: 32, recurrentActivation: 'sigmoid' }).apply(l1) as SymbolicTensor;
  const rul = tf.layers.dense({ units: 1, name: 'rul' }).apply(l2) as SymbolicTensor;
  return tf.model({ inputs: input, outputs: [failure, rul], name: 'bench_alerts' });
}

export function alertBenchMeta(window: number, sensors: string[], stepMs: number): ModelMeta {
  const cls = { threshold: 0.5, accuracy: 1, precision: 1, recall: 1, f1: 1, prAuc: 1, rocAuc: 1, positives: 1, n: 1 };
  return {
    version: 'v0001',
    createdAt: new Date().toISOString(),
    parent: null,
    warmStartedFrom: null,
    decision: { promoted: true, reason: 'bench:alerts fixture' },
    dataRange: { from: 0, to: 0 },
    machines: { train: 0, validation: [], splitMethod: 'none' },
    sensors,
    dropped: [],
    stepMs,
    window,
    horizon: 5,
    rulCap: 30,
    normalisation: { sensors, mean: sensors.map(() => 0), std: sensors.map(() => 1), dropped: [] },
    architecture: { units: [64, 32], dropout: 0, recurrentActivation: 'sigmoid', learningRate: 0, batchSize: 1 },
    threshold: 0.5,
    metrics: {
      validation: { classification: cls, rul: { rmse: 0, mae: 0, score: 0, n: 1 } },
      leadTime: { detected: 0, missed: 0, meanLeadMs: null },
      championOnSameData: null,
    },
    training: {
      backend: 'none',
      provider: 'none',
      durationMs: 0,
      epochs: 0,
      bestEpoch: 0,
      samplesPerSecond: 0,
      seed: 0,
      stoppedEarly: false,
    },
    data: { purpose: 'bench:alerts' },
  };
}
