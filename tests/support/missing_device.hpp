// What a test binary does when its backend has no usable device (no Vulkan loader/driver/device,
// no CUDA GPU): print "SKIPPED: <reason>" and exit 77, which ctest reports as Skipped (the tests
// are registered with SKIP_RETURN_CODE 77) — never Passed. With $VIT_REQUIRE_<BACKEND>=1 (e.g.
// VIT_REQUIRE_VULKAN=1, which CI sets where lavapipe is installed) the same situation is a
// failure (exit 1), so a device-detection regression cannot turn a suite into a silent skip.
#pragma once
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace vit::testing {

// "vulkan" -> "VIT_REQUIRE_VULKAN"
inline std::string require_variable(const std::string& backend) {
  std::string var = "VIT_REQUIRE_";
  for (char c : backend) var += char(std::toupper(static_cast<unsigned char>(c)));
  return var;
}

inline bool backend_required(const std::string& backend) {
  const char* v = std::getenv(require_variable(backend).c_str());
  return v && std::string(v) == "1";
}

// The exit status for "backend has no usable device because `reason`".
inline int missing_device(const std::string& backend, const std::string& reason) {
  if (backend_required(backend)) {
    std::fprintf(stderr, "FAILED: the %s backend is required (%s=1) but unusable: %s\n", backend.c_str(), require_variable(backend).c_str(),
                 reason.c_str());
    return 1;
  }
  std::printf("SKIPPED: %s\n", reason.c_str());
  std::fflush(stdout);
  return 77;
}

}  // namespace vit::testing
