// vit-fma-peak [threads=2]: prints this machine's measured fp32 FMA peak for `threads` threads at
// once (fma_peak.hpp: the best of 5 short runs), one line, e.g.
//   201.3 GFLOP/s (measured FMA peak, 2 threads, 8-wide fp32 vectors)
// The benchmark scripts print it beside their figures, at their start and end (benchmarks/machine.sh):
// on a shared machine a peak well below the usual one says another job held a core during the run.
#include <cstdio>
#include <cstdlib>

#include "fma_peak.hpp"

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  if (argc > 2 || threads < 1 || threads > 4096) {
    std::fprintf(stderr, "vit-fma-peak: expected [threads] (1 to 4096), got '%s'\n", argc > 1 ? argv[1] : "");
    return 2;
  }
  const vit::bench::Peak peak = vit::bench::measured_fma_peak(threads);
  std::printf("%.1f GFLOP/s (measured FMA peak, %d thread%s, %d-wide fp32 vectors)\n", peak.gflops, threads, threads == 1 ? "" : "s", peak.vector_width);
  return 0;
}
