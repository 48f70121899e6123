// InputBackend<B>: backend B, except that the model's input can be read straight from a buffer
// the caller owns (a NumPy array) instead of from a HostTensor's own std::vector.
//
// vit::Model<B>::forward(const HostTensor&) uploads its argument into the workspace with
// b.upload(images, ws.input). The binding passes a HostTensor that has the input's shape and no
// data (a placeholder) and tells this backend, with borrow(), which buffer stands for it; the
// upload of that placeholder then copies from the buffer into the workspace, which is the one copy
// the C++ API makes too. Every other upload (weights, positions) goes to B unchanged.
//
// cpu and reference: the buffer is copied straight into the workspace tensor. Other backends
// (vulkan) upload only from a HostTensor (their raw write is private): there the buffer is staged
// through one host copy first, and staged() says so.
#pragma once
#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#include "vit/backend.hpp"

namespace vit::python {

template <class B>
class InputBackend : public B {
 public:
  using B::B;
  using B::upload;

  // The next upload of `placeholder` reads numel(placeholder.shape) floats from `data`.
  void borrow(const HostTensor* placeholder, const float* data) {
    placeholder_ = placeholder;
    data_ = data;
    consumed_ = false;
  }
  // Forgets the borrowed buffer; returns whether the model read it.
  bool release() {
    placeholder_ = nullptr;
    data_ = nullptr;
    return std::exchange(consumed_, false);
  }
  // Where the last borrowed input was read from, and whether it went through a host copy first.
  const float* last_input() const { return last_input_; }
  bool staged() const { return staged_; }

  void upload(const HostTensor& h, typename B::Tensor& y) {
    if (placeholder_ == nullptr || &h != placeholder_) return B::upload(h, y);
    const std::int64_t n = h.shape.numel();
    check(n == y.numel(), ErrorKind::shape, "input upload: " + h.shape.str() + " into " + y.shape.str());
    if constexpr (kDirect) {
      check(std::int64_t(y.storage.size()) == n, ErrorKind::shape, "input upload: workspace holds " + std::to_string(y.storage.size()) + " values");
      std::copy(data_, data_ + n, y.storage.data());
      staged_ = false;
    } else {
      B::upload(HostTensor(h.shape, std::vector<float>(data_, data_ + n)), y);
      staged_ = true;
    }
    last_input_ = data_;
    consumed_ = true;
  }

 private:
  // Storage that is plain host floats (cpu: an aligned vector, reference: a vector).
  static constexpr bool kDirect = requires(typename B::Tensor& t) {
    { t.storage.data() } -> std::same_as<float*>;
    t.storage.size();
  };

  const HostTensor* placeholder_ = nullptr;
  const float* data_ = nullptr;
  const float* last_input_ = nullptr;
  bool consumed_ = false, staged_ = false;
};

}  // namespace vit::python
