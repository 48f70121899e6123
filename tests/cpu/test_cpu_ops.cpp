// The CPU backend against the reference backend: every op over the shared shape grid at several
// thread counts, plus shapes that cross the CPU kernels' own tile boundaries, and bad shapes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "op_check.hpp"
#include "op_check_v4.hpp"
#include "vit/backends/cpu.hpp"

using namespace vit;
using testing::random_tensor;

// The optional ops C-RADIOv4 needs are native here, not the host fallback.
static_assert(nn::HasActivation<cpu::Backend>);
static_assert(nn::HasScatterTokens<cpu::Backend>);
static_assert(!nn::uses_host_fallback<cpu::Backend>(nn::OptionalNeeds{.activation = true, .scatter_tokens = true}));

// The GEMMs this CPU can run behind linear: oneDNN's everywhere, the packed one with AVX2 + FMA.
static std::vector<cpu::Gemm> gemms_here() {
  if (cpu::gemm::available()) return {cpu::Gemm::onednn, cpu::Gemm::packed};
  return {cpu::Gemm::onednn};
}

TEST_CASE("cpu backend matches the reference on the shared op grid") {
  for (cpu::Gemm gemm : gemms_here())
    for (int threads : {1, 2, 3}) {
      DYNAMIC_SECTION("gemm=" << to_string(gemm) << " threads=" << threads) {
        cpu::Backend b(cpu::Options{.threads = threads, .gemm = gemm});
        REQUIRE(b.threads() == threads);
        REQUIRE(b.gemm() == gemm);
        testing::check_ops_against_reference(b);
      }
    }
}

TEST_CASE("cpu backend reports itself") {
  cpu::Backend b(cpu::Options{2});
  CHECK(b.name() == "cpu");
  CHECK(b.threads() == 2);
  INFO(b.description());
  CHECK(b.description().rfind("cpu: 2 threads, oneDNN ", 0) == 0);
  cpu::Backend all;
  CHECK(all.threads() >= 1);
  // bf16 is not a cpu precision yet: refused when the backend is made, in the one form every backend uses.
  CHECK_THROWS_WITH(cpu::Backend(cpu::Options{.precision = Precision::bf16}), "cpu backend: precision bf16 is not supported (supported: fp32)");
}

// Runs the portable, AVX2 and AVX-512 builds of the attention kernel (those this CPU has; a
// warning names the ones it lacks) on qkv and compares each with want.
static void check_every_attention_build(const HostTensor& qkv, const HostTensor& want, std::int64_t batch, std::int64_t n, std::int64_t d,
                                        int heads, float scale, int threads) {
  auto run = [&](const char* build, auto kernel) {
    INFO("attention build " << build);
    HostTensor got(want.shape);
    kernel(qkv.data.data(), got.data.data(), batch, n, d, heads, scale, threads);
    VIT_CHECK_CLOSE(got, want, testing::Tolerance{});
  };
  run("portable", cpu::kernel::portable::flash_attention);
#if VIT_CPU_HAVE_AVX512_BUILD
  if (cpu::kernel::cpu_has_avx2()) run("avx2", cpu::kernel::avx2::flash_attention);
  else WARN("this CPU has no AVX2 + FMA: the avx2 attention build was not run");
  if (cpu::kernel::cpu_has_avx512()) run("avx512", cpu::kernel::avx512::flash_attention);
  else WARN("this CPU has no AVX-512: the avx512 attention build was not run");
#endif
}

