// The reference backend in bf16 and fp16: typed tensors (every operand of a product stored in the
// 16-bit type, the residual stream and the outputs in fp32) and what that storage costs against
// the fp32 PyTorch goldens of every fixture — the accuracy a 16-bit backend is held to.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "radio_v4_check.hpp"
#include "timm_fixture_check.hpp"
#include "vit/models/open.hpp"
#include "vit/nn/layers.hpp"

using namespace vit;

namespace {

struct Agreement {
  double max_abs = 0, cosine = 1;
};

// max |got - want| and the cosine similarity of the two, flattened.
Agreement agreement(const HostTensor& got, const HostTensor& want) {
  REQUIRE(got.data.size() == want.data.size());
  Agreement a;
  double dot = 0, gg = 0, ww = 0;
  for (std::size_t i = 0; i < got.data.size(); ++i) {
    const double g = got.data[i], w = want.data[i];
    a.max_abs = std::max(a.max_abs, std::abs(g - w));
    dot += g * w;
    gg += g * g;
    ww += w * w;
  }
  a.cosine = dot / std::sqrt(gg * ww);
  return a;
}

// One output of one fixture case against its fp32 golden.
struct Golden {
  std::string label;
  HostTensor got;
  std::string file;
};

// Bounds for 16-bit storage against the fp32 goldens (48 outputs: radio A, C, F with two adaptor
// heads, timm vit/deit/dinov2/siglip). Measured (reference, Release, x86-64): bf16 max |error|
// 7.6e-3 .. 3.0e-2, worst cosine 0.999976; fp16 1.2e-3 .. 4.2e-3, worst cosine 0.9999996. The
// bounds keep ~2x over the worst error and over 1 - cosine; the floor (~1/8 of the smallest error
// measured) checks that the rounding happened: a model that ran in fp32 is within 1e-5 of every golden.
struct Bounds {
  double max_abs, min_cosine, min_error;
};
constexpr Bounds bf16_bounds{6e-2, 0.99995, 1e-3};
constexpr Bounds fp16_bounds{1e-2, 0.999999, 1e-4};

void check_outputs(const std::vector<Golden>& outputs, const std::string& dir, Precision p, const Bounds& bounds, double& worst_abs,
                   double& worst_cosine) {
  for (const Golden& o : outputs) {
    HostTensor want = io::read_npy(dir + "/" + o.file);
    const Agreement a = agreement(o.got, want);
    std::printf("  %-5s %-44s max |error| %.2e  cosine %.7f\n", to_string(p), o.label.c_str(), a.max_abs, a.cosine);
    INFO(o.label << ": max |error| " << a.max_abs << ", cosine " << a.cosine);
    CHECK(a.max_abs <= bounds.max_abs);
    CHECK(a.cosine >= bounds.min_cosine);
    CHECK(a.max_abs >= bounds.min_error);
    worst_abs = std::max(worst_abs, a.max_abs);
    worst_cosine = std::min(worst_cosine, a.cosine);
  }
}

}  // namespace

