// File formats: the safetensors reader's validation (every check on files the test writes),
// the JSON parser, and .npy round trips.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>
#include <string>

#include "vit/dtype.hpp"
#include "vit/io/json.hpp"
#include "vit/io/npy.hpp"
#include "vit/io/safetensors.hpp"
#include "vit/weights.hpp"

using namespace vit;
namespace fs = std::filesystem;

namespace {

std::string temp_path(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("vit-test-io-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

// Writes a safetensors file from a raw header string and `data_bytes` bytes of payload.
std::string write_raw(const std::string& name, const std::string& header, std::size_t data_bytes, std::uint64_t claimed_len = ~0ull) {
  std::string path = temp_path(name);
  std::ofstream f(path, std::ios::binary);
  std::uint64_t n = claimed_len == ~0ull ? header.size() : claimed_len;
  for (int i = 0; i < 8; ++i) f.put(char((n >> (8 * i)) & 0xff));
  f << header;
  for (std::size_t i = 0; i < data_bytes; ++i) f.put(char(i));
  return path;
}

// Expects opening `path` to fail with a format error whose message contains `needle`.
void expect_format_error(const std::string& path, const std::string& needle) {
  try {
    io::SafeTensors st(path);
    FAIL("expected a format error containing '" << needle << "'");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.kind() == ErrorKind::format);
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
    CHECK(std::string(e.what()).find(path) != std::string::npos);  // errors name the file
  }
}

}  // namespace

TEST_CASE("safetensors: a valid file round-trips through write_safetensors") {
  std::string path = temp_path("ok.safetensors");
  io::write_safetensors(path,
                        {{"a", Shape{2, 3}, {1, 2, 3, 4, 5, 6}, {}, false}, {"idx", Shape{2}, {}, {7, -1}, true},
                         {"empty", Shape{0, 4}, {}, {}, false}},
                        {{"format", "pt"}});
  io::SafeTensors st(path);
  REQUIRE(st.tensors().size() == 3);
  CHECK(st.metadata().at("format") == "pt");
  HostTensor a = st.to_float(st.at("a"));
  CHECK(a.shape == Shape{2, 3});
  CHECK(a.data == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(st.to_int64(st.at("idx")) == std::vector<std::int64_t>{7, -1});
  CHECK(st.to_float(st.at("empty")).data.empty());
  CHECK(st.find("missing") == nullptr);
  CHECK_THROWS_AS(st.at("missing"), Error);
  CHECK_THROWS_AS(st.to_float(st.at("idx")), Error);  // I64 is not a float
}

TEST_CASE("safetensors: F16 and BF16 convert to fp32") {
  // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, smallest subnormal 0x0001 = 2^-24
  // BF16: 1.0 = 0x3f80, -3.5 = 0xc060
  std::string header = R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}})";
  std::string path = temp_path("half.safetensors");
  {
    std::ofstream f(path, std::ios::binary);
    std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) f.put(char((n >> (8 * i)) & 0xff));
    f << header;
    const unsigned char data[] = {0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x80, 0x3f, 0x60, 0xc0};
    f.write(reinterpret_cast<const char*>(data), sizeof data);
  }
  io::SafeTensors st(path);
  HostTensor h = st.to_float(st.at("h"));
  CHECK(h.data[0] == 1.0f);
  CHECK(h.data[1] == -2.0f);
  CHECK(h.data[2] == 65504.0f);
  CHECK(h.data[3] == std::ldexp(1.0f, -24));
  HostTensor b = st.to_float(st.at("b"));
  CHECK(b.data[0] == 1.0f);
  CHECK(b.data[1] == -3.5f);
}

TEST_CASE("dtype: fp32 -> fp16 and bf16 round to nearest even; round_to gives the stored value") {
  CHECK(float_to_f16(0.0f) == 0x0000);
  CHECK(float_to_f16(-0.0f) == 0x8000);
  CHECK(float_to_f16(1.0f) == 0x3c00);
  CHECK(float_to_f16(-2.0f) == 0xc000);
  CHECK(float_to_f16(65504.0f) == 0x7bff);
  CHECK(float_to_f16(65520.0f) == 0x7c00);                  // ties to even: overflows to inf
  CHECK(float_to_f16(1.0f + 1.0f / 2048) == 0x3c00);        // tie, rounds to even (down)
  CHECK(float_to_f16(1.0f + 3.0f / 2048) == 0x3c02);        // tie, rounds to even (up)
  CHECK(float_to_f16(std::ldexp(1.0f, -24)) == 0x0001);     // smallest subnormal
  CHECK(float_to_f16(std::ldexp(1.0f, -14)) == 0x0400);     // smallest normal
  CHECK(float_to_f16(std::ldexp(1.0f, -26)) == 0x0000);     // underflows to zero
  CHECK(float_to_f16(INFINITY) == 0x7c00);
  CHECK((float_to_f16(NAN) & 0x7c00) == 0x7c00);
  CHECK(float_to_bf16(1.0f + 1.0f / 256) == 0x3f80);  // tie, rounds to even (down)
  CHECK(float_to_bf16(1.0f + 3.0f / 256) == 0x3f82);  // tie, rounds to even (up)
  CHECK(round_to(DType::f32, 0.1f) == 0.1f);
  CHECK(round_to(DType::bf16, 1.0f + 1.0f / 512) == 1.0f);
  CHECK(round_to(DType::f16, 1.0f + 1.0f / 512) == 1.0f + 1.0f / 512);  // fp16 has 10 mantissa bits, bf16 7
  CHECK(round_to(DType::f16, 1e5f) == INFINITY);
}

