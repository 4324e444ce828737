// crash_tests - each test runs crash_target in a child process, lets it crash, and checks the
// dump it left with readers crashdrop did not write: Breakpad's minidump_stackwalk (crash
// reason, address, crashing thread, frames named through dump_syms symbols, module debug ids),
// minidump_dump (thread count, annotations, thread names) and lldb-14 (threads, stop reason,
// backtrace of the crashing thread). The live process's own view (its thread ids, thread
// count, the address it faults on) is what crash_target wrote to expect.txt before crashing.
//
// The same source checks every architecture: built as crash_tests it runs the native targets;
// built as crash_tests_arm64 (CRASHDROP_TARGET_ARCH="arm64") it runs cross-built aarch64
// targets through CRASHDROP_TARGET_RUNNER ("qemu-aarch64 -L /usr/aarch64-linux-gnu"; the
// environment variable of that name overrides it). What emulation cannot show is skipped
// for that architecture only, with the reason printed (skip_under_emulation).
#include <catch2/catch.hpp>

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "../support/minidump_file.hpp"
#include "../support/process.hpp"
#include "../support/readers.hpp"

using namespace testsupport;

#ifndef CRASH_TARGET
#error "CRASH_TARGET (path of crash_target) must be defined by the build"
#endif

namespace {

const std::string k_workdir = CRASH_TEST_WORKDIR;

#ifndef CRASHDROP_TARGET_ARCH  // the targets are built for this machine
#if defined(__aarch64__)
#define CRASHDROP_TARGET_ARCH "arm64"
#else
#define CRASHDROP_TARGET_ARCH "x86_64"
#endif
#endif
#ifndef CRASHDROP_TARGET_RUNNER
#define CRASHDROP_TARGET_RUNNER ""
#endif
const std::string k_arch = CRASHDROP_TARGET_ARCH;

/// The command a target runs under (empty: directly), split at spaces.
std::vector<std::string> target_runner() {
    std::vector<std::string> out;
    static const std::string compiled = CRASHDROP_TARGET_RUNNER;
    const std::string runner = compiled.empty() ? "" : env_or("CRASHDROP_TARGET_RUNNER", compiled);
    for (const auto& word : split(runner, ' ')) {
        if (!word.empty()) out.push_back(word);
    }
    return out;
}
bool emulated() { return !target_runner().empty(); }

/// Says (in the test's output, never silently) that a check is skipped for this architecture.
void skip_under_emulation(const std::string& what, const std::string& why) {
    WARN("[" << k_arch << "] skipped: " << what << " - " << why);
}

std::string symbol_dir() { return k_workdir + "/symbols"; }

std::vector<std::string> list_dumps(const std::string& folder) {
    std::vector<std::string> out;
    if (DIR* d = opendir(folder.c_str())) {
        while (dirent* e = readdir(d)) {
            std::string n = e->d_name;
            if (n.size() > 4 && n.substr(n.size() - 4) == ".dmp") out.push_back(folder + "/" + n);
        }
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

struct crash_run {
    std::string dir;
    std::string db;
    run_result run;
    std::map<std::string, std::string> expect;
    std::vector<std::string> dumps;
};

crash_run run_target(const std::string& exe, const std::string& mode, const std::vector<std::string>& extra = {},
                     const std::vector<std::string>& env = {}, double timeout = 60,
                     const std::function<void()>& in_child = {}) {
    static int counter = 0;
    crash_run c;
    c.dir = k_workdir + "/runs/" + mode + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    c.db = c.dir + "/db";
    run_process({"rm", "-rf", c.dir}, 30);
    run_process({"mkdir", "-p", c.db}, 30);
    std::vector<std::string> argv = target_runner();
    argv.insert(argv.end(), {exe, mode, c.db});
    argv.insert(argv.end(), extra.begin(), extra.end());
    c.run = run_process(argv, timeout, env, c.dir, in_child);
    for (const auto& line : split(read_text_file(c.db + "/expect.txt"), '\n')) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) c.expect[line.substr(0, eq)] = line.substr(eq + 1);
    }
    c.dumps = list_dumps(c.db + "/pending");
    return c;
}

/// Does `actual` (frames from the top) contain the spec "a,b+,c" (b+ = b one or more times)?
/// With from_top the match must start at frame 0.
bool frames_match(const std::vector<std::string>& actual, const std::string& spec, bool from_top) {
    std::vector<std::pair<std::string, bool>> want;
    for (auto& item : split(spec, ',')) {
        const bool many = !item.empty() && item.back() == '+';
        want.emplace_back(many ? item.substr(0, item.size() - 1) : item, many);
    }
    for (std::size_t start = 0; start < actual.size(); ++start) {
        if (from_top && start > 0) break;
        std::size_t i = start;
        bool ok = true;
        for (const auto& w : want) {
            if (i >= actual.size() || actual[i] != w.first) {
                ok = false;
                break;
            }
            ++i;
            while (w.second && i < actual.size() && actual[i] == w.first) ++i;
        }
        if (ok) return true;
    }
    return false;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " | ") + x;
    return s;
}

bool readers_available() {
    const auto& t = tools();
    if (t.breakpad && t.has_lldb) return true;
    if (t.required) {
        FAIL("a reader is missing (minidump_stackwalk/minidump_dump/dump_syms in CRASHDROP_MINIDUMP_TOOLS, "
             "or lldb-14) and CRASHDROP_REQUIRE_READERS=1");
    }
    WARN("readers missing: only crashdrop's own checks run (set CRASHDROP_MINIDUMP_TOOLS, install lldb-14)");
    return false;
}

