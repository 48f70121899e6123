// Compute pipelines, created once per (shader, specialization constants) and cached. All share
// one pipeline layout: one push-descriptor set of max_bindings storage buffers (bindings 0..3, the
// op's tensors in order) and max_texel_bindings uniform texel buffers (bindings 4..7, tensors a
// shader reads through texelFetch: a vectorised gather on lavapipe), and a push-constant block of up to 128 bytes (shapes). Workgroup sizes and tile shapes are specialization constants
// 0, 1, 2, ... (uint32).
#pragma once
#include <map>
#include <span>
#include <string>
#include <vector>

#include "vit/backends/vulkan/context.hpp"

namespace vit::vulkan::detail {

inline constexpr std::uint32_t max_push_bytes = 128;
inline constexpr std::uint32_t max_bindings = 4;
inline constexpr std::uint32_t max_texel_bindings = 4;

// A shader: its name (the cache key) and its SPIR-V words.
struct Shader {
  const char* name;
  std::span<const std::uint32_t> code;
};

class PipelineCache {
 public:
  explicit PipelineCache(Context& ctx) : ctx_(ctx) {
    VkDescriptorSetLayoutBinding bindings[max_bindings + max_texel_bindings];
    for (std::uint32_t i = 0; i < max_bindings + max_texel_bindings; ++i)
      bindings[i] = {i, i < max_bindings ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1,
                     VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
    auto di = vk_struct<VkDescriptorSetLayoutCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO);
    di.flags = VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR;
    di.bindingCount = max_bindings + max_texel_bindings;
    di.pBindings = bindings;
    vk_check(ctx_.vk.vkCreateDescriptorSetLayout(ctx_.device, &di, nullptr, &set_layout), "vkCreateDescriptorSetLayout");
    VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, max_push_bytes};
    VkPipelineLayoutCreateInfo li = vk_struct<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
    li.setLayoutCount = 1;
    li.pSetLayouts = &set_layout;
    li.pushConstantRangeCount = 1;
    li.pPushConstantRanges = &range;
    vk_check(ctx_.vk.vkCreatePipelineLayout(ctx_.device, &li, nullptr, &layout), "vkCreatePipelineLayout");
  }
  PipelineCache(const PipelineCache&) = delete;
  PipelineCache& operator=(const PipelineCache&) = delete;
  ~PipelineCache() {
    for (auto& [key, p] : pipelines_) ctx_.vk.vkDestroyPipeline(ctx_.device, p, nullptr);
    ctx_.vk.vkDestroyPipelineLayout(ctx_.device, layout, nullptr);
    ctx_.vk.vkDestroyDescriptorSetLayout(ctx_.device, set_layout, nullptr);
  }

  VkPipeline get(const Shader& shader, const std::vector<std::uint32_t>& spec) {
    auto key = std::pair{std::string(shader.name), spec};
    if (auto it = pipelines_.find(key); it != pipelines_.end()) return it->second;
    auto& vk = ctx_.vk;
    VkShaderModuleCreateInfo mi = vk_struct<VkShaderModuleCreateInfo>(VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO);
    mi.codeSize = shader.code.size_bytes();
    mi.pCode = shader.code.data();
    VkShaderModule module;
    vk_check(vk.vkCreateShaderModule(ctx_.device, &mi, nullptr, &module), "vkCreateShaderModule");
    std::vector<VkSpecializationMapEntry> entries(spec.size());
    for (std::uint32_t i = 0; i < spec.size(); ++i) entries[i] = {i, i * 4, 4};
    VkSpecializationInfo si{std::uint32_t(entries.size()), entries.data(), spec.size() * 4, spec.data()};
    VkComputePipelineCreateInfo ci = vk_struct<VkComputePipelineCreateInfo>(VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO);
    ci.flags = VK_PIPELINE_CREATE_DISPATCH_BASE_BIT;
    ci.stage = vk_struct<VkPipelineShaderStageCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO);
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = module;
    ci.stage.pName = "main";
    ci.stage.pSpecializationInfo = &si;
    ci.layout = layout;
    VkPipeline p;
    VkResult r = vk.vkCreateComputePipelines(ctx_.device, VK_NULL_HANDLE, 1, &ci, nullptr, &p);
    vk.vkDestroyShaderModule(ctx_.device, module, nullptr);
    vk_check(r, (std::string("vkCreateComputePipelines(") + shader.name + ")").c_str());
    pipelines_.emplace(std::move(key), p);
    return p;
  }

  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;

 private:
  Context& ctx_;
  std::map<std::pair<std::string, std::vector<std::uint32_t>>, VkPipeline> pipelines_;
};

}  // namespace vit::vulkan::detail
