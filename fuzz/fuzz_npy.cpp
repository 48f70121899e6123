// libFuzzer target: a .npy file -> vit::io::read_npy. Any outcome other than success or a
// vit::Error is a finding; on success the tensor must hold exactly shape.numel() values.
#include "fuzz_file.hpp"
#include "vit/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vit::fuzz::MemFile f(data, size);
  try {
    vit::HostTensor t = vit::io::read_npy(f.path());
    if (std::int64_t(t.data.size()) != t.shape.numel()) std::abort();
  } catch (const vit::Error&) {
  }
  return 0;
}
