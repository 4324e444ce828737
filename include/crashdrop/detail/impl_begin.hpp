// crashdrop/detail/impl_begin.hpp - opens the implementation part of crashdrop.hpp.
// CRASHDROP_DETAIL_IMPL_ACTIVE is 1 exactly once per translation unit: in the TU that defines
// CRASHDROP_IMPLEMENTATION, the first time crashdrop.hpp is included after that definition.
// Every implementation file wraps its body in #if CRASHDROP_DETAIL_IMPL_ACTIVE, so other TUs
// see declarations only (and never <signal.h>, <link.h> or <windows.h>).
// No #pragma once: this file is meant to be read on every inclusion of crashdrop.hpp.
#undef CRASHDROP_DETAIL_IMPL_ACTIVE
#if defined(CRASHDROP_IMPLEMENTATION) && !defined(CRASHDROP_DETAIL_IMPL_DONE)
#define CRASHDROP_DETAIL_IMPL_DONE
#define CRASHDROP_DETAIL_IMPL_ACTIVE 1
#else
#define CRASHDROP_DETAIL_IMPL_ACTIVE 0
#endif

#if CRASHDROP_DETAIL_IMPL_ACTIVE
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>
#include <type_traits>
#include <typeinfo>
#if defined(__GNUC__) || defined(__clang__)
#include <cxxabi.h>
#endif
#if CRASHDROP_OS_LINUX
#include <dirent.h>
#include <dlfcn.h>
#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/futex.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#endif
#if CRASHDROP_OS_WINDOWS
// <windows.h> is seen by the implementation TU only, lean and without the min/max macros. The
// user's own WIN32_LEAN_AND_MEAN / NOMINMAX (defined or not) are restored afterwards. Include
// your own <windows.h> before crashdrop.hpp in this one TU if it needs the parts the lean
// version leaves out (its include guard then makes the one below a no-op).
#pragma push_macro("WIN32_LEAN_AND_MEAN")
#pragma push_macro("NOMINMAX")
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN 1
#endif
#ifndef NOMINMAX
#define NOMINMAX 1
#endif
#include <windows.h>
#include <dbghelp.h>
#include <wincrypt.h>
#include <signal.h>
#include <fcntl.h>
#include <io.h>
#pragma pop_macro("NOMINMAX")
#pragma pop_macro("WIN32_LEAN_AND_MEAN")
#endif
// Everything defined from here on is private to the binary that holds it (two plugins that
// each embed crashdrop must not bind to each other's copy). Explicit attributes (the public
// API under CRASHDROP_EXPORT, the pthread_create interposer) still win.
#if (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#pragma GCC visibility push(hidden)
#endif
// CRASHDROP_COLD marks code that runs only after a crash has been captured (building, trimming,
// amending and sending a report; a report's metadata): GCC and Clang optimize it for size and
// keep it out of the application's hot text. It costs nothing at run time where it matters (the
// crash path is in crashdrop_sigsafe, never cold) and makes the implementation TU compile faster
// and smaller (issue 17: docs/performance.md, Compile time).
#ifndef CRASHDROP_COLD
#if defined(__GNUC__) || defined(__clang__)
#define CRASHDROP_COLD __attribute__((cold))
#else
#define CRASHDROP_COLD
#endif
#endif
#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
