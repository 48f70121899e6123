// vit::vulkan::Backend — the Vulkan compute backend. Every op of vit::Backend is a GLSL compute
// shader (backends/vulkan/shaders, compiled by glslc at build time and embedded), or a buffer
// copy. Ops record into one pending command buffer; download()/synchronize() submit and wait.
// Tensors are fp32 storage buffers bound by push descriptors; buffers are pooled and reused.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vit/backend.hpp"
#include "vit/backends/vulkan/options.hpp"
#include "vit/backends/vulkan/runtime.hpp"
#include "vit/backends/vulkan/spirv/assemble_tokens.hpp"
#include "vit/backends/vulkan/spirv/attention.hpp"
#include "vit/backends/vulkan/spirv/attention_scalar.hpp"
#include "vit/backends/vulkan/spirv/im2patch.hpp"
#include "vit/backends/vulkan/spirv/layer_norm.hpp"
#include "vit/backends/vulkan/spirv/linear.hpp"
#include "vit/backends/vulkan/spirv/resample_pos_embed.hpp"

namespace vit::vulkan {

// Workgroup and tile sizes (specialization constants), picked per device in Backend's constructor.
struct Tuning {
  std::uint32_t elementwise = 256;  // invocations per workgroup of the one-element-per-lane ops
  std::uint32_t gemm_lanes = 64, gemm_tm = 4, gemm_tn = 2;  // linear: LX invocations, TM x (LX*TN) tile per workgroup
  std::uint32_t norm_lanes = 32;    // layer_norm: one subgroup per row
  std::uint32_t attn_lanes = 64, attn_block = 4, attn_queries = 1;  // attention: invocations per workgroup, keys per block, queries per invocation
};

class Backend {
 public:
  using Tensor = BasicTensor<std::shared_ptr<detail::Buffer>>;
  // Prepared weights: W [N, K] zero-padded to [N, 4*K4] (read as vec4 texels along K), bias [N].
  struct Linear {
    Tensor w, bias;
    std::int64_t n = 0, k = 0, k4 = 0;
  };

  explicit Backend(Options o = {}) : opt_(o) {
    if (o.fp16)
      fail(ErrorKind::unsupported, "vulkan: fp16 is not implemented in this backend yet (use the default fp32)");
    rt_ = std::make_shared<detail::Runtime>(o);
    const auto& c = rt_->ctx;
    const std::uint32_t sg = c.subgroup.subgroupSize ? c.subgroup.subgroupSize : 32;
    tune_.norm_lanes = sg;
    if (c.is_cpu()) {  // lavapipe: SIMD width = subgroup size; big register tiles amortise the gathers
      tune_ = Tuning{64, sg, 8, 8, sg, sg, 4, 4};
    }
  }

  std::string_view name() const { return "vulkan"; }
  std::string description() const { return rt_->ctx.description(); }
  const Options& options() const { return opt_; }
  Tuning& tuning() { return tune_; }
  // Commands recorded since the last submit (for tests of the batching).
  std::size_t pending_commands() const { return rt_->stream.commands(); }

  Tensor alloc(const Shape& s) {
    check(std::uint64_t(s.numel()) < (std::uint64_t(1) << 32), ErrorKind::unsupported,
          "vulkan: tensor " + s.str() + " has 2^32 or more elements (shaders index with 32 bits)");
    if (s.numel() == 0) return Tensor{s, nullptr};
    return Tensor{s, std::make_shared<detail::Buffer>(rt_, VkDeviceSize(s.numel()) * 4, rt_->ctx.memory_type)};
  }

  Tensor upload(const HostTensor& h) {
    Tensor t = alloc(h.shape);
    write(t, h.data.data());
    return t;
  }
  void upload(const HostTensor& h, Tensor& y) {
    check(h.shape.numel() == y.numel(), ErrorKind::shape, "upload: " + h.shape.str() + " into " + y.shape.str());
    write(y, h.data.data());
  }
  HostTensor download(const Tensor& t) {
    HostTensor h(t.shape);
    rt_->stream.flush();
    if (t.numel() == 0) return h;
    const std::size_t bytes = std::size_t(t.numel()) * 4;
    if (t.storage->mapped()) {
      std::memcpy(h.data.data(), t.storage->mapped(), bytes);
    } else {
      detail::Buffer staging(rt_, bytes, rt_->staging_type);
      rt_->stream.copy(t.storage->handle(), staging.handle(), {VkBufferCopy{0, 0, bytes}});
      rt_->stream.flush();
      std::memcpy(h.data.data(), staging.mapped(), bytes);
    }
    return h;
  }
  void synchronize() { rt_->stream.flush(); }

