// Tensors. HostTensor is fp32 data in host memory (what goes into and comes out of a model).
// BasicTensor<Storage> is a backend's tensor: a shape, the backend's storage (a host vector, a
// device pointer, a Vulkan buffer) and the element type that storage holds (f32 unless the
// backend allocated it otherwise, see TypedTensors in vit/backend.hpp). All tensors are dense and
// row-major.
#pragma once
#include <new>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "vit/dtype.hpp"
#include "vit/shape.hpp"

namespace vit {

struct HostTensor {
  Shape shape;
  std::vector<float> data;

  HostTensor() = default;
  explicit HostTensor(Shape s) : shape(std::move(s)) {
    try {
      data.assign(std::size_t(shape.numel()), 0.0f);
    } catch (const std::bad_alloc&) {  // a typed error instead of std::bad_alloc (e.g. a huge config)
      fail(ErrorKind::out_of_memory, "host tensor: cannot allocate " + shape.str() + " (" + std::to_string(shape.numel()) + " floats)");
    }
  }
  HostTensor(Shape s, std::vector<float> d) : shape(std::move(s)), data(std::move(d)) {
    check(std::int64_t(data.size()) == shape.numel(), ErrorKind::shape,
          "host tensor: shape " + shape.str() + " needs " + std::to_string(shape.numel()) +
              " values, got " + std::to_string(data.size()));
  }
  std::span<float> span() { return data; }
  std::span<const float> span() const { return data; }
};

template <class Storage>
struct BasicTensor {
  Shape shape;
  Storage storage;
  DType dtype = DType::f32;
  std::int64_t numel() const { return shape.numel(); }
};

// Throws a shape error naming `what` unless got == expected.
inline void expect_shape(const Shape& got, const Shape& expected, const std::string& what) {
  check(got == expected, ErrorKind::shape, what + ": expected shape " + expected.str() + ", got " + got.str());
}

// Throws a shape error naming `what` unless t.shape == expected.
template <class T>
  requires requires(const T& t) { t.shape; }
void expect_shape(const T& t, const Shape& expected, const std::string& what) {
  expect_shape(t.shape, expected, what);
}

}  // namespace vit