/// Everything a crash dump must show, checked against what crash_target expected.
void check_crash_dump(const crash_run& c, const std::string& exe) {
    INFO("run directory: " << c.dir << "\nchild: " << c.run.describe());
    REQUIRE(!c.expect.empty());
    if (c.expect.count("note")) WARN("[" << k_arch << "] " << c.expect.at("note"));
    if (c.expect.count("signal")) {
        REQUIRE(c.run.signaled());
        CHECK(c.run.signal() == std::stoi(c.expect.at("signal")));
    }
    REQUIRE(c.dumps.size() == 1);
    const std::string dump = c.dumps[0];
    struct stat st;
    REQUIRE(stat(dump.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    minidump_file md;
    REQUIRE(md.load(dump));
    const auto tids = md.thread_ids();
    const std::uint32_t crash_tid = md.exception_thread();
    const int expected_threads = std::stoi(c.expect.at("threads"));
    CHECK(static_cast<int>(tids.size()) == expected_threads);
    if (c.expect.at("crash_tid") == "any-worker") {
        CHECK(crash_tid != static_cast<std::uint32_t>(std::stoul(c.expect.at("pid"))));
        CHECK(std::find(tids.begin(), tids.end(), crash_tid) != tids.end());
    } else {
        CHECK(crash_tid == std::stoul(c.expect.at("crash_tid")));
    }
    // The streams every Linux dump carries (the environment only when asked for).
    for (std::uint32_t type : {3u, 4u, 5u, 6u, 7u, 15u, 24u, 0x47670003u, 0x47670004u, 0x47670006u, 0x47670008u,
                               0x47670009u, 0x4767000au, 0x43500001u}) {
        INFO("stream " << std::hex << type);
        CHECK(md.has(type));
    }
    CHECK_FALSE(md.has(0x47670007u));
    std::uint32_t dso_version = 0;
    const auto dsos = md.dso_names(&dso_version);
    CHECK(dso_version == 1);
    CHECK(std::any_of(dsos.begin(), dsos.end(), [](const std::string& n) { return n.find("libc.so") != std::string::npos; }));
    // Memory: ranges never overlap; the crashing instruction is captured; every thread's stack
    // descriptor covers its stack pointer (except a stack pointer that ran off its stack).
    CHECK(md.memory_ranges_disjoint());
    // The architecture: SystemInfo's number and each thread's context (size and CPU flag).
    const bool arm64 = k_arch == "arm64";
    CHECK(md.architecture() == (arm64 ? 12 : 9));
    for (std::uint32_t i = 0; i < tids.size(); ++i) {
        std::uint32_t ctx_size = 0, ctx_flags = 0;
        REQUIRE(md.thread_context(i, &ctx_size, &ctx_flags));
        INFO("thread " << tids[i] << " context flags " << std::hex << ctx_flags);
        CHECK(ctx_size == (arm64 ? 912u : 1232u));
        CHECK((ctx_flags & 0xfff00000u) == (arm64 ? 0x00400000u : 0x00100000u));
    }
    for (std::uint32_t i = 0; i < tids.size(); ++i) {
        std::uint64_t ip = 0, sp = 0, start = 0;
        std::uint32_t size = 0;
        REQUIRE(md.thread_ip_sp(i, &ip, &sp));
        REQUIRE(md.thread_stack(i, &start, &size));
        INFO("thread " << tids[i] << " ip " << std::hex << ip << " sp " << sp << " stack " << start << "+" << size);
        if (tids[i] == crash_tid) {
            CHECK(md.memory_covers(ip));
            if (c.expect.count("stack_overflow") == 0) CHECK((sp >= start && sp < start + size));
        } else if (size != 0) {
            CHECK((sp >= start && sp < start + size));
        }
    }
    const std::string errors = md.stream_bytes(0x43440001u);
    if (c.expect.count("writer_error")) {
        INFO("writer errors:\n" << errors);
        CHECK(errors.find(c.expect.at("writer_error")) != std::string::npos);
    }

    if (!readers_available()) return;

    // Symbols for every module that is a file, and the debug ids dump_syms computes for them.
    std::map<std::string, std::string> ids_by_base_name;
    for (const auto& m : md.modules()) {
        const std::string& path = m.second;
        if (path.empty() || path[0] != '/' || !file_exists(path)) continue;
        ids_by_base_name[path.substr(path.rfind('/') + 1)] = ensure_symbols(symbol_dir(), path);
    }

    stackwalk_result sw = stackwalk(dump, symbol_dir());
    INFO("minidump_stackwalk:\n" << sw.run.out.substr(0, 20000));
    REQUIRE(sw.run.exit_code() == 0);
    if (c.expect.count("reason")) CHECK(sw.reason == c.expect.at("reason"));
    if (c.expect.count("reason_prefix")) CHECK(sw.reason.rfind(c.expect.at("reason_prefix"), 0) == 0);
    if (c.expect.count("address")) {
        CHECK(std::strtoull(sw.address.c_str(), nullptr, 16) == std::strtoull(c.expect.at("address").c_str(), nullptr, 16));
    }
    REQUIRE(sw.crash_thread >= 0);
    REQUIRE(sw.crash_thread < static_cast<int>(tids.size()));
    CHECK(tids[static_cast<std::size_t>(sw.crash_thread)] == crash_tid);
    CHECK(static_cast<int>(sw.threads.size()) == expected_threads);
    const auto frames = sw.functions(sw.crash_thread);
    INFO("crashing thread (stackwalk): " << join(frames));
    if (c.expect.count("frames")) CHECK(frames_match(frames, c.expect.at("frames"), true));
    if (c.expect.count("frames_anywhere")) CHECK(frames_match(frames, c.expect.at("frames_anywhere"), false));
    for (const auto& m : sw.modules) {
        auto it = ids_by_base_name.find(m.debug_file);
        if (it == ids_by_base_name.end()) continue;
        INFO("module " << m.name);
        CHECK(m.debug_id == it->second);
    }
    CHECK(ids_by_base_name.count(exe.substr(exe.rfind('/') + 1)) == 1);
    if (c.expect.count("module")) CHECK(ids_by_base_name.count(c.expect.at("module")) == 1);

    dump_result dd = minidump_dump(dump);
    CHECK(dd.thread_count == expected_threads);
    CHECK(dd.annotations["prod"] == "crash_target");
    CHECK(dd.annotations["ver"] == "1.2.3");
    for (const auto& kv : c.expect) {
        if (kv.first.rfind("annotation.", 0) == 0) CHECK(dd.annotations[kv.first.substr(11)] == kv.second);
    }
    CHECK(dd.thread_names.size() == tids.size());
    if (c.expect.count("thread_name")) {
        bool found = false;
        for (const auto& kv : dd.thread_names) found = found || kv.second == c.expect.at("thread_name");
        CHECK(found);
    }
    if (c.expect.count("crash_thread_name")) CHECK(dd.thread_names[crash_tid] == c.expect.at("crash_thread_name"));

    lldb_result lb = lldb(dump);
    INFO("lldb:\n" << lb.run.out.substr(0, 20000));
    REQUIRE(lb.run.exit_code() == 0);
    CHECK(static_cast<int>(lb.threads.size()) == expected_threads);
    const lldb_thread* stopped = lb.stopped();
    REQUIRE(stopped != nullptr);
    CHECK(stopped->tid == crash_tid);
    INFO("crashing thread (lldb): " << join(stopped->functions));
    if (c.expect.count("frames")) CHECK(frames_match(stopped->functions, c.expect.at("frames"), true));
    if (c.expect.count("frames_anywhere")) CHECK(frames_match(stopped->functions, c.expect.at("frames_anywhere"), false));
    if (c.expect.count("signal") && c.expect.at("signal") != "0") {
        CHECK(stopped->stop_reason.find("signal SIG") != std::string::npos);
    }
}

void crash_case(const std::string& mode, const std::string& exe = CRASH_TARGET, const std::vector<std::string>& extra = {}) {
    crash_run c = run_target(exe, mode, extra);
    check_crash_dump(c, exe);
}

}  // namespace

TEST_CASE("null write in main is captured with frames down to main", "[crash]") { crash_case("null_main"); }
TEST_CASE("null write in a worker of an 8-thread process lists all 8 threads", "[crash]") { crash_case("null_worker"); }
TEST_CASE("stack overflow in main is captured on the alternate stack", "[crash]") {
    // The target lowers its own stack limit to 512 KiB, so the whole stack fits in the dump and
    // the frames can be followed down to main. qemu-user gives the guest's main thread a fixed
    // stack (8 MiB, never less whatever the limit) sized at start: QEMU_STACK_SIZE makes it
    // 512 KiB too (a native target ignores that variable).
    crash_run c = run_target(CRASH_TARGET, "overflow_main", {}, {"QEMU_STACK_SIZE=524288"});
    check_crash_dump(c, CRASH_TARGET);
}
TEST_CASE("stack overflow in a worker thread is captured (interposed pthread_create)", "[crash]") {
    crash_case("overflow_worker");
}
TEST_CASE("abort() is captured as SIGABRT", "[crash]") { crash_case("abort"); }
TEST_CASE("uncaught exception records its type and what()", "[crash]") { crash_case("uncaught"); }
TEST_CASE("uncaught exception in a -fno-exceptions -fno-rtti build records type and what()", "[crash]") {
    crash_case("uncaught", CRASH_TARGET_NOEXC);
}
TEST_CASE("integer division by zero is SIGFPE at the idiv", "[crash]") { crash_case("fpe"); }
TEST_CASE("illegal instruction is SIGILL at the ud2", "[crash]") { crash_case("ill"); }
TEST_CASE("a read past the end of a mapped file is SIGBUS at that address", "[crash]") { crash_case("bus"); }
TEST_CASE("int3 is SIGTRAP and the process still dies of it", "[crash]") { crash_case("trap"); }
TEST_CASE("a crash inside a dlopen()ed library names the library's frames", "[crash]") {
    crash_case("dlopen", CRASH_TARGET, {CRASH_TEST_PLUGIN});
}
TEST_CASE("a module without a build id gets Breakpad's .text-hash id", "[crash]") {
    crash_case("dlopen", CRASH_TARGET, {CRASH_TEST_PLUGIN_NOBUILDID});
}
#ifdef CRASH_TEST_BIGTEXT_NOBUILDID
namespace {

/// Sentry's CLI, or why a test cannot use it: fails when readers are required (tools/test.sh,
/// CI), warns otherwise.
bool sentry_cli_available() {
    if (tools().has_sentry_cli) return true;
    if (tools().required) FAIL("sentry-cli is missing (CRASHDROP_SENTRY_CLI, set by tools/setup.sh) and CRASHDROP_REQUIRE_READERS=1");
    WARN("sentry-cli missing (CRASHDROP_SENTRY_CLI): ids not compared with Sentry's");
    return false;
}

/// The file offset and size of an ELF64 file's .text (size 0 when there is none); read here,
/// independently of the library, from the section headers.
struct text_section {
    std::uint64_t offset = 0, size = 0;
};
text_section find_text(const std::string& bytes) {
    text_section t;
    if (bytes.size() < 64 || bytes.compare(0, 4, "\x7f" "ELF") != 0 || bytes[4] != 2) return t;
    auto u16 = [&](std::size_t at) { std::uint16_t v = 0; std::memcpy(&v, bytes.data() + at, 2); return v; };
    auto u32 = [&](std::size_t at) { std::uint32_t v = 0; std::memcpy(&v, bytes.data() + at, 4); return v; };
    auto u64 = [&](std::size_t at) { std::uint64_t v = 0; std::memcpy(&v, bytes.data() + at, 8); return v; };
    const std::uint64_t shoff = u64(0x28);
    const std::uint16_t shentsize = u16(0x3a), shnum = u16(0x3c), shstrndx = u16(0x3e);
    if (shentsize != 64 || shstrndx >= shnum || shoff + std::uint64_t{shnum} * 64 > bytes.size()) return t;
    const std::uint64_t names = u64(shoff + shstrndx * 64u + 0x18);
    for (std::uint16_t i = 0; i < shnum; ++i) {
        const std::size_t sh = static_cast<std::size_t>(shoff + i * 64u);
        const std::uint64_t name = names + u32(sh);
        if (name + 6 > bytes.size() || bytes.compare(static_cast<std::size_t>(name), 6, std::string(".text\0", 6)) != 0) continue;
        t.offset = u64(sh + 0x18);
        t.size = u64(sh + 0x20);
    }
    return t;
}

/// `count` bytes of the file from `offset` XOR-folded into 16 bytes, as a Breakpad debug id
/// (the GUID's three first fields little-endian, age 0).
std::string folded_id(const std::string& bytes, std::uint64_t offset, std::uint64_t count) {
    unsigned char fold[16] = {};
    for (std::uint64_t k = 0; k < count && offset + k < bytes.size(); ++k) {
        fold[k % 16] ^= static_cast<unsigned char>(bytes[static_cast<std::size_t>(offset + k)]);
    }
    char out[40];
    std::snprintf(out, sizeof(out), "%02X%02X%02X%02X%02X%02X%02X%02X", fold[3], fold[2], fold[1], fold[0], fold[5], fold[4],
                  fold[7], fold[6]);
    std::string id = out;
    for (int k = 8; k < 16; ++k) {
        std::snprintf(out, sizeof(out), "%02X", fold[k]);
        id += out;
    }
    return id + "0";
}

const dd_module* module_named(const dump_result& dd, const std::string& path) {
    const std::string base = path.substr(path.rfind('/') + 1);
    for (const auto& m : dd.modules) {
        if (m.code_file.size() >= base.size() && m.code_file.compare(m.code_file.size() - base.size(), base.size(), base) == 0) {
            return &m;
        }
    }
    return nullptr;
}

}  // namespace

TEST_CASE("the dump's ids for an executable, a library and a library without a build id are the ids sentry-cli reports for the files",
          "[crash][sentry]") {
    // One crash inside the build-id plugin, with the big-.text plugin (no build id) loaded too.
    crash_run c = run_target(CRASH_TARGET, "dlopen", {CRASH_TEST_PLUGIN, CRASH_TEST_BIGTEXT_NOBUILDID});
    INFO(c.run.describe());
    REQUIRE(c.dumps.size() == 1);
    if (!readers_available() || !sentry_cli_available()) return;
    dump_result dd = minidump_dump(c.dumps[0]);  // exits 1 for streams it misses (memory info); modules read
    INFO("minidump_dump:\n" << dd.run.out.substr(0, 20000));
    REQUIRE(dd.modules.size() > 3);
    const std::string big_text = read_text_file(CRASH_TEST_BIGTEXT_NOBUILDID);
    const text_section big = find_text(big_text);
    INFO(".text of the library without a build id: " << big.size << " bytes");
    REQUIRE(big.size > 4096);  // where Breakpad and Sentry agree; see the next test for less

    for (const std::string& file : {std::string(CRASH_TARGET), std::string(CRASH_TEST_PLUGIN), std::string(CRASH_TEST_BIGTEXT_NOBUILDID)}) {
        INFO("file " << file);
        const dd_module* m = module_named(dd, file);
        REQUIRE(m != nullptr);
        const sentry_file_ids s = sentry_check(file);
        INFO("sentry-cli: " << s.run.describe());
        REQUIRE(s.ok);
        CHECK(s.arch == (k_arch == "arm64" ? "arm64" : "x86_64"));
        INFO("dump: debug id " << m->debug_identifier << ", code id " << m->code_identifier << "; sentry-cli: debug id "
                               << s.debug_id << ", code id " << (s.has_code_id ? s.code_id : "(none)"));
        CHECK(m->debug_identifier.size() == 33);
        CHECK(m->debug_identifier == breakpad_id_from_sentry(s.debug_id));
        if (file == CRASH_TEST_BIGTEXT_NOBUILDID) {
            // No build id: Sentry reports no code id; the dump's CodeView record carries the
            // 16-byte .text hash, which readers show as the code id (dump_syms' INFO CODE_ID).
            CHECK_FALSE(s.has_code_id);
            CHECK(m->code_identifier.size() == 32);
        } else {
            // The whole GNU build id (20 bytes from ld's default sha1), lowercase hex in both.
            CHECK(s.has_code_id);
            CHECK(s.code_id.size() == 40);
            CHECK(m->code_identifier == s.code_id);
        }
    }
}

TEST_CASE("a library without a build id and a .text under a page keeps Breakpad's id, which sentry-cli computes differently",
          "[crash][sentry]") {
    crash_run c = run_target(CRASH_TARGET, "dlopen", {CRASH_TEST_PLUGIN_NOBUILDID});
    INFO(c.run.describe());
    REQUIRE(c.dumps.size() == 1);
    if (!readers_available() || !sentry_cli_available()) return;
    const std::string bytes = read_text_file(CRASH_TEST_PLUGIN_NOBUILDID);
    const text_section t = find_text(bytes);
    INFO(".text: " << t.size << " bytes at file offset " << t.offset);
    REQUIRE((t.size > 0 && t.size < 4096 && t.size % 16 != 0));  // the case where the tools differ
    // Breakpad hashes whole 16-byte blocks (the last one runs past .text's end); Sentry stops at
    // the end of .text.
    const std::string breakpad_rule = folded_id(bytes, t.offset, (t.size + 15) / 16 * 16);
    const std::string sentry_rule = folded_id(bytes, t.offset, t.size);
    REQUIRE(breakpad_rule != sentry_rule);  // the bytes past .text are not all zero

    dump_result dd = minidump_dump(c.dumps[0]);
    const dd_module* m = module_named(dd, CRASH_TEST_PLUGIN_NOBUILDID);
    REQUIRE(m != nullptr);
    const sentry_file_ids s = sentry_check(CRASH_TEST_PLUGIN_NOBUILDID);
    INFO("sentry-cli: " << s.run.describe());
    REQUIRE(s.ok);
    const std::string dump_syms_id = ensure_symbols(symbol_dir(), CRASH_TEST_PLUGIN_NOBUILDID);
    INFO("dump " << m->debug_identifier << ", dump_syms " << dump_syms_id << ", sentry-cli " << s.debug_id);
    CHECK(m->debug_identifier == breakpad_rule);
    CHECK(dump_syms_id == breakpad_rule);
    CHECK(breakpad_id_from_sentry(s.debug_id) == sentry_rule);
    CHECK_FALSE(s.has_code_id);
    // What still matches in Sentry: the Breakpad symbol file dump_syms made of the library
    // (uploadable with sentry-cli debug-files upload), whose ids Sentry reads as the dump's.
    const std::string name = std::string(CRASH_TEST_PLUGIN_NOBUILDID).substr(std::string(CRASH_TEST_PLUGIN_NOBUILDID).rfind('/') + 1);
    const sentry_file_ids sym = sentry_check(symbol_dir() + "/" + name + "/" + dump_syms_id + "/" + name + ".sym");
    INFO("sentry-cli on the .sym: " << sym.run.describe());
    REQUIRE(sym.ok);
    CHECK(breakpad_id_from_sentry(sym.debug_id) == m->debug_identifier);
    CHECK(sym.code_id == m->code_identifier);
}
#endif

TEST_CASE("a thread from before start() that calls prepare_thread() has its overflow captured", "[crash]") {
    crash_case("overflow_prepared");
}
TEST_CASE("control: without prepare_thread() that overflow cannot be captured", "[crash]") {
    // Proves the test above tests something: with no alternate stack the kernel cannot run a
    // handler on the overflowed stack and kills the process outright.
    crash_run c = run_target(CRASH_TARGET, "overflow_unprepared", {}, {"CRASHDROP_TEST_NO_ABNORMAL_EXITS=1"});
    INFO(c.run.describe());
    CHECK(c.run.signal() == SIGSEGV);
    CHECK(c.dumps.empty());
}
TEST_CASE("a thread that blocks every signal is listed and the dump says why", "[crash]") {
    crash_case("blocked_thread");
}
TEST_CASE("256 threads: a complete dump with stacks trimmed to the budget", "[crash]") { crash_case("many_threads"); }
TEST_CASE("a handler reset through signal() is repaired", "[crash]") { crash_case("signal_reset"); }

TEST_CASE("four threads crashing at once give exactly one dump", "[crash]") {
    for (int round = 0; round < 3; ++round) {
        crash_run c = run_target(CRASH_TARGET, "simultaneous");
        check_crash_dump(c, CRASH_TARGET);
    }
}

TEST_CASE("the previous handler still runs after the dump", "[crash]") {
    crash_run c = run_target(CRASH_TARGET, "chained");
    check_crash_dump(c, CRASH_TARGET);
    CHECK(c.run.err.find("PREVIOUS HANDLER RAN") != std::string::npos);
}

TEST_CASE("write_dump() dumps every thread and the process goes on - sharing the capture signal", "[crash]") {
    crash_run c = run_target(CRASH_TARGET, "requested");
    INFO(c.run.describe());
    REQUIRE(c.run.exit_code() == 0);
    CHECK(c.run.out.find("second=ok") != std::string::npos);
    CHECK(c.run.out.find("app_signals=1") != std::string::npos);  // its own use of the signal still works
    REQUIRE(c.dumps.size() == 2);
    crash_run first = c;
    first.dumps = {c.run.out.substr(c.run.out.find("dump=") + 5, c.run.out.find('\n') - c.run.out.find("dump=") - 5)};
    REQUIRE(file_exists(first.dumps[0]));
    check_crash_dump(first, CRASH_TARGET);
    minidump_file md;
    REQUIRE(md.load(first.dumps[0]));
    CHECK(md.exception_code() == 0xffffffffu);
}

/// One run of crash_target in the database `db` (kept across runs, unlike run_target's).
run_result run_in_db(const std::string& mode, const std::string& db) {
    std::vector<std::string> argv = target_runner();
    argv.insert(argv.end(), {CRASH_TARGET, mode, db});
    return run_process(argv, 60, {}, db);
}
std::string fresh_db(const std::string& name) {
    const std::string dir = k_workdir + "/runs/" + name + "-" + std::to_string(getpid());
    run_process({"rm", "-rf", dir}, 30);
    run_process({"mkdir", "-p", dir + "/db"}, 30);
    return dir + "/db";
}
/// Tests of what only the helper does (it records how a run ended, it watches the heartbeat):
/// under qemu-user the helper, an exec of the aarch64 executable, cannot start (no binfmt_misc
/// here), so there they are skipped, saying why.
bool helper_skipped(const char* what) {
    if (!emulated()) return false;
    skip_under_emulation(what, "no helper process under qemu-user (the helper is an exec of the target executable)");
    return true;
}

/// What the run printed from last_run() and consecutive_crashes().
std::string last_run_line(const run_result& r) {
    const auto at = r.out.find("last_run=");
    return at == std::string::npos ? "(nothing printed)" : r.out.substr(at, r.out.find('\n', at) - at);
}

TEST_CASE("a crash the instant start() returns gives a complete dump - modules with build ids, the thread, its stack, the "
          "annotations - which the helper, still starting, persists - the run reads crashed, and the crash path allocates nothing",
          "[crash][last_run][sigsafe]") {
    // start() leaves what a crash does not need at once to the helper (the run record's fsync)
    // and starts the helper without waiting for it: a crash before the helper is up is the case.
    for (const std::string& exe : {std::string(CRASH_TARGET), std::string(CRASH_TARGET_MALLOC_GUARD)}) {
        INFO("target " << exe);
        crash_run c = run_target(exe, "right_after_start");
        CHECK(c.run.err.find("MALLOC DURING CRASH") == std::string::npos);
        check_crash_dump(c, exe);
        if (helper_skipped("the helper's persisting of the dump and the run record's crashed end")) continue;
        REQUIRE(c.dumps.size() == 1);
        minidump_file md;
        REQUIRE(md.load(c.dumps[0]));
        const std::string context = md.stream_bytes(0x43440002u);  // crashdrop's context stream: the tag set in the options
        CHECK(context.find("right-after-start") != std::string::npos);
        // The helper took the dump over: it persisted it (its .meta beside the dump, and its log says so).
        const std::string dump_name = c.dumps[0].substr(c.dumps[0].rfind('/') + 1);
        const std::string id = dump_name.substr(0, dump_name.size() - 4);
        bool persisted = false;
        for (int i = 0; i < 500 && !persisted; ++i) {
            persisted = read_text_file(c.db + "/helper.log").find("persisted report " + id) != std::string::npos;
            if (!persisted) usleep(10000);
        }
        INFO(read_text_file(c.db + "/helper.log"));
        CHECK(persisted);
        CHECK(file_exists(c.db + "/pending/" + id + ".meta"));
        // The crash is counted: the next run reads crashed, a streak of one.
        const run_result next = run_in_db("last_run", c.db);
        INFO(next.describe());
        CHECK(last_run_line(next) == "last_run=crashed consecutive_crashes=1");
    }
}

TEST_CASE("last_run: the first run ever of a database reads unknown and 0", "[crash][last_run]") {
    const run_result r = run_in_db("last_run", fresh_db("last_run_first"));
    INFO(r.describe());
    REQUIRE(r.exit_code() == 0);
    CHECK(last_run_line(r) == "last_run=unknown consecutive_crashes=0");
}

TEST_CASE("last_run: three crashing runs, then the fourth reads crashed and 3 - a clean run resets it to clean_exit and 0",
          "[crash][last_run]") {
    if (helper_skipped("the run record's crashed and abnormal_exit ends")) return;
    const std::string db = fresh_db("last_run_loop");
    for (int i = 0; i < 3; ++i) {
        const run_result crash = run_in_db("null_main", db);
        INFO(crash.describe());
        REQUIRE(crash.signal() == SIGSEGV);
    }
    const run_result fourth = run_in_db("last_run", db);
    INFO(fourth.describe());
    REQUIRE(fourth.exit_code() == 0);
    CHECK(last_run_line(fourth) == "last_run=crashed consecutive_crashes=3");
    const run_result fifth = run_in_db("last_run", db);  // the fourth exited normally
    INFO(fifth.describe());
    CHECK(last_run_line(fifth) == "last_run=clean_exit consecutive_crashes=0");
    // A crash after the clean run starts a new streak of one.
    REQUIRE(run_in_db("null_main", db).signal() == SIGSEGV);
    CHECK(last_run_line(run_in_db("last_run", db)) == "last_run=crashed consecutive_crashes=1");
}

TEST_CASE("last_run: std::quick_exit after a crash is a clean exit and resets the streak", "[crash][last_run]") {
    if (helper_skipped("the run record's crashed and abnormal_exit ends")) return;
    const std::string db = fresh_db("last_run_quick_exit");
    REQUIRE(run_in_db("null_main", db).signal() == SIGSEGV);
    const run_result quick = run_in_db("quick_exit", db);
    INFO(quick.describe());
    REQUIRE(quick.exit_code() == 0);
    CHECK(last_run_line(quick) == "last_run=crashed consecutive_crashes=1");
    CHECK(last_run_line(run_in_db("last_run", db)) == "last_run=clean_exit consecutive_crashes=0");
}

TEST_CASE("last_run: a run killed by SIGKILL reads abnormal_exit once its helper recorded it, and counts in the streak",
          "[crash][last_run]") {
    if (helper_skipped("the run record's crashed and abnormal_exit ends")) return;
    const std::string db = fresh_db("last_run_killed");
    REQUIRE(run_in_db("null_main", db).signal() == SIGSEGV);
    const run_result killed = run_in_db("killed", db);
    INFO(killed.describe());
    REQUIRE(killed.signal() == SIGKILL);
    CHECK(last_run_line(killed) == "last_run=crashed consecutive_crashes=1");
    // The helper records the end after the process has gone (nothing waits for it there): a
    // restart that comes first would read unknown.
    bool recorded = false;
    for (int i = 0; i < 500 && !recorded; ++i) {
        recorded = read_text_file(db + "/runs").find("state=abnormal_exit") != std::string::npos;
        if (!recorded) usleep(10000);
    }
    INFO(read_text_file(db + "/helper.log"));
    REQUIRE(recorded);
    CHECK(last_run_line(run_in_db("last_run", db)) == "last_run=abnormal_exit consecutive_crashes=2");
}

#ifdef CRASH_TARGET_HOOKS
TEST_CASE("abnormal exit whose exit code cannot be read: reported as exit_reason=unknown, and the run is not recorded (reads unknown)",
          "[crash][last_run]") {
    // As when the parent reaps the process before the helper reads /proc, on a kernel before
    // 6.15 (no exit code kept for a pidfd): nothing is lost, and the crash-loop count is not fed
    // by what may have been an _exit(n).
    const std::string db = fresh_db("abnormal_unknown");
    REQUIRE(run_in_db("null_main", db).signal() == SIGSEGV);
    std::vector<std::string> argv = target_runner();
    argv.insert(argv.end(), {CRASH_TARGET_HOOKS, "killed", db});
    const run_result killed = run_process(argv, 60, {"CRASHDROP_TEST_EXIT_CAUSE_UNREADABLE=1"}, db);
    INFO(killed.describe());
    REQUIRE(killed.signal() == SIGKILL);
    std::string meta;
    for (int i = 0; i < 500 && meta.empty(); ++i) {
        for (const auto& name : split(run_process({"ls", db + "/pending"}, 30).out, '\n')) {
            const std::string text = name.size() > 5 && name.compare(name.size() - 5, 5, ".meta") == 0 ? read_text_file(db + "/pending/" + name) : "";
            if (text.find("kind=abnormal_exit") != std::string::npos) meta = text;
        }
        if (meta.empty()) usleep(10000);
    }
    INFO(read_text_file(db + "/helper.log"));
    REQUIRE(!meta.empty());
    CHECK(meta.find("annotation.exit_reason=unknown") != std::string::npos);
    CHECK(meta.find("annotation.exit_signal=") == std::string::npos);
    CHECK(read_text_file(db + "/runs").find("state=started") != std::string::npos);
    CHECK(last_run_line(run_in_db("last_run", db)) == "last_run=unknown consecutive_crashes=0");
}
#endif

TEST_CASE("a fault inside the dump writer neither hangs nor changes how the process dies", "[crash]") {
    crash_run c = run_target(CRASH_TARGET, "fault_in_writer", {}, {}, 30);
    INFO(c.run.describe());
    REQUIRE(c.run.signaled());
    CHECK(c.run.signal() == SIGABRT);
    CHECK(c.run.err.find("crashdrop: fault while writing the dump") != std::string::npos);
}

TEST_CASE("a second fault of the same signal inside the writer still ends in that signal - after the previous handler", "[crash]") {
    // The writer's buffer is read-only, so writing the dump of a SIGSEGV faults with SIGSEGV
    // again. A SIGSEGV delivered while SIGSEGV is blocked would kill the process at once
    // (SIG_DFL) without the handler installed before crashdrop; it must run, with the crash.
    crash_run c = run_target(CRASH_TARGET, "fault_in_writer_same", {}, {}, 30);
    INFO(c.run.describe());
    REQUIRE(c.run.signaled());
    CHECK(c.run.signal() == SIGSEGV);
    CHECK(c.run.err.find("crashdrop: fault while writing the dump") != std::string::npos);
    CHECK(c.run.err.find("PREVIOUS HANDLER RAN") != std::string::npos);
}

TEST_CASE("stop() while 8 threads set context, 60 times over, crashes nothing", "[crash]") {
    // Fewer rounds under emulation (each start() is much slower there), the same race.
    crash_run c = run_target(CRASH_TARGET, "stop_race", {}, {emulated() ? "STOP_RACE_ROUNDS=30" : "STOP_RACE_ROUNDS=60"}, 180);
    INFO(c.run.describe());
    REQUIRE(c.run.exit_code() == 0);
    CHECK(c.run.out.find("stop_race=done") != std::string::npos);
}

TEST_CASE("a fork during a dump leaves the child a working handler - its crash gets its own dump", "[crash]") {
    if (emulated()) {
        skip_under_emulation("fork during a dump", "stopping the helper is not portable under qemu-user's process view");
        return;
    }
    crash_run c = run_target(CRASH_TARGET, "fork_during_dump", {}, {}, 90);
    INFO(c.run.describe());
    REQUIRE(c.run.exit_code() == 0);
    CHECK(c.run.out.find("parent_dump=" + c.db) != std::string::npos);  // the parent's dump was written
    CHECK(c.run.out.find("child=signal:11") != std::string::npos);      // not hung, not another death
    CHECK(c.run.err.find("CHILD CRASHES") != std::string::npos);
    // Two dumps: the parent's (requested) and the child's (its SIGSEGV).
    REQUIRE(c.dumps.size() == 2);
    int crashes = 0, requested = 0;
    for (const auto& d : c.dumps) {
        minidump_file md;
        REQUIRE(md.load(d));
        if (md.exception_code() == 0xffffffffu) ++requested;
        else if (md.exception_code() == static_cast<std::uint32_t>(SIGSEGV)) ++crashes;
    }
    CHECK(requested == 1);
    CHECK(crashes == 1);
}

#ifdef CRASH_TARGET_HOOKS
TEST_CASE("the unload hook at exit() while 8 threads set context crashes nothing", "[crash]") {
    // The ELF destructor runs stop() while the threads go on; exit() then ends them. Repeated:
    // the window between unmapping and the end of the process is short.
    for (int i = 0; i < 30; ++i) {
        crash_run c = run_target(CRASH_TARGET_HOOKS, "exit_race", {}, {}, 60);
        INFO("run " << i << ": " << c.run.describe());
        REQUIRE(c.run.exit_code() == 0);
        REQUIRE(c.run.out.find("exit_race=exiting") != std::string::npos);
    }
}

TEST_CASE("a late answer to a timed-out hand-off is not taken for the next dump - both dumps intact and distinct", "[crash]") {
    // The helper stalls 7 s with the first hand-off taken: the application stops waiting at 5 s
    // and writes that dump itself, then asks for a second one while the helper still reads the
    // first from the shared buffer, and the helper answers the first hand-off late.
    crash_run c = run_target(CRASH_TARGET_HOOKS, "late_answer", {}, {"CRASHDROP_TEST_HELPER_STALL_MS=7000"}, 90);
    INFO(c.run.describe());
    REQUIRE(c.run.exit_code() == 0);
    CHECK(c.run.out.find("first_status=ok") != std::string::npos);
    CHECK(c.run.out.find("second_status=ok") != std::string::npos);
    // Each dump is on disk under the name write_dump() returned, with its own annotation only.
    CHECK(c.run.out.find("first: exists=1 one=1 two=0") != std::string::npos);
    CHECK(c.run.out.find("second: exists=1 one=0 two=1") != std::string::npos);
    REQUIRE(c.dumps.size() == 2);
    for (const auto& d : c.dumps) {
        minidump_file md;
        CHECK(md.load(d));
        CHECK(md.exception_code() == 0xffffffffu);
    }
}
#endif

TEST_CASE("exit signal and core dump are the same with and without crashdrop", "[crash]") {
    // Under qemu-user the emulator, not the kernel, handles the guest's fatal signal: it writes
    // its own core file of the guest and then dies of the same signal with core dumps off, so
    // the wait status's core flag says nothing about the program. The signal is still compared.
    const bool cores_comparable = !emulated();
    if (!cores_comparable) {
        skip_under_emulation("core-dump flag comparison",
                             "qemu-user dumps the guest's core itself and then dies without a kernel core dump");
    }
    auto unlimited_core = [cores_comparable] {
        rlimit rl{RLIM_INFINITY, RLIM_INFINITY};
        if (!cores_comparable) rl = rlimit{0, 0};  // no qemu core files either
        setrlimit(RLIMIT_CORE, &rl);
    };
    for (const char* mode : {"null_main", "abort", "fpe", "trap"}) {
        INFO("mode " << mode);
        crash_run without = run_target(CRASH_TARGET, mode, {}, {"CRASHDROP_TEST_DISABLE=1"}, 60, unlimited_core);
        crash_run with = run_target(CRASH_TARGET, mode, {}, {}, 60, unlimited_core);
        INFO("without: " << without.run.describe() << "\nwith: " << with.run.describe());
        REQUIRE(without.run.signaled());
        CHECK(with.run.signal() == without.run.signal());
        if (cores_comparable) CHECK(with.run.core_dumped() == without.run.core_dumped());
        CHECK(without.dumps.empty());
        CHECK(with.dumps.size() == 1);
    }
}

TEST_CASE("the crash path never calls malloc or free", "[crash][sigsafe]") {
    // The guard is armed just before each crash; any malloc/free after that ends the child
    // with exit code 97 and a message, so no dump and no signal death.
    for (const char* mode : {"null_main", "null_worker", "abort", "overflow_worker", "blocked_thread"}) {
        INFO("mode " << mode);
        crash_run c = run_target(CRASH_TARGET_MALLOC_GUARD, mode);
        CHECK(c.run.err.find("MALLOC DURING CRASH") == std::string::npos);
        check_crash_dump(c, CRASH_TARGET_MALLOC_GUARD);
    }
}

TEST_CASE("the crash path never calls malloc or free at memory_capture stacks_only and scrubbed_stacks",
          "[crash][sigsafe][memory]") {
    for (const char* level : {"stacks_only", "scrubbed_stacks"}) {
        INFO("memory_capture " << level);
        crash_run c = run_target(CRASH_TARGET_MALLOC_GUARD, "null_worker", {}, {std::string("CRASHDROP_TEST_MEMORY=") + level});
        CHECK(c.run.err.find("MALLOC DURING CRASH") == std::string::npos);
        c.expect["writer_error"] = std::string("memory_capture: ") + level;
        check_crash_dump(c, CRASH_TARGET_MALLOC_GUARD);
    }
}

TEST_CASE("a crash while another thread holds the malloc lock is still captured", "[crash][sigsafe]") {
    // Control: the lock really is held - a malloc in this state never returns.
    crash_run control = run_target(CRASH_TARGET_MALLOC_GUARD, "malloc_lock_control", {}, {}, 3);
    INFO("control: " << control.run.describe());
    REQUIRE(control.run.timed_out);
    crash_run c = run_target(CRASH_TARGET_MALLOC_GUARD, "malloc_lock", {}, {}, 30);
    CHECK(!c.run.timed_out);
    check_crash_dump(c, CRASH_TARGET_MALLOC_GUARD);
}

// ---- privacy: no environment string and no argument but argv[0] reaches a dump by default ----

namespace {

/// A secret nobody else would write: a fixed prefix and 24 random letters and digits.
std::string make_secret(const std::string& prefix) {
    static const char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string s = prefix;
    std::FILE* f = std::fopen("/dev/urandom", "rb");
    REQUIRE(f != nullptr);
    for (int i = 0; i < 24; ++i) {
        unsigned char b = 0;
        REQUIRE(std::fread(&b, 1, 1, f) == 1);
        s += k_alphabet[b % 62];
    }
    std::fclose(f);
    return s;
}

std::string utf16le(const std::string& ascii) {
    std::string out;
    for (char ch : ascii) {
        out += ch;
        out += '\0';
    }
    return out;
}

/// Where in `bytes` any 8 consecutive characters of `secret`'s random part occur, as ASCII or
/// UTF-16LE (a register holds 8 or 16 bytes: a part of the secret is a leak too); "" if nowhere.
std::string find_secret(const std::string& bytes, const std::string& secret, std::size_t random_from) {
    for (std::size_t i = random_from; i + 8 <= secret.size(); ++i) {
        const std::string part = secret.substr(i, 8);
        for (const std::string& needle : {part, utf16le(part)}) {
            const std::size_t at = bytes.find(needle);
            if (at != std::string::npos) {
                return "'" + part + "'" + (needle.size() > 8 ? " (UTF-16LE)" : "") + " at offset " + std::to_string(at);
            }
        }
    }
    return "";
}

/// Every file the run left in its database (dumps, .meta, attachments, helper.log), path -> bytes.
std::map<std::string, std::string> database_files(const std::string& dir) {
    std::map<std::string, std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            const std::string n = e->d_name;
            if (n == "." || n == "..") continue;
            const std::string path = dir + "/" + n;
            struct stat st;
            if (lstat(path.c_str(), &st) != 0) continue;
            if (S_ISDIR(st.st_mode)) {
                for (auto& kv : database_files(path)) out.insert(kv);
            } else if (S_ISREG(st.st_mode)) {
                out[path] = read_text_file(path);
            }
        }
        closedir(d);
    }
    return out;
}

