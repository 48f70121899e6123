// Timing of the cpu backend's fused attention alone (kernel::flash_attention, the build the CPU
// picks; VIT_CPU_KERNELS=portable|avx2 forces one). A developer tool, not a test or benchmark:
//   attention_timing [threads=2] [calls=10] [NxDxH ...]   (default: B/16 and SO400M at 512²)
// prints per shape the median GFLOP/s (4·N²·D per call) of `calls` calls after 2 warm-up calls, and
// a checksum of the output (equal before and after a change that keeps the arithmetic).
// Built with the benchmarks
// (`cmake --build build --target attention_timing`: build/benchmarks/attention_timing); or alone, e.g. against another
// checkout's headers to compare two versions (from the repository root):
//   g++ -std=c++20 -O2 -march=native -fopenmp -Iinclude -Ibackends/cpu/include
//     backends/cpu/tools/attention_timing.cpp -o /tmp/attention_timing
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "vit/backends/cpu/flash_attention.hpp"

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2, calls = argc > 2 ? std::atoi(argv[2]) : 10;
  std::vector<std::string> shapes(argv + std::min(argc, 3), argv + argc);
  if (shapes.empty()) shapes = {"1032x768x12", "1034x1152x16"};
  for (const std::string& shape : shapes) {
    long n = 0, d = 0;
    int heads = 0;
    if (std::sscanf(shape.c_str(), "%ldx%ldx%d", &n, &d, &heads) != 3 || n <= 0 || heads <= 0 || d <= 0 || d % heads) {
      std::fprintf(stderr, "attention_timing: expected NxDxH with D a multiple of H, got '%s'\n", shape.c_str());
      return 2;
    }
    vit::cpu::Buffer qkv(std::size_t(n * 3 * d)), out(std::size_t(n * d));
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-1, 1);
    std::generate(qkv.data(), qkv.data() + n * 3 * d, [&] { return uniform(rng); });
    const float scale = 1.0f / std::sqrt(float(d / heads));
    std::vector<double> seconds;
    for (int c = 0; c < calls + 2; ++c) {
      const auto t0 = std::chrono::steady_clock::now();
      vit::cpu::kernel::flash_attention(qkv.data(), out.data(), 1, n, d, heads, scale, threads);
      if (c >= 2) seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(seconds.begin(), seconds.end());
    double checksum = 0;
    for (long i = 0; i < n * d; ++i) checksum += out.data()[i];
    std::printf("attention %s threads %d (%s): median %.1f GFLOP/s (checksum %.6f)\n", shape.c_str(), threads,
                vit::cpu::kernel::kernel_build_name(), 4.0 * n * n * d / seconds[seconds.size() / 2] / 1e9, checksum);
  }
}
