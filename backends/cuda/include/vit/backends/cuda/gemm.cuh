// Matrix products for the CUDA backend through cuBLASLt, with fused epilogues:
//
//   y[M,N] = beta * y + epi(x[M,K] W^T + bias[N])     W [N,K] row-major, beta 0 or 1
//
// Row-major y = x W^T is column-major y^T = W^T(op T) x^T, so cuBLASLt sees m = N, n = M, k = K,
// A = W (transposed), B = x, C = D = y. Plans (descriptors + the heuristic's algorithm) are cached
// per shape, type and epilogue. When cuBLASLt offers no algorithm (odd sizes at 16-bit), a plain
// tiled kernel computes the same thing (fp32 accumulation, exact GELU).
#pragma once
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <map>
#include <memory>
#include <tuple>

#include "vit/backends/cuda/check.cuh"
#include "vit/backends/cuda/kernels.cuh"

namespace vit::cuda::detail {

// cuBLASLt epilogues. Its GELU is the tanh approximation: used only for Activation::gelu_tanh.
enum class Epilogue { none, bias, gelu_tanh_bias, gelu_tanh };

// ---- fallback kernel -------------------------------------------------------------------------
// y[M,N] = (beta ? y : 0) + act(x[M,K] W[N,K]^T + bias[N]); 16x16 output tile per block.
template <class TIn, class TOut, class TBias>
__global__ void gemm_fallback_kernel(const TIn* __restrict__ w, const TIn* __restrict__ x, TOut* y, const TBias* __restrict__ bias,
                                     int m, int n, int k, Activation act, bool accumulate) {
  __shared__ float xs[16][17], ws[16][17];
  const int row = blockIdx.y * 16 + threadIdx.y, col = blockIdx.x * 16 + threadIdx.x;
  float acc = 0;
  for (int k0 = 0; k0 < k; k0 += 16) {
    const int xr = blockIdx.y * 16 + threadIdx.y, wr = blockIdx.x * 16 + threadIdx.y, kc = k0 + threadIdx.x;
    xs[threadIdx.y][threadIdx.x] = xr < m && kc < k ? to_float(x[std::int64_t(xr) * k + kc]) : 0.0f;
    ws[threadIdx.y][threadIdx.x] = wr < n && kc < k ? to_float(w[std::int64_t(wr) * k + kc]) : 0.0f;
    __syncthreads();
#pragma unroll
    for (int i = 0; i < 16; ++i) acc = fmaf(xs[threadIdx.y][i], ws[threadIdx.x][i], acc);
    __syncthreads();
  }
  if (row >= m || col >= n) return;
  float v = acc + (bias ? to_float(bias[col]) : 0.0f);
  v = activate(act, v);
  TOut* dst = y + std::int64_t(row) * n + col;
  *dst = from_float<TOut>(accumulate ? to_float(*dst) + v : v);
}

template <class TIn, class TOut, class TBias>
void gemm_fallback(const TIn* w, const TIn* x, TOut* y, const TBias* bias, int m, int n, int k, Activation act, bool accumulate,
                   cudaStream_t s) {
  const dim3 grid(unsigned((n + 15) / 16), unsigned((m + 15) / 16)), block(16, 16);
  gemm_fallback_kernel<<<grid, block, 0, s>>>(w, x, y, bias, m, n, k, act, accumulate);
  check_launch("gemm fallback kernel");
}

// ---- cuBLASLt --------------------------------------------------------------------------------
struct GemmKey {
  std::int64_t m, n, k;  // rows of x, rows of W, inner size
  cudaDataType_t in, out;
  cublasComputeType_t compute;
  Epilogue epi;
  bool operator<(const GemmKey& o) const {
    return std::tie(m, n, k, in, out, compute, epi) < std::tie(o.m, o.n, o.k, o.in, o.out, o.compute, o.epi);
  }
};

class Gemm {
 public:
  static constexpr std::size_t kWorkspaceBytes = std::size_t(32) << 20;

