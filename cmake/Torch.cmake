# Finds the torch installed for the build's Python and defines:
#   mykernels::torch       imported target: torch's headers, c10 and torch_cpu, the ABI flag
#   mykernels::torch_python  imported target: torch_python, for code that unpacks Python tensors
#   MYKERNELS_TORCH_VERSION     e.g. 2.13.0+cpu
#   MYKERNELS_TORCH_CUDA        torch's CUDA version (e.g. 13.0), empty for a CPU build of torch
#
# torch's own find_package(Torch) is not used. With a CUDA build of torch it requires a full CUDA
# toolkit even for a CPU-only build of mykernels (and the path to it, CUDA_TOOLKIT_ROOT_DIR),
# appends -gencode flags for torch's own architecture list to every CUDA compile in its directory,
# and lists nvrtc, which a plain toolkit install may lack, in TORCH_LIBRARIES. The binding needs
# none of that: only torch's headers and three of its libraries.
execute_process(
  COMMAND "${Python_EXECUTABLE}" -c
    "import os, torch; print(torch.__version__); print(torch.version.cuda or ''); \
print(os.path.dirname(torch.__file__)); print(int(torch.compiled_with_cxx11_abi()))"
  OUTPUT_VARIABLE _torch_info
  ERROR_VARIABLE _torch_error
  RESULT_VARIABLE _torch_result
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _torch_result EQUAL 0)
  message(FATAL_ERROR
    "mykernels builds against the installed torch, but ${Python_EXECUTABLE} cannot import it:\n"
    "${_torch_error}\n"
    "Install torch first (pip install torch), then build without isolation:\n"
    "  pip install --no-build-isolation .")
endif()
string(REPLACE "\n" ";" _torch_info "${_torch_info}")
list(GET _torch_info 0 MYKERNELS_TORCH_VERSION)
list(GET _torch_info 1 MYKERNELS_TORCH_CUDA)
list(GET _torch_info 2 _torch_dir)
list(GET _torch_info 3 _torch_cxx11_abi)
message(STATUS "mykernels: torch ${MYKERNELS_TORCH_VERSION} at ${_torch_dir}")

# NO_CACHE: a build directory reconfigured against another torch must not keep the old paths.
find_library(_torch_cpu_library torch_cpu PATHS "${_torch_dir}/lib" NO_DEFAULT_PATH NO_CACHE REQUIRED)
find_library(_c10_library c10 PATHS "${_torch_dir}/lib" NO_DEFAULT_PATH NO_CACHE REQUIRED)
find_library(_torch_python_library torch_python PATHS "${_torch_dir}/lib" NO_DEFAULT_PATH NO_CACHE
  REQUIRED)

add_library(mykernels::torch INTERFACE IMPORTED)
target_include_directories(mykernels::torch SYSTEM INTERFACE "${_torch_dir}/include")
target_link_libraries(mykernels::torch INTERFACE
  "${_torch_cpu_library}" "${_c10_library}")
target_compile_definitions(mykernels::torch INTERFACE
  _GLIBCXX_USE_CXX11_ABI=${_torch_cxx11_abi})
# torch 2.13's headers need C++20.
target_compile_features(mykernels::torch INTERFACE cxx_std_20)

add_library(mykernels::torch_python INTERFACE IMPORTED)
target_link_libraries(mykernels::torch_python INTERFACE mykernels::torch "${_torch_python_library}")

# The extension must share torch's C++ runtime. A compiler whose libstdc++ is only available as a
# static archive links a private copy into the module, and the first std::ostream use of that copy
# inside torch's process crashes. Stop here instead.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  execute_process(
    COMMAND "${CMAKE_CXX_COMPILER}" -print-file-name=libstdc++.so
    OUTPUT_VARIABLE _libstdcxx OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT IS_ABSOLUTE "${_libstdcxx}")
    message(FATAL_ERROR
      "The C++ compiler ${CMAKE_CXX_COMPILER} has no shared libstdc++ (libstdc++.so), so it would "
      "link libstdc++ statically into the extension, which then crashes inside torch. Use a "
      "compiler with a shared libstdc++, e.g. CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++ pip install ...")
  endif()
endif()
