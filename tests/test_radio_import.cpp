// The C-RADIO importer and configs: HF snapshots, the project's own JSON config, key prefixes,
// optional parts by tensor presence, layouts, random weights, and every error path.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "fixture_check.hpp"
#include "vit/backends/reference.hpp"
#include "vit/models/open.hpp"

using namespace vit;
using namespace vit::models::radio;
namespace radio = vit::models::radio;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("vit-test-import-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Copies a checkpoint, renaming keys with `rename` (return "" to drop a tensor) and appending `extra`.
// `edit` (if set) may change the fp32 values of each tensor.
void copy_checkpoint(const std::string& src, const std::string& dst, const std::function<std::string(const std::string&)>& rename,
                     std::vector<io::TensorToWrite> extra = {},
                     const std::function<void(const std::string&, std::vector<float>&)>& edit = {}) {
  io::SafeTensors st(src);
  std::vector<io::TensorToWrite> out;
  for (const auto& t : st.tensors()) {
    std::string name = rename(t.name);
    if (name.empty()) continue;
    if (t.dtype == DType::i64) {
      out.push_back({name, t.shape, {}, st.to_int64(t), true});
    } else {
      out.push_back({name, t.shape, st.to_float(t).data, {}, false});
      if (edit) edit(name, out.back().f32);
    }
  }
  for (auto& e : extra) out.push_back(std::move(e));
  io::write_safetensors(dst, out);
}

std::string fixture(const std::string& m) { return testing::fixture_dir(m); }

void expect_error(const std::function<void()>& f, ErrorKind kind, const std::string& needle) {
  try {
    f();
    FAIL("expected an error containing '" << needle << "'");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.kind() == kind);
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
  }
}

HostOutput run_reference(const std::string& model_path, const HostTensor& input, Layout layout = Layout::nlc, OpenOptions opt = {}) {
  reference::Backend b;
  Snapshot snap = open_snapshot(model_path, opt);
  radio::Model<reference::Backend> model(b, snap.config, *snap.weights);
  return model.forward(input, layout);
}

}  // namespace

TEST_CASE("HF import derives sizes, tokens and optional parts") {
  Snapshot a = open_snapshot(fixture("A"));
  CHECK(a.config.timm_model == "vit_base_patch16_224");
  CHECK(a.config.embed_dim == 64);
  CHECK(a.config.depth == 2);
  CHECK(a.config.num_heads == 4);
  CHECK(a.config.mlp_hidden == 256);
  CHECK(a.config.pos_grid_h == 8);
  CHECK(a.config.num_cls_tokens == 4);
  CHECK(a.config.num_registers == 4);
  CHECK(a.config.summary_tokens == std::vector<std::int64_t>{0, 1, 2});
  CHECK_FALSE(a.config.layer_scale);
  CHECK_FALSE(a.config.mlp_norm);
  CHECK_FALSE(a.config.final_norm);
  CHECK_FALSE(a.config.feature_projection);

  Snapshot c = open_snapshot(fixture("C"));
  CHECK(c.config.embed_dim == 48);
  CHECK(c.config.num_heads == 2);
  CHECK(c.config.num_cls_tokens == 3);  // clip, dino_v2, sam
  CHECK(c.config.num_registers == 1);   // register_multiple 4
  CHECK(c.config.summary_tokens == std::vector<std::int64_t>{0, 1});
  CHECK(c.config.layer_scale);
  CHECK(c.config.mlp_norm);
  CHECK(c.config.final_norm);
  CHECK(c.config.feature_projection);
  CHECK(c.config.pos_grid_h == 3);
}

