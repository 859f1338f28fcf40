# Decides whether the CUDA kernels are built, and for which architectures. Defines:
#   MYKERNELS_WITH_CUDA        ON or OFF
#   MYKERNELS_CUDA_ARCHS       the architectures in CMake's CUDA_ARCHITECTURES syntax ("80-real;90")
#   MYKERNELS_CUDA_SASS        the machine code the build embeds, e.g. "sm_80;sm_90"
#   MYKERNELS_CUDA_PTX         the PTX it embeds, e.g. "compute_90"
#   MYKERNELS_CUDA_ARCHS_FROM  where the architectures came from, for the build log
#
# MYKERNELS_CUDA=AUTO builds CUDA when torch is a CUDA build and nvcc is found; ON builds CUDA
# whenever nvcc is found, against any torch (the release wheels: the CUDA kernels need nothing of
# torch's CUDA at build time); OFF builds for the CPU only.
set(MYKERNELS_WITH_CUDA OFF)
set(MYKERNELS_CUDA_ARCHS "")
set(MYKERNELS_CUDA_SASS "")
set(MYKERNELS_CUDA_PTX "")

if(NOT MYKERNELS_CUDA MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "MYKERNELS_CUDA must be AUTO, ON or OFF, not '${MYKERNELS_CUDA}'")
endif()
if(MYKERNELS_CUDA STREQUAL "OFF")
  message(STATUS "mykernels: CPU-only build (MYKERNELS_CUDA=OFF)")
  return()
endif()

set(_no_cuda_reason "")
if(MYKERNELS_CUDA STREQUAL "AUTO" AND MYKERNELS_TORCH_CUDA STREQUAL "")
  set(_no_cuda_reason "torch ${MYKERNELS_TORCH_VERSION} is a CPU build of torch")
else()
  include(cmake/PipCudaToolkit.cmake)  # nvcc from NVIDIA's PyPI wheels, where none is on PATH
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    set(_no_cuda_reason "no CUDA compiler was found (put nvcc on PATH, set CUDACXX, or install \
the CUDA toolkit's PyPI wheels: pip install -r cmake/cuda-toolkit.txt)")
  endif()
endif()
if(_no_cuda_reason)
  if(MYKERNELS_CUDA STREQUAL "ON")
    message(FATAL_ERROR "MYKERNELS_CUDA=ON, but ${_no_cuda_reason}. Fix that, or build for the "
      "CPU only with MYKERNELS_CUDA=OFF.")
  endif()
  message(STATUS "mykernels: CPU-only build: ${_no_cuda_reason}")
  return()
endif()

enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
# The kernels link the CUDA runtime statically and take torch's current stream through the stable
# ABI, so the toolkit need not be torch's: a build with CUDA 13 serves torch's CUDA 12 builds too,
# on a driver that supports CUDA 13 (README, "Support").
set(MYKERNELS_WITH_CUDA ON)

# The architectures, in this order of precedence: MYKERNELS_CUDA_ARCHITECTURES (CMake syntax:
# "80;90", "90a-real", "90-virtual"); TORCH_CUDA_ARCH_LIST (torch's syntax: "8.0 9.0+PTX");
# the GPUs visible at build time; the release list.
set(_archs "${MYKERNELS_CUDA_ARCHITECTURES}")
set(MYKERNELS_CUDA_ARCHS_FROM "MYKERNELS_CUDA_ARCHITECTURES")
if(_archs STREQUAL "" AND NOT "$ENV{TORCH_CUDA_ARCH_LIST}" STREQUAL "")
  set(MYKERNELS_CUDA_ARCHS_FROM "TORCH_CUDA_ARCH_LIST")
  string(REGEX REPLACE "[ ;]+" ";" _torch_list "$ENV{TORCH_CUDA_ARCH_LIST}")
  foreach(_entry IN LISTS _torch_list)
    if(NOT _entry MATCHES "^([0-9]+)\\.([0-9]+)([af]?)(\\+PTX)?$")
      message(FATAL_ERROR "TORCH_CUDA_ARCH_LIST entry '${_entry}' is not of the form 8.0, 9.0a "
        "or 9.0+PTX")
    endif()
    if(CMAKE_MATCH_4)
      list(APPEND _archs "${CMAKE_MATCH_1}${CMAKE_MATCH_2}${CMAKE_MATCH_3}")
    else()
      list(APPEND _archs "${CMAKE_MATCH_1}${CMAKE_MATCH_2}${CMAKE_MATCH_3}-real")
    endif()
  endforeach()
endif()
if(_archs STREQUAL "")
  set(MYKERNELS_CUDA_ARCHS_FROM "the GPUs visible at build time")
  execute_process(
    COMMAND nvidia-smi --query-gpu=compute_cap --format=csv,noheader
    OUTPUT_VARIABLE _visible RESULT_VARIABLE _smi_result ERROR_QUIET
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(_smi_result EQUAL 0)
    string(REPLACE "." "" _visible "${_visible}")
    string(REGEX REPLACE "[\r\n]+" ";" _visible "${_visible}")
    foreach(_cc IN LISTS _visible)
      list(APPEND _archs "${_cc}-real")
    endforeach()
    list(REMOVE_DUPLICATES _archs)
  endif()
endif()
if(_archs STREQUAL "")
  # The release list: every architecture CUDA 13 compiles for, from Turing to Blackwell, plus PTX
  # of the newest so that later GPUs can JIT-compile it.
  set(MYKERNELS_CUDA_ARCHS_FROM "the release list")
  set(_archs "75-real;80-real;86-real;89-real;90-real;100-real;120")
endif()
string(REGEX REPLACE "[ ;]+" ";" MYKERNELS_CUDA_ARCHS "${_archs}")

foreach(_arch IN LISTS MYKERNELS_CUDA_ARCHS)
  if(NOT _arch MATCHES "^([0-9]+[af]?)(-real|-virtual)?$")
    message(FATAL_ERROR "CUDA architecture '${_arch}' is not of the form 90, 90a, 90-real or "
      "90-virtual (from ${MYKERNELS_CUDA_ARCHS_FROM})")
  endif()
  if(NOT CMAKE_MATCH_2 STREQUAL "-virtual")
    list(APPEND MYKERNELS_CUDA_SASS "sm_${CMAKE_MATCH_1}")
  endif()
  if(NOT CMAKE_MATCH_2 STREQUAL "-real")
    list(APPEND MYKERNELS_CUDA_PTX "compute_${CMAKE_MATCH_1}")
  endif()
endforeach()
message(STATUS "mykernels: CUDA ${CMAKE_CUDA_COMPILER_VERSION}, architectures "
  "${MYKERNELS_CUDA_ARCHS} (from ${MYKERNELS_CUDA_ARCHS_FROM})")
