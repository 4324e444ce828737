// The crash context (context.hpp, api.hpp): annotations and their long-value parts, tags, the
// user, breadcrumbs and attachments - their documented limits and errors, what start() brings
// into the store from Options, the store under concurrent writers and readers, and what a dump
// carries of all of it.
//
// Each test starts crashdrop in this process (HelperMode::none, a fresh database folder) and
// stops it again at its end (crashdrop::stop(); start() may run again afterwards), so that the
// other test cases still see a process without crashdrop.
//
// In unit_tests_split / unit_tests_single this TU sees the public API only, and reads dumps with
// the tests' own minidump reader. Built as unit_context_internals (CRASHDROP_CONTEXT_TEST_INTERNALS)
// it is the implementation TU and also checks what only that TU sees: crashdrop's own dump reader
// (detail::read_dump_context, which must agree with the tests' reading), the split/join of long
// values and the breadcrumb format of metadata files.
#ifdef CRASHDROP_CONTEXT_TEST_INTERNALS
#define CRASHDROP_IMPLEMENTATION
#endif
#include "crashdrop.hpp"

#include <catch2/catch.hpp>

#include "../support/minidump_file.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using crashdrop::BreadcrumbLevel;
using crashdrop::Error;
namespace limits = crashdrop::limits;

const std::string k_work = CRASHDROP_TEST_WORKDIR;

/// Options for a fresh database folder <work>/context/<name> (removed first).
crashdrop::Options context_options(const std::string& name) {
    crashdrop::Options o;
    o.database_path = k_work + "/context/" + name;
    std::filesystem::remove_all(o.database_path);
    o.product_name = "context_test";
    o.product_version = "2";
    // This binary's main() is Catch2's: re-executing it as a helper would rerun the tests.
    o.helper_mode = crashdrop::HelperMode::none;
    return o;
}

/// crashdrop started for one test case, stopped at its end.
struct session {
    crashdrop::Status status;
    explicit session(const crashdrop::Options& o) : status(crashdrop::start(o)) {}
    ~session() { crashdrop::stop(); }
    session(const session&) = delete;
    session& operator=(const session&) = delete;
};

#define START_SESSION(var, options)                        \
    REQUIRE_FALSE(crashdrop::is_started());                \
    session var(options);                                  \
    INFO("start(): " << var.status.message());             \
    REQUIRE(var.status.ok())

long long now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// Keys of `m` that name parts of long values (key__N).
std::vector<std::string> part_keys(const std::map<std::string, std::string>& m) {
    std::vector<std::string> out;
    for (const auto& e : m) {
        if (contains(e.first, "__")) out.push_back(e.first);
    }
    return out;
}

/// A value whose every 255-byte part differs (so a misordered or missing part shows).
std::string patterned(std::size_t n) {
    std::string v(n, '?');
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<char>('A' + (i / limits::annotation_part) % 26 + (i % 7 == 0 ? 32 : 0));
    return v;
}

// ---- reading a dump's context with the tests' own reader (documented formats only) ----

std::string percent_decode(const std::string& v) {
    auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '%' && i + 2 < v.size() && hex(v[i + 1]) >= 0 && hex(v[i + 2]) >= 0) {
            out += static_cast<char>(hex(v[i + 1]) * 16 + hex(v[i + 2]));
            i += 2;
        } else {
            out += v[i];
        }
    }
    return out;
}

BreadcrumbLevel level_from(const std::string& name) {
    for (auto l : {BreadcrumbLevel::debug, BreadcrumbLevel::info, BreadcrumbLevel::warning, BreadcrumbLevel::error,
                   BreadcrumbLevel::fatal}) {
        if (name == crashdrop::level_name(l)) return l;
    }
    return static_cast<BreadcrumbLevel>(99);
}

struct dumped_context {
    bool loaded = false;
    std::map<std::string, std::string> annotations;  // as the Crashpad info stream holds them: long values in parts
    std::map<std::string, std::string> tags;
    crashdrop::User user;
    std::vector<std::string> attachments;
    std::vector<crashdrop::Breadcrumb> breadcrumbs;
    std::vector<std::string> bad_lines;  // lines of the context stream that are none of the above
    std::string raw_context;             // the context stream as written
};

dumped_context read_dumped_context(const std::string& path) {
    dumped_context d;
    testsupport::minidump_file md;
    if (!md.load(path)) return d;
    d.loaded = true;
    // Crashpad's info stream: MinidumpCrashpadInfo, simple_annotations at offset 36 (size, rva).
    auto info = md.streams.find(0x43500001u);
    if (info != md.streams.end()) {
        std::uint32_t dict = 0, count = 0;
        md.get(info->second.first + 40, &dict);
        if (dict != 0 && md.get(dict, &count)) {
            auto utf8 = [&](std::uint32_t rva) {
                std::uint32_t n = 0;
                if (!md.get(rva, &n) || std::uint64_t{rva} + 4 + n > md.bytes.size()) return std::string("<bad string>");
                return std::string(reinterpret_cast<const char*>(md.bytes.data()) + rva + 4, n);
            };
            for (std::uint32_t i = 0; i < count; ++i) {
                std::uint32_t k = 0, v = 0;
                md.get(dict + 4 + 8ull * i, &k);
                md.get(dict + 8 + 8ull * i, &v);
                d.annotations[utf8(k)] = utf8(v);
            }
        }
    }
    // crashdrop's context stream: escaped key=value lines.
    d.raw_context = md.stream_bytes(0x43440002u);
    std::size_t pos = 0;
    while (pos < d.raw_context.size()) {
        std::size_t eol = d.raw_context.find('\n', pos);
        if (eol == std::string::npos) eol = d.raw_context.size();
        const std::string line = d.raw_context.substr(pos, eol - pos);
        pos = eol + 1;
        const std::size_t eq = line.find('=');
        if (eq == std::string::npos) {
            d.bad_lines.push_back(line);
            continue;
        }
        const std::string key = percent_decode(line.substr(0, eq)), value = percent_decode(line.substr(eq + 1));
        if (starts_with(key, "tag.")) {
            d.tags[key.substr(4)] = value;
        } else if (key == "user.id") {
            d.user.id = value;
        } else if (key == "user.username") {
            d.user.username = value;
        } else if (key == "user.email") {
            d.user.email = value;
        } else if (key == "user.ip_address") {
            d.user.ip_address = value;
        } else if (key == "attachment." + std::to_string(d.attachments.size())) {
            d.attachments.push_back(value);
        } else if (key == "breadcrumb." + std::to_string(d.breadcrumbs.size())) {
            // "<ms>|<level>|<category>|<message>", '|' and '%' inside the fields escaped again.
            std::vector<std::string> f;
            std::size_t at = 0;
            for (;;) {
                const std::size_t bar = value.find('|', at);
                f.push_back(value.substr(at, bar == std::string::npos ? std::string::npos : bar - at));
                if (bar == std::string::npos) break;
                at = bar + 1;
            }
            if (f.size() != 4) {
                d.bad_lines.push_back(line);
                continue;
            }
            crashdrop::Breadcrumb b;
            b.timestamp_ms = std::stoll(f[0]);
            b.level = level_from(f[1]);
            b.category = percent_decode(f[2]);
            b.message = percent_decode(f[3]);
            d.breadcrumbs.push_back(b);
        } else {
            d.bad_lines.push_back(line);
        }
    }
    return d;
}

