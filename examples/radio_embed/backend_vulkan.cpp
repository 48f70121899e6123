// radio-embed on the Vulkan backend (compiled when vit::vulkan exists).
#include "backends.hpp"
#include "run.hpp"
#include "vit/backends/vulkan.hpp"

namespace radio_embed {

int run_vulkan(const Options& opt) {
  vit::vulkan::Options o;
  o.device = opt.device;
  o.verbose = opt.verbose;
  o.precision = vit::parse_precision(opt.precision);  // the backend refuses what it cannot compute in
  vit::vulkan::Backend backend(o);
  return run(backend, opt, opt.precision);
}

}  // namespace radio_embed
