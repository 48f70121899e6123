// Runs the Catch2 session (Catch2 itself is compiled once, in catch_session.cpp: the vit_catch
// library). Test binaries with their own main() call this after their checks.
#pragma once

namespace vit::testing {
int run_catch(int argc, char** argv);
}