TEST_CASE("reference 16-bit: tensors carry their type; writes round to it, reads and downloads widen") {
  for (Precision p : {Precision::bf16, Precision::fp16}) {
    DYNAMIC_SECTION(to_string(p)) {
      reference::Backend b({p});
      const DType t = compute_dtype(p);
      CHECK(b.operand_dtype() == t);
      CHECK(b.alloc(Shape{2}).dtype == DType::f32);
      CHECK(nn::alloc_operand(b, Shape{2}).dtype == t);
      const DType other = t == DType::bf16 ? DType::f16 : DType::bf16;
      CHECK_THROWS_WITH(b.alloc(Shape{2}, other), std::string("reference backend: cannot allocate a ") + dtype_name(other) +
                                                      " tensor (expected F32 or " + dtype_name(t) + ")");
      CHECK_THROWS_WITH(b.alloc(Shape{2}, DType::i64), std::string("reference backend: cannot allocate a I64 tensor (expected F32 or ") +
                                                           dtype_name(t) + ")");

      // 1 + 2^-9 is exact in fp32 and fp16, not in bf16 (7 mantissa bits); 1 + 2^-12 in neither.
      const HostTensor values(Shape{3}, {1.0f + 1.0f / 512, 1.0f + 1.0f / 4096, 3.0f});
      auto x = nn::alloc_operand(b, Shape{3});
      b.upload(values, x);
      const HostTensor got = b.download(x);
      for (std::size_t i = 0; i < 3; ++i) CHECK(got.data[i] == round_to(t, values.data[i]));
      CHECK(got.data[0] == (t == DType::bf16 ? 1.0f : 1.0f + 1.0f / 512));
      CHECK(got.data[1] == 1.0f);
      auto wide = b.alloc(Shape{3});
      b.copy(b.upload(values), wide);
      CHECK(b.download(wide).data == values.data);  // f32 keeps every bit
      b.copy(wide, x);
      CHECK(b.download(x).data == got.data);  // copy into a 16-bit tensor rounds as upload does

      // A linear layer: weights and operand rounded, sums exact, the stored output rounded; an
      // f32 output accumulates without rounding.
      const HostTensor w(Shape{2, 3}, {1.0f + 1.0f / 4096, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f});
      const auto lin = b.make_linear(w, nullptr);
      CHECK(lin.weight.data[0] == 1.0f);
      auto y16 = nn::alloc_operand(b, Shape{1, 2});
      auto x2 = b.alloc(Shape{1, 3}, t);
      b.upload(HostTensor(Shape{1, 3}, {1.0f, 1.0f / 1024, 1.0f}), x2);
      b.linear(lin, x2, y16, Activation::none, false);
      const float sum = 1.0f + 1.0f / 1024;  // exact in double, not representable in bf16
      CHECK(b.download(y16).data == std::vector<float>{1.0f, round_to(t, sum)});
      auto y32 = b.alloc(Shape{1, 2});
      b.linear(lin, x2, y32, Activation::none, false);
      CHECK(b.download(y32).data == std::vector<float>{1.0f, sum});
    }
  }
  reference::Backend fp32;
  CHECK(fp32.operand_dtype() == DType::f32);
  CHECK(nn::alloc_operand(fp32, Shape{2}).dtype == DType::f32);
}

TEST_CASE("reference 16-bit: a block's workspace is typed by role") {
  reference::Backend b({Precision::bf16});
  auto ws = nn::BlockWorkspace<reference::Backend>::make(b, 1, 4, 8, 16, true, MlpKind::swiglu);
  for (const auto* t : {&ws.normed, &ws.qkv, &ws.attn, &ws.hidden, &ws.hidden_normed, &ws.gate}) CHECK(t->dtype == DType::bf16);
  auto head = nn::MlpHead<reference::Backend>::workspace(b, 4, 8);
  CHECK(head.h.dtype == DType::f32);  // summed into: a residual stream
  CHECK(head.normed.dtype == DType::bf16);
  CHECK(head.activated.dtype == DType::bf16);
}

