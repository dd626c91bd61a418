/**
 * Chooses the LSTM implementation for this thread (`learning.kernel`): the native kernels where the addon
 * built and agrees with the WebAssembly kernels on a start-up check, else the WebAssembly kernels, else
 * stock tf.layers.lstm; and says why whenever it falls back. Models are the same files whichever trains them.
 */
import type { TF } from '../backend.js';
import type { KernelRuntime } from './kernel-runtime.js';
import { registerFastLstm } from './layer.js';
import { NativeLstmRuntime, type NativeInstructionSet } from './native-runtime.js';
import { FastLstmRuntime } from './runtime.js';
import { LstmWorkspace } from './workspace.js';

/** 'fast' is the name the WebAssembly kernels had before the native ones existed. */
export type LstmKernelPreference = 'auto' | 'native' | 'wasm' | 'stock' | 'fast';

export interface LstmKernelChoice {
  /** Which layer models are built with: the fused one on `runtime`, or tfjs's own. */
  kernel: 'fast' | 'stock';
  /** The kernel build behind the fused layer. */
  build: 'native' | 'wasm' | null;
  runtime: KernelRuntime | null;
  /** Why a build `auto` would rather have used is not used, when one is not. */
  reason: string | null;
  /** e.g. "native (avx512, 2 threads)" or "wasm (relaxed-simd, 2 threads; native kernels unavailable: …)". */
  describe: string;
}

export interface KernelOptions {
  threads?: number;
  preferRelaxed?: boolean;
  /** A native instruction set other than the best (tests and benchmarks). */
  instructionSet?: NativeInstructionSet;
}

// One runtime per build and thread: its threads and memory serve every model this thread trains or scores.
let wasmShared: Promise<FastLstmRuntime> | null = null;
let nativeShared: Promise<NativeLstmRuntime> | null = null;

function wasmRuntime(o: KernelOptions): Promise<FastLstmRuntime> {
  wasmShared ??= FastLstmRuntime.create({
    ...(o.threads === undefined ? {} : { threads: o.threads }),
    ...(o.preferRelaxed === undefined ? {} : { preferRelaxed: o.preferRelaxed }),
  }).catch((err: unknown) => {
    wasmShared = null;
    throw err;
  });
  return wasmShared;
}

function nativeRuntime(o: KernelOptions): Promise<NativeLstmRuntime> {
  nativeShared ??= (async () => {
    const runtime = await NativeLstmRuntime.create({
      ...(o.threads === undefined ? {} : { threads: o.threads }),
      ...(o.instructionSet === undefined ? {} : { instructionSet: o.instructionSet }),
    });
    const problem = await selfCheck(runtime);
    if (problem) throw new Error(`native kernels (${runtime.info.instructionSet}) failed their start-up check: ${problem}`);
    return runtime;
  })().catch((err: unknown) => {
    nativeShared = null;
    throw err;
  });
  return nativeShared;
}

const describeRuntime = (r: KernelRuntime) =>
  `${r.info.build} (${r.info.instructionSet}, ${r.threads} thread${r.threads === 1 ? '' : 's'})`;

/** The kernel build without tfjs: what the daemon reports at start and in status. */
export async function chooseKernels(
  preference: LstmKernelPreference,
  o: KernelOptions = {},
): Promise<{ runtime: KernelRuntime | null; reason: string | null; describe: string }> {
  const pref = preference === 'fast' ? 'wasm' : preference;
  if (pref === 'stock') return { runtime: null, reason: 'configured', describe: 'stock (configured)' };
  let reason: string | null = null;
  if (pref === 'native' || pref === 'auto') {
    try {
      const runtime = await nativeRuntime(o);
      return { runtime, reason: null, describe: describeRuntime(runtime) };
    } catch (err) {
      if (pref === 'native') throw err;
      reason = (err as Error).message;
    }
  }
  try {
    const runtime = await wasmRuntime(o);
    return { runtime, reason, describe: `${describeRuntime(runtime)}${reason ? `; ${reason}` : ''}` };
  } catch (err) {
    if (pref === 'wasm') throw err;
    const why = [reason, (err as Error).message].filter(Boolean).join('; ');
    return { runtime: null, reason: why, describe: `stock (${why})` };
  }
}

