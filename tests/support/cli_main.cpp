// main() for the radio-embed test binaries (tests/cli: test_cli_goldens, test_cli_options).
//   test_cli_X [--needs vulkan|cuda] [Catch2 arguments...]
// With --needs, the backend's device is probed first (in this process, through the library, as
// radio-embed would use it: device 0); when it is unusable the binary skips (exit 77) or, with
// $VIT_REQUIRE_<BACKEND>=1, fails (missing_device.hpp). The remaining arguments go to Catch2.
#include "catch_session.hpp"  // Catch2 itself: the vit_catch library

#include <cstdio>
#include <string>
#include <vector>

#include "missing_device.hpp"
#include "vit/error.hpp"
#ifdef VIT_TEST_HAVE_VULKAN
#include "vit/backends/vulkan.hpp"
#endif
#ifdef VIT_TEST_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace {

// Empty when `backend` has a usable device, else why not.
std::string unusable(const std::string& backend) {
  if (backend == "vulkan") {
#ifdef VIT_TEST_HAVE_VULKAN
    try {
      vit::vulkan::Options o;
      o.device = 0;
      vit::vulkan::Backend b(o);
      std::printf("vulkan device: %s\n", b.description().c_str());
      return {};
    } catch (const vit::Error& e) {
      if (e.kind() == vit::ErrorKind::unsupported) return e.what();
      throw;
    }
#else
    return "this build has no Vulkan backend";
#endif
  }
  if (backend == "cuda") {
#ifdef VIT_TEST_HAVE_CUDA
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return std::string("no CUDA device: ") + cudaGetErrorString(e);
    if (count == 0) return "no CUDA device: cudaGetDeviceCount reports 0 devices";
    return {};
#else
    return "this build has no CUDA backend";
#endif
  }
  return "unknown backend '" + backend + "'";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  if (args.size() >= 3 && std::string(args[1]) == "--needs") {
    const std::string backend = args[2];
    try {
      if (std::string why = unusable(backend); !why.empty()) return vit::testing::missing_device(backend, why);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s probe failed: %s\n", backend.c_str(), e.what());
      return 1;
    }
    args.erase(args.begin() + 1, args.begin() + 3);
  }
  return vit::testing::run_catch(int(args.size()), args.data());
}
