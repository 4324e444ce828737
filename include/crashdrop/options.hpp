// crashdrop/options.hpp - the public Options struct given to crashdrop::start().
// Context: ordinary code. Every field has a safe default; start() checks ranges and returns
// Error::invalid_options naming the field when one is out of range.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "config.hpp"
#include "context.hpp"
#include "report.hpp"

#if !CRASHDROP_OS_WINDOWS
#include <signal.h>  // siginfo_t, for FaultFilter
#endif

CRASHDROP_NAMESPACE_BEGIN

/// Options::fault_filter: returns true when it has dealt with the fault (see there).
/// On Linux the shape of a SA_SIGINFO handler, so that v8::TryHandleWebAssemblyTrapPosix fits.
#if CRASHDROP_OS_WINDOWS
using FaultFilter = bool (*)(int code, void* info, void* context);  // refused by start() on Windows
#else
using FaultFilter = bool (*)(int signo, siginfo_t* info, void* ucontext);
#endif

struct Options {
    /// Crash database folder. Created (mode 0700) if missing; dumps are written to
    /// `<database_path>/pending/<report id>.dmp` (mode 0600). Required;
    /// default_database_path(product_name) gives the per-user one. An existing folder must be
    /// the user's alone: start() refuses (Error::database_unavailable) one that is a symbolic
    /// link (Windows: a reparse point), owned by another user or writable by group or others.
    std::string database_path;

    /// Recorded in every dump's annotations as `prod` / `ver`. At most 255 bytes each.
    std::string product_name;
    std::string product_version;

    /// Copy the process environment into dumps (LinuxEnviron stream). Off by default:
    /// environments hold tokens and passwords. Either way the environment and argument strings
    /// themselves (the top of the main thread's stack on Linux) are never copied with a stack
    /// or with the memory around a register, and a register that holds their bytes is cleared.
    bool include_environment = false;

    /// Write the whole command line into dumps (LinuxCmdLine stream). Off by default: launchers
    /// pass auth tokens as arguments; the stream then holds argv[0] (the program) alone.
    bool include_command_line = false;

    /// Install a std::terminate handler that records the uncaught exception's type and
    /// what() before the abort is captured. The previous terminate handler still runs.
    bool handle_terminate = true;

    /// Memory reserved at start() for building a dump: thread, module and mapping tables
    /// plus the dump image itself. Nothing is allocated after a crash, so this is the dump's
    /// size limit; when it runs short, stack copies are trimmed (and the dump says so).
    /// Range 256 KiB .. 1 GiB.
    std::size_t dump_buffer_size = 4u * 1024u * 1024u;

    /// Most stack bytes copied for the crashing thread (from its stack pointer upwards).
    /// Range 4 KiB .. dump_buffer_size / 2.
    std::size_t crashed_thread_stack_limit = 1024u * 1024u;

    /// Most stack bytes copied for every other thread. Range 4 KiB .. dump_buffer_size / 2.
    std::size_t thread_stack_limit = 64u * 1024u;

    /// Size of each alternate signal stack; 0 picks max(64 KiB, 4 x the kernel's minimum).
    /// Range 0 or 16 KiB .. 16 MiB.
    std::size_t alt_stack_size = 0;

    /// How long the crashing thread waits for the other threads to report their registers
    /// before listing the late ones with what /proc shows of them. Range 1 .. 10000.
    int thread_suspend_timeout_ms = 250;

    /// How much memory a dump carries besides the stacks (see MemoryCapture).
    MemoryCapture memory_capture = MemoryCapture::full;

    /// Real-time signal used, only while a dump is written, to collect other threads'
    /// registers. 0 picks SIGRTMIN + 3. Range 0 or SIGRTMIN .. SIGRTMAX.
    int thread_signal = 0;

    // ---- the helper process, the crash database and uploads ----

    /// How the helper process is started (see HelperMode). It persists each dump from the
    /// shared buffer, sends reports, and exits after the application, once its uploads end.
    HelperMode helper_mode = HelperMode::reexec;

    /// The helper executable for HelperMode::external.
    std::string helper_path;

    /// Where reports are sent: http:// (built-in client) or https:// (libcurl, loaded at run
    /// time). Empty: reports are only stored.
    std::string submit_url;

    /// The request format for submit_url.
    UploadFormat upload_format = UploadFormat::crashpad;

    /// A Sentry DSN (https://KEY@HOST/PROJECT). Sets the format to Sentry's and the URL to the
    /// project's minidump endpoint; submit_url is then ignored.
    std::string sentry_dsn;

    /// A custom transport, called in the helper instead of the built-in HTTP client.
    Transport transport;

    /// Called in the helper before each upload attempt; may change fields, drop attachments or
    /// drop the report (see BeforeUpload). Runs application code in the helper, as a custom
    /// transport does: not with HelperMode::external (start() refuses it there).
    BeforeUpload before_upload;

    /// The deployment environment sent with reports (Sentry's `environment`, e.g. "production").
    std::string environment;

    /// Most bytes one upload may have (dump, attachments and fields); a report over it is cut down
    /// in a fixed order before it is sent. 0: the default of the upload format (what its server
    /// documents as its limit).
    /// 0, or at least 64 KiB. The format's default (16 MiB for every format: under Sentry's
    /// documented 20 MB per request) applies to the built-in transport only; a value set here
    /// applies to a custom transport too. Measured uncompressed (transport/budget.hpp).
    std::size_t max_upload_bytes = 0;

