// vit.load(..., backend="cpu"): oneDNN + OpenMP, fp32, `threads` threads (0 = all cores).
#include "any_model.hpp"
#include "vit/backends/cpu.hpp"

namespace vit::python {

std::unique_ptr<AnyModel> make_cpu_model(ModelInfo info, const WeightSource& weights) {
  check(info.load.precision == "fp32", ErrorKind::unsupported, "cpu backend: precision '" + info.load.precision + "' is not supported (fp32 only)");
  cpu::Options options;
  options.threads = info.load.threads;
  return std::make_unique<BackendModel<cpu::Backend>>(std::move(info), weights, options);
}

}  // namespace vit::python