struct privacy_run {
    crash_run c;
    std::string env_secret;  // the value of MY_API_TOKEN
    std::string arg_secret;  // the argument after the database
};
constexpr std::size_t k_secret_prefix = 10;  // "envSECRET-" / "argSECRET-"

privacy_run run_with_secrets(const std::string& mode, const std::vector<std::string>& more_env = {}) {
    privacy_run p;
    p.env_secret = make_secret("envSECRET-");
    p.arg_secret = make_secret("argSECRET-");
    std::vector<std::string> env = {"MY_API_TOKEN=" + p.env_secret, "CRASHDROP_TEST_PRIVACY=1"};
    env.insert(env.end(), more_env.begin(), more_env.end());
    p.c = run_target(CRASH_TARGET, mode, {"--token=" + p.arg_secret}, env);
    return p;
}

/// The whole check: every byte of every dump (and every other file in the database) is free of
/// both secrets, and the dumps still say what a crash test expects of them.
void check_no_secrets(const privacy_run& p, bool crashed) {
    INFO("run directory: " << p.c.dir << "\nchild: " << p.c.run.describe());
    REQUIRE(!p.c.dumps.empty());
    const auto files = database_files(p.c.db);
    for (const auto& kv : files) {
        INFO("file " << kv.first << " (" << kv.second.size() << " bytes)");
        CHECK(find_secret(kv.second, p.env_secret, k_secret_prefix) == "");
        CHECK(find_secret(kv.second, p.arg_secret, k_secret_prefix) == "");
    }
    for (const auto& dump : p.c.dumps) {
        minidump_file md;
        REQUIRE(md.load(dump));
        CHECK_FALSE(md.has(0x47670007u));  // no LinuxEnviron stream
        // The command line stream holds argv[0] alone (the program), NUL-terminated.
        const std::string cmdline = md.stream_bytes(0x47670006u);
        INFO("command line stream: " << cmdline);
        CHECK(cmdline.size() >= 2);
        CHECK(cmdline.find('\0') == cmdline.size() - 1);
    }
    if (crashed) check_crash_dump(p.c, CRASH_TARGET);
}

}  // namespace

