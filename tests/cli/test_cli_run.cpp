// The built radio-embed binary, end to end, on the bundled fixture model A (patch 16, D 64).
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "vit/io/image.hpp"
#include "vit/io/npy.hpp"
#include "vit/io/safetensors.hpp"
#include "vit/models/radio/model.hpp"

#ifndef RADIO_EMBED_BIN
#error "RADIO_EMBED_BIN must name the radio-embed executable"
#endif

using namespace vit;
namespace fs = std::filesystem;

namespace {

const std::string kModel = std::string(VIT_TEST_DATA_DIR) + "/radio/A";

fs::path scratch(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("vit_cli_run_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

struct Result {
  int code;
  std::string err, out;
};

// Runs radio-embed with `args`; captures stdout and stderr.
Result radio_embed(const std::string& args, const fs::path& dir) {
  const std::string out = (dir / "stdout.txt").string(), err = (dir / "stderr.txt").string();
  const std::string cmd = std::string(RADIO_EMBED_BIN) + " --model " + kModel + " " + args + " >" + out + " 2>" + err;
  int rc = std::system(cmd.c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  };
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(err), slurp(out)};
}

// An RGB test picture with smooth content.
std::vector<std::uint8_t> picture(int w, int h, int seed) {
  std::vector<std::uint8_t> px(std::size_t(w * h * 3));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        px[std::size_t((y * w + x) * 3 + c)] = std::uint8_t((x * (3 + c) + y * (5 - c) + seed * 40 + ((x / 7 + y / 5) % 2) * 60) % 256);
  return px;
}

void same(const HostTensor& a, const HostTensor& b) {
  REQUIRE(a.shape == b.shape);
  CHECK(a.data == b.data);
}

}  // namespace

TEST_CASE("an image run matches the .npy path on the same pixels exactly") {
  fs::path d = scratch("same_pixels");
  auto px = picture(80, 48, 1);  // multiples of 16: no resize
  io::write_png((d / "pic.png").string(), 80, 48, px.data());
  io::Image img = io::load_image((d / "pic.png").string());
  io::write_npy((d / "pic_npy.npy").string(), img.to_tensor());

  Result a = radio_embed("--input " + (d / "pic.png").string() + " --summary " + (d / "a_s.npy").string() + " --features " + (d / "a_f.npy").string(), d);
  REQUIRE(a.code == 0);
  Result b = radio_embed("--input " + (d / "pic_npy.npy").string() + " --summary " + (d / "b_s.npy").string() + " --features " + (d / "b_f.npy").string(), d);
  REQUIRE(b.code == 0);
  same(io::read_npy((d / "a_s.npy").string()), io::read_npy((d / "b_s.npy").string()));
  same(io::read_npy((d / "a_f.npy").string()), io::read_npy((d / "b_f.npy").string()));
  CHECK(io::read_npy((d / "a_s.npy").string()).shape == Shape{1, 192});
  CHECK(io::read_npy((d / "a_f.npy").string()).shape == Shape{1, 15, 64});
}

TEST_CASE("an .npy input of two images gets one PCA picture per image, named by index") {
  fs::path d = scratch("pca_batch");
  auto px = picture(80, 48, 1);  // multiples of 16: no resize
  io::write_png((d / "pic.png").string(), 80, 48, px.data());
  HostTensor one = io::load_image((d / "pic.png").string()).to_tensor(), two(Shape{2, 3, 48, 80});
  std::copy(one.data.begin(), one.data.end(), two.data.begin());
  std::copy(one.data.begin(), one.data.end(), two.data.begin() + std::ptrdiff_t(one.data.size()));
  io::write_npy((d / "pair.npy").string(), two);
  Result r = radio_embed("--input " + (d / "pair.npy").string() + " --features " + (d / "f.npy").string() + " --pca-dir " + (d / "pca").string(), d);
  INFO(r.err);
  REQUIRE(r.code == 0);
  for (const char* name : {"pair.0.pca.png", "pair.1.pca.png"}) {
    INFO(name);
    io::Image pca = io::load_image((d / "pca" / name).string());
    CHECK((pca.width == 80 && pca.height == 48));
  }
  CHECK_FALSE(fs::exists(d / "pca" / "pair.pca.png"));
}

TEST_CASE("a folder run: resize, --batch, --out-dir, --out safetensors, nchw, PCA pictures") {
  fs::path d = scratch("folder");
  fs::create_directories(d / "in");
  auto p1 = picture(100, 60, 1), p2 = picture(100, 60, 2), p3 = picture(40, 72, 3);
  io::write_png((d / "in" / "one.png").string(), 100, 60, p1.data());
  io::write_jpeg((d / "in" / "two.jpg").string(), 100, 60, p2.data());
  io::write_png((d / "in" / "three.png").string(), 40, 72, p3.data());

  Result r = radio_embed((d / "in").string() + " --batch 2 --layout nchw --out-dir " + (d / "npy").string() + " --pca-dir " + (d / "pca").string() + " --quiet", d);
  INFO(r.err);
  REQUIRE(r.code == 0);
  // 100x60 -> 96x64 (round(6.25)=6, round(3.75)=4); 40x72 -> 64x32 (round(4.5)=4, round(2.5)=2)
  CHECK(io::read_npy((d / "npy" / "one.features.npy").string()).shape == Shape{1, 64, 4, 6});
  CHECK(io::read_npy((d / "npy" / "three.features.npy").string()).shape == Shape{1, 64, 4, 2});
  CHECK(io::read_npy((d / "npy" / "two.summary.npy").string()).shape == Shape{1, 192});
  io::Image pca = io::load_image((d / "pca" / "three.pca.png").string());
  CHECK((pca.width == 40 && pca.height == 72));
  CHECK(r.out.find("one.png\t64x96\t") != std::string::npos);  // stdout: input, HxW, outputs

  // Batched forwards give the per-image results (batch 2 grouped one+two; unbatched here).
  Result s = radio_embed((d / "in").string() + " --out " + (d / "all.safetensors").string(), d);
  REQUIRE(s.code == 0);
  io::SafeTensors st((d / "all.safetensors").string());
  HostTensor f1 = st.to_float(st.at("one/features"));
  HostTensor want = vit::models::radio::to_nchw(f1, 4, 6);
  HostTensor got = io::read_npy((d / "npy" / "one.features.npy").string());
  REQUIRE(got.shape == want.shape);
  for (std::size_t i = 0; i < got.data.size(); ++i) REQUIRE(got.data[i] == Approx(want.data[i]).margin(1e-5));
  CHECK(st.metadata().at("backend") == "reference");
  CHECK(st.metadata().at("precision") == "fp32");
  CHECK(st.metadata().at("version") == "c-radio_v3-b");
  CHECK(st.metadata().at("library").rfind("vit ", 0) == 0);
  CHECK(st.metadata().at("resolution").find("three:64x32") != std::string::npos);
}

TEST_CASE("bad inputs are reported one line each; the others still run; nothing partial is left") {
  fs::path d = scratch("bad");
  fs::create_directories(d / "in");
  auto px = picture(32, 32, 1);
  io::write_png((d / "in" / "good.png").string(), 32, 32, px.data());
  { std::ofstream(d / "in" / "empty.png"); }
  { std::ofstream(d / "in" / "junk.jpg") << "definitely not a jpeg"; }
  Result r = radio_embed((d / "in").string() + " " + (d / "missing.png").string() + " --out-dir " + (d / "out").string(), d);
  CHECK(r.code != 0);
  CHECK(fs::exists(d / "out" / "good.summary.npy"));
  CHECK_FALSE(fs::exists(d / "out" / "empty.summary.npy"));
  CHECK_FALSE(fs::exists(d / "out" / "junk.features.npy"));
  CHECK(r.err.find("radio-embed: error: " + (d / "in" / "empty.png").string() + ": empty file") != std::string::npos);
  CHECK(r.err.find("junk.jpg: unsupported image format") != std::string::npos);
  CHECK(r.err.find("missing.png: no such file or folder") != std::string::npos);
  CHECK(r.err.find("3 of 4 inputs failed") != std::string::npos);
  for (const auto& e : fs::directory_iterator(d / "out")) CHECK(e.path().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("single-input errors: one stderr line, non-zero exit, no output file") {
  fs::path d = scratch("single");
  const std::string outs = " --summary " + (d / "s.npy").string() + " --features " + (d / "f.npy").string();
  // A .npy that is not a multiple of the patch.
  io::write_npy((d / "odd.npy").string(), HostTensor(Shape{1, 3, 20, 32}));
  // A truncated checkpoint.
  fs::create_directories(d / "cut");
  fs::copy_file(kModel + "/config.json", d / "cut" / "config.json");
  {
    std::ifstream in(kModel + "/model.safetensors", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(d / "cut" / "model.safetensors", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  const std::string input = std::string(VIT_TEST_DATA_DIR) + "/radio/A/input_sq128.npy";
  struct Case {
    std::string args, expect;
  };
  for (const Case& c : {Case{"--input " + (d / "odd.npy").string() + outs, "multiples of the patch size 16, got 20x32"},
                        Case{"--input " + input + outs + " --resolution 100x100", "--resolution 100x100: height and width must be multiples"},
                        Case{"--input " + input + outs + " --threads many", "--threads: expected an integer"},
                        Case{"--input " + input + " --input " + input + outs, "write one input's results, but 2 inputs"}}) {
    Result r = radio_embed(c.args, d);
    INFO(c.args << "\n" << r.err);
    CHECK(r.code != 0);
    CHECK(r.err.find("radio-embed: error: ") == 0);
    CHECK(r.err.find(c.expect) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(d / "s.npy"));
    CHECK_FALSE(fs::exists(d / "f.npy"));
  }
  const std::string cut = std::string(RADIO_EMBED_BIN) + " --model " + (d / "cut").string() + " --input " + input + outs + " 2>" + (d / "e.txt").string();
  CHECK(std::system(cut.c_str()) != 0);
  std::ifstream e(d / "e.txt");
  std::string line;
  std::getline(e, line);
  CHECK(line.find("radio-embed: error: " + (d / "cut" / "model.safetensors").string()) == 0);
  CHECK_FALSE(fs::exists(d / "s.npy"));
}

TEST_CASE("--write-config, --bench's last line, --pca with a saved basis") {
  fs::path d = scratch("misc");
  Result w = radio_embed("--write-config " + (d / "a.json").string(), d);
  REQUIRE(w.code == 0);
  std::ifstream cfg(d / "a.json");
  std::string text((std::istreambuf_iterator<char>(cfg)), {});
  CHECK(text.find("\"format_version\": 1") != std::string::npos);
  // The written config runs (random weights) and produces outputs of the same shapes.
  const std::string input = std::string(VIT_TEST_DATA_DIR) + "/radio/A/input_rect48x80.npy";
  const std::string cmd = std::string(RADIO_EMBED_BIN) + " --model " + (d / "a.json").string() + " --input " + input + " --summary " +
                          (d / "rs.npy").string() + " >/dev/null";
  CHECK(std::system(cmd.c_str()) == 0);
  CHECK(io::read_npy((d / "rs.npy").string()).shape == Shape{1, 192});

  Result b = radio_embed("--input " + input + " --summary " + (d / "s.npy").string() + " --bench 3 --pca " + (d / "p.png").string() +
                             " --pca-basis-save " + (d / "basis.safetensors").string(),
                         d);
  REQUIRE(b.code == 0);
  std::string last = b.err.substr(b.err.rfind('\n', b.err.size() - 2) + 1);
  CHECK(last.rfind("forward: median ", 0) == 0);
  CHECK(last.find(" ms over 3 runs") != std::string::npos);
  io::Image p = io::load_image((d / "p.png").string());
  CHECK((p.width == 80 && p.height == 48));
  Result l = radio_embed("--input " + input + " --pca " + (d / "q.png").string() + " --pca-basis-load " + (d / "basis.safetensors").string(), d);
  REQUIRE(l.code == 0);
  CHECK(io::load_image((d / "q.png").string()).rgb == p.rgb);  // same features, same basis, same picture
}

TEST_CASE("--streams: several forwards over one set of weights give the serial results") {
  fs::path d = scratch("streams");
  fs::create_directories(d / "in");
  for (int i = 0; i < 6; ++i) {
    auto px = picture(64 + 16 * (i % 2), 48, i);
    io::write_png((d / "in" / ("p" + std::to_string(i) + ".png")).string(), 64 + 16 * (i % 2), 48, px.data());
  }
  const std::vector<std::string> backends{
#ifdef VIT_HAS_CPU_BACKEND
      "cpu",
#endif
      "reference"};
  for (const std::string& backend : backends) {
    INFO(backend);
    // cpu: --threads 1 serially == one thread per stream (the same arithmetic, bit for bit)
    Result serial = radio_embed((d / "in").string() + " --backend " + backend + " --threads 1 --out-dir " + (d / "serial").string() + " --quiet", d);
    REQUIRE(serial.code == 0);
    Result streams = radio_embed((d / "in").string() + " --backend " + backend + " --threads 3 --streams 3 --out-dir " + (d / "streams").string() +
                                     " --quiet",
                                 d);
    INFO(streams.err);
    REQUIRE(streams.code == 0);
    for (int i = 0; i < 6; ++i)
      for (const char* part : {".summary.npy", ".features.npy"}) {
        const std::string name = "p" + std::to_string(i) + part;
        same(io::read_npy((d / "streams" / name).string()), io::read_npy((d / "serial" / name).string()));
      }
    fs::remove_all(d / "serial");
    fs::remove_all(d / "streams");
  }
}
