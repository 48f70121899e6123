// CommandStream: ops append dispatches and copies to one pending command buffer, separated by a
// global compute/transfer memory barrier; flush() submits it and waits on a fence with a
// timeout ($VIT_VULKAN_TIMEOUT_S, default 600 s), so a lost or hung device is an error, not a
// hang. Nothing is submitted until a download or synchronize needs the results.
#pragma once
#include <cstdlib>
#include <functional>
#include <span>
#include <vector>

#include "vit/backends/vulkan/context.hpp"

namespace vit::vulkan::detail {

class CommandStream {
 public:
  explicit CommandStream(Context& ctx, VkPipelineLayout layout) : ctx_(ctx), layout_(layout) {
    auto& vk = ctx_.vk;
    VkCommandPoolCreateInfo pi = vk_struct<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
    pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pi.queueFamilyIndex = ctx_.queue_family;
    vk_check(vk.vkCreateCommandPool(ctx_.device, &pi, nullptr, &pool_), "vkCreateCommandPool");
    VkCommandBufferAllocateInfo ai = vk_struct<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    vk_check(vk.vkAllocateCommandBuffers(ctx_.device, &ai, &cb_), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fi = vk_struct<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
    vk_check(vk.vkCreateFence(ctx_.device, &fi, nullptr, &fence_), "vkCreateFence");
    const char* t = std::getenv("VIT_VULKAN_TIMEOUT_S");
    if (t && std::atof(t) > 0) timeout_s_ = std::atof(t);
  }
  CommandStream(const CommandStream&) = delete;
  CommandStream& operator=(const CommandStream&) = delete;
  ~CommandStream() {
    auto& vk = ctx_.vk;
    vk.vkDeviceWaitIdle(ctx_.device);
    for (auto& f : on_flush_) f();  // e.g. transient buffer views of work never submitted
    vk.vkDestroyFence(ctx_.device, fence_, nullptr);
    vk.vkDestroyCommandPool(ctx_.device, pool_, nullptr);
  }

  bool pending() const { return recording_; }
  std::size_t commands() const { return commands_; }

  // Records a dispatch of `groups` workgroups of `pipeline`: buffers[i] (a buffer, offset and range)
  // bound to binding i, texel buffer views[i] to binding 4 + i, shapes in the push constants `push`.
  // Grids larger than maxComputeWorkGroupCount are split into several vkCmdDispatchBase calls
  // (gl_WorkGroupID stays global, so shaders need not know).
  void dispatch(VkPipeline pipeline, std::span<const VkDescriptorBufferInfo> buffers, std::span<const VkBufferView> views, const void* push,
                std::uint32_t push_bytes, std::uint64_t gx, std::uint64_t gy = 1, std::uint64_t gz = 1) {
    if (gx == 0 || gy == 0 || gz == 0) return;
    auto& vk = ctx_.vk;
    begin_op();
    vk.vkCmdBindPipeline(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    VkDescriptorBufferInfo infos[8];
    VkWriteDescriptorSet writes[8];
    for (std::size_t i = 0; i < buffers.size() && i < 4; ++i) {
      infos[i] = buffers[i];
      writes[i] = vk_struct<VkWriteDescriptorSet>(VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET);
      writes[i].dstBinding = std::uint32_t(i);
      writes[i].descriptorCount = 1;
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &infos[i];
    }
    std::uint32_t n = std::uint32_t(std::min<std::size_t>(buffers.size(), 4));
    for (std::size_t i = 0; i < views.size() && i < 4; ++i, ++n) {
      writes[n] = vk_struct<VkWriteDescriptorSet>(VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET);
      writes[n].dstBinding = std::uint32_t(4 + i);
      writes[n].descriptorCount = 1;
      writes[n].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
      writes[n].pTexelBufferView = &views[i];
    }
    vk.vkCmdPushDescriptorSetKHR(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, layout_, 0, n, writes);
    vk.vkCmdPushConstants(cb_, layout_, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
    const auto* lim = ctx_.props.properties.limits.maxComputeWorkGroupCount;
    for (std::uint64_t z = 0; z < gz; z += lim[2])
      for (std::uint64_t y = 0; y < gy; y += lim[1])
        for (std::uint64_t x = 0; x < gx; x += lim[0]) {
          check(x + std::min<std::uint64_t>(lim[0], gx - x) <= 0xffffffffull, ErrorKind::unsupported, "vulkan: dispatch grid too large");
          vk.vkCmdDispatchBase(cb_, std::uint32_t(x), std::uint32_t(y), std::uint32_t(z), std::uint32_t(std::min<std::uint64_t>(lim[0], gx - x)),
                               std::uint32_t(std::min<std::uint64_t>(lim[1], gy - y)), std::uint32_t(std::min<std::uint64_t>(lim[2], gz - z)));
        }
  }

  // Records buffer-to-buffer copies.
  void copy(VkBuffer src, VkBuffer dst, const std::vector<VkBufferCopy>& regions) {
    if (regions.empty()) return;
    begin_op();
    ctx_.vk.vkCmdCopyBuffer(cb_, src, dst, std::uint32_t(regions.size()), regions.data());
  }

  // Keeps `f` (e.g. a staging buffer's owner) alive until the next flush completes.
  void keep_until_flush(std::function<void()> release) { on_flush_.push_back(std::move(release)); }

  // Submits the pending work and waits for it; a no-op when nothing is pending.
  void flush() {
    if (recording_) {
      auto& vk = ctx_.vk;
      recording_ = false;
      commands_ = 0;
      VkMemoryBarrier mb = vk_struct<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
      mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
      mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
      vk.vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                              &mb, 0, nullptr, 0, nullptr);
      vk_check(vk.vkEndCommandBuffer(cb_), "vkEndCommandBuffer");
      VkSubmitInfo si = vk_struct<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO);
      si.commandBufferCount = 1;
      si.pCommandBuffers = &cb_;
      vk_check(vk.vkQueueSubmit(ctx_.queue, 1, &si, fence_), "vkQueueSubmit");
      VkResult r = vk.vkWaitForFences(ctx_.device, 1, &fence_, VK_TRUE, std::uint64_t(timeout_s_ * 1e9));
      if (r == VK_TIMEOUT)
        fail(ErrorKind::backend, "vulkan: the device did not finish within " + std::to_string(int(timeout_s_)) +
                                     " s (hung or lost; raise VIT_VULKAN_TIMEOUT_S for very large inputs)");
      vk_check(r, "vkWaitForFences");
      vk_check(vk.vkResetFences(ctx_.device, 1, &fence_), "vkResetFences");
      vk_check(vk.vkResetCommandBuffer(cb_, 0), "vkResetCommandBuffer");
    }
    auto done = std::move(on_flush_);
    on_flush_.clear();
    for (auto& f : done) f();
    ctx_.check_validation();
  }

 private:
  // Begins the command buffer, or separates this command from the previous one by a barrier:
  // every earlier shader/transfer write is visible to every later read or write.
  void begin_op() {
    auto& vk = ctx_.vk;
    if (!recording_) {
      VkCommandBufferBeginInfo bi = vk_struct<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
      bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
      vk_check(vk.vkBeginCommandBuffer(cb_, &bi), "vkBeginCommandBuffer");
      recording_ = true;
    } else {
      VkMemoryBarrier mb = vk_struct<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
      mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
      mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
      const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
      vk.vkCmdPipelineBarrier(cb_, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
    }
    ++commands_;
  }

  Context& ctx_;
  VkPipelineLayout layout_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cb_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  bool recording_ = false;
  std::size_t commands_ = 0;
  double timeout_s_ = 600;
  std::vector<std::function<void()>> on_flush_;
};

}  // namespace vit::vulkan::detail
