import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { Rng } from '../core/random.js';
import { type TF, predict, averagePrecision } from '../model/index.js';
import type { WindowSet } from '../features/index.js';

export interface FitOptions {
  epochs: number;
  batchSize: number;
  patience: number;
  /**
   * What early stopping watches: the validation loss, or the validation metrics the registry promotes
   * on (RUL RMSE / cap + 1 − PR-AUC), which are steadier than a loss dominated by a few borderline windows.
   */
  monitor?: 'loss' | 'metrics';
  /** Halve the learning rate after this many epochs without validation improvement (0 = never). */
  reduceLrAfter?: number;
  seed: number;
  rulCap: number;
  onEpoch?: (p: EpochProgress) => void;
  /** After each batch: windows done of this epoch's total, and the epoch (1-based) it belongs to. */
  onBatch?: (done: number, total: number, epoch: number) => void;
  /** Checked between batches: a cancelled run stops at once. */
  shouldStop?: () => boolean;
  /**
   * L2-SP: after each batch, every weight is pulled toward where it started by learning rate × this ×
   * (w − w₀) — weight decay toward the starting model rather than toward zero (decoupled, as AdamW's).
   * Fine-tuning a transferred model on a few machines keeps what the source learned unless the data
   * say otherwise. 0 (default) = none.
   */
  anchor?: number;
}

export interface EpochProgress {
  epoch: number;
  epochs: number;
  loss: number;
  failureLoss: number;
  rulLoss: number;
  valLoss: number;
  /** Validation PR-AUC and RUL RMSE (in steps), when monitoring metrics. */
  valPrAuc: number | null;
  valRulRmse: number | null;
  bestEpoch: number;
  etaMs: number;
  samplesPerSecond: number;
  /** Which member of an ensemble this epoch trained (1-based), and how many there are. */
  member?: number;
  members?: number;
}

export interface FitResult {
  history: EpochProgress[];
  bestEpoch: number;
  stoppedEarly: boolean;
  cancelled: boolean;
  samplesPerSecond: number;
  trainedSamples: number;
}

/**
 * Mini-batch training with a seeded shuffle each epoch (tfjs's own shuffle is not seeded), early
 * stopping on validation loss, and the best epoch's weights restored at the end.
 */
