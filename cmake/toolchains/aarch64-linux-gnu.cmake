# Cross-compiling crashdrop (and its crash test targets) for Linux aarch64 with Debian's
# g++-aarch64-linux-gnu. Binaries run under qemu-user:
#   qemu-aarch64 -L /usr/aarch64-linux-gnu ./program
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CRASHDROP_AARCH64_SYSROOT /usr/aarch64-linux-gnu CACHE PATH "Debian's aarch64 sysroot (libc, libstdc++)")
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-L;${CRASHDROP_AARCH64_SYSROOT}")

set(CMAKE_FIND_ROOT_PATH ${CRASHDROP_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
