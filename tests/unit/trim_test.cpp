// The dump trimmer (minidump/trim.hpp) that makes a report fit the upload budget: on the real
// Linux dumps in ../shared/testdata/minidumps each step (other stacks cut, memory around
// registers dropped, the crashing stack cut) gives a smaller file that minidump_stackwalk still
// reads with the crashing thread's frames; damaged input is refused and left unchanged; the
// writer-errors line is added to an existing stream or as a new one. A Windows x64 dump that
// wine's dbghelp wrote (tests/fixtures/windows_x64) is trimmed as well, with its own streams.
// The implementation TU of its own test binary.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../support/process.hpp"
#include "../support/readers.hpp"

namespace cd = crashdrop::detail;
namespace md = crashdrop::minidump;

namespace {

const std::string k_work = CRASHDROP_TEST_WORKDIR;
// The shared dumps (CRASHDROP_SHARED_TESTDATA_DIR in the environment overrides where, for a
// worktree that has no ../shared).
const std::string k_shared = std::getenv("CRASHDROP_SHARED_TESTDATA_DIR") != nullptr ? std::getenv("CRASHDROP_SHARED_TESTDATA_DIR")
                                                                                    : CRASHDROP_SHARED_TESTDATA;

bool read_all(const std::string& path, std::string* out);

/// A real dump by name: from the shared test data, or (for the two kept in the repository as
/// fuzz seeds) from tests/fuzz/corpus/trim. "" when neither has it.
std::string dump_path(const std::string& name) {
    std::string bytes;
    if (read_all(k_shared + "/" + name, &bytes)) return k_shared + "/" + name;
    if (read_all(std::string(CRASHDROP_TRIM_CORPUS) + "/" + name, &bytes)) return std::string(CRASHDROP_TRIM_CORPUS) + "/" + name;
    return std::string();
}

bool read_all(const std::string& path, std::string* out) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return false;
    char buf[65536];
    std::size_t n;
    out->clear();
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out->append(buf, n);
    std::fclose(f);
    return true;
}

bool write_all(const std::string& path, const std::string& data) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return false;
    const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
    return std::fclose(f) == 0 && ok;
}

/// Sizes of each thread's stack (thread list order) and the memory list's count.
struct shape {
    std::vector<std::uint32_t> stacks;
    std::uint32_t crashed = 0;
    std::uint32_t crashed_stack = 0;
    std::uint32_t memory_ranges = 0;
};

shape shape_of(const std::string& dump) {
    shape s;
    cd::dump_index index;
    REQUIRE(cd::dump_read_index(dump, &index, nullptr));
    const bool has = cd::dump_crashed_thread(dump, index, &s.crashed);
    if (const md::directory* t = cd::dump_find_stream(index, md::stream_thread_list)) {
        std::uint32_t n = 0;
        REQUIRE(cd::dump_bytes_at(dump, t->location.rva, &n, 4));
        for (std::uint32_t i = 0; i < n; ++i) {
            md::thread th;
            REQUIRE(cd::dump_bytes_at(dump, t->location.rva + 4 + i * sizeof(th), &th, sizeof(th)));
            s.stacks.push_back(th.stack.memory.data_size);
            if (has && th.thread_id == s.crashed) s.crashed_stack = th.stack.memory.data_size;
        }
    }
    if (const md::directory* m = cd::dump_find_stream(index, md::stream_memory_list)) {
        REQUIRE(cd::dump_bytes_at(dump, m->location.rva, &s.memory_ranges, 4));
    }
    return s;
}

const char* const k_dumps[] = {"bp_linux_null_dereference.dmp", "bp_linux_raise_sigabrt.dmp", "bp_linux_inline.dmp",
                               "nm_linux.dmp", "sy_crash_linux.dmp"};

}  // namespace

