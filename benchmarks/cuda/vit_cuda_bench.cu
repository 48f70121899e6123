// vit-cuda-bench: times the CUDA backend with CUDA events (median of repeats, after warm-up).
//   - end-to-end C-RADIOv3-B/16 224x224 batch 1: fp32 and bf16, graphs on and off
//   - end-to-end C-RADIOv3-H/16 512x512 batch 32, bf16, graphs on (RandomWeights)
//   - the H/16 GEMM shapes (qkv, proj, fc1+GELU, fc2+residual) in fp32, tf32, bf16, and attention
//     (bf16 on both tensor-core kernels v1 and v2 at head dims 80 and 64, fp16 v2, fp32)
// Prints a Markdown table to stdout and writes JSON (--json PATH).
// Usage: vit-cuda-bench [--json PATH] [--repeats N] [--quick] [--peak-tflops X]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "vit/backends/cuda.cuh"
#include "vit/models/radio.hpp"

using namespace vit;

namespace {

struct Result {
  std::string name, precision;
  bool graphs = false;
  int batch = 0;
  double median_ms = 0, min_ms = 0, images_per_s = 0, tflops = 0;
  int repeats = 0;
};

// Median and minimum milliseconds of `repeats` timed calls of f (after `warmup` untimed ones).
std::pair<double, double> time_ms(cuda::Backend& b, const std::function<void()>& f, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) f();
  b.synchronize();
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    cudaEventRecord(start, b.stream());
    f();
    cudaEventRecord(stop, b.stream());
    cudaEventSynchronize(stop);
    float t = 0;
    cudaEventElapsedTime(&t, start, stop);
    ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  b.synchronize();
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front()};
}

// Matrix-product and attention FLOPs of one forward (2 per multiply-add).
double forward_flops(const models::radio::Config& c, int batch, int h, int w) {
  const double t = double(h / c.patch_size) * (w / c.patch_size), n = t + c.num_prefix_tokens(), d = c.embed_dim, m = c.mlp_hidden;
  const double rows = batch * n;
  const double per_block = 2 * rows * (3 * d * d + d * d + 2 * d * m) + 4.0 * batch * n * n * d;
  return 2.0 * batch * t * 3 * c.patch_size * c.patch_size * d + c.depth * per_block;
}

models::radio::Config load_config(const std::string& file) { return models::radio::Config::load(std::string(VIT_RADIO_CONFIG_DIR) + "/" + file); }

Result bench_model(const models::radio::Config& cfg, Precision p, bool graphs, int batch, int res, int warmup, int repeats) {
  cuda::Backend b(cuda::Options{.precision = p, .graphs = graphs});
  models::radio::RandomWeights weights(1);
  models::radio::Model<cuda::Backend> model(b, cfg, weights);
  HostTensor img(Shape{batch, 3, res, res});
  for (std::size_t i = 0; i < img.data.size(); ++i) img.data[i] = float((i * 2654435761u) % 1000) / 1000.0f;
  auto dev = b.upload(img);
  auto [med, mn] = time_ms(b, [&] { model.forward(dev); }, warmup, repeats);
  Result r{cfg.name + " " + std::to_string(res) + "x" + std::to_string(res), to_string(p), graphs, batch, med, mn, 0, 0, repeats};
  r.images_per_s = batch / (med / 1e3);
  r.tflops = forward_flops(cfg, batch, res, res) / (med / 1e3) / 1e12;
  std::fprintf(stderr, "  %s %s graphs=%s batch=%d: %.3f ms\n", r.name.c_str(), r.precision.c_str(), graphs ? "on" : "off", batch, med);
  return r;
}

