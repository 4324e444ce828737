// tests/fuzz/dump_reader_fuzz.cpp - the library's own minidump reader (minidump/reader.hpp),
// which the helper runs on a dump it finds in pending/ without metadata: whatever the bytes,
// read_dump_context returns a context or false, never a crash or a read outside the input; the
// context it returns survives the metadata file (encode_report/decode_report).
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace cd = crashdrop::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // An exact-size copy: ASan then notices any read past the end of the dump.
    std::vector<std::uint8_t> dump(data, data + size);
    crashdrop::Report r;
    if (!cd::read_dump_context(dump.data(), dump.size(), &r)) {
        if (!r.annotations.empty() || !r.tags.empty() || !r.breadcrumbs.empty()) std::abort();  // refused means nothing read
        return 0;
    }
    // The helper writes what it read into the report's metadata file; it must read back the same.
    r.id = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    r.created = 1700000000;
    crashdrop::Report back;
    std::string error;
    if (!cd::decode_report(cd::encode_report(r), &back, &error)) std::abort();
    if (back.annotations != r.annotations || back.tags != r.tags || back.attachments != r.attachments ||
        back.breadcrumbs.size() != r.breadcrumbs.size() || back.user.id != r.user.id || back.user.email != r.user.email) {
        std::abort();
    }
    return 0;
}
