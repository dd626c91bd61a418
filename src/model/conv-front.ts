/**
 * A causal convolution over the window in front of the LSTM stack: each step's inputs become
 * `filters` features computed from that step and the `kernel − 1` before it,
 *
 *   y_t = tanh(W · [x_{t−K+1}, …, x_t] + b),   x before the window's first step taken as 0,
 *
 * so the LSTM reads local shapes (a short rise, a step) instead of single noisy readings. Causal, so
 * a window's last step sees nothing after it, as in scoring. tf.layers.conv1d would do the same, but
 * the WebAssembly backend has no kernel for a convolution's weight gradient; this layer is written
 * as one matrix product over the unfolded window (tfjs ops with gradients on every backend, checked
 * against finite differences in tests/unit/conv-front.test.ts). It is not free: the first LSTM reads
 * the filters instead of the inputs, and bench:lstm --conv measured FD003's recipe training at 0.61×
 * the speed without it (docs/predictor.md).
 *
 * Saved as "VigilCausalConv": registered by the model loader (file-io.ts), as the attention is.
 */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { layerBase, perInstance } from './custom-layer.js';

export const CAUSAL_CONV_CLASS = 'VigilCausalConv';

export interface CausalConvArgs {
  filters: number;
  /** Steps each output reads: the current one and kernel − 1 before it. */
  kernel: number;
  seed: number;
  name?: string;
}

type ConvLayer = ReturnType<TF['layers']['dense']>;

/** The layer for this tfjs instance (its class registered once for saving and loading). */
export function causalConv(tf: TF, args: CausalConvArgs): ConvLayer {
  return factoryFor(tf)(args);
}

/** Registers the class with this tfjs instance, so models that use it load. */
export function registerCausalConv(tf: TF): void {
  factoryFor(tf);
}

const whole = (v: unknown, max: number): number | null => {
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 && n <= max ? n : null;
};

const factoryFor = perInstance((tf: TF): ((args: CausalConvArgs) => ConvLayer) => {
  const Base = layerBase(tf);

  class CausalConv extends Base {
    static className = CAUSAL_CONV_CLASS;
    readonly filters: number;
    readonly kernel: number;
    readonly seed: number;
    private w: { read(): Tensor } | null = null;
    private b: { read(): Tensor } | null = null;

    constructor(args: CausalConvArgs & Record<string, unknown>) {
      super(args);
      // Read from model files too: sizes no real model has are refused before anything is allocated.
      const filters = whole(args.filters, 1024);
      const kernel = whole(args.kernel, 64);
      if (filters === null || kernel === null)
        throw new Error(
          `${CAUSAL_CONV_CLASS}: filters must be an integer from 1 to 1024 and kernel from 1 to 64, got ${String(args.filters)} and ${String(args.kernel)}`,
        );
      this.filters = filters;
      this.kernel = kernel;
      this.seed = Number(args.seed);
    }

    build(inputShape: Array<number | null>): void {
      const features = inputShape[2];
      if (inputShape.length !== 3 || !features) throw new Error(`${CAUSAL_CONV_CLASS} needs [batch, steps, features] input`);
      this.w = this.addWeight(
        'kernel',
        [this.kernel * features, this.filters],
        undefined,
        tf.initializers.glorotUniform({ seed: this.seed }),
      );
      this.b = this.addWeight('bias', [this.filters], undefined, tf.initializers.zeros());
      this.built = true;
    }

    computeOutputShape(inputShape: Array<number | null>): Array<number | null> {
      return [inputShape[0]!, inputShape[1]!, this.filters];
    }

    call(inputs: Tensor | Tensor[]): Tensor {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as import('@tensorflow/tfjs').Tensor3D;
      return tf.tidy(() => {
        const [batch, steps, features] = x.shape;
        const padded =
          this.kernel > 1
            ? tf.pad(x, [
                [0, 0],
                [this.kernel - 1, 0],
                [0, 0],
              ])
            : x;
        // Unfolded: step t holds [x_{t−K+1}, …, x_t], oldest first (the kernel's rows in that order).
        const taps = Array.from({ length: this.kernel }, (_, k) => tf.slice(padded, [0, k, 0], [batch, steps, features]));
        const unfolded = taps.length === 1 ? taps[0]! : tf.concat(taps, 2);
        const flat = tf.reshape(unfolded, [batch * steps, this.kernel * features]);
        const y = tf.tanh(tf.add(tf.matMul(flat, this.w!.read() as Tensor2D), this.b!.read()));
        return tf.reshape(y, [batch, steps, this.filters]);
      });
    }

    override getConfig(): Record<string, unknown> {
      return { ...super.getConfig(), filters: this.filters, kernel: this.kernel, seed: this.seed };
    }
  }

  tf.serialization.registerClass(CausalConv as never);
  return (args) => new CausalConv(args as CausalConvArgs & Record<string, unknown>) as unknown as ConvLayer;
});
