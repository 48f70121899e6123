// Image files in and out, through stb (Debian libstb-dev: include <stb/stb_image.h>, link libstb;
// this header only declares, it never defines STB_IMAGE_IMPLEMENTATION).
//
// load_image(path)   PNG, JPEG, BMP, TGA (checked by image_guard.hpp before stb decodes), 8 or 16 bits per sample,
//                    converted to RGB like PIL's Image.convert('RGB'): gray is replicated, alpha
//                    is dropped. Pixels stay integers (Image::rgb, interleaved HWC).
// Image::to_tensor() [1, 3, H, W] fp32 = sample / 255 (8-bit) or / 65535 (16-bit), computed in
//                    fp32 like torchvision's pil_to_tensor(img).float() / 255.
// write_png / write_jpeg  8-bit RGB, written atomically (temporary file + rename).
#pragma once
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "vit/io/file.hpp"
#include "vit/io/image_guard.hpp"
#include "vit/tensor.hpp"

namespace vit::io {

// A decoded RGB image: rgb holds height*width*3 samples (row-major, interleaved), each in
// [0, 255] (bit_depth 8) or [0, 65535] (bit_depth 16).
struct Image {
  int width = 0, height = 0;
  int bit_depth = 8;
  std::vector<std::uint16_t> rgb;

  float max_value() const { return bit_depth == 16 ? 65535.0f : 255.0f; }

  // [1, 3, H, W] planar fp32 in [0, 1].
  HostTensor to_tensor() const {
    HostTensor t(Shape{1, 3, height, width});
    const std::size_t plane = std::size_t(width) * std::size_t(height);
    const float m = max_value();
    for (std::size_t i = 0; i < plane; ++i)
      for (std::size_t c = 0; c < 3; ++c) t.data[c * plane + i] = float(rgb[i * 3 + c]) / m;
    return t;
  }

  // 8-bit samples (16-bit images keep their high byte, like stb's and PIL's 16 -> 8 conversion).
  std::vector<std::uint8_t> to_u8() const {
    std::vector<std::uint8_t> out(rgb.size());
    for (std::size_t i = 0; i < rgb.size(); ++i) out[i] = std::uint8_t(bit_depth == 16 ? rgb[i] >> 8 : rgb[i]);
    return out;
  }
};

// File name extensions the folder walk treats as images (lower case, with the dot).
inline bool has_image_extension(const std::filesystem::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".bmp" || e == ".tga";
}

struct ImageLimits {
  std::int64_t max_pixels = std::int64_t(1) << 28;  // 268 M pixels (16384 x 16384)
};

inline Image load_image(const std::string& path, ImageLimits limits = {}) {
  MappedFile f(path);  // names the file in open errors; stb decodes from the mapping
  auto bytes = f.bytes();
  if (bytes.empty()) fail(ErrorKind::format, path + ": empty file (expected a PNG, JPEG, BMP or TGA image)");
  check(bytes.size() <= std::size_t(INT32_MAX), ErrorKind::format, path + ": file is larger than 2 GiB");
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  detail::check_image_bytes(bytes, ext == ".tga", path);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = int(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp))
    fail(ErrorKind::format, path + ": not a decodable image (" + std::string(stbi_failure_reason() ? stbi_failure_reason() : "unknown") +
                                "; expected PNG, JPEG, BMP or TGA)");
  if (w <= 0 || h <= 0 || std::int64_t(w) * h > limits.max_pixels)
    fail(ErrorKind::format, path + ": image is " + std::to_string(w) + "x" + std::to_string(h) + ", expected 1 to " +
                                std::to_string(limits.max_pixels) + " pixels");
  Image img;
  img.bit_depth = stbi_is_16_bit_from_memory(data, len) ? 16 : 8;
  if (img.bit_depth == 16) {
    std::unique_ptr<stbi_us, void (*)(void*)> px(stbi_load_16_from_memory(data, len, &w, &h, &comp, 3), stbi_image_free);
    if (!px) fail(ErrorKind::format, path + ": corrupt 16-bit image (" + std::string(stbi_failure_reason()) + ")");
    img.rgb.assign(px.get(), px.get() + std::size_t(w) * std::size_t(h) * 3);
  } else {
    std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(data, len, &w, &h, &comp, 3), stbi_image_free);
    if (!px) fail(ErrorKind::format, path + ": corrupt image (" + std::string(stbi_failure_reason()) + ")");
    img.rgb.assign(px.get(), px.get() + std::size_t(w) * std::size_t(h) * 3);
  }
  img.width = w;
  img.height = h;
  return img;
}

namespace detail {
inline void append_bytes(void* ctx, void* data, int size) {
  auto* v = static_cast<std::vector<unsigned char>*>(ctx);
  v->insert(v->end(), static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + size);
}
inline void write_encoded(const std::string& path, const std::vector<unsigned char>& bytes, bool ok, const char* format) {
  if (!ok || bytes.empty()) fail(ErrorKind::io, path + ": " + format + " encoding failed");
  AtomicFile f(path);
  f.write(bytes.data(), bytes.size());
  f.commit();
}
}  // namespace detail

// rgb: height*width*3 bytes, interleaved.
inline void write_png(const std::string& path, int width, int height, const std::uint8_t* rgb) {
  std::vector<unsigned char> bytes;
  int ok = stbi_write_png_to_func(detail::append_bytes, &bytes, width, height, 3, rgb, width * 3);
  detail::write_encoded(path, bytes, ok != 0, "PNG");
}

inline void write_jpeg(const std::string& path, int width, int height, const std::uint8_t* rgb, int quality = 90) {
  std::vector<unsigned char> bytes;
  int ok = stbi_write_jpg_to_func(detail::append_bytes, &bytes, width, height, 3, rgb, quality);
  detail::write_encoded(path, bytes, ok != 0, "JPEG");
}

}  // namespace vit::io
