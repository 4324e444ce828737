// The implementation TU of the unit-test binary, and tests of crashdrop's internals that only
// this TU can see: text and UTF-16 encoding, the dump image, memory ranges, /proc/self/maps
// parsing, report ids, stack budgeting, the fault-free memory reader and build-id reading.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <catch2/catch.hpp>

#include <sys/mman.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace sg = crashdrop::sigsafe;

namespace {

std::string to_text(void (*fill)(sg::text*)) {
    char buf[128];
    sg::text t;
    t.reset(buf, sizeof(buf));
    fill(&t);
    return std::string(t.data, t.size);
}

std::u16string utf16(const std::string& s) {
    std::vector<std::uint16_t> out(sg::utf16_length(s.data(), s.size()) + 1);
    sg::utf8_to_utf16(s.data(), s.size(), out.data());
    return std::u16string(out.begin(), out.end() - 1);
}

/// A state with just what the ELF readers need: scratch memory, the page size, a reader.
struct elf_reader_state {
    std::unique_ptr<sg::linux_state> g = std::make_unique<sg::linux_state>();
    std::vector<std::uint8_t> scratch = std::vector<std::uint8_t>(sg::k_scratch_capacity);
    elf_reader_state() {
        g->scratch = scratch.data();
        g->page_size = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
        g->reader = sg::memory_reader{getpid(), -1, -1, 0};
    }
};

}  // namespace

TEST_CASE("numbers format as decimal and hex without libc", "[internals]") {
    CHECK(to_text([](sg::text* t) { sg::text_append_dec(t, 0); }) == "0");
    CHECK(to_text([](sg::text* t) { sg::text_append_dec(t, 18446744073709551615ull); }) == "18446744073709551615");
    CHECK(to_text([](sg::text* t) { sg::text_append_sdec(t, -9223372036854775807LL - 1); }) == "-9223372036854775808");
    CHECK(to_text([](sg::text* t) { sg::text_append_hex(t, 0xbeef, 8, true); }) == "0x0000beef");
    CHECK(to_text([](sg::text* t) { sg::text_append_hex(t, 0, 0, false); }) == "0");
}

TEST_CASE("text truncates at its capacity and stays terminated", "[internals]") {
    char buf[6];
    sg::text t;
    t.reset(buf, sizeof(buf));
    sg::text_append(&t, "hello world");
    CHECK(std::string(buf) == "hello");
    CHECK(t.size == 5);
}

TEST_CASE("UTF-8 becomes UTF-16 with surrogates; malformed bytes become U+FFFD", "[internals]") {
    CHECK(utf16("abc") == u"abc");
    CHECK(utf16("caf\xc3\xa9") == u"caf\u00e9");
    CHECK(utf16("\xf0\x9f\x98\x80") == u"\U0001F600");
    CHECK(utf16("a\xffz") == u"a\ufffdz");
    CHECK(utf16("\xe2\x82") == u"\ufffd\ufffd");  // truncated sequence
}

TEST_CASE("the image allocates aligned, zeroed space and refuses what does not fit", "[internals]") {
    std::vector<std::uint8_t> mem(4096, 0xab);
    sg::image im;
    sg::image_begin(&im, mem.data(), mem.size(), 4);
    CHECK(im.size == 32 + 4 * 12);
    auto* h = sg::image_at<crashdrop::minidump::header>(&im, 0);
    CHECK(h->signature == 0x504d444du);
    CHECK(h->version == 0xa793u);
    const std::uint32_t a = sg::image_alloc(&im, 3, 1);
    const std::uint32_t b = sg::image_alloc(&im, 8, 16);
    CHECK(a == 80);
    CHECK(b % 16 == 0);
    CHECK(mem[b] == 0);
    CHECK(sg::image_alloc(&im, 8192, 8) == 0);
    for (int i = 0; i < 4; ++i) CHECK(sg::image_add_stream(&im, 100u + static_cast<unsigned>(i), a, 3));
    CHECK_FALSE(sg::image_add_stream(&im, 200, a, 3));  // directory full
    CHECK(h->stream_count == 4);
    const std::uint32_t s = sg::image_add_string(&im, "h\xc3\xa9", 3);
    std::uint32_t len;
    std::memcpy(&len, mem.data() + s, 4);
    CHECK(len == 4);  // two UTF-16 units, terminator not counted
    CHECK(mem[s + 4] == 'h');
    CHECK(mem[s + 6] == 0xe9);
    CHECK(mem[s + 8] == 0);
    CHECK(mem[s + 9] == 0);
}

