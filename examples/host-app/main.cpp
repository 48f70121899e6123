// A host app's whole use of vit: open a C-RADIO snapshot, run images through it, read results.
//   host_app MODEL_DIR [THREADS]   (MODEL_DIR: an HF C-RADIO snapshot or a vit JSON config)
#include <cstdio>
#include <cstdlib>

#include "vit/backends/cpu.hpp"
#include "vit/models/radio.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: host_app MODEL_DIR [THREADS]\n");
    return 2;
  }
  try {
    namespace radio = vit::models::radio;
    vit::cpu::Backend backend(vit::cpu::Options{.threads = argc > 2 ? std::atoi(argv[2]) : 0});
    radio::Snapshot snap = radio::open_snapshot(argv[1]);
    radio::Model<vit::cpu::Backend> model(backend, snap.config, *snap.weights);

    vit::HostTensor images(vit::Shape{1, 3, 64, 96});  // [B, 3, H, W], RGB in [0, 1]
    for (std::size_t i = 0; i < images.data.size(); ++i) images.data[i] = float(i % 255) / 255.0f;
    radio::HostOutput out = model.forward(images);  // summary [B, C], features [B, T, D]

    std::printf("summary %s features %s first %.6f\n", out.summary.shape.str().c_str(), out.features.shape.str().c_str(),
                double(out.summary.data[0]));
    return 0;
  } catch (const vit::Error& e) {
    std::fprintf(stderr, "host_app: error: %s\n", e.what());
    return 1;
  }
}