TEST_CASE("privacy: a crash in main leaves no environment or argument secret in the dump", "[crash][privacy]") {
    check_no_secrets(run_with_secrets("null_main"), true);
}
TEST_CASE("privacy: a crash in a worker leaves no secret in the dump (main thread's stack too)", "[crash][privacy]") {
    check_no_secrets(run_with_secrets("null_worker"), true);
}
TEST_CASE("privacy: an uncaught exception leaves no secret in the dump", "[crash][privacy]") {
    check_no_secrets(run_with_secrets("uncaught"), true);
}
TEST_CASE("privacy: write_dump() leaves no secret in its dumps", "[crash][privacy]") {
    privacy_run p = run_with_secrets("requested");
    INFO(p.c.run.describe());
    REQUIRE(p.c.run.exit_code() == 0);
    CHECK(p.c.dumps.size() == 2);
    check_no_secrets(p, false);
    crash_run first = p.c;
    const std::string& out = p.c.run.out;
    first.dumps = {out.substr(out.find("dump=") + 5, out.find('\n') - out.find("dump=") - 5)};
    check_crash_dump(first, CRASH_TARGET);
}
TEST_CASE("privacy control: with include_environment the environment secret is in the dump", "[crash][privacy]") {
    // Proves the search above can find what it looks for.
    privacy_run p = run_with_secrets("null_main", {"CRASHDROP_TEST_INCLUDE_ENVIRONMENT=1"});
    INFO(p.c.run.describe());
    REQUIRE(p.c.dumps.size() == 1);
    const std::string bytes = read_text_file(p.c.dumps[0]);
    CHECK(bytes.find("MY_API_TOKEN=" + p.env_secret) != std::string::npos);
    CHECK(find_secret(bytes, p.env_secret, k_secret_prefix) != "");
    CHECK(find_secret(bytes, p.arg_secret, k_secret_prefix) == "");
}
TEST_CASE("privacy control: with include_command_line the argument secret is in the dump", "[crash][privacy]") {
    privacy_run p = run_with_secrets("null_main", {"CRASHDROP_TEST_INCLUDE_COMMAND_LINE=1"});
    INFO(p.c.run.describe());
    REQUIRE(p.c.dumps.size() == 1);
    const std::string bytes = read_text_file(p.c.dumps[0]);
    minidump_file md;
    REQUIRE(md.load(p.c.dumps[0]));
    CHECK(md.stream_bytes(0x47670006u).find("--token=" + p.arg_secret) != std::string::npos);
    CHECK(find_secret(bytes, p.arg_secret, k_secret_prefix) != "");
    CHECK(find_secret(bytes, p.env_secret, k_secret_prefix) == "");
}
// ---- memory capture levels (Options::memory_capture) ------------------------------------
namespace {

/// `v` as the 8 little-endian bytes a dump stores it in.
std::string le64(std::uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xffu);
    return s;
}

