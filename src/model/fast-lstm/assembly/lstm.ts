// LSTM kernels in AssemblyScript with 128-bit SIMD: one call runs a whole window forward, one call
// runs backpropagation through time. All arrays are row-major f32 in linear memory owned by the host
// (byte offsets); the kernels never allocate, so several threads can share one memory.
//
// Gate layout and maths follow tf.layers.lstm: kernel [F, 4U], recurrent kernel [U, 4U], bias [4U],
// gates in the order i, f, c, o; c_t = f*c_{t-1} + i*tanh(z_c); h_t = o*tanh(c_t).

@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

@inline function ld(p: usize): v128 {
  return v128.load(p);
}

@inline function st(p: usize, v: v128): void {
  v128.store(p, v);
}

// ---- GEMM: C[m,n] (+)= A[m,k] · B[k,n], strides in elements --------------------------------------

// Long inner dimensions (the weight gradients sum over batch × steps) are cut into chunks so the
// panel of B being streamed stays in L2: about 3× faster than one pass for K in the thousands.
const K_CHUNK = 256;

export function gemm(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: i32): void {
  for (let k0 = 0; k0 < k; k0 += K_CHUNK) {
    const kc = min(K_CHUNK, k - k0);
    gemmBlock(m, n, kc, a + (<usize>k0 << 2), lda, b + ((<usize>k0 * <usize>ldb) << 2), ldb, c, ldc, k0 > 0 ? 1 : accumulate);
  }
}

function gemmBlock(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: i32): void {
  const sa = <usize>lda << 2;
  const sb = <usize>ldb << 2;
  const sc = <usize>ldc << 2;
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const a0 = a + <usize>i * sa;
    const c0 = c + <usize>i * sc;
    let j = 0;
    for (; j + 8 <= n; j += 8) tile4x8(k, a0, sa, b + (<usize>j << 2), sb, c0 + (<usize>j << 2), sc, accumulate);
    for (; j + 4 <= n; j += 4) tile4x4(k, a0, sa, b + (<usize>j << 2), sb, c0 + (<usize>j << 2), sc, accumulate);
    for (; j < n; j++) {
      for (let r = 0; r < 4; r++) {
        const ar = a0 + <usize>r * sa;
        let s: f32 = 0;
        for (let kk = 0; kk < k; kk++) s += load<f32>(ar + (<usize>kk << 2)) * load<f32>(b + <usize>kk * sb + (<usize>j << 2));
        const cp = c0 + <usize>r * sc + (<usize>j << 2);
        store<f32>(cp, accumulate ? load<f32>(cp) + s : s);
      }
    }
  }
  for (; i < m; i++) {
    const ar = a + <usize>i * sa;
    const cr = c + <usize>i * sc;
    let j = 0;
    // Single rows (one window scored alone) get four independent accumulators, not one dependency chain.
    for (; j + 16 <= n; j += 16) tile1x16(k, ar, b + (<usize>j << 2), sb, cr + (<usize>j << 2), accumulate);
    for (; j + 4 <= n; j += 4) {
      let acc = accumulate ? ld(cr + (<usize>j << 2)) : f32x4.splat(0);
      for (let kk = 0; kk < k; kk++) acc = madd(f32x4.splat(load<f32>(ar + (<usize>kk << 2))), ld(b + <usize>kk * sb + (<usize>j << 2)), acc);
      st(cr + (<usize>j << 2), acc);
    }
    for (; j < n; j++) {
      let s: f32 = 0;
      for (let kk = 0; kk < k; kk++) s += load<f32>(ar + (<usize>kk << 2)) * load<f32>(b + <usize>kk * sb + (<usize>j << 2));
      const cp = cr + (<usize>j << 2);
      store<f32>(cp, accumulate ? load<f32>(cp) + s : s);
    }
  }
}