TEST_CASE("memory ranges are clipped so the MemoryList never overlaps", "[internals]") {
    sg::memory_range items[8];
    sg::range_list rl{items, 0, 8};
    REQUIRE(sg::range_add(&rl, 1000, 100, 1));  // [1000, 1100)
    REQUIRE(sg::range_add(&rl, 1500, 100, 2));  // [1500, 1600)
    std::uint64_t lo = 900, hi = 1700;
    CHECK(sg::range_clip_around(&rl, 1300, &lo, &hi));
    CHECK(lo == 1100);
    CHECK(hi == 1500);
    lo = 1000;
    hi = 1200;
    CHECK_FALSE(sg::range_clip_around(&rl, 1050, &lo, &hi));  // pivot already captured
    CHECK(sg::range_is_free(&rl, 1100, 1500));
    CHECK_FALSE(sg::range_is_free(&rl, 1099, 1101));
}

TEST_CASE("/proc/self/maps lines parse into the mapping table", "[internals]") {
    auto g = std::make_unique<sg::linux_state>();
    sg::mapping table[4];
    g->maps = table;
    g->map_capacity = 3;
    const std::string maps =
        "55d0c1a00000-55d0c1a02000 r--p 00000000 08:01 1234567                    /usr/bin/my app\n"
        "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
        "7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0                          [stack]\n"
        "7ffd1d000000-7ffd1d002000 r-xp 00000000 00:00 0                          [vdso]\n";
    const std::uint32_t dropped = sg::parse_maps(g.get(), maps.data(), maps.size());
    g->maps_text = maps.data();
    CHECK(dropped == 1);
    REQUIRE(g->map_count == 3);
    CHECK(table[0].start == 0x55d0c1a00000ull);
    CHECK(table[0].end == 0x55d0c1a02000ull);
    CHECK(table[0].perms == sg::perm_read + sg::perm_private);
    CHECK(table[0].inode == 1234567);
    CHECK(table[0].dev == ((8u << 20) | 1u));
    CHECK(std::string(sg::mapping_path(g.get(), &table[0]), table[0].path_length) == "/usr/bin/my app");
    CHECK(table[1].path_length == 0);
    CHECK(sg::find_mapping(g.get(), 0x7ffd1c000010ull) == &table[2]);
    CHECK(sg::find_mapping(g.get(), 0x7ffd1c021000ull) == nullptr);
    CHECK(sg::find_readable_above(g.get(), 0x7ffd1bfff000ull, 1 << 20) == &table[2]);
}

TEST_CASE("report ids are random version-4 UUIDs in 8-4-4-4-12 form", "[internals]") {
    crashdrop::minidump::guid a, b;
    sg::new_report_id(&a);
    sg::new_report_id(&b);
    char buf[64];
    sg::text t;
    t.reset(buf, sizeof(buf));
    sg::format_report_id(&a, &t);
    const std::string s(buf);
    REQUIRE(s.size() == 36);
    CHECK(s[8] == '-');
    CHECK(s[13] == '-');
    CHECK(s[14] == '4');
    CHECK(std::string("89ab").find(s[19]) != std::string::npos);
    CHECK(std::memcmp(&a, &b, sizeof(a)) != 0);
}

TEST_CASE("stacks are trimmed evenly to the budget, the crashed thread keeping up to half", "[internals]") {
    auto g = std::make_unique<sg::linux_state>();
    sg::thread_slot slots[4];
    g->threads = slots;
    g->thread_count = 4;
    for (auto& t : slots) {
        t.flags = 0;
        t.stack_lo = 0x10000;
    }
    slots[0].flags = sg::tf_crashed;
    slots[0].stack_hi = slots[0].stack_lo + 100000;
    slots[1].stack_hi = slots[1].stack_lo + 10000;
    slots[2].stack_hi = slots[2].stack_lo + 50000;
    slots[3].stack_hi = slots[3].stack_lo + 60000;
    char buf[512];
    sg::text errors;
    errors.reset(buf, sizeof(buf));
    sg::fit_stacks(g.get(), 300000, &errors);  // everything fits: nothing changes
    CHECK(slots[3].stack_hi - slots[3].stack_lo == 60000);
    CHECK(errors.size == 0);
    sg::fit_stacks(g.get(), 100000, &errors);
    CHECK(slots[0].stack_hi - slots[0].stack_lo == 50000);  // half of the budget
    CHECK(slots[1].stack_hi - slots[1].stack_lo == 10000);  // small stacks stay whole
    const auto c2 = slots[2].stack_hi - slots[2].stack_lo;
    const auto c3 = slots[3].stack_hi - slots[3].stack_lo;
    CHECK(c2 == c3);
    CHECK(10000 + c2 + c3 <= 50000);
    CHECK(c2 >= 19000);
    CHECK(std::string(buf).find("2 thread stacks trimmed") != std::string::npos);
}

