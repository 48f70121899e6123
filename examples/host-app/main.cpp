// A host app's whole use of vit: open a model folder of any family (a C-RADIO or timm snapshot, or
// a vit JSON config), run images through it, read the results.
//   host_app MODEL_DIR [THREADS] [HxW] [RUNS]
// With RUNS > 0 it also times RUNS more forwards and prints the median and the cpu backend's
// description (which attention kernels it chose at run time: this app is built without -march).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "vit/backends/cpu.hpp"
#include "vit/models/open.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: host_app MODEL_DIR [THREADS] [HxW] [RUNS]\n");
    return 2;
  }
  try {
    vit::cpu::Backend backend(vit::cpu::Options{.threads = argc > 2 ? std::atoi(argv[2]) : 0});
    vit::models::Snapshot snap = vit::models::open_model(argv[1]);
    vit::Model<vit::cpu::Backend> model(backend, snap.architecture, *snap.weights);

    int h = 64, w = 96;
    if (argc > 3 && std::sscanf(argv[3], "%dx%d", &h, &w) != 2) {
      std::fprintf(stderr, "host_app: error: size: expected HxW, got '%s'\n", argv[3]);
      return 2;
    }
    vit::HostTensor images(vit::Shape{1, 3, h, w});  // [B, 3, H, W], RGB in [0, 1]
    for (std::size_t i = 0; i < images.data.size(); ++i) images.data[i] = float(i % 255) / 255.0f;
    vit::HostOutput out = model.forward(images);  // summary [B, C], features [B, T, D]

    std::printf("summary %s features %s first %.6f\n", out.summary.shape.str().c_str(), out.features.shape.str().c_str(),
                double(out.summary.data[0]));
    const int runs = argc > 4 ? std::atoi(argv[4]) : 0;
    if (runs > 0) {
      std::vector<double> ms;
      for (int i = 0; i < runs; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        model.forward(images);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      std::printf("forward %dx%d: median %.2f ms over %d runs (%s)\n", h, w, ms[ms.size() / 2], runs, backend.description().c_str());
    }
    return 0;
  } catch (const vit::Error& e) {
    std::fprintf(stderr, "host_app: error: %s\n", e.what());
    return 1;
  }
}
