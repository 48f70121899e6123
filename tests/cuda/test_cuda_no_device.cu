// Constructing the CUDA backend never crashes: with a GPU it works and describes itself; without
// one it throws vit::Error(ErrorKind::backend, "cuda: no CUDA device found (...)").
#include <catch2/catch.hpp>
#include <cuda_runtime.h>

#include "vit/backends/cuda.cuh"

namespace {
bool have_device() {
  int count = 0;
  const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  cudaGetLastError();
  return ok;
}
}  // namespace

TEST_CASE("constructing the CUDA backend gives a device or a clean vit::Error") {
  if (have_device()) {
    vit::cuda::Backend b;
    CHECK(b.name() == "cuda");
    CHECK(b.description().rfind("cuda: ", 0) == 0);
    CHECK(b.description().find("fp32, graphs on") != std::string::npos);
    INFO(b.description());
    try {
      vit::cuda::Backend bad(vit::cuda::Options{.device = 4096});
      FAIL("device 4096 was accepted");
    } catch (const vit::Error& e) {
      CHECK(e.kind() == vit::ErrorKind::argument);
      CHECK(std::string(e.what()).find("device 4096 does not exist") != std::string::npos);
    }
  } else {
    try {
      vit::cuda::Backend b;
      FAIL("backend constructed without a CUDA device");
    } catch (const vit::Error& e) {
      INFO(e.what());
      CHECK(e.kind() == vit::ErrorKind::backend);
      CHECK(std::string(e.what()).rfind("cuda: no CUDA device found (cudaGetDeviceCount: ", 0) == 0);
      WARN("no CUDA device here: checked the clean error only (" << e.what() << ")");
    }
  }
}
