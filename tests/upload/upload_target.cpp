// upload_target - an application for the helper/database/transport tests. It starts crashdrop
// (with its helper) configured from its arguments, then crashes, or writes a dump and lives on,
// or only starts (so the helper sends what is pending), or lists the database.
//
//   upload_target <mode> <database> [key=value ...]
//     modes: crash | dump_and_wait | start_only | consent_off_crash | consent_on | list |
//            custom_transport_crash | kill_helper_then_crash | fork_child_crash | hang
//     keys:  url= format=crashpad|socorro|sentry|sentry_minidump dsn= environment= helper=reexec|fork|external|none
//            helper_path= compress=0|1 rate_limit=0|1 ca_file= timeout_ms= retry_ms=
//            wait_ms= max_reports= annotation=KEY:VALUE reserved_annotation=KEY (add_extra_parameter
//            must refuse KEY: exit 12 when it does not)
//            context=1 crumbs=N max_attachment_bytes=N max_breadcrumbs=N
//            product=NAME linger_ms=N max_database_bytes=N fill_disk=N
//            hang_ms=N (Options::hang_timeout_ms; mode hang: beat, stop for 3 x N, beat)
//            transport_retry_after_ms=N (a custom transport whose first answer is retry_later
//            with UploadResult::retry_after_ms = N; then sent)
//            transport=sent|rejected|throw_once (a custom transport in any mode: it answers sent,
//            or rejected with the message "custom: refused for good", or, throw_once, throws
//            std::runtime_error when <database>/transport-threw does not exist yet (creating it)
//            and answers sent otherwise)
//            before=edit|drop_attachment|drop|drop_requested|throw (Options::before_upload:
//            records what it sees in <database>/before-upload.txt, then: edit sets the
//            annotation scene to "scrubbed" and clears the user's email; drop_attachment removes
//            app.log; drop returns false; drop_requested returns false for kind "requested";
//            throw throws on the first call, then sends unchanged)
//            max_upload_bytes=N (Options::max_upload_bytes) busy_threads=N (N threads, each
//            parked 8 frames of 6 KiB deep, so that the dump holds N full stacks)
//
// context=1 sets the crash context (see set_context_options / set_live_context): extra
// {scene: level-3}, global_extra {build: nightly}, tags {region: eu}, the user u-42/ana,
// the attachment <database>/../app.log, then after start() a 1000-byte annotation "long"
// (long_value()), `crumbs` breadcrumbs (crumb_message/category/level) and the tag phase=boss.
// fork_child_crash: after start() (and the context), write_dump() (the helper stores it, which
// also means it is past its start-up scan of pending/), then fork(); the child crashes, the
// parent waits for it, says how it ended ("child signal=N") and exits 0.
//
// fill_disk=N: after start(), fill the file system that holds the database (a file
// <database>/filler) until only about N bytes are free, so that a dump no longer fits.
//
// Its main() calls start() before anything with side effects but UPLOAD_TARGET_SIDE_EFFECTS's
// (which the helper, entered before constructors and main(), must not repeat).
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

int* volatile g_null = nullptr;

// UPLOAD_TARGET_SIDE_EFFECTS=FILE: a global constructor and main(), before start(), each append
// a line naming themselves and the pid to FILE - what an application does before start() (a
// log opened, a lock taken) that must not happen again in its helper.
static void append_side_effect(const char* who) {
    const char* file = getenv("UPLOAD_TARGET_SIDE_EFFECTS");
    if (file == nullptr) return;
    const int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    char line[96];
    const int n = snprintf(line, sizeof(line), "%s pid=%d\n", who, static_cast<int>(getpid()));
    if (n > 0 && write(fd, line, static_cast<size_t>(n)) != n) perror("side effect");
    close(fd);
}
struct global_side_effect {
    global_side_effect() { append_side_effect("constructor"); }
} g_global_side_effect;