/// The bytes of the exception thread's stack in the dump (empty if not found).
std::string crashing_stack_bytes(const minidump_file& md) {
    const auto tids = md.thread_ids();
    const auto it = md.streams.find(3);
    for (std::uint32_t i = 0; i < tids.size() && it != md.streams.end(); ++i) {
        if (tids[i] != md.exception_thread()) continue;
        std::uint32_t size = 0, rva = 0;
        const std::uint64_t at = it->second.first + 4 + 48ull * i;
        if (!md.get(at + 32, &size) || !md.get(at + 36, &rva) || std::uint64_t{rva} + size > md.bytes.size()) return "";
        return std::string(reinterpret_cast<const char*>(md.bytes.data()) + rva, size);
    }
    return "";
}

/// A crash_target run at a memory capture level, its dump checked as every crash dump is
/// (frames of the crashing thread by minidump_stackwalk and lldb included), and its
/// writer-errors stream naming the level.
crash_run memory_level_case(const std::string& mode, const std::string& level) {
    INFO("mode " << mode << " memory_capture " << level);
    crash_run c = run_target(CRASH_TARGET, mode, {}, {"CRASHDROP_TEST_MEMORY=" + level, "QEMU_STACK_SIZE=524288"});
    if (level != "full") c.expect["writer_error"] = "memory_capture: " + level;
    check_crash_dump(c, CRASH_TARGET);
    return c;
}

}  // namespace

