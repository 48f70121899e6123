// main() of the plain test binaries (vit_test_main); Catch2 itself is in catch_session.cpp.
#include "catch_session.hpp"

int main(int argc, char** argv) { return vit::testing::run_catch(argc, argv); }
