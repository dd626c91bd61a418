import type { MachineKind } from '../core/kinds.js';
import type { MachineRef } from '../core/types.js';
import type { ModelMeta } from '../registry/index.js';

export interface ScoringOptions {
  /** Minimum time between two scores of one machine. */
  intervalMs: number;
  maxBatch: number;
  topSensors: number;
  /** Grid and gap rule used when no champion exists yet (the champion's own are used after). */
  stepMs: number;
  windowSteps: number;
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
