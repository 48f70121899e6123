// register_backend<B>(spec): registers every vit-bench case of one backend with Google Benchmark.
// Each backend's translation unit (bench_cpu.cpp, bench_reference.cpp, bench_vulkan.cpp,
// bench_cuda.cu) fills a BackendSpec and calls it; the cases are the same code for all of them.
// The per-op cases are the bench cases of the op case table the op tests use too
// (tests/support/op_cases.hpp): op/<backend>/<op>/<case name>.
//
// Names (Google Benchmark appends "/real_time", and "_median" etc. for aggregates):
//   radio/<backend>/<variant>/<H>x<W>/b<batch>[/<precision>]   end-to-end forward, input on the backend
//   load/<backend>/B16/safetensors                             mmap + Model construction + first forward
//   op/<backend>/linear/<variant>.<layer>/M<m>xK<k>xN<n>[/<precision>]   y = x W^T + b
//   op/<backend>/linear_gelu/<variant>.fc1/M..xK..xN..[/<precision>]     y = GELU(x W^T + b)
//   op/<backend>/attention/[B<batch>x]N<n>xD<d>xH<heads>[/<precision>]  fused qkv -> out (batch 1 unless named)
//   op/<backend>/activation/<act>/M<m>xN<n>                              y = act(x) elementwise
//   op/<backend>/scatter_tokens/B<b>xN<n>xD<d>/w<window>                 ViTDet windows back to the token order
//   op/<backend>/layer_norm/M<m>xD<d>, op/<backend>/im2patch/<H>x<W>,
// Precision fp32 is the default and carries no suffix.
#pragma once
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "op_cases.hpp"
#include "vit/backend.hpp"
#include "vit/io/safetensors.hpp"
#include "vit/models/radio/importer.hpp"
#include "vit/models/radio/model.hpp"
#include "vit/models/radio/weights.hpp"
#include "vit/nn/optional_ops.hpp"

