// Known stb_image 2.27 bug (Debian bookworm's libstb-dev): a JPEG DHT segment whose 16 code-length
// counts sum to more than 256 is not rejected, so stbi__build_huffman and the value copy in
// stbi__process_marker write past stbi__huffman::size[257] / values[256] (found by fuzz_image;
// fixed upstream in stb_image 2.28 by "if (n > 256) return stbi__err(...)").
// has_oversized_jpeg_dht() finds every FF C4 in the bytes and replays stb's DHT loop from there;
// the fuzz harness uses it to skip inputs that hit this known bug so fuzzing can go on.
// It over-approximates (a stray FF C4 inside APP data counts), which is right for a harness.
// Second known bug: a zero-length PNG IDAT chunk makes stbi__getn call memcpy(NULL, p, 0) (UB,
// benign in practice); has_empty_png_idat() skips those inputs.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vit::fuzz {

inline bool has_oversized_jpeg_dht(const std::uint8_t* p, std::size_t n) {
  // No SOI check: stb skips 0xFF fill bytes, so "FF FF D8" is a JPEG to it too.
  for (std::size_t i = 0; i + 3 < n; ++i) {
    if (p[i] != 0xff || p[i + 1] != 0xc4) continue;
    long len = long(p[i + 2]) << 8 | p[i + 3];
    len -= 2;
    std::size_t at = i + 4;
    while (len > 0 && at < n) {  // stb's loop: class/id byte, 16 counts, values; stb reads 0 past the end
      int sum = 0;
      for (std::size_t k = 1; k <= 16; ++k) sum += at + k < n ? p[at + k] : 0;
      if (sum > 256) return true;
      at += 17 + std::size_t(sum);
      len -= 17 + sum;
    }
  }
  return false;
}

inline bool has_empty_png_idat(const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 4; i + 4 <= n; ++i)
    if (p[i] == 'I' && p[i + 1] == 'D' && p[i + 2] == 'A' && p[i + 3] == 'T' && !p[i - 4] && !p[i - 3] && !p[i - 2] && !p[i - 1])
      return true;
  return false;
}

}  // namespace vit::fuzz
