/**
 * Chooses the LSTM implementation for this thread: the fused kernels when they load (the default),
 * else stock tf.layers.lstm, and says why.
 */
import type { TF } from '../backend.js';
import { registerFastLstm } from './layer.js';
import { FastLstmRuntime } from './runtime.js';

export type LstmKernelPreference = 'auto' | 'fast' | 'stock';

export interface LstmKernelChoice {
  kernel: 'fast' | 'stock';
  runtime: FastLstmRuntime | null;
  /** Why the stock layer is used, when it is. */
  reason: string | null;
  /** e.g. "fast (simd, 2 threads)" or "stock (fast kernels unavailable: …)". */
  describe: string;
}

let shared: Promise<FastLstmRuntime> | null = null;

export async function loadFastLstm(
  tf: TF,
  o: { preference?: LstmKernelPreference; threads?: number; preferRelaxed?: boolean } = {},
): Promise<LstmKernelChoice> {
  const preference = o.preference ?? 'auto';
  if (preference === 'stock') return { kernel: 'stock', runtime: null, reason: 'configured', describe: 'stock (configured)' };
  try {
    // One runtime per thread: its helpers and memory serve every model this thread trains or scores.
    shared ??= FastLstmRuntime.create({
      ...(o.threads === undefined ? {} : { threads: o.threads }),
      ...(o.preferRelaxed === undefined ? {} : { preferRelaxed: o.preferRelaxed }),
    });
    const runtime = await shared;
    registerFastLstm(tf, runtime);
    return {
      kernel: 'fast',
      runtime,
      reason: null,
      describe: `fast (${runtime.info.instructionSet}, ${runtime.threads} thread${runtime.threads === 1 ? '' : 's'})`,
    };
  } catch (err) {
    shared = null;
    if (preference === 'fast') throw err;
    const reason = (err as Error).message;
    return { kernel: 'stock', runtime: null, reason, describe: `stock (${reason})` };
  }
}
