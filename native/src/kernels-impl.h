// The kernels themselves, written once over the vector type of simd.h. Included by exactly one
// translation unit per instruction set (isa-*.cc), inside a namespace of its own.
//
// Compared with the WebAssembly kernels: the register tiles are sized per instruction set; the input and
// recurrent products of a step are one register pass (no separate GEMM over the whole window); time runs
// inside blocks of sequences, so a block's gates and state stay in L1/L2 for all of its steps; and the
// weight gradients read x and h in place (no transposed copies).
#include <algorithm>

#include "kernels.h"
#include "simd.h"

namespace {

using vigil::Simd;
using V = Simd::V;
constexpr int W = Simd::W;
constexpr int MR = Simd::MR;
constexpr int NB = Simd::NB;
// Sequences per block in forward and backward: their gates and state for one step fit in L1.
constexpr int BLOCK = 2 * MR;
// Products with a long inner dimension (the weight gradients sum over batch × steps) are cut into
// pieces of this many rows of B, so the panel of B being streamed stays in L2.
constexpr int K_CHUNK = 256;

// One term of a product: A(i, kk) = a[i·ars + kk·acs] for kk < k, B row kk at b + kk·ldb.
struct Term {
  const float* a;
  long ars;
  long acs;
  const float* b;
  long ldb;
  int k;
};

inline V loadMaybe(const float* p, int n) { return n == W ? Simd::load(p) : Simd::loadn(p, n); }
inline void storeMaybe(float* p, V v, int n) {
  if (n == W)
    Simd::store(p, v);
  else
    Simd::storen(p, v, n);
}

// R rows × NV vectors of C, every term summed in registers, one store. `lastn` columns in the last vector.
template <int R, int NV, bool PARTIAL>
inline void tile(const Term* terms, int nterms, long rowOffset, long colOffset, float* c, long ldc, int lastn,
                 bool accumulate) {
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = Simd::zero();
  for (int t = 0; t < nterms; ++t) {
    const Term& term = terms[t];
    const float* a = term.a + rowOffset * term.ars;
    const float* b = term.b + colOffset;
    const long ars = term.ars, acs = term.acs, ldb = term.ldb;
    for (int kk = 0; kk < term.k; ++kk) {
      V bv[NV];
      for (int v = 0; v < NV; ++v) bv[v] = (PARTIAL && v == NV - 1) ? Simd::loadn(b + v * W, lastn) : Simd::load(b + v * W);
      for (int r = 0; r < R; ++r) {
        const V av = Simd::set1(a[r * ars]);
        for (int v = 0; v < NV; ++v) acc[r][v] = Simd::fma(av, bv[v], acc[r][v]);
      }
      a += acs;
      b += ldb;
    }
  }
  float* cr = c + rowOffset * ldc + colOffset;
  for (int r = 0; r < R; ++r, cr += ldc) {
    for (int v = 0; v < NV; ++v) {
      const bool part = PARTIAL && v == NV - 1;
      V out = acc[r][v];
      if (accumulate) out = Simd::add(out, part ? Simd::loadn(cr + v * W, lastn) : Simd::load(cr + v * W));
      if (part)
        Simd::storen(cr + v * W, out, lastn);
      else
        Simd::store(cr + v * W, out);
    }
  }
}

template <int R, int NV>
inline void tailTile(const Term* terms, int nterms, long i, long j, float* c, long ldc, int rem, bool accumulate) {
  if constexpr (NV >= 1) {
    if ((rem + W - 1) / W == NV) {
      const int lastn = rem - (NV - 1) * W;
      if (lastn == W)
        tile<R, NV, false>(terms, nterms, i, j, c, ldc, W, accumulate);
      else
        tile<R, NV, true>(terms, nterms, i, j, c, ldc, lastn, accumulate);
      return;
    }
    tailTile<R, NV - 1>(terms, nterms, i, j, c, ldc, rem, accumulate);
  }
}

template <int R>
void rowPanel(const Term* terms, int nterms, long i, int n, float* c, long ldc, bool accumulate) {
  int j = 0;
  for (; j + NB * W <= n; j += NB * W) tile<R, NB, false>(terms, nterms, i, j, c, ldc, W, accumulate);
  if (j < n) tailTile<R, NB>(terms, nterms, i, j, c, ldc, n - j, accumulate);
}

template <int R>
void rowPanelAny(int rows, const Term* terms, int nterms, long i, int n, float* c, long ldc, bool accumulate) {
  if constexpr (R >= 1) {
    if (rows == R) return rowPanel<R>(terms, nterms, i, n, c, ldc, accumulate);
    rowPanelAny<R - 1>(rows, terms, nterms, i, n, c, ldc, accumulate);
  }
}

// C[m, n] (+)= Σ terms, for terms whose inner dimensions are short enough to stream from cache.
void product(int m, int n, const Term* terms, int nterms, float* c, long ldc, bool accumulate) {
  int i = 0;
  for (; i + MR <= m; i += MR) rowPanel<MR>(terms, nterms, i, n, c, ldc, accumulate);
  if (i < m) rowPanelAny<MR - 1>(m - i, terms, nterms, i, n, c, ldc, accumulate);
}

// The same for one term of any length: K_CHUNK rows of B at a time.
void longProduct(int m, int n, Term term, float* c, long ldc, bool accumulate) {
  for (int k0 = 0; k0 < term.k || k0 == 0; k0 += K_CHUNK) {
    Term piece = term;
    piece.k = std::min(K_CHUNK, term.k - k0);
    piece.a = term.a + static_cast<long>(k0) * term.acs;
    piece.b = term.b + static_cast<long>(k0) * term.ldb;
    product(m, n, &piece, 1, c, ldc, k0 > 0 || accumulate);
  }
}

// ---- activations: the WebAssembly kernels' approximations, so both builds agree to rounding ----------

inline V vexp(V x) {
  x = Simd::max(Simd::min(x, Simd::set1(88.0f)), Simd::set1(-87.0f));
  const V t = Simd::fma(x, Simd::set1(1.44269504f), Simd::set1(vigil::kRoundMagic));
  const V n = Simd::sub(t, Simd::set1(vigil::kRoundMagic));
  V r = Simd::fma(n, Simd::set1(-0.693145752f), x);
  r = Simd::fma(n, Simd::set1(-1.42860677e-6f), r);
  V p = Simd::set1(1.0f / 720.0f);
  p = Simd::fma(p, r, Simd::set1(1.0f / 120.0f));
  p = Simd::fma(p, r, Simd::set1(1.0f / 24.0f));
  p = Simd::fma(p, r, Simd::set1(1.0f / 6.0f));
  p = Simd::fma(p, r, Simd::set1(0.5f));
  p = Simd::fma(p, r, Simd::set1(1.0f));
  p = Simd::fma(p, r, Simd::set1(1.0f));
  return Simd::mul(p, Simd::pow2(t));
}

inline V vsigmoid(V x) { return Simd::rcp(Simd::add(Simd::set1(1.0f), vexp(Simd::sub(Simd::zero(), x)))); }

// tfjs's hardSigmoid: clip(0.2·x + 0.5, 0, 1).
inline V vhardSigmoid(V x) {
  return Simd::min(Simd::max(Simd::fma(x, Simd::set1(0.2f), Simd::set1(0.5f)), Simd::zero()), Simd::set1(1.0f));
}

inline V vgate(V x, bool hard) { return hard ? vhardSigmoid(x) : vsigmoid(x); }

// tanh(x) = 1 − 2/(e^{2x} + 1): exact at the limits.
inline V vtanh(V x) {
  return Simd::fma(Simd::set1(-2.0f), Simd::rcp(Simd::add(vexp(Simd::add(x, x)), Simd::set1(1.0f))), Simd::set1(1.0f));
}

inline V vgateGrad(V s, bool hard) {
  return hard ? Simd::hardGateGrad(s) : Simd::mul(s, Simd::sub(Simd::set1(1.0f), s));
}

// ---- forward ----------------------------------------------------------------------------------------

// `keep` keeps the activated gates, every step's cell and tanh(cell) for backward; without it the cell
// state is one row per sequence, updated in place.
template <bool KEEP>
void run(int batch, int steps, int f, int u, const float* x, const float* w, const float* r, const float* bias,
         float* gates, float* cell, float* tanhCell, float* h, int hardFlag) {
  const bool hard = hardFlag != 0;
  const int g4 = 4 * u;
  const long xs = static_cast<long>(steps) * f, hs = static_cast<long>(steps) * u, gs = static_cast<long>(steps) * g4;
  for (int b0 = 0; b0 < batch; b0 += BLOCK) {
    const int nb = std::min(BLOCK, batch - b0);
    for (int t = 0; t < steps; ++t) {
      // z_t = x_t·W + h_{t-1}·R for the block's sequences, summed in registers.
      const Term terms[2] = {{x + b0 * xs + static_cast<long>(t) * f, xs, 1, w, g4, f},
                             {h + b0 * hs + static_cast<long>(t - 1) * u, hs, 1, r, g4, u}};
      float* gt = gates + b0 * gs + static_cast<long>(t) * g4;
      product(nb, g4, terms, t > 0 ? 2 : 1, gt, gs, false);
      for (int b = b0; b < b0 + nb; ++b) {
        const long row = static_cast<long>(b) * steps + t;
        float* gp = gates + row * g4;
        float* hp = h + row * u;
        float* cp = KEEP ? cell + row * u : cell + static_cast<long>(b) * u;
        const float* prev = KEEP ? cp - u : cp;
        float* tp = KEEP ? tanhCell + row * u : nullptr;
        for (int j = 0; j < u; j += W) {
          const int n = std::min(W, u - j);
          const V gi = vgate(Simd::add(loadMaybe(gp + j, n), loadMaybe(bias + j, n)), hard);
          const V gf = vgate(Simd::add(loadMaybe(gp + u + j, n), loadMaybe(bias + u + j, n)), hard);
          const V gg = vtanh(Simd::add(loadMaybe(gp + 2 * u + j, n), loadMaybe(bias + 2 * u + j, n)));
          const V go = vgate(Simd::add(loadMaybe(gp + 3 * u + j, n), loadMaybe(bias + 3 * u + j, n)), hard);
          V c = Simd::mul(gi, gg);
          if (t > 0) c = Simd::fma(gf, loadMaybe(prev + j, n), c);
          const V tc = vtanh(c);
          if (KEEP) {
            storeMaybe(gp + j, gi, n);
            storeMaybe(gp + u + j, gf, n);
            storeMaybe(gp + 2 * u + j, gg, n);
            storeMaybe(gp + 3 * u + j, go, n);
            storeMaybe(tp + j, tc, n);
          }
          storeMaybe(cp + j, c, n);
          storeMaybe(hp + j, Simd::mul(go, tc), n);
        }
      }
    }
  }
}

void forward(int batch, int steps, int f, int u, const float* x, const float* w, const float* r, const float* bias,
             float* gates, float* cell, float* tanhCell, float* h, int hard) {
  run<true>(batch, steps, f, u, x, w, r, bias, gates, cell, tanhCell, h, hard);
}

void infer(int batch, int steps, int f, int u, const float* x, const float* w, const float* r, const float* bias,
           float* gates, float* c, float* h, int hard) {
  run<false>(batch, steps, f, u, x, w, r, bias, gates, c, nullptr, h, hard);
}

// ---- backward ---------------------------------------------------------------------------------------

void backward(int batch, int steps, int f, int fp, int u, const float* x, const float* wt, const float* rt,
              const float* gates, const float* cell, const float* tanhCell, const float* h, const float* dy,
              int sequence, float* dz, float* dh, float* dc, float* dx, float* dw, float* dr, float* db,
              int hardFlag, int accumulate) {
  const bool hard = hardFlag != 0;
  const int g4 = 4 * u;
  const long gs = static_cast<long>(steps) * g4;
  const long rows = static_cast<long>(batch) * steps;
  std::fill(dh, dh + static_cast<long>(batch) * u, 0.0f);
  std::fill(dc, dc + static_cast<long>(batch) * u, 0.0f);
  const V one = Simd::set1(1.0f);
  for (int b0 = 0; b0 < batch; b0 += BLOCK) {
    const int nb = std::min(BLOCK, batch - b0);
    for (int t = steps - 1; t >= 0; --t) {
      for (int b = b0; b < b0 + nb; ++b) {
        const long row = static_cast<long>(b) * steps + t;
        const float* gp = gates + row * g4;
        float* zp = dz + row * g4;
        const float* tp = tanhCell + row * u;
        const float* prevCell = cell + row * u - u;
        float* dhp = dh + static_cast<long>(b) * u;
        float* dcp = dc + static_cast<long>(b) * u;
        const float* dyp = sequence ? dy + row * u : (t == steps - 1 ? dy + static_cast<long>(b) * u : nullptr);
        for (int j = 0; j < u; j += W) {
          const int n = std::min(W, u - j);
          V dhv = loadMaybe(dhp + j, n);
          if (dyp) dhv = Simd::add(dhv, loadMaybe(dyp + j, n));
          const V gi = loadMaybe(gp + j, n), gf = loadMaybe(gp + u + j, n);
          const V gg = loadMaybe(gp + 2 * u + j, n), go = loadMaybe(gp + 3 * u + j, n);
          const V tc = loadMaybe(tp + j, n);
          const V dcv = Simd::fma(Simd::mul(dhv, go), Simd::sub(one, Simd::mul(tc, tc)), loadMaybe(dcp + j, n));
          const V cPrev = t > 0 ? loadMaybe(prevCell + j, n) : Simd::zero();
          storeMaybe(zp + j, Simd::mul(Simd::mul(dcv, gg), vgateGrad(gi, hard)), n);
          storeMaybe(zp + u + j, Simd::mul(Simd::mul(dcv, cPrev), vgateGrad(gf, hard)), n);
          storeMaybe(zp + 2 * u + j, Simd::mul(Simd::mul(dcv, gi), Simd::sub(one, Simd::mul(gg, gg))), n);
          storeMaybe(zp + 3 * u + j, Simd::mul(Simd::mul(dhv, tc), vgateGrad(go, hard)), n);
          storeMaybe(dcp + j, Simd::mul(dcv, gf), n);
        }
      }
      // dh_{t-1} = dz_t · Rᵀ for the block.
      if (t > 0) {
        const Term term = {dz + b0 * gs + static_cast<long>(t) * g4, gs, 1, rt, u, g4};
        product(nb, u, &term, 1, dh + static_cast<long>(b0) * u, u, false);
      }
    }
  }
  // dx = dz · Wᵀ
  const Term dxTerm = {dz, g4, 1, wt, fp, g4};
  product(static_cast<int>(rows), fp, &dxTerm, 1, dx, fp, false);
  // dW = xᵀ · dz, reading x as it lies: A(i, k) = x[k·f + i].
  longProduct(f, g4, Term{x, 1, f, dz, g4, static_cast<int>(rows)}, dw, g4, accumulate != 0);
  // dR = Σ_t h_{t-1}ᵀ · dz_t within each sequence (h_{-1} = 0): one term per sequence, K_CHUNK rows at a time.
  if (!accumulate) std::fill(dr, dr + static_cast<long>(u) * g4, 0.0f);
  if (steps > 1) {
    const int perGroup = std::max(1, K_CHUNK / (steps - 1));
    Term group[K_CHUNK];
    for (int b0 = 0; b0 < batch; b0 += perGroup) {
      const int n = std::min(perGroup, batch - b0);
      for (int i = 0; i < n; ++i) {
        const long base = static_cast<long>(b0 + i) * steps;
        group[i] = Term{h + base * u, 1, u, dz + (base + 1) * g4, g4, steps - 1};
      }
      product(u, g4, group, n, dr, g4, true);
    }
  }
  // db = column sums of dz
  for (int j = 0; j < g4; j += W) {
    const int n = std::min(W, g4 - j);
    V s = Simd::zero();
    for (long i = 0; i < rows; ++i) s = Simd::add(s, loadMaybe(dz + i * g4 + j, n));
    if (accumulate) s = Simd::add(s, loadMaybe(db + j, n));
    storeMaybe(db + j, s, n);
  }
}

void gemm(int m, int n, int k, const float* a, long lda, const float* b, long ldb, float* c, long ldc, int accumulate) {
  longProduct(m, n, Term{a, lda, 1, b, ldb, k}, c, ldc, accumulate != 0);
}

void transpose(int rows, int cols, const float* src, long lds, float* dst) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) dst[static_cast<long>(c) * rows + r] = src[static_cast<long>(r) * lds + c];
}

}  // namespace