TEST_CASE("the memory reader reports unmapped memory instead of faulting, in both modes", "[internals]") {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    for (int use_pipe : {0, 1}) {
        INFO("pipe mode " << use_pipe);
        sg::memory_reader r{getpid(), fds[0], fds[1], use_pipe};
        std::uint64_t value = 0x1122334455667788ull, out = 0;
        CHECK(sg::read_memory(&r, &out, reinterpret_cast<std::uint64_t>(&value), 8) == 8);
        CHECK(out == value);
        const long page = sysconf(_SC_PAGESIZE);
        auto* two = static_cast<char*>(mmap(nullptr, 2 * static_cast<size_t>(page), PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        REQUIRE(two != MAP_FAILED);
        munmap(two + page, static_cast<size_t>(page));
        std::vector<char> buf(static_cast<size_t>(page) * 2);
        // Starts readable, runs into the hole: a short read, no SIGSEGV.
        const long got = sg::read_memory(&r, buf.data(), reinterpret_cast<std::uint64_t>(two + page - 16), 64);
        CHECK(got == 16);
        CHECK(sg::read_memory(&r, buf.data(), reinterpret_cast<std::uint64_t>(two + page), 64) < 0);
        munmap(two, static_cast<size_t>(page));
    }
    close(fds[0]);
    close(fds[1]);
}

TEST_CASE("the build id is read from this executable's notes in memory", "[internals]") {
    elf_reader_state st;
    sg::linux_state* g = st.g.get();
    // The executable's base: the first mapping of /proc/self/exe.
    std::uint64_t base = 0;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* out) {
            auto* b = static_cast<std::uint64_t*>(out);
            if (*b == 0) {
                for (int i = 0; i < info->dlpi_phnum; ++i) {
                    if (info->dlpi_phdr[i].p_type == PT_LOAD && info->dlpi_phdr[i].p_offset == 0) {
                        *b = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
                        break;
                    }
                }
            }
            return 1;
        },
        &base);
    REQUIRE(base != 0);
    sg::elf_identity id;
    char soname[256];
    REQUIRE(sg::read_elf_identity(g, base, &id, soname, sizeof(soname)));
    CHECK(std::string(soname).empty());  // executables have no DT_SONAME
    std::string hex;
    char b[3];
    for (std::uint32_t i = 0; i < id.length; ++i) {
        std::snprintf(b, sizeof(b), "%02x", id.bytes[i]);
        hex += b;
    }
    // The same id as the toolchain's own reader prints for the file.
    const std::string command = "readelf -n /proc/" + std::to_string(getpid()) +
                                "/exe 2>/dev/null | grep 'Build ID' | awk '{print $3}'";
    FILE* p = popen(command.c_str(), "r");
    REQUIRE(p != nullptr);
    char line[256] = {0};
    const bool got_line = std::fgets(line, sizeof(line), p) != nullptr;
    pclose(p);
    if (!got_line) {
        WARN("readelf not available; checked only that an id was found");
        CHECK(id.length > 0);
        return;
    }
    std::string expected(line);
    while (!expected.empty() && (expected.back() == '\n' || expected.back() == ' ')) expected.pop_back();
    CHECK(hex == expected);
}

TEST_CASE("a shared library's DT_SONAME is read from memory", "[internals]") {
    elf_reader_state st;
    sg::linux_state* g = st.g.get();
    struct found {
        std::uint64_t base = 0;
        std::string name;
    } libc;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* out) {
            auto* f = static_cast<found*>(out);
            const std::string name = info->dlpi_name ? info->dlpi_name : "";
            if (f->base == 0 && name.find("/libc.so") != std::string::npos) {
                for (int i = 0; i < info->dlpi_phnum; ++i) {
                    if (info->dlpi_phdr[i].p_type == PT_LOAD && info->dlpi_phdr[i].p_offset == 0) {
                        f->base = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
                        f->name = name;
                    }
                }
            }
            return 0;
        },
        &libc);
    REQUIRE(libc.base != 0);
    sg::elf_identity id;
    char soname[256];
    REQUIRE(sg::read_elf_identity(g, libc.base, &id, soname, sizeof(soname)));
    CHECK(std::string(soname) == "libc.so.6");
    CHECK(id.length > 0);
}
