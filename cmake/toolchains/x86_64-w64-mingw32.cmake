# Cross-compiles crashdrop and its Windows tests for Windows x64 with mingw-w64 (Debian:
# g++-mingw-w64-x86-64), and runs them under wine (Debian: wine, wine64):
#     cmake -S . -B build/mingw -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/x86_64-w64-mingw32.cmake
# tools/test_windows.sh does all of it (packages, wine prefix, build, ctest).
#
# The -posix compilers use winpthreads, so std::thread and std::mutex work; the -win32 ones
# have no std::thread in GCC 12. libgcc, libstdc++ and winpthreads are linked statically, so a
# test .exe runs without mingw's DLLs next to it.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)

set(CRASHDROP_MINGW_PREFIX x86_64-w64-mingw32)
find_program(CMAKE_C_COMPILER NAMES ${CRASHDROP_MINGW_PREFIX}-gcc-posix ${CRASHDROP_MINGW_PREFIX}-gcc REQUIRED)
find_program(CMAKE_CXX_COMPILER NAMES ${CRASHDROP_MINGW_PREFIX}-g++-posix ${CRASHDROP_MINGW_PREFIX}-g++ REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${CRASHDROP_MINGW_PREFIX}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${CRASHDROP_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# --build-id gives every .exe/.dll a CodeView (RSDS) record that symbol tools can match.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++ -Wl,--build-id")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++ -Wl,--build-id")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++ -Wl,--build-id")

# ctest (and add_custom_command) run the .exe files through wine. Debian's wine64 loader is
# /usr/lib/wine/wine64; `wine` picks it too for a 64-bit program.
find_program(CRASHDROP_WINE NAMES wine64 wine PATHS /usr/lib/wine /usr/bin NO_DEFAULT_PATH)
if(NOT CRASHDROP_WINE)
  find_program(CRASHDROP_WINE NAMES wine64 wine)
endif()
if(CRASHDROP_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${CRASHDROP_WINE})
endif()
