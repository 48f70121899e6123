# vit_compile_shaders(TARGET <name> GLSLC <glslc> OUT_DIR <dir> SOURCES <a.comp>...)
# For each shader: glslc -> <dir>/spv/<a>.spv, then `cmake -P spv_to_header.cmake` ->
# <dir>/vit/backends/vulkan/spirv/<a>.hpp (constexpr uint32_t array vit::vulkan::spirv::<a>).
# Creates a custom target <name> that builds all of them.
set(VIT_VULKAN_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR})

function(vit_compile_shaders)
  cmake_parse_arguments(S "" "TARGET;GLSLC;OUT_DIR" "SOURCES" ${ARGN})
  set(headers "")
  file(MAKE_DIRECTORY ${S_OUT_DIR}/spv ${S_OUT_DIR}/vit/backends/vulkan/spirv)
  foreach(src ${S_SOURCES})
    get_filename_component(name ${src} NAME_WE)
    get_filename_component(dir ${src} DIRECTORY)
    set(spv ${S_OUT_DIR}/spv/${name}.spv)
    set(hdr ${S_OUT_DIR}/vit/backends/vulkan/spirv/${name}.hpp)
    add_custom_command(
      OUTPUT ${spv}
      COMMAND ${S_GLSLC} --target-env=vulkan1.2 -O -I ${dir} -MD -MF ${spv}.d -o ${spv} ${src}
      DEPENDS ${src}
      DEPFILE ${spv}.d
      COMMENT "glslc ${name}.comp"
      VERBATIM)
    add_custom_command(
      OUTPUT ${hdr}
      COMMAND ${CMAKE_COMMAND} -DSPV=${spv} -DHEADER=${hdr} -DNAME=${name} -P ${VIT_VULKAN_CMAKE_DIR}/spv_to_header.cmake
      DEPENDS ${spv} ${VIT_VULKAN_CMAKE_DIR}/spv_to_header.cmake
      COMMENT "embed ${name}.spv"
      VERBATIM)
    list(APPEND headers ${hdr})
  endforeach()
  add_custom_target(${S_TARGET} ALL DEPENDS ${headers})
endfunction()
