// exactly_once_tests - many helpers on one database: every crash reaches the server once, none is
// lost, and the helper stays bounded (its linger time, its log, a full disk). upload_target (an
// app with crashdrop and its default re-exec helper) crashes again and again, alone, in two
// applications at once, or while the last helper still sends; tools/collector.py stands in for
// the server and each test counts what it received, by report id, from outside.
//
// CRASHDROP_SOAK_RUNS sets the soak's length (default 200 crashes; e.g. 2000 for a long run).
#include <catch2/catch.hpp>

#include <dirent.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "../support/json.hpp"
#include "../support/process.hpp"
#include "../support/readers.hpp"
#include "../support/upload_support.hpp"

using namespace testsupport;

namespace {

const std::string k_work = UPLOAD_TEST_WORKDIR;
const std::string k_target = UPLOAD_TARGET;

long long file_size(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
}

/// A fresh folder for one test.
std::string fresh(const std::string& name) { return fresh_folder(k_work + "/" + name); }

run_result run_app(const std::string& mode, const std::string& db, const std::vector<std::string>& args = {},
                   double timeout = 60) {
    std::vector<std::string> argv = {k_target, mode, db};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, timeout);
}

int soak_runs() {
    const std::string v = env_or("CRASHDROP_SOAK_RUNS", "200");
    return std::max(1, std::atoi(v.c_str()));
}

/// `runs` crashes in a row of one application; false (with what went wrong) if one did not
/// die by SIGSEGV.
bool crash_loop(const std::string& db, const std::vector<std::string>& args, int runs, std::string* failure) {
    for (int i = 0; i < runs; ++i) {
        const run_result r = run_app("crash", db, args);
        if (r.signal() != SIGSEGV) {
            *failure = "run " + std::to_string(i) + ": " + r.describe();
            return false;
        }
    }
    return true;
}

/// Every report in the database arrived exactly once, and nothing else arrived.
void check_exactly_once(const collector& server, const database_view& db, std::size_t expected) {
    const auto received = server.received_ids();
    std::vector<std::string> twice;
    for (const auto& r : received) {
        if (r.second > 1) twice.push_back(r.first + " x" + std::to_string(r.second));
    }
    INFO("received more than once: " << join_lines(twice));
    CHECK(twice.empty());
    CHECK(server.count() == expected);
    CHECK(received.size() == expected);
    const auto completed = db.ids("completed");
    CHECK(completed.size() == expected);
    CHECK(db.ids("pending").empty());
    std::vector<std::string> lost;
    for (const auto& id : completed) {
        if (received.count(id) == 0) lost.push_back(id);
    }
    INFO("stored but never received: " << join_lines(lost));
    CHECK(lost.empty());
    const auto problems = db.problem_lines();
    INFO("helper.log problems:\n" << join_lines(problems));
    CHECK(problems.empty());
}

}  // namespace

TEST_CASE("soak: crashes in a row through the default helper - each report received once - none lost - a clean helper.log", "[upload][soak]") {
    const int runs = soak_runs();
    const std::string dir = fresh("soak");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const double started = now_seconds();
    std::string failure;
    const bool crashed = crash_loop(db.root, {"url=" + server.url(), "max_reports=0"}, runs, &failure);
    INFO(failure);
    REQUIRE(crashed);
    REQUIRE(db.wait_helpers_done(static_cast<std::size_t>(runs), 60));
    WARN("soak: " << runs << " crashes in a row, all sent, in " << now_seconds() - started << " s");
    check_exactly_once(server, db, static_cast<std::size_t>(runs));
}

TEST_CASE("two applications crash 50 times each at once on one database - each report received once - none lost", "[upload][soak]") {
    const int runs = std::max(1, soak_runs() / 4);
    const std::string dir = fresh("two-apps");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    std::string failure_one, failure_two;
    bool ok_one = false, ok_two = false;
    std::thread one([&] { ok_one = crash_loop(db.root, {"url=" + server.url(), "max_reports=0", "product=AppOne"}, runs, &failure_one); });
    std::thread two([&] { ok_two = crash_loop(db.root, {"url=" + server.url(), "max_reports=0", "product=AppTwo"}, runs, &failure_two); });
    one.join();
    two.join();
    INFO(failure_one << failure_two);
    REQUIRE(ok_one);
    REQUIRE(ok_two);
    REQUIRE(db.wait_helpers_done(2 * static_cast<std::size_t>(runs), 60));
    check_exactly_once(server, db, 2 * static_cast<std::size_t>(runs));
    std::map<std::string, int> products;
    for (const auto& f : server.folders()) products[server.fields_in(f)["prod"].str()] += 1;
    CHECK(products["AppOne"] == runs);
    CHECK(products["AppTwo"] == runs);
}

