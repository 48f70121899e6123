// radio-embed's documented options, each checked for doing its job (not just being accepted):
// --dump-input, --resolution, --allow-large, --input-list, --preprocess hf, --precision on the
// reference backend, and on Vulkan (tagged
// [vulkan], run through `--needs vulkan`): --backend vulkan, --device, --precision fp16.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "cli_run.hpp"
#include "fixture_check.hpp"
#include "vit/io/image.hpp"
#include "vit/io/npy.hpp"
#include "vit/io/safetensors.hpp"

using namespace vit;
namespace fs = std::filesystem;

namespace {

const std::string kModel = testing::fixture_dir("A");  // patch 16, D 64, max_resolution 128

testing::CliResult radio_embed(const std::string& args, const fs::path& dir) {
  return testing::run_radio_embed("--model " + kModel + " " + args, dir);
}

std::string outputs(const fs::path& d, const std::string& tag) {
  return " --summary " + (d / (tag + "_s.npy")).string() + " --features " + (d / (tag + "_f.npy")).string();
}
HostTensor summary(const fs::path& d, const std::string& tag) { return io::read_npy((d / (tag + "_s.npy")).string()); }
HostTensor features(const fs::path& d, const std::string& tag) { return io::read_npy((d / (tag + "_f.npy")).string()); }

// A W x H RGB picture (8-bit, row-major, interleaved) with varied content.
std::vector<std::uint8_t> picture(int w, int h, int seed) {
  std::vector<std::uint8_t> px(std::size_t(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) px[std::size_t((y * w + x) * 3 + c)] = std::uint8_t((x * (7 + c) + y * (3 + 2 * c) + seed * 31 + (x * y) % 17) % 256);
  return px;
}

std::string write_picture(const fs::path& d, const std::string& name, int w, int h, int seed) {
  const auto px = picture(w, h, seed);
  const std::string path = (d / name).string();
  io::write_png(path, w, h, px.data());
  return path;
}

void same(const HostTensor& a, const HostTensor& b) {
  REQUIRE(a.shape == b.shape);
  CHECK(a.data == b.data);
}

}  // namespace

TEST_CASE("--dump-input writes the preprocessed tensor; running it as --input gives the same outputs") {
  const auto d = testing::cli_scratch("cli_options", "dump");
  SECTION("no resize (80x48): the dump is the decoded pixels / 255") {
    const auto px = picture(80, 48, 1);
    io::write_png((d / "flat.png").string(), 80, 48, px.data());
    const auto r = radio_embed("--input " + (d / "flat.png").string() + " --dump-input " + d.string() + outputs(d, "a") + " --quiet", d);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const HostTensor dump = io::read_npy((d / "flat.input.npy").string());
    REQUIRE(dump.shape == Shape{1, 3, 48, 80});
    bool all_equal = true;
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 48 * 80; ++i) all_equal = all_equal && dump.data[std::size_t(c * 48 * 80 + i)] == float(px[std::size_t(i * 3 + c)]) / 255.0f;
    CHECK(all_equal);
  }
  SECTION("resized (100x60 -> 96x64): the dump has the model's input shape and reproduces the run") {
    const std::string png = write_picture(d, "big.png", 100, 60, 2);
    const auto r = radio_embed("--input " + png + " --dump-input " + d.string() + outputs(d, "img") + " --quiet", d);
    INFO(r.err);
    REQUIRE(r.code == 0);
    REQUIRE(io::read_npy((d / "big.input.npy").string()).shape == Shape{1, 3, 64, 96});
    const auto n = radio_embed("--input " + (d / "big.input.npy").string() + outputs(d, "npy") + " --quiet", d);
    REQUIRE(n.code == 0);
    same(summary(d, "img"), summary(d, "npy"));
    same(features(d, "img"), features(d, "npy"));
  }
}

TEST_CASE("--resolution 64x96 resizes to 64x96: a 4x6 grid of features") {
  const auto d = testing::cli_scratch("cli_options", "resolution");
  const std::string png = write_picture(d, "sq.png", 100, 100, 3);
  const auto fixed = radio_embed("--input " + png + " --resolution 64x96 --layout nchw --dump-input " + d.string() + outputs(d, "r") + " --quiet", d);
  INFO(fixed.err);
  REQUIRE(fixed.code == 0);
  CHECK(features(d, "r").shape == Shape{1, 64, 4, 6});
  CHECK(io::read_npy((d / "sq.input.npy").string()).shape == Shape{1, 3, 64, 96});
  const auto nearest = radio_embed("--input " + png + " --layout nchw" + outputs(d, "n") + " --quiet", d);
  REQUIRE(nearest.code == 0);
  CHECK(features(d, "n").shape == Shape{1, 64, 6, 6});  // without it: 100x100 -> 96x96
}

