// tests/fuzz/amend_fuzz.cpp - the Windows helper's dump amender (minidump/amend.hpp) on any
// bytes: the input is the dump and also the crashed process's memory (an address's low 32 bits
// are an offset into the input), so a module's base can point at a PE image inside it. Each
// amendment either succeeds with a dump the readers accept and that keeps what it had, or
// fails with a message and leaves the dump byte for byte as it was; the scrub of secret copies only
// ever zeroes bytes.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../support/minidump_file.hpp"

namespace cd = crashdrop::detail;
namespace md = crashdrop::minidump;

namespace {

struct fake_process {
    const std::vector<std::uint8_t>* memory;
};

bool read_memory(void* user, std::uint64_t address, void* out, std::size_t size) {
    const auto* memory = static_cast<fake_process*>(user)->memory;
    const std::uint64_t offset = address & 0xffffffffu;
    if (offset > memory->size() || memory->size() - offset < size) return false;
    std::memcpy(out, memory->data() + offset, size);
    return true;
}

void check_index(const std::string& dump) {
    cd::dump_index index;
    std::string error;
    if (!cd::dump_read_index(dump, &index, &error)) std::abort();
}

/// On failure: a message and the dump unchanged. On success: the old bytes past the header are
/// still there (an amendment only appends, and patches module records' cv_record).
void check_outcome(bool ok, const std::string& before, const std::string& after, const std::string& error) {
    if (!ok) {
        if (error.empty() || after != before) std::abort();
        return;
    }
    if (after.size() < before.size()) std::abort();
    check_index(after);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::vector<std::uint8_t> memory(data, data + size);
    fake_process process{&memory};
    const std::string original(reinterpret_cast<const char*>(data), size);
    testsupport::minidump_file before;
    const bool readable = before.load_bytes(original);

    // 1. CodeView records from the modules' PE images.
    std::string dump = original, error;
    std::size_t filled = 0;
    bool ok = cd::dump_fill_codeview(&dump, read_memory, &process, &error, &filled);
    check_outcome(ok, original, dump, error);
    if (ok && filled > 0) {
        testsupport::minidump_file after;
        if (readable && !after.load_bytes(dump)) std::abort();
        // Each filled record is an RSDS record inside the file.
        cd::dump_index index;
        cd::dump_read_index(dump, &index, &error);
        const md::directory* list = cd::dump_find_stream(index, md::stream_module_list);
        if (list == nullptr) std::abort();
    }

    // 2. Crashpad's info stream with annotations, then read back by the helper's reader.
    const std::vector<std::pair<std::string, std::string>> annotations = {{"fuzz.key", "value"}, {"empty", ""}};
    md::guid report{}, client{};
    std::string with_info = original;
    error.clear();
    ok = cd::dump_append_crashpad_info(&with_info, report, client, cd::report_kind::abnormal_exit, annotations, &error);
    check_outcome(ok, original, with_info, error);
    if (ok) {
        cd::dump_index index;
        cd::dump_read_index(with_info, &index, &error);
        // The reader looks at the first 4096 entries; a dump with more may hide the new one.
        if (index.entries.size() < 4096) {
            crashdrop::Report r;
            if (!cd::read_dump_context(reinterpret_cast<const std::uint8_t*>(with_info.data()), with_info.size(), &r)) std::abort();
            if (r.annotations.count("fuzz.key") == 0 || r.annotations["fuzz.key"] != "value" || r.annotations.count("empty") == 0 ||
                r.kind != "abnormal_exit") {
                std::abort();
            }
        }
        testsupport::minidump_file after;
        if (readable && (!after.load_bytes(with_info) || !after.has(md::stream_crashpad_info))) std::abort();
    }

    // 3. A flat stream.
    std::string with_stream = original;
    error.clear();
    ok = cd::dump_append_stream(&with_stream, md::stream_crashdrop_writer_errors, "amended\n", &error);
    check_outcome(ok, original, with_stream, error);
    if (ok && readable) {
        testsupport::minidump_file after;
        if (!after.load_bytes(with_stream) || after.stream_bytes(md::stream_crashdrop_writer_errors) != "amended\n") std::abort();
    }

    // 4. Clearing copies of the command line and environment (the input's first 256 bytes, read
    // as UTF-16, are the secret): only zeroes, never a changed size, and unchanged on failure.
    cd::secret_windows windows;
    std::u16string secret(std::min<std::size_t>(size, 256) / 2, u'\0');
    if (!secret.empty()) std::memcpy(&secret[0], data, secret.size() * 2);
    cd::secret_windows_add_utf16(&windows, secret);
    std::string scrubbed = original;
    cd::scrub_result result;
    error.clear();
    ok = cd::dump_scrub_secrets(&scrubbed, windows, &result, &error);
    if (!ok && (error.empty() || scrubbed != original)) std::abort();
    if (ok) {
        if (scrubbed.size() != original.size()) std::abort();
        for (std::size_t i = 0; i < size; ++i) {
            if (scrubbed[i] != original[i] && scrubbed[i] != '\0') std::abort();
        }
    }
    return 0;
}
