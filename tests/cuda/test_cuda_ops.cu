// Every op of the CUDA backend against the reference backend (tests/support/op_check.hpp), in each
// precision with its own tolerance, plus its error paths.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "op_check.hpp"
#include "op_check_v4.hpp"
#include "vit/backends/cuda.cuh"

using vit::Precision;
using vit::testing::Tolerance;

// The optional ops C-RADIOv4 needs are native here, not the host fallback (which the model would
// have to keep out of graph captures).
static_assert(vit::nn::HasActivation<vit::cuda::Backend>);
static_assert(vit::nn::HasScatterTokens<vit::cuda::Backend>);
static_assert(!vit::nn::uses_host_fallback<vit::cuda::Backend>(vit::nn::OptionalNeeds{.activation = true, .scatter_tokens = true}));

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
  CHECK_THROWS_AS(b.attention(qkv, 2, 0.5f, out), Error);
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
    b.attention(qkv, 1, 0.5f, out);
    FAIL("head dim 264 accepted");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::unsupported);
  }
}

// Both bf16/fp16 tensor-core attention kernels (v1: attention_mma_kernel, v2: flash_attention_kernel)
// against the reference: tile edges (N = 1, 17, 64, 65), C-RADIO 512x512 (N = 1032) and 1024x1024
// (N = 4104), the model head dims 64, 72, 80, 128, one head dim per other v2 padding (8..120), and
// scales other than 1/sqrt(hd).
TEST_CASE("cuda attention kernels v1 and v2 match the reference in bf16 and fp16", "[attention]") {
  using namespace vit;
  using cuda::detail::AttentionKernel;
  AttentionKernelGuard guard;
  cuda::Backend bf = make(Precision::bf16);
  cuda::Backend fp = make(Precision::fp16);
  reference::Backend ref;
  struct Case { std::int64_t batch, n; int heads; std::int64_t hd; float scale = 0; };  // 0: 1/sqrt(hd)
  std::vector<Case> cases;
  for (std::int64_t n : {1, 17, 64, 65, 1032})
    for (std::int64_t hd : {64, 72, 80, 128}) cases.push_back({2, n, 2, hd});
  for (Case c : {Case{2, 4104, 1, 80}, Case{2, 5, 2, 8}, Case{1, 67, 3, 16}, Case{2, 129, 2, 24}, Case{1, 300, 2, 40},
                 Case{1, 200, 1, 88}, Case{1, 130, 2, 96}, Case{1, 257, 1, 120}, Case{2, 65, 2, 64, 0.05f}, Case{1, 130, 2, 80, 0.05f},
                 Case{1, 67, 3, 16, 0.1f}})
    cases.push_back(c);
  struct Run { cuda::Backend* b; const char* precision; vit::testing::Tolerance tol; AttentionKernel kernel; double max_abs = 0; };
  std::vector<Run> runs{{&bf, "bf16", {6e-2f, 3e-2f}, AttentionKernel::v1}, {&bf, "bf16", {6e-2f, 3e-2f}, AttentionKernel::v2},
                        {&fp, "fp16", {1.5e-2f, 1e-2f}, AttentionKernel::v1}, {&fp, "fp16", {1.5e-2f, 1e-2f}, AttentionKernel::v2}};
  std::uint32_t seed = 1000;
  for (Case c : cases) {
    const std::int64_t d = c.heads * c.hd;
    const float scale = c.scale > 0 ? c.scale : default_attention_scale(c.hd);
    HostTensor qkv = vit::testing::random_tensor(Shape{c.batch, c.n, 3 * d}, seed++, 0.0f, 1.5f);
    auto orf = ref.alloc(Shape{c.batch, c.n, d});
    ref.attention(ref.upload(qkv), c.heads, scale, orf);
    const HostTensor want = ref.download(orf);
    for (Run& r : runs) {
      cuda::detail::set_attention_kernel(r.kernel);
      INFO("attention " << to_string(r.kernel) << " " << r.precision << " B=" << c.batch << " N=" << c.n << " heads=" << c.heads
                        << " head_dim=" << c.hd << " scale=" << scale);
      auto ob = r.b->alloc(Shape{c.batch, c.n, d});
      r.b->attention(r.b->upload(qkv), c.heads, scale, ob);
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

// Head dims 64, 72, 80 with ViTDet window shapes and odd N in every precision: fp32/tf32 run the
// fp32 kernel (72 and 80 on its 3-column instance), bf16/fp16 both tensor-core kernels (72 padded
// to 80).
TEST_CASE("cuda attention at head dims 64, 72, 80: global, ViTDet windows, odd N, every precision", "[attention]") {
  using namespace vit;
  using cuda::detail::AttentionKernel;
  AttentionKernelGuard guard;
  struct Run { Precision p; Tolerance tol; };
  for (Run r : {Run{Precision::fp32, {}}, Run{Precision::tf32, {}}, Run{Precision::bf16, {6e-2f, 3e-2f}}, Run{Precision::fp16, {1.5e-2f, 1e-2f}}})
    for (AttentionKernel k : {AttentionKernel::v1, AttentionKernel::v2}) {
      if (k == AttentionKernel::v2 && (r.p == Precision::fp32 || r.p == Precision::tf32)) continue;  // one fp32 kernel
      INFO(to_string(r.p) << " attention kernel " << to_string(k));
      cuda::detail::set_attention_kernel(k);
      cuda::Backend b = make(r.p);
      testing::check_attention_head_dims(b, r.tol);
    }
}

// activation computes in fp32 in every precision (fp32 in, fp32 out): the fp32 tolerance.
TEST_CASE("cuda activation: every kind, in place, every precision", "[optional]") {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16, Precision::fp16}) {
    INFO(vit::to_string(p));
    vit::cuda::Backend b = make(p);
    vit::testing::check_activation_op(b);
  }
}

// In bf16/fp16 a LayerNorm writes only the 16-bit mirror of its output: activation reads the mirror.
TEST_CASE("cuda activation of a tensor whose current copy is the 16-bit mirror", "[optional]") {
  using namespace vit;
  for (Precision p : {Precision::bf16, Precision::fp16}) {
    INFO(to_string(p));
    cuda::Backend b = make(p);
    reference::Backend ref;
    const HostTensor x = testing::random_tensor(Shape{37, 96}, 5, 0.5f, 2.0f), g = testing::random_tensor(Shape{96}, 6, 1.0f, 0.3f),
                     be = testing::random_tensor(Shape{96}, 7);
    auto nb = b.alloc(x.shape);
    b.layer_norm(b.upload(x), b.upload(g), b.upload(be), 1e-6f, nb);
    REQUIRE(!nb.storage->f32_fresh);  // the mirror holds the values
    auto nr = ref.alloc(x.shape);
    ref.layer_norm(ref.upload(x), ref.upload(g), ref.upload(be), 1e-6f, nr);
    for (Activation act : {Activation::gelu, Activation::quick_gelu}) {
      INFO(to_string(act));
      auto yb = b.alloc(x.shape);
      b.activation(nb, act, yb);
      auto yr = ref.alloc(x.shape);
      nn::activation(ref, nr, act, yr);
      VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), (Tolerance{2e-2f, 1e-2f}));  // the 16-bit rounding of the LayerNorm output
    }
  }
}

