// The kernels for avx512; built with that instruction set's compiler flags (binding.gyp).
#define VIGIL_ISA_AVX512 1
#include "kernels-impl.h"

namespace vigil {
const KernelTable kAvx512Kernels = {Simd::name, forward, infer, backward, gemm, transpose};
}  // namespace vigil
