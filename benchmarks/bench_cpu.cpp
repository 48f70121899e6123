// vit-bench cases of the fast CPU backend (vit::cpu::Backend, threads from --vit_threads), in fp32
// and in every reduced precision its Options accept.
#include <string>

#include "bench_cases.hpp"
#include "fma_peak.hpp"
#include "registry.hpp"

#if __has_include("vit/backends/cpu.hpp")
#include "vit/backends/cpu.hpp"
#define VIT_BENCH_HAVE_CPU 1
#endif

namespace vit::bench {

#ifdef VIT_BENCH_HAVE_CPU
template <class O>
concept HasPrecision = requires(O o) { o.precision = Precision::bf16; };

// Sets o.precision where the backend's options have one (dependent, so it compiles either way).
template <class O>
void set_precision(O& o, Precision p) {
  if constexpr (HasPrecision<O>) o.precision = p;
}

void register_cpu_benchmarks(const Options& opt) {
  BackendSpec<cpu::Backend> spec;
  spec.name = "cpu";
  const int threads = opt.threads;
  spec.make = [threads](Precision p) {
    cpu::Options o;
    o.threads = threads;
    set_precision(o, p);
    return std::make_unique<cpu::Backend>(o);
  };
  if constexpr (HasPrecision<cpu::Options>) spec.precisions = {Precision::fp32, Precision::bf16};
  const Peak peak = measured_fma_peak(threads);
  spec.peak_gflops = peak.gflops;
  benchmark::AddCustomContext("cpu_peak_gflops", std::to_string(peak.gflops) + " (measured FMA peak, " + std::to_string(threads) +
                                                     " threads, " + std::to_string(peak.vector_width) + "-wide fp32 vectors)");
  benchmark::AddCustomContext("cpu_backend", describe(*spec.make(Precision::fp32)));
  register_backend(spec);
}
#else
void register_cpu_benchmarks(const Options&) {
  benchmark::AddCustomContext("cpu_backend", "not built (vit/backends/cpu.hpp missing)");
}
#endif

}  // namespace vit::bench
