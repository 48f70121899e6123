// Reusable timing helpers for the Vulkan backend (and any vit::Backend): per-op medians with the
// recorded work submitted once per repetition batch, and end-to-end C-RADIO forwards.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include "vit/backend.hpp"

namespace vit::bench {

// Median over `iters` of (time of `reps` calls of op + one synchronize) / reps, in ms.
// One warm-up batch first (pipeline creation, buffer pool).
template <Backend B>
double median_op_ms(B& b, const std::function<void()>& op, int iters = 5, int reps = 3) {
  std::vector<double> t;
  for (int i = -1; i < iters; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) op();
    b.synchronize();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
    if (i >= 0) t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Median time of `iters` calls of f() (each call is expected to finish its work), in ms.
inline double median_ms(const std::function<void()>& f, int iters) {
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace vit::bench
