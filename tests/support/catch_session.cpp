// Catch2's implementation, compiled once (the vit_catch library) for every test binary; each
// binary brings its own main() (catch_main.cpp, or one that probes a device first).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "catch_session.hpp"

int vit::testing::run_catch(int argc, char** argv) { return Catch::Session().run(argc, argv); }
