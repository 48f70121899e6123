// Checks run on image bytes before stb_image sees them. Debian bookworm's stb_image 2.27 decodes
// many formats by content (PNM, PSD, GIF, HDR, PIC too, whatever the file is called) and has
// known memory bugs on hostile input (found by fuzz/fuzz_image.cpp, regression inputs in
// tests/data/fuzz/). check_image_bytes() admits only the four documented formats, identified by
// their first bytes, rejects the inputs that trigger those bugs and returns the image's size as
// its header declares it (PNG IHDR, JPEG SOFn found by walking the segments, BMP info header,
// TGA header), so that the size can be checked before anything is decoded:
//   - a JPEG DHT segment whose 16 code counts sum to more than 256 (stb writes past its Huffman
//     tables; fixed upstream in stb_image 2.28),
//   - a zero-length PNG IDAT chunk (stb calls memcpy with a null pointer),
//   - a PNG chunk longer than the rest of the file (stb allocates the declared length first),
//   - an uncompressed TGA or BMP shorter than its header says, a JPEG without a scan (stb would
//     accept them and decode zeros; check_image_data(), run after the size check).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "vit/error.hpp"

namespace vit::io {

enum class ImageFormat { png, jpeg, bmp, tga };

// An image's format and size in pixels as its header declares them, read without decoding. A
// top-down BMP's negative height is given as its absolute value.
struct ImageHeader {
  ImageFormat format = ImageFormat::png;
  std::int64_t width = 0, height = 0;
};

// The largest side stb_image 2.27 decodes (its STBI_MAX_DIMENSIONS); larger ones it refuses.
inline constexpr std::int64_t max_image_side = std::int64_t(1) << 24;

namespace detail {

// True if a DHT segment (FF C4) holds a table with more than 256 codes. Replays stb's DHT loop
// from every FF C4 (over-approximates: a stray FF C4 in APP data counts too, which only rejects).
inline bool has_oversized_jpeg_dht(const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i + 3 < n; ++i) {
    if (p[i] != 0xff || p[i + 1] != 0xc4) continue;
    long len = (long(p[i + 2]) << 8 | p[i + 3]) - 2;
    std::size_t at = i + 4;
    while (len > 0 && at < n) {  // class/id byte, 16 counts, then the values
      int sum = 0;
      for (std::size_t k = 1; k <= 16; ++k) sum += at + k < n ? p[at + k] : 0;
      if (sum > 256) return true;
      at += 17 + std::size_t(sum);
      len -= 17 + sum;
    }
  }
  return false;
}

// True if the PNG has an IDAT chunk of length 0.
inline bool has_empty_png_idat(const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 4; i + 4 <= n; ++i)
    if (p[i] == 'I' && p[i + 1] == 'D' && p[i + 2] == 'A' && p[i + 3] == 'T' && !p[i - 4] && !p[i - 3] && !p[i - 2] && !p[i - 1])
      return true;
  return false;
}

inline std::uint32_t be16(const std::uint8_t* p) { return std::uint32_t(p[0]) << 8 | p[1]; }
inline std::uint32_t be32(const std::uint8_t* p) { return be16(p) << 16 | be16(p + 2); }
inline std::uint32_t le16(const std::uint8_t* p) { return std::uint32_t(p[1]) << 8 | p[0]; }
inline std::uint32_t le32(const std::uint8_t* p) { return le16(p + 2) << 16 | le16(p); }

// The offset of the first PNG chunk (before IEND) whose data runs past the end of the file, or 0.
// stb 2.27 sizes its IDAT buffer from the declared length before reading: a 253-byte file can
// make it allocate 2 GiB (found by fuzz/fuzz_image.cpp).
inline std::size_t png_chunk_past_end(const std::uint8_t* p, std::size_t n) {
  for (std::size_t at = 8; at + 8 <= n;) {  // each chunk: length, type, data, CRC
    const std::uint64_t len = be32(p + at);
    if (at + 8 + len > n) return at;
    if (std::equal(p + at + 4, p + at + 8, "IEND")) break;
    at += 12 + std::size_t(len);
  }
  return 0;
}

// PNG: width and height from the IHDR chunk, which comes first (after any Apple CgBI chunks,
// which stb skips).
template <class Bad>
ImageHeader png_header(const std::uint8_t* p, std::size_t n, Bad bad) {
  std::size_t at = 8;  // after the signature; each chunk: length, type, data, CRC
  while (at + 8 <= n && std::equal(p + at + 4, p + at + 8, "CgBI")) at += 12 + std::size_t(be32(p + at));
  if (at + 8 > n) bad("truncated PNG header: the file ends before the IHDR chunk");
  if (!std::equal(p + at + 4, p + at + 8, "IHDR")) bad("corrupt PNG: the first chunk is not IHDR");
  if (be32(p + at) != 13) bad("corrupt PNG: IHDR chunk of " + std::to_string(be32(p + at)) + " bytes, expected 13");
  if (at + 16 > n) bad("truncated PNG header: the file ends inside the IHDR chunk");
  return {ImageFormat::png, be32(p + at + 8), be32(p + at + 12)};
}

