// The cpu backend's fused attention (flash_attention.inl, built on micro_kernel.inl), compiled
// three times: a portable build (whatever the including program targets), an AVX2 + FMA build and
// an AVX-512 build (x86-64, GCC or Clang, whatever the program's -march); kernel_build() chooses
// at run time (kernel_build.hpp). So a host app built without -march=native still runs the
// vector kernels on a CPU that has them.
//
//   flash_attention(qkv [B, N, 3D], out [B, N, D], B, N, D, heads, scale, threads)
//                         out = softmax(scale · q kᵀ) v per head
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "vit/backends/cpu/buffer.hpp"
#include "vit/backends/cpu/kernel_build.hpp"


namespace vit::cpu::kernel::portable {
#define VIT_CPU_AVX512 0
#define VIT_CPU_AVX2 0
#include "vit/backends/cpu/micro_kernel.inl"
#include "vit/backends/cpu/flash_attention.inl"
#undef VIT_CPU_AVX2
#undef VIT_CPU_AVX512
}  // namespace vit::cpu::kernel::portable

#if VIT_CPU_HAVE_AVX2_BUILD
VIT_CPU_BEGIN_AVX2
namespace vit::cpu::kernel::avx2 {
#define VIT_CPU_AVX512 0
#define VIT_CPU_AVX2 1
#include "vit/backends/cpu/micro_kernel.inl"
#include "vit/backends/cpu/flash_attention.inl"
#undef VIT_CPU_AVX2
#undef VIT_CPU_AVX512
}  // namespace vit::cpu::kernel::avx2
VIT_CPU_END_TARGET
#endif

#if VIT_CPU_HAVE_AVX512_BUILD
VIT_CPU_BEGIN_AVX512
namespace vit::cpu::kernel::avx512 {
#define VIT_CPU_AVX512 1
#define VIT_CPU_AVX2 0
#include "vit/backends/cpu/micro_kernel.inl"
#include "vit/backends/cpu/flash_attention.inl"
#undef VIT_CPU_AVX2
#undef VIT_CPU_AVX512
}  // namespace vit::cpu::kernel::avx512
VIT_CPU_END_TARGET
#endif

namespace vit::cpu::kernel {

inline void flash_attention(const float* qkv, float* out, std::int64_t batch, std::int64_t n, std::int64_t d, int heads, float scale,
                            int threads) {
#if VIT_CPU_HAVE_AVX512_BUILD
  switch (kernel_build()) {
    case KernelBuild::avx512: return avx512::flash_attention(qkv, out, batch, n, d, heads, scale, threads);
    case KernelBuild::avx2: return avx2::flash_attention(qkv, out, batch, n, d, heads, scale, threads);
    case KernelBuild::portable: break;
  }
#endif
  portable::flash_attention(qkv, out, batch, n, d, heads, scale, threads);
}

}  // namespace vit::cpu::kernel