TEST_CASE("the project's JSON config round-trips and runs the same weights") {
  Snapshot a = open_snapshot(fixture("C"));
  fs::path dir = temp_dir("own-config");
  a.config.save((dir / "config.json").string());
  Config back = Config::load((dir / "config.json").string());
  CHECK(json::dump(back.to_json()) == json::dump(a.config.to_json()));
  fs::copy_file(fixture("C") + "/model.safetensors", dir / "model.safetensors");
  HostTensor input = io::read_npy(fixture("C") + "/input_sq32.npy");
  HostOutput hf = run_reference(fixture("C"), input);
  HostOutput own = run_reference(dir.string(), input);
  CHECK(own.summary.data == hf.summary.data);
  CHECK(own.features.data == hf.features.data);
}

TEST_CASE("per-variant configs load and match the published parameter counts") {
  const std::string dir = std::string(VIT_TEST_DATA_DIR) + "/../../models/radio/configs/";
  struct Want { const char* file; int d, depth, heads; double params_m; };
  // Parameter counts derived in radio-spec.md §1 (backbone + embedder + 128x128 pos grid + tokens).
  for (Want w : {Want{"c-radio-v3-b.json", 768, 12, 12, 98.2}, Want{"c-radio-v3-l.json", 1024, 24, 16, 319.9},
                 Want{"c-radio-v3-h.json", 1280, 32, 16, 651.6}, Want{"c-radio-v3-g.json", 1536, 40, 24, 1159.6},
                 Want{"c-radio-v2-b.json", 768, 12, 12, 98.2}, Want{"c-radio-v2-h.json", 1280, 32, 16, 651.6},
                 // C-RADIOv4: 3 cls + 7 registers; SO400M's MLP is 4304 wide (head dim 72), H's head dim 80
                 Want{"c-radio-v4-so400m.json", 1152, 27, 16, 431.2}, Want{"c-radio-v4-h.json", 1280, 32, 16, 651.6}}) {
    INFO(w.file);
    Config c = Config::load(dir + w.file);
    CHECK(c.embed_dim == w.d);
    CHECK(c.depth == w.depth);
    CHECK(c.num_heads == w.heads);
    CHECK(std::abs(double(c.parameter_count()) / 1e6 - w.params_m) < 0.1);
  }
  Config so400m = Config::load(dir + "c-radio-v4-so400m.json");
  CHECK(so400m.mlp_hidden == 4304);
  CHECK(so400m.num_cls_tokens + so400m.num_registers == 10);
  CHECK(so400m.summary_dim() == 2304);
  Config v1 = Config::load(dir + "c-radio.json");
  CHECK(v1.mlp_norm);
  for (const auto& e : fs::directory_iterator(dir)) CHECK_NOTHROW(Config::load(e.path().string()));
}

TEST_CASE("a RADIO tower under another key prefix loads; unused tensors are reported") {
  fs::path dir = temp_dir("prefix");
  fs::copy_file(fixture("A") + "/config.json", dir / "config.json");
  copy_checkpoint(fixture("A") + "/model.safetensors", (dir / "model.safetensors").string(),
                  [](const std::string& k) { return "vision_model." + k; },
                  {{"vision_model.radio_model.model.patch_generator.video_embedder.weight", Shape{64, 1536}, std::vector<float>(64 * 1536), {}, false}});
  OpenOptions opt;
  opt.key_prefix = "vision_model.radio_model.";
  HostTensor input = io::read_npy(fixture("A") + "/input_sq128.npy");
  HostOutput out = run_reference(dir.string(), input, Layout::nlc, opt);
  HostOutput want = run_reference(fixture("A"), input);
  CHECK(out.features.data == want.features.data);

  Snapshot snap = open_snapshot(dir.string(), opt);
  reference::Backend b;
  radio::Model<reference::Backend> model(b, snap.config, *snap.weights);
  auto unused = dynamic_cast<SafeTensorsWeights&>(*snap.weights).unused();
  CHECK(std::find(unused.begin(), unused.end(), "vision_model.radio_model.model.patch_generator.video_embedder.weight") != unused.end());
  // Without the prefix the checkpoint is not a RADIO model.
  expect_error([&] { open_snapshot(dir.string()); }, ErrorKind::format, "radio_model.model.patch_generator.pos_embed' is missing");
}

