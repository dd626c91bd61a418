/**
 * Transfer to a new machine kind: a related champion's weights as the starting point of a model on
 * the new kind's inputs. The LSTMs, the heads and the first layer's input weights of inputs both
 * kinds share are copied; the input weights of inputs the source never had keep their fresh
 * initialisation, and inputs the new kind lacks are dropped. Fine-tuning (with a lower learning
 * rate) then adapts it on the few failures the new kind has.
 */
import type { LayersModel } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { extractMember } from './ensemble.js';
import { buildLstm, compile, type LstmSpec } from './lstm.js';

export interface Transferred {
  model: LayersModel;
  /** Target inputs whose weights came from the source. */
  shared: string[];
  /** Target inputs the source did not have (fresh weights). */
  fresh: string[];
}

/**
 * Member k of `source` (inputs `sourceInputs`) as a model on `spec.features` inputs named
 * `targetInputs`; null when the source has no member k or its LSTM stack differs from `spec`'s, or
 * when the two kinds share no input.
 */
export function transferMember(
  tf: TF,
  source: LayersModel,
  sourceInputs: readonly string[],
  targetInputs: readonly string[],
  k: number,
  spec: LstmSpec,
): Transferred | null {
  if (targetInputs.length !== spec.features) throw new Error(`${targetInputs.length} input names for ${spec.features} features`);
  const shared = targetInputs.filter((n) => sourceInputs.includes(n));
  if (shared.length === 0) return null;
  // The source member as a model of its own, on its own inputs (the shapes are checked there).
  const member = extractMember(tf, source, k, { ...spec, features: sourceInputs.length });
  if (!member) return null;
  const target = buildLstm(tf, spec);
  try {
    for (const layer of target.layers) {
      const own = layer.getWeights();
      if (own.length === 0) continue;
      const from = member.layers.find((l) => l.name === layer.name)?.getWeights() ?? [];
      if (layer.name !== 'lstm_0') {
        if (from.length !== own.length || from.some((w, i) => w.shape.join() !== own[i]!.shape.join())) return dispose(target);
        layer.setWeights(from);
        continue;
      }
      // [kernel (inputs × 4·units), recurrent kernel, bias]: rows of the kernel are per input.
      const [kernel, recurrent, bias] = from;
      if (!kernel || !recurrent || !bias || recurrent.shape.join() !== own[1]!.shape.join()) return dispose(target);
      const cols = kernel.shape[1]!;
      const src = kernel.dataSync();
      const dst = Float32Array.from(own[0]!.dataSync());
      targetInputs.forEach((name, row) => {
        const at = sourceInputs.indexOf(name);
        if (at >= 0) dst.set(src.subarray(at * cols, (at + 1) * cols), row * cols);
      });
      const merged = tf.tensor2d(dst, [targetInputs.length, cols]);
      layer.setWeights([merged, recurrent, bias]);
      merged.dispose();
    }
    compile(tf, target, spec.learningRate, spec.rulLossWeight, spec.rulLateWeight);
    return { model: target, shared, fresh: targetInputs.filter((n) => !sourceInputs.includes(n)) };
  } finally {
    member.dispose();
  }
}

function dispose(model: LayersModel): null {
  model.dispose();
  return null;
}