// 4 rows × 8 columns held in 8 registers; with 2 loads of B and 4 broadcasts of A per k this fits
// the 16 SIMD registers V8 allocates on x86-64 without spilling.
@inline function tile4x8(k: i32, a: usize, sa: usize, b: usize, sb: usize, c: usize, sc: usize, accumulate: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const a1 = a + sa, a2 = a1 + sa, a3 = a2 + sa;
  let bp = b;
  for (let kk = 0; kk < k; kk++) {
    const off = <usize>kk << 2;
    const b0 = ld(bp), b1 = ld(bp + 16);
    let v = v128.load32_splat(a + off);
    c00 = madd(v, b0, c00); c01 = madd(v, b1, c01);
    v = v128.load32_splat(a1 + off);
    c10 = madd(v, b0, c10); c11 = madd(v, b1, c11);
    v = v128.load32_splat(a2 + off);
    c20 = madd(v, b0, c20); c21 = madd(v, b1, c21);
    v = v128.load32_splat(a3 + off);
    c30 = madd(v, b0, c30); c31 = madd(v, b1, c31);
    bp += sb;
  }
  const r1 = c + sc, r2 = r1 + sc, r3 = r2 + sc;
  if (accumulate) {
    c00 = f32x4.add(c00, ld(c)); c01 = f32x4.add(c01, ld(c + 16));
    c10 = f32x4.add(c10, ld(r1)); c11 = f32x4.add(c11, ld(r1 + 16));
    c20 = f32x4.add(c20, ld(r2)); c21 = f32x4.add(c21, ld(r2 + 16));
    c30 = f32x4.add(c30, ld(r3)); c31 = f32x4.add(c31, ld(r3 + 16));
  }
  st(c, c00); st(c + 16, c01);
  st(r1, c10); st(r1 + 16, c11);
  st(r2, c20); st(r2 + 16, c21);
  st(r3, c30); st(r3 + 16, c31);
}

@inline function tile1x16(k: i32, a: usize, b: usize, sb: usize, c: usize, accumulate: i32): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let bp = b;
  for (let kk = 0; kk < k; kk++) {
    const v = v128.load32_splat(a + (<usize>kk << 2));
    c0 = madd(v, ld(bp), c0);
    c1 = madd(v, ld(bp + 16), c1);
    c2 = madd(v, ld(bp + 32), c2);
    c3 = madd(v, ld(bp + 48), c3);
    bp += sb;
  }
  if (accumulate) {
    c0 = f32x4.add(c0, ld(c)); c1 = f32x4.add(c1, ld(c + 16)); c2 = f32x4.add(c2, ld(c + 32)); c3 = f32x4.add(c3, ld(c + 48));
  }
  st(c, c0); st(c + 16, c1); st(c + 32, c2); st(c + 48, c3);
}

@inline function tile4x4(k: i32, a: usize, sa: usize, b: usize, sb: usize, c: usize, sc: usize, accumulate: i32): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  const a1 = a + sa, a2 = a1 + sa, a3 = a2 + sa;
  let bp = b;
  for (let kk = 0; kk < k; kk++) {
    const off = <usize>kk << 2;
    const b0 = ld(bp);
    c0 = madd(v128.load32_splat(a + off), b0, c0);
    c1 = madd(v128.load32_splat(a1 + off), b0, c1);
    c2 = madd(v128.load32_splat(a2 + off), b0, c2);
    c3 = madd(v128.load32_splat(a3 + off), b0, c3);
    bp += sb;
  }
  const r1 = c + sc, r2 = r1 + sc, r3 = r2 + sc;
  if (accumulate) {
    c0 = f32x4.add(c0, ld(c)); c1 = f32x4.add(c1, ld(r1)); c2 = f32x4.add(c2, ld(r2)); c3 = f32x4.add(c3, ld(r3));
  }
  st(c, c0); st(r1, c1); st(r2, c2); st(r3, c3);
}

/** dst[cols, rows] = src[rows, cols]ᵀ; src rows are `lds` elements apart. */
export function transpose(rows: i32, cols: i32, src: usize, lds: i32, dst: usize): void {
  for (let r = 0; r < rows; r++) {
    const sp = src + ((<usize>r * <usize>lds) << 2);
    for (let c = 0; c < cols; c++) store<f32>(dst + ((<usize>c * <usize>rows + <usize>r) << 2), load<f32>(sp + (<usize>c << 2)));
  }
}

