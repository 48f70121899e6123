// Timing and per-op profile of Model<cpu::Backend> for C-RADIO-B/16 (D 768, depth 12, 12 heads,
// MLP 3072, 4 cls + 4 registers) with RandomWeights. A developer tool, not a test or benchmark:
//   cpu_forward_timing [threads=2] [reps=10] [sizes=224,512] [--profile]
// prints the median forward time per size (reps=0: one forward only, e.g. for peak memory); --profile adds time per op (summed over one forward,
// median forward of the reps). VIT_CFG=models/radio/configs/c-radio-v4-so400m.json (any RADIO config) times that model instead of B/16;
// VIT_CPU_GEMM=onednn|packed forces linear's GEMM (cpu::automatic_gemm).
// Built with the benchmarks
// (`cmake --build build --target cpu_forward_timing`: build/benchmarks/cpu_forward_timing); or alone, e.g. against another
// checkout's headers to compare two versions (from the repository root):
//   g++ -std=c++20 -O3 -march=native -fopenmp -Iinclude -Ibackends/reference/include -Ibackends/cpu/include
//     -Imodels/radio/include backends/cpu/tools/cpu_forward_timing.cpp -o /tmp/cpu_forward_timing -ldnnl
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "vit/backends/cpu.hpp"
#include "vit/models/radio.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// cpu::Backend with every op timed (per op name; linear per K x N and epilogue).
struct Profiled {
  using Tensor = vit::cpu::Backend::Tensor;
  struct Linear {
    vit::cpu::Backend::Linear op;
    std::string key;
  };
  vit::cpu::Backend& b;
  std::map<std::string, double> ms;

  struct Timer {
    std::map<std::string, double>& ms;
    std::string key;
    Clock::time_point t0 = Clock::now();
    ~Timer() { ms[key] += std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
  };

  std::string_view name() const { return "cpu-profiled"; }
  Tensor alloc(const vit::Shape& s) { return b.alloc(s); }
  Tensor upload(const vit::HostTensor& h) { return b.upload(h); }
  void upload(const vit::HostTensor& h, Tensor& y) { b.upload(h, y); }
  vit::HostTensor download(const Tensor& t) { return b.download(t); }
  void synchronize() {}
  void copy(const Tensor& x, Tensor& y) { Timer t{ms, "copy"}; b.copy(x, y); }
  Linear make_linear(const vit::HostTensor& w, const vit::HostTensor* bias) {
    return {b.make_linear(w, bias), "linear K=" + std::to_string(w.shape[1]) + " N=" + std::to_string(w.shape[0])};
  }
  void linear(const Linear& l, const Tensor& x, Tensor& y, vit::Activation act, bool acc) {
    Timer t{ms, l.key + (act == vit::Activation::gelu ? " +gelu" : "") + (acc ? " +sum" : "")};
    b.linear(l.op, x, y, act, acc);
  }
  void layer_norm(const Tensor& x, const Tensor& g, const Tensor& be, float eps, Tensor& y) { Timer t{ms, "layer_norm"}; b.layer_norm(x, g, be, eps, y); }
  void attention(const Tensor& qkv, int heads, float scale, Tensor& out) { Timer t{ms, "attention"}; b.attention(qkv, heads, scale, out); }
  void im2patch(const Tensor& img, int p, const Tensor& m, const Tensor& s, Tensor& out) { Timer t{ms, "im2patch"}; b.im2patch(img, p, m, s, out); }
  void assemble_tokens(const Tensor& p, const Tensor& x, const Tensor& pos, Tensor& h) { Timer t{ms, "assemble_tokens"}; b.assemble_tokens(p, x, pos, h); }
  void gather_tokens(const Tensor& h, std::span<const std::int64_t> idx, Tensor& out) { Timer t{ms, "gather_tokens"}; b.gather_tokens(h, idx, out); }
};
static_assert(vit::Backend<Profiled>);

vit::models::radio::Config radio_b16() {
  vit::models::radio::Config c;
  c.name = "C-RADIO-B/16 (random weights)";
  c.patch_size = 16, c.embed_dim = 768, c.depth = 12, c.num_heads = 12, c.mlp_hidden = 3072;
  c.pos_grid_h = c.pos_grid_w = 128, c.num_cls_tokens = 4, c.num_registers = 4;
  return c;
}

// CPU time of the whole process (all threads), in ms: on a shared, oversubscribed machine the wall
// time includes waiting for a core, this does not.
double process_cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 10;
  std::vector<int> sizes;
  {
    std::stringstream ss(argc > 3 ? argv[3] : "224,512");
    for (std::string s; std::getline(ss, s, ',');) sizes.push_back(std::stoi(s));
  }
  const bool profile = argc > 4 && std::string(argv[4]) == "--profile";
  auto env = [](const char* k) { const char* v = std::getenv(k); return v ? v : "(unset)"; };

  vit::cpu::Backend cpu(vit::cpu::Options{threads});
  std::printf("%s\nOMP_NUM_THREADS=%s OPENBLAS_CORETYPE=%s reps=%d\n", cpu.description().c_str(), env("OMP_NUM_THREADS"),
              env("OPENBLAS_CORETYPE"), reps);
  const char* cfg_path = std::getenv("VIT_CFG");
  const auto cfg = cfg_path ? vit::models::radio::Config::load(cfg_path) : radio_b16();
  vit::models::radio::RandomWeights weights(0);
  Profiled prof{cpu, {}};
  vit::models::radio::Model<Profiled> model(prof, cfg, weights);
  for (int size : sizes) {
    vit::HostTensor host(vit::Shape{1, 3, size, size});
    for (std::size_t i = 0; i < host.data.size(); ++i) host.data[i] = float(i % 251) / 250.0f;
    auto img = prof.upload(host);
    const auto w0 = Clock::now();
    model.forward(img);  // warm-up: workspace, primitives
    const double first = std::chrono::duration<double, std::milli>(Clock::now() - w0).count();
    if (reps == 0) {
      std::printf("%dx%d (%d tokens): one forward %.1f ms (incl. set-up)\n", size, size, (size / cfg.patch_size) * (size / cfg.patch_size) + cfg.num_cls_tokens + cfg.num_registers, first);
      continue;
    }
    std::vector<double> total, cpu_ms;
    std::map<std::string, std::vector<double>> per_op;
    for (int r = 0; r < reps; ++r) {
      prof.ms.clear();
      const auto t0 = Clock::now();
      const double c0 = process_cpu_ms();
      model.forward(img);
      total.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      cpu_ms.push_back(process_cpu_ms() - c0);
      for (const auto& [k, v] : prof.ms) per_op[k].push_back(v);
    }
    std::printf("%dx%d (%d tokens): median %.1f ms, min %.1f ms (process CPU time: median %.1f ms)\n", size, size,
                (size / cfg.patch_size) * (size / cfg.patch_size) + cfg.num_cls_tokens + cfg.num_registers, median(total), *std::min_element(total.begin(), total.end()), median(cpu_ms));
    if (profile)
      for (const auto& [k, v] : per_op) std::printf("  %-32s %8.2f ms\n", k.c_str(), median(v));
  }
  return 0;
}