Result bench_gemm(const std::string& name, Precision p, std::int64_t m, std::int64_t n, std::int64_t k, Activation act, bool acc, int repeats) {
  cuda::Backend b(cuda::Options{.precision = p, .graphs = false});
  HostTensor w(Shape{n, k});
  for (std::size_t i = 0; i < w.data.size(); ++i) w.data[i] = float(int(i % 17) - 8) * 0.01f;
  HostTensor bias(Shape{n});
  auto l = b.make_linear(w, &bias);
  auto x = b.alloc(Shape{m, k});
  auto y = b.alloc(Shape{m, n});
  HostTensor xh(Shape{m, k});
  for (std::size_t i = 0; i < xh.data.size(); ++i) xh.data[i] = float(int(i % 13) - 6) * 0.1f;
  b.upload(xh, x);
  // In bf16/fp16 mode the input's 16-bit copy is made once (as the model's LayerNorm writes it).
  b.linear(l, x, y, act, acc);
  auto [med, mn] = time_ms(b, [&] { b.linear(l, x, y, act, acc); }, 2, repeats);
  Result r{name + " M=" + std::to_string(m) + " N=" + std::to_string(n) + " K=" + std::to_string(k), to_string(p), false, 0, med, mn, 0, 0, repeats};
  r.tflops = 2.0 * double(m) * double(n) * double(k) / (med / 1e3) / 1e12;
  std::fprintf(stderr, "  %s %s: %.3f ms, %.1f TFLOP/s\n", r.name.c_str(), r.precision.c_str(), med, r.tflops);
  return r;
}

// Fused attention on the given tensor-core kernel (v1/v2; fp32 ignores it), restoring the choice after.
Result bench_attention(Precision p, cuda::detail::AttentionKernel kernel, int batch, int n, int heads, int hd, int repeats) {
  cuda::Backend b(cuda::Options{.precision = p, .graphs = false});
  const auto saved = cuda::detail::attention_kernel();
  cuda::detail::set_attention_kernel(kernel);
  const std::int64_t d = std::int64_t(heads) * hd;
  HostTensor qkv(Shape{batch, n, 3 * d});
  for (std::size_t i = 0; i < qkv.data.size(); ++i) qkv.data[i] = float(int(i % 29) - 14) * 0.05f;
  auto x = b.upload(qkv);
  auto out = b.alloc(Shape{batch, n, d});
  const float scale = default_attention_scale(hd);
  b.attention(x, heads, scale, out);
  auto [med, mn] = time_ms(b, [&] { b.attention(x, heads, scale, out); }, 2, repeats);
  cuda::detail::set_attention_kernel(saved);
  const std::string kname = p == Precision::fp32 ? "fp32" : to_string(kernel);
  Result r{"attention " + kname + " B=" + std::to_string(batch) + " N=" + std::to_string(n) + " heads=" + std::to_string(heads) + " hd=" + std::to_string(hd),
           to_string(p), false, batch, med, mn, 0, 0, repeats};
  r.tflops = 4.0 * batch * double(n) * n * d / (med / 1e3) / 1e12;
  std::fprintf(stderr, "  %s %s: %.3f ms, %.1f TFLOP/s\n", r.name.c_str(), r.precision.c_str(), med, r.tflops);
  return r;
}