// ---- activations -------------------------------------------------------------------------------

// exp by range reduction: e^x = 2^n · e^r, |r| ≤ ln2/2, e^r by a degree-6 polynomial (rel. error < 2e-7).
// Rounding uses the 1.5·2^23 trick and clamping pmin/pmax: wasm's min/max/nearest/trunc_sat carry
// NaN and overflow semantics that cost V8 several x86 instructions each, which this loop cannot afford.
const ROUND_MAGIC: f32 = 12582912.0;

@inline function vexp(x: v128): v128 {
  x = f32x4.pmax(f32x4.pmin(x, f32x4.splat(88.0)), f32x4.splat(-87.0));
  const t = madd(x, f32x4.splat(1.44269504), f32x4.splat(ROUND_MAGIC));
  const n = f32x4.sub(t, f32x4.splat(ROUND_MAGIC));
  let r = madd(n, f32x4.splat(-0.693145752), x);
  r = madd(n, f32x4.splat(-1.42860677e-6), r);
  let p = f32x4.splat(1.0 / 720.0);
  p = madd(p, r, f32x4.splat(1.0 / 120.0));
  p = madd(p, r, f32x4.splat(1.0 / 24.0));
  p = madd(p, r, f32x4.splat(1.0 / 6.0));
  p = madd(p, r, f32x4.splat(0.5));
  p = madd(p, r, f32x4.splat(1.0));
  p = madd(p, r, f32x4.splat(1.0));
  // The integer n sits in t's low mantissa bits; shifted into the exponent field it scales by 2^n.
  const scale = i32x4.add(i32x4.shl(i32x4.sub(t, f32x4.splat(ROUND_MAGIC)), 23), i32x4.splat(127 << 23));
  return f32x4.mul(p, scale);
}

@inline function vsigmoid(x: v128): v128 {
  return f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), vexp(f32x4.neg(x))));
}

// tfjs's hardSigmoid: clip(0.2·x + 0.5, 0, 1).
@inline function vhardSigmoid(x: v128): v128 {
  return f32x4.pmin(f32x4.pmax(madd(x, f32x4.splat(0.2), f32x4.splat(0.5)), f32x4.splat(0.0)), f32x4.splat(1.0));
}

@inline function vgate(x: v128, hard: i32): v128 {
  return hard ? vhardSigmoid(x) : vsigmoid(x);
}

// tanh(x) = 1 − 2/(e^{2x} + 1): exact at the limits, absolute error ~1e-7 near 0.
@inline function vtanh(x: v128): v128 {
  return f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(vexp(f32x4.add(x, x)), f32x4.splat(1.0))));
}

// Derivative of the gate activation from its output s.
@inline function vgateGrad(s: v128, hard: i32): v128 {
  if (hard) {
    const inside = v128.and(f32x4.gt(s, f32x4.splat(0.0)), f32x4.lt(s, f32x4.splat(1.0)));
    return v128.and(inside, f32x4.splat(0.2));
  }
  return f32x4.mul(s, f32x4.sub(f32x4.splat(1.0), s));
}

// ---- forward -----------------------------------------------------------------------------------

/**
 * Whole-window forward for `batch` sequences of `steps` steps.
 * x [batch, steps, F]; w [F, 4U]; r [U, 4U]; bias [4U].
 * Writes gates [batch, steps, 4U] (activated i, f, g, o), cell [batch, steps, U], tanhCell [batch, steps, U]
 * and h [batch, steps, U].
 */
export function forward(batch: i32, steps: i32, f: i32, u: i32, x: usize, w: usize, r: usize, bias: usize, gates: usize, cell: usize, tanhCell: usize, h: usize, hard: i32): void {
  steps_(batch, steps, f, u, x, w, r, bias, gates, cell, tanhCell, h, hard, true);
}

