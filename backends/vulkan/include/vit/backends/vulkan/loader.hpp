// Run-time Vulkan loader: opens libvulkan.so.1 (or $VIT_VULKAN_LOADER) with dlopen and fetches
// the entry points the backend uses. Linking nothing at build time lets a program built with the
// Vulkan backend start on a machine without Vulkan and report a clear vit::Error instead.
#pragma once
#include <dlfcn.h>
#include <vulkan/vulkan.h>

#include <cstdlib>
#include <string>

#include "vit/error.hpp"

namespace vit::vulkan::detail {

#define VIT_VK_GLOBAL_FUNCTIONS(X) \
  X(vkCreateInstance)              \
  X(vkEnumerateInstanceVersion)    \
  X(vkEnumerateInstanceLayerProperties)

#define VIT_VK_INSTANCE_FUNCTIONS(X)         \
  X(vkDestroyInstance)                       \
  X(vkEnumeratePhysicalDevices)              \
  X(vkGetPhysicalDeviceProperties)           \
  X(vkGetPhysicalDeviceProperties2)          \
  X(vkGetPhysicalDeviceFeatures2)            \
  X(vkGetPhysicalDeviceFormatProperties)     \
  X(vkGetPhysicalDeviceQueueFamilyProperties) \
  X(vkGetPhysicalDeviceMemoryProperties)     \
  X(vkEnumerateDeviceExtensionProperties)    \
  X(vkGetDeviceProcAddr)                     \
  X(vkCreateDescriptorSetLayout)             \
  X(vkDestroyDescriptorSetLayout)            \
  X(vkCreateDevice)                          \
  X(vkDestroyDevice)                         \
  X(vkGetDeviceQueue)                        \
  X(vkDeviceWaitIdle)                        \
  X(vkCreateBuffer)                          \
  X(vkCreateBufferView)                      \
  X(vkDestroyBufferView)                     \
  X(vkDestroyBuffer)                         \
  X(vkGetBufferMemoryRequirements)           \
  X(vkAllocateMemory)                        \
  X(vkFreeMemory)                            \
  X(vkBindBufferMemory)                      \
  X(vkMapMemory)                             \
  X(vkCreateShaderModule)                    \
  X(vkDestroyShaderModule)                   \
  X(vkCreatePipelineLayout)                  \
  X(vkDestroyPipelineLayout)                 \
  X(vkCreateComputePipelines)                \
  X(vkDestroyPipeline)                       \
  X(vkCreateCommandPool)                     \
  X(vkDestroyCommandPool)                    \
  X(vkAllocateCommandBuffers)                \
  X(vkBeginCommandBuffer)                    \
  X(vkEndCommandBuffer)                      \
  X(vkResetCommandBuffer)                    \
  X(vkCmdBindPipeline)                       \
  X(vkCmdPushConstants)                      \
  X(vkCmdDispatchBase)                       \
  X(vkCmdPipelineBarrier)                    \
  X(vkCmdCopyBuffer)                         \
  X(vkCreateFence)                           \
  X(vkDestroyFence)                          \
  X(vkWaitForFences)                         \
  X(vkResetFences)                           \
  X(vkQueueSubmit)

// The entry points, as members named like the C functions.
struct Loader {
  void* library = nullptr;
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
#define VIT_VK_MEMBER(f) PFN_##f f = nullptr;
  VIT_VK_GLOBAL_FUNCTIONS(VIT_VK_MEMBER)
  VIT_VK_INSTANCE_FUNCTIONS(VIT_VK_MEMBER)
  PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT = nullptr;
  PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT = nullptr;
  PFN_vkCmdPushDescriptorSetKHR vkCmdPushDescriptorSetKHR = nullptr;  // per device (create_device)
#undef VIT_VK_MEMBER

  // Opens the loader library and the global entry points. Throws ErrorKind::unsupported when
  // there is no loader.
  void open() {
    if (library) return;
    const char* env = std::getenv("VIT_VULKAN_LOADER");
    const std::string name = env && *env ? env : "libvulkan.so.1";
    library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library)
      fail(ErrorKind::unsupported, "vulkan: no Vulkan loader (" + name + " could not be opened: " + dlerror() +
                                       "); install one: apt-get install libvulkan1 mesa-vulkan-drivers");
    vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(library, "vkGetInstanceProcAddr"));
    if (!vkGetInstanceProcAddr) fail(ErrorKind::unsupported, "vulkan: " + name + " has no vkGetInstanceProcAddr");
#define VIT_VK_LOAD(f) f = reinterpret_cast<PFN_##f>(vkGetInstanceProcAddr(nullptr, #f));
    VIT_VK_GLOBAL_FUNCTIONS(VIT_VK_LOAD)
#undef VIT_VK_LOAD
    if (!vkCreateInstance || !vkEnumerateInstanceLayerProperties)
      fail(ErrorKind::unsupported, "vulkan: " + name + " is missing vkCreateInstance");
  }

  // Fetches every instance/device entry point through `instance`.
  void load(VkInstance instance) {
#define VIT_VK_LOAD(f)                                                                          \
  f = reinterpret_cast<PFN_##f>(vkGetInstanceProcAddr(instance, #f));                           \
  if (!f) fail(ErrorKind::unsupported, "vulkan: the driver does not provide " #f " (need Vulkan 1.2)");
    VIT_VK_INSTANCE_FUNCTIONS(VIT_VK_LOAD)
#undef VIT_VK_LOAD
    vkCreateDebugUtilsMessengerEXT =
        reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
    vkDestroyDebugUtilsMessengerEXT =
        reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
  }
};

// A zero-initialised Vulkan struct with its sType (and pNext) set.
template <class T>
T vk_struct(VkStructureType type, void* next = nullptr) {
  T t{};
  t.sType = type;
  t.pNext = next;
  return t;
}

// Throws a backend error (out_of_memory / device lost named) unless r is VK_SUCCESS.
inline void vk_check(VkResult r, const char* what) {
  if (r == VK_SUCCESS) return;
  switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY: fail(ErrorKind::out_of_memory, std::string("vulkan: ") + what + ": out of host memory");
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: fail(ErrorKind::out_of_memory, std::string("vulkan: ") + what + ": out of device memory");
    case VK_ERROR_DEVICE_LOST: fail(ErrorKind::backend, std::string("vulkan: ") + what + ": device lost");
    default: fail(ErrorKind::backend, std::string("vulkan: ") + what + " failed with VkResult " + std::to_string(int(r)));
  }
}

}  // namespace vit::vulkan::detail
