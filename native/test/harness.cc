// Runs the kernels of one instruction set on an LSTM case from a file and writes the results, so a test
// can check a build it cannot load: the NEON kernels cross-compiled for aarch64 and run under qemu-user.
//
// harness <isa: neon|scalar|avx2|avx512> <in> <out>
// in:  int32 batch, steps, f, u, sequence, hard; float32 x [b,t,f], w [f,4u], r [u,4u], bias [4u],
//      dy [b,t,u] or [b,u]
// out: float32 h (as dy), dx [b,t,f], dw, dr, db. The batch runs as two slices, the second's weight
//      gradients added to the first's, as the addon does on two threads.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kernels.h"

using vigil::KernelTable;

static const KernelTable* find(const std::string& name) {
#if defined(__aarch64__)
  if (name == "neon") return &vigil::kNeonKernels;
#endif
#if defined(__x86_64__)
  if (name == "avx2") return &vigil::kAvx2Kernels;
  if (name == "avx512") return &vigil::kAvx512Kernels;
#endif
  if (name == "scalar") return &vigil::kScalarKernels;
  return nullptr;
}

static bool readAll(FILE* f, void* p, size_t bytes) { return std::fread(p, 1, bytes, f) == bytes; }

int main(int argc, char** argv) {
  if (argc != 4) return std::fprintf(stderr, "usage: harness isa in out\n"), 2;
  const KernelTable* t = find(argv[1]);
  if (!t) return std::fprintf(stderr, "instruction set %s not in this build\n", argv[1]), 2;
  FILE* in = std::fopen(argv[2], "rb");
  if (!in) return std::perror(argv[2]), 2;
  int32_t head[6];
  if (!readAll(in, head, sizeof head)) return std::fprintf(stderr, "short header\n"), 2;
  const int B = head[0], T = head[1], F = head[2], U = head[3], sequence = head[4], hard = head[5];
  const int g4 = 4 * U, fp = (F + 7) / 8 * 8;
  const size_t rows = static_cast<size_t>(B) * T;
  std::vector<float> x(rows * F), w(F * g4), r(U * g4), bias(g4), dy(sequence ? rows * U : B * U);
  if (!readAll(in, x.data(), x.size() * 4) || !readAll(in, w.data(), w.size() * 4) || !readAll(in, r.data(), r.size() * 4) ||
      !readAll(in, bias.data(), bias.size() * 4) || !readAll(in, dy.data(), dy.size() * 4))
    return std::fprintf(stderr, "short input\n"), 2;
  std::fclose(in);

  std::vector<float> gates(rows * g4), cell(rows * U), tanhCell(rows * U), h(rows * U);
  t->forward(B, T, F, U, x.data(), w.data(), r.data(), bias.data(), gates.data(), cell.data(), tanhCell.data(), h.data(), hard);
  // Inference must give the same h.
  std::vector<float> gates2(rows * g4), c2(B * U), h2(rows * U);
  t->infer(B, T, F, U, x.data(), w.data(), r.data(), bias.data(), gates2.data(), c2.data(), h2.data(), hard);
  if (std::memcmp(h.data(), h2.data(), h.size() * 4) != 0) return std::fprintf(stderr, "infer differs from forward\n"), 1;

  std::vector<float> wt(g4 * fp, 0.0f), rt(g4 * U);
  for (int i = 0; i < F; ++i)
    for (int j = 0; j < g4; ++j) wt[j * fp + i] = w[i * g4 + j];
  for (int i = 0; i < U; ++i)
    for (int j = 0; j < g4; ++j) rt[j * U + i] = r[i * g4 + j];
  std::vector<float> dz(rows * g4), dh(B * U), dc(B * U), dx(rows * fp), dw(F * g4), dr(U * g4), db(g4);
  const int half = B / 2;
  for (int part = 0; part < 2; ++part) {
    const int b0 = part == 0 ? 0 : half, n = part == 0 ? half : B - half;
    if (n == 0) continue;
    const size_t r0 = static_cast<size_t>(b0) * T;
    t->backward(n, T, F, fp, U, x.data() + r0 * F, wt.data(), rt.data(), gates.data() + r0 * g4, cell.data() + r0 * U,
                tanhCell.data() + r0 * U, h.data() + r0 * U, dy.data() + (sequence ? r0 : b0) * U, sequence, dz.data() + r0 * g4,
                dh.data() + b0 * U, dc.data() + b0 * U, dx.data() + r0 * fp, dw.data(), dr.data(), db.data(), hard,
                part > 0 && half > 0);
  }

  FILE* out = std::fopen(argv[3], "wb");
  if (!out) return std::perror(argv[3]), 2;
  if (sequence)
    std::fwrite(h.data(), 4, h.size(), out);
  else
    for (int b = 0; b < B; ++b) std::fwrite(h.data() + (static_cast<size_t>(b) * T + T - 1) * U, 4, U, out);
  for (size_t i = 0; i < rows; ++i) std::fwrite(dx.data() + i * fp, 4, F, out);
  std::fwrite(dw.data(), 4, dw.size(), out);
  std::fwrite(dr.data(), 4, dr.size(), out);
  std::fwrite(db.data(), 4, db.size(), out);
  return std::fclose(out) == 0 ? 0 : 2;
}
