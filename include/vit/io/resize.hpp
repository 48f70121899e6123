// Image resizing, written to match the two pipelines RADIO users run:
//
// nearest_supported_resolution(h, w, p)   RADIO's get_nearest_supported_resolution: each side
//                                          max(p, round(side / p) * p), Python round (half to even).
// resize_bilinear(x [B,C,H,W], oh, ow)     torch F.interpolate(mode='bilinear',
//                                          align_corners=False, antialias=False), fp32.
// resize_bicubic(x [B,C,H,W], oh, ow)      torch F.interpolate(mode='bicubic', align_corners=False),
//                                          A = -0.75, borders clamped (may overshoot [0, 1]).
// pil_resize(rgb u8 HWC, w, h, ow, oh, f)  PIL Image.resize for 8-bit RGB (bilinear or bicubic with
//                                          PIL's antialiasing support and 22-bit fixed-point
//                                          rounding), as transformers' CLIPImageProcessor runs it.
// center_crop(rgb u8 HWC, ...)             transformers' center_crop (zero padding when larger).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "vit/tensor.hpp"

namespace vit::io {

// Python's round(x) for a double: ties go to the even integer.
inline std::int64_t round_half_even(double x) {
  double r = std::floor(x);
  double diff = x - r;
  if (diff > 0.5 || (diff == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
  return std::int64_t(r);
}

// RADIO's nearest supported resolution: {height, width}, each a positive multiple of patch.
inline std::pair<int, int> nearest_supported_resolution(int height, int width, int patch) {
  auto side = [patch](int s) {
    return int(std::max<std::int64_t>(patch, round_half_even(double(s) / double(patch)) * patch));
  };
  return {side(height), side(width)};
}

namespace detail {
// torch's area_pixel_compute_source_index (align_corners=False) with the scale in fp32.
inline float torch_source_index(std::int64_t in, std::int64_t out, std::int64_t o, bool cubic) {
  const float scale = float(in) / float(out);
  const volatile float scaled = scale * (float(o) + 0.5f);  // no fused multiply-add: torch rounds here
  const float src = scaled - 0.5f;
  return (!cubic && src < 0.0f) ? 0.0f : src;
}

struct LinearTap {
  std::int64_t i0, i1;
  float w0, w1;
};
inline LinearTap torch_linear_tap(std::int64_t in, std::int64_t out, std::int64_t o) {
  const float src = torch_source_index(in, out, o, false);
  const std::int64_t i0 = std::min(std::int64_t(src), in - 1);
  const std::int64_t i1 = i0 < in - 1 ? i0 + 1 : i0;
  const float w1 = std::clamp(src - float(i0), 0.0f, 1.0f);
  return {i0, i1, 1.0f - w1, w1};
}

struct CubicTap {
  std::int64_t idx[4];
  float w[4];
};
inline CubicTap torch_cubic_tap(std::int64_t in, std::int64_t out, std::int64_t o) {
  const float src = torch_source_index(in, out, o, true);
  const float fl = std::floor(src);
  const float t = src - fl;
  const float a = -0.75f;
  auto cc1 = [a](float x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };
  auto cc2 = [a](float x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };
  CubicTap c{};
  c.w[0] = cc2(t + 1.0f);
  c.w[1] = cc1(t);
  c.w[2] = cc1(1.0f - t);
  c.w[3] = cc2(2.0f - t);
  for (int k = 0; k < 4; ++k) c.idx[k] = std::clamp<std::int64_t>(std::int64_t(fl) - 1 + k, 0, in - 1);
  return c;
}

inline void check_resize_args(const HostTensor& x, int oh, int ow, const char* what) {
  check(x.shape.rank() == 4, ErrorKind::shape, std::string(what) + ": expected [B, C, H, W], got " + x.shape.str());
  check(x.shape[2] > 0 && x.shape[3] > 0 && oh > 0 && ow > 0, ErrorKind::shape,
        std::string(what) + ": sizes must be positive, got " + x.shape.str() + " -> " + std::to_string(oh) + "x" + std::to_string(ow));
}
}  // namespace detail

// Bilinear resize of every [H, W] plane to [oh, ow] (torch's formula; identity when the size holds).
inline HostTensor resize_bilinear(const HostTensor& x, int oh, int ow) {
  detail::check_resize_args(x, oh, ow, "resize_bilinear");
  const std::int64_t planes = x.shape[0] * x.shape[1], ih = x.shape[2], iw = x.shape[3];
  if (ih == oh && iw == ow) return x;
  HostTensor y(Shape{x.shape[0], x.shape[1], oh, ow});
  std::vector<detail::LinearTap> tx(std::size_t(ow), detail::LinearTap{});
  for (int o = 0; o < ow; ++o) tx[std::size_t(o)] = detail::torch_linear_tap(iw, ow, o);
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* src = x.data.data() + p * ih * iw;
    float* dst = y.data.data() + p * oh * ow;
    for (int oy = 0; oy < oh; ++oy) {
      const detail::LinearTap ty = detail::torch_linear_tap(ih, oh, oy);
      const float* r0 = src + ty.i0 * iw;
      const float* r1 = src + ty.i1 * iw;
      for (int ox = 0; ox < ow; ++ox) {
        const detail::LinearTap& t = tx[std::size_t(ox)];
        const volatile float top0 = r0[t.i0] * t.w0, top = top0 + r0[t.i1] * t.w1;
        const volatile float bot0 = r1[t.i0] * t.w0, bot = bot0 + r1[t.i1] * t.w1;
        const volatile float out0 = top * ty.w0;
        dst[oy * ow + ox] = out0 + bot * ty.w1;
      }
    }
  }
  return y;
}

// Bicubic resize (torch's upsample_bicubic2d, align_corners=False).
inline HostTensor resize_bicubic(const HostTensor& x, int oh, int ow) {
  detail::check_resize_args(x, oh, ow, "resize_bicubic");
  const std::int64_t planes = x.shape[0] * x.shape[1], ih = x.shape[2], iw = x.shape[3];
  if (ih == oh && iw == ow) return x;
  HostTensor y(Shape{x.shape[0], x.shape[1], oh, ow});
  std::vector<detail::CubicTap> tx(std::size_t(ow), detail::CubicTap{});
  for (int o = 0; o < ow; ++o) tx[std::size_t(o)] = detail::torch_cubic_tap(iw, ow, o);
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* src = x.data.data() + p * ih * iw;
    float* dst = y.data.data() + p * oh * ow;
    for (int oy = 0; oy < oh; ++oy) {
      const detail::CubicTap ty = detail::torch_cubic_tap(ih, oh, oy);
      for (int ox = 0; ox < ow; ++ox) {
        const detail::CubicTap& t = tx[std::size_t(ox)];
        float acc = 0.0f;
        for (int j = 0; j < 4; ++j) {
          const float* row = src + ty.idx[j] * iw;
          float r = 0.0f;
          for (int i = 0; i < 4; ++i) r += row[t.idx[i]] * t.w[i];
          acc += r * ty.w[j];
        }
        dst[oy * ow + ox] = acc;
      }
    }
  }
  return y;
}

enum class PilFilter { bilinear, bicubic };

namespace detail {
// PIL's precompute_coeffs + normalize_coeffs_8bpc (Resample.c) for one axis.
struct PilAxis {
  int ksize = 0;
  std::vector<int> bounds;    // [out][2]: first input index, tap count
  std::vector<std::int32_t> k;  // [out][ksize] fixed-point coefficients
};
constexpr int kPilPrecisionBits = 32 - 8 - 2;

inline double pil_filter(PilFilter f, double x) {
  if (x < 0) x = -x;
  if (f == PilFilter::bilinear) return x < 1.0 ? 1.0 - x : 0.0;
  const double a = -0.5;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

inline PilAxis pil_axis(int in_size, int out_size, PilFilter f) {
  const double support0 = f == PilFilter::bilinear ? 1.0 : 2.0;
  const double scale = double(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = support0 * filterscale;
  PilAxis ax;
  ax.ksize = int(std::ceil(support)) * 2 + 1;
  ax.bounds.resize(std::size_t(out_size) * 2);
  ax.k.assign(std::size_t(out_size) * std::size_t(ax.ksize), 0);
  std::vector<double> kk(std::size_t(ax.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = int(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = pil_filter(f, (x + xmin - center + 0.5) * ss);
      kk[std::size_t(x)] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? kk[std::size_t(x)] / ww : kk[std::size_t(x)];
      ax.k[std::size_t(xx) * std::size_t(ax.ksize) + std::size_t(x)] =
          std::int32_t(v < 0 ? -0.5 + v * (1 << kPilPrecisionBits) : 0.5 + v * (1 << kPilPrecisionBits));
    }
    ax.bounds[std::size_t(xx) * 2] = xmin;
    ax.bounds[std::size_t(xx) * 2 + 1] = xmax;
  }
  return ax;
}

inline std::uint8_t pil_clip8(std::int64_t v) {
  v >>= kPilPrecisionBits;
  return std::uint8_t(std::clamp<std::int64_t>(v, 0, 255));
}
}  // namespace detail

// PIL Image.resize((ow, oh), filter) of an 8-bit RGB image (rgb: h*w*3 bytes, interleaved):
// a horizontal pass, then a vertical pass, each skipped when that side keeps its size.
inline std::vector<std::uint8_t> pil_resize(const std::vector<std::uint8_t>& rgb, int w, int h, int ow, int oh, PilFilter f) {
  check(w > 0 && h > 0 && ow > 0 && oh > 0 && rgb.size() == std::size_t(w) * std::size_t(h) * 3, ErrorKind::shape,
        "pil_resize: bad sizes " + std::to_string(w) + "x" + std::to_string(h) + " -> " + std::to_string(ow) + "x" + std::to_string(oh));
  std::vector<std::uint8_t> cur = rgb;
  int cw = w;
  if (ow != w) {
    const detail::PilAxis ax = detail::pil_axis(w, ow, f);
    std::vector<std::uint8_t> out(std::size_t(ow) * std::size_t(h) * 3);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < ow; ++x) {
        const int xmin = ax.bounds[std::size_t(x) * 2], n = ax.bounds[std::size_t(x) * 2 + 1];
        const std::int32_t* k = &ax.k[std::size_t(x) * std::size_t(ax.ksize)];
        for (int c = 0; c < 3; ++c) {
          std::int64_t ss = std::int64_t(1) << (detail::kPilPrecisionBits - 1);
          for (int i = 0; i < n; ++i) ss += std::int64_t(cur[(std::size_t(y) * std::size_t(cw) + std::size_t(xmin + i)) * 3 + std::size_t(c)]) * k[i];
          out[(std::size_t(y) * std::size_t(ow) + std::size_t(x)) * 3 + std::size_t(c)] = detail::pil_clip8(ss);
        }
      }
    cur.swap(out);
    cw = ow;
  }
  if (oh != h) {
    const detail::PilAxis ax = detail::pil_axis(h, oh, f);
    std::vector<std::uint8_t> out(std::size_t(cw) * std::size_t(oh) * 3);
    for (int y = 0; y < oh; ++y) {
      const int ymin = ax.bounds[std::size_t(y) * 2], n = ax.bounds[std::size_t(y) * 2 + 1];
      const std::int32_t* k = &ax.k[std::size_t(y) * std::size_t(ax.ksize)];
      for (int x = 0; x < cw; ++x)
        for (int c = 0; c < 3; ++c) {
          std::int64_t ss = std::int64_t(1) << (detail::kPilPrecisionBits - 1);
          for (int i = 0; i < n; ++i) ss += std::int64_t(cur[(std::size_t(ymin + i) * std::size_t(cw) + std::size_t(x)) * 3 + std::size_t(c)]) * k[i];
          out[(std::size_t(y) * std::size_t(cw) + std::size_t(x)) * 3 + std::size_t(c)] = detail::pil_clip8(ss);
        }
    }
    cur.swap(out);
  }
  return cur;
}

// transformers' center_crop of an interleaved RGB image to (oh, ow); zero padding where the crop
// is larger than the image. top = (h - oh) / 2, left = (w - ow) / 2, rounded toward zero.
inline std::vector<std::uint8_t> center_crop(const std::vector<std::uint8_t>& rgb, int w, int h, int ow, int oh) {
  std::vector<std::uint8_t> out(std::size_t(ow) * std::size_t(oh) * 3, 0);
  const int top = (h - oh) / 2, left = (w - ow) / 2;
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      const int sy = y + top, sx = x + left;
      if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
      for (int c = 0; c < 3; ++c)
        out[(std::size_t(y) * std::size_t(ow) + std::size_t(x)) * 3 + std::size_t(c)] = rgb[(std::size_t(sy) * std::size_t(w) + std::size_t(sx)) * 3 + std::size_t(c)];
    }
  return out;
}

}  // namespace vit::io
