// Bindings of tensor sub-ranges, within the device limits. A shader binding may cover at most
// maxStorageBufferRange bytes (storage buffer) or maxTexelBufferElements texels (texel buffer view),
// and must start at a multiple of minStorageBufferOffsetAlignment / minTexelBufferOffsetAlignment.
// Ops that see big tensors split their dispatch by rows; each dispatch binds the rows it touches:
// the bound range starts at the aligned offset at or below the first row, and `shift` (passed to
// the shader in push constants) is the index of the first wanted element inside the binding.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <string>

#include "vit/backends/vulkan/runtime.hpp"

namespace vit::vulkan::detail {

// How a texel buffer view reads a buffer: one float, a vec4 of floats, a vec4 of halves or one
// half per texel (halves are converted to fp32 by texelFetch: an fp16 tensor is read by the same
// shader code as an fp32 one).
enum class Texels { r32, rgba32, rgba16, r16 };
inline std::uint64_t texel_bytes(Texels t) {
  switch (t) {
    case Texels::r32: return 4;
    case Texels::rgba32: return 16;
    case Texels::rgba16: return 8;
    case Texels::r16: return 2;
  }
  return 4;
}
inline VkFormat texel_format(Texels t) {
  switch (t) {
    case Texels::r32: return VK_FORMAT_R32_SFLOAT;
    case Texels::rgba32: return VK_FORMAT_R32G32B32A32_SFLOAT;
    case Texels::rgba16: return VK_FORMAT_R16G16B16A16_SFLOAT;
    case Texels::r16: return VK_FORMAT_R16_SFLOAT;
  }
  return VK_FORMAT_R32_SFLOAT;
}

// A storage-buffer binding and the element index of the wanted data inside it.
struct StorageSlot {
  VkDescriptorBufferInfo info;
  std::uint32_t shift;
};

// A uniform-texel-buffer binding and the texel index of the wanted data inside it.
struct TexelSlot {
  VkBufferView view;
  std::uint32_t shift;
};

class Binder {
 public:
  // `cap` (bytes, 0: none) lowers the limits below the device's: Options::max_binding_bytes and
  // $VIT_VULKAN_MAX_BINDING_BYTES, a testing aid for the chunked paths.
  Binder(Runtime& rt, std::uint64_t cap) : rt_(rt) {
    const auto& lim = rt.ctx.props.properties.limits;
    if (const char* e = std::getenv("VIT_VULKAN_MAX_BINDING_BYTES"); e && std::strtoull(e, nullptr, 10) > 0) {
      const std::uint64_t env = std::strtoull(e, nullptr, 10);
      cap = cap ? std::min(cap, env) : env;
    }
    check(cap == 0 || cap >= 4096, ErrorKind::argument,
          "vulkan: max_binding_bytes / VIT_VULKAN_MAX_BINDING_BYTES must be 0 or at least 4096, got " + std::to_string(cap));
    cap_ = cap ? cap : ~std::uint64_t(0);
    storage_ = std::min<std::uint64_t>(lim.maxStorageBufferRange, cap_);
    align_s_ = std::max<std::uint64_t>(lim.minStorageBufferOffsetAlignment, 4);
    align_t_ = std::max<std::uint64_t>(lim.minTexelBufferOffsetAlignment, 16);
  }

  // Bytes one storage binding / one texel view may cover.
  std::uint64_t storage_limit() const { return storage_; }
  std::uint64_t texel_limit(Texels t) const {
    return std::min<std::uint64_t>(std::uint64_t(rt_.ctx.props.properties.limits.maxTexelBufferElements) * texel_bytes(t), cap_);
  }
  // Bytes of consecutive rows that always fit one binding, wherever they start (limit - alignment).
  std::uint64_t storage_budget() const { return storage_ > align_s_ ? storage_ - align_s_ : 0; }
  std::uint64_t texel_budget(Texels t) const {
    const std::uint64_t l = texel_limit(t), slack = align_t_ + 16;
    return l > slack ? l - slack : 0;
  }
  bool capped() const { return cap_ != ~std::uint64_t(0); }
  std::uint64_t cap() const { return cap_; }

  // Binds elements [first, first + count) of `buffer` (elements of `elem` bytes: 4 for fp32, 2 for
  // fp16) as a storage buffer.
  StorageSlot storage(VkBuffer buffer, std::uint64_t first, std::uint64_t count, const std::string& what, std::uint64_t elem = 4) const {
    const std::uint64_t begin = first * elem, end = (first + count) * elem, off = begin / align_s_ * align_s_;
    if (end - off > storage_)
      fail(ErrorKind::unsupported, what + " binds " + mib(end - off) + ", over this device's maxStorageBufferRange of " + mib(storage_) +
                                       limit_note());
    return {{buffer, off, std::max<std::uint64_t>((end - off + 3) / 4 * 4, 4)}, std::uint32_t((begin - off) / elem)};
  }

  // Binds elements [first, first + count) (of `elem` bytes; `first` at a texel boundary) as texels.
  // Uses the buffer's whole fp32 view when it starts at 0 and fits; otherwise a view made for
  // this range, destroyed once the pending work has run.
  TexelSlot texel(const Buffer& buffer, Texels fmt, std::uint64_t first, std::uint64_t count, const std::string& what,
                  std::uint64_t elem = 4) const {
    const std::uint64_t ts = texel_bytes(fmt), begin = first * elem, off = begin / align_t_ * align_t_;
    const std::uint64_t end = (first + count) * elem, range = (end - off + ts - 1) / ts * ts;
    if (range > texel_limit(fmt))
      fail(ErrorKind::unsupported, what + " needs " + std::to_string(range / ts) + " texels, over this device's maxTexelBufferElements of " +
                                       std::to_string(texel_limit(fmt) / ts) + limit_note());
    const std::uint32_t shift = std::uint32_t((begin - off) / ts);
    VkBufferView whole = fmt == Texels::r32 ? buffer.view_r() : fmt == Texels::rgba32 ? buffer.view_rgba() : VK_NULL_HANDLE;
    if (off == 0 && whole && buffer.size() / ts * ts <= texel_limit(fmt)) return {whole, shift};
    VkBufferViewCreateInfo vi = vk_struct<VkBufferViewCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO);
    vi.buffer = buffer.handle();
    vi.format = texel_format(fmt);
    vi.offset = off;
    vi.range = range;
    VkBufferView v = VK_NULL_HANDLE;
    vk_check(rt_.ctx.vk.vkCreateBufferView(rt_.ctx.device, &vi, nullptr, &v), "vkCreateBufferView");
    Context* ctx = &rt_.ctx;
    rt_.stream.keep_until_flush([ctx, v] { ctx->vk.vkDestroyBufferView(ctx->device, v, nullptr); });
    return {v, shift};
  }

 private:
  static std::string mib(std::uint64_t b) { return b >= (1u << 20) ? std::to_string(b >> 20) + " MiB" : std::to_string(b) + " bytes"; }
  std::string limit_note() const {
    return capped() ? " (lowered by max_binding_bytes / VIT_VULKAN_MAX_BINDING_BYTES)" : " (use a smaller input or batch, or a GPU with larger limits)";
  }

  Runtime& rt_;
  std::uint64_t cap_, storage_, align_s_, align_t_;
};

}  // namespace vit::vulkan::detail