TEST_CASE("reference 16-bit against the fp32 goldens of every fixture: bounded error, and not fp32") {
  for (Precision p : {Precision::bf16, Precision::fp16}) {
    DYNAMIC_SECTION(to_string(p)) {
      const Bounds& bounds = p == Precision::bf16 ? bf16_bounds : fp16_bounds;
      reference::Backend b({p});
      double worst_abs = 0, worst_cosine = 1;
      for (const auto& fc : testing::fixture_cases()) {
        const std::string dir = testing::fixture_dir(fc.model);
        models::Snapshot snap = models::open_model(dir);
        Model<reference::Backend> model(b, snap.architecture, *snap.weights);
        const HostOutput out = model.forward(io::read_npy(dir + "/input_" + fc.name + ".npy"));
        const std::string tag = fc.model + "/" + fc.name;
        check_outputs({{tag + " summary", out.summary, fc.name + "/summary.npy"},
                       {tag + " features", out.features, fc.name + "/spatial_features.npy"}},
                      dir, p, bounds, worst_abs, worst_cosine);
      }
      {
        const std::vector<std::string> heads{"siglip2-g", "dino_v3"};
        models::Snapshot snap = models::open_model(testing::radio_v4_dir());
        snap.choose_adaptors(heads);
        Model<reference::Backend> model(b, snap.architecture, *snap.weights);
        for (const std::string c : {"rect64x96", "sq128", "rect80x112"}) {
          const HostOutput out = model.forward(io::read_npy(testing::radio_v4_dir() + "/input_" + c + ".npy"));
          std::vector<Golden> outputs{{"F/" + c + " summary", out.summary, c + "/summary.npy"},
                                      {"F/" + c + " features", out.features, c + "/spatial_features.npy"}};
          REQUIRE(out.adaptors.size() == heads.size());
          for (std::size_t j = 0; j < heads.size(); ++j) {
            outputs.push_back({"F/" + c + " " + heads[j] + " summary", out.adaptors[j].summary, c + "/adaptor_" + heads[j] + "_summary.npy"});
            outputs.push_back({"F/" + c + " " + heads[j] + " features", out.adaptors[j].features, c + "/adaptor_" + heads[j] + "_features.npy"});
          }
          check_outputs(outputs, testing::radio_v4_dir(), p, bounds, worst_abs, worst_cosine);
        }
      }
      for (const auto& tc : testing::timm_cases()) {
        const std::string dir = testing::timm_dir(tc.model);
        models::Snapshot snap = models::open_model(dir);
        Model<reference::Backend> model(b, snap.architecture, *snap.weights);
        const HostOutput out = model.forward(io::read_npy(dir + "/input_" + tc.name + ".npy"));
        const std::string tag = "timm " + tc.model + "/" + tc.name;
        check_outputs({{tag + " summary", out.summary, tc.name + "/summary.npy"}, {tag + " features", out.features, tc.name + "/features.npy"}},
                      dir, p, bounds, worst_abs, worst_cosine);
      }
      std::printf("reference %s, every fixture: worst max |error| %.2e, worst cosine %.7f\n", to_string(p), worst_abs, worst_cosine);
    }
  }
}

namespace {

// The reference backend, counting the bytes of every tensor it allocates (what a workspace holds).
struct CountingBackend : reference::Backend {
  using reference::Backend::Backend;
  double bytes = 0;
  Tensor alloc(const Shape& s) { return alloc(s, DType::f32); }
  Tensor alloc(const Shape& s, DType t) {
    bytes += double(s.numel()) * double(dtype_size(t));
    return reference::Backend::alloc(s, t);
  }
};
static_assert(TypedTensors<CountingBackend>);

}  // namespace

TEST_CASE("Architecture::activation_bytes is the workspace the model allocates, fp32 and 16-bit operands") {
  struct Case {
    std::string dir, input;
    int vitdet;
  };
  const std::vector<Case> cases{{testing::fixture_dir("A"), "input_rect96x128.npy", 0},
                                {testing::fixture_dir("C"), "input_sq32.npy", 0},
                                {testing::radio_v4_dir(), "input_sq128.npy", 0},
                                {testing::radio_v4_dir(), "input_sq128.npy", 2},
                                {testing::timm_dir("dinov2_swiglu"), "input_sq42.npy", 0},
                                {testing::timm_dir("siglip"), "input_sq64.npy", 0}};
  for (const Case& c : cases)
    for (Precision p : {Precision::fp32, Precision::bf16}) {
      INFO(c.dir << " " << c.input << ", vitdet " << c.vitdet << ", " << to_string(p));
      models::Snapshot snap = models::open_model(c.dir);
      if (c.dir == testing::radio_v4_dir()) snap.choose_adaptors({"siglip2-g", "dino_v3"});
      snap.architecture.vitdet_window = c.vitdet;
      CountingBackend b({p});
      Model<CountingBackend> model(b, snap.architecture, *snap.weights);
      const HostTensor x = io::read_npy(c.dir + "/" + c.input);
      b.bytes = 0;
      model.forward(x);
      const double want = snap.architecture.activation_bytes(x.shape[0], x.shape[2], x.shape[3], int(dtype_size(compute_dtype(p))));
      CHECK(b.bytes == want);
    }
}
