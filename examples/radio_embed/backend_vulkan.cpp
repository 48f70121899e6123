// radio-embed on the Vulkan backend (compiled when vit::vulkan exists).
#include "backends.hpp"
#include "run.hpp"
#include "vit/backends/vulkan.hpp"

namespace radio_embed {

int run_vulkan(const Options& opt) {
  vit::vulkan::Options o;
  o.device = opt.device;
  o.verbose = opt.verbose;
  vit::vulkan::Backend backend(o);
  return run(backend, opt, "fp32");
}

}  // namespace radio_embed
