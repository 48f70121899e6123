// Inputs found by the libFuzzer targets (fuzz/, scripts/fuzz.sh), kept in tests/data/fuzz/.
// Each must now give a clean vit::Error (or load correctly, when the input was valid and the bug
// was in how it was read). Run under -DVIT_SANITIZERS=ON these also catch the original UB.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "vit/io/json.hpp"
#include "vit/io/npy.hpp"
#include "vit/io/safetensors.hpp"
#include "vit/models/radio/importer.hpp"

namespace {
std::string fuzz_file(const std::string& name) { return std::string(VIT_TEST_DATA_DIR) + "/fuzz/" + name; }
}  // namespace

TEST_CASE("fuzz regression: an empty F32 tensor converts without memcpy into a null pointer") {
  // fuzz_safetensors: SafeTensors::to_float called memcpy(nullptr, p, 0) for a [0, 3] tensor
  // (UBSan: null pointer passed as argument 1, safetensors.hpp:60).
  vit::io::SafeTensors st(fuzz_file("safetensors-empty-f32-memcpy-null.safetensors"));
  const vit::io::TensorView& empty = st.at("empty");
  CHECK(empty.shape == vit::Shape({0, 3}));
  vit::HostTensor t = st.to_float(empty);
  CHECK(t.data.empty());
  CHECK(t.shape == vit::Shape({0, 3}));
  for (const auto& v : st.tensors())
    if (v.dtype != vit::DType::i64) CHECK(st.to_float(v).data.size() == std::size_t(v.shape.numel()));
}

TEST_CASE("fuzz regression: a JSON number outside the double range is a format error") {
  // fuzz_config: "1e999" parsed to inf, which json::dump wrote as "inf" (not JSON), so a
  // parse -> dump -> parse round trip failed.
  const std::string text = vit::io::read_text_file(fuzz_file("json-number-out-of-range.json"));
  try {
    vit::json::parse(text, "json-number-out-of-range.json");
    FAIL("parsing " << text << " should have failed");
  } catch (const vit::Error& e) {
    CHECK(e.kind() == vit::ErrorKind::format);
    CHECK(std::string(e.what()).find("out of range") != std::string::npos);
  }
  CHECK_THROWS_AS(vit::json::parse("[-1e400]"), vit::Error);
  CHECK(vit::json::parse("1e308").as_double() == 1e308);
  vit::json::Value inf(1e308 * 10);
  CHECK_THROWS_AS(vit::json::dump(inf), vit::Error);
}

TEST_CASE("hardening: absurd sizes in a config are config errors, not std::bad_alloc") {
  // Found by review (docs/robustness.md): embed_dim 2000000000 passed validate() and the Model
  // constructor then died with std::bad_alloc.
  auto own = [](const std::string& field, const std::string& value) {
    std::string text = R"({"format_version": 1, "patch_size": 16, "embed_dim": 64, "depth": 1, "num_heads": 4, "mlp_hidden": 256,
                           "pos_grid": 4, "num_cls_tokens": 1, "num_registers": 0, "summary_idxs": [0]})";
    vit::json::Value v = vit::json::parse(text);
    for (auto& [k, x] : v.as_object())
      if (k == field) x = vit::json::parse(value);
    if (!v.find(field)) v.as_object().emplace_back(field, vit::json::parse(value));
    return v;
  };
  CHECK_NOTHROW(vit::models::radio::Config::from_json(own("embed_dim", "64"), "ok"));
  for (auto [field, value] : std::vector<std::pair<std::string, std::string>>{{"embed_dim", "2000000000"},
                                                                               {"mlp_hidden", "2000000000"},
                                                                               {"num_registers", "100000000"},
                                                                               {"max_resolution", "2000000000"},
                                                                               {"preferred_resolution", "[0, 512]"},
                                                                               {"preferred_resolution", "[512, 4294967808]"}}) {
    INFO(field << " = " << value);
    try {
      vit::models::radio::Config::from_json(own(field, value), "hostile.json");
      FAIL("accepted");
    } catch (const vit::Error& e) {
      CHECK(e.kind() == vit::ErrorKind::config);
    }
  }
}

TEST_CASE("hardening: duplicate JSON keys are still refused, also in large objects") {
  std::string text = "{";
  for (int i = 0; i < 2000; ++i) text += "\"k" + std::to_string(i) + "\": 1, ";
  CHECK_NOTHROW(vit::json::parse(text + "\"last\": 2}"));
  CHECK_THROWS_AS(vit::json::parse(text + "\"k1999\": 2}"), vit::Error);
}

TEST_CASE("hardening: a config whose fields pass their own limits but whose model is too large is refused") {
  // Adversarial campaign (issue 16): embed_dim 4096 x depth 1024 x mlp_hidden 16384 each passed
  // the per-field limits; the process grew past 5 GB before failing with "out of memory".
  std::string text = R"({"format_version": 1, "patch_size": 16, "embed_dim": 4096, "depth": 1024, "num_heads": 32, "mlp_hidden": 16384,
                         "pos_grid": 128, "num_cls_tokens": 4, "num_registers": 4, "summary_idxs": [0]})";
  try {
    vit::models::radio::Config::from_json(vit::json::parse(text), "huge.json");
    FAIL("accepted");
  } catch (const vit::Error& e) {
    INFO(e.what());
    CHECK(e.kind() == vit::ErrorKind::config);
    CHECK(std::string(e.what()) == "huge.json: 206.3 G parameters (825.1 GB in fp32) exceed the limit of 4 G parameters");
  }
}
