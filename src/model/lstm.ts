import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { seededDropout } from './seeded-dropout.js';
import { temporalAttention } from './attention.js';
import { causalConv } from './conv-front.js';
import { fastLstm, fastLstmRuntime, unsupportedLstmOption } from './fast-lstm/layer.js';
import { FastPredictor } from './fast-lstm/predictor.js';

export interface LstmSpec {
  windowSteps: number;
  features: number;
  /** Units of each stacked LSTM layer, e.g. [64, 32]. */
  units: number[];
  dropout: number;
  /** A new dropout mask every batch instead of tfjs's one mask per batch shape (seeded-dropout.ts). */
  freshDropout?: boolean;
  learningRate: number;
  seed: number;
  /**
   * Gate activation. tfjs defaults to hardSigmoid; Keras and PyTorch use sigmoid. We use sigmoid so
   * weights interchange with those frameworks, and record the choice in meta.json.
   */
  recurrentActivation: 'sigmoid' | 'hardSigmoid';
  /** Weight of the RUL loss against the failure loss (its targets are scaled to 0..1, so its MSE is small). */
  rulLossWeight?: number;
  /**
   * Weight of a late RUL error (predicted longer than true) against an early one: the Saxena score
   * charges late predictions more, and so does a technician told "RUL 15 steps" as the machine fails.
   */
  rulLateWeight?: number;
  /**
   * 'fast': the fused WebAssembly kernels (fast-lstm/, loaded with loadFastLstm first); 'stock':
   * tf.layers.lstm. Both have the same weights and initial values, and save the same files.
   */
  kernel?: 'fast' | 'stock';
  /**
   * What the heads read: the last LSTM's last state ('last', and every model before this option), or
   * 'attention': a learned weighting of its states over the window beside the last one (attention.ts).
   */
  pooling?: 'last' | 'attention';
  /** Width of the attention's hidden layer (pooling 'attention'); default 16. */
  attentionUnits?: number;
  /** A causal convolution over the window in front of the stack (conv-front.ts); none when absent. */
  conv?: { filters: number; kernel: number };
}

/**
 * Stacked LSTM with dropout and two heads: `failure` = p(failure within the horizon) (sigmoid) and
 * `rul` = remaining useful life divided by its cap (linear).
 */
export function buildLstm(tf: TF, spec: LstmSpec): LayersModel {
  const input = tf.input({ shape: [spec.windowSteps, spec.features], name: 'window' });
  const [failure, rul] = lstmBranch(tf, input, spec, '');
  const model = tf.model({ inputs: input, outputs: [failure, rul], name: 'vigil_lstm' });
  compile(tf, model, spec.learningRate, spec.rulLossWeight, spec.rulLateWeight);
  return model;
}

/**
 * The LSTM stack and its two heads on `input`; every layer name starts with `prefix`, so several
 * branches (an ensemble's members) can live in one model.
 */
export function lstmBranch(tf: TF, input: SymbolicTensor, spec: LstmSpec, prefix: string): [SymbolicTensor, SymbolicTensor] {
  let h: SymbolicTensor = input;
  const attention = spec.pooling === 'attention';
  if (spec.conv) h = causalConv(tf, { ...spec.conv, seed: spec.seed + 11, name: `${prefix}conv` }).apply(h) as SymbolicTensor;
  spec.units.forEach((units, i) => {
    const seed = spec.seed + i * 101;
    const args = {
      units,
      // With attention the last layer passes its whole sequence on too: the pooling reads every state.
      returnSequences: attention || i < spec.units.length - 1,
      recurrentActivation: spec.recurrentActivation,
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: seed + 1 }),
      name: `${prefix}lstm_${i}`,
    };
    // A layer the kernels cannot implement (units not a multiple of 4) stays stock; mixing is fine.
    const layer = spec.kernel === 'fast' && unsupportedLstmOption(args) === null ? fastLstm(args) : tf.layers.lstm(args);
    h = layer.apply(h) as SymbolicTensor;
    if (spec.dropout > 0)
      h = seededDropout(tf, { rate: spec.dropout, seed: seed + 2, name: `${prefix}dropout_${i}`, fresh: spec.freshDropout }).apply(
        h,
      ) as SymbolicTensor;
  });
  if (attention)
    h = temporalAttention(tf, {
      attentionUnits: spec.attentionUnits ?? 16,
      seed: spec.seed + 9,
      name: `${prefix}attention`,
      kernel: spec.kernel === 'fast' ? 'fast' : 'stock',
    }).apply(h) as SymbolicTensor;
  const failure = tf.layers
    .dense({
      units: 1,
      activation: 'sigmoid',
      kernelInitializer: tf.initializers.glorotUniform({ seed: spec.seed + 7 }),
      name: `${prefix}failure`,
    })
    .apply(h) as SymbolicTensor;
  const rul = tf.layers
    .dense({
      units: 1,
      activation: 'linear',
      kernelInitializer: tf.initializers.glorotUniform({ seed: spec.seed + 8 }),
      name: `${prefix}rul`,
    })
    .apply(h) as SymbolicTensor;
  return [failure, rul];
}

