// Every oneDNN call of the CPU backend lives here: the matmul primitive behind `linear` and the
// eltwise primitive behind `activation`.
// Builds against oneDNN 2.x (Debian bookworm ships 2.6.3) and 3.x (the matmul descriptor and the
// eltwise post-op signature changed in 3.0; see the DNNL_VERSION_MAJOR branches).
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "vit/backend.hpp"
#include "vit/error.hpp"

namespace vit::cpu::onednn {

// One CPU engine for the process (engines are thread-safe); one stream per calling thread, so
// independent backends may run on different threads at once.
inline dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

inline dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

// "2.6.3 (avx512_core)": the library version and the instruction set its kernels use.
inline std::string version_string() {
  const dnnl_version_t* v = dnnl_version();
  std::string isa;
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: isa = "sse41"; break;
    case dnnl::cpu_isa::avx: isa = "avx"; break;
    case dnnl::cpu_isa::avx2: isa = "avx2"; break;
    case dnnl::cpu_isa::avx2_vnni: isa = "avx2_vnni"; break;
    case dnnl::cpu_isa::avx512_core: isa = "avx512_core"; break;
    case dnnl::cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
    case dnnl::cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
    case dnnl::cpu_isa::avx512_core_amx: isa = "avx512_core_amx"; break;
    default: isa = "isa " + std::to_string(int(dnnl::get_effective_cpu_isa())); break;
  }
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) + " (" + isa + ")";
}

// The oneDNN eltwise algorithm of an activation: {algorithm, alpha} (quick_gelu is swish(1.702)).
// Shared by the matmul epilogue and the stand-alone activation, so both compute the same function.
inline std::pair<dnnl::algorithm, float> eltwise_algorithm(Activation act) {
  switch (act) {
    case Activation::gelu: return {dnnl::algorithm::eltwise_gelu_erf, 0.0f};
    case Activation::gelu_tanh: return {dnnl::algorithm::eltwise_gelu_tanh, 0.0f};
    case Activation::quick_gelu: return {dnnl::algorithm::eltwise_swish, 1.702f};
    case Activation::none: break;
  }
  return {dnnl::algorithm::undef, 0.0f};
}

