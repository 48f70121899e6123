// radio-embed on the CUDA backend (compiled by nvcc when vit::cuda exists).
#include "backends.hpp"
#include "run.hpp"
#include "vit/backends/cuda.cuh"

namespace radio_embed {

int run_cuda(const Options& opt) {
  vit::Precision p = vit::Precision::fp32;
  if (opt.precision == "tf32") p = vit::Precision::tf32;
  else if (opt.precision == "bf16") p = vit::Precision::bf16;
  else if (opt.precision == "fp16") p = vit::Precision::fp16;
  vit::cuda::Options o;
  o.device = opt.device;
  o.precision = p;
  vit::cuda::Backend backend(o);
  return run(backend, opt, opt.precision);
}

}  // namespace radio_embed