// JPEG: height and width from the first frame header (SOF0..SOF15 but DHT C4, JPG C8, DAC CC),
// found by walking the segments from SOI like stb does: 0xFF fill bytes before a marker are
// skipped, and so are stray bytes between segments.
template <class Bad>
ImageHeader jpeg_header(const std::uint8_t* p, std::size_t n, Bad bad) {
  std::size_t i = 2;  // after SOI
  while (i < n) {
    if (p[i] != 0xff) {
      ++i;
      continue;
    }
    while (i < n && p[i] == 0xff) ++i;
    if (i >= n) break;
    const int m = p[i++];  // the marker; a segment's length (2 bytes, counting itself) follows
    if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
      if (i + 7 > n) bad("truncated JPEG: the file ends inside the frame header (SOF)");
      return {ImageFormat::jpeg, be16(p + i + 5), be16(p + i + 3)};  // length, precision, height, width
    }
    if (m == 0xd9 || m == 0xda) bad("corrupt JPEG: no frame header (SOF) before the image data");
    if (m == 0x00 || m == 0x01 || (m >= 0xd0 && m <= 0xd8)) continue;  // markers without a length
    if (i + 2 > n) break;
    if (be16(p + i) < 2) bad("corrupt JPEG: segment length " + std::to_string(be16(p + i)) + ", expected at least 2");
    i += be16(p + i);
  }
  bad("truncated JPEG: the file ends before the frame header (SOF)");
  return {};  // not reached
}

// BMP: width and height from the info header (BITMAPCOREHEADER: 16-bit; the others stb reads:
// 32-bit signed, the height negative for a top-down image).
template <class Bad>
ImageHeader bmp_header(const std::uint8_t* p, std::size_t n, Bad bad) {
  if (n < 26) bad("truncated BMP header: " + std::to_string(n) + " bytes, expected at least 26");
  const std::uint32_t size = le32(p + 14);
  if (size == 12) return {ImageFormat::bmp, le16(p + 18), le16(p + 20)};
  if (size != 40 && size != 56 && size != 108 && size != 124)
    bad("unsupported BMP: info header of " + std::to_string(size) + " bytes (expected 12, 40, 56, 108 or 124)");
  const auto w = std::int64_t(std::int32_t(le32(p + 18))), h = std::int64_t(std::int32_t(le32(p + 22)));
  if (w < 0) bad("corrupt BMP: negative width " + std::to_string(w));
  return {ImageFormat::bmp, w, h < 0 ? -h : h};
}

// The image's format from its first bytes (TGA, which has no magic, only with a .tga name and a
// plausible header) and its size from its header; throws a format error for anything else, for
// a truncated or malformed header, or for the known-bad inputs above (but missing pixel data:
// see check_image_data).
inline ImageHeader check_image_bytes(std::span<const std::byte> bytes, bool tga_name, const std::string& path) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const std::size_t n = bytes.size();
  auto bad = [&](const std::string& what) { fail(ErrorKind::format, path + ": " + what); };
  static const std::uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (n >= 8 && std::equal(png_magic, png_magic + 8, p)) {
    if (has_empty_png_idat(p, n)) bad("corrupt PNG: zero-length IDAT chunk");
    if (const std::size_t at = png_chunk_past_end(p, n))
      bad("truncated PNG: the chunk at byte " + std::to_string(at) + " declares " + std::to_string(be32(p + at)) + " bytes of data, the file ends " +
          std::to_string(n - at - 8) + " bytes after its header");
    return png_header(p, n, bad);
  }
  if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
    if (has_oversized_jpeg_dht(p, n)) bad("corrupt JPEG: a Huffman table (DHT) declares more than 256 codes");
    return jpeg_header(p, n, bad);
  }
  if (n >= 2 && p[0] == 'B' && p[1] == 'M') return bmp_header(p, n, bad);
  if (tga_name && n >= 18) {
    const int cmap_type = p[1], type = p[2];
    const bool known = type == 1 || type == 2 || type == 3 || type == 9 || type == 10 || type == 11;
    if (cmap_type <= 1 && known) return {ImageFormat::tga, le16(p + 12), le16(p + 14)};
  }
  bad("unsupported image format (expected PNG, JPEG, BMP or TGA, identified by its first bytes)");
  return {};  // not reached
}

// Throws if the file cannot hold the pixel data its header declares, where stb would not notice
// and decode zeros instead (run after the size check, so the work stays bounded by the limits):
// an uncompressed TGA or BMP shorter than its rows, a JPEG without a scan (SOS segment).
inline void check_image_data(std::span<const std::byte> bytes, const ImageHeader& header, const std::string& path) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const std::size_t n = bytes.size();
  auto truncated = [&](const char* format, std::uint64_t need) {
    if (need > n) fail(ErrorKind::format, path + ": truncated " + format + ": header says " + std::to_string(need) + " bytes, file has " + std::to_string(n));
  };
  const auto pixels = std::uint64_t(header.width) * std::uint64_t(header.height);
  if (header.format == ImageFormat::tga && p[2] <= 3) {  // uncompressed (RLE data has no known size)
    const std::uint64_t cmap = p[1] ? le16(p + 5) * ((p[7] + 7u) / 8u) : 0;
    truncated("TGA", 18 + p[0] + cmap + pixels * ((p[16] + 7u) / 8u));
  }
  if (header.format == ImageFormat::bmp) {
    const std::uint32_t info = le32(p + 14);  // 12, 40, 56, 108 or 124 bytes (bmp_header)
    truncated("BMP", 14 + info);
    const std::uint64_t bpp = info == 12 ? le16(p + 24) : le16(p + 28);
    const std::uint32_t compression = info == 12 ? 0 : le32(p + 30);
    const std::uint64_t row = (std::uint64_t(header.width) * bpp + 31) / 32 * 4;  // rows are padded to 4 bytes
    if (compression != 1 && compression != 2) truncated("BMP", 14 + info + row * std::uint64_t(header.height));  // RLE: stb refuses it
  }
  if (header.format == ImageFormat::jpeg) {
    bool scan = false;
    for (std::size_t i = 2; i + 1 < n && !scan; ++i) scan = p[i] == 0xff && p[i + 1] == 0xda;
    if (!scan) fail(ErrorKind::format, path + ": corrupt JPEG: no image data (no SOS segment)");
  }
}

}  // namespace detail
}  // namespace vit::io