bool same(const crashdrop::User& a, const crashdrop::User& b) {
    return a.id == b.id && a.username == b.username && a.email == b.email && a.ip_address == b.ip_address;
}

bool same(const std::vector<crashdrop::Breadcrumb>& a, const std::vector<crashdrop::Breadcrumb>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].timestamp_ms != b[i].timestamp_ms || a[i].level != b[i].level || a[i].category != b[i].category ||
            a[i].message != b[i].message) {
            return false;
        }
    }
    return true;
}

/// Writes a dump now and reads its context back. In the implementation build crashdrop's own
/// reader (what the helper stores in a report) must read the same.
dumped_context dump_context_now() {
    std::string path;
    const crashdrop::Status s = crashdrop::write_dump(&path);
    INFO("write_dump(): " << s.message());
    REQUIRE(s.ok());
    dumped_context d = read_dumped_context(path);
    REQUIRE(d.loaded);
    CHECK(d.bad_lines.empty());
    // The dump's own first annotation says what it is; the application's follow.
    CHECK(d.annotations["crash_kind"] == "requested");
    d.annotations.erase("crash_kind");
#ifdef CRASHDROP_CONTEXT_TEST_INTERNALS
    const std::string bytes = testsupport::read_text_file(path);
    crashdrop::Report r;
    REQUIRE(crashdrop::detail::read_dump_context(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), &r));
    std::map<std::string, std::string> joined = d.annotations;
    crashdrop::detail::join_annotation_parts(&joined);
    CHECK(r.annotations == joined);
    CHECK(r.kind == "requested");
    CHECK(r.tags == d.tags);
    CHECK(same(r.user, d.user));
    CHECK(r.attachments == d.attachments);
    CHECK(same(r.breadcrumbs, d.breadcrumbs));
#endif
    return d;
}

}  // namespace

// ---- before start() and after stop() ----

TEST_CASE("context calls before start() say not_started and read back nothing", "[context]") {
    REQUIRE_FALSE(crashdrop::is_started());
    CHECK(crashdrop::add_extra_parameter("key", "value").code() == Error::not_started);
    CHECK(crashdrop::remove_extra_parameter("key").code() == Error::not_started);
    CHECK(crashdrop::set_tag("key", "value").code() == Error::not_started);
    CHECK(crashdrop::remove_tag("key").code() == Error::not_started);
    crashdrop::User u;
    u.id = "42";
    CHECK(crashdrop::set_user(u).code() == Error::not_started);
    CHECK(crashdrop::add_attachment("/tmp/log.txt").code() == Error::not_started);
    CHECK(crashdrop::remove_attachment("/tmp/log.txt").code() == Error::not_started);
    // Arguments that would be refused after start() still say not_started first.
    CHECK(crashdrop::add_extra_parameter("", "").code() == Error::not_started);
    CHECK(crashdrop::add_extra_parameter("key", "value").message().find("start()") != std::string::npos);
    crashdrop::add_breadcrumb("dropped before start");  // a no-op, not a crash
    CHECK(crashdrop::parameters().empty());
    CHECK(crashdrop::breadcrumbs().empty());
}

TEST_CASE("stop() ends the context and a new start() begins with an empty store", "[context]") {
    {
        START_SESSION(first, context_options("restart-1"));
        REQUIRE(crashdrop::add_extra_parameter("from_first_run", std::string(700, 'x')).ok());
        REQUIRE(crashdrop::set_tag("first", "1").ok());
        crashdrop::add_breadcrumb("from the first run");
        REQUIRE(crashdrop::breadcrumbs().size() == 1);
    }
    REQUIRE_FALSE(crashdrop::is_started());
    CHECK(crashdrop::parameters().empty());
    CHECK(crashdrop::breadcrumbs().empty());
    CHECK(crashdrop::add_extra_parameter("late", "x").code() == Error::not_started);
    crashdrop::add_breadcrumb("after stop");

    crashdrop::Options o = context_options("restart-2");
    o.product_name = "second";
    START_SESSION(second, o);
    const auto p = crashdrop::parameters();
    CHECK(p == (std::map<std::string, std::string>{{"prod", "second"}, {"ver", "2"}}));
    CHECK(crashdrop::breadcrumbs().empty());
    const dumped_context d = dump_context_now();
    CHECK(d.tags.empty());
    CHECK(d.breadcrumbs.empty());
}

// ---- annotations ----

TEST_CASE("annotation keys: 1 .. 39 bytes and not a part name - refusals name the limit", "[context]") {
    START_SESSION(s, context_options("annotation-keys"));
    const std::string key39(39, 'k'), key40(40, 'k');
    CHECK(crashdrop::add_extra_parameter(key39, "v39").ok());
    CHECK(crashdrop::parameters()[key39] == "v39");

    crashdrop::Status st = crashdrop::add_extra_parameter(key40, "v40");
    INFO(st.message());
    CHECK(st.code() == Error::invalid_argument);
    CHECK(contains(st.message(), "39"));
    CHECK(contains(st.message(), "40 bytes"));
    CHECK(crashdrop::parameters().count(key40) == 0);
    CHECK(crashdrop::parameters().count(key39) == 1);  // the refused longer key did not clobber a prefix

    st = crashdrop::add_extra_parameter("", "v");
    CHECK(st.code() == Error::invalid_argument);
    CHECK(contains(st.message(), "empty"));
    CHECK(crashdrop::add_extra_parameter(std::string("nul\0byte", 8), "v").code() == Error::invalid_argument);

    for (const char* part_like : {"name__3", "name__1", "name__64", "name__0", "__3", "a__12345"}) {
        INFO(part_like);
        st = crashdrop::add_extra_parameter(part_like, "v");
        CHECK(st.code() == Error::invalid_argument);
        CHECK(contains(st.message(), "__<number>"));
    }
    // crash_kind is the report's kind, written by crashdrop into every dump: reserved.
    st = crashdrop::add_extra_parameter("crash_kind", "spoofed");
    CHECK(st.code() == Error::invalid_argument);
    CHECK(contains(st.message(), "reserved"));
    CHECK(crashdrop::parameters().count("crash_kind") == 0);
    // Merely looking like one is fine.
    for (const char* fine : {"name__", "name_3", "name__3x", "__init__", "a__b", "crash_kind2", "Crash_kind"}) {
        INFO(fine);
        CHECK(crashdrop::add_extra_parameter(fine, "ok").ok());
        CHECK(crashdrop::parameters()[fine] == "ok");
    }
    // Removing checks the key the same way, but an absent key is not an error.
    CHECK(crashdrop::remove_extra_parameter("never-set").ok());
    CHECK(crashdrop::remove_extra_parameter(key40).code() == Error::invalid_argument);
    CHECK(crashdrop::remove_extra_parameter("").code() == Error::invalid_argument);
    CHECK(crashdrop::remove_extra_parameter(key39).ok());
    CHECK(crashdrop::parameters().count(key39) == 0);
}