TEST_CASE("summary_idxs fall back to the teachers with use_summary when the buffer is absent") {
  fs::path dir = temp_dir("no-summary-idxs");
  fs::copy_file(fixture("C") + "/config.json", dir / "config.json");
  copy_checkpoint(fixture("C") + "/model.safetensors", (dir / "model.safetensors").string(),
                  [](const std::string& k) { return k == "radio_model.summary_idxs" ? std::string() : k; });
  Snapshot snap = open_snapshot(dir.string());
  CHECK(snap.config.summary_tokens == std::vector<std::int64_t>{0, 1});  // sam has use_summary false
}

TEST_CASE("NCHW layout is the permutation of NLC") {
  HostTensor input = io::read_npy(fixture("A") + "/input_rect48x80.npy");
  HostOutput nlc = run_reference(fixture("A"), input, Layout::nlc);
  HostOutput nchw = run_reference(fixture("A"), input, Layout::nchw);
  REQUIRE(nchw.features.shape == Shape{1, 64, 3, 5});
  REQUIRE(nlc.features.shape == Shape{1, 15, 64});
  for (int t = 0; t < 15; ++t)
    for (int d = 0; d < 64; ++d) CHECK(nchw.features.data[std::size_t(d * 15 + t)] == nlc.features.data[std::size_t(t * 64 + d)]);
  CHECK(nlc.summary.shape == Shape{1, 192});
}

TEST_CASE("random weights: deterministic per seed, any input size, smaller and larger than the grid") {
  Config c = open_snapshot(fixture("A")).config;
  c.depth = 1;
  reference::Backend b;
  radio::RandomWeights w1(7), w2(7), w3(8);
  radio::Model<reference::Backend> m1(b, c, w1), m2(b, c, w2), m3(b, c, w3);
  for (auto [h, w] : {std::pair{16, 16}, std::pair{32, 176}, std::pair{192, 160}}) {
    HostTensor input = testing::random_tensor(Shape{2, 3, h, w}, 5, 0.5f, 0.2f);
    HostOutput o1 = m1.forward(input), o2 = m2.forward(input), o3 = m3.forward(input);
    CHECK(o1.features.shape == Shape{2, (h / 16) * (w / 16), 64});
    CHECK(o1.features.data == o2.features.data);
    CHECK(o1.features.data != o3.features.data);
  }
}

