/**
 * One LSTM layer's buffers in kernel memory and the host side of its forward and backward calls:
 * copies in, splits the batch across threads, copies out. The forward leaves its activations in
 * place for the backward of the same batch; a generation number tells whether they are still there.
 */
import type { KernelRuntime } from './kernel-runtime.js';

export interface LstmShape {
  batch: number;
  steps: number;
  features: number;
  units: number;
}

export interface LstmWeights {
  kernel: Float32Array; // [F, 4U]
  recurrent: Float32Array; // [U, 4U]
  bias: Float32Array; // [4U]
}

export interface LstmGradients {
  dx: Float32Array; // [B, T, F]
  kernel: Float32Array;
  recurrent: Float32Array;
  bias: Float32Array;
}

/** Batches below this run on one thread: waking a helper costs more than it saves. */
const MIN_ROWS_PER_THREAD = 16;

type Buffers = Record<
  | 'x'
  | 'w'
  | 'r'
  | 'bias'
  | 'wt'
  | 'rt'
  | 'gates'
  | 'cell'
  | 'tanhCell'
  | 'h'
  | 'dy'
  | 'dz'
  | 'dh'
  | 'dc'
  | 'xt'
  | 'hprevT'
  | 'dx'
  | 'dw'
  | 'dr'
  | 'db',
  number
>;

export class LstmWorkspace {
  private buffers: Buffers | null = null;
  private sizes: Partial<Record<keyof Buffers, number>> = {};
  private capacityRows = 0;
  private capacityBatch = 0;
  private features = 0;
  private units = 0;
  private shape: LstmShape | null = null;
  /** Bumped by every forward; a backward for an older one recomputes the forward first. */
  generation = 0;

  constructor(
    private readonly rt: KernelRuntime,
    private readonly hardSigmoid: boolean,
  ) {}

  static supports(units: number): boolean {
    return units % 4 === 0;
  }

  /** Runs the window forward; returns h for every step [B, T, U] or only the last [B, U]. */
  forward(x: Float32Array, w: LstmWeights, s: LstmShape, returnSequences: boolean): { output: Float32Array; generation: number } {
    const b = this.prepare(s);
    const f32 = this.rt.f32;
    f32.set(x.subarray(0, s.batch * s.steps * s.features), b.x / 4);
    f32.set(w.kernel, b.w / 4);
    f32.set(w.recurrent, b.r / 4);
    f32.set(w.bias, b.bias / 4);
    const { features: F, units: U, steps: T } = s;
    const parts = this.split(s.batch);
    this.rt.parallel(
      'forward',
      parts.map(([b0, n]) => [
        n,
        T,
        F,
        U,
        b.x + b0 * T * F * 4,
        b.w,
        b.r,
        b.bias,
        b.gates + b0 * T * 4 * U * 4,
        b.cell + b0 * T * U * 4,
        b.tanhCell + b0 * T * U * 4,
        b.h + b0 * T * U * 4,
        this.hardSigmoid ? 1 : 0,
      ]),
    );
    this.shape = s;
    this.generation++;
    const hv = this.rt.f32.subarray(b.h / 4, b.h / 4 + s.batch * T * U);
    let output: Float32Array;
    if (returnSequences) output = hv.slice();
    else {
      output = new Float32Array(s.batch * U);
      for (let i = 0; i < s.batch; i++) output.set(hv.subarray((i * T + T - 1) * U, (i * T + T) * U), i * U);
    }
    return { output, generation: this.generation };
  }

