// Device memory for the CUDA backend: a small caching allocator (freed blocks are kept by size and
// handed out again, so tensors created per call do not cudaMalloc every time) and the state behind
// a backend tensor (an fp32 buffer plus, in bf16/fp16 mode, a 16-bit mirror of it).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vit/backends/cuda/check.cuh"

namespace vit::cuda::detail {

// Caching allocator for one device. Blocks are rounded up to 512 bytes and reused by exact size.
// On cudaMalloc failure it frees every cached block and tries once more before reporting
// out_of_memory with the size asked for.
class Pool {
 public:
  explicit Pool(int device) : device_(device) {}
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() { release_cached(); }

  // A pointer to at least `bytes` bytes (nullptr for 0); `capturing` forbids a fresh cudaMalloc.
  void* allocate(std::size_t bytes, bool capturing) {
    if (bytes == 0) return nullptr;
    bytes = round_up(bytes);
    auto it = free_.find(bytes);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= bytes;
      return p;
    }
    if (capturing)
      fail(ErrorKind::backend, "cuda: internal error: a device allocation of " + std::to_string(bytes) +
                                   " bytes was requested during CUDA graph capture");
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release_cached();
      e = cudaMalloc(&p, bytes);
    }
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      std::size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      fail(ErrorKind::out_of_memory, "cuda: out of memory on device " + std::to_string(device_) + ": asked for " +
                                         std::to_string(bytes) + " bytes (" + mib(bytes) + "), " + mib(free_b) + " free of " +
                                         mib(total_b) + "; lower the batch size or the input resolution");
    }
    check_cuda(e, "cudaMalloc");
    return p;
  }

  // Returns a block to the cache (work already queued on the backend's stream still sees it:
  // every later user of the block is ordered after that work on the same stream).
  void release(void* p, std::size_t bytes) noexcept {
    if (!p) return;
    bytes = round_up(bytes);
    try {
      free_[bytes].push_back(p);
      cached_bytes_ += bytes;
    } catch (...) {
      cudaFree(p);
    }
  }

  void release_cached() noexcept {
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) cudaFree(p);
    free_.clear();
    cached_bytes_ = 0;
  }

  std::size_t cached_bytes() const { return cached_bytes_; }

 private:
  static std::size_t round_up(std::size_t b) { return (b + 511) / 512 * 512; }
  static std::string mib(std::size_t b) { return std::to_string(b >> 20) + " MiB"; }

  int device_;
  std::map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_bytes_ = 0;
};

// A device block owned through a shared_ptr: it goes back to the pool when the last owner drops it.
inline std::shared_ptr<void> make_block(const std::shared_ptr<Pool>& pool, std::size_t bytes, bool capturing) {
  void* p = pool->allocate(bytes, capturing);
  return std::shared_ptr<void>(p, [pool, bytes](void* q) { pool->release(q, bytes); });
}

// What a cuda::Backend tensor points at. `f32` always exists (n floats); `half` (n 16-bit values)
// exists in bf16/fp16 mode. The flags say which copy holds the current values; ops convert on
// demand. `half_epoch` names the graph capture during which the half copy was last made current
// (0: outside any capture), so a capture never trusts a conversion that happened outside it.
struct TensorState {
  std::shared_ptr<void> f32, half;
  std::int64_t n = 0;
  bool f32_fresh = true, half_fresh = false;
  std::uint64_t half_epoch = 0;

  float* f() const { return static_cast<float*>(f32.get()); }
  void* h() const { return half.get(); }
};

}  // namespace vit::cuda::detail
