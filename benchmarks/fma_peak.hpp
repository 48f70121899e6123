// The machine's fp32 peak, measured: every thread runs independent chains of fused multiply-adds
// on the widest vectors this CPU has (AVX-512, else AVX2+FMA, else scalar) for a fixed time;
// peak = FLOPs / seconds. It measures the clock the vector units really run at (turbo, AVX-512
// licence, a shared host), which a cores × GHz × FLOP/cycle formula would only guess.
#pragma once
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

// The AVX-512 and AVX2 + FMA chains are built and chosen at run time as the cpu backend's own
// kernels are (kernel_build.hpp: target attributes, CPU feature checks), so a build without
// -march measures the same peak; VIT_CPU_UNROLL keeps the chains in registers at -O2 too
// (without it GCC 12 kept them in memory: 38 instead of 102 GFLOP/s on one Zen 3 core).
#include "vit/backends/cpu/kernel_build.hpp"

namespace vit::bench {

namespace detail {

constexpr int kChains = 12;  // > latency (4) × ports (2): both FMA units stay busy
constexpr long kInner = 1 << 14;

// Keeps the chains' results alive, so that the compiler cannot drop them.
inline void keep(float sink) {
  static std::atomic<float> kept{0};
  kept.store(sink, std::memory_order_relaxed);
}

#if VIT_CPU_HAVE_AVX512_BUILD
VIT_CPU_BEGIN_AVX512
// GFLOP/s of this thread running `seconds` of FMA chains on 512-bit vectors (run only where the
// CPU has AVX-512).
inline double chains_avx512(double seconds) {
  using clock = std::chrono::steady_clock;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  double flops = 0, elapsed = 0;
  const auto start = clock::now();
  do {
    for (long it = 0; it < kInner; ++it)
      VIT_CPU_UNROLL for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
    flops += double(kInner) * kChains * 16 * 2;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < seconds);
  alignas(64) float lanes[16];
  float sink = 0;
  for (int i = 0; i < kChains; ++i) {
    _mm512_store_ps(lanes, acc[i]);
    for (float v : lanes) sink += v;
  }
  keep(sink);
  return flops / elapsed * 1e-9;
}
VIT_CPU_END_TARGET
#endif

#if VIT_CPU_HAVE_AVX2_BUILD
VIT_CPU_BEGIN_AVX2
// The same on 256-bit vectors (AVX2 + FMA).
inline double chains_avx2(double seconds) {
  using clock = std::chrono::steady_clock;
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  double flops = 0, elapsed = 0;
  const auto start = clock::now();
  do {
    for (long it = 0; it < kInner; ++it)
      VIT_CPU_UNROLL for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
    flops += double(kInner) * kChains * 8 * 2;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < seconds);
  alignas(32) float lanes[8];
  float sink = 0;
  for (int i = 0; i < kChains; ++i) {
    _mm256_store_ps(lanes, acc[i]);
    for (float v : lanes) sink += v;
  }
  keep(sink);
  return flops / elapsed * 1e-9;
}
VIT_CPU_END_TARGET
#endif

// The same on scalars (any other CPU).
inline double chains_scalar(double seconds) {
  using clock = std::chrono::steady_clock;
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = float(i);
  double flops = 0, elapsed = 0;
  const auto start = clock::now();
  do {
    for (long it = 0; it < kInner; ++it)
      VIT_CPU_UNROLL for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * 0.999999f + 1e-7f;
    flops += double(kInner) * kChains * 2;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < seconds);
  float sink = 0;
  for (float v : acc) sink += v;
  keep(sink);
  return flops / elapsed * 1e-9;
}

}  // namespace detail

// Returns GFLOP/s of one thread running `seconds` of FMA chains on the widest vectors this CPU
// has (chosen at run time, as the cpu backend's kernels are: a build without -march measures the
// same peak); `width` gets the vector width in floats.
inline double fma_thread_gflops(double seconds, int* width) {
#if VIT_CPU_HAVE_AVX512_BUILD
  if (cpu::kernel::cpu_has_avx512()) return *width = 16, detail::chains_avx512(seconds);
#endif
#if VIT_CPU_HAVE_AVX2_BUILD
  if (cpu::kernel::cpu_has_avx2()) return *width = 8, detail::chains_avx2(seconds);
#endif
  *width = 1;
  return detail::chains_scalar(seconds);
}

struct Peak {
  double gflops = 0;  // all `threads` together
  int threads = 0;
  int vector_width = 0;
};

// Measured fp32 FMA peak of `threads` threads running at once: the best of `trials` short runs
// (a shared machine only ever makes a run slower). Cached per thread count.
inline Peak measured_fma_peak(int threads, double seconds = 0.05, int trials = 5) {
  static std::vector<Peak> cache;
  for (const auto& p : cache)
    if (p.threads == threads) return p;
  Peak best{0, threads, 0};
  for (int trial = 0; trial < trials; ++trial) {
    std::vector<double> per(std::size_t(threads), 0.0);
    int width = 0;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        int w = 0;
        per[std::size_t(t)] = fma_thread_gflops(seconds, &w);
        if (t == 0) width = w;
      });
    for (auto& th : pool) th.join();
    double sum = 0;
    for (double g : per) sum += g;
    if (sum > best.gflops) best = Peak{sum, threads, width};
  }
  cache.push_back(best);
  return best;
}

}  // namespace vit::bench
