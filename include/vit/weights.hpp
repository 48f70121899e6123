// Where a model's weights come from: a safetensors checkpoint (SafeTensorsWeights) or a
// deterministic random initialisation for benchmarks and teaching (RandomWeights). Every family
// reads its tensors through WeightSource, with the key names of its own checkpoints.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "vit/io/safetensors.hpp"

namespace vit {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The tensor `key` as fp32 with exactly the shape `expected`; throws if absent or mis-shaped.
  virtual HostTensor get(const std::string& key, const Shape& expected) const = 0;
  // The stored shape of `key`, or nothing when the source has no such tensor. A source that can
  // make any tensor (RandomWeights) answers nothing: the caller then relies on its config.
  virtual std::optional<Shape> shape_of(const std::string& key) const = 0;
  // How error messages name the tensor `key`, e.g. "model.safetensors: tensor 'radio_model.x'".
  virtual std::string describe(const std::string& key) const { return "tensor '" + key + "'"; }
};

// Reads tensors from a safetensors file (refusing NaN/Inf values: one such weight makes every
// output NaN), under a key prefix ("radio_model." for HF C-RADIO
// snapshots, "" for timm; e.g. "vision_model.radio_model." for a tower inside a larger model).
class SafeTensorsWeights : public WeightSource {
 public:
  SafeTensorsWeights(std::shared_ptr<const io::SafeTensors> file, std::string prefix)
      : file_(std::move(file)), prefix_(std::move(prefix)) {}

  HostTensor get(const std::string& key, const Shape& expected) const override {
    const io::TensorView* t = file_->find(prefix_ + key);
    if (!t) fail(ErrorKind::format, describe(key) + " is missing");
    if (!(t->shape == expected)) fail(ErrorKind::shape, describe(key) + ": expected shape " + expected.str() + ", got " + t->shape.str());
    used_.insert(prefix_ + key);
    HostTensor out = file_->to_float(*t);
    std::size_t bad = 0;
    for (float v : out.data) bad += !std::isfinite(v);
    if (bad)
      fail(ErrorKind::format, describe(key) + " holds " + std::to_string(bad) + (bad == 1 ? " non-finite value" : " non-finite values") + " (NaN/Inf)");
    return out;
  }
  std::string describe(const std::string& key) const override { return file_->path() + ": tensor '" + prefix_ + key + "'"; }
  std::optional<Shape> shape_of(const std::string& key) const override {
    const io::TensorView* t = file_->find(prefix_ + key);
    return t ? std::optional<Shape>(t->shape) : std::nullopt;
  }
  // The stored shape of `key`; a format error naming the tensor when it is missing.
  Shape shape(const std::string& key) const {
    const io::TensorView* t = file_->find(prefix_ + key);
    if (!t) fail(ErrorKind::format, describe(key) + " is missing");
    return t->shape;
  }
  bool has(const std::string& key) const { return file_->find(prefix_ + key) != nullptr; }
  // How many numbered tensors there are in a row from 0: prefix + "0" + suffix, prefix + "1" + suffix, ...
  // (e.g. the blocks of a model: numbered("blocks.", ".norm1.weight")).
  int numbered(const std::string& prefix, const std::string& suffix) const {
    int n = 0;
    while (has(prefix + std::to_string(n) + suffix)) ++n;
    return n;
  }
  const io::SafeTensors& file() const { return *file_; }
  const std::string& prefix() const { return prefix_; }

  // Tensors of the file that no get() asked for (to report in verbose mode).
  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (const auto& t : file_->tensors())
      if (!used_.count(t.name)) out.push_back(t.name);
    return out;
  }

 private:
  std::shared_ptr<const io::SafeTensors> file_;
  std::string prefix_;
  mutable std::set<std::string> used_;
};

// Deterministic random weights. By default: N(0, 0.02) for matrices, embeddings and tokens;
// LayerNorm weights 1 and biases 0; layer scales 0.5. A family passes `special` for keys with
// their own rule (it fills the tensor and returns true). Each tensor's values depend only on the
// seed and its key, never on the order of requests.
class RandomWeights : public WeightSource {
 public:
  using Rule = std::function<bool(const std::string& key, HostTensor& t)>;
  explicit RandomWeights(std::uint64_t seed = 0, Rule special = {}) : seed_(seed), special_(std::move(special)) {}

  HostTensor get(const std::string& key, const Shape& expected) const override {
    HostTensor t(expected);
    if (special_ && special_(key, t)) return t;
    auto ends = [&](std::string_view e) { return key.size() >= e.size() && std::string_view(key).substr(key.size() - e.size()) == e; };
    auto is_norm = [&] {  // "<...>.<module>.weight" with a module named norm*, or *norm
      const std::string_view module = std::string_view(key).substr(0, key.size() - 7);
      const std::string_view name = module.substr(module.rfind('.') == std::string_view::npos ? 0 : module.rfind('.') + 1);
      return name.starts_with("norm") || name.ends_with("norm");
    };
    if (ends("gamma") || ends("grandma")) {
      std::fill(t.data.begin(), t.data.end(), 0.5f);
    } else if (ends(".weight") && is_norm()) {
      std::fill(t.data.begin(), t.data.end(), 1.0f);
    } else if (ends(".bias")) {
      // zeros
    } else {
      std::mt19937_64 rng(seed_ ^ std::hash<std::string>{}(key));
      std::normal_distribution<float> normal(0.0f, 0.02f);
      for (auto& v : t.data) v = normal(rng);
    }
    return t;
  }
  std::optional<Shape> shape_of(const std::string&) const override { return std::nullopt; }

 private:
  std::uint64_t seed_;
  Rule special_;
};

// The files of a model at `path`: a folder holding config.json [+ model.safetensors], or a config
// file itself (no weights). An io error when the folder has no config.json or the path is missing.
struct ModelFiles {
  std::string config;   // the config file
  std::string weights;  // <folder>/model.safetensors, or empty when `path` is a file
  bool has_weights = false;
};

inline ModelFiles model_files(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    if (!fs::exists(path, ec)) fail(ErrorKind::io, path + ": no such file or folder");
    return {path, "", false};
  }
  ModelFiles f{(fs::path(path) / "config.json").string(), (fs::path(path) / "model.safetensors").string(), false};
  if (!fs::exists(f.config, ec)) fail(ErrorKind::io, path + ": no config.json in the model folder");
  f.has_weights = fs::exists(f.weights, ec);
  return f;
}

}  // namespace vit
