// Context: one Vulkan instance + logical device + compute queue, chosen by Options, with the
// validation-layer messenger and the device facts the ops need (subgroup size, limits, memory).
// Owned through std::shared_ptr by the backend and by every buffer, so it dies last.
#pragma once
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vit/backends/vulkan/loader.hpp"
#include "vit/backends/vulkan/options.hpp"

namespace vit::vulkan::detail {

inline Loader& loader() {
  static Loader l;
  return l;
}

class Context {
 public:
  explicit Context(const Options& opt) : vk(loader()) {
    vk.open();
    create_instance(opt.validation);
    choose_device(opt);
    create_device(opt.fp16());
    if (opt.verbose) std::fprintf(stderr, "vit vulkan: using %s\n", description().c_str());
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context() {
    if (device) {
      vk.vkDeviceWaitIdle(device);
      vk.vkDestroyDevice(device, nullptr);
    }
    if (messenger) vk.vkDestroyDebugUtilsMessengerEXT(instance, messenger, nullptr);
    if (instance) vk.vkDestroyInstance(instance, nullptr);
  }

  std::string description() const {
    return std::string(props.properties.deviceName) + " (" + driver.driverName + " " + driver.driverInfo + ")";
  }
  bool is_cpu() const { return props.properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU; }

  // Validation messages reported since the last call; throws the first as a vit::Error.
  void check_validation() {
    std::lock_guard<std::mutex> lock(messages_mutex);
    if (messages.empty()) return;
    std::string first = messages.front();
    const std::size_t n = messages.size();
    messages.clear();
    fail(ErrorKind::backend, "vulkan validation: " + first + (n > 1 ? " (+" + std::to_string(n - 1) + " more)" : ""));
  }

  Loader& vk;
  VkInstance instance = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkPhysicalDeviceDriverProperties driver = vk_struct<VkPhysicalDeviceDriverProperties>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES);
  VkPhysicalDeviceSubgroupProperties subgroup = vk_struct<VkPhysicalDeviceSubgroupProperties>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, &driver);
  VkPhysicalDeviceProperties2 props = vk_struct<VkPhysicalDeviceProperties2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &subgroup);
  VkPhysicalDeviceMemoryProperties memory{};
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  std::uint32_t queue_family = 0;
  std::uint32_t memory_type = 0;
  bool host_visible = false;  // buffers are mapped: upload/download are memcpy
  std::vector<std::string> messages;
  std::mutex messages_mutex;

 private:
  static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
                                                   const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
      auto* self = static_cast<Context*>(user);
      std::lock_guard<std::mutex> lock(self->messages_mutex);
      self->messages.emplace_back(data && data->pMessage ? data->pMessage : "(no message)");
    }
    return VK_FALSE;
  }

  void create_instance(bool validation) {
    std::uint32_t version = VK_API_VERSION_1_0;
    if (vk.vkEnumerateInstanceVersion) vk.vkEnumerateInstanceVersion(&version);
    if (version < VK_API_VERSION_1_2)
      fail(ErrorKind::unsupported, "vulkan: the loader supports Vulkan " + std::to_string(VK_API_VERSION_MAJOR(version)) + "." +
                                       std::to_string(VK_API_VERSION_MINOR(version)) + ", need 1.2 (apt-get install libvulkan1)");
    VkApplicationInfo app = vk_struct<VkApplicationInfo>(VK_STRUCTURE_TYPE_APPLICATION_INFO);
    app.pApplicationName = "vit";
    app.apiVersion = VK_API_VERSION_1_2;
    VkInstanceCreateInfo ci = vk_struct<VkInstanceCreateInfo>(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
    ci.pApplicationInfo = &app;
    const char* layer = "VK_LAYER_KHRONOS_validation";
    const char* ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    VkDebugUtilsMessengerCreateInfoEXT mi = vk_struct<VkDebugUtilsMessengerCreateInfoEXT>(VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT);
    mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    mi.pfnUserCallback = &Context::on_message;
    mi.pUserData = this;
    if (validation) {
      std::uint32_t n = 0;
      vk.vkEnumerateInstanceLayerProperties(&n, nullptr);
      std::vector<VkLayerProperties> layers(n);
      vk.vkEnumerateInstanceLayerProperties(&n, layers.data());
      bool found = std::any_of(layers.begin(), layers.end(), [&](const VkLayerProperties& l) { return std::strcmp(l.layerName, layer) == 0; });
      if (!found)
        fail(ErrorKind::unsupported, "vulkan: validation requested but VK_LAYER_KHRONOS_validation is not installed "
                                     "(apt-get install vulkan-validationlayers)");
      ci.enabledLayerCount = 1;
      ci.ppEnabledLayerNames = &layer;
      ci.enabledExtensionCount = 1;
      ci.ppEnabledExtensionNames = &ext;
      ci.pNext = &mi;  // also reports problems in vkCreateInstance/vkDestroyInstance
    }
    VkResult r = vk.vkCreateInstance(&ci, nullptr, &instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
      fail(ErrorKind::unsupported, "vulkan: no Vulkan driver (vkCreateInstance: incompatible driver); "
                                   "install one: apt-get install mesa-vulkan-drivers libvulkan1");
    vk_check(r, "vkCreateInstance");
    vk.load(instance);
    if (validation) {
      if (!vk.vkCreateDebugUtilsMessengerEXT) fail(ErrorKind::unsupported, "vulkan: VK_EXT_debug_utils unavailable with validation");
      vk_check(vk.vkCreateDebugUtilsMessengerEXT(instance, &mi, nullptr, &messenger), "vkCreateDebugUtilsMessengerEXT");
    }
  }

  static std::string lower(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  void choose_device(const Options& opt) {
    std::uint32_t n = 0;
    vk.vkEnumeratePhysicalDevices(instance, &n, nullptr);
    std::vector<VkPhysicalDevice> devices(n);
    if (n) vk_check(vk.vkEnumeratePhysicalDevices(instance, &n, devices.data()), "vkEnumeratePhysicalDevices");
    if (devices.empty())
      fail(ErrorKind::unsupported, "vulkan: no Vulkan device found; install a driver: apt-get install mesa-vulkan-drivers libvulkan1");
    std::vector<std::string> names;
    for (auto d : devices) {
      VkPhysicalDeviceProperties p;
      vk.vkGetPhysicalDeviceProperties(d, &p);
      names.emplace_back(p.deviceName);
    }
    auto list = [&] {
      std::string s;
      for (std::size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + std::to_string(i) + ": " + names[i];
      return s;
    };
    std::size_t pick = 0;
    std::string want;
    if (opt.device >= 0) want = std::to_string(opt.device);
    else if (const char* env = std::getenv("VIT_VULKAN_DEVICE"); env && *env) want = env;
    if (!want.empty()) {
      if (std::all_of(want.begin(), want.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        pick = std::stoul(want);
        if (pick >= devices.size())
          fail(ErrorKind::argument, "vulkan: device index " + want + " out of range (devices: " + list() + ")");
      } else {
        auto it = std::find_if(names.begin(), names.end(), [&](const std::string& s) { return lower(s).find(lower(want)) != std::string::npos; });
        if (it == names.end()) fail(ErrorKind::argument, "vulkan: no device name contains \"" + want + "\" (devices: " + list() + ")");
        pick = std::size_t(it - names.begin());
      }
    }
    physical = devices[pick];
    vk.vkGetPhysicalDeviceProperties2(physical, &props);
    vk.vkGetPhysicalDeviceMemoryProperties(physical, &memory);
    if (props.properties.apiVersion < VK_API_VERSION_1_2)
      fail(ErrorKind::unsupported, "vulkan: device " + names[pick] + " supports only Vulkan " +
                                       std::to_string(VK_API_VERSION_MAJOR(props.properties.apiVersion)) + "." +
                                       std::to_string(VK_API_VERSION_MINOR(props.properties.apiVersion)) + ", need 1.2");
    const VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
    if ((subgroup.supportedOperations & need) != need || !(subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT))
      fail(ErrorKind::unsupported, "vulkan: device " + names[pick] + " lacks subgroup arithmetic in compute shaders");
  }

  // fp16: needs shaderFloat16 and storageBuffer16BitAccess (enabled: fp16 tensors are float16_t
  // storage buffers) and fp16 uniform texel buffers (vec4 and single halves: weights and fp16
  // tensors read by the products).
  void create_device(bool fp16) {
    VkPhysicalDeviceVulkan12Features f12 = vk_struct<VkPhysicalDeviceVulkan12Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES);
    VkPhysicalDeviceVulkan11Features f11 = vk_struct<VkPhysicalDeviceVulkan11Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &f12);
    VkPhysicalDeviceFeatures2 f = vk_struct<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f11);
    vk.vkGetPhysicalDeviceFeatures2(physical, &f);
    std::uint32_t ne = 0;
    vk.vkEnumerateDeviceExtensionProperties(physical, nullptr, &ne, nullptr);
    std::vector<VkExtensionProperties> exts(ne);
    vk.vkEnumerateDeviceExtensionProperties(physical, nullptr, &ne, exts.data());
    const char* push_ext = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
    if (std::none_of(exts.begin(), exts.end(), [&](const VkExtensionProperties& e) { return std::strcmp(e.extensionName, push_ext) == 0; }))
      fail(ErrorKind::unsupported, std::string("vulkan: device ") + props.properties.deviceName + " lacks VK_KHR_push_descriptor");
    if (fp16) {
      const std::string dev = props.properties.deviceName;
      if (!f12.shaderFloat16)
        fail(ErrorKind::unsupported, "vulkan: fp16 needs the shaderFloat16 feature, which device " + dev + " does not report (use fp32)");
      if (!f11.storageBuffer16BitAccess)
        fail(ErrorKind::unsupported, "vulkan: fp16 needs the storageBuffer16BitAccess feature, which device " + dev + " does not report (use fp32)");
      for (auto [format, name] : {std::pair{VK_FORMAT_R16G16B16A16_SFLOAT, "R16G16B16A16_SFLOAT"}, {VK_FORMAT_R16_SFLOAT, "R16_SFLOAT"}}) {
        VkFormatProperties fp{};
        vk.vkGetPhysicalDeviceFormatProperties(physical, format, &fp);
        if (!(fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT))
          fail(ErrorKind::unsupported, std::string("vulkan: fp16 needs ") + name + " uniform texel buffers, which device " + dev + " lacks (use fp32)");
      }
    }
    std::uint32_t nq = 0;
    vk.vkGetPhysicalDeviceQueueFamilyProperties(physical, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> families(nq);
    vk.vkGetPhysicalDeviceQueueFamilyProperties(physical, &nq, families.data());
    bool found = false;
    for (std::uint32_t i = 0; i < nq && !found; ++i)
      if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) queue_family = i, found = true;
    if (!found) fail(ErrorKind::unsupported, std::string("vulkan: device ") + props.properties.deviceName + " has no compute queue");

    const float priority = 1.0f;
    VkDeviceQueueCreateInfo qi = vk_struct<VkDeviceQueueCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO);
    qi.queueFamilyIndex = queue_family;
    qi.queueCount = 1;
    qi.pQueuePriorities = &priority;
    VkDeviceCreateInfo ci = vk_struct<VkDeviceCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO);
    ci.queueCreateInfoCount = 1;
    ci.pQueueCreateInfos = &qi;
    ci.enabledExtensionCount = 1;
    ci.ppEnabledExtensionNames = &push_ext;
    VkPhysicalDeviceVulkan12Features enable12 = vk_struct<VkPhysicalDeviceVulkan12Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES);
    enable12.shaderFloat16 = VK_TRUE;
    VkPhysicalDeviceVulkan11Features enable11 = vk_struct<VkPhysicalDeviceVulkan11Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &enable12);
    enable11.storageBuffer16BitAccess = VK_TRUE;
    if (fp16) ci.pNext = &enable11;
    vk_check(vk.vkCreateDevice(physical, &ci, nullptr, &device), "vkCreateDevice");
    vk.vkCmdPushDescriptorSetKHR = reinterpret_cast<PFN_vkCmdPushDescriptorSetKHR>(vk.vkGetDeviceProcAddr(device, "vkCmdPushDescriptorSetKHR"));
    if (!vk.vkCmdPushDescriptorSetKHR) fail(ErrorKind::unsupported, "vulkan: vkCmdPushDescriptorSetKHR unavailable");
    vk.vkGetDeviceQueue(device, queue_family, 0, &queue);

    // Memory: host-visible device memory on CPU/integrated devices (upload = memcpy); on discrete
    // GPUs device-local memory behind staging copies.
    const bool unified = props.properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ||
                         props.properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
    const VkMemoryPropertyFlags mapped = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    auto find = [&](VkMemoryPropertyFlags want) -> int {
      for (std::uint32_t i = 0; i < memory.memoryTypeCount; ++i)
        if ((memory.memoryTypes[i].propertyFlags & want) == want) return int(i);
      return -1;
    };
    int t = unified ? find(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | mapped) : -1;
    if (t < 0) t = find(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (t < 0) t = find(mapped);
    if (t < 0) fail(ErrorKind::unsupported, "vulkan: no usable memory type");
    memory_type = std::uint32_t(t);
    host_visible = (memory.memoryTypes[t].propertyFlags & mapped) == mapped;
  }
};

}  // namespace vit::vulkan::detail
