// capi_tests - crashdrop's C interface, used from C. Two C programs run in child processes:
//   c_api_probe (tests/capi/c_api_probe.c): one scenario per run, printing each call's result
//     and crashdrop_last_error(); built against include/ with exceptions and against
//     single_include/ with -fno-exceptions -fno-rtti, and every API test runs both;
//   c_example (examples/c_example.c): the documented example, which crashes; its dump is read
//     with Breakpad's minidump_stackwalk and minidump_dump (found through
//     CRASHDROP_MINIDUMP_TOOLS; CRASHDROP_REQUIRE_READERS=1 makes a missing reader a failure)
//     and with this file's reader of the Crashpad info stream and crashdrop's context stream.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "../support/minidump_file.hpp"
#include "../support/process.hpp"
#include "../support/readers.hpp"
#include "crashdrop.hpp"

using namespace testsupport;

#if !defined(CAPI_PROBE) || !defined(CAPI_PROBE_NOEXC) || !defined(CAPI_C_EXAMPLE) || !defined(CAPI_TEST_WORKDIR)
#error "CAPI_PROBE, CAPI_PROBE_NOEXC, CAPI_C_EXAMPLE and CAPI_TEST_WORKDIR must be defined by the build"
#endif

namespace {

const std::string k_workdir = CAPI_TEST_WORKDIR;
const std::vector<std::string> k_probes = {CAPI_PROBE, CAPI_PROBE_NOEXC};

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

std::string code(int c) { return std::to_string(c); }

/// A fresh folder for one run: <workdir>/<name>-<pid>-<n>.
std::string fresh_dir(const std::string& name) {
    static int counter = 0;
    const std::string dir = k_workdir + "/" + name + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    run_process({"rm", "-rf", dir}, 30);
    run_process({"mkdir", "-p", dir}, 30);
    return dir;
}

std::vector<std::string> list_dumps(const std::string& folder) {
    std::vector<std::string> out;
    if (DIR* d = opendir(folder.c_str())) {
        while (dirent* e = readdir(d)) {
            const std::string n = e->d_name;
            if (n.size() > 4 && n.compare(n.size() - 4, 4, ".dmp") == 0) out.push_back(folder + "/" + n);
        }
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

struct probe_run {
    std::string dir, db;
    run_result run;
    std::map<std::string, std::string> out;  // the probe's key=value lines

    /// A value the probe printed; fails the test when it did not print it.
    std::string operator[](const std::string& key) const {
        auto it = out.find(key);
        if (it == out.end()) FAIL("the probe printed no " << key << "\n" << run.describe());
        return it->second;
    }
};

probe_run run_probe(const std::string& probe, const std::string& mode, const std::vector<std::string>& extra = {}) {
    probe_run p;
    p.dir = fresh_dir(base_name(probe) + "-" + mode + (extra.empty() ? "" : "-" + extra[0]));
    p.db = p.dir + "/db";
    std::vector<std::string> argv = {probe, mode, p.db};
    argv.insert(argv.end(), extra.begin(), extra.end());
    p.run = run_process(argv, 60, {}, p.dir);
    for (const auto& line : split(p.run.out, '\n')) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) p.out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return p;
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// ---- what a dump carries besides the readers' view ---------------------------------------------

/// Crashpad's info stream (0x43500001): MinidumpCrashpadInfo { u32 version; UUID report_id;
/// UUID client_id; LOCATION simple_annotations; LOCATION module_list } with the annotations as
/// a MinidumpSimpleStringDictionary { u32 count; { RVA key; RVA value } [count] } of
/// MinidumpUTF8String { u32 length; u8 bytes[length]; u8 nul }.
std::map<std::string, std::string> crashpad_annotations(const minidump_file& md) {
    std::map<std::string, std::string> out;
    auto it = md.streams.find(0x43500001u);
    if (it == md.streams.end()) return out;
    const std::uint64_t info = it->second.first;
    std::uint32_t version = 0, dict_size = 0, dict = 0, count = 0;
    if (!md.get(info, &version) || version != 1) return out;
    if (!md.get(info + 36, &dict_size) || !md.get(info + 40, &dict) || dict_size < 4 || !md.get(dict, &count)) return out;
    const auto utf8 = [&md](std::uint32_t rva) {
        std::uint32_t len = 0;
        if (!md.get(rva, &len) || std::uint64_t{rva} + 4 + len > md.bytes.size()) return std::string("<bad string>");
        return std::string(reinterpret_cast<const char*>(md.bytes.data()) + rva + 4, len);
    };
    for (std::uint32_t i = 0; i < count; ++i) {
        std::uint32_t key = 0, value = 0;
        if (!md.get(dict + 4 + 8ull * i, &key) || !md.get(dict + 8 + 8ull * i, &value)) break;
        out[utf8(key)] = utf8(value);
    }
    return out;
}

/// %XX -> byte.
std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

struct crumb {
    std::int64_t timestamp_ms = 0;
    std::string level, category, message;
};

/// crashdrop's context stream (0x43440002): escaped key=value lines.
struct context_stream {
    std::string text;
    std::map<std::string, std::string> raw;     // key (as written) -> value (as written)
    std::map<std::string, std::string> values;  // both unescaped
    std::vector<crumb> breadcrumbs;             // breadcrumb.0, .1, ... (oldest first)
    std::vector<std::string> attachments;       // attachment.0, .1, ...
    bool well_formed = true;                    // every line key=value, escapes upper-case hex

    explicit context_stream(const minidump_file& md) : text(md.stream_bytes(0x43440002u)) {
        for (const auto& line : split(text, '\n')) {
            if (line.empty()) continue;
            const auto eq = line.find('=');
            if (eq == std::string::npos) {
                well_formed = false;
                continue;
            }
            for (std::size_t i = 0; i < line.size(); ++i) {
                const unsigned char c = static_cast<unsigned char>(line[i]);
                if (c < 0x20 || c == 0x7f) well_formed = false;
                if (c == '%') {
                    const bool hex = i + 2 < line.size() && std::isxdigit(static_cast<unsigned char>(line[i + 1])) &&
                                     std::isxdigit(static_cast<unsigned char>(line[i + 2])) && !std::islower(static_cast<unsigned char>(line[i + 1])) &&
                                     !std::islower(static_cast<unsigned char>(line[i + 2]));
                    if (!hex) well_formed = false;
                }
            }
            raw[line.substr(0, eq)] = line.substr(eq + 1);
            values[unescape(line.substr(0, eq))] = unescape(line.substr(eq + 1));
        }
        // A breadcrumb's value is "<ms>|<level>|<category>|<message>" with category and message
        // escaped as fields first ('|' inside them as %7C), and the whole line escaped once more:
        // unescape the value, split it on '|', unescape the fields.
        for (int n = 0;; ++n) {
            auto it = values.find("breadcrumb." + std::to_string(n));
            if (it == values.end()) break;
            const auto parts = split(it->second, '|');
            crumb c;
            if (parts.size() != 4) {
                well_formed = false;
                c.message = "<malformed: " + it->second + ">";
            } else {
                c.timestamp_ms = std::stoll(parts[0]);
                c.level = parts[1];
                c.category = unescape(parts[2]);
                c.message = unescape(parts[3]);
            }
            breadcrumbs.push_back(c);
        }
        for (int n = 0;; ++n) {
            auto it = values.find("attachment." + std::to_string(n));
            if (it == values.end()) break;
            attachments.push_back(it->second);
        }
    }

    bool has(const std::string& key) const { return values.count(key) != 0; }
    std::string raw_at(const std::string& key) const {
        auto it = raw.find(key);
        return it == raw.end() ? "<missing " + key + ">" : it->second;
    }
    std::string at(const std::string& key) const {
        auto it = values.find(key);
        return it == values.end() ? "<missing " + key + ">" : it->second;
    }
};

std::string describe(const std::vector<crumb>& crumbs) {
    std::string s;
    for (const auto& c : crumbs) s += std::to_string(c.timestamp_ms) + " " + c.level + " [" + c.category + "] " + c.message + "\n";
    return s;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// Breadcrumb timestamps: UTC milliseconds of this test run, oldest first.
void check_timestamps(const std::vector<crumb>& crumbs, std::int64_t started_ms) {
    std::int64_t previous = 0;
    for (const auto& c : crumbs) {
        INFO("breadcrumb " << c.message);
        CHECK(c.timestamp_ms >= started_ms - 1000);
        CHECK(c.timestamp_ms <= now_ms() + 1000);
        CHECK(c.timestamp_ms >= previous);
        previous = c.timestamp_ms;
    }
}

/// A long annotation's parts key__1, key__2, ...: each at most 255 bytes, together the value.
void check_long_annotation(const std::map<std::string, std::string>& ann, const std::string& key, const std::string& value) {
    std::string joined;
    std::size_t parts = 0;
    for (int n = 1;; ++n) {
        auto it = ann.find(key + "__" + std::to_string(n));
        if (it == ann.end()) break;
        INFO("part " << n << " of " << key);
        CHECK(it->second.size() <= 255);
        CHECK(!it->second.empty());
        joined += it->second;
        ++parts;
    }
    CHECK(parts == (value.size() + 254) / 255);
    CHECK(joined == value);
    CHECK(ann.count(key) == 0);  // only the parts
}

bool readers_available() {
    if (tools().breakpad) return true;
    if (tools().required) {
        FAIL("minidump_stackwalk/minidump_dump/dump_syms not found in CRASHDROP_MINIDUMP_TOOLS and "
             "CRASHDROP_REQUIRE_READERS=1");
    }
    WARN("Breakpad's readers are missing: only this test's own checks run (set CRASHDROP_MINIDUMP_TOOLS)");
    return false;
}

std::string dump_of(const probe_run& p, const std::string& key) {
    const std::string path = p[key];
    INFO(key << " = " << path);
    CHECK(file_exists(path));
    return path;
}

}  // namespace

// ---- the options struct ---------------------------------------------------------------------

TEST_CASE("crashdrop_options_init sets struct_size and crashdrop::Options' defaults", "[capi]") {
    const crashdrop::Options defaults;
    for (const auto& probe : k_probes) {
        probe_run p = run_probe(probe, "defaults");
        INFO(base_name(probe) << ": " << p.run.describe());
        REQUIRE(p.run.exit_code() == 0);
        CHECK(p["last_error_initial"].empty());
        CHECK(p["sizeof"] == std::to_string(sizeof(crashdrop_options)));
        CHECK(p["struct_size"] == std::to_string(sizeof(crashdrop_options)));
        CHECK(p["strings_null"] == "1");
        CHECK(p["include_environment"] == code(defaults.include_environment));
        CHECK(p["handle_terminate"] == code(defaults.handle_terminate));
        CHECK(p["helper_mode"] == code(static_cast<int>(defaults.helper_mode)));
        CHECK(p["helper_mode"] == code(CRASHDROP_HELPER_REEXEC));
        CHECK(p["upload_format"] == code(static_cast<int>(defaults.upload_format)));
        CHECK(p["compress"] == code(defaults.compress));
        CHECK(p["rate_limit"] == code(defaults.rate_limit));
        CHECK(p["max_breadcrumbs"] == std::to_string(defaults.max_breadcrumbs));
        CHECK(p["max_attachment_bytes"] == std::to_string(defaults.max_attachment_bytes));
        CHECK(p["only_this_module"] == code(defaults.only_this_module));
        CHECK(p["dump_buffer_size"] == std::to_string(defaults.dump_buffer_size));
        CHECK(p["include_command_line"] == code(defaults.include_command_line));
        CHECK(p["fault_filter_null"] == code(defaults.fault_filter == nullptr));
        CHECK(p["hang_timeout_ms"] == std::to_string(defaults.hang_timeout_ms));
        CHECK(p["report_abnormal_exits"] == code(defaults.report_abnormal_exits));
        CHECK(p["environment_null"] == "1");
        CHECK(p["memory_capture"] == code(static_cast<int>(defaults.memory_capture)));
        CHECK(p["max_upload_bytes"] == std::to_string(defaults.max_upload_bytes));
        CHECK(p["is_started"] == "0");
    }
}

TEST_CASE("struct_size: too small or with unknown bytes set is refused - fields past it keep their defaults", "[capi]") {
    for (const auto& probe : k_probes) {
        INFO(base_name(probe));
        for (const char* which : {"zero", "tiny", "huge", "bigger_set"}) {
            probe_run p = run_probe(probe, "start_size", {which});
            INFO(which << ": " << p.run.describe());
            REQUIRE(p.run.exit_code() == 0);
            CHECK(p["start.rc"] == code(CRASHDROP_ERROR_INVALID_ARGUMENT));
            CHECK(contains(p["start.msg"], "struct_size"));
            CHECK(p["is_started"] == "0");
        }
        {
            // A newer header's bigger struct whose extra bytes are all zero.
            probe_run p = run_probe(probe, "start_size", {"bigger_zero"});
            INFO(p.run.describe());
            CHECK(p["start.rc"] == "0");
            CHECK(p["write_dump.rc"] == "0");
            dump_of(p, "dump");
        }
        {
            // dump_buffer_size = 1 lies past struct_size: not read, the default is used ...
            probe_run p = run_probe(probe, "start_size", {"without_dump_buffer_size"});
            INFO(p.run.describe());
            CHECK(p["start.rc"] == "0");
            CHECK(p["is_started"] == "1");
            CHECK(p["write_dump.rc"] == "0");
            dump_of(p, "dump");
        }
        {
            // ... while inside it, the same value is read and refused.
            probe_run p = run_probe(probe, "start_size", {"with_dump_buffer_size"});
            INFO(p.run.describe());
            CHECK(p["start.rc"] == code(CRASHDROP_ERROR_INVALID_OPTIONS));
            CHECK(contains(p["start.msg"], "dump_buffer_size"));
            CHECK(p["is_started"] == "0");
        }
        {
            // helper_mode as the last field inside struct_size is read (99 is refused).
            probe_run p = run_probe(probe, "start_size", {"up_to_helper_mode"});
            INFO(p.run.describe());
            CHECK(p["start.rc"] == code(CRASHDROP_ERROR_INVALID_OPTIONS));
            CHECK(contains(p["start.msg"], "helper_mode"));
        }
        {
            // A struct that ends after product_version: helper_mode 99, upload_format 99,
            // dump_buffer_size 1 and the rest are garbage past struct_size; the defaults apply
            // (the re-exec helper), and product_name, inside it, is honoured.
            probe_run p = run_probe(probe, "start_size", {"product_only"});
            INFO(p.run.describe());
            CHECK(p["start.rc"] == "0");
            CHECK(p["write_dump.rc"] == "0");
            const std::string dump = dump_of(p, "dump");
            minidump_file md;
            REQUIRE(md.load(dump));
            const auto ann = crashpad_annotations(md);
            CHECK(ann.count("prod") == 1);
            if (ann.count("prod")) CHECK(ann.at("prod") == "short-struct");
            if (ann.count("ver")) CHECK(ann.at("ver") == "0.0.1");
        }
    }
}

TEST_CASE("out-of-range enum fields are CRASHDROP_ERROR_INVALID_OPTIONS naming the field", "[capi]") {
    for (const auto& probe : k_probes) {
        probe_run p = run_probe(probe, "invalid_enums");
        INFO(base_name(probe) << ": " << p.run.describe());
        REQUIRE(p.run.exit_code() == 0);
        for (const char* name : {"helper_mode_4", "helper_mode_minus_1", "upload_format_4", "upload_format_minus_7", "memory_capture_3",
                                 "memory_capture_minus_1"}) {
            INFO(name);
            CHECK(p[std::string(name) + ".rc"] == code(CRASHDROP_ERROR_INVALID_OPTIONS));
        }
        CHECK(contains(p["helper_mode_4.msg"], "helper_mode is 4"));
        CHECK(contains(p["helper_mode_minus_1.msg"], "helper_mode is -1"));
        CHECK(contains(p["upload_format_4.msg"], "upload_format is 4"));
        CHECK(contains(p["memory_capture_3.msg"], "memory_capture is 3"));
        CHECK(contains(p["memory_capture_minus_1.msg"], "memory_capture is -1"));
        CHECK(contains(p["upload_format_minus_7.msg"], "upload_format is -7"));
        CHECK(p["is_started_after_refusals"] == "0");
        CHECK(p["start_null.rc"] == code(CRASHDROP_ERROR_INVALID_ARGUMENT));
        CHECK(contains(p["start_null.msg"], "NULL"));
        // The refused calls left nothing behind.
        CHECK(p["valid.rc"] == "0");
        CHECK(p["is_started_after_valid"] == "1");
    }
}

// ---- calls before and after start() ------------------------------------------------------------

TEST_CASE("before crashdrop_start every call is CRASHDROP_ERROR_NOT_STARTED with a message", "[capi]") {
    for (const auto& probe : k_probes) {
        probe_run p = run_probe(probe, "before_start");
        INFO(base_name(probe) << ": " << p.run.describe());
        REQUIRE(p.run.exit_code() == 0);
        CHECK(p["last_error_initial"].empty());
        CHECK(p["is_started"] == "0");
        for (const char* call : {"add_extra_parameter", "remove_extra_parameter", "set_tag", "remove_tag", "set_user",
                                 "add_attachment", "remove_attachment", "write_dump", "prepare_thread", "check_handlers",
                                 "reinstall"}) {
            INFO(call);
            CHECK(p[std::string(call) + ".rc"] == code(CRASHDROP_ERROR_NOT_STARTED));
            CHECK(!p[std::string(call) + ".msg"].empty());
        }
        CHECK(p["write_dump.path"].empty());
        CHECK(p["survived"] == "yes");  // add_breadcrumb and stop before start are harmless
    }
}

TEST_CASE("after crashdrop_start: errors - limits - crashdrop_last_error per thread - write_dump - stop and restart", "[capi]") {
    for (const auto& probe : k_probes) {
        probe_run p = run_probe(probe, "api");
        INFO(base_name(probe) << ": " << p.run.describe());
        REQUIRE(p.run.exit_code() == 0);
        CHECK(p["start.rc"] == "0");
        CHECK(p["is_started"] == "1");
        CHECK(p["start_again.rc"] == code(CRASHDROP_ERROR_ALREADY_STARTED));
        CHECK(!p["start_again.msg"].empty());
        CHECK(p["last_run"] == std::to_string(CRASHDROP_RUN_UNKNOWN));  // the first run of a fresh database
        CHECK(p["consecutive_crashes"] == "0");

        // A 40-byte key: refused, and the message names the 39-byte limit.
        CHECK(p["key40.rc"] == code(CRASHDROP_ERROR_INVALID_ARGUMENT));
        CHECK(contains(p["key40.msg"], "39"));
        CHECK(p["key39.rc"] == "0");
        CHECK(p["key39.msg"] == p["key40.msg"]);  // a success leaves the last error as it was
        CHECK(p["key_empty.rc"] == code(CRASHDROP_ERROR_INVALID_ARGUMENT));
        CHECK(p["key_null.rc"] == code(CRASHDROP_ERROR_INVALID_ARGUMENT));  // NULL is ""
        CHECK(p["value_null.rc"] == "0");
        // crash_kind names the report's kind inside every dump: reserved, in C as in C++.
        CHECK(p["key_crash_kind.rc"] == code(CRASHDROP_ERROR_INVALID_ARGUMENT));
        CHECK(contains(p["key_crash_kind.msg"], "reserved"));

        // crashdrop_last_error() is per thread: a new thread starts with "" and its own failure
        // does not change the main thread's message.
        const std::string thread = p["thread"];
        REQUIRE(thread.find('|') != std::string::npos);
        CHECK(thread.substr(0, thread.find('|')).empty());
        CHECK(!thread.substr(thread.find('|') + 1).empty());
        CHECK(p["main_after_thread"] == p["value_null.msg"]);

        CHECK(p["tag_ok.rc"] == "0");
        CHECK(p["attachment_relative.rc"] == code(CRASHDROP_ERROR_INVALID_ARGUMENT));
        CHECK(!p["attachment_relative.msg"].empty());
        CHECK(p["attachment_absolute.rc"] == "0");
        CHECK(p["user_ok.rc"] == "0");

        // write_dump: the path of a dump that exists, in pending/.
        CHECK(p["write_dump.rc"] == "0");
        const std::string first = dump_of(p, "write_dump.path");
        CHECK(first.rfind(p.db, 0) == 0);
        CHECK(contains(first, "/pending/"));
        minidump_file md;
        CHECK(md.load(first));
        // A path that does not fit: an error naming the path, an emptied buffer - and the dump
        // was written all the same.
        CHECK(p["write_dump_small.rc"] == code(CRASHDROP_ERROR_INVALID_ARGUMENT));
        CHECK(p["write_dump_small.cleared"] == "1");
        const std::string small_msg = p["write_dump_small.msg"];
        CHECK(contains(small_msg, "path_capacity is 8"));
        const auto slash = small_msg.find('/');
        REQUIRE(slash != std::string::npos);
        const std::string second = small_msg.substr(slash);
        INFO("the path in the message: " << second);
        CHECK(second != first);
        CHECK(file_exists(second));
        CHECK(p["write_dump_zero_capacity.rc"] == code(CRASHDROP_ERROR_INVALID_ARGUMENT));
        CHECK(p["write_dump_null.rc"] == "0");

        CHECK(p["prepare_thread.rc"] == "0");
        CHECK(p["check_handlers.rc"] == "0");
        CHECK(p["reinstall.rc"] == "0");

        CHECK(p["after_stop.is_started"] == "0");
        CHECK(p["after_stop.add_extra_parameter.rc"] == code(CRASHDROP_ERROR_NOT_STARTED));
        CHECK(p["restart.rc"] == "0");
        CHECK(p["after_restart.is_started"] == "1");
        CHECK(p["after_restart.write_dump.rc"] == "0");
        dump_of(p, "after_restart.write_dump.path");
        // write_dump, the too-small one, capacity 0, NULL, and the one after the restart.
        CHECK(list_dumps(p.db + "/pending").size() == 5);
    }
}

// ---- what the C calls put into a dump ---------------------------------------------------------

TEST_CASE("annotations and tags and user and attachments and breadcrumbs set from C are in the dump", "[capi]") {
    std::string value600;
    for (std::size_t i = 0; i < 600; ++i) value600 += static_cast<char>('a' + i % 26);
    for (const auto& probe : k_probes) {
        const std::int64_t started = now_ms();
        const std::string attachment = fresh_dir("attachment") + "/game.log";
        {
            FILE* f = std::fopen(attachment.c_str(), "w");
            REQUIRE(f != nullptr);
            std::fputs("log line\n", f);
            std::fclose(f);
        }
        probe_run p = run_probe(probe, "context", {attachment});
        INFO(base_name(probe) << ": " << p.run.describe());
        REQUIRE(p.run.exit_code() == 0);
        for (const char* call : {"start", "ann_short", "ann_long", "ann_removed", "tag_plain", "tag_special", "user", "attachment",
                                 "dump1", "remove_ann", "remove_missing_ann", "remove_tag", "clear_user", "remove_attachment", "dump2"}) {
            INFO(call << ": " << p[std::string(call) + ".msg"]);
            CHECK(p[std::string(call) + ".rc"] == "0");
        }

        minidump_file first;
        REQUIRE(first.load(dump_of(p, "dump1.path")));
        CHECK(first.has(0x43500001u));
        CHECK(first.has(0x43440002u));
        const auto ann = crashpad_annotations(first);
        CHECK(ann.count("prod") == 1);
        if (ann.count("prod")) CHECK(ann.at("prod") == "c_api_probe");
        if (ann.count("short")) CHECK(ann.at("short") == "plain value");
        CHECK(ann.count("short") == 1);
        CHECK(ann.count("removed_later") == 1);
        check_long_annotation(ann, "long", value600);

        const context_stream ctx(first);
        INFO("context stream:\n" << ctx.text);
        CHECK(ctx.well_formed);
        CHECK(ctx.at("user.id") == "u-1");
        CHECK(ctx.at("user.username") == "bob|smith");
        CHECK(ctx.raw.count("user.username") == 1);
        if (ctx.raw.count("user.username")) CHECK(ctx.raw.at("user.username") == "bob%7Csmith");
        CHECK(!ctx.has("user.email"));
        CHECK(ctx.at("user.ip_address") == "10.0.0.1");
        CHECK(ctx.at("tag.map") == "forest_02");
        CHECK(ctx.at("tag.odd=key|") == "50% | a=b\nnext");
        CHECK(ctx.raw.count("tag.odd%3Dkey%7C") == 1);
        if (ctx.raw.count("tag.odd%3Dkey%7C")) CHECK(ctx.raw.at("tag.odd%3Dkey%7C") == "50%25 %7C a%3Db%0Anext");
        REQUIRE(ctx.attachments.size() == 1);
        CHECK(ctx.attachments[0] == attachment);

        // max_breadcrumbs = 5: the oldest of six is gone; NULL category is "default", an
        // out-of-range level is "info", a NULL message is empty.
        INFO("breadcrumbs:\n" << describe(ctx.breadcrumbs));
        REQUIRE(ctx.breadcrumbs.size() == 5);
        const std::vector<std::vector<std::string>> want = {
            {"debug", "cat", "debug message"},
            {"warning", "a|b", "pipe | percent % equals = newline\nend"},
            {"error", "default", "null category"},
            {"info", "cat", "level out of range"},
            {"fatal", "null message", ""},
        };
        for (std::size_t i = 0; i < want.size(); ++i) {
            INFO("breadcrumb " << i);
            CHECK(ctx.breadcrumbs[i].level == want[i][0]);
            CHECK(ctx.breadcrumbs[i].category == want[i][1]);
            CHECK(ctx.breadcrumbs[i].message == want[i][2]);
        }
        // As written: '|' separators %7C, a '|' inside a field %257C (%7C escaped again).
        CHECK(contains(ctx.raw_at("breadcrumb.1"), "%7Cwarning%7Ca%257Cb%7Cpipe %257C percent %2525 equals %3D newline%0Aend"));
        check_timestamps(ctx.breadcrumbs, started);

        // After the removals: the annotation, the tag, the user and the attachment are gone.
        minidump_file second;
        REQUIRE(second.load(dump_of(p, "dump2.path")));
        const auto ann2 = crashpad_annotations(second);
        CHECK(ann2.count("removed_later") == 0);
        CHECK(ann2.count("short") == 1);
        check_long_annotation(ann2, "long", value600);
        const context_stream ctx2(second);
        INFO("second context stream:\n" << ctx2.text);
        CHECK(!ctx2.has("tag.map"));
        CHECK(ctx2.has("tag.odd=key|"));
        CHECK(!ctx2.has("user.id"));
        CHECK(!ctx2.has("user.username"));
        CHECK(!ctx2.has("user.ip_address"));
        CHECK(ctx2.attachments.empty());
        CHECK(ctx2.breadcrumbs.size() == 5);
    }
}

// ---- the C example crashes -------------------------------------------------------------------

TEST_CASE("the C example dies of SIGSEGV in physics_step and its dump names the C frames and carries the context",
          "[capi][crash]") {
    const std::string exe = CAPI_C_EXAMPLE;
    const std::string dir = fresh_dir("c_example");
    const std::string db = dir + "/db";
    const std::int64_t started = now_ms();
    const run_result run = run_process({exe, db}, 60, {}, dir);
    INFO("run directory: " << dir << "\n" << run.describe());
    REQUIRE(run.signaled());
    CHECK(run.signal() == SIGSEGV);
    CHECK(run.err.empty());  // crashdrop_start and every context call succeeded
    const auto dumps = list_dumps(db + "/pending");
    REQUIRE(dumps.size() == 1);
    const std::string dump = dumps[0];
    INFO("dump: " << dump);

    minidump_file md;
    REQUIRE(md.load(dump));
    CHECK(md.exception_code() == 11u);  // SIGSEGV

    // The annotations (Crashpad info stream), the long one in parts.
    std::string mods;
    for (int i = 0; i < 40; ++i) {
        char one[16];
        std::snprintf(one, sizeof(one), "mod_%02d.pak;", i);
        mods += one;
    }
    const auto ann = crashpad_annotations(md);
    CHECK(ann.count("prod") == 1);
    if (ann.count("prod")) CHECK(ann.at("prod") == "CEngineDemo");
    if (ann.count("ver")) CHECK(ann.at("ver") == "2.7.1");
    if (ann.count("renderer")) CHECK(ann.at("renderer") == "vulkan 1.3 / llvmpipe");
    CHECK(ann.count("renderer") == 1);
    if (ann.count("level")) CHECK(ann.at("level") == "forest_02");
    CHECK(ann.count("level") == 1);
    check_long_annotation(ann, "loaded_mods", mods);

    // The context stream: user, tags, breadcrumbs (oldest first).
    const context_stream ctx(md);
    INFO("context stream:\n" << ctx.text);
    CHECK(ctx.well_formed);
    CHECK(ctx.at("user.id") == "player-1234");
    CHECK(ctx.at("user.username") == "alice");
    CHECK(ctx.at("user.email") == "alice@example.com");
    CHECK(!ctx.has("user.ip_address"));
    CHECK(ctx.at("tag.map") == "forest_02");
    CHECK(ctx.at("tag.graphics") == "high");
    const std::vector<std::vector<std::string>> want = {
        {"info", "engine", "engine initialised"},
        {"warning", "assets", "texture rock.png missing, using the fallback"},
        {"info", "level", "level forest_02 loaded"},
        {"debug", "engine", "frame 1: 2 bodies"},
        {"debug", "engine", "frame 2: 2 bodies"},
        {"warning", "gameplay", "spawned body 'crate' from script"},
        {"debug", "engine", "frame 3: 3 bodies"},
    };
    INFO("breadcrumbs:\n" << describe(ctx.breadcrumbs));
    REQUIRE(ctx.breadcrumbs.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("breadcrumb " << i);
        CHECK(ctx.breadcrumbs[i].level == want[i][0]);
        CHECK(ctx.breadcrumbs[i].category == want[i][1]);
        CHECK(ctx.breadcrumbs[i].message == want[i][2]);
    }
    check_timestamps(ctx.breadcrumbs, started);

    if (!readers_available()) return;

    // Breakpad: the crash reason, the fault address (the shape pointer is NULL; the field
    // written is at offset 8) and the C functions of the crashing thread, named through
    // dump_syms symbols, from the top down to main.
    const std::string symbols = dir + "/symbols";
    REQUIRE(!ensure_symbols(symbols, exe).empty());
    const stackwalk_result sw = stackwalk(dump, symbols);
    INFO("minidump_stackwalk:\n" << sw.run.out.substr(0, 20000) << sw.run.err.substr(0, 4000));
    REQUIRE(sw.run.exit_code() == 0);
    CHECK(sw.reason.rfind("SIGSEGV", 0) == 0);
    CHECK(std::strtoull(sw.address.c_str(), nullptr, 16) == 8u);
    const auto tids = md.thread_ids();
    REQUIRE(sw.crash_thread >= 0);
    REQUIRE(static_cast<std::size_t>(sw.crash_thread) < tids.size());
    CHECK(tids[static_cast<std::size_t>(sw.crash_thread)] == md.exception_thread());
    const auto frames = sw.functions(sw.crash_thread);
    INFO("crashing thread: " << join_lines(frames));
    REQUIRE(frames.size() >= 3);
    CHECK(frames[0] == "physics_step");
    CHECK(frames[1] == "engine_update");
    CHECK(frames[2] == "main");

    // minidump_dump reads the same annotations.
    dump_result dd = minidump_dump(dump);
    INFO("minidump_dump exit " << dd.run.exit_code());
    CHECK(dd.annotations["prod"] == "CEngineDemo");
    CHECK(dd.annotations["ver"] == "2.7.1");
    CHECK(dd.annotations["loaded_mods__1"] == mods.substr(0, 255));
    CHECK(dd.annotations["loaded_mods__2"] == mods.substr(255));
}