  Gemm() { check_cublas(cublasLtCreate(&handle_), "cublasLtCreate"); }
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;
  ~Gemm() {
    for (auto& [key, p] : plans_) destroy(p);
    if (handle_) cublasLtDestroy(handle_);
  }

  void set_workspace(void* ws) { workspace_ = ws; }

  // D = beta*C + epi(A B), see the file comment. Returns false when cuBLASLt has no algorithm for
  // this problem (the caller then uses the fallback kernel).
  bool run(const GemmKey& key, const void* w, const void* x, void* y, const void* bias, float beta, cudaStream_t s) {
    Plan& p = plan(key);
    if (!p.ok) return false;
    if (key.epi == Epilogue::bias || key.epi == Epilogue::gelu_tanh_bias)
      check_cublas(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)),
                   "cublasLtMatmulDescSetAttribute(bias)");
    const float alpha = 1.0f;
    check_cublas(cublasLtMatmul(handle_, p.op, &alpha, w, p.a, x, p.b, &beta, y, p.c, y, p.c, &p.algo, workspace_, kWorkspaceBytes, s),
                 "cublasLtMatmul");
    return true;
  }

 private:
  struct Plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool ok = false;
  };

  static void destroy(Plan& p) {
    if (p.a) cublasLtMatrixLayoutDestroy(p.a);
    if (p.b) cublasLtMatrixLayoutDestroy(p.b);
    if (p.c) cublasLtMatrixLayoutDestroy(p.c);
    if (p.op) cublasLtMatmulDescDestroy(p.op);
  }

  Plan& plan(const GemmKey& key) {
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
    Plan p;
    try {
      check_cublas(cublasLtMatmulDescCreate(&p.op, key.compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
      const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
      check_cublas(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "cublasLtMatmulDescSetAttribute(transa)");
      check_cublas(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "cublasLtMatmulDescSetAttribute(transb)");
      cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
      if (key.epi == Epilogue::bias) epi = CUBLASLT_EPILOGUE_BIAS;
      if (key.epi == Epilogue::gelu_tanh_bias) epi = CUBLASLT_EPILOGUE_GELU_BIAS;
      if (key.epi == Epilogue::gelu_tanh) epi = CUBLASLT_EPILOGUE_GELU;
      check_cublas(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)), "cublasLtMatmulDescSetAttribute(epilogue)");
      check_cublas(cublasLtMatrixLayoutCreate(&p.a, key.in, std::uint64_t(key.k), std::uint64_t(key.n), key.k), "cublasLtMatrixLayoutCreate(A)");
      check_cublas(cublasLtMatrixLayoutCreate(&p.b, key.in, std::uint64_t(key.k), std::uint64_t(key.m), key.k), "cublasLtMatrixLayoutCreate(B)");
      check_cublas(cublasLtMatrixLayoutCreate(&p.c, key.out, std::uint64_t(key.n), std::uint64_t(key.m), key.n), "cublasLtMatrixLayoutCreate(C)");
      cublasLtMatmulPreference_t pref = nullptr;
      check_cublas(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
      std::size_t ws = kWorkspaceBytes;
      cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
      cublasLtMatmulHeuristicResult_t result{};
      int found = 0;
      const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(handle_, p.op, p.a, p.b, p.c, p.c, pref, 1, &result, &found);
      cublasLtMatmulPreferenceDestroy(pref);
      if (st == CUBLAS_STATUS_SUCCESS && found > 0) {
        p.algo = result.algo;
        p.ok = true;
      } else if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED) {
        check_cublas(st, "cublasLtMatmulAlgoGetHeuristic");
      }
    } catch (...) {
      destroy(p);
      throw;
    }
    return plans_.emplace(key, p).first->second;
  }

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  std::map<GemmKey, Plan> plans_;
};

}  // namespace vit::cuda::detail