TEST_CASE("memory_capture: stacks_only and scrubbed_stacks dumps still walk - main, worker, deep recursion",
          "[crash][memory]") {
    for (const char* level : {"stacks_only", "scrubbed_stacks"}) {
        for (const char* mode : {"null_main", "null_worker", "overflow_main"}) memory_level_case(mode, level);
    }
}

TEST_CASE("memory_capture: a heap secret a register points at is in a full dump only, and a stack word pointing at it "
          "is zeroed by scrubbed_stacks alone",
          "[crash][memory][privacy]") {
    // crash_target's heap bytes (no 8 bytes of it in a row are in the environment, whose copies
    // the writer clears whatever the level).
    const std::string marker = "HsQ7vX2mK9-heap-secret-w3Lp8Z";
    for (const char* level : {"full", "stacks_only", "scrubbed_stacks"}) {
        const std::string l = level;
        crash_run c = memory_level_case("heap_secret", l);
        REQUIRE(c.dumps.size() == 1);
        const std::string bytes = read_text_file(c.dumps[0]);
        const std::uint64_t secret = std::strtoull(c.expect.at("heap_secret").c_str(), nullptr, 16);
        const std::uint64_t pointer = std::strtoull(c.expect.at("heap_pointer").c_str(), nullptr, 16);
        INFO("memory_capture " << l << ", dump " << c.dumps[0] << " (" << bytes.size() << " bytes)");
        // The register holding the secret's address is kept at every level (it is needed to walk).
        CHECK(bytes.find(le64(secret)) != std::string::npos);
        // The secret's bytes: only a full dump copies the memory around that register.
        CHECK((bytes.find(marker) != std::string::npos) == (l == "full"));
        // The stack word pointing into the secret: zeroed by scrubbed_stacks alone. (A register
        // may hold the same value: registers are kept, so the crashing thread's stack is searched.)
        minidump_file md;
        REQUIRE(md.load(c.dumps[0]));
        const std::string stack = crashing_stack_bytes(md);
        REQUIRE(stack.size() >= 1024);
        CHECK((stack.find(le64(pointer)) != std::string::npos) == (l != "scrubbed_stacks"));
    }
}

TEST_CASE("privacy: a 1 MiB environment still gives a prompt dump without the secret", "[crash][privacy]") {
    // Eight variables of 120 KiB of random text (one string may hold at most 128 KiB): the
    // writer's filter of the strings saturates; it must still end quickly and clear the secrets.
    std::vector<std::string> big;
    std::FILE* f = std::fopen("/dev/urandom", "rb");
    REQUIRE(f != nullptr);
    for (int i = 0; i < 8; ++i) {
        std::string v = "BIG" + std::to_string(i) + "=";
        unsigned char bytes[120 * 1024];
        REQUIRE(std::fread(bytes, 1, sizeof(bytes), f) == sizeof(bytes));
        for (unsigned char b : bytes) v += static_cast<char>('!' + b % 94);  // printable, no NUL
        big.push_back(v);
    }
    std::fclose(f);
    const auto t0 = std::chrono::steady_clock::now();
    privacy_run p = run_with_secrets("null_main", big);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO("the run took " << seconds << " s");
    CHECK(seconds < 20);
    check_no_secrets(p, false);
    REQUIRE(p.c.dumps.size() == 1);
    minidump_file md;
    REQUIRE(md.load(p.c.dumps[0]));
    INFO("writer errors:\n" << md.stream_bytes(0x43440001u));
    // The filter saturates, so hits are cleared unconfirmed; pointers never qualify, so the
    // stack still walks (minidump_stackwalk; lldb-14 on arm64 takes the link register for a
    // second null_write_leaf frame on this dump, which it does not on the others).
    if (!readers_available()) return;
    for (const auto& m : md.modules()) {
        if (!m.second.empty() && m.second[0] == '/' && file_exists(m.second)) ensure_symbols(symbol_dir(), m.second);
    }
    stackwalk_result sw = stackwalk(p.c.dumps[0], symbol_dir());
    REQUIRE(sw.run.exit_code() == 0);
    const auto frames = sw.functions(sw.crash_thread);
    INFO("crashing thread (stackwalk): " << join(frames));
    CHECK(frames_match(frames, p.c.expect.at("frames"), true));
}