TEST_CASE("--allow-large admits an input beyond max_resolution that is refused without it") {
  const auto d = testing::cli_scratch("cli_options", "large");
  HostTensor x(Shape{1, 3, 144, 160});  // model A: max_resolution 128
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (auto& v : x.data) v = u(rng);
  const std::string in = (d / "large.npy").string();
  io::write_npy(in, x);
  const auto refused = radio_embed("--input " + in + outputs(d, "no"), d);
  CHECK(refused.code != 0);
  CHECK(refused.err.find("input size 144x160 exceeds the model's max_resolution 128 (pass --allow-large") != std::string::npos);
  CHECK_FALSE(fs::exists(d / "no_s.npy"));
  const auto allowed = radio_embed("--input " + in + " --allow-large" + outputs(d, "yes") + " --quiet", d);
  INFO(allowed.err);
  REQUIRE(allowed.code == 0);
  CHECK(features(d, "yes").shape == Shape{1, 9 * 10, 64});
  const HostTensor s = summary(d, "yes");
  CHECK(std::all_of(s.data.begin(), s.data.end(), [](float v) { return std::isfinite(v); }));
}

TEST_CASE("--input-list runs every listed input (comments, blank lines, trailing spaces skipped)") {
  const auto d = testing::cli_scratch("cli_options", "list");
  const std::string npy = kModel + "/input_rect48x80.npy", png = write_picture(d, "pic.png", 64, 48, 4);
  std::ofstream(d / "list.txt") << "# inputs\n" << npy << "\n\n" << png << "  \n";
  const auto r = radio_embed("--input-list " + (d / "list.txt").string() + " --out-dir " + (d / "out").string() + " --quiet", d);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(std::distance(fs::directory_iterator(d / "out"), fs::directory_iterator()) == 4);
  // The same as running each input alone.
  for (const auto& [input, stem] : {std::pair{npy, std::string("input_rect48x80")}, std::pair{png, std::string("pic")}}) {
    const auto one = radio_embed("--input " + input + outputs(d, stem) + " --quiet", d);
    REQUIRE(one.code == 0);
    same(io::read_npy((d / "out" / (stem + ".summary.npy")).string()), summary(d, stem));
    same(io::read_npy((d / "out" / (stem + ".features.npy")).string()), features(d, stem));
  }
}

TEST_CASE("--preprocess hf follows the snapshot's preprocessor_config.json") {
  const auto d = testing::cli_scratch("cli_options", "hf");
  // A snapshot folder: model A's files plus a CLIPImageProcessor config written by the test.
  const fs::path model = d / "model";
  fs::create_directories(model);
  fs::copy_file(kModel + "/config.json", model / "config.json");
  fs::create_symlink(kModel + "/model.safetensors", model / "model.safetensors");
  auto hf = [&](const std::string& json, const std::string& input, const std::string& tag) {
    std::ofstream(model / "preprocessor_config.json") << json;
    fs::create_directories(d / tag);
    return testing::run_radio_embed("--model " + model.string() + " --preprocess hf --input " + input + " --dump-input " + (d / tag).string() +
                                        outputs(d, tag),
                                    d);
  };
  SECTION("center crop and rescale_factor (no resize: size equals the image)") {
    const auto px = picture(80, 48, 5);
    io::write_png((d / "p.png").string(), 80, 48, px.data());
    const auto r = hf(R"({"image_processor_type": "CLIPImageProcessor", "do_resize": true, "size": {"height": 48, "width": 80},
                         "resample": 3, "do_center_crop": true, "crop_size": {"height": 32, "width": 48}, "do_rescale": true,
                         "rescale_factor": 0.0078125, "do_normalize": true, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})",
                      (d / "p.png").string(), "crop");
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find("do_normalize; not applied") != std::string::npos);
    const HostTensor dump = io::read_npy((d / "crop" / "p.input.npy").string());
    REQUIRE(dump.shape == Shape{1, 3, 32, 48});
    bool all_equal = true;  // rows 8..39, columns 16..63 of the image, / 128 (not / 255)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 48; ++x)
          all_equal = all_equal && dump.data[std::size_t((c * 32 + y) * 48 + x)] == float(px[std::size_t(((y + 8) * 80 + x + 16) * 3 + c)]) / 128.0f;
    CHECK(all_equal);
    CHECK(features(d, "crop").shape == Shape{1, 2 * 3, 64});
  }
  SECTION("resize to size with the configured filter, instead of the torch path's nearest supported size") {
    const std::string png = write_picture(d, "q.png", 100, 60, 6);
    const std::string cfg = R"({"do_resize": true, "size": {"height": 48, "width": 80}, "resample": RS, "do_center_crop": false})";
    auto with = [&](const char* rs) {
      std::string c = cfg;
      c.replace(c.find("RS"), 2, rs);
      return c;
    };
    const auto bicubic = hf(with("3"), png, "bicubic"), bilinear = hf(with("2"), png, "bilinear");
    INFO(bicubic.err << bilinear.err);
    REQUIRE(bicubic.code == 0);
    REQUIRE(bilinear.code == 0);
    const HostTensor a = io::read_npy((d / "bicubic" / "q.input.npy").string()), b = io::read_npy((d / "bilinear" / "q.input.npy").string());
    CHECK(a.shape == Shape{1, 3, 48, 80});  // torch path: 64x96
    CHECK(b.shape == Shape{1, 3, 48, 80});
    CHECK(a.data != b.data);  // the filter is followed
    CHECK(features(d, "bicubic").shape == Shape{1, 3 * 5, 64});
  }
  SECTION("no preprocessor_config.json: a clear error") {
    const auto r = testing::run_radio_embed("--model " + model.string() + " --preprocess hf --input " + write_picture(d, "n.png", 32, 32, 7) +
                                                outputs(d, "none"),
                                            d);
    CHECK(r.code != 0);
    CHECK(r.err.find("--preprocess hf needs preprocessor_config.json in the model folder") != std::string::npos);
  }
}

