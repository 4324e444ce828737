// crashdrop/minidump/scrub_stacks.hpp - Options::memory_capture = scrubbed_stacks for a dump
// another writer made (Windows: dbghelp's MiniDumpWriteDump). The Linux writer scrubs while it
// copies the stacks (dumper_linux.hpp, scrub_stack_words) with its own mapping table; this pass
// does the same on a finished dump's bytes, with what the dump itself says.
//
// In every thread's stack memory (the thread list's MINIDUMP_MEMORY_DESCRIPTORs), each 8-byte
// word at an 8-byte-aligned address is zeroed unless it is 0 or points (as an address >= 4096)
//  - into a thread's stack: the range the dump holds for it, widened by the caller to the whole
//    stack reservation when it knows it (`bounds`; Linux keeps the whole stack mapping), or
//  - into code: a module's image range from the dump's module list (base, base + size).
// Bytes at a range's ends too short to be an aligned word are zeroed too. Return addresses (into
// a module) and saved frame pointers and stack pointers (into a stack) stay, so the stacks still
// walk; locals, integers, heap pointers and spilled data go. Registers are left alone.
//
// No allocation, no system call: the in-process writer runs it on a mapped view of the file it
// has just written, in a process whose heap may be locked. Bad input (ranges outside the file)
// gives false and changes nothing.
// Context: implementation TU; the helper process, or the in-process dump-writer thread.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// [start, end) of the address space.
struct address_range {
    std::uint64_t start;
    std::uint64_t end;
};

/// What dump_scrub_stack_words did.
struct stack_scrub_counts {
    std::uint64_t zeroed = 0;   // words zeroed
    std::uint64_t kept = 0;     // non-zero words kept (pointers into stacks or code)
    std::uint32_t threads = 0;  // stacks looked at
};

/// The thread list's and module list's places in a dump, checked to lie inside it.
struct scrub_layout {
    std::uint64_t threads_at = 0;  // first MINIDUMP_THREAD
    std::uint32_t thread_count = 0;
    std::uint64_t modules_at = 0;  // first MINIDUMP_MODULE
    std::uint32_t module_count = 0;
};

inline bool scrub_read(const unsigned char* dump, std::size_t size, std::uint64_t at, void* out, std::size_t n) {
    if (at > size || size - at < n) return false;
    std::memcpy(out, dump + at, n);
    return true;
}

inline bool scrub_find_layout(const unsigned char* dump, std::size_t size, scrub_layout* out) {
    minidump::header h;
    if (!scrub_read(dump, size, 0, &h, sizeof(h)) || h.signature != minidump::k_signature) return false;
    for (std::uint32_t i = 0; i < h.stream_count; ++i) {
        minidump::directory d;
        if (!scrub_read(dump, size, std::uint64_t{h.stream_directory_rva} + std::uint64_t{i} * sizeof(d), &d, sizeof(d))) return false;
        const std::uint64_t end = std::uint64_t{d.location.rva} + d.location.data_size;
        if (d.stream_type == minidump::stream_thread_list) {
            std::uint32_t count = 0;
            if (end > size || !scrub_read(dump, size, d.location.rva, &count, 4)) return false;
            if (4 + std::uint64_t{count} * sizeof(minidump::thread) > d.location.data_size) return false;
            out->threads_at = std::uint64_t{d.location.rva} + 4;
            out->thread_count = count;
        } else if (d.stream_type == minidump::stream_module_list) {
            std::uint32_t count = 0;
            if (end > size || !scrub_read(dump, size, d.location.rva, &count, 4)) return false;
            const std::uint64_t needed = std::uint64_t{count} * sizeof(minidump::module);
            std::uint64_t first = std::uint64_t{d.location.rva} + 4;
            if (d.location.data_size == 8 + needed) first += 4;  // some writers pad after the count
            else if (d.location.data_size < 4 + needed) return false;
            out->modules_at = first;
            out->module_count = count;
        }
    }
    return true;
}

/// Does `v` point into a stack (the dump's ranges, widened by `bounds`) or a module's image?
inline bool scrub_word_kept(const unsigned char* dump, const scrub_layout& l, const address_range* bounds,
                            std::size_t bound_count, std::uint64_t v) {
    if (v < 4096) return false;
    for (std::size_t i = 0; i < bound_count; ++i) {
        if (v >= bounds[i].start && v < bounds[i].end) return true;
    }
    for (std::uint32_t i = 0; i < l.thread_count; ++i) {
        minidump::thread t;
        std::memcpy(&t, dump + l.threads_at + std::uint64_t{i} * sizeof(t), sizeof(t));
        if (v >= t.stack.start_of_memory_range && v - t.stack.start_of_memory_range < t.stack.memory.data_size) return true;
    }
    for (std::uint32_t i = 0; i < l.module_count; ++i) {
        minidump::module m;
        std::memcpy(&m, dump + l.modules_at + std::uint64_t{i} * sizeof(m), sizeof(m));
        if (v >= m.base_of_image && v - m.base_of_image < m.size_of_image) return true;
    }
    return false;
}

/// scrubbed_stacks on a finished dump (see above). `bounds`: further stack ranges (each
/// thread's whole stack, when the caller knows it); may be null. false, and the dump unchanged,
/// when its thread list, module list or a stack lies outside the file.
inline bool dump_scrub_stack_words(unsigned char* dump, std::size_t size, const address_range* bounds, std::size_t bound_count,
                                   stack_scrub_counts* out) {
    *out = stack_scrub_counts{};
    scrub_layout l;
    if (!scrub_find_layout(dump, size, &l)) return false;
    if (l.module_count > 0 && l.modules_at + std::uint64_t{l.module_count} * sizeof(minidump::module) > size) return false;
    for (std::uint32_t i = 0; i < l.thread_count; ++i) {  // every stack inside the file first
        minidump::thread t;
        std::memcpy(&t, dump + l.threads_at + std::uint64_t{i} * sizeof(t), sizeof(t));
        if (std::uint64_t{t.stack.memory.rva} + t.stack.memory.data_size > size) return false;
    }
    for (std::uint32_t i = 0; i < l.thread_count; ++i) {
        minidump::thread t;
        std::memcpy(&t, dump + l.threads_at + std::uint64_t{i} * sizeof(t), sizeof(t));
        const std::uint64_t n = t.stack.memory.data_size;
        if (n == 0) continue;
        ++out->threads;
        unsigned char* data = dump + t.stack.memory.rva;
        const std::uint64_t head = (8 - (t.stack.start_of_memory_range & 7)) & 7;
        std::uint64_t at = head < n ? head : n;
        std::memset(data, 0, static_cast<std::size_t>(at));
        for (; at + 8 <= n; at += 8) {
            std::uint64_t w = 0;
            std::memcpy(&w, data + at, 8);
            if (w == 0) continue;
            if (scrub_word_kept(dump, l, bounds, bound_count, w)) {
                ++out->kept;
                continue;
            }
            std::memset(data + at, 0, 8);
            ++out->zeroed;
        }
        if (at < n) std::memset(data + at, 0, static_cast<std::size_t>(n - at));
    }
    return true;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