TEST_CASE("cpu attention across its tile boundaries") {
  // Query blocks are 16-lane vectors grouped by up to 4, key blocks are 64 rows, register blocks
  // are 6 rows: N around 16/64/96/192, head widths around 6, scores large enough to move the max (logit std ~4 for the 2.0 cases;
  // much larger logits amplify plain fp32 rounding of q·k beyond the default tolerance in any fp32 backend).
  // Tasks are (batch, head, group of query blocks); 2 and 3 threads split the query blocks of a
  // head differently (query_groups), so both run every case.
  reference::Backend ref;
  const int threads = GENERATE(2, 3);
  cpu::Backend b(cpu::Options{threads});
  struct Case { std::int64_t batch, n; int heads; std::int64_t hd; float stddev; };
  std::uint32_t seed = 100;
  for (Case c : {Case{1, 15, 1, 5, 1.0f}, Case{1, 16, 2, 6, 1.0f}, Case{2, 17, 1, 7, 1.0f}, Case{1, 63, 1, 12, 1.0f},
                 Case{1, 64, 3, 13, 1.0f}, Case{1, 65, 1, 64, 1.0f}, Case{1, 95, 2, 64, 1.0f}, Case{1, 96, 1, 64, 1.0f},
                 Case{3, 97, 2, 32, 1.0f}, Case{1, 193, 1, 64, 1.0f}, Case{1, 204, 2, 64, 1.0f}, Case{1, 290, 1, 64, 2.0f},
                 Case{1, 200, 1, 128, 2.0f}, Case{1, 130, 1, 1, 3.0f}}) {
    INFO("attention B=" << c.batch << " N=" << c.n << " heads=" << c.heads << " head_dim=" << c.hd << " stddev=" << c.stddev
                         << " threads=" << threads);
    const std::int64_t d = c.heads * c.hd;
    HostTensor qkv = random_tensor(Shape{c.batch, c.n, 3 * d}, seed++, 0.0f, c.stddev);
    auto ob = b.alloc(Shape{c.batch, c.n, d});
    auto orf = ref.alloc(Shape{c.batch, c.n, d});
    b.attention(b.upload(qkv), c.heads, default_attention_scale(c.hd), ob);
    ref.attention(ref.upload(qkv), c.heads, default_attention_scale(c.hd), orf);
    const HostTensor want = ref.download(orf);
    VIT_CHECK_CLOSE(b.download(ob), want, testing::Tolerance{});
    // Every build of the kernel this CPU can run, whichever the dispatcher picks.
    check_every_attention_build(qkv, want, c.batch, c.n, d, c.heads, default_attention_scale(c.hd), threads);
  }
}

TEST_CASE("cpu attention with an explicit scale, every kernel build") {
  // The explicit-scale cases of the shared table (op_cases.hpp).
  reference::Backend ref;
  std::uint32_t seed = 500;
  for (const testing::AttentionCase& c : testing::cases_for(testing::attention_cases(), testing::Use::test)) {
    if (c.scale == 0) continue;
    INFO("attention " << c.name);
    const HostTensor qkv = random_tensor(Shape{c.batch, c.n, 3 * c.d()}, seed++, 0.0f, c.stddev);
    auto orf = ref.alloc(Shape{c.batch, c.n, c.d()});
    ref.attention(ref.upload(qkv), c.heads, c.scale, orf);
    check_every_attention_build(qkv, ref.download(orf), c.batch, c.n, c.d(), c.heads, c.scale, 2);
  }
}

TEST_CASE("cpu attention at head dims 64, 72, 80: global, ViTDet windows, odd N, both kernel builds") {
  // O^T tiles have hd rows (64 = 10x6 + 4, 72 = 12x6, 80 = 13x6 + 2 register blocks); the window
  // shapes put many small (batch, head) tasks on the threads.
  reference::Backend ref;
  const int threads = GENERATE(1, 2, 3);
  cpu::Backend b(cpu::Options{threads});
  INFO("threads=" << threads);
  testing::check_attention_head_dims(b);
  std::uint32_t seed = 300;
  for (const testing::AttentionCase& c : testing::cases_for(testing::attention_head_dim_cases(), testing::Use::test)) {
    INFO("attention " << c.name);
    HostTensor qkv = random_tensor(Shape{c.batch, c.n, 3 * c.d()}, seed++, 0.0f, c.stddev);
    auto orf = ref.alloc(Shape{c.batch, c.n, c.d()});
    ref.attention(ref.upload(qkv), c.heads, c.qk_scale(), orf);
    const HostTensor want = ref.download(orf);
    check_every_attention_build(qkv, want, c.batch, c.n, c.d(), c.heads, c.qk_scale(), threads);
  }
}

