// fixture_tests - checks the kept aarch64 dump (tests/fixtures/aarch64): a real dump crashdrop
// wrote on arm64 (fixture_target under qemu-aarch64), read with crashdrop's own test reader
// and with Breakpad's minidump_stackwalk and the fixture's dump_syms symbols. Native and fast:
// it needs neither the cross compiler nor qemu, so every build runs it.
#include <catch2/catch.hpp>

#include <algorithm>

#include "../support/minidump_file.hpp"
#include "../support/process.hpp"
#include "../support/readers.hpp"

using namespace testsupport;

namespace {

const std::string k_fixture = CRASHDROP_FIXTURE_DIR;  // tests/fixtures/aarch64
const std::string k_dump = k_fixture + "/fixture_target.dmp";

std::map<std::string, std::string> expectations() {
    std::map<std::string, std::string> out;
    for (const auto& line : split(read_text_file(k_fixture + "/expect.txt"), '\n')) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
}

}  // namespace

TEST_CASE("the aarch64 fixture dump has ARM64 contexts and SystemInfo (crashdrop's reader)", "[fixture]") {
    minidump_file md;
    REQUIRE(md.load(k_dump));
    const auto expect = expectations();
    REQUIRE(!expect.empty());
    CHECK(md.architecture() == 12);  // PROCESSOR_ARCHITECTURE_ARM64
    const auto tids = md.thread_ids();
    CHECK(static_cast<int>(tids.size()) == std::stoi(expect.at("threads")));
    CHECK(md.exception_thread() == std::stoul(expect.at("crash_tid")));
    CHECK(md.exception_code() == 11u);
    for (std::uint32_t i = 0; i < tids.size(); ++i) {
        std::uint32_t size = 0, flags = 0;
        REQUIRE(md.thread_context(i, &size, &flags));
        INFO("thread " << tids[i] << " flags " << std::hex << flags);
        CHECK(size == 912u);                       // ARM64_NT_CONTEXT
        CHECK((flags & 0xfffffff0u) == 0x00400000u);  // MD_CONTEXT_ARM64 | parts
        CHECK((flags & 0x1u) != 0);                // at least CONTROL (pc, sp, fp, lr)
    }
    // The crashing thread (the first, the only guest thread) has everything a signal frame gives.
    std::uint32_t size = 0, flags = 0;
    REQUIRE(md.thread_context(0, &size, &flags));
    CHECK(tids[0] == md.exception_thread());
    CHECK(flags == 0x00400007u);  // CONTROL | INTEGER | FLOATING_POINT
}

TEST_CASE("the aarch64 fixture dump reads in minidump_stackwalk with its symbols", "[fixture]") {
    const auto& t = tools();
    if (!t.breakpad) {
        if (t.required) FAIL("minidump_stackwalk missing (CRASHDROP_MINIDUMP_TOOLS) and CRASHDROP_REQUIRE_READERS=1");
        WARN("minidump_stackwalk missing: skipped (set CRASHDROP_MINIDUMP_TOOLS)");
        return;
    }
    const auto expect = expectations();
    stackwalk_result sw = stackwalk(k_dump, k_fixture + "/symbols");
    INFO("minidump_stackwalk:\n" << sw.run.out);
    REQUIRE(sw.run.exit_code() == 0);
    CHECK(sw.cpu == "arm64");
    CHECK(sw.os.rfind("Linux", 0) == 0);
    CHECK(sw.reason == expect.at("reason"));
    CHECK(std::strtoull(sw.address.c_str(), nullptr, 16) == std::strtoull(expect.at("address").c_str(), nullptr, 16));
    CHECK(static_cast<int>(sw.threads.size()) == std::stoi(expect.at("threads")));
    REQUIRE(sw.crash_thread == 0);
    std::vector<std::string> frames = sw.functions(0);
    std::string joined;
    for (const auto& f : frames) joined += f + " | ";
    INFO("crashing thread: " << joined);
    const auto want = split(expect.at("frames"), ',');
    REQUIRE(frames.size() >= want.size());
    CHECK(std::equal(want.begin(), want.end(), frames.begin()));
    // The program's module carries the debug id its .sym file was stored under.
    bool found = false;
    for (const auto& m : sw.modules) {
        if (m.debug_file == "fixture_target") {
            found = true;
            CHECK(m.debug_id == expect.at("debug_id"));
        }
    }
    CHECK(found);
    CHECK(file_exists(k_fixture + "/symbols/fixture_target/" + expect.at("debug_id") + "/fixture_target.sym"));
}
