// Image inputs found by fuzz/fuzz_image.cpp (kept in tests/data/fuzz/). They hit bugs inside
// Debian's stb_image 2.27 (libstb), not in vit; include/vit/io/image_guard.hpp now refuses them
// before stb sees them, with a clean vit::Error that says why. See docs/robustness.md.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "vit/io/image.hpp"

namespace {
std::string fuzz_file(const std::string& name) { return std::string(VIT_TEST_DATA_DIR) + "/fuzz/" + name; }

void expect_refused(const std::string& path, const std::string& needle) {
  try {
    vit::io::load_image(path);
    FAIL(path << " was accepted");
  } catch (const vit::Error& e) {
    INFO(e.what());
    CHECK(e.kind() == vit::ErrorKind::format);
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
  }
}

// An uncompressed 24-bit TGA of w x h with `pixel_bytes` bytes of pixel data.
std::string write_tga(const std::string& name, int w, int h, std::size_t pixel_bytes) {
  std::vector<unsigned char> b(18, 0);
  b[2] = 2;
  b[12] = static_cast<unsigned char>(w & 0xff);
  b[13] = static_cast<unsigned char>(w >> 8);
  b[14] = static_cast<unsigned char>(h & 0xff);
  b[15] = static_cast<unsigned char>(h >> 8);
  b[16] = 24;
  for (std::size_t i = 0; i < pixel_bytes; ++i) b.push_back(static_cast<unsigned char>(i * 7));
  std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  return path;
}
}  // namespace

TEST_CASE("fuzz regression: a JPEG DHT segment with more than 256 codes is refused") {
  // stb 2.27 does not check that the 16 code-length counts sum to <= 256 (fixed in 2.28), so
  // stbi__build_huffman writes past stbi__huffman::size[257] before failing.
  // The second file starts with a 0xFF fill byte before the SOI marker (stb skips it).
  expect_refused(fuzz_file("jpeg-dht-over-256-codes.jpg"), "more than 256 codes");
  // The second file starts with a 0xFF fill byte before the SOI marker (stb would skip it).
  expect_refused(fuzz_file("jpeg-dht-over-256-codes-fill-byte.jpg"), "unsupported image format");
}

TEST_CASE("fuzz regression: a PNM header with a 50-digit width is refused") {
  // stbi__pnm_getinteger overflows a signed int (UB): PNM is not a supported format, so stb's
  // PNM decoder is never reached.
  expect_refused(fuzz_file("pnm-integer-overflow.ppm"), "unsupported image format");
}

TEST_CASE("fuzz regression: a PNG with an empty IDAT chunk is refused") {
  // stb 2.27 stbi__getn calls memcpy(NULL, p, 0) for the zero-length IDAT (UBSan nonnull).
  expect_refused(fuzz_file("png-empty-idat-memcpy-null.png"), "zero-length IDAT");
}

TEST_CASE("a TGA shorter than its header says is refused; a complete one loads") {
  expect_refused(write_tga("vit-truncated.tga", 2310, 1057, 16), "truncated TGA");
  vit::io::Image img = vit::io::load_image(write_tga("vit-complete.tga", 3, 2, 3 * 2 * 3));
  CHECK(img.width == 3);
  CHECK(img.height == 2);
  // Without the .tga name the same bytes are not taken as an image (TGA has no magic).
  std::string other = (std::filesystem::temp_directory_path() / "vit-complete.bin").string();
  std::filesystem::copy_file(write_tga("vit-complete2.tga", 3, 2, 18), other, std::filesystem::copy_options::overwrite_existing);
  expect_refused(other, "unsupported image format");
}