TEST_CASE("each trim step makes a real dump smaller and it still walks with the crashing thread's frames", "[trim]") {
    for (const char* name : k_dumps) {
        INFO(name);
        const std::string path = dump_path(name);
        const bool in_repository = std::string(name) == "bp_linux_null_dereference.dmp" || std::string(name) == "bp_linux_inline.dmp";
        if (path.empty() && !in_repository) {
            WARN("shared test dump " << name << " not found at " << k_shared << "; skipped");
            continue;
        }
        std::string dump;
        REQUIRE(read_all(path, &dump));
        const auto before = testsupport::stackwalk(path, k_work + "/no-symbols");
        REQUIRE(before.run.exit_code() == 0);
        REQUIRE(before.crash_thread >= 0);
        const std::size_t frames_before = before.threads.at(before.crash_thread).size();
        const shape s0 = shape_of(dump);

        cd::trim_request steps[3];
        steps[0].other_stack_max = 1024;
        steps[1].other_stack_max = 1024;
        steps[1].drop_memory = true;
        steps[2] = steps[1];
        steps[2].crashed_stack_max = 4096;
        std::string current = dump;
        for (int i = 0; i < 3; ++i) {
            INFO("step " << i);
            cd::trim_result r;
            std::string error;
            std::string trimmed = current;
            const bool trimmed_ok = cd::dump_trim(&trimmed, steps[i], &r, &error);
            INFO(error);
            REQUIRE(trimmed_ok);
            CHECK(error.empty());
            CHECK(trimmed.size() + r.bytes_removed == current.size());
            const shape s = shape_of(trimmed);
            REQUIRE(s.stacks.size() == s0.stacks.size());
            for (std::size_t t = 0; t < s.stacks.size(); ++t) {
                CHECK(s.stacks[t] <= s0.stacks[t]);
            }
            if (i >= 1) CHECK(s.memory_ranges <= s0.memory_ranges);
            if (i == 2) {
                CHECK(s.crashed_stack <= 4096 + 15);
            } else {
                CHECK(s.crashed_stack == s0.crashed_stack);
            }
            const std::string out = k_work + "/trimmed-" + std::to_string(i) + ".dmp";
            REQUIRE(write_all(out, trimmed));
            const auto after = testsupport::stackwalk(out, k_work + "/no-symbols");
            CHECK(after.run.exit_code() == 0);
            CHECK(after.crash_thread == before.crash_thread);
            CHECK(after.threads.size() == before.threads.size());
            REQUIRE(after.threads.count(before.crash_thread) == 1);
            const auto& frames = after.threads.at(before.crash_thread);
            REQUIRE(!frames.empty());
            CHECK(frames[0].module == before.threads.at(before.crash_thread)[0].module);
            CHECK(frames[0].function == before.threads.at(before.crash_thread)[0].function);
            if (i < 2) CHECK(frames.size() == frames_before);  // the crashing stack is whole
            current = trimmed;
        }
        // Something was cut from a dump whose stacks or ranges were larger than the limits.
        std::uint64_t other = 0;
        for (auto v : s0.stacks) other += v > 1024 ? v - 1024 : 0;
        if (other >= 16 * s0.stacks.size()) CHECK(current.size() < dump.size());
    }
}

TEST_CASE("a dump with a stream whose RVAs are not known is not trimmed and stays as it was", "[trim]") {
    // rm_linux-mini.dmp (rust-minidump's writer) has stream 0x4d7a0004, which this code cannot
    // look inside: moving bytes under it could break it, so nothing is moved.
    std::string dump;
    if (dump_path("rm_linux-mini.dmp").empty()) {
        WARN("shared test dump rm_linux-mini.dmp not found at " << k_shared << "; skipped");
        return;
    }
    REQUIRE(read_all(dump_path("rm_linux-mini.dmp"), &dump));
    const std::string copy = dump;
    cd::trim_request req;
    req.other_stack_max = 1024;
    req.drop_memory = true;
    cd::trim_result r;
    std::string error;
    CHECK_FALSE(cd::dump_trim(&dump, req, &r, &error));
    CHECK(error.find("0x4d7a0004") != std::string::npos);
    CHECK(dump == copy);
}

