// crashdrop/report.hpp - crash reports as the API shows them, and the pluggable transport: the
// types a custom transport receives and returns.
// Context: ordinary code. Transports run in the helper process, never in the crashed one.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "config.hpp"
#include "context.hpp"

CRASHDROP_NAMESPACE_BEGIN

/// Where a report is in its life. Pending reports are sent (again) by the helper; uploaded and
/// rejected ones are kept in completed/ and never sent again.
enum class ReportState { pending, uploaded, rejected };

/// How a run of the application (one start() .. end of the process) ended, as the database
/// recorded it. See crashdrop::last_run().
enum class RunOutcome {
    unknown,       ///< no previous run, or it ended without anyone recording how (power loss, SIGKILL, HelperMode::none crash)
    clean_exit,    ///< the application exited normally (return from main, exit(), std::quick_exit)
    crashed,       ///< the helper received the crash's dump
    hung,          ///< the helper reported a hang and the run ended in it (recorded by the helper; issue 14)
    abnormal_exit  ///< the helper saw the application end with no dump and no normal exit (issue 14)
};

/// One crash report of the database: a minidump and its metadata.
struct Report {
    std::string id;            ///< report id (a UUID; also the dump's file name)
    std::string dump_path;     ///< absolute path of the .dmp file
    std::time_t created = 0;   ///< when the dump was written (UTC seconds)
    std::string product;
    std::string version;
    ReportState state = ReportState::pending;
    int attempts = 0;              ///< upload attempts so far
    std::time_t last_attempt = 0;  ///< UTC seconds; 0: never
    std::string server_id;         ///< the server's id for an uploaded report
    std::string last_error;        ///< why the last attempt did not send it
    std::map<std::string, std::string> annotations;  ///< long values joined again
    std::map<std::string, std::string> tags;
    User user;
    std::vector<Breadcrumb> breadcrumbs;  ///< oldest first
    /// Files sent with the report: the helper's copies in <database>/attachments/<id>/ (a file
    /// that could not be copied when the crash was stored is left out; the original paths are
    /// never read at sending time).
    std::vector<std::string> attachments;
    /// What the report is: "crash" (a crash dump), "requested" (write_dump()); the helper's own
    /// reports will say "hang" or "abnormal_exit". Sent as the field / Sentry tag `crash_kind`.
    /// A report stored by an older crashdrop (no kind in its metadata) reads as "crash".
    std::string kind = "crash";
    /// What the upload budget (Options::max_upload_bytes) cut from the report as it was last
    /// sent, one line; empty: nothing. The stored dump stays whole.
    std::string trimmed;
};

/// A transport's verdict on one attempt.
enum class UploadStatus {
    sent,         ///< the server has it (server_id says under which id)
    retry_later,  ///< no reply, a server error (5xx, 408, 429), or a configuration error (404,
                  ///< 401/403/407, ...): the report stays pending and is tried again
    rejected,     ///< the server refused this report (400, 413, Socorro "Discarded="): kept, never resent
};

struct UploadResult {
    UploadStatus status = UploadStatus::retry_later;
    std::string server_id;  ///< for `sent`: the id the server answered with
    std::string message;    ///< what happened, for the report's last_error
    /// For `retry_later`: the least time to wait before the next attempt, in milliseconds (a
    /// server's Retry-After; the built-in transport also sets one hour for a configuration error
    /// such as 404). The helper waits the longer of this and its own back-off, at most one hour;
    /// 0 (the default) or a negative value: the back-off alone. Ignored for other verdicts.
    long long retry_after_ms = 0;
};

/// What a transport is given: the report, its dump, and what to send along with it.
struct Upload {
    Report report;                         ///< metadata, annotations included
    std::string client_id;                 ///< this installation's stable id ("guid" field)
    std::vector<std::uint8_t> dump;        ///< the minidump (also on disk at report.dump_path)
    std::vector<std::string> attachments;  ///< paths of files to attach (report.attachments)
};

/// A custom transport. It runs in the helper process (re-exec and fork helper modes; start()
/// refuses it with HelperMode::external, whose helper runs no application code) and must
/// return within its own timeouts.
using Transport = std::function<UploadResult(const Upload&)>;

/// Options::before_upload: called in the helper before each upload attempt with what is about to
/// be sent (the report with its fields, annotations, tags, user, breadcrumbs, kind; the
/// attachments; the dump, also at report.dump_path). It may change the report's fields and drop
/// attachments; returning false drops the report (kept as rejected, never sent). Its edits are
/// for that attempt only (the stored report keeps its fields, and its id is kept); it may drop
/// attachments (from Upload::attachments or report.attachments), not add any. If it throws,
/// nothing is sent that time: the report stays pending and is offered again at the next attempt.
using BeforeUpload = std::function<bool(Upload&)>;

/// The built-in upload formats.
enum class UploadFormat {
    crashpad,  ///< Breakpad/Crashpad/Electron multipart: upload_file_minidump, prod, ver, guid, ...
    socorro,   ///< Mozilla Socorro/Antenna: ProductName, Version; CrashID= / Discarded= replies
    sentry,    ///< Sentry (set by Options::sentry_dsn): an envelope to /api/<project>/envelope/
    sentry_minidump,  ///< Sentry's multipart /api/<project>/minidump/ endpoint, with Options::sentry_dsn
};

/// How much memory a dump carries besides thread stacks (Options::memory_capture).
enum class MemoryCapture {
    full,             ///< stacks and the memory around registers and pointers (the default)
    stacks_only,      ///< thread stacks only: no memory around registers or pointers
    scrubbed_stacks,  ///< stacks only, and every stack word that points neither into a stack nor
                      ///< into mapped code is zeroed on this machine
};

/// How the helper process, which persists and sends reports, is started.
enum class HelperMode {
    reexec,    ///< the executable again, in helper mode (start() in it never returns); default
    fork,      ///< a fork of this process without exec (for plugins inside a host; Linux only:
               ///< on Windows start() refuses it and a plugin uses external)
    external,  ///< the executable at Options::helper_path (see crashdrop::run_helper)
    none,      ///< no helper: the crashed process writes its dump; nothing is uploaded
};

CRASHDROP_NAMESPACE_END
