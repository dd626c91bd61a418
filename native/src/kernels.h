// The LSTM kernels' interface, shared by every instruction set: the same functions, arguments and
// memory layout as the WebAssembly kernels (src/model/fast-lstm/assembly/lstm.ts), with pointers in
// place of byte offsets. Every function is single-threaded; the addon runs one call per batch slice.
//
// Gate layout follows tf.layers.lstm: kernel [F, 4U], recurrent kernel [U, 4U], bias [4U], gates in the
// order i, f, c, o; c_t = f*c_{t-1} + i*tanh(z_c); h_t = o*tanh(c_t).
#pragma once
#include <cstddef>

namespace vigil {

struct KernelTable {
  const char* name;
  // x [batch, steps, f] → gates [batch, steps, 4u] (activated), cell, tanhCell, h [batch, steps, u].
  void (*forward)(int batch, int steps, int f, int u, const float* x, const float* w, const float* r, const float* bias,
                  float* gates, float* cell, float* tanhCell, float* h, int hard);
  // Scoring: gates is scratch, c [batch, u] the running cell state, h [batch, steps, u] every step's output.
  void (*infer)(int batch, int steps, int f, int u, const float* x, const float* w, const float* r, const float* bias,
                float* gates, float* c, float* h, int hard);
  // BPTT for the batch forward() ran on. dy is [batch, steps, u] when `sequence`, else [batch, u]. wt [4u, fp] and
  // rt [4u, u] are the transposed kernels (fp = f padded to a multiple of 8). dx [batch, steps, fp] is written; the
  // weight gradients dw, dr, db are written, or added to when `accumulate` (slices of one batch on one thread).
  // Scratch: dz [batch, steps, 4u], dh and dc [batch, u].
  void (*backward)(int batch, int steps, int f, int fp, int u, const float* x, const float* wt, const float* rt,
                   const float* gates, const float* cell, const float* tanhCell, const float* h, const float* dy,
                   int sequence, float* dz, float* dh, float* dc, float* dx, float* dw, float* dr, float* db, int hard,
                   int accumulate);
  // C[m, n] (+)= A[m, k] · B[k, n], row-major, strides in elements.
  void (*gemm)(int m, int n, int k, const float* a, long lda, const float* b, long ldb, float* c, long ldc, int accumulate);
  // dst[cols, rows] = src[rows, cols]ᵀ.
  void (*transpose)(int rows, int cols, const float* src, long lds, float* dst);
};

extern const KernelTable kScalarKernels;
#if defined(__x86_64__) || defined(_M_X64)
extern const KernelTable kAvx2Kernels;
extern const KernelTable kAvx512Kernels;
#endif
#if defined(__aarch64__)
extern const KernelTable kNeonKernels;
#endif

}  // namespace vigil
