// Runtime: everything one backend instance owns on the device — context, buffer pool, pipeline
// cache, command stream — in destruction-safe order. Buffer: a device buffer that returns to the
// pool when its last tensor lets go (tensors share it through std::shared_ptr).
#pragma once
#include <memory>

#include "vit/backends/vulkan/buffer_pool.hpp"
#include "vit/backends/vulkan/commands.hpp"
#include "vit/backends/vulkan/context.hpp"
#include "vit/backends/vulkan/pipelines.hpp"

namespace vit::vulkan::detail {

struct Runtime {
  explicit Runtime(const Options& opt) : ctx(opt), pool(ctx), pipelines(ctx), stream(ctx, pipelines.layout) {
    for (std::uint32_t i = 0; i < ctx.memory.memoryTypeCount; ++i) {
      const VkMemoryPropertyFlags f = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      if ((ctx.memory.memoryTypes[i].propertyFlags & f) == f) {
        staging_type = i;
        break;
      }
    }
  }
  Context ctx;
  BufferPool pool;
  PipelineCache pipelines;
  CommandStream stream;
  std::uint32_t staging_type = 0;
};

class Buffer {
 public:
  Buffer(std::shared_ptr<Runtime> rt, VkDeviceSize bytes, std::uint32_t memory_type)
      : rt_(std::move(rt)), type_(memory_type), a_(rt_->pool.acquire(bytes, memory_type)) {}
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { rt_->pool.release(a_, type_); }

  VkBuffer handle() const { return a_.buffer; }
  VkDeviceSize size() const { return a_.size; }
  void* mapped() const { return a_.mapped; }
  // Uniform-texel-buffer views of the whole buffer (null when over maxTexelBufferElements).
  VkBufferView view_r() const { return a_.view_r; }
  VkBufferView view_rgba() const { return a_.view_rgba; }

 private:
  std::shared_ptr<Runtime> rt_;
  std::uint32_t type_;
  Allocation a_;
};

}  // namespace vit::vulkan::detail
