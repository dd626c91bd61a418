/**
 * The native LSTM kernels (native/: C++ with AVX-512, AVX2+FMA, NEON or plain code, picked by CPU
 * features), built by node-gyp when the package installs. Same memory scheme and kernels as the
 * WebAssembly build; the addon runs a call's slices on the calling thread and its own worker threads,
 * which sleep between calls. Where the addon did not build, `nativeAddon()` says why.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KernelMemory } from './kernel-memory.js';
import { defaultThreads, FastLstmUnavailableError, type KernelInfo, type KernelName, type KernelRuntime } from './kernel-runtime.js';

export type NativeInstructionSet = 'avx512' | 'avx2' | 'neon' | 'scalar';

interface Addon {
  instructionSets(): NativeInstructionSet[];
  setThreads(threads: number): void;
  run(isa: string, kernel: KernelName, memory: ArrayBuffer, args: Float64Array, parts: number, threads: number): void;
}

const ADDON = 'vigil_lstm.node';

/** The package root: three folders up from src/model/fast-lstm, four from dist/src/model/fast-lstm. */
function packageRoots(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return [path.resolve(here, '../../..'), path.resolve(here, '../../../..')];
}

/** Where the build script leaves the addon, or its reason for not building it. */
export function nativeBuildDir(): string {
  const roots = packageRoots();
  const built = roots.find((r) => existsSync(path.join(r, 'native', 'binding.gyp')));
  return path.join(built ?? roots[0]!, 'native', 'build');
}

let loaded: { addon: Addon; file: string } | { error: string } | null = null;

/** Loads the addon once per thread; the error says why it is not there (e.g. no compiler at install). */
export function nativeAddon(): { addon: Addon; file: string } | { error: string } {
  if (loaded) return loaded;
  const dir = nativeBuildDir();
  const file = path.join(dir, 'Release', ADDON);
  if (!existsSync(file)) {
    const why = path.join(dir, 'unavailable.txt');
    const reason = existsSync(why) ? readFileSync(why, 'utf8').trim().split('\n')[0]! : 'not built (npm run build:native)';
    return (loaded = { error: reason });
  }
  try {
    const addon = createRequire(import.meta.url)(file) as Addon;
    loaded = { addon, file };
  } catch (err) {
    loaded = { error: `the addon does not load: ${(err as Error).message.split('\n')[0]}` };
  }
  return loaded;
}

export class NativeLstmRuntime implements KernelRuntime {
  readonly info: KernelInfo;
  readonly splitsBatch = true;
  private readonly arena = new KernelMemory({ shared: false });

  private constructor(
    private readonly addon: Addon,
    file: string,
    isa: NativeInstructionSet,
    threads: number,
  ) {
    this.info = { build: 'native', instructionSet: isa, threads, file };
  }

  /** The best instruction set this CPU runs, unless one is named (tests run each). */
  static async create(o: { threads?: number; instructionSet?: NativeInstructionSet } = {}): Promise<NativeLstmRuntime> {
    const found = nativeAddon();
    if ('error' in found) throw new FastLstmUnavailableError(found.error, 'native');
    const sets = found.addon.instructionSets();
    const isa = o.instructionSet ?? sets[0];
    if (!isa || !sets.includes(isa))
      throw new FastLstmUnavailableError(`instruction set ${isa} not available on this CPU (${sets.join(', ')})`, 'native');
    const threads = defaultThreads(o.threads, os.availableParallelism());
    found.addon.setThreads(threads);
    return new NativeLstmRuntime(found.addon, found.file, isa, threads);
  }

  /** The instruction sets the addon has and this CPU runs, best first; empty where it is not built. */
  static instructionSets(): NativeInstructionSet[] {
    const found = nativeAddon();
    return 'error' in found ? [] : found.addon.instructionSets();
  }

  get threads(): number {
    return this.info.threads;
  }

  get f32(): Float32Array {
    return this.arena.f32;
  }

  alloc(floats: number): number {
    return this.arena.alloc(floats);
  }

  free(at: number, floats: number): void {
    this.arena.free(at, floats);
  }

  call(kernel: KernelName, args: number[]): void {
    this.addon.run(this.info.instructionSet, kernel, this.arena.memory.buffer as ArrayBuffer, Float64Array.from(args), 1, 1);
  }

  /** One argument list of forward, infer or backward is a whole batch, which the addon shares among its threads. */
  parallel(kernel: KernelName, argLists: number[][]): void {
    if (argLists.length > this.threads) throw new Error(`${argLists.length} parts for ${this.threads} threads`);
    const per = argLists[0]?.length ?? 0;
    const args = new Float64Array(argLists.length * per);
    argLists.forEach((list, i) => args.set(list, i * per));
    const whole = argLists.length === 1 && (kernel === 'forward' || kernel === 'infer' || kernel === 'backward');
    this.addon.run(
      this.info.instructionSet,
      kernel,
      this.arena.memory.buffer as ArrayBuffer,
      args,
      whole ? 0 : argLists.length,
      this.threads,
    );
  }

  async close(): Promise<void> {
    // The addon's threads belong to this JavaScript thread and end with it; they sleep meanwhile.
  }
}
