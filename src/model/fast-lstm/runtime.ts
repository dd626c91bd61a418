/**
 * Loads the WebAssembly LSTM kernels (SIMD, built from assembly/lstm.ts by `npm run build`) into one
 * shared memory and runs them on this thread plus helper threads. Calls are synchronous — tfjs asks
 * for gradients synchronously — so helpers are woken and awaited through Atomics on a shared control
 * block, not through messages.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { ARGS_AT, CTRL_WORDS, DONE, FAILED, FN, REQ } from './control-block.js';
import { KernelMemory } from './kernel-memory.js';
import {
  defaultThreads,
  FastLstmUnavailableError,
  KERNELS,
  type KernelInfo,
  type KernelName,
  type KernelRuntime,
} from './kernel-runtime.js';
/** A helper that has not finished after this long is taken as lost; the call fails instead of hanging. */
const HELPER_TIMEOUT_MS = 120_000;

interface Helper {
  worker: Worker;
  ctrl: Int32Array;
  args: Uint32Array;
  seq: number;
}

export function findKernelFile(name: string): string | null {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/src/model/fast-lstm → dist/wasm; src/model/fast-lstm → dist/wasm
  const candidates = [path.resolve(here, '../../../wasm', name), path.resolve(here, '../../../dist/wasm', name)];
  return candidates.find((p) => existsSync(p)) ?? null;
}

/** The compiled helper module: next to this file in a build, or in dist/ when running from sources (tests). */
function helperFile(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'kernel-helper.js'), path.resolve(here, '../../../dist/src/model/fast-lstm/kernel-helper.js')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new FastLstmUnavailableError('kernel-helper.js is not built (npm run build)');
  return found;
}

export class FastLstmRuntime implements KernelRuntime {
  readonly info: KernelInfo;
  readonly splitsBatch = false;
  private readonly exports: Record<KernelName, (...a: number[]) => void>;
  private readonly helpers: Helper[];

  private constructor(
    private readonly arena: KernelMemory,
    exports: Record<KernelName, (...a: number[]) => void>,
    helpers: Helper[],
    info: KernelInfo,
  ) {
    this.exports = exports;
    this.helpers = helpers;
    this.info = info;
  }

  get memory(): WebAssembly.Memory {
    return this.arena.memory;
  }

  /**
   * Threads default to the cores available, at most 8 (each helper is a V8 isolate of its own);
   * 1 means no helpers.
   */
  static async create(o: { threads?: number; preferRelaxed?: boolean } = {}): Promise<FastLstmRuntime> {
    if (typeof SharedArrayBuffer === 'undefined') throw new FastLstmUnavailableError('SharedArrayBuffer is not available');
    const simdFile = findKernelFile('lstm-simd.wasm');
    if (!simdFile) throw new FastLstmUnavailableError('lstm-simd.wasm is not built (npm run build)');
    const simdBytes = readFileSync(simdFile);
    if (!WebAssembly.validate(simdBytes)) throw new FastLstmUnavailableError('this engine has no WebAssembly SIMD');
    const simd = await WebAssembly.compile(simdBytes);
    let module = simd;
    let chosen: [string, string] = ['simd', simdFile];
    const relaxedFile = o.preferRelaxed === false ? null : findKernelFile('lstm-relaxed.wasm');
    if (relaxedFile) {
      const bytes = readFileSync(relaxedFile);
      // Node 20's V8 has relaxed SIMD behind a flag that takes effect when set at run time; newer
      // engines validate it as is. Either way the fused kernels must agree with the plain ones.
      if (!WebAssembly.validate(bytes)) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      if (WebAssembly.validate(bytes)) {
        const relaxed = await WebAssembly.compile(bytes);
        if (await sameResults(relaxed, simd)) {
          module = relaxed;
          chosen = ['relaxed-simd', relaxedFile];
        }
      }
    }
    const arena = new KernelMemory({ shared: true });
    const memory = arena.memory;
    const instance = await WebAssembly.instantiate(module, {
      env: {
        memory,
        abort: () => {
          throw new Error('kernel abort');
        },
      },
    });
    const exports = Object.fromEntries(KERNELS.map((k) => [k, instance.exports[k] as (...a: number[]) => void])) as Record<
      KernelName,
      (...a: number[]) => void
    >;
    const threads = defaultThreads(o.threads, os.availableParallelism());
    const helpers = await Promise.all(Array.from({ length: threads - 1 }, () => startHelper(module!, memory)));
    return new FastLstmRuntime(arena, exports, helpers, { build: 'wasm', instructionSet: chosen[0], threads, file: chosen[1] });
  }

