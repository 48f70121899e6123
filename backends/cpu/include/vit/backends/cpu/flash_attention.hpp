// The cpu backend's fused attention (flash_attention.inl, built on micro_kernel.inl), compiled
// three times: a portable build (whatever the including program targets), an AVX2 + FMA build and
// an AVX-512 build (x86-64, GCC or Clang, whatever the program's -march), chosen at run time from
// the CPU's features (AVX-512, else AVX2 + FMA, else portable). So a host app built without
// -march=native still runs the vector kernels on a CPU that has them.
//
//   flash_attention(qkv [B, N, 3D], out [B, N, D], B, N, D, heads, scale, threads)
//                         out = softmax(scale · q kᵀ) v per head
//   attention_kernels()   "avx512", "avx2" or "portable": the build flash_attention() runs here
//
// VIT_CPU_KERNELS=portable (or =avx2, honoured where the CPU has AVX2 + FMA) in the environment
// forces that build (for tests and benchmarks that compare them); it is read once.
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
#define VIT_CPU_AVX2 0
#include "vit/backends/cpu/micro_kernel.inl"
#include "vit/backends/cpu/flash_attention.inl"
#undef VIT_CPU_AVX2
#undef VIT_CPU_AVX512
}  // namespace vit::cpu::kernel::portable

#if VIT_CPU_HAVE_AVX512_BUILD
// The AVX2 + FMA build (same condition as the AVX-512 one: x86-64, GCC or Clang).
#define VIT_CPU_HAVE_AVX2_BUILD 1
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
namespace vit::cpu::kernel::avx2 {
#define VIT_CPU_AVX512 0
#define VIT_CPU_AVX2 1
#include "vit/backends/cpu/micro_kernel.inl"
#include "vit/backends/cpu/flash_attention.inl"
#undef VIT_CPU_AVX2
#undef VIT_CPU_AVX512
}  // namespace vit::cpu::kernel::avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#else
#define VIT_CPU_HAVE_AVX2_BUILD 0
#endif

#if VIT_CPU_HAVE_AVX512_BUILD
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#endif
namespace vit::cpu::kernel::avx512 {
#define VIT_CPU_AVX512 1
#define VIT_CPU_AVX2 0
#include "vit/backends/cpu/micro_kernel.inl"
#include "vit/backends/cpu/flash_attention.inl"
#undef VIT_CPU_AVX2
#undef VIT_CPU_AVX512
}  // namespace vit::cpu::kernel::avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

namespace vit::cpu::kernel {

// The CPU's vector extensions the attention builds need (__builtin_cpu_supports also checks that
// the OS saves the vector registers).
inline bool cpu_has_avx512() {
#if VIT_CPU_HAVE_AVX512_BUILD
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}
inline bool cpu_has_avx2() {
#if VIT_CPU_HAVE_AVX2_BUILD
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

enum class AttentionBuild { portable, avx2, avx512 };

// The build flash_attention() runs: the widest the CPU has, unless VIT_CPU_KERNELS names a narrower
// one it has ("portable", "avx2"; other values are ignored). Decided once.
inline AttentionBuild attention_build() {
  static const AttentionBuild build = [] {
    const char* env = std::getenv("VIT_CPU_KERNELS");
    const std::string_view forced = env ? env : "";
    if (forced == "portable") return AttentionBuild::portable;
    if (forced == "avx2") return cpu_has_avx2() ? AttentionBuild::avx2 : AttentionBuild::portable;
    return cpu_has_avx512() ? AttentionBuild::avx512 : cpu_has_avx2() ? AttentionBuild::avx2 : AttentionBuild::portable;
  }();
  return build;
}

// True when the AVX-512 build runs here (the CPU and OS support it and it is not switched off).
inline bool use_avx512_kernels() { return attention_build() == AttentionBuild::avx512; }

inline const char* attention_kernels() {
  switch (attention_build()) {
    case AttentionBuild::avx512: return "avx512";
    case AttentionBuild::avx2: return "avx2";
    case AttentionBuild::portable: break;
  }
  return "portable";
}

inline void flash_attention(const float* qkv, float* out, std::int64_t batch, std::int64_t n, std::int64_t d, int heads, float scale,
                            int threads) {
#if VIT_CPU_HAVE_AVX512_BUILD
  switch (attention_build()) {
    case AttentionBuild::avx512: return avx512::flash_attention(qkv, out, batch, n, d, heads, scale, threads);
    case AttentionBuild::avx2: return avx2::flash_attention(qkv, out, batch, n, d, heads, scale, threads);
    case AttentionBuild::portable: break;
  }
#endif
  portable::flash_attention(qkv, out, batch, n, d, heads, scale, threads);
}

}  // namespace vit::cpu::kernel
