// Image inputs found by fuzz/fuzz_image.cpp (kept in tests/data/fuzz/). Both hit bugs inside
// Debian's stb_image 2.27 (libstb), not in vit: load_image must still end in a clean vit::Error.
// With the unsanitized system libstb the out-of-bounds write of the first one is invisible here;
// the fuzz target (stb compiled with ASan/UBSan) is what shows it. See docs/robustness.md.
#include <catch2/catch.hpp>

#include <string>

#include "vit/io/image.hpp"

namespace {
std::string fuzz_file(const std::string& name) { return std::string(VIT_TEST_DATA_DIR) + "/fuzz/" + name; }
}  // namespace

TEST_CASE("fuzz regression: a JPEG DHT segment with more than 256 codes is refused") {
  // stb 2.27 does not check that the 16 code-length counts sum to <= 256 (fixed in 2.28), so
  // stbi__build_huffman writes past stbi__huffman::size[257] before failing.
  // The second file starts with a 0xFF fill byte before the SOI marker (stb skips it).
  for (const char* name : {"jpeg-dht-over-256-codes.jpg", "jpeg-dht-over-256-codes-fill-byte.jpg"}) {
    INFO(name);
    CHECK_THROWS_AS(vit::io::load_image(fuzz_file(name)), vit::Error);
  }
}

TEST_CASE("fuzz regression: a PNM header with a 50-digit width is refused") {
  // stbi__pnm_getinteger overflows a signed int (UB); load_image then sees a negative width.
  try {
    vit::io::load_image(fuzz_file("pnm-integer-overflow.ppm"));
    FAIL("load_image accepted a PNM with an overflowing width");
  } catch (const vit::Error& e) {
    CHECK(e.kind() == vit::ErrorKind::format);
  }
}

TEST_CASE("fuzz regression: a PNG with an empty IDAT chunk is refused") {
  // stb 2.27 stbi__getn calls memcpy(NULL, p, 0) for the zero-length IDAT (UBSan nonnull).
  CHECK_THROWS_AS(vit::io::load_image(fuzz_file("png-empty-idat-memcpy-null.png")), vit::Error);
}
