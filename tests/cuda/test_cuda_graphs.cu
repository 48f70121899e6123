// CUDA graphs: a captured forward replays to the same results as the uncaptured one, follows new
// input data between replays, and capture copes with bodies that throw or need an upload.
#include "fixture_check.hpp"
#include "op_check_v4.hpp"
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

// ViTDet's pattern inside a graph: gather into windows, scatter back. The window order is not evenly
// strided, so its indices need an upload: call 1 (warm-up) uploads, call 2 meets a new list and is
// run uncaptured, call 3 captures, call 4 replays. h is uploaded anew each round: the rows the
// scatter does not name (the prefix) must show the new values, the others the scattered ones.
TEST_CASE("scatter_tokens in a graph: indices uploaded outside the capture, partial writes replayed", "[graphs]") {
  for (Precision p : {Precision::fp32, Precision::bf16}) {
    cuda::Backend b(cuda::Options{.precision = p});
    const std::vector<std::int64_t> first = vitdet_window_order(2, 4, 4, 2), later = vitdet_window_order(2, 2, 8, 2);
    auto h = b.alloc(Shape{2, 18, 5});
    auto win = b.alloc(Shape{2, 16, 5});
    for (std::uint32_t round = 0; round < 4; ++round) {
      const std::vector<std::int64_t>& idx = round == 0 ? first : later;
      const HostTensor hh = testing::random_tensor(Shape{2, 18, 5}, 200 + round), ww = testing::random_tensor(Shape{2, 16, 5}, 300 + round);
      b.upload(hh, h);
      b.upload(ww, win);
      b.run_graph(43, [&] { b.scatter_tokens(win, idx, h); });
      HostTensor want = hh;
      nn::host::scatter_tokens(ww, idx, want);
      INFO(to_string(p) << " round " << round);
      CHECK(b.download(h).data == want.data);
    }
  }
}

// In bf16 a LayerNorm inside the body writes only h's 16-bit mirror; the scatter that follows must
// convert it to fp32 first in every replay (the capture's flag log), and the activation after it reads
// the fp32 copy. Captured and replayed runs equal an uncaptured backend exactly.
TEST_CASE("layer_norm -> scatter_tokens -> activation: captured bf16 replays equal uncaptured runs", "[graphs]") {
  const std::vector<std::int64_t> idx = vitdet_window_order(1, 4, 4, 2);
  const HostTensor g = testing::random_tensor(Shape{8}, 1, 1.0f, 0.2f), be = testing::random_tensor(Shape{8}, 2);
  cuda::Backend bg(cuda::Options{.precision = Precision::bf16, .graphs = true});
  cuda::Backend be_(cuda::Options{.precision = Precision::bf16, .graphs = false});
  struct Side {
    cuda::Backend& b;
    cuda::Backend::Tensor x, gain, bias, win, h, y;
  };
  auto side = [&](cuda::Backend& b) {
    return Side{b, b.alloc(Shape{2, 17, 8}), b.upload(g), b.upload(be), b.alloc(Shape{2, 16, 8}), b.alloc(Shape{2, 17, 8}), b.alloc(Shape{2, 17, 8})};
  };
  Side a = side(bg), c = side(be_);
  for (std::uint32_t round = 0; round < 4; ++round) {
    const HostTensor xx = testing::random_tensor(Shape{2, 17, 8}, 400 + round, 0.5f, 2.0f), ww = testing::random_tensor(Shape{2, 16, 8}, 500 + round);
    HostTensor out[2];
    for (Side* s : {&a, &c}) {
      s->b.upload(xx, s->x);
      s->b.upload(ww, s->win);
      s->b.run_graph(44, [&] {
        s->b.layer_norm(s->x, s->gain, s->bias, 1e-6f, s->h);
        s->b.scatter_tokens(s->win, idx, s->h);
        s->b.activation(s->h, Activation::gelu, s->y);
      });
      out[s == &a ? 0 : 1] = s->b.download(s->y);
    }
    INFO("round " << round);
    CHECK(out[0].data == out[1].data);
    // And both are right: GELU of (the LayerNorm's rows 0, the scattered rows elsewhere), the
    // LayerNorm rows rounded to bf16.
    reference::Backend ref;
    auto ln = ref.alloc(Shape{2, 17, 8});
    ref.layer_norm(ref.upload(xx), ref.upload(g), ref.upload(be), 1e-6f, ln);
    HostTensor mixed = ref.download(ln), want(mixed.shape);
    nn::host::scatter_tokens(ww, idx, mixed);
    nn::host::activation(mixed, Activation::gelu, want);
    VIT_CHECK_CLOSE(out[0], want, (testing::Tolerance{2e-2f, 1e-2f}));
  }
}
