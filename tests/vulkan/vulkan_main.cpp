// Catch2 main for the Vulkan tests: probes for a usable Vulkan device first. None (no loader, no
// driver, no device) -> prints "SKIPPED: <reason>" and exits 77, which ctest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "vulkan_test_support.hpp"

int main(int argc, char** argv) {
  try {
    vit::vulkan::Options probe;  // without validation: a missing layer must fail, not skip
    vit::vulkan::Backend b(probe);
    std::printf("vulkan device: %s\n", b.description().c_str());
  } catch (const vit::Error& e) {
    if (e.kind() == vit::ErrorKind::unsupported) {
      std::printf("SKIPPED: %s\n", e.what());
      return 77;
    }
    std::fprintf(stderr, "vulkan probe failed: %s\n", e.what());
    return 1;
  }
  return Catch::Session().run(argc, argv);
}
