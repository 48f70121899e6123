// CUDA graphs: a captured forward replays to the same results as the uncaptured one, follows new
// input data between replays, and capture copes with bodies that throw or need an upload.
#include "fixture_check.hpp"
#include "vit/backends/cuda.cuh"

using namespace vit;

namespace {
HostTensor flipped(const HostTensor& x) {
  HostTensor y = x;
  for (auto& v : y.data) v = 1.0f - v;
  return y;
}
}  // namespace

TEST_CASE("captured forwards replay like uncaptured ones", "[graphs]") {
  for (Precision p : {Precision::fp32, Precision::bf16}) {
    for (const auto& fc : testing::fixture_cases()) {
      DYNAMIC_SECTION(to_string(p) << " " << fc.model << "/" << fc.name) {
        const std::string dir = testing::fixture_dir(fc.model);
        auto snap = models::radio::open_snapshot(dir);
        cuda::Backend bg(cuda::Options{.precision = p, .graphs = true});
        cuda::Backend be(cuda::Options{.precision = p, .graphs = false});
        models::radio::Model<cuda::Backend> mg(bg, snap.config, *snap.weights);
        models::radio::Model<cuda::Backend> me(be, snap.config, *snap.weights);
        const HostTensor in1 = io::read_npy(dir + "/input_" + fc.name + ".npy");
        const HostTensor in2 = flipped(in1);
        const testing::Tolerance same{1e-5f, 1e-5f};
        for (const HostTensor* in : {&in1, &in2, &in1, &in2}) {  // capture, then replays on changing inputs
          auto g = mg.forward(*in);
          auto e = me.forward(*in);
          VIT_CHECK_CLOSE(g.summary, e.summary, same);
          VIT_CHECK_CLOSE(g.features, e.features, same);
        }
      }
    }
  }
}

TEST_CASE("a capture that needs an index upload is discarded, run uncaptured, then captured", "[graphs]") {
  for (Precision p : {Precision::fp32, Precision::fp16}) {
    cuda::Backend b(cuda::Options{.precision = p});
    reference::Backend ref;
    // Not evenly strided, so they need a device copy. Call 1 (warm-up, uncaptured) uploads the
    // first list; call 2 tries to capture with a new list, must discard the capture and run
    // uncaptured; call 3 captures; call 4 replays.
    const std::vector<std::int64_t> first{4, 0, 2, 2, 1}, later{5, 0, 3, 3, 1};
    std::vector<std::int64_t> idx = first;
    auto h = b.alloc(Shape{2, 6, 7});
    auto out = b.alloc(Shape{2, 5, 7});
    for (std::uint32_t round = 0; round < 4; ++round) {
      idx = round == 0 ? first : later;
      HostTensor hh = testing::random_tensor(Shape{2, 6, 7}, 100 + round);
      b.upload(hh, h);
      b.run_graph(42, [&] { b.gather_tokens(h, idx, out); });
      auto want = ref.alloc(Shape{2, 5, 7});
      ref.gather_tokens(ref.upload(hh), idx, want);
      INFO(to_string(p) << " round " << round);
      VIT_CHECK_CLOSE(b.download(out), ref.download(want), (testing::Tolerance{0.0f, 0.0f}));
    }
  }
}

TEST_CASE("a graph body that throws leaves the backend usable", "[graphs]") {
  cuda::Backend b;
  auto x = b.upload(HostTensor(Shape{4}, {1, 2, 3, 4}));
  auto y = b.alloc(Shape{4});
  for (int call = 0; call < 2; ++call)  // the uncaptured warm-up call, then the capturing one
    CHECK_THROWS_AS(b.run_graph(7, [&] {
      b.copy(x, y);
      throw Error(ErrorKind::argument, "test: thrown inside the body");
    }), Error);
  b.run_graph(8, [&] { (void)b.download(x); });  // warm-up call: uncaptured, allowed
  try {
    b.run_graph(8, [&] { (void)b.download(x); });
    FAIL("download inside a captured graph body was accepted");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::backend);
  }
  b.run_graph(9, [&] { b.copy(x, y); });
  b.run_graph(9, [&] { b.copy(x, y); });
  CHECK(b.download(y).data == std::vector<float>{1, 2, 3, 4});
}
