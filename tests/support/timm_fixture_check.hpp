// Runs vit::Model<B> on every case of the timm golden fixtures (tests/data/timm, made by
// scripts/make_timm_fixtures.py with a pinned timm) and checks summary and features.
#pragma once
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "fixture_check.hpp"
#include "op_check.hpp"
#include "vit/io/npy.hpp"
#include "vit/model.hpp"
#include "vit/models/timm.hpp"

namespace vit::testing {

struct TimmCase {
  std::string model, name;
};

inline std::vector<TimmCase> timm_cases() {
  return {{"vit", "sq64"},           {"deit", "sq64"},         {"deit", "rect48x96"},        {"deit", "sq128"},
          {"dinov2", "sq70"},        {"dinov2", "rect42x84"},  {"dinov2_reg", "sq56"},       {"dinov2_reg", "rect70x42"},
          {"dinov2_swiglu", "sq42"}, {"siglip", "sq64"}};
}

inline std::string timm_dir(const std::string& model) { return std::string(VIT_TEST_DATA_DIR) + "/timm/" + model; }

// Every timm fixture case on backend B: max |error| <= max_abs_error on summary and features.
template <Backend B>
void check_timm_fixtures(B& b, double max_abs_error = fixture_max_abs_error) {
  for (const auto& tc : timm_cases()) {
    DYNAMIC_SECTION(tc.model << "/" << tc.name) {
      const std::string dir = timm_dir(tc.model);
      auto snap = models::timm::open_snapshot(dir);
      Model<B> model(b, snap.architecture, *snap.weights);
      HostTensor input = io::read_npy(dir + "/input_" + tc.name + ".npy");
      auto out = model.forward(input);
      HostTensor want_summary = io::read_npy(dir + "/" + tc.name + "/summary.npy");
      HostTensor want_features = io::read_npy(dir + "/" + tc.name + "/features.npy");
      Tolerance abs_only{float(max_abs_error), 0.0f};
      VIT_CHECK_CLOSE(out.summary, want_summary, abs_only);
      VIT_CHECK_CLOSE(out.features, want_features, abs_only);
    }
  }
}

}  // namespace vit::testing
