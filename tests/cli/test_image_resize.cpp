// Image decoding (stb) and resizing against values computed independently: the torch formula
// written out here in double precision, and numbers printed by PyTorch 1.13 / PIL 9.4.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "vit/io/image.hpp"
#include "vit/io/resize.hpp"

using namespace vit;

namespace {

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("vit_cli_image_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

// torch's bilinear (align_corners=False) for one output sample, written out in double.
double torch_bilinear_at(const std::vector<double>& in, int ih, int iw, int oh, int ow, int oy, int ox) {
  auto src = [](int i, int o, int d) {
    double s = double(i) / o * (d + 0.5) - 0.5;
    return s < 0 ? 0.0 : s;
  };
  const double sy = src(ih, oh, oy), sx = src(iw, ow, ox);
  const int y0 = std::min(int(sy), ih - 1), x0 = std::min(int(sx), iw - 1);
  const int y1 = std::min(y0 + 1, ih - 1), x1 = std::min(x0 + 1, iw - 1);
  const double ly = std::min(sy - y0, 1.0), lx = std::min(sx - x0, 1.0);
  auto at = [&](int y, int x) { return in[std::size_t(y * iw + x)]; };
  return (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
}

// A 16-bit PNG written by hand (stored, uncompressed deflate blocks), to test stbi_load_16.
std::vector<unsigned char> png16(int w, int h, int channels, const std::vector<std::uint16_t>& samples) {
  auto crc32 = [](const unsigned char* p, std::size_t n, std::uint32_t c = 0xffffffffu) {
    for (std::size_t i = 0; i < n; ++i) {
      c ^= p[i];
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c;
  };
  std::vector<unsigned char> raw;
  for (int y = 0; y < h; ++y) {
    raw.push_back(0);  // filter: none
    for (int x = 0; x < w * channels; ++x) {
      std::uint16_t v = samples[std::size_t(y * w * channels + x)];
      raw.push_back(std::uint8_t(v >> 8));
      raw.push_back(std::uint8_t(v & 0xff));
    }
  }
  std::vector<unsigned char> z{0x78, 0x01};
  std::uint32_t a = 1, b = 0;
  for (unsigned char ch : raw) {
    a = (a + ch) % 65521;
    b = (b + a) % 65521;
  }
  for (std::size_t off = 0; off < raw.size() || off == 0; off += 65535) {
    std::size_t n = std::min<std::size_t>(65535, raw.size() - off);
    z.push_back(off + n >= raw.size() ? 1 : 0);
    z.push_back(std::uint8_t(n & 0xff));
    z.push_back(std::uint8_t(n >> 8));
    z.push_back(std::uint8_t(~n & 0xff));
    z.push_back(std::uint8_t((~n >> 8) & 0xff));
    z.insert(z.end(), raw.begin() + std::ptrdiff_t(off), raw.begin() + std::ptrdiff_t(off + n));
    if (off + n >= raw.size()) break;
  }
  std::uint32_t ad = (b << 16) | a;
  for (int s = 24; s >= 0; s -= 8) z.push_back(std::uint8_t(ad >> s));

  std::vector<unsigned char> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto be32 = [](std::vector<unsigned char>& v, std::uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(std::uint8_t(x >> s));
  };
  auto chunk = [&](const char* type, const std::vector<unsigned char>& data) {
    be32(png, std::uint32_t(data.size()));
    std::vector<unsigned char> body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    png.insert(png.end(), body.begin(), body.end());
    be32(png, crc32(body.data(), body.size()) ^ 0xffffffffu);
  };
  std::vector<unsigned char> ihdr;
  be32(ihdr, std::uint32_t(w));
  be32(ihdr, std::uint32_t(h));
  ihdr.insert(ihdr.end(), {16, std::uint8_t(channels == 1 ? 0 : channels == 3 ? 2 : 6), 0, 0, 0});
  chunk("IHDR", ihdr);
  chunk("IDAT", z);
  chunk("IEND", {});
  return png;
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  io::AtomicFile f(path);
  f.write(bytes.data(), bytes.size());
  f.commit();
}

}  // namespace

TEST_CASE("nearest supported resolution rounds like Python (half to even), at least one patch") {
  using io::nearest_supported_resolution;
  CHECK(nearest_supported_resolution(200, 300, 16) == std::pair{192, 304});
  CHECK(nearest_supported_resolution(8, 8, 16) == std::pair{16, 16});
  CHECK(nearest_supported_resolution(24, 40, 16) == std::pair{32, 32});  // round(1.5) = 2, round(2.5) = 2
  CHECK(nearest_supported_resolution(56, 72, 16) == std::pair{64, 64});  // round(3.5) = 4, round(4.5) = 4
  CHECK(nearest_supported_resolution(1, 512, 16) == std::pair{16, 512});
  CHECK(nearest_supported_resolution(21, 35, 14) == std::pair{28, 28});  // patch 14: round(1.5)=2, round(2.5)=2
  CHECK(io::round_half_even(-0.5) == 0);
  CHECK(io::round_half_even(-1.5) == -2);
}

TEST_CASE("resize_bilinear follows torch's formula") {
  const int ih = 7, iw = 11;
  HostTensor x(Shape{1, 2, ih, iw});
  for (std::size_t i = 0; i < x.data.size(); ++i) x.data[i] = float(std::sin(double(i) * 0.37) * 0.5 + 0.5);
  for (auto [oh, ow] : {std::pair{5, 9}, std::pair{16, 13}, std::pair{7, 11}, std::pair{1, 3}, std::pair{32, 48}}) {
    HostTensor y = io::resize_bilinear(x, oh, ow);
    REQUIRE(y.shape == Shape{1, 2, oh, ow});
    double worst = 0;
    for (int c = 0; c < 2; ++c) {
      std::vector<double> plane(x.data.begin() + c * ih * iw, x.data.begin() + (c + 1) * ih * iw);
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox)
          worst = std::max(worst, std::abs(y.data[std::size_t((c * oh + oy) * ow + ox)] - torch_bilinear_at(plane, ih, iw, oh, ow, oy, ox)));
    }
    INFO(oh << "x" << ow);
    CHECK(worst < 2e-6);
  }
}

TEST_CASE("resize_bilinear and resize_bicubic match PyTorch's F.interpolate") {
  HostTensor x(Shape{1, 1, 3, 4}, {0.0f, 0.25f, 0.5f, 1.0f, 0.75f, 0.1f, 0.9f, 0.3f, 0.2f, 0.6f, 0.4f, 0.8f});
  // torch 1.13: F.interpolate(x, size, mode, align_corners=False)
  const std::vector<float> bilinear_up{0.00000000f, 0.12500000f, 0.29166669f, 0.45833334f, 0.75000006f, 1.00000000f, 0.30000001f, 0.24500000f,
                                       0.26833335f, 0.58166671f, 0.69000000f, 0.71999997f, 0.74999994f, 0.42500001f, 0.23333338f, 0.76666665f,
                                       0.59999990f, 0.30000004f, 0.41999996f, 0.41000000f, 0.43333337f, 0.56666666f, 0.60000002f, 0.60000002f,
                                       0.20000000f, 0.40000001f, 0.56666666f, 0.43333334f, 0.60000008f, 0.80000001f};
  const std::vector<float> bilinear_down{0.19166666f, 0.40625003f, 0.78750002f, 0.36041668f, 0.50000000f, 0.65000004f};
  const std::vector<float> bicubic_up{-0.10120137f, 0.07771252f, 0.31138930f, 0.38656905f, 0.78288764f, 1.11976933f, 0.34577373f, 0.19300632f,
                                      0.21744543f, 0.61122137f, 0.74199361f, 0.69250405f, 0.80642372f, 0.35000002f, 0.16880803f, 0.82598394f,
                                      0.67500001f, 0.24791689f, 0.47366735f, 0.40996251f, 0.42276424f, 0.59471518f, 0.61053771f, 0.54976702f,
                                      0.10372784f, 0.42535010f, 0.64037973f, 0.36012048f, 0.57225013f, 0.89105552f};
  const std::vector<float> bicubic_down{0.18346129f, 0.38396612f, 0.79999590f, 0.36890444f, 0.50399172f, 0.64356500f};
  auto check_all = [](const HostTensor& got, const std::vector<float>& want) {
    REQUIRE(got.data.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got.data[i] == Approx(want[i]).margin(1e-6));
  };
  check_all(io::resize_bilinear(x, 5, 6), bilinear_up);
  check_all(io::resize_bilinear(x, 2, 3), bilinear_down);
  check_all(io::resize_bicubic(x, 5, 6), bicubic_up);
  check_all(io::resize_bicubic(x, 2, 3), bicubic_down);
}

TEST_CASE("pil_resize matches PIL's Image.resize on 8-bit RGB exactly") {
  const std::vector<std::uint8_t> in{255, 228, 34,  121, 243, 189, 6,   131, 102, 168, 82,  193, 187, 150, 81,  243, 205, 24,  236, 8,   246,
                                     164, 231, 36,  210, 111, 172, 210, 174, 176, 218, 242, 169, 114, 205, 63,  160, 47,  212, 79,  72,  112,
                                     120, 222, 69,  31,  95,  108, 36,  109, 238, 69,  51,  81,  228, 211, 202, 58,  202, 65,  76,  70,  193,
                                     104, 42,  250, 209, 164, 2,   44,  178, 140, 98,  2,   243, 21,  50,  29,  14,  7,   53,  50,  151, 221,
                                     46,  60,  230, 192, 164, 156, 127, 214, 154, 194, 195, 137, 72,  153, 74,  209, 58,  76,  105, 84,  10};
  // PIL 9.4: Image.fromarray(in 5x7).resize((4, 3), BICUBIC / BILINEAR)
  const std::vector<std::uint8_t> bicubic{189, 214, 98, 131, 155, 165, 182, 169, 107, 189, 82, 147, 117, 153, 99, 90, 111, 169,
                                          126, 138, 125, 63,  108, 146, 126, 103, 172, 131, 174, 146, 91, 88, 92, 97, 78, 78};
  const std::vector<std::uint8_t> bilinear{186, 207, 103, 133, 157, 157, 175, 160, 110, 185, 86, 147, 117, 152, 105, 92, 118, 163,
                                           126, 138, 126, 75,  108, 142, 127, 107, 171, 130, 168, 146, 94, 95, 93, 99, 79, 83};
  CHECK(io::pil_resize(in, 7, 5, 4, 3, io::PilFilter::bicubic) == bicubic);
  CHECK(io::pil_resize(in, 7, 5, 4, 3, io::PilFilter::bilinear) == bilinear);
  // Upscaling to 9x8 (first row of PIL's output; bicubic overshoot is clipped to [0, 255]).
  const std::vector<std::uint8_t> up_row{255, 226, 27, 170, 253, 146, 41, 203, 155, 13, 108, 109, 164, 70, 195,
                                         187, 128, 109, 226, 205, 18, 253, 153, 84, 248, 0, 255};
  auto up = io::pil_resize(in, 7, 5, 9, 8, io::PilFilter::bicubic);
  CHECK(std::vector<std::uint8_t>(up.begin(), up.begin() + 27) == up_row);
}

TEST_CASE("gray and RGBA images become RGB like PIL's convert('RGB')") {
  const int w = 5, h = 3;
  std::vector<std::uint8_t> gray(w * h), rgba(w * h * 4);
  for (int i = 0; i < w * h; ++i) {
    gray[std::size_t(i)] = std::uint8_t(i * 17);
    for (int c = 0; c < 4; ++c) rgba[std::size_t(i * 4 + c)] = std::uint8_t(i * 13 + c * 50);
  }
  const std::string gp = temp_path("gray.png"), ap = temp_path("rgba.png");
  REQUIRE(stbi_write_png(gp.c_str(), w, h, 1, gray.data(), w) != 0);
  REQUIRE(stbi_write_png(ap.c_str(), w, h, 4, rgba.data(), w * 4) != 0);
  io::Image g = io::load_image(gp), a = io::load_image(ap);
  REQUIRE((g.width == w && g.height == h && g.bit_depth == 8 && a.width == w && a.height == h));
  for (int i = 0; i < w * h; ++i)
    for (int c = 0; c < 3; ++c) {
      CHECK(g.rgb[std::size_t(i * 3 + c)] == gray[std::size_t(i)]);
      CHECK(a.rgb[std::size_t(i * 3 + c)] == rgba[std::size_t(i * 4 + c)]);
    }
  HostTensor t = a.to_tensor();
  REQUIRE(t.shape == Shape{1, 3, h, w});
  CHECK(t.data[std::size_t(1 * w * h + 2)] == float(rgba[2 * 4 + 1]) / 255.0f);  // channel 1, pixel 2
}

TEST_CASE("16-bit PNGs keep their 16 bits (stbi_load_16)") {
  const int w = 3, h = 2;
  std::vector<std::uint16_t> rgb16{0, 1, 65535, 256, 257, 32768, 1000, 2000, 3000, 40000, 50000, 60000, 12345, 54321, 7, 65534, 2, 3};
  const std::string p = temp_path("deep.png");
  write_bytes(p, png16(w, h, 3, rgb16));
  io::Image img = io::load_image(p);
  REQUIRE((img.width == w && img.height == h && img.bit_depth == 16));
  CHECK(img.rgb == rgb16);
  HostTensor t = img.to_tensor();
  CHECK(t.data[0 * 6 + 1] == 256.0f / 65535.0f);   // red of pixel 1
  CHECK(t.data[2 * 6 + 0] == 65535.0f / 65535.0f);  // blue of pixel 0

  std::vector<std::uint16_t> g16{0, 300, 65535, 1, 2, 40000};
  const std::string gp = temp_path("deep_gray.png");
  write_bytes(gp, png16(w, h, 1, g16));
  io::Image g = io::load_image(gp);
  REQUIRE(g.bit_depth == 16);
  for (int i = 0; i < w * h; ++i)
    for (int c = 0; c < 3; ++c) CHECK(g.rgb[std::size_t(i * 3 + c)] == g16[std::size_t(i)]);
}

TEST_CASE("unreadable images give one-line format errors naming the file") {
  const std::string empty = temp_path("empty.png"), junk = temp_path("junk.jpg"), cut = temp_path("cut.png");
  write_bytes(empty, {});
  write_bytes(junk, {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
  std::vector<std::uint8_t> px(32 * 32 * 3, 77);
  std::vector<unsigned char> png;
  stbi_write_png_to_func([](void* c, void* d, int n) { auto* v = static_cast<std::vector<unsigned char>*>(c); v->insert(v->end(), (unsigned char*)d, (unsigned char*)d + n); },
                         &png, 32, 32, 3, px.data(), 96);
  png.resize(png.size() / 2);
  write_bytes(cut, png);
  for (const auto& p : {empty, junk, cut}) {
    try {
      io::load_image(p);
      FAIL("no error for " << p);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::format);
      CHECK(std::string(e.what()).find(p) != std::string::npos);
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
  }
  CHECK_THROWS_AS(io::load_image(temp_path("absent.png")), Error);
}
