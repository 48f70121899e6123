# Decides whether the CUDA backend is built and, if so, enables the CUDA language. Included from
# the top-level CMakeLists.txt (enable_language must run in the directory that holds every CUDA
# target's scope). Reads VIT_CUDA (ON, OFF or AUTO); sets VIT_CUDA_ENABLED (ON/OFF).
set(VIT_CUDA_ENABLED OFF)
string(TOUPPER "${VIT_CUDA}" _vit_cuda_mode)
if(NOT _vit_cuda_mode MATCHES "^(ON|OFF|AUTO|TRUE|FALSE|YES|NO|1|0)$")
  message(FATAL_ERROR "VIT_CUDA must be ON, OFF or AUTO, got '${VIT_CUDA}'")
endif()
if(_vit_cuda_mode MATCHES "^(OFF|FALSE|NO|0)$")
  message(STATUS "vit: CUDA backend off (VIT_CUDA=${VIT_CUDA})")
  return()
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  if(_vit_cuda_mode STREQUAL "AUTO")
    message(STATUS "vit: CUDA backend skipped: no CUDA compiler (nvcc) found "
                   "(put nvcc on PATH or set CMAKE_CUDA_COMPILER; VIT_CUDA=ON makes this an error)")
    return()
  endif()
  message(FATAL_ERROR "vit: VIT_CUDA=${VIT_CUDA} but no CUDA compiler (nvcc) was found; "
                      "put nvcc on PATH, set CMAKE_CUDA_COMPILER, or configure with -DVIT_CUDA=OFF")
endif()
# Never 'native' (CI machines have no GPU): Ampere and Hopper unless the user chose, with
# -DCMAKE_CUDA_ARCHITECTURES=... or CMake's own CUDAARCHS environment variable (at the first
# configure; .ci/run sets CUDAARCHS=80 to compile every CUDA file once instead of twice).
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR "${CMAKE_CUDA_ARCHITECTURES}" STREQUAL "")
  if(NOT "$ENV{CUDAARCHS}" STREQUAL "")
    set(CMAKE_CUDA_ARCHITECTURES "$ENV{CUDAARCHS}" CACHE STRING "CUDA architectures to build for")
  else()
    set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING "CUDA architectures to build for")
  endif()
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
set(VIT_CUDA_ENABLED ON)
message(STATUS "vit: CUDA backend on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