// ---- hosts that recover from their own faults (issue 13): fault_host ---------------------------

#ifdef FAULT_HOST
namespace {

/// fault_host in `mode`: every fault the host recovers from is recovered (as many as it made),
/// none left a report, crashdrop's handlers are still in place, and the real crash that follows
/// gives exactly one dump (read by minidump_stackwalk, minidump_dump, lldb) and death by SIGSEGV.
void check_recovered(const crash_run& c) {
    INFO(c.run.describe());
    CHECK(c.run.out.find("recovered=1000 ") != std::string::npos);
    CHECK(c.run.out.find("reports_before_crash=0") != std::string::npos);
    CHECK(c.run.out.find("handlers=ok") != std::string::npos);
    check_crash_dump(c, FAULT_HOST);
}
void recovered_faults_case(const std::string& mode) { check_recovered(run_target(FAULT_HOST, mode, {}, {}, 120)); }

/// A fault in the generated code that the host did not recover from: one dump, of that fault
/// (the crashing thread's instruction pointer is the generated code), and death by SIGSEGV.
void generated_crash_case(const crash_run& c) {
    INFO(c.run.describe());
    REQUIRE_FALSE(c.run.timed_out);
    check_crash_dump(c, FAULT_HOST);
    REQUIRE(c.dumps.size() == 1);
    minidump_file md;
    REQUIRE(md.load(c.dumps[0]));
    const auto tids = md.thread_ids();
    const auto at = std::find(tids.begin(), tids.end(), md.exception_thread());
    REQUIRE(at != tids.end());
    std::uint64_t ip = 0, sp = 0;
    REQUIRE(md.thread_ip_sp(static_cast<std::uint32_t>(at - tids.begin()), &ip, &sp));
    CHECK(ip == std::strtoull(c.expect.at("generated_code").c_str(), nullptr, 16));
}

}  // namespace

TEST_CASE("a JVM-style host skips faulting loads in generated code: 4 threads x 250 faults, no report, then one dump of a real crash", "[crash][hosts]") {
    recovered_faults_case("jvm");
}
TEST_CASE("a host that leaves its handler by siglongjmp: 1000 faults, no report, then one dump of a real crash", "[crash][hosts]") {
    recovered_faults_case("longjmp");
}
TEST_CASE("a handler that makes the page readable and returns unchanged: the load runs again - no report for 1000 faults", "[crash][hosts]") {
    recovered_faults_case("mprotect");
}
TEST_CASE("a handler that returns without fixing anything: one dump and death by SIGSEGV, not an endless loop", "[crash][hosts]") {
    generated_crash_case(run_target(FAULT_HOST, "unfixed", {}, {}, 60));
}
TEST_CASE("a handler that resets SIG_DFL and re-raises (Node's way): one dump of the original fault, death by SIGSEGV", "[crash][hosts]") {
    crash_run c = run_target(FAULT_HOST, "reraise", {}, {}, 60);
    // Asked before the dump was written (with crashdrop 0.x before issue 13, after it).
    CHECK(c.run.err.find("HOST HANDLER: not a fault of mine (dumps so far: 0)") != std::string::npos);
    generated_crash_case(c);
}
TEST_CASE("fault_filter: faults it claims in the program's own code give no report, and the crash it declines is dumped", "[crash][hosts]") {
    crash_run c = run_target(FAULT_HOST, "filter", {}, {}, 120);
    CHECK(c.run.out.find("filter_called=1") != std::string::npos);
    check_recovered(c);
}
TEST_CASE("fault_filter with only_this_module: faults of this module go through the filter first too", "[crash][hosts]") {
    crash_run c = run_target(FAULT_HOST, "filter", {}, {"FAULT_HOST_ONLY_THIS_MODULE=1"}, 120);
    check_recovered(c);
}
TEST_CASE("seccomp: SIGSYS traps the previous handler emulates - 1000 calls succeed, no report, crashdrop stays", "[crash][hosts]") {
    crash_run c = run_target(FAULT_HOST, "seccomp", {}, {}, 120);
    if (c.run.out.find("seccomp=unavailable") != std::string::npos && emulated()) {
        skip_under_emulation("seccomp traps", "qemu-user does not install a guest's seccomp filter");
        return;
    }
    check_recovered(c);
}
#endif

// ---- hang reports (Options::hang_timeout_ms; crash_target's hang modes) ----------------------

namespace {

/// The watched thread's id a hang mode printed.
std::uint32_t watched_tid_of(const run_result& r) {
    const auto at = r.out.find("watched_tid=");
    return at == std::string::npos ? 0 : static_cast<std::uint32_t>(std::stoul(r.out.substr(at + 12)));
}

/// Runs a hang mode with the given timeout; its dumps are listed once each has its .meta (the
/// helper writes it right after the dump).
crash_run run_hang_mode(const std::string& mode, int timeout_ms = 500, std::vector<std::string> env = {}) {
    env.push_back("CRASHDROP_TEST_HANG_MS=" + std::to_string(timeout_ms));
    crash_run c = run_target(CRASH_TARGET, mode, {}, env, 120);
    // Settled: every dump with its .meta, and the helper done with its log (it exits once the
    // application has gone), so what a test reads from pending/ and helper.log is final.
    eventually(10, [&] {
        c.dumps = list_dumps(c.db + "/pending");
        return std::all_of(c.dumps.begin(), c.dumps.end(), [](const std::string& d) {
            return file_exists(d.substr(0, d.size() - 4) + ".meta");
        }) && read_text_file(c.db + "/helper.log").find("helper exits") != std::string::npos;
    });
    return c;
}

/// Symbols (dump_syms) for every module of `md` that is a file, so stackwalk names frames.
void ensure_module_symbols(const minidump_file& md) {
    for (const auto& m : md.modules()) {
        if (!m.second.empty() && m.second[0] == '/' && file_exists(m.second)) ensure_symbols(symbol_dir(), m.second);
    }
}

/// What every hang report must show, from outside: the hang exception code on the watched
/// thread, kind=hang in its .meta, every thread of the process (main, two parked threads and
/// the watchdog), the annotations hang_thread and hang_ms, and - read by minidump_stackwalk -
/// the function the watched thread is stuck in, on the crashing thread (`frames`: as
/// frames_match reads it, anywhere in that thread's stack).
void check_hang_dump(const crash_run& c, const std::string& dump, const std::string& frames_spec, int timeout_ms) {
    INFO("run directory: " << c.dir << "\nchild: " << c.run.describe() << "\ndump: " << dump);
    const std::uint32_t watched = watched_tid_of(c.run);
    REQUIRE(watched != 0);
    minidump_file md;
    REQUIRE(md.load(dump));
    CHECK(md.exception_code() == 0x48414E47u);
    CHECK(md.exception_thread() == watched);
    const auto tids = md.thread_ids();
    CHECK(tids.size() == 4);
    CHECK(std::find(tids.begin(), tids.end(), watched) != tids.end());
    const std::string meta = read_text_file(dump.substr(0, dump.size() - 4) + ".meta");
    INFO("meta:\n" << meta);
    CHECK(meta.find("\nkind=hang\n") != std::string::npos);
    if (!readers_available()) return;
    ensure_module_symbols(md);
    stackwalk_result sw = stackwalk(dump, symbol_dir());
    INFO("minidump_stackwalk:\n" << sw.run.out.substr(0, 20000));
    REQUIRE(sw.run.exit_code() == 0);
    REQUIRE(sw.crash_thread >= 0);
    REQUIRE(sw.crash_thread < static_cast<int>(tids.size()));
    CHECK(tids[static_cast<std::size_t>(sw.crash_thread)] == watched);
    const auto frames = sw.functions(sw.crash_thread);
    INFO("crashing (watched) thread: " << join(frames));
    CHECK(frames_match(frames, frames_spec, false));
    dump_result dd = minidump_dump(dump);
    CHECK(dd.annotations["hang_thread"] == std::to_string(watched));
    REQUIRE(!dd.annotations["hang_ms"].empty());
    CHECK(std::stol(dd.annotations["hang_ms"]) >= timeout_ms);
    bool watchdog_named = false;
    for (const auto& kv : dd.thread_names) watchdog_named = watchdog_named || kv.second == "crashdrop-hang";
    CHECK(watchdog_named);
}

}  // namespace

TEST_CASE("hang: a main loop that stops beating for 2 x hang_timeout_ms gives exactly one hang report naming the "
          "function it is stuck in, and the process goes on and exits 0", "[crash][hang]") {
    if (helper_skipped("hang reports")) return;
    crash_run c = run_hang_mode("hang");
    INFO(c.run.describe());
    INFO("helper.log:\n" << read_text_file(c.db + "/helper.log"));
    CHECK(c.run.exit_code() == 0);
    REQUIRE(c.dumps.size() == 1);
    check_hang_dump(c, c.dumps[0], "hang_sleep_leaf,run_hang,main", 500);
}

