import type Database from 'better-sqlite3';
import type { TrainingConfig } from './worker-input.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { ModelRegistry } from '../registry/index.js';
import type { JudgedPeriod } from '../core/verdict-book.js';
import { probeNativeKernels } from '../model/index.js';
import { TrainingManager } from './manager.js';
import { trainingReport, type KernelProbe } from './report.js';

/**
 * Training runs in their worker thread; a run still going at stop is cancelled and recorded as such. At
 * start the daemon checks the native LSTM kernels once and says which kernels its workers will use, and
 * why not native when not.
 */
export function buildTraining(
  config: TrainingConfig & { schedule: { enabled: boolean } },
  d: { db: Database.Database; registry: ModelRegistry; verdicts?: { periods(from: number): JudgedPeriod[] } },
  life: Lifecycle,
): TrainingManager {
  const training = new TrainingManager(config, d.db, d.registry, life.clock, life.log.child({ component: 'training' }), d.verdicts);
  life.release('training', () => training.stop());
  const log = life.log.child({ component: 'training' });
  const kernels: KernelProbe & { checked: boolean } = { configured: config.learning.kernel, native: null, reason: null, checked: false };
  if (config.learning.kernel !== 'stock' && config.learning.kernel !== 'wasm') {
    void probeNativeKernels().then((p) => {
      Object.assign(kernels, p, { checked: true });
      if (p.instructionSet) log.info({ kernels: p.instructionSet }, `LSTM kernels: native (${p.instructionSet})`);
      else if (config.learning.kernel === 'native')
        log.error({ reason: p.reason }, `learning.kernel is native, but ${p.reason}: training fails until they build (scoring falls back)`);
      else log.warn({ reason: p.reason }, `LSTM kernels: wasm (${p.reason})`);
    });
  } else {
    kernels.checked = true;
    kernels.reason = 'configured';
    log.info(`LSTM kernels: ${config.learning.kernel} (configured)`);
  }
  life.report(trainingReport(training, config.schedule.enabled, () => kernels));
  return training;
}
