/**
 * tf.layers.dropout with its mask kept. Given a seed, tfjs draws the same mask at every call (its random
 * generator is re-seeded per call), so a seeded Dropout multiplies every batch of one shape by one fixed
 * multiplier — drawn element by element in JavaScript, 5–6 ms per batch of 256 windows of 50 × 64, a fifth
 * of a training step on the native kernels. This layer computes that multiplier once per shape with tfjs's
 * own formula and keeps it: the same numbers, without the cost. Unseeded layers, noise shapes and
 * inference behave exactly as the stock layer (they are the stock layer's code).
 *
 * It registers as "Dropout", so models save and load as stock ones and loaded models get it too.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { TF } from './backend.js';

/** Shapes whose masks a layer keeps (a full batch and an epoch's last, smaller one; more is unusual). */
const MAX_MASKS = 4;

type DropoutArgs = {
  rate: number;
  seed?: number;
  name?: string;
  /**
   * A new mask at every training call (drawn from `seed` and the call's number, so a run repeats),
   * instead of tfjs's one mask per shape. Not saved: a model loaded to fine-tune gets tfjs's behaviour.
   */
  fresh?: boolean;
};
type DropoutFactory = (args: DropoutArgs) => ReturnType<TF['layers']['dropout']>;

const factories = new WeakMap<TF, DropoutFactory>();

export function seededDropout(tf: TF, args: DropoutArgs): ReturnType<TF['layers']['dropout']> {
  let make = factories.get(tf);
  if (!make) {
    make = defineLayer(tf);
    factories.set(tf, make);
  }
  return make(args);
}

interface StockDropout {
  rate: number;
  seed?: number;
  noiseShape?: unknown;
  call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor | Tensor[];
  dispose(): unknown;
}

function defineLayer(tf: TF): DropoutFactory {
  // tfjs exports a factory, not the class: the class is the prototype's constructor.
  const prototype = Object.getPrototypeOf(tf.layers.dropout({ rate: 0.5 })) as { constructor: new (args: DropoutArgs) => StockDropout };
  const Stock = prototype.constructor;

  class SeededDropout extends Stock {
    static className = 'Dropout';
    private readonly masks = new Map<string, Tensor>();
    private readonly fresh: boolean;
    private calls = 0;

    constructor(args: DropoutArgs) {
      super(args);
      this.fresh = args.fresh === true;
    }

    override call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor | Tensor[] {
      const input = Array.isArray(inputs) ? inputs[0]! : inputs;
      const fixed = this.seed != null && this.noiseShape == null && this.rate > 0 && this.rate < 1;
      if (!fixed || kwargs?.['training'] !== true || input.dtype !== 'float32') return super.call(inputs, kwargs);
      if (this.fresh) return tf.mul(input, freshMask(tf, input.shape, this.rate, this.seed! * 7919 + ++this.calls));
      return tf.mul(input, this.mask(input.shape));
    }

    override dispose(): unknown {
      for (const m of this.masks.values()) m.dispose();
      this.masks.clear();
      return super.dispose();
    }

    private mask(shape: number[]): Tensor {
      const key = shape.join('x');
      let m = this.masks.get(key);
      if (!m) {
        const keep = 1 - this.rate;
        // tf.dropout's own multiplier: floor(U[0,1) + keep) / keep, from the same seeded draw.
        m = tf.keep(tf.tidy(() => tf.div(tf.floor(tf.add(tf.randomUniform(shape, 0, 1, 'float32', this.seed), keep)), keep)));
        if (this.masks.size >= MAX_MASKS) {
          const [oldest, tensor] = this.masks.entries().next().value as [string, Tensor];
          tensor.dispose();
          this.masks.delete(oldest);
        }
        this.masks.set(key, m);
      }
      return m;
    }
  }

  tf.serialization.registerClass(SeededDropout as never);
  return (args) => new SeededDropout(args) as unknown as ReturnType<TF['layers']['dropout']>;
}

/**
 * An inverted-dropout multiplier (0, or 1/keep) drawn in one pass of a small counter-based generator
 * (mulberry32): about 1 ns an element, against tfjs's 6–7 ns for its uniform draw.
 */
function freshMask(tf: TF, shape: number[], rate: number, seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  const keep = 1 - rate;
  const scale = 1 / keep;
  const threshold = keep * 4294967296;
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    if ((t ^ (t >>> 14)) >>> 0 < threshold) values[i] = scale;
  }
  return tf.tensor(values, shape);
}
