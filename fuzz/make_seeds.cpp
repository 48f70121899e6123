// Writes the small seed corpora in fuzz/corpus/<target>/: valid files made with the project's
// own writers (and stb_image_write for images) plus hand-broken variants. Run by
// scripts/fuzz.sh --seeds; the output is committed, so it only needs re-running to change seeds.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "vit/io/npy.hpp"
#include "vit/io/safetensors.hpp"
#include "vit/models/radio/config.hpp"

namespace fs = std::filesystem;
using namespace vit;

static std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}
static void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

// Writes a valid file with `make`, then truncated and byte-flipped copies of it.
template <class F>
static void with_variants(const fs::path& dir, const std::string& stem, F make) {
  fs::path good = dir / (stem + ".valid");
  make(good.string());
  std::string s = read(good);
  write(dir / (stem + ".trunc-half"), s.substr(0, s.size() / 2));
  write(dir / (stem + ".trunc-9"), s.substr(0, std::min<std::size_t>(9, s.size())));
  std::string flip = s;
  for (std::size_t i = 0; i < flip.size(); i += 13) flip[i] = char(flip[i] ^ 0x5a);
  write(dir / (stem + ".flipped"), flip);
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const fs::path out = argv[1], repo = argv[2];
  for (auto t : {"safetensors", "npy", "config", "image"}) fs::create_directories(out / t);

  auto st = out / "safetensors";
  with_variants(st, "mixed", [](const std::string& p) {
    io::TensorToWrite a{"radio_model.model.patch_generator.pos_embed", Shape{1, 4, 2}, std::vector<float>(8, 0.5f), {}, false};
    io::TensorToWrite b{"radio_model.summary_idxs", Shape{3}, {}, {0, 1, 2}, true};
    io::TensorToWrite c{"scalar", Shape{}, {1.0f}, {}, false};
    io::TensorToWrite d{"empty", Shape{0, 3}, {}, {}, false};
    io::write_safetensors(p, {a, b, c, d}, {{"format", "pt"}});
  });
  // Half-precision dtypes, written by hand (the writer only emits F32/I64).
  {
    std::string h = R"({"h":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]}})";
    while (h.size() % 8) h += ' ';
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[std::size_t(i)] = char((h.size() >> (8 * i)) & 0xff);
    s += h;
    const unsigned char data[14] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0xff, 0x7b, 0x80, 0x3f, 0x00, 0x40, 0xc0, 0x7f};
    s.append(reinterpret_cast<const char*>(data), sizeof data);
    write(st / "half.valid", s);
    std::string overlap = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
    std::string o(8, '\0');
    for (int i = 0; i < 8; ++i) o[std::size_t(i)] = char((overlap.size() >> (8 * i)) & 0xff);
    write(st / "overlap.broken", o + overlap + std::string(8, '\0'));
    std::string huge = R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}})";
    std::string u(8, '\0');
    for (int i = 0; i < 8; ++i) u[std::size_t(i)] = char((huge.size() >> (8 * i)) & 0xff);
    write(st / "overflow.broken", u + huge + std::string(16, '\0'));
  }

  auto np = out / "npy";
  with_variants(np, "f32-2x3", [](const std::string& p) { io::write_npy(p, HostTensor(Shape{2, 3}, {1, 2, 3, 4, 5, 6})); });
  with_variants(np, "f32-scalar", [](const std::string& p) { io::write_npy(p, HostTensor(Shape{}, {7})); });
  with_variants(np, "f32-vec", [](const std::string& p) { io::write_npy(p, HostTensor(Shape{4}, {1, 2, 3, 4})); });
  auto npy_text = [](int major, const std::string& descr, const std::string& shape, std::size_t nbytes) {
    std::string h = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    std::size_t pre = major == 1 ? 10 : 12;
    h.append((64 - (pre + h.size() + 1) % 64) % 64, ' ');
    h += '\n';
    std::string s = "\x93NUMPY";
    s += char(major);
    s += '\0';
    s += char(h.size() & 0xff);
    s += char((h.size() >> 8) & 0xff);
    if (major != 1) s += std::string(2, '\0');
    return s + h + std::string(nbytes, '\x3f');
  };
  write(np / "f8-v2.valid", npy_text(2, "<f8", "(2, 2)", 32));
  write(np / "f2-v3.valid", npy_text(3, "<f2", "(3,)", 6));
  write(np / "i4.broken", npy_text(1, "<i4", "(2,)", 8));
  std::string fortran = npy_text(1, "<f4", "(2,)", 8);
  write(np / "fortran.broken", fortran.replace(fortran.find("False"), 5, "True "));
  write(np / "overflow.broken", npy_text(1, "<f4", "(999999999999999999, 999999999999999999)", 8));

  auto cf = out / "config";
  for (auto m : {"A", "C"}) write(cf / (std::string("hf-") + m + ".json"), read(repo / "tests/data/radio" / m / "config.json"));
  models::radio::Config own;
  own.name = "tiny";
  own.embed_dim = 64;
  own.num_heads = 4;
  own.depth = 2;
  own.mlp_hidden = 256;
  own.pos_grid_h = own.pos_grid_w = 8;
  write(cf / "own.json", json::dump(own.to_json()));
  write(cf / "broken-nesting.json", std::string(80, '[') + std::string(80, ']'));
  write(cf / "broken-escape.json", R"({"a": "\ud800", "b": 1e999, "c": -0, "d": 12345678901234567890})");

  auto im = out / "image";
  std::vector<unsigned char> px(8 * 6 * 3);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<unsigned char>(i * 37);
  stbi_write_png((im / "rgb.png").string().c_str(), 8, 6, 3, px.data(), 8 * 3);
  stbi_write_png((im / "gray.png").string().c_str(), 6, 4, 1, px.data(), 6);
  stbi_write_bmp((im / "rgb.bmp").string().c_str(), 8, 6, 3, px.data());
  stbi_write_tga((im / "rgb.tga").string().c_str(), 8, 6, 3, px.data());
  stbi_write_jpg((im / "rgb.jpg").string().c_str(), 8, 6, 3, px.data(), 80);
  write(im / "rgb.ppm", "P6\n4 2\n255\n" + std::string(reinterpret_cast<const char*>(px.data()), 24));
  write(im / "tiny.gif", std::string("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00;", 35));
  std::string png = read(im / "rgb.png");
  write(im / "rgb-trunc.png", png.substr(0, png.size() / 2));
  std::string jpg = read(im / "rgb.jpg");
  write(im / "rgb-trunc.jpg", jpg.substr(0, jpg.size() * 2 / 3));
  return 0;
}
