// crashdrop/config.hpp - version, platform detection, namespace and visibility macros.
// Context: compile time only. Seen by every translation unit that includes crashdrop, so it
// includes nothing and defines only CRASHDROP_* macros.
#pragma once

#define CRASHDROP_VERSION_MAJOR 0
#define CRASHDROP_VERSION_MINOR 1
#define CRASHDROP_VERSION_PATCH 0
#define CRASHDROP_VERSION_STRING "0.1.0"

// ---- operating system and architecture (each 0 or 1) ------------------------------------------
#if defined(__linux__)
#define CRASHDROP_OS_LINUX 1
#else
#define CRASHDROP_OS_LINUX 0
#endif

#if defined(_WIN32)
#define CRASHDROP_OS_WINDOWS 1
#else
#define CRASHDROP_OS_WINDOWS 0
#endif

#if defined(__x86_64__) || defined(_M_X64)
#define CRASHDROP_ARCH_X86_64 1
#else
#define CRASHDROP_ARCH_X86_64 0
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#define CRASHDROP_ARCH_AARCH64 1
#else
#define CRASHDROP_ARCH_AARCH64 0
#endif

// The platforms whose crash capture is implemented. Elsewhere start() returns
// Error::unsupported_platform and everything else compiles to inert stubs.
#if CRASHDROP_OS_LINUX && (CRASHDROP_ARCH_X86_64 || CRASHDROP_ARCH_AARCH64)
#define CRASHDROP_SUPPORTED 1
#else
#define CRASHDROP_SUPPORTED 0
#endif

// ---- user knobs (0/1, defaults below) ---------------------------------------------------------
// CRASHDROP_EXPORT: 1 exports the public API from the binary that holds the implementation
// (an engine .so/.dll that hands crashdrop to game code). Default 0: hidden, so two plugins
// that each embed crashdrop never see each other's symbols.
#ifndef CRASHDROP_EXPORT
#define CRASHDROP_EXPORT 0
#endif

// CRASHDROP_PTHREAD_INTERPOSE: 1 defines pthread_create in the implementation TU so every
// thread created after start() gets an alternate signal stack (a stack overflow in any thread
// is then captured). 0 leaves pthread_create alone; call crashdrop::prepare_thread() in each
// thread instead.
#ifndef CRASHDROP_PTHREAD_INTERPOSE
#define CRASHDROP_PTHREAD_INTERPOSE 1
#endif

// CRASHDROP_PTHREAD_INTERPOSE_GLOBAL: 1 exports that pthread_create so it also catches threads
// created by other libraries (std::thread in libstdc++); right for executables. 0 keeps it
// inside the module (right for a plugin that must not change its host's threads). The default
// guesses from the compiler flags: position-independent but not a PIE means a shared library.
#ifndef CRASHDROP_PTHREAD_INTERPOSE_GLOBAL
#if defined(__PIC__) && !defined(__PIE__)
#define CRASHDROP_PTHREAD_INTERPOSE_GLOBAL 0
#else
#define CRASHDROP_PTHREAD_INTERPOSE_GLOBAL 1
#endif
#endif

// ---- namespace and visibility ----------------------------------------------------------------
// The inline namespace carries the version: two copies of crashdrop at different versions in
// one process (a host and a plugin) never share a symbol or a layout.
#define CRASHDROP_NAMESPACE_BEGIN \
    namespace crashdrop {         \
    inline namespace v0_1 {
#define CRASHDROP_NAMESPACE_END \
    }                           \
    }

#if CRASHDROP_OS_WINDOWS
#if CRASHDROP_EXPORT
#define CRASHDROP_API __declspec(dllexport)
#else
#define CRASHDROP_API
#endif
#elif CRASHDROP_EXPORT
#define CRASHDROP_API __attribute__((visibility("default")))
#else
#define CRASHDROP_API __attribute__((visibility("hidden")))
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CRASHDROP_NODISCARD [[nodiscard]]
#else
#define CRASHDROP_NODISCARD
#endif
