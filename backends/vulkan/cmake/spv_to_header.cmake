# cmake -DSPV=<file.spv> -DHEADER=<file.hpp> -DNAME=<identifier> -P spv_to_header.cmake
# Writes the SPIR-V words of SPV as `inline constexpr std::uint32_t NAME[]` into HEADER.
file(READ "${SPV}" bytes HEX)
string(LENGTH "${bytes}" nhex)
math(EXPR rem "${nhex} % 8")
if(nhex EQUAL 0 OR NOT rem EQUAL 0)
  message(FATAL_ERROR "spv_to_header: ${SPV} is not a SPIR-V module (size ${nhex} hex digits)")
endif()
# SPIR-V is little-endian: bytes b0 b1 b2 b3 -> word 0xb3b2b1b0.
string(REGEX REPLACE "(..)(..)(..)(..)" "0x\\4\\3\\2\\1u," words "${bytes}")
string(REGEX REPLACE "((0x[0-9a-f]+u,){8})" "\\1\n  " words "${words}")
file(WRITE "${HEADER}" "// Generated from ${NAME}.comp by spv_to_header.cmake. Do not edit.\n#pragma once\n#include <cstdint>\n\nnamespace vit::vulkan::spirv {\ninline constexpr std::uint32_t ${NAME}[] = {\n  ${words}\n};\n}  // namespace vit::vulkan::spirv\n")
