// Position embeddings for an input grid, computed once per input shape on the host (they depend
// only on the grid, never on the pixels) and then uploaded: one implementation for every backend.
//
//   resample_square_crop(table [R,R,D], gh, gw) -> [gh·gw, D]
//       C-RADIO's CPE rule: bilinear resize (align_corners=False) of the R×R table to m×m,
//       m = max(gh, gw), then the top-left gh×gw crop.
//   resample_bicubic(table [H0,W0,D], gh, gw) -> [gh·gw, D]
//       timm's resample_abs_pos_embed: torch.nn.functional.interpolate(mode='bicubic',
//       antialias=True, align_corners=False), the separable cubic filter (a = -0.5) widened by
//       the scale factor when shrinking; the table's own grid is returned as it is.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "vit/tensor.hpp"

namespace vit::nn {

namespace detail {

// One output sample of a 1-D resize: taps[first .. first + weights.size()) with their weights.
struct Taps {
  std::int64_t first = 0;
  std::vector<double> weights;
};

// PyTorch's bilinear taps (align_corners=False), computed in float as torch does.
inline Taps bilinear_taps(std::int64_t in, std::int64_t out, std::int64_t o) {
  const float scale = float(in) / float(out);
  float src = std::max(scale * (float(o) + 0.5f) - 0.5f, 0.0f);
  const std::int64_t i0 = std::min(std::int64_t(src), in - 1), i1 = std::min(i0 + 1, in - 1);
  const float w1 = std::clamp(src - float(i0), 0.0f, 1.0f);
  if (i1 == i0) return {i0, {double(1.0f - w1) + double(w1)}};
  return {i0, {double(1.0f - w1), double(w1)}};
}

// PyTorch's antialiased bicubic taps (the kernel of interpolate(..., antialias=True)).
inline Taps bicubic_aa_taps(std::int64_t in, std::int64_t out, std::int64_t o) {
  auto cubic = [](double x) {  // Keys' cubic with a = -0.5
    const double a = -0.5;
    x = std::abs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
  };
  const double scale = double(in) / double(out);
  const double support = scale >= 1.0 ? 2.0 * scale : 2.0;
  const double inv = scale >= 1.0 ? 1.0 / scale : 1.0;
  const double center = scale * (double(o) + 0.5);
  const std::int64_t lo = std::max<std::int64_t>(std::int64_t(center - support + 0.5), 0);
  const std::int64_t hi = std::min<std::int64_t>(std::int64_t(center + support + 0.5), in);
  Taps t{lo, {}};
  double total = 0;
  for (std::int64_t j = lo; j < hi; ++j) total += t.weights.emplace_back(cubic((double(j) - center + 0.5) * inv));
  for (double& w : t.weights) w = total != 0.0 ? w / total : 0.0;
  return t;
}

// Separable resize of a [h0, w0, D] grid to [h, w, D] with per-axis taps.
template <class TapFn>
HostTensor resize_grid(const HostTensor& table, std::int64_t h0, std::int64_t w0, std::int64_t h, std::int64_t w, TapFn taps) {
  const std::int64_t d = table.shape[table.shape.rank() - 1];
  std::vector<double> rows(std::size_t(h * w0 * d), 0.0);  // resized along y first
  for (std::int64_t y = 0; y < h; ++y) {
    const Taps ty = taps(h0, h, y);
    for (std::size_t k = 0; k < ty.weights.size(); ++k)
      for (std::int64_t x = 0; x < w0; ++x)
        for (std::int64_t c = 0; c < d; ++c)
          rows[std::size_t((y * w0 + x) * d + c)] += ty.weights[k] * table.data[std::size_t(((ty.first + std::int64_t(k)) * w0 + x) * d + c)];
  }
  HostTensor out(Shape{h * w, d});
  for (std::int64_t x = 0; x < w; ++x) {
    const Taps tx = taps(w0, w, x);
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t c = 0; c < d; ++c) {
        double acc = 0;
        for (std::size_t k = 0; k < tx.weights.size(); ++k) acc += tx.weights[k] * rows[std::size_t((y * w0 + tx.first + std::int64_t(k)) * d + c)];
        out.data[std::size_t((y * w + x) * d + c)] = float(acc);
      }
  }
  return out;
}

inline void check_grid(const HostTensor& table, int gh, int gw, const char* what) {
  check(table.shape.rank() == 3 && table.shape[0] > 0 && table.shape[1] > 0, ErrorKind::shape,
        std::string(what) + ": expected a position table [H, W, D], got " + table.shape.str());
  check(gh > 0 && gw > 0, ErrorKind::shape, std::string(what) + ": empty grid " + std::to_string(gh) + "x" + std::to_string(gw));
}

}  // namespace detail

// C-RADIO's CPE: bilinear to max(gh,gw)², top-left gh×gw crop. table [R, R, D] -> [gh·gw, D].
inline HostTensor resample_square_crop(const HostTensor& table, int gh, int gw) {
  detail::check_grid(table, gh, gw, "position embedding");
  check(table.shape[0] == table.shape[1], ErrorKind::shape, "position embedding: expected a square table [R, R, D], got " + table.shape.str());
  const std::int64_t r = table.shape[0], d = table.shape[2], m = std::max(gh, gw);
  // Only the first gh rows and gw columns of the m×m resize are kept.
  HostTensor square = detail::resize_grid(table, r, r, m, m, [](std::int64_t in, std::int64_t out, std::int64_t o) {
    return detail::bilinear_taps(in, out, o);
  });
  HostTensor out(Shape{std::int64_t(gh) * gw, d});
  for (std::int64_t y = 0; y < gh; ++y)
    std::copy_n(square.data.begin() + std::ptrdiff_t(y * m * d), std::size_t(gw * d), out.data.begin() + std::ptrdiff_t(y * gw * d));
  return out;
}

// timm's resample_abs_pos_embed (bicubic, antialias). table [H0, W0, D] -> [gh·gw, D].
inline HostTensor resample_bicubic(const HostTensor& table, int gh, int gw) {
  detail::check_grid(table, gh, gw, "position embedding");
  const std::int64_t h0 = table.shape[0], w0 = table.shape[1], d = table.shape[2];
  if (gh == h0 && gw == w0) return HostTensor(Shape{h0 * w0, d}, table.data);  // timm leaves it untouched
  return detail::resize_grid(table, h0, w0, gh, gw, detail::bicubic_aa_taps);
}

}  // namespace vit::nn