/**
 * Forward for scoring: the same arithmetic as forward() without the activations backward needs.
 * gates [batch, steps, 4U] is scratch; c [batch, U] holds the running cell state; h [batch, steps, U]
 * receives every step's output (and is the next layer's x as it stands).
 */
export function infer(batch: i32, steps: i32, f: i32, u: i32, x: usize, w: usize, r: usize, bias: usize, gates: usize, c: usize, h: usize, hard: i32): void {
  steps_(batch, steps, f, u, x, w, r, bias, gates, c, 0, h, hard, false);
}

// The recurrence of both: `keep` (a constant at each call, so the branches fold away) keeps the
// activated gates, every step's cell and tanh(cell) for backward; without it the cell state is one
// row per sequence, updated in place.
@inline function steps_(batch: i32, steps: i32, f: i32, u: i32, x: usize, w: usize, r: usize, bias: usize, gates: usize, cell: usize, tanhCell: usize, h: usize, hard: i32, keep: bool): void {
  const g4 = u << 2;
  const uo = <usize>u << 2;
  // Input contributions of every step at once: one large GEMM instead of one per step.
  gemm(batch * steps, g4, f, x, f, w, g4, gates, g4, 0);
  for (let t = 0; t < steps; t++) {
    if (t > 0) gemm(batch, g4, u, h + ((<usize>(t - 1) * <usize>u) << 2), steps * u, r, g4, gates + ((<usize>t * <usize>g4) << 2), steps * g4, 1);
    for (let b = 0; b < batch; b++) {
      const row = <usize>b * <usize>steps + <usize>t;
      const gp = gates + ((row * <usize>g4) << 2);
      const hp = h + ((row * <usize>u) << 2);
      const cp = keep ? cell + ((row * <usize>u) << 2) : cell + ((<usize>b * <usize>u) << 2);
      const prev = keep ? cp - uo : cp;
      const tp = tanhCell + ((row * <usize>u) << 2);
      for (let j = 0; j < u; j += 4) {
        const o4 = <usize>j << 2;
        const gi = vgate(f32x4.add(ld(gp + o4), ld(bias + o4)), hard);
        const gf = vgate(f32x4.add(ld(gp + uo + o4), ld(bias + uo + o4)), hard);
        const gg = vtanh(f32x4.add(ld(gp + 2 * uo + o4), ld(bias + 2 * uo + o4)));
        const go = vgate(f32x4.add(ld(gp + 3 * uo + o4), ld(bias + 3 * uo + o4)), hard);
        let c = f32x4.mul(gi, gg);
        if (t > 0) c = madd(gf, ld(prev + o4), c);
        const tc = vtanh(c);
        if (keep) {
          st(gp + o4, gi); st(gp + uo + o4, gf); st(gp + 2 * uo + o4, gg); st(gp + 3 * uo + o4, go);
          st(tp + o4, tc);
        }
        st(cp + o4, c);
        st(hp + o4, f32x4.mul(go, tc));
      }
    }
  }
}

// ---- backward ----------------------------------------------------------------------------------

/**
 * Backpropagation through time for the same batch the forward ran on.
 * dy is [batch, steps, U] when `sequence`, else [batch, U] (gradient of the last h only).
 * wt [4U, fp] (fp = F padded to a multiple of 8 with zero columns, so dx's GEMM runs on whole SIMD tiles)
 * and rt [4U, U] are the transposed kernels. Scratch: dz [batch, steps, 4U], dh and dc [batch, U],
 * xt [F, batch·steps], hprevT [U, batch·steps].
 * Outputs: dx [batch, steps, fp] and the weight gradients dw [F, 4U], dr [U, 4U], db [4U] (overwritten).
 */
