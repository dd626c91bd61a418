import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { seededDropout } from './seeded-dropout.js';
import { fastLstm, unsupportedLstmOption } from './fast-lstm/layer.js';
import { modelOutputs } from './lstm.js';

export interface HealthLstmSpec {
  windowSteps: number;
  /** Input columns: the sensors, then any regime inputs. */
  features: number;
  /** Sensors reconstructed: the first `sensors` input columns. */
  sensors: number;
  /** Units of each stacked LSTM layer; the last is the code the window is reconstructed from. */
  units: number[];
  dropout: number;
  learningRate: number;
  seed: number;
  kernel?: 'fast' | 'stock';
}

/**
 * The health model: an LSTM encoder reads the window and a dense decoder reconstructs every step of
 * its sensors from the encoder's last state, [window × sensors] outputs. Trained on normal windows
 * only, it reconstructs normal behaviour well and departures from it badly; the residuals are the
 * signal. Its topology (LSTM stack, then a dense head on the last state) is the one the fast kernels
 * score without tfjs (fast-lstm/predictor.ts), so a fleet's windows cost little more than the
 * failure model's.
 */
export function buildHealthLstm(tf: TF, spec: HealthLstmSpec): LayersModel {
  const input = tf.input({ shape: [spec.windowSteps, spec.features], name: 'window' });
  let h: SymbolicTensor = input;
  spec.units.forEach((units, i) => {
    const seed = spec.seed + i * 101;
    const args = {
      units,
      returnSequences: i < spec.units.length - 1,
      recurrentActivation: 'sigmoid' as const,
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: seed + 1 }),
      name: `lstm_${i}`,
    };
    const layer = spec.kernel === 'fast' && unsupportedLstmOption(args) === null ? fastLstm(args) : tf.layers.lstm(args);
    h = layer.apply(h) as SymbolicTensor;
    if (spec.dropout > 0) h = seededDropout(tf, { rate: spec.dropout, seed: seed + 2, name: `dropout_${i}` }).apply(h) as SymbolicTensor;
  });
  const reconstruction = tf.layers
    .dense({
      units: spec.windowSteps * spec.sensors,
      activation: 'linear',
      kernelInitializer: tf.initializers.glorotUniform({ seed: spec.seed + 7 }),
      name: 'reconstruction',
    })
    .apply(h) as SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: reconstruction, name: 'vigil_health' });
  compileHealth(tf, model, spec.learningRate);
  return model;
}

export function compileHealth(tf: TF, model: LayersModel, learningRate: number): void {
  model.compile({ optimizer: tf.train.adam(learningRate), loss: 'meanSquaredError' });
}

/** The sensor columns of windows [n, L, F] flattened to [n, L·S]: what the model reconstructs. */
export function reconstructionTargets(x: Float32Array, n: number, windowSteps: number, features: number, sensors: number): Float32Array {
  const out = new Float32Array(n * windowSteps * sensors);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < windowSteps; k++) {
      const from = (i * windowSteps + k) * features;
      out.set(x.subarray(from, from + sensors), (i * windowSteps + k) * sensors);
    }
  return out;
}

/**
 * Reconstructions [n, L·S] of windows [n, L, F]: through the kernels' scoring path where they are
 * loaded, else tfjs in batches.
 */
export function reconstruct(
  tf: TF,
  model: LayersModel,
  x: Float32Array,
  n: number,
  windowSteps: number,
  features: number,
  batchSize = 512,
): Float32Array {
  return modelOutputs(tf, model, x, n, windowSteps, features, batchSize)[0]!;
}