TEST_CASE("bad models and inputs give clear errors") {
  fs::path dir = temp_dir("bad");
  auto with_config = [&](const std::string& text) {
    std::ofstream(dir / "config.json") << text;
    if (!fs::exists(dir / "model.safetensors")) fs::copy_file(fixture("A") + "/model.safetensors", dir / "model.safetensors");
    return dir.string();
  };
  std::string hf = io::read_text_file(fixture("A") + "/config.json");
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = hf;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  expect_error([&] { open_snapshot(with_config(replaced("vit_base_patch16_224", "vit_tiny_unknown"))); }, ErrorKind::config,
               "unknown args.model 'vit_tiny_unknown' (known: vit_base_patch16_224, vit_giant_patch16_224, vit_huge_patch16_224, "
               "vit_huge_patch16_224_mlpnorm, vit_large_patch16_224, vit_small_patch16_224, vit_so400m_patch16_224, "
               "vit_so400m_v2_patch16_224, vit_tiny_patch16_224)");
  expect_error([&] { open_snapshot(with_config(replaced("\"embed_dim\": 64", "\"embed_dim\": 96"))); }, ErrorKind::config,
               "embed_dim 96, but pos_embed has 64");
  expect_error([&] { open_snapshot(with_config(replaced("\"depth\": 2", "\"depth\": 3"))); }, ErrorKind::config, "the checkpoint has 2 blocks");
  expect_error([&] { open_snapshot(with_config("{\"args\": ")); }, ErrorKind::format, "invalid JSON");
  expect_error([&] { open_snapshot(with_config("{\"format_version\": 7}")); }, ErrorKind::config, "format_version 7 is not supported");
  expect_error([&] { open_snapshot(with_config("{}")); }, ErrorKind::config, "missing object 'args'");
  expect_error([&] { open_snapshot((dir / "nope").string()); }, ErrorKind::io, "no such file");
  fs::path empty = temp_dir("empty");
  expect_error([&] { open_snapshot(empty.string()); }, ErrorKind::io, "no config.json");
  fs::copy_file(fixture("A") + "/config.json", empty / "config.json");
  expect_error([&] { open_snapshot(empty.string()); }, ErrorKind::io, "model.safetensors: missing");

  // A missing and a mis-shaped tensor.
  fs::path broken = temp_dir("broken");
  fs::copy_file(fixture("A") + "/config.json", broken / "config.json");
  copy_checkpoint(fixture("A") + "/model.safetensors", (broken / "model.safetensors").string(),
                  [](const std::string& k) { return k == "radio_model.model.blocks.1.mlp.fc2.bias" ? std::string() : k; });
  {
    Snapshot snap = open_snapshot(broken.string());
    reference::Backend b;
    expect_error([&] { radio::Model<reference::Backend>(b, snap.config, *snap.weights); }, ErrorKind::format, "blocks.1.mlp.fc2.bias' is missing");
  }
  copy_checkpoint(fixture("A") + "/model.safetensors", (broken / "model.safetensors").string(), [](const std::string& k) { return k; },
                  {});
  {
    // Re-write with a mis-shaped proj weight.
    io::SafeTensors st((broken / "model.safetensors").string());
    std::vector<io::TensorToWrite> out;
    for (const auto& t : st.tensors()) {
      Shape s = t.shape;
      std::vector<float> data = t.dtype == DType::i64 ? std::vector<float>{} : st.to_float(t).data;
      if (t.name == "radio_model.model.blocks.0.attn.proj.weight") {
        s = Shape{64, 32};
        data.resize(64 * 32);
      }
      if (t.dtype == DType::i64) out.push_back({t.name, s, {}, st.to_int64(t), true});
      else out.push_back({t.name, s, data, {}, false});
    }
    fs::path other = temp_dir("misshaped");
    fs::copy_file(fixture("A") + "/config.json", other / "config.json");
    io::write_safetensors((other / "model.safetensors").string(), out);
    Snapshot snap = open_snapshot(other.string());
    reference::Backend b;
    expect_error([&] { radio::Model<reference::Backend>(b, snap.config, *snap.weights); }, ErrorKind::shape, "expected shape [64, 64], got [64, 32]");
  }

  // Inputs.
  Snapshot snap = open_snapshot(fixture("A"));
  reference::Backend b;
  radio::Model<reference::Backend> model(b, snap.config, *snap.weights);
  expect_error([&] { model.forward(HostTensor(Shape{1, 3, 40, 32})); }, ErrorKind::shape, "multiples of the patch size 16");
  expect_error([&] { model.forward(HostTensor(Shape{1, 4, 32, 32})); }, ErrorKind::shape, "expected [B, 3, H, W]");
  expect_error([&] { model.forward(HostTensor(Shape{3, 32, 32})); }, ErrorKind::shape, "expected [B, 3, H, W]");
  expect_error([&] { model.forward(HostTensor(Shape{0, 3, 32, 32})); }, ErrorKind::shape, "empty");
}

namespace {
// Fixture A with some values changed by `edit`, in a fresh folder.
std::string edited_a(const std::string& name, const std::function<void(const std::string&, std::vector<float>&)>& edit) {
  fs::path dir = temp_dir(name);
  fs::copy_file(fixture("A") + "/config.json", dir / "config.json");
  copy_checkpoint(fixture("A") + "/model.safetensors", (dir / "model.safetensors").string(), [](const std::string& k) { return k; }, {}, edit);
  return dir.string();
}
void build_model(const std::string& dir) {
  Snapshot snap = open_snapshot(dir);
  reference::Backend b;
  radio::Model<reference::Backend> model(b, snap.config, *snap.weights);
}
}  // namespace

