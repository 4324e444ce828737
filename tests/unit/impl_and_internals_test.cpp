// The implementation TU of the unit-test binary, and tests of crashdrop's internals that only
// this TU can see: text and UTF-16 encoding, the dump image, memory ranges, /proc/self/maps
// parsing, report ids, stack budgeting, the fault-free memory reader and build-id reading.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <catch2/catch.hpp>

#include "../support/json.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
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

TEST_CASE("UTF-8 becomes UTF-16 with surrogates - malformed bytes become U+FFFD", "[internals]") {
    CHECK(utf16("abc") == u"abc");
    CHECK(utf16("caf\xc3\xa9") == u"caf\u00e9");
    CHECK(utf16("\xf0\x9f\x98\x80") == u"\U0001F600");
    CHECK(utf16("a\xffz") == u"a\ufffdz");
    CHECK(utf16("\xe2\x82") == u"\ufffd\ufffd");  // truncated sequence
}

TEST_CASE("the image allocates aligned zeroed space and refuses what does not fit", "[internals]") {
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

TEST_CASE("stacks are trimmed evenly to the budget - the crashed thread keeping up to half", "[internals]") {
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

TEST_CASE("the memory reader reports unmapped memory instead of faulting - in both modes", "[internals]") {
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

// ---- only_this_module: return addresses told apart from other words into our code ----------

namespace {

/// Does a call end at the end of `code` (7 bytes at most), with nops before it?
bool x86_call_at_end(std::vector<std::uint8_t> code) {
    while (code.size() < sg::k_x86_call_max) code.insert(code.begin(), 0x90);
    return sg::x86_call_ends_at(code.data(), code.size());
}

__attribute__((noinline)) void* return_address_of_this_call() {
    void* ra = __builtin_return_address(0);
    __asm__ volatile("" : : "r"(ra) : "memory");
    return ra;
}

__attribute__((noinline)) int a_plain_function(int x) {
    __asm__ volatile("" : "+r"(x));
    return x + 1;
}

}  // namespace

TEST_CASE("x86-64 call instructions are recognised before a return address - other FF forms are not", "[internals]") {
    // Encodings as GNU as writes them (objdump -d of the assembled instruction).
    CHECK(x86_call_at_end({0xe8, 0x3e, 0x00, 0x00, 0x00}));                    // call rel32
    CHECK(x86_call_at_end({0xff, 0xd0}));                                      // call *%rax
    CHECK(x86_call_at_end({0x41, 0xff, 0xd3}));                                // call *%r11
    CHECK(x86_call_at_end({0xff, 0x10}));                                      // call *(%rax)
    CHECK(x86_call_at_end({0xff, 0x50, 0x10}));                                // call *0x10(%rax)
    CHECK(x86_call_at_end({0xff, 0x90, 0x00, 0x10, 0x00, 0x00}));              // call *0x1000(%rax)
    CHECK(x86_call_at_end({0xff, 0x14, 0x24}));                                // call *(%rsp)
    CHECK(x86_call_at_end({0xff, 0x54, 0x24, 0x08}));                          // call *0x8(%rsp)
    CHECK(x86_call_at_end({0xff, 0x94, 0x24, 0x00, 0x01, 0x00, 0x00}));        // call *0x100(%rsp)
    CHECK(x86_call_at_end({0xff, 0x15, 0x10, 0x00, 0x00, 0x00}));              // call *0x10(%rip)
    CHECK(x86_call_at_end({0xff, 0x14, 0xc5, 0x00, 0x10, 0x00, 0x00}));        // call *0x1000(,%rax,8)
    CHECK(x86_call_at_end({0x3e, 0xff, 0xd0}));                                // notrack call *%rax
    CHECK_FALSE(x86_call_at_end({0xff, 0xe0}));                                // jmp *%rax
    CHECK_FALSE(x86_call_at_end({0xff, 0x25, 0x10, 0x00, 0x00, 0x00}));        // jmp *0x10(%rip)
    CHECK_FALSE(x86_call_at_end({0xff, 0x70, 0x10}));                          // push 0x10(%rax)
    CHECK_FALSE(x86_call_at_end({0xff, 0xc0}));                                // inc %eax
    CHECK_FALSE(x86_call_at_end({0xff, 0x18}));                                // lcall *(%rax)
    CHECK_FALSE(x86_call_at_end({0xc3}));                                      // ret
    CHECK_FALSE(x86_call_at_end({0x90}));                                      // nop
    // The right opcode with the wrong length: the ModRM says 3 bytes, 2 are there.
    CHECK_FALSE(x86_call_at_end({0xff, 0x50}));                                // call *disp8(%rax), cut short
    CHECK_FALSE(x86_call_at_end({0xff, 0x14, 0xc5, 0x00}));                    // SIB + disp32, cut short
    // Fewer bytes readable before the return address (an unreadable page before it).
    const std::uint8_t two[] = {0xff, 0xd0};
    CHECK(sg::x86_call_ends_at(two, 2));
    const std::uint8_t short_rel[] = {0x00, 0x00, 0x00, 0x00};
    CHECK_FALSE(sg::x86_call_ends_at(short_rel, 4));
}

TEST_CASE("aarch64 BL and BLR and the BLRA forms are calls - branches and returns are not", "[internals]") {
    // Encodings as aarch64-linux-gnu-as writes them (.arch armv8.3-a).
    CHECK(sg::a64_is_call(0x9400000du));   // bl
    CHECK(sg::a64_is_call(0x97ffffffu));   // bl (backwards)
    CHECK(sg::a64_is_call(0xd63f0100u));   // blr x8
    CHECK(sg::a64_is_call(0xd63f03c0u));   // blr x30
    CHECK(sg::a64_is_call(0xd63f091fu));   // blraaz x8
    CHECK(sg::a64_is_call(0xd63f0c7fu));   // blrabz x3
    CHECK(sg::a64_is_call(0xd73f0822u));   // blraa x1, x2
    CHECK(sg::a64_is_call(0xd73f0c3fu));   // blrab x1, sp
    CHECK_FALSE(sg::a64_is_call(0xd61f0200u));  // br x16
    CHECK_FALSE(sg::a64_is_call(0xd61f0a1fu));  // braaz x16
    CHECK_FALSE(sg::a64_is_call(0xd65f03c0u));  // ret
    CHECK_FALSE(sg::a64_is_call(0xd65f0bffu));  // retaa
    CHECK_FALSE(sg::a64_is_call(0x14000002u));  // b
    CHECK_FALSE(sg::a64_is_call(0xd503201fu));  // nop
}

TEST_CASE("this executable's .eh_frame_hdr table names its function starts - a real return address is strong, a function pointer is not",
          "[internals]") {
    elf_reader_state st;
    sg::linux_state* g = st.g.get();
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* out) {
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME) {
                    crashdrop::detail::read_own_function_table(static_cast<sg::own_function_table*>(out),
                                                               info->dlpi_addr + info->dlpi_phdr[i].p_vaddr,
                                                               info->dlpi_phdr[i].p_memsz);
                }
            }
            return 1;  // the executable only
        },
        &g->own_functions);
    REQUIRE(g->own_functions.count > 100);
    const auto plain = reinterpret_cast<std::uint64_t>(&a_plain_function);
    CHECK(sg::is_own_function_start(g, plain));
    CHECK(sg::is_own_function_start(g, reinterpret_cast<std::uint64_t>(&return_address_of_this_call)));
    CHECK_FALSE(sg::is_own_function_start(g, plain + 1));
    const auto ra = reinterpret_cast<std::uint64_t>(return_address_of_this_call());
    CHECK(sg::classify_return_address(g, ra) == sg::ra_strong);
    CHECK_FALSE(sg::is_own_function_start(g, ra));
    CHECK(sg::classify_return_address(g, plain) != sg::ra_strong);
    CHECK(a_plain_function(1) == 2);
}

// ---- the CFI walk of only_this_module (cfi_unwind_linux.hpp) ----

namespace {

/// Every loaded module, as start() records them.
void record_all_modules(sg::linux_state* g) {
    g->cfi_module_count = 0;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* out) {
            crashdrop::detail::record_cfi_module(static_cast<sg::linux_state*>(out), info);
            return 0;
        },
        g);
}

struct walk_result {
    std::vector<std::uint64_t> pcs;  // the callers' pcs, in order
    int end = -1;                    // how the walk ended
};

