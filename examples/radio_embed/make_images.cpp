// radio-make-images: draws the project's own test pictures (shapes, gradients, rings), so that
// samples and benchmarks need no third-party images.
//
//   radio-make-images --samples DIR               the bundled samples (assets/samples)
//   radio-make-images --out DIR --count N --size S [--format png|jpg]
//                                                 N varied S x S pictures (benchmarks)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "vit/io/image.hpp"

namespace {

struct Canvas {
  int w, h, comp;
  std::vector<std::uint8_t> px;
  Canvas(int w_, int h_, int comp_ = 3) : w(w_), h(h_), comp(comp_), px(std::size_t(w_) * std::size_t(h_) * std::size_t(comp_), 0) {}
  void set(int x, int y, float r, float g, float b, float a = 1.0f) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    std::uint8_t* p = &px[(std::size_t(y) * std::size_t(w) + std::size_t(x)) * std::size_t(comp)];
    auto q = [](float v) { return std::uint8_t(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f)); };
    if (comp == 1) {
      p[0] = q(0.299f * r + 0.587f * g + 0.114f * b);
      return;
    }
    p[0] = q(r);
    p[1] = q(g);
    p[2] = q(b);
    if (comp == 4) p[3] = q(a);
  }
};

// A seeded scene: a diagonal gradient sky, a few discs and boxes, concentric rings.
Canvas scene(int w, int h, unsigned seed, int comp = 3) {
  Canvas c(w, h, comp);
  auto rnd = [&seed]() {
    seed = seed * 1664525u + 1013904223u;
    return float(seed >> 8) / float(1u << 24);
  };
  const float hue = rnd();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float u = float(x) / float(w), v = float(y) / float(h);
      c.set(x, y, 0.3f + 0.5f * u * hue, 0.4f + 0.4f * v, 0.8f - 0.5f * u * v, 0.2f + 0.8f * u);
    }
  const int shapes = 3 + int(rnd() * 4);
  for (int s = 0; s < shapes; ++s) {
    const float cx = rnd() * float(w), cy = rnd() * float(h), r = (0.08f + 0.2f * rnd()) * float(std::min(w, h));
    const float cr = rnd(), cg = rnd(), cb = rnd();
    const bool disc = rnd() < 0.5f;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const float dx = float(x) - cx, dy = float(y) - cy;
        const bool in = disc ? dx * dx + dy * dy < r * r : std::abs(dx) < r && std::abs(dy) < 0.6f * r;
        if (in) c.set(x, y, cr, cg, cb, 1.0f);
      }
  }
  const float rx = rnd() * float(w), ry = rnd() * float(h), period = 6.0f + 10.0f * rnd();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float d = std::hypot(float(x) - rx, float(y) - ry);
      if (d < 0.25f * float(std::min(w, h)) && std::fmod(d, period) < period / 2) c.set(x, y, 0.95f, 0.9f, 0.2f, 0.7f);
    }
  return c;
}

void save(const std::string& path, const Canvas& c) {
  const bool jpg = path.size() > 4 && path.substr(path.size() - 4) == ".jpg";
  std::vector<unsigned char> bytes;
  auto append = [](void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<unsigned char>*>(ctx);
    v->insert(v->end(), static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + size);
  };
  const int ok = jpg ? stbi_write_jpg_to_func(append, &bytes, c.w, c.h, c.comp, c.px.data(), 90)
                     : stbi_write_png_to_func(append, &bytes, c.w, c.h, c.comp, c.px.data(), c.w * c.comp);
  if (!ok) vit::fail(vit::ErrorKind::io, path + ": encoding failed");
  vit::io::AtomicFile f(path);
  f.write(bytes.data(), bytes.size());
  f.commit();
  std::printf("%s\n", path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string samples, out, format = "jpg";
    int count = 8, size = 512;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) vit::fail(vit::ErrorKind::argument, a + ": missing value");
        return argv[++i];
      };
      if (a == "--samples") samples = next();
      else if (a == "--out") out = next();
      else if (a == "--count") count = std::stoi(next());
      else if (a == "--size") size = std::stoi(next());
      else if (a == "--format") format = next();
      else vit::fail(vit::ErrorKind::argument, "unknown option '" + a + "' (use --samples DIR or --out DIR --count N --size S)");
    }
    if (samples.empty() == out.empty()) vit::fail(vit::ErrorKind::argument, "give exactly one of --samples DIR or --out DIR");
    if (count < 1 || size < 1 || size > 8192 || (format != "jpg" && format != "png"))
      vit::fail(vit::ErrorKind::argument, "--count >= 1, --size in [1, 8192], --format png|jpg");
    const std::string dir = samples.empty() ? out : samples;
    std::filesystem::create_directories(dir);
    if (!samples.empty()) {
      // Sizes chosen so that the bundled 128-pixel model takes them without --allow-large, and
      // so that three of them exercise the resize (120x88 -> 128x96, 100x100 -> 96x96).
      save(dir + "/shapes.png", scene(128, 96, 1));
      save(dir + "/rings.jpg", scene(120, 88, 7));
      save(dir + "/gray_tiles.png", scene(100, 100, 3, 1));
      save(dir + "/rgba_blobs.png", scene(112, 128, 11, 4));
    } else {
      for (int i = 0; i < count; ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "/img_%03d.%s", i, format.c_str());
        save(dir + name, scene(size, size, unsigned(100 + i)));
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "radio-make-images: error: %s\n", e.what());
    return 1;
  }
}
