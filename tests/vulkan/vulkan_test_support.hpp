// Helpers shared by the Vulkan tests: the backend options every test uses (validation on).
#pragma once
#include "vit/backends/vulkan.hpp"

namespace vit::testing {

// Validation layer on: any message it reports fails the op that triggered it.
inline vulkan::Options vulkan_test_options() {
  vulkan::Options o;
  o.validation = true;
  return o;
}

}  // namespace vit::testing