TEST_CASE("--backend reference --precision bf16 runs the 16-bit oracle: a bf16-sized error, within its bound; tf32 is refused") {
  const auto d = testing::cli_scratch("cli_options", "reference_bf16");
  const std::string in = kModel + "/input_sq128.npy";
  const auto h = radio_embed("--backend reference --precision bf16 --input " + in + " --out " + (d / "h.safetensors").string() + " --quiet", d);
  INFO(h.err);
  REQUIRE(h.code == 0);
  io::SafeTensors sh((d / "h.safetensors").string());
  CHECK(sh.metadata().at("precision") == "bf16");
  double err = 0;
  testing::worst_ratio(sh.to_float(sh.at("input_sq128/features")), io::read_npy(kModel + "/sq128/spatial_features.npy"), {1.0f, 0.0f}, &err);
  std::printf("radio-embed reference bf16: max |bf16 - PyTorch fp32| %.2e\n", err);
  CHECK(err > 1e-3);  // fp32 agrees to ~2e-6
  CHECK(err <= 6e-2);  // tests/test_reference_16bit.cpp's bf16 bound

  const auto bad = radio_embed("--backend reference --precision tf32 --input " + in + outputs(d, "bad"), d);
  CHECK(bad.code != 0);
  CHECK(bad.err == "radio-embed: error: reference backend: precision tf32 is not supported (supported: fp32, bf16, fp16)\n");
  CHECK_FALSE(fs::exists(d / "bad_s.npy"));
}

// ---- Vulkan (ctest cli_options_vulkan: `--needs vulkan [vulkan]`) ----

TEST_CASE("--backend vulkan --device 0 runs on the device and matches the goldens; --device 7 is a clear error", "[vulkan]") {
  const auto d = testing::cli_scratch("cli_options", "vulkan_device");
  const std::string in = kModel + "/input_rect48x80.npy";
  const auto ok = radio_embed("--backend vulkan --device 0 --input " + in + " --out " + (d / "all.safetensors").string() + " --quiet", d);
  INFO(ok.err);
  REQUIRE(ok.code == 0);
  io::SafeTensors st((d / "all.safetensors").string());
  CHECK(st.metadata().at("backend") == "vulkan");
  CHECK(st.metadata().at("precision") == "fp32");
  const testing::Tolerance bound{float(testing::vulkan_fixture_max_abs_error), 0.0f};
  VIT_CHECK_CLOSE(st.to_float(st.at("input_rect48x80/features")), io::read_npy(kModel + "/rect48x80/spatial_features.npy"), bound);

  const auto bad = radio_embed("--backend vulkan --device 7 --input " + in + outputs(d, "bad"), d);
  CHECK(bad.code != 0);
  CHECK(bad.err.find("radio-embed: error: vulkan: device index 7 out of range (devices: 0: ") == 0);
  CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
  CHECK_FALSE(fs::exists(d / "bad_s.npy"));
}

TEST_CASE("--backend vulkan --precision fp16 computes in fp16: an fp16-sized difference from fp32, within the fp16 bound", "[vulkan]") {
  const auto d = testing::cli_scratch("cli_options", "vulkan_fp16");
  const std::string in = kModel + "/input_sq128.npy";
  const auto h = radio_embed("--backend vulkan --precision fp16 --input " + in + " --out " + (d / "h.safetensors").string() + " --quiet", d);
  const auto f = radio_embed("--backend vulkan --precision fp32 --input " + in + " --out " + (d / "f.safetensors").string() + " --quiet", d);
  INFO(h.err << f.err);
  REQUIRE(h.code == 0);
  REQUIRE(f.code == 0);
  io::SafeTensors sh((d / "h.safetensors").string()), sf((d / "f.safetensors").string());
  CHECK(sh.metadata().at("precision") == "fp16");
  const HostTensor fh = sh.to_float(sh.at("input_sq128/features")), ff = sf.to_float(sf.at("input_sq128/features"));
  const HostTensor golden = io::read_npy(kModel + "/sq128/spatial_features.npy");
  double diff = 0, err = 0;
  testing::worst_ratio(fh, ff, {1.0f, 0.0f}, &diff);
  testing::worst_ratio(fh, golden, {1.0f, 0.0f}, &err);
  std::printf("radio-embed vulkan fp16: max |fp16 - fp32| %.2e, max |fp16 - PyTorch| %.2e\n", diff, err);
  CHECK(diff > 1e-4);  // fp32 paths agree to ~1e-6
  CHECK(err <= 2e-2);  // tests/vulkan/test_vulkan_fp16.cpp's fixture bound
}
