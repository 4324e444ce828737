// crashdrop - crash capture in one header: native crashes become minidumps that Breakpad's
// minidump_stackwalk, LLDB and Sentry read. See README.md and docs/ in its repository.
//
// USAGE
//   In exactly one .cpp file of each executable or shared library:
//       #define CRASHDROP_IMPLEMENTATION
//       #include "crashdrop.hpp"
//   Everywhere else just #include "crashdrop.hpp" (from C too: it then declares the C
//   interface of crashdrop/c_api.hpp). Then, early in main():
//       crashdrop::Options o;
//       o.database_path = "/var/tmp/mygame-crashes";
//       o.product_name = "MyGame";
//       o.product_version = "1.4.2";
//       if (crashdrop::Status s = crashdrop::start(o); !s.ok()) fprintf(stderr, "%s\n", s.message().c_str());
//   A crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS, or an uncaught
//   exception) then leaves <database_path>/pending/<report id>.dmp and the process dies with
//   its original signal, as it would have without crashdrop.
//
// CONFIGURATION MACROS (define before the include; each is 0 or 1)
//   CRASHDROP_IMPLEMENTATION             compile the implementation into this TU
//   CRASHDROP_EXPORT                 0   export the public API from this binary
//   CRASHDROP_PTHREAD_INTERPOSE          define pthread_create so new threads get an
//                                        alternate signal stack (stack overflows captured);
//                                        default 1 in executables, 0 in shared libraries;
//                                        under TSan/ASan/MSan/HWASan/LSan the sanitizer's
//                                        pthread_create is left alone (start()'s note says so)
//   CRASHDROP_UNLOAD_HOOK                run crashdrop::stop() when the binary holding the
//                                        implementation is unloaded (dlclose); default 1 in
//                                        shared libraries, 0 in executables
//   CRASHDROP_HELPER_EARLY_ENTRY     1   enter the helper before any of the application's
//                                        code: .preinit_array in an executable, the first
//                                        constructor in a shared library (fork mode)
//
// THE SIGNAL-SAFETY CONTRACT
//   Code that runs after a fault lives in namespace crashdrop::sigsafe and in the ELF section
//   "crashdrop_sigsafe": no allocation, no locks, no stdio, no exceptions; raw system calls
//   and memory reserved by start() only. See include/crashdrop/sigsafe/common.hpp.
//
// This file includes the others in order; tools/amalgamate.py turns them into
// single_include/crashdrop.hpp. It has no include guard on purpose: including it a second
// time with CRASHDROP_IMPLEMENTATION defined adds the implementation.

// ---- declarations (every TU; a C translation unit sees the C interface only) ----
#include "crashdrop/config.hpp"
#include "crashdrop/c_api.hpp"
#ifdef __cplusplus
#include "crashdrop/status.hpp"
#include "crashdrop/context.hpp"
#include "crashdrop/report.hpp"
#include "crashdrop/options.hpp"
#include "crashdrop/api.hpp"

// ---- implementation (the one TU that defines CRASHDROP_IMPLEMENTATION) ----
#include "crashdrop/detail/impl_begin.hpp"
#include "crashdrop/minidump/format.hpp"
#include "crashdrop/sigsafe/common.hpp"
#include "crashdrop/platform/arch.hpp"
#include "crashdrop/platform/linux/syscalls_linux.hpp"
#include "crashdrop/minidump/writer.hpp"
#include "crashdrop/helper/region.hpp"
#include "crashdrop/context/store.hpp"
#include "crashdrop/context/context_ops.hpp"
#include "crashdrop/detail/uncaught_exception.hpp"
#include "crashdrop/platform/linux/state_linux.hpp"
#include "crashdrop/platform/linux/proc_linux.hpp"
#include "crashdrop/platform/linux/threads_linux.hpp"
#include "crashdrop/platform/linux/modules_linux.hpp"
#include "crashdrop/platform/linux/handoff_linux.hpp"
#include "crashdrop/platform/linux/dumper_linux.hpp"
#include "crashdrop/database/metadata.hpp"
#include "crashdrop/minidump/reader.hpp"
#include "crashdrop/minidump/scrub_stacks.hpp"
#include "crashdrop/minidump/amend.hpp"
#include "crashdrop/minidump/trim.hpp"
#include "crashdrop/minidump/exit_dump.hpp"
#include "crashdrop/database/files_posix.hpp"
#include "crashdrop/database/files_windows.hpp"
#include "crashdrop/database/folder_security_windows.hpp"
#include "crashdrop/database/database.hpp"
#include "crashdrop/database/runs.hpp"
#include "crashdrop/transport/gzip.hpp"
#include "crashdrop/transport/url.hpp"
#include "crashdrop/transport/http_common.hpp"
#include "crashdrop/transport/http_posix.hpp"
#include "crashdrop/transport/curl_linux.hpp"
#include "crashdrop/transport/cert_windows.hpp"
#include "crashdrop/transport/http_windows.hpp"
#include "crashdrop/transport/upload.hpp"
#include "crashdrop/transport/budget.hpp"
#include "crashdrop/helper/config.hpp"
#include "crashdrop/detail/options_check.hpp"
#include "crashdrop/helper/service.hpp"
#include "crashdrop/helper/exit_watch_linux.hpp"
#include "crashdrop/helper/hang_watch_linux.hpp"
#include "crashdrop/helper/spares_linux.hpp"
#include "crashdrop/helper/helper_linux.hpp"
#include "crashdrop/platform/linux/return_address_linux.hpp"
#include "crashdrop/platform/linux/cfi_unwind_linux.hpp"
#include "crashdrop/platform/linux/handler_linux.hpp"
#include "crashdrop/platform/linux/hang_linux.hpp"
#include "crashdrop/platform/linux/chain_linux.hpp"
#include "crashdrop/platform/linux/start_linux.hpp"
#include "crashdrop/platform/windows/state_windows.hpp"
#include "crashdrop/platform/windows/handler_windows.hpp"
#include "crashdrop/platform/windows/crt_windows.hpp"
#include "crashdrop/platform/windows/terminate_windows.hpp"
#include "crashdrop/helper/helper_windows.hpp"
#include "crashdrop/platform/windows/start_windows.hpp"
#include "crashdrop/detail/api_impl.hpp"
#include "crashdrop/detail/c_api_impl.hpp"
#include "crashdrop/detail/impl_end.hpp"
#endif  // __cplusplus