TEST_CASE("weights with NaN or Inf are refused at load, naming the file, the tensor and the count") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::string dir = edited_a("nonfinite", [&](const std::string& k, std::vector<float>& v) {
    if (k == "radio_model.model.blocks.0.attn.qkv.weight") {
      v[0] = nan;
      v[17] = inf;
      v[v.size() - 1] = -inf;
    }
  });
  expect_error([&] { build_model(dir); }, ErrorKind::format,
               "model.safetensors: tensor 'radio_model.model.blocks.0.attn.qkv.weight' holds 3 non-finite values (NaN/Inf)");
  std::string one = edited_a("nonfinite-pos", [&](const std::string& k, std::vector<float>& v) {
    if (k == "radio_model.model.patch_generator.pos_embed") v[5] = nan;
  });
  expect_error([&] { build_model(one); }, ErrorKind::format, "tensor 'radio_model.model.patch_generator.pos_embed' holds 1 non-finite value (NaN/Inf)");
}

TEST_CASE("a zero, negative or non-finite input_conditioner.norm_std is refused at load") {
  for (float bad : {0.0f, -0.25f, -0.0f, std::numeric_limits<float>::infinity()}) {
    INFO(bad);
    std::string dir = edited_a("std", [&](const std::string& k, std::vector<float>& v) {
      if (k == "radio_model.input_conditioner.norm_std") v[1] = bad;
    });
    expect_error([&] { build_model(dir); }, ErrorKind::format, "tensor 'radio_model.input_conditioner.norm_std'");
  }
  std::string zero = edited_a("std0", [&](const std::string& k, std::vector<float>& v) {
    if (k == "radio_model.input_conditioner.norm_std") v[2] = 0.0f;
  });
  expect_error([&] { build_model(zero); }, ErrorKind::format, "entry 2 is 0, expected a positive finite value");
}

