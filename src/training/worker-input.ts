import type { MachinesConfig } from '../config/schema.js';
import type { StoreConfig } from '../store/index.js';
import type { HealthConfig, KindRecipes, LearningConfig } from './config.js';
import type { TrainingProgress } from './types.js';
import type { ModelRole } from '../core/model-roles.js';
import type { VerdictPeriod } from './health-data.js';

/**
 * What a training run needs of the config: the learning settings and how to reach the sensor store
 * (with its credentials: the worker opens its own connection). API tokens, webhook secrets, MQTT
 * credentials and the carbon source's headers stay in the daemon.
 */
export interface TrainingConfig {
  learning: LearningConfig;
  health: HealthConfig;
  /** Each kind's own recipe over learning and health (recipes.ts). */
  kinds: KindRecipes;
  store: StoreConfig;
  machines: MachinesConfig;
}

export function trainingConfig(config: TrainingConfig): TrainingConfig {
  return { learning: config.learning, health: config.health, kinds: config.kinds, store: config.store, machines: config.machines };
}

/** What the training worker is started with (its workerData). */
export interface WorkerInput {
  config: TrainingConfig;
  now: number;
  /** The machine kind to train; absent: the kind most in need (see chooseKind). */
  kind?: string;
  warmStart?: boolean;
  epochs?: number;
  role: ModelRole;
  verdicts?: VerdictPeriod[];
}

export type WorkerMessage =
  | { type: 'progress'; progress: TrainingProgress }
  | { type: 'done'; meta: unknown }
  | { type: 'cancelled' }
  | { type: 'error'; name: string; message: string };