TEST_CASE("annotation values: one slot up to a part and parts beyond - whole again in parameters() - over the limit refused", "[context]") {
    START_SESSION(s, context_options("annotation-values"));
    const std::string exact(limits::annotation_part, 'e');
    const std::string longer = patterned(3 * limits::annotation_part + 7);
    const std::string largest = patterned(limits::annotation_value);
    const std::string key39(39, 'L');
    REQUIRE(crashdrop::add_extra_parameter("exact", exact).ok());
    REQUIRE(crashdrop::add_extra_parameter("longer", longer).ok());
    REQUIRE(crashdrop::add_extra_parameter(key39, largest).ok());
    REQUIRE(crashdrop::add_extra_parameter("empty", "").ok());

    auto p = crashdrop::parameters();
    CHECK(p["exact"] == exact);
    CHECK(p["longer"] == longer);
    CHECK(p[key39] == largest);
    CHECK(p.count("empty") == 1);
    CHECK(p["empty"].empty());
    CHECK(part_keys(p).empty());

    // The dump holds the exact one as itself and the long ones as 255-byte parts key__1.. .
    {
        const dumped_context d = dump_context_now();
        CHECK(d.annotations.count("exact") == 1);
        CHECK(d.annotations.count("exact__1") == 0);
        CHECK(d.annotations.count("longer") == 0);
        REQUIRE(d.annotations.count("longer__4") == 1);
        CHECK(d.annotations.at("longer__1") == longer.substr(0, 255));
        CHECK(d.annotations.at("longer__2") == longer.substr(255, 255));
        CHECK(d.annotations.at("longer__3") == longer.substr(510, 255));
        CHECK(d.annotations.at("longer__4") == longer.substr(765));
        CHECK(d.annotations.count("longer__5") == 0);
        REQUIRE(d.annotations.count(key39 + "__64") == 1);
        CHECK(d.annotations.count(key39 + "__65") == 0);
        CHECK(d.annotations.at(key39 + "__64") == largest.substr(63 * 255));
        CHECK(d.annotations.at("prod") == "context_test");
    }

    crashdrop::Status st = crashdrop::add_extra_parameter("too_long", std::string(limits::annotation_value + 1, 'x'));
    INFO(st.message());
    CHECK(st.code() == Error::invalid_argument);
    CHECK(contains(st.message(), std::to_string(limits::annotation_value)));
    CHECK(crashdrop::parameters().count("too_long") == 0);
    // A refused value leaves the key's current one alone.
    CHECK(crashdrop::add_extra_parameter("longer", std::string(limits::annotation_value + 1, 'x')).code() == Error::invalid_argument);
    CHECK(crashdrop::parameters()["longer"] == longer);

    // Removing a long value removes its parts too.
    REQUIRE(crashdrop::remove_extra_parameter("longer").ok());
    p = crashdrop::parameters();
    CHECK(p.count("longer") == 0);
    CHECK(part_keys(p).empty());
    {
        const dumped_context d = dump_context_now();
        for (const auto& e : d.annotations) CHECK_FALSE(starts_with(e.first, "longer"));
    }
}

TEST_CASE("re-setting a long annotation shorter leaves no stale parts", "[context]") {
    START_SESSION(s, context_options("annotation-reset"));
    const std::string five = patterned(5 * limits::annotation_part - 3);
    const std::string two = patterned(2 * limits::annotation_part);
    REQUIRE(crashdrop::add_extra_parameter("k", five).ok());
    CHECK(crashdrop::parameters()["k"] == five);

    // long -> shorter long: parts 3..5 go.
    REQUIRE(crashdrop::add_extra_parameter("k", two).ok());
    auto p = crashdrop::parameters();
    CHECK(p["k"] == two);
    CHECK(part_keys(p).empty());
    {
        const dumped_context d = dump_context_now();
        CHECK(d.annotations.count("k__2") == 1);
        CHECK(d.annotations.count("k__3") == 0);
        CHECK(d.annotations.count("k__5") == 0);
    }

    // long -> short: every part goes and the key holds the value itself.
    REQUIRE(crashdrop::add_extra_parameter("k", "short").ok());
    p = crashdrop::parameters();
    CHECK(p == (std::map<std::string, std::string>{{"k", "short"}, {"prod", "context_test"}, {"ver", "2"}}));
    {
        const dumped_context d = dump_context_now();
        CHECK(d.annotations.count("k") == 1);
        CHECK((d.annotations.count("k") == 1 && d.annotations.at("k") == "short"));
        CHECK(d.annotations.count("k__1") == 0);
        CHECK(d.annotations.count("k__2") == 0);
    }

    // short -> long -> exactly one part's worth: one slot again.
    REQUIRE(crashdrop::add_extra_parameter("k", five).ok());
    REQUIRE(crashdrop::add_extra_parameter("k", std::string(limits::annotation_part, 'z')).ok());
    p = crashdrop::parameters();
    CHECK(p["k"] == std::string(limits::annotation_part, 'z'));
    CHECK(part_keys(p).empty());
    // ... and the slots the parts took are free again: the store is not leaking them.
    for (int round = 0; round < 200; ++round) {
        REQUIRE(crashdrop::add_extra_parameter("k", five).ok());
        REQUIRE(crashdrop::add_extra_parameter("k", "s").ok());
    }
    CHECK(crashdrop::parameters()["k"] == "s");
}

#ifdef CRASHDROP_CONTEXT_TEST_INTERNALS
TEST_CASE("split_annotation_parts and join_annotation_parts undo each other", "[context][internals]") {
    const std::string key39(39, 'q');
    const std::map<std::string, std::string> original = {
        {"short", "x"},
        {"empty", ""},
        {"exact", std::string(limits::annotation_part, 'e')},
        {"one_more", std::string(limits::annotation_part + 1, 'o')},
        {"long", patterned(3 * limits::annotation_part + 7)},
        {key39, patterned(limits::annotation_value)},  // 64 parts: __10 sorts before __2 as text
    };
    const auto split = crashdrop::detail::split_annotation_parts(original);
    std::map<std::string, std::string> as_map;
    for (const auto& e : split) {
        INFO(e.first);
        CHECK(as_map.count(e.first) == 0);
        CHECK(e.second.size() <= limits::annotation_part);
        CHECK(e.first.size() <= limits::annotation_key + 4);
        as_map[e.first] = e.second;
    }
    CHECK(as_map.count("short") == 1);
    CHECK(as_map.count("empty") == 1);
    CHECK(as_map.count("exact") == 1);
    CHECK(as_map.count("exact__1") == 0);
    CHECK(as_map.count("one_more") == 0);
    CHECK(as_map["one_more__1"] == std::string(limits::annotation_part, 'o'));
    CHECK(as_map["one_more__2"] == "o");
    CHECK(as_map.count("long") == 0);
    CHECK(as_map["long__1"].size() == limits::annotation_part);
    CHECK(as_map["long__3"].size() == limits::annotation_part);
    CHECK(as_map["long__4"] == original.at("long").substr(3 * limits::annotation_part));
    CHECK(as_map.count("long__5") == 0);
    CHECK(as_map.count(key39 + "__64") == 1);
    CHECK(as_map.count(key39 + "__65") == 0);
    CHECK(split.size() == 3 + 2 + 4 + 64);

    std::map<std::string, std::string> joined = as_map;
    crashdrop::detail::join_annotation_parts(&joined);
    CHECK(joined == original);
}
#endif