TEST_CASE("HF config fields of the wrong type are errors, not silently the default") {
  fs::path dir = temp_dir("typed-hf");
  fs::copy_file(fixture("A") + "/model.safetensors", dir / "model.safetensors");
  const std::string hf = io::read_text_file(fixture("A") + "/config.json");
  auto open_with = [&](const std::string& from, const std::string& to) {
    std::string s = hf;
    REQUIRE(s.find(from) != std::string::npos);
    s.replace(s.find(from), from.size(), to);
    std::ofstream(dir / "config.json") << s;
    return open_snapshot(dir.string());
  };
  const std::string pref = "\"preferred_resolution\": [\n    128,\n    128\n  ]";
  struct Case { std::string from, to, message; };
  for (const Case& c : std::vector<Case>{
           {"\"max_resolution\": 128", "\"max_resolution\": \"128\"", "config.json: field 'max_resolution': expected an integer, got the string \"128\""},
           {"\"max_resolution\": 128", "\"max_resolution\": 128.0", "field 'max_resolution': expected an integer, got the number 128.0"},
           {"\"max_resolution\": 128", "\"max_resolution\": 1180591620717411303424", "field 'max_resolution': expected an integer, got the number 1.1805916207174113e+21"},
           {"\"max_resolution\": 128", "\"max_resolution\": 4294967424", "field 'max_resolution': expected a 32-bit integer, got 4294967424"},
           {"\"max_resolution\": 128", "\"max_resolution\": true", "field 'max_resolution': expected an integer, got true"},
           {pref, "\"preferred_resolution\": [128]", "field 'preferred_resolution': expected [height, width] (2 integers), got an array of 1 element"},
           {pref, "\"preferred_resolution\": [128, \"128\"]", "field 'preferred_resolution[1]': expected an integer, got the string \"128\""},
           {pref, "\"preferred_resolution\": 128", "field 'preferred_resolution': expected [height, width] (2 integers), got the number 128"},
           {"\"patch_size\": 16", "\"patch_size\": \"16\"", "field 'patch_size': expected an integer, got the string \"16\""},
           {"\"version\": \"c-radio_v3-b\"", "\"version\": 3", "field 'version': expected a string, got the number 3"},
           {"\"args\": {", "\"args\": [], \"x\": {", "field 'args': expected an object, got an array of 0 elements"},
           {"\"model\": \"vit_base_patch16_224\"", "\"model\": 5", "field 'args.model': expected a string, got the number 5"},
           {"\"embed_dim\": 64", "\"embed_dim\": 64.0", "field 'args.model_kwargs.embed_dim': expected an integer, got the number 64.0"},
           {"\"depth\": 2", "\"depth\": \"2\"", "field 'args.model_kwargs.depth': expected an integer, got the string \"2\""},
           {"\"model_kwargs\": {", "\"model_kwargs\": [], \"x\": {", "field 'args.model_kwargs': expected an object, got an array of 0 elements"},
           {"\"cls_token_per_teacher\": true", "\"cls_token_per_teacher\": \"true\"", "field 'args.cls_token_per_teacher': expected true or false, got the string \"true\""},
           {"\"use_summary\": false", "\"use_summary\": 0", "field 'args.teachers[3].use_summary': expected true or false, got the number 0"},
           {"\"name\": \"siglip\"", "\"name\": null", "field 'args.teachers[1].name': expected a string, got null"},
           {"\"teachers\": [", "\"teachers\": {\"a\": 1}, \"x\": [", "field 'args.teachers': expected an array, got an object"},
       }) {
    INFO(c.to);
    expect_error([&] { open_with(c.from, c.to); }, ErrorKind::config, c.message);
  }
  // null in an optional HF field means "not set": the default is used.
  CHECK(open_with("\"max_resolution\": 128", "\"max_resolution\": null").config.max_resolution == 2048);
  CHECK(open_with(pref, "\"preferred_resolution\": null").config.preferred_resolution == std::array<int, 2>{512, 512});
  CHECK(open_with("\"max_resolution\": 128", "\"max_resolution\": 96").config.max_resolution == 96);
}

TEST_CASE("project config fields of the wrong type are errors naming the field") {
  Config base = open_snapshot(fixture("A")).config;
  auto load_with = [&](const std::string& field, const std::string& value) {
    json::Value v = base.to_json();
    for (auto& [k, x] : v.as_object())
      if (k == field) x = json::parse(value);
    return Config::from_json(v, "own.json");
  };
  struct Case { std::string field, value, message; };
  for (const Case& c : std::vector<Case>{
           {"embed_dim", "\"64\"", "own.json: field 'embed_dim': expected an integer, got the string \"64\""},
           {"depth", "2.0", "field 'depth': expected an integer, got the number 2.0"},
           {"max_resolution", "\"128\"", "field 'max_resolution': expected an integer, got the string \"128\""},
           {"max_resolution", "1180591620717411303424", "field 'max_resolution': expected an integer, got the number 1.1805916207174113e+21"},
           {"max_resolution", "null", "field 'max_resolution': expected an integer, got null"},
           {"preferred_resolution", "[128]", "field 'preferred_resolution': expected [height, width] (2 integers), got an array of 1 element"},
           {"patch_bias", "\"false\"", "field 'patch_bias': expected true or false, got the string \"false\""},
           {"name", "7", "field 'name': expected a string, got the number 7"},
           {"summary_idxs", "[0, 1.5]", "field 'summary_idxs[1]': expected an integer, got the number 1.5"},
           {"summary_idxs", "\"0\"", "field 'summary_idxs': expected an array of integers, got the string \"0\""},
           {"format_version", "\"1\"", "field 'format_version': expected an integer, got the string \"1\""},
       }) {
    INFO(c.field << " = " << c.value);
    expect_error([&] { load_with(c.field, c.value); }, ErrorKind::config, c.message);
  }
  CHECK(load_with("max_resolution", "96").max_resolution == 96);
}

