// The op case table: the shapes every op is run at, one list per op, shared by the op tests of
// every backend (op_check.hpp, op_check_v4.hpp, tests/<backend>/test_*_ops) and the per-op
// benchmarks (benchmarks/bench_cases.hpp registers op/<backend>/<op>/<name> from it). A case has a
// short name (the benchmark name's last part, e.g. "N197xD768xH12") and says where it runs (`use`,
// flags of Use):
//   test         the op tests: small and odd shapes (single rows, tile edges), each backend
//                against the reference backend
//   bench        vit-bench's full scope: the real models' layer shapes
//   bench_small  vit-bench's small scope (the reference backend, Vulkan on lavapipe)
// Adding a case here adds it to every backend's op tests or benchmarks. Checks that belong to one
// backend (its tile boundaries, kernel builds, precisions) keep their own shapes in its test.
// Plain C++ (no Catch2): the benchmarks include it too.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "vit/architecture.hpp"  // vitdet_window_order for the window cases

namespace vit::testing {

struct Use {
  static constexpr unsigned test = 1, bench = 2, bench_small = 4;
};

// The cases of `all` whose use includes `use`.
template <class Case>
std::vector<Case> cases_for(const std::vector<Case>& all, unsigned use) {
  std::vector<Case> out;
  for (const Case& c : all)
    if (c.use & use) out.push_back(c);
  return out;
}

namespace detail {
// Joins strings and integers into a case name: cat("M", 7, "xK", 13) is "M7xK13".
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  auto add = [&s](const auto& part) {
    if constexpr (std::is_integral_v<std::decay_t<decltype(part)>>) s += std::to_string(part);
    else s += part;
  };
  (add(parts), ...);
  return s;
}
inline std::string mkn(std::int64_t m, std::int64_t k, std::int64_t n) { return cat("M", m, "xK", k, "xN", n); }
}  // namespace detail

// linear(L, x [m, k], y [m, n], act, accumulate) with W [n, k] and a bias when `bias`.
struct LinearCase {
  std::string name;
  std::int64_t m, k, n;
  Activation act = Activation::none;
  bool bias = true, accumulate = false;
  unsigned use = Use::test;
};

inline std::vector<LinearCase> linear_cases() {
  std::vector<LinearCase> cases;
  // Tests: single rows and columns, odd sizes, tile edges; every epilogue.
  struct Mkn { std::int64_t m, k, n; };
  for (Mkn s : {Mkn{1, 1, 1}, Mkn{7, 13, 5}, Mkn{33, 64, 48}, Mkn{65, 96, 130}, Mkn{257, 128, 384}, Mkn{3, 768, 17}})
    for (bool bias : {false, true})
      for (Activation act : {Activation::none, Activation::gelu})
        for (bool acc : {false, true})
          cases.push_back({detail::cat(detail::mkn(s.m, s.k, s.n), bias ? "/bias/" : "/", to_string(act), acc ? "/accumulate" : ""), s.m, s.k,
                           s.n, act, bias, acc, Use::test});
  // Benchmarks: the layers of C-RADIO B/16, L/16, H/16 at the token counts of 224² (M = 204, batch
  // 1) and 512² (M = 1032); named <variant>.<layer>/M..xK..xN.. (fc1 twice: plain and with GELU).
  struct Model { const char* variant; std::int64_t m, d, hidden; unsigned use; };
  for (Model v : {Model{"B16", 204, 768, 3072, Use::bench | Use::bench_small}, Model{"B16", 1032, 768, 3072, Use::bench},
                  Model{"L16", 1032, 1024, 4096, Use::bench}, Model{"H16", 1032, 1280, 5120, Use::bench}}) {
    struct Layer { const char* layer; std::int64_t k, n; Activation act; };
    for (Layer l : {Layer{"qkv", v.d, 3 * v.d, Activation::none}, Layer{"proj", v.d, v.d, Activation::none},
                    Layer{"fc1", v.d, v.hidden, Activation::none}, Layer{"fc1", v.d, v.hidden, Activation::gelu},
                    Layer{"fc2", v.hidden, v.d, Activation::none}})
      cases.push_back({detail::cat(v.variant, ".", l.layer, "/", detail::mkn(v.m, l.k, l.n)), v.m, l.k, l.n, l.act, true, false, v.use});
  }
  return cases;
}

// layer_norm(x [m, d], g [d], b [d], eps, y [m, d]).
struct LayerNormCase {
  std::string name;
  std::int64_t m, d;
  float eps = 1e-6f;
  unsigned use = Use::test;
};