  void copy(const Tensor& x, Tensor& y) {
    check(x.numel() == y.numel(), ErrorKind::shape, "copy: " + x.shape.str() + " into " + y.shape.str());
    if (x.numel() == 0 || x.storage == y.storage) return;
    rt_->stream.copy(x.storage->handle(), y.storage->handle(), {VkBufferCopy{0, 0, VkDeviceSize(x.numel()) * 4}});
  }

  Linear make_linear(const HostTensor& w, const HostTensor* b) {
    check(w.shape.rank() == 2, ErrorKind::shape, "linear weight: expected rank 2, got " + w.shape.str());
    const std::int64_t n = w.shape[0], k = w.shape[1], k4 = (k + 3) / 4;
    HostTensor wp(Shape{n, 4 * k4});
    for (std::int64_t o = 0; o < n; ++o)
      std::copy_n(w.data.begin() + o * k, k, wp.data.begin() + o * 4 * k4);
    Linear l{upload(wp), {}, n, k, k4};
    if (b) {
      expect_shape(*b, Shape{n}, "linear bias");
      l.bias = upload(*b);
    }
    return l;
  }

  void linear(const Linear& l, const Tensor& x, Tensor& y, Activation act, bool accumulate) {
    const std::int64_t m = rows(x, l.k, "linear input");
    check(y.numel() == m * l.n, ErrorKind::shape,
          "linear output: expected " + std::to_string(m * l.n) + " values, got " + y.shape.str());
    if (m == 0 || l.n == 0) return;
    struct {
      std::uint32_t m, k, n, flags, k4;
    } pc{u32(m), u32(l.k), u32(l.n),
         (l.bias.storage ? 1u : 0u) | (act == Activation::gelu ? 2u : 0u) | (accumulate ? 4u : 0u), u32(l.k4)};
    const bool x4 = l.k % 4 == 0;
    const std::uint64_t cols = std::uint64_t(tune_.gemm_lanes) * tune_.gemm_tn;
    dispatch({"linear", spirv::linear}, {tune_.gemm_lanes, tune_.gemm_tm, tune_.gemm_tn, x4 ? 1u : 0u}, {nullptr, nullptr, &l.bias, &y},
             {{&x, x4}, {&l.w, true}}, pc, ceil_div(l.n, cols), ceil_div(m, tune_.gemm_tm));
  }

  void layer_norm(const Tensor& x, const Tensor& g, const Tensor& b, float eps, Tensor& y) {
    const std::int64_t d = g.numel();
    const std::int64_t m = rows(x, d, "layer_norm input");
    check(b.numel() == d, ErrorKind::shape, "layer_norm bias: expected " + std::to_string(d) + " values, got " + b.shape.str());
    check(y.shape == x.shape, ErrorKind::shape, "layer_norm output: expected " + x.shape.str() + ", got " + y.shape.str());
    if (m == 0 || d == 0) return;
    struct {
      std::uint32_t m, d;
      float eps;
    } pc{u32(m), u32(d), eps};
    dispatch({"layer_norm", spirv::layer_norm}, {tune_.norm_lanes}, {&x, &g, &b, &y}, pc, std::uint64_t(m));
  }

  void attention(const Tensor& qkv, int heads, Tensor& out) {
    check(qkv.shape.rank() == 3 && qkv.shape[2] % 3 == 0, ErrorKind::shape, "attention input: expected [B, N, 3D], got " + qkv.shape.str());
    const std::int64_t batch = qkv.shape[0], n = qkv.shape[1], d = qkv.shape[2] / 3;
    check(heads > 0 && d % heads == 0, ErrorKind::shape,
          "attention: width " + std::to_string(d) + " is not divisible by " + std::to_string(heads) + " heads");
    expect_shape(out, Shape{batch, n, d}, "attention output");
    const std::int64_t hd = d / heads;
    check(hd <= 256, ErrorKind::unsupported, "vulkan attention: head dim " + std::to_string(hd) + " > 256 is not supported");
    if (batch == 0 || n == 0 || d == 0) return;
    struct {
      std::uint32_t n, d;
      float scale;
    } pc{u32(n), u32(d), float(1.0 / std::sqrt(double(hd)))};
    if (hd % 4 == 0) {
      const std::uint64_t per_group = std::uint64_t(tune_.attn_lanes) * tune_.attn_queries;
      dispatch({"attention", spirv::attention}, {tune_.attn_lanes, u32(hd), tune_.attn_block, tune_.attn_queries}, {nullptr, &out},
               {{&qkv, true}}, pc, ceil_div(n, per_group), std::uint64_t(heads), std::uint64_t(batch));
    } else {
      dispatch({"attention_scalar", spirv::attention_scalar}, {tune_.attn_lanes, u32(hd), tune_.attn_block}, {&qkv, &out}, pc,
               ceil_div(n, tune_.attn_lanes), std::uint64_t(heads), std::uint64_t(batch));
    }
  }

