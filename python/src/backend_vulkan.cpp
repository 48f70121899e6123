// vit.load(..., backend="vulkan"): GLSL compute shaders; precision fp32 or fp16; `device` picks
// the Vulkan device (-1: $VIT_VULKAN_DEVICE or the first one).
#include "any_model.hpp"
#include "vit/backends/vulkan.hpp"

namespace vit::python {

std::unique_ptr<AnyModel> make_vulkan_model(ModelInfo info, const WeightSource& weights) {
  const std::string& p = info.load.precision;
  check(p == "fp32" || p == "fp16", ErrorKind::unsupported, "vulkan backend: precision '" + p + "' is not supported (fp32 or fp16)");
  vulkan::Options options;
  options.device = info.load.device;
  options.fp16 = p == "fp16";
  return std::make_unique<BackendModel<vulkan::Backend>>(std::move(info), weights, options);
}

}  // namespace vit::python
