// tests/fuzz/trim_fuzz.cpp - the upload budget's dump trimmer (minidump/trim.hpp) on any bytes.
// Each trim (other stacks cut, memory dropped, the crashing stack cut; all three at once) either
// succeeds with a dump whose header and directory read back and that is exactly the removed bytes
// shorter, or fails with a message and leaves the dump byte for byte as it was. Adding the
// writer-errors note behaves the same way.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace cd = crashdrop::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string original(reinterpret_cast<const char*>(data), size);
    cd::trim_request requests[4];
    requests[0].other_stack_max = 1024;
    requests[1].drop_memory = true;
    requests[2].crashed_stack_max = 16;
    requests[3] = requests[0];
    requests[3].drop_memory = true;
    requests[3].crashed_stack_max = 0;
    for (const cd::trim_request& req : requests) {
        std::string dump = original;
        cd::trim_result r;
        std::string error;
        if (!cd::dump_trim(&dump, req, &r, &error)) {
            if (error.empty() || dump != original) std::abort();
            continue;
        }
        if (dump.size() + r.bytes_removed != original.size()) std::abort();
        cd::dump_index index;
        if (!cd::dump_read_index(dump, &index, &error)) std::abort();
        // A trimmed dump trims again without complaint.
        std::string again = dump;
        if (!cd::dump_trim(&again, req, &r, &error)) std::abort();
    }
    std::string dump = original;
    std::string error;
    if (!cd::dump_add_writer_error(&dump, "upload budget: note\n", &error)) {
        if (error.empty() || dump != original) std::abort();
    } else {
        cd::dump_index index;
        if (!cd::dump_read_index(dump, &index, &error)) std::abort();
    }
    return 0;
}
