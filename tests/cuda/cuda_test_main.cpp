// main() for the CUDA test binaries. Built twice: with VIT_CUDA_TEST_NEEDS_DEVICE the binary first
// looks for a CUDA device and, when there is none, prints "SKIPPED: no CUDA device: <reason>" and
// exits 77 (registered as SKIP_RETURN_CODE, so ctest reports the test as Skipped, not Passed).
#include <cuda_runtime.h>

#include <cstdio>

#include "catch_session.hpp"  // Catch2 itself: the vit_catch library

int main(int argc, char** argv) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
#ifdef VIT_CUDA_TEST_NEEDS_DEVICE
    std::printf("SKIPPED: no CUDA device: %s\n",
                e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount reports 0 devices");
    std::fflush(stdout);
    return 77;
#else
    std::printf("note: no CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
#endif
  } else {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) std::printf("CUDA device 0: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  }
  return vit::testing::run_catch(argc, argv);
}