inline std::vector<LayerNormCase> layer_norm_cases() {
  std::vector<LayerNormCase> cases;
  struct Md { std::int64_t m, d; };
  for (Md s : {Md{1, 1}, Md{3, 7}, Md{17, 768}, Md{5, 5120}, Md{130, 48}})
    for (float eps : {1e-6f, 1e-5f})
      cases.push_back({detail::cat("M", s.m, "xD", s.d, eps == 1e-5f ? "/eps1e-5" : ""), s.m, s.d, eps, Use::test});
  cases.push_back({"M1032xD768", 1032, 768, 1e-6f, Use::bench | Use::bench_small});  // B/16 at 512²
  cases.push_back({"M4104xD768", 4104, 768, 1e-6f, Use::bench});                     // B/16 at 1024²
  return cases;
}

// attention(qkv [batch, n, 3·heads·hd], heads, scale, out [batch, n, heads·hd]); scale 0 is the
// default 1/sqrt(hd); inputs ~N(0, stddev).
struct AttentionCase {
  std::string name;
  std::int64_t batch, n;
  int heads;
  std::int64_t hd;
  float scale = 0;
  float stddev = 1.5f;
  unsigned use = Use::test;

  std::int64_t d() const { return heads * hd; }
  float qk_scale() const { return scale > 0 ? scale : default_attention_scale(hd); }
};

// "[B<batch>x]N<n>xD<d>xH<heads>[/s<scale>]" (the batch only when > 1, the scale when not the default).
inline AttentionCase attention_case(std::int64_t batch, std::int64_t n, int heads, std::int64_t hd, float scale = 0, float stddev = 1.5f,
                                    unsigned use = Use::test) {
  std::string name = detail::cat(batch > 1 ? detail::cat("B", batch, "x") : "", "N", n, "xD", heads * hd, "xH", heads);
  if (scale > 0) {
    std::string s = std::to_string(scale);
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
    name += detail::cat("/s", s);
  }
  return {name, batch, n, heads, hd, scale, stddev, use};
}

// The shared grid: one token, odd N, head dims 4..80; explicit scales far from 1/sqrt(hd) (0.125 at
// 64, 0.35 at 8, 0.41 at 6), so a kernel that ignores the argument fails, with inputs that keep the
// logits' spread near 1 (std = scale · stddev² · sqrt(hd)). Benchmarks: ViT-B/16 with one cls token
// at 224, 384, 512, 1024 (N = T + 1).
inline std::vector<AttentionCase> attention_cases() {
  return {attention_case(1, 1, 1, 4),
          attention_case(2, 5, 2, 8),
          attention_case(1, 67, 3, 16),
          attention_case(2, 130, 4, 64),
          attention_case(1, 300, 2, 80),
          attention_case(1, 517, 1, 64),
          attention_case(1, 40, 2, 72),
          attention_case(2, 37, 2, 64, 0.05f),
          attention_case(1, 130, 2, 8, 1.0f, 0.7f),
          attention_case(1, 40, 1, 72, 0.05f),
          attention_case(2, 17, 3, 6, 1.0f, 0.7f),
          attention_case(1, 197, 12, 64, 0, 1, Use::bench | Use::bench_small),
          attention_case(1, 577, 12, 64, 0, 1, Use::bench),
          attention_case(1, 1025, 12, 64, 0, 1, Use::bench),
          attention_case(1, 4097, 12, 64, 0, 1, Use::bench)};
}

// C-RADIOv4's head dims. Tests, for each head dim 64, 72, 80 (C-RADIOv3, C-RADIOv4-SO400M,
// C-RADIOv4-H): ViTDet windows of 2x2, 8x8 and 14x14 patches (batch = images x windows), 3x3
// windows and other odd N (N = 1, 9, 37, 203: token counts that are not multiples of any tile), a
// global sequence with 10 prefix tokens (3 cls + 7 registers, as SO400M) and the real SO400M / v4-H
// head count at small N. Benchmarks: 72 and 80 against 64 at the same width (SO400M 16 x 72 vs
// 18 x 64, D 1152; v4-H 16 x 80 vs 20 x 64, D 1280) over `bench_tokens` tokens (1034: 512² with 10
// prefix tokens; vit-bench's small scope passes 266, 256²), and in full scope on ViTDet windows of
// 8 x 8 patches at 1024² (64 windows of 64 tokens).
inline std::vector<AttentionCase> attention_head_dim_cases(std::int64_t bench_tokens = 1034) {
  std::vector<AttentionCase> cases;
  for (std::int64_t hd : {64, 72, 80}) {
    cases.push_back(attention_case(8, 4, 2, hd));    // 2 images x 4 windows of 2x2
    cases.push_back(attention_case(4, 64, 2, hd));   // 8x8 windows
    cases.push_back(attention_case(2, 196, 1, hd));  // 14x14 windows
    cases.push_back(attention_case(6, 9, 3, hd));    // 3x3 windows
    cases.push_back(attention_case(1, 1, 1, hd));    // one token
    cases.push_back(attention_case(2, 37, 2, hd));
    cases.push_back(attention_case(1, 203, 2, hd));  // 10 prefix tokens + 193
    cases.push_back(attention_case(1, 26, int(hd == 80 ? 1280 / 80 : hd == 72 ? 1152 / 72 : 12), hd));  // 16 x 72 = 1152, 16 x 80 = 1280
  }
  struct Width { int heads; std::int64_t hd; };
  for (Width w : {Width{18, 64}, Width{16, 72}, Width{20, 64}, Width{16, 80}}) {
    cases.push_back(attention_case(1, bench_tokens, w.heads, w.hd, 0, 1, Use::bench | Use::bench_small));
    cases.push_back(attention_case(64, 64, w.heads, w.hd, 0, 1, Use::bench));
  }
  return cases;
}