TEST_CASE("hang: after beating again, a second hang is a second report - and a later report has no hang annotations", "[crash][hang]") {
    if (helper_skipped("hang reports")) return;
    crash_run c = run_hang_mode("hang_twice");
    INFO(c.run.describe());
    INFO("helper.log:\n" << read_text_file(c.db + "/helper.log"));
    CHECK(c.run.exit_code() == 0);
    // Then write_dump(): a later report, without the hang annotations.
    const auto at = c.run.out.find("write_dump=");
    REQUIRE(at != std::string::npos);
    const std::string requested = c.run.out.substr(at + 11, c.run.out.find('\n', at) - at - 11);
    REQUIRE(file_exists(requested));
    c.dumps.erase(std::remove(c.dumps.begin(), c.dumps.end(), requested), c.dumps.end());
    REQUIRE(c.dumps.size() == 2);
    {
        minidump_file md;
        REQUIRE(md.load(requested));
        CHECK(md.exception_code() == 0xffffffffu);
        if (readers_available()) {
            dump_result dd = minidump_dump(requested);
            CHECK(dd.annotations["prod"] == "crash_target");
            CHECK(dd.annotations.count("hang_thread") == 0);
            CHECK(dd.annotations.count("hang_ms") == 0);
        }
    }
    // Which came first is told by the function each names (names are random ids).
    minidump_file a, b;
    REQUIRE(a.load(c.dumps[0]));
    REQUIRE(b.load(c.dumps[1]));
    std::string sleep_dump = c.dumps[0], spin_dump = c.dumps[1];
    if (readers_available()) ensure_module_symbols(a);  // the probe below needs them too
    const stackwalk_result probe = readers_available() ? stackwalk(c.dumps[0], symbol_dir()) : stackwalk_result();
    if (probe.crash_thread >= 0 && frames_match(probe.functions(probe.crash_thread), "hang_spin_leaf", false)) {
        std::swap(sleep_dump, spin_dump);
    }
    check_hang_dump(c, sleep_dump, "hang_sleep_leaf,run_hang,main", 500);
    check_hang_dump(c, spin_dump, "hang_spin_leaf,run_hang,main", 500);
}

TEST_CASE("hang: a thread hung for many timeouts (an hour, shortened to 8 x 500 ms) is one report", "[crash][hang]") {
    if (helper_skipped("hang reports")) return;
    crash_run c = run_hang_mode("hang_long");
    INFO(c.run.describe());
    INFO("helper.log:\n" << read_text_file(c.db + "/helper.log"));
    CHECK(c.run.exit_code() == 0);
    REQUIRE(c.dumps.size() == 1);
    check_hang_dump(c, c.dumps[0], "hang_sleep_leaf,run_hang,main", 500);
}

TEST_CASE("hang: a watched thread that blocks every signal, stuck in a system call, still gets a report that says "
          "what could not be captured", "[crash][hang]") {
    if (helper_skipped("hang reports")) return;
    crash_run c = run_hang_mode("hang_blocked");
    INFO(c.run.describe());
    INFO("helper.log:\n" << read_text_file(c.db + "/helper.log"));
    CHECK(c.run.exit_code() == 0);
    REQUIRE(c.dumps.size() == 1);
    minidump_file md;
    REQUIRE(md.load(c.dumps[0]));
    const std::string errors = md.stream_bytes(0x43440001u);
    INFO("writer errors:\n" << errors);
    CHECK(errors.find("thread " + std::to_string(watched_tid_of(c.run)) + ": did not answer") != std::string::npos);
    CHECK(errors.find("(it blocks that signal)") != std::string::npos);
    // Only the stack pointer and pc are known (/proc/self/task/T/syscall): the walk finds the
    // function above the system call, then scans the stack.
    check_hang_dump(c, c.dumps[0], "syscall,hang_blocked_leaf", 500);
}

TEST_CASE("hang: found while write_dump() is being written, the hang is reported in the same episode once the write is "
          "done", "[crash][hang]") {
    // The watched thread itself writes the dump (1.5 s: a thread that blocks every signal), so
    // the hang is found during the write. The watchdog, parked by the write's capture signal
    // like every thread, sees the request when the write releases the threads: before the
    // writer lets go of the dump (it answers busy and the helper asks again; hang_watch's unit
    // test proves that path on its own) or after (it writes at once), as the scheduler has it.
    if (helper_skipped("hang reports")) return;
    crash_run c = run_hang_mode("hang_busy");
    INFO(c.run.describe());
    CHECK(c.run.exit_code() == 0);
    CHECK(c.run.out.find("write_dump=ok") != std::string::npos);
    const std::string log = read_text_file(c.db + "/helper.log");
    INFO("helper.log:\n" << log);
    REQUIRE(c.dumps.size() == 2);
    int hangs = 0, requested = 0;
    std::string hang_id, requested_id;
    for (const auto& d : c.dumps) {
        minidump_file md;
        REQUIRE(md.load(d));
        const std::string id = d.substr(d.rfind('/') + 1, 36);
        if (md.exception_code() == 0x48414E47u) {
            ++hangs;
            hang_id = id;
            CHECK(md.exception_thread() == watched_tid_of(c.run));
        }
        if (md.exception_code() == 0xffffffffu) {
            ++requested;
            requested_id = id;
        }
    }
    CHECK(hangs == 1);
    CHECK(requested == 1);
    // Found during the write: asked for before write_dump()'s report was persisted; reported
    // after it, and in the same episode (no beat in between: the log says so before the end).
    const auto asked = log.find("a dump is asked for");
    const auto write_done = log.find("persisted report " + requested_id);
    const auto hang_done = log.find("persisted report " + hang_id);
    REQUIRE(asked != std::string::npos);
    REQUIRE(write_done != std::string::npos);
    REQUIRE(hang_done != std::string::npos);
    CHECK(asked < write_done);
    CHECK(write_done < hang_done);
    const auto beats_again = log.find("beats again");
    CHECK((beats_again == std::string::npos || beats_again > hang_done));
}

TEST_CASE("hang: no report before the first beat, none after stop(), none when the watched thread has ended, none "
          "for a process stopped (SIGSTOP) longer than the timeout", "[crash][hang]") {
    if (helper_skipped("hang reports")) return;
    for (const char* mode : {"hang_no_beat", "hang_after_stop", "hang_thread_exits", "hang_stopped"}) {
        crash_run c = run_hang_mode(mode);
        INFO(mode << ": " << c.run.describe());
        CHECK(c.run.exit_code() == 0);
        CHECK(c.dumps.empty());
    }
}

TEST_CASE("hang: a run that ends (SIGKILL) during a hang episode is recorded as hung", "[crash][hang][last_run]") {
    if (helper_skipped("hang reports")) return;
    crash_run c = run_hang_mode("hang_killed");
    INFO(c.run.describe());
    CHECK(c.run.signal() == SIGKILL);
    // The helper records the end once it sees the application gone, then writes the abnormal
    // exit's report and exits. Waited for from outside: a run that reads last_run too early
    // records itself over the killed run's record (which then can never end), and a listing
    // too early can catch a report whose .meta is not written yet.
    const std::string log_path = c.db + "/helper.log";
    const bool done = eventually(20, [&] {
        return read_text_file(c.db + "/runs").find("state=started") == std::string::npos &&
               read_text_file(log_path).find("helper exits") != std::string::npos;
    });
    INFO("runs:\n" << read_text_file(c.db + "/runs") << "helper.log:\n" << read_text_file(log_path));
    REQUIRE(done);
    std::vector<std::string> argv = target_runner();
    argv.insert(argv.end(), {CRASH_TARGET, "last_run", c.db});
    CHECK(last_run_line(run_process(argv, 60, {}, c.dir)) == "last_run=hung consecutive_crashes=0");
    // One hang report; the death itself is reported too (kind abnormal_exit), but the run is hung.
    std::map<std::string, int> kinds;
    for (const auto& d : list_dumps(c.db + "/pending")) {
        const std::string meta = read_text_file(d.substr(0, d.size() - 4) + ".meta");
        const auto at = meta.find("\nkind=");
        ++kinds[at == std::string::npos ? "?" : meta.substr(at + 6, meta.find('\n', at + 1) - at - 6)];
    }
    CHECK(kinds["hang"] == 1);
    CHECK(kinds["abnormal_exit"] <= 1);
    CHECK(kinds.size() <= 2);
}

TEST_CASE("hang: detection latency for a 1 s timeout (beat stops -> report in pending/), printed", "[crash][hang][figure]") {
    if (helper_skipped("hang reports")) return;
    crash_run c = run_hang_mode("hang_latency", 1000, {"CRASHDROP_TEST_HANG_ROUNDS=5"});
    INFO(c.run.describe());
    CHECK(c.run.exit_code() == 0);
    CHECK(c.dumps.size() == 5);
    const auto at = c.run.out.find("latency_ms=");
    REQUIRE(at != std::string::npos);
    std::vector<long> ms;
    for (const auto& v : split(c.run.out.substr(at + 11, c.run.out.find('\n', at) - at - 11), ',')) ms.push_back(std::stol(v));
    REQUIRE(ms.size() == 5);
    std::vector<long> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    WARN("[" << k_arch << "] hang detection latency, 1000 ms timeout, 5 episodes: median " << sorted[2] << " ms (min "
             << sorted.front() << ", max " << sorted.back() << ")");
}
