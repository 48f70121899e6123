// vit.load(..., backend="reference"): the oracle backend (plain loops, one thread, fp32).
#include "any_model.hpp"
#include "vit/backends/reference.hpp"

namespace vit::python {

std::unique_ptr<AnyModel> make_reference_model(ModelInfo info, const WeightSource& weights) {
  check(info.load.precision == "fp32", ErrorKind::unsupported,
        "reference backend: precision '" + info.load.precision + "' is not supported (fp32 only)");
  return std::make_unique<BackendModel<reference::Backend>>(std::move(info), weights);
}

}  // namespace vit::python
