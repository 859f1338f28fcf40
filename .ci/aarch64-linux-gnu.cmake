# CMake toolchain for building mykernels for Linux aarch64 on an x86-64 machine (.ci/aarch64-wheel):
# Debian's g++-aarch64-linux-gnu for the C++ code and as nvcc's host compiler, nvcc of this machine
# with the aarch64 CUDA runtime in its toolkit's targets/sbsa-linux (the layout of NVIDIA's own
# cross toolkits), and qemu-user to run what the build runs.
#
#   MYKERNELS_AARCH64_SYSROOT   optional: an aarch64 Debian tree whose /usr/include is searched
#                               after the cross compiler's own headers, for the multiarch
#                               pyconfig.h of its CPython (the binding's headers)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_CUDA_HOST_COMPILER aarch64-linux-gnu-g++)
# nvcc takes the target's headers and libraries from <toolkit>/targets/sbsa-linux.
set(CMAKE_CUDA_FLAGS_INIT "--target-directory sbsa-linux")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -L /usr/aarch64-linux-gnu)
if(DEFINED ENV{MYKERNELS_AARCH64_SYSROOT})
  set(CMAKE_CXX_FLAGS_INIT "-idirafter $ENV{MYKERNELS_AARCH64_SYSROOT}/usr/include")
endif()
