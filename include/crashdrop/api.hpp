// crashdrop/api.hpp - the public functions. Declarations only; the definitions are compiled
// in the one translation unit that defines CRASHDROP_IMPLEMENTATION before including
// <crashdrop.hpp>.
// Context: ordinary code. None of these may be called from a signal handler.
#pragma once

#include <string>
#include <vector>

#include "config.hpp"
#include "options.hpp"
#include "report.hpp"
#include "status.hpp"

CRASHDROP_NAMESPACE_BEGIN

/// Installs the crash handlers (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS and
/// std::terminate), creates the database folders and reserves every byte the crash path will
/// need. Call it once, early in main() (or in a plugin's load hook), from the thread that
/// should get the first alternate signal stack. Never throws and never crashes: failures come
/// back as a Status.
CRASHDROP_API Status start(const Options& options);

/// True after a successful start().
CRASHDROP_API bool is_started() noexcept;

/// Gives the calling thread an alternate signal stack so that a stack overflow in it is
/// captured. Threads created after start() get one automatically when
/// CRASHDROP_PTHREAD_INTERPOSE is 1 (the default); call this in threads that existed before
/// start() or when interposition is off. Idempotent; the stack is freed when the thread ends.
CRASHDROP_API Status prepare_thread();

/// Writes a minidump of the running process without crashing it (every thread, exception
/// code DUMP_REQUESTED). On success `*path_out` (if given) receives the dump's path.
CRASHDROP_API Status write_dump(std::string* path_out = nullptr);

/// Bytes start() reserved for the crash path (dump buffer and tables; not alternate stacks).
CRASHDROP_API std::size_t reserved_bytes() noexcept;

// ---- the crash database (in the spirit of Electron's crashReporter) ----

/// Reports not yet sent (including those kept back by consent or the rate limit), oldest first.
/// Empty before start().
CRASHDROP_API std::vector<Report> pending_reports();

/// Reports the server accepted, oldest first.
CRASHDROP_API std::vector<Report> uploaded_reports();

/// The most recently uploaded report, as Electron's getLastCrashReport(); false if none.
CRASHDROP_API bool last_crash_report(Report* out);

/// The user's consent to sending reports, persisted in the database. When off, reports are
/// still written and kept pending; nothing is sent until it is turned on again.
CRASHDROP_API Status set_upload_to_server(bool enabled);
CRASHDROP_API bool upload_to_server();

/// The main() of an external helper executable (HelperMode::external): started by the
/// application's start(), it persists and sends reports. Returns the process exit code.
///     int main(int argc, char** argv) { return crashdrop::run_helper(argc, argv); }
CRASHDROP_API int run_helper(int argc, char** argv);

CRASHDROP_NAMESPACE_END