TEST_CASE("a trim of a damaged dump is refused and leaves it unchanged", "[trim]") {
    std::string dump;
    REQUIRE(read_all(dump_path("bp_linux_null_dereference.dmp"), &dump));
    cd::trim_request req;
    req.other_stack_max = 1024;
    req.drop_memory = true;
    // Cut short at many places, and with a thread's stack RVA pointing past the end.
    for (std::size_t cut : {std::size_t{0}, std::size_t{16}, std::size_t{31}, dump.size() / 3, dump.size() / 2, dump.size() - 1}) {
        std::string bad = dump.substr(0, cut);
        const std::string copy = bad;
        cd::trim_result r;
        std::string error;
        const bool ok = cd::dump_trim(&bad, req, &r, &error);
        if (!ok) {
            CHECK(!error.empty());
            CHECK(bad == copy);
        }
    }
    cd::dump_index index;
    REQUIRE(cd::dump_read_index(dump, &index, nullptr));
    const md::directory* t = cd::dump_find_stream(index, md::stream_thread_list);
    REQUIRE(t != nullptr);
    std::string bad = dump;
    const std::uint32_t far = 0x7ffffff0u;
    std::memcpy(&bad[t->location.rva + 4 + offsetof(md::thread, stack) + offsetof(md::memory_descriptor, memory) + 4], &far, 4);
    const std::string copy = bad;
    cd::trim_result r;
    std::string error;
    CHECK_FALSE(cd::dump_trim(&bad, req, &r, &error));
    CHECK(error.find("outside the file") != std::string::npos);
    CHECK(bad == copy);
}

TEST_CASE("the trim line goes into the writer-errors stream, added or appended", "[trim]") {
    std::string dump;
    REQUIRE(read_all(dump_path("bp_linux_null_dereference.dmp"), &dump));
    std::string error;
    REQUIRE(cd::dump_add_writer_error(&dump, "first line\n", &error));
    REQUIRE(cd::dump_add_writer_error(&dump, "upload budget: second\n", &error));
    cd::dump_index index;
    REQUIRE(cd::dump_read_index(dump, &index, nullptr));
    const md::directory* e = cd::dump_find_stream(index, md::stream_crashdrop_writer_errors);
    REQUIRE(e != nullptr);
    CHECK(dump.substr(e->location.rva, e->location.data_size) == "first line\nupload budget: second\n");
    const std::string out = k_work + "/errors.dmp";
    REQUIRE(write_all(out, dump));
    CHECK(testsupport::stackwalk(out, k_work + "/no-symbols").run.exit_code() == 0);
}

