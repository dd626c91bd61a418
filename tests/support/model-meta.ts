import type Database from 'better-sqlite3';
import { HealthHistory } from '../../src/scoring/health-history.js';
import { ScoreHistory } from '../../src/scoring/score-history.js';
import type { HealthModelMeta, ModelMeta } from '../../src/registry/meta.js';

/** How a test model was trained: one epoch on the CPU. */
const TRAINING = {
  backend: 'cpu',
  provider: 'cpu',
  durationMs: 1,
  epochs: 1,
  bestEpoch: 1,
  samplesPerSecond: 1,
  seed: 3,
  stoppedEarly: false,
};

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
    training: { ...TRAINING },
    data: {},
    ...over,
  };
}

/**
 * A valid meta.json for a small test health model over sensors a, b, c: residual features taken as
 * independent with unit spread, so that the index falls as the reconstruction departs.
 */
export function testHealthMeta(version: string, over: Partial<HealthModelMeta> = {}): HealthModelMeta {
  const sensors = over.sensors ?? ['a', 'b', 'c'];
  const p = 2 * sensors.length;
  const figures = {
    normal: {
      windows: 10,
      machines: 1,
      machineHours: 1,
      falseAlarms: 0,
      falseAlarmsPerMachineMonth: 0,
      expectedFalseAlarmsPerMachineMonth: 0.9,
    },
    labelled: { positives: 0, auc: null },
    announced: [],
    reconstructionRmse: 0.5,
  };
  return {
    version,
    role: 'health',
    kind: 'test',
    createdAt: new Date(0).toISOString(),
    parent: null,
    decision: { promoted: true, reason: 'test' },
    dataRange: { from: 0, to: 1 },
    machines: { train: 1, validation: ['m'], splitMethod: 'by-time' },
    sensors,
    dropped: [],
    stepMs: 60_000,
    window: 6,
    normalisation: { sensors, mean: sensors.map(() => 0), std: sensors.map(() => 1), dropped: [] },
    architecture: { design: 'reconstruct', units: [4, 4], dropout: 0, learningRate: 0.01, batchSize: 8 },
    calibration: {
      features: 'mean-and-log-rms',
      mean: Array.from({ length: p }, () => 0),
      precision: Array.from({ length: p * p }, (_, i) => (i % (p + 1) === 0 ? 1 : 0)),
      sd: Array.from({ length: p }, () => 1),
      shrinkage: 0.2,
      smoothingSteps: 2,
      scale: { median: 2, p99: 8 },
      threshold: 40,
      chosenBy: 'budget',
      budgetThreshold: 40,
      budget: { falseAlarmsPerMachineMonth: 1 },
      estimate: { falseAlarmsPerMachineMonth: 0.9, intercept: 4, slope: -0.5, points: 5 },
    },
    metrics: { ...figures, championOnSameData: null },
    verdicts: { normal: 0, abnormal: 0, normalHours: 0, abnormalHours: 0 },
    training: { ...TRAINING },
    data: {},
    ...over,
  };
}

/** The scoring service's histories on one state database: failure scores and health indices. */
export function scoringHistories(db: Database.Database, retentionMs: number): { scores: ScoreHistory; health: HealthHistory } {
  return { scores: new ScoreHistory(db, retentionMs), health: new HealthHistory(db, retentionMs) };
}
