// Shared helpers of vit-bench: model variants, FLOP and byte counts, host memory probes and
// the process environment. Valid for g++ and nvcc (bench_cuda.cu includes it).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "vit/models/radio/config.hpp"
#include "vit/tensor.hpp"

#ifndef VIT_RADIO_CONFIG_DIR
#define VIT_RADIO_CONFIG_DIR "models/radio/configs"
#endif

namespace vit::bench {

using models::radio::Config;

// A model variant as it appears in benchmark names ("B16") and the config it stands for.
struct Variant {
  std::string tag;  // B16, L16, H16, tiny
  Config config;
};

// The C-RADIOv3 variants from models/radio/configs/*.json (or $VIT_BENCH_CONFIG_DIR), and "tiny"
// (2 blocks of width 192, for the slow reference backend). Falls back to the same numbers in code
// if a JSON file is missing (e.g. a binary run away from its source tree).
inline Variant variant(const std::string& tag) {
  auto from = [&](const char* file, int d, int depth, int heads) {
    const char* dir = std::getenv("VIT_BENCH_CONFIG_DIR");
    std::string path = std::string(dir && *dir ? dir : VIT_RADIO_CONFIG_DIR) + "/" + file;
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return Variant{tag, Config::load(path)};
    Config c;
    c.name = file;
    c.embed_dim = d, c.depth = depth, c.num_heads = heads, c.mlp_hidden = 4 * d;
    return Variant{tag, c};
  };
  if (tag == "B16") return from("c-radio-v3-b.json", 768, 12, 12);
  if (tag == "L16") return from("c-radio-v3-l.json", 1024, 24, 16);
  if (tag == "H16") return from("c-radio-v3-h.json", 1280, 32, 16);
  Config c;  // tiny
  c.name = "tiny";
  c.embed_dim = 192, c.depth = 2, c.num_heads = 3, c.mlp_hidden = 768;
  return Variant{"tiny", c};
}

// Floating-point operations of one C-RADIO forward (multiply-add = 2): the patch embedding,
// per block the four matrix products 2·M·D·(3D + D + 2H) and attention 4·B·N²·D.
inline double radio_flops(const Config& c, int h, int w, int batch) {
  const double p = c.patch_size, d = c.embed_dim, m = c.mlp_hidden;
  const double t = double(h / c.patch_size) * double(w / c.patch_size);
  const double n = t + c.num_prefix_tokens();
  const double rows = batch * n;
  double f = 2.0 * batch * t * 3 * p * p * d;
  f += c.depth * (2.0 * rows * d * (3 * d + d + 2 * m) + 4.0 * batch * n * n * d);
  if (c.feature_projection) f += 2.0 * batch * t * d * d;
  return f;
}

inline std::int64_t radio_tokens(const Config& c, int h, int w) {
  return std::int64_t(h / c.patch_size) * (w / c.patch_size) + c.num_prefix_tokens();
}

// Deterministic uniform [lo, hi) host tensor.
inline HostTensor random_tensor(const Shape& s, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  HostTensor t(s);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (auto& v : t.data) v = u(rng);
  return t;
}

// Host memory of this process from /proc/self/status (bytes; 0 where unreadable).
namespace mem {
inline std::int64_t status_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(f, line))
    if (line.rfind(k, 0) == 0) return std::atoll(line.c_str() + k.size());
  return 0;
}
inline std::int64_t rss_bytes() { return status_kib("VmRSS") * 1024; }
inline std::int64_t peak_bytes() { return status_kib("VmHWM") * 1024; }
// Resets VmHWM to the current RSS (Linux: "5" > /proc/self/clear_refs), so that a later
// peak_bytes() is the peak of what ran in between. Returns false where not allowed.
inline bool reset_peak() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return bool(f);
}
}  // namespace mem

// "name=value" of the environment variables that change how fast the CPU code runs.
inline std::vector<std::pair<std::string, std::string>> threading_env() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* k : {"OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OMP_PROC_BIND",
                        "OMP_PLACES", "GOMP_SPINCOUNT", "KMP_AFFINITY", "MKL_NUM_THREADS", "DNNL_MAX_CPU_ISA",
                        "ONEDNN_MAX_CPU_ISA", "DNNL_VERBOSE", "CUDA_VISIBLE_DEVICES"}) {
    const char* v = std::getenv(k);
    out.emplace_back(k, v ? v : "(unset)");
  }
  return out;
}

// The CPU model name from /proc/cpuinfo.
inline std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      auto pos = line.find(':');
      return pos == std::string::npos ? line : line.substr(pos + 2);
    }
  return "unknown";
}

}  // namespace vit::bench
