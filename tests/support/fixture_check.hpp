// Runs Model<B> on every case of the PyTorch golden fixtures (tests/data/radio, copied from
// ../shared/fixtures/radio) and checks summary and spatial features against them.
#pragma once
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "op_check.hpp"
#include "vit/io/npy.hpp"
#include "vit/models/radio.hpp"

#ifndef VIT_TEST_DATA_DIR
#error "VIT_TEST_DATA_DIR must point at tests/data"
#endif

namespace vit::testing {

struct FixtureCase {
  std::string model, name;
};

inline std::vector<FixtureCase> fixture_cases() {
  return {{"A", "rect96x128"}, {"A", "sq128"}, {"A", "rect48x80"}, {"C", "rect64x96"}, {"C", "sq32"}};
}

inline std::string fixture_dir(const std::string& model) { return std::string(VIT_TEST_DATA_DIR) + "/radio/" + model; }

// Every fixture case on backend B: max |error| <= max_abs_error on summary and features.
template <Backend B>
void check_radio_fixtures(B& b, double max_abs_error = 1e-4) {
  for (const auto& fc : fixture_cases()) {
    DYNAMIC_SECTION(fc.model << "/" << fc.name) {
      const std::string dir = fixture_dir(fc.model);
      auto snap = models::radio::open_snapshot(dir);
      models::radio::Model<B> model(b, snap.config, *snap.weights);
      HostTensor input = io::read_npy(dir + "/input_" + fc.name + ".npy");
      auto out = model.forward(input);
      HostTensor want_summary = io::read_npy(dir + "/" + fc.name + "/summary.npy");
      HostTensor want_features = io::read_npy(dir + "/" + fc.name + "/spatial_features.npy");
      Tolerance abs_only{float(max_abs_error), 0.0f};
      VIT_CHECK_CLOSE(out.summary, want_summary, abs_only);
      VIT_CHECK_CLOSE(out.features, want_features, abs_only);
    }
  }
}

}  // namespace vit::testing