walk_result walk_from(sg::linux_state* g, const ucontext_t* uc) {
    walk_result out;
    sg::cfi_frame f;
    sg::cfi_frame_from(&f, uc);
    for (std::uint32_t i = 0; i < sg::k_cfi_max_frames; ++i) {
        const sg::cfi_step_result r = sg::cfi_step(g, &f);
        if (r != sg::cs_ok) {
            out.end = r;
            return out;
        }
        out.pcs.push_back(f.pc);
    }
    return out;
}

std::uint64_t g_chain_ra[3];
ucontext_t g_chain_context;
sg::linux_state* g_walk_state;
walk_result g_signal_walk;

__attribute__((noinline)) void chain_c(bool by_signal) {
    g_chain_ra[2] = reinterpret_cast<std::uint64_t>(__builtin_return_address(0));
    if (by_signal) {
        raise(SIGUSR2);
    } else {
        getcontext(&g_chain_context);
        // Walk while this frame is live: the context's stack is this one.
        g_signal_walk = walk_from(g_walk_state, &g_chain_context);
    }
    __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) void chain_b(bool by_signal) {
    g_chain_ra[1] = reinterpret_cast<std::uint64_t>(__builtin_return_address(0));
    volatile char pad[64];
    pad[0] = 1;
    chain_c(by_signal);
    __asm__ volatile("" ::: "memory");
    (void)pad[0];
}
__attribute__((noinline)) void chain_a(bool by_signal) {
    g_chain_ra[0] = reinterpret_cast<std::uint64_t>(__builtin_return_address(0));
    chain_b(by_signal);
    __asm__ volatile("" ::: "memory");
}

void walking_handler(int, siginfo_t*, void* uc) { g_signal_walk = walk_from(g_walk_state, static_cast<const ucontext_t*>(uc)); }