export function compile(tf: TF, model: LayersModel, learningRate: number, rulLossWeight = 1, rulLateWeight = 1): void {
  type Tensor = import('@tensorflow/tfjs').Tensor;
  // tfjs has no lossWeights; a scaled MSE does the same (saving leaves the training config out).
  const weightedMse = (yTrue: Tensor, yPred: Tensor): Tensor =>
    tf.tidy(() => {
      const d = tf.sub(yPred, yTrue);
      // relu splits the error into its late and early parts with gradients on both (a comparison has none).
      const weighted =
        rulLateWeight === 1 ? tf.square(d) : tf.add(tf.mul(tf.square(tf.relu(d)), rulLateWeight), tf.square(tf.relu(tf.neg(d))));
      return tf.mul(tf.mean(weighted), rulLossWeight);
    });
  const plain = rulLossWeight === 1 && rulLateWeight === 1;
  model.compile({
    optimizer: tf.train.adam(learningRate),
    // Mixed names and functions are fine at run time (tfjs resolves each); the typings want one kind.
    loss: { failure: 'binaryCrossentropy', rul: plain ? 'meanSquaredError' : weightedMse } as unknown as Record<string, string>,
  });
}

/**
 * Every output of a model on windows [n, L, F], each as rows of its width. Where the fast kernels
 * are loaded, through their scoring path (weights read once per call), else tfjs in batches.
 */
export function modelOutputs(
  tf: TF,
  model: LayersModel,
  x: Float32Array,
  n: number,
  windowSteps: number,
  features: number,
  batchSize = 512,
): Float32Array[] {
  const runtime = fastLstmRuntime();
  const direct = runtime ? FastPredictor.fromModel(model, runtime) : null;
  if (direct) {
    try {
      return direct.predict(x, n, windowSteps);
    } finally {
      direct.dispose();
    }
  }
  const widths = model.outputs.map((o) => (o.shape.at(-1) as number | null) ?? 1);
  const outs = widths.map((w) => new Float32Array(n * w));
  const size = windowSteps * features;
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    tf.tidy(() => {
      const input = tf.tensor3d(x.subarray(start * size, (start + count) * size), [count, windowSteps, features]);
      const ys = model.predict(input) as Tensor | Tensor[];
      (Array.isArray(ys) ? ys : [ys]).forEach((y, i) => outs[i]!.set(y.dataSync() as Float32Array, start * widths[i]!));
    });
  }
  return outs;
}

/** The failure model on windows [n, L, F]: p(failure) and RUL/cap per window. */
export function predict(
  tf: TF,
  model: LayersModel,
  x: Float32Array,
  n: number,
  windowSteps: number,
  features: number,
  batchSize = 512,
): { p: Float32Array; rul: Float32Array } {
  const [p, rul] = modelOutputs(tf, model, x, n, windowSteps, features, batchSize);
  return { p: p!, rul: rul! };
}
