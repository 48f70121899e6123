// The threading contract (docs/robustness.md): independent Backend + Model pairs may run forward
// passes concurrently, and their results are bit-for-bit those of a single-threaded run.
// Each worker thread builds its own Backend and Model from the same checkpoint: either opening
// the folder itself, or sharing one read-only io::SafeTensors mapping (with its own
// SafeTensorsWeights wrapper, which is not thread-safe: it records which keys were used).
// Catch2 assertions are not thread-safe, so workers only record results; the main thread checks.
#include <catch2/catch.hpp>

#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fixture_check.hpp"
#include "vit/io/npy.hpp"
#include "vit/models/radio.hpp"

// The cpu case exists only when the cpu backend is built (VIT_CPU=ON defines VIT_HAS_CPU_BACKEND);
// otherwise it is not compiled at all, and configure lists it as not registered.
#ifdef VIT_HAS_CPU_BACKEND
#include "vit/backends/cpu.hpp"
#endif

namespace {

using namespace vit;
namespace radio = vit::models::radio;

constexpr int kWorkers = 3;
constexpr int kRounds = 2;

struct Run {
  std::vector<std::vector<float>> summaries, features;  // one per input, in order
};

std::vector<HostTensor> inputs() {
  std::vector<HostTensor> v;
  for (const char* name : {"rect96x128", "sq128", "rect48x80"})
    v.push_back(io::read_npy(testing::fixture_dir("A") + "/input_" + name + ".npy"));
  return v;
}

// kRounds passes over all inputs (so the workspace is reallocated between shapes); the last pass
// is the result.
template <class B>
Run run_model(B& backend, const radio::Config& cfg, const radio::WeightSource& w, const std::vector<HostTensor>& in) {
  radio::Model<B> model(backend, cfg, w);
  Run r;
  for (int round = 0; round < kRounds; ++round) {
    r = {};
    for (const auto& x : in) {
      auto out = model.forward(x);
      r.summaries.push_back(out.summary.data);
      r.features.push_back(out.features.data);
    }
  }
  return r;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void check_same(const Run& want, const Run& got, int worker) {
  INFO("worker " << worker);
  REQUIRE(got.summaries.size() == want.summaries.size());
  for (std::size_t i = 0; i < want.summaries.size(); ++i) {
    INFO("input " << i);
    CHECK(bit_equal(got.summaries[i], want.summaries[i]));
    CHECK(bit_equal(got.features[i], want.features[i]));
  }
}

// Single-threaded baseline, then kWorkers threads at once; make_backend() builds a fresh backend.
template <class MakeBackend>
void check_concurrent(MakeBackend make_backend, bool share_mapping) {
  const std::string dir = testing::fixture_dir("A");
  const auto in = inputs();
  auto snap = radio::open_snapshot(dir);
  auto baseline_backend = make_backend();
  const Run want = run_model(baseline_backend, snap.config, *snap.weights, in);

  auto shared = std::make_shared<const io::SafeTensors>(dir + "/model.safetensors");
  std::vector<Run> got(kWorkers);
  std::vector<std::exception_ptr> errors(kWorkers);
  std::vector<std::thread> threads;
  for (int t = 0; t < kWorkers; ++t)
    threads.emplace_back([&, t] {
      try {
        auto backend = make_backend();
        if (share_mapping) {
          radio::SafeTensorsWeights w(shared, "radio_model.");
          got[std::size_t(t)] = run_model(backend, snap.config, w, in);
        } else {
          auto own = radio::open_snapshot(dir);
          got[std::size_t(t)] = run_model(backend, own.config, *own.weights, in);
        }
      } catch (...) {
        errors[std::size_t(t)] = std::current_exception();
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kWorkers; ++t) {
    if (errors[std::size_t(t)]) std::rethrow_exception(errors[std::size_t(t)]);
    check_same(want, got[std::size_t(t)], t);
  }
}

}  // namespace

TEST_CASE("reference: concurrent forwards on separate Backend+Model pairs match a single-threaded run bit for bit") {
  for (bool share : {false, true}) {
    DYNAMIC_SECTION((share ? "one shared io::SafeTensors mapping" : "each thread opens the checkpoint")) {
      check_concurrent([] { return reference::Backend{}; }, share);
    }
  }
}

#ifdef VIT_HAS_CPU_BACKEND
TEST_CASE("cpu: concurrent forwards on separate Backend+Model pairs match a single-threaded run bit for bit") {
  for (int omp_threads : {1, 2}) {
    for (bool share : {false, true}) {
      DYNAMIC_SECTION("cpu threads=" << omp_threads << (share ? ", one shared io::SafeTensors mapping" : ", each thread opens the checkpoint")) {
        check_concurrent([omp_threads] { return cpu::Backend(cpu::Options{omp_threads}); }, share);
      }
    }
  }
}
#endif

// One set of weights, many streams: models built with Model(backend, other) share the first model's
// prepared weights (no second copy) and each has its own workspace; run from several threads at
// once — each on its own backend object, the weights prepared by the main thread's backend — the
// results are bit for bit those of the serial run. Also exercises a primitive created on one
// thread running on others (cpu: oneDNN with per-thread user scratchpads).
template <class MakeBackend>
void check_shared_weights(MakeBackend make_backend) {
  const auto in = inputs();
  auto snap = radio::open_snapshot(testing::fixture_dir("A"));
  auto main_backend = make_backend();
  radio::Model<decltype(main_backend)> model(main_backend, snap.config, *snap.weights);
  Run want;
  for (const auto& x : in) {
    auto out = model.forward(x);
    want.summaries.push_back(out.summary.data);
    want.features.push_back(out.features.data);
  }
  std::vector<Run> got(kWorkers);
  std::vector<std::exception_ptr> errors(kWorkers);
  std::vector<bool> shared(kWorkers, false);
  std::vector<std::thread> threads;
  for (int t = 0; t < kWorkers; ++t)
    threads.emplace_back([&, t] {
      try {
        auto backend = make_backend();
        vit::Model<decltype(backend)> stream(backend, model);
        shared[std::size_t(t)] = stream.shares_weights_with(model);
        for (int round = 0; round < kRounds; ++round) {
          Run r;
          for (const auto& x : in) {
            auto out = stream.forward(x);
            r.summaries.push_back(out.summary.data);
            r.features.push_back(out.features.data);
          }
          got[std::size_t(t)] = r;
        }
      } catch (...) {
        errors[std::size_t(t)] = std::current_exception();
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kWorkers; ++t) {
    if (errors[std::size_t(t)]) std::rethrow_exception(errors[std::size_t(t)]);
    CHECK(shared[std::size_t(t)]);
    check_same(want, got[std::size_t(t)], t);
  }
}

TEST_CASE("reference: streams sharing one set of weights match the serial run bit for bit") {
  check_shared_weights([] { return reference::Backend{}; });
}

#ifdef VIT_HAS_CPU_BACKEND
TEST_CASE("cpu: streams sharing one set of weights match the serial run bit for bit") {
  for (int omp_threads : {1, 2}) {
    DYNAMIC_SECTION("cpu threads=" << omp_threads) { check_shared_weights([omp_threads] { return cpu::Backend(cpu::Options{omp_threads}); }); }
  }
}
#endif
