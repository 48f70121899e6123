// C-RADIO's weights: the generic sources of vit/weights.hpp, with RADIO's key names (relative to
// the RADIO module, e.g. "model.blocks.0.attn.qkv.weight") and RADIO's random initialisation.
#pragma once
#include <algorithm>
#include <string>

#include "vit/weights.hpp"

namespace vit::models::radio {

using vit::SafeTensorsWeights;
using vit::WeightSource;

// Deterministic random weights (vit::RandomWeights) plus RADIO's own: the CLIP mean/std for the
// input conditioner and an identity PHI-S normalizer.
class RandomWeights : public vit::RandomWeights {
 public:
  explicit RandomWeights(std::uint64_t seed = 0) : vit::RandomWeights(seed, special) {}

 private:
  static bool special(const std::string& key, HostTensor& t) {
    if (key == "input_conditioner.norm_mean") t.data = {0.48145466f, 0.4578275f, 0.40821073f};
    else if (key == "input_conditioner.norm_std") t.data = {0.26862954f, 0.26130258f, 0.27577711f};
    else if (key == "feature_normalizer.tx")
      for (std::int64_t i = 0, d = t.shape[0]; i < d; ++i) t.data[std::size_t(i * d + i)] = 1.0f;
    else if (key != "feature_normalizer.mean")  // zeros
      return false;
    return true;
  }
};

}  // namespace vit::models::radio
