// vit-forward: C-RADIO forward passes with random weights on the cpu backend; prints each latency
// and the process's peak RSS. Made for memory checks under /usr/bin/time -v.
//   vit-forward [--model B16|L16|H16|tiny|config.json] [--size H[xW]] [--batch N] [--threads N] [--iters N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench_common.hpp"
#include "vit/backends/cpu.hpp"
#include "vit/error.hpp"
#include "vit/models/radio/model.hpp"

int main(int argc, char** argv) {
  using namespace vit;
  std::string model = "B16";
  int h = 224, w = 224, batch = 1, threads = 0, iters = 1;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) fail(ErrorKind::argument, "vit-forward: " + a + " needs a value");
        return argv[++i];
      };
      auto integer = [&](const std::string& v) {
        char* end = nullptr;
        long x = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end || x <= 0 || x > 1 << 16) fail(ErrorKind::argument, "vit-forward: " + a + ": expected a positive integer, got '" + v + "'");
        return int(x);
      };
      if (a == "--model") model = value();
      else if (a == "--size") {
        std::string v = value();
        auto x = v.find('x');
        h = integer(v.substr(0, x));
        w = x == std::string::npos ? h : integer(v.substr(x + 1));
      } else if (a == "--batch") batch = integer(value());
      else if (a == "--threads") threads = integer(value());
      else if (a == "--iters") iters = integer(value());
      else fail(ErrorKind::argument, "vit-forward: unknown argument '" + a + "' (see the comment at the top of forward_once.cpp)");
    }
    models::radio::Config cfg = model.size() > 5 && model.substr(model.size() - 5) == ".json" ? models::radio::Config::load(model)
                                                                                               : bench::variant(model).config;
    std::int64_t rss0 = bench::mem::rss_bytes();
    cpu::Backend backend(cpu::Options{.threads = threads});
    models::radio::RandomWeights weights(0);
    models::radio::Model<cpu::Backend> m(backend, cfg, weights);
    std::printf("model %s (%s), %dx%d, batch %d, %s\n", model.c_str(), cfg.name.c_str(), h, w, batch, backend.description().c_str());
    std::printf("rss after model load: %.1f MiB (start %.1f MiB)\n", bench::mem::rss_bytes() / 1048576.0, rss0 / 1048576.0);
    HostTensor img = bench::random_tensor(Shape{batch, 3, h, w}, 42, 0.0f, 1.0f);
    for (int i = 0; i < iters; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto out = m.forward(img);
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::printf("forward %d: %.1f ms, features %s\n", i, ms, out.features.shape.str().c_str());
    }
    std::printf("peak rss (VmHWM): %.1f MiB\n", bench::mem::peak_bytes() / 1048576.0);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
