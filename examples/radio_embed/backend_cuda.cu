// radio-embed on the CUDA backend (compiled by nvcc when vit::cuda exists), built as the module
// radio-embed-cuda.so that the program loads only when it is asked for (examples/CMakeLists.txt).
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

// The module's entry point: radio-embed loads this file (radio-embed-cuda.so) for --backend cuda
// and calls it (main.cpp).
extern "C" int radio_embed_run_cuda(const radio_embed::Options& opt) { return radio_embed::run_cuda(opt); }
