// vit.load(..., backend="vulkan"): GLSL compute shaders; precision fp32 or fp16; `device` picks
// the Vulkan device (-1: $VIT_VULKAN_DEVICE or the first one).
#include "any_model.hpp"
#include "vit/backends/vulkan.hpp"

namespace vit::python {

std::unique_ptr<AnyModel> make_vulkan_model(ModelInfo info, const WeightSource& weights) {
  vulkan::Options options;
  options.device = info.load.device;
  options.precision = parse_precision(info.load.precision);  // the backend refuses what it cannot compute in
  return std::make_unique<BackendModel<vulkan::Backend>>(std::move(info), weights, options);
}

}  // namespace vit::python
