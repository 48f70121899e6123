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

  // The GEMM the backend did not choose, on the same linear cases, where this CPU can run it:
  // op/cpu-onednn/linear/... or op/cpu-packed/linear/... beside op/cpu/linear/... in the same run.
  const cpu::Gemm chosen = spec.make(Precision::fp32)->gemm();
  const cpu::Gemm other = chosen == cpu::Gemm::packed ? cpu::Gemm::onednn : cpu::Gemm::packed;
  if (other == cpu::Gemm::packed && !cpu::gemm::available()) return;
  BackendSpec<cpu::Backend> alt = spec;
  alt.name = std::string("cpu-") + to_string(other);
  alt.make = [threads, other](Precision) { return std::make_unique<cpu::Backend>(cpu::Options{.threads = threads, .gemm = other}); };
  for (const testing::LinearCase& c : testing::cases_for(testing::linear_cases(), spec.scope == Scope::full ? testing::Use::bench : testing::Use::bench_small))
    add_case("op/" + alt.name + (c.act == Activation::gelu ? "/linear_gelu/" : "/linear/") + c.name,
             [alt, c](benchmark::State& st) { bench_linear<cpu::Backend>(st, alt, c, Precision::fp32); });
}

}  // namespace vit::bench
