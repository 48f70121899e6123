// The cpu backend's fused attention (flash_attention.inl, built on micro_kernel.inl), compiled
// twice: a portable build (whatever the including program targets) and an AVX-512 build (x86-64,
// GCC or Clang, whatever the program's -march), chosen at run time from the CPU's features. So a
// host app built without -march=native still runs the AVX-512 kernels on a CPU that has them.
//
//   flash_attention(qkv [B, N, 3D], out [B, N, D], B, N, D, heads, threads)
//   attention_kernels()   "avx512" or "portable": the build flash_attention() runs here
//
// VIT_CPU_KERNELS=portable in the environment forces the portable build (for tests and
// benchmarks that compare the two); it is read once.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "vit/backends/cpu/buffer.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VIT_CPU_HAVE_AVX512_BUILD 1
#include <immintrin.h>
#else
#define VIT_CPU_HAVE_AVX512_BUILD 0
#endif

namespace vit::cpu::kernel::portable {
#define VIT_CPU_AVX512 0
#include "vit/backends/cpu/micro_kernel.inl"
#include "vit/backends/cpu/flash_attention.inl"
#undef VIT_CPU_AVX512
}  // namespace vit::cpu::kernel::portable

#if VIT_CPU_HAVE_AVX512_BUILD
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#endif
namespace vit::cpu::kernel::avx512 {
#define VIT_CPU_AVX512 1
#include "vit/backends/cpu/micro_kernel.inl"
#include "vit/backends/cpu/flash_attention.inl"
#undef VIT_CPU_AVX512
}  // namespace vit::cpu::kernel::avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

namespace vit::cpu::kernel {

// True when the AVX-512 build can run here (the CPU and OS support it) and is not switched off.
inline bool use_avx512_kernels() {
#if VIT_CPU_HAVE_AVX512_BUILD
  static const bool yes = [] {
    const char* forced = std::getenv("VIT_CPU_KERNELS");
    if (forced && std::string_view(forced) == "portable") return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
  }();
  return yes;
#else
  return false;
#endif
}

inline const char* attention_kernels() { return use_avx512_kernels() ? "avx512" : "portable"; }

inline void flash_attention(const float* qkv, float* out, std::int64_t batch, std::int64_t n, std::int64_t d, int heads, int threads) {
#if VIT_CPU_HAVE_AVX512_BUILD
  if (use_avx512_kernels()) return avx512::flash_attention(qkv, out, batch, n, d, heads, threads);
#endif
  portable::flash_attention(qkv, out, batch, n, d, heads, threads);
}

}  // namespace vit::cpu::kernel