  /** Backpropagation through time for the batch of the latest forward. dy is shaped like that forward's output. */
  backward(dy: Float32Array, w: LstmWeights, returnSequences: boolean): LstmGradients {
    const s = this.shape;
    const b = this.buffers;
    if (!s || !b) throw new Error('backward without a forward');
    const { batch: B, steps: T, features: F, units: U } = s;
    const g4 = 4 * U;
    const fp = padded(F);
    const f32 = this.rt.f32;
    f32.set(dy.subarray(0, returnSequences ? B * T * U : B * U), b.dy / 4);
    // Transposed kernels for dh = dz·Rᵀ and dx = dz·Wᵀ; Wᵀ padded with zero columns to fp.
    const wt = b.wt / 4;
    f32.fill(0, wt, wt + g4 * fp);
    for (let i = 0; i < F; i++) for (let j = 0; j < g4; j++) f32[wt + j * fp + i] = w.kernel[i * g4 + j]!;
    const rt = b.rt / 4;
    for (let i = 0; i < U; i++) for (let j = 0; j < g4; j++) f32[rt + j * U + i] = w.recurrent[i * g4 + j]!;
    const parts = this.split(B);
    const dwSize = F * g4;
    const drSize = U * g4;
    this.rt.parallel(
      'backward',
      parts.map(([b0, n], p) => [
        n,
        T,
        F,
        fp,
        U,
        b.x + b0 * T * F * 4,
        b.wt,
        b.rt,
        b.gates + b0 * T * g4 * 4,
        b.cell + b0 * T * U * 4,
        b.tanhCell + b0 * T * U * 4,
        b.h + b0 * T * U * 4,
        b.dy + b0 * (returnSequences ? T * U : U) * 4,
        returnSequences ? 1 : 0,
        b.dz + b0 * T * g4 * 4,
        b.dh + b0 * U * 4,
        b.dc + b0 * U * 4,
        b.xt + b0 * T * F * 4,
        b.hprevT + b0 * T * U * 4,
        b.dx + b0 * T * fp * 4,
        b.dw + p * dwSize * 4,
        b.dr + p * drSize * 4,
        b.db + p * g4 * 4,
        this.hardSigmoid ? 1 : 0,
      ]),
    );
    const out = this.rt.f32;
    const kernel = out.slice(b.dw / 4, b.dw / 4 + dwSize);
    const recurrent = out.slice(b.dr / 4, b.dr / 4 + drSize);
    const bias = out.slice(b.db / 4, b.db / 4 + g4);
    for (let p = 1; p < parts.length; p++) {
      addInto(kernel, out, b.dw / 4 + p * dwSize);
      addInto(recurrent, out, b.dr / 4 + p * drSize);
      addInto(bias, out, b.db / 4 + p * g4);
    }
    const dx = new Float32Array(B * T * F);
    const dxAt = b.dx / 4;
    if (fp === F) dx.set(out.subarray(dxAt, dxAt + B * T * F));
    else for (let r = 0; r < B * T; r++) for (let i = 0; i < F; i++) dx[r * F + i] = out[dxAt + r * fp + i]!;
    return { dx, kernel, recurrent, bias };
  }

  /** Gives the kernel memory back; the workspace can be used again afterwards. */
  release(): void {
    if (!this.buffers) return;
    for (const key of Object.keys(this.buffers) as Array<keyof Buffers>) this.rt.free(this.buffers[key], this.sizes[key]!);
    this.buffers = null;
    this.capacityRows = 0;
    this.capacityBatch = 0;
    this.shape = null;
  }

  private split(batch: number): Array<[number, number]> {
    return batchParts(this.rt, batch);
  }

  private prepare(s: LstmShape): Buffers {
    const rows = s.batch * s.steps;
    if (
      this.buffers &&
      rows <= this.capacityRows &&
      s.batch <= this.capacityBatch &&
      s.features === this.features &&
      s.units === this.units
    )
      return this.buffers;
    this.release();
    // Room for growth: batches vary (the last of an epoch is smaller), and reallocating costs a copy.
    const capRows = Math.max(rows, Math.ceil(this.capacityRows * 1.5));
    const capBatch = Math.max(s.batch, Math.ceil(this.capacityBatch * 1.5));
    const { features: F, units: U } = s;
    const g4 = 4 * U;
    const fp = padded(F);
    // Kernels that share the batch out themselves sum the weight gradients in one place and read x and h
    // in place: no per-thread gradients, no transposed copies.
    const own = this.rt.splitsBatch;
    const threads = own ? 1 : this.rt.threads;
    this.sizes = {
      x: capRows * F,
      w: F * g4,
      r: U * g4,
      bias: g4,
      wt: g4 * fp,
      rt: g4 * U,
      gates: capRows * g4,
      cell: capRows * U,
      tanhCell: capRows * U,
      h: capRows * U,
      dy: capRows * U,
      dz: capRows * g4,
      dh: capBatch * U,
      dc: capBatch * U,
      xt: own ? 0 : capRows * F,
      hprevT: own ? 0 : capRows * U,
      dx: capRows * fp,
      dw: threads * F * g4,
      dr: threads * U * g4,
      db: threads * g4,
    };
    this.buffers = Object.fromEntries(Object.entries(this.sizes).map(([k, n]) => [k, this.rt.alloc(n!)])) as Buffers;
    this.capacityRows = capRows;
    this.capacityBatch = capBatch;
    this.features = F;
    this.units = U;
    return this.buffers;
  }
}

/** How a caller splits a batch for `rt`: one part where the kernels share it among threads themselves. */
export function batchParts(rt: KernelRuntime, batch: number): Array<[number, number]> {
  return rt.splitsBatch ? [[0, batch]] : splitBatch(batch, rt.threads);
}

/** [first row, rows] per thread; parts are multiples of 4 rows, the kernels' tile height. */
export function splitBatch(batch: number, threads: number): Array<[number, number]> {
  const used = Math.max(1, Math.min(threads, Math.floor(batch / MIN_ROWS_PER_THREAD)));
  if (used === 1) return [[0, batch]];
  const per = Math.ceil(batch / used / 4) * 4;
  const parts: Array<[number, number]> = [];
  for (let b0 = 0; b0 < batch; b0 += per) parts.push([b0, Math.min(per, batch - b0)]);
  return parts;
}

function padded(features: number): number {
  return Math.ceil(features / 8) * 8;
}

function addInto(target: Float32Array, source: Float32Array, at: number): void {
  for (let i = 0; i < target.length; i++) target[i]! += source[at + i]!;
}
