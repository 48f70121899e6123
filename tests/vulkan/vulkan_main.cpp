// Catch2 main for the Vulkan tests: probes for a usable Vulkan device first. None (no loader, no
// driver, no device: an `unsupported` error) -> "SKIPPED: <reason>" and exit 77 (ctest: skipped),
// or a failure when $VIT_REQUIRE_VULKAN=1 (missing_device.hpp). Any other probe error fails.
#include "catch_session.hpp"  // Catch2 itself: the vit_catch library

#include <cstdio>

#include "missing_device.hpp"
#include "vulkan_test_support.hpp"

int main(int argc, char** argv) {
  try {
    vit::vulkan::Options probe;  // without validation: a missing layer must fail, not skip
    vit::vulkan::Backend b(probe);
    std::printf("vulkan device: %s\n", b.description().c_str());
  } catch (const vit::Error& e) {
    if (e.kind() == vit::ErrorKind::unsupported) return vit::testing::missing_device("vulkan", e.what());
    std::fprintf(stderr, "vulkan probe failed: %s\n", e.what());
    return 1;
  }
  return vit::testing::run_catch(argc, argv);
}