// The store to null is the point: UBSan (tools/test_sanitizers.sh) must let it fault.
/// Parks the calling thread `depth` frames deep, each frame with 6 KiB of stack in use.
__attribute__((noinline)) static void park_deep(int depth, volatile int* ready) {
    volatile char frame[6 * 1024];
    for (std::size_t i = 0; i < sizeof(frame); i += 64) frame[i] = static_cast<char>(depth + static_cast<int>(i));
    if (depth > 0) {
        park_deep(depth - 1, ready);
    } else {
        __atomic_add_fetch(ready, 1, __ATOMIC_SEQ_CST);
        for (;;) pause();
    }
    frame[0] = frame[1];
}

__attribute__((noinline, no_sanitize("undefined"))) void crash_now() {
    *g_null = 1;
}

// The context=1 values; upload_tests.cpp builds the same ones to compare.
static std::string long_value() {
    std::string v;
    char buf[16];
    for (int i = 0; i < 200; ++i) {
        snprintf(buf, sizeof(buf), "L%03d-", i);
        v += buf;
    }
    return v;  // 1000 bytes: "L000-L001-...L199-"
}
static std::string crumb_message(int i) {
    return "step " + std::to_string(i) + " | 50% done \xc3\xa9t\xc3\xa9";  // '|', '%' and UTF-8 ("été")
}
static const char* crumb_category(int i) {
    static const char* const k[] = {"ui", "net", "app.state"};
    return k[i % 3];
}
static crashdrop::BreadcrumbLevel crumb_level(int i) {
    return static_cast<crashdrop::BreadcrumbLevel>(i % 5);
}
static std::string parent_dir(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    const auto slash = p.rfind('/');
    return slash == std::string::npos ? std::string(".") : slash == 0 ? std::string("/") : p.substr(0, slash);
}

static void set_context_options(crashdrop::Options* o, const std::string& database) {
    o->extra = {{"scene", "level-3"}};
    o->global_extra = {{"build", "nightly"}};
    o->tags = {{"region", "eu"}};
    o->user.id = "u-42";
    o->user.username = "ana";
    o->user.email = "ana@example.org";
    o->attachments = {parent_dir(database) + "/app.log"};
}

/// After start(): false (and a message) if any call fails.
static bool set_live_context(int crumbs) {
    crashdrop::Status s = crashdrop::add_extra_parameter("long", long_value());
    if (s.ok()) s = crashdrop::set_tag("phase", "boss");
    if (!s.ok()) {
        fprintf(stderr, "context: %s: %s\n", crashdrop::error_name(s.code()), s.message().c_str());
        return false;
    }
    for (int i = 0; i < crumbs; ++i) crashdrop::add_breadcrumb(crumb_message(i), crumb_category(i), crumb_level(i));
    return true;
}

/// Fills the file system holding `dir` until about `leave` bytes are free.
static bool fill_disk(const std::string& dir, unsigned long long leave) {
    const std::string path = dir + "/filler";
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    static char block[4096];
    memset(block, 'f', sizeof(block));
    for (;;) {
        struct statvfs vfs;
        if (fstatvfs(fd, &vfs) != 0) break;
        const unsigned long long free_bytes = static_cast<unsigned long long>(vfs.f_bavail) * vfs.f_frsize;
        if (free_bytes <= leave) break;
        const unsigned long long want = free_bytes - leave < sizeof(block) ? free_bytes - leave : sizeof(block);
        if (write(fd, block, static_cast<size_t>(want)) <= 0) break;
    }
    fsync(fd);
    close(fd);
    return true;
}

