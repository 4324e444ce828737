// crashdrop/api.hpp - the public functions. Declarations only; the definitions are compiled
// in the one translation unit that defines CRASHDROP_IMPLEMENTATION before including
// <crashdrop.hpp>.
// Context: ordinary code. None of these may be called from a signal handler.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "context.hpp"
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
/// CRASHDROP_PTHREAD_INTERPOSE is 1 (the default) and no sanitizer's pthread_create is in the
/// process (start()'s Status::note() says when one is); call this in threads that existed before
/// start() or when interposition is off. Idempotent; the stack is freed when the thread ends.
CRASHDROP_API Status prepare_thread();

/// Writes a minidump of the running process without crashing it (every thread, exception
/// code DUMP_REQUESTED). On success `*path_out` (if given) receives the dump's path.
CRASHDROP_API Status write_dump(std::string* path_out = nullptr);

/// Says the calling thread is alive, for hang reports (Options::hang_timeout_ms). The first
/// call (in this process, before or after start()) makes the calling thread the watched one;
/// calls from other threads do nothing. Call it once per frame or loop turn. After the first
/// call it takes no lock, makes no system call and allocates nothing (a few nanoseconds: see
/// docs/performance.md); safe before start() and after stop() (it then only remembers the thread).
CRASHDROP_API void heartbeat() noexcept;

/// Bytes start() reserved for the crash path (dump buffer and tables; not alternate stacks).
CRASHDROP_API std::size_t reserved_bytes() noexcept;

// ---- the crash database (in the spirit of Electron's crashReporter) ----

/// How the previous run of the application with this database ended, read by start() from
/// <db>/runs before it records this run (so valid right after start(); unknown before it).
/// crashed: the helper received its crash's dump. clean_exit: return from main, exit(),
/// std::quick_exit. unknown: the first run, or one that ended with nobody recording how (power
/// loss, SIGKILL; a crash under HelperMode::none). hung / abnormal_exit: recorded by the helper.
CRASHDROP_API RunOutcome last_run() noexcept;

/// How many of the most recent runs in a row ended crashed or abnormal_exit (the previous run
/// included; 0 when it ended otherwise), for example to start in a safe mode after three.
CRASHDROP_API unsigned consecutive_crashes() noexcept;

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

/// The per-user folder for a product's crash database, to give Options::database_path:
///   Linux:   $XDG_STATE_HOME/<product>/crashdrop, else $HOME/.local/state/<product>/crashdrop
///            (only absolute values of the variables count, as the XDG specification says)
///   Windows: %LOCALAPPDATA%\<product>\Crashes
/// The product name becomes one safe path component: ASCII letters, digits, '-', '_' and '.'
/// are kept, every other byte becomes '_', leading dots and trailing dots and spaces are
/// dropped, at most 64 characters. Empty when it cannot be determined (no such variable, or a
/// product name with nothing usable in it). It creates nothing; start() creates the folders
/// (mode 0700) and refuses one that is not the user's alone.
CRASHDROP_API std::string default_database_path(const std::string& product_name);
/// The main() of an external helper executable (HelperMode::external): started by the
/// application's start(), it persists and sends reports. Returns the process exit code.
///     int main(int argc, char** argv) { return crashdrop::run_helper(argc, argv); }
CRASHDROP_API int run_helper(int argc, char** argv);

// ---- context (limits in context.hpp). Cheap, lock-free and allocation-free after start(), ----
// ---- callable from any thread; none of them from a signal handler.                       ----

/// Sets an annotation (Electron's addExtraParameter): kept in every dump and report from now
/// on. Error::invalid_argument for a key that is empty, longer than 39 bytes, ends in
/// "__<number>" (the names of long values' parts) or is "crash_kind" (reserved: every dump
/// names its report's kind under it), or a value over limits::annotation_value;
/// Error::capacity_exceeded when the store is full; Error::not_started before start().
CRASHDROP_API Status add_extra_parameter(std::string_view key, std::string_view value);

/// Removes an annotation (Electron's removeExtraParameter). Removing a key that is not set is
/// not an error.
CRASHDROP_API Status remove_extra_parameter(std::string_view key);

/// The current annotations (Electron's getParameters), long values joined again; `prod` and
/// `ver` (from Options) included.
CRASHDROP_API std::map<std::string, std::string> parameters();

/// Appends a breadcrumb to the ring (the oldest is overwritten once it is full). Category and
/// message are cut to their limits. Lock-free; about as cheap as a clock read and a copy.
CRASHDROP_API void add_breadcrumb(std::string_view message, std::string_view category = "default",
                                  BreadcrumbLevel level = BreadcrumbLevel::info) noexcept;

/// The breadcrumbs in the ring, oldest first.
CRASHDROP_API std::vector<Breadcrumb> breadcrumbs();

/// Sets (replaces) the user; empty fields are cleared.
CRASHDROP_API Status set_user(const User& user);

/// Sets or removes a tag. Same errors as add_extra_parameter, with the tag limits.
CRASHDROP_API Status set_tag(std::string_view key, std::string_view value);
CRASHDROP_API Status remove_tag(std::string_view key);

/// Adds or removes a file sent with every report from now on (see Options::attachments).
/// Error::invalid_argument for a relative or over-long path; Error::capacity_exceeded past 16.
CRASHDROP_API Status add_attachment(std::string_view path);
CRASHDROP_API Status remove_attachment(std::string_view path);

// ---- living inside someone else's process ----

/// Checks that crashdrop's handlers are still called for every fatal signal: installed, or
/// below other copies of crashdrop only (plugins loaded later, which chain to it).
/// Error::handler_replaced (naming the signals) when something else installed its own over
/// them afterwards, so crashdrop no longer sees those crashes unless that handler chains to it.
CRASHDROP_API Status check_handlers();

/// Puts crashdrop's handlers back on top for every signal where another handler replaced
/// them; crashdrop then chains to that handler. Below other copies of crashdrop, it first
/// leaves their chain (the copy above it chains to what it chained to), so no handler is
/// called twice. Safe when the replacing handler itself chains back to crashdrop: the loop is
/// detected and the process dies of its signal.
CRASHDROP_API Status reinstall();

/// Uninstalls crashdrop: the previous signal and terminate handlers are restored where
/// crashdrop's are still in place (and handed on to the next copy of crashdrop where one was
/// installed over it), the helper is told to finish, and the reserved memory is released.
/// Runs by itself when a shared library holding crashdrop is unloaded (dlclose). start() may
/// be called again afterwards.
CRASHDROP_API void stop() noexcept;

CRASHDROP_NAMESPACE_END
