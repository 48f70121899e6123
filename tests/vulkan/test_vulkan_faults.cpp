// Faults of the Vulkan backend: each is a one-line vit::Error of the right kind, never a crash.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "vulkan_test_support.hpp"

using namespace vit;

namespace {
ErrorKind kind_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    INFO("message: " << e.what());
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
    return e.kind();
  }
  FAIL("no vit::Error thrown");
  return ErrorKind::io;
}
}  // namespace

TEST_CASE("vulkan: no loader is a clear unsupported error naming the fix") {
  ::setenv("VIT_VULKAN_LOADER", "libvulkan-does-not-exist.so.1", 1);
  vulkan::detail::Loader l;
  try {
    l.open();
    FAIL("loader opened");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::unsupported);
    CHECK(std::string(e.what()).find("apt-get install libvulkan1") != std::string::npos);
  }
  ::unsetenv("VIT_VULKAN_LOADER");
}

TEST_CASE("vulkan: device selection by index and name") {
  auto o = testing::vulkan_test_options();
  o.device = 99;
  CHECK(kind_of([&] { vulkan::Backend b(o); }) == ErrorKind::argument);
  ::setenv("VIT_VULKAN_DEVICE", "no-such-gpu", 1);
  CHECK(kind_of([&] { vulkan::Backend b(testing::vulkan_test_options()); }) == ErrorKind::argument);
  ::unsetenv("VIT_VULKAN_DEVICE");
  vulkan::Backend first(testing::vulkan_test_options());
  const std::string name = first.description().substr(0, 4);
  ::setenv("VIT_VULKAN_DEVICE", name.c_str(), 1);
  vulkan::Backend by_name(testing::vulkan_test_options());
  CHECK(by_name.description() == first.description());
  ::setenv("VIT_VULKAN_DEVICE", "0", 1);
  vulkan::Backend by_index(testing::vulkan_test_options());
  CHECK(by_index.description() == first.description());
  ::unsetenv("VIT_VULKAN_DEVICE");
  CHECK(by_index.name() == "vulkan");
}

TEST_CASE("vulkan: bad shapes are shape errors") {
  vulkan::Backend b(testing::vulkan_test_options());
  HostTensor w(Shape{4, 3});
  auto l = b.make_linear(w, nullptr);
  auto x = b.alloc(Shape{2, 5});
  auto y = b.alloc(Shape{2, 4});
  CHECK(kind_of([&] { b.linear(l, x, y, Activation::none, false); }) == ErrorKind::shape);
  auto qkv = b.alloc(Shape{1, 3, 12});
  auto out = b.alloc(Shape{1, 3, 4});
  CHECK(kind_of([&] { b.attention(qkv, 3, 0.5f, out); }) == ErrorKind::shape);
  std::vector<std::int64_t> idx{5};
  auto h = b.alloc(Shape{1, 3, 4});
  auto g = b.alloc(Shape{1, 1, 4});
  CHECK(kind_of([&] { b.gather_tokens(h, idx, g); }) == ErrorKind::shape);
  CHECK(kind_of([&] { b.alloc(Shape{std::int64_t(1) << 33}); }) == ErrorKind::unsupported);
}
