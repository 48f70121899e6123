// vit::models::radio::Model<B> — C-RADIO on the generic vit::Model<B> (docs/radio-spec.md §3):
// what is RADIO's own is only its Architecture (a radio::Config is one, with RADIO's rules):
//   tokens   = [cls tokens | registers | patches], one stored tensor for cls + registers
//   position = the CPE rule: the R×R table bilinear-resized to max(gh, gw)², top-left crop
//              (patches only; prefix tokens take no position)
//   input    = the checkpoint's input conditioner (mean/std tensors)
//   summary  = the cls tokens at summary_idxs (summary_tokens)              [B, n·D]
//   features = the patch tokens [-> PHI-S: (x - mean) @ tx^T]               [B, T, D]
#pragma once
#include "vit/model.hpp"
#include "vit/models/radio/config.hpp"
#include "vit/models/radio/weights.hpp"

namespace vit::models::radio {

using vit::HostOutput;
using vit::Layout;
using vit::Output;
using vit::to_nchw;

template <Backend B>
class Model : public vit::Model<B> {
 public:
  Model(B& backend, Config config, const WeightSource& w) : vit::Model<B>(backend, checked(config), w), cfg_(std::move(config)) {}

  const Config& config() const { return cfg_; }

 private:
  static Architecture checked(const Config& c) {
    c.validate("model config");
    return architecture(c);
  }
  Config cfg_;
};

}  // namespace vit::models::radio