    /// gzip the request body (Content-Encoding: gzip).
    bool compress = true;

    /// At most one upload per hour; the others stay pending until the hour has passed.
    bool rate_limit = false;

    /// HTTPS: a PEM file of CA certificates to trust (e.g. a private collector's own CA).
    std::string ca_file;

    /// Time limits of one upload attempt: for the connection (the name lookup included), and
    /// for the whole exchange from the name lookup to the reply's last byte (a resolver or
    /// server that hangs or trickles is cut off). Range 100 .. 600000 ms.
    int connect_timeout_ms = 10000;
    int upload_timeout_ms = 60000;

    /// Within one run, a failed upload is retried after this delay, doubling up to one hour,
    /// or after the server's Retry-After (429, 503) if that is longer (at most one hour); a
    /// configuration error (404, 401, 403, 407, ...) waits the hour. (A new start() retries
    /// pending reports at once.) Range 10 .. 3600000 ms.
    int retry_delay_ms = 60000;

    /// After the application has exited (or crashed), its helper goes on sending for at most
    /// this long, so that launchers do not see the application as still running; what is not
    /// sent by then (an upload still running is abandoned) stays pending for the next start().
    /// 0: the helper leaves with the application, and crashes are sent at the next start().
    /// Range 0 .. 600000 ms.
    int helper_linger_ms = 10000;

    /// Bounds of the database; the oldest reports are pruned first. 0 disables a bound.
    std::size_t max_reports = 50;
    std::size_t max_database_bytes = 256u * 1024u * 1024u;
    int max_report_age_days = 30;

    // ---- beyond crashes: hangs and abnormal exits, seen by the helper ----

    /// Hang reports: when the thread that calls crashdrop::heartbeat() (the first to call it)
    /// has not called it for this long, the helper has a dump of the live process written (every
    /// thread; the watched one as the exception thread), stored and sent as kind "hang"; the
    /// application goes on. One report per hang: the next one needs a heartbeat in between.
    /// 0: off. Range 0 or 100 .. 3600000 ms. Needs a helper (refused with HelperMode::none).
    int hang_timeout_ms = 0;

    /// When the application ends with no dump and no normal exit (SIGKILL, the OOM killer, a
    /// signal crashdrop does not handle; on Windows TerminateProcess), the helper writes a report
    /// of kind "abnormal_exit" from what it holds: system info, modules, annotations,
    /// breadcrumbs, and what ended the process. A normal exit (return from main, exit(),
    /// std::quick_exit) sends nothing. No effect with HelperMode::none.
    bool report_abnormal_exits = true;

    // ---- context: what a report says besides the dump (limits in context.hpp) ----

    /// Annotations of this process (Electron's `extra`). A process forked from this one (which
    /// crashdrop keeps covering) does not carry them; see global_extra.
    std::map<std::string, std::string> extra;

    /// Annotations of this process and of the processes forked from it (Electron's
    /// `globalExtra`). Where a key is in both, extra wins.
    std::map<std::string, std::string> global_extra;

    /// Entries of the breadcrumb ring; the oldest are overwritten. Range 0 .. 10000.
    std::size_t max_breadcrumbs = 100;

    /// The user and tags sent with every report (Sentry's `user` and `tags`).
    User user;
    std::map<std::string, std::string> tags;

    /// Files sent with every report (logs, settings). The helper copies each one into the
    /// database when it stores a crash, so the report keeps the file as it was then, and sends
    /// the copy; a file larger than max_attachment_bytes keeps only its last
    /// max_attachment_bytes (the end of a log is what explains a crash). Only these copies are
    /// ever sent: a file that cannot be copied then (missing, unreadable, not a regular file)
    /// is logged and left out.
    std::vector<std::string> attachments;
    std::size_t max_attachment_bytes = 4u * 1024u * 1024u;  ///< Range 1 KiB .. 100 MiB.

    // ---- living inside someone else's process (a plugin) ----

    /// Report only crashes that belong to the module (executable or shared library) holding
    /// this copy of crashdrop: its code faulted, the faulting address is inside it, or its
    /// code is on the crashing thread's stack. Every other crash is passed to the handler that
    /// was installed before crashdrop's, untouched, as if crashdrop were not there. For
    /// plugins; std::terminate is then left to the host (handle_terminate is ignored).
    bool only_this_module = false;

    /// A host's own recovery from faults, asked first. Linux: called on the faulting thread for
    /// every fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS) while
    /// crashdrop is started, before crashdrop does anything else, with the arguments its signal
    /// handler got; it may rewrite the context (say, move the program counter to a landing pad).
    /// Returning true means "handled": crashdrop returns from its handler (the thread goes on
    /// with the context as the filter left it), writes no report and stays installed. Returning
    /// false lets crashdrop go on as if there were no filter. Point it at
    /// v8::TryHandleWebAssemblyTrapPosix, wasmtime's or your VM's handler. It runs inside a
    /// signal handler, possibly on an alternate signal stack of 64 KiB: it must be
    /// async-signal-safe (no malloc, no locks, no stdio), must not throw, and must leave by
    /// returning - or by siglongjmp to a sigsetjmp(env, 1) of the same thread, as a handler may;
    /// it is not called again for a fault inside itself (that fault is reported). nullptr: none.
    /// Windows: start() refuses it (Error::invalid_options): a host's vectored handlers and
    /// __try/__except see an exception before crashdrop does.
    FaultFilter fault_filter = nullptr;
};

CRASHDROP_NAMESPACE_END