static const char* state_name(crashdrop::ReportState s) {
    return s == crashdrop::ReportState::pending ? "pending" : s == crashdrop::ReportState::uploaded ? "uploaded" : "rejected";
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: upload_target <mode> <database> [key=value ...]\n");
        return 2;
    }
    append_side_effect("main before start");
    const std::string mode = argv[1];
    std::map<std::string, std::string> kv;
    for (int i = 3; i < argc; ++i) {
        const char* eq = strchr(argv[i], '=');
        if (eq != nullptr) kv[std::string(argv[i], static_cast<std::size_t>(eq - argv[i]))] = eq + 1;
    }
    crashdrop::Options o;
    o.database_path = argv[2];
    o.product_name = kv.count("product") ? kv["product"] : "UploadTarget";
    o.product_version = "3.1.4";
    o.submit_url = kv["url"];
    o.sentry_dsn = kv["dsn"];
    if (kv["format"] == "socorro") o.upload_format = crashdrop::UploadFormat::socorro;
    if (kv["format"] == "sentry") o.upload_format = crashdrop::UploadFormat::sentry;
    if (kv["format"] == "sentry_minidump") o.upload_format = crashdrop::UploadFormat::sentry_minidump;
    o.environment = kv["environment"];
    const std::string helper = kv.count("helper") ? kv["helper"] : "reexec";
    o.helper_mode = helper == "fork"       ? crashdrop::HelperMode::fork
                    : helper == "external" ? crashdrop::HelperMode::external
                    : helper == "none"     ? crashdrop::HelperMode::none
                                           : crashdrop::HelperMode::reexec;
    o.helper_path = kv["helper_path"];
    if (kv["compress"] == "0") o.compress = false;
    if (kv["rate_limit"] == "1") o.rate_limit = true;
    o.ca_file = kv["ca_file"];
    if (kv.count("timeout_ms")) o.upload_timeout_ms = o.connect_timeout_ms = std::atoi(kv["timeout_ms"].c_str());
    if (kv.count("retry_ms")) o.retry_delay_ms = std::atoi(kv["retry_ms"].c_str());
    if (kv.count("max_reports")) o.max_reports = static_cast<std::size_t>(std::atoi(kv["max_reports"].c_str()));
    if (kv.count("max_database_bytes")) o.max_database_bytes = std::strtoull(kv["max_database_bytes"].c_str(), nullptr, 10);
    if (kv.count("linger_ms")) o.helper_linger_ms = std::atoi(kv["linger_ms"].c_str());
    if (kv.count("hang_ms")) o.hang_timeout_ms = std::atoi(kv["hang_ms"].c_str());
    if (kv.count("max_attachment_bytes")) o.max_attachment_bytes = std::strtoull(kv["max_attachment_bytes"].c_str(), nullptr, 10);
    if (kv.count("max_breadcrumbs")) o.max_breadcrumbs = std::strtoull(kv["max_breadcrumbs"].c_str(), nullptr, 10);
    if (kv["abnormal"] == "0") o.report_abnormal_exits = false;
    if (kv.count("max_upload_bytes")) o.max_upload_bytes = std::strtoull(kv["max_upload_bytes"].c_str(), nullptr, 10);
    const bool context = kv["context"] == "1";
    if (context) set_context_options(&o, argv[2]);
    if (mode == "custom_transport_crash" || kv.count("transport_retry_after_ms") || kv.count("transport")) {
        // Runs in the helper process: records what it was given and answers "sent" (with
        // transport_retry_after_ms=N: the first attempt answers retry_later asking for N ms;
        // transport=rejected or throw_once: see above).
        const std::string record = std::string(argv[2]) + "/custom-transport.txt";
        const std::string threw_marker = std::string(argv[2]) + "/transport-threw";
        const long long retry_after = std::atoll(kv["transport_retry_after_ms"].c_str());
        const std::string verdict = kv.count("transport") ? kv["transport"] : std::string("sent");
        auto attempts = std::make_shared<int>(0);
        o.transport = [record, threw_marker, retry_after, verdict, attempts](const crashdrop::Upload& up) {
            {
                std::ofstream out(record, std::ios::app);
                timespec now{};
                clock_gettime(CLOCK_MONOTONIC, &now);
                out << "id=" << up.report.id << "\nproduct=" << up.report.product << "\nversion=" << up.report.version
                    << "\nclient_id=" << up.client_id << "\ndump_bytes=" << up.dump.size() << "\npid=" << getpid()
                    << "\nmonotonic_ms=" << (static_cast<long long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000)
                    << "\nattachments=" << up.attachments.size() << "\ntrimmed=" << up.report.trimmed << "\n";
            }
            if (verdict == "throw_once" && access(threw_marker.c_str(), F_OK) != 0) {
                std::ofstream(threw_marker) << "1\n";
                throw std::runtime_error("custom transport failed");
            }
            crashdrop::UploadResult r;
            if (verdict == "rejected") {
                r.status = crashdrop::UploadStatus::rejected;
                r.message = "custom: refused for good";
                return r;
            }
            if (retry_after > 0 && (*attempts)++ == 0) {
                r.status = crashdrop::UploadStatus::retry_later;
                r.message = "custom: come back later";
                r.retry_after_ms = retry_after;
                return r;
            }
            r.status = crashdrop::UploadStatus::sent;
            r.server_id = "custom-" + up.report.id.substr(0, 8);
            return r;
        };
    }
    if (kv.count("before")) {
        // Runs in the helper before each attempt: records what it was given, then edits or drops.
        const std::string record = std::string(argv[2]) + "/before-upload.txt";
        const std::string what = kv["before"];
        auto calls = std::make_shared<int>(0);
        o.before_upload = [record, what, calls](crashdrop::Upload& up) {
            ++*calls;
            std::ofstream out(record, std::ios::app);
            out << "call=" << *calls << "\npid=" << getpid() << "\nid=" << up.report.id << "\nkind=" << up.report.kind
                << "\ndump_bytes=" << up.dump.size();
            for (const auto& a : up.report.annotations) out << "\nannotation." << a.first << "=" << a.second.substr(0, 40);
            for (const auto& t : up.report.tags) out << "\ntag." << t.first << "=" << t.second;
            out << "\nuser.email=" << up.report.user.email << "\nbreadcrumbs=" << up.report.breadcrumbs.size();
            if (!up.report.breadcrumbs.empty()) out << "\nlast_crumb=" << up.report.breadcrumbs.back().message;
            for (const auto& path : up.attachments) out << "\nattachment=" << path.substr(path.find_last_of('/') + 1);
            char magic[5] = {0, 0, 0, 0, 0};
            FILE* f = fopen(up.report.dump_path.c_str(), "rb");
            if (f != nullptr) {
                if (fread(magic, 1, 4, f) != 4) magic[0] = 0;
                fclose(f);
            }
            out << "\ndump_path_magic=" << magic << "\n";
            if (what == "edit") {
                up.report.annotations["scene"] = "scrubbed";
                up.report.user.email.clear();
            } else if (what == "drop_attachment") {
                for (std::size_t i = 0; i < up.attachments.size(); ++i) {
                    if (up.attachments[i].size() >= 7 && up.attachments[i].compare(up.attachments[i].size() - 7, 7, "app.log") == 0) {
                        up.attachments.erase(up.attachments.begin() + static_cast<std::ptrdiff_t>(i));
                        break;
                    }
                }
            } else if (what == "drop") {
                return false;
            } else if (what == "drop_requested") {
                return up.report.kind != "requested";
            } else if (what == "throw" && *calls == 1) {
                throw std::runtime_error("scrubber failed");
            }
            return true;
        };
    }
    crashdrop::Status s = crashdrop::start(o);
    if (!s.ok()) {
        fprintf(stderr, "start: %s: %s\n", crashdrop::error_name(s.code()), s.message().c_str());
        return 3;
    }
    printf("app pid %d\n", static_cast<int>(getpid()));
    fflush(stdout);
    const int wait_ms = kv.count("wait_ms") ? std::atoi(kv["wait_ms"].c_str()) : 0;
    if (context && !set_live_context(std::atoi(kv["crumbs"].c_str()))) return 7;
    if (kv.count("annotation")) {  // annotation=KEY:VALUE
        const std::string& a = kv["annotation"];
        const std::size_t colon = a.find(':');
        if (colon == std::string::npos || !crashdrop::add_extra_parameter(a.substr(0, colon), a.substr(colon + 1)).ok()) return 11;
    }
    if (kv.count("reserved_annotation")) {
        const crashdrop::Status refused = crashdrop::add_extra_parameter(kv["reserved_annotation"], "spoofed");
        if (refused.ok() || refused.code() != crashdrop::Error::invalid_argument) return 12;
        printf("refused: %s\n", refused.message().c_str());
        fflush(stdout);
    }
    if (kv.count("fill_disk") && !fill_disk(argv[2], std::strtoull(kv["fill_disk"].c_str(), nullptr, 10))) return 10;

    if (kv.count("busy_threads")) {
        static volatile int ready = 0;
        const int n = std::atoi(kv["busy_threads"].c_str());
        for (int i = 0; i < n; ++i) std::thread([] { park_deep(8, &ready); }).detach();
        while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < n) usleep(1000);
    }
    if (mode == "crash" || mode == "custom_transport_crash") {
        crash_now();
    } else if (mode == "fork_child_crash") {
        // A dump of this process first: once the helper has stored it, the helper is past its
        // start-up look at pending/, so the child's dump below cannot be found by it there.
        std::string path;
        crashdrop::Status d = crashdrop::write_dump(&path);
        printf("dump=%s\n", d.ok() ? path.c_str() : d.message().c_str());
        fflush(stdout);
        if (!d.ok()) return 5;
        const pid_t child = fork();
        if (child < 0) return 8;
        if (child == 0) {
            printf("child pid %d\n", static_cast<int>(getpid()));
            fflush(stdout);
            crash_now();
            _exit(9);  // not reached
        }
        int status = 0;
        while (waitpid(child, &status, 0) < 0) {
            if (errno != EINTR) return 8;
        }
        printf("child %s=%d\n", WIFSIGNALED(status) ? "signal" : "exit", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        fflush(stdout);
        return 0;
    } else if (mode == "consent_off_crash") {
        if (!crashdrop::set_upload_to_server(false).ok()) return 4;
        printf("consent=%d\n", crashdrop::upload_to_server() ? 1 : 0);
        fflush(stdout);
        crash_now();
    } else if (mode == "consent_on") {
        if (!crashdrop::set_upload_to_server(true).ok()) return 4;
        usleep(static_cast<useconds_t>(wait_ms) * 1000);
        return 0;
    } else if (mode == "dump_and_wait") {
        std::string path;
        crashdrop::Status d = crashdrop::write_dump(&path);
        printf("dump=%s\n", d.ok() ? path.c_str() : d.message().c_str());
        fflush(stdout);
        usleep(static_cast<useconds_t>(wait_ms) * 1000);
        return d.ok() ? 0 : 5;
    } else if (mode == "hang") {
        // The main thread beats, stops for 3 x hang_ms (a hang report), beats again until the
        // report is stored, then exits normally.
        auto beat_ms = [](long ms) {
            for (long i = 0; i < ms / 10; ++i) {
                crashdrop::heartbeat();
                usleep(10000);
            }
        };
        beat_ms(200);
        usleep(static_cast<useconds_t>(3 * o.hang_timeout_ms) * 1000);
        for (int i = 0; i < 500 && crashdrop::pending_reports().empty(); ++i) beat_ms(20);
        return 0;
    } else if (mode == "start_only") {
        usleep(static_cast<useconds_t>(wait_ms) * 1000);
        return 0;
    } else if (mode == "move_pending_then_crash") {
        // Once the helper serves (it has made its files for the next hand-off in pending/),
        // pending/ is renamed away and made anew; then the crash.
        const std::string db = argv[2];
        bool serving = false;
        for (int i = 0; i < 500 && !serving; ++i) {
            std::ifstream in(db + "/helper.log");
            std::string line;
            while (std::getline(in, line)) serving = serving || line.find("abnormal exit") != std::string::npos;
            if (!serving) usleep(10000);
        }
        if (!serving) return 6;
        if (rename((db + "/pending").c_str(), (db + "/pending.old").c_str()) != 0 || mkdir((db + "/pending").c_str(), 0700) != 0) return 13;
        crash_now();
    } else if (mode == "kill_helper_then_crash") {
        // The helper says its pid in helper.log; kill it, then crash: the dump must still land.
        const std::string log = std::string(argv[2]) + "/helper.log";
        int helper_pid = 0;
        for (int i = 0; i < 500 && helper_pid == 0; ++i) {
            std::ifstream in(log);
            std::string line;
            while (std::getline(in, line)) {
                const auto at = line.find("helper started (pid ");
                if (at != std::string::npos) helper_pid = std::atoi(line.c_str() + at + 20);
            }
            if (helper_pid == 0) usleep(10000);
        }
        if (helper_pid == 0 || kill(helper_pid, SIGKILL) != 0) return 6;
        printf("killed helper %d\n", helper_pid);
        fflush(stdout);
        usleep(100000);
        crash_now();
    } else if (mode == "end") {
        // Abnormal exits (issue 14): a breadcrumb, then (once the helper is up and watching, as
        // it is for any process that lives longer than the helper's start) the end named by
        // how=: kill (SIGKILL), term (SIGTERM, default action), oom (allocate until the OOM
        // killer comes), stop_kill (stop(), then SIGKILL), exit3 (exit(3)), underscore_exit (_exit(3)),
        // quick_exit, return.
        const std::string how = kv["how"];
        crashdrop::add_breadcrumb("the last step before " + how, "test", crashdrop::BreadcrumbLevel::warning);
        const std::string log = std::string(argv[2]) + "/helper.log";
        bool up = false;
        timespec t0{}, t1{};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 1000 && !up; ++i) {
            std::ifstream in(log);
            std::string line;
            while (std::getline(in, line)) {
                if (line.find("watching for an abnormal exit") != std::string::npos ||
                    line.find("abnormal exits: not watched") != std::string::npos) {
                    up = true;
                }
            }
            if (!up) usleep(10000);
        }
        if (!up) return 12;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("helper watching (seen %lld ms after start() returned); ending by %s\n",
               static_cast<long long>((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000), how.c_str());
        fflush(stdout);
        if (how == "kill") raise(SIGKILL);
        if (how == "stop_kill") {  // stop() detaches: what happens to the process after it is its own
            crashdrop::stop();
            usleep(200000);
            raise(SIGKILL);
        }
        if (how == "term") raise(SIGTERM);
        if (how == "exit3") exit(3);
        if (how == "underscore_exit") _exit(3);
        if (how == "quick_exit") std::quick_exit(0);
        if (how == "return") return 0;
        if (how == "oom") {
            for (;;) {  // touched, so it is resident: the cgroup's memory.max is reached
                char* p = static_cast<char*>(malloc(8u << 20));
                if (p == nullptr) return 14;
                memset(p, 1, 8u << 20);
            }
        }
        return 13;
    } else if (mode == "list") {
        for (const auto& r : crashdrop::pending_reports()) printf("pending %s %s %d kind=%s\n", r.id.c_str(), state_name(r.state), r.attempts, r.kind.c_str());
        for (const auto& r : crashdrop::uploaded_reports()) printf("uploaded %s %s kind=%s\n", r.id.c_str(), r.server_id.c_str(), r.kind.c_str());
        crashdrop::Report last;
        if (crashdrop::last_crash_report(&last)) printf("last %s %s\n", last.id.c_str(), last.server_id.c_str());
        printf("consent=%d\n", crashdrop::upload_to_server() ? 1 : 0);
        static const char* const outcomes[] = {"unknown", "clean_exit", "crashed", "hung", "abnormal_exit"};
        const int outcome = static_cast<int>(crashdrop::last_run());
        printf("last_run=%s consecutive_crashes=%u\n", outcome >= 0 && outcome < 5 ? outcomes[outcome] : "?", crashdrop::consecutive_crashes());
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
}
