# Finds the torch installed for the build's Python and defines:
#   mykernels::torch          imported target: torch's headers restricted to the LibTorch stable ABI
#                             of the oldest torch served (MYKERNELS_TORCH_MIN), and libtorch_cpu
#   MYKERNELS_TORCH_VERSION   the torch built against, e.g. 2.13.0+cpu (build_info only: the
#                             binary does not depend on it)
#   MYKERNELS_TORCH_MIN       the oldest torch the binary runs with, e.g. 2.10
#   MYKERNELS_TORCH_CUDA      torch's CUDA version (e.g. 13.0), empty for a CPU build of torch
#
# The binding uses only the stable ABI: torch/csrc/stable/ (C++ over a C shim), torch/headeronly/
# and the stable C functions of libtorch_cpu. TORCH_TARGET_VERSION makes those headers hide
# whatever a torch older than MYKERNELS_TORCH_MIN lacks, and TORCH_STABLE_ONLY makes any unstable
# header (ATen, c10, torch/library.h) an error, so one binary serves every torch from
# MYKERNELS_TORCH_MIN on. .ci/check-abi checks the result: no C++ symbol of torch, c10 or ATen, no
# libtorch_python.
#
# torch's own find_package(Torch) is not used: with a CUDA build of torch it requires a full CUDA
# toolkit even for a CPU-only build of mykernels, appends -gencode flags for torch's own
# architecture list to every CUDA compile, and links libraries (torch_cuda, nvrtc) the stable ABI
# does not need.
set(MYKERNELS_TORCH_MIN 2.10)

# torch is found, and its version read from torch/version.py, without importing it: importing
# torch loads all of libtorch, which takes seconds and is not needed to compile against it.
execute_process(
  COMMAND "${Python_EXECUTABLE}" -c [=[
import importlib.util, os
spec = importlib.util.find_spec("torch")
if spec is None or not spec.submodule_search_locations:
    raise SystemExit("No module named 'torch'")
root = spec.submodule_search_locations[0]
version = {}
with open(os.path.join(root, "version.py")) as f:
    exec(f.read(), version)
print(version["__version__"]); print(version.get("cuda") or ""); print(root)
]=]
  OUTPUT_VARIABLE _torch_info
  ERROR_VARIABLE _torch_error
  RESULT_VARIABLE _torch_result
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _torch_result EQUAL 0)
  message(FATAL_ERROR
    "mykernels builds against the installed torch, but ${Python_EXECUTABLE} cannot find it:\n"
    "${_torch_error}\n"
    "Install torch first (pip install torch), then build without isolation:\n"
    "  pip install --no-build-isolation .")
endif()
string(REPLACE "\n" ";" _torch_info "${_torch_info}")
list(GET _torch_info 0 MYKERNELS_TORCH_VERSION)
list(GET _torch_info 1 MYKERNELS_TORCH_CUDA)
list(GET _torch_info 2 _torch_dir)
message(STATUS "mykernels: torch ${MYKERNELS_TORCH_VERSION} at ${_torch_dir}, "
  "stable ABI of torch ${MYKERNELS_TORCH_MIN}")
string(REGEX MATCH "^([0-9]+)\\.([0-9]+)" _ "${MYKERNELS_TORCH_VERSION}")
if(CMAKE_MATCH_1 LESS 2 OR (CMAKE_MATCH_1 EQUAL 2 AND CMAKE_MATCH_2 LESS 10))
  message(FATAL_ERROR "mykernels needs torch >= ${MYKERNELS_TORCH_MIN} (its stable ABI), "
    "found ${MYKERNELS_TORCH_VERSION}: pip install 'torch>=${MYKERNELS_TORCH_MIN}'")
endif()

# NO_CACHE: a build directory reconfigured against another torch must not keep the old path.
find_library(_torch_cpu_library torch_cpu PATHS "${_torch_dir}/lib" NO_DEFAULT_PATH NO_CACHE REQUIRED)

# TORCH_TARGET_VERSION: major << 56 | minor << 48, as torch/headeronly/version.h encodes versions.
string(REPLACE "." ";" _min "${MYKERNELS_TORCH_MIN}")
list(GET _min 0 _min_major)
list(GET _min 1 _min_minor)
math(EXPR _target "(${_min_major} << 56) | (${_min_minor} << 48)" OUTPUT_FORMAT HEXADECIMAL)

add_library(mykernels::torch INTERFACE IMPORTED)
target_include_directories(mykernels::torch SYSTEM INTERFACE "${_torch_dir}/include")
target_link_libraries(mykernels::torch INTERFACE "${_torch_cpu_library}")
target_compile_definitions(mykernels::torch INTERFACE
  TORCH_STABLE_ONLY TORCH_TARGET_VERSION=${_target}ULL)
target_compile_features(mykernels::torch INTERFACE cxx_std_20)

# The op library and the binding must share the process's C++ runtime. A compiler whose libstdc++ is only available
# as a static archive links a private copy into the module, and exceptions thrown by one copy and
# caught by torch's crash. Stop here instead. The command the message names works in the same
# build directory: a changed CXX replaces the cached compiler (CMakeLists.txt).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  execute_process(
    COMMAND "${CMAKE_CXX_COMPILER}" -print-file-name=libstdc++.so
    OUTPUT_VARIABLE _libstdcxx OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT IS_ABSOLUTE "${_libstdcxx}")
    message(FATAL_ERROR
      "The C++ compiler ${CMAKE_CXX_COMPILER} has no shared libstdc++ (libstdc++.so), so it would "
      "link libstdc++ statically into mykernels' libraries, which then crash inside torch. Use a "
      "compiler with a shared libstdc++, e.g. CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++ pip install ...")
  endif()
endif()
