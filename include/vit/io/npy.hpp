// NumPy .npy files: read float32 (and float64/float16, converted) C-order arrays; write float32.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "vit/dtype.hpp"
#include "vit/io/file.hpp"
#include "vit/tensor.hpp"

namespace vit::io {

inline HostTensor read_npy(const std::string& path) {
  MappedFile f(path);
  auto b = f.bytes();
  auto bad = [&](const std::string& what) { fail(ErrorKind::format, path + ": not a valid .npy file: " + what); };
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) bad("missing the \\x93NUMPY magic");
  unsigned major = unsigned(b[6]);
  std::size_t header_len, header_start;
  if (major == 1) {
    header_len = std::size_t(b[8]) | std::size_t(b[9]) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) bad("truncated header length");
    header_len = std::size_t(b[8]) | std::size_t(b[9]) << 8 | std::size_t(b[10]) << 16 | std::size_t(b[11]) << 24;
    header_start = 12;
  } else {
    bad("unknown format version " + std::to_string(major));
  }
  if (header_len > b.size() - header_start) bad("header runs past the end of the file");
  std::string h(reinterpret_cast<const char*>(b.data() + header_start), header_len);

  auto value_of = [&](const std::string& key) -> std::string {
    auto k = h.find("'" + key + "'");
    if (k == std::string::npos) bad("header has no '" + key + "'");
    auto colon = h.find(':', k);
    if (colon == std::string::npos) bad("header is malformed near '" + key + "'");
    std::size_t s = colon + 1;
    while (s < h.size() && h[s] == ' ') ++s;
    if (s >= h.size()) bad("header is malformed near '" + key + "'");
    char open = h[s];
    std::size_t e;
    if (open == '\'') e = h.find('\'', s + 1);
    else if (open == '(') e = h.find(')', s + 1);
    else e = h.find_first_of(",}", s);
    if (e == std::string::npos) bad("header is malformed near '" + key + "'");
    return h.substr(s, e - s + (open == '\'' || open == '(' ? 1 : 0));
  };

  std::string descr = value_of("descr");
  std::string order = value_of("fortran_order");
  std::string shape_text = value_of("shape");
  if (order.find("False") == std::string::npos) bad("fortran_order arrays are not supported");
  std::size_t elem;
  int kind;  // 0 f4, 1 f8, 2 f2
  if (descr == "'<f4'" || descr == "'|f4'") { elem = 4; kind = 0; }
  else if (descr == "'<f8'") { elem = 8; kind = 1; }
  else if (descr == "'<f2'") { elem = 2; kind = 2; }
  else bad("dtype " + descr + " is not supported (expected float32 '<f4', float64 or float16)");

  std::vector<std::int64_t> dims;
  std::uint64_t count = 1;
  for (std::size_t i = 1; i + 1 < shape_text.size();) {
    while (i < shape_text.size() && (shape_text[i] == ' ' || shape_text[i] == ',')) ++i;
    if (i + 1 >= shape_text.size()) break;
    std::size_t j = i;
    while (j < shape_text.size() && shape_text[j] >= '0' && shape_text[j] <= '9') ++j;
    if (j == i || j - i > 18) bad("bad shape " + shape_text);
    std::int64_t d = std::stoll(shape_text.substr(i, j - i));
    if (!checked_mul(count, std::uint64_t(d), count)) bad("shape product overflows");
    dims.push_back(d);
    i = j;
  }
  std::uint64_t nbytes = 0;
  if (!checked_mul(count, elem, nbytes)) bad("size overflows");
  std::size_t data_start = header_start + header_len;
  if (b.size() - data_start != nbytes)
    bad("data is " + std::to_string(b.size() - data_start) + " bytes, shape " + Shape(dims).str() + " needs " + std::to_string(nbytes));
  HostTensor out{Shape(dims)};
  const std::byte* p = b.data() + data_start;
  if (kind == 0) {
    if (count) std::memcpy(out.data.data(), p, nbytes);
  } else if (kind == 1) {
    for (std::size_t i = 0; i < count; ++i) {
      double d;
      std::memcpy(&d, p + 8 * i, 8);
      out.data[i] = float(d);
    }
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      std::uint16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      out.data[i] = f16_to_float(v);
    }
  }
  return out;
}

// Writes a float32 C-order .npy file atomically.
inline void write_npy(const std::string& path, const HostTensor& t) {
  std::string shape = "(";
  for (std::size_t i = 0; i < t.shape.rank(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape[i]);
  shape += t.shape.rank() == 1 ? ",)" : ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  AtomicFile f(path);
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<unsigned char>(header.size() & 0xff), static_cast<unsigned char>(header.size() >> 8)};
  f.write(pre, 10);
  f.write(header.data(), header.size());
  f.write(t.data.data(), t.data.size() * 4);
  f.commit();
}

}  // namespace vit::io
