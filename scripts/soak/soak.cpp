// vit-soak: many forwards at varying resolutions on one Model, sampling resident memory
// (VmRSS from /proc/self/status), to show that memory does not grow after warm-up.
//
//   vit-soak --backend cpu|vulkan --model DIR [--iters N] [--samples K] [--threads T]
//
// Resolutions cycle through a fixed list of patch multiples (so the Model reallocates its
// workspace on every shape change, which is the path most likely to leak). The first 10% of the
// iterations are warm-up; the verdict compares the maximum RSS of the last quarter of samples
// with the maximum after warm-up, allowing `--slack-mib` (default 8 MiB) for allocator noise.
// Exit status: 0 = no growth, 1 = growth, 2 = usage or setup error.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "vit/backends/cpu.hpp"
#include "vit/models/radio.hpp"
#ifdef VIT_SOAK_VULKAN
#include "vit/backends/vulkan.hpp"
#endif

namespace {

struct Args {
  std::string backend = "cpu", model;
  int iters = 1000, samples = 20, threads = 0;
  double slack_mib = 8;
};

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

template <class B>
int soak(B& backend, const Args& a) {
  namespace radio = vit::models::radio;
  auto snap = radio::open_snapshot(a.model);
  radio::Model<B> model(backend, snap.config, *snap.weights);
  const int p = snap.config.patch_size;
  const std::vector<std::pair<int, int>> grids{{2, 3}, {4, 4}, {3, 5}, {6, 8}, {1, 1}, {8, 6}, {5, 5}, {2, 7}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  const int every = std::max(1, a.iters / a.samples);
  const int warmup = a.iters / 10;
  std::vector<std::pair<int, long>> samples;
  double checksum = 0;
  auto t0 = std::chrono::steady_clock::now();
  std::printf("backend %s, model %s, %d iterations, warm-up %d, sampling every %d\n", std::string(backend.name()).c_str(),
              a.model.c_str(), a.iters, warmup, every);
  std::printf("%8s %12s %10s\n", "iter", "VmRSS KiB", "shape");
  for (int i = 0; i < a.iters; ++i) {
    auto [gh, gw] = grids[std::size_t(i) % grids.size()];
    const int batch = 1 + (i / int(grids.size())) % 2;
    vit::HostTensor x(vit::Shape{batch, 3, std::int64_t(gh) * p, std::int64_t(gw) * p});
    for (auto& v : x.data) v = u(rng);
    auto out = model.forward(x);
    checksum += out.summary.data[0];
    if ((i + 1) % every == 0 || i + 1 == a.iters) {
      samples.emplace_back(i + 1, rss_kib());
      std::printf("%8d %12ld %4dx%dx%d\n", i + 1, samples.back().second, batch, gh * p, gw * p);
      std::fflush(stdout);
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long after_warmup = 0, tail = 0;
  const std::size_t tail_from = samples.size() - std::max<std::size_t>(1, samples.size() / 4);
  for (std::size_t k = 0; k < samples.size(); ++k) {
    if (samples[k].first <= warmup) continue;
    if (k < tail_from) after_warmup = std::max(after_warmup, samples[k].second);
    else tail = std::max(tail, samples[k].second);
  }
  const double growth_mib = double(tail - after_warmup) / 1024.0;
  const bool ok = growth_mib <= a.slack_mib;
  std::printf("%.1f s, %.2f ms/forward, checksum %.6g\n", secs, 1e3 * secs / a.iters, checksum);
  std::printf("max VmRSS after warm-up %ld KiB, in the last quarter %ld KiB: growth %.2f MiB (slack %.1f MiB)\n", after_warmup, tail,
              growth_mib, a.slack_mib);
  std::printf("verdict: %s\n", ok ? "PASS (no growth after warm-up)" : "FAIL (resident memory grows)");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "vit-soak: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--backend") a.backend = next();
    else if (k == "--model") a.model = next();
    else if (k == "--iters") a.iters = std::stoi(next());
    else if (k == "--samples") a.samples = std::stoi(next());
    else if (k == "--threads") a.threads = std::stoi(next());
    else if (k == "--slack-mib") a.slack_mib = std::stod(next());
    else {
      std::fprintf(stderr, "vit-soak: unknown argument %s\n", k.c_str());
      return 2;
    }
  }
  if (a.model.empty() || a.iters <= 0 || a.samples <= 0) {
    std::fprintf(stderr, "usage: vit-soak --backend cpu|vulkan --model DIR [--iters N] [--samples K] [--threads T] [--slack-mib M]\n");
    return 2;
  }
  try {
    if (a.backend == "cpu") {
      vit::cpu::Backend b(vit::cpu::Options{a.threads});
      return soak(b, a);
    }
#ifdef VIT_SOAK_VULKAN
    if (a.backend == "vulkan") {
      vit::vulkan::Backend b;
      return soak(b, a);
    }
#endif
    std::fprintf(stderr, "vit-soak: backend '%s' is not available in this build\n", a.backend.c_str());
    return 2;
  } catch (const vit::Error& e) {
    std::fprintf(stderr, "vit-soak: error (%s): %s\n", vit::to_string(e.kind()), e.what());
    return 2;
  }
}
