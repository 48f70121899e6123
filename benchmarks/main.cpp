// vit-bench: end-to-end C-RADIO and per-op benchmarks of every backend this build has.
//   vit-bench [--vit_threads=N] [Google Benchmark flags, e.g. --benchmark_filter=radio/cpu]
// See docs/benchmarks.md for the case names and what each counter means.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <thread>

#include "bench_common.hpp"
#include "fma_peak.hpp"
#include "registry.hpp"
#include "vit/version.hpp"

int main(int argc, char** argv) {
  using namespace vit::bench;
  Options opt;
  opt.threads = int(std::thread::hardware_concurrency());
  // Our own flags first; Google Benchmark rejects flags it does not know.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--vit_threads=", 14) == 0) {
      opt.threads = std::atoi(argv[i] + 14);
      if (opt.threads <= 0) {
        std::fprintf(stderr, "vit-bench: --vit_threads must be a positive integer, got '%s'\n", argv[i] + 14);
        return 2;
      }
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  benchmark::AddCustomContext("vit_threads", std::to_string(opt.threads));
  benchmark::AddCustomContext("cpu_model", cpu_model());
  for (const auto& [k, v] : threading_env()) benchmark::AddCustomContext(k, v);

  register_reference_benchmarks(opt);
#ifdef VIT_BENCH_CPU
  register_cpu_benchmarks(opt);
#endif
#ifdef VIT_BENCH_VULKAN
  register_vulkan_benchmarks(opt);
#endif
#ifdef VIT_BENCH_CUDA
  register_cuda_benchmarks(opt);
#endif

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
