// libFuzzer target: encoded image bytes -> vit::io::load_image (include/vit/io/image.hpp), then
// to_tensor(). stb_image is compiled into this target (with the sanitizers) rather than taken
// from the system libstb, so its reads and writes are checked too. Any outcome other than an
// image or a vit::Error is a finding. load_image rejects the inputs that hit the known stb_image
// 2.27 bugs (include/vit/io/image_guard.hpp) before stb sees them, so nothing is skipped here.
// stb is built with only the formats image.hpp documents (PNG, JPEG, BMP, TGA): the system libstb
// also decodes PNM/PSD/GIF/HDR/PIC by magic, and its PNM parser has a signed overflow (found here,
// tests/data/fuzz/pnm-integer-overflow.ppm); define VIT_FUZZ_IMAGE_ALL_FORMATS to fuzz them all.
#ifndef VIT_FUZZ_IMAGE_ALL_FORMATS
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#endif
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#undef STB_IMAGE_IMPLEMENTATION
#undef STB_IMAGE_WRITE_IMPLEMENTATION

#include <cstdlib>

#include "fuzz_file.hpp"
#include "vit/io/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vit::fuzz::MemFile f(data, size);
  try {
    vit::io::ImageLimits limits;
    limits.max_pixels = std::int64_t(1) << 18;  // 256 K pixels: keeps each input fast under ASan
    vit::io::Image img = vit::io::load_image(f.path(), limits);
    if (img.width <= 0 || img.height <= 0 || img.rgb.size() != std::size_t(img.width) * std::size_t(img.height) * 3) std::abort();
    vit::HostTensor t = img.to_tensor();
    for (float v : t.data)
      if (!(v >= 0.0f && v <= 1.0f)) std::abort();
  } catch (const vit::Error&) {
  }
  return 0;
}
