/**
 * Federation worker entry: one gateway task (statistics, a round, the final model) with its own
 * tfjs and store connection; the result or the error goes back as one message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runGatewayTask, type GatewayTask } from './gateway-tasks.js';

const port = parentPort!;
try {
  const result = await runGatewayTask(workerData as GatewayTask);
  port.postMessage({ type: 'done', result });
} catch (err) {
  const e = err instanceof Error ? err : new Error(String(err));
  port.postMessage({ type: 'error', message: `${e.name}: ${e.message}` });
}
port.close();