TEST_CASE("cpu activation: every kind, in place, at several thread counts") {
  const int threads = GENERATE(1, 2, 3);
  INFO("threads=" << threads);
  cpu::Backend b(cpu::Options{threads});
  testing::check_activation_op(b);
}

TEST_CASE("cpu activation: many sizes keep the primitive cache bounded") {
  cpu::Backend b(cpu::Options{2});
  for (std::int64_t n = 1; n <= 40; ++n) {
    INFO("n=" << n);
    const HostTensor x = testing::activation_input(Shape{n}, std::uint32_t(n));
    HostTensor want(x.shape);
    nn::host::activation(x, Activation::gelu, want);
    auto y = b.alloc(x.shape);
    b.activation(b.upload(x), Activation::gelu, y);
    VIT_CHECK_CLOSE(b.download(y), want, testing::Tolerance{});
  }
}

TEST_CASE("cpu scatter_tokens: round trip, untouched rows, in place, errors") {
  const int threads = GENERATE(1, 2, 3);
  INFO("threads=" << threads);
  cpu::Backend b(cpu::Options{threads});
  testing::check_scatter_tokens_op(b);
}

TEST_CASE("cpu kernel builds and the GEMM are chosen at run time") {
  // The project builds with -march=native; a host app without it gets the same choice at run time.
  // VIT_CPU_KERNELS=portable or =avx2 narrows the choice (avx2 only where the CPU has it).
  const std::string chosen = cpu::kernel::kernel_build_name();
  const char* env = std::getenv("VIT_CPU_KERNELS");
  const std::string forced = env ? env : "";
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (forced == "portable") CHECK(chosen == "portable");
  else if (forced == "avx2") CHECK(chosen == (avx2 ? "avx2" : "portable"));
  else CHECK(chosen == (avx512 ? "avx512" : avx2 ? "avx2" : "portable"));
  INFO("this CPU runs the " << chosen << " kernel build");
  const cpu::Backend b(cpu::Options{1});
  CHECK(b.description().find("attention " + chosen) != std::string::npos);
  // Without VIT_CPU_GEMM, the packed GEMM is the automatic choice exactly where the avx2 build runs.
  const char* saved = std::getenv("VIT_CPU_GEMM");
  const std::string saved_value = saved ? saved : "";
  if (!saved) {
    CHECK(b.gemm() == (chosen == "avx2" ? cpu::Gemm::packed : cpu::Gemm::onednn));
    CHECK(b.description().find(chosen == "avx2" ? "linear packed avx2" : "linear onednn") != std::string::npos);
  }
  // VIT_CPU_GEMM overrides the automatic choice (packed only where the CPU can run it).
  ::setenv("VIT_CPU_GEMM", "onednn", 1);
  CHECK(cpu::Backend(cpu::Options{1}).gemm() == cpu::Gemm::onednn);
  ::setenv("VIT_CPU_GEMM", "packed", 1);
  CHECK(cpu::Backend(cpu::Options{1}).gemm() == (avx2 ? cpu::Gemm::packed : cpu::Gemm::onednn));
  if (saved) ::setenv("VIT_CPU_GEMM", saved_value.c_str(), 1);
  else ::unsetenv("VIT_CPU_GEMM");
  // Asking for the packed GEMM works where the CPU has AVX2 + FMA, else it is a one-line error.
  if (avx2) CHECK(cpu::Backend(cpu::Options{.threads = 1, .gemm = cpu::Gemm::packed}).gemm() == cpu::Gemm::packed);
  else CHECK_THROWS_WITH(cpu::Backend(cpu::Options{.threads = 1, .gemm = cpu::Gemm::packed}),
                         "cpu backend: gemm packed needs a CPU with AVX2 and FMA; this one lacks them");
}

