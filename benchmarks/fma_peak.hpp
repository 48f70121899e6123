// The machine's fp32 peak, measured: every thread runs independent chains of fused multiply-adds
// on the widest vectors this build targets (AVX-512, else AVX2+FMA, else scalar) for a fixed
// time; peak = FLOPs / seconds. It measures the clock the vector units really run at (turbo,
// AVX-512 licence, a shared host), which a cores × GHz × FLOP/cycle formula would only guess.
#pragma once
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace vit::bench {

// Returns GFLOP/s of one thread running `seconds` of FMA chains; `width` gets the vector width.
inline double fma_thread_gflops(double seconds, int* width) {
  using clock = std::chrono::steady_clock;
  constexpr int kChains = 12;  // > latency (4) × ports (2): both FMA units stay busy
  constexpr long kInner = 1 << 14;
  double flops = 0;
  auto start = clock::now();
  double elapsed = 0;
#if defined(__AVX512F__)
  *width = 16;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  do {
    for (long it = 0; it < kInner; ++it)
      for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
    flops += double(kInner) * kChains * 16 * 2;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < seconds);
  float sink = 0;
  alignas(64) float tmp[16];
  for (int i = 0; i < kChains; ++i) {
    _mm512_store_ps(tmp, acc[i]);
    for (float v : tmp) sink += v;
  }
#elif defined(__AVX2__) && defined(__FMA__)
  *width = 8;
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  do {
    for (long it = 0; it < kInner; ++it)
      for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
    flops += double(kInner) * kChains * 8 * 2;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < seconds);
  float sink = 0;
  alignas(32) float tmp[8];
  for (int i = 0; i < kChains; ++i) {
    _mm256_store_ps(tmp, acc[i]);
    for (float v : tmp) sink += v;
  }
#else
  *width = 1;
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = float(i);
  do {
    for (long it = 0; it < kInner; ++it)
      for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * 0.999999f + 1e-7f;
    flops += double(kInner) * kChains * 2;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < seconds);
  float sink = 0;
  for (float v : acc) sink += v;
#endif
  static std::atomic<float> keep{0};
  keep.store(sink, std::memory_order_relaxed);
  return flops / elapsed * 1e-9;
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