TEST_CASE("Options::extra and global_extra are in parameters() after start() and extra wins", "[context]") {
    crashdrop::Options o = context_options("options-extra");
    o.extra = {{"e1", "from extra"}, {"both", "extra wins"}, {"e_long", patterned(600)}};
    o.global_extra = {{"g1", "from global"}, {"both", "global loses"}, {"g_long", patterned(1000)}};
    START_SESSION(s, o);
    const std::map<std::string, std::string> expected = {
        {"prod", "context_test"}, {"ver", "2"},
        {"e1", "from extra"},     {"both", "extra wins"}, {"e_long", patterned(600)},
        {"g1", "from global"},    {"g_long", patterned(1000)},
    };
    CHECK(crashdrop::parameters() == expected);
    // They are ordinary annotations afterwards.
    CHECK(crashdrop::remove_extra_parameter("e1").ok());
    CHECK(crashdrop::add_extra_parameter("g1", "changed").ok());
    auto p = crashdrop::parameters();
    CHECK(p.count("e1") == 0);
    CHECK(p["g1"] == "changed");
    // A forked child keeps global_extra but not extra.
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        const auto c = crashdrop::parameters();
        int rc = 0;
        if (c.count("e_long") != 0 || c.count("both") != 0) rc |= 1;
        if (c.count("g_long") == 0 || c.at("g_long") != patterned(1000) || c.count("g1") == 0) rc |= 2;
        if (!part_keys(c).empty()) rc |= 4;
        _exit(rc);
    }
    REQUIRE(pid > 0);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(crashdrop::parameters()["e_long"] == patterned(600));  // the parent keeps them
}

TEST_CASE("a bad annotation or tag or user field or attachment in Options makes start() fail clearly", "[context]") {
    struct bad_case {
        const char* names;  // what the message must mention
        void (*set)(crashdrop::Options&);
    };
    const bad_case cases[] = {
        {"extra", [](crashdrop::Options& o) { o.extra[std::string(40, 'k')] = "v"; }},
        {"extra", [](crashdrop::Options& o) { o.extra[""] = "v"; }},
        {"extra", [](crashdrop::Options& o) { o.extra["part__2"] = "v"; }},
        {"extra", [](crashdrop::Options& o) { o.extra["k"] = std::string(limits::annotation_value + 1, 'v'); }},
        {"global_extra", [](crashdrop::Options& o) { o.global_extra[std::string(40, 'g')] = "v"; }},
        {"global_extra", [](crashdrop::Options& o) { o.global_extra["part__9"] = "v"; }},
        {"tags", [](crashdrop::Options& o) { o.tags[std::string(33, 't')] = "v"; }},
        {"tags", [](crashdrop::Options& o) { o.tags["t"] = std::string(limits::tag_value + 1, 'v'); }},
        {"user", [](crashdrop::Options& o) { o.user.id.assign(limits::user_field + 1, 'u'); }},
        {"user", [](crashdrop::Options& o) { o.user.email.assign(limits::user_field + 1, 'u'); }},
        {"attachments", [](crashdrop::Options& o) { o.attachments = {"relative/log.txt"}; }},
        {"attachments", [](crashdrop::Options& o) { o.attachments = {"/" + std::string(limits::attachment_path, 'a')}; }},
        {"attachments", [](crashdrop::Options& o) { o.attachments.assign(limits::attachments + 1, "/tmp/a.log"); }},
        {"max_breadcrumbs", [](crashdrop::Options& o) { o.max_breadcrumbs = limits::max_breadcrumbs + 1; }},
        {"max_attachment_bytes", [](crashdrop::Options& o) { o.max_attachment_bytes = 1023; }},
    };
    for (const auto& c : cases) {
        crashdrop::Options o = context_options("bad-options");
        c.set(o);
        REQUIRE_FALSE(crashdrop::is_started());
        const crashdrop::Status st = crashdrop::start(o);
        if (st.ok()) crashdrop::stop();
        INFO(c.names << ": " << error_name(st.code()) << ": " << st.message());
        CHECK(st.code() == Error::invalid_options);
        CHECK(contains(st.message(), c.names));
        CHECK_FALSE(crashdrop::is_started());
        // Refused before anything was changed: not even the database folder exists.
        CHECK_FALSE(std::filesystem::exists(o.database_path));
    }
    // The limits themselves are accepted.
    crashdrop::Options o = context_options("good-options");
    o.extra[std::string(39, 'k')] = std::string(limits::annotation_value, 'v');
    o.tags[std::string(32, 't')] = std::string(limits::tag_value, 'v');
    o.user.id.assign(limits::user_field, 'u');
    o.attachments.assign(limits::attachments, "/tmp/a.log");
    o.max_breadcrumbs = limits::max_breadcrumbs;
    START_SESSION(s, o);
    CHECK(crashdrop::parameters()[std::string(39, 'k')] == std::string(limits::annotation_value, 'v'));
}