// im2patch(img [batch, 3, h, w], p, mean, std, out).
struct Im2PatchCase {
  std::string name;
  std::int64_t batch, h, w;
  int p;
  unsigned use = Use::test;
};

inline std::vector<Im2PatchCase> im2patch_cases() {
  return {{"B1x16x16/p16", 1, 16, 16, 16},  {"B2x32x48/p16", 2, 32, 48, 16}, {"B1x28x14/p14", 1, 28, 14, 14},
          {"B1x6x9/p3", 1, 6, 9, 3},        {"B3x2x2/p1", 3, 2, 2, 1},
          {"224x224", 1, 224, 224, 16, Use::bench | Use::bench_small},
          {"512x512", 1, 512, 512, 16, Use::bench},
          {"1024x1024", 1, 1024, 1024, 16, Use::bench}};
}

// assemble_tokens(prefix [s, d], patches [batch·t, d], pos [t, d], h [batch, s + t, d]), then
// gather_tokens of h (every other row, backwards, and row 0).
struct TokensCase {
  std::string name;
  std::int64_t batch, s, t, d;
  unsigned use = Use::test;
};

inline std::vector<TokensCase> tokens_cases() { return {{"B1xS1xT1xD1", 1, 1, 1, 1}, {"B2xS8xT12xD5", 2, 8, 12, 5}, {"B3xS4xT35xD48", 3, 4, 35, 48}}; }

// scatter_tokens of a gh x gw patch grid in ViTDet window order (w x w windows) back into
// h [batch, prefix + gh·gw, d].
struct ScatterCase {
  std::string name;
  std::int64_t batch, prefix, gh, gw, w, d;
  unsigned use = Use::test;
};

inline std::vector<ScatterCase> scatter_cases() {
  return {{"B2xN34xD72/w2", 2, 10, 4, 6, 2, 72},  // 10 prefix tokens as SO400M
          {"B1xN64xD80/w4", 1, 0, 8, 8, 4, 80},   // no prefix
          {"B3xN21xD5/w3", 3, 3, 6, 3, 3, 5},     // a width that is no multiple of 4
          {"B2xN785xD64/w14", 2, 1, 28, 28, 14, 64},
          {"B1xN1034xD1152/w8", 1, 10, 32, 32, 8, 1152, Use::bench},  // SO400M at 512²
          {"B1xN266xD1152/w8", 1, 10, 16, 16, 8, 1152, Use::bench_small}};
}

// activation(x, act, y) elementwise over x of `shape`.
struct ActivationCase {
  std::string name;
  Shape shape;
  Activation act;
  unsigned use = Use::test;
};

inline std::vector<ActivationCase> activation_cases() {
  std::vector<ActivationCase> cases;
  // Tests: one value; not a multiple of any vector width; large enough for a parallel split.
  for (const Shape& s : {Shape{1}, Shape{7, 333}, Shape{3, 5, 4304}})
    for (Activation act : {Activation::none, Activation::gelu, Activation::gelu_tanh, Activation::quick_gelu})
      cases.push_back({detail::cat(to_string(act), "/", s.str()), s, act, Use::test});
  // Benchmarks: SO400M's MLP width at 512² (small scope: 256²).
  for (Activation act : {Activation::gelu, Activation::gelu_tanh, Activation::quick_gelu}) {
    cases.push_back({detail::cat(to_string(act), "/M1034xN4304"), Shape{1034, 4304}, act, Use::bench});
    cases.push_back({detail::cat(to_string(act), "/M266xN4304"), Shape{266, 4304}, act, Use::bench_small});
  }
  return cases;
}

}  // namespace vit::testing
