// Error handling for the CUDA backend: every CUDA runtime and cuBLAS(Lt) call goes through
// check_cuda / check_cublas, which turn a failure into a one-line vit::Error naming the call.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <string>

#include "vit/error.hpp"

namespace vit::cuda::detail {

inline std::string cuda_error_text(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}

// Throws ErrorKind::backend (out_of_memory for allocation failures) unless e == cudaSuccess.
inline void check_cuda(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear a sticky-free error so later calls start clean
  const ErrorKind kind = e == cudaErrorMemoryAllocation ? ErrorKind::out_of_memory : ErrorKind::backend;
  fail(kind, std::string("cuda: ") + what + " failed (" + cuda_error_text(e) + ")");
}

inline const char* cublas_status_text(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_?";
  }
}

inline void check_cublas(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  const ErrorKind kind = s == CUBLAS_STATUS_ALLOC_FAILED ? ErrorKind::out_of_memory : ErrorKind::backend;
  fail(kind, std::string("cuda: ") + what + " failed (" + cublas_status_text(s) + ")");
}

// Checks that the kernel launch just issued was accepted.
inline void check_launch(const char* kernel) { check_cuda(cudaGetLastError(), kernel); }

}  // namespace vit::cuda::detail
