/**
 * A worker thread that trains Vigil's LSTM for a while on one kernel build, as the training worker does in
 * the daemon: bench:lstm runs it to measure what training costs the event loop that serves MQTT and HTTP.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadTf, quietTfWarnings } from '../../src/model/backend.js';
import { loadFastLstm } from '../../src/model/fast-lstm/load.js';
import { buildLstm } from '../../src/model/lstm.js';

const o = workerData as {
  build: 'native' | 'wasm';
  threads: number;
  seconds: number;
  batch: number;
  window: number;
  features: number;
  pooling: 'last' | 'attention';
};
quietTfWarnings();
const { tf } = await loadTf('wasm');
const kernels = await loadFastLstm(tf, { preference: o.build, threads: o.threads });
const model = buildLstm(tf, {
  windowSteps: o.window,
  features: o.features,
  units: [64, 32],
  dropout: 0.2,
  learningRate: 0.002,
  seed: 1,
  recurrentActivation: 'sigmoid',
  kernel: kernels.kernel,
  pooling: o.pooling,
});
const x = tf.randomNormal([o.batch, o.window, o.features], 0, 1, 'float32', 1);
const y = [tf.cast(tf.greater(tf.randomUniform([o.batch, 1], 0, 1, 'float32', 2), 0.7), 'float32'), tf.randomUniform([o.batch, 1])];
await model.trainOnBatch(x, y);
parentPort!.postMessage({ type: 'started' });
let batches = 0;
const t0 = performance.now();
while (performance.now() - t0 < o.seconds * 1000) {
  await model.trainOnBatch(x, y);
  batches++;
}
parentPort!.postMessage({
  type: 'done',
  windowsPerSecond: (batches * o.batch) / ((performance.now() - t0) / 1000),
  describe: kernels.describe,
});
