// vit-vulkan-bench: per-op and end-to-end times of the Vulkan backend next to the cpu backend
// (same process, same run), on the C-RADIO-B/16 shapes. Plain table on stdout.
//   vit-vulkan-bench [--size S] [--iters N] [--ops-only] [--model-only] [--quick] [--fp16]
//                    [--gemm LX,TM,TN] [--attn LX,BK,QT] [--threads N (cpu backend)]
// --quick: ops only, the four M=tokens GEMMs and attention, median of 3 (a few seconds).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../bench_common.hpp"
#include "vit/backends/cpu.hpp"
#include "vit/backends/vulkan.hpp"
#include "vit/models/radio/model.hpp"
#include "vit/models/radio/weights.hpp"
#include "vulkan_timing.hpp"

using namespace vit;

namespace {

struct Args {
  int size = 224, iters = 5, threads = 0;
  bool ops = true, model = true, quick = false, fp16 = false;
  int lx = 0, tm = 0, tn = 0;
  int alx = 0, abk = 0, aqt = 0;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) fail(ErrorKind::argument, "vit-vulkan-bench: " + s + " needs a value");
      return argv[++i];
    };
    if (s == "--size") a.size = std::atoi(next());
    else if (s == "--iters") a.iters = std::max(1, std::atoi(next()));
    else if (s == "--threads") a.threads = std::atoi(next());
    else if (s == "--ops-only") a.model = false;
    else if (s == "--model-only") a.ops = false;
    else if (s == "--quick") a.quick = true, a.model = false, a.iters = 3;
    else if (s == "--fp16") a.fp16 = true;
    else if (s == "--gemm") {
      if (std::sscanf(next(), "%d,%d,%d", &a.lx, &a.tm, &a.tn) != 3) fail(ErrorKind::argument, "--gemm expects LX,TM,TN");
    } else if (s == "--attn") {
      if (std::sscanf(next(), "%d,%d,%d", &a.alx, &a.abk, &a.aqt) != 3) fail(ErrorKind::argument, "--attn expects LX,BK,QT");
    } else fail(ErrorKind::argument, "vit-vulkan-bench: unknown argument '" + s + "' (see the comment at the top of vit_vulkan_bench.cpp)");
  }
  return a;
}

const char* env(const char* k) {
  const char* v = std::getenv(k);
  return v ? v : "(unset)";
}

// One row: an op timed on both backends; gflop = 0 hides the GFLOP/s columns.
void row(const char* op, const std::string& shape, double gflop, double vk_ms, double cpu_ms) {
  std::printf("%-12s %-26s %10.3f %10.3f %8.2f", op, shape.c_str(), vk_ms, cpu_ms, vk_ms / cpu_ms);
  if (gflop > 0) std::printf(" %9.1f %9.1f", gflop / vk_ms, gflop / cpu_ms);
  std::printf("\n");
}

template <class B>
struct OpBench {
  B& b;
  int iters;

  double linear(std::int64_t m, std::int64_t k, std::int64_t n, Activation act) {
    auto w = bench::random_tensor(Shape{n, k}, 1, -0.05f, 0.05f);
    auto bias = bench::random_tensor(Shape{n}, 2);
    auto l = b.make_linear(w, &bias);
    auto x = b.upload(bench::random_tensor(Shape{m, k}, 3));
    auto y = b.alloc(Shape{m, n});
    return bench::median_op_ms(b, [&] { b.linear(l, x, y, act, false); }, iters);
  }
  double layer_norm(std::int64_t m, std::int64_t d) {
    auto x = b.upload(bench::random_tensor(Shape{m, d}, 4));
    auto g = b.upload(bench::random_tensor(Shape{d}, 5));
    auto be = b.upload(bench::random_tensor(Shape{d}, 6));
    auto y = b.alloc(Shape{m, d});
    return bench::median_op_ms(b, [&] { b.layer_norm(x, g, be, 1e-6f, y); }, iters);
  }
  double attention(std::int64_t n, int heads, std::int64_t d) {
    auto qkv = b.upload(bench::random_tensor(Shape{1, n, 3 * d}, 7));
    auto o = b.alloc(Shape{1, n, d});
    const float scale = default_attention_scale(d / heads);
    return bench::median_op_ms(b, [&] { b.attention(qkv, heads, scale, o); }, iters);
  }
  double im2patch(int size) {
    auto img = b.upload(bench::random_tensor(Shape{1, 3, size, size}, 8, 0.0f, 1.0f));
    auto mean = b.upload(HostTensor(Shape{3}, {0.5f, 0.5f, 0.5f}));
    auto sd = b.upload(HostTensor(Shape{3}, {0.25f, 0.25f, 0.25f}));
    auto o = b.alloc(Shape{std::int64_t(size / 16) * (size / 16), 768});
    return bench::median_op_ms(b, [&] { b.im2patch(img, 16, mean, sd, o); }, iters);
  }
};

