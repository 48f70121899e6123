// Entry points of the optional GPU backends, each compiled in its own translation unit
// (backend_cuda.cu with nvcc, backend_vulkan.cpp) only when that backend was built.
#pragma once
#include "options.hpp"

namespace radio_embed {

int run_cuda(const Options& opt);    // backend_cuda.cu, in the module radio-embed-cuda.so: VIT_RADIO_EMBED_CUDA
int run_vulkan(const Options& opt);  // backend_vulkan.cpp: VIT_RADIO_EMBED_VULKAN

}  // namespace radio_embed
