// Helpers shared by the Vulkan tests: the backend options every test uses (validation on), and a
// backend at the device's own binding limits whatever $VIT_VULKAN_MAX_BINDING_BYTES says.
#pragma once
#include <cstdlib>
#include <optional>
#include <string>

#include "vit/backends/vulkan.hpp"

namespace vit::testing {

// Validation layer on: any message it reports fails the op that triggered it.
inline vulkan::Options vulkan_test_options() {
  vulkan::Options o;
  o.validation = true;
  return o;
}

// A backend with options `o` and $VIT_VULKAN_MAX_BINDING_BYTES unset while it is built (the
// constructor reads it; it would cap this backend too), restored afterwards.
inline vulkan::Backend uncapped_backend(const vulkan::Options& o) {
  const char* name = "VIT_VULKAN_MAX_BINDING_BYTES";
  std::optional<std::string> saved;
  if (const char* v = std::getenv(name)) saved = v;
  ::unsetenv(name);
  struct Restore {
    const char* name;
    const std::optional<std::string>& value;
    ~Restore() {
      if (value) ::setenv(name, value->c_str(), 1);
    }
  } restore{name, saved};
  return vulkan::Backend(o);
}

}  // namespace vit::testing
