// The kernels for avx2; built with that instruction set's compiler flags (binding.gyp).
#define VIGIL_ISA_AVX2 1
#include "kernels-impl.h"

namespace vigil {
const KernelTable kAvx2Kernels = {Simd::name, forward, infer, backward, gemm, transpose};
}  // namespace vigil
