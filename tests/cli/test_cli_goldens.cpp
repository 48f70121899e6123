// radio-embed, the built CLI, against the official PyTorch outputs: every fixture input
// (tests/data/radio/<M>/input_<case>.npy) through `--input X.npy --summary S.npy --features F.npy`
// on one backend; max |error| within the fp32 bound of fixture_check.hpp on both. One test case
// per backend, tagged with its name; ctest runs each built backend as its own test, vulkan and
// cuda through `--needs` (cli_main.cpp: skipped without a device, failed under VIT_REQUIRE_*=1).
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "cli_run.hpp"
#include "fixture_check.hpp"
#include "timm_fixture_check.hpp"

using namespace vit;

namespace {

// fp32 bounds: the library's fixture tests' (fixture_check.hpp); cuda keeps its fixture test's
// 1e-4 (tests/cuda/test_cuda_fixtures.cu; not measured without a GPU).
void check_cli_against_goldens(const std::string& backend, double max_abs_error) {
  for (const auto& fc : testing::fixture_cases()) {
    DYNAMIC_SECTION(backend << " " << fc.model << "/" << fc.name) {
      const auto d = testing::cli_scratch("cli_goldens", backend + "_" + fc.model + "_" + fc.name);
      const std::string model = testing::fixture_dir(fc.model), s = (d / "s.npy").string(), f = (d / "f.npy").string();
      const std::string input = model + "/input_" + fc.name + ".npy";
      // C/rect64x96 is beyond C's max_resolution (48): PyTorch runs it, radio-embed wants --allow-large.
      const HostTensor x = io::read_npy(input);
      const int max_res = models::radio::open_snapshot(model).config.max_resolution;
      const std::string large = x.shape[2] > max_res || x.shape[3] > max_res ? " --allow-large" : "";
      const auto r = testing::run_radio_embed(
          "--model " + model + " --input " + input + " --backend " + backend + " --summary " + s + " --features " + f + large + " --quiet", d);
      INFO(r.err);
      REQUIRE(r.code == 0);
      const HostTensor got_s = io::read_npy(s), got_f = io::read_npy(f);
      const HostTensor want_s = io::read_npy(model + "/" + fc.name + "/summary.npy");
      const HostTensor want_f = io::read_npy(model + "/" + fc.name + "/spatial_features.npy");
      REQUIRE(got_s.shape == want_s.shape);
      REQUIRE(got_f.shape == want_f.shape);
      const testing::Tolerance bound{float(max_abs_error), 0.0f};
      double es = 0, ef = 0;
      testing::worst_ratio(got_s, want_s, bound, &es);
      testing::worst_ratio(got_f, want_f, bound, &ef);
      std::printf("radio-embed --backend %s, fixture %s/%s: max |error| summary %.2e, features %.2e (bound %.0e)\n", backend.c_str(),
                  fc.model.c_str(), fc.name.c_str(), es, ef, max_abs_error);
      VIT_CHECK_CLOSE(got_s, want_s, bound);
      VIT_CHECK_CLOSE(got_f, want_f, bound);
    }
  }
}

// vit-embed (the same program by its family-agnostic name) on every timm fixture input, against
// timm's own outputs; the family is read from the folder.
void check_cli_against_timm_goldens(const std::string& backend, double max_abs_error) {
  for (const auto& tc : testing::timm_cases()) {
    DYNAMIC_SECTION(backend << " timm " << tc.model << "/" << tc.name) {
      const auto d = testing::cli_scratch("cli_goldens_timm", backend + "_" + tc.model + "_" + tc.name);
      const std::string model = testing::timm_dir(tc.model), s = (d / "s.npy").string(), f = (d / "f.npy").string();
      const std::string input = model + "/input_" + tc.name + ".npy";
      const auto r = testing::run_radio_embed(
          "--model " + model + " --input " + input + " --backend " + backend + " --summary " + s + " --features " + f + " --quiet", d, "vit-embed");
      INFO(r.err);
      REQUIRE(r.code == 0);
      const testing::Tolerance bound{float(max_abs_error), 0.0f};
      VIT_CHECK_CLOSE(io::read_npy(s), io::read_npy(model + "/" + tc.name + "/summary.npy"), bound);
      VIT_CHECK_CLOSE(io::read_npy(f), io::read_npy(model + "/" + tc.name + "/features.npy"), bound);
    }
  }
}

}  // namespace

TEST_CASE("vit-embed --backend reference matches timm", "[reference]") { check_cli_against_timm_goldens("reference", 1e-5); }
TEST_CASE("vit-embed --backend cpu matches timm", "[cpu]") { check_cli_against_timm_goldens("cpu", 1e-5); }
TEST_CASE("vit-embed --backend vulkan matches timm", "[vulkan]") { check_cli_against_timm_goldens("vulkan", testing::vulkan_fixture_max_abs_error); }
TEST_CASE("vit-embed --backend cuda matches timm", "[cuda]") { check_cli_against_timm_goldens("cuda", 1e-4); }

TEST_CASE("radio-embed --backend reference matches the PyTorch goldens", "[reference]") { check_cli_against_goldens("reference", testing::fixture_max_abs_error); }
TEST_CASE("radio-embed --backend cpu matches the PyTorch goldens", "[cpu]") { check_cli_against_goldens("cpu", testing::fixture_max_abs_error); }
TEST_CASE("radio-embed --backend vulkan matches the PyTorch goldens", "[vulkan]") { check_cli_against_goldens("vulkan", testing::vulkan_fixture_max_abs_error); }
TEST_CASE("radio-embed --backend cuda matches the PyTorch goldens", "[cuda]") { check_cli_against_goldens("cuda", 1e-4); }
