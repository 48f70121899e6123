// Image files in and out, through stb (Debian libstb-dev: include <stb/stb_image.h>, link libstb;
// this header only declares, it never defines STB_IMAGE_IMPLEMENTATION).
//
// load_image(path)   PNG, JPEG, BMP, TGA (checked by image_guard.hpp before stb decodes), 8 or 16 bits per sample,
//                    converted to RGB like PIL's Image.convert('RGB'): gray is replicated, alpha
//                    is dropped. Pixels stay integers (Image::rgb, interleaved HWC). The size is
//                    read from the file's header and checked against ImageLimits before decoding.
// read_image_header(path)  format, width and height from the header alone (nothing decoded).
// Image::to_tensor() [1, 3, H, W] fp32 = sample / 255 (8-bit) or / 65535 (16-bit), computed in
//                    fp32 like torchvision's pil_to_tensor(img).float() / 255.
// write_png / write_jpeg  8-bit RGB, written atomically (temporary file + rename).
#pragma once
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
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

// The most pixels stb_image 2.27 takes (its buffer sizes are ints: 2^28 pixels of 4 channels
// fill 2^30 bytes, the most its PNG header check allows).
inline constexpr std::int64_t max_image_pixels = std::int64_t(1) << 28;

// What load_image accepts, checked on the header's width and height before anything is decoded.
struct ImageLimits {
  // width * height; values above max_image_pixels act as max_image_pixels.
  std::int64_t max_pixels = max_image_pixels;  // 268 M pixels (16384 x 16384)
  // The caller's own rule (e.g. radio-embed's max_resolution), called with the header's width and
  // height (each 1 to max_image_side) after max_pixels passed; throws a vit::Error to refuse.
  std::function<void(std::int64_t width, std::int64_t height)> check_size;
};

namespace detail {
// "WxH (N pixels)", the size as the messages below give it.
inline std::string size_text(std::int64_t w, std::int64_t h) {
  return std::to_string(w) + "x" + std::to_string(h) + " (" + std::to_string(std::uint64_t(w) * std::uint64_t(h)) + " pixels)";
}

// Throws a format error if the header's size is outside max_pixels (at most max_image_pixels) or
// the sides stb decodes (1 to max_image_side), then runs the caller's check_size.
inline void check_image_size(const ImageHeader& h, const ImageLimits& limits, const std::string& path) {
  const std::string is = path + ": image is " + size_text(h.width, h.height) + ", expected ";
  const std::string sides = is + "1 to " + std::to_string(max_image_side) + " pixels per side";
  if (h.width < 1 || h.height < 1) fail(ErrorKind::format, sides);
  const std::int64_t most = std::clamp<std::int64_t>(limits.max_pixels, 0, max_image_pixels);
  if (std::uint64_t(h.width) * std::uint64_t(h.height) > std::uint64_t(most)) fail(ErrorKind::format, is + "at most " + std::to_string(most) + " pixels");
  if (h.width > max_image_side || h.height > max_image_side) fail(ErrorKind::format, sides);
  if (limits.check_size) limits.check_size(h.width, h.height);
}

// Throws for a failed stb call: a size stb cannot handle (its buffers, of `pixel_bytes` a pixel,
// are sized in ints) is named as such, anything else is a corrupt or undecodable file.
[[noreturn]] inline void stb_failed(const ImageHeader& h, const std::string& path, const std::string& what, int pixel_bytes = 0) {
  const std::string reason = stbi_failure_reason() ? stbi_failure_reason() : "";
  if (reason == "too large" || reason == "outofmem" || h.width * h.height * pixel_bytes > INT32_MAX)
    fail(ErrorKind::format, path + ": image is " + size_text(h.width, h.height) + ", too large to decode (stb_image: " + reason + ")");
  fail(ErrorKind::format, path + ": " + what + " (" + (reason.empty() ? "unknown" : reason) + ")");
}

// The mapped file's header: format and size (see image_guard.hpp), after the basic file checks.
inline ImageHeader file_header(const std::string& path, std::span<const std::byte> bytes) {
  if (bytes.empty()) fail(ErrorKind::format, path + ": empty file (expected a PNG, JPEG, BMP or TGA image)");
  check(bytes.size() <= std::size_t(INT32_MAX), ErrorKind::format, path + ": file is larger than 2 GiB");
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  return check_image_bytes(bytes, ext == ".tga", path);
}
}  // namespace detail

// The format, width and height an image file's header declares, read without decoding. Throws a
// format error for an unsupported format or a truncated or malformed header.
inline ImageHeader read_image_header(const std::string& path) {
  MappedFile f(path);
  return detail::file_header(path, f.bytes());
}

// Decodes an image after checking its header's size against `limits` (see ImageLimits).
inline Image load_image(const std::string& path, ImageLimits limits = {}) {
  MappedFile f(path);  // names the file in open errors; stb decodes from the mapping
  auto bytes = f.bytes();
  const ImageHeader header = detail::file_header(path, bytes);
  detail::check_image_size(header, limits, path);
  detail::check_image_data(bytes, header, path);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = int(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp))
    detail::stb_failed(header, path, "not a decodable image; expected PNG, JPEG, BMP or TGA");
  // stb reads the same header (a top-down BMP's height negative): a disagreement means a file
  // our reading does not describe, so it is refused rather than decoded past the size check.
  if (w != header.width || std::abs(std::int64_t(h)) != header.height)
    fail(ErrorKind::format, path + ": corrupt image: the header reads as " + std::to_string(header.width) + "x" + std::to_string(header.height) +
                                ", stb_image reads " + std::to_string(w) + "x" + std::to_string(std::abs(std::int64_t(h))));
  Image img;
  img.bit_depth = stbi_is_16_bit_from_memory(data, len) ? 16 : 8;
  const int pixel_bytes = std::max(comp, 3) * img.bit_depth / 8;  // stb's largest buffer, per pixel
  if (img.bit_depth == 16) {
    std::unique_ptr<stbi_us, void (*)(void*)> px(stbi_load_16_from_memory(data, len, &w, &h, &comp, 3), stbi_image_free);
    if (!px) detail::stb_failed(header, path, "corrupt 16-bit image", pixel_bytes);
    img.rgb.assign(px.get(), px.get() + std::size_t(w) * std::size_t(h) * 3);
  } else {
    std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(data, len, &w, &h, &comp, 3), stbi_image_free);
    if (!px) detail::stb_failed(header, path, "corrupt image", pixel_bytes);
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
