// radio-embed on the Vulkan backend (compiled when vit::vulkan exists).
#include "backends.hpp"
#include "run.hpp"
#include "vit/backends/vulkan.hpp"

namespace radio_embed {

int run_vulkan(const Options& opt) {
  vit::vulkan::Options o;
  o.device = opt.device;
  o.verbose = opt.verbose;
  o.fp16 = opt.precision == "fp16";  // options.cpp allows only fp32 and fp16 with vulkan
  vit::vulkan::Backend backend(o);
  return run(backend, opt, o.fp16 ? "fp16" : "fp32");
}

}  // namespace radio_embed