TEST_CASE("safetensors: every malformed file is rejected with a clear error") {
  SECTION("too short for the header length") {
    std::string path = temp_path("short.safetensors");
    std::ofstream(path) << "abc";
    expect_format_error(path, "too short");
  }
  SECTION("header length past the end of the file") {
    expect_format_error(write_raw("len.safetensors", "{}", 0, 1000), "past the end");
  }
  SECTION("header length over the limit") {
    expect_format_error(write_raw("huge.safetensors", "{}", 0, 1ull << 40), "exceeds the limit");
  }
  SECTION("header is not JSON") {
    expect_format_error(write_raw("json.safetensors", "{\"a\": [1, 2", 0), "invalid JSON");
  }
  SECTION("header is not an object") {
    expect_format_error(write_raw("arr.safetensors", "[1, 2]", 0), "not a JSON object");
  }
  SECTION("dtype outside the allow-list") {
    expect_format_error(write_raw("dtype.safetensors", R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8), "not supported");
  }
  SECTION("negative shape entry") {
    expect_format_error(write_raw("neg.safetensors", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "non-negative");
  }
  SECTION("shape product overflows") {
    expect_format_error(
        write_raw("ovf.safetensors", R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4), "overflows");
  }
  SECTION("byte size overflows") {
    expect_format_error(write_raw("ovf2.safetensors", R"({"a":{"dtype":"I64","shape":[2305843009213693952],"data_offsets":[0,4]}})", 4),
                        "overflows");
  }
  SECTION("offsets past the data") {
    expect_format_error(write_raw("past.safetensors", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8), "past the data");
  }
  SECTION("offsets inconsistent with shape x dtype") {
    expect_format_error(write_raw("size.safetensors", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16), "needs 12");
  }
  SECTION("begin after end") {
    expect_format_error(write_raw("order.safetensors", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 16), "begin");
  }
  SECTION("overlapping tensors") {
    expect_format_error(write_raw("overlap.safetensors",
                                  R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
                        "overlap");
  }
  SECTION("missing fields") {
    expect_format_error(write_raw("nodtype.safetensors", R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4), "dtype");
    expect_format_error(write_raw("noshape.safetensors", R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4), "shape");
    expect_format_error(write_raw("nooff.safetensors", R"({"a":{"dtype":"F32","shape":[1]}})", 4), "data_offsets");
  }
  SECTION("duplicate tensor names") {
    expect_format_error(write_raw("dup.safetensors",
                                  R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
                        "duplicate");
  }
  SECTION("truncated file") {
    std::string path = temp_path("trunc.safetensors");
    io::write_safetensors(path, {{"a", Shape{64}, std::vector<float>(64, 1.0f), {}, false}});
    fs::resize_file(path, fs::file_size(path) - 10);
    expect_format_error(path, "past the data");
  }
  SECTION("missing file") {
    CHECK_THROWS_AS(io::SafeTensors(temp_path("does-not-exist.safetensors")), Error);
  }
}

TEST_CASE("json: parses the grammar strictly") {
  json::Value v = json::parse(R"({"a": [1, -2.5e3, true, null, "x\u00e9\n"], "b": {"c": 9007199254740993}})");
  REQUIRE(v.is_object());
  const auto& a = v.find("a")->as_array();
  CHECK(a[0].as_int() == 1);
  CHECK(a[1].as_double() == -2500.0);
  CHECK(a[2].as_bool());
  CHECK(a[3].is_null());
  CHECK(a[4].as_string() == "x\xc3\xa9\n");
  CHECK(v.find("b")->find("c")->as_int() == 9007199254740993LL);  // exact beyond 2^53
  for (const char* bad : {"", "{", "[1,]", "{\"a\":1,}", "01", "1.", "\"\\x\"", "tru", "{\"a\" 1}", "[1] x", "\"\x01\"", "\"\\ud800\""})
    CHECK_THROWS_AS(json::parse(bad), Error);
  std::string deep(1000, '[');
  CHECK_THROWS_AS(json::parse(deep), Error);
  json::Value round = json::parse(json::dump(v));
  CHECK(json::dump(round) == json::dump(v));
}

TEST_CASE("npy: float32 round trip, float64 conversion, and malformed files") {
  std::string path = temp_path("x.npy");
  HostTensor t(Shape{2, 3, 4});
  for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = float(i) * 0.5f - 3.0f;
  io::write_npy(path, t);
  HostTensor back = io::read_npy(path);
  CHECK(back.shape == t.shape);
  CHECK(back.data == t.data);

  HostTensor one(Shape{5});
  io::write_npy(path, one);
  CHECK(io::read_npy(path).shape == Shape{5});

  auto write_bytes = [&](const std::string& name, const std::string& bytes) {
    std::string p = temp_path(name);
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  };
  auto npy = [](const std::string& header, std::size_t data_bytes) {
    std::string h = header;
    while ((10 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string s = "\x93NUMPY\x01";
    s += '\0';
    s += char(h.size() & 0xff);
    s += char(h.size() >> 8);
    return s + h + std::string(data_bytes, '\0');
  };
  {
    // float64 values are converted to the nearest float32, element by element in C order.
    const double values[6] = {1.5, -2.25, 0.1, 1e10, -3.0e-5, 65504.0};
    std::string bytes(reinterpret_cast<const char*>(values), sizeof values);  // little-endian host
    HostTensor f8 = io::read_npy(write_bytes("f8.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 0) + bytes));
    CHECK(f8.shape == Shape{2, 3});
    REQUIRE(f8.data.size() == 6);
    for (int i = 0; i < 6; ++i) CHECK(f8.data[std::size_t(i)] == float(values[i]));
  }
  CHECK_THROWS_AS(io::read_npy(write_bytes("magic.npy", "hello world")), Error);
  CHECK_THROWS_AS(io::read_npy(write_bytes("i4.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", 8))), Error);
  CHECK_THROWS_AS(io::read_npy(write_bytes("fortran.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8))), Error);
  CHECK_THROWS_AS(io::read_npy(write_bytes("short.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 20))), Error);
  CHECK_THROWS_AS(io::read_npy(write_bytes("ovf.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999999999, 99999), }", 8))), Error);
  CHECK_THROWS_AS(io::read_npy(temp_path("missing.npy")), Error);
}

TEST_CASE("AtomicFile leaves nothing behind when not committed") {
  std::string path = temp_path("atomic.bin");
  fs::remove(path);
  {
    io::AtomicFile f(path);
    f.write("abc", 3);
  }
  CHECK_FALSE(fs::exists(path));
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path()))
    CHECK(e.path().filename().string().find("atomic.bin.tmp") == std::string::npos);
}

TEST_CASE("safetensors: empty tensors never overlap, whatever the order of the header") {
  // Python's safetensors loads files with zero-element tensors (data_offsets [k, k]); the overlap
  // check used to refuse some of them depending on the order of the entries.
  std::vector<std::string> entries = {R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})",
                                      R"("e0":{"dtype":"F32","shape":[0],"data_offsets":[0,0]})",
                                      R"("e8":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]})",
                                      R"("e4":{"dtype":"BF16","shape":[2,0],"data_offsets":[4,4]})",
                                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]})"};
  std::sort(entries.begin(), entries.end());
  int n = 0;
  do {
    std::string header = "{";
    for (std::size_t i = 0; i < entries.size(); ++i) header += (i ? "," : "") + entries[i];
    header += "}";
    INFO(header);
    std::string path = write_raw("empty-order.safetensors", header, 12);
    io::SafeTensors st(path);
    CHECK(st.tensors().size() == 5);
    CHECK(st.to_float(st.at("e4")).data.empty());
    CHECK(st.to_float(st.at("b")).shape == Shape{1});
    ++n;
  } while (std::next_permutation(entries.begin(), entries.end()));
  CHECK(n == 120);
  // Empty tensors at the end of the data, and still range-checked.
  CHECK_NOTHROW(io::SafeTensors(write_raw("empty-end.safetensors", R"({"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4)));
  expect_format_error(write_raw("empty-past.safetensors", R"({"z":{"dtype":"F32","shape":[0],"data_offsets":[9,9]}})", 4), "past the data");
  // Non-empty tensors that share bytes are still refused, with empty ones in between.
  expect_format_error(write_raw("overlap-empty.safetensors",
                                R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
                      "overlap");
}

TEST_CASE("safetensors: the writer refuses names and metadata that are not valid UTF-8") {
  // A header with invalid UTF-8 is not JSON: Python's safetensors refuses the whole file.
  std::string path = temp_path("utf8.safetensors");
  fs::remove(path);
  auto expect_refused = [&](const std::vector<io::TensorToWrite>& tensors, const std::map<std::string, std::string>& meta,
                            const std::string& needle) {
    try {
      io::write_safetensors(path, tensors, meta);
      FAIL("expected an error containing '" << needle << "'");
    } catch (const Error& e) {
      INFO(e.what());
      CHECK(e.kind() == ErrorKind::argument);
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
    CHECK_FALSE(fs::exists(path));  // nothing written, not even a temporary file
    for (const auto& e : fs::directory_iterator(fs::path(path).parent_path()))
      CHECK(e.path().filename().string().find("utf8.safetensors") == std::string::npos);
  };
  io::TensorToWrite ok{"w", Shape{1}, {1.0f}, {}, false};
  expect_refused({{"bad\xff", Shape{1}, {1.0f}, {}, false}}, {}, "tensor name \"bad\\xff\"");
  expect_refused({ok}, {{"key\xc3", "v"}}, "metadata key \"key\\xc3\"");
  expect_refused({ok}, {{"k", "caf\xe9!"}}, "metadata value for 'k' \"caf\\xe9!\"");
  expect_refused({ok}, {{"k", "\xed\xa0\x80"}}, "\\xed\\xa0\\x80");  // an encoded surrogate
  // Valid UTF-8 (multi-byte included) is written and read back unchanged.
  io::write_safetensors(path, {{"w\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", Shape{1}, {2.0f}, {}, false}}, {{"n\xc3\xa9", "\xe6\x97\xa5"}});
  io::SafeTensors st(path);
  CHECK(st.find("w\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") != nullptr);
  CHECK(st.metadata().at("n\xc3\xa9") == "\xe6\x97\xa5");
}

TEST_CASE("json::is_valid_utf8 follows RFC 3629; quote_bytes renders any bytes on one line") {
  for (const char* ok : {"", "plain ascii", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xf4\x8f\xbf\xbf", "\x7f"})
    CHECK(json::is_valid_utf8(ok));
  for (const char* bad : {"\x80", "\xbf", "\xc0\xaf", "\xc1\xbf", "\xc3", "\xc3\x28", "\xe0\x80\xaf", "\xe0\x9f\xbf", "\xe2\x82", "\xed\xa0\x80",
                          "\xed\xbf\xbf", "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "ok\xfe"})
    CHECK_FALSE(json::is_valid_utf8(bad));
  CHECK(json::is_valid_utf8(std::string_view("a\0b", 3)));  // NUL is valid UTF-8
  CHECK(json::quote_bytes("a\"b\\c\xff\n") == "\"a\\\"b\\\\c\\xff\\x0a\"");
  CHECK(json::quote_bytes(std::string(100, 'x'), 4) == "\"xxxx\"...");
}

TEST_CASE("json::describe says what a value is, for expected-vs-got messages") {
  CHECK(json::describe(json::parse("128.0")) == "the number 128.0");
  CHECK(json::describe(json::parse("0.1")) == "the number 0.1");
  CHECK(json::describe(json::parse("-7")) == "the number -7");
  CHECK(json::describe(json::parse("\"128\"")) == "the string \"128\"");
  CHECK(json::describe(json::parse("[1, 2]")) == "an array of 2 elements");
  CHECK(json::describe(json::parse("{}")) == "an object");
  CHECK(json::describe(json::parse("null")) == "null");
  CHECK(json::describe(json::parse("false")) == "false");
}

TEST_CASE("joined lists names for messages; SafeTensorsWeights::numbered counts numbered tensors from 0") {
  CHECK(joined(std::vector<std::string>{}).empty());
  CHECK(joined(std::vector<std::string>{"cpu"}) == "cpu");
  CHECK(joined(std::map<std::string, int>{{"b", 2}, {"a", 1}}, [](const auto& e) { return e.first; }) == "a, b");

  const std::string path = temp_path("numbered.safetensors");
  // blocks 0, 1 and 3 (2 is missing: the count stops there); "m." prefixes every key.
  io::write_safetensors(path, {{"m.blocks.0.w", Shape{1}, {1}, {}, false}, {"m.blocks.1.w", Shape{1}, {1}, {}, false},
                               {"m.blocks.3.w", Shape{1}, {1}, {}, false}, {"m.blocks.0.b", Shape{1}, {1}, {}, false}}, {});
  const SafeTensorsWeights w(std::make_shared<io::SafeTensors>(path), "m.");
  CHECK(w.numbered("blocks.", ".w") == 2);
  CHECK(w.numbered("blocks.", ".b") == 1);
  CHECK(w.numbered("heads.", ".w") == 0);
}
