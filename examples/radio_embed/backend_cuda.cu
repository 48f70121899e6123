// radio-embed on the CUDA backend (compiled by nvcc when vit::cuda exists).
#include "backends.hpp"
#include "run.hpp"
#include "vit/backends/cuda.cuh"

namespace radio_embed {

int run_cuda(const Options& opt) {
  vit::cuda::Options o;
  o.device = opt.device;
  o.precision = vit::parse_precision(opt.precision);
  vit::cuda::Backend backend(o);
  return run(backend, opt, opt.precision);
}

}  // namespace radio_embed