TEST_CASE("a full context store says capacity_exceeded and removing entries makes room again", "[context]") {
    START_SESSION(s, context_options("capacity"));
    const std::size_t taken = crashdrop::parameters().size();  // prod and ver
    REQUIRE(taken == 2);
    std::size_t added = 0;
    crashdrop::Status st;
    for (std::size_t i = 0; i < 2 * limits::context_slots; ++i) {
        st = crashdrop::add_extra_parameter("cap" + std::to_string(i), "v" + std::to_string(i));
        if (!st.ok()) break;
        ++added;
    }
    INFO(st.message());
    CHECK(st.code() == Error::capacity_exceeded);
    CHECK(contains(st.message(), std::to_string(limits::context_slots)));
    CHECK(added == limits::context_slots - taken);
    auto p = crashdrop::parameters();
    CHECK(p.size() == limits::context_slots);
    CHECK(p["cap0"] == "v0");
    CHECK(p["cap" + std::to_string(added - 1)] == "v" + std::to_string(added - 1));

    // Tags and user fields share the store.
    CHECK(crashdrop::set_tag("t", "v").code() == Error::capacity_exceeded);
    crashdrop::User u;
    u.id = "42";
    CHECK(crashdrop::set_user(u).code() == Error::capacity_exceeded);
    // Changing what is there needs no new slot.
    CHECK(crashdrop::add_extra_parameter("cap7", "changed").ok());
    CHECK(crashdrop::parameters()["cap7"] == "changed");
    // A long value that does not fit leaves none of its parts behind.
    CHECK(crashdrop::add_extra_parameter("big", patterned(1000)).code() == Error::capacity_exceeded);
    p = crashdrop::parameters();
    CHECK(p.count("big") == 0);
    CHECK(part_keys(p).empty());
    CHECK(p.size() == limits::context_slots);
    // A dump of a full store is still written, with every annotation.
    {
        const dumped_context d = dump_context_now();
        CHECK(d.annotations.size() == limits::context_slots);
    }

    // Room for a 64-part value: 65 slots.
    for (std::size_t i = 0; i < 65; ++i) REQUIRE(crashdrop::remove_extra_parameter("cap" + std::to_string(i)).ok());
    CHECK(crashdrop::parameters().size() == limits::context_slots - 65);
    const std::string largest = patterned(limits::annotation_value);
    st = crashdrop::add_extra_parameter("big", largest);
    INFO(st.message());
    REQUIRE(st.ok());
    p = crashdrop::parameters();
    CHECK(p["big"] == largest);
    CHECK(part_keys(p).empty());
    CHECK(crashdrop::add_extra_parameter("one_more", "x").code() == Error::capacity_exceeded);
    REQUIRE(crashdrop::remove_extra_parameter("big").ok());
    // Tags and the user fit again once annotations are gone.
    CHECK(crashdrop::set_tag("t", "v").ok());
    CHECK(crashdrop::set_user(u).ok());
    CHECK(crashdrop::add_extra_parameter("one_more", "x").ok());
    // Removed slots are reused over and over without running out.
    for (int round = 0; round < 1000; ++round) {
        const std::string key = "churn" + std::to_string(round);
        REQUIRE(crashdrop::add_extra_parameter(key, "x").ok());
        REQUIRE(crashdrop::remove_extra_parameter(key).ok());
    }
    p = crashdrop::parameters();
    CHECK(p.size() == limits::context_slots - 65 + 1);
    CHECK(p["one_more"] == "x");
}

// ---- tags and the user ----

TEST_CASE("tags and the user: limits - replace and remove - what a dump carries", "[context]") {
    START_SESSION(s, context_options("tags-user"));
    const std::string key32(32, 'T'), value200(limits::tag_value, 'V');
    CHECK(crashdrop::set_tag(key32, value200).ok());
    crashdrop::Status st = crashdrop::set_tag(std::string(33, 'T'), "v");
    CHECK(st.code() == Error::invalid_argument);
    CHECK(contains(st.message(), "32"));
    st = crashdrop::set_tag("k", std::string(limits::tag_value + 1, 'V'));
    CHECK(st.code() == Error::invalid_argument);
    CHECK(contains(st.message(), "200"));
    CHECK(crashdrop::set_tag("", "v").code() == Error::invalid_argument);
    CHECK(crashdrop::remove_tag(std::string(33, 'T')).code() == Error::invalid_argument);
    CHECK(crashdrop::remove_tag("").code() == Error::invalid_argument);

    CHECK(crashdrop::set_tag("env", "prod").ok());
    CHECK(crashdrop::set_tag("env", "staging").ok());  // replaced
    CHECK(crashdrop::set_tag("gone", "x").ok());
    CHECK(crashdrop::remove_tag("gone").ok());
    CHECK(crashdrop::remove_tag("never-set").ok());
    const std::string odd = "a=b|c%d\ne%7C\x01 \xc3\xa9";  // escaped in the dump, intact when read
    CHECK(crashdrop::set_tag("odd=key|", odd).ok());
    // A tag and an annotation of the same name are different things.
    CHECK(crashdrop::add_extra_parameter("env", "annotation").ok());
    CHECK(crashdrop::parameters()["env"] == "annotation");
    CHECK(crashdrop::parameters().count("odd=key|") == 0);

    crashdrop::User u;
    u.id.assign(limits::user_field, 'i');
    u.username = "ann";
    u.email = "ann@example.com";
    CHECK(crashdrop::set_user(u).ok());
    crashdrop::User bad = u;
    bad.username = "changed";
    bad.email.assign(limits::user_field + 1, 'e');
    st = crashdrop::set_user(bad);
    CHECK(st.code() == Error::invalid_argument);
    CHECK(contains(st.message(), "email"));
    CHECK(contains(st.message(), "255"));
    bad.email.clear();
    bad.ip_address.assign(limits::user_field + 1, '1');
    CHECK(crashdrop::set_user(bad).code() == Error::invalid_argument);

    dumped_context d = dump_context_now();
    CHECK(d.tags == (std::map<std::string, std::string>{{key32, value200}, {"env", "staging"}, {"odd=key|", odd}}));
    CHECK(same(d.user, u));  // the refused set_user() changed nothing, not even its valid fields
    CHECK(d.annotations["env"] == "annotation");
    CHECK_FALSE(contains(d.raw_context, "gone"));

    // set_user replaces the whole user: empty fields are cleared.
    crashdrop::User only_ip;
    only_ip.ip_address = "192.0.2.1";
    CHECK(crashdrop::set_user(only_ip).ok());
    CHECK(crashdrop::remove_tag("env").ok());
    d = dump_context_now();
    CHECK(same(d.user, only_ip));
    CHECK(d.tags.count("env") == 0);
    CHECK(d.tags.size() == 2);
    CHECK(crashdrop::set_user(crashdrop::User()).ok());
    d = dump_context_now();
    CHECK(same(d.user, crashdrop::User()));
    CHECK_FALSE(contains(d.raw_context, "user."));
}

TEST_CASE("Options::user and Options::tags are in the dump from start() on", "[context]") {
    crashdrop::Options o = context_options("options-user-tags");
    o.user.id = "7";
    o.user.username = "from options";
    o.tags = {{"release", "2.0"}, {"channel", "beta"}};
    START_SESSION(s, o);
    const dumped_context d = dump_context_now();
    CHECK(same(d.user, o.user));
    CHECK(d.tags == o.tags);
}

// ---- breadcrumbs ----

