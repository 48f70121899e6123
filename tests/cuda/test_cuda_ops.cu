// Every op of the CUDA backend against the reference backend (tests/support/op_check.hpp), in each
// precision with its own tolerance, plus its error paths.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "op_check.hpp"
#include "vit/backends/cuda.cuh"

using vit::Precision;
using vit::testing::Tolerance;

namespace {
vit::cuda::Backend make(Precision p) { return vit::cuda::Backend(vit::cuda::Options{.precision = p}); }

// Restores the process-wide attention kernel choice at scope exit.
struct AttentionKernelGuard {
  vit::cuda::detail::AttentionKernel saved = vit::cuda::detail::attention_kernel();
  ~AttentionKernelGuard() { vit::cuda::detail::set_attention_kernel(saved); }
};
}  // namespace

TEST_CASE("cuda fp32 ops match the reference", "[fp32]") {
  vit::cuda::Backend b(vit::cuda::Options{.precision = Precision::fp32});
  vit::testing::check_ops_against_reference(b);
}

TEST_CASE("cuda tf32 ops match the reference within tf32 tolerance", "[tf32]") {
  vit::cuda::Backend b(vit::cuda::Options{.precision = Precision::tf32});
  vit::testing::check_ops_against_reference(b, Tolerance{5e-3f, 1e-2f});
}

TEST_CASE("cuda bf16 ops match the reference within bf16 tolerance", "[bf16]") {
  vit::cuda::Backend b(vit::cuda::Options{.precision = Precision::bf16});
  vit::testing::check_ops_against_reference(b, Tolerance{6e-2f, 3e-2f});
}

TEST_CASE("cuda fp16 ops match the reference within fp16 tolerance", "[fp16]") {
  vit::cuda::Backend b(vit::cuda::Options{.precision = Precision::fp16});
  vit::testing::check_ops_against_reference(b, Tolerance{1.5e-2f, 1e-2f});
}

TEST_CASE("cuda ops reject bad shapes with a shape error", "[errors]") {
  using namespace vit;
  cuda::Backend b;
  auto x = b.alloc(Shape{4, 8});
  auto y = b.alloc(Shape{4, 5});
  auto l = b.make_linear(HostTensor(Shape{6, 8}), nullptr);
  try {
    b.linear(l, x, y, Activation::none, false);
    FAIL("linear accepted a wrong output shape");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::shape);
  }
  auto qkv = b.alloc(Shape{1, 4, 9});
  auto out = b.alloc(Shape{1, 4, 3});
  CHECK_THROWS_AS(b.attention(qkv, 2, out), Error);
  std::vector<std::int64_t> idx{0, 7};
  auto h = b.alloc(Shape{1, 4, 3});
  auto g = b.alloc(Shape{1, 2, 3});
  CHECK_THROWS_AS(b.gather_tokens(h, idx, g), Error);
}

TEST_CASE("cuda allocation failure is an out_of_memory error naming the size", "[errors]") {
  using namespace vit;
  cuda::Backend b;
  try {
    auto t = b.alloc(Shape{std::int64_t(1) << 40});  // 4 TiB
    FAIL("a 4 TiB allocation succeeded");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.kind() == ErrorKind::out_of_memory);
    CHECK(std::string(e.what()).find("lower the batch size or the input resolution") != std::string::npos);
  }
  // The backend still works afterwards.
  auto t = b.upload(HostTensor(Shape{3}, {1, 2, 3}));
  CHECK(b.download(t).data == std::vector<float>{1, 2, 3});
}

TEST_CASE("cuda head dims above the fused kernels' range are refused cleanly", "[errors]") {
  using namespace vit;
  auto b = make(Precision::fp32);
  auto qkv = b.alloc(Shape{1, 2, 3 * 264});
  auto out = b.alloc(Shape{1, 2, 264});
  try {
    b.attention(qkv, 1, out);
    FAIL("head dim 264 accepted");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::unsupported);
  }
}

