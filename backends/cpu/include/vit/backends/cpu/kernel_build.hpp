// Which instruction-set build of the cpu backend's own kernels runs here, decided once at run time.
// The kernels (fused attention, the packed GEMM) are compiled with target attributes for AVX2 +
// FMA and AVX-512 beside a portable build, whatever the program's -march, so a host app built
// without -march=native runs the vector kernels on a CPU that has them.
//
//   kernel_build()        the widest build the CPU (and OS) supports: avx512, else avx2, else portable
//   kernel_build_name()   "avx512", "avx2" or "portable"
//
// VIT_CPU_KERNELS=portable (or =avx2, honoured where the CPU has AVX2 + FMA) in the environment
// forces that build (for tests and benchmarks that compare them); it is read once.
#pragma once
#include <cstdlib>
#include <string_view>

// The vector builds need x86-64 and GCC or Clang (target attributes and intrinsics).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VIT_CPU_HAVE_AVX512_BUILD 1
#define VIT_CPU_HAVE_AVX2_BUILD 1
#include <immintrin.h>
#else
#define VIT_CPU_HAVE_AVX512_BUILD 0
#define VIT_CPU_HAVE_AVX2_BUILD 0
#endif

// Code between VIT_CPU_BEGIN_AVX2 (or VIT_CPU_BEGIN_AVX512) and VIT_CPU_END_TARGET is compiled for
// that instruction set whatever the program's -march (only inside #if VIT_CPU_HAVE_*_BUILD).
#if defined(__clang__)
#define VIT_CPU_BEGIN_AVX2 _Pragma("clang attribute push(__attribute__((target(\"avx2,fma\"))), apply_to = function)")
#define VIT_CPU_BEGIN_AVX512 \
  _Pragma("clang attribute push(__attribute__((target(\"avx512f,avx512dq,avx512bw,avx512vl,avx2,fma\"))), apply_to = function)")
#define VIT_CPU_END_TARGET _Pragma("clang attribute pop")
#else
#define VIT_CPU_BEGIN_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define VIT_CPU_BEGIN_AVX512 _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512dq,avx512bw,avx512vl,avx2,fma\")")
#define VIT_CPU_END_TARGET _Pragma("GCC pop_options")
#endif

// Full unrolling of a loop over accumulators (a register block's rows and vectors, independent
// FMA chains), so that they live in registers at -O2 too (GCC 12 unrolls them by itself only at
// -O3; measured: the attention's AVX2 build 3x slower at -O2 without this).
#if defined(__clang__)
#define VIT_CPU_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define VIT_CPU_UNROLL _Pragma("GCC unroll 16")
#else
#define VIT_CPU_UNROLL
#endif

namespace vit::cpu::kernel {

// The CPU's vector extensions the builds need (__builtin_cpu_supports also checks that the OS saves
// the vector registers).
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

enum class KernelBuild { portable, avx2, avx512 };

inline KernelBuild kernel_build() {
  static const KernelBuild build = [] {
    const char* env = std::getenv("VIT_CPU_KERNELS");
    const std::string_view forced = env ? env : "";
    if (forced == "portable") return KernelBuild::portable;
    if (forced == "avx2") return cpu_has_avx2() ? KernelBuild::avx2 : KernelBuild::portable;
    return cpu_has_avx512() ? KernelBuild::avx512 : cpu_has_avx2() ? KernelBuild::avx2 : KernelBuild::portable;
  }();
  return build;
}

inline const char* kernel_build_name() {
  switch (kernel_build()) {
    case KernelBuild::avx512: return "avx512";
    case KernelBuild::avx2: return "avx2";
    case KernelBuild::portable: break;
  }
  return "portable";
}

}  // namespace vit::cpu::kernel
