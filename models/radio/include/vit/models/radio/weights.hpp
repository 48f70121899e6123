// Where a model's weights come from: a safetensors checkpoint (SafeTensorsWeights, which refuses
// NaN/Inf values) or a deterministic random initialisation for benchmarks and teaching (RandomWeights).
// Keys are relative to the RADIO module, e.g. "model.blocks.0.attn.qkv.weight".
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "vit/io/safetensors.hpp"
#include "vit/models/radio/config.hpp"

namespace vit::models::radio {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The tensor `key` as fp32 with exactly the shape `expected`; throws if absent or mis-shaped.
  virtual HostTensor get(const std::string& key, const Shape& expected) const = 0;
  // How error messages name the tensor `key`, e.g. "model.safetensors: tensor 'radio_model.x'".
  virtual std::string describe(const std::string& key) const { return "tensor '" + key + "'"; }
};

// Reads tensors from a safetensors file, under a key prefix ("radio_model." for HF C-RADIO
// snapshots; e.g. "vision_model.radio_model." for a RADIO tower inside a larger checkpoint).
class SafeTensorsWeights : public WeightSource {
 public:
  SafeTensorsWeights(std::shared_ptr<const io::SafeTensors> file, std::string prefix)
      : file_(std::move(file)), prefix_(std::move(prefix)) {}

  // Also refuses a tensor holding NaN or Inf: one such weight makes every output NaN.
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
  bool has(const std::string& key) const { return file_->find(prefix_ + key) != nullptr; }
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

// Deterministic random weights: N(0, 0.02) for matrices and embeddings, LayerNorms as identity,
// the CLIP mean/std for the input conditioner, identity PHI-S. Each tensor's values depend only
// on the seed and its key, never on the order of requests.
class RandomWeights : public WeightSource {
 public:
  explicit RandomWeights(std::uint64_t seed = 0) : seed_(seed) {}

  HostTensor get(const std::string& key, const Shape& expected) const override {
    HostTensor t(expected);
    auto ends = [&](const char* s) {
      std::string_view k(key), e(s);
      return k.size() >= e.size() && k.substr(k.size() - e.size()) == e;
    };
    if (key == "input_conditioner.norm_mean") {
      t.data = {0.48145466f, 0.4578275f, 0.40821073f};
    } else if (key == "input_conditioner.norm_std") {
      t.data = {0.26862954f, 0.26130258f, 0.27577711f};
    } else if (key == "feature_normalizer.tx") {
      std::int64_t d = expected[0];
      for (std::int64_t i = 0; i < d; ++i) t.data[std::size_t(i * d + i)] = 1.0f;
    } else if (key == "feature_normalizer.mean") {
      // zeros
    } else if (ends("grandma")) {
      std::fill(t.data.begin(), t.data.end(), 0.5f);
    } else if ((ends("norm.weight") || ends("norm1.weight") || ends("norm2.weight"))) {
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

 private:
  std::uint64_t seed_;
};

}  // namespace vit::models::radio
