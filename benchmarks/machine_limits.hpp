// SPDX-License-Identifier: Apache-2.0
// What the machine can do at most, measured in the same run as the steps that are read against it:
//  - fma_peak: float multiply-adds per second, with the widest FMA instructions the CPU offers, chosen at run
//    time (AVX-512F, else AVX2 with FMA, else SSE multiply and add), so the figure does not depend on -march;
//  - optimizer_traffic: the memory traffic of one Adam update (read the parameters, gradient and both moment
//    vectors, write back the parameters and moments: 28 bytes per float parameter) with no arithmetic to
//    speak of, split over threads like the update itself, which gives the update's memory bound.
#pragma once

#include <cstdint>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define METARM_LIMITS_X86 1
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace metarm_bench {

// Enough independent accumulator chains to keep every FMA unit busy across the instruction's latency
// (4 to 5 cycles, two units on current x86 cores), while leaving registers for the two constants.
#if defined(METARM_LIMITS_X86)
__attribute__((target("avx512f"))) inline float fma_chains_avx512(std::int64_t rounds) {
  __m512 acc[24];
  for (int j = 0; j < 24; ++j) acc[j] = _mm512_set1_ps(1.0f + 0.001f * float(j));
  const __m512 scale = _mm512_set1_ps(0.999999f), shift = _mm512_set1_ps(1e-6f);
  for (std::int64_t r = 0; r < rounds; ++r) {
    for (int j = 0; j < 24; ++j) acc[j] = _mm512_fmadd_ps(acc[j], scale, shift);
  }
  __m512 sum = acc[0];
  for (int j = 1; j < 24; ++j) sum = _mm512_add_ps(sum, acc[j]);
  return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma"))) inline float fma_chains_avx2(std::int64_t rounds) {
  __m256 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm256_set1_ps(1.0f + 0.001f * float(j));
  const __m256 scale = _mm256_set1_ps(0.999999f), shift = _mm256_set1_ps(1e-6f);
  for (std::int64_t r = 0; r < rounds; ++r) {
    for (int j = 0; j < 12; ++j) acc[j] = _mm256_fmadd_ps(acc[j], scale, shift);
  }
  __m256 sum = acc[0];
  for (int j = 1; j < 12; ++j) sum = _mm256_add_ps(sum, acc[j]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  float total = 0.0f;
  for (float x : lanes) total += x;
  return total;
}

// Without FMA a multiply and an add make the same two flops in two instructions.
inline float fma_chains_sse(std::int64_t rounds) {
  __m128 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm_set1_ps(1.0f + 0.001f * float(j));
  const __m128 scale = _mm_set1_ps(0.999999f), shift = _mm_set1_ps(1e-6f);
  for (std::int64_t r = 0; r < rounds; ++r) {
    for (int j = 0; j < 12; ++j) acc[j] = _mm_add_ps(_mm_mul_ps(acc[j], scale), shift);
  }
  __m128 sum = acc[0];
  for (int j = 1; j < 12; ++j) sum = _mm_add_ps(sum, acc[j]);
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, sum);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif

struct FmaKernel {
  std::string name;                  // the instruction set, as /proc/cpuinfo names it
  double flops_per_round = 0.0;      // flops of one round over every chain
  float (*run)(std::int64_t) = nullptr;  // null where no probe exists (not x86)
};

inline FmaKernel widest_fma_kernel() {
#if defined(METARM_LIMITS_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {"avx512f", 24.0 * 16 * 2, fma_chains_avx512};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {"avx2 fma", 12.0 * 8 * 2, fma_chains_avx2};
  return {"sse (multiply and add, no fma)", 12.0 * 4 * 2, fma_chains_sse};
#else
  return {"none (not x86)", 0.0, nullptr};
#endif
}

// Runs `kernel` for `rounds` on each of `threads` threads at once; returns a value that depends on every
// chain, so that none can be dropped.
inline float run_fma_kernel(const FmaKernel& kernel, std::int64_t rounds, int threads) {
  float total = 0.0f;
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads) reduction(+ : total)
  total += kernel.run(rounds);
#else
  for (int t = 0; t < threads; ++t) total += kernel.run(rounds);  // one thread, the work of `threads`
#endif
  return total;
}

// The traffic of one Adam update over [0, n): the same four streams read and three written, split into one
// contiguous share per thread (the most favourable split for the hardware prefetchers).
inline void optimizer_traffic(float* params, const float* grad, float* exp_avg, float* exp_avg_sq, std::int64_t n,
                              [[maybe_unused]] int threads) {
#if defined(_OPENMP)
#pragma omp parallel for simd num_threads(threads) schedule(static)
#endif
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    params[i] += g;
    exp_avg[i] += g;
    exp_avg_sq[i] += g;
  }
}

// Bytes an Adam update moves per float parameter: four vectors read, three written.
inline constexpr double optimizer_bytes_per_param = 7.0 * sizeof(float);

}  // namespace metarm_bench
