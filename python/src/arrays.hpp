// NumPy at the module's edges: input batches read in place, results handed over without a copy.
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <string>
#include <utility>
#include <vector>

#include "any_model.hpp"

namespace vit::python {

namespace nb = nanobind;

// Any array the caller passes (NumPy, or anything with the buffer protocol or DLPack), read-only,
// never converted: a wrong dtype or layout is an error rather than a silent copy.
using AnyArray = nb::ndarray<nb::ro>;

// "float64", "int32", ... for messages.
inline std::string dtype_name(nb::dlpack::dtype t) {
  const char* kind = t.code == uint8_t(nb::dlpack::dtype_code::Float)  ? "float"
                     : t.code == uint8_t(nb::dlpack::dtype_code::Int)  ? "int"
                     : t.code == uint8_t(nb::dlpack::dtype_code::UInt) ? "uint"
                     : t.code == uint8_t(nb::dlpack::dtype_code::Bool) ? "bool"
                     : t.code == uint8_t(nb::dlpack::dtype_code::Bfloat) ? "bfloat"
                                                                          : "other";
  return std::string(kind) + std::to_string(t.bits);
}

// `obj` as an array (no conversion), or a shape error naming `what`.
inline AnyArray as_array(nb::handle obj, const std::string& what) {
  AnyArray a;
  if (!nb::try_cast(obj, a))
    fail(ErrorKind::shape, what + ": expected a float32 NumPy array [B, 3, H, W] (or another buffer or DLPack array), got " +
                               std::string(nb::type_name(obj.type()).c_str()));
  return a;
}

// The batch in `a` as the model reads it: float32, C-contiguous [B, 3, H, W] in host memory.
// Checked here so that the one-line messages name what to change; nothing is copied.
inline InputView input_view(const AnyArray& a, const std::string& what) {
  check(a.device_type() == nb::device::cpu::value, ErrorKind::shape,
        what + ": expected an array in host memory, got one on device type " + std::to_string(a.device_type()) + " (copy it to the CPU first)");
  check(a.dtype() == nb::dtype<float>(), ErrorKind::shape,
        what + ": expected float32 values, got " + dtype_name(a.dtype()) + " (convert with images.astype(numpy.float32))");
  std::vector<std::int64_t> dims;
  for (std::size_t i = 0; i < a.ndim(); ++i) dims.push_back(std::int64_t(a.shape(i)));
  const Shape s(std::move(dims));
  check(a.ndim() == 4, ErrorKind::shape, what + ": expected [B, 3, H, W], got " + s.str());
  std::int64_t expected = 1;  // element strides of a C-contiguous array (any stride where a side is 1)
  for (std::size_t i = 4; i-- > 0;) {
    check(a.shape(i) == 1 || a.stride(i) == expected, ErrorKind::shape,
          what + ": expected a C-contiguous array (numpy.ascontiguousarray(images)), got strides that are not");
    expected *= std::int64_t(a.shape(i));
  }
  return InputView{static_cast<const float*>(a.data()), s};
}

// A float vector of `shape` as a NumPy array that owns it: the vector is moved into a capsule,
// not copied.
inline nb::object to_numpy(std::vector<float>&& data, const Shape& shape) {
  check(std::int64_t(data.size()) == shape.numel(), ErrorKind::shape, "result: " + shape.str() + " does not match its data");
  auto* owned = new std::vector<float>(std::move(data));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
  std::vector<std::size_t> dims;
  for (std::int64_t d : shape.dims()) dims.push_back(std::size_t(d));
  return nb::cast(nb::ndarray<nb::numpy, float>(owned->data(), dims.size(), dims.data(), owner));
}

inline nb::object to_numpy(HostTensor&& t) { return to_numpy(std::move(t.data), t.shape); }

}  // namespace vit::python
