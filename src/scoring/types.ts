import type { MachineKind } from '../core/kinds.js';
import type { MachineRef } from '../core/types.js';
import type { HealthModelMeta, ModelMeta } from '../registry/index.js';

export interface ScoringOptions {
  /** Minimum time between two scores of one machine. */
  intervalMs: number;
  maxBatch: number;
  topSensors: number;
  /** Grid and gap rule used when no champion exists yet (the champion's own are used after). */
  stepMs: number;
  windowSteps: number;
  /** A kind's own grid before its first model (its recipe's step and longest window); stepMs and windowSteps when absent. */
  gridFor?: (kind: string) => { stepMs: number; windowSteps: number };
  maxGapSteps: number;
  /** Sensors tracked per machine; values of further sensors are stored but not scored. */
  maxSensorsPerMachine?: number;
}

export interface MachineScore {
  at: number;
  dataTs: number;
  probability: number;
  rulSteps: number;
  /** RUL in time: steps × the model's step. */
  rulMs: number;
  model: string;
  topSensors: Array<{ sensor: string; contribution: number }>;
  /** Model inputs the machine sent no reading of in this window: scored at their training mean. */
  missingInputs?: string[];
}

export interface MachineState {
  ref: MachineRef;
  /** Its kind (core/kinds.ts): which champion scores it. */
  kind: MachineKind;
  /**
   * What the last scoring attempt found: scored, waiting for data, no model to score with, or down
   * (failed, not repaired yet: a score of a broken machine means nothing).
   */
  status: 'scored' | 'warming_up' | 'no_model' | 'down';
  detail: string | null;
  score: MachineScore | null;
  /** Its health, where its kind has a health model; else why not (no model, learning normal: 9 h of 24 h). */
  health: MachineHealth | null;
  healthDetail: string | null;
  /** Data time of its newest reading, and when (daemon clock) a reading last arrived: replayed data differs. */
  lastSeenTs: number;
  lastReceivedAt: number;
  latest: Record<string, { value: number; ts: number }>;
}

export interface ChampionView {
  version: string;
  meta: ModelMeta;
}

export type ScoreListener = (machine: MachineRef, score: MachineScore, threshold: number) => void;

export interface HealthChampionView {
  version: string;
  meta: HealthModelMeta;
}

/** A machine's health as its kind's health model sees it, from one (smoothed) window. */
export interface MachineHealth {
  at: number;
  dataTs: number;
  /** Data time the scored window began. */
  windowStartTs: number;
  /** 100 = like its normal; 50 = as far as the 99th percentile of normal; 100/(1 + k) at k times that. */
  index: number;
  /** Index below which an anomaly alert opens (the model's calibration). */
  threshold: number;
  /** The smoothed anomaly score behind the index. */
  score: number;
  model: string;
  /** Sensors departing most from what the model expects: in their normal spread, and in their own unit. */
  deviations: Array<{ sensor: string; sigmas: number; delta: number }>;
  missingInputs: string[];
}

export type HealthListener = (machine: MachineRef, health: MachineHealth, kind: string) => void;
