// Device buffers and the pool that recycles them. Every buffer is one VkBuffer with its own
// memory, usable as a storage buffer, as a transfer source/target, and as a uniform texel buffer
// through two views made with it (R32_SFLOAT: one float per texel; R32G32B32A32_SFLOAT: vec4).
// Released buffers go back to the pool keyed by their rounded size, so a second forward with the
// same input shape allocates nothing.
#pragma once
#include <map>

#include "vit/backends/vulkan/context.hpp"

namespace vit::vulkan::detail {

struct Allocation {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  void* mapped = nullptr;        // host pointer when the memory type is host-visible
  VkDeviceSize size = 0;         // rounded capacity in bytes
  VkBufferView view_r = VK_NULL_HANDLE;     // R32_SFLOAT texel view (null if over maxTexelBufferElements)
  VkBufferView view_rgba = VK_NULL_HANDLE;  // R32G32B32A32_SFLOAT texel view (same)
};

class BufferPool {
 public:
  explicit BufferPool(Context& ctx) : ctx_(ctx) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool() { trim(); }

  static VkDeviceSize rounded(VkDeviceSize bytes) { return (bytes + 255) / 256 * 256; }

  // A buffer of at least `bytes` in `memory_type` (reused when one is free). Out of device
  // memory: frees the pool and retries once, then throws ErrorKind::out_of_memory.
  Allocation acquire(VkDeviceSize bytes, std::uint32_t memory_type) {
    const VkDeviceSize size = rounded(bytes);
    auto it = free_.find({size, memory_type});
    if (it != free_.end()) {
      Allocation a = it->second;
      free_.erase(it);
      return a;
    }
    try {
      return create(size, memory_type);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::out_of_memory || free_.empty()) throw;
      trim();
      return create(size, memory_type);
    }
  }

  void release(const Allocation& a, std::uint32_t memory_type) { free_.emplace(std::pair{a.size, memory_type}, a); }

  // Destroys every free buffer (the device must not be using them).
  void trim() {
    for (auto& [key, a] : free_) destroy(a);
    free_.clear();
  }

 private:
  Allocation create(VkDeviceSize size, std::uint32_t memory_type) {
    auto& vk = ctx_.vk;
    Allocation a;
    a.size = size;
    VkBufferCreateInfo bi = vk_struct<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
    bi.size = size;
    bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
               VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    vk_check(vk.vkCreateBuffer(ctx_.device, &bi, nullptr, &a.buffer), "vkCreateBuffer");
    VkMemoryRequirements req;
    vk.vkGetBufferMemoryRequirements(ctx_.device, a.buffer, &req);
    VkMemoryAllocateInfo ai = vk_struct<VkMemoryAllocateInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO);
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = memory_type;
    if (!(req.memoryTypeBits & (1u << memory_type))) {
      vk.vkDestroyBuffer(ctx_.device, a.buffer, nullptr);
      fail(ErrorKind::unsupported, "vulkan: buffer memory type " + std::to_string(memory_type) + " not allowed for storage buffers");
    }
    VkResult r = vk.vkAllocateMemory(ctx_.device, &ai, nullptr, &a.memory);
    if (r != VK_SUCCESS) {
      vk.vkDestroyBuffer(ctx_.device, a.buffer, nullptr);
      vk_check(r, ("vkAllocateMemory(" + std::to_string(size) + " bytes)").c_str());
    }
    vk_check(vk.vkBindBufferMemory(ctx_.device, a.buffer, a.memory, 0), "vkBindBufferMemory");
    if (ctx_.memory.memoryTypes[memory_type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)
      vk_check(vk.vkMapMemory(ctx_.device, a.memory, 0, VK_WHOLE_SIZE, 0, &a.mapped), "vkMapMemory");
    a.view_r = make_view(a, VK_FORMAT_R32_SFLOAT, 4);
    a.view_rgba = make_view(a, VK_FORMAT_R32G32B32A32_SFLOAT, 16);
    return a;
  }

  VkBufferView make_view(const Allocation& a, VkFormat format, VkDeviceSize texel) {
    if (a.size / texel > ctx_.props.properties.limits.maxTexelBufferElements) return VK_NULL_HANDLE;
    VkBufferViewCreateInfo vi = vk_struct<VkBufferViewCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO);
    vi.buffer = a.buffer;
    vi.format = format;
    vi.offset = 0;
    vi.range = a.size / texel * texel;
    VkBufferView v = VK_NULL_HANDLE;
    VkResult r = ctx_.vk.vkCreateBufferView(ctx_.device, &vi, nullptr, &v);
    if (r != VK_SUCCESS) {
      destroy(a);
      vk_check(r, "vkCreateBufferView");
    }
    return v;
  }

  void destroy(const Allocation& a) {
    if (a.view_r) ctx_.vk.vkDestroyBufferView(ctx_.device, a.view_r, nullptr);
    if (a.view_rgba) ctx_.vk.vkDestroyBufferView(ctx_.device, a.view_rgba, nullptr);
    ctx_.vk.vkDestroyBuffer(ctx_.device, a.buffer, nullptr);
    ctx_.vk.vkFreeMemory(ctx_.device, a.memory, nullptr);
  }

  Context& ctx_;
  std::multimap<std::pair<VkDeviceSize, std::uint32_t>, Allocation> free_;
};

}  // namespace vit::vulkan::detail