TEST_CASE("cuda scatter_tokens: round trip, untouched rows, in place, errors, every precision", "[optional]") {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16, Precision::fp16}) {
    INFO(vit::to_string(p));
    vit::cuda::Backend b = make(p);
    vit::testing::check_scatter_tokens_op(b);
  }
}

// A scatter writes part of h. When h's current values are in the 16-bit mirror (a LayerNorm wrote
// it), the rows not named must keep those values: the fp32 copy is brought up to date first.
TEST_CASE("cuda scatter_tokens into a tensor whose current copy is the 16-bit mirror", "[optional]") {
  using namespace vit;
  for (Precision p : {Precision::bf16, Precision::fp16}) {
    INFO(to_string(p));
    cuda::Backend b = make(p);
    const HostTensor x = testing::random_tensor(Shape{2, 13, 24}, 8, 1.0f, 2.0f), g = testing::random_tensor(Shape{24}, 9, 1.0f, 0.3f),
                     be = testing::random_tensor(Shape{24}, 10);
    auto h = b.alloc(x.shape), twin = b.alloc(x.shape);
    b.layer_norm(b.upload(x), b.upload(g), b.upload(be), 1e-6f, h);
    b.layer_norm(b.upload(x), b.upload(g), b.upload(be), 1e-6f, twin);
    REQUIRE(!h.storage->f32_fresh);
    const std::vector<std::int64_t> idx = vitdet_window_order(1, 4, 3, 1);  // rows 1..12 (not 0) in order: strided, no upload
    const std::vector<std::int64_t> shuffled{12, 3, 1, 7, 2, 11, 4, 9, 5, 10, 6, 8};
    for (const auto* list : {&idx, &shuffled}) {
      const HostTensor win = testing::random_tensor(Shape{2, 12, 24}, 11);
      b.scatter_tokens(b.upload(win), *list, h);
      HostTensor want = b.download(twin);
      nn::host::scatter_tokens(win, *list, want);
      CHECK(b.download(h).data == want.data);
      b.layer_norm(b.upload(x), b.upload(g), b.upload(be), 1e-6f, h);  // the mirror again for the next list
    }
  }
}