export async function loadFastLstm(tf: TF, o: KernelOptions & { preference?: LstmKernelPreference } = {}): Promise<LstmKernelChoice> {
  const chosen = await chooseKernels(o.preference ?? 'auto', o);
  if (chosen.runtime) registerFastLstm(tf, chosen.runtime);
  return {
    kernel: chosen.runtime ? 'fast' : 'stock',
    build: chosen.runtime?.info.build ?? null,
    ...chosen,
  };
}

/**
 * The native kernels against a reference on a small LSTM with every shape the tiles handle (a batch that is
 * not a multiple of the tile height, units not a multiple of the vector width, both gate activations):
 * output and every gradient. The reference is the WebAssembly build (one thread), or the addon's portable
 * path where that build is missing. Returns the problem, or null.
 */
export async function selfCheck(native: NativeLstmRuntime): Promise<string | null> {
  let reference: KernelRuntime;
  try {
    reference = await FastLstmRuntime.create({ threads: 1 });
  } catch {
    if (native.info.instructionSet === 'scalar') return null;
    reference = await NativeLstmRuntime.create({ threads: 1, instructionSet: 'scalar' });
  }
  try {
    const [B, T, F, U] = [19, 7, 5, 12];
    let seed = 7;
    const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const rnd = (n: number) => Float32Array.from({ length: n }, next);
    const x = rnd(B * T * F);
    const w = { kernel: rnd(F * 4 * U), recurrent: rnd(U * 4 * U), bias: rnd(4 * U) };
    const dy = rnd(B * T * U);
    for (const hard of [false, true]) {
      const a = new LstmWorkspace(native, hard);
      const b = new LstmWorkspace(reference, hard);
      const shape = { batch: B, steps: T, features: F, units: U };
      const outs = [a.forward(x, w, shape, true).output, b.forward(x, w, shape, true).output];
      const ga = a.backward(dy, w, true);
      const gb = b.backward(dy, w, true);
      a.release();
      b.release();
      const pairs: Array<[string, Float32Array, Float32Array]> = [
        ['output', outs[0]!, outs[1]!],
        ['dx', ga.dx, gb.dx],
        ['kernel gradient', ga.kernel, gb.kernel],
        ['recurrent gradient', ga.recurrent, gb.recurrent],
        ['bias gradient', ga.bias, gb.bias],
      ];
      for (const [what, p, q] of pairs) {
        let scale = 1;
        let diff = 0;
        for (let i = 0; i < q.length; i++) {
          scale = Math.max(scale, Math.abs(q[i]!));
          diff = Math.max(diff, Number.isFinite(p[i]!) ? Math.abs(p[i]! - q[i]!) : Infinity);
        }
        if (!(diff / scale <= 1e-4))
          return `${what} differs from the reference by ${(diff / scale).toExponential(2)}${hard ? ' (hard sigmoid)' : ''}`;
      }
    }
    return null;
  } finally {
    await reference.close();
  }
}

/**
 * Whether this machine has working native kernels: the addon loads and passes its start-up check. Cheap (one
 * thread, no helpers), for the daemon to say once, at start, which kernels its workers will use and why.
 */
export async function probeNativeKernels(): Promise<{ instructionSet: string | null; reason: string | null }> {
  try {
    const runtime = await NativeLstmRuntime.create({ threads: 1 });
    const problem = await selfCheck(runtime);
    await runtime.close();
    if (problem)
      return { instructionSet: null, reason: `native kernels (${runtime.info.instructionSet}) failed their start-up check: ${problem}` };
    return { instructionSet: runtime.info.instructionSet, reason: null };
  } catch (err) {
    return { instructionSet: null, reason: (err as Error).message };
  }
}
