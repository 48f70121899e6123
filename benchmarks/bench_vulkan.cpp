// vit-bench cases of the Vulkan backend (built when the target vit::vulkan exists). Without a
// Vulkan device the cases are still listed and each reports the backend's error as skipped; on a
// software device (llvmpipe) only the small cases are registered.
#include <string>

#include "bench_cases.hpp"
#include "registry.hpp"

#include "vit/backends/vulkan.hpp"

namespace vit::bench {

namespace {
std::unique_ptr<vulkan::Backend> make_vulkan(Precision p) {
  vulkan::Options o;
  o.precision = p;
  return std::make_unique<vulkan::Backend>(o);
}
}  // namespace

void register_vulkan_benchmarks(const Options&) {
  BackendSpec<vulkan::Backend> spec;
  spec.name = "vulkan";
  spec.make = make_vulkan;
  try {
    const std::string desc = describe(*make_vulkan(Precision::fp32));
    benchmark::AddCustomContext("vulkan_backend", desc);
    // A CPU implementation of Vulkan (Mesa's llvmpipe/lavapipe) runs the model ~100x slower than a
    // GPU: only the small cases there.
    // The head-dim attention cases stay at N = 1034 (0.3 s each there).
    if (desc.find("llvmpipe") != std::string::npos || desc.find("lavapipe") != std::string::npos) {
      spec.scope = Scope::small;
      spec.head_dim_tokens = 1034;
    }
  } catch (const std::exception& e) {
    benchmark::AddCustomContext("vulkan_backend", std::string("unavailable: ") + e.what());
  }
  register_backend(spec);
}

}  // namespace vit::bench