export async function fitModel(tf: TF, model: LayersModel, train: WindowSet, val: WindowSet, o: FitOptions): Promise<FitResult> {
  const rng = new Rng(o.seed);
  const size = train.windowSteps * train.features;
  const order = Array.from({ length: train.n }, (_, i) => i);
  const history: EpochProgress[] = [];
  let best = Infinity;
  let bestEpoch = 0;
  let bestWeights: Tensor[] | null = null;
  let cancelled = false;
  let trainedSamples = 0;
  let trainSeconds = 0;
  const valX = val.n > 0 ? tf.tensor3d(val.x, [val.n, val.windowSteps, val.features]) : null;
  const valY = val.n > 0 ? [tf.tensor2d(val.failure, [val.n, 1]), tf.tensor2d(scaledRul(val.rul, o.rulCap), [val.n, 1])] : null;
  const batchX = new Float32Array(o.batchSize * size);
  const batchF = new Float32Array(o.batchSize);
  const batchR = new Float32Array(o.batchSize);
  type Variable = { read(): Tensor; write(t: Tensor): void };
  const anchored =
    (o.anchor ?? 0) > 0 ? (model.trainableWeights as unknown as Variable[]).map((w) => ({ w, start: w.read().clone() })) : [];
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      rng.shuffle(order);
      const t0 = performance.now();
      let sum = 0;
      let sumF = 0;
      let sumR = 0;
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
          batchF[b] = train.failure[i]!;
          batchR[b] = train.rul[i]! / o.rulCap;
        }
        const xs = tf.tensor3d(batchX.subarray(0, count * size), [count, train.windowSteps, train.features]);
        const yf = tf.tensor2d(batchF.subarray(0, count), [count, 1]);
        const yr = tf.tensor2d(batchR.subarray(0, count), [count, 1]);
        const losses = (await model.trainOnBatch(xs, [yf, yr])) as number[];
        tf.dispose([xs, yf, yr]);
        if (anchored.length > 0)
          pullToward(tf, anchored, (model.optimizer as unknown as { learningRate: number }).learningRate * o.anchor!);
        sum += losses[0]!;
        sumF += losses[1]!;
        sumR += losses[2]!;
        batches++;
        trainedSamples += count;
        o.onBatch?.(start + count, order.length, epoch);
        // Let the worker's message port (progress, cancel) breathe between batches.
        await new Promise((r) => setImmediate(r));
      }
      trainSeconds += (performance.now() - t0) / 1000;
      if (cancelled) break;
      const valLoss = valX && valY ? evaluateLoss(tf, model, valX, valY) : sum / Math.max(1, batches);
      let valPrAuc: number | null = null;
      let valRulRmse: number | null = null;
      let watched = valLoss;
      if (o.monitor === 'metrics' && val.n > 0) {
        const { p, rul } = predict(tf, model, val.x, val.n, val.windowSteps, val.features);
        let se = 0;
        for (let i = 0; i < val.n; i++) se += (Math.min(1, Math.max(0, rul[i]!)) * o.rulCap - val.rul[i]!) ** 2;
        valRulRmse = Math.sqrt(se / val.n);
        valPrAuc = averagePrecision(p, val.failure);
        watched = valRulRmse / o.rulCap + (1 - valPrAuc);
      }
      if (watched < best - 1e-5) {
        best = watched;
        bestEpoch = epoch;
        bestWeights?.forEach((w) => w.dispose());
        bestWeights = model.getWeights().map((w) => w.clone());
      }
      const perEpoch = trainSeconds / epoch;
      const p: EpochProgress = {
        epoch,
        epochs: o.epochs,
        loss: sum / Math.max(1, batches),
        failureLoss: sumF / Math.max(1, batches),
        rulLoss: sumR / Math.max(1, batches),
        valLoss,
        valPrAuc,
        valRulRmse,
        bestEpoch,
        etaMs: perEpoch * (o.epochs - epoch) * 1000,
        samplesPerSecond: trainedSamples / Math.max(trainSeconds, 1e-9),
      };
      history.push(p);
      o.onEpoch?.(p);
      if (epoch - bestEpoch >= o.patience) break;
      if (o.reduceLrAfter && epoch - bestEpoch > 0 && (epoch - bestEpoch) % o.reduceLrAfter === 0) {
        // A plateau: smaller steps settle into the minimum the noisy full-rate steps keep missing.
        const opt = model.optimizer as unknown as { learningRate: number };
        opt.learningRate = opt.learningRate / 2;
      }
    }
    if (bestWeights) model.setWeights(bestWeights);
    return {
      history,
      bestEpoch,
      stoppedEarly: !cancelled && history.length < o.epochs,
      cancelled,
      samplesPerSecond: trainedSamples / Math.max(trainSeconds, 1e-9),
      trainedSamples,
    };
  } finally {
    bestWeights?.forEach((w) => w.dispose());
    anchored.forEach((a) => a.start.dispose());
    valX?.dispose();
    valY?.forEach((t) => t.dispose());
  }
}

/** w ← w − rate · (w − w₀) for every anchored weight. */
function pullToward(tf: TF, anchored: ReadonlyArray<{ w: { read(): Tensor; write(t: Tensor): void }; start: Tensor }>, rate: number): void {
  for (const { w, start } of anchored) {
    const next = tf.tidy(() => {
      const v = w.read();
      return tf.sub(v, tf.mul(tf.sub(v, start), rate));
    });
    w.write(next);
    next.dispose();
  }
}

function evaluateLoss(tf: TF, model: LayersModel, x: Tensor, y: Tensor[]): number {
  return tf.tidy(() => {
    const out = model.evaluate(x, y, { batchSize: 1024 }) as Tensor[];
    return (out[0]!.dataSync() as Float32Array)[0]!;
  });
}

export function scaledRul(rul: Float32Array, cap: number): Float32Array {
  const out = new Float32Array(rul.length);
  for (let i = 0; i < rul.length; i++) out[i] = rul[i]! / cap;
  return out;
}
