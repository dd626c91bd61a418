/**
 * Temporal attention pooling: instead of reading only the LSTM's last state, the heads read a weighted
 * average of its states over the whole window, the weights learned (additive attention:
 * e_t = vᵀ·tanh(W·h_t + b), α = softmax(e)), beside the last state itself:
 *
 *   [B, T, U] states → [B, 2U] = [Σ_t α_t·h_t, h_T]
 *
 * Keeping h_T lets the model do at least what the last-state model did; the context lets it use a
 * slow fault's early signs that the last state has forgotten. It is made of tfjs ops, so its
 * gradients are tfjs's own (checked against finite differences in tests/unit/attention.test.ts); its
 * cost is small next to the LSTM's (bench:cmapss prints training windows/s for either pooling).
 *
 * Saved as "VigilTemporalAttention": registered on the tfjs instance by the model loader
 * (file-io.ts) before a model is read, so models with it load wherever Vigil does.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { layerBase, perInstance } from './custom-layer.js';
import { attentionBackward, attentionForward, attentionSupported } from './fast-lstm/attention-op.js';
import { fastLstmRuntime } from './fast-lstm/layer.js';

export const TEMPORAL_ATTENTION_CLASS = 'VigilTemporalAttention';

export interface TemporalAttentionArgs {
  /** Width of the attention's hidden layer (W is units × this). */
  attentionUnits: number;
  seed: number;
  name?: string;
  /**
   * On the LSTM kernels' runtime where it is loaded (attention-op.ts), or tfjs's own ops ('stock');
   * the same arithmetic and weights either way, and not saved: a loaded model takes the kernels.
   */
  kernel?: 'fast' | 'stock';
}

type AttentionLayer = ReturnType<TF['layers']['dense']>;

/** The layer for this tfjs instance (its class registered once for saving and loading). */
export function temporalAttention(tf: TF, args: TemporalAttentionArgs): AttentionLayer {
  return factoryFor(tf)(args);
}

/** Registers the class with this tfjs instance, so models that use it load. */
export function registerTemporalAttention(tf: TF): void {
  factoryFor(tf);
}

const factoryFor = perInstance((tf: TF): ((args: TemporalAttentionArgs) => AttentionLayer) => {
  const Base = layerBase(tf);

  class TemporalAttention extends Base {
    static className = TEMPORAL_ATTENTION_CLASS;
    readonly attentionUnits: number;
    readonly seed: number;
    private w: { read(): Tensor } | null = null;
    private b: { read(): Tensor } | null = null;
    private v: { read(): Tensor } | null = null;
    private readonly stock: boolean;
    private readonly op: (h: Tensor, w: Tensor, b: Tensor, v: Tensor) => Tensor;

    constructor(args: TemporalAttentionArgs & Record<string, unknown>) {
      const { kernel, ...rest } = args;
      super(rest);
      this.stock = kernel === 'stock';
      this.op = tf.customGrad(((h: Tensor, w: Tensor, b: Tensor, v: Tensor) => this.compute(h, w, b, v)) as never) as never;
      this.attentionUnits = Number(args.attentionUnits);
      this.seed = Number(args.seed);
      // Read from model files too: a size no real model has is refused before anything is allocated for it.
      if (!(Number.isInteger(this.attentionUnits) && this.attentionUnits > 0 && this.attentionUnits <= 1024))
        throw new Error(
          `${TEMPORAL_ATTENTION_CLASS}: attentionUnits must be an integer from 1 to 1024, got ${String(args.attentionUnits)}`,
        );
    }

    build(inputShape: Array<number | null>): void {
      const units = inputShape[2];
      if (inputShape.length !== 3 || !units) throw new Error(`${TEMPORAL_ATTENTION_CLASS} needs [batch, steps, units] input`);
      this.w = this.addWeight('kernel', [units, this.attentionUnits], undefined, tf.initializers.glorotUniform({ seed: this.seed }));
      this.b = this.addWeight('bias', [this.attentionUnits], undefined, tf.initializers.zeros());
      this.v = this.addWeight('score', [this.attentionUnits, 1], undefined, tf.initializers.glorotUniform({ seed: this.seed + 1 }));
      this.built = true;
    }

    computeOutputShape(inputShape: Array<number | null>): Array<number | null> {
      return [inputShape[0]!, 2 * (inputShape[2] ?? 0)];
    }

    call(inputs: Tensor | Tensor[]): Tensor {
      const input = (Array.isArray(inputs) ? inputs[0]! : inputs) as import('@tensorflow/tfjs').Tensor3D;
      if (!this.stock && fastLstmRuntime() && attentionSupported(input.shape[2], this.attentionUnits))
        return this.op(input, this.w!.read(), this.b!.read(), this.v!.read());
      return tf.tidy(() => {
        const h = input;
        const [batch, steps, units] = h.shape;
        const flat = tf.reshape(h, [batch * steps, units]);
        const e = tf.tanh(tf.add(tf.matMul(flat, this.w!.read() as import('@tensorflow/tfjs').Tensor2D), this.b!.read()));
        const scores = tf.reshape(tf.matMul(e, this.v!.read() as import('@tensorflow/tfjs').Tensor2D), [batch, steps]);
        const alpha = tf.softmax(scores);
        const context = tf.sum(tf.mul(tf.expandDims(alpha, 2), h), 1);
        const last = tf.reshape(tf.slice(h, [0, steps - 1, 0], [batch, 1, units]), [batch, units]);
        return tf.concat([context, last], 1);
      });
    }

    /** The kernels' forward and its backward (attention-op.ts), joined to tfjs's autodiff. */
    private compute(h: Tensor, w: Tensor, b: Tensor, v: Tensor): { value: Tensor; gradFunc: (dy: Tensor) => Tensor[] } {
      const rt = fastLstmRuntime()!;
      const [batch, steps, units] = h.shape as [number, number, number];
      const shape = { batch, steps, units, attention: this.attentionUnits };
      const hs = h.dataSync() as Float32Array;
      const ws = w.dataSync() as Float32Array;
      const vs = v.dataSync() as Float32Array;
      const forward = attentionForward(rt, shape, hs, ws, b.dataSync() as Float32Array, vs);
      return {
        value: tf.tensor2d(forward.out, [batch, 2 * units]),
        gradFunc: (dy: Tensor) => {
          const g = attentionBackward(rt, shape, hs, ws, vs, forward, dy.dataSync() as Float32Array);
          return [
            tf.tensor3d(g.dh, [batch, steps, units]),
            tf.tensor2d(g.dw, [units, this.attentionUnits]),
            tf.tensor1d(g.db),
            tf.tensor2d(g.dv, [this.attentionUnits, 1]),
          ];
        },
      };
    }

    override getConfig(): Record<string, unknown> {
      return { ...super.getConfig(), attentionUnits: this.attentionUnits, seed: this.seed };
    }
  }

  tf.serialization.registerClass(TemporalAttention as never);
  return (args) => new TemporalAttention(args as TemporalAttentionArgs & Record<string, unknown>) as unknown as AttentionLayer;
});