/// Does the walk pass, in order, through chain_c's, chain_b's and chain_a's return addresses?
bool passes_through_chain(const walk_result& w) {
    std::size_t at = 0;
    for (std::size_t want = 3; want-- > 0;) {
        while (at < w.pcs.size() && w.pcs[at] != g_chain_ra[want]) ++at;
        if (at == w.pcs.size()) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("the CFI walk follows this test's real call chain to its outermost frame: from getcontext and from a signal's context",
          "[internals]") {
    elf_reader_state st;
    sg::linux_state* g = st.g.get();
    g_walk_state = g;
    record_all_modules(g);
    REQUIRE(g->cfi_module_count > 2);

    SECTION("from getcontext: the first callers are exactly chain_b's, chain_a's and the test's return addresses") {
        g_signal_walk = walk_result{};
        chain_a(false);
        const walk_result& w = g_signal_walk;
        REQUIRE(w.pcs.size() >= 3);
        CHECK(w.pcs[0] == g_chain_ra[2]);
        CHECK(w.pcs[1] == g_chain_ra[1]);
        CHECK(w.pcs[2] == g_chain_ra[0]);
        CHECK(w.end == sg::cs_end);  // main() and _start: the outermost frame says so by its CFI
    }
    SECTION("from a signal raised inside the chain: through libc's raise, the chain, to the end") {
        struct sigaction sa {}, old {};
        sa.sa_sigaction = walking_handler;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        REQUIRE(sigaction(SIGUSR2, &sa, &old) == 0);
        g_signal_walk = walk_result{};
        chain_a(true);
        sigaction(SIGUSR2, &old, nullptr);
        CHECK(passes_through_chain(g_signal_walk));
        CHECK(g_signal_walk.end == sg::cs_end);
    }
    SECTION("code the walk knows nothing about stops it, it does not guess") {
        ucontext_t uc;
        getcontext(&uc);
        g->cfi_module_count = 0;  // no module recorded: every pc is unknown
        const walk_result w = walk_from(g, &uc);
        CHECK(w.pcs.empty());
        CHECK(w.end == sg::cs_stopped);
    }
}

// ---- the helper's building blocks: metadata, URLs, HTTP framing, replies, multipart ----

namespace cd = crashdrop::detail;

TEST_CASE("report metadata round-trips - escapes what must be and refuses garbage", "[internals][database]") {
    crashdrop::Report r;
    r.id = "0123abcd-0000-4000-8000-0123456789ab";
    r.created = 1700000000;
    r.product = "Game";
    r.version = "1.0";
    r.state = crashdrop::ReportState::rejected;
    r.attempts = 3;
    r.last_attempt = 1700000100;
    r.server_id = "srv=1";
    r.last_error = "line1\nline2 100%";
    r.annotations["key with = sign"] = "value\r\nwith\ttabs";
    const std::string text = cd::encode_report(r);
    CHECK(text.find("line1\nline2") == std::string::npos);  // one line per key
    crashdrop::Report back;
    std::string error;
    REQUIRE(cd::decode_report(text, &back, &error));
    CHECK(back.id == r.id);
    CHECK(back.created == r.created);
    CHECK(back.state == crashdrop::ReportState::rejected);
    CHECK(back.attempts == 3);
    CHECK(back.server_id == "srv=1");
    CHECK(back.last_error == r.last_error);
    CHECK(back.annotations == r.annotations);
    CHECK_FALSE(cd::decode_report("", &back, &error));
    CHECK(error == "no valid report id");
    CHECK_FALSE(cd::decode_report("id=../../etc/passwd\ncreated=1\n", &back, &error));
    CHECK_FALSE(cd::decode_report("id=0123abcd-0000-4000-8000-0123456789ab\ncreated=yesterday\n", &back, &error));
    CHECK(error == "no valid creation time");
    std::string binary(4096, '\0');
    for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 7);
    CHECK_FALSE(cd::decode_report(binary, &back, &error));  // no crash on noise
}

TEST_CASE("a report's kind round-trips through its metadata - metadata without one reads as crash", "[internals][database][kind]") {
    CHECK(std::string(cd::report_kind_name(cd::report_kind::crash)) == "crash");
    CHECK(std::string(cd::report_kind_name(cd::report_kind::requested)) == "requested");
    CHECK(std::string(cd::report_kind_name(cd::report_kind::hang)) == "hang");
    CHECK(std::string(cd::report_kind_name(cd::report_kind::abnormal_exit)) == "abnormal_exit");
    crashdrop::Report r;
    CHECK(r.kind == "crash");
    r.id = "0123abcd-0000-4000-8000-0123456789ab";
    r.created = 1700000000;
    r.kind = "requested";
    const std::string text = cd::encode_report(r);
    CHECK(text.find("\nkind=requested\n") != std::string::npos);
    crashdrop::Report back;
    std::string error;
    REQUIRE(cd::decode_report(text, &back, &error));
    CHECK(back.kind == "requested");
    // Written by an older crashdrop: no kind line.
    back.kind = "junk";
    REQUIRE(cd::decode_report("id=0123abcd-0000-4000-8000-0123456789ab\ncreated=1\nstate=pending\n", &back, &error));
    CHECK(back.kind == "crash");
}

TEST_CASE("crash_kind is sent in every format: a field in the plain ones - a tag in Sentry's event", "[internals][transport][kind]") {
    crashdrop::Upload up;
    up.report.id = "0123abcd-0000-4000-8000-0123456789ab";
    up.report.product = "P";
    up.report.kind = "requested";
    up.report.annotations["crash_kind"] = "spoofed";  // the report's own kind wins
    for (const auto format : {crashdrop::UploadFormat::crashpad, crashdrop::UploadFormat::socorro}) {
        const std::string body = cd::multipart_body(cd::report_parts(up, format), "B");
        CHECK(body.find("name=\"crash_kind\"\r\n\r\nrequested\r\n") != std::string::npos);
        CHECK(body.find("spoofed") == std::string::npos);
    }
    const std::string event = cd::sentry_event_json(up.report);
    const std::size_t tags = event.find("\"tags\":{");
    REQUIRE(tags != std::string::npos);
    CHECK(event.find("\"crash_kind\":\"requested\"", tags) < event.find('}', tags));
}

TEST_CASE("the crash path names a dump's kind as report_kind_name does: crash for a crash - requested for write_dump() - hang for a hang dump", "[internals][kind]") {
    sg::dump_request crash{};
    crash.is_crash = true;
    sg::dump_request requested{};
    requested.is_crash = false;
    CHECK(std::string(sg::dump_kind_name(&crash)) == cd::report_kind_name(cd::report_kind::crash));
    CHECK(std::string(sg::dump_kind_name(&requested)) == cd::report_kind_name(cd::report_kind::requested));
    sg::dump_request hang{};  // the watchdog's dump for the helper's hang request
    hang.is_crash = false;
    hang.hang_tid = 7;
    CHECK(std::string(sg::dump_kind_name(&hang)) == cd::report_kind_name(cd::report_kind::hang));
    cd::report_kind k = cd::report_kind::hang;
    CHECK(cd::report_kind_from_name("requested", &k));
    CHECK(k == cd::report_kind::requested);
    CHECK_FALSE(cd::report_kind_from_name("spoofed", &k));
}

TEST_CASE("Sentry files each kind on its own: level fatal/error/fatal/info - a fingerprint keeps non-crashes out of crash issues", "[internals][transport][kind]") {
    struct kind_case {
        const char* kind;
        const char* level;
        bool fingerprint;
    };
    for (const kind_case c : {kind_case{"crash", "fatal", false}, kind_case{"hang", "error", true},
                              kind_case{"abnormal_exit", "fatal", true}, kind_case{"requested", "info", true},
                              kind_case{"", "fatal", false} /* no kind: a crash */}) {
        INFO("kind '" << c.kind << "'");
        crashdrop::Report r;
        r.id = "0123abcd-0000-4000-8000-0123456789ab";
        r.kind = c.kind;
        r.annotations["a"] = "1";
        bool parsed = false;
        const testsupport::json event = testsupport::json::parse(cd::sentry_event_json(r), &parsed);
        REQUIRE(parsed);
        CHECK(event["level"].str() == c.level);
        CHECK(event["tags"]["crash_kind"].str() == (c.kind[0] != '\0' ? c.kind : "crash"));
        CHECK(event["extra"]["a"].str() == "1");
        CHECK(!event["extra"].has("crash_kind"));
        CHECK(!event.has("exception"));  // Relay replaces it with its minidump placeholder
        CHECK(event.has("fingerprint") == c.fingerprint);
        if (c.fingerprint) {
            REQUIRE(event["fingerprint"].array.size() == 2);
            CHECK(event["fingerprint"].array[0].str() == "{{ default }}");
            CHECK(event["fingerprint"].array[1].str() == c.kind);
        }
    }
}

TEST_CASE("URLs split into scheme and host and port and target - bad ones are refused", "[internals][transport]") {
    cd::url_parts u;
    std::string error;
    REQUIRE(cd::parse_url("http://example.com/submit?x=1#frag", &u, &error));
    CHECK(u.scheme == "http");
    CHECK(u.host == "example.com");
    CHECK(u.port == 80);
    CHECK(u.target == "/submit?x=1");
    REQUIRE(cd::parse_url("HTTPS://user:pw@[::1]:8443", &u, &error));
    CHECK(u.scheme == "https");
    CHECK(u.host == "::1");
    CHECK(u.port == 8443);
    CHECK(u.target == "/");
    CHECK(u.userinfo == "user:pw");
    CHECK_FALSE(cd::parse_url("ftp://x/y", &u, &error));
    CHECK(error.find("unsupported scheme") != std::string::npos);
    CHECK_FALSE(cd::parse_url("http://:80/", &u, &error));
    CHECK_FALSE(cd::parse_url("http://h:99999/", &u, &error));
    CHECK_FALSE(cd::parse_url("not a url", &u, &error));
    // Found by the URL and DSN fuzzers: bytes that would split the request, hosts that are not hosts.
    CHECK_FALSE(cd::parse_url("http://host\r\nX-Evil: 1/", &u, &error));
    CHECK(error.find("control character") != std::string::npos);
    CHECK_FALSE(cd::parse_url("http://h/a b", &u, &error));
    CHECK_FALSE(cd::parse_url("https://k@o1:0]x:/1", &u, &error));
    CHECK_FALSE(cd::parse_url("http://a:b:80/", &u, &error));
    CHECK_FALSE(cd::parse_url("http://[::1]x/", &u, &error));
    CHECK_FALSE(cd::parse_url("http://[zz]/", &u, &error));
    CHECK(cd::parse_url("http://[::ffff:127.0.0.1]:81/", &u, &error));
    CHECK(u.host == "::ffff:127.0.0.1");
    CHECK(cd::add_query("http://h/p", {{"product", "My Game"}, {"v", "1&2"}}) == "http://h/p?product=My%20Game&v=1%262");
    CHECK(cd::add_query("http://h/p?a=b", {{"c", "d"}}) == "http://h/p?a=b&c=d");
}

TEST_CASE("a Sentry DSN becomes its project's minidump endpoint", "[internals][transport]") {
    std::string url, error;
    REQUIRE(cd::sentry_minidump_url("https://abc@o1.ingest.sentry.io/123", &url, &error));
    CHECK(url == "https://o1.ingest.sentry.io/api/123/minidump/?sentry_key=abc");
    REQUIRE(cd::sentry_minidump_url("http://key:secret@localhost:9000/sub/path/7", &url, &error));
    CHECK(url == "http://localhost:9000/sub/path/api/7/minidump/?sentry_key=key");
    CHECK_FALSE(cd::sentry_minidump_url("https://o1.ingest.sentry.io/123", &url, &error));  // no key
    CHECK_FALSE(cd::sentry_minidump_url("https://abc@host/", &url, &error));             // no project
}

TEST_CASE("a Sentry DSN becomes its project's envelope endpoint - the key goes in the header", "[internals][transport][envelope]") {
    std::string url, error;
    REQUIRE(cd::sentry_envelope_url("https://abc@o1.ingest.sentry.io/123", &url, &error));
    CHECK(url == "https://o1.ingest.sentry.io/api/123/envelope/");
    REQUIRE(cd::sentry_envelope_url("http://key:secret@localhost:9000/sub/path/7/", &url, &error));
    CHECK(url == "http://localhost:9000/sub/path/api/7/envelope/");
    CHECK_FALSE(cd::sentry_envelope_url("https://o1.ingest.sentry.io/123", &url, &error));  // no key
    CHECK(cd::sentry_event_id("6F9619FF-8B86-D011-B42D-00CF4FC964FF") == "6f9619ff8b86d011b42d00cf4fc964ff");
    CHECK(cd::sentry_event_id("not-a-uuid").empty());
}

TEST_CASE("X-Sentry-Rate-Limits: the longest limit on error, default, attachment or all categories holds reports back", "[internals][transport][envelope]") {
    CHECK(cd::sentry_rate_limit_ms("60:error:organization") == 60000);
    CHECK(cd::sentry_rate_limit_ms("60::organization") == 60000);                      // empty: every category
    CHECK(cd::sentry_rate_limit_ms("2.5:transaction;attachment:project:quota") == 2500);
    CHECK(cd::sentry_rate_limit_ms("30:transaction;session:project") == 0);             // not ours
    CHECK(cd::sentry_rate_limit_ms("10:transaction:key, 20:default:org, 5:error:org") == 20000);
    CHECK(cd::sentry_rate_limit_ms("0.0001:error:org") == 1);                           // rounded up
    CHECK(cd::sentry_rate_limit_ms("999999:error:org") == 3600000);                     // at most an hour
    CHECK(cd::sentry_rate_limit_ms("x:error:org,-5:error:org,1.:error:org,:error:org,,7") == 0);  // malformed
    CHECK(cd::sentry_rate_limit_ms("bad, 3:error:org") == 3000);                         // the rest still counts
    CHECK(cd::sentry_rate_limit_ms("") == 0);
}

TEST_CASE("chunked replies decode - incomplete ones are noticed", "[internals][transport]") {
    const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    auto r = cd::http_parse_reply(head + "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n");
    CHECK(r.status == 200);
    CHECK(r.body == "hello world");
    CHECK(cd::http_parse_reply(head + "5\r\nhel").status == 0);
    CHECK(cd::http_parse_reply(head + "5\r\nhel").error == "incomplete chunked reply");
    CHECK(cd::http_parse_reply(head + "zz\r\n").error.find("not hexadecimal") != std::string::npos);
    CHECK(cd::http_parse_reply(head + "5\r\nhelloXX0\r\n\r\n").error.find("no line end after a chunk") != std::string::npos);
    CHECK(cd::http_parse_reply(head + "ffffffffffffffffff\r\n").error == "a chunk size is too large");
    CHECK(cd::http_parse_reply(head + std::string(cd::k_http_max_line + 1, '0')).error == "a chunk-size line is too long");
}

TEST_CASE("the reply parser: one piece or a byte at a time - the same reply", "[internals][transport]") {
    const std::string replies[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a:  2 \r\n\r\nhello-and-more",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.0 201 Created\r\n\r\nid-7",
        "HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\n\n3\nabc\n0\n\n",
        "HTTP/1.1 204 No Content\r\n\r\n",
    };
    for (const std::string& bytes : replies) {
        const cd::http_response whole = cd::http_parse_reply(bytes);
        cd::http_reply_parser p;
        for (char c : bytes) p.feed(&c, 1);
        p.finish();
        const cd::http_response split = p.result();
        INFO(bytes);
        CHECK(whole.status != 0);
        CHECK(split.status == whole.status);
        CHECK(split.body == whole.body);
        CHECK(split.headers == whole.headers);
    }
    const auto first = cd::http_parse_reply(replies[0]);
    CHECK(first.body == "hello");                  // Content-Length frames it
    CHECK(first.headers.at("x-a") == "1, 2");      // a repeated header joined
    const auto interim = cd::http_parse_reply(replies[1]);
    CHECK(interim.status == 201);                  // 100 and 103 skipped
    CHECK(interim.body == "id-7");                 // no length: up to the end
    CHECK(interim.headers.count("link") == 0);     // the interim reply's headers are not the final one's
    CHECK(cd::http_parse_reply(replies[2]).body == "abc");
}

TEST_CASE("the reply parser keeps its bounds whatever it is sent", "[internals][transport]") {
    // 101 is no answer; nor is a status outside 100..599 or something that is not HTTP.
    CHECK(cd::http_parse_reply("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n").error.find("101") != std::string::npos);
    CHECK(cd::http_parse_reply("HTTP/1.1 700 Nope\r\n\r\n").status == 0);
    CHECK(cd::http_parse_reply("SSH-2.0-OpenSSH\r\n\r\n").error.find("not an HTTP reply") != std::string::npos);
    CHECK(cd::http_parse_reply("").error == "the server closed the connection without a reply");
    CHECK(cd::http_parse_reply("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").error == "the reply ended early");
    CHECK(cd::http_parse_reply("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n").status == 0);
    CHECK(cd::http_parse_reply("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd").status == 0);
    CHECK(cd::http_parse_reply("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n").error == "the reply is larger than 1 MiB");
    // A header line, the number of headers, the number of interim replies.
    CHECK(cd::http_parse_reply("HTTP/1.1 200 OK\r\nX: " + std::string(cd::k_http_max_line, 'a') + "\r\n\r\n").error ==
          "a reply header line is too long");
    std::string many = "HTTP/1.1 200 OK\r\n";
    for (std::size_t i = 0; i <= cd::k_http_max_header_lines; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    CHECK(cd::http_parse_reply(many + "\r\n").error == "too many header lines in the reply");
    std::string interim;
    for (int i = 0; i <= cd::k_http_max_interim; ++i) interim += "HTTP/1.1 100 Continue\r\n\r\n";
    CHECK(cd::http_parse_reply(interim + "HTTP/1.1 200 OK\r\n\r\n").error == "too many interim (1xx) replies");
    // An endless body: read up to 1 MiB, of which 64 KiB is kept, then refused.
    cd::http_reply_parser p;
    const std::string head = "HTTP/1.1 200 OK\r\n\r\n";
    p.feed(head.data(), head.size());
    const std::string block(65536, 'z');
    std::size_t fed = head.size();
    for (int i = 0; i < 100 && !p.finished(); ++i) fed += p.feed(block.data(), block.size());
    CHECK(p.failed());
    CHECK(fed == cd::k_http_max_reply);
    CHECK(p.result().error == "the reply is larger than 1 MiB");
    // A long body within the limit keeps only its first 64 KiB.
    const auto big = cd::http_parse_reply("HTTP/1.1 200 OK\r\n\r\n" + std::string(200000, 'q'));
    CHECK(big.status == 200);
    CHECK(big.body.size() == cd::k_http_max_body_kept);
    // Millions of tiny chunks: linear work, refused at 1 MiB.
    std::string tiny = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    while (tiny.size() < 3u * 1024u * 1024u) tiny += "1\r\na\r\n";
    CHECK(cd::http_parse_reply(tiny).error == "the reply is larger than 1 MiB");
}

TEST_CASE("Retry-After: delay-seconds and the three HTTP-date forms", "[internals][transport]") {
    const long long now = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
    CHECK(cd::http_retry_after_ms("120", now) == 120000);
    CHECK(cd::http_retry_after_ms(" 2 ", now) == 2000);
    CHECK(cd::http_retry_after_ms("Sun, 06 Nov 1994 08:51:37 GMT", now) == 120000);
    CHECK(cd::http_retry_after_ms("Sunday, 06-Nov-94 08:50:37 GMT", now) == 60000);
    CHECK(cd::http_retry_after_ms("Sun Nov  6 08:49:47 1994", now) == 10000);
    CHECK(cd::http_retry_after_ms("Sat, 05 Nov 1994 08:49:37 GMT", now) == 0);  // in the past
    CHECK(cd::http_retry_after_ms("99999999999999999999", now) > 3600000);
    CHECK(cd::http_retry_after_ms("-5", now) == -1);
    CHECK(cd::http_retry_after_ms("soon", now) == -1);
    CHECK(cd::http_retry_after_ms("Sun, 32 Nov 1994 08:49:37 GMT", now) == -1);
    CHECK(cd::http_retry_after_ms("", now) == -1);
    long long t = 0;
    REQUIRE(cd::http_parse_date("Thu, 01 Jan 1970 00:00:00 GMT", &t));
    CHECK(t == 0);
    REQUIRE(cd::http_parse_date("Tue, 29 Feb 2028 23:59:59 GMT", &t));
    CHECK(t == 1835481599);
}

TEST_CASE("replies become verdicts: sent - retry later - rejected", "[internals][transport]") {
    using crashdrop::UploadFormat;
    using crashdrop::UploadStatus;
    auto verdict = [](int status, const std::string& body, UploadFormat f, const std::string& retry_after = "") {
        cd::http_response r;
        r.status = status;
        r.body = body;
        if (!retry_after.empty()) r.headers["retry-after"] = retry_after;
        if (status == 0) r.error = "connection refused";
        return cd::interpret_reply(r, f, 784111777);
    };
    CHECK(verdict(0, "", UploadFormat::crashpad).status == UploadStatus::retry_later);
    CHECK(verdict(503, "", UploadFormat::crashpad).status == UploadStatus::retry_later);
    CHECK(verdict(503, "", UploadFormat::crashpad).retry_after_ms == 0);
    CHECK(verdict(429, "", UploadFormat::crashpad).status == UploadStatus::retry_later);
    CHECK(verdict(408, "", UploadFormat::crashpad).status == UploadStatus::retry_later);
    // Retry-After, for 429 and 503, capped at an hour; not for other statuses.
    CHECK(verdict(429, "", UploadFormat::crashpad, "2").retry_after_ms == 2000);
    CHECK(verdict(503, "", UploadFormat::sentry, "Sun, 06 Nov 1994 08:51:37 GMT").retry_after_ms == 120000);
    CHECK(verdict(503, "", UploadFormat::crashpad, "86400").retry_after_ms == 3600000);
    CHECK(verdict(500, "", UploadFormat::crashpad, "30").retry_after_ms == 0);
    CHECK(verdict(429, "", UploadFormat::crashpad, "whenever").retry_after_ms == 0);
    // The report's own fault: rejected with the reason.
    CHECK(verdict(400, "bad", UploadFormat::crashpad).status == UploadStatus::rejected);
    CHECK(verdict(400, "bad", UploadFormat::crashpad).message == "HTTP 400: bad");
    CHECK(verdict(413, "", UploadFormat::socorro).status == UploadStatus::rejected);
    // A configuration error: kept, with the longest back-off.
    for (int status : {301, 308, 401, 403, 404, 405, 407, 410}) {
        INFO(status);
        const auto v = verdict(status, "nope", UploadFormat::crashpad);
        CHECK(v.status == UploadStatus::retry_later);
        CHECK(v.retry_after_ms == 3600000);
        CHECK(v.message.find("HTTP " + std::to_string(status)) == 0);
    }
    // Other 4xx and 3xx, 1xx that leaked through: retried with the ordinary back-off.
    for (int status : {302, 307, 402, 409, 411, 415, 422, 431, 451, 100, 599}) {
        INFO(status);
        CHECK(verdict(status, "", UploadFormat::crashpad).status == UploadStatus::retry_later);
        CHECK(verdict(status, "", UploadFormat::crashpad).retry_after_ms == 0);
    }
    const auto ok = verdict(200, "abc-123\n", UploadFormat::crashpad);
    CHECK(ok.status == UploadStatus::sent);
    CHECK(ok.server_id == "abc-123");
    CHECK(verdict(202, "x", UploadFormat::crashpad).status == UploadStatus::sent);
    const auto crash_id = verdict(200, "CrashID=bp-6fa75d32-9c35-4e25-8d2a-7a4e90221122\n", UploadFormat::socorro);
    CHECK(crash_id.status == UploadStatus::sent);
    CHECK(crash_id.server_id == "bp-6fa75d32-9c35-4e25-8d2a-7a4e90221122");
    CHECK(verdict(200, "Discarded=rule_has_hangid_and_browser\n", UploadFormat::socorro).status == UploadStatus::rejected);
    CHECK(verdict(200, "Discarded=rule_has_hangid_and_browser\n", UploadFormat::socorro).message ==
          "Discarded=rule_has_hangid_and_browser");
    const auto sentry = verdict(200, "{\"id\":\"0123456789abcdef0123456789abcdef\"}", UploadFormat::sentry);
    CHECK(sentry.status == UploadStatus::sent);
    CHECK(sentry.server_id == "0123456789abcdef0123456789abcdef");
}

namespace {
// A resolver that never answers in time (an unreachable name server): it waits 5 s, then fails.
int slow_resolver(const char*, const char*, const addrinfo*, addrinfo** out) {
    *out = nullptr;
    std::this_thread::sleep_for(std::chrono::seconds(5));
    return EAI_AGAIN;
}
}  // namespace

TEST_CASE("the attempt's deadline covers the name lookup: a resolver that hangs is left behind", "[internals][transport]") {
    cd::url_parts url;
    REQUIRE(cd::parse_url("http://crash.example.invalid:8080/submit", &url, nullptr));
    const auto t0 = std::chrono::steady_clock::now();
    const cd::http_response r = cd::http_post(url, {}, "body", 10000, 700, &slow_resolver);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    CHECK(r.status == 0);
    CHECK(r.error == "cannot resolve crash.example.invalid: no answer in time");
    CHECK(ms >= 650);
    CHECK(ms < 1500);
    // And the connect timeout bounds it too, when shorter.
    const auto t1 = std::chrono::steady_clock::now();
    CHECK(cd::http_post(url, {}, "body", 300, 10000, &slow_resolver).error.find("no answer in time") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::milliseconds(1200));
}

TEST_CASE("the multipart body carries every field and the dump - bytes intact", "[internals][transport]") {
    crashdrop::Upload up;
    up.report.id = "0123abcd-0000-4000-8000-0123456789ab";
    up.report.product = "P";
    up.report.version = "V";
    up.report.annotations["build"] = "42";
    up.report.annotations["bad\"name"] = "x";
    up.client_id = "c";
    for (int i = 0; i < 256; ++i) up.dump.push_back(static_cast<std::uint8_t>(i));
    const auto parts = cd::report_parts(up, crashdrop::UploadFormat::crashpad);
    const std::string body = cd::multipart_body(parts, "BOUNDARY");
    CHECK(body.find("name=\"prod\"\r\n\r\nP\r\n") != std::string::npos);
    CHECK(body.find("name=\"guid\"\r\n\r\nc\r\n") != std::string::npos);
    CHECK(body.find("name=\"build\"\r\n\r\n42\r\n") != std::string::npos);
    CHECK(body.find("name=\"bad_name\"") != std::string::npos);  // quotes cannot break the header
    CHECK(body.find("name=\"upload_file_minidump\"; filename=\"" + up.report.id + ".dmp\"") != std::string::npos);
    const std::string dump(up.dump.begin(), up.dump.end());
    CHECK(body.find(dump) != std::string::npos);
    CHECK(body.size() >= 10);
    CHECK(body.substr(body.size() - 14) == "--BOUNDARY--\r\n");
}

TEST_CASE("the helper configuration survives its trip through the shared region", "[internals][helper]") {
    cd::helper_config c;
    c.database = "/var/tmp/db with spaces";
    c.upload.url = "https://h/x?y=1";
    c.upload.format = crashdrop::UploadFormat::sentry;
    c.upload.compress = false;
    c.upload.ca_file = "/etc/ca.pem";
    c.upload.connect_timeout_ms = 1234;
    c.upload.upload_timeout_ms = 5678;
    c.rate_limit = true;
    c.retry_delay_ms = 99;
    c.limits.max_reports = 7;
    c.limits.max_bytes = 1u << 20;
    c.limits.max_age_days = 3;
    c.product = "P\nQ";
    c.version = "1%";
    c.mode = crashdrop::HelperMode::external;
    c.linger_ms = 4321;
    c.memory_capture = static_cast<int>(crashdrop::MemoryCapture::scrubbed_stacks);
    const cd::helper_config d = cd::decode_helper_config(cd::encode_helper_config(c));
    CHECK(d.database == c.database);
    CHECK(d.upload.url == c.upload.url);
    CHECK(d.upload.format == c.upload.format);
    CHECK(d.upload.compress == false);
    CHECK(d.upload.ca_file == c.upload.ca_file);
    CHECK(d.upload.connect_timeout_ms == 1234);
    CHECK(d.upload.upload_timeout_ms == 5678);
    CHECK(d.rate_limit);
    CHECK(d.retry_delay_ms == 99);
    CHECK(d.limits.max_reports == 7);
    CHECK(d.limits.max_bytes == (1u << 20));
    CHECK(d.limits.max_age_days == 3);
    CHECK(d.product == "P\nQ");
    CHECK(d.version == "1%");
    CHECK(d.mode == crashdrop::HelperMode::external);
    CHECK(d.linger_ms == 4321);
    CHECK(cd::decode_helper_config("database=/x\n").linger_ms == 10000);  // a region from before the option
    // Options::memory_capture (applied by the Windows helper): damaged text never gives a value
    // outside the enum; a region from before the option means full.
    CHECK(d.memory_capture == static_cast<int>(crashdrop::MemoryCapture::scrubbed_stacks));
    CHECK(cd::decode_helper_config("database=/x\n").memory_capture == 0);
    CHECK(cd::decode_helper_config("memory_capture=7\n").memory_capture == 2);
    CHECK(cd::decode_helper_config("memory_capture=-1\n").memory_capture == 0);
    CHECK(cd::make_helper_config([] {
              crashdrop::Options o;
              o.memory_capture = crashdrop::MemoryCapture::stacks_only;
              return o;
          }(), "/db").memory_capture == 1);
}

TEST_CASE("the helper's log cap: 1 MiB, or a sixteenth of a smaller max_database_bytes, never below 16 KiB", "[internals][helper]") {
    CHECK(cd::helper_log_cap(0) == 1024u * 1024u);
    CHECK(cd::helper_log_cap(256u * 1024u * 1024u) == 1024u * 1024u);
    CHECK(cd::helper_log_cap(1024u * 1024u) == 64u * 1024u);
    CHECK(cd::helper_log_cap(64u * 1024u) == 16u * 1024u);
}

#if __has_include(<curl/curl.h>)
#include <curl/curl.h>
TEST_CASE("the libcurl ABI numbers match <curl/curl.h>", "[internals][transport]") {
    namespace abi = cd::curl_abi;
    CHECK(abi::k_global_default == CURL_GLOBAL_DEFAULT);
    CHECK(abi::k_opt_writedata == CURLOPT_WRITEDATA);
    CHECK(abi::k_opt_url == CURLOPT_URL);
    CHECK(abi::k_opt_errorbuffer == CURLOPT_ERRORBUFFER);
    CHECK(abi::k_opt_postfields == CURLOPT_POSTFIELDS);
    CHECK(abi::k_opt_useragent == CURLOPT_USERAGENT);
    CHECK(abi::k_opt_httpheader == CURLOPT_HTTPHEADER);
    CHECK(abi::k_opt_cainfo == CURLOPT_CAINFO);
    CHECK(abi::k_opt_writefunction == CURLOPT_WRITEFUNCTION);
    CHECK(abi::k_opt_postfieldsize_large == CURLOPT_POSTFIELDSIZE_LARGE);
    CHECK(abi::k_opt_post == CURLOPT_POST);
    CHECK(abi::k_opt_ssl_verifypeer == CURLOPT_SSL_VERIFYPEER);
    CHECK(abi::k_opt_ssl_verifyhost == CURLOPT_SSL_VERIFYHOST);
    CHECK(abi::k_opt_nosignal == CURLOPT_NOSIGNAL);
    CHECK(abi::k_opt_timeout_ms == CURLOPT_TIMEOUT_MS);
    CHECK(abi::k_opt_connecttimeout_ms == CURLOPT_CONNECTTIMEOUT_MS);
    CHECK(abi::k_info_response_code == CURLINFO_RESPONSE_CODE);
    CHECK(abi::k_opt_headerfunction == CURLOPT_HEADERFUNCTION);
    CHECK(abi::k_opt_headerdata == CURLOPT_HEADERDATA);
    CHECK(abi::k_opt_maxfilesize_large == CURLOPT_MAXFILESIZE_LARGE);
    CHECK(abi::k_opt_followlocation == CURLOPT_FOLLOWLOCATION);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    CHECK(abi::k_opt_protocols == CURLOPT_PROTOCOLS);
#pragma GCC diagnostic pop
#if LIBCURL_VERSION_NUM >= 0x075500
    CHECK(abi::k_opt_protocols_str == CURLOPT_PROTOCOLS_STR);
#endif
    CHECK(abi::k_proto_http == CURLPROTO_HTTP);
    CHECK(abi::k_proto_https == CURLPROTO_HTTPS);
#if LIBCURL_VERSION_NUM >= 0x074200
    CHECK(abi::k_info_retry_after == CURLINFO_RETRY_AFTER);
#endif
    CHECK(abi::k_error_size == CURL_ERROR_SIZE);
}
#else
TEST_CASE("the libcurl ABI numbers match <curl/curl.h>", "[internals][transport]") {
    WARN("<curl/curl.h> not installed (libcurl4-openssl-dev): the ABI numbers were not compared");
}
#endif

TEST_CASE("pruning removes the oldest reports first by count and size and age", "[internals][database]") {
    const std::string root = std::string(CRASHDROP_TEST_WORKDIR) + "/prune-db";
    std::system(("rm -rf '" + root + "'").c_str());
    const cd::database db(root);
    REQUIRE(db.create(nullptr) == 0);
    const std::time_t now = 1800000000;
    auto add = [&](int n, std::time_t created, std::size_t bytes, crashdrop::ReportState state) {
        crashdrop::Report r;
        char id[40];
        std::snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", n);
        r.id = id;
        r.created = created;
        r.state = state;
        std::ofstream(db.folder(state) + "/" + r.id + ".dmp") << std::string(bytes, 'x');
        REQUIRE(db.save(r, false, nullptr));
        return r.id;
    };
    const std::string ancient = add(1, now - 40 * 86400, 100, crashdrop::ReportState::uploaded);
    const std::string old1 = add(2, now - 5000, 4000, crashdrop::ReportState::pending);
    const std::string old2 = add(3, now - 4000, 100, crashdrop::ReportState::rejected);
    const std::string mid = add(4, now - 3000, 100, crashdrop::ReportState::pending);
    const std::string young = add(5, now - 10, 100, crashdrop::ReportState::pending);
    cd::database_limits age_only;
    age_only.max_age_days = 30;
    CHECK(db.prune(age_only, now) == std::vector<std::string>{ancient});
    cd::database_limits count;
    count.max_reports = 3;
    CHECK(db.prune(count, now) == std::vector<std::string>{old1});  // the oldest of the four
    cd::database_limits size;
    size.max_bytes = 700;  // each report is its dump plus ~200 bytes of metadata
    const auto removed = db.prune(size, now);
    CHECK(removed.size() == 1);
    CHECK(removed[0] == old2);
    CHECK(db.list(crashdrop::ReportState::pending).size() == 2);
    CHECK(db.list(crashdrop::ReportState::pending)[1].id == young);
}

TEST_CASE("a report's claim: one holder at a time - re-checked after the claim - gone with its holder", "[internals][database]") {
    const std::string root = std::string(CRASHDROP_TEST_WORKDIR) + "/claim-db";
    std::system(("rm -rf '" + root + "'").c_str());
    const cd::database db(root);
    REQUIRE(db.create(nullptr) == 0);
    const std::string id = "00000000-0000-4000-8000-000000000001";
    const std::string pending = db.pending_dir() + "/" + id + ".dmp";
    std::ofstream(pending) << "MDMP";
    cd::report_claim first, second;
    CHECK(first.try_claim(pending) == cd::report_claim::claimed);
    CHECK(first.still_at(pending));
    CHECK(second.try_claim(pending) == cd::report_claim::busy);  // another open file, same process
    // Pruning passes over a claimed report, even when it is over every bound.
    cd::database_limits none;
    none.max_reports = 0;
    none.max_age_days = 1;
    CHECK(db.prune(none, std::time(nullptr) + 10 * 86400).empty());
    CHECK(cd::file_info(pending, nullptr, nullptr));
    // Completed by its holder: a later claimer finds it gone, or no longer at the pending name.
    cd::report_claim late;
    REQUIRE(late.try_claim(pending) == cd::report_claim::busy);
    REQUIRE(std::rename(pending.c_str(), (db.completed_dir() + "/" + id + ".dmp").c_str()) == 0);
    CHECK_FALSE(first.still_at(pending));
    first.release();
    CHECK(second.try_claim(pending) == cd::report_claim::gone);
    // Claimed by a process that is then killed: the claim ends with it.
    std::ofstream(pending) << "MDMP";
    int ready[2];
    REQUIRE(pipe(ready) == 0);
    const pid_t child = fork();
    if (child == 0) {
        cd::report_claim held;
        const char ok = held.try_claim(pending) == cd::report_claim::claimed ? '1' : '0';
        (void)!write(ready[1], &ok, 1);
        pause();
        _exit(0);
    }
    char ok = 0;
    REQUIRE(read(ready[0], &ok, 1) == 1);
    CHECK(ok == '1');
    CHECK(second.try_claim(pending) == cd::report_claim::busy);
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    CHECK(second.try_claim(pending) == cd::report_claim::claimed);
    CHECK(second.still_at(pending));
    close(ready[0]);
    close(ready[1]);
}

// ---- the database is the user's alone (issue 12, point 4) ----

TEST_CASE("only well-formed report ids become file names", "[internals][database]") {
    CHECK(cd::is_report_id("0f1e2d3c-4b5a-4697-8879-6a5b4c3d2e1f"));
    CHECK(cd::is_report_id(cd::new_uuid()));
    for (const char* bad : {"", "0f1e2d3c-4b5a-4697-8879-6a5b4c3d2e1", "0F1E2D3C-4B5A-4697-8879-6A5B4C3D2E1F",
                            "0f1e2d3c04b5a-4697-8879-6a5b4c3d2e1f", "../../../../../../../../etc/passwd_x",
                            "0f1e2d3c-4b5a-4697-8879-6a5b4c3d2e/f", "------------------------------------",
                            "0f1e2d3c-4b5a-4697-8879-6a5b4c3d2e1f0"}) {
        INFO(bad);
        CHECK_FALSE(cd::is_report_id(bad));
    }
    const cd::database db("/nowhere");
    CHECK(db.attachments_dir("../../etc").empty());
    CHECK(db.attachments_dir("0f1e2d3c-4b5a-4697-8879-6a5b4c3d2e1f") == "/nowhere/attachments/0f1e2d3c-4b5a-4697-8879-6a5b4c3d2e1f");
    CHECK(db.attachment_files("../../etc").empty());
    // A metadata file whose id is not one is not a report.
    crashdrop::Report r;
    std::string error;
    CHECK_FALSE(cd::decode_report("id=../../../etc/x-aaaa-aaaa-aaaa-aaaaaaaaaaaa\ncreated=1\n", &r, &error));
    CHECK_FALSE(cd::decode_report("id=0F1E2D3C-4B5A-4697-8879-6A5B4C3D2E1F\ncreated=1\n", &r, &error));
}

TEST_CASE("database files are never read through a link and never block on a FIFO", "[internals][database]") {
    const std::string root = std::string(CRASHDROP_TEST_WORKDIR) + "/nofollow";
    std::system(("rm -rf '" + root + "' && mkdir -p '" + root + "/real'").c_str());
    std::ofstream(root + "/secret") << "TOPSECRET";
    std::ofstream(root + "/real/file") << "real";
    REQUIRE(symlink((root + "/secret").c_str(), (root + "/link").c_str()) == 0);
    REQUIRE(symlink((root + "/real").c_str(), (root + "/linked-folder").c_str()) == 0);
    REQUIRE(mkfifo((root + "/fifo").c_str(), 0600) == 0);
    std::string text;
    bool cut = false;
    CHECK(cd::read_whole_file(root + "/real/file", &text));
    CHECK(text == "real");
    CHECK_FALSE(cd::read_whole_file(root + "/link", &text));               // a link as the file
    CHECK_FALSE(cd::read_whole_file(root + "/linked-folder/file", &text));  // a link as its folder
    CHECK_FALSE(cd::read_whole_file(root + "/fifo", &text));               // returns at once
    CHECK_FALSE(cd::read_file_tail(root + "/fifo", 100, &text, &cut));     // even where links are followed
    CHECK_FALSE(cd::read_file_tail(root + "/link", 100, &text, &cut, false));
    CHECK(cd::read_file_tail(root + "/link", 100, &text, &cut));  // the application's own paths may be links
    CHECK(text == "TOPSECRET");
    CHECK(cd::list_directory(root + "/linked-folder").empty());
    CHECK_FALSE(cd::write_file_atomic(root + "/linked-folder", "new", "x", false, nullptr));
    CHECK(cd::file_kind(root + "/link") == cd::entry_kind::link);
    CHECK(cd::file_kind(root + "/fifo") == cd::entry_kind::other);
    CHECK(cd::file_kind(root + "/real") == cd::entry_kind::folder);
    CHECK_FALSE(cd::file_info(root + "/link", nullptr, nullptr));
    // Writing over a link replaces the link, never what it points to.
    CHECK(cd::write_file_atomic(root, "link", "replaced", false, nullptr));
    CHECK(cd::file_kind(root + "/link") == cd::entry_kind::file);
    CHECK(cd::read_whole_file(root + "/secret", &text));
    CHECK(text == "TOPSECRET");
}

TEST_CASE("a database folder that is a link or another user's or writable by others is refused - also by the helper", "[internals][database]") {
    const std::string base = std::string(CRASHDROP_TEST_WORKDIR) + "/private";
    std::system(("rm -rf '" + base + "' && mkdir -p '" + base + "'").c_str());
    std::string why;
    {
        const cd::database db(base + "/ok");
        REQUIRE(db.create(nullptr) == 0);
        CHECK(db.check(&why));
        chmod((base + "/ok/pending").c_str(), 0770);
        CHECK_FALSE(db.check(&why));
        CHECK(why.find("pending' is writable by its group") != std::string::npos);
        chmod((base + "/ok/pending").c_str(), 0700);
        chmod((base + "/ok").c_str(), 0702);
        CHECK_FALSE(db.check(&why));
        CHECK(why.find("is writable by others") != std::string::npos);
        chmod((base + "/ok").c_str(), 0700);
        std::system(("mkdir -p '" + base + "/elsewhere' && ln -s '" + base + "/elsewhere' '" + base + "/ok/attachments'").c_str());
        CHECK_FALSE(db.check(&why));
        CHECK(why.find("attachments' is a symbolic link") != std::string::npos);
        // The helper refuses it too, before it touches anything.
        cd::helper_config config;
        config.database = base + "/ok";
        cd::helper_service service(config, nullptr);
        CHECK_FALSE(service.begin());
        std::system(("rm '" + base + "/ok/attachments'").c_str());
        cd::helper_service again(config, nullptr);
        CHECK(again.begin());
        again.finish();
    }
    if (geteuid() == 0) {
        const cd::database db(base + "/theirs");
        REQUIRE(db.create(nullptr) == 0);
        REQUIRE(chown((base + "/theirs").c_str(), 65534, 65534) == 0);
        CHECK_FALSE(db.check(&why));
        CHECK(why.find("is owned by another user (uid 65534") != std::string::npos);
    } else {
        WARN("SKIPPED: a folder owned by another user needs root to make (chown); not checked in this run");
    }
}

TEST_CASE("planted and damaged entries are set aside into quarantine - never followed", "[internals][database]") {
    const std::string root = std::string(CRASHDROP_TEST_WORKDIR) + "/strays";
    std::system(("rm -rf '" + root + "'").c_str());
    const cd::database db(root);
    REQUIRE(db.create(nullptr) == 0);
    std::ofstream(root + "/secret") << "TOPSECRET";
    const std::string good = "0f1e2d3c-4b5a-4697-8879-6a5b4c3d2e1f";
    const std::string other = "1f1e2d3c-4b5a-4697-8879-6a5b4c3d2e1f";
    std::ofstream(db.pending_dir() + "/" + good + ".dmp") << "MDMP";
    std::ofstream(db.pending_dir() + "/notes.txt") << "not ours";
    std::ofstream(db.pending_dir() + "/ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ.dmp") << "MDMP";
    std::ofstream(db.pending_dir() + "/" + other + ".meta") << "garbage";
    REQUIRE(symlink((root + "/secret").c_str(), (db.completed_dir() + "/" + other + ".dmp").c_str()) == 0);
    REQUIRE(mkfifo((db.pending_dir() + "/" + good + ".meta").c_str(), 0600) == 0);
    REQUIRE(cd::make_directories(db.attachments_dir(good)) == 0);
    std::ofstream(db.attachments_dir(good) + "/app.log") << "log";
    REQUIRE(symlink((root + "/secret").c_str(), (db.attachments_dir(good) + "/id_rsa").c_str()) == 0);
    REQUIRE(cd::make_directories(db.attachments_root() + "/not-an-id") == 0);
    const auto lines = db.set_aside_strays();
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    INFO(all);
    CHECK(lines.size() == 6);
    CHECK(all.find(good + ".meta: not a regular file; set aside as") != std::string::npos);
    CHECK(all.find("ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ.dmp: not named by a report id; set aside") != std::string::npos);
    CHECK(all.find(other + ".meta: metadata without a dump that cannot be read") != std::string::npos);
    CHECK(all.find(other + ".dmp: a symbolic link; set aside") != std::string::npos);
    CHECK(all.find("id_rsa: a symbolic link; set aside") != std::string::npos);
    CHECK(all.find("not-an-id: not named by a report id; set aside") != std::string::npos);
    // What belongs stays; what does not is in quarantine/, the link's target untouched.
    CHECK(cd::file_kind(db.pending_dir() + "/" + good + ".dmp") == cd::entry_kind::file);
    CHECK(cd::file_kind(db.pending_dir() + "/notes.txt") == cd::entry_kind::file);
    CHECK(db.attachment_files(good) == std::vector<std::string>{db.attachments_dir(good) + "/app.log"});
    CHECK(cd::file_kind(db.quarantine_dir() + "/completed." + other + ".dmp") == cd::entry_kind::link);
    CHECK(cd::file_kind(db.quarantine_dir() + "/pending." + good + ".meta") == cd::entry_kind::other);
    std::string text;
    CHECK(cd::read_whole_file(root + "/secret", &text));
    CHECK(text == "TOPSECRET");
    CHECK(db.check(&text));  // quarantine/ is the user's alone too
    // The report stays listed, its metadata made from the dump; nothing else is a report.
    const auto pending = db.list(crashdrop::ReportState::pending);
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].id == good);
    CHECK(db.list(crashdrop::ReportState::uploaded).empty());
    CHECK(db.set_aside_strays().empty());  // nothing left to set aside
}

