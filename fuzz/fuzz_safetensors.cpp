// libFuzzer target: a safetensors file -> vit::io::SafeTensors, then every tensor converted to
// float (or int64). Any outcome other than success or a vit::Error is a finding.
#include "fuzz_file.hpp"
#include "vit/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vit::fuzz::MemFile f(data, size);
  try {
    vit::io::SafeTensorsLimits limits;
    limits.max_header_bytes = 1u << 20;  // keep single inputs fast; the logic is the same
    vit::io::SafeTensors st(f.path(), limits);
    double sum = 0;
    for (const auto& t : st.tensors()) {
      if (t.dtype == vit::DType::i64) {
        for (auto v : st.to_int64(t)) sum += double(v);
      } else {
        for (float v : st.to_float(t).data) sum += double(v);
      }
      if (st.find(t.name) == nullptr) std::abort();  // every listed tensor is findable
    }
    for (const auto& [k, v] : st.metadata()) sum += double(k.size() + v.size());
    volatile double sink = sum;
    (void)sink;
  } catch (const vit::Error&) {
  }
  return 0;
}
