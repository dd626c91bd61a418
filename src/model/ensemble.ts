/**
 * Ensembles: members of the same architecture, trained on the same split from different initial
 * weights and shuffles, their outputs averaged. One LSTM's errors depend much on its seed (on C-MAPSS
 * ±0.6 RUL RMSE from seed to seed); the average of a few is steadier and better than the typical
 * member. The ensemble is one tfjs model (members as branches `m0_…`, `m1_…` on the same input,
 * outputs `failure` and `rul` as averages), so the registry, file format and scoring stay as they are.
 */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { buildLstm, lstmBranch, type LstmSpec } from './lstm.js';

export const memberPrefix = (k: number): string => `m${k}_`;

/** One model averaging the members' outputs; a single member is returned as it is. */
export function combineMembers(tf: TF, members: readonly LayersModel[], spec: LstmSpec): LayersModel {
  if (members.length === 0) throw new Error('an ensemble needs at least one member');
  if (members.length === 1) return members[0]!;
  const input = tf.input({ shape: [spec.windowSteps, spec.features], name: 'window' });
  const branches = members.map((_, k) => lstmBranch(tf, input, spec, memberPrefix(k)));
  const failure = tf.layers.average({ name: 'failure' }).apply(branches.map((b) => b[0])) as SymbolicTensor;
  const rul = tf.layers.average({ name: 'rul' }).apply(branches.map((b) => b[1])) as SymbolicTensor;
  const ensemble = tf.model({ inputs: input, outputs: [failure, rul], name: 'vigil_lstm_ensemble' });
  members.forEach((member, k) => {
    for (const layer of member.layers) {
      const weights = layer.getWeights();
      if (weights.length > 0) ensemble.getLayer(memberPrefix(k) + layer.name).setWeights(weights);
    }
  });
  return ensemble;
}

/** How many members a model has: 1 for a plain model. */
export function memberCount(model: LayersModel): number {
  let n = 0;
  while (model.layers.some((l) => l.name === `${memberPrefix(n)}lstm_0`)) n++;
  return Math.max(1, n);
}

/**
 * Member k of a model as a trainable model of its own (for fine-tuning), or null when the model has
 * no such member or its shapes differ from `spec`.
 */
export function extractMember(tf: TF, model: LayersModel, k: number, spec: LstmSpec): LayersModel | null {
  const prefix = memberCount(model) > 1 ? memberPrefix(k) : k === 0 ? '' : null;
  if (prefix === null) return null;
  const member = buildLstm(tf, spec);
  for (const layer of member.layers) {
    const own = layer.getWeights();
    if (own.length === 0) continue;
    const source = model.layers.find((l) => l.name === prefix + layer.name);
    const weights = source?.getWeights() ?? [];
    const same = weights.length === own.length && weights.every((w, i) => w.shape.join() === own[i]!.shape.join());
    if (!same) {
      member.dispose();
      return null;
    }
    layer.setWeights(weights);
  }
  return member;
}