  void im2patch(const Tensor& img, int p, const Tensor& mean, const Tensor& std, Tensor& out) {
    check(img.shape.rank() == 4, ErrorKind::shape, "im2patch input: expected [B, C, H, W], got " + img.shape.str());
    const std::int64_t batch = img.shape[0], c = img.shape[1], h = img.shape[2], w = img.shape[3];
    check(p > 0 && h % p == 0 && w % p == 0, ErrorKind::shape,
          "im2patch: image " + img.shape.str() + " is not a multiple of patch " + std::to_string(p));
    check(mean.numel() == c && std.numel() == c, ErrorKind::shape, "im2patch: mean/std must have " + std::to_string(c) + " values");
    expect_shape(out, Shape{batch * (h / p) * (w / p), c * p * p}, "im2patch output");
    struct {
      std::uint32_t c, h, w, p, total;
    } pc{u32(c), u32(h), u32(w), u32(p), u32(out.numel())};
    elementwise({"im2patch", spirv::im2patch}, {&img, &mean, &std, &out}, pc, out.numel());
  }

  void resample_pos_embed(const Tensor& pos, int gh, int gw, Tensor& out) {
    check(pos.shape.rank() == 3 && pos.shape[0] == pos.shape[1], ErrorKind::shape,
          "resample_pos_embed input: expected [R, R, D], got " + pos.shape.str());
    check(gh > 0 && gw > 0, ErrorKind::shape, "resample_pos_embed: empty grid");
    const std::int64_t r = pos.shape[0], d = pos.shape[2];
    expect_shape(out, Shape{std::int64_t(gh) * gw, d}, "resample_pos_embed output");
    struct {
      std::uint32_t r, d, gh, gw, total;
    } pc{u32(r), u32(d), u32(gh), u32(gw), u32(out.numel())};
    elementwise({"resample_pos_embed", spirv::resample_pos_embed}, {&pos, &out}, pc, out.numel());
  }

  void assemble_tokens(const Tensor& prefix, const Tensor& patches, const Tensor& pos, Tensor& h) {
    check(h.shape.rank() == 3, ErrorKind::shape, "assemble_tokens output: expected [B, S+T, D], got " + h.shape.str());
    const std::int64_t batch = h.shape[0], n = h.shape[1], d = h.shape[2];
    check(d > 0, ErrorKind::shape, "assemble_tokens: empty width in " + h.shape.str());
    const std::int64_t s = prefix.numel() / d, t = pos.numel() / d;
    check(s + t == n && patches.numel() == batch * t * d && prefix.numel() == s * d && pos.numel() == t * d, ErrorKind::shape,
          "assemble_tokens: prefix " + prefix.shape.str() + " + patches " + patches.shape.str() + " do not make " + h.shape.str());
    struct {
      std::uint32_t s, t, d, total;
    } pc{u32(s), u32(t), u32(d), u32(h.numel())};
    elementwise({"assemble_tokens", spirv::assemble_tokens}, {&prefix, &patches, &pos, &h}, pc, h.numel());
  }

  // out[b, j] = h[b, idx[j]]: one buffer copy command; consecutive indices share a region.
  void gather_tokens(const Tensor& h, std::span<const std::int64_t> idx, Tensor& out) {
    check(h.shape.rank() == 3, ErrorKind::shape, "gather_tokens input: expected [B, N, D], got " + h.shape.str());
    const std::int64_t batch = h.shape[0], n = h.shape[1], d = h.shape[2], len = std::int64_t(idx.size());
    check(out.numel() == batch * len * d, ErrorKind::shape, "gather_tokens output: wrong size " + out.shape.str());
    for (auto i : idx)
      check(i >= 0 && i < n, ErrorKind::shape, "gather_tokens: index " + std::to_string(i) + " outside [0, " + std::to_string(n) + ")");
    if (out.numel() == 0) return;
    std::vector<VkBufferCopy> regions;
    const VkDeviceSize row = VkDeviceSize(d) * 4;
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t j = 0; j < len;) {
        std::int64_t e = j + 1;
        while (e < len && idx[std::size_t(e)] == idx[std::size_t(e - 1)] + 1) ++e;
        regions.push_back({VkDeviceSize(b * n + idx[std::size_t(j)]) * row, VkDeviceSize(b * len + j) * row, VkDeviceSize(e - j) * row});
        j = e;
      }
    rt_->stream.copy(h.storage->handle(), out.storage->handle(), regions);
  }

 private:
  static std::uint32_t u32(std::int64_t v) { return std::uint32_t(v); }
  static std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

  static std::int64_t rows(const Tensor& x, std::int64_t width, const char* what) {
    check(x.shape.rank() >= 1 && x.shape[x.shape.rank() - 1] == width, ErrorKind::shape,
          std::string(what) + ": expected last dimension " + std::to_string(width) + ", got " + x.shape.str());
    return width ? x.numel() / width : 0;
  }