template <class B>
double model_ms(B& b, int size, int iters) {
  auto cfg = bench::variant("B16").config;
  models::radio::RandomWeights w(0);
  models::radio::Model<B> m(b, cfg, w);
  HostTensor img = bench::random_tensor(Shape{1, 3, size, size}, 42, 0.0f, 1.0f);
  m.forward(img);  // warm-up: workspace, pipelines
  return bench::median_ms([&] { m.forward(img); }, iters);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    Args a = parse(argc, argv);
    vulkan::Backend vk(vulkan::Options{.precision = a.fp16 ? Precision::fp16 : Precision::fp32});
    if (a.lx > 0) {
      vk.tuning().gemm_lanes = std::uint32_t(a.lx);
      vk.tuning().gemm_tm = std::uint32_t(a.tm);
      vk.tuning().gemm_tn = std::uint32_t(a.tn);
    }
    if (a.alx > 0) {
      vk.tuning().attn_lanes = std::uint32_t(a.alx);
      vk.tuning().attn_block = std::uint32_t(a.abk);
      vk.tuning().attn_queries = std::uint32_t(a.aqt);
    }
    cpu::Backend cpu(cpu::Options{.threads = a.threads});
    const auto& t = vk.tuning();
    std::printf("vulkan: %s\ncpu:    %s\n", vk.description().c_str(), cpu.description().c_str());
    std::printf("env: LP_NUM_THREADS=%s OMP_NUM_THREADS=%s OPENBLAS_CORETYPE=%s; gemm LX,TM,TN = %u,%u,%u; attention LX,BK,QT = %u,%u,%u; "
                "median of %d\n\n",
                env("LP_NUM_THREADS"), env("OMP_NUM_THREADS"), env("OPENBLAS_CORETYPE"), t.gemm_lanes, t.gemm_tm, t.gemm_tn, t.attn_lanes,
                t.attn_block, t.attn_queries, a.iters);
    if (a.ops) {
      OpBench<vulkan::Backend> v{vk, a.iters};
      OpBench<cpu::Backend> c{cpu, a.iters};
      const std::int64_t tokens = std::int64_t(a.size / 16) * (a.size / 16) + 8;
      std::printf("%-12s %-26s %10s %10s %8s %9s %9s\n", "op", "shape", "vulkan ms", "cpu ms", "vk/cpu", "vk GF/s", "cpu GF/s");
      struct G { std::int64_t m, k, n; const char* what; };
      for (G g : {G{tokens, 768, 2304, "qkv"}, G{tokens, 768, 768, "proj"}, G{tokens, 768, 3072, "fc1+gelu"}, G{tokens, 3072, 768, "fc2"},
                  G{1032, 768, 2304, "qkv M=1032"}, G{1032, 768, 3072, "fc1 M=1032"}}) {
        if (a.quick && g.m != tokens) continue;
        Activation act = std::string(g.what).find("gelu") != std::string::npos ? Activation::gelu : Activation::none;
        double gf = 2.0 * g.m * g.k * g.n * 1e-6;  // GFLOP per ms = 1e-6 * flops
        row("linear", g.what + std::string(" ") + std::to_string(g.m) + "x" + std::to_string(g.k) + "x" + std::to_string(g.n), gf,
            v.linear(g.m, g.k, g.n, act), c.linear(g.m, g.k, g.n, act));
      }
      if (!a.quick) row("layer_norm", std::to_string(tokens) + "x768", 0, v.layer_norm(tokens, 768), c.layer_norm(tokens, 768));
      row("attention", "N=" + std::to_string(tokens) + " 12 heads x 64", 4.0 * tokens * tokens * 768 * 1e-6, v.attention(tokens, 12, 768),
          c.attention(tokens, 12, 768));
      if (!a.quick) row("im2patch", std::to_string(a.size) + "x" + std::to_string(a.size) + " p16", 0, v.im2patch(a.size), c.im2patch(a.size));
      std::printf("\n");
    }
    if (a.model) {
      double vms = model_ms(vk, a.size, a.iters), cms = model_ms(cpu, a.size, a.iters);
      std::printf("C-RADIO-B/16 (RandomWeights) %dx%d, batch 1: vulkan %.1f ms, cpu %.1f ms (vulkan/cpu %.2f)\n", a.size, a.size, vms, cms,
                  vms / cms);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vit-vulkan-bench: %s\n", e.what());
    return 1;
  }
}
