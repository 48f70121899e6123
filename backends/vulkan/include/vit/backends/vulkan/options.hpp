// Options of the Vulkan backend.
#pragma once

namespace vit::vulkan {

struct Options {
  int device = -1;          // -1: $VIT_VULKAN_DEVICE (index or name substring) or the first device
  bool fp16 = false;        // fp16 arithmetic (not implemented yet: throws ErrorKind::unsupported)
  bool validation = false;  // Khronos validation layer; any message it reports becomes a vit::Error
  bool verbose = false;     // print the chosen device and driver to stderr
};

}  // namespace vit::vulkan