TEST_CASE("attention_scale in the project config: absent by default, written when set, read back and applied") {
  Snapshot snap = open_snapshot(fixture("A"));
  const Config& base = snap.config;
  CHECK(base.to_json().find("attention_scale") == nullptr);  // 1/sqrt(head dim), as every released model
  Config scaled = base;
  scaled.attention_scale = 0.05f;
  json::Value v = scaled.to_json();
  REQUIRE(v.find("attention_scale") != nullptr);
  const Config back = Config::from_json(v, "own.json");
  CHECK(back.attention_scale == 0.05f);
  CHECK(json::dump(back.to_json()) == json::dump(v));
  for (auto& [k, x] : v.as_object())
    if (k == "attention_scale") x = json::parse("\"0.05\"");
  expect_error([&] { Config::from_json(v, "own.json"); }, ErrorKind::config, "own.json: field 'attention_scale': expected a number, got the string \"0.05\"");
  for (auto& [k, x] : v.as_object())
    if (k == "attention_scale") x = json::parse("-1");
  expect_error([&] { Config::from_json(v, "own.json"); }, ErrorKind::config, "attention_scale must be finite and >= 0");

  // The scale reaches every attention: the same weights give another output, equal to the generic
  // model with that scale.
  reference::Backend b;
  HostTensor input = io::read_npy(fixture("A") + "/input_sq128.npy");
  const HostOutput plain = radio::Model<reference::Backend>(b, base, *snap.weights).forward(input, Layout::nlc);
  const HostOutput own = radio::Model<reference::Backend>(b, back, *snap.weights).forward(input, Layout::nlc);
  Architecture arch = radio::architecture(base);
  arch.attention_scale = 0.05f;
  const HostOutput generic = vit::Model<reference::Backend>(b, arch, *snap.weights).forward(input, Layout::nlc);
  CHECK(own.features.data == generic.features.data);
  CHECK(own.summary.data == generic.summary.data);
  CHECK(own.features.data != plain.features.data);
}

TEST_CASE("parameter_count is exactly the number of weight values the model loads") {
  for (const char* m : {"A", "C", "F"}) {
    INFO(m);
    Snapshot snap = open_snapshot(fixture(m));
    reference::Backend b;
    Architecture arch = radio::architecture(snap.config);
    arch.adaptors = snap.config.adaptors;  // F: both teacher heads
    vit::Model<reference::Backend> model(b, arch, *snap.weights);
    const auto& st = dynamic_cast<SafeTensorsWeights&>(*snap.weights);
    auto unused = st.unused();
    std::int64_t used = 0;
    for (const auto& t : st.file().tensors())
      if (std::find(unused.begin(), unused.end(), t.name) == unused.end()) used += t.shape.numel();
    CHECK(snap.config.parameter_count() == used);
  }
}

TEST_CASE("an input whose activations exceed the budget is refused before allocating") {
  // A model with a tiny weight set but a huge MLP width: activations grow with the input.
  Config c = open_snapshot(fixture("A")).config;
  c.depth = 0;
  c.mlp_hidden = Architecture::kMaxDim * 8;  // 2 MiB of activations per token
  reference::Backend b;
  radio::RandomWeights w(1);
  radio::Model<reference::Backend> model(b, c, w);
  CHECK(model.forward(HostTensor(Shape{1, 3, 32, 32})).features.shape == Shape{1, 4, 64});
  // 34816 tokens x 2 MiB: about 73 GB.
  expect_error([&] { model.forward(HostTensor(Shape{34, 3, 512, 512})); }, ErrorKind::out_of_memory,
               "input [34, 3, 512, 512] needs");
}

