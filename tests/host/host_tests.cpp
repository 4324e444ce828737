// host_tests - crashdrop living inside someone else's process. Each test runs tests/host/host (a
// program with its own SIGSEGV/SIGBUS/SIGABRT handler and no crashdrop) in a child process with a
// script: it loads plugins that embed their own copies of crashdrop (plugin_a and plugin_c: this
// version; plugin_b: the same code as version 0.0.9 in another inline namespace), crashes
// somewhere, unloads, replaces handlers... The test then looks at how the host ended, at what the
// host's handler wrote to stderr, and at every plugin's crash database: the dumps that must be
// there (read with Breakpad's minidump_stackwalk and minidump_dump: reason, address, the frames of
// the crashing thread, whose annotations) and the dumps that must not.
//
// Chaining order: a signal goes first to the handler installed last. With the host's handler H
// installed at startup, then plugin A's crashdrop, then plugin B's, a fault runs B -> A -> H.
// With only_this_module a copy that does not own the crash calls the handler it replaced
// directly (and stays installed); without it, a copy writes its dump, puts the handler it
// replaced back and lets the fault happen again, so the next handler in the chain runs.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <initializer_list>
#include <map>
#include <set>

#include "../support/minidump_file.hpp"
#include "../support/process.hpp"
#include "../support/readers.hpp"

using namespace testsupport;

#if !defined(HOST_EXE) || !defined(PLUGIN_A) || !defined(PLUGIN_B) || !defined(PLUGIN_C) || !defined(HOST_TEST_WORKDIR)
#error "HOST_EXE, PLUGIN_A, PLUGIN_B, PLUGIN_C and HOST_TEST_WORKDIR must be defined by the build"
#endif