namespace vit::bench {

// How big the cases of a backend get: `full` runs every model and size; `small` (the reference
// backend) only the tiny model and the smallest op shapes.
enum class Scope { small, full };

template <class B>
struct BackendSpec {
  std::string name;                                    // "cpu": the <backend> of case names
  std::function<std::unique_ptr<B>(Precision)> make;   // a fresh backend computing in a precision
  std::vector<Precision> precisions{Precision::fp32};  // fp32 first; others get a name suffix
  std::function<double()> device_mib;                  // device memory in use (MiB), or empty
  double peak_gflops = 0;                              // fp32 peak of what the backend runs on, 0: unknown
  Scope scope = Scope::full;
  std::int64_t head_dim_tokens = 0;                    // N of the head-dim attention cases (0: 1034, small scope 266)
};

inline std::string precision_suffix(Precision p) { return p == Precision::fp32 ? "" : std::string("/") + to_string(p); }

// Sets the shared throughput counters: GFLOP/s and % of the fp32 peak (when known).
inline void set_flop_counters(benchmark::State& st, double flops_per_iter, double peak_gflops) {
  using C = benchmark::Counter;
  st.counters["GFLOP/s"] = C(flops_per_iter * 1e-9, C::kIsIterationInvariantRate);
  if (peak_gflops > 0) st.counters["pct_peak"] = C(flops_per_iter * 1e-9 / peak_gflops * 100.0, C::kIsIterationInvariantRate);
}

inline void set_byte_counters(benchmark::State& st, double bytes_per_iter) {
  using C = benchmark::Counter;
  st.counters["GB/s"] = C(bytes_per_iter * 1e-9, C::kIsIterationInvariantRate);
}

// One prepared end-to-end case kept alive between the calls Google Benchmark makes to the same
// case (it calls a case once per trial and repetition): model construction with random weights
// takes seconds. Only one is alive at a time, so memory stays that of one model.
struct PreparedCase {
  virtual ~PreparedCase() = default;
  std::string key;
  double host_peak_mib = 0, host_model_mib = 0, device_mib = 0, setup_s = 0;
};
inline std::unique_ptr<PreparedCase>& prepared_slot() {
  static std::unique_ptr<PreparedCase> slot;
  return slot;
}

template <class B>
struct PreparedRadio : PreparedCase {
  std::unique_ptr<B> backend;
  std::unique_ptr<models::radio::Model<B>> model;
  std::unique_ptr<typename B::Tensor> input;
};

template <class B>
PreparedRadio<B>& prepare_radio(const BackendSpec<B>& spec, const Variant& v, int h, int w, int batch, Precision p,
                                const std::string& key) {
  auto& slot = prepared_slot();
  if (slot && slot->key == key) return dynamic_cast<PreparedRadio<B>&>(*slot);
  slot.reset();
  const bool can_reset = mem::reset_peak();
  const double rss0 = double(mem::rss_bytes());
  const double dev0 = spec.device_mib ? spec.device_mib() : 0.0;
  auto t0 = std::chrono::steady_clock::now();
  auto c = std::make_unique<PreparedRadio<B>>();
  c->key = key;
  c->backend = spec.make(p);
  {
    models::radio::RandomWeights weights(0);
    c->model = std::make_unique<models::radio::Model<B>>(*c->backend, v.config, weights);
  }
  c->host_model_mib = (double(mem::rss_bytes()) - rss0) / (1 << 20);
  c->input = std::make_unique<typename B::Tensor>(c->backend->upload(random_tensor(Shape{batch, 3, h, w}, 42, 0.0f, 1.0f)));
  c->model->forward(*c->input);  // allocates the workspace (and captures a graph where supported)
  c->backend->synchronize();
  c->setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c->host_peak_mib = can_reset ? (double(mem::peak_bytes()) - rss0) / (1 << 20) : -1.0;
  if (spec.device_mib) c->device_mib = spec.device_mib() - dev0;
  auto& ref = *c;
  slot = std::move(c);
  return ref;
}

template <class B>
void bench_radio(benchmark::State& st, BackendSpec<B> spec, Variant v, int h, int w, int batch, Precision p, std::string key) {
  try {
    auto& c = prepare_radio(spec, v, h, w, batch, p, key);
    for (auto _ : st) {
      c.model->forward(*c.input);
      c.backend->synchronize();
    }
    using C = benchmark::Counter;
    const double tokens = double(batch) * double(radio_tokens(v.config, h, w));
    st.counters["tokens/s"] = C(tokens, C::kIsIterationInvariantRate);
    st.counters["images/s"] = C(batch, C::kIsIterationInvariantRate);
    set_flop_counters(st, radio_flops(v.config, h, w, batch), p == Precision::fp32 ? spec.peak_gflops : 0.0);
    st.counters["host_peak_MiB"] = c.host_peak_mib;    // peak RSS over model load + first forward, above the start
    st.counters["host_model_MiB"] = c.host_model_mib;  // RSS growth from building the model
    if (spec.device_mib) st.counters["device_MiB"] = c.device_mib;
    st.counters["setup_s"] = c.setup_s;
  } catch (const std::exception& e) {
    prepared_slot().reset();
    st.SkipWithError(e.what());
  }
}

// Captures every tensor a model asks for (random values) so it can be written as a checkpoint.
class RecordingWeights : public models::radio::WeightSource {
 public:
  HostTensor get(const std::string& key, const Shape& expected) const override {
    HostTensor t = random_.get(key, expected);
    tensors_.push_back(io::TensorToWrite{"radio_model." + key, expected, t.data, {}, false});
    return t;
  }
  std::optional<Shape> shape_of(const std::string&) const override { return std::nullopt; }
  std::vector<io::TensorToWrite>& tensors() const { return tensors_; }

