// tests/fuzz/minidump_file_fuzz.cpp - the tests' own minidump reader (tests/support/
// minidump_file.hpp), which every crash test runs on the dumps under test: a damaged dump must
// fail the test with a message, never crash or hang the test runner. Every accessor is called
// on whatever load_bytes accepted.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

#include "../support/minidump_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    testsupport::minidump_file f;
    if (!f.load_bytes(std::string(reinterpret_cast<const char*>(data), size))) return 0;
    if (!f.valid) std::abort();
    for (const auto type : f.stream_order) {
        if (!f.has(type) || f.stream_bytes(type).size() != f.streams[type].second) std::abort();
    }
    const auto ids = f.thread_ids();
    for (std::uint32_t i = 0; i < ids.size(); ++i) {
        std::uint64_t start = 0, ip = 0, sp = 0;
        std::uint32_t stack_size = 0, context_size = 0, flags = 0;
        f.thread_stack(i, &start, &stack_size);
        f.thread_ip_sp(i, &ip, &sp);
        f.thread_context(i, &context_size, &flags);
    }
    (void)f.exception_thread();
    (void)f.exception_code();
    (void)f.architecture();
    (void)f.memory_covers(0x7ffc0000f000u);
    (void)f.memory_ranges_disjoint();
    (void)f.dso_names();
    (void)f.modules();
    return 0;
}
