# The CUDA toolkit of NVIDIA's PyPI wheels, for a machine with a CUDA build of torch and no CUDA
# toolkit: where no CUDA compiler is named (CUDACXX, CMAKE_CUDA_COMPILER) and no nvcc is on PATH,
# the build takes nvcc from the wheels installed for the build's Python
#
#   pip install nvidia-cuda-nvcc==13.0.88 nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85
#
# (README): nvcc with its nvvm and crt parts, the runtime's headers and static library, and
# libcu++. They install into site-packages/nvidia/cu13, a toolkit's layout, which becomes
# CUDAToolkit_ROOT. A toolkit on PATH or named always wins.
if(DEFINED CMAKE_CUDA_COMPILER OR NOT "$ENV{CUDACXX}" STREQUAL "")
  return()
endif()
find_program(_mykernels_nvcc_on_path nvcc NO_CACHE NO_DEFAULT_PATH PATHS ENV PATH)
if(_mykernels_nvcc_on_path)
  return()
endif()
execute_process(
  COMMAND "${Python_EXECUTABLE}" -c [=[
import importlib.util, os
spec = importlib.util.find_spec("nvidia")
for root in spec.submodule_search_locations if spec else []:
    # The newest toolkit first: cu13 before cu12.
    for name in sorted((n for n in os.listdir(root) if n.startswith("cu")), reverse=True):
        if os.path.isfile(os.path.join(root, name, "bin", "nvcc")):
            print(os.path.join(root, name))
            raise SystemExit
]=]
  OUTPUT_VARIABLE _mykernels_pip_toolkit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
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