TEST_CASE("cpu linear: every activation matches the reference") {
  const cpu::Gemm gemm = GENERATE(from_range(gemms_here()));
  INFO("gemm " << to_string(gemm));
  reference::Backend ref;
  cpu::Backend b(cpu::Options{.threads = 2, .gemm = gemm});
  const HostTensor w = random_tensor(Shape{37, 29}, 7, 0.0f, 0.5f), bias = random_tensor(Shape{37}, 8), x = random_tensor(Shape{11, 29}, 9, 0.0f, 2.0f);
  for (Activation act : {Activation::none, Activation::gelu, Activation::gelu_tanh, Activation::quick_gelu}) {
    INFO("activation " << to_string(act));
    auto yb = b.alloc(Shape{11, 37});
    auto yr = ref.alloc(Shape{11, 37});
    b.linear(b.make_linear(w, &bias), b.upload(x), yb, act, false);
    ref.linear(ref.make_linear(w, &bias), ref.upload(x), yr, act, false);
    VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), testing::Tolerance{});
  }
  // The activations differ from each other by more than the tolerance on these inputs.
  auto y1 = ref.alloc(Shape{11, 37}), y2 = ref.alloc(Shape{11, 37});
  ref.linear(ref.make_linear(w, &bias), ref.upload(x), y1, Activation::gelu, false);
  ref.linear(ref.make_linear(w, &bias), ref.upload(x), y2, Activation::gelu_tanh, false);
  double worst = 0;
  for (std::size_t i = 0; i < y1.storage.size(); ++i) worst = std::max(worst, double(std::abs(y1.storage[i] - y2.storage[i])));
  CHECK(worst > 1e-4);
}

TEST_CASE("cpu linear: one prepared layer over many row counts and epilogues") {
  // oneDNN's primitive cache is per (M, gelu, accumulate); the weights are reordered (or packed) once.
  const cpu::Gemm gemm = GENERATE(from_range(gemms_here()));
  INFO("gemm " << to_string(gemm));
  reference::Backend ref;
  cpu::Backend b(cpu::Options{.threads = 2, .gemm = gemm});
  HostTensor w = random_tensor(Shape{200, 96}, 7, 0.0f, 0.1f);
  HostTensor bias = random_tensor(Shape{200}, 8);
  auto lb = b.make_linear(w, &bias);
  auto lr = ref.make_linear(w, &bias);
  std::uint32_t seed = 9;
  for (std::int64_t m : {1, 5, 1024, 1025, 5, 300})
    for (Activation act : {Activation::none, Activation::gelu})
      for (bool acc : {false, true}) {
        INFO("M=" << m << " gelu=" << (act == Activation::gelu) << " accumulate=" << acc);
        HostTensor x = random_tensor(Shape{m, 96}, seed++);
        HostTensor y0 = random_tensor(Shape{m, 200}, seed++);
        auto yb = b.upload(y0);
        auto yr = ref.upload(y0);
        b.linear(lb, b.upload(x), yb, act, acc);
        ref.linear(lr, ref.upload(x), yr, act, acc);
        VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), testing::Tolerance{});
      }
  // Many input sizes: the cache stays bounded (it starts over) and results stay right.
  for (std::int64_t m = 1; m <= 40; ++m) {
    INFO("M=" << m);
    HostTensor x = random_tensor(Shape{m, 96}, seed++);
    auto yb = b.alloc(Shape{m, 200});
    auto yr = ref.alloc(Shape{m, 200});
    b.linear(lb, b.upload(x), yb, Activation::none, false);
    ref.linear(lr, ref.upload(x), yr, Activation::none, false);
    VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), testing::Tolerance{});
    if (lb.matmul) CHECK(lb.matmul->cached_primitives() <= 16);
  }
}

