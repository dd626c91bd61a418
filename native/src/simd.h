// One vector type per instruction set, with the few operations the LSTM kernels need. Each kernel
// translation unit defines exactly one VIGIL_ISA_* and is compiled with that instruction set's flags;
// the addon picks a unit at run time by CPU features.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(VIGIL_ISA_AVX512) || defined(VIGIL_ISA_AVX2)
#include <immintrin.h>
#elif defined(VIGIL_ISA_NEON)
#include <arm_neon.h>
#endif

namespace vigil {

// Rounding to an integer by adding 1.5·2^23 (as the wasm kernels do): the integer then sits in the
// low mantissa bits, ready to be shifted into an exponent field.
constexpr float kRoundMagic = 12582912.0f;

#if defined(VIGIL_ISA_AVX512)
struct Simd {
  using V = __m512;
  static constexpr int W = 16;
  // 32 vector registers: 6 rows × 4 vectors of accumulators, 4 of B and a broadcast leave 3 spare.
  static constexpr int MR = 6, NB = 4;
  static constexpr const char* name = "avx512";
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static V loadn(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void storen(float* p, V v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  // 1/x from the 14-bit estimate and one Newton step (relative error ~1e-8): a fraction of a division's cost.
  static V rcp(V x) {
    const V r = _mm512_rcp14_ps(x);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(x, r, set1(2.0f)));
  }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V pow2(V t) {
    __m512i i = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(set1(kRoundMagic)));
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_slli_epi32(i, 23), _mm512_set1_epi32(127 << 23)));
  }
  // 0.2 where 0 < s < 1, else 0: the derivative of hard sigmoid from its output.
  static V hardGateGrad(V s) {
    __mmask16 in = _mm512_cmp_ps_mask(s, zero(), _CMP_GT_OQ) & _mm512_cmp_ps_mask(s, set1(1.0f), _CMP_LT_OQ);
    return _mm512_maskz_mov_ps(in, set1(0.2f));
  }
};
#elif defined(VIGIL_ISA_AVX2)
struct Simd {
  using V = __m256;
  static constexpr int W = 8;
  // 16 vector registers: 6 × 2 accumulators, 2 of B, one broadcast.
  static constexpr int MR = 6, NB = 2;
  static constexpr const char* name = "avx2";
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static __m256i mask(int n) {
    alignas(32) static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 8 - n));
  }
  static V loadn(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static void storen(float* p, V v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  // 1/x from the 12-bit estimate and one Newton step (relative error ~1e-7).
  static V rcp(V x) {
    const V r = _mm256_rcp_ps(x);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(x, r, set1(2.0f)));
  }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V pow2(V t) {
    __m256i i = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(set1(kRoundMagic)));
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_slli_epi32(i, 23), _mm256_set1_epi32(127 << 23)));
  }
  static V hardGateGrad(V s) {
    V in = _mm256_and_ps(_mm256_cmp_ps(s, zero(), _CMP_GT_OQ), _mm256_cmp_ps(s, set1(1.0f), _CMP_LT_OQ));
    return _mm256_and_ps(in, set1(0.2f));
  }
};
#elif defined(VIGIL_ISA_NEON)
struct Simd {
  using V = float32x4_t;
  static constexpr int W = 4;
  // 32 vector registers, as AVX-512: 6 × 4 accumulators.
  static constexpr int MR = 6, NB = 4;
  static constexpr const char* name = "neon";
  static V zero() { return vdupq_n_f32(0.0f); }
  static V set1(float x) { return vdupq_n_f32(x); }
  static V load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static V loadn(const float* p, int n) {
    float tmp[4] = {0, 0, 0, 0};
    std::memcpy(tmp, p, sizeof(float) * n);
    return vld1q_f32(tmp);
  }
  static void storen(float* p, V v, int n) {
    float tmp[4];
    vst1q_f32(tmp, v);
    std::memcpy(p, tmp, sizeof(float) * n);
  }
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V sub(V a, V b) { return vsubq_f32(a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  // 1/x from the 8-bit estimate and two Newton steps.
  static V rcp(V x) {
    V r = vrecpeq_f32(x);
    r = vmulq_f32(r, vrecpsq_f32(x, r));
    return vmulq_f32(r, vrecpsq_f32(x, r));
  }
  static V min(V a, V b) { return vminq_f32(a, b); }
  static V max(V a, V b) { return vmaxq_f32(a, b); }
  static V pow2(V t) {
    int32x4_t i = vsubq_s32(vreinterpretq_s32_f32(t), vreinterpretq_s32_f32(set1(kRoundMagic)));
    return vreinterpretq_f32_s32(vaddq_s32(vshlq_n_s32(i, 23), vdupq_n_s32(127 << 23)));
  }
  static V hardGateGrad(V s) {
    uint32x4_t in = vandq_u32(vcgtq_f32(s, zero()), vcltq_f32(s, set1(1.0f)));
    return vreinterpretq_f32_u32(vandq_u32(in, vreinterpretq_u32_f32(set1(0.2f))));
  }
};
#else
// The portable path: plain C++ on floats, for CPUs without the instruction sets above.
struct Simd {
  using V = float;
  static constexpr int W = 1;
  static constexpr int MR = 4, NB = 4;
  static constexpr const char* name = "scalar";
  static V zero() { return 0.0f; }
  static V set1(float x) { return x; }
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V loadn(const float* p, int) { return *p; }
  static void storen(float* p, V v, int) { *p = v; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V rcp(V x) { return 1.0f / x; }
  static V min(V a, V b) { return a < b ? a : b; }
  static V max(V a, V b) { return a > b ? a : b; }
  static V pow2(V t) {
    int32_t i, m;
    float magic = kRoundMagic;
    std::memcpy(&i, &t, 4);
    std::memcpy(&m, &magic, 4);
    int32_t bits = static_cast<int32_t>(static_cast<uint32_t>(i - m) << 23) + (127 << 23);
    float out;
    std::memcpy(&out, &bits, 4);
    return out;
  }
  static V hardGateGrad(V s) { return s > 0.0f && s < 1.0f ? 0.2f : 0.0f; }
};
#endif

}  // namespace vigil
