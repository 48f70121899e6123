// Image inputs found by fuzz/fuzz_image.cpp (kept in tests/data/fuzz/). They hit bugs inside
// Debian's stb_image 2.27 (libstb), not in vit; include/vit/io/image_guard.hpp now refuses them
// before stb sees them, with a clean vit::Error that says why. See docs/robustness.md.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "vit/io/image.hpp"

namespace {
std::string fuzz_file(const std::string& name) { return std::string(VIT_TEST_DATA_DIR) + "/fuzz/" + name; }

void expect_refused(const std::string& path, const std::string& needle, vit::io::ImageLimits limits = {}) {
  try {
    vit::io::load_image(path, limits);
    FAIL(path << " was accepted");
  } catch (const vit::Error& e) {
    INFO(e.what());
    CHECK(e.kind() == vit::ErrorKind::format);
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
  }
}

std::string write_file(const std::string& name, const std::vector<unsigned char>& bytes) {
  std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  return path;
}

void put_be32(std::vector<unsigned char>& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
}
void put_le(std::vector<unsigned char>& b, std::uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

// A PNG header without pixel data: signature, IHDR (8-bit RGB; CRCs left zero, stb does not check
// them), IEND. `cgbi` puts Apple's CgBI chunk first, which stb skips.
std::vector<unsigned char> png_header(std::uint32_t w, std::uint32_t h, bool cgbi = false) {
  std::vector<unsigned char> b{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (cgbi) {
    put_be32(b, 4);
    b.insert(b.end(), {'C', 'g', 'B', 'I', 0x50, 0x00, 0x20, 0x06, 0, 0, 0, 0});
  }
  put_be32(b, 13);
  b.insert(b.end(), {'I', 'H', 'D', 'R'});
  put_be32(b, w);
  put_be32(b, h);
  b.insert(b.end(), {8, 2, 0, 0, 0, 0, 0, 0, 0});
  put_be32(b, 0);
  b.insert(b.end(), {'I', 'E', 'N', 'D', 0, 0, 0, 0});
  return b;
}

// A JPEG header without scan data: SOI, an APP1 segment holding `app1` (after a 0xFF fill byte),
// a baseline SOF0 of w x h, EOI.
std::vector<unsigned char> jpeg_header(std::uint16_t w, std::uint16_t h, const std::vector<unsigned char>& app1 = {}) {
  std::vector<unsigned char> b{0xff, 0xd8, 0xff, 0xff, 0xe1};
  const std::size_t len = app1.size() + 2;  // a segment's length counts its own two bytes
  for (unsigned char c : {static_cast<unsigned char>(len >> 8), static_cast<unsigned char>(len & 0xff)}) b.push_back(c);
  for (unsigned char c : app1) b.push_back(c);
  for (unsigned char c : {0xff, 0xc0, 0, 17, 8, h >> 8, h & 0xff, w >> 8, w & 0xff, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 0xff, 0xd9})
    b.push_back(c);
  return b;
}

// A 24-bit BMP (BITMAPINFOHEADER) of w x h; h < 0 is a top-down image. `rows` are the pixel rows
// as stored (BGR, each padded to 4 bytes); empty for a header only.
std::vector<unsigned char> bmp(std::int32_t w, std::int32_t h, const std::vector<unsigned char>& rows = {}) {
  std::vector<unsigned char> b{'B', 'M'};
  put_le(b, std::uint32_t(54 + rows.size()), 4);
  put_le(b, 0, 4);
  put_le(b, 54, 4);  // pixel data offset
  put_le(b, 40, 4);  // header size
  put_le(b, std::uint32_t(w), 4);
  put_le(b, std::uint32_t(h), 4);
  put_le(b, 1, 2);   // planes
  put_le(b, 24, 2);  // bits per pixel
  put_le(b, 0, 4);   // no compression
  put_le(b, std::uint32_t(rows.size()), 4);
  for (int i = 0; i < 4; ++i) put_le(b, 0, 4);
  b.insert(b.end(), rows.begin(), rows.end());
  return b;
}

// An RLE TGA header (type 10, 24-bit) of w x h without pixel data.
std::vector<unsigned char> tga_rle_header(std::uint16_t w, std::uint16_t h) {
  std::vector<unsigned char> b(18, 0);
  b[2] = 10;
  b[12] = static_cast<unsigned char>(w & 0xff);
  b[13] = static_cast<unsigned char>(w >> 8);
  b[14] = static_cast<unsigned char>(h & 0xff);
  b[15] = static_cast<unsigned char>(h >> 8);
  b[16] = 24;
  return b;
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
  return write_file(name, b);
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

TEST_CASE("oversized images are refused from their header, in every format, with one message") {
  const std::string cap = "expected at most 268435456 pixels";  // ImageLimits' default, 16384 x 16384
  // stb's own info call refuses sides over 2^24 as "unknown image type"; ours reads the header.
  expect_refused(write_file("vit-huge.png", png_header(100000, 100000)), "image is 100000x100000 (10000000000 pixels), " + cap);
  expect_refused(write_file("vit-huge-cgbi.png", png_header(100000, 100000, true)), "image is 100000x100000 (10000000000 pixels), " + cap);
  expect_refused(write_file("vit-huge.jpg", jpeg_header(65535, 65535)), "image is 65535x65535 (4294836225 pixels), " + cap);
  expect_refused(write_file("vit-huge.bmp", bmp(100000, 100000)), "image is 100000x100000 (10000000000 pixels), " + cap);
  expect_refused(write_file("vit-huge-top-down.bmp", bmp(100000, -100000)), "image is 100000x100000 (10000000000 pixels), " + cap);
  expect_refused(write_file("vit-huge-rle.tga", tga_rle_header(65535, 65535)), "image is 65535x65535 (4294836225 pixels), " + cap);
  expect_refused(write_tga("vit-huge.tga", 65535, 65535, 0), "image is 65535x65535 (4294836225 pixels), " + cap);
}

TEST_CASE("the caller's pixel limit is checked from the header, without decoding") {
  // Header only, no pixel data: a decoder would fail with "corrupt image", so the size message
  // shows the refusal came first.
  const std::string png = write_file("vit-16384.png", png_header(16384, 16384));
  vit::io::ImageLimits small;
  small.max_pixels = std::int64_t(1) << 20;
  const auto t0 = std::chrono::steady_clock::now();
  expect_refused(png, "image is 16384x16384 (268435456 pixels), expected at most 1048576 pixels", small);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  // The same check for every format.
  expect_refused(write_file("vit-4096.jpg", jpeg_header(4096, 512)), "image is 4096x512 (2097152 pixels), expected at most 1048576 pixels", small);
  expect_refused(write_file("vit-4096.bmp", bmp(4096, -512)), "image is 4096x512 (2097152 pixels), expected at most 1048576 pixels", small);
  expect_refused(write_file("vit-4096.tga", tga_rle_header(4096, 512)), "image is 4096x512 (2097152 pixels), expected at most 1048576 pixels", small);
}

TEST_CASE("read_image_header gives the size without decoding") {
  using vit::io::ImageFormat;
  using vit::io::read_image_header;
  auto h = read_image_header(write_file("vit-hdr.png", png_header(16384, 16384)));
  CHECK((h.format == ImageFormat::png && h.width == 16384 && h.height == 16384));
  h = read_image_header(write_file("vit-hdr-cgbi.png", png_header(300, 200, true)));
  CHECK((h.format == ImageFormat::png && h.width == 300 && h.height == 200));
  h = read_image_header(write_file("vit-hdr.jpg", jpeg_header(640, 480)));
  CHECK((h.format == ImageFormat::jpeg && h.width == 640 && h.height == 480));
  h = read_image_header(write_file("vit-hdr.bmp", bmp(7, -5)));
  CHECK((h.format == ImageFormat::bmp && h.width == 7 && h.height == 5));
  h = read_image_header(write_file("vit-hdr.tga", tga_rle_header(9, 4)));
  CHECK((h.format == ImageFormat::tga && h.width == 9 && h.height == 4));
  // The size is the SOF segment's, found by walking the segments: FF C0 bytes inside an APP
  // segment are data, not a frame header.
  const std::vector<unsigned char> fake_sof{0xff, 0xc0, 0, 17, 8, 0xff, 0xff, 0xff, 0xff, 3};
  h = read_image_header(write_file("vit-hdr-fake-sof.jpg", jpeg_header(640, 480, fake_sof)));
  CHECK((h.width == 640 && h.height == 480));
  // A JPEG without a frame header before its scan or its end.
  expect_refused(write_file("vit-no-sof.jpg", {0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xd9}), "no frame header");
}

TEST_CASE("zero and out-of-range sides are refused from the header") {
  // stb refuses sides over 2^24 (STBI_MAX_DIMENSIONS); so does the header check, even when the
  // pixel count is within the limit.
  expect_refused(write_file("vit-tall.png", png_header(1, 20000000)), "image is 1x20000000 (20000000 pixels), expected 1 to 16777216 pixels per side");
  expect_refused(write_file("vit-empty.png", png_header(0, 5)), "image is 0x5 (0 pixels), expected 1 to 16777216 pixels per side");
  expect_refused(write_file("vit-empty.jpg", jpeg_header(5, 0)), "image is 5x0 (0 pixels), expected 1 to 16777216 pixels per side");
  expect_refused(write_file("vit-negative.bmp", bmp(-4, 4)), "corrupt BMP: negative width -4");
  expect_refused(write_file("vit-int-min.bmp", bmp(4, INT32_MIN)), "image is 4x2147483648");
  std::vector<unsigned char> cut = png_header(10, 10);
  cut.resize(20);
  expect_refused(write_file("vit-short.png", cut), "truncated PNG: the chunk at byte 8 declares 13 bytes of data, the file ends 4 bytes after its header");
}

TEST_CASE("a caller's limit beyond what stb decodes acts as stb's limit, with the same message") {
  // 32768 x 32768 RGB: 2^30 pixels; stb's own header check refuses it ("too large").
  vit::io::ImageLimits big;
  big.max_pixels = std::int64_t(1) << 31;
  expect_refused(write_file("vit-2g.png", png_header(32768, 32768)), "image is 32768x32768 (1073741824 pixels), expected at most 268435456 pixels", big);
}

TEST_CASE("a top-down BMP (negative height) loads, rows in order") {
  // 3 x 2, 24-bit BGR rows padded to 12 bytes. Top-down: the first stored row is the top row.
  const std::vector<unsigned char> top{0, 0, 255, 0, 255, 0, 255, 0, 0, 0, 0, 0};         // red, green, blue
  const std::vector<unsigned char> bottom{10, 20, 30, 40, 50, 60, 70, 80, 90, 0, 0, 0};  // (30,20,10), ...
  std::vector<unsigned char> down = top, up = bottom;
  down.insert(down.end(), bottom.begin(), bottom.end());
  up.insert(up.end(), top.begin(), top.end());
  vit::io::Image a = vit::io::load_image(write_file("vit-top-down.bmp", bmp(3, -2, down)));
  vit::io::Image b = vit::io::load_image(write_file("vit-bottom-up.bmp", bmp(3, 2, up)));
  REQUIRE((a.width == 3 && a.height == 2));
  CHECK(a.rgb == std::vector<std::uint16_t>{255, 0, 0, 0, 255, 0, 0, 0, 255, 30, 20, 10, 60, 50, 40, 90, 80, 70});
  CHECK(a.rgb == b.rgb);
}

TEST_CASE("files without the pixel data their header declares are refused, not decoded as zeros") {
  // stb 2.27 reads zeros past the end of a BMP and accepts a JPEG without a scan: a 54-byte BMP
  // or a 41-byte JPEG would decode as 8000 x 6000 pixels.
  expect_refused(write_file("vit-no-rows.bmp", bmp(8000, 6000)), "truncated BMP: header says 144000054 bytes, file has 54");
  expect_refused(write_file("vit-short-rows.bmp", bmp(3, 2, std::vector<unsigned char>(12, 0))), "truncated BMP: header says 78 bytes, file has 66");
  expect_refused(write_file("vit-no-scan.jpg", jpeg_header(8000, 6000)), "corrupt JPEG: no image data (no SOS segment)");
  std::vector<unsigned char> short_header = bmp(3, 2);
  short_header.resize(40);
  expect_refused(write_file("vit-short-header.bmp", short_header), "truncated BMP: header says 54 bytes, file has 40");
}

TEST_CASE("fuzz regression: a PNG chunk longer than the file is refused before stb allocates it") {
  // Found by scripts/fuzz.sh: stb 2.27 grows its IDAT buffer to the declared chunk length before
  // reading it, so this 253-byte file made it allocate 2 GiB (libFuzzer out-of-memory).
  expect_refused(std::string(VIT_TEST_DATA_DIR) + "/bad/images/png-chunk-past-end-oom.png", "truncated PNG: the chunk at byte");
}
