// Options of the Vulkan backend.
#pragma once
#include <cstdint>

#include "vit/backend.hpp"

namespace vit::vulkan {

struct Options {
  int device = -1;          // -1: $VIT_VULKAN_DEVICE (index or name substring) or the first device
  // fp32, or fp16: fp16 weights, fp16 products in linear/attention, fp32 sums (docs/vulkan-backend.md);
  // needs shaderFloat16. Other precisions are refused (Backend::precisions).
  Precision precision = Precision::fp32;
  bool validation = false;  // Khronos validation layer; any message it reports becomes a vit::Error
  bool verbose = false;     // print the chosen device and driver to stderr
  // Testing aid: caps the bytes one shader binding may cover (storage-buffer range and texel-buffer
  // view) below the device's limits, so the row-chunked paths used for tensors over
  // maxStorageBufferRange / maxTexelBufferElements run on small inputs. 0: the device limits only.
  // $VIT_VULKAN_MAX_BINDING_BYTES does the same (the smaller of the two wins).
  std::uint64_t max_binding_bytes = 0;

  bool fp16() const { return precision == Precision::fp16; }
};

}  // namespace vit::vulkan
