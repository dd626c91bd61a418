import type Database from 'better-sqlite3';
import type { TrainingConfig } from './worker-input.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { ModelRegistry } from '../registry/index.js';
import type { JudgedPeriod } from '../core/verdict-book.js';
import { TrainingManager } from './manager.js';
import { trainingReport } from './report.js';

/** Training runs in their worker thread; a run still going at stop is cancelled and recorded as such. */
export function buildTraining(
  config: TrainingConfig & { schedule: { enabled: boolean } },
  d: { db: Database.Database; registry: ModelRegistry; verdicts?: { periods(from: number): JudgedPeriod[] } },
  life: Lifecycle,
): TrainingManager {
  const training = new TrainingManager(config, d.db, d.registry, life.clock, life.log.child({ component: 'training' }), d.verdicts);
  life.release('training', () => training.stop());
  life.report(trainingReport(training, config.schedule.enabled));
  return training;
}
