// vit-bench cases of the reference backend: the tiny model and the smallest op shapes only (it is
// the plain-loop oracle, one thread, double accumulation: very slow by design).
#include "bench_cases.hpp"
#include "fma_peak.hpp"
#include "registry.hpp"
#include "vit/backends/reference.hpp"

namespace vit::bench {

void register_reference_benchmarks(const Options&) {
  BackendSpec<reference::Backend> spec;
  spec.name = "reference";
  spec.make = [](Precision) { return std::make_unique<reference::Backend>(); };
  spec.peak_gflops = measured_fma_peak(1).gflops;
  spec.scope = Scope::small;
  benchmark::AddCustomContext("reference_peak_gflops", std::to_string(spec.peak_gflops) + " (measured FMA peak, 1 thread)");
  register_backend(spec);
}

}  // namespace vit::bench
