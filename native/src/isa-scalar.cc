// The kernels for scalar; built with that instruction set's compiler flags (binding.gyp).
// No VIGIL_ISA_* macro: simd.h falls through to plain floats.
#include "kernels-impl.h"

namespace vigil {
const KernelTable kScalarKernels = {Simd::name, forward, infer, backward, gemm, transpose};
}  // namespace vigil
