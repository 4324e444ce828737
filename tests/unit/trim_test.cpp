// The dump trimmer (minidump/trim.hpp) that makes a report fit the upload budget: on the real
// Linux dumps in ../shared/testdata/minidumps each step (other stacks cut, memory around
// registers dropped, the crashing stack cut) gives a smaller file that minidump_stackwalk still
// reads with the crashing thread's frames; damaged input is refused and left unchanged; the
// writer-errors line is added to an existing stream or as a new one.
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
