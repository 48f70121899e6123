// vit.load(..., backend="reference"): the oracle backend (plain loops, one thread, fp32).
#include "any_model.hpp"
#include "vit/backends/reference.hpp"

namespace vit::python {

std::unique_ptr<AnyModel> make_reference_model(ModelInfo info, const WeightSource& weights) {
  check_precision("reference", parse_precision(info.load.precision), reference::Backend::precisions);
  return std::make_unique<BackendModel<reference::Backend>>(std::move(info), weights);
}

}  // namespace vit::python