std::string env_or(const char* name, const char* dflt) {
  const char* v = std::getenv(name);
  return v ? v : dflt;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  int repeats = 30;
  bool quick = false;
  double peak = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--repeats" && i + 1 < argc) repeats = std::max(1, std::atoi(argv[++i]));
    else if (a == "--peak-tflops" && i + 1 < argc) peak = std::atof(argv[++i]);
    else if (a == "--quick") quick = true;
    else {
      std::fprintf(stderr, "usage: %s [--json PATH] [--repeats N] [--quick] [--peak-tflops X]\n", argv[0]);
      return 2;
    }
  }
  try {
    cuda::Backend probe;
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    const std::string dev = prop.name;
    if (peak == 0 && dev.find("H100") != std::string::npos) peak = 989.0;  // H100 SXM dense bf16
    if (peak == 0 && dev.find("H200") != std::string::npos) peak = 989.0;
    if (peak == 0 && dev.find("A100") != std::string::npos) peak = 312.0;
    std::printf("# vit-cuda-bench\n\n");
    std::printf("- device: %s (sm_%d%d, %d SMs, %.1f GiB), driver %d, runtime %d\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
                double(prop.totalGlobalMem) / (1 << 30), driver, runtime);
    std::printf("- env: OMP_NUM_THREADS=%s OPENBLAS_CORETYPE=%s OPENBLAS_NUM_THREADS=%s CUDA_VISIBLE_DEVICES=%s\n", env_or("OMP_NUM_THREADS", "unset").c_str(),
                env_or("OPENBLAS_CORETYPE", "unset").c_str(), env_or("OPENBLAS_NUM_THREADS", "unset").c_str(),
                env_or("CUDA_VISIBLE_DEVICES", "unset").c_str());
    std::printf("- bf16/fp16 attention kernel of the model runs: %s (VIT_CUDA_ATTENTION=%s)\n", to_string(cuda::detail::attention_kernel()),
                env_or("VIT_CUDA_ATTENTION", "unset").c_str());
    std::printf("- timing: CUDA events around each call on the backend's stream, median of %d after warm-up; dense bf16 peak used: %.0f TFLOP/s\n\n",
                repeats, peak);
    std::fflush(stdout);

    std::vector<Result> results;
    const auto b16 = load_config("c-radio-v3-b.json");
    const auto h16 = load_config("c-radio-v3-h.json");
    for (Precision p : {Precision::fp32, Precision::bf16})
      for (bool g : {true, false}) results.push_back(bench_model(b16, p, g, 1, 224, 3, repeats * 3));
    if (!quick) {
      results.push_back(bench_model(h16, Precision::bf16, true, 32, 512, 2, std::max(3, repeats / 3)));
      const std::int64_t rows = 32 * (32 * 32 + 8), d = 1280, hidden = 5120;
      for (Precision p : {Precision::bf16, Precision::tf32, Precision::fp32}) {
        const int r = p == Precision::fp32 ? std::max(3, repeats / 5) : repeats;
        results.push_back(bench_gemm("qkv", p, rows, 3 * d, d, Activation::none, false, r));
        results.push_back(bench_gemm("proj+residual", p, rows, d, d, Activation::none, true, r));
        results.push_back(bench_gemm("fc1+gelu", p, rows, hidden, d, Activation::gelu, false, r));
        results.push_back(bench_gemm("fc2+residual", p, rows, d, hidden, Activation::none, true, r));
      }
      using cuda::detail::AttentionKernel;
      for (AttentionKernel k : {AttentionKernel::v1, AttentionKernel::v2}) {
        results.push_back(bench_attention(Precision::bf16, k, 32, 32 * 32 + 8, 16, 80, repeats));  // H/16 512x512
        results.push_back(bench_attention(Precision::bf16, k, 32, 32 * 32 + 8, 16, 64, repeats));  // L/16 512x512
      }
      results.push_back(bench_attention(Precision::fp16, AttentionKernel::v2, 32, 32 * 32 + 8, 16, 80, repeats));
      results.push_back(bench_attention(Precision::fp32, AttentionKernel::v2, 32, 32 * 32 + 8, 16, 80, std::max(3, repeats / 5)));
    }

    std::printf("| case | precision | graphs | batch | median ms | min ms | img/s | TFLOP/s | %% of bf16 peak |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& r : results)
      std::printf("| %s | %s | %s | %s | %.3f | %.3f | %s | %.1f | %s |\n", r.name.c_str(), r.precision.c_str(), r.batch ? (r.graphs ? "on" : "off") : "-",
                  r.batch ? std::to_string(r.batch).c_str() : "-", r.median_ms, r.min_ms,
                  r.images_per_s > 0 ? std::to_string(int(r.images_per_s + 0.5)).c_str() : "-", r.tflops,
                  peak > 0 ? (std::to_string(int(100 * r.tflops / peak + 0.5)) + "%").c_str() : "-");
    std::ostringstream js;
    js << "{\n  \"device\": \"" << json_escape(dev) << "\", \"sm\": " << prop.major * 10 + prop.minor << ", \"driver\": " << driver
       << ", \"runtime\": " << runtime << ", \"peak_bf16_tflops\": " << peak << ",\n  \"results\": [\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      js << "    {\"case\": \"" << json_escape(r.name) << "\", \"precision\": \"" << r.precision << "\", \"graphs\": " << (r.graphs ? "true" : "false")
         << ", \"batch\": " << r.batch << ", \"median_ms\": " << r.median_ms << ", \"min_ms\": " << r.min_ms << ", \"images_per_s\": " << r.images_per_s
         << ", \"tflops\": " << r.tflops << ", \"repeats\": " << r.repeats << "}" << (i + 1 < results.size() ? "," : "") << "\n";
    }
    js << "  ]\n}\n";
    if (!json_path.empty()) {
      std::ofstream f(json_path);
      f << js.str();
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "vit-cuda-bench: %s error: %s\n", to_string(e.kind()), e.what());
    return e.kind() == ErrorKind::backend ? 77 : 1;
  }
  return 0;
}