namespace {

const std::string k_workdir = HOST_TEST_WORKDIR;

struct plugin_info {
    std::string name;     // the host's name for it: "a"
    std::string path;     // the .so
    std::string module;   // its file name, as dumps and dladdr name it
    std::string product;  // Options::product_name it starts crashdrop with
    std::string fault;    // the address its crash-plugin writes to
    std::string db() const { return "db-" + name; }
};

const plugin_info A{"a", PLUGIN_A, "plugin_a.so", "plugin_a", "0x41"};
const plugin_info B{"b", PLUGIN_B, "plugin_b.so", "plugin_b", "0x42"};  // crashdrop 0.0.9
const plugin_info C{"c", PLUGIN_C, "plugin_c.so", "plugin_c", "0x43"};  // this version again
const std::string k_host_fault = "0x48";
const std::string k_other_version = "0.0.9";  // tests/host/CMakeLists.txt and meson.build

using words = std::vector<std::string>;

/// "load <name> <so> @db-<name> [flags]" ("@x" becomes <run dir>/x).
words load(const plugin_info& p, const words& flags = {}) {
    words w = {"load", p.name, p.path, "@" + p.db()};
    w.insert(w.end(), flags.begin(), flags.end());
    return w;
}

words script(std::initializer_list<words> parts) {
    words all;
    for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
    return all;
}

std::vector<std::string> list_files(const std::string& folder, const std::string& suffix) {
    std::vector<std::string> out;
    if (DIR* d = opendir(folder.c_str())) {
        while (dirent* e = readdir(d)) {
            const std::string n = e->d_name;
            if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
                out.push_back(folder + "/" + n);
            }
        }
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

int count_of(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

struct host_run {
    std::string dir;
    words argv;
    run_result run;

    std::string path(const std::string& rel) const { return dir + "/" + rel; }
    /// Every .dmp anywhere in a plugin's database (pending/ and completed/).
    std::vector<std::string> dumps(const plugin_info& p) const {
        auto d = list_files(path(p.db() + "/pending"), ".dmp");
        auto c = list_files(path(p.db() + "/completed"), ".dmp");
        d.insert(d.end(), c.begin(), c.end());
        return d;
    }
    bool out_has(const std::string& s) const { return run.out.find(s) != std::string::npos; }
    bool err_has(const std::string& s) const { return run.err.find(s) != std::string::npos; }
    /// The version a plugin reported when the host loaded it ("" when its start() failed).
    std::string version_of(const plugin_info& p) const {
        const std::string key = "loaded " + p.name + ": ok version=";
        const auto at = run.out.find(key);
        if (at == std::string::npos) return "";
        return run.out.substr(at + key.size(), run.out.find('\n', at) - at - key.size());
    }
    std::string describe() const {
        std::string cmd;
        for (const auto& w : argv) cmd += w + " ";
        return "run directory: " + dir + "\ncommand: " + cmd + "\nhost: " + run.describe();
    }
};

host_run run_host(words script_words, double timeout = 60) {
    static int counter = 0;
    host_run h;
    h.dir = k_workdir + "/runs/" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    run_process({"rm", "-rf", h.dir}, 30);
    run_process({"mkdir", "-p", h.dir}, 30);
    for (auto& w : script_words) {
        if (!w.empty() && w[0] == '@') w = h.dir + "/" + w.substr(1);
    }
    h.argv = {HOST_EXE};
    h.argv.insert(h.argv.end(), script_words.begin(), script_words.end());
    h.run = run_process(h.argv, timeout, {}, h.dir);
    return h;
}

/// The host's own handler ran for this signal and fault address (e.g. "SIGSEGV", "0x41").
std::string host_marker(const std::string& sig, const std::string& addr = "") {
    return "host-handler: " + sig + (addr.empty() ? "" : " addr=" + addr);
}

bool readers_available() {
    const auto& t = tools();
    if (t.breakpad) return true;
    if (t.required) {
        FAIL("Breakpad's readers (minidump_stackwalk, minidump_dump, dump_syms in CRASHDROP_MINIDUMP_TOOLS) are "
             "missing and CRASHDROP_REQUIRE_READERS=1");
    }
    WARN("Breakpad's readers missing: only the dumps' own structure is checked (set CRASHDROP_MINIDUMP_TOOLS)");
    return false;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " | ") + x;
    return s;
}

/// Do the frames contain `want` in this order, one after the other (from the top when from_top)?
bool frames_match(const std::vector<std::string>& actual, const std::vector<std::string>& want, bool from_top) {
    for (std::size_t start = 0; start + want.size() <= actual.size(); ++start) {
        if (from_top && start > 0) break;
        if (std::equal(want.begin(), want.end(), actual.begin() + static_cast<std::ptrdiff_t>(start))) return true;
    }
    return false;
}

struct dump_expect {
    std::string product;             // annotation prod: whose crashdrop wrote it
    std::string version;             // annotation ver: which version of crashdrop
    std::string reason;              // minidump_stackwalk's crash reason starts with this
    std::string address;             // crash address ("" = not checked)
    std::vector<std::string> frames; // consecutive frames of the crashing thread
    bool frames_from_top = true;
    std::string top_module;          // module of the crashing thread's frame 0 ("" = not checked)
    int threads = 0;                 // thread count (0 = not checked)
};

/// Reads one dump with minidump_file (always) and Breakpad's readers (when there).
void check_dump(const std::string& dump, const dump_expect& e) {
    INFO("dump " << dump);
    minidump_file md;
    REQUIRE(md.load(dump));
    const auto tids = md.thread_ids();
    CHECK(!tids.empty());
    if (e.threads > 0) CHECK(static_cast<int>(tids.size()) == e.threads);
    const std::string writer_errors = md.stream_bytes(0x43440001u);
    INFO("writer errors: " << writer_errors);
    CHECK(writer_errors.find("did not answer") == std::string::npos);
    if (!readers_available()) return;

    const std::string symbols = k_workdir + "/symbols";
    for (const auto& m : md.modules()) {
        const std::string& file = m.second;
        if (!file.empty() && file[0] == '/' && file_exists(file)) ensure_symbols(symbols, file);
    }
    stackwalk_result sw = stackwalk(dump, symbols);
    INFO("minidump_stackwalk:\n" << sw.run.out.substr(0, 12000));
    REQUIRE(sw.run.exit_code() == 0);
    if (!e.reason.empty()) CHECK(sw.reason.rfind(e.reason, 0) == 0);
    if (!e.address.empty()) {
        CHECK(std::strtoull(sw.address.c_str(), nullptr, 16) == std::strtoull(e.address.c_str(), nullptr, 16));
    }
    REQUIRE(sw.crash_thread >= 0);
    const auto frames = sw.functions(sw.crash_thread);
    INFO("crashing thread: " << join(frames));
    if (!e.frames.empty()) CHECK(frames_match(frames, e.frames, e.frames_from_top));
    if (!e.top_module.empty()) {
        REQUIRE(!sw.threads[sw.crash_thread].empty());
        CHECK(sw.threads[sw.crash_thread][0].module == e.top_module);
    }
    dump_result dd = minidump_dump(dump);
    INFO("minidump_dump annotations: prod=" << dd.annotations["prod"] << " ver=" << dd.annotations["ver"]);
    if (!e.product.empty()) CHECK(dd.annotations["prod"] == e.product);
    if (!e.version.empty()) CHECK(dd.annotations["ver"] == e.version);
}

/// What a plugin's own SIGSEGV in crash-plugin looks like in its dump.
dump_expect plugin_crash(const plugin_info& p, const std::string& version) {
    dump_expect e;
    e.product = p.product;
    e.version = version;
    e.reason = "SIGSEGV";
    e.address = p.fault;
    e.frames = {p.product + "_crash_leaf", "hostplug_crash"};
    e.top_module = p.module;
    return e;
}

/// A host crash (crash-host) as a copy of crashdrop that is not filtering records it.
dump_expect host_crash(const plugin_info& p, const std::string& version) {
    dump_expect e;
    e.product = p.product;
    e.version = version;
    e.reason = "SIGSEGV";
    e.address = k_host_fault;
    e.frames = {"host_crash_leaf"};
    e.top_module = "host";
    return e;
}

void require_loaded(const host_run& h, const plugin_info& p) {
    INFO("plugin " << p.name);
    REQUIRE(!h.version_of(p).empty());  // its crashdrop::start() said ok
}

void require_died_of(const host_run& h, int sig) {
    REQUIRE(h.run.signaled());
    CHECK(h.run.signal() == sig);
}

}  // namespace

// ---- one plugin, crashes in the host and in the plugin ----------------------------------------

TEST_CASE("a host crash is captured and then the host's handler runs - with only_this_module it is passed on untouched", "[host]") {
    SECTION("only_this_module off: a dump of the host's crash, and the host's handler still runs") {
        host_run h = run_host(script({load(A), {"print-handler", "crash-host"}}));
        INFO(h.describe());
        require_loaded(h, A);
        CHECK(h.out_has("handler SIGSEGV: plugin_a.so"));  // crashdrop's handler is on top
        require_died_of(h, SIGSEGV);
        CHECK(h.err_has(host_marker("SIGSEGV", k_host_fault)));
        const auto dumps = h.dumps(A);
        REQUIRE(dumps.size() == 1);
        check_dump(dumps[0], host_crash(A, h.version_of(A)));
    }
    SECTION("only_this_module on: no dump, the host's handler runs and the host dies as it would have") {
        host_run h = run_host(script({load(A, {"only"}), {"print-handler", "crash-host"}}));
        INFO(h.describe());
        require_loaded(h, A);
        CHECK(h.out_has("handler SIGSEGV: plugin_a.so"));  // the crash went through crashdrop's handler
        require_died_of(h, SIGSEGV);
        CHECK(count_of(h.run.err, host_marker("SIGSEGV", k_host_fault)) == 1);
        CHECK(h.dumps(A).empty());
    }
}

TEST_CASE("a plugin crash is captured and the host's handler still runs after it", "[host]") {
    for (const bool only : {false, true}) {
        INFO("only_this_module " << only);
        host_run h = run_host(script({load(A, only ? words{"only"} : words{}), {"crash-plugin", "a"}}));
        INFO(h.describe());
        require_loaded(h, A);
        require_died_of(h, SIGSEGV);
        CHECK(count_of(h.run.err, host_marker("SIGSEGV", A.fault)) == 1);
        const auto dumps = h.dumps(A);
        REQUIRE(dumps.size() == 1);
        check_dump(dumps[0], plugin_crash(A, h.version_of(A)));
    }
}

TEST_CASE("abort() in the plugin is captured but abort() in the host is not with only_this_module", "[host]") {
    SECTION("the plugin aborts: SIGABRT with the plugin's frames on the stack") {
        host_run h = run_host(script({load(A, {"only"}), {"abort-plugin", "a"}}));
        INFO(h.describe());
        require_loaded(h, A);
        require_died_of(h, SIGABRT);
        CHECK(h.err_has(host_marker("SIGABRT")));
        const auto dumps = h.dumps(A);
        REQUIRE(dumps.size() == 1);
        dump_expect e;
        e.product = A.product;
        e.version = h.version_of(A);
        e.reason = "SIGABRT";
        e.frames = {"plugin_a_abort_leaf", "hostplug_abort"};
        e.frames_from_top = false;  // below abort() and raise() in libc
        check_dump(dumps[0], e);
    }
    SECTION("the host aborts: no dump, the host's handler runs, the host dies of SIGABRT") {
        host_run h = run_host(script({load(A, {"only"}), {"abort-host"}}));
        INFO(h.describe());
        require_loaded(h, A);
        require_died_of(h, SIGABRT);
        CHECK(h.err_has(host_marker("SIGABRT")));
        CHECK(h.dumps(A).empty());
    }
}

TEST_CASE("the plugin calls into the host which faults - with only_this_module it is the plugin's crash", "[host]") {
    // The faulting code and address are the host's; the plugin's frames below it make it the
    // plugin's crash.
    host_run h = run_host(script({load(A, {"only"}), {"plugin-calls-host-crash", "a"}}));
    INFO(h.describe());
    require_loaded(h, A);
    require_died_of(h, SIGSEGV);
    CHECK(count_of(h.run.err, host_marker("SIGSEGV", k_host_fault)) == 1);
    const auto dumps = h.dumps(A);
    REQUIRE(dumps.size() == 1);
    dump_expect e;
    e.product = A.product;
    e.version = h.version_of(A);
    e.reason = "SIGSEGV";
    e.address = k_host_fault;
    e.frames = {"host_callback_crash", "plugin_a_calls_host", "hostplug_call"};
    e.top_module = "host";
    check_dump(dumps[0], e);
}

TEST_CASE("a host crash whose stack holds a table of the plugin's function pointers is the host's under only_this_module",
          "[host]") {
    // Words pointing into the plugin's code are on the crashing stack, but as data: function
    // starts, one of them right after a call instruction (a function that follows a noreturn
    // call), none a return address. The plugin's own crash and a crash in host code the plugin
    // called stay the plugin's (the two tests above).
    host_run h = run_host(script({load(A, {"only"}), {"crash-host-holding", "a"}}));
    INFO(h.describe());
    require_loaded(h, A);
    CHECK(h.out_has("holding 14 plugin functions, "));
    CHECK(!h.out_has(", 0 right after a call"));  // the case only the function table tells apart is there
    require_died_of(h, SIGSEGV);
    CHECK(count_of(h.run.err, host_marker("SIGSEGV", k_host_fault)) == 1);
    CHECK(h.dumps(A).empty());
}

TEST_CASE("a host crash under a frame that still holds stale return addresses from an earlier call into the plugin is the host's under only_this_module",
          "[host]") {
    // The plugin's earlier call left real return addresses into its code in stack memory that a
    // later host frame reuses without writing: only the crashing thread's call chain (CFI walk)
    // tells them from live frames.
    host_run h = run_host(script({load(A, {"only"}), {"crash-host-after-plugin-call", "a"}}));
    INFO(h.describe());
    require_loaded(h, A);
    require_died_of(h, SIGSEGV);
    CHECK(count_of(h.run.err, host_marker("SIGSEGV", k_host_fault)) == 1);
    CHECK(h.dumps(A).empty());
}

TEST_CASE("a host that recovers from its own faults keeps running under only_this_module and plugin crashes are still captured",
          "[host]") {
    SECTION("control: the host recovers from its guard-page fault on its own") {
        host_run h = run_host({"host-fault-recover", "mark", "carried-on"});
        INFO(h.describe());
        CHECK(h.run.exit_code() == 0);
        CHECK(h.out_has("host-recovered\nmark carried-on\nhost-done"));
    }
    SECTION("with a filtering plugin: recovered twice, no dump, then the plugin's crash is captured") {
        host_run h = run_host(script({load(A, {"only"}),
                                      {"host-fault-recover", "host-fault-recover", "mark", "carried-on", "crash-plugin", "a"}}));
        INFO(h.describe());
        require_loaded(h, A);
        CHECK(count_of(h.run.out, "host-recovered\n") == 2);
        CHECK(h.out_has("mark carried-on"));
        require_died_of(h, SIGSEGV);
        CHECK(count_of(h.run.err, "host-handler:") == 1);  // only for the plugin's crash
        CHECK(h.err_has(host_marker("SIGSEGV", A.fault)));
        const auto dumps = h.dumps(A);
        REQUIRE(dumps.size() == 1);  // the recovered faults left none
        check_dump(dumps[0], plugin_crash(A, h.version_of(A)));
    }
    SECTION("the host still recovers after a filtering plugin was loaded and a dump was requested") {
        host_run h = run_host(script({load(A, {"only"}), {"dump", "a", "host-fault-recover", "mark", "carried-on"}}));
        INFO(h.describe());
        CHECK(h.run.exit_code() == 0);
        CHECK(h.out_has("host-recovered\nmark carried-on\nhost-done"));
        CHECK(h.dumps(A).size() == 1);  // the requested one only
    }
}

// ---- two plugins, two copies of crashdrop -----------------------------------------------------

TEST_CASE("two plugins each with its own crashdrop (also of another version) capture only their own crashes",
          "[host]") {
    // B (or C) is loaded after A, so the chain is B -> A -> host's handler.
    for (const plugin_info* second : {&B, &C}) {
        const plugin_info& S = *second;
        INFO("A and " << S.module);
        for (const std::string& crash : {std::string("a"), S.name, std::string("host")}) {
            INFO("crash in " << crash);
            const words crash_cmd = crash == "host" ? words{"crash-host"} : words{"crash-plugin", crash};
            host_run h = run_host(script({load(A, {"only"}), load(S, {"only"}), {"print-handler"}, crash_cmd}));
            INFO(h.describe());
            require_loaded(h, A);
            require_loaded(h, S);
            if (&S == &B) {
                CHECK(h.version_of(B) == k_other_version);
                CHECK(h.version_of(A) != k_other_version);
            } else {
                CHECK(h.version_of(C) == h.version_of(A));
            }
            CHECK(h.out_has("handler SIGSEGV: " + S.module));  // the last one installed is on top
            require_died_of(h, SIGSEGV);
            const std::string fault = crash == "a" ? A.fault : crash == "host" ? k_host_fault : S.fault;
            CHECK(count_of(h.run.err, host_marker("SIGSEGV", fault)) == 1);
            const auto dumps_a = h.dumps(A);
            const auto dumps_s = h.dumps(S);
            if (crash == "a") {
                CHECK(dumps_s.empty());
                REQUIRE(dumps_a.size() == 1);
                check_dump(dumps_a[0], plugin_crash(A, h.version_of(A)));
            } else if (crash == S.name) {
                CHECK(dumps_a.empty());
                REQUIRE(dumps_s.size() == 1);
                check_dump(dumps_s[0], plugin_crash(S, h.version_of(S)));
            } else {
                CHECK(dumps_a.empty());
                CHECK(dumps_s.empty());
            }
        }
    }
}

TEST_CASE("without only_this_module a host crash goes through the chain B -> A -> host - both dump and the host's handler runs last",
          "[host]") {
    SECTION("neither filters: one dump in each database") {
        host_run h = run_host(script({load(A), load(B), {"crash-host"}}));
        INFO(h.describe());
        require_loaded(h, A);
        require_loaded(h, B);
        require_died_of(h, SIGSEGV);
        CHECK(count_of(h.run.err, host_marker("SIGSEGV", k_host_fault)) == 1);
        const auto dumps_a = h.dumps(A);
        const auto dumps_b = h.dumps(B);
        REQUIRE(dumps_a.size() == 1);
        REQUIRE(dumps_b.size() == 1);
        check_dump(dumps_a[0], host_crash(A, h.version_of(A)));
        check_dump(dumps_b[0], host_crash(B, h.version_of(B)));
    }
    SECTION("B (on top) filters and passes the crash on; A below it records it") {
        host_run h = run_host(script({load(A), load(B, {"only"}), {"crash-host"}}));
        INFO(h.describe());
        require_loaded(h, A);
        require_loaded(h, B);
        require_died_of(h, SIGSEGV);
        CHECK(count_of(h.run.err, host_marker("SIGSEGV", k_host_fault)) == 1);
        CHECK(h.dumps(B).empty());
        const auto dumps_a = h.dumps(A);
        REQUIRE(dumps_a.size() == 1);
        check_dump(dumps_a[0], host_crash(A, h.version_of(A)));
    }
}

TEST_CASE("two copies of crashdrop each use their own capture signal - write_dump() in either lists every thread",
          "[host]") {
    host_run h = run_host(script({{"spawn-threads", "2"}, load(A, {"only"}), load(B, {"only"}),
                                  {"dump", "a", "dump", "b", "mark", "done"}}));
    INFO(h.describe());
    require_loaded(h, A);
    require_loaded(h, B);
    REQUIRE(h.run.exit_code() == 0);
    CHECK(h.out_has("dump a: ok "));
    CHECK(h.out_has("dump b: ok "));
    const auto at = h.run.out.find(" threads=");
    REQUIRE(at != std::string::npos);
    const int threads = std::atoi(h.run.out.c_str() + at + 9);
    CHECK(threads >= 3);
    for (const plugin_info* p : {&A, &B}) {
        const auto dumps = h.dumps(*p);
        REQUIRE(dumps.size() == 1);
        dump_expect e;
        e.product = p->product;
        e.version = h.version_of(*p);
        e.reason = "DUMP_REQUESTED";
        e.threads = threads;  // and check_dump: no thread "did not answer" the capture signal
        check_dump(dumps[0], e);
    }
}

TEST_CASE("two plugins loaded with RTLD_GLOBAL do not bind to each other's crashdrop", "[host]") {
    // With RTLD_GLOBAL both plugins' symbols (crashdrop_chain_v1 in each) are in the global
    // scope: each copy must still use its own table and state.
    for (const plugin_info* second : {&B, &C}) {
        const plugin_info& S = *second;
        INFO("A and " << S.module);
        for (const std::string& crash : {std::string("a"), S.name}) {
            INFO("crash in " << crash);
            host_run h = run_host(script({load(A, {"only", "global"}), load(S, {"only", "global"}),
                                          {"check", S.name, "crash-plugin", crash}}));
            INFO(h.describe());
            require_loaded(h, A);
            require_loaded(h, S);
            CHECK(h.out_has("check " + S.name + ": ok"));
            require_died_of(h, SIGSEGV);
            const plugin_info& owner = crash == "a" ? A : S;
            const plugin_info& other = crash == "a" ? S : A;
            CHECK(count_of(h.run.err, host_marker("SIGSEGV", owner.fault)) == 1);
            CHECK(h.dumps(other).empty());
            const auto dumps = h.dumps(owner);
            REQUIRE(dumps.size() == 1);
            check_dump(dumps[0], plugin_crash(owner, h.version_of(owner)));
        }
        {  // unloading the lower one (A) hands the upper one the host's handler
            host_run h = run_host(script({load(A, {"only", "global"}), load(S, {"only", "global"}),
                                          {"unload", "a", "print-handler", "crash-host"}}));
            INFO(h.describe());
            CHECK(h.out_has("unloaded a: gone\nhandler SIGSEGV: " + S.module + "\n"));
            require_died_of(h, SIGSEGV);
            CHECK(count_of(h.run.err, host_marker("SIGSEGV", k_host_fault)) == 1);
            CHECK(h.dumps(A).empty());
            CHECK(h.dumps(S).empty());
        }
    }
}

// ---- unloading and stopping ---------------------------------------------------------------------

TEST_CASE("dlclose of the only plugin puts the host's handler back and a later host crash is the host's alone", "[host]") {
    SECTION("unloaded: the host's handler is in place, a host crash leaves no dump") {
        // only_this_module off: a crashdrop still installed would record the host's crash.
        host_run h = run_host(script({{"print-handler"}, load(A), {"print-handler", "unload", "a", "print-handler", "crash-host"}}));
        INFO(h.describe());
        require_loaded(h, A);
        CHECK(h.out_has("handler SIGSEGV: host_handler\nloaded a:"));
        CHECK(h.out_has("handler SIGSEGV: plugin_a.so\nunloaded a: gone\nhandler SIGSEGV: host_handler\n"));
        require_died_of(h, SIGSEGV);
        CHECK(count_of(h.run.err, host_marker("SIGSEGV", k_host_fault)) == 1);
        CHECK(h.dumps(A).empty());
    }
    SECTION("the host keeps running after the unload and can load the plugin again, which captures as before") {
        host_run h = run_host(script({load(A), {"unload", "a", "host-fault-recover", "mark", "reloading"},
                                      {"load", "a", A.path, "@db-a2", "only"}, {"print-handler", "crash-plugin", "a"}}));
        INFO(h.describe());
        CHECK(h.out_has("unloaded a: gone\nhost-recovered\nmark reloading\nloaded a: ok"));
        CHECK(h.out_has("handler SIGSEGV: plugin_a.so"));
        require_died_of(h, SIGSEGV);
        CHECK(count_of(h.run.err, host_marker("SIGSEGV", A.fault)) == 1);
        CHECK(h.dumps(A).empty());
        const auto dumps = list_files(h.path("db-a2/pending"), ".dmp");
        REQUIRE(dumps.size() == 1);
        check_dump(dumps[0], plugin_crash(A, h.version_of(A)));
    }
}

TEST_CASE("stop() puts the host's handler back and start() works again after it", "[host]") {
    SECTION("stopped: a host crash and a plugin crash are the host's alone") {
        for (const char* crash : {"crash-host", "crash-plugin"}) {
            INFO(crash);
            words tail = {"stop", "a", "print-handler", crash};
            if (std::string(crash) == "crash-plugin") tail.push_back("a");
            host_run h = run_host(script({load(A), tail}));
            INFO(h.describe());
            require_loaded(h, A);
            CHECK(h.out_has("stopped a\nhandler SIGSEGV: host_handler\n"));
            require_died_of(h, SIGSEGV);
            CHECK(count_of(h.run.err, "host-handler: SIGSEGV") == 1);
            CHECK(h.dumps(A).empty());
        }
    }
    SECTION("stopped under a host handler that chains to it: crashdrop passes everything on to the handler before it") {
        // crashdrop cannot take itself out from under a foreign handler; stopped, it must act
        // as if it were not there: no dump, and the host's first handler still runs.
        host_run h = run_host(script({load(A), {"install-host-handler-after", "chain", "stop", "a", "crash-plugin", "a"}}));
        INFO(h.describe());
        require_loaded(h, A);
        require_died_of(h, SIGSEGV);
        CHECK(h.err_has("host-handler-after: SIGSEGV addr=" + A.fault + "\nhost-handler-after: chaining\n"));
        CHECK(count_of(h.run.err, host_marker("SIGSEGV", A.fault)) == 1);
        CHECK(h.dumps(A).empty());
    }
    SECTION("started again into another database: its crash is captured there") {
        host_run h = run_host(script({load(A), {"stop", "a", "restart", "a", "@db-a2", "only", "print-handler", "crash-plugin", "a"}}));
        INFO(h.describe());
        require_loaded(h, A);
        CHECK(h.out_has("restarted a: ok\nhandler SIGSEGV: plugin_a.so\n"));
        require_died_of(h, SIGSEGV);
        CHECK(count_of(h.run.err, host_marker("SIGSEGV", A.fault)) == 1);
        CHECK(h.dumps(A).empty());
        const auto dumps = list_files(h.path("db-a2/pending"), ".dmp");
        REQUIRE(dumps.size() == 1);
        check_dump(dumps[0], plugin_crash(A, h.version_of(A)));
    }
}

TEST_CASE("dlclose of the lower plugin (A under B) - B still captures its crashes and host crashes still reach the host",
          "[host]") {
    // After A is gone, B's saved "previous handler" must no longer be A's (unmapped) code: A's
    // unload tells B to chain to the host's handler instead.
    for (const plugin_info* second : {&B, &C}) {
        const plugin_info& S = *second;
        INFO("A under " << S.module);
        for (const bool only : {true, false}) {
            INFO("only_this_module " << only);
            const words flags = only ? words{"only"} : words{};
            {
                host_run h = run_host(script({load(A, flags), load(S, flags), {"unload", "a", "print-handler", "check", S.name},
                                              {"crash-plugin", S.name}}));
                INFO(h.describe());
                require_loaded(h, A);
                require_loaded(h, S);
                CHECK(h.out_has("unloaded a: gone\nhandler SIGSEGV: " + S.module + "\ncheck " + S.name + ": ok\n"));
                require_died_of(h, SIGSEGV);
                CHECK(count_of(h.run.err, host_marker("SIGSEGV", S.fault)) == 1);
                CHECK(h.dumps(A).empty());
                const auto dumps = h.dumps(S);
                REQUIRE(dumps.size() == 1);
                check_dump(dumps[0], plugin_crash(S, h.version_of(S)));
            }
            {
                host_run h = run_host(script({load(A, flags), load(S, flags), {"unload", "a", "crash-host"}}));
                INFO(h.describe());
                require_died_of(h, SIGSEGV);
                CHECK(count_of(h.run.err, host_marker("SIGSEGV", k_host_fault)) == 1);
                CHECK(h.dumps(A).empty());
                const auto dumps = h.dumps(S);
                if (only) {
                    CHECK(dumps.empty());
                } else {  // S records every crash, then passes it straight to the host's handler
                    REQUIRE(dumps.size() == 1);
                    check_dump(dumps[0], host_crash(S, h.version_of(S)));
                }
            }
        }
    }
}

TEST_CASE("dlclose of the upper plugin (B over A) - A is on top again and still captures", "[host]") {
    for (const plugin_info* second : {&B, &C}) {
        const plugin_info& S = *second;
        INFO("A under " << S.module);
        host_run h = run_host(script({load(A, {"only"}), load(S, {"only"}),
                                      {"unload", S.name, "print-handler", "check", "a", "crash-plugin", "a"}}));
        INFO(h.describe());
        require_loaded(h, A);
        require_loaded(h, S);
        CHECK(h.out_has("unloaded " + S.name + ": gone\nhandler SIGSEGV: plugin_a.so\ncheck a: ok\n"));
        require_died_of(h, SIGSEGV);
        CHECK(count_of(h.run.err, host_marker("SIGSEGV", A.fault)) == 1);
        CHECK(h.dumps(S).empty());
        const auto dumps = h.dumps(A);
        REQUIRE(dumps.size() == 1);
        check_dump(dumps[0], plugin_crash(A, h.version_of(A)));
    }
}

// ---- a host that installs its handler after crashdrop --------------------------------------------

TEST_CASE("a host handler installed over crashdrop's - check_handlers() names SIGSEGV and plugin crashes go to the host only",
          "[host]") {
    host_run h = run_host(script({load(A, {"only"}),
                                  {"check", "a", "install-host-handler-after", "print-handler", "check", "a", "crash-plugin", "a"}}));
    INFO(h.describe());
    require_loaded(h, A);
    CHECK(h.out_has("check a: ok\ninstalled host-handler-after\nhandler SIGSEGV: host_handler_after\ncheck a: handler_replaced"));
    const auto at = h.run.out.find("check a: handler_replaced");
    REQUIRE(at != std::string::npos);
    const std::string message = h.run.out.substr(at, h.run.out.find('\n', at) - at);
    INFO("check_handlers: " << message);
    CHECK(message.find("SIGSEGV") != std::string::npos);
    // Only SIGSEGV was replaced; the message names the replaced signals, not the others.
    CHECK(message.find("SIGBUS") == std::string::npos);
    CHECK(message.find("SIGABRT") == std::string::npos);
    require_died_of(h, SIGSEGV);
    CHECK(count_of(h.run.err, "host-handler-after: SIGSEGV addr=" + A.fault) == 1);
    CHECK(h.dumps(A).empty());  // crashdrop never saw it
}

TEST_CASE("a host handler installed over crashdrop's that chains to the handler it replaced still lets crashdrop capture",
          "[host]") {
    host_run h = run_host(script({load(A, {"only"}), {"install-host-handler-after", "chain", "check", "a", "crash-plugin", "a"}}));
    INFO(h.describe());
    require_loaded(h, A);
    CHECK(h.out_has("check a: handler_replaced"));  // crashdrop cannot know the new one chains
    require_died_of(h, SIGSEGV);
    CHECK(h.err_has("host-handler-after: SIGSEGV addr=" + A.fault + "\nhost-handler-after: chaining\n"));
    const auto dumps = h.dumps(A);
    REQUIRE(dumps.size() == 1);
    check_dump(dumps[0], plugin_crash(A, h.version_of(A)));
}

TEST_CASE("reinstall() puts crashdrop back on top - it captures and then chains to the handler that had replaced it", "[host]") {
    host_run h = run_host(script({load(A, {"only"}), {"install-host-handler-after", "reinstall", "a", "check", "a",
                                                      "print-handler", "crash-plugin", "a"}}));
    INFO(h.describe());
    require_loaded(h, A);
    CHECK(h.out_has("reinstall a: ok\ncheck a: ok\nhandler SIGSEGV: plugin_a.so\n"));
    require_died_of(h, SIGSEGV);
    CHECK(count_of(h.run.err, "host-handler-after: SIGSEGV addr=" + A.fault) == 1);
    const auto dumps = h.dumps(A);
    REQUIRE(dumps.size() == 1);
    check_dump(dumps[0], plugin_crash(A, h.version_of(A)));
}

TEST_CASE("reinstall() over a host handler that chains back to crashdrop - one dump and death by SIGSEGV without a hang", "[host]") {
    // crashdrop -> host-handler-after -> crashdrop (the handler it saved) -> ...: the loop must be
    // cut, not run until the stack overflows, and the process must not hang.
    for (const bool only : {true, false}) {
        INFO("only_this_module " << only);
        host_run h = run_host(script({load(A, only ? words{"only"} : words{}),
                                      {"install-host-handler-after", "chain", "reinstall", "a", "check", "a", "crash-plugin", "a"}}),
                              30);
        INFO(h.describe());
        require_loaded(h, A);
        CHECK(h.out_has("reinstall a: ok\ncheck a: ok\n"));
        REQUIRE(!h.run.timed_out);
        CHECK(h.run.seconds < 10);
        require_died_of(h, SIGSEGV);
        CHECK(h.err_has("host-handler-after: SIGSEGV addr=" + A.fault));
        CHECK(count_of(h.run.err, "host-handler-after: SIGSEGV") <= 2);  // no endless recursion
        const auto dumps = h.dumps(A);
        REQUIRE(dumps.size() == 1);
        check_dump(dumps[0], plugin_crash(A, h.version_of(A)));
    }
}

TEST_CASE("reinstall() with nothing replaced changes nothing (crashdrop does not chain to itself)", "[host]") {
    host_run h = run_host(script({load(A, {"only"}), {"reinstall", "a", "reinstall", "a", "check", "a", "crash-plugin", "a"}}), 30);
    INFO(h.describe());
    require_loaded(h, A);
    CHECK(h.out_has("reinstall a: ok\nreinstall a: ok\ncheck a: ok\n"));
    REQUIRE(!h.run.timed_out);
    require_died_of(h, SIGSEGV);
    CHECK(count_of(h.run.err, host_marker("SIGSEGV", A.fault)) == 1);
    const auto dumps = h.dumps(A);
    REQUIRE(dumps.size() == 1);
    check_dump(dumps[0], plugin_crash(A, h.version_of(A)));
}

TEST_CASE("reinstall() in the lower of two plugins keeps the host's handler in the chain", "[host]") {
    // An application that calls reinstall() in every plugin whose check_handlers() is not ok
    // (here A, with B's crashdrop installed over it): A goes back on top, and every crash must
    // still end in the host's handler, once, with the dump where it belongs.
    for (const std::string& crash : {std::string("host"), std::string("a"), std::string("b")}) {
        INFO("crash in " << crash);
        const words crash_cmd = crash == "host" ? words{"crash-host"} : words{"crash-plugin", crash};
        host_run h = run_host(script({load(A, {"only"}), load(B, {"only"}), {"reinstall", "a", "print-handler"}, crash_cmd}), 30);
        INFO(h.describe());
        require_loaded(h, A);
        require_loaded(h, B);
        CHECK(h.out_has("reinstall a: ok\nhandler SIGSEGV: plugin_a.so\n"));
        REQUIRE(!h.run.timed_out);
        require_died_of(h, SIGSEGV);
        const std::string fault = crash == "a" ? A.fault : crash == "b" ? B.fault : k_host_fault;
        CHECK(count_of(h.run.err, host_marker("SIGSEGV", fault)) == 1);
        CHECK(h.dumps(A).size() == (crash == "a" ? 1u : 0u));
        CHECK(h.dumps(B).size() == (crash == "b" ? 1u : 0u));
    }
}

// ---- the helper process from inside a host ---------------------------------------------------------

TEST_CASE("HelperMode::fork in a plugin - the helper stores the plugin's crash with its metadata", "[host]") {
    host_run h = run_host(script({load(A, {"only", "fork"}), {"crash-plugin", "a"}}));
    INFO(h.describe());
    require_loaded(h, A);
    require_died_of(h, SIGSEGV);
    CHECK(count_of(h.run.err, host_marker("SIGSEGV", A.fault)) == 1);
    const std::string pending = h.path("db-a/pending");
    // The helper outlives the host: wait for it to write the metadata next to the dump.
    const bool stored = eventually(30, [&] { return list_files(pending, ".meta").size() == 1; });
    INFO("helper.log:\n" << read_text_file(h.path("db-a/helper.log")));
    REQUIRE(stored);
    const auto dumps = list_files(pending, ".dmp");
    const auto metas = list_files(pending, ".meta");
    REQUIRE(dumps.size() == 1);
    CHECK(metas[0].substr(0, metas[0].size() - 5) == dumps[0].substr(0, dumps[0].size() - 4));
    std::map<std::string, std::string> meta;
    for (const auto& line : split(read_text_file(metas[0]), '\n')) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) meta[line.substr(0, eq)] = line.substr(eq + 1);
    }
    CHECK(meta["product"] == A.product);
    CHECK(meta["version"] == h.version_of(A));
    CHECK(meta["state"] == "pending");
    check_dump(dumps[0], plugin_crash(A, h.version_of(A)));
}

