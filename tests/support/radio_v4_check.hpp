// C-RADIOv4 golden checks (fixture F, tests/data/radio/F: an SO400M-shaped model with head dim 72,
// 3 cls + 7 registers, two adaptor heads, ViTDet window 2): the backbone, both adaptor heads,
// intermediate layers (sparse and dense) and ViTDet windowed attention, on backend B.
#pragma once
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "op_check.hpp"
#include "vit/io/npy.hpp"
#include "vit/models/open.hpp"

#ifndef VIT_TEST_DATA_DIR
#error "VIT_TEST_DATA_DIR must point at tests/data"
#endif

namespace vit::testing {

// fp32 bounds on max |error| over every F output (values are O(1-10)); each run prints what it
// measures per output. Release, x86-64 Zen 3: reference 4.4e-6.
constexpr double radio_v4_max_abs_error = 1e-5;         // reference, cpu (measured <= 4.4e-6)
constexpr double vulkan_radio_v4_max_abs_error = 2e-5;  // vulkan fp32

inline std::string radio_v4_dir() { return std::string(VIT_TEST_DATA_DIR) + "/radio/F"; }

// Compares got with the golden <case>/<file>.npy and prints the max |error|.
inline void check_golden(const HostTensor& got, const std::string& file, const std::string& label, double bound) {
  HostTensor want = io::read_npy(radio_v4_dir() + "/" + file);
  HostTensor g = got;
  REQUIRE(g.shape.numel() == want.shape.numel());
  g.shape = want.shape;
  Tolerance abs_only{float(bound), 0.0f};
  double err = 0;
  worst_ratio(g, want, abs_only, &err);
  std::printf("  %-44s max |error| %.2e (bound %.0e)\n", label.c_str(), err, bound);
  VIT_CHECK_CLOSE(g, want, abs_only);
}

template <Backend B>
void check_radio_v4_fixture(B& b, double bound = radio_v4_max_abs_error) {
  const std::vector<std::string> heads{"siglip2-g", "dino_v3"};
  models::Snapshot snap = models::open_model(radio_v4_dir());
  REQUIRE(snap.architecture.embed_dim / snap.architecture.num_heads == 72);
  snap.choose_adaptors(heads);
  Model<B> model(b, snap.architecture, *snap.weights);
  std::printf("fixture F (C-RADIOv4-shaped) on %s:\n", std::string(b.name()).c_str());
  for (const std::string c : {"rect64x96", "sq128", "rect80x112"}) {
    const HostTensor input = io::read_npy(radio_v4_dir() + "/input_" + c + ".npy");
    DYNAMIC_SECTION("backbone, adaptors, intermediates: " << c) {
      model.set_vitdet_window(0);
      for (const auto agg : {Aggregation::sparse, Aggregation::dense}) {
        const std::string tag = agg == Aggregation::dense ? "intermediates_dense_" : "intermediates_";
        HostOutput out = model.forward(input, Layout::nlc, {{4, -2}, agg});
        check_golden(out.summary, c + "/summary.npy", c + " summary", bound);
        check_golden(out.features, c + "/spatial_features.npy", c + " features", bound);
        REQUIRE(out.adaptors.size() == heads.size());
        for (std::size_t j = 0; j < heads.size(); ++j) {
          CHECK(out.adaptors[j].name == heads[j]);
          check_golden(out.adaptors[j].summary, c + "/adaptor_" + heads[j] + "_summary.npy", c + " " + heads[j] + " summary", bound);
          check_golden(out.adaptors[j].features, c + "/adaptor_" + heads[j] + "_features.npy", c + " " + heads[j] + " features", bound);
        }
        REQUIRE(out.intermediates.size() == 2);
        for (const HostIntermediate& e : out.intermediates) {
          const std::string k = std::to_string(e.block);
          check_golden(e.features, c + "/" + tag + k + ".npy", c + " " + tag + k, bound);
          check_golden(e.summary, c + "/" + tag + k + "_summary.npy", c + " " + tag + k + "_summary", bound);
        }
      }
    }
    DYNAMIC_SECTION("ViTDet window 2: " << c) {
      model.set_vitdet_window(2);
      if (c == "rect80x112") {  // a 5x7 grid is not a multiple of the window: refused, as upstream
        CHECK_THROWS_WITH(model.forward(input), Catch::Contains("multiples of 32"));
      } else {
        HostOutput out = model.forward(input);
        check_golden(out.summary, c + "/vitdet/summary.npy", c + " vitdet summary", bound);
        check_golden(out.features, c + "/vitdet/spatial_features.npy", c + " vitdet features", bound);
        for (std::size_t j = 0; j < heads.size(); ++j) {
          check_golden(out.adaptors[j].summary, c + "/vitdet/adaptor_" + heads[j] + "_summary.npy", c + " vitdet " + heads[j] + " summary", bound);
          check_golden(out.adaptors[j].features, c + "/vitdet/adaptor_" + heads[j] + "_features.npy", c + " vitdet " + heads[j] + " features",
                       bound);
        }
        CHECK_THROWS_WITH(model.forward(input, Layout::nlc, {{4}}), Catch::Contains("not available with ViTDet"));
      }
    }
  }
}

}  // namespace vit::testing
