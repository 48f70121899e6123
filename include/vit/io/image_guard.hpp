// Checks run on image bytes before stb_image sees them. Debian bookworm's stb_image 2.27 decodes
// many formats by content (PNM, PSD, GIF, HDR, PIC too, whatever the file is called) and has
// known memory bugs on hostile input (found by fuzz/fuzz_image.cpp, regression inputs in
// tests/data/fuzz/). check_image_bytes() admits only the four documented formats, identified by
// their first bytes, and rejects the inputs that trigger those bugs:
//   - a JPEG DHT segment whose 16 code counts sum to more than 256 (stb writes past its Huffman
//     tables; fixed upstream in stb_image 2.28),
//   - a zero-length PNG IDAT chunk (stb calls memcpy with a null pointer),
//   - an uncompressed TGA shorter than its header says (stb would accept it and read zeros).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "vit/error.hpp"

namespace vit::io::detail {

enum class ImageFormat { png, jpeg, bmp, tga };

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

// The image's format from its first bytes (TGA, which has no magic, only with a .tga name and a
// plausible header); throws a format error for anything else or for the known-bad inputs above.
inline ImageFormat check_image_bytes(std::span<const std::byte> bytes, bool tga_name, const std::string& path) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const std::size_t n = bytes.size();
  auto bad = [&](const std::string& what) { fail(ErrorKind::format, path + ": " + what); };
  static const std::uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (n >= 8 && std::equal(png_magic, png_magic + 8, p)) {
    if (has_empty_png_idat(p, n)) bad("corrupt PNG: zero-length IDAT chunk");
    return ImageFormat::png;
  }
  if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
    if (has_oversized_jpeg_dht(p, n)) bad("corrupt JPEG: a Huffman table (DHT) declares more than 256 codes");
    return ImageFormat::jpeg;
  }
  if (n >= 2 && p[0] == 'B' && p[1] == 'M') return ImageFormat::bmp;
  if (tga_name && n >= 18) {
    const int cmap_type = p[1], type = p[2];
    const bool known = type == 1 || type == 2 || type == 3 || type == 9 || type == 10 || type == 11;
    if (cmap_type <= 1 && known) {
      if (type <= 3) {  // uncompressed: the pixel data has a known size
        const std::uint64_t w = p[12] | std::uint64_t(p[13]) << 8, h = p[14] | std::uint64_t(p[15]) << 8, bpp = p[16];
        const std::uint64_t cmap = cmap_type ? (p[5] | std::uint64_t(p[6]) << 8) * ((p[7] + 7u) / 8u) : 0;
        const std::uint64_t need = 18 + p[0] + cmap + w * h * ((bpp + 7) / 8);
        if (need > n) bad("truncated TGA: header says " + std::to_string(need) + " bytes, file has " + std::to_string(n));
      }
      return ImageFormat::tga;
    }
  }
  bad("unsupported image format (expected PNG, JPEG, BMP or TGA, identified by its first bytes)");
  return ImageFormat::png;  // not reached
}

}  // namespace vit::io::detail
