// The model as Python sees it, with the backend erased: one interface over vit::Model<B> for
// every backend compiled into the module. Nothing here touches Python (no GIL needed).
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "input_backend.hpp"
#include "vit/model.hpp"
#include "vit/models/open.hpp"

namespace vit::python {

// What vit.load() was asked for.
struct LoadOptions {
  std::string path;
  std::string backend = "cpu";
  int threads = 0;             // cpu: 0 = all cores
  std::string precision = "fp32";
  int device = -1;             // vulkan (and later cuda): -1 = the backend's default device
  std::vector<std::string> adaptors;  // C-RADIO teacher heads to run, in this order
  int vitdet = 0;              // ViTDet windowed attention with vitdet x vitdet windows (0: off)
};

// An image batch borrowed from a Python array: float32, C-contiguous [B, 3, H, W].
struct InputView {
  const float* data = nullptr;
  Shape shape;
};

// Per-call options of the forward (keyword arguments of Model.__call__); options that change the
// model itself (adaptor heads, ViTDet) are LoadOptions.
struct ForwardOptions {
  Layout layout = Layout::nlc;
  IntermediateRequest intermediates;  // blocks whose outputs to return too
};

struct Result {
  HostOutput out;              // summary [B, C], features [B, T, D] or [B, D, gh, gw], adaptors, intermediates
  int grid_h = 0, grid_w = 0;
};

// What every loaded model knows about itself (from the folder and the backend).
struct ModelInfo {
  LoadOptions load;
  std::string family, name, description;
  Architecture architecture;
  models::InputRules input;
  std::vector<std::string> notes;
  std::vector<std::string> available_adaptors;  // the heads the snapshot offers
};

class AnyModel {
 public:
  explicit AnyModel(ModelInfo info) : info_(std::move(info)) {}
  virtual ~AnyModel() = default;
  AnyModel(const AnyModel&) = delete;
  AnyModel& operator=(const AnyModel&) = delete;

  // Runs the forward pass on `images` (read in place, not copied first). Safe to call from
  // several threads: calls on one model run one at a time.
  virtual Result forward(const InputView& images, const ForwardOptions& options) = 0;
  // Where the last forward read its input from, and whether it was staged through a host copy.
  virtual std::pair<const float*, bool> last_input() const = 0;

  const ModelInfo& info() const { return info_; }

 protected:
  ModelInfo info_;
};

// vit::Model<B> on an InputBackend<B> owned beside it, a mutex serialising the forwards.
template <class B>
class BackendModel final : public AnyModel {
 public:
  template <class... BackendArgs>
  BackendModel(ModelInfo info, const WeightSource& weights, BackendArgs&&... args)
      : AnyModel(std::move(info)), backend_(std::forward<BackendArgs>(args)...), model_(backend_, info_.architecture, weights) {
    if constexpr (requires { backend_.description(); }) info_.description = backend_.description();
    else info_.description = std::string(backend_.name());
  }

  Result forward(const InputView& images, const ForwardOptions& options) override {
    std::lock_guard lock(mutex_);
    HostTensor placeholder;  // the input's shape; its values are read from images.data
    placeholder.shape = images.shape;
    backend_.borrow(&placeholder, images.data);
    Result r;
    try {
      r.out = model_.forward(placeholder, options.layout, options.intermediates);
    } catch (...) {
      backend_.release();
      throw;
    }
    check(backend_.release(), ErrorKind::backend, "internal: the model did not read its input through the backend's upload");
    const int p = info_.architecture.patch_size;
    r.grid_h = int(images.shape[2] / p);
    r.grid_w = int(images.shape[3] / p);
    return r;
  }

  std::pair<const float*, bool> last_input() const override {
    std::lock_guard lock(mutex_);
    return {backend_.last_input(), backend_.staged()};
  }

 private:
  InputBackend<B> backend_;  // declared before the model: it outlives it
  Model<InputBackend<B>> model_;
  mutable std::mutex mutex_;
};

// The factories, one per backend translation unit (backend_<name>.cpp). Each takes the opened
// snapshot (its weights are read while the model is built) and checks the options it uses.
std::unique_ptr<AnyModel> make_reference_model(ModelInfo info, const WeightSource& weights);
std::unique_ptr<AnyModel> make_cpu_model(ModelInfo info, const WeightSource& weights);
std::unique_ptr<AnyModel> make_vulkan_model(ModelInfo info, const WeightSource& weights);

// Opens the model folder and builds the model on the backend LoadOptions names.
std::unique_ptr<AnyModel> load_model(const LoadOptions& options);

// The backends this module was built with, e.g. {"reference", "cpu", "vulkan"}.
std::vector<std::string> built_backends();

}  // namespace vit::python
