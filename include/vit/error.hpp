// vit::Error — the one exception type the library throws. Each error carries a category so a
// host app can react (bad file vs bad argument vs device trouble) and a one-line message that
// says what, where, and expected vs got.
#pragma once
#include <functional>
#include <stdexcept>
#include <string>

namespace vit {

enum class ErrorKind {
  io,             // a file could not be opened, mapped, read or written
  format,         // a file's bytes do not follow its format (safetensors, npy, json, image)
  config,         // a model configuration is missing, inconsistent or names something unknown
  shape,          // a tensor or input has the wrong rank, size or dtype
  argument,       // a caller passed a bad value (unknown backend, bad thread count, ...)
  backend,        // a compute backend failed (no device, driver error, lost device)
  out_of_memory,  // an allocation (host or device) failed
  unsupported,    // a valid request this build or device cannot serve
};

inline const char* to_string(ErrorKind k) {
  switch (k) {
    case ErrorKind::io: return "io";
    case ErrorKind::format: return "format";
    case ErrorKind::config: return "config";
    case ErrorKind::shape: return "shape";
    case ErrorKind::argument: return "argument";
    case ErrorKind::backend: return "backend";
    case ErrorKind::out_of_memory: return "out_of_memory";
    case ErrorKind::unsupported: return "unsupported";
  }
  return "unknown";
}

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void fail(ErrorKind kind, const std::string& message) { throw Error(kind, message); }

inline void check(bool ok, ErrorKind kind, const std::string& message) {
  if (!ok) fail(kind, message);
}

// "a, b, c": name(item) for each of `items` (the items themselves by default), for messages that
// list the choices there are, e.g. joined(table, [](const auto& e) { return e.first; }).
template <class Range, class Name = std::identity>
std::string joined(const Range& items, Name name = {}) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + std::string(std::invoke(name, item));
  return out;
}

}  // namespace vit
