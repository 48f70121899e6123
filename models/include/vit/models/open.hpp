// Opens a model folder of any family this library knows, reading the family from the folder:
//   timm   config.json with "architecture" (a timm hub snapshot)
//   radio  config.json with "args" (an HF C-RADIO snapshot) or "format_version" (the project's
//          own config, whose "family" must be "radio" when present)
// and returns what every family has in common: the generic Architecture, the weights, and the
// rules for the input size that a program resizing images needs.
//
//   vit::models::Snapshot s = vit::models::open_model(dir);
//   vit::Model<B> model(backend, s.architecture, *s.weights);
#pragma once
#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vit/model.hpp"
#include "vit/models/radio.hpp"
#include "vit/models/timm.hpp"

namespace vit::models {

// What the input image size must satisfy.
struct InputRules {
  int patch_size = 16;
  int max_resolution = 0;                  // largest side the model is meant for (0: no limit stated)
  std::array<int, 2> preferred{0, 0};      // the model's own size (H, W)
  bool fixed = false;                      // the model takes only `preferred` (a position table that is not resampled)
  bool resize_to_preferred = false;        // images are resized to `preferred` unless told otherwise (timm's data config);
                                           // else to the nearest multiple of the patch (C-RADIO)
  int window = 1;                          // ViTDet window: sides are multiples of patch_size · window

  int step() const { return patch_size * window; }
  // "the patch size 16" or "32 (patch 16 x ViTDet window 2)", for messages.
  std::string step_text() const {
    if (window <= 1) return "the patch size " + std::to_string(patch_size);
    return std::to_string(step()) + " (patch " + std::to_string(patch_size) + " x ViTDet window " + std::to_string(window) + ")";
  }
};

struct Snapshot {
  std::string family;                      // "radio" or "timm"
  std::string name;                        // e.g. "C-RADIOv3-B", "vit_base_patch16_224"
  Architecture architecture;
  std::unique_ptr<WeightSource> weights;
  InputRules input;
  std::optional<radio::Config> radio_config;  // the plain config, for a RADIO model
  std::vector<std::string> notes;
  std::vector<AdaptorHead> adaptors;       // teacher heads the snapshot offers (none are run until chosen)

  // Puts the named heads (in this order) into `architecture`, so that a model built from it runs
  // them; an unknown name is a config error listing the heads the snapshot has.
  void choose_adaptors(const std::vector<std::string>& names) {
    architecture.adaptors.clear();
    for (const std::string& n : names) {
      auto it = std::find_if(adaptors.begin(), adaptors.end(), [&](const AdaptorHead& h) { return h.name == n; });
      if (it == adaptors.end())
        fail(ErrorKind::config, "adaptor '" + n + "': " + name + " has " +
                                    (adaptors.empty() ? "no adaptor heads" : "only: " + joined(adaptors, &AdaptorHead::name)));
      if (std::none_of(architecture.adaptors.begin(), architecture.adaptors.end(), [&](const AdaptorHead& h) { return h.name == n; }))
        architecture.adaptors.push_back(*it);
    }
  }
};

// The family of the model at `path` (a folder, or a project JSON config file).
inline std::string family_of(const std::string& path) {
  const std::string config = model_files(path).config;
  const json::Value cfg = json::parse(io::read_text_file(config), config);
  if (!cfg.is_object()) fail(ErrorKind::config, config + ": expected a JSON object");
  if (cfg.find("architecture")) return "timm";
  if (cfg.find("args")) return "radio";
  if (cfg.find("format_version")) return "radio";  // the project's own config (its "family" is checked on load)
  fail(ErrorKind::config, config + ": not a model config this library knows (expected a timm hub config with 'architecture', "
                                   "an HF C-RADIO config with 'args', or a vit config with 'format_version')");
}

inline Snapshot open_model(const std::string& path) {
  Snapshot s;
  s.family = family_of(path);
  if (s.family == "timm") {
    timm::Snapshot t = timm::open_snapshot(path);
    s.name = t.name;
    s.architecture = t.architecture;
    s.weights = std::move(t.weights);
    s.notes = std::move(t.notes);
    const Architecture& a = s.architecture;
    s.input = {a.patch_size, 0, {a.pos_grid_h * a.patch_size, a.pos_grid_w * a.patch_size}, a.position == PositionRule::fixed, true};
    if (t.input_size[0] > 0) s.input.preferred = t.input_size;
    return s;
  }
  radio::Snapshot r = radio::open_snapshot(path);
  s.name = r.config.name.empty() ? r.config.version : r.config.name;
  s.architecture = radio::architecture(r.config);
  s.weights = std::move(r.weights);
  s.notes = std::move(r.notes);
  s.input = {r.config.patch_size, r.config.max_resolution, r.config.preferred_resolution, false, false};
  s.adaptors = r.config.adaptors;
  s.radio_config = std::move(r.config);
  return s;
}

}  // namespace vit::models