TEST_CASE("two instances of one application crash at once on one database - each report received once", "[upload][soak]") {
    const int runs = std::max(1, soak_runs() / 8);
    const std::string dir = fresh("two-instances");
    collector server;
    server.start(dir, {"--reply-delay", "0.2"});  // uploads overlap the next start()s
    const database_view db{dir + "/db"};
    std::string failure_one, failure_two;
    bool ok_one = false, ok_two = false;
    std::thread one([&] { ok_one = crash_loop(db.root, {"url=" + server.url(), "max_reports=0"}, runs, &failure_one); });
    std::thread two([&] { ok_two = crash_loop(db.root, {"url=" + server.url(), "max_reports=0"}, runs, &failure_two); });
    one.join();
    two.join();
    INFO(failure_one << failure_two);
    REQUIRE(ok_one);
    REQUIRE(ok_two);
    REQUIRE(db.wait_helpers_done(2 * static_cast<std::size_t>(runs), 60));
    check_exactly_once(server, db, 2 * static_cast<std::size_t>(runs));
}

TEST_CASE("crash loop: a new start() while the last helper still sends does not send the report again", "[upload]") {
    const std::string dir = fresh("crash-loop");
    collector server;
    server.start(dir, {"--reply-delay", "1.5"});  // each upload takes 1.5 s
    const database_view db{dir + "/db"};
    // Five crashes in a row, each start() while the previous helpers are still sending: every
    // new helper sees the earlier reports pending and must leave them to their senders.
    for (int i = 0; i < 5; ++i) REQUIRE(run_app("crash", db.root, {"url=" + server.url()}).signal() == SIGSEGV);
    // And an application that lives on while they send (its helper keeps looking).
    REQUIRE(run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=2500"}).exit_code() == 0);
    REQUIRE(db.wait_helpers_done(6, 60));
    check_exactly_once(server, db, 5);
}

TEST_CASE("crash loop: the helper that held a report is killed mid-upload - the next helper sends it", "[upload]") {
    const std::string dir = fresh("claim-dies");
    collector server;
    server.start(dir, {"--reply-delay", "3"});
    const database_view db{dir + "/db"};
    REQUIRE(run_app("crash", db.root, {"url=" + server.url()}).signal() == SIGSEGV);
    REQUIRE(eventually(20, [&] { return server.count() == 1; }));  // the first helper is sending
    const std::vector<int> first = db.helper_pids();
    REQUIRE(first.size() == 1);
    background_process app;
    REQUIRE(app.start({k_target, "start_only", db.root, "url=" + server.url(), "wait_ms=8000", "abnormal=0"}, dir + "/app.log"));
    REQUIRE(eventually(10, [&] { return db.helper_pids().size() == 2; }));
    usleep(300000);  // the second helper has found the report claimed
    CHECK(server.count() == 1);
    REQUIRE(kill(first[0], SIGKILL) == 0);
    // The claim died with its holder: the second helper takes the report over and sends it.
    REQUIRE(eventually(15, [&] { return db.ids("completed").size() == 1; }));
    CHECK(db.ids("pending").empty());
    CHECK(server.count() == 2);  // the first request was never answered
    app.stop();
}

TEST_CASE("pruning never removes a report while it is being sent - nor a newer one in its place", "[upload]") {
    const std::string dir = fresh("prune-race");
    collector server;
    server.start(dir, {"--reply-delay", "2"});
    const database_view db{dir + "/db"};
    // max_reports=1: the second crash is stored while the first is still being sent, and its
    // pruning finds the first one over the bound.
    REQUIRE(run_app("crash", db.root, {"url=" + server.url(), "max_reports=1"}).signal() == SIGSEGV);
    REQUIRE(eventually(20, [&] { return server.count() == 1; }));
    REQUIRE(run_app("crash", db.root, {"url=" + server.url(), "max_reports=1"}).signal() == SIGSEGV);
    REQUIRE(db.wait_helpers_done(2, 30));
    const auto received = server.received_ids();
    CHECK(received.size() == 2);
    CHECK(server.count() == 2);
    const auto problems = db.problem_lines();
    INFO("helper.log problems:\n" << join_lines(problems));
    CHECK(problems.empty());  // e.g. "could not complete ...: No such file or directory"
    CHECK(db.ids("pending").empty());
    // Both were recorded as sent (the one being sent was passed over, and not counted, so the
    // new one was not removed in its place); the next start's pruning restores the bound.
    CHECK(db.ids("completed").size() == 2);
    REQUIRE(run_app("start_only", db.root, {"max_reports=1"}).exit_code() == 0);
    REQUIRE(db.wait_helpers_done(3, 30));
    CHECK(db.ids("completed").size() == 1);
}

TEST_CASE("linger: after the application has gone the helper sends for at most helper_linger_ms - the rest waits for the next start", "[upload]") {
    const std::string dir = fresh("linger");
    const database_view db{dir + "/db"};
    {
        collector hanging;
        hanging.start(dir + "/hang", {"--hang"});
        const double started = now_seconds();
        REQUIRE(run_app("crash", db.root, {"url=" + hanging.url(), "timeout_ms=60000", "linger_ms=1500"}).signal() == SIGSEGV);
        const double crashed = now_seconds();
        REQUIRE(db.wait_helpers_done(1, 30));
        const double gone = now_seconds();
        WARN("linger 1500 ms: the helper left " << gone - crashed << " s after the crash (" << crashed - started << " s to crash)");
        CHECK(gone - crashed < 1.5 + 1.0);
        const std::vector<int> pids = db.helper_pids();
        REQUIRE(pids.size() == 1);
        CHECK(eventually(2, [&] { return !file_exists("/proc/" + std::to_string(pids[0]) + "/stat"); }));
        CHECK(hanging.count() == 1);  // the attempt had reached the server
        CHECK(db.helper_log().find("linger time (1500 ms) over") != std::string::npos);
    }
    REQUIRE(db.ids("pending").size() == 1);
    collector server;
    server.start(dir);
    REQUIRE(run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=300"}).exit_code() == 0);
    REQUIRE(db.wait_helpers_done(2, 30));
    CHECK(server.count() == 1);
    CHECK(db.ids("pending").empty());
    CHECK(db.ids("completed").size() == 1);
}

TEST_CASE("helper.log is rotated at its cap into helper.log.1", "[upload]") {
    const std::string dir = fresh("log-cap");
    const database_view db{dir + "/db"};
    run_process({"mkdir", "-p", db.root}, 30);
    // max_database_bytes 256 KiB: the log's cap is 256 KiB / 16 = 16 KiB. A log just under it,
    // and an older rotated one of 100 KiB (from a run with a larger cap).
    std::string line = "2026-01-01T00:00:00Z crashdrop-helper[1]: an old line of the log, padded .........\n", log;
    while (log.size() + line.size() < 16 * 1024 - 100) log += line;
    std::ofstream(db.root + "/helper.log") << log;
    std::ofstream(db.root + "/helper.log.1") << std::string(100 * 1024, 'x');
    for (int i = 0; i < 3; ++i) REQUIRE(run_app("crash", db.root, {"max_database_bytes=262144"}).signal() == SIGSEGV);
    REQUIRE(db.wait_helpers_done(3, 30));
    const long long now = file_size(db.root + "/helper.log"), old = file_size(db.root + "/helper.log.1");
    INFO("helper.log " << now << " bytes, helper.log.1 " << old << " bytes");
    CHECK(now > 0);
    CHECK(now < 8 * 1024);  // started anew
    CHECK(old >= 16 * 1024);
    CHECK(old < 16 * 1024 + 1024);  // rotated at its cap (a line or so past it)
    const std::string previous = read_text_file(db.root + "/helper.log.1");
    CHECK(previous.rfind(log, 0) == 0);  // the old lines, then the first helper's until it reached the cap
    CHECK(previous.find("helper started") != std::string::npos);
    CHECK(db.count_in_logs("helper exits") == 3);  // no line lost in the rotation
    CHECK(db.count_in_logs("persisted report") == 3);
}

TEST_CASE("the helper's logs count against max_database_bytes", "[upload]") {
    const std::string dir = fresh("log-counted");
    const database_view db{dir + "/db"};
    run_process({"mkdir", "-p", db.root}, 30);
    // 128 KiB in all; a rotated log of 60 KiB takes half of it (the cap, 16 KiB, is not reached
    // by this run's lines, so it stays). Dumps are about 22 KB.
    std::ofstream(db.root + "/helper.log.1") << std::string(60 * 1024, 'x');
    const long long limit = 128 * 1024;
    for (int i = 0; i < 6; ++i) {
        REQUIRE(run_app("crash", db.root, {"max_database_bytes=" + std::to_string(limit)}).signal() == SIGSEGV);
        REQUIRE(db.wait_helpers_done(static_cast<std::size_t>(i) + 1, 30));
    }
    long long reports = 0;
    for (const char* folder : {"pending", "completed"}) {
        for (const auto& n : list_dir(db.root + "/" + folder)) reports += file_size(db.root + "/" + folder + "/" + n);
    }
    const long long logs = file_size(db.root + "/helper.log") + file_size(db.root + "/helper.log.1");
    INFO(db.ids("pending").size() << " reports kept: " << reports << " bytes; logs " << logs << " bytes");
    CHECK(file_size(db.root + "/helper.log.1") == 60 * 1024);
    // With the logs counted, reports + logs fit (about 2 reports); without, 5 reports alone
    // would (about 115 KB) and with the logs they would not.
    CHECK(reports + logs <= limit + 1024);  // + the lines written after the last pruning
    CHECK(!db.ids("pending").empty());
    CHECK(db.ids("pending").size() < 5);
}

TEST_CASE("disk full: the helper sends the dump from memory - and with no server either the app still dies by its signal at once", "[upload][diskfull]") {
    if (geteuid() != 0) {
        WARN("SKIPPED: a full disk is made with a small tmpfs in a private mount namespace, which needs root");
        return;
    }
    const std::string dir = fresh("disk-full");
    // This test process gets its own mount namespace: the tmpfs is seen by it and its children
    // (the app and its helper) only, and goes away with them.
    REQUIRE(unshare(CLONE_NEWNS) == 0);
    REQUIRE(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
    const std::string disk = dir + "/disk";
    run_process({"mkdir", "-p", disk}, 30);
    REQUIRE(mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=1m,mode=0700") == 0);
    const database_view db{disk + "/db"};
    collector server;
    server.start(dir);
    // 8 KiB left: room for the log's lines, not for a dump (about 22 KB).
    const run_result app = run_app("crash", db.root, {"url=" + server.url(), "fill_disk=8192"});
    INFO(app.describe() << db.helper_log());
    REQUIRE(app.signal() == SIGSEGV);
    CHECK(app.seconds < 3);
    REQUIRE(db.wait_helpers_done(1, 30));
    REQUIRE(server.count() == 1);
    const std::string folder = server.folders()[0];
    const std::string dump = read_text_file(server.dir + "/" + folder + "/files/upload_file_minidump");
    CHECK(dump.compare(0, 4, "MDMP") == 0);
    CHECK(server.received_ids().size() == 1);
    CHECK(db.ids("pending").empty());  // it was never stored
    CHECK(db.helper_log().find("No space left on device") != std::string::npos);
    CHECK(db.helper_log().find("from memory (server id") != std::string::npos);

    // Neither the disk nor the network: the application still dies by its own signal, at once.
    int dead_port = 0;
    {
        collector probe;
        probe.start(dir + "/probe");
        dead_port = probe.port;
    }
    const run_result lost = run_app("crash", db.root, {"url=http://127.0.0.1:" + std::to_string(dead_port) + "/submit", "fill_disk=8192", "linger_ms=2000"});
    INFO(lost.describe() << db.helper_log());
    CHECK(lost.signal() == SIGSEGV);
    CHECK(lost.seconds < 3);
    REQUIRE(db.wait_helpers_done(2, 30));
    CHECK(db.helper_log().find("from memory: ") != std::string::npos);  // could not send ... from memory: why
    CHECK(db.helper_log().find("could be neither stored nor sent") != std::string::npos);
    umount2(disk.c_str(), MNT_DETACH);
}
