// vit::vulkan::Backend — the Vulkan compute backend. Every op of vit::Backend is a GLSL compute
// shader (backends/vulkan/shaders, compiled by glslc at build time and embedded), or a buffer
// copy. Ops record into one pending command buffer; download()/synchronize() submit and wait.
// Tensors are fp32 storage buffers bound by push descriptors, or with Options::precision fp16 also
// fp16 ones (TypedTensors: the model stores product operands in fp16; each op has a shader variant
// per element type it meets, e.g. layer_norm_y16: fp32 in, fp16 out); buffers are pooled and
// reused. Ops split their dispatches by rows when a tensor is over the device binding limits
// (bindings.hpp).
#pragma once
#include <array>
#include <algorithm>
#include <initializer_list>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vit/backend.hpp"
#include "vit/op_checks.hpp"
#include "vit/backends/vulkan/options.hpp"
#include "vit/backends/vulkan/bindings.hpp"
#include "vit/backends/vulkan/half.hpp"
#include "vit/backends/vulkan/runtime.hpp"
#include "vit/backends/vulkan/spirv/activation.hpp"
#include "vit/backends/vulkan/spirv/activation_x16.hpp"
#include "vit/backends/vulkan/spirv/activation_x16_y16.hpp"
#include "vit/backends/vulkan/spirv/activation_y16.hpp"
#include "vit/backends/vulkan/spirv/assemble_tokens.hpp"
#include "vit/backends/vulkan/spirv/attention.hpp"
#include "vit/backends/vulkan/spirv/attention_f16.hpp"
#include "vit/backends/vulkan/spirv/attention_f16_y16.hpp"
#include "vit/backends/vulkan/spirv/attention_scalar.hpp"
#include "vit/backends/vulkan/spirv/attention_scalar_x16_y16.hpp"
#include "vit/backends/vulkan/spirv/im2patch.hpp"
#include "vit/backends/vulkan/spirv/im2patch_y16.hpp"
#include "vit/backends/vulkan/spirv/layer_norm.hpp"
#include "vit/backends/vulkan/spirv/layer_norm_x16.hpp"
#include "vit/backends/vulkan/spirv/layer_norm_x16_y16.hpp"
#include "vit/backends/vulkan/spirv/layer_norm_y16.hpp"
#include "vit/backends/vulkan/spirv/linear.hpp"
#include "vit/backends/vulkan/spirv/linear_f16.hpp"
#include "vit/backends/vulkan/spirv/linear_f16_y16.hpp"

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
  // Prepared weights: W [N, K] zero-padded to [N, 4*K4] (read as vec4 texels along K; fp32, or
  // fp16 with Options::precision fp16: then stored as N*4*K4 halves), bias [N] (fp32).
  struct Linear {
    Tensor w, bias;
    std::int64_t n = 0, k = 0, k4 = 0;
  };

  static constexpr std::array precisions{Precision::fp32, Precision::fp16};  // what Options::precision may ask for

  explicit Backend(Options o = {}) : opt_(o), rt_(make_runtime(o)), bind_(*rt_, o.max_binding_bytes) {
    const auto& c = rt_->ctx;
    const std::uint32_t sg = c.subgroup.subgroupSize ? c.subgroup.subgroupSize : 32;
    tune_.norm_lanes = sg;
    if (c.is_cpu()) {  // lavapipe: SIMD width = subgroup size; big register tiles amortise the gathers
      tune_ = Tuning{64, sg, 8, 8, sg, sg, 4, 4};
    }
  }

  std::string_view name() const { return "vulkan"; }
  // Device, precision, and (fp16) the attention head dims that ran in fp32 instead (see notes()).
  std::string description() const {
    std::string d = rt_->ctx.description() + (opt_.fp16() ? ", fp16" : ", fp32");
    for (const auto& n : notes_) d += "; " + n;
    return d;
  }
  // Where the backend computed other than Options asked, so far: with fp16, attention over a head
  // dim not a multiple of 4 has no fp16 kernel and runs the fp32 scalar one (one note per head dim).
  const std::vector<std::string>& notes() const { return notes_; }
  // Dispatches recorded so far of the shader `name` ("linear_f16", "attention_scalar", ...): lets
  // tests check which kernels really ran.
  std::size_t dispatches(const std::string& name) const {
    auto it = dispatch_counts_.find(name);
    return it == dispatch_counts_.end() ? 0 : it->second;
  }
  const Options& options() const { return opt_; }
  Tuning& tuning() { return tune_; }
  // Commands recorded since the last submit (for tests of the batching).
  std::size_t pending_commands() const { return rt_->stream.commands(); }

  // The element type of product operands (TypedTensors): fp16 with Options::precision fp16.
  DType operand_dtype() const { return opt_.fp16() ? DType::f16 : DType::f32; }

  Tensor alloc(const Shape& s) { return alloc(s, DType::f32); }
  Tensor alloc(const Shape& s, DType t) {
    check_tensor_dtype(name(), t, operand_dtype());
    check(std::uint64_t(s.numel()) < (std::uint64_t(1) << 32), ErrorKind::unsupported,
          "vulkan: tensor " + s.str() + " has 2^32 or more elements (shaders index with 32 bits)");
    if (s.numel() == 0) return Tensor{s, nullptr, t};
    return Tensor{s, std::make_shared<detail::Buffer>(rt_, (VkDeviceSize(s.numel()) * dtype_size(t) + 3) / 4 * 4, rt_->ctx.memory_type), t};
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
    const std::size_t bytes = bytes_of(t);
    std::vector<std::uint16_t> halves(t.dtype == DType::f16 ? std::size_t(t.numel()) : 0);
    void* dst = halves.empty() ? static_cast<void*>(h.data.data()) : halves.data();
    if (t.storage->mapped()) {
      std::memcpy(dst, t.storage->mapped(), bytes);
    } else {
      detail::Buffer staging(rt_, bytes, rt_->staging_type);
      rt_->stream.copy(t.storage->handle(), staging.handle(), {VkBufferCopy{0, 0, bytes}});
      rt_->stream.flush();
      std::memcpy(dst, staging.mapped(), bytes);
    }
    for (std::size_t i = 0; i < halves.size(); ++i) h.data[i] = f16_to_float(halves[i]);
    return h;
  }
  void synchronize() { rt_->stream.flush(); }

  // y = x; between fp32 and fp16 tensors a conversion (rounding to nearest even into fp16).
  void copy(const Tensor& x, Tensor& y) {
    check(x.numel() == y.numel(), ErrorKind::shape, "copy: " + x.shape.str() + " into " + y.shape.str());
    if (x.numel() == 0 || x.storage == y.storage) return;
    if (x.dtype != y.dtype) return convert(x, y);
    rt_->stream.copy(x.storage->handle(), y.storage->handle(), {VkBufferCopy{0, 0, bytes_of(x)}});
  }

  Linear make_linear(const HostTensor& w, const HostTensor* b) {
    const auto [n, k] = check_make_linear(name(), w.shape, b ? &b->shape : nullptr);
    const std::int64_t k4 = (k + 3) / 4;
    HostTensor wp(Shape{n, 4 * k4});
    for (std::int64_t o = 0; o < n; ++o)
      std::copy_n(w.data.begin() + o * k, k, wp.data.begin() + o * 4 * k4);
    Linear l{upload(opt_.fp16() ? detail::to_half_words(wp) : wp), {}, n, k, k4};
    if (b) l.bias = upload(*b);
    return l;
  }

  // Over the binding limits, rows of x/y and rows of W (columns of y) are split into chunks that
  // fit one binding each; every output element is computed exactly as unchunked.
  void linear(const Linear& l, const Tensor& x, Tensor& y, Activation act, bool accumulate) {
    const std::int64_t m = check_linear(name(), x.shape, y.shape, l.n, l.k).m;
    if (m == 0 || l.n == 0) return;
    const bool x4 = l.k % 4 == 0, x16 = x.dtype == DType::f16;
    const detail::Texels xf = x4 ? (x16 ? detail::Texels::rgba16 : detail::Texels::rgba32) : (x16 ? detail::Texels::r16 : detail::Texels::r32);
    const std::uint64_t row_x = std::uint64_t(std::max<std::int64_t>(l.k, 1)) * dtype_size(x.dtype), row_y = std::uint64_t(l.n) * dtype_size(y.dtype);
    const std::uint64_t cols = std::uint64_t(tune_.gemm_lanes) * tune_.gemm_tn;
    const std::int64_t chunk = chunk_rows(m, std::min(bind_.texel_budget(xf) / row_x, bind_.storage_budget() / row_y), tune_.gemm_tm,
                                          "linear", "a row of x " + x.shape.str() + " or y " + y.shape.str());
    const detail::Texels wf = opt_.fp16() ? detail::Texels::rgba16 : detail::Texels::rgba32;
    const std::int64_t w_words = std::int64_t(detail::texel_bytes(wf)) / 4 * l.k4;  // 4-byte words per row of W
    const std::int64_t nchunk = chunk_rows(l.n, std::min(bind_.texel_budget(wf) / (std::uint64_t(std::max<std::int64_t>(w_words, 1)) * 4),
                                                         bind_.storage_budget() / 4),
                                           std::int64_t(cols), "linear", "a row of the weight " + l.w.shape.str());
    const std::uint32_t act_bits = act == Activation::gelu ? 2u : act == Activation::gelu_tanh ? 8u : act == Activation::quick_gelu ? 16u : 0u;
    const std::uint32_t flags = (l.bias.storage ? 1u : 0u) | act_bits | (accumulate ? 4u : 0u);
    for (std::int64_t n0 = 0; n0 < l.n; n0 += nchunk) {
      const std::int64_t nc = std::min(nchunk, l.n - n0);
      const detail::TexelSlot w = texel(l.w, wf, n0 * w_words, nc * w_words, "linear", "weight");
      const detail::StorageSlot bias = l.bias.storage ? slice(l.bias, n0, nc, "linear", "bias") : dummy();
      for (std::int64_t r0 = 0; r0 < m; r0 += chunk) {
        const std::int64_t mc = std::min(chunk, m - r0);
        const detail::TexelSlot xs = texel(x, xf, r0 * l.k, mc * l.k, "linear", "input");
        const detail::StorageSlot ys = slice(y, r0 * l.n, mc * l.n, "linear", "output");
        struct {
          std::uint32_t m, k, n, flags, k4, x_off, y_off, nc, n0, w_off, b_off;
        } pc{u32(mc), u32(l.k), u32(l.n), flags, u32(l.k4), xs.shift, ys.shift, u32(nc), u32(n0), w.shift, bias.shift};
        const detail::Shader shader = !opt_.fp16()                ? detail::Shader{"linear", spirv::linear}
                                      : y.dtype == DType::f16 ? detail::Shader{"linear_f16_y16", spirv::linear_f16_y16}
                                                              : detail::Shader{"linear_f16", spirv::linear_f16};
        record(shader, {tune_.gemm_lanes, tune_.gemm_tm, tune_.gemm_tn, x4 ? 1u : 0u}, {dummy(), dummy(), bias, ys},
               {xs.view, w.view}, pc, ceil_div(nc, cols), ceil_div(mc, tune_.gemm_tm));
      }
    }
  }

  void layer_norm(const Tensor& x, const Tensor& g, const Tensor& b, float eps, Tensor& y) {
    const auto [m, d] = check_layer_norm(name(), x.shape, g.shape, b.shape, y.shape);
    if (m == 0 || d == 0) return;
    const std::int64_t chunk = chunk_rows(m, bind_.storage_budget() / (std::uint64_t(d) * widest({&x, &y})), 1, "layer_norm", "a row of " + x.shape.str());
    const detail::StorageSlot gs = whole(&g, "layer_norm", "gain"), bs = whole(&b, "layer_norm", "bias");
    for (std::int64_t r0 = 0; r0 < m; r0 += chunk) {
      const std::int64_t mc = std::min(chunk, m - r0);
      const detail::StorageSlot xs = slice(x, r0 * d, mc * d, "layer_norm", "input"), ys = slice(y, r0 * d, mc * d, "layer_norm", "output");
      struct {
        std::uint32_t m, d;
        float eps;
        std::uint32_t x_off, y_off;
      } pc{u32(mc), u32(d), eps, xs.shift, ys.shift};
      record(by_types(x, y, {"layer_norm", spirv::layer_norm}, {"layer_norm_x16", spirv::layer_norm_x16}, {"layer_norm_y16", spirv::layer_norm_y16},
                      {"layer_norm_x16_y16", spirv::layer_norm_x16_y16}),
             {tune_.norm_lanes}, {xs, gs, bs, ys}, {}, pc, std::uint64_t(mc));
    }
  }

  // One dispatch when qkv and out fit one binding each. Otherwise, per batch element, query rows
  // and key rows are chunked: successive key chunks carry the online-softmax state (running max
  // and sum in a scratch tensor, unnormalised output in `out`), so any N works while one token
  // row fits a binding. The scalar kernel (head dim % 4 != 0) binds one batch element at a time.
  void attention(const Tensor& qkv, int heads, float scale, Tensor& out) {
    const auto [batch, n, d, hd] = check_attention(name(), qkv.shape, heads, scale, out.shape);
    check(hd <= 256, ErrorKind::unsupported, "vulkan attention: head dim " + std::to_string(hd) + " > 256 is not supported");
    if (batch == 0 || n == 0 || d == 0) return;
    if (hd % 4 != 0) {
      if (opt_.fp16()) note_fp32_attention(hd);
      return attention_scalar(qkv, heads, out, scale);
    }
    const detail::Texels qf = qkv.dtype == DType::f16 ? detail::Texels::rgba16 : detail::Texels::rgba32;
    const std::uint64_t row = std::uint64_t(3 * d) * dtype_size(qkv.dtype);
    const bool fits = std::uint64_t(bytes_of(qkv)) <= bind_.texel_limit(qf) && std::uint64_t(bytes_of(out)) <= bind_.storage_limit();
    const std::int64_t kc = fits ? n : chunk_rows(n, bind_.texel_budget(qf) / row, tune_.attn_block, "attention", "a token row of " + qkv.shape.str());
    const std::int64_t qc = fits ? n : chunk_rows(n, std::min(bind_.texel_budget(qf) / row, bind_.storage_budget() / (std::uint64_t(d) * dtype_size(out.dtype))),
                                                  tune_.attn_lanes * tune_.attn_queries, "attention", "a token row of " + qkv.shape.str());
    if (kc < n && out.dtype == DType::f16) {  // key chunks carry unnormalised sums in out: those stay fp32
      Tensor wide = alloc(out.shape);
      rt_->stream.keep_until_flush([w = wide.storage] {});
      attention(qkv, heads, scale, wide);
      return convert(wide, out);
    }
    Tensor state;  // [B, N, heads, 2]: running max and sum between key chunks
    if (kc < n) {
      state = alloc(Shape{batch, n, heads, 2});
      rt_->stream.keep_until_flush([s = state.storage] {});
    }
    const std::uint64_t per_group = std::uint64_t(tune_.attn_lanes) * tune_.attn_queries;
    const std::int64_t batches = fits ? batch : 1;
    for (std::int64_t b = 0; b < batch; b += batches)
      for (std::int64_t q0 = 0; q0 < n; q0 += qc)
        for (std::int64_t k0 = 0; k0 < n; k0 += kc) {
          const std::int64_t nq = std::min(qc, n - q0), nk = std::min(kc, n - k0);
          const detail::TexelSlot qs = texel(qkv, qf, (b * n + q0) * 3 * d, batches * nq * 3 * d, "attention", "queries");
          const detail::TexelSlot ks = texel(qkv, qf, (b * n + k0) * 3 * d, batches * nk * 3 * d, "attention", "keys/values");
          const detail::StorageSlot os = slice(out, (b * n + q0) * d, batches * nq * d, "attention", "output");
          const detail::StorageSlot ss = state.storage ? slice(state, (b * n + q0) * heads * 2, nq * heads * 2, "attention", "softmax state") : dummy();
          struct {
            std::uint32_t nq, nk, d;
            float scale;
            std::uint32_t q_off, kv_off, o_off, s_off, flags, heads;
          } pc{u32(nq), u32(nk), u32(d), scale, qs.shift, ks.shift, os.shift, ss.shift, (k0 == 0 ? 1u : 0u) | (k0 + nk == n ? 2u : 0u), u32(heads)};
          const detail::Shader shader = !opt_.fp16()                  ? detail::Shader{"attention", spirv::attention}
                                        : out.dtype == DType::f16 ? detail::Shader{"attention_f16_y16", spirv::attention_f16_y16}
                                                                  : detail::Shader{"attention_f16", spirv::attention_f16};
          record(shader, {tune_.attn_lanes, u32(hd), tune_.attn_block, tune_.attn_queries}, {dummy(), os, ss},
                 {qs.view, ks.view}, pc, ceil_div(nq, per_group), std::uint64_t(heads), std::uint64_t(batches));
        }
  }

  // Grid: (batch, patch-row, channel) chunks when img or out is over the binding limit.
  void im2patch(const Tensor& img, int p, const Tensor& mean, const Tensor& std, Tensor& out) {
    const auto [batch, c, h, w, gh, gw] = check_im2patch(name(), img.shape, p, mean.shape, std.shape, out.shape);
    need_f32("im2patch", {&img, &mean, &std});
    if (out.numel() == 0) return;
    const detail::StorageSlot ms = whole(&mean, "im2patch", "mean"), sds = whole(&std, "im2patch", "std");
    struct Push {
      std::uint32_t c, cc, c0, h, w, p, gh, total, img_off, o_off;
    };
    const bool fits = std::uint64_t(bytes_of(img)) <= bind_.storage_limit() && std::uint64_t(bytes_of(out)) <= bind_.storage_limit();
    if (fits) {
      const detail::StorageSlot is = whole(&img, "im2patch", "image"), os = whole(&out, "im2patch", "output");
      elementwise(im2patch_shader(out), {is, ms, sds, os}, Push{u32(c), u32(c), 0, u32(h), u32(w), u32(p), u32(gh), u32(out.numel()), 0, 0},
                  out.numel());
      return;
    }
    // One patch row of one channel: p image rows in, gw patches (all channels' columns) out.
    const std::int64_t chunk = chunk_rows(gh, bind_.storage_budget() / (std::uint64_t(c) * p * w * 4), 1, "im2patch",
                                          "one row of patches of " + img.shape.str());
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t ch = 0; ch < c; ++ch)
        for (std::int64_t y0 = 0; y0 < gh; y0 += chunk) {
          const std::int64_t ny = std::min(chunk, gh - y0);
          const detail::StorageSlot is = slice(img, ((b * c + ch) * h + y0 * p) * w, ny * p * w, "im2patch", "image");
          const detail::StorageSlot os = slice(out, (b * gh + y0) * gw * c * p * p, ny * gw * c * p * p, "im2patch", "output");
          const std::int64_t total = ny * gw * p * p;
          elementwise(im2patch_shader(out), {is, ms, sds, os},
                      Push{u32(c), 1, u32(ch), u32(h), u32(w), u32(p), u32(ny), u32(total), is.shift, os.shift}, total);
        }
  }

  // Chunked by token rows (prefix rows and patch rows separately, per batch element) when a
  // tensor is over the binding limit.
  void assemble_tokens(const Tensor& prefix, const Tensor& patches, const Tensor& pos, Tensor& h) {
    const auto [batch, s, t, d] = check_assemble_tokens(name(), prefix.shape, patches.shape, pos.shape, h.shape);
    need_f32("assemble_tokens", {&prefix, &patches, &pos, &h});
    const std::int64_t n = s + t;
    if (h.numel() == 0) return;
    struct Push {
      std::uint32_t s, t, d, total, prefix_off, patches_off, pos_off, h_off;
    };
    const std::uint64_t lim = bind_.storage_limit();
    if (std::uint64_t(std::max({prefix.numel(), patches.numel(), pos.numel(), h.numel()})) * 4 <= lim) {
      const auto ps = whole(&prefix, "assemble_tokens", "prefix"), ts = whole(&patches, "assemble_tokens", "patches");
      const auto qs = whole(&pos, "assemble_tokens", "pos"), hs = whole(&h, "assemble_tokens", "output");
      elementwise({"assemble_tokens", spirv::assemble_tokens}, {ps, ts, qs, hs}, Push{u32(s), u32(t), u32(d), u32(h.numel()), 0, 0, 0, 0},
                  h.numel());
      return;
    }
    const std::int64_t chunk = chunk_rows(n, bind_.storage_budget() / (std::uint64_t(d) * 4), 1, "assemble_tokens", "a row of " + h.shape.str());
    for (std::int64_t b = 0; b < batch; ++b) {
      for (std::int64_t i0 = 0; i0 < s; i0 += chunk) {  // prefix tokens
        const std::int64_t ni = std::min(chunk, s - i0);
        const auto ps = slice(prefix, i0 * d, ni * d, "assemble_tokens", "prefix"), hs = slice(h, (b * n + i0) * d, ni * d, "assemble_tokens", "output");
        elementwise({"assemble_tokens", spirv::assemble_tokens}, {ps, dummy(), dummy(), hs},
                    Push{u32(ni), 0, u32(d), u32(ni * d), ps.shift, 0, 0, hs.shift}, ni * d);
      }
      for (std::int64_t j0 = 0; j0 < t; j0 += chunk) {  // patch tokens
        const std::int64_t nj = std::min(chunk, t - j0);
        const auto ts = slice(patches, (b * t + j0) * d, nj * d, "assemble_tokens", "patches"), qs = slice(pos, j0 * d, nj * d, "assemble_tokens", "pos");
        const auto hs = slice(h, (b * n + s + j0) * d, nj * d, "assemble_tokens", "output");
        elementwise({"assemble_tokens", spirv::assemble_tokens}, {dummy(), ts, qs, hs},
                    Push{0, u32(nj), u32(d), u32(nj * d), 0, ts.shift, qs.shift, hs.shift}, nj * d);
      }
    }
  }

  // out[b, j] = h[b, idx[j]]: one buffer copy command; consecutive indices share a region.
  void gather_tokens(const Tensor& h, std::span<const std::int64_t> idx, Tensor& out) {
    const auto [batch, n, d, len] = check_gather_tokens(name(), h.shape, idx, out.shape);
    same_type("gather_tokens", h, out);
    if (out.numel() == 0) return;
    rt_->stream.copy(h.storage->handle(), out.storage->handle(), token_regions(batch, n, VkDeviceSize(d) * dtype_size(h.dtype), idx, /*to_tokens=*/false));
  }

  // Optional ops (vit/nn/optional_ops.hpp).

  // y = act(x) elementwise (y has x's element count; y may be x), computed in fp32 (x and y fp32
  // or fp16): activation*.comp, the functions of linear's epilogue; `none` is copy(). Chunked when x
  // or y is over the binding limit.
  void activation(const Tensor& x, Activation act, Tensor& y) {
    vit::detail::expect_numel(name(), "activation output", y.shape, x.shape);
    if (act == Activation::none) return copy(x, y);
    elementwise_activation(x, act == Activation::gelu ? 1u : act == Activation::gelu_tanh ? 2u : 3u, y);
  }

  // h[b, idx[j]] = x[b, j] for x holding B·len(idx)·D values and h [B, N, D]; the other rows of h
  // keep their values; indices distinct (the inverse of gather_tokens). One buffer copy command
  // (no binding limits); consecutive indices share a region. x may be h itself (a permutation in
  // place): x is copied to a scratch buffer first.
  void scatter_tokens(const Tensor& x, std::span<const std::int64_t> idx, Tensor& h) {
    const auto [batch, n, d, len] = check_scatter_tokens(name(), x.shape, idx, h.shape);
    same_type("scatter_tokens", x, h);
    if (x.numel() == 0) return;
    VkBuffer src = x.storage->handle();
    if (x.storage == h.storage) {
      Tensor scratch = alloc(x.shape, x.dtype);
      rt_->stream.copy(src, scratch.storage->handle(), {VkBufferCopy{0, 0, bytes_of(x)}});
      rt_->stream.keep_until_flush([s = scratch.storage] {});
      src = scratch.storage->handle();
    }
    rt_->stream.copy(src, h.storage->handle(), token_regions(batch, n, VkDeviceSize(d) * dtype_size(x.dtype), idx, /*to_tokens=*/true));
  }

 private:
  static std::size_t bytes_of(const Tensor& t) { return std::size_t(t.numel()) * dtype_size(t.dtype); }
  // Bytes of the widest element among tensors an op binds side by side (chunk sizes: every binding fits).
  static std::uint64_t widest(std::initializer_list<const Tensor*> ts) {
    std::uint64_t w = 1;
    for (const Tensor* t : ts) w = std::max<std::uint64_t>(w, dtype_size(t->dtype));
    return w;
  }

  // y = x between an fp32 and an fp16 tensor (the activation shader with act 0).
  void convert(const Tensor& x, Tensor& y) { elementwise_activation(x, 0u, y); }

  // activation*.comp over x's elements: code 0 none (a conversion), 1 gelu, 2 gelu_tanh, 3 quick_gelu.
  void elementwise_activation(const Tensor& x, std::uint32_t code, Tensor& y) {
    const std::int64_t total = x.numel();
    if (total == 0) return;
    const std::int64_t chunk = chunk_rows(total, bind_.storage_budget() / widest({&x, &y}), 1, "activation", "one value");
    struct Push {
      std::uint32_t total, act, x_off, y_off;
    };
    for (std::int64_t i0 = 0; i0 < total; i0 += chunk) {
      const std::int64_t nc = std::min(chunk, total - i0);
      const detail::StorageSlot xs = slice(x, i0, nc, "activation", "input"), ys = slice(y, i0, nc, "activation", "output");
      elementwise(by_types(x, y, {"activation", spirv::activation}, {"activation_x16", spirv::activation_x16}, {"activation_y16", spirv::activation_y16},
                           {"activation_x16_y16", spirv::activation_x16_y16}),
                  {xs, ys}, Push{u32(nc), code, xs.shift, ys.shift}, nc);
    }
  }

  // The shader for an op's input and output types (fp32 / fp16): its four variants.
  static detail::Shader by_types(const Tensor& x, const Tensor& y, detail::Shader f32, detail::Shader x16, detail::Shader y16, detail::Shader x16_y16) {
    const bool a = x.dtype == DType::f16, b = y.dtype == DType::f16;
    return a ? (b ? x16_y16 : x16) : (b ? y16 : f32);
  }
  static detail::Shader im2patch_shader(const Tensor& out) {
    return out.dtype == DType::f16 ? detail::Shader{"im2patch_y16", spirv::im2patch_y16} : detail::Shader{"im2patch", spirv::im2patch};
  }
  // Ops that move bytes between tensors (gather/scatter) or have no fp16 variant refuse other types.
  static void same_type(const char* op, const Tensor& a, const Tensor& b) {
    check(a.dtype == b.dtype, ErrorKind::unsupported,
          std::string("vulkan ") + op + ": expected tensors of one type, got " + dtype_name(a.dtype) + " and " + dtype_name(b.dtype));
  }
  static void need_f32(const char* op, std::initializer_list<const Tensor*> ts) {
    for (const Tensor* t : ts)
      check(t->dtype == DType::f32, ErrorKind::unsupported,
            std::string("vulkan ") + op + ": expected F32 tensors, got " + dtype_name(t->dtype) + " " + t->shape.str());
  }

  // The copy regions between rows idx[j] of a [B, N, D] tensor and the rows j of a packed
  // [B, len(idx), D] one (gather: tokens -> packed; to_tokens: packed -> tokens, as scatter_tokens).
  // Runs of consecutive indices share one region.
  static std::vector<VkBufferCopy> token_regions(std::int64_t batch, std::int64_t n, VkDeviceSize row, std::span<const std::int64_t> idx,
                                                 bool to_tokens) {
    const std::int64_t len = std::int64_t(idx.size());
    std::vector<VkBufferCopy> regions;
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t j = 0; j < len;) {
        std::int64_t e = j + 1;
        while (e < len && idx[std::size_t(e)] == idx[std::size_t(e - 1)] + 1) ++e;
        const VkDeviceSize tokens = VkDeviceSize(b * n + idx[std::size_t(j)]) * row, packed = VkDeviceSize(b * len + j) * row;
        regions.push_back(to_tokens ? VkBufferCopy{packed, tokens, VkDeviceSize(e - j) * row} : VkBufferCopy{tokens, packed, VkDeviceSize(e - j) * row});
        j = e;
      }
    return regions;
  }

  static std::shared_ptr<detail::Runtime> make_runtime(const Options& o) {
    check_precision("vulkan", o.precision, precisions);
    return std::make_shared<detail::Runtime>(o);
  }
  static std::uint32_t u32(std::int64_t v) { return std::uint32_t(v); }
  static std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

  void note_fp32_attention(std::int64_t hd) {
    const std::string n = "attention with head dim " + std::to_string(hd) + " (not a multiple of 4) runs in fp32";
    if (std::find(notes_.begin(), notes_.end(), n) != notes_.end()) return;
    notes_.push_back(n);
    if (opt_.verbose) std::fprintf(stderr, "vit vulkan: note: %s\n", n.c_str());
  }

  void attention_scalar(const Tensor& qkv, int heads, Tensor& out, float scale) {
    const std::int64_t batch = qkv.shape[0], n = qkv.shape[1], d = qkv.shape[2] / 3, hd = d / heads;
    same_type("attention (head dim % 4 != 0)", qkv, out);
    const bool fits = std::uint64_t(qkv.numel()) * 4 <= bind_.storage_limit();
    const std::int64_t batches = fits ? batch : 1;
    for (std::int64_t b = 0; b < batch; b += batches) {
      const detail::StorageSlot qs = slice(qkv, b * n * 3 * d, batches * n * 3 * d, "attention (head dim % 4 != 0)", "one batch element of qkv");
      const detail::StorageSlot os = slice(out, b * n * d, batches * n * d, "attention (head dim % 4 != 0)", "output");
      struct {
        std::uint32_t n, d;
        float scale;
        std::uint32_t qkv_off, o_off;
      } pc{u32(n), u32(d), scale, qs.shift, os.shift};
      const detail::Shader shader = qkv.dtype == DType::f16 ? detail::Shader{"attention_scalar_x16_y16", spirv::attention_scalar_x16_y16}
                                                            : detail::Shader{"attention_scalar", spirv::attention_scalar};
      record(shader, {tune_.attn_lanes, u32(hd), tune_.attn_block}, {qs, os}, {}, pc,
             ceil_div(n, tune_.attn_lanes), std::uint64_t(heads), std::uint64_t(batches));
    }
  }

  // Rows per dispatch: all m when `fit` (rows that fit one binding) covers them, else `fit`
  // rounded down to a multiple of `multiple` (when at least that); none fit is an error.
  static std::int64_t chunk_rows(std::int64_t m, std::uint64_t fit, std::int64_t multiple, const char* op, const std::string& what) {
    if (fit >= std::uint64_t(m)) return m;
    if (fit == 0)
      fail(ErrorKind::unsupported, std::string("vulkan ") + op + ": " + what + " does not fit one shader binding on this device (limits: see "
                                                                              "maxStorageBufferRange, maxTexelBufferElements, VIT_VULKAN_MAX_BINDING_BYTES)");
    const std::int64_t f = std::int64_t(fit);
    return f >= multiple ? f / multiple * multiple : f;
  }

  static std::string label(const char* op, const char* role, const Tensor& t) {
    return std::string("vulkan ") + op + ": " + role + " " + t.shape.str();
  }
  // The whole tensor as a storage binding (a small dummy buffer for an absent or empty one).
  detail::StorageSlot whole(const Tensor* t, const char* op, const char* role) {
    if (!t || !t->storage) return dummy();
    return bind_.storage(t->storage->handle(), 0, std::uint64_t(t->numel()), label(op, role, *t), dtype_size(t->dtype));
  }
  // Elements [first, first + count) of t (in t's element type).
  detail::StorageSlot slice(const Tensor& t, std::int64_t first, std::int64_t count, const char* op, const char* role) {
    return bind_.storage(t.storage->handle(), std::uint64_t(first), std::uint64_t(count), label(op, role, t), dtype_size(t.dtype));
  }
  detail::TexelSlot texel(const Tensor& t, detail::Texels fmt, std::int64_t first, std::int64_t count, const char* op, const char* role) {
    if (!t.storage || count == 0) {  // empty tensor (e.g. K = 0): the shader reads none of it
      dummy();
      return {dummy_->view_r(), 0};
    }
    return bind_.texel(*t.storage, fmt, std::uint64_t(first), std::uint64_t(count), label(op, role, t), dtype_size(t.dtype));
  }
  detail::StorageSlot dummy() {
    if (!dummy_) dummy_ = std::make_shared<detail::Buffer>(rt_, 256, rt_->ctx.memory_type);
    return {{dummy_->handle(), 0, 256}, 0};
  }

  // Records a dispatch: slots[i] to binding i, views[i] to binding 4 + i, push constants `pc`.
  template <class Push>
  void record(const detail::Shader& shader, const std::vector<std::uint32_t>& spec, std::initializer_list<detail::StorageSlot> slots,
              std::initializer_list<VkBufferView> views, const Push& pc, std::uint64_t gx, std::uint64_t gy = 1, std::uint64_t gz = 1) {
    static_assert(sizeof(Push) <= detail::max_push_bytes);
    VkDescriptorBufferInfo infos[detail::max_bindings];
    std::size_t i = 0;
    for (const auto& s : slots) infos[i++] = s.info;
    VkPipeline p = rt_->pipelines.get(shader, spec);
    ++dispatch_counts_[std::string(shader.name)];
    rt_->stream.dispatch(p, std::span<const VkDescriptorBufferInfo>(infos, i), std::span<const VkBufferView>(views.begin(), views.size()), &pc,
                         sizeof(Push), gx, gy, gz);
  }

  template <class Push>
  void elementwise(const detail::Shader& shader, std::initializer_list<detail::StorageSlot> slots, const Push& pc, std::int64_t total) {
    if (total == 0) return;
    record(shader, {tune_.elementwise}, slots, {}, pc, ceil_div(std::uint64_t(total), tune_.elementwise));
  }

  // Host data into a tensor. Pending work is submitted first (it may still use the buffer).
  // fp32 values, rounded to nearest even for an fp16 tensor.
  void write(Tensor& t, const float* values) {
    rt_->stream.flush();
    if (t.numel() == 0) return;
    const std::size_t bytes = bytes_of(t);
    std::vector<std::uint16_t> halves(t.dtype == DType::f16 ? std::size_t(t.numel()) : 0);
    for (std::size_t i = 0; i < halves.size(); ++i) halves[i] = float_to_f16(values[i]);
    const void* src = halves.empty() ? static_cast<const void*>(values) : halves.data();
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
  detail::Binder bind_;
  std::shared_ptr<detail::Buffer> dummy_;
  Tuning tune_;
  std::vector<std::string> notes_;
  std::map<std::string, std::size_t> dispatch_counts_;
};

static_assert(vit::Backend<Backend>);
static_assert(vit::TypedTensors<Backend>);

}  // namespace vit::vulkan
