// The tests' own minidump reader (tests/support/minidump_file.hpp) must read dumps written by
// Breakpad and Crashpad correctly before it is trusted with crashdrop's: these are the real
// dumps in ../shared/testdata/minidumps (see its README for where each came from).
#include <catch2/catch.hpp>

#include <set>

#include "../support/minidump_file.hpp"

using testsupport::minidump_file;

namespace {

const std::string k_data = CRASHDROP_SHARED_TESTDATA;

bool have_testdata() {
    if (testsupport::read_text_file(k_data + "/README.md").empty()) {
        WARN("shared test dumps not found at " << k_data << "; skipped");
        return false;
    }
    return true;
}

}  // namespace

TEST_CASE("Breakpad-written dumps: directory with threads and exception and modules", "[reader]") {
    if (!have_testdata()) return;
    for (const char* name : {"bp_linux_null_dereference.dmp", "bp_linux_raise_sigabrt.dmp", "sy_crash_linux.dmp",
                             "rm_linux-mini.dmp", "nm_linux.dmp"}) {
        INFO(name);
        minidump_file md;
        REQUIRE(md.load(k_data + "/" + std::string(name)));
        for (std::uint32_t type : {3u, 4u, 5u, 6u, 7u}) CHECK(md.has(type));
        CHECK(md.has(0x47670009u));  // LinuxMaps
        const auto tids = md.thread_ids();
        CHECK(!tids.empty());
        CHECK(std::set<std::uint32_t>(tids.begin(), tids.end()).count(md.exception_thread()) == 1);
        CHECK(!md.modules().empty());
    }
    minidump_file nm;
    REQUIRE(nm.load(k_data + "/nm_linux.dmp"));
    CHECK(nm.thread_ids().size() == 11);
    CHECK(nm.modules().size() == 187);
    CHECK(nm.exception_code() == 4);  // SIGILL
    minidump_file bp;
    REQUIRE(bp.load(k_data + "/bp_linux_null_dereference.dmp"));
    CHECK(bp.exception_code() == 11);
}

TEST_CASE("a Crashpad-written dump: its info stream and an 8-byte BpEL module", "[reader]") {
    if (!have_testdata()) return;
    minidump_file md;
    REQUIRE(md.load(k_data + "/bp_linux_inline.dmp"));
    CHECK(md.has(0x43500001u));
    CHECK(md.has(15));  // MiscInfo
    CHECK(md.exception_code() == 4);
    const auto mods = md.modules();
    REQUIRE(!mods.empty());
    CHECK(mods.begin()->second.find("linux_inline") != std::string::npos);
}

TEST_CASE("garbage is rejected", "[reader]") {
    minidump_file md;
    CHECK_FALSE(md.load("/proc/self/cmdline"));
    CHECK_FALSE(md.load("/nonexistent"));
}