  // A tensor read through a uniform texel buffer view: one float (vec4 = false) or 4 per texel.
  struct Texel {
    const Tensor* t;
    bool vec4;
  };

  // Binds tensors[i] to binding i (a small dummy buffer for absent ones, e.g. no bias), texels[i]
  // to binding 4 + i, and records the dispatch. A tensor larger than maxStorageBufferRange (or,
  // read as texels, than maxTexelBufferElements) is refused, not corrupted.
  template <class Push>
  void dispatch(const detail::Shader& shader, const std::vector<std::uint32_t>& spec, std::initializer_list<const Tensor*> tensors,
                const Push& pc, std::uint64_t gx, std::uint64_t gy = 1, std::uint64_t gz = 1) {
    dispatch(shader, spec, tensors, {}, pc, gx, gy, gz);
  }
  template <class Push>
  void dispatch(const detail::Shader& shader, const std::vector<std::uint32_t>& spec, std::initializer_list<const Tensor*> tensors,
                std::initializer_list<Texel> texels, const Push& pc, std::uint64_t gx, std::uint64_t gy = 1, std::uint64_t gz = 1) {
    static_assert(sizeof(Push) <= detail::max_push_bytes);
    const auto& lim = rt_->ctx.props.properties.limits;
    const VkDeviceSize range = lim.maxStorageBufferRange;
    VkBuffer buffers[detail::max_bindings];
    std::size_t i = 0;
    for (const Tensor* t : tensors) {
      if (!t || !t->storage) {
        if (!dummy_) dummy_ = std::make_shared<detail::Buffer>(rt_, 256, rt_->ctx.memory_type);
        buffers[i++] = dummy_->handle();
        continue;
      }
      const VkDeviceSize bytes = VkDeviceSize(t->numel()) * 4;
      if (bytes > range)
        fail(ErrorKind::unsupported, std::string("vulkan ") + shader.name + ": tensor " + t->shape.str() + " is " + std::to_string(bytes >> 20) +
                                         " MiB, over this device's maxStorageBufferRange of " + std::to_string(range >> 20) +
                                         " MiB (use a smaller input or batch, or a GPU with a larger limit)");
      buffers[i++] = t->storage->handle();
    }
    VkBufferView views[detail::max_texel_bindings];
    std::size_t v = 0;
    for (const Texel& x : texels) {
      if (!x.t->storage) {  // empty tensor (e.g. K = 0): the shader reads none of it
        if (!dummy_) dummy_ = std::make_shared<detail::Buffer>(rt_, 256, rt_->ctx.memory_type);
        views[v++] = dummy_->view_r();
        continue;
      }
      const std::uint64_t texels_needed = (std::uint64_t(x.t->numel()) + (x.vec4 ? 3 : 0)) / (x.vec4 ? 4 : 1);
      VkBufferView view = x.vec4 ? x.t->storage->view_rgba() : x.t->storage->view_r();
      if (!view || texels_needed > lim.maxTexelBufferElements)
        fail(ErrorKind::unsupported, std::string("vulkan ") + shader.name + ": tensor " + x.t->shape.str() + " needs " +
                                         std::to_string(texels_needed) + " texels, over this device's maxTexelBufferElements of " +
                                         std::to_string(lim.maxTexelBufferElements) + " (use a smaller input or batch)");
      views[v++] = view;
    }
    VkPipeline p = rt_->pipelines.get(shader, spec);
    rt_->stream.dispatch(p, std::span<const VkBuffer>(buffers, i), std::span<const VkBufferView>(views, v), &pc, sizeof(Push), gx, gy, gz);
  }

  template <class Push>
  void elementwise(const detail::Shader& shader, std::initializer_list<const Tensor*> tensors, const Push& pc, std::int64_t total) {
    if (total == 0) return;
    dispatch(shader, {tune_.elementwise}, tensors, pc, ceil_div(std::uint64_t(total), tune_.elementwise));
  }

  // Host data into a tensor. Pending work is submitted first (it may still use the buffer).
  void write(Tensor& t, const float* src) {
    rt_->stream.flush();
    if (t.numel() == 0) return;
    const std::size_t bytes = std::size_t(t.numel()) * 4;
    if (t.storage->mapped()) {
      std::memcpy(t.storage->mapped(), src, bytes);
      return;
    }
    detail::Buffer staging(rt_, bytes, rt_->staging_type);
    std::memcpy(staging.mapped(), src, bytes);
    rt_->stream.copy(staging.handle(), t.storage->handle(), {VkBufferCopy{0, 0, bytes}});
    rt_->stream.flush();
  }

  Options opt_;
  std::shared_ptr<detail::Runtime> rt_;
  std::shared_ptr<detail::Buffer> dummy_;
  Tuning tune_;
};

static_assert(vit::Backend<Backend>);

}  // namespace vit::vulkan