// ---- the first chance's question: is a faulting instruction in generated code? ----------------

namespace {
void noinline_marker() { __asm__ volatile(""); }
}  // namespace

TEST_CASE("generated code is an executable mapping that is no file (anonymous or memfd) - asked of the kernel and of the maps text alike", "[internals][handler]") {
    sg::linux_state* g = &sg::g_state;
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    void* anon_x = mmap(nullptr, page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void* anon_rw = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void* gone = mmap(nullptr, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(anon_x != MAP_FAILED);
    REQUIRE(anon_rw != MAP_FAILED);
    REQUIRE(gone != MAP_FAILED);
    const int memfd = static_cast<int>(syscall(SYS_memfd_create, "jit-code", 0u));
    REQUIRE(memfd >= 0);
    REQUIRE(ftruncate(memfd, static_cast<off_t>(page)) == 0);
    void* memfd_x = mmap(nullptr, page, PROT_READ | PROT_EXEC, MAP_SHARED, memfd, 0);
    REQUIRE(memfd_x != MAP_FAILED);
    munmap(gone, page);  // last: nothing is mapped there again
    const auto at = [](const void* p) { return reinterpret_cast<sg::u64>(p) + 16; };

    struct probe {
        const char* what;
        sg::u64 address;
        bool generated;
    };
    const probe probes[] = {
        {"anonymous r-x", at(anon_x), true},
        {"memfd r-x", at(memfd_x), true},
        {"anonymous rw-", at(anon_rw), false},
        {"this program's code", reinterpret_cast<sg::u64>(&noinline_marker), false},
        {"unmapped", at(gone), false},
        {"the vDSO", static_cast<sg::u64>(getauxval(AT_SYSINFO_EHDR)) + 16, false},
    };
    bool kernel_answers = true;
    for (const probe& pr : probes) {
        INFO(pr.what);
        CHECK(sg::in_generated_code(g, pr.address) == pr.generated);
        char buf[4096], path_q[64], path_t[64];
        sg::mapping q, t;
        const int asked = [&] {
            const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
            const int r = sg::query_mapping(fd, pr.address, &q, buf, sizeof(buf));
            close(fd);
            return r;
        }();
        const bool text = sg::lookup_mapping(g, pr.address, buf, sizeof(buf), &t, path_t, sizeof(path_t), false);
        CHECK(text == (std::string(pr.what) != "unmapped"));
        if (asked < 0) {
            kernel_answers = false;
            continue;
        }
        REQUIRE(sg::lookup_mapping(g, pr.address, buf, sizeof(buf), &q, path_q, sizeof(path_q)) == text);
        if (!text) continue;
        CHECK(q.start == t.start);
        CHECK(q.end == t.end);
        CHECK(static_cast<int>(q.perms) == static_cast<int>(t.perms));
        CHECK(q.inode == t.inode);
        CHECK(q.offset == t.offset);
        CHECK(std::string(path_q) == std::string(path_t));
    }
    if (!kernel_answers) WARN("PROCMAP_QUERY is not answered here (Linux before 6.11): only the maps text was checked");
    munmap(anon_x, page);
    munmap(anon_rw, page);
    munmap(memfd_x, page);
    close(memfd);
}

TEST_CASE("hang_watch: a request the watchdog answers busy is asked again in the same episode - once written, no "
          "more until the thread beats again", "[internals][hang]") {
    // The helper's side of hang reports, driven by hand: the region is ordinary memory here,
    // and this test plays the watchdog by writing its answers into it.
    const std::string root = std::string(CRASHDROP_TEST_WORKDIR) + "/hang_watch_busy";
    std::system(("rm -rf '" + root + "'").c_str());
    cd::helper_config config;
    config.database = root;
    // The service logs to stderr (the helper's is helper.log): caught in a file meanwhile.
    const std::string log_path = root + "-stderr.log";
    std::fflush(stderr);
    const int saved_stderr = dup(2);
    const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(log_fd >= 0);
    dup2(log_fd, 2);
    close(log_fd);
    cd::helper_service service(config, nullptr);
    REQUIRE(service.begin());
    auto region = std::make_unique<sg::region_header>();
    region->app_pid = static_cast<sg::u32>(getpid());
    region->watched_tid.store(static_cast<sg::u32>(syscall(SYS_gettid)));  // this thread: alive, not stopped
    region->heartbeats.store(1);
    region->hang_request.store(0);
    region->hang_done.store(0);
    region->app_detached.store(0);
    region->handoff.store(0);
    cd::hang_watch watch(&service, region.get(), 100);
    REQUIRE(watch.poll_timeout_ms() == 25);

    watch.tick();
    CHECK(region->hang_request.load() == 0);  // silent for less than the timeout
    usleep(130 * 1000);
    watch.tick();
    const sg::u32 first = region->hang_request.load();
    CHECK(first != 0);
    CHECK(region->hang_tid.load() == region->watched_tid.load());
    CHECK(region->hang_ms.load() >= 100);
    CHECK(watch.hanging());
    usleep(130 * 1000);
    watch.tick();
    CHECK(region->hang_request.load() == first);  // not answered yet: not asked twice

    region->hang_result.store(sg::hang_busy);  // another dump was being written
    region->hang_done.store(first);
    watch.tick();
    CHECK(region->hang_request.load() == first);  // asked again a poll later, not at once
    usleep(40 * 1000);
    watch.tick();
    const sg::u32 second = region->hang_request.load();
    CHECK(second != first);
    CHECK(second != 0);
    CHECK(watch.hanging());

    region->hang_result.store(sg::hang_written);
    region->hang_done.store(second);
    watch.tick();
    usleep(130 * 1000);
    watch.tick();
    CHECK(region->hang_request.load() == second);  // one report per episode
    CHECK(watch.hanging());

    region->heartbeats.store(2);  // it beats again: the episode ends
    watch.tick();
    CHECK_FALSE(watch.hanging());
    service.finish();
    std::fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    std::ifstream in(log_path);
    const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO("helper.log:\n" << log);
    CHECK(log.find("hang: another dump was being written; asking again") != std::string::npos);
    CHECK(log.find("hang: dump written") != std::string::npos);
    CHECK(log.find("hang: the watched thread beats again") != std::string::npos);
}

TEST_CASE("a crash ends the process as its handler returns only under SIG_DFL - for a fault that comes again or a re-sent signal the restored mask lets through",
          "[internals][crash-end]") {
    // In a child: the test changes SIGSEGV's and SIGABRT's dispositions.
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int failures = 0;
        auto expect = [&failures](bool got, bool want) { failures += got == want ? 0 : 1; };
        siginfo_t fault{};
        fault.si_code = SEGV_MAPERR;  // the kernel's: the instruction faults again
        siginfo_t sent{};
        sent.si_code = SI_TKILL;  // raise(): sent again by tgkill
        ucontext_t open_mask{};
        sigemptyset(&open_mask.uc_sigmask);
        ucontext_t blocking{};
        sigemptyset(&blocking.uc_sigmask);
        sigaddset(&blocking.uc_sigmask, SIGABRT);
        signal(SIGSEGV, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        expect(sg::ends_on_return(SIGSEGV, &fault, &open_mask), true);
        expect(sg::ends_on_return(SIGSEGV, &fault, &blocking), true);  // a fault comes again regardless
        expect(sg::ends_on_return(SIGABRT, &sent, &open_mask), true);
        expect(sg::ends_on_return(SIGABRT, &sent, &blocking), false);  // pending, blocked: it lives on
        expect(sg::ends_on_return(SIGABRT, &sent, nullptr), false);
        struct sigaction h {};
        h.sa_handler = [](int) {};
        sigaction(SIGSEGV, &h, nullptr);  // a previous handler put back: it may recover
        expect(sg::ends_on_return(SIGSEGV, &fault, &open_mask), false);
        _exit(failures);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a parked thread goes on when its dump releases it - or, after a crash dump that did not, once the grace period has passed",
          "[internals][crash-end]") {
    auto* g = new sg::linux_state();
    g->released_generation.store(7);
    CHECK(sg::park_until_released(g, 7));  // released already
    const long long grace_ns = sg::k_crash_grace_ms * 1000000LL;
    g->crash_unreleased_ns.store(static_cast<std::uint64_t>(sg::monotonic_ns() - grace_ns - 1));
    CHECK_FALSE(sg::park_until_released(g, 8));  // the process outlived its crash by the grace
    // Ended 60 ms short of the grace: it waits those 60 ms, not the whole grace period.
    g->crash_unreleased_ns.store(static_cast<std::uint64_t>(sg::monotonic_ns() - grace_ns + 60 * 1000000LL));
    long long t0 = sg::monotonic_ns();
    CHECK_FALSE(sg::park_until_released(g, 8));
    long long waited_ms = (sg::monotonic_ns() - t0) / 1000000LL;
    CHECK(waited_ms >= 50);
    CHECK(waited_ms < 400);
    // Not a crash that kept it: it waits for its release, whenever that comes.
    g->crash_unreleased_ns.store(0);
    std::thread releaser([g] {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        sg::release_threads(g, 9);
    });
    t0 = sg::monotonic_ns();
    CHECK(sg::park_until_released(g, 9));
    waited_ms = (sg::monotonic_ns() - t0) / 1000000LL;
    CHECK(waited_ms >= 100);
    releaser.join();
    delete g;
}
