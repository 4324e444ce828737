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

// The platforms whose crash capture is implemented: Linux x86_64 and aarch64, and Windows x64
// (capture, the helper, the database, uploads and the context store, as on Linux; see
// docs/platforms.md for what differs). Elsewhere every call returns Error::unsupported_platform
// and everything else compiles to inert stubs, so a portable program still builds and runs.
#if CRASHDROP_OS_LINUX && (CRASHDROP_ARCH_X86_64 || CRASHDROP_ARCH_AARCH64)
#define CRASHDROP_SUPPORTED 1
#elif CRASHDROP_OS_WINDOWS && CRASHDROP_ARCH_X86_64
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

// CRASHDROP_PTHREAD_INTERPOSE: 1 defines (and exports) pthread_create in the implementation TU,
// so every thread created after start() - by std::thread in libstdc++ too - gets an alternate
// signal stack, and a stack overflow in any thread is captured. 0 leaves pthread_create alone;
// threads then call crashdrop::prepare_thread() themselves. The default guesses from the
// compiler flags: 1 for an executable, 0 for a shared library (position-independent code that
// is not a PIE), because a plugin must not change how its host creates threads. Under a
// sanitizer that intercepts pthread_create (TSan, ASan, MSan, HWASan, LSan; noticed at compile or
// run time) crashdrop's calls straight through to the sanitizer's and start()'s Status::note()
// says that threads get no alternate stack from crashdrop.
#ifndef CRASHDROP_PTHREAD_INTERPOSE
#if defined(__PIC__) && !defined(__PIE__)
#define CRASHDROP_PTHREAD_INTERPOSE 0
#else
#define CRASHDROP_PTHREAD_INTERPOSE 1
#endif
#endif

// A sanitizer that replaces pthread_create with its own interceptor, when this translation unit
// is built with it (CRASHDROP_DETAIL_SANITIZER: its name). crashdrop then defines no
// pthread_create of its own, whatever CRASHDROP_PTHREAD_INTERPOSE says: the sanitizer's must stay
// the one every thread goes through. (UBSan alone does not intercept pthread_create.) A runtime
// present without this TU being built with it is noticed at run time (handler_linux.hpp).
#if defined(__SANITIZE_THREAD__)
#define CRASHDROP_DETAIL_SANITIZER "ThreadSanitizer"
#define CRASHDROP_DETAIL_TSAN 1
#elif defined(__SANITIZE_ADDRESS__)
#define CRASHDROP_DETAIL_SANITIZER "AddressSanitizer"
#elif defined(__SANITIZE_HWADDRESS__)
#define CRASHDROP_DETAIL_SANITIZER "HWAddressSanitizer"
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CRASHDROP_DETAIL_SANITIZER "ThreadSanitizer"
#define CRASHDROP_DETAIL_TSAN 1
#elif __has_feature(address_sanitizer)
#define CRASHDROP_DETAIL_SANITIZER "AddressSanitizer"
#elif __has_feature(memory_sanitizer)
#define CRASHDROP_DETAIL_SANITIZER "MemorySanitizer"
#elif __has_feature(hwaddress_sanitizer)
#define CRASHDROP_DETAIL_SANITIZER "HWAddressSanitizer"
#endif
#endif

// CRASHDROP_UNLOAD_HOOK: 1 runs crashdrop::stop() from an ELF destructor, so a plugin unloaded
// with dlclose takes its signal handlers with it. 0 leaves it to the application; an
// executable keeps its handlers through exit (a crash in a static destructor is still caught),
// so the default guesses as above: 1 for a shared library, 0 for an executable.
#ifndef CRASHDROP_UNLOAD_HOOK
#if defined(__PIC__) && !defined(__PIE__)
#define CRASHDROP_UNLOAD_HOOK 1
#else
#define CRASHDROP_UNLOAD_HOOK 0
#endif
#endif

// CRASHDROP_HELPER_EARLY_ENTRY: 1 (the default) lets a helper started from the binary that holds
// the implementation become the helper before any of the application's code runs (Linux). In
// an executable: an ELF .preinit_array entry, which the re-exec helper and fork mode's clean
// helper enter before any constructor and main(). In a shared library (position-independent
// code that is not a PIE; a shared object may have no .preinit_array): its first constructor,
// which fork mode's clean helper enters (the dynamic loader started with the library
// preloaded). 0: none; the re-exec helper goes through main() to start() as before, and the
// fork-mode helper is a fork of the application (docs/helper-and-uploads.md).
#ifndef CRASHDROP_HELPER_EARLY_ENTRY
#define CRASHDROP_HELPER_EARLY_ENTRY 1
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
