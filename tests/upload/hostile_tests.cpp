// hostile_tests - the helper against servers that misbehave (tests/upload/hostile_server.py):
// replies without end, headers without end, a reply trickled byte by byte, a chunked bomb,
// interim 1xx replies, Retry-After, configuration errors (404, 401, 403, 407) and refusals
// (400, 413, Socorro's Discarded=), and a name lookup that never answers. Each case ends as
// documented, within the attempt's deadline, with the helper's peak memory (VmHWM) under 64 MiB.
#include <catch2/catch.hpp>

#include <dirent.h>

#include <algorithm>
#include <thread>

#include "../support/process.hpp"
#include "../support/readers.hpp"
#include "../support/upload_support.hpp"

using namespace testsupport;

namespace {

const std::string k_work = UPLOAD_TEST_WORKDIR;
const std::string k_target = UPLOAD_TARGET;
const std::string k_hostile = HOSTILE_SERVER_PY;
const std::string k_slow_resolver = SLOW_RESOLVER;

std::string fresh_dir(const std::string& name) { return fresh_folder(k_work + "/hostile/" + name); }

std::vector<std::string> reports_in(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            const std::string n = e->d_name;
            if (n.size() == 40 && n.compare(36, 4, ".dmp") == 0) out.push_back(n.substr(0, 36));
        }
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

struct hostile_server {
    background_process proc;
    std::string base;
    int port = 0;

    bool tls = false;