TEST_CASE("a report that cannot fit goes through all four steps in order and is sent at its smallest - still walking", "[trim]") {
    std::string dump;
    REQUIRE(read_all(dump_path("bp_linux_null_dereference.dmp"), &dump));
    const std::string attachment = k_work + "/big.log";
    REQUIRE(write_all(attachment, std::string(200000, 'x')));
    crashdrop::Upload up;
    up.report.id = "0a0b0c0d-0000-4000-8000-000000000001";
    up.dump.assign(dump.begin(), dump.end());
    up.attachments = {attachment};
    up.report.attachments = up.attachments;
    cd::upload_settings s;
    s.format = crashdrop::UploadFormat::crashpad;
    std::vector<std::string> logged;
    const std::size_t budget = 4096;  // below what the dump's modules and maps alone take
    const std::string line = cd::fit_upload_budget(&up, s, budget, [&](const std::string& m) { logged.push_back(m); });
    INFO(line);
    CHECK(logged.empty());
    const std::size_t b = line.find("memory around registers dropped");
    const std::size_t c = line.find("attachment big.log (200000 bytes) dropped");
    const std::size_t d = line.find("crashing thread's stack cut to 4096 bytes");
    REQUIRE(b != std::string::npos);
    REQUIRE(c != std::string::npos);
    REQUIRE(d != std::string::npos);
    CHECK(b < c);
    CHECK(c < d);
    CHECK(line.find("sent as it is") != std::string::npos);
    CHECK(up.attachments.empty());
    CHECK(up.report.attachments.empty());
    const std::string sent(up.dump.begin(), up.dump.end());
    CHECK(sent.size() < dump.size());
    cd::dump_index index;
    REQUIRE(cd::dump_read_index(sent, &index, nullptr));
    const md::directory* e = cd::dump_find_stream(index, md::stream_crashdrop_writer_errors);
    REQUIRE(e != nullptr);
    CHECK(sent.substr(e->location.rva, e->location.data_size).find(line) != std::string::npos);
    const std::string out = k_work + "/smallest.dmp";
    REQUIRE(write_all(out, sent));
    const auto walked = testsupport::stackwalk(out, k_work + "/no-symbols");
    CHECK(walked.run.exit_code() == 0);
    REQUIRE(walked.crash_thread >= 0);
    REQUIRE(walked.threads.count(walked.crash_thread) == 1);
    CHECK(!walked.threads.at(walked.crash_thread).empty());
    // The size bound that spares reading attachments is never below the exact size, in every
    // format, with and without an attachment (one cut to max_attachment_bytes).
    for (const auto f : {crashdrop::UploadFormat::crashpad, crashdrop::UploadFormat::socorro, crashdrop::UploadFormat::sentry,
                         crashdrop::UploadFormat::sentry_minidump}) {
        cd::upload_settings fs;
        fs.format = f;
        fs.max_attachment_bytes = 150000;
        crashdrop::Upload u;
        u.report.id = up.report.id;
        u.report.annotations["level"] = "3";
        u.dump.assign(dump.begin(), dump.end());
        CHECK(cd::upload_request_size_bound(u, fs) >= cd::upload_request_size(u, fs));
        u.attachments = {attachment};
        u.report.attachments = u.attachments;
        const std::size_t exact = cd::upload_request_size(u, fs);
        CHECK(exact > dump.size() + 150000);  // the attachment is in it, cut to 150000 bytes
        CHECK(cd::upload_request_size_bound(u, fs) >= exact);
        CHECK(cd::upload_request_size_bound(u, fs) < exact + 4096);
    }
    // A report within its budget is left alone.
    crashdrop::Upload small;
    small.report.id = up.report.id;
    small.dump.assign(dump.begin(), dump.end());
    CHECK(cd::fit_upload_budget(&small, s, 16u << 20, [](const std::string&) {}).empty());
    CHECK(small.dump.size() == dump.size());
}

TEST_CASE("the default upload budget of each format is under its server's documented limit", "[trim]") {
    // Sentry: "the entire request must not exceed 20MB in size, even with compressed content
    // encoding" (docs.sentry.io). Socorro's Antenna: nginx client_max_body_size 25m. Crashpad-style
    // collectors document none; the same as the others. A budget is measured uncompressed, which
    // is never less than what is sent.
    const std::size_t sentry_limit = 20u * 1000u * 1000u;
    const std::size_t antenna_limit = 25u * 1024u * 1024u;
    for (const auto f : {crashdrop::UploadFormat::sentry, crashdrop::UploadFormat::sentry_minidump}) {
        CHECK(cd::default_upload_budget(f) <= sentry_limit);
        CHECK(cd::default_upload_budget(f) >= cd::k_upload_budget_min);
    }
    CHECK(cd::default_upload_budget(crashdrop::UploadFormat::socorro) <= antenna_limit);
    CHECK(cd::default_upload_budget(crashdrop::UploadFormat::socorro) >= cd::k_upload_budget_min);
    CHECK(cd::default_upload_budget(crashdrop::UploadFormat::crashpad) <= sentry_limit);
    CHECK(cd::default_upload_budget(crashdrop::UploadFormat::crashpad) >= cd::k_upload_budget_min);
    // What the docs state (options.md, helper-and-uploads.md): 16 MiB for every format.
    CHECK(cd::default_upload_budget(crashdrop::UploadFormat::crashpad) == 16u * 1024u * 1024u);
    CHECK(cd::default_upload_budget(crashdrop::UploadFormat::socorro) == 16u * 1024u * 1024u);
    CHECK(cd::default_upload_budget(crashdrop::UploadFormat::sentry) == 16u * 1024u * 1024u);
}

