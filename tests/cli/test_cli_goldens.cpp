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

// C-RADIOv4 (fixture F) through the CLI's extras: --adaptor with --adaptor-summary/--adaptor-features,
// --intermediates (sparse and dense) into --intermediates-dir, and --vitdet into an --out bundle
// holding both heads; every file against the official outputs.
void check_cli_against_v4_goldens(const std::string& backend, double max_abs_error) {
  const std::string model = testing::fixture_dir("F");
  const testing::Tolerance bound{float(max_abs_error), 0.0f};
  auto golden = [&](const std::string& file) { return io::read_npy(model + "/" + file); };
  for (const std::string c : {"rect64x96", "sq128"}) {
    const std::string input = model + "/input_" + c + ".npy";
    DYNAMIC_SECTION(backend << " F/" << c << " adaptor + intermediates") {
      for (const std::string agg : {"sparse", "dense"}) {
        const auto d = testing::cli_scratch("cli_goldens_v4", backend + "_" + c + "_" + agg);
        const std::string as = (d / "as.npy").string(), af = (d / "af.npy").string(), inter = (d / "inter").string();
        const auto r = testing::run_radio_embed("--model " + model + " --input " + input + " --backend " + backend +
                                                    " --adaptor dino_v3 --adaptor-summary " + as + " --adaptor-features " + af +
                                                    " --intermediates 4,-2 --aggregation " + agg + " --intermediates-dir " + inter + " --quiet",
                                                d);
        INFO(r.err);
        REQUIRE(r.code == 0);
        VIT_CHECK_CLOSE(io::read_npy(as), golden(c + "/adaptor_dino_v3_summary.npy"), bound);
        VIT_CHECK_CLOSE(io::read_npy(af), golden(c + "/adaptor_dino_v3_features.npy"), bound);
        const std::string tag = agg == "dense" ? "intermediates_dense_" : "intermediates_";
        for (const char* k : {"4", "10"}) {  // -2 resolves to block 10 of 12
          VIT_CHECK_CLOSE(io::read_npy(inter + "/intermediates_" + k + ".npy"), golden(c + "/" + tag + k + ".npy"), bound);
          VIT_CHECK_CLOSE(io::read_npy(inter + "/intermediates_" + k + "_summary.npy"), golden(c + "/" + tag + k + "_summary.npy"), bound);
        }
      }
    }
    DYNAMIC_SECTION(backend << " F/" << c << " vitdet bundle") {
      const auto d = testing::cli_scratch("cli_goldens_v4", backend + "_" + c + "_vitdet");
      const std::string out = (d / "all.safetensors").string();
      const auto r = testing::run_radio_embed("--model " + model + " --input " + input + " --backend " + backend +
                                                  " --vitdet 2 --adaptor siglip2-g --adaptor dino_v3 --out " + out + " --quiet",
                                              d);
      INFO(r.err);
      REQUIRE(r.code == 0);
      io::SafeTensors st(out);
      const std::string stem = "input_" + c;
      auto tensor = [&](const std::string& name) {
        const io::TensorView* t = st.find(stem + "/" + name);
        REQUIRE(t != nullptr);
        return st.to_float(*t);
      };
      VIT_CHECK_CLOSE(tensor("summary"), golden(c + "/vitdet/summary.npy"), bound);
      VIT_CHECK_CLOSE(tensor("features"), golden(c + "/vitdet/spatial_features.npy"), bound);
      for (const std::string h : {"siglip2-g", "dino_v3"}) {
        VIT_CHECK_CLOSE(tensor(h + "/summary"), golden(c + "/vitdet/adaptor_" + h + "_summary.npy"), bound);
        VIT_CHECK_CLOSE(tensor(h + "/features"), golden(c + "/vitdet/adaptor_" + h + "_features.npy"), bound);
      }
    }
  }
}

}  // namespace

TEST_CASE("radio-embed C-RADIOv4 extras --backend reference match the PyTorch goldens", "[reference]") {
  check_cli_against_v4_goldens("reference", testing::fixture_max_abs_error);
}
TEST_CASE("radio-embed C-RADIOv4 extras --backend cpu match the PyTorch goldens", "[cpu]") {
  check_cli_against_v4_goldens("cpu", testing::fixture_max_abs_error);
}
TEST_CASE("radio-embed C-RADIOv4 extras --backend vulkan match the PyTorch goldens", "[vulkan]") {
  check_cli_against_v4_goldens("vulkan", testing::vulkan_fixture_max_abs_error);
}
TEST_CASE("radio-embed C-RADIOv4 extras --backend cuda match the PyTorch goldens", "[cuda]") { check_cli_against_v4_goldens("cuda", 1e-4); }

TEST_CASE("vit-embed --backend reference matches timm", "[reference]") { check_cli_against_timm_goldens("reference", 1e-5); }
TEST_CASE("vit-embed --backend cpu matches timm", "[cpu]") { check_cli_against_timm_goldens("cpu", 1e-5); }
TEST_CASE("vit-embed --backend vulkan matches timm", "[vulkan]") { check_cli_against_timm_goldens("vulkan", testing::vulkan_fixture_max_abs_error); }
TEST_CASE("vit-embed --backend cuda matches timm", "[cuda]") { check_cli_against_timm_goldens("cuda", 1e-4); }

TEST_CASE("radio-embed --backend reference matches the PyTorch goldens", "[reference]") { check_cli_against_goldens("reference", testing::fixture_max_abs_error); }
TEST_CASE("radio-embed --backend cpu matches the PyTorch goldens", "[cpu]") { check_cli_against_goldens("cpu", testing::fixture_max_abs_error); }
TEST_CASE("radio-embed --backend vulkan matches the PyTorch goldens", "[vulkan]") { check_cli_against_goldens("vulkan", testing::vulkan_fixture_max_abs_error); }
TEST_CASE("radio-embed --backend cuda matches the PyTorch goldens", "[cuda]") { check_cli_against_goldens("cuda", 1e-4); }
