// Model<cuda::Backend> against the PyTorch golden fixtures: fp32 at the project's 1e-4 bound,
// reduced precisions at bounds that fit their arithmetic (outputs are O(1)–O(6)).
#include "fixture_check.hpp"
#include "radio_v4_check.hpp"
#include "vit/backends/cuda.cuh"

using vit::Precision;

namespace {
void run(Precision p, bool graphs, double bound) {
  vit::cuda::Backend b(vit::cuda::Options{.precision = p, .graphs = graphs});
  INFO(b.description() << ", max |error| bound " << bound);
  vit::testing::check_radio_fixtures(b, bound);
  vit::testing::check_radio_v4_fixture(b, bound);
}
}  // namespace

TEST_CASE("cuda fp32 matches the PyTorch fixtures to 1e-4", "[fp32]") { run(Precision::fp32, true, 1e-4); }
TEST_CASE("cuda fp32 without graphs matches the PyTorch fixtures to 1e-4", "[fp32]") { run(Precision::fp32, false, 1e-4); }
TEST_CASE("cuda tf32 matches the PyTorch fixtures to 1e-2", "[tf32]") { run(Precision::tf32, true, 1e-2); }
TEST_CASE("cuda bf16 matches the PyTorch fixtures to 1e-1", "[bf16]") { run(Precision::bf16, true, 1e-1); }
TEST_CASE("cuda fp16 matches the PyTorch fixtures to 5e-2", "[fp16]") { run(Precision::fp16, true, 5e-2); }
