// libFuzzer target: config.json text -> vit::json::parse, then both readers of it:
// the project format (radio::Config::from_json) and the HuggingFace importer
// (radio::config_from_hf) against a fixed valid checkpoint (tests/data/radio/A). A parsed value
// must also survive a dump / re-parse round trip. Any outcome other than success or a
// vit::Error is a finding.
#include <memory>

#include "vit/io/json.hpp"
#include "vit/models/radio/importer.hpp"

#ifndef VIT_FUZZ_CHECKPOINT
#error "VIT_FUZZ_CHECKPOINT must name a valid C-RADIO model.safetensors"
#endif

using namespace vit;

static const models::radio::SafeTensorsWeights& checkpoint() {
  static const models::radio::SafeTensorsWeights w(std::make_shared<io::SafeTensors>(VIT_FUZZ_CHECKPOINT), "radio_model.");
  return w;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& weights = checkpoint();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  json::Value v;
  try {
    v = json::parse(text, "fuzz");
  } catch (const Error&) {
    return 0;
  }
  // dump -> parse must not throw, and one round trip reaches a fixed point (the first may turn a
  // double like -0e5 into the integer 0: "-0" reads back as an integer).
  std::string once = json::dump(json::parse(json::dump(v, 0), "fuzz round trip"), 0);
  if (json::dump(json::parse(once, "fuzz round trip 2"), 0) != once) std::abort();
  try {
    models::radio::Config c = models::radio::Config::from_json(v, "fuzz");
    models::radio::Config c2 = models::radio::Config::from_json(c.to_json(), "fuzz round trip");
    if (json::dump(c2.to_json(), 0) != json::dump(c.to_json(), 0)) std::abort();
  } catch (const Error&) {
  }
  try {
    std::vector<std::string> notes;
    models::radio::Config c = models::radio::config_from_hf(v, weights, "fuzz", &notes);
    c.validate("fuzz");
  } catch (const Error&) {
  }
  return 0;
}
