// load_model(): opens any model folder (vit::models::open_model) and builds it on the backend
// that was asked for, among those compiled into the module.
#include <algorithm>

#include "any_model.hpp"

namespace vit::python {

std::vector<std::string> built_backends() {
  std::vector<std::string> names{"reference"};
#ifdef VIT_PYTHON_CPU
  names.push_back("cpu");
#endif
#ifdef VIT_PYTHON_VULKAN
  names.push_back("vulkan");
#endif
  return names;
}

std::unique_ptr<AnyModel> load_model(const LoadOptions& options) {
  const std::string& b = options.backend;
  check(options.threads >= 0, ErrorKind::argument, "threads must be >= 0 (0 = all cores), got " + std::to_string(options.threads));
  const std::vector<std::string> built = built_backends();
  const std::string known = joined(built);
  if (std::find(built.begin(), built.end(), b) == built.end()) {
    if (b == "cpu" || b == "vulkan" || b == "cuda")
      fail(ErrorKind::unsupported, "backend '" + b + "' is not in this build of the module (built: " + known + ")");
    fail(ErrorKind::argument, "backend: unknown backend '" + b + "' (expected one of: " + known + ")");
  }
  check(b == "cpu" || options.threads == 0, ErrorKind::argument, "threads applies to the cpu backend only, not to '" + b + "'");

  check(options.vitdet >= 0, ErrorKind::argument, "vitdet: the window must be >= 0 (0 = off), got " + std::to_string(options.vitdet));
  models::Snapshot snap = models::open_model(options.path);
  snap.choose_adaptors(options.adaptors);
  snap.architecture.vitdet_window = options.vitdet;
  snap.input.window = std::max(1, options.vitdet);
  ModelInfo info{options, snap.family, snap.name, {}, snap.architecture, snap.input, snap.notes, {}};
  for (const AdaptorHead& h : snap.adaptors) info.available_adaptors.push_back(h.name);
  if (b == "reference") return make_reference_model(std::move(info), *snap.weights);
#ifdef VIT_PYTHON_CPU
  if (b == "cpu") return make_cpu_model(std::move(info), *snap.weights);
#endif
#ifdef VIT_PYTHON_VULKAN
  if (b == "vulkan") return make_vulkan_model(std::move(info), *snap.weights);
#endif
  fail(ErrorKind::unsupported, "backend '" + b + "' is not in this build of the module");
}

}  // namespace vit::python