TEST_CASE("cpu linear: the packed GEMM across its tiles, K blocks, row blocks and threads") {
  // Tiles are 6 rows x 16 columns, K blocks 256, row blocks up to 192 rows: sizes on and off each
  // edge, every epilogue (accumulate with an activation takes its own path), 1-3 threads.
  if (!cpu::gemm::available()) {  // where it cannot run, asking for it is refused (also tested above)
    CHECK_THROWS_WITH(cpu::Backend(cpu::Options{.gemm = cpu::Gemm::packed}), "cpu backend: gemm packed needs a CPU with AVX2 and FMA; this one lacks them");
    return;
  }
  reference::Backend ref;
  std::uint32_t seed = 40;
  struct Mkn { std::int64_t m, k, n; };
  for (Mkn s : {Mkn{1, 300, 16}, Mkn{7, 513, 33}, Mkn{200, 600, 40}, Mkn{390, 256, 130}, Mkn{1025, 257, 17}, Mkn{6, 16, 1}})
    for (int threads : {1, 2, 3}) {
      cpu::Backend b(cpu::Options{.threads = threads, .gemm = cpu::Gemm::packed});
      const HostTensor w = random_tensor(Shape{s.n, s.k}, seed++, 0.0f, 1.0f / std::sqrt(float(s.k)));
      const HostTensor bias = random_tensor(Shape{s.n}, seed++);
      const auto lb = b.make_linear(w, &bias);
      const auto lr = ref.make_linear(w, &bias);
      for (Activation act : {Activation::none, Activation::gelu, Activation::gelu_tanh, Activation::quick_gelu})
        for (bool acc : {false, true}) {
          INFO("M" << s.m << " K" << s.k << " N" << s.n << " threads " << threads << " " << to_string(act) << (acc ? " accumulate" : ""));
          const HostTensor x = random_tensor(Shape{s.m, s.k}, seed++, 0.0f, 2.0f);
          const HostTensor y0 = random_tensor(Shape{s.m, s.n}, seed++);
          auto yb = b.upload(y0);
          auto yr = ref.upload(y0);
          b.linear(lb, b.upload(x), yb, act, acc);
          ref.linear(lr, ref.upload(x), yr, act, acc);
          VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), testing::Tolerance{});
        }
    }
}

TEST_CASE("cpu layer_norm and tokens on wide, parallel shapes") {
  reference::Backend ref;
  cpu::Backend b(cpu::Options{2});
  HostTensor x = random_tensor(Shape{2, 333, 768}, 21, -2.0f, 3.0f);
  HostTensor g = random_tensor(Shape{768}, 22, 1.0f, 0.2f);
  HostTensor be = random_tensor(Shape{768}, 23);
  auto yb = b.alloc(x.shape);
  auto yr = ref.alloc(x.shape);
  b.layer_norm(b.upload(x), b.upload(g), b.upload(be), 1e-6f, yb);
  ref.layer_norm(ref.upload(x), ref.upload(g), ref.upload(be), 1e-6f, yr);
  VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), testing::Tolerance{});

  HostTensor img = random_tensor(Shape{2, 3, 224, 160}, 25, 0.5f, 0.3f);
  HostTensor mean(Shape{3, 1, 1}, {0.1f, 0.2f, 0.3f});
  HostTensor sd(Shape{3, 1, 1}, {0.5f, 0.25f, 0.75f});
  Shape ps{2 * 14 * 10, 3 * 16 * 16};
  auto ib = b.alloc(ps);
  auto ir = ref.alloc(ps);
  b.im2patch(b.upload(img), 16, b.upload(mean), b.upload(sd), ib);
  ref.im2patch(ref.upload(img), 16, ref.upload(mean), ref.upload(sd), ir);
  VIT_CHECK_CLOSE(b.download(ib), ref.download(ir), testing::Tolerance{});
}

