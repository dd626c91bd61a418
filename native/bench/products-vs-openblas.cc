// The native kernels' products against OpenBLAS sgemm (Debian's libopenblas, one thread) on the shapes of
// one training step: one thread's share of a batch of 256 on two threads (128 windows of 50 steps, 15
// features, LSTM 64), and one block of 12 sequences per step. Why the kernels do their own products:
//
//   apt-get install libopenblas-dev
//   g++ -std=c++17 -O3 -mavx512f -mavx2 -mfma -Wno-maybe-uninitialized -I../src products-vs-openblas.cc \
//     -o /tmp/products-vs-openblas -lopenblas && /tmp/products-vs-openblas
#define VIGIL_ISA_AVX512 1
#include "kernels-impl.h"
#include <cblas.h>
#include <chrono>
#include <cstdio>
#include <vector>
using namespace std::chrono;
int main() {
  openblas_set_num_threads(1);
  auto run = [](const char* name, double flops, auto ours, auto blas) {
    int reps = (int)(3e9 / flops) + 1;
    auto time = [&](auto fn) { fn(); auto t0 = steady_clock::now(); for (int r = 0; r < reps; ++r) fn(); return duration<double>(steady_clock::now() - t0).count() / reps; };
    double a = time(ours), b = time(blas);
    std::printf("%-52s ours %6.1f GFLOP/s   OpenBLAS %6.1f GFLOP/s\n", name, flops / a / 1e9, flops / b / 1e9);
  };
  std::vector<float> big(6400 * 256 * 2, 0.01f), w(256 * 256, 0.02f), c(6400 * 256);
  // One step of a block: z = x_t W + h_{t-1} R (12 x 256; K = 15 + 64), rows strided as in the window.
  run("step: x_t W + h R, 12 x 256, K 15 + 64", 2.0 * 12 * 256 * 79,
      [&] { const Term t[2] = {{big.data(), 50 * 15, 1, w.data(), 256, 15}, {big.data() + 9600, 50 * 64, 1, w.data() + 4096, 256, 64}};
            product(12, 256, t, 2, c.data(), 50 * 256, false); },
      [&] { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 12, 256, 15, 1, big.data(), 50 * 15, w.data(), 256, 0, c.data(), 50 * 256);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 12, 256, 64, 1, big.data() + 9600, 50 * 64, w.data() + 4096, 256, 1, c.data(), 50 * 256); });
  run("backward step: dh = dz_t Rt, 12 x 64, K 256", 2.0 * 12 * 64 * 256,
      [&] { const Term t = {big.data(), 50 * 256, 1, w.data(), 64, 256}; product(12, 64, &t, 1, c.data(), 64, false); },
      [&] { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 12, 64, 256, 1, big.data(), 50 * 256, w.data(), 64, 0, c.data(), 64); });
  run("dx = dz Wt, 6400 x 16, K 256", 2.0 * 6400 * 16 * 256,
      [&] { const Term t = {big.data(), 256, 1, w.data(), 16, 256}; product(6400, 16, &t, 1, c.data(), 16, false); },
      [&] { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 6400, 16, 256, 1, big.data(), 256, w.data(), 16, 0, c.data(), 16); });
  run("dW = x^T dz, 15 x 256, K 6400", 2.0 * 15 * 256 * 6400,
      [&] { longProduct(15, 256, Term{big.data(), 1, 15, big.data() + 100000, 256, 6400}, c.data(), 256, false); },
      [&] { cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 15, 256, 6400, 1, big.data(), 15, big.data() + 100000, 256, 0, c.data(), 256); });
  run("dR = h^T dz, 64 x 256, K 6400 (BLAS: one product; ours: per sequence)", 2.0 * 64 * 256 * 6272,
      [&] { std::vector<Term> g; for (int b = 0; b < 128; ++b) g.push_back(Term{big.data() + b * 3200, 1, 64, big.data() + 100000 + (b * 50 + 1) * 256, 256, 49});
            std::fill(c.begin(), c.begin() + 64 * 256, 0.0f); for (int b0 = 0; b0 < 128; b0 += 5) product(64, 256, g.data() + b0, std::min(5, 128 - b0), c.data(), 256, true); },
      [&] { cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 64, 256, 6400, 1, big.data(), 64, big.data() + 100000, 256, 0, c.data(), 256); });
}