    void start(const std::string& dir, const std::vector<std::string>& replies, const std::vector<std::string>& options = {}) {
        base = dir + "/server";
        run_process({"mkdir", "-p", base}, 30);
        std::vector<std::string> argv = {"python3", k_hostile, "--port-file", base + "/port", "--record", base + "/requests"};
        argv.insert(argv.end(), options.begin(), options.end());
        tls = !options.empty();
        argv.insert(argv.end(), replies.begin(), replies.end());
        REQUIRE(proc.start(argv, base + "/log"));
        REQUIRE(eventually(20, [&] { return file_exists(base + "/port"); }));
        port = std::atoi(read_text_file(base + "/port").c_str());
        REQUIRE(port > 0);
    }
    std::string url() const { return (tls ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(port) + "/submit"; }
    /// Arrival times (UNIX seconds) of the requests so far.
    std::vector<double> arrivals() const {
        std::vector<double> out;
        for (const auto& line : split(read_text_file(base + "/requests"), '\n')) {
            const auto sp = line.find(' ');
            if (sp != std::string::npos) out.push_back(std::atof(line.c_str() + sp + 1));
        }
        return out;
    }
};

/// The peak resident memory of a process (VmHWM), in KiB; -1 if it is gone.
long peak_rss_kib(int pid) {
    for (const auto& line : split(read_text_file("/proc/" + std::to_string(pid) + "/status"), '\n')) {
        if (line.compare(0, 6, "VmHWM:") == 0) return std::atol(line.c_str() + 6);
    }
    return -1;
}

struct attempt_outcome {
    double seconds = 0;        // from the request's arrival to the helper's verdict in its log (polled)
    long helper_peak_kib = -1; // the helper's VmHWM right after the attempt
    std::string last_error;
    std::string helper_log;
};

/// An application writes a dump and lives on; its helper makes one attempt against `replies`.
/// Once the attempt has ended (the report still pending), the helper's peak memory is read and
/// the application is stopped.
attempt_outcome one_attempt(const std::string& name, const std::vector<std::string>& replies, int timeout_ms,
                            const std::vector<std::string>& server_options = {}, const std::vector<std::string>& app_options = {}) {
    attempt_outcome out;
    const std::string dir = fresh_dir(name);
    hostile_server server;
    server.start(dir, replies, server_options);
    const database_view db{dir + "/db"};
    background_process app;
    std::vector<std::string> argv = {k_target, "dump_and_wait", db.root, "url=" + server.url(), "timeout_ms=" + std::to_string(timeout_ms),
                                     "retry_ms=60000", "wait_ms=60000",
                                     "abnormal=0"};  // stopped by SIGTERM below: that end is not what is tested here
    argv.insert(argv.end(), app_options.begin(), app_options.end());
    REQUIRE(app.start(argv, dir + "/app.log"));
    REQUIRE(eventually(20, [&] { return !server.arrivals().empty(); }));
    const double arrived = now_seconds();
    const bool ended = eventually(timeout_ms / 1000.0 + 10, [&] { return db.count_in_logs("could not send") + db.count_in_logs("rejected ") >= 1; });
    out.seconds = now_seconds() - arrived;
    out.helper_peak_kib = peak_rss_kib(db.helper_pids().empty() ? 0 : db.helper_pids().back());
    app.stop();
    INFO(read_text_file(dir + "/app.log") << db.helper_log());
    REQUIRE(ended);
    REQUIRE(db.wait_helpers_done(1));
    CHECK(server.arrivals().size() == 1);
    const auto pending = reports_in(db.root + "/pending");
    REQUIRE(pending.size() == 1);  // kept
    out.last_error = db.meta("pending", pending[0])["last_error"];
    out.helper_log = db.helper_log();
    return out;
}

constexpr long k_memory_limit_kib = 64 * 1024;

}  // namespace

TEST_CASE("hostile: an endless body is cut at 1 MiB at once - pending - helper memory bounded", "[upload][hostile]") {
    const auto r = one_attempt("endless-body", {"endless_body"}, 20000);
    INFO(r.helper_log);
    CHECK(r.last_error == "the reply is larger than 1 MiB");
    CHECK(r.seconds < 10);  // long before the 20 s deadline
    CHECK(r.helper_peak_kib > 0);
    CHECK(r.helper_peak_kib < k_memory_limit_kib);
}

TEST_CASE("hostile: endless header lines and one endless header line are refused - pending - memory bounded", "[upload][hostile]") {
    const auto many = one_attempt("endless-headers", {"endless_headers"}, 20000);
    INFO(many.helper_log);
    CHECK(many.last_error == "too many header lines in the reply");
    CHECK(many.seconds < 10);
    CHECK(many.helper_peak_kib > 0);
    CHECK(many.helper_peak_kib < k_memory_limit_kib);
    const auto huge = one_attempt("huge-header", {"huge_header"}, 20000);
    INFO(huge.helper_log);
    CHECK(huge.last_error == "a reply header line is too long");
    CHECK(huge.seconds < 10);
    CHECK(huge.helper_peak_kib > 0);
    CHECK(huge.helper_peak_kib < k_memory_limit_kib);
}

TEST_CASE("hostile: a chunked bomb (endless one-byte chunks, an endless chunk-size line) ends at once - memory bounded", "[upload][hostile]") {
    // Linear decoding: the 1 MiB limit is reached in moments (the old decoder re-decoded the whole
    // reply after every read, quadratic work that ran into the deadline).
    const auto bomb = one_attempt("chunk-bomb", {"chunk_bomb"}, 20000);
    INFO(bomb.helper_log);
    CHECK(bomb.last_error == "the reply is larger than 1 MiB");
    CHECK(bomb.seconds < 10);
    CHECK(bomb.helper_peak_kib > 0);
    CHECK(bomb.helper_peak_kib < k_memory_limit_kib);
    const auto line = one_attempt("chunk-size-bomb", {"chunk_size_bomb"}, 20000);
    INFO(line.helper_log);
    CHECK(line.last_error == "a chunk-size line is too long");
    CHECK(line.seconds < 10);
    CHECK(line.helper_peak_kib < k_memory_limit_kib);
}

TEST_CASE("hostile: a status line and headers trickled a byte at a time are cut off at the deadline", "[upload][hostile]") {
    const auto r = one_attempt("slowloris", {"slowloris"}, 2500);
    INFO(r.helper_log);
    CHECK(r.last_error == "the server did not answer in time");
    CHECK(r.seconds < 8);
}

TEST_CASE("hostile: 100 Continue and 102/103 before the answer are skipped - the report is sent", "[upload][hostile]") {
    for (const std::string reply : {"continue_then_ok", "hints_then_ok"}) {
        const std::string dir = fresh_dir(reply);
        hostile_server server;
        server.start(dir, {reply});
        const database_view db{dir + "/db"};
        const run_result app = run_process({k_target, "crash", db.root, "url=" + server.url()}, 60);
        INFO(reply << "\n" << app.describe() << db.helper_log());
        REQUIRE(db.wait_helpers_done(1));
        const auto done = reports_in(db.root + "/completed");
        REQUIRE(done.size() == 1);
        CHECK(db.meta("completed", done[0])["state"] == "uploaded");
        CHECK(db.meta("completed", done[0])["server_id"] == "hostile-0001");  // the final reply's body
    }
}

TEST_CASE("hostile: 101 Switching Protocols is no answer - the report stays pending", "[upload][hostile]") {
    const std::string dir = fresh_dir("switching");
    hostile_server server;
    server.start(dir, {"switching"});
    const database_view db{dir + "/db"};
    run_process({k_target, "crash", db.root, "url=" + server.url(), "timeout_ms=5000"}, 60);
    REQUIRE(db.wait_helpers_done(1));
    const auto pending = reports_in(db.root + "/pending");
    INFO(db.helper_log());
    REQUIRE(pending.size() == 1);
    CHECK(db.meta("pending", pending[0])["last_error"].find("switched protocols (101)") != std::string::npos);
}

TEST_CASE("hostile: 429 with Retry-After: 2 and 503 with an HTTP-date delay the next attempt - then sent once", "[upload][hostile]") {
    struct step {
        const char* name;
        const char* reply;
        double at_least;  // seconds between the two attempts
    };
    for (const step s : {step{"retry-after-429", "429|Retry-After: 2", 1.9}, step{"retry-after-503", "503|Retry-After: +3s", 2.0}}) {
        const std::string dir = fresh_dir(s.name);
        hostile_server server;
        server.start(dir, {s.reply, "200"});
        const database_view db{dir + "/db"};
        // retry_ms=200: the back-off alone would try again after 0.2 s.
        const run_result app = run_process({k_target, "dump_and_wait", db.root, "url=" + server.url(), "retry_ms=200", "wait_ms=6000"}, 60);
        INFO(s.name << "\n" << app.describe() << db.helper_log());
        REQUIRE(db.wait_helpers_done(1));
        const auto arrivals = server.arrivals();
        REQUIRE(arrivals.size() == 2);
        CHECK(arrivals[1] - arrivals[0] >= s.at_least);
        CHECK(arrivals[1] - arrivals[0] < 4.5);
        const auto done = reports_in(db.root + "/completed");
        REQUIRE(done.size() == 1);
        CHECK(db.meta("completed", done[0])["state"] == "uploaded");
        CHECK(db.meta("completed", done[0])["attempts"] == "2");
        CHECK(db.helper_log().find("Retry-After") != std::string::npos);
    }
}

TEST_CASE("hostile: 404 (a mistyped URL) keeps the report - longest back-off - sent once the URL is right", "[upload][hostile]") {
    const std::string dir = fresh_dir("not-found");
    hostile_server server;
    server.start(dir, {"404|body=no such endpoint", "200"});
    const database_view db{dir + "/db"};
    run_process({k_target, "crash", db.root, "url=" + server.url()}, 60);
    REQUIRE(db.wait_helpers_done(1));
    INFO(db.helper_log());
    auto pending = reports_in(db.root + "/pending");
    REQUIRE(pending.size() == 1);
    CHECK(db.meta("pending", pending[0])["last_error"].find("HTTP 404") == 0);
    CHECK(db.helper_log().find("retrying in 3600000 ms") != std::string::npos);
    CHECK(reports_in(db.root + "/completed").empty());
    // The next start (the URL fixed; here the server now answers 200) sends it.
    run_process({k_target, "start_only", db.root, "url=" + server.url(), "wait_ms=500"}, 60);
    REQUIRE(db.wait_helpers_done(2));
    const auto done = reports_in(db.root + "/completed");
    REQUIRE(done.size() == 1);
    CHECK(db.meta("completed", done[0])["state"] == "uploaded");
    CHECK(server.arrivals().size() == 2);
}

TEST_CASE("hostile: 401 and 403 and 407 keep the report pending with the longest back-off", "[upload][hostile]") {
    for (const std::string status : {"401", "403", "407"}) {
        const std::string dir = fresh_dir("config-" + status);
        hostile_server server;
        server.start(dir, {status});
        const database_view db{dir + "/db"};
        run_process({k_target, "crash", db.root, "url=" + server.url()}, 60);
        REQUIRE(db.wait_helpers_done(1));
        INFO(status << "\n" << db.helper_log());
        const auto pending = reports_in(db.root + "/pending");
        REQUIRE(pending.size() == 1);
        CHECK(db.meta("pending", pending[0])["last_error"].find("HTTP " + status) == 0);
        CHECK(db.helper_log().find("retrying in 3600000 ms") != std::string::npos);
    }
}

TEST_CASE("hostile: 400 and 413 and Socorro's Discarded= reject the report with the server's reason", "[upload][hostile]") {
    struct step {
        const char* name;
        const char* reply;
        const char* format;
        const char* reason;
    };
    for (const step s : {step{"reject-400", "400|body=missing field prod", "crashpad", "HTTP 400: missing field prod"},
                         step{"reject-413", "413|body=dump too large", "crashpad", "HTTP 413: dump too large"},
                         step{"reject-discarded", "200|body=Discarded=rule_throttled", "socorro", "Discarded=rule_throttled"}}) {
        const std::string dir = fresh_dir(s.name);
        hostile_server server;
        server.start(dir, {s.reply});
        const database_view db{dir + "/db"};
        run_process({k_target, "crash", db.root, "url=" + server.url(), std::string("format=") + s.format}, 60);
        REQUIRE(db.wait_helpers_done(1));
        INFO(s.name << "\n" << db.helper_log());
        const auto done = reports_in(db.root + "/completed");
        REQUIRE(done.size() == 1);
        CHECK(db.meta("completed", done[0])["state"] == "rejected");
        CHECK(db.meta("completed", done[0])["last_error"] == s.reason);
        // Never resent.
        run_process({k_target, "start_only", db.root, "url=" + server.url(), std::string("format=") + s.format, "wait_ms=300"}, 60);
        REQUIRE(db.wait_helpers_done(2));
        CHECK(server.arrivals().size() == 1);
    }
}

TEST_CASE("hostile: a name lookup that never answers ends with the attempt's deadline", "[upload][hostile]") {
    // getaddrinfo() for *.hang.invalid sleeps 30 s (LD_PRELOAD, inherited by the helper).
    const std::string dir = fresh_dir("hanging-resolver");
    const database_view db{dir + "/db"};
    // Under AddressSanitizer (tools/test_sanitizers.sh) its runtime would insist on coming first
    // in the preload list; the resolver stand-in must come first, so that check is turned off.
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string asan_options = std::string("ASAN_OPTIONS=") + (asan != nullptr ? asan : "") + ":verify_asan_link_order=0";
    const double started = now_seconds();
    const run_result app = run_process({k_target, "crash", db.root, "url=http://crash.hang.invalid:8080/submit", "timeout_ms=1500"}, 60,
                                       {"LD_PRELOAD=" + k_slow_resolver, asan_options});
    INFO(app.describe() << db.helper_log());
    REQUIRE(db.wait_helpers_done(1, 25));
    CHECK(now_seconds() - started < 12);
    const auto pending = reports_in(db.root + "/pending");
    REQUIRE(pending.size() == 1);
    CHECK(db.meta("pending", pending[0])["last_error"] == "cannot resolve crash.hang.invalid: no answer in time");
}

TEST_CASE("hostile over HTTPS (libcurl): the same bounds and the same verdicts - Retry-After honoured", "[upload][hostile][https]") {
    const std::string dir = fresh_dir("https-certs");
    const std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
    const run_result made = run_process({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-addext",
                                         "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2", "-keyout", key, "-out", cert},
                                        60);
    REQUIRE(made.exit_code() == 0);
    const std::vector<std::string> tls = {"--tls-cert", cert, "--tls-key", key};
    const std::vector<std::string> trust = {"ca_file=" + cert};
    // An endless body: refused at 1 MiB, memory bounded.
    const auto endless = one_attempt("https-endless-body", {"endless_body"}, 20000, tls, trust);
    INFO(endless.helper_log);
    CHECK(endless.last_error == "libcurl: the reply is larger than 1 MiB");
    CHECK(endless.seconds < 10);
    CHECK(endless.helper_peak_kib > 0);
    CHECK(endless.helper_peak_kib < k_memory_limit_kib);
    // 404: kept with the longest back-off (the classification every client shares).
    const auto missing = one_attempt("https-404", {"404|body=no such endpoint"}, 20000, tls, trust);
    INFO(missing.helper_log);
    CHECK(missing.last_error.find("HTTP 404") == 0);
    CHECK(missing.helper_log.find("retrying in 3600000 ms") != std::string::npos);
    // 429 with Retry-After: 2, then 200: the second attempt waits.
    const std::string rdir = fresh_dir("https-retry-after");
    hostile_server server;
    server.start(rdir, {"429|Retry-After: 2", "200"}, tls);
    const database_view db{rdir + "/db"};
    const run_result app = run_process({k_target, "dump_and_wait", db.root, "url=" + server.url(), "ca_file=" + cert, "retry_ms=200",
                                        "wait_ms=6000"},
                                       60);
    INFO(app.describe() << db.helper_log());
    REQUIRE(db.wait_helpers_done(1));
    const auto arrivals = server.arrivals();
    REQUIRE(arrivals.size() == 2);
    CHECK(arrivals[1] - arrivals[0] >= 1.9);
    const auto done = reports_in(db.root + "/completed");
    REQUIRE(done.size() == 1);
    CHECK(db.meta("completed", done[0])["server_id"] == "hostile-0002");
}

TEST_CASE("a custom transport's UploadResult::retry_after_ms is honoured like a server's Retry-After", "[upload][hostile]") {
    const std::string dir = fresh_dir("custom-retry-after");
    const database_view db{dir + "/db"};
    // retry_ms=100: the back-off alone would try again after 0.1 s; the transport asks for 1.5 s.
    const run_result app = run_process({k_target, "dump_and_wait", db.root, "transport_retry_after_ms=1500", "retry_ms=100", "wait_ms=4000"}, 60);
    INFO(app.describe() << db.helper_log());
    REQUIRE(db.wait_helpers_done(1));
    std::vector<long long> times;
    for (const auto& line : split(read_text_file(db.root + "/custom-transport.txt"), '\n')) {
        if (line.compare(0, 13, "monotonic_ms=") == 0) times.push_back(std::atoll(line.c_str() + 13));
    }
    REQUIRE(times.size() == 2);
    CHECK(times[1] - times[0] >= 1450);
    CHECK(times[1] - times[0] < 3000);
    CHECK(db.helper_log().find("custom: come back later; retrying in 1500 ms") != std::string::npos);
    const auto done = reports_in(db.root + "/completed");
    REQUIRE(done.size() == 1);
    CHECK(db.meta("completed", done[0])["server_id"].rfind("custom-", 0) == 0);
}