namespace {

/// The MINIDUMP_STRING (length and UTF-16 bytes) at `rva`, "" when it is not in the file.
std::string minidump_string_at(const std::string& dump, std::uint64_t rva) {
    std::uint32_t n = 0;
    if (!cd::dump_bytes_at(dump, rva, &n, 4) || rva + 4 + n > dump.size()) return std::string();
    return dump.substr(static_cast<std::size_t>(rva), 4 + n);
}

/// The names (MINIDUMP_STRINGs) of a module list stream's modules, in order.
std::vector<std::string> module_names(const std::string& dump, std::uint32_t type) {
    std::vector<std::string> names;
    cd::dump_index index;
    REQUIRE(cd::dump_read_index(dump, &index, nullptr));
    const md::directory* e = cd::dump_find_stream(index, type);
    if (e == nullptr) return names;
    std::uint32_t n = 0;
    REQUIRE(cd::dump_bytes_at(dump, e->location.rva, &n, 4));
    for (std::uint32_t i = 0; i < n; ++i) {
        md::module m;
        REQUIRE(cd::dump_bytes_at(dump, e->location.rva + 4 + i * sizeof(m), &m, sizeof(m)));
        names.push_back(minidump_string_at(dump, m.module_name_rva));
    }
    return names;
}

/// A MINIDUMP_STRING of `ascii` (UTF-16LE).
std::string minidump_string(const std::string& ascii) {
    std::string out(4, '\0');
    const std::uint32_t n = static_cast<std::uint32_t>(ascii.size() * 2);
    std::memcpy(&out[0], &n, 4);
    for (char c : ascii) {
        out.push_back(c);
        out.push_back('\0');
    }
    return out;
}

void put32(std::string* s, std::size_t at, std::uint32_t v) { std::memcpy(&(*s)[at], &v, 4); }

}  // namespace

TEST_CASE("a wine dump is trimmed: its host module list (0xfff0) keeps its names - dropped ranges take their descriptors along - each step walks to the crashing frame", "[trim][windows]") {
    // report_target_win.exe's null write under wine 8 (MiniDumpWriteDump of every thread, then
    // crashdrop's own streams): 2 threads, 8 wine host modules in stream 0xfff0, and 12,045
    // memory ranges besides the stacks (each function's unwind data, and 256 bytes around each
    // thread's instruction pointer).
    std::string dump;
    REQUIRE(read_all(CRASHDROP_WINE_DUMP, &dump));
    const auto before = testsupport::stackwalk(CRASHDROP_WINE_DUMP, k_work + "/no-symbols");
    REQUIRE(before.run.exit_code() == 0);
    REQUIRE(before.crash_thread >= 0);
    const auto& frames_before = before.threads.at(before.crash_thread);
    REQUIRE(!frames_before.empty());
    CHECK(frames_before[0].module == "report_target_win.exe");
    const shape s0 = shape_of(dump);
    REQUIRE(s0.stacks.size() == 2);
    REQUIRE(s0.memory_ranges > 10000);
    const auto pe_names = module_names(dump, md::stream_module_list);
    const auto host_names = module_names(dump, md::stream_wine_host_module_list);
    REQUIRE(host_names.size() == 8);
    for (const auto& n : host_names) REQUIRE(!n.empty());

    cd::trim_request steps[3];
    steps[0].other_stack_max = 1024;
    steps[1] = steps[0];
    steps[1].drop_memory = true;
    steps[2] = steps[1];
    steps[2].crashed_stack_max = 4096;
    std::string current = dump;
    for (int i = 0; i < 3; ++i) {
        INFO("step " << i);
        std::string trimmed = current;
        cd::trim_result r;
        std::string error;
        const bool ok = cd::dump_trim(&trimmed, steps[i], &r, &error);
        INFO(error);
        REQUIRE(ok);
        CHECK(r.bytes_removed > 0);
        CHECK(trimmed.size() + r.bytes_removed == current.size());
        const shape s = shape_of(trimmed);
        if (i == 1) {
            // Only the two stacks stay listed, and the 12,045 descriptors (16 bytes each) left
            // the file with the ranges they described.
            CHECK(s.memory_ranges == 2);
            CHECK(r.ranges_dropped == s0.memory_ranges - 2);
            CHECK(r.bytes_removed > 16u * r.ranges_dropped);
            CHECK(trimmed.size() < dump.size() / 5);
        }
        CHECK(module_names(trimmed, md::stream_module_list) == pe_names);
        CHECK(module_names(trimmed, md::stream_wine_host_module_list) == host_names);
        const std::string out = k_work + "/wine-trimmed-" + std::to_string(i) + ".dmp";
        REQUIRE(write_all(out, trimmed));
        const auto after = testsupport::stackwalk(out, k_work + "/no-symbols");
        CHECK(after.run.exit_code() == 0);
        CHECK(after.reason == before.reason);
        CHECK(after.crash_thread == before.crash_thread);
        CHECK(after.threads.size() == before.threads.size());
        REQUIRE(after.threads.count(before.crash_thread) == 1);
        const auto& frames = after.threads.at(before.crash_thread);
        REQUIRE(!frames.empty());
        CHECK(frames[0].module == frames_before[0].module);
        CHECK(after.address == before.address);
        if (i < 2) CHECK(frames.size() == frames_before.size());
        current = trimmed;
    }
}

