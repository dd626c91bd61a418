/**
 * What Vigil's own tfjs layers (attention.ts, conv-front.ts) share: the slice of tfjs's Layer class they
 * use, and one class per tfjs instance, registered for saving and loading the first time it is asked for.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { TF } from './backend.js';

/** The members of tf.layers.Layer a custom layer calls (tfjs's typings do not export the class's shape). */
export interface LayerBase {
  name: string;
  addWeight(name: string, shape: number[], dtype: undefined, initializer: unknown): { read(): Tensor };
  getConfig(): Record<string, unknown>;
  built: boolean;
}

/** tfjs's Layer class of this instance, typed as LayerBase, to extend. */
export function layerBase(tf: TF): new (args: Record<string, unknown>) => LayerBase {
  return tf.layers.Layer as unknown as new (args: Record<string, unknown>) => LayerBase;
}

/**
 * A maker of layers per tfjs instance: `define` declares the class and registers it, once per instance
 * (a second registration would be a second class of the same name).
 */
export function perInstance<A, L>(define: (tf: TF) => (args: A) => L): (tf: TF) => (args: A) => L {
  const made = new WeakMap<TF, (args: A) => L>();
  return (tf) => {
    let make = made.get(tf);
    if (!make) {
      make = define(tf);
      made.set(tf, make);
    }
    return make;
  };
}