export function backward(
  batch: i32, steps: i32, f: i32, fp: i32, u: i32, x: usize, wt: usize, rt: usize,
  gates: usize, cell: usize, tanhCell: usize, h: usize, dy: usize, sequence: i32,
  dz: usize, dh: usize, dc: usize, xt: usize, hprevT: usize,
  dx: usize, dw: usize, dr: usize, db: usize, hard: i32,
): void {
  const g4 = u << 2;
  const uo = <usize>u << 2;
  memory.fill(dh, 0, (<usize>batch * <usize>u) << 2);
  memory.fill(dc, 0, (<usize>batch * <usize>u) << 2);
  for (let t = steps - 1; t >= 0; t--) {
    for (let b = 0; b < batch; b++) {
      const row = <usize>b * <usize>steps + <usize>t;
      const gp = gates + ((row * <usize>g4) << 2);
      const zp = dz + ((row * <usize>g4) << 2);
      const tp = tanhCell + ((row * <usize>u) << 2);
      const prevCell = cell + ((row * <usize>u) << 2) - uo;
      const dhp = dh + ((<usize>b * <usize>u) << 2);
      const dcp = dc + ((<usize>b * <usize>u) << 2);
      let dyp: usize = 0;
      if (sequence) dyp = dy + ((row * <usize>u) << 2);
      else if (t == steps - 1) dyp = dy + ((<usize>b * <usize>u) << 2);
      for (let j = 0; j < u; j += 4) {
        const o4 = <usize>j << 2;
        let dhv = ld(dhp + o4);
        if (dyp) dhv = f32x4.add(dhv, ld(dyp + o4));
        const gi = ld(gp + o4), gf = ld(gp + uo + o4), gg = ld(gp + 2 * uo + o4), go = ld(gp + 3 * uo + o4);
        const tc = ld(tp + o4);
        const one = f32x4.splat(1.0);
        const dcv = madd(f32x4.mul(dhv, go), f32x4.sub(one, f32x4.mul(tc, tc)), ld(dcp + o4));
        const cPrev = t > 0 ? ld(prevCell + o4) : f32x4.splat(0.0);
        st(zp + o4, f32x4.mul(f32x4.mul(dcv, gg), vgateGrad(gi, hard)));
        st(zp + uo + o4, f32x4.mul(f32x4.mul(dcv, cPrev), vgateGrad(gf, hard)));
        st(zp + 2 * uo + o4, f32x4.mul(f32x4.mul(dcv, gi), f32x4.sub(one, f32x4.mul(gg, gg))));
        st(zp + 3 * uo + o4, f32x4.mul(f32x4.mul(dhv, tc), vgateGrad(go, hard)));
        st(dcp + o4, f32x4.mul(dcv, gf));
      }
    }
    // dh_{t-1} = dz_t · Rᵀ
    if (t > 0) gemm(batch, u, g4, dz + ((<usize>t * <usize>g4) << 2), steps * g4, rt, u, dh, u, 0);
  }
  const rows = batch * steps;
  // dx = dz · Wᵀ
  gemm(rows, fp, g4, dz, g4, wt, fp, dx, fp, 0);
  // dW = xᵀ · dz
  transpose(rows, f, x, f, xt);
  gemm(f, g4, rows, xt, rows, dz, g4, dw, g4, 0);
  // dR = h_{t-1}ᵀ · dz, with h_{-1} = 0
  for (let k = 0; k < u; k++) {
    const dst = hprevT + ((<usize>k * <usize>rows) << 2);
    for (let b = 0; b < batch; b++) {
      const base = <usize>b * <usize>steps;
      store<f32>(dst + (base << 2), 0);
      for (let t = 1; t < steps; t++) store<f32>(dst + ((base + <usize>t) << 2), load<f32>(h + (((base + <usize>t - 1) * <usize>u + <usize>k) << 2)));
    }
  }
  gemm(u, g4, rows, hprevT, rows, dz, g4, dr, g4, 0);
  // db = column sums of dz
  for (let j = 0; j < g4; j += 4) {
    let s = f32x4.splat(0.0);
    for (let i = 0; i < rows; i++) s = f32x4.add(s, ld(dz + ((<usize>i * <usize>g4 + <usize>j) << 2)));
    st(db + (<usize>j << 2), s);
  }
}
