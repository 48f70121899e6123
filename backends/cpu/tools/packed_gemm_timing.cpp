// Timing of the cpu backend's packed AVX2 GEMM alone (packed_gemm.hpp), beside ONNX Runtime's
// (ort_gemm_timing.py, same shapes and output format). A developer tool, not a test or benchmark:
//   packed_gemm_timing [threads=2] [calls=20] [MxKxN ...]     (default: C-RADIO-B/16's linears)
// prints per shape the median GFLOP/s of `calls` calls of y = x Wᵀ + b (after 2 warm-up calls) and
// the largest |error| of 64 outputs against a double-precision sum. Built with the benchmarks
// (`cmake --build build --target packed_gemm_timing`: build/benchmarks/packed_gemm_timing); or alone, e.g. against another
// checkout's headers to compare two versions (from the repository root):
//   g++ -std=c++20 -O2 -march=native -fopenmp -Iinclude -Ibackends/cpu/include
//     backends/cpu/tools/packed_gemm_timing.cpp -o /tmp/packed_gemm_timing
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "vit/backends/cpu/packed_gemm.hpp"

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2, calls = argc > 2 ? std::atoi(argv[2]) : 20;
  std::vector<std::string> shapes(argv + std::min(argc, 3), argv + argc);
  if (shapes.empty()) shapes = {"204x768x2304", "204x3072x768", "1032x768x3072", "1032x3072x768"};
  for (const std::string& shape : shapes) {
    long m = 0, k = 0, n = 0;
    if (std::sscanf(shape.c_str(), "%ldx%ldx%ld", &m, &k, &n) != 3 || m <= 0 || k <= 0 || n <= 0) {
      std::fprintf(stderr, "packed_gemm_timing: expected MxKxN, got '%s'\n", shape.c_str());
      return 2;
    }
    std::vector<float> w(std::size_t(n * k)), x(std::size_t(m * k)), b(static_cast<std::size_t>(n)), y(std::size_t(m * n));
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-1, 1);
    for (auto* v : {&w, &x, &b})
      for (float& e : *v) e = uniform(rng);
    const vit::cpu::gemm::PackedLinear linear(w.data(), b.data(), n, k);
    std::vector<double> seconds;
    for (int c = 0; c < calls + 2; ++c) {
      const auto t0 = std::chrono::steady_clock::now();
      linear.run(x.data(), y.data(), m, vit::Activation::none, false, threads);
      if (c >= 2) seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(seconds.begin(), seconds.end());
    double max_error = 0;
    for (long i = 0; i < 64; ++i) {
      const long r = i * 7919 % m, col = i * 104729 % n;
      double sum = b[col];
      for (long q = 0; q < k; ++q) sum += double(x[r * k + q]) * w[col * k + q];
      max_error = std::max(max_error, std::abs(sum - y[r * n + col]));
    }
    std::printf("packed %s threads %d: median %.1f GFLOP/s (max |error| %.1e)\n", shape.c_str(), threads,
                2.0 * m * n * k / seconds[seconds.size() / 2] / 1e9, max_error);
  }
}