TEST_CASE("cpu backend rejects bad shapes with vit::Error") {
  cpu::Backend b(cpu::Options{2});
  auto is_shape_error = [](const Error& e) { return e.kind() == ErrorKind::shape; };
  auto t = [&](Shape s) { return b.alloc(s); };
  HostTensor w(Shape{8, 4}), bias(Shape{8}), wrong_bias(Shape{7});
  auto lin = b.make_linear(w, &bias);

  SECTION("linear") {
    auto y = t(Shape{3, 8});
    CHECK_THROWS_MATCHES(b.linear(lin, t(Shape{3, 5}), y, Activation::none, false), Error, Catch::Predicate<Error>(is_shape_error));
    auto y_bad = t(Shape{3, 7});
    CHECK_THROWS_MATCHES(b.linear(lin, t(Shape{3, 4}), y_bad, Activation::none, false), Error, Catch::Predicate<Error>(is_shape_error));
    CHECK_THROWS_MATCHES(b.make_linear(HostTensor(Shape{8}), nullptr), Error, Catch::Predicate<Error>(is_shape_error));
    CHECK_THROWS_MATCHES(b.make_linear(w, &wrong_bias), Error, Catch::Predicate<Error>(is_shape_error));
  }
  SECTION("attention") {
    auto out = t(Shape{1, 5, 8});
    CHECK_THROWS_MATCHES(b.attention(t(Shape{1, 5, 25}), 1, 0.5f, out), Error, Catch::Predicate<Error>(is_shape_error));
    CHECK_THROWS_MATCHES(b.attention(t(Shape{1, 5, 24}), 3, 0.5f, out), Error, Catch::Predicate<Error>(is_shape_error));
    CHECK_THROWS_MATCHES(b.attention(t(Shape{1, 5, 24}), 0, 0.5f, out), Error, Catch::Predicate<Error>(is_shape_error));
    CHECK_THROWS_MATCHES(b.attention(t(Shape{1, 6, 24}), 2, 0.5f, out), Error, Catch::Predicate<Error>(is_shape_error));
    CHECK_THROWS_MATCHES(b.attention(t(Shape{5, 24}), 2, 0.5f, out), Error, Catch::Predicate<Error>(is_shape_error));
  }
  SECTION("layer_norm, im2patch, resample, tokens, copies") {
    auto y = t(Shape{2, 8});
    CHECK_THROWS_MATCHES(b.layer_norm(t(Shape{2, 7}), t(Shape{8}), t(Shape{8}), 1e-6f, y), Error, Catch::Predicate<Error>(is_shape_error));
    CHECK_THROWS_MATCHES(b.layer_norm(t(Shape{2, 8}), t(Shape{8}), t(Shape{7}), 1e-6f, y), Error, Catch::Predicate<Error>(is_shape_error));
    auto patches = t(Shape{4, 3 * 16 * 16});
    CHECK_THROWS_MATCHES(b.im2patch(t(Shape{1, 3, 32, 30}), 16, t(Shape{3}), t(Shape{3}), patches), Error, Catch::Predicate<Error>(is_shape_error));
    CHECK_THROWS_MATCHES(b.im2patch(t(Shape{1, 3, 32, 32}), 16, t(Shape{2}), t(Shape{3}), patches), Error, Catch::Predicate<Error>(is_shape_error));
    CHECK_THROWS_MATCHES(b.im2patch(t(Shape{3, 32, 32}), 16, t(Shape{3}), t(Shape{3}), patches), Error, Catch::Predicate<Error>(is_shape_error));
    auto h = t(Shape{2, 5, 4});
    CHECK_THROWS_MATCHES(b.assemble_tokens(t(Shape{1, 4}), t(Shape{6, 4}), t(Shape{3, 4}), h), Error, Catch::Predicate<Error>(is_shape_error));
    std::vector<std::int64_t> idx{0, 5};
    auto g = t(Shape{2, 2, 4});
    CHECK_THROWS_MATCHES(b.gather_tokens(h, idx, g), Error, Catch::Predicate<Error>(is_shape_error));
    idx = {0, -1};
    CHECK_THROWS_MATCHES(b.gather_tokens(h, idx, g), Error, Catch::Predicate<Error>(is_shape_error));
    auto c = t(Shape{3});
    CHECK_THROWS_MATCHES(b.copy(t(Shape{4}), c), Error, Catch::Predicate<Error>(is_shape_error));
    CHECK_THROWS_MATCHES(b.upload(HostTensor(Shape{4}), c), Error, Catch::Predicate<Error>(is_shape_error));
  }
  SECTION("thread count") {
    CHECK_THROWS_MATCHES(cpu::Backend(cpu::Options{-1}), Error, Catch::Predicate<Error>([](const Error& e) { return e.kind() == ErrorKind::argument; }));
  }
}
