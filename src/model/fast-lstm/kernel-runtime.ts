/**
 * What the LSTM layer, its workspace and the scoring path need of a kernel build: memory addressed by
 * byte offsets, and the kernels run on one or several threads. Two builds provide it: WebAssembly SIMD
 * (runtime.ts, everywhere) and native SIMD (native-runtime.ts, where the addon built).
 */
export type KernelName = 'forward' | 'backward' | 'infer' | 'gemm' | 'transpose';
export const KERNELS: KernelName[] = ['forward', 'backward', 'infer', 'gemm', 'transpose'];

export interface KernelInfo {
  /** Which build: the WebAssembly kernels or the native addon. */
  build: 'wasm' | 'native';
  /** 'relaxed-simd' | 'simd' for wasm; 'avx512' | 'avx2' | 'neon' | 'scalar' for native. */
  instructionSet: string;
  threads: number;
  /** The .wasm or .node file the kernels came from. */
  file: string;
}

export interface KernelRuntime {
  readonly info: KernelInfo;
  readonly threads: number;
  /**
   * True when one whole-batch forward, infer or backward call is shared among the threads by the kernels
   * themselves (then callers pass one argument list); false when callers split the batch (see batchParts).
   */
  readonly splitsBatch: boolean;
  /** A Float32Array over the whole memory, renewed after growth. */
  readonly f32: Float32Array;
  /** Allocates `floats` f32 values, 64-byte aligned; returns a byte offset. */
  alloc(floats: number): number;
  free(at: number, floats: number): void;
  /** Runs one kernel on this thread. */
  call(kernel: KernelName, args: number[]): void;
  /** Runs the same kernel on up to `threads` argument lists at once; returns when all are done. */
  parallel(kernel: KernelName, argLists: number[][]): void;
  close(): Promise<void>;
}

export class FastLstmUnavailableError extends Error {
  constructor(reason: string, build: 'wasm' | 'native' = 'wasm') {
    super(`${build === 'wasm' ? 'WebAssembly' : 'native'} LSTM kernels unavailable: ${reason}`);
    this.name = 'FastLstmUnavailableError';
  }
}

/** Threads by default: the cores available, at most 8 (a window's recurrence gains little beyond). */
export function defaultThreads(requested: number | undefined, available: number): number {
  return Math.max(1, Math.min(requested ?? Math.min(available, 8), 16));
}
