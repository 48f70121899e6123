// vit-bench cases of the fast CPU backend (vit::cpu::Backend, fp32, threads from --vit_threads;
// built when VIT_CPU is on).
#include <string>

#include "bench_cases.hpp"
#include "fma_peak.hpp"
#include "registry.hpp"
#include "vit/backends/cpu.hpp"

namespace vit::bench {

void register_cpu_benchmarks(const Options& opt) {
  BackendSpec<cpu::Backend> spec;
  spec.name = "cpu";
  const int threads = opt.threads;
  spec.make = [threads](Precision) { return std::make_unique<cpu::Backend>(cpu::Options{.threads = threads}); };
  const Peak peak = measured_fma_peak(threads);
  spec.peak_gflops = peak.gflops;
  benchmark::AddCustomContext("cpu_peak_gflops", std::to_string(peak.gflops) + " (measured FMA peak, " + std::to_string(threads) +
                                                     " threads, " + std::to_string(peak.vector_width) + "-wide fp32 vectors)");
  benchmark::AddCustomContext("cpu_backend", describe(*spec.make(Precision::fp32)));
  register_backend(spec);
}

}  // namespace vit::bench