// ---- what the plugins export ---------------------------------------------------------------------

TEST_CASE("each plugin exports its own entry points and crashdrop_chain_v1 and nothing else of crashdrop", "[host]") {
    const std::set<std::string> entry_points = {"hostplug_start", "hostplug_version", "hostplug_crash", "hostplug_abort",
                                                "hostplug_call", "hostplug_check", "hostplug_reinstall", "hostplug_stop",
                                                "hostplug_dump", "hostplug_functions"};
    const std::set<std::string> linker_symbols = {"_init", "_fini", "_edata", "_end", "__bss_start"};
    for (const plugin_info* p : {&A, &B, &C}) {
        INFO("plugin " << p->path);
        run_result nm = run_process({"nm", "-D", "--defined-only", p->path}, 60);
        if (nm.exit_code() != 0) FAIL("nm: " << nm.describe());
        std::set<std::string> names;
        std::vector<std::string> unique;
        for (const auto& line : split(nm.out, '\n')) {
            const auto fields = split(line, ' ');
            if (line.empty()) continue;
            names.insert(fields.back());
            if (fields.size() >= 2 && fields[fields.size() - 2] == "u") unique.push_back(fields.back());
        }
        // A definition bound STB_GNU_UNIQUE (g++ emits them for static data in inline templates
        // of libstdc++, e.g. std::to_string's digit table, std::piecewise_construct) makes glibc
        // mark the whole plugin NODELETE: dlclose() then never unloads it, and crashdrop's unload
        // hook never runs.
        INFO("STB_GNU_UNIQUE definitions: " << join(unique));
        CHECK(unique.empty());
        for (const auto& e : entry_points) CHECK(names.count(e) == 1);
        CHECK(names.count("crashdrop_chain_v1") == 1);
        for (const auto& n : names) {
            INFO("exported: " << n);
            std::string lower = n;
            std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (n == "crashdrop_chain_v1" || entry_points.count(n) != 0 || linker_symbols.count(n) != 0) continue;
            // AddressSanitizer's one-definition-rule marker of an exported global
            // (tools/test_sanitizers.sh builds the plugins with it): not crashdrop's.
            if (n == "__odr_asan.crashdrop_chain_v1") continue;
            CHECK(lower.find("crashdrop") == std::string::npos);  // nothing of crashdrop
            CHECK(n != "pthread_create");                           // no interposition from a plugin
            // Anything else may only be a C++ entity (a standard-library instantiation the
            // compiler emits with default visibility), never one of crashdrop's C helpers.
            CHECK(n.rfind("_Z", 0) == 0);
        }
    }
}