TEST_CASE("the breadcrumb ring keeps the last max_breadcrumbs oldest first", "[context]") {
    crashdrop::Options o = context_options("breadcrumb-ring");
    o.max_breadcrumbs = 5;
    START_SESSION(s, o);
    const long long before = now_ms();
    for (int i = 0; i < 12; ++i) {
        crashdrop::add_breadcrumb("message " + std::to_string(i), "cat" + std::to_string(i % 3), static_cast<BreadcrumbLevel>(i % 5));
        if (i == 8) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const long long after = now_ms();
    const auto b = crashdrop::breadcrumbs();
    REQUIRE(b.size() == 5);
    for (std::size_t k = 0; k < b.size(); ++k) {
        const int i = 7 + static_cast<int>(k);
        INFO("breadcrumb " << k);
        CHECK(b[k].message == "message " + std::to_string(i));
        CHECK(b[k].category == "cat" + std::to_string(i % 3));
        CHECK(b[k].level == static_cast<BreadcrumbLevel>(i % 5));
        CHECK(b[k].timestamp_ms >= before);
        CHECK(b[k].timestamp_ms <= after);
        if (k > 0) CHECK(b[k].timestamp_ms >= b[k - 1].timestamp_ms);
    }
    CHECK(b[2].timestamp_ms > b[1].timestamp_ms);  // the sleep after #8 shows

    // Defaults: category "default", level info.
    crashdrop::add_breadcrumb("plain");
    const auto b2 = crashdrop::breadcrumbs();
    REQUIRE(b2.size() == 5);
    CHECK(b2.front().message == "message 8");
    CHECK(b2.back().message == "plain");
    CHECK(b2.back().category == "default");
    CHECK(b2.back().level == BreadcrumbLevel::info);

    // The dump holds the same ring.
    const dumped_context d = dump_context_now();
    CHECK(same(d.breadcrumbs, b2));
}

TEST_CASE("long breadcrumb messages and categories are cut at a UTF-8 character boundary", "[context]") {
    START_SESSION(s, context_options("breadcrumb-cut"));
    const std::size_t m = limits::breadcrumb_message, c = limits::breadcrumb_category;
    struct cut_case {
        std::string message, category;
        std::string want_message, want_category;
    };
    const std::string e_acute = "\xc3\xa9", euro = "\xe2\x82\xac", emoji = "\xf0\x9f\x92\xa5";
    const cut_case cases[] = {
        // exactly at the limit: kept whole
        {std::string(m, 'a'), std::string(c, 'c'), std::string(m, 'a'), std::string(c, 'c')},
        // ASCII over the limit: cut at it
        {std::string(m + 50, 'a'), std::string(c + 9, 'c'), std::string(m, 'a'), std::string(c, 'c')},
        // a 2-byte character straddling the limit goes entirely
        {std::string(m - 1, 'a') + e_acute, std::string(c - 1, 'c') + e_acute, std::string(m - 1, 'a'), std::string(c - 1, 'c')},
        // a 3-byte one starting 1 and 2 bytes before the limit
        {std::string(m - 2, 'a') + euro + "tail", std::string(c - 1, 'c') + euro, std::string(m - 2, 'a'), std::string(c - 1, 'c')},
        {std::string(m - 1, 'a') + euro, std::string(c - 2, 'c') + euro + "x", std::string(m - 1, 'a'), std::string(c - 2, 'c')},
        // a 4-byte one ending exactly at the limit is kept
        {std::string(m - 4, 'a') + emoji + "x", std::string(c - 4, 'c') + emoji, std::string(m - 4, 'a') + emoji,
         std::string(c - 4, 'c') + emoji},
        // all multi-byte: 223 = 74 * 3 + 1, so 74 characters
        {[&] {
             std::string v;
             for (int i = 0; i < 100; ++i) v += euro;
             return v;
         }(),
         "cat",
         [&] {
             std::string v;
             for (std::size_t i = 0; i < m / 3; ++i) v += euro;
             return v;
         }(),
         "cat"},
    };
    for (const auto& k : cases) crashdrop::add_breadcrumb(k.message, k.category, BreadcrumbLevel::warning);
    const auto b = crashdrop::breadcrumbs();
    REQUIRE(b.size() == sizeof(cases) / sizeof(cases[0]));
    for (std::size_t i = 0; i < b.size(); ++i) {
        INFO("case " << i);
        CHECK(b[i].message.size() <= m);
        CHECK(b[i].category.size() <= c);
        CHECK(b[i].message == cases[i].want_message);
        CHECK(b[i].category == cases[i].want_category);
        CHECK(b[i].level == BreadcrumbLevel::warning);
    }
    const dumped_context d = dump_context_now();
    CHECK(same(d.breadcrumbs, b));
}

TEST_CASE("breadcrumbs with separators and escapes and newlines come out of a dump intact", "[context]") {
    START_SESSION(s, context_options("breadcrumb-escapes"));
    const std::pair<std::string, std::string> crumbs[] = {
        {"a|b|c", "pipe|cat"},
        {"100% done, %7C and %25 literally", "per%cent"},
        {"line one\nline two\r\n=equals=", "new\nline"},
        {"", ""},
        {"\x01\x7f tab\t", "x=y"},
    };
    for (const auto& c : crumbs) crashdrop::add_breadcrumb(c.first, c.second, BreadcrumbLevel::error);
    const auto b = crashdrop::breadcrumbs();
    REQUIRE(b.size() == 5);
    for (std::size_t i = 0; i < 5; ++i) {
        CHECK(b[i].message == crumbs[i].first);
        CHECK(b[i].category == crumbs[i].second);
    }
    const dumped_context d = dump_context_now();
    CHECK(same(d.breadcrumbs, b));
    // One line per breadcrumb: the newlines inside them are escaped.
    std::size_t lines = 0;
    for (char ch : d.raw_context) lines += ch == '\n';
    CHECK(lines == 5);
}

TEST_CASE("max_breadcrumbs: 0 turns breadcrumbs off - 10000 is the most - more is refused", "[context]") {
    {
        crashdrop::Options o = context_options("breadcrumbs-off");
        o.max_breadcrumbs = 0;
        START_SESSION(s, o);
        for (int i = 0; i < 10; ++i) crashdrop::add_breadcrumb("ignored");
        CHECK(crashdrop::breadcrumbs().empty());
        const dumped_context d = dump_context_now();
        CHECK(d.breadcrumbs.empty());
        CHECK_FALSE(contains(d.raw_context, "breadcrumb."));
    }
    {
        crashdrop::Options o = context_options("breadcrumbs-too-many");
        o.max_breadcrumbs = limits::max_breadcrumbs + 1;
        REQUIRE_FALSE(crashdrop::is_started());
        const crashdrop::Status st = crashdrop::start(o);
        if (st.ok()) crashdrop::stop();
        INFO(st.message());
        CHECK(st.code() == Error::invalid_options);
        CHECK(contains(st.message(), "max_breadcrumbs"));
    }
    {
        crashdrop::Options o = context_options("breadcrumbs-most");
        o.max_breadcrumbs = limits::max_breadcrumbs;
        START_SESSION(s, o);
        for (std::size_t i = 0; i < limits::max_breadcrumbs + 7; ++i) crashdrop::add_breadcrumb(std::to_string(i));
        const auto b = crashdrop::breadcrumbs();
        REQUIRE(b.size() == limits::max_breadcrumbs);
        CHECK(b.front().message == "7");
        CHECK(b.back().message == std::to_string(limits::max_breadcrumbs + 6));
        const dumped_context d = dump_context_now();
        CHECK(d.breadcrumbs.size() == limits::max_breadcrumbs);
    }
}

// ---- concurrency ----

namespace {

/// 8 writer threads each add 2000 breadcrumbs and set (or now and then remove) their own
/// annotation, while a reader thread calls parameters() and breadcrumbs() throughout. Every
/// value a writer writes is one character repeated, its length fixed by the character, so a
/// reader can tell any value that was never written. `long_values`: values of 300 .. 2725
/// bytes (2 .. 11 parts); otherwise 1 .. 226 bytes (one slot each).
void run_concurrent_writers(const std::string& name, bool long_values) {
    constexpr int k_threads = 8;
    constexpr int k_count = 2000;
    constexpr std::size_t k_ring = 1000;
    crashdrop::Options o = context_options(name);
    o.max_breadcrumbs = k_ring;
    START_SESSION(s, o);

    auto value_length = [long_values](char ch) {
        return long_values ? static_cast<std::size_t>(300 + (ch - 'a') * 97) : static_cast<std::size_t>(1 + (ch - 'a') * 9);
    };
    auto value_char = [](int n) { return static_cast<char>('a' + n % 26); };
    auto key_of = [](int t) { return "writer" + std::to_string(t); };

    const long long started_ms = now_ms();
    std::atomic<bool> go{false};
    std::atomic<std::size_t> reads{0};  // the reader's passes
    std::atomic<int> writers_done{0};
    std::atomic<int> writer_failures{0};
    std::mutex failure_mutex;
    std::string first_failure;

    std::vector<std::thread> writers;
    for (int t = 0; t < k_threads; ++t) {
        writers.emplace_back([&, t] {
            const std::string key = key_of(t), category = "w" + std::to_string(t);
            while (!go.load()) std::this_thread::yield();
            for (int n = 0; n < k_count; ++n) {
                // Writers are much quicker than the reader: they keep at most 50 steps ahead of
                // its passes, so that it reads throughout their work, not only after it.
                while (reads.load() < static_cast<std::size_t>(n / 50)) std::this_thread::yield();
                crashdrop::add_breadcrumb("t" + std::to_string(t) + "-" + std::to_string(n), category, static_cast<BreadcrumbLevel>(n % 5));
                const char ch = value_char(n);
                const crashdrop::Status st = n % 10 == 4 ? crashdrop::remove_extra_parameter(key)
                                                         : crashdrop::add_extra_parameter(key, std::string(value_length(ch), ch));
                if (!st.ok() && writer_failures.fetch_add(1) == 0) {
                    std::lock_guard<std::mutex> lock(failure_mutex);
                    first_failure = st.message();
                }
            }
            writers_done.fetch_add(1);
        });
    }

    // The reader: Catch2 assertions are not thread-safe, so it collects what it finds.
    std::vector<std::string> problems;
    std::size_t values_seen = 0, crumbs_seen = 0;
    auto note = [&problems](const std::string& p) {
        if (problems.size() < 20) problems.push_back(p);
    };
    // Checks one breadcrumbs() result: every entry well-formed, each thread's in order.
    auto check_crumbs = [&](const std::vector<crashdrop::Breadcrumb>& crumbs, long long until_ms) {
        std::map<int, int> latest;
        for (const auto& b : crumbs) {
            int t = -1, n = -1;
            char extra = 0;
            if (std::sscanf(b.message.c_str(), "t%d-%d%c", &t, &n, &extra) != 2 || t < 0 || t >= k_threads || n < 0 ||
                n >= k_count || b.message != "t" + std::to_string(t) + "-" + std::to_string(n)) {
                note("malformed breadcrumb '" + b.message + "'");
                continue;
            }
            if (b.category != "w" + std::to_string(t)) note("breadcrumb " + b.message + " has category " + b.category);
            if (b.level != static_cast<BreadcrumbLevel>(n % 5)) note("breadcrumb " + b.message + " has the wrong level");
            if (b.timestamp_ms < started_ms || b.timestamp_ms > until_ms) note("breadcrumb " + b.message + " has an odd timestamp");
            auto it = latest.find(t);
            if (it != latest.end() && it->second >= n) {
                note("thread " + std::to_string(t) + ": " + std::to_string(n) + " after " + std::to_string(it->second));
            }
            latest[t] = n;
        }
    };
    std::thread reader([&] {
        go.store(true);
        while (writers_done.load() < k_threads) {
            ++reads;
            for (const auto& e : crashdrop::parameters()) {
                const std::string& key = e.first;
                const std::string& v = e.second;
                if (!starts_with(key, "writer")) {
                    if (key != "prod" && key != "ver") note("unexpected key '" + key.substr(0, 60) + "'");
                    continue;
                }
                ++values_seen;
                const char ch = v.empty() ? '?' : v[0];
                const bool uniform = !v.empty() && v.find_first_not_of(ch) == std::string::npos && ch >= 'a' && ch <= 'z';
                if (!uniform || v.size() != value_length(ch)) {
                    note("torn value of " + key + ": " + std::to_string(v.size()) + " bytes, '" + v.substr(0, 40) + "...'");
                }
            }
            const auto crumbs = crashdrop::breadcrumbs();
            crumbs_seen += crumbs.size();
            if (crumbs.size() > k_ring) note("more breadcrumbs than the ring holds");
            check_crumbs(crumbs, now_ms());
        }
    });
    for (auto& w : writers) w.join();
    reader.join();

    INFO("reader passes: " << reads.load() << ", values seen: " << values_seen << ", breadcrumbs seen: " << crumbs_seen);
    INFO("first writer failure: " << first_failure);
    CHECK(writer_failures.load() == 0);
    for (const auto& p : problems) FAIL_CHECK(p);
    CHECK(reads.load() >= static_cast<std::size_t>((k_count - 1) / 50));

    // Afterwards: each thread's annotation is the last value it set.
    const auto p = crashdrop::parameters();
    CHECK(p.size() == 2 + k_threads);
    const char last = value_char(k_count - 1);
    for (int t = 0; t < k_threads; ++t) {
        INFO("thread " << t);
        REQUIRE(p.count(key_of(t)) == 1);
        CHECK(p.at(key_of(t)) == std::string(value_length(last), last));
    }
    CHECK(part_keys(p).empty());

    // The ring: whole and in order. A writer may give up an entry only when a writer a whole ring
    // newer took it, or skip one a stalled writer still holds: at most a few holes.
    problems.clear();
    const auto crumbs = crashdrop::breadcrumbs();
    check_crumbs(crumbs, now_ms());
    for (const auto& pr : problems) FAIL_CHECK(pr);
    CHECK(crumbs.size() <= k_ring);
    CHECK(crumbs.size() >= k_ring - 4 * k_threads);
    // Quiet again, it behaves as before.
    for (std::size_t i = 0; i < k_ring; ++i) crashdrop::add_breadcrumb("quiet " + std::to_string(i));
    const auto quiet = crashdrop::breadcrumbs();
    REQUIRE(quiet.size() == k_ring);
    for (std::size_t i = 0; i < k_ring; ++i) {
        if (quiet[i].message != "quiet " + std::to_string(i)) {
            FAIL_CHECK("entry " << i << " is '" << quiet[i].message << "'");
            break;
        }
    }
}

}  // namespace

TEST_CASE("concurrent writers and a reader: no torn values - breadcrumbs whole and in order", "[context]") {
    for (int round = 0; round < 3; ++round) {
        INFO("round " << round);
        run_concurrent_writers("concurrency", false);
    }
}

// A long value is written part by part (key__1..key__N, then its head, then stale parts
// removed): without the store's long lock, parameters() joined parts of different values or
// listed parts (key__N) as keys of their own.
TEST_CASE("concurrent writers of long annotation values: parameters() never shows a torn value or a part", "[context]") {
    run_concurrent_writers("concurrency-long", true);
}

// ---- attachments ----

TEST_CASE("attachments: absolute paths up to 1023 bytes - at most 16 - removable - named in the dump", "[context]") {
    START_SESSION(s, context_options("attachments"));
    crashdrop::Status st = crashdrop::add_attachment("relative/log.txt");
    INFO(st.message());
    CHECK(st.code() == Error::invalid_argument);
    CHECK(contains(st.message(), "absolute"));
    CHECK(crashdrop::add_attachment("").code() == Error::invalid_argument);
    CHECK(crashdrop::add_attachment("./log.txt").code() == Error::invalid_argument);
    const std::string longest = "/" + std::string(limits::attachment_path - 1, 'p');
    st = crashdrop::add_attachment(longest + "p");
    CHECK(st.code() == Error::invalid_argument);
    CHECK(contains(st.message(), "1023"));
    CHECK(crashdrop::add_attachment(std::string("/tmp/nul\0byte", 13)).code() == Error::invalid_argument);

    std::vector<std::string> paths = {longest};
    for (std::size_t i = 1; i < limits::attachments; ++i) paths.push_back("/var/log/app-" + std::to_string(i) + ".log");
    for (const auto& p : paths) {
        INFO(p.substr(0, 40));
        CHECK(crashdrop::add_attachment(p).ok());
    }
    st = crashdrop::add_attachment("/var/log/one-too-many.log");
    CHECK(st.code() == Error::capacity_exceeded);
    CHECK(contains(st.message(), "16"));
    CHECK(crashdrop::add_attachment(paths[3]).ok());  // already there: takes no new place

    dumped_context d = dump_context_now();
    CHECK(std::multiset<std::string>(d.attachments.begin(), d.attachments.end()) ==
          std::multiset<std::string>(paths.begin(), paths.end()));

    CHECK(crashdrop::remove_attachment("relative").code() == Error::invalid_argument);
    CHECK(crashdrop::remove_attachment("/not/there.log").ok());
    CHECK(crashdrop::remove_attachment(paths[3]).ok());
    CHECK(crashdrop::remove_attachment(longest).ok());
    CHECK(crashdrop::add_attachment("/var/log/one-too-many.log").ok());
    std::set<std::string> want(paths.begin(), paths.end());
    want.erase(paths[3]);
    want.erase(longest);
    want.insert("/var/log/one-too-many.log");
    d = dump_context_now();
    CHECK(std::set<std::string>(d.attachments.begin(), d.attachments.end()) == want);
    CHECK(d.attachments.size() == want.size());
}

TEST_CASE("Options::attachments are in the dump from start() on", "[context]") {
    crashdrop::Options o = context_options("options-attachments");
    o.attachments = {"/var/log/a.log", "/var/log/b=c|d%.log"};
    START_SESSION(s, o);
    const dumped_context d = dump_context_now();
    CHECK(d.attachments == o.attachments);
    // A path given twice takes one place.
    CHECK(crashdrop::add_attachment("/var/log/a.log").ok());
    CHECK(dump_context_now().attachments == o.attachments);
}

// ---- the metadata format (implementation build only) ----

#ifdef CRASHDROP_CONTEXT_TEST_INTERNALS
TEST_CASE("breadcrumbs round-trip through format_breadcrumb/parse_breadcrumb and a metadata file", "[context][internals]") {
    namespace detail = crashdrop::detail;
    std::vector<crashdrop::Breadcrumb> crumbs;
    auto add = [&](long long ms, BreadcrumbLevel level, std::string category, std::string message) {
        crashdrop::Breadcrumb b;
        b.timestamp_ms = ms;
        b.level = level;
        b.category = std::move(category);
        b.message = std::move(message);
        crumbs.push_back(b);
    };
    add(1700000000123, BreadcrumbLevel::debug, "pipe|cat", "a|b||c|");
    add(0, BreadcrumbLevel::info, "per%cent", "100% done, %7C and %25 and %zz and %");
    add(-5, BreadcrumbLevel::warning, "new\nline", "line one\nline two\r\n");
    add(42, BreadcrumbLevel::error, "", "");
    add(9223372036854775807LL, BreadcrumbLevel::fatal, "x=y", "=\x01\x7f\xc3\xa9");
    for (const auto& b : crumbs) {
        const std::string v = detail::format_breadcrumb(b);
        INFO("'" << v << "'");
        CHECK(std::count(v.begin(), v.end(), '|') == 3);  // the fields' own '|' are escaped
        crashdrop::Breadcrumb back;
        REQUIRE(detail::parse_breadcrumb(v, &back));
        CHECK(same(std::vector<crashdrop::Breadcrumb>{back}, std::vector<crashdrop::Breadcrumb>{b}));
    }
    crashdrop::Breadcrumb junk;
    CHECK_FALSE(detail::parse_breadcrumb("", &junk));
    CHECK_FALSE(detail::parse_breadcrumb("12|info|only three", &junk));
    CHECK_FALSE(detail::parse_breadcrumb("soon|info|c|m", &junk));
    CHECK_FALSE(detail::parse_breadcrumb("|info|c|m", &junk));

    // Through a whole .meta file, with the tags, user and attachments around them.
    crashdrop::Report r;
    r.id = "0f1e2d3c-4b5a-4697-8877-665544332211";
    r.created = 1700000000;
    r.breadcrumbs = crumbs;
    r.tags = {{"t|a=g", "v\nal%ue"}};
    r.user.email = "a@b\n";
    r.attachments = {"/x/a=b", "/x/%25"};
    r.annotations = {{"k", patterned(700)}};
    const std::string text = detail::encode_report(r);
    // One line per entry: no newline of a value got through unescaped.
    CHECK(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) ==
          1 + 10 + crumbs.size() + r.tags.size() + 1 + r.attachments.size() + r.annotations.size());  // 10: id ... last_error, kind
    crashdrop::Report back;
    std::string error;
    REQUIRE(detail::decode_report(text, &back, &error));
    CHECK(same(back.breadcrumbs, crumbs));
    CHECK(back.tags == r.tags);
    CHECK(same(back.user, r.user));
    CHECK(back.attachments == r.attachments);
    CHECK(back.annotations == r.annotations);
}
#endif
