// The kernels for neon; built with that instruction set's compiler flags (binding.gyp).
#define VIGIL_ISA_NEON 1
#include "kernels-impl.h"

namespace vigil {
const KernelTable kNeonKernels = {Simd::name, forward, infer, backward, gemm, transpose};
}  // namespace vigil