  get threads(): number {
    return this.helpers.length + 1;
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

  /** Runs one kernel on this thread. */
  call(kernel: KernelName, args: number[]): void {
    this.exports[kernel](...args);
  }

  /**
   * Runs the same kernel with different arguments on up to `threads` threads at once: the first
   * argument list here, the others on helpers. Returns when all are done.
   */
  parallel(kernel: KernelName, argLists: number[][]): void {
    if (argLists.length > this.threads) throw new Error(`${argLists.length} parts for ${this.threads} threads`);
    const fn = KERNELS.indexOf(kernel);
    const used = this.helpers.slice(0, argLists.length - 1);
    used.forEach((h, i) => {
      const args = argLists[i + 1]!;
      h.args.set(args.map((v) => v >>> 0));
      h.ctrl[FN] = fn;
      h.ctrl[FN + 2] = args.length;
      h.seq = (h.seq + 1) | 0;
      Atomics.store(h.ctrl, REQ, h.seq);
      Atomics.notify(h.ctrl, REQ);
    });
    let ownError: unknown = null;
    try {
      this.exports[kernel](...argLists[0]!);
    } catch (err) {
      ownError = err;
    }
    let failed = false;
    for (const h of used) {
      const deadline = Date.now() + HELPER_TIMEOUT_MS;
      let spins = 0;
      while (Atomics.load(h.ctrl, DONE) !== h.seq) {
        if (spins++ < 20_000) continue;
        const seen = Atomics.load(h.ctrl, DONE);
        if (seen !== h.seq) Atomics.wait(h.ctrl, DONE, seen, 50);
        if (Date.now() > deadline) throw new Error(`fast LSTM helper thread did not finish ${kernel} within ${HELPER_TIMEOUT_MS} ms`);
      }
      if (h.ctrl[FAILED]) failed = true;
    }
    if (ownError) throw ownError instanceof Error ? ownError : new Error(`fast LSTM kernel ${kernel} failed`);
    if (failed) throw new Error(`fast LSTM kernel ${kernel} failed on a helper thread`);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.helpers.map(async (h) => {
        h.ctrl[FN] = -1;
        Atomics.store(h.ctrl, REQ, (h.seq + 1) | 0);
        Atomics.notify(h.ctrl, REQ);
        await h.worker.terminate();
      }),
    );
    this.helpers.length = 0;
  }
}

/** Runs a small forward pass on both builds; fused multiply-add may round differently, nothing more. */
async function sameResults(candidate: WebAssembly.Module, reference: WebAssembly.Module): Promise<boolean> {
  const run = async (module: WebAssembly.Module): Promise<Float32Array | null> => {
    try {
      const memory = new WebAssembly.Memory({ initial: 4, maximum: 4, shared: true });
      const inst = await WebAssembly.instantiate(module, {
        env: {
          memory,
          abort: () => {
            throw new Error('kernel abort');
          },
        },
      });
      const [B, T, F, U] = [4, 6, 5, 8];
      const f32 = new Float32Array(memory.buffer);
      const at = { x: 256, w: 4096, r: 8192, bias: 12288, gates: 16384, cell: 65536, tanhCell: 98304, h: 131072 };
      let seed = 7;
      const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
      for (const [key, n] of [
        ['x', B * T * F],
        ['w', F * 4 * U],
        ['r', U * 4 * U],
        ['bias', 4 * U],
      ] as const)
        for (let i = 0; i < n; i++) f32[at[key] / 4 + i] = next();
      (inst.exports.forward as (...a: number[]) => void)(B, T, F, U, at.x, at.w, at.r, at.bias, at.gates, at.cell, at.tanhCell, at.h, 0);
      return f32.slice(at.h / 4, at.h / 4 + B * T * U);
    } catch {
      return null;
    }
  };
  const [a, b] = [await run(candidate), await run(reference)];
  if (!a || !b) return false;
  return a.every((v, i) => Number.isFinite(v) && Math.abs(v - b[i]!) <= 1e-4);
}

async function startHelper(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<Helper> {
  const sab = new SharedArrayBuffer(CTRL_WORDS * 4);
  const worker = new Worker(helperFile(), { workerData: { module, memory, ctrl: sab, kernels: KERNELS }, name: 'vigil-lstm-kernel' });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`kernel helper exited with ${code}`)));
  });
  worker.removeAllListeners('exit');
  worker.removeAllListeners('error');
  // A helper must never keep the process alive, nor crash it: errors surface as a failed call.
  worker.on('error', () => undefined);
  worker.unref();
  return { worker, ctrl: new Int32Array(sab), args: new Uint32Array(sab, ARGS_AT * 4), seq: 0 };
}
