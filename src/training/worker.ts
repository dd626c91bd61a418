/**
 * Training worker entry: its own tfjs, its own store connection. Progress, results and errors go
 * back as messages; a crash here ends this thread only, never the daemon.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runHealthTraining } from './health-run.js';
import { runTraining } from './run.js';
import type { WorkerInput, WorkerMessage } from './worker-input.js';

const port = parentPort!;
const input = workerData as WorkerInput;
let stopRequested = false;
port.on('message', (m: { type: string }) => {
  if (m.type === 'cancel') stopRequested = true;
});

let lastBatch = 0;
try {
  const run = input.role === 'health' ? runHealthTraining : runTraining;
  const result = await run({
    ...input,
    onProgress: (progress) => {
      // Batch ticks are frequent; a few a second are plenty for a progress bar.
      if (progress.phase === 'batch') {
        const now = performance.now();
        if (now - lastBatch < 250) return;
        lastBatch = now;
      }
      port.postMessage({ type: 'progress', progress } satisfies WorkerMessage);
    },
    shouldStop: () => stopRequested,
  });
  port.postMessage((result.cancelled ? { type: 'cancelled' } : { type: 'done', meta: result.meta }) satisfies WorkerMessage);
} catch (err) {
  const e = err instanceof Error ? err : new Error(String(err));
  port.postMessage({ type: 'error', name: e.name, message: e.message } satisfies WorkerMessage);
}
port.close();
