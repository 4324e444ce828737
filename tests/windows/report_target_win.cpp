// The Windows report target: starts crashdrop with a helper, context and an upload destination,
// then does what argv[2] says. Run under wine by tests/windows/run_report_case.py, which checks
// from outside what reached the database and the collector.
//     report_target_win.exe <database> <case> [url | helper path | output file]
// Cases:
//   upload            crash (null write) with submit_url = argv[3]; the helper uploads the report
//   upload_later      the same with a one-minute retry delay (a failed upload waits for the next start)
//   wait_upload       start with submit_url = argv[3], wait until nothing is pending, exit 0
//   custom_transport  crash; Options::transport (run in the reexec helper) writes the dump it
//                     is given and the report's annotations to argv[3]
//   external_helper   crash with HelperMode::external, helper_path = argv[3]
//   no_helper         crash with HelperMode::none: the crashed process writes the dump itself
//   write_dump        write_dump() twice while running, print the paths, exit 0
//   api               the database and context API answer (pending reports, consent, context)
//   hang [ms]         hang_timeout_ms = ms (500): beats every 10 ms, then is stuck in
//                     stuck_in_hang_target without beating for 1 s (2 x the timeout) and on until
//                     1 s after the hang report is stored (MiniDumpWriteDump takes seconds under
//                     wine), beats again, exits 0
//   hang_terminated   the same stall, beats for 0.5 s, the same stall again, then
//                     TerminateProcess(GetCurrentProcess(), 9) without beating
//   terminated [off]  once the helper runs (and 1.5 s later), a breadcrumb, then
//                     TerminateProcess(GetCurrentProcess(), 7); "off": report_abnormal_exits = false
//   normal_exit       a breadcrumb, then return 0 from main
//   exit_3            a breadcrumb, then exit(3)
//   configured KEY=VALUE...       crash with the options the arguments give (below)
//   configured_wait KEY=VALUE...  start with them, wait until nothing is pending, exit 0 (1: still pending)
//     url=URL  dsn=DSN (upload_format sentry: the envelope)  environment=NAME  attachment=PATH
//     max_upload_bytes=N  max_attachment_bytes=N  retry_ms=N  busy_threads=N (N threads parked
//     8 frames of 6 KiB deep, so that the dump holds N full stacks)
//     before=edit|drop (Options::before_upload, run in the re-exec helper: it appends what it
//     was given - its process id, the report's id, kind, annotations, attachment names and the
//     first bytes of dump_path - to <database>\before-upload.txt, then edit sets the
//     annotation stage to "scrubbed" and drops the attachment app.log; drop returns false)
//   The application prints "app pid N".
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <windows.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace {

volatile int* volatile g_null = nullptr;

volatile bool g_unpark = false;  // never set: the parked threads stay until the crash

/// A thread of the configured cases' busy_threads: 8 frames of 6 KiB each, then parked.
__attribute__((noinline)) void park_deep(int depth, volatile LONG* ready) {
    volatile char frame[6 * 1024];
    for (unsigned i = 0; i < sizeof(frame); i += 64) frame[i] = static_cast<char>(depth + static_cast<int>(i));
    if (depth > 0) {
        park_deep(depth - 1, ready);
    } else {
        InterlockedIncrement(ready);
        while (!g_unpark) Sleep(1000);
    }
    frame[0] = frame[1];
}

DWORD WINAPI park_thread(void* ready) {
    park_deep(8, static_cast<volatile LONG*>(ready));
    return 0;
}

/// Options::before_upload of the configured cases (see the top of this file).
bool before_upload_record(const std::string& record, const std::string& what, crashdrop::Upload& up) {
    std::ofstream out(record, std::ios::app | std::ios::binary);
    out << "pid=" << GetCurrentProcessId() << "\nid=" << up.report.id << "\nkind=" << up.report.kind << "\ndump_bytes=" << up.dump.size();
    for (const auto& a : up.report.annotations) out << "\nannotation." << a.first << "=" << a.second.substr(0, 40);
    for (const auto& path : up.attachments) out << "\nattachment=" << path.substr(path.find_last_of("\\/") + 1);
    char magic[5] = {0, 0, 0, 0, 0};
    std::ifstream dump(up.report.dump_path, std::ios::binary);
    dump.read(magic, 4);
    out << "\ndump_path_magic=" << magic << "\n";
    if (what == "drop") return false;
    if (what == "edit") {
        up.report.annotations["stage"] = "scrubbed";
        for (std::size_t i = 0; i < up.attachments.size(); ++i) {
            const std::string& a = up.attachments[i];
            if (a.size() >= 7 && a.compare(a.size() - 7, 7, "app.log") == 0) {
                up.attachments.erase(up.attachments.begin() + static_cast<std::ptrdiff_t>(i));
                break;
            }
        }
    }
    return true;
}

__attribute__((noinline)) void crash_in_report_target() { *g_null = 7; }

volatile unsigned long long g_spins = 0;

/// How many dumps `db`\pending holds (the helper's hang reports).
int reports_stored(const std::string& db) {
    WIN32_FIND_DATAA found;
    HANDLE h = FindFirstFileA((db + "\\pending\\*.dmp").c_str(), &found);
    if (h == INVALID_HANDLE_VALUE) return 0;
    int n = 1;
    while (FindNextFileA(h, &found)) ++n;
    FindClose(h);
    return n;
}

/// Where the hang case is stuck, without beating: spinning (nearly all its time in its own
/// frame, not in kernel32) for at least `ms`, and on until `ms` after the hang report is
/// stored - the helper looks at the still-hung thread again and must not report it twice.
/// Returns how long after the last beat the report was stored (within 100 ms; 0: never).
__attribute__((noinline)) ULONGLONG stuck_in_hang_target(const std::string& db, unsigned ms) {
    const int before = reports_stored(db);
    const ULONGLONG begun = GetTickCount64();
    ULONGLONG stored = 0, looked = begun;
    for (;;) {
        for (int i = 0; i < 1000000; ++i) g_spins = g_spins + 1;
        const ULONGLONG now = GetTickCount64();
        if (stored == 0 && now - looked >= 100) {
            looked = now;
            if (reports_stored(db) > before) stored = now;
        }
        if (now - begun >= ms && (stored != 0 ? now - stored >= ms : now - begun >= 30000)) return stored != 0 ? stored - begun : 0;
    }
}

/// Calls heartbeat() every 10 ms for `ms`.
void beat_for(unsigned ms) {
    const ULONGLONG until = GetTickCount64() + ms;
    while (GetTickCount64() < until) {
        crashdrop::heartbeat();
        Sleep(10);
    }
}

/// True once helper.log in `db` says the helper has started (it watches from then on).
bool helper_started(const std::string& db) {
    std::ifstream in(db + "\\helper.log");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.find("helper started") != std::string::npos;
}

crashdrop::UploadResult write_upload(const std::string& out_path, const crashdrop::Upload& up) {
    std::ofstream out(out_path, std::ios::binary);
    out << "id=" << up.report.id << "\n";
    out << "dump_bytes=" << up.dump.size() << "\n";
    out << "dump_magic=" << std::string(up.dump.begin(), up.dump.begin() + (up.dump.size() >= 4 ? 4 : 0)) << "\n";
    for (const auto& a : up.report.annotations) out << "annotation." << a.first << "=" << a.second << "\n";
    for (const auto& t : up.report.tags) out << "tag." << t.first << "=" << t.second << "\n";
    out << "user.id=" << up.report.user.id << "\n";
    out << "breadcrumbs=" << up.report.breadcrumbs.size() << "\n";
    crashdrop::UploadResult r;
    r.status = out ? crashdrop::UploadStatus::sent : crashdrop::UploadStatus::retry_later;
    r.server_id = "custom-" + up.report.id.substr(0, 8);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s <database> <case> [argument]\n", argv[0]);
        return 2;
    }
    const std::string what = argv[2];
    const std::string arg = argc > 3 ? argv[3] : "";
    crashdrop::Options o;
    o.database_path = argv[1];
    o.product_name = "report_target_win";
    o.product_version = "2.5";
    o.retry_delay_ms = 200;
    o.extra["build"] = "mingw-wine";
    o.tags["platform"] = "windows";
    o.user.id = "player-17";
    if (what == "upload" || what == "upload_later" || what == "wait_upload") {
        o.submit_url = arg;
        if (what == "upload_later") o.retry_delay_ms = 60000;
    } else if (what == "custom_transport") {
        o.transport = [arg](const crashdrop::Upload& up) { return write_upload(arg, up); };
    } else if (what == "external_helper") {
        o.helper_mode = crashdrop::HelperMode::external;
        o.helper_path = arg;
    } else if (what == "no_helper") {
        o.helper_mode = crashdrop::HelperMode::none;
    } else if (what == "terminated") {
        o.report_abnormal_exits = arg != "off";  // argv[3] "off": the option turned off
    } else if (what == "hang" || what == "hang_terminated") {
        o.hang_timeout_ms = arg.empty() ? 500 : std::atoi(arg.c_str());  // argv[3]: another timeout (measuring)
    }
    std::map<std::string, std::string> kv;  // the configured cases' KEY=VALUE arguments
    if (what == "configured" || what == "configured_wait") {
        for (int i = 3; i < argc; ++i) {
            const std::string a = argv[i];
            const std::size_t eq = a.find('=');
            if (eq == std::string::npos) {
                std::fprintf(stderr, "not KEY=VALUE: %s\n", a.c_str());
                return 2;
            }
            kv[a.substr(0, eq)] = a.substr(eq + 1);
        }
        o.submit_url = kv["url"];
        if (!kv["dsn"].empty()) {
            o.sentry_dsn = kv["dsn"];
            o.upload_format = crashdrop::UploadFormat::sentry;
        }
        o.environment = kv["environment"];
        if (!kv["attachment"].empty()) o.attachments.push_back(kv["attachment"]);
        if (kv.count("max_upload_bytes")) o.max_upload_bytes = std::strtoull(kv["max_upload_bytes"].c_str(), nullptr, 10);
        if (kv.count("max_attachment_bytes")) o.max_attachment_bytes = std::strtoull(kv["max_attachment_bytes"].c_str(), nullptr, 10);
        if (kv.count("retry_ms")) o.retry_delay_ms = std::atoi(kv["retry_ms"].c_str());
        if (kv.count("before")) {
            const std::string record = o.database_path + "\\before-upload.txt", how = kv["before"];
            o.before_upload = [record, how](crashdrop::Upload& up) { return before_upload_record(record, how, up); };
        }
    }
    if (crashdrop::Status s = crashdrop::start(o); !s.ok()) {
        std::fprintf(stderr, "start failed: %s\n", s.message().c_str());
        return 3;
    }
    (void)crashdrop::add_extra_parameter("stage", "after-start");
    crashdrop::add_breadcrumb("level loaded", "game", crashdrop::BreadcrumbLevel::info);
    std::printf("app pid %lu\n", static_cast<unsigned long>(GetCurrentProcessId()));
    std::fflush(stdout);
    if (kv.count("busy_threads")) {
        static volatile LONG ready = 0;
        const int n = std::atoi(kv["busy_threads"].c_str());
        for (int i = 0; i < n; ++i) CloseHandle(CreateThread(nullptr, 256 * 1024, park_thread, const_cast<LONG*>(&ready), 0, nullptr));
        while (ready < n) Sleep(1);
    }
    if (what == "write_dump") {
        for (int i = 0; i < 2; ++i) {
            std::string path;
            if (crashdrop::Status s = crashdrop::write_dump(&path); !s.ok()) {
                std::printf("write_dump failed: %s\n", s.message().c_str());
                return 4;
            }
            std::printf("dump %s\n", path.c_str());
        }
        std::printf("still running\n");
        std::fflush(stdout);
        crashdrop::stop();
        return 0;
    }
    if (what == "hang" || what == "hang_terminated") {
        // Beating from the start; the stall begins once the helper watches (wine starts it slowly).
        // Each step says how it went at once (stdout is a pipe): a run that stops short shows
        // where, and one that finds no helper or no report ends early with its own status.
        const ULONGLONG launched = GetTickCount64();
        for (int i = 0; i < 200 && !helper_started(o.database_path); ++i) beat_for(100);
        if (!helper_started(o.database_path)) {
            std::printf("the helper did not start within 20 s\n");
            return 5;
        }
        std::printf("the helper started within %llu ms\n", static_cast<unsigned long long>(GetTickCount64() - launched));
        std::fflush(stdout);
        beat_for(300);
        const unsigned stall = 2u * static_cast<unsigned>(o.hang_timeout_ms);
        const ULONGLONG latency = stuck_in_hang_target(o.database_path, stall);
        if (latency == 0) {
            std::printf("no hang report was stored within 30 s\n");
            return 6;
        }
        std::printf("hang report stored %llu ms after the last beat\n", static_cast<unsigned long long>(latency));
        std::fflush(stdout);
        if (what == "hang_terminated") {
            // It beats again (the episode ends), hangs once more (a new episode, a new report)
            // and is killed while hung, as a player kills a frozen game.
            beat_for(500);
            const ULONGLONG second = stuck_in_hang_target(o.database_path, stall);
            std::printf(second != 0 ? "second hang report stored %llu ms after the last beat\n"
                                    : "no second hang report within 30 s (%llu)\n",
                        static_cast<unsigned long long>(second));
            std::fflush(stdout);
            TerminateProcess(GetCurrentProcess(), 9);
        }
        beat_for(500);
        std::printf("still running\n");
        std::fflush(stdout);
        return 0;
    }
    if (what == "terminated") {
        // Once the helper watches, and has had time to take the module list (once a second).
        for (int i = 0; i < 200 && !helper_started(o.database_path); ++i) Sleep(100);
        Sleep(1500);
        crashdrop::add_breadcrumb("about to be terminated", "test", crashdrop::BreadcrumbLevel::warning);
        std::fflush(stdout);
        TerminateProcess(GetCurrentProcess(), 7);
        return 1;  // not reached
    }
    if (what == "normal_exit") {
        std::printf("exiting normally\n");
        return 0;
    }
    if (what == "exit_3") std::exit(3);
    if (what == "wait_upload" || what == "configured_wait") {
        for (int i = 0; i < 300 && !crashdrop::pending_reports().empty(); ++i) Sleep(100);
        const bool sent = crashdrop::pending_reports().empty();
        std::printf("%s\n", sent ? "nothing pending" : "still pending");
        crashdrop::stop();
        return sent ? 0 : 1;
    }
    if (what == "api") {
        int failures = 0;
        auto expect = [&failures](bool ok, const char* text) {
            std::printf("%s %s\n", ok ? "ok" : "FAILED", text);
            if (!ok) ++failures;
        };
        expect(crashdrop::upload_to_server(), "consent defaults to on");
        expect(crashdrop::set_upload_to_server(false).ok() && !crashdrop::upload_to_server(), "consent can be turned off");
        expect(crashdrop::set_upload_to_server(true).ok() && crashdrop::upload_to_server(), "and on again");
        expect(crashdrop::parameters().count("stage") == 1 && crashdrop::parameters()["build"] == "mingw-wine",
               "annotations are kept");
        expect(crashdrop::breadcrumbs().size() == 1 && crashdrop::breadcrumbs()[0].message == "level loaded", "breadcrumbs are kept");
        expect(crashdrop::set_tag("map", "de_dust").ok(), "set_tag");
        expect(!crashdrop::add_extra_parameter("", "x").ok(), "an empty key is refused");
        expect(crashdrop::pending_reports().empty(), "no pending report in a new database");
        expect(crashdrop::reserved_bytes() > 0, "reserved_bytes reports the shared region");
        expect(crashdrop::check_handlers().ok(), "check_handlers: crashdrop's handlers are installed");
        SetUnhandledExceptionFilter(nullptr);
        expect(crashdrop::check_handlers().code() == crashdrop::Error::handler_replaced, "check_handlers sees a replaced filter");
        expect(crashdrop::reinstall().ok() && crashdrop::check_handlers().ok(), "reinstall puts it back");
        crashdrop::stop();
        expect(!crashdrop::is_started(), "stop");
        crashdrop::Options forked = o;
        forked.helper_mode = crashdrop::HelperMode::fork;
        const crashdrop::Status refused = crashdrop::start(forked);
        expect(refused.code() == crashdrop::Error::invalid_options && refused.message().find("fork") != std::string::npos,
               "HelperMode::fork is refused on Windows, naming it");
        expect(crashdrop::start(o).ok(), "start again after stop");
        crashdrop::stop();
        std::printf("%s\n", failures == 0 ? "all ok" : "some failed");
        return failures == 0 ? 0 : 1;
    }
    crash_in_report_target();
    return 1;  // not reached
}
