import type { ModelMeta } from '../../src/registry/registry.js';

/** A valid meta.json for a small test model; `over` changes fields. */
export function testMeta(version: string, over: Partial<ModelMeta> = {}): ModelMeta {
  const cls = { threshold: 0.5, accuracy: 0.9, precision: 0.8, recall: 0.7, f1: 0.75, prAuc: 0.8, rocAuc: 0.9, positives: 3, n: 10 };
  return {
    version,
    createdAt: new Date(0).toISOString(),
    parent: null,
    warmStartedFrom: null,
    decision: { promoted: true, reason: 'test' },
    dataRange: { from: 0, to: 1 },
    machines: { train: 1, validation: ['m'], splitMethod: 'by-time' },
    sensors: ['a', 'b', 'c'],
    dropped: [],
    stepMs: 60_000,
    window: 6,
    horizon: 2,
    rulCap: 10,
    normalisation: { sensors: ['a', 'b', 'c'], mean: [0, 0, 0], std: [1, 1, 1], dropped: [] },
    architecture: { units: [5, 4], dropout: 0.1, recurrentActivation: 'sigmoid', learningRate: 0.01, batchSize: 8 },
    threshold: 0.5,
    metrics: {
      validation: { classification: cls, rul: { rmse: 1, mae: 1, score: 1, n: 10 } },
      leadTime: { detected: 1, missed: 0, meanLeadMs: 1 },
      championOnSameData: null,
    },
    training: {
      backend: 'cpu',
      provider: 'cpu',
      durationMs: 1,
      epochs: 1,
      bestEpoch: 1,
      samplesPerSecond: 1,
      seed: 3,
      stoppedEarly: false,
    },
    data: {},
    ...over,
  };
}