TEST_CASE("a stream numbered 0xfff0 that is not laid out as wine's module list is not trimmed", "[trim][windows]") {
    std::string dump;
    REQUIRE(read_all(CRASHDROP_WINE_DUMP, &dump));
    cd::dump_index index;
    REQUIRE(cd::dump_read_index(dump, &index, nullptr));
    for (std::uint32_t s = 0; s < index.header.stream_count; ++s) {
        if (index.entries[s].stream_type != md::stream_wine_host_module_list) continue;
        const std::size_t size_at = index.header.stream_directory_rva + s * sizeof(md::directory) + offsetof(md::directory, location) +
                                    offsetof(md::location_descriptor, data_size);
        put32(&dump, size_at, index.entries[s].location.data_size + 4);
    }
    const std::string copy = dump;
    cd::trim_request req;
    req.drop_memory = true;
    cd::trim_result r;
    std::string error;
    CHECK_FALSE(cd::dump_trim(&dump, req, &r, &error));
    CHECK(error.find("0xfff0") != std::string::npos);
    CHECK(dump == copy);
}

TEST_CASE("Windows' unloaded module list and handle data keep pointing at their names when bytes before them are cut", "[trim][windows]") {
    // Not written by wine (crashdrop asks for them; Windows writes them): appended here to the
    // wine dump, each holding its strings after its entries, so every RVA moves down when the
    // memory ranges before it are dropped.
    std::string dump;
    REQUIRE(read_all(CRASHDROP_WINE_DUMP, &dump));
    std::string error;
    // MINIDUMP_UNLOADED_MODULE_LIST: header 12, two 24-byte entries (name RVA at 20), names.
    {
        const std::uint64_t base = cd::dump_append_base(dump);
        std::string s(12 + 2 * 24, '\0');
        put32(&s, 0, 12);
        put32(&s, 4, 24);
        put32(&s, 8, 2);
        for (int i = 0; i < 2; ++i) {
            put32(&s, 12 + i * 24 + 20, static_cast<std::uint32_t>(base + s.size()));
            s += minidump_string(i == 0 ? "C:\\old\\gone.dll" : "C:\\old\\also.dll");
        }
        REQUIRE(cd::dump_append_stream(&dump, md::stream_unloaded_module_list, s, &error));
    }
    // MINIDUMP_HANDLE_DATA_STREAM: header 16, two MINIDUMP_HANDLE_DESCRIPTOR_2 (40 bytes: type
    // name at 8, object name at 12, object information at 32), the strings, then a chain of two
    // MINIDUMP_HANDLE_OBJECT_INFORMATION nodes (next RVA, type, size) that both handles share.
    {
        const std::uint64_t base = cd::dump_append_base(dump);
        std::string s(16 + 2 * 40, '\0');
        put32(&s, 0, 16);
        put32(&s, 4, 40);
        put32(&s, 8, 2);
        const std::uint32_t type_name = static_cast<std::uint32_t>(base + s.size());
        s += minidump_string("File");
        const std::uint32_t object_name = static_cast<std::uint32_t>(base + s.size());
        s += minidump_string("\\Device\\HarddiskVolume1\\save.dat");
        while (s.size() % 4 != 0) s.push_back('\0');
        const std::uint32_t info1 = static_cast<std::uint32_t>(base + s.size());
        s.append(12 + 4, '\0');
        const std::uint32_t info2 = static_cast<std::uint32_t>(base + s.size());
        s.append(12 + 4, '\0');
        put32(&s, info1 - base, info2);  // node 1 -> node 2 -> end
        put32(&s, info1 - base + 4, 1);
        put32(&s, info1 - base + 8, 16);
        put32(&s, info2 - base + 4, 2);
        put32(&s, info2 - base + 8, 16);
        for (int i = 0; i < 2; ++i) {
            put32(&s, 16 + i * 40 + 8, type_name);
            put32(&s, 16 + i * 40 + 12, object_name);
            put32(&s, 16 + i * 40 + 32, info1);
        }
        REQUIRE(cd::dump_append_stream(&dump, md::stream_handle_data, s, &error));
    }
    auto stream_of = [](const std::string& d, std::uint32_t type) {
        cd::dump_index index;
        REQUIRE(cd::dump_read_index(d, &index, nullptr));
        const md::directory* e = cd::dump_find_stream(index, type);
        REQUIRE(e != nullptr);
        return std::make_pair(std::uint64_t{e->location.rva}, d.substr(e->location.rva, e->location.data_size));
    };
    auto u32 = [](const std::string& s, std::uint64_t at) {
        std::uint32_t v = 0;
        std::memcpy(&v, s.data() + at, 4);
        return v;
    };
    // What each RVA names, read through the RVAs: the same before and after.
    auto named = [&](const std::string& d) {
        std::vector<std::string> out;
        const auto unloaded = stream_of(d, md::stream_unloaded_module_list);
        for (int i = 0; i < 2; ++i) out.push_back(minidump_string_at(d, u32(unloaded.second, 12 + i * 24 + 20)));
        const auto handles = stream_of(d, md::stream_handle_data);
        for (int i = 0; i < 2; ++i) {
            out.push_back(minidump_string_at(d, u32(handles.second, 16 + i * 40 + 8)));
            out.push_back(minidump_string_at(d, u32(handles.second, 16 + i * 40 + 12)));
            std::uint64_t node = u32(handles.second, 16 + i * 40 + 32);
            for (int hop = 0; hop < 3 && node != 0; ++hop) {  // the chain: each node's type
                out.push_back("info type " + std::to_string(u32(d, node + 4)));
                node = u32(d, node);
            }
        }
        return out;
    };
    const auto names = named(dump);
    REQUIRE(names.size() == 10);
    CHECK(names[0] == minidump_string("C:\\old\\gone.dll"));
    CHECK(names[3] == minidump_string("\\Device\\HarddiskVolume1\\save.dat"));
    CHECK(names[4] == "info type 1");
    CHECK(names[5] == "info type 2");
    cd::trim_request req;
    req.other_stack_max = 1024;
    req.drop_memory = true;
    cd::trim_result r;
    std::string trimmed = dump;
    const bool ok = cd::dump_trim(&trimmed, req, &r, &error);
    INFO(error);
    REQUIRE(ok);
    CHECK(r.bytes_removed > 100000);
    CHECK(named(trimmed) == names);
    const std::string out = k_work + "/wine-handles.dmp";
    REQUIRE(write_all(out, trimmed));
    CHECK(testsupport::stackwalk(out, k_work + "/no-symbols").run.exit_code() == 0);
}
