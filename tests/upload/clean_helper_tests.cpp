// clean_helper_tests - the helper runs no code of the application it serves: the re-exec helper
// is entered from .preinit_array before any constructor and main() (issue 13 part 4), and the
// fork-mode helper of a host with hostile threads is a clean exec'd process (part 5).
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/process.hpp"
#include "../support/upload_support.hpp"

using namespace testsupport;

// Under AddressSanitizer (tools/test_sanitizers.sh) malloc_stats() is ASan's and takes no glibc
// arena lock: the probe has nothing to probe there.
#if defined(__SANITIZE_ADDRESS__)
#define CLEAN_HELPER_TESTS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLEAN_HELPER_TESTS_ASAN 1
#endif
#endif
#ifndef CLEAN_HELPER_TESTS_ASAN
#define CLEAN_HELPER_TESTS_ASAN 0
#endif

namespace {

const std::string k_work = UPLOAD_TEST_WORKDIR;
const std::string k_target = UPLOAD_TARGET;

/// The lines of a file that are not empty.
std::vector<std::string> lines_of(const std::string& path) {
    std::vector<std::string> out;
    for (const auto& l : split(read_text_file(path), '\n')) {
        if (!l.empty()) out.push_back(l);
    }
    return out;
}

/// A field of /proc/<pid>/smaps_rollup, in KiB; -1 when it cannot be read.
long long smaps_rollup_kib(int pid, const std::string& field) {
    const std::string text = read_text_file("/proc/" + std::to_string(pid) + "/smaps_rollup");
    const auto at = text.find("\n" + field + ":");
    return at == std::string::npos ? -1 : std::atoll(text.c_str() + at + field.size() + 2);
}

std::string link_target(const std::string& path) {
    char buf[4096];
    const ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

int pid_after(const std::string& text, const std::string& what) {
    const auto at = text.find(what);
    return at == std::string::npos ? 0 : std::atoi(text.c_str() + at + what.size());
}

}  // namespace

TEST_CASE("the re-exec helper runs none of the application's code: a global constructor and main() before start() ran once",
          "[upload][helper]") {
    const std::string dir = fresh_folder(k_work + "/clean-helper/reexec");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const std::string effects = dir + "/side-effects.txt";
    const run_result app = run_process({k_target, "crash", db.root, "url=" + server.url()}, 60, {"UPLOAD_TARGET_SIDE_EFFECTS=" + effects});
    INFO(app.describe() << db.helper_log() << read_text_file(effects));
    CHECK(app.signal() == SIGSEGV);
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const int app_pid = pid_after(app.out, "app pid ");
    REQUIRE(app_pid > 0);
    const std::vector<std::string> want = {"constructor pid=" + std::to_string(app_pid), "main before start pid=" + std::to_string(app_pid)};
    CHECK(lines_of(effects) == want);  // once each, by the application; nothing by its helper
    const std::vector<int> helpers = db.helper_pids();
    REQUIRE(helpers.size() == 1);
    CHECK(helpers[0] != app_pid);
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(server.received_ids() == std::map<std::string, int>{{done[0], 1}});
    CHECK(db.problem_lines().empty());
}

TEST_CASE("with a custom transport (application code in the helper) the re-exec helper still goes through main(): documented",
          "[upload][helper]") {
    const std::string dir = fresh_folder(k_work + "/clean-helper/custom");
    const database_view db{dir + "/db"};
    const std::string effects = dir + "/side-effects.txt";
    const run_result app = run_process({k_target, "custom_transport_crash", db.root}, 60, {"UPLOAD_TARGET_SIDE_EFFECTS=" + effects});
    INFO(app.describe() << db.helper_log() << read_text_file(effects));
    CHECK(app.signal() == SIGSEGV);
    REQUIRE(db.wait_helpers_done(1));
    REQUIRE(db.ids("completed").size() == 1);
    const std::vector<int> helpers = db.helper_pids();
    REQUIRE(helpers.size() == 1);
    // The constructor and main() ran in the application and again in its helper, until start().
    const std::vector<std::string> lines = lines_of(effects);
    CHECK(lines.size() == 4);
    CHECK(std::count(lines.begin(), lines.end(), "main before start pid=" + std::to_string(helpers[0])) == 1);
}

TEST_CASE("glibc's fork() waits for a malloc arena lock another thread holds: a helper launch must not use it", "[upload][helper]") {
    // The hazard hostile_host sets up is real: a thread in malloc_stats() blocked on a full
    // stderr pipe holds the main arena's lock, and fork() (its atfork locking of every arena)
    // does not return.
    const std::string dir = fresh_folder(k_work + "/clean-helper/probe");
    const run_result probe = run_process({HOSTILE_HOST, "probe_fork", dir}, 30);
    INFO(probe.describe());
    if (CLEAN_HELPER_TESTS_ASAN) {
        WARN("AddressSanitizer replaces malloc_stats(): no arena lock is held, fork() " << probe.out);
        return;
    }
    CHECK(probe.out == "fork blocked\n");
}

namespace {

/// hostile_host with `plugin` (fork-mode helper) in `dir`: the hazards in place, start(), the
/// 512 MiB heap rewritten, then the crash. Checks what holds for every clean helper there:
/// start() returned, the helper is the dynamic loader exec'd (not a copy of the host) with
/// Private_Dirty <= 16 MiB, the report is stored by it and sent once. Returns the helper's pid.
int check_hostile_host(const std::string& dir, const std::string& plugin, const std::vector<std::string>& env = {}) {
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    run_result host;
    std::thread runner([&] {
        // The resolver stand-in is preloaded first: ASan's check that its runtime comes first is off.
        const char* asan = std::getenv("ASAN_OPTIONS");
        std::vector<std::string> with = {std::string("LD_PRELOAD=") + SLOW_RESOLVER,
                                         std::string("ASAN_OPTIONS=") + (asan != nullptr ? asan : "") + ":verify_asan_link_order=0"};
        with.insert(with.end(), env.begin(), env.end());
        host = run_process({HOSTILE_HOST, "run", plugin, BLOCKING_CTOR, db.root, server.url(), dir, "512"}, 120, with);
    });
    struct join_at_end {
        std::thread& t;
        std::string go;
        ~join_at_end() {
            std::ofstream(go) << "go";  // never leave the host waiting
            if (t.joinable()) t.join();
        }
    } joiner{runner, dir + "/go"};
    const bool rewritten = eventually(90, [&] { return file_exists(dir + "/rewritten") || (file_exists(dir + "/started") && read_text_file(dir + "/started") != "ok"); });
    INFO(read_text_file(dir + "/started") << "\n" << db.helper_log());
    CHECK(read_text_file(dir + "/started") == "ok");  // start() returned: the launch waited for no lock
    REQUIRE(rewritten);
    REQUIRE(file_exists(dir + "/rewritten"));
    REQUIRE(eventually(20, [&] { return db.helper_pids().size() == 1; }));
    const int helper = db.helper_pids()[0];
    // A clean process: the dynamic loader exec'd with the plugin preloaded, not a copy of the host.
    const std::string helper_exe = link_target("/proc/" + std::to_string(helper) + "/exe");
    CHECK(helper_exe.find("hostile_host") == std::string::npos);
    CHECK(helper_exe.find("ld-linux") != std::string::npos);
    const long long private_dirty = smaps_rollup_kib(helper, "Private_Dirty");
    INFO("helper " << helper << " (" << helper_exe << "): Private_Dirty " << private_dirty << " KiB");
    CHECK(private_dirty >= 0);
    CHECK(private_dirty <= 16 * 1024);  // under ASan too (measured 5.4 MiB there)
    WARN("helper Private_Dirty after the host rewrote 512 MiB: " << private_dirty << " KiB");
    std::ofstream(dir + "/go") << "go";
    runner.join();
    INFO(host.describe() << db.helper_log());
    CHECK(host.signal() == SIGSEGV);
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(server.received_ids() == std::map<std::string, int>{{done[0], 1}});
    CHECK(db.helper_log().find("persisted report") != std::string::npos);  // the helper stored it
    return helper;
}

}  // namespace

TEST_CASE("the fork-mode helper of a plugin in a hostile host (held stdio, loader and malloc locks, a lookup that never answers) "
          "stores and sends the report - a clean process under 16 MiB Private_Dirty while the host rewrites 512 MiB",
          "[upload][helper]") {
    const std::string dir = fresh_folder(k_work + "/clean-helper/hostile-host");
    const std::string effects = dir + "/side-effects.txt";
    const int helper = check_hostile_host(dir, HOSTILE_PLUGIN, {"HOSTILE_HOST_SIDE_EFFECTS=" + effects});
    CHECK(database_view{dir + "/db"}.problem_lines().empty());
    // Nothing of the host was loaded in the helper: its library's constructor, its own and main()
    // ran once each, in the host.
    const std::vector<std::string> lines = lines_of(effects);
    INFO(read_text_file(effects));
    REQUIRE(lines.size() == 3);
    const std::string host_pid = std::to_string(pid_after(lines[2], "host main pid="));
    CHECK(host_pid != std::to_string(helper));
    CHECK(lines == std::vector<std::string>{"host library constructor pid=" + host_pid, "host constructor pid=" + host_pid,
                                            "host main pid=" + host_pid});
}

TEST_CASE("a plugin that needs data its host exports gets a clean fork-mode helper too - the host executable as the loader's "
          "program, the host's own constructors and main() not run in it",
          "[upload][helper]") {
    // hostile_plugin_needs_host cannot be loaded on its own (as a Python extension module
    // refers to _Py_NoneStruct): the loader with libdl.so.2 as the program ends at once, and
    // start() runs the loader again with hostile_host as the program.
    const std::string dir = fresh_folder(k_work + "/clean-helper/needs-host");
    const std::string effects = dir + "/side-effects.txt";
    const int helper = check_hostile_host(dir, HOSTILE_PLUGIN_NEEDS_HOST, {"HOSTILE_HOST_SIDE_EFFECTS=" + effects});
    const std::vector<std::string> lines = lines_of(effects);
    INFO(read_text_file(effects));
    REQUIRE(lines.size() == 4);
    const int host_pid = pid_after(lines[2], "host main pid=");
    REQUIRE(host_pid > 0);
    CHECK(host_pid != helper);
    // The host's own constructor and main() ran once, in the host. The constructor of the host
    // executable's library ran in the helper too: glibc initialises the program's libraries
    // before a preloaded object that does not depend on them (documented).
    const std::vector<std::string> want = {"host library constructor pid=" + std::to_string(host_pid),
                                           "host constructor pid=" + std::to_string(host_pid),
                                           "host main pid=" + std::to_string(host_pid),
                                           "host library constructor pid=" + std::to_string(helper)};
    CHECK(lines == want);
    // The first try's end is in the log (the loader's own message), no other problem.
    const std::vector<std::string> problems = database_view{dir + "/db"}.problem_lines();
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("hostile_host_data") != std::string::npos);
}