// Both bf16/fp16 tensor-core attention kernels (v1: attention_mma_kernel, v2: flash_attention_kernel)
// against the reference: tile edges (N = 1, 17, 64, 65), C-RADIO 512x512 (N = 1032) and 1024x1024
// (N = 4104), the model head dims 64, 72, 80, 128, and one head dim per other v2 padding (8..120).
TEST_CASE("cuda attention kernels v1 and v2 match the reference in bf16 and fp16", "[attention]") {
  using namespace vit;
  using cuda::detail::AttentionKernel;
  AttentionKernelGuard guard;
  cuda::Backend bf = make(Precision::bf16);
  cuda::Backend fp = make(Precision::fp16);
  reference::Backend ref;
  struct Case { std::int64_t batch, n; int heads; std::int64_t hd; };
  std::vector<Case> cases;
  for (std::int64_t n : {1, 17, 64, 65, 1032})
    for (std::int64_t hd : {64, 72, 80, 128}) cases.push_back({2, n, 2, hd});
  for (Case c : {Case{2, 4104, 1, 80}, Case{2, 5, 2, 8}, Case{1, 67, 3, 16}, Case{2, 129, 2, 24}, Case{1, 300, 2, 40},
                 Case{1, 200, 1, 88}, Case{1, 130, 2, 96}, Case{1, 257, 1, 120}})
    cases.push_back(c);
  struct Run { cuda::Backend* b; const char* precision; vit::testing::Tolerance tol; AttentionKernel kernel; double max_abs = 0; };
  std::vector<Run> runs{{&bf, "bf16", {6e-2f, 3e-2f}, AttentionKernel::v1}, {&bf, "bf16", {6e-2f, 3e-2f}, AttentionKernel::v2},
                        {&fp, "fp16", {1.5e-2f, 1e-2f}, AttentionKernel::v1}, {&fp, "fp16", {1.5e-2f, 1e-2f}, AttentionKernel::v2}};
  std::uint32_t seed = 1000;
  for (Case c : cases) {
    const std::int64_t d = c.heads * c.hd;
    HostTensor qkv = vit::testing::random_tensor(Shape{c.batch, c.n, 3 * d}, seed++, 0.0f, 1.5f);
    auto orf = ref.alloc(Shape{c.batch, c.n, d});
    ref.attention(ref.upload(qkv), c.heads, orf);
    const HostTensor want = ref.download(orf);
    for (Run& r : runs) {
      cuda::detail::set_attention_kernel(r.kernel);
      INFO("attention " << to_string(r.kernel) << " " << r.precision << " B=" << c.batch << " N=" << c.n << " heads=" << c.heads
                        << " head_dim=" << c.hd);
      auto ob = r.b->alloc(Shape{c.batch, c.n, d});
      r.b->attention(r.b->upload(qkv), c.heads, ob);
      const HostTensor got = r.b->download(ob);
      double max_abs = 0;
      const double ratio = vit::testing::worst_ratio(got, want, r.tol, &max_abs);
      INFO("max |error| " << max_abs << ", worst error/tolerance " << ratio);
      CHECK(ratio <= 1.0);
      r.max_abs = std::max(r.max_abs, std::isnan(ratio) || std::isinf(ratio) ? INFINITY : max_abs);
    }
  }
  for (const Run& r : runs)
    std::printf("attention %s %s: max |error| %.3g over %zu shapes\n", to_string(r.kernel), r.precision, r.max_abs, cases.size());
}

TEST_CASE("VIT_CUDA_ATTENTION selects the attention kernel and rejects other values", "[attention][errors]") {
  using vit::cuda::detail::AttentionKernel;
  using vit::cuda::detail::attention_kernel_from_env;
  const char* old = std::getenv("VIT_CUDA_ATTENTION");
  const std::string saved = old ? old : "";
  ::setenv("VIT_CUDA_ATTENTION", "v1", 1);
  CHECK(attention_kernel_from_env() == AttentionKernel::v1);
  ::setenv("VIT_CUDA_ATTENTION", "v2", 1);
  CHECK(attention_kernel_from_env() == AttentionKernel::v2);
  ::unsetenv("VIT_CUDA_ATTENTION");
  CHECK(attention_kernel_from_env() == AttentionKernel::v1);  // the GPU-proven kernel is the default
  ::setenv("VIT_CUDA_ATTENTION", "v3", 1);
  try {
    attention_kernel_from_env();
    FAIL("VIT_CUDA_ATTENTION=v3 accepted");
  } catch (const vit::Error& e) {
    CHECK(e.kind() == vit::ErrorKind::argument);
    CHECK(std::string(e.what()).find("VIT_CUDA_ATTENTION") != std::string::npos);
  }
  if (old) ::setenv("VIT_CUDA_ATTENTION", saved.c_str(), 1);
  else ::unsetenv("VIT_CUDA_ATTENTION");
}