// y[n] = act(x[n]) elementwise (x may be y): oneDNN's eltwise primitive (JIT-vectorised, OpenMP
// threads), the same algorithms as the matmul's post-op. Primitives are cached per (n, activation),
// at most kMaxPrimitives (then the cache starts over).
class Eltwise {
 public:
  void run(const float* x, float* y, std::int64_t n, Activation act) {
    if (n == 0) return;
    const dnnl::eltwise_forward& prim = primitive(n, act);
    const dnnl::memory::desc md({n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
    dnnl::memory src(md, engine(), const_cast<float*>(x)), dst(md, engine(), y);
    prim.execute(stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    stream().wait();
  }
  std::size_t cached_primitives() const { return cache_.size(); }

 private:
  static constexpr std::size_t kMaxPrimitives = 16;

  const dnnl::eltwise_forward& primitive(std::int64_t n, Activation act) {
    const auto key = std::make_pair(n, act);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    if (cache_.size() >= kMaxPrimitives) cache_.clear();
    const auto [alg, alpha] = eltwise_algorithm(act);
    const dnnl::memory::desc md({n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
    try {
#if DNNL_VERSION_MAJOR >= 3
      dnnl::eltwise_forward::primitive_desc pd(engine(), dnnl::prop_kind::forward_inference, alg, md, md, alpha, 0.0f);
#else
      dnnl::eltwise_forward::primitive_desc pd(dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, alg, md, alpha, 0.0f), engine());
#endif
      return cache_.emplace(key, dnnl::eltwise_forward(pd)).first->second;
    } catch (const dnnl::error& e) {
      fail(ErrorKind::backend, "cpu activation: oneDNN eltwise " + std::string(to_string(act)) + " over " + std::to_string(n) +
                                   " values failed: " + e.what());
    }
  }

  std::map<std::pair<std::int64_t, Activation>, dnnl::eltwise_forward> cache_;
};

// y[M,N] = (accumulate ? y : 0) + act(x[M,K] W^T + b) with W [N,K] reordered once into the layout
// the matmul primitive prefers (format_tag::any). Bias, the activation and the residual sum are
// post-ops of the same primitive. Primitives are cached per (M, activation, accumulate), at most
// kMaxPrimitives per layer (a process that sees many input sizes starts over instead of growing).
class Matmul {
 public:
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  using dims = dnnl::memory::dims;

  Matmul(const float* w, const float* bias, std::int64_t n, std::int64_t k) : n_(n), k_(k) {
    // W [N,K] row-major is the matmul's weights [K,N] with strides {1, K}: tag ba.
    dnnl::memory::desc user({k, n}, dt::f32, tag::ba);
    auto pd = make_pd(kReferenceRows, dnnl::memory::desc({k, n}, dt::f32, tag::any), bias != nullptr, Activation::none, false);
    weights_desc_ = pd.weights_desc();
    weights_ = dnnl::memory(weights_desc_, engine());
    dnnl::memory src(user, engine(), const_cast<float*>(w));
    dnnl::reorder(src, weights_).execute(stream(), src, weights_);
    stream().wait();
    if (bias) {
      bias_.assign(bias, bias + n);
      bias_mem_ = dnnl::memory({{1, n}, dt::f32, tag::ab}, engine(), bias_.data());
    }
  }

  std::int64_t n() const { return n_; }
  std::int64_t k() const { return k_; }

  // Thread-safe: several threads may run one Matmul at once (models sharing weights). Each
  // execution gets the calling thread's own scratchpad (scratchpad_mode::user), so a primitive
  // created on one thread may run on another.
  void run(const float* x, float* y, std::int64_t m, Activation act, bool accumulate) {
    if (m == 0) return;
    const Primitive prim = primitive(m, act, accumulate);  // handles: stay valid if the cache is cleared
    dnnl::memory src({{m, k_}, dt::f32, tag::ab}, engine(), const_cast<float*>(x));
    dnnl::memory dst({{m, n_}, dt::f32, tag::ab}, engine(), y);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst}};
    if (!bias_.empty()) args.emplace(DNNL_ARG_BIAS, bias_mem_);
    if (const std::size_t bytes = prim.scratchpad.get_size(); bytes > 0) {
      thread_local std::vector<unsigned char> scratch;
      if (scratch.size() < bytes) scratch.resize(bytes);
      args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(prim.scratchpad, engine(), scratch.data()));
    }
    prim.matmul.execute(stream(), args);
    stream().wait();
  }

  std::size_t cached_primitives() const {
    std::lock_guard lock(mutex_);
    return cache_.size();
  }

  // The implementation oneDNN picked for M rows (e.g. "brg:avx512_core"); for docs and tests.
  std::string implementation(std::int64_t m, Activation act, bool accumulate) {
    return make_pd(m, weights_desc_, !bias_.empty(), act, accumulate).impl_info_str();
  }

 private:
  static constexpr std::int64_t kReferenceRows = 1024;
  static constexpr std::size_t kMaxPrimitives = 16;

  dnnl::matmul::primitive_desc make_pd(std::int64_t m, const dnnl::memory::desc& wd, bool bias, Activation act, bool accumulate) const {
    dnnl::memory::desc src({m, k_}, dt::f32, tag::ab), dst({m, n_}, dt::f32, tag::ab);
    dnnl::memory::desc bd = bias ? dnnl::memory::desc({1, n_}, dt::f32, tag::ab) : dnnl::memory::desc();
    dnnl::post_ops ops;
    if (act != Activation::none) {
      const auto [alg, alpha] = eltwise_algorithm(act);
#if DNNL_VERSION_MAJOR >= 3
      ops.append_eltwise(alg, alpha, 0.0f);
#else
      ops.append_eltwise(1.0f, alg, alpha, 0.0f);
#endif
    }
    if (accumulate) ops.append_sum(1.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    try {
#if DNNL_VERSION_MAJOR >= 3
      return dnnl::matmul::primitive_desc(engine(), src, wd, bd, dst, attr);
#else
      return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wd, bd, dst), attr, engine());
#endif
    } catch (const dnnl::error& e) {
      fail(ErrorKind::backend, "cpu linear: oneDNN matmul [" + std::to_string(m) + "x" + std::to_string(k_) + "] x [" +
                                   std::to_string(k_) + "x" + std::to_string(n_) + "] failed: " + e.what());
    }
  }

  struct Primitive {
    dnnl::matmul matmul;
    dnnl::memory::desc scratchpad;  // what one execution needs (user-provided)
  };

  Primitive primitive(std::int64_t m, Activation act, bool accumulate) {
    std::lock_guard lock(mutex_);
    auto key = std::make_tuple(m, act, accumulate);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      if (cache_.size() >= kMaxPrimitives) cache_.clear();
      const auto pd = make_pd(m, weights_desc_, !bias_.empty(), act, accumulate);
      it = cache_.emplace(key, Primitive{dnnl::matmul(pd), pd.scratchpad_desc()}).first;
    }
    return it->second;
  }

  std::int64_t n_, k_;
  dnnl::memory::desc weights_desc_;
  dnnl::memory weights_;
  std::vector<float> bias_;
  dnnl::memory bias_mem_;
  std::map<std::tuple<std::int64_t, Activation, bool>, Primitive> cache_;
  mutable std::mutex mutex_;  // guards cache_
};

}  // namespace vit::cpu::onednn
