// vit.load(..., backend="reference"): the oracle backend (plain loops, one thread, fp32).
#include "any_model.hpp"
#include "vit/backends/reference.hpp"

namespace vit::python {

std::unique_ptr<AnyModel> make_reference_model(ModelInfo info, const WeightSource& weights) {
  reference::Options options;
  options.precision = parse_precision(info.load.precision);  // the backend refuses what it cannot compute in
  return std::make_unique<BackendModel<reference::Backend>>(std::move(info), weights, options);
}

}  // namespace vit::python
