import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs';
import type { TF } from '../../src/model/backend.js';
import { buildLstm, type LstmSpec } from '../../src/model/lstm.js';

/** d loss / d arr[i] for every i by central differences, arr perturbed in place and restored (loss in float64). */
export function centralDifferences(arr: Float32Array, loss: () => number, eps = 1e-4): number[] {
  return Array.from(arr, (_, i) => {
    const keep = arr[i]!;
    arr[i] = keep + eps;
    const up = loss();
    arr[i] = keep - eps;
    const down = loss();
    arr[i] = keep;
    return (up - down) / (2 * eps);
  });
}

/**
 * Every trainable weight's gradient of a fixed loss (Σ p(failure) + Σ RUL²) of Vigil's model built from
 * `spec` on windows `x`: run once with kernel 'fast' and once with 'stock' to check the kernels.
 */
export function modelGradients(tf: TF, spec: LstmSpec, x: Tensor): Array<{ name: string; g: Float32Array }> {
  const model = buildLstm(tf, spec);
  try {
    const weights = model.trainableWeights.map((wt) => (wt as unknown as { read(): Variable }).read());
    const loss = () => {
      const [p, r] = model.apply(x) as Tensor[];
      return tf.add(tf.sum(p!), tf.sum(tf.square(r!))) as Scalar;
    };
    const { grads } = tf.variableGrads(loss, weights);
    return weights.map((wt) => ({ name: wt.name, g: grads[wt.name]!.dataSync() as Float32Array }));
  } finally {
    model.dispose();
  }
}