TEST_CASE("C-RADIOv4 snapshots: token layout, adaptor heads from adaptor_configs + tensors, SO400M trunks") {
  Snapshot f = open_snapshot(fixture("F"));
  CHECK(f.config.version == "c-radio_v4-so400m");
  CHECK(f.config.num_cls_tokens == 3);
  CHECK(f.config.num_registers == 7);
  CHECK(f.config.mlp_hidden == 538);  // int(144 * 4304 / 1152), from fc1's shape
  CHECK(f.config.embed_dim / f.config.num_heads == 72);
  REQUIRE(f.config.adaptors.size() == 2);
  const AdaptorHead& dino = f.config.adaptors[0];  // adaptor_configs order (sorted keys)
  CHECK(dino.name == "dino_v3");
  CHECK(dino.summary_key == "adaptors.dino_v3.head_mlp");
  CHECK(dino.feature_key == "adaptors.dino_v3.feat_mlp");
  CHECK(dino.token == 1);
  CHECK(dino.upsample == 2);
  CHECK(dino.feature.out == 128);
  CHECK(dino.summary.num_inner == 0);
  CHECK(f.config.adaptors[1].name == "siglip2-g");
  CHECK(f.config.adaptors[1].summary.num_inner == 1);
  // The project's config keeps the heads.
  fs::path dir = temp_dir("v4-config");
  f.config.save((dir / "config.json").string());
  CHECK(json::dump(Config::load((dir / "config.json").string()).to_json()) == json::dump(f.config.to_json()));

  // vit::models::open_model offers the heads; choosing an unknown one names the ones there are.
  models::Snapshot any = models::open_model(fixture("F"));
  CHECK(any.architecture.adaptors.empty());
  any.choose_adaptors({"siglip2-g"});
  REQUIRE(any.architecture.adaptors.size() == 1);
  CHECK(any.architecture.adaptors[0].token == 0);
  expect_error([&] { any.choose_adaptors({"sam3"}); }, ErrorKind::config, "adaptor 'sam3': c-radio_v4-so400m has only: dino_v3, siglip2-g");
  models::Snapshot a = models::open_model(fixture("A"));
  expect_error([&] { a.choose_adaptors({"dino_v3"}); }, ErrorKind::config, "has no adaptor heads");

  // The v2 SO400M trunk name loads too (its MLP width comes from the tensors).
  fs::path v2 = temp_dir("so400m-v2");
  std::string cfg = io::read_text_file(fixture("F") + "/config.json");
  cfg.replace(cfg.find("vit_so400m_patch16_224"), 22, "vit_so400m_v2_patch16_224");
  { std::ofstream(v2 / "config.json") << cfg; }
  fs::copy_file(fixture("F") + "/model.safetensors", v2 / "model.safetensors");
  CHECK(open_snapshot(v2.string()).config.timm_model == "vit_so400m_v2_patch16_224");
}

TEST_CASE("ViTDet: the block schedule as C-RADIO defines it, and models too shallow for it are refused") {
  auto schedule = [](int depth) {
    Architecture a;
    a.depth = depth;
    a.vitdet_window = 8;
    std::string s;
    for (bool w : a.vitdet_schedule()) s += w ? 'W' : 'G';
    return s;
  };
  CHECK(schedule(12) == "WWGWWGWWGWWG");  // fixture F
  CHECK(schedule(27) == "WWWWWGWWWWWGWWWWWGWWWWWGWWG");  // SO400M: global 5, 11, 17, 23, 26
  CHECK(schedule(32) == "WWWWWWWGWWWWWWWGWWWWWWWGWWWWWWWG");  // H: global 7, 15, 23, 31
  Architecture a;
  a.depth = 7;
  a.vitdet_window = 2;
  expect_error([&] { a.validate("m"); }, ErrorKind::config, "needs a depth of at least 8");
}
