// The per-backend registration entry points of vit-bench, one per translation unit, and the
// options main() parsed for them.
#pragma once

namespace vit::bench {

struct Options {
  int threads = 0;  // CPU threads for the cpu backend (--vit_threads=N; default: all cores)
};

void register_reference_benchmarks(const Options& opt);
#ifdef VIT_BENCH_CPU
void register_cpu_benchmarks(const Options& opt);
#endif
#ifdef VIT_BENCH_VULKAN
void register_vulkan_benchmarks(const Options& opt);
#endif
#ifdef VIT_BENCH_CUDA
void register_cuda_benchmarks(const Options& opt);
#endif

}  // namespace vit::bench
