// vit.load(..., backend="cpu"): oneDNN + OpenMP, fp32, `threads` threads (0 = all cores).
#include "any_model.hpp"
#include "vit/backends/cpu.hpp"

namespace vit::python {

std::unique_ptr<AnyModel> make_cpu_model(ModelInfo info, const WeightSource& weights) {
  cpu::Options options;
  options.threads = info.load.threads;
  options.precision = parse_precision(info.load.precision);  // the backend refuses what it cannot compute in
  return std::make_unique<BackendModel<cpu::Backend>>(std::move(info), weights, options);
}

}  // namespace vit::python
