// vit-bench cases of the CUDA backend (built when the target vit::cuda exists). Device memory
// per case comes from cudaMemGetInfo; the fp32 peak from the documented formula
// SMs × FP32 lanes per SM × 2 (FMA) × clock. Without a GPU the cases are listed and skipped.
#include <cuda_runtime.h>

#include <string>

#include "bench_cases.hpp"
#include "registry.hpp"

#include "vit/backends/cuda.cuh"

namespace vit::bench {

namespace {
std::unique_ptr<cuda::Backend> make_cuda(Precision p) {
  cuda::Options o;
  o.precision = p;
  return std::make_unique<cuda::Backend>(o);
}

double device_used_mib() {
  std::size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) != cudaSuccess) return 0.0;
  return double(total - free) / (1 << 20);
}

// FP32 lanes per SM by compute capability (CUDA C Programming Guide, arithmetic instructions).
int fp32_lanes_per_sm(int major, int minor) {
  if (major == 8 && minor == 0) return 64;  // A100
  if (major >= 8) return 128;              // Ampere GA10x, Ada, Hopper, Blackwell
  if (major == 7) return 64;
  return 128;
}

double cuda_peak_gflops(std::string* how) {
  int dev = 0, sms = 0, khz = 0, major = 0, minor = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return 0.0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, dev);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
  const int lanes = fp32_lanes_per_sm(major, minor);
  const double g = double(sms) * lanes * 2.0 * khz * 1e-6;
  *how = std::to_string(g) + " (formula: " + std::to_string(sms) + " SMs x " + std::to_string(lanes) + " FP32 lanes x 2 x " +
         std::to_string(khz / 1000) + " MHz boost, sm_" + std::to_string(major) + std::to_string(minor) + ")";
  return g;
}
}  // namespace

void register_cuda_benchmarks(const Options&) {
  BackendSpec<cuda::Backend> spec;
  spec.name = "cuda";
  spec.make = make_cuda;
  spec.precisions = {Precision::fp32, Precision::tf32, Precision::bf16, Precision::fp16};
  spec.device_mib = device_used_mib;
  try {
    benchmark::AddCustomContext("cuda_backend", describe(*make_cuda(Precision::fp32)));
    std::string how;
    spec.peak_gflops = cuda_peak_gflops(&how);
    benchmark::AddCustomContext("cuda_peak_gflops", how);
  } catch (const std::exception& e) {
    benchmark::AddCustomContext("cuda_backend", std::string("unavailable: ") + e.what());
  }
  register_backend(spec);
}

}  // namespace vit::bench