 private:
  models::radio::RandomWeights random_{0};
  mutable std::vector<io::TensorToWrite> tensors_;
};

// A B/16 model folder (config.json + model.safetensors, random weights) in the temp directory,
// written once per process and removed at exit.
template <class B>
std::string b16_checkpoint_dir(B& backend) {
  struct Dir {
    std::filesystem::path path;
    ~Dir() {
      std::error_code ec;
      if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
  };
  static Dir dir;
  if (!dir.path.empty()) return dir.path.string();
  auto path = std::filesystem::temp_directory_path() / ("vit-bench-b16-" + std::to_string(::getpid()));
  std::filesystem::create_directories(path);
  const Config cfg = variant("B16").config;
  RecordingWeights rec;
  { models::radio::Model<B> m(backend, cfg, rec); }
  io::write_safetensors((path / "model.safetensors").string(), rec.tensors());
  cfg.save((path / "config.json").string());
  dir.path = path;
  return path.string();
}

template <class B>
void bench_load(benchmark::State& st, BackendSpec<B> spec) {
  try {
    prepared_slot().reset();
    auto backend = spec.make(Precision::fp32);
    const std::string dir = b16_checkpoint_dir(*backend);
    HostTensor img = random_tensor(Shape{1, 3, 224, 224}, 42, 0.0f, 1.0f);
    for (auto _ : st) {
      auto b = spec.make(Precision::fp32);
      auto snap = models::radio::open_snapshot(dir);
      models::radio::Model<B> model(*b, snap.config, *snap.weights);
      auto x = b->upload(img);
      model.forward(x);
      b->synchronize();
    }
    std::error_code ec;
    st.counters["file_MiB"] = double(std::filesystem::file_size(std::filesystem::path(dir) / "model.safetensors", ec)) / (1 << 20);
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

// --- per-op cases ------------------------------------------------------------------------------

template <class B>
void bench_linear(benchmark::State& st, BackendSpec<B> spec, testing::LinearCase c, Precision p) {
  try {
    prepared_slot().reset();
    auto b = spec.make(p);
    auto bias = random_tensor(Shape{c.n}, 2);
    auto lin = b->make_linear(random_tensor(Shape{c.n, c.k}, 1, -0.05f, 0.05f), c.bias ? &bias : nullptr);
    auto x = b->upload(random_tensor(Shape{c.m, c.k}, 3));
    auto y = b->alloc(Shape{c.m, c.n});
    b->linear(lin, x, y, c.act, c.accumulate);
    b->synchronize();
    for (auto _ : st) {
      b->linear(lin, x, y, c.act, c.accumulate);
      b->synchronize();
    }
    set_flop_counters(st, 2.0 * double(c.m) * double(c.k) * double(c.n), p == Precision::fp32 ? spec.peak_gflops : 0.0);
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

template <class B>
void bench_attention(benchmark::State& st, BackendSpec<B> spec, testing::AttentionCase c, Precision p) {
  try {
    prepared_slot().reset();
    auto b = spec.make(p);
    auto qkv = b->upload(random_tensor(Shape{c.batch, c.n, 3 * c.d()}, 4, 0.0f, c.stddev));
    auto out = b->alloc(Shape{c.batch, c.n, c.d()});
    b->attention(qkv, c.heads, c.qk_scale(), out);
    b->synchronize();
    for (auto _ : st) {
      b->attention(qkv, c.heads, c.qk_scale(), out);
      b->synchronize();
    }
    st.counters["head_dim"] = double(c.hd);
    set_flop_counters(st, 4.0 * double(c.batch) * double(c.n) * double(c.n) * double(c.d()), p == Precision::fp32 ? spec.peak_gflops : 0.0);
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

// y = act(x) (the optional op; the host fallback where a backend lacks it).
template <class B>
void bench_activation(benchmark::State& st, BackendSpec<B> spec, testing::ActivationCase c) {
  try {
    prepared_slot().reset();
    auto b = spec.make(Precision::fp32);
    auto x = b->upload(random_tensor(c.shape, 9, -3.0f, 3.0f));
    auto y = b->alloc(c.shape);
    nn::activation(*b, x, c.act, y);
    b->synchronize();
    for (auto _ : st) {
      nn::activation(*b, x, c.act, y);
      b->synchronize();
    }
    set_byte_counters(st, 2.0 * 4.0 * double(c.shape.numel()));  // read x, write y
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

// scatter_tokens of the patch tokens in ViTDet window order back into h (the optional op; the host
// fallback where a backend lacks it).
template <class B>
void bench_scatter_tokens(benchmark::State& st, BackendSpec<B> spec, testing::ScatterCase c) {
  try {
    prepared_slot().reset();
    auto b = spec.make(Precision::fp32);
    const std::vector<std::int64_t> idx = vitdet_window_order(c.prefix, c.gh, c.gw, c.w);
    const std::int64_t batch = c.batch, d = c.d, len = std::int64_t(idx.size());
    auto x = b->upload(random_tensor(Shape{batch, len, d}, 10));
    auto h = b->upload(random_tensor(Shape{batch, c.prefix + c.gh * c.gw, d}, 11));
    nn::scatter_tokens(*b, x, idx, h);
    b->synchronize();
    for (auto _ : st) {
      nn::scatter_tokens(*b, x, idx, h);
      b->synchronize();
    }
    set_byte_counters(st, 2.0 * 4.0 * double(batch) * double(len) * double(d));  // read x, write those rows of h
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

template <class B>
void bench_layer_norm(benchmark::State& st, BackendSpec<B> spec, testing::LayerNormCase c) {
  try {
    prepared_slot().reset();
    auto b = spec.make(Precision::fp32);
    auto x = b->upload(random_tensor(Shape{c.m, c.d}, 5));
    auto g = b->upload(random_tensor(Shape{c.d}, 6));
    auto beta = b->upload(random_tensor(Shape{c.d}, 7));
    auto y = b->alloc(Shape{c.m, c.d});
    b->layer_norm(x, g, beta, c.eps, y);
    b->synchronize();
    for (auto _ : st) {
      b->layer_norm(x, g, beta, c.eps, y);
      b->synchronize();
    }
    set_byte_counters(st, 2.0 * 4.0 * double(c.m) * double(c.d));  // read x, write y
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

template <class B>
void bench_im2patch(benchmark::State& st, BackendSpec<B> spec, testing::Im2PatchCase c) {
  try {
    prepared_slot().reset();
    auto b = spec.make(Precision::fp32);
    auto img = b->upload(random_tensor(Shape{c.batch, 3, c.h, c.w}, 8, 0.0f, 1.0f));
    auto mean = b->upload(HostTensor(Shape{3}, {0.48f, 0.46f, 0.41f}));
    auto sd = b->upload(HostTensor(Shape{3}, {0.27f, 0.26f, 0.28f}));
    const std::int64_t p = c.p, t = c.batch * (c.h / p) * (c.w / p);
    auto out = b->alloc(Shape{t, 3 * p * p});
    b->im2patch(img, c.p, mean, sd, out);
    b->synchronize();
    for (auto _ : st) {
      b->im2patch(img, c.p, mean, sd, out);
      b->synchronize();
    }
    set_byte_counters(st, 2.0 * 4.0 * 3.0 * double(c.batch * c.h * c.w));
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

template <class B>
std::string describe(B& b) {
  if constexpr (requires { b.description(); }) return std::string(b.description());
  else return std::string(b.name());
}

// --- registration --------------------------------------------------------------------------------

template <class F>
benchmark::internal::Benchmark* add_case(const std::string& name, F&& fn) {
  return benchmark::RegisterBenchmark(name.c_str(), std::forward<F>(fn))->UseRealTime()->Unit(benchmark::kMillisecond);
}

template <class B>
void register_backend(const BackendSpec<B>& spec) {
  const bool full = spec.scope == Scope::full;
  const std::string be = spec.name;

  // End to end.
  struct E2e {
    const char* variant;
    int size, batch;
  };
  std::vector<E2e> e2e;
  if (full) {
    for (const char* v : {"B16", "L16", "H16"})
      for (int s : {224, 512, 1024}) e2e.push_back({v, s, 1});
    e2e.push_back({"B16", 224, 8});
    e2e.push_back({"B16", 512, 4});
  } else {
    e2e.push_back({"tiny", 224, 1});
  }
  for (Precision p : spec.precisions)
    for (const auto& c : e2e) {
      const std::string name = "radio/" + be + "/" + c.variant + "/" + std::to_string(c.size) + "x" + std::to_string(c.size) +
                               "/b" + std::to_string(c.batch) + precision_suffix(p);
      add_case(name, [spec, v = variant(c.variant), c, p, name](benchmark::State& st) {
        bench_radio<B>(st, spec, v, c.size, c.size, c.batch, p, name);
      });
    }
  if (full) add_case("load/" + be + "/B16/safetensors", [spec](benchmark::State& st) { bench_load<B>(st, spec); });

  // Per op: the bench cases of the op case table (tests/support/op_cases.hpp) for this scope.
  const unsigned use = full ? testing::Use::bench : testing::Use::bench_small;
  const std::string op = "op/" + be + "/";
  for (Precision p : spec.precisions)
    for (const testing::LinearCase& c : testing::cases_for(testing::linear_cases(), use))
      add_case(op + (c.act == Activation::gelu ? "linear_gelu/" : "linear/") + c.name + precision_suffix(p),
               [spec, c, p](benchmark::State& st) { bench_linear<B>(st, spec, c, p); });
  const std::int64_t hd_tokens = spec.head_dim_tokens > 0 ? spec.head_dim_tokens : full ? 1034 : 266;
  for (Precision p : spec.precisions)
    for (const auto& cases : {testing::attention_cases(), testing::attention_head_dim_cases(hd_tokens)})
      for (const testing::AttentionCase& c : testing::cases_for(cases, use))
        add_case(op + "attention/" + c.name + precision_suffix(p), [spec, c, p](benchmark::State& st) { bench_attention<B>(st, spec, c, p); });
  for (const testing::ActivationCase& c : testing::cases_for(testing::activation_cases(), use))
    add_case(op + "activation/" + c.name, [spec, c](benchmark::State& st) { bench_activation<B>(st, spec, c); });
  for (const testing::ScatterCase& c : testing::cases_for(testing::scatter_cases(), use))
    add_case(op + "scatter_tokens/" + c.name, [spec, c](benchmark::State& st) { bench_scatter_tokens<B>(st, spec, c); });
  for (const testing::LayerNormCase& c : testing::cases_for(testing::layer_norm_cases(), use))
    add_case(op + "layer_norm/" + c.name, [spec, c](benchmark::State& st) { bench_layer_norm<B>(st, spec, c); });
  for (const testing::Im2PatchCase& c : testing::cases_for(testing::im2patch_cases(), use))
    add_case(op + "im2patch/" + c.name, [spec, c](benchmark::State& st) { bench_im2patch<B>(st, spec, c); });
}

}  // namespace vit::bench
