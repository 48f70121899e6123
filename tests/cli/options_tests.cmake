# radio-embed end to end (included from tests/cli/CMakeLists.txt, after radio-embed is known to exist):
#   test_cli_goldens  the CLI's summary/features on every fixture input vs the PyTorch goldens,
#                     one ctest per built backend (cli_goldens_<backend>)
#   test_cli_options  documented options doing their job (cli_options, cli_options_vulkan)
# The vulkan/cuda tests run `--needs <backend>`: without a device they print "SKIPPED: <reason>"
# and exit 77 (ctest: Skipped); with VIT_REQUIRE_VULKAN=1 / VIT_REQUIRE_CUDA=1 they fail instead.
# Their main() (cli_main.cpp: --needs <backend>, then Catch2), compiled once for both.
add_library(vit_cli_test_main STATIC ${PROJECT_SOURCE_DIR}/tests/support/cli_main.cpp)
target_link_libraries(vit_cli_test_main PUBLIC vit_catch vit::vit vit_project_flags)
target_include_directories(vit_cli_test_main PUBLIC ${PROJECT_SOURCE_DIR}/tests/support)
if(TARGET vit::vulkan)
  target_link_libraries(vit_cli_test_main PUBLIC vit::vulkan)
  target_compile_definitions(vit_cli_test_main PRIVATE VIT_TEST_HAVE_VULKAN=1)
endif()
if(TARGET vit::cuda)
  target_link_libraries(vit_cli_test_main PUBLIC CUDA::cudart)
  target_compile_definitions(vit_cli_test_main PRIVATE VIT_TEST_HAVE_CUDA=1)
endif()
foreach(t test_cli_goldens test_cli_options)
  add_executable(${t} ${t}.cpp)
  target_link_libraries(${t} PRIVATE vit_cli_test_main vit::image)
  target_compile_definitions(${t} PRIVATE VIT_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data" RADIO_EMBED_BIN="$<TARGET_FILE:radio-embed>")
  add_dependencies(${t} radio-embed)
endforeach()

# --warn NoTests: a tag that matches nothing fails instead of passing.
add_test(NAME cli_goldens_reference COMMAND test_cli_goldens --warn NoTests "[reference]")
set_tests_properties(cli_goldens_reference PROPERTIES COST 20)  # seconds: tests/CMakeLists.txt, vit_add_test
if(VIT_CPU)
  add_test(NAME cli_goldens_cpu COMMAND test_cli_goldens --warn NoTests "[cpu]")
  set_tests_properties(cli_goldens_cpu PROPERTIES COST 14)
endif()
add_test(NAME cli_options COMMAND test_cli_options --warn NoTests "~[vulkan]")
if(TARGET vit::vulkan)
  add_test(NAME cli_goldens_vulkan COMMAND test_cli_goldens --needs vulkan --warn NoTests "[vulkan]")
  add_test(NAME cli_options_vulkan COMMAND test_cli_options --needs vulkan --warn NoTests "[vulkan]")
  set_tests_properties(cli_goldens_vulkan cli_options_vulkan PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT "${VIT_TEST_VULKAN_ENV}")
endif()
if(TARGET vit::cuda)
  add_test(NAME cli_goldens_cuda COMMAND test_cli_goldens --needs cuda --warn NoTests "[cuda]")
  set_tests_properties(cli_goldens_cuda PROPERTIES SKIP_RETURN_CODE 77)
endif()
