import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { Rng } from '../core/random.js';
import { reconstructionTargets, type TF } from '../model/index.js';

/** Windows [n, L, F] of normalised inputs; the first `sensors` columns are reconstructed. */
export interface HealthWindows {
  n: number;
  windowSteps: number;
  features: number;
  sensors: number;
  x: Float32Array;
}

export interface HealthFitOptions {
  epochs: number;
  batchSize: number;
  patience: number;
  seed: number;
  onEpoch?: (p: {
    epoch: number;
    epochs: number;
    loss: number;
    valLoss: number;
    bestEpoch: number;
    etaMs: number;
    samplesPerSecond: number;
  }) => void;
  onBatch?: (done: number, total: number, epoch: number) => void;
  shouldStop?: () => boolean;
}

export interface HealthFitResult {
  epochs: number;
  bestEpoch: number;
  bestValLoss: number;
  stoppedEarly: boolean;
  cancelled: boolean;
  samplesPerSecond: number;
}

/**
 * Trains the reconstruction with a seeded shuffle each epoch, stops early on the validation windows'
 * reconstruction error and keeps the best epoch's weights.
 */
export async function fitHealth(
  tf: TF,
  model: LayersModel,
  train: HealthWindows,
  val: HealthWindows,
  o: HealthFitOptions,
): Promise<HealthFitResult> {
  const rng = new Rng(o.seed);
  const size = train.windowSteps * train.features;
  const width = train.windowSteps * train.sensors;
  const order = Array.from({ length: train.n }, (_, i) => i);
  const targets = reconstructionTargets(train.x, train.n, train.windowSteps, train.features, train.sensors);
  const valX = tf.tensor3d(val.x, [val.n, val.windowSteps, val.features]);
  const valY = tf.tensor2d(reconstructionTargets(val.x, val.n, val.windowSteps, val.features, val.sensors), [val.n, width]);
  const batchX = new Float32Array(o.batchSize * size);
  const batchY = new Float32Array(o.batchSize * width);
  let best = Infinity;
  let bestEpoch = 0;
  let bestWeights: Tensor[] | null = null;
  let epochs = 0;
  let cancelled = false;
  let trained = 0;
  let seconds = 0;
  try {
    for (let epoch = 1; epoch <= o.epochs && !cancelled; epoch++) {
      rng.shuffle(order);
      const t0 = performance.now();
      let sum = 0;
      let batches = 0;
      for (let start = 0; start < order.length; start += o.batchSize) {
        if (o.shouldStop?.()) {
          cancelled = true;
          break;
        }
        const count = Math.min(o.batchSize, order.length - start);
        for (let b = 0; b < count; b++) {
          const i = order[start + b]!;
          batchX.set(train.x.subarray(i * size, (i + 1) * size), b * size);
          batchY.set(targets.subarray(i * width, (i + 1) * width), b * width);
        }
        const xs = tf.tensor3d(batchX.subarray(0, count * size), [count, train.windowSteps, train.features]);
        const ys = tf.tensor2d(batchY.subarray(0, count * width), [count, width]);
        sum += (await model.trainOnBatch(xs, ys)) as number;
        tf.dispose([xs, ys]);
        batches++;
        trained += count;
        o.onBatch?.(start + count, order.length, epoch);
        // Let the worker's message port (progress, cancel) breathe between batches.
        await new Promise((r) => setImmediate(r));
      }
      seconds += (performance.now() - t0) / 1000;
      if (cancelled) break;
      epochs = epoch;
      const valLoss = tf.tidy(() => ((model.evaluate(valX, valY, { batchSize: 1024 }) as Tensor).dataSync() as Float32Array)[0]!);
      if (valLoss < best - 1e-6) {
        best = valLoss;
        bestEpoch = epoch;
        bestWeights?.forEach((w) => w.dispose());
        bestWeights = model.getWeights().map((w) => w.clone());
      }
      o.onEpoch?.({
        epoch,
        epochs: o.epochs,
        loss: sum / Math.max(1, batches),
        valLoss,
        bestEpoch,
        etaMs: (seconds / epoch) * (o.epochs - epoch) * 1000,
        samplesPerSecond: trained / Math.max(seconds, 1e-9),
      });
      if (epoch - bestEpoch >= o.patience) break;
    }
    if (bestWeights) model.setWeights(bestWeights);
    return {
      epochs,
      bestEpoch,
      bestValLoss: best,
      stoppedEarly: !cancelled && epochs < o.epochs,
      cancelled,
      samplesPerSecond: trained / Math.max(seconds, 1e-9),
    };
  } finally {
    bestWeights?.forEach((w) => w.dispose());
    valX.dispose();
    valY.dispose();
  }
}
