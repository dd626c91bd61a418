/**
 * Temporal attention pooling (model/attention.ts) on the LSTM kernels' runtime: its three products
 * (the states through W, and backward W's gradient and the states' gradient) as the kernels' GEMM in
 * kernel memory, split by rows over the kernels' threads; the tanh, softmax and weighted sums, a few
 * hundred thousand operations a batch, in plain loops. A tfjs graph of the same arithmetic runs some
 * thirty ops forward and back, each with its own overhead; this is two calls.
 *
 * Same layout as the layer's weights: h [B, T, U], W [U, A], b [A], v [A, 1]; output [B, 2U] =
 * [Σ_t α_t·h_t, h_T] with α = softmax_t(vᵀ·tanh(W·h_t + b)).
 */
import type { KernelRuntime } from './kernel-runtime.js';
import { splitBatch } from './workspace.js';

export interface AttentionShape {
  batch: number;
  steps: number;
  units: number;
  attention: number;
}

/** What backward needs of a forward: the attention's activations and weights. */
export interface AttentionForward {
  out: Float32Array;
  tanhZ: Float32Array;
  alpha: Float32Array;
}

/** GEMM and transpose need whole tiles of 4 columns: the shapes the fast path takes. */
export function attentionSupported(units: number, attention: number): boolean {
  return units % 4 === 0 && attention % 4 === 0;
}

/** C[m, n] = A[m, k] · B[k, n] in kernel memory, rows of C shared among the threads. */
function gemmRows(rt: KernelRuntime, m: number, n: number, k: number, a: number, b: number, c: number, accumulate = 0): void {
  const parts = rt.threads > 1 && m >= 64 ? splitBatch(m, rt.threads) : [[0, m] as [number, number]];
  rt.parallel(
    'gemm',
    parts.map(([r0, rows]) => [rows, n, k, a + r0 * k * 4, k, b, n, c + r0 * n * 4, n, accumulate]),
  );
}

export function attentionForward(
  rt: KernelRuntime,
  s: AttentionShape,
  h: Float32Array,
  w: Float32Array,
  bias: Float32Array,
  v: Float32Array,
): AttentionForward {
  const { batch: B, steps: T, units: U, attention: A } = s;
  const rows = B * T;
  const hAt = rt.alloc(rows * U);
  const wAt = rt.alloc(U * A);
  const zAt = rt.alloc(rows * A);
  const tanhZ = new Float32Array(rows * A);
  try {
    rt.f32.set(h, hAt / 4);
    rt.f32.set(w, wAt / 4);
    gemmRows(rt, rows, A, U, hAt, wAt, zAt);
    tanhZ.set(rt.f32.subarray(zAt / 4, zAt / 4 + rows * A));
  } finally {
    rt.free(zAt, rows * A);
    rt.free(wAt, U * A);
    rt.free(hAt, rows * U);
  }
  const alpha = new Float32Array(rows);
  const out = new Float32Array(B * 2 * U);
  for (let n = 0; n < B; n++) {
    let max = -Infinity;
    for (let t = 0; t < T; t++) {
      const r = n * T + t;
      let e = 0;
      for (let a = 0; a < A; a++) {
        const z = Math.tanh(tanhZ[r * A + a]! + bias[a]!);
        tanhZ[r * A + a] = z;
        e += z * v[a]!;
      }
      alpha[r] = e;
      if (e > max) max = e;
    }
    let sum = 0;
    for (let t = 0; t < T; t++) sum += alpha[n * T + t] = Math.exp(alpha[n * T + t]! - max);
    const o = n * 2 * U;
    for (let t = 0; t < T; t++) {
      const r = n * T + t;
      const a = (alpha[r] = alpha[r]! / sum);
      for (let u = 0; u < U; u++) out[o + u]! += a * h[r * U + u]!;
    }
    out.set(h.subarray((n * T + T - 1) * U, (n * T + T) * U), o + U);
  }
  return { out, tanhZ, alpha };
}

export function attentionBackward(
  rt: KernelRuntime,
  s: AttentionShape,
  h: Float32Array,
  w: Float32Array,
  v: Float32Array,
  f: AttentionForward,
  dy: Float32Array,
): { dh: Float32Array; dw: Float32Array; db: Float32Array; dv: Float32Array } {
  const { batch: B, steps: T, units: U, attention: A } = s;
  const rows = B * T;
  const dz = new Float32Array(rows * A);
  const dhDirect = new Float32Array(rows * U);
  const db = new Float32Array(A);
  const dv = new Float32Array(A);
  const dAlpha = new Float64Array(T);
  for (let n = 0; n < B; n++) {
    const o = n * 2 * U;
    let dot = 0;
    for (let t = 0; t < T; t++) {
      const r = n * T + t;
      const a = f.alpha[r]!;
      let da = 0;
      for (let u = 0; u < U; u++) {
        const g = dy[o + u]!;
        da += h[r * U + u]! * g;
        dhDirect[r * U + u] = a * g;
      }
      dAlpha[t] = da;
      dot += a * da;
    }
    for (let t = 0; t < T; t++) {
      const r = n * T + t;
      const de = f.alpha[r]! * (dAlpha[t]! - dot);
      for (let a = 0; a < A; a++) {
        const tz = f.tanhZ[r * A + a]!;
        dv[a]! += de * tz;
        const g = de * v[a]! * (1 - tz * tz);
        dz[r * A + a] = g;
        db[a]! += g;
      }
    }
    const last = (n * T + T - 1) * U;
    for (let u = 0; u < U; u++) dhDirect[last + u]! += dy[o + U + u]!;
  }
  // dW = hᵀ·dz and dh += dz·Wᵀ on the kernels.
  const hAt = rt.alloc(rows * U);
  const hTAt = rt.alloc(U * rows);
  const dzAt = rt.alloc(rows * A);
  const wTAt = rt.alloc(A * U);
  const dwAt = rt.alloc(U * A);
  const dhAt = rt.alloc(rows * U);
  try {
    const m = rt.f32;
    m.set(h, hAt / 4);
    m.set(dz, dzAt / 4);
    m.set(dhDirect, dhAt / 4);
    const wT = m.subarray(wTAt / 4, wTAt / 4 + A * U);
    for (let u = 0; u < U; u++) for (let a = 0; a < A; a++) wT[a * U + u] = w[u * A + a]!;
    rt.call('transpose', [rows, U, hAt, U, hTAt]);
    rt.call('gemm', [U, A, rows, hTAt, rows, dzAt, A, dwAt, A, 0]);
    gemmRows(rt, rows, U, A, dzAt, wTAt, dhAt, 1);
    return {
      dh: rt.f32.slice(dhAt / 4, dhAt / 4 + rows * U),
      dw: rt.f32.slice(dwAt / 4, dwAt / 4 + U * A),
      db,
      dv,
    };
  } finally {
    rt.free(dhAt, rows * U);
    rt.free(dwAt, U * A);
    rt.free(wTAt, A * U);
    rt.free(dzAt, rows * A);
    rt.free(hTAt, U * rows);
    rt.free(hAt, rows * U);
  }
}
