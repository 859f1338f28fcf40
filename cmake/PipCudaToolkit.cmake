# The CUDA toolkit of NVIDIA's PyPI wheels, for a machine with a CUDA build of torch and no CUDA
# toolkit: where no CUDA compiler is named (CUDACXX, CMAKE_CUDA_COMPILER) and no nvcc is on PATH,
# the build takes nvcc from the wheels installed for the build's Python,
#
#   pip install -r cmake/cuda-toolkit.txt
#
# (README): nvcc with its nvvm and crt parts, the runtime's headers and static library, and
# libcu++. They install into site-packages/nvidia/cu13 (cu<major>), a toolkit's layout, which
# becomes CUDAToolkit_ROOT. A toolkit on PATH or named always wins; CUDACXX naming the nvcc of
# such wheels selects them even where another nvcc is on PATH (.ci/wheel does).
if(DEFINED CMAKE_CUDA_COMPILER)
  return()
endif()
if(NOT "$ENV{CUDACXX}" STREQUAL "")
  # Named: a toolkit of the wheels' layout (.../nvidia/cu13/bin/nvcc) still needs what follows.
  file(REAL_PATH "$ENV{CUDACXX}" _mykernels_named)
  if(NOT _mykernels_named MATCHES "/nvidia/cu[0-9]+/bin/nvcc$")
    return()
  endif()
  cmake_path(GET _mykernels_named PARENT_PATH _mykernels_pip_toolkit)
  cmake_path(GET _mykernels_pip_toolkit PARENT_PATH _mykernels_pip_toolkit)
else()
  find_program(_mykernels_nvcc_on_path nvcc NO_CACHE NO_DEFAULT_PATH PATHS ENV PATH)
  if(_mykernels_nvcc_on_path)
    return()
  endif()
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c [=[
import importlib.util, os, re
spec = importlib.util.find_spec("nvidia")
found = []
for root in spec.submodule_search_locations if spec else []:
    for name in os.listdir(root):
        match = re.fullmatch(r"cu(\d+)", name)
        if match and os.path.isfile(os.path.join(root, name, "bin", "nvcc")):
            found.append((int(match.group(1)), os.path.join(root, name)))
if found:
    print(max(found)[1])  # the newest: cu13 before cu12
]=]
    OUTPUT_VARIABLE _mykernels_pip_toolkit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
if(_mykernels_pip_toolkit)
  set(CMAKE_CUDA_COMPILER "${_mykernels_pip_toolkit}/bin/nvcc" CACHE FILEPATH "The CUDA compiler")
  set(CUDAToolkit_ROOT "${_mykernels_pip_toolkit}")
  # nvcc links the runtime from the toolkit's lib64, which the wheels name lib. CUDAFLAGS, as a user
  # would set it, is what CMake's check of the compiler and the first configure's CUDA flags read.
  set(ENV{CUDAFLAGS} "$ENV{CUDAFLAGS} -L${_mykernels_pip_toolkit}/lib")
  # find_package(CUDAToolkit) requires the shared runtime, which the wheel holds only by its
  # versioned name. The build links the static runtime; this is only for the check.
  file(GLOB _mykernels_cudart "${_mykernels_pip_toolkit}/lib/libcudart.so.*")
  if(_mykernels_cudart)
    list(GET _mykernels_cudart 0 _mykernels_cudart)
    set(CUDA_CUDART "${_mykernels_cudart}" CACHE FILEPATH "The CUDA runtime (shared)")
  endif()
  message(STATUS "mykernels: nvcc of NVIDIA's Python wheels, ${_mykernels_pip_toolkit}")
endif()
