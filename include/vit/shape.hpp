// vit::Shape — the dimensions of a row-major tensor, with an overflow-checked element count.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "vit/error.hpp"

namespace vit {

// Multiplies non-negative sizes; false if the product would exceed `limit`.
inline bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out,
                        std::uint64_t limit = std::numeric_limits<std::int64_t>::max()) {
  if (a != 0 && b > limit / a) return false;
  out = a * b;
  return true;
}

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) : dims_(dims) { validate(); }
  explicit Shape(std::vector<std::int64_t> dims) : dims_(std::move(dims)) { validate(); }

  std::size_t rank() const { return dims_.size(); }
  std::int64_t operator[](std::size_t i) const { return dims_.at(i); }
  const std::vector<std::int64_t>& dims() const { return dims_; }
  std::int64_t numel() const { return numel_; }
  bool operator==(const Shape& o) const { return dims_ == o.dims_; }

  std::string str() const {
    std::string s = "[";
    for (std::size_t i = 0; i < dims_.size(); ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
    return s + "]";
  }

 private:
  void validate() {
    std::uint64_t n = 1;
    for (auto d : dims_) {
      check(d >= 0, ErrorKind::shape, "negative dimension in shape " + str());
      check(checked_mul(n, std::uint64_t(d), n), ErrorKind::shape, "shape " + str() + " overflows");
    }
    numel_ = std::int64_t(n);
  }
  std::vector<std::int64_t> dims_;
  std::int64_t numel_ = 1;
};

}  // namespace vit
