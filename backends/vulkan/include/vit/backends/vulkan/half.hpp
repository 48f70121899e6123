// Weights stored in fp16 on the host (vit::float_to_f16: round to nearest even), two per word.
#pragma once
#include <cstdint>
#include <cstring>

#include "vit/dtype.hpp"
#include "vit/tensor.hpp"

namespace vit::vulkan::detail {

// t's values as halves, two per 4-byte word of the result (numel rounded up to even).
inline HostTensor to_half_words(const HostTensor& t) {
  const std::int64_t n = t.shape.numel();
  HostTensor out(Shape{(n + 1) / 2});
  std::vector<std::uint16_t> h(std::size_t(n + 1), 0);
  for (std::int64_t i = 0; i < n; ++i) h[std::size_t(i)] = float_to_f16(t.data[std::size_t(i)]);
  std::memcpy(out.data.data(), h.data(), std::size_t(out.shape.numel()) * 4);
  return out;
}

}  // namespace vit::vulkan::detail
