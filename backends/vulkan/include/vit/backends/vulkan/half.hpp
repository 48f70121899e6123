// fp32 -> fp16 (IEEE binary16, round to nearest even) on the host, for weights stored in fp16.
#pragma once
#include <cstdint>
#include <cstring>

#include "vit/tensor.hpp"

namespace vit::vulkan::detail {

inline std::uint16_t to_half(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000u, abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return std::uint16_t(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));  // inf, nan
  if (abs >= 0x477ff000u) return std::uint16_t(sign | 0x7c00u);  // rounds past 65504: inf
  if (abs < 0x38800000u) {  // fp16 subnormal or zero: value = m * 2^-24
    if (abs < 0x33000000u) return std::uint16_t(sign);  // below half the smallest subnormal
    const std::uint32_t e = abs >> 23, m = (abs & 0x7fffffu) | 0x800000u, shift = 126 - e;  // 14..24
    std::uint32_t h = m >> shift;
    const std::uint32_t rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1u))) ++h;
    return std::uint16_t(sign | h);
  }
  std::uint32_t h = ((abs >> 13) - (112u << 10));  // rebias exponent 127 -> 15
  const std::uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carries into the exponent correctly
  return std::uint16_t(sign | h);
}

// t's values as halves, two per 4-byte word of the result (numel rounded up to even).
inline HostTensor to_half_words(const HostTensor& t) {
  const std::int64_t n = t.shape.numel();
  HostTensor out(Shape{(n + 1) / 2});
  std::vector<std::uint16_t> h(std::size_t(n + 1), 0);
  for (std::int64_t i = 0; i < n; ++i) h[std::size_t(i)] = to_half(t.data[std::size_t(i)]);
  std::memcpy(out.data.data(), h.data(), std::size_t(out.shape.numel()) * 4);
  return out;
}

}  // namespace vit::vulkan::detail
