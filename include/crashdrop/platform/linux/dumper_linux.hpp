// crashdrop/platform/linux/dumper_linux.hpp - writes a whole minidump of this process into the
// image start() reserved, then into <database>/pending/<report id>.dmp. The order is chosen
// for speed: the other threads are asked for their registers first, and the streams that do
// not need them (memory map, proc status, modules, DSO debug) are written while they answer.
// Context: implementation TU; crash path (crashdrop::sigsafe rules apply). Runs in the
// crashing thread's signal handler, or in write_dump()'s caller.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {


/// A fresh random (version 4) report id.
CRASHDROP_SIGSAFE void new_report_id(minidump::guid* id) {
    u8 b[16];
    if (sys_getrandom(b, sizeof(b), GRND_NONBLOCK) != static_cast<long>(sizeof(b))) {
        // No entropy yet (early boot): time, pid and address bits still make it unique here.
        const u64 t = static_cast<u64>(monotonic_ns());
        const u64 p = static_cast<u64>(sys_getpid()) ^ reinterpret_cast<u64>(id);
        copy_bytes(b, &t, 8);
        copy_bytes(b + 8, &p, 8);
    }
    copy_bytes(id, b, sizeof(b));
    id->data3 = static_cast<u16>((id->data3 & 0x0fffu) | 0x4000u);
    id->data4[0] = static_cast<u8>((id->data4[0] & 0x3fu) | 0x80u);
}

/// The id as readers print it: 8-4-4-4-12 lower-case hex (36 characters).
CRASHDROP_SIGSAFE void format_report_id(const minidump::guid* id, text* t) {
    text_append_hex(t, id->data1, 8, false);
    t->put('-');
    text_append_hex(t, id->data2, 4, false);
    t->put('-');
    text_append_hex(t, id->data3, 4, false);
    t->put('-');
    for (int i = 0; i < 8; ++i) {
        if (i == 2) t->put('-');
        text_append_hex(t, id->data4[i], 2, false);
    }
}

/// Reads /proc/self/<leaf> into the image as a stream (size-capped). With first_string_only
/// the stream keeps the bytes up to and including the first NUL (argv[0] of "cmdline"); the
/// rest is zeroed again, so not even a gap of the image holds it.
CRASHDROP_SIGSAFE void add_proc_stream(linux_state* g, image* im, const char* leaf, u32 type, u64 cap, text* errors,
                                       bool first_string_only = false) {
    const u32 rva = static_cast<u32>(align_up(im->size, 4));
    const u64 room = image_free_bytes(im) > 4 ? image_free_bytes(im) - 4 : 0;
    bool truncated = false;
    const long n = read_file(g->proc_self_fd, leaf, im->base + rva, static_cast<std::size_t>(min_u64(cap, room)), &truncated);
    if (n < 0) {
        text_append(errors, "/proc/self/");
        text_append(errors, leaf);
        text_append(errors, ": unreadable (errno ");
        text_append_dec(errors, static_cast<u64>(-n));
        text_append(errors, ")\n");
        return;
    }
    u64 kept = static_cast<u64>(n);
    if (first_string_only) {
        const u8* at = im->base + rva;
        u64 len = 0;
        while (len < kept && at[len] != 0) ++len;
        if (len < kept) ++len;  // the NUL
        zero_bytes(im->base + rva + len, static_cast<std::size_t>(kept - len));
        kept = len;
        truncated = false;
    }
    im->size = rva + kept;
    image_add_stream(im, type, rva, kept);
    if (truncated) {
        text_append(errors, "/proc/self/");
        text_append(errors, leaf);
        text_append(errors, ": truncated to ");
        text_append_dec(errors, static_cast<u64>(n));
        text_append(errors, " bytes\n");
    }
}

/// LinuxEnviron from the live `environ` array (what setenv() changed included; the kernel's
/// /proc/self/environ only knows the environment the process started with). Pointers are read
/// with the fault-free reader, so a corrupt array costs the stream, never the dump. Same
/// layout as /proc/self/environ: "KEY=VALUE\0" after one another.
CRASHDROP_SIGSAFE void add_environment(linux_state* g, image* im, u64 cap, text* errors) {
    char** env = nullptr;
    if (read_memory(&g->reader, &env, reinterpret_cast<u64>(&environ), sizeof(env)) != static_cast<long>(sizeof(env)) ||
        env == nullptr) {
        add_proc_stream(g, im, "environ", minidump::stream_linux_environ, cap, errors);
        return;
    }
    const u32 rva = static_cast<u32>(align_up(im->size, 4));
    const u64 room = min_u64(cap, image_free_bytes(im) > 4 ? image_free_bytes(im) - 4 : 0);
    u64 used = 0;
    bool truncated = false;
    for (u32 i = 0; i < 65536; ++i) {
        u64 entry = 0;
        if (read_memory(&g->reader, &entry, reinterpret_cast<u64>(env + i), sizeof(entry)) != static_cast<long>(sizeof(entry)) ||
            entry == 0) {
            break;
        }
        // Copy the string in chunks until its NUL (or until the room runs out).
        u64 at = entry;
        for (;;) {
            if (used + 1 >= room) {
                truncated = true;
                break;
            }
            const std::size_t chunk = static_cast<std::size_t>(min_u64(256, room - used - 1));
            u8* dst = im->base + rva + used;
            const long got = read_memory(&g->reader, dst, at, chunk);
            if (got <= 0) break;
            std::size_t len = 0;
            while (len < static_cast<std::size_t>(got) && dst[len] != 0) ++len;
            used += len;
            at += len;
            if (len < static_cast<std::size_t>(got)) break;  // found the NUL
        }
        if (truncated) break;
        im->base[rva + used] = 0;
        ++used;
    }
    im->size = rva + used;
    image_add_stream(im, minidump::stream_linux_environ, rva, used);
    if (truncated) text_append(errors, "environment: truncated (dump buffer)\n");
}

CRASHDROP_SIGSAFE void add_misc_info(linux_state* g, image* im) {
    minidump::misc_info mi;
    zero_bytes(&mi, sizeof(mi));
    mi.size_of_info = sizeof(mi);
    mi.flags1 = minidump::k_misc1_process_id;
    mi.process_id = static_cast<u32>(g->pid);
    struct tms t;
    if (g->process_create_time != 0 && g->clock_ticks > 0 && sys_times(&t) != -EFAULT) {
        mi.flags1 |= minidump::k_misc1_process_times;
        mi.process_create_time = g->process_create_time;
        mi.process_user_time = static_cast<u32>(static_cast<u64>(t.tms_utime) / static_cast<u64>(g->clock_ticks));
        mi.process_kernel_time = static_cast<u32>(static_cast<u64>(t.tms_stime) / static_cast<u64>(g->clock_ticks));
    }
    image_add_blob_stream(im, minidump::stream_misc_info, &mi, sizeof(mi));
}

/// Trims [*lo, *hi), a range to copy around `pivot`, so that it stays out of [a, b).
/// Returns false when the pivot itself lies in it.
CRASHDROP_SIGSAFE_INLINE bool clip_out(u64 a, u64 b, u64 pivot, u64* lo, u64* hi) {
    if (b <= a) return true;
    if (pivot >= a && pivot < b) return false;
    if (pivot < a) {
        if (*hi > a) *hi = a;
    } else if (*lo < b) {
        *lo = b;
    }
    return true;
}

/// Trims [*lo, *hi), a range to copy around `pivot`, so that it stays out of the argument and
/// environment area at the top of the main thread's stack and out of the helper's restart
/// command. Returns false when nothing is left (the pivot itself lies in one of them).
CRASHDROP_SIGSAFE bool clip_private(const linux_state* g, u64 pivot, u64* lo, u64* hi) {
    if (!clip_out(g->private_lo, g->private_hi, pivot, lo, hi)) return false;
    if (!clip_out(g->command_lo, g->command_hi, pivot, lo, hi)) return false;
    return *hi > *lo;
}

/// Decides each listed thread's stack range [stack_lo, stack_hi).
CRASHDROP_SIGSAFE void plan_stack(linux_state* g, thread_slot* t, text* errors) {
    t->stack_lo = t->stack_hi = 0;
    const auto* ctx = reinterpret_cast<const md_context*>(g->image_base + t->context_rva);
    const u64 sp = context_sp(ctx);
    if (sp == 0) return;
    const mapping* m = find_mapping(g, sp);
    u64 lo;
    if (m != nullptr && (m->perms & perm_read)) {
        lo = sp > k_red_zone ? align_down(sp - k_red_zone, 16) : 0;
        if (lo < m->start) lo = m->start;
    } else {
        // The stack pointer ran off its stack (overflow into the guard gap or guard page):
        // keep the stack right above it, which holds the frames that led here.
        m = find_readable_above(g, sp, 1024 * 1024);
        if (m == nullptr) {
            text_append(errors, "thread ");
            text_append_dec(errors, t->tid);
            text_append(errors, ": stack pointer ");
            text_append_hex(errors, sp, 0, true);
            text_append(errors, " is in no readable mapping; no stack captured\n");
            return;
        }
        lo = m->start;
        text_append(errors, "thread ");
        text_append_dec(errors, t->tid);
        text_append(errors, ": stack pointer ");
        text_append_hex(errors, sp, 0, true);
        text_append(errors, " is below its stack (overflow); stack captured from ");
        text_append_hex(errors, lo, 0, true);
        text_append(errors, "\n");
    }
    const u64 limit = (t->flags & tf_crashed) ? g->crashed_stack_limit : g->other_stack_limit;
    u64 hi = min_u64(m->end, lo + limit);
    // The main thread's stack ends where the kernel's argc, argv, environment and aux vector
    // begin (the initial stack pointer): main's and _start's frames lie below it.
    if (!clip_private(g, lo, &lo, &hi)) {
        text_append(errors, "thread ");
        text_append_dec(errors, t->tid);
        text_append(errors, ": stack pointer in the argument and environment area; no stack captured\n");
        return;
    }
    t->stack_lo = lo;
    t->stack_hi = hi;
}


/// Shrinks every stack plan so that all of them fit in `budget` bytes: the crashing thread
/// keeps up to half, the others share the rest evenly (the largest are cut first).
CRASHDROP_SIGSAFE void fit_stacks(linux_state* g, u64 budget, text* errors) {
    u64 total = 0;
    u64 largest = 0;
    thread_slot* crashed = nullptr;
    for (u32 i = 0; i < g->thread_count; ++i) {
        thread_slot* t = &g->threads[i];
        const u64 want = t->stack_hi - t->stack_lo;
        total += want;
        if (t->flags & tf_crashed) crashed = t;
        else if (want > largest) largest = want;
    }
    if (total <= budget) return;
    u64 rest = budget;
    if (crashed != nullptr) {
        const u64 want = crashed->stack_hi - crashed->stack_lo;
        const u64 keep = min_u64(want, budget / 2);
        crashed->stack_hi = crashed->stack_lo + keep;
        rest = budget - keep;
    }
    // Largest cap c with sum(min(want_i, c)) <= rest, by bisection.
    u64 lo = 0, hi = largest;
    while (lo < hi) {
        const u64 mid = lo + (hi - lo + 1) / 2;
        u64 sum = 0;
        for (u32 i = 0; i < g->thread_count; ++i) {
            const thread_slot* t = &g->threads[i];
            if (t != crashed) sum += min_u64(t->stack_hi - t->stack_lo, mid);
        }
        if (sum <= rest) lo = mid;
        else hi = mid - 1;
    }
    const u64 cap = align_down(lo, 16);
    u32 trimmed = 0;
    for (u32 i = 0; i < g->thread_count; ++i) {
        thread_slot* t = &g->threads[i];
        if (t == crashed || t->stack_hi - t->stack_lo <= cap) continue;
        t->stack_hi = t->stack_lo + cap;
        ++trimmed;
    }
    text_append(errors, "stacks: the dump buffer is full; ");
    text_append_dec(errors, trimmed);
    text_append(errors, " thread stacks trimmed to ");
    text_append_dec(errors, cap);
    text_append(errors, " bytes each (the crashing thread kept ");
    text_append_dec(errors, crashed != nullptr ? crashed->stack_hi - crashed->stack_lo : 0);
    text_append(errors, ")\n");
}

/// Copies [lo, hi) of this process into the image and lists it in the memory ranges.
/// Returns the RVA (0 when nothing could be read); *size receives the bytes kept.
CRASHDROP_SIGSAFE u32 copy_memory(linux_state* g, image* im, range_list* rl, u64 lo, u64 hi, u32* size) {
    *size = 0;
    if (hi <= lo || rl->count >= rl->capacity) return 0;
    const u64 saved = im->size;
    const u32 rva = image_alloc_raw(im, hi - lo, 16);
    if (rva == 0) return 0;
    const long got = read_memory(&g->reader, im->base + rva, lo, static_cast<std::size_t>(hi - lo));
    if (got <= 0) {
        im->size = saved;
        return 0;
    }
    im->size = rva + static_cast<u64>(got);
    *size = static_cast<u32>(got);
    range_add(rl, lo, *size, rva);
    return rva;
}

/// The ThreadList stream with every thread's stack, fitted into what the image has left. All
/// stacks are read in one batch (one system call for up to k_batch_max threads).
CRASHDROP_SIGSAFE void add_threads(linux_state* g, image* im, range_list* rl, text* errors) {
    u32 listed = 0;
    for (u32 i = 0; i < g->thread_count; ++i) {
        if (g->threads[i].state.load(std::memory_order_acquire) != ts_gone) ++listed;
    }
    const u32 list_rva = image_alloc(im, 4 + u64{listed} * sizeof(minidump::thread), 8);
    if (list_rva == 0) {
        text_append(errors, "thread list: no room in the dump buffer\n");
        return;
    }
    for (u32 i = 0; i < g->thread_count; ++i) {
        thread_slot* t = &g->threads[i];
        if (t->state.load(std::memory_order_acquire) == ts_gone) t->stack_lo = t->stack_hi = 0;
        else plan_stack(g, t, errors);
    }
    // Keep room for what comes after the stacks: names, memory list, context, errors.
    const u64 reserve = 64 * 1024 + u64{g->thread_count} * 96 + k_errors_capacity + context_dump_bound(&g->context);
    const u64 free_bytes = image_free_bytes(im);
    fit_stacks(g, free_bytes > reserve ? free_bytes - reserve : 0, errors);

    auto* iov = reinterpret_cast<struct iovec*>(g->scratch);
    auto* req = reinterpret_cast<memory_request*>(g->scratch + 2 * k_batch_max * sizeof(struct iovec));
    static_assert(2 * k_batch_max * sizeof(struct iovec) + k_batch_max * sizeof(memory_request) <= k_scratch_capacity,
                  "the batch fits the scratch area");
    u32 written = 0;
    for (u32 first = 0; first < g->thread_count; first += k_batch_max) {
        const u32 last = g->thread_count - first < k_batch_max ? g->thread_count : first + k_batch_max;
        u32 n = 0;
        for (u32 i = first; i < last; ++i) {  // room in the image for each stack, then one read
            thread_slot* t = &g->threads[i];
            req[i - first].len = 0;
            req[i - first].got = 0;
            req[i - first].dst = nullptr;
            req[i - first].addr = 0;
            if (t->stack_hi <= t->stack_lo || rl->count + n >= rl->capacity) continue;
            const u32 rva = image_alloc_raw(im, t->stack_hi - t->stack_lo, 16);
            if (rva == 0) continue;
            req[i - first].dst = im->base + rva;
            req[i - first].addr = t->stack_lo;
            req[i - first].len = static_cast<std::size_t>(t->stack_hi - t->stack_lo);
            ++n;
        }
        // A stack of a thread stopped in our handler, inside an anonymous private mapping, cannot
        // fault (anonymous memory raises no SIGBUS; the thread cannot unmap it now): copy it
        // directly. Anything else goes through the fault-free reader.
        for (u32 i = first; i < last; ++i) {
            memory_request* r = &req[i - first];
            const thread_slot* t = &g->threads[i];
            if (r->len == 0 || t->state.load(std::memory_order_acquire) != ts_captured) continue;
            const mapping* m = find_mapping(g, r->addr);
            if (m == nullptr || r->addr + r->len > m->end || m->inode != 0 || m->path_length > 0 ||
                (m->perms & (perm_read | perm_write | perm_private)) != (perm_read | perm_write | perm_private)) {
                continue;
            }
            copy_large(r->dst, reinterpret_cast<const void*>(r->addr), r->len);
            r->got = static_cast<long>(r->len);
            r->len = 0;  // done: the batch below skips it
        }
        read_memory_many(&g->reader, req, last - first, iov);
        for (u32 i = first; i < last; ++i) {
            thread_slot* t = &g->threads[i];
            if (t->state.load(std::memory_order_acquire) == ts_gone) continue;
            const memory_request* r = &req[i - first];
            const std::size_t copied = r->got > 0 ? static_cast<std::size_t>(r->got) : 0;
            minidump::thread rec;
            zero_bytes(&rec, sizeof(rec));
            rec.thread_id = t->tid;
            rec.teb = t->tp;
            rec.thread_context.data_size = sizeof(md_context);
            rec.thread_context.rva = t->context_rva;
            if (copied > 0) {
                const u32 rva = static_cast<u32>(static_cast<u8*>(r->dst) - im->base);
                rec.stack.start_of_memory_range = r->addr;
                rec.stack.memory.data_size = static_cast<u32>(r->got);
                rec.stack.memory.rva = rva;
                range_add(rl, r->addr, static_cast<u32>(r->got), rva);
            } else if (t->stack_hi > t->stack_lo) {
                text_append(errors, "thread ");
                text_append_dec(errors, t->tid);
                text_append(errors, ": stack at ");
                text_append_hex(errors, t->stack_lo, 0, true);
                text_append(errors, " unreadable\n");
            }
            copy_bytes(im->base + list_rva + 4 + u64{written} * sizeof(rec), &rec, sizeof(rec));
            ++written;
        }
    }
    copy_bytes(im->base + list_rva, &written, 4);
    image_add_stream(im, minidump::stream_thread_list, list_rva, 4 + u64{written} * sizeof(minidump::thread));
}

// ---- registers and spilled registers that hold argument or environment bytes --------------
// String routines (getenv, strlen, strcmp, memcpy) load 8 to 32 bytes at a time into general
// and vector registers, and those keep the bytes until something else is loaded. They travel
// further: a new thread starts with its creator's registers, and the lazy binder, a signal
// frame or a context switch to a callee spills them onto a stack. So the writer checks what it
// copied against the strings area, [private_strings, private_hi):
//   - each data register of each thread (context_data_registers), at every offset: a register
//     holding a matching 8-byte window is cleared;
//   - each copied memory range (stacks, memory around registers), 8-byte aligned words (where
//     registers are spilled): a matching word is cleared.
// Only windows with at least 7 non-zero bytes are compared: pointers, return addresses, small
// numbers and padding never are. A Bloom filter of the area's windows (two hashed bits each, in the scratch
// area) makes each check two bit tests; a hit is confirmed by a scan of the area, within a
// budget: past it (a huge environment saturates the filter) a hit counts as a match unconfirmed,
// so the writer clears more than it must but never runs long.

constexpr u32 k_window_bits = 19;  // 2^19 bits = 64 KiB = k_scratch_capacity
constexpr u64 k_confirm_budget = 16u * 1024 * 1024;  // area bytes scanned to confirm hits, per dump (a few ms)
static_assert((std::size_t{1} << k_window_bits) / 8 <= k_scratch_capacity, "the window filter fits the scratch area");

CRASHDROP_SIGSAFE_INLINE u64 load_window(const u8* p) {
    u64 v;
    __builtin_memcpy(&v, p, 8);  // a single 8-byte load, never a call
    return v;
}
/// At least 7 non-zero bytes: a user-space pointer (its two top bytes are zero on x86-64 and
/// arm64), a return address or a small number never qualifies, so a stack stays walkable.
CRASHDROP_SIGSAFE_INLINE bool window_has_text(u64 w) {
    int nonzero = 0;
    for (int i = 0; i < 8; ++i) nonzero += ((w >> (8 * i)) & 0xffu) != 0 ? 1 : 0;
    return nonzero >= 7;
}
CRASHDROP_SIGSAFE_INLINE u64 window_hash1(u64 w) { return (w * 0x9e3779b97f4a7c15ull) >> (64 - k_window_bits); }
CRASHDROP_SIGSAFE_INLINE u64 window_hash2(u64 w) { return ((w ^ (w >> 29)) * 0xbf58476d1ce4e5b9ull) >> (64 - k_window_bits); }

struct window_filter {
    const u8* area;
    u64 size;
    u8* bits;
    u64 budget;        // area bytes the confirming scans may still read
    bool unconfirmed;  // a hit was taken as a match without a scan (budget spent)
};

/// Builds the filter over the strings area. False (and nothing to check) when the area is
/// unknown or no longer mapped as it was at start().
CRASHDROP_SIGSAFE bool window_filter_begin(linux_state* g, window_filter* f, text* errors) {
    if (g->private_hi <= g->private_strings || g->private_hi - g->private_strings < 8) return false;
    // The area is the top of the main thread's stack, mapped for the life of the process; make
    // sure it still is before reading it directly.
    const mapping* m = find_mapping(g, g->private_strings);
    if (m == nullptr || m->end < g->private_hi || !(m->perms & perm_read)) {
        text_append(errors, "privacy: the argument and environment area is no longer mapped; registers not checked\n");
        return false;
    }
    f->area = reinterpret_cast<const u8*>(g->private_strings);
    f->size = g->private_hi - g->private_strings;
    f->bits = g->scratch;
    f->budget = k_confirm_budget;
    f->unconfirmed = false;
    zero_bytes(f->bits, std::size_t{1} << (k_window_bits - 3));
    for (u64 i = 0; i + 8 <= f->size; ++i) {
        const u64 w = load_window(f->area + i);
        if (!window_has_text(w)) continue;
        const u64 h1 = window_hash1(w), h2 = window_hash2(w);
        f->bits[h1 >> 3] = static_cast<u8>(f->bits[h1 >> 3] | (1u << (h1 & 7)));
        f->bits[h2 >> 3] = static_cast<u8>(f->bits[h2 >> 3] | (1u << (h2 & 7)));
    }
    return true;
}

/// Is `w` one of the area's 8-byte windows (with text in it)? The filter's bits first: most
/// words of a stack (zeros, pointers, return addresses) stop there.
CRASHDROP_SIGSAFE_INLINE bool window_filter_has(window_filter* f, u64 w) {
    const u64 h1 = window_hash1(w);
    if ((f->bits[h1 >> 3] & (1u << (h1 & 7))) == 0) return false;
    const u64 h2 = window_hash2(w);
    if ((f->bits[h2 >> 3] & (1u << (h2 & 7))) == 0 || !window_has_text(w)) return false;
    if (f->budget < f->size) {
        f->unconfirmed = true;
        return true;
    }
    f->budget -= f->size;
    for (u64 i = 0; i + 8 <= f->size; ++i) {
        if (load_window(f->area + i) == w) return true;
    }
    return false;
}

/// Clears, in every listed thread's context, each data register that holds 8 bytes in a row of
/// the strings area, and in every copied memory range each aligned word that does; the
/// writer-errors stream says how many.
CRASHDROP_SIGSAFE void scrub_private_bytes(linux_state* g, image* im, const range_list* rl, text* errors) {
    window_filter f;
    if (!window_filter_begin(g, &f, errors)) return;
    register_bytes regs[k_max_data_registers];
    for (u32 t = 0; t < g->thread_count; ++t) {
        thread_slot* slot = &g->threads[t];
        if (slot->state.load(std::memory_order_acquire) == ts_gone) continue;
        auto* ctx = reinterpret_cast<md_context*>(im->base + slot->context_rva);
        const std::size_t n = context_data_registers(ctx, regs);
        u32 cleared = 0;
        for (std::size_t r = 0; r < n; ++r) {
            for (u32 at = 0; at + 8 <= regs[r].size; ++at) {
                if (!window_filter_has(&f, load_window(regs[r].data + at))) continue;
                zero_bytes(regs[r].data, regs[r].size);
                ++cleared;
                break;
            }
        }
        if (cleared != 0) {
            text_append(errors, "thread ");
            text_append_dec(errors, slot->tid);
            text_append(errors, ": ");
            text_append_dec(errors, cleared);
            text_append(errors, " registers cleared (they held bytes of the argument or environment strings)\n");
        }
    }
    u64 words = 0;
    for (u32 i = 0; i < rl->count; ++i) {
        const memory_range* r = &rl->items[i];
        u8* data = im->base + r->rva;
        for (u64 at = (8 - (r->start & 7)) & 7; at + 8 <= r->size; at += 8) {
            if (!window_filter_has(&f, load_window(data + at))) continue;
            zero_bytes(data + at, 8);
            ++words;
        }
    }
    if (words != 0) {
        text_append(errors, "memory: ");
        text_append_dec(errors, words);
        text_append(errors, " words cleared (copies of the argument or environment strings, e.g. spilled registers)\n");
    }
    if (f.unconfirmed) {
        text_append(errors, "privacy: the argument and environment strings are large (");
        text_append_dec(errors, f.size);
        text_append(errors, " bytes); some words and registers were cleared on the filter's word alone\n");
    }
}

/// Memory around the crashing thread's instruction pointer and around every register that
/// points into readable memory (512 bytes each, clipped so no two ranges overlap).
CRASHDROP_SIGSAFE void add_register_memory(linux_state* g, image* im, range_list* rl, const md_context* ctx) {
    u64 values[k_max_context_registers + 1];
    std::size_t n = context_registers(ctx, values);
    values[n++] = context_ip(ctx);
    for (std::size_t i = 0; i < n; ++i) {
        const u64 v = values[i];
        const mapping* m = find_mapping(g, v);
        if (m == nullptr || !(m->perms & perm_read)) continue;
        // Device mappings may have side effects when read.
        if (m->path_length >= 5 && starts_with(mapping_path(g, m), m->path_length, "/dev/")) continue;
        u64 lo = v >= 256 ? v - 256 : 0;
        u64 hi = v + 256;
        if (lo < m->start) lo = m->start;
        if (hi > m->end) hi = m->end;
        if (!clip_private(g, v, &lo, &hi)) continue;  // never the argument and environment strings
        if (!range_clip_around(rl, v, &lo, &hi)) continue;
        u32 size = 0;
        copy_memory(g, im, rl, lo, hi, &size);
    }
}

// ---- memory capture levels (Options::memory_capture) ------------------------------------
// full: the stacks and the memory around the crashing thread's registers (add_register_memory).
// stacks_only: the stacks, and the code around the crashing instruction when it lies in code
// of a file (is_code_mapping: bytes of the program's own files, never data it handled).
// scrubbed_stacks: as stacks_only, and in every copied stack each 8-byte word that points
// neither into a thread's stack nor into code (is_code_mapping) is zeroed. Return addresses (into
// code) and saved frame and stack pointers (into stacks) stay, so every stack still walks.
// Registers are kept as they are at every level: the walk starts from them, and a register's
// value is not the memory it points at.

/// Code: an executable mapping, or a read-only mapping of a file (a module's code or constants;
/// qemu-user shows a guest's code as such, r--p).
CRASHDROP_SIGSAFE_INLINE bool is_code_mapping(const mapping* m) {
    if (m->perms & perm_exec) return true;
    return m->inode != 0 && (m->perms & (perm_read | perm_write)) == perm_read;
}

/// Only the code around the crashing thread's instruction pointer (512 bytes), when it lies in
/// code (is_code_mapping) of a file.
CRASHDROP_SIGSAFE void add_code_memory(linux_state* g, image* im, range_list* rl, const md_context* ctx) {
    const u64 ip = context_ip(ctx);
    const mapping* m = find_mapping(g, ip);
    if (m == nullptr || m->inode == 0 || !is_code_mapping(m) || !(m->perms & perm_read)) return;
    if (m->path_length >= 5 && starts_with(mapping_path(g, m), m->path_length, "/dev/")) return;
    u64 lo = ip >= 256 ? ip - 256 : 0;
    u64 hi = ip + 256;
    if (lo < m->start) lo = m->start;
    if (hi > m->end) hi = m->end;
    if (!range_clip_around(rl, ip, &lo, &hi)) return;
    u32 size = 0;
    copy_memory(g, im, rl, lo, hi, &size);
}

/// Does `v` point into a listed thread's stack mapping or into code (is_code_mapping)?
CRASHDROP_SIGSAFE_INLINE bool word_kept(const linux_state* g, u64 v) {
    if (v < 4096) return false;
    const mapping* m = find_mapping(g, v);
    return m != nullptr && ((m->marks & mark_stack) != 0 || is_code_mapping(m));
}

/// scrubbed_stacks: zeroes, in the copied ranges (the stacks: called before anything else is
/// copied), every aligned 8-byte word that word_kept() rejects, and any bytes of a range's
/// ends too short to be a word. The writer-errors stream says how many words.
CRASHDROP_SIGSAFE void scrub_stack_words(linux_state* g, image* im, const range_list* rl, text* errors) {
    for (u32 i = 0; i < g->map_count; ++i) g->maps[i].marks = 0;
    for (u32 i = 0; i < g->thread_count; ++i) {
        const thread_slot* t = &g->threads[i];
        if (t->state.load(std::memory_order_acquire) == ts_gone || t->stack_hi <= t->stack_lo) continue;
        const mapping* m = find_mapping(g, t->stack_lo);
        if (m != nullptr) g->maps[m - g->maps].marks = static_cast<u8>(g->maps[m - g->maps].marks | mark_stack);
    }
    u64 zeroed = 0, kept = 0;
    for (u32 i = 0; i < rl->count; ++i) {
        const memory_range* r = &rl->items[i];
        u8* data = im->base + r->rva;
        const u64 head = (8 - (r->start & 7)) & 7;
        zero_bytes(data, static_cast<std::size_t>(min_u64(head, r->size)));
        u64 at = head;
        for (; at + 8 <= r->size; at += 8) {
            const u64 w = load_window(data + at);
            if (w == 0) continue;
            if (word_kept(g, w)) {
                ++kept;
                continue;
            }
            zero_bytes(data + at, 8);
            ++zeroed;
        }
        if (at < r->size) zero_bytes(data + at, static_cast<std::size_t>(r->size - at));
    }
    text_append(errors, "memory_capture: scrubbed_stacks: ");
    text_append_dec(errors, zeroed);
    text_append(errors, " stack words zeroed, ");
    text_append_dec(errors, kept);
    text_append(errors, " kept (pointers into stacks or code); no memory around registers\n");
}

/// The memory besides the stacks, as g->memory_capture says (see above).
CRASHDROP_SIGSAFE void add_memory_by_level(linux_state* g, image* im, range_list* rl, const md_context* ctx, text* errors) {
    if (g->memory_capture == static_cast<u32>(MemoryCapture::full)) {
        add_register_memory(g, im, rl, ctx);
        return;
    }
    if (g->memory_capture == static_cast<u32>(MemoryCapture::scrubbed_stacks)) scrub_stack_words(g, im, rl, errors);
    else text_append(errors, "memory_capture: stacks_only: no memory around registers\n");
    add_code_memory(g, im, rl, ctx);
}

CRASHDROP_SIGSAFE void add_thread_names(linux_state* g, image* im) {
    u32 named = 0;
    for (u32 i = 0; i < g->thread_count; ++i) {
        const thread_slot* t = &g->threads[i];
        if (t->state.load(std::memory_order_acquire) != ts_gone && t->name[0] != '\0') ++named;
    }
    const u32 rva = image_alloc(im, 4 + u64{named} * sizeof(minidump::thread_name), 4);
    if (rva == 0) return;
    u32 written = 0;
    for (u32 i = 0; i < g->thread_count && written < named; ++i) {
        const thread_slot* t = &g->threads[i];
        if (t->state.load(std::memory_order_acquire) == ts_gone || t->name[0] == '\0') continue;
        minidump::thread_name e;
        e.thread_id = t->tid;
        e.rva_of_thread_name = image_add_string(im, t->name, string_length(t->name));
        if (e.rva_of_thread_name == 0) break;
        copy_bytes(im->base + rva + 4 + u64{written} * sizeof(e), &e, sizeof(e));
        ++written;
    }
    copy_bytes(im->base + rva, &written, 4);
    image_add_stream(im, minidump::stream_thread_name_list, rva, 4 + u64{written} * sizeof(minidump::thread_name));
}

/// What a dump is, as its annotation crash_kind says (minidump::k_annotation_crash_kind): the
/// names of report_kind_name (database/metadata.hpp; a unit test holds them equal). The one
/// place a dump request's kind is decided: a hang dump (req hang_tid) names `hang` here.
CRASHDROP_SIGSAFE_INLINE const char* dump_kind_name(const dump_request* req) {
    return req->is_crash ? "crash" : req->hang_tid != 0 ? "hang" : "requested";
}

/// True for an annotation slot the dump must not list: the parts of a long value are listed
/// as they are, but a slot named crash_kind gives way to the writer's own entry.
CRASHDROP_SIGSAFE_INLINE bool is_kind_slot(const slot_copy& c) {
    return c.key_length == sizeof(minidump::k_annotation_crash_kind) - 1 &&
           bytes_equal(c.key, minidump::k_annotation_crash_kind, sizeof(minidump::k_annotation_crash_kind) - 1);
}

/// The annotations a hang dump adds (only to that dump: they are never in the context store).
constexpr const char* k_hang_thread_key = "hang_thread";
constexpr const char* k_hang_ms_key = "hang_ms";

/// Is slot copy `c` the annotation `key`?
CRASHDROP_SIGSAFE_INLINE bool annotation_is(const slot_copy* c, const char* key) {
    const u32 n = static_cast<u32>(string_length(key));
    if (c->key_length != n) return false;
    for (u32 i = 0; i < n; ++i) {
        if (c->key[i] != key[i]) return false;
    }
    return true;
}

/// Does slot copy `c` go into the dictionary as an annotation? Not crash_kind (the writer's
/// own), and in a hang dump not hang_thread or hang_ms (the writer's own too).
CRASHDROP_SIGSAFE_INLINE bool annotation_listed(const slot_copy* c, bool hang) {
    if (c->kind != sk_annotation || (c->flags & sf_split) || is_kind_slot(*c)) return false;
    return !hang || (!annotation_is(c, k_hang_thread_key) && !annotation_is(c, k_hang_ms_key));
}

/// Crashpad's info stream: the report id, the client id and the annotations as a simple
/// string dictionary (long values as their parts key__1, key__2, ...), the first entry being
/// crash_kind (dump_kind_name). A hang dump (req hang_tid) adds hang_thread and hang_ms, in
/// place of annotations of the same names.
CRASHDROP_SIGSAFE void add_crashpad_info(linux_state* g, image* im, const minidump::guid* report_id, const dump_request* req) {
    const context_store* cs = &g->context;
    slot_copy c;
    const bool hang = req->hang_tid != 0;
    u32 count = hang ? 3 : 1;  // crash_kind (and hang_thread, hang_ms)
    const u32 slots = cs->header != nullptr ? cs->header->slot_capacity : 0;
    for (u32 i = 0; i < slots; ++i) {
        if (context_read_slot(cs, i, &c) && annotation_listed(&c, hang)) ++count;
    }
    const u32 dict = image_alloc(im, 4 + u64{count} * sizeof(minidump::simple_string_dictionary_entry), 4);
    const u32 info_rva = image_alloc(im, sizeof(minidump::crashpad_info), 8);
    if (dict == 0 || info_rva == 0) return;
    u32 written = 0;
    {
        const char* kind = dump_kind_name(req);
        minidump::simple_string_dictionary_entry e;
        e.key = image_add_utf8(im, minidump::k_annotation_crash_kind, sizeof(minidump::k_annotation_crash_kind) - 1);
        e.value = image_add_utf8(im, kind, string_length(kind));
        if (e.key != 0 && e.value != 0) {
            copy_bytes(im->base + dict + 4, &e, sizeof(e));
            written = 1;
        }
    }
    if (hang && written > 0) {
        char number[24];
        text t;
        const char* keys[2] = {k_hang_thread_key, k_hang_ms_key};
        const u64 values[2] = {req->hang_tid, req->hang_ms};
        for (int k = 0; k < 2; ++k) {
            t.reset(number, sizeof(number));
            text_append_dec(&t, values[k]);
            minidump::simple_string_dictionary_entry e;
            e.key = image_add_utf8(im, keys[k], string_length(keys[k]));
            e.value = image_add_utf8(im, number, t.size);
            if (e.key == 0 || e.value == 0) break;
            copy_bytes(im->base + dict + 4 + u64{written} * sizeof(e), &e, sizeof(e));
            ++written;
        }
    }
    for (u32 i = 0; i < slots && written < count && written > 0; ++i) {
        if (!context_read_slot(cs, i, &c) || !annotation_listed(&c, hang)) continue;
        minidump::simple_string_dictionary_entry e;
        e.key = image_add_utf8(im, c.key, c.key_length);
        e.value = image_add_utf8(im, c.value, c.value_length);
        if (e.key == 0 || e.value == 0) break;
        copy_bytes(im->base + dict + 4 + u64{written} * sizeof(e), &e, sizeof(e));
        ++written;
    }
    copy_bytes(im->base + dict, &written, 4);
    auto* info = image_at<minidump::crashpad_info>(im, info_rva);
    info->version = 1;
    copy_bytes(&info->report_id, report_id, sizeof(*report_id));
    copy_bytes(&info->client_id, &g->client_id, sizeof(g->client_id));
    info->simple_annotations.rva = dict;
    info->simple_annotations.data_size = static_cast<u32>(4 + u64{written} * sizeof(minidump::simple_string_dictionary_entry));
    image_add_stream(im, minidump::stream_crashpad_info, info_rva, sizeof(minidump::crashpad_info));
}

/// crashdrop's context stream: user, tags, attachments and breadcrumbs as escaped
/// "key=value" lines (context/store.hpp), written straight into the image.
CRASHDROP_SIGSAFE void add_context_stream(linux_state* g, image* im) {
    const context_store* cs = &g->context;
    if (cs->header == nullptr) return;
    const u64 bound = context_dump_bound(cs);
    const u64 free_bytes = image_free_bytes(im);
    const u32 rva = static_cast<u32>(align_up(im->size, 4));
    if (free_bytes < 1024 + (rva - im->size)) return;
    text t;
    t.reset(reinterpret_cast<char*>(im->base + rva), static_cast<std::size_t>(min_u64(bound, free_bytes - (rva - im->size))));
    // The scratch area holds the copies the readers need (the writer is done with it here).
    auto* slot = reinterpret_cast<slot_copy*>(g->scratch);
    auto* entry = reinterpret_cast<breadcrumb_entry*>(g->scratch + align_up(sizeof(slot_copy), 64));
    char* path = reinterpret_cast<char*>(g->scratch + align_up(sizeof(slot_copy), 64) + align_up(sizeof(breadcrumb_entry), 64));
    static_assert(sizeof(slot_copy) + sizeof(breadcrumb_entry) + limits::attachment_path + 256 < k_scratch_capacity, "fits");
    context_write_text(cs, &t, slot, entry, path, limits::attachment_path + 1);
    if (t.size == 0) return;
    im->size = rva + t.size;
    image_add_stream(im, minidump::stream_crashdrop_context, rva, t.size);
}

CRASHDROP_SIGSAFE void add_memory_list(image* im, const range_list* rl) {
    const u32 rva = image_alloc(im, 4 + u64{rl->count} * sizeof(minidump::memory_descriptor), 8);
    if (rva == 0) return;
    copy_bytes(im->base + rva, &rl->count, 4);
    for (u32 i = 0; i < rl->count; ++i) {
        minidump::memory_descriptor d;
        d.start_of_memory_range = rl->items[i].start;
        d.memory.data_size = rl->items[i].size;
        d.memory.rva = rl->items[i].rva;
        copy_bytes(im->base + rva + 4 + u64{i} * sizeof(d), &d, sizeof(d));
    }
    image_add_stream(im, minidump::stream_memory_list, rva, 4 + u64{rl->count} * sizeof(minidump::memory_descriptor));
}

/// Reads /proc/self/maps straight into the image as the LinuxMaps stream and parses it into
/// the mapping table.
CRASHDROP_SIGSAFE void add_maps(linux_state* g, image* im, text* errors) {
    const u32 rva = static_cast<u32>(align_up(im->size, 4));
    const u64 cap = min_u64(image_free_bytes(im) > 8 ? image_free_bytes(im) - 8 : 0, im->capacity / 4);
    bool truncated = false;
    const long n = read_file(g->proc_self_fd, "maps", im->base + rva, static_cast<std::size_t>(cap), &truncated);
    g->map_count = 0;
    if (n <= 0) {
        text_append(errors, "/proc/self/maps: unreadable\n");
        return;
    }
    im->size = rva + static_cast<u64>(n);
    g->maps_text = reinterpret_cast<const char*>(im->base + rva);
    const u32 dropped = parse_maps(g, g->maps_text, static_cast<std::size_t>(n));
    image_add_stream(im, minidump::stream_linux_maps, rva, static_cast<u64>(n));
    if (truncated) text_append(errors, "/proc/self/maps: truncated (dump buffer)\n");
    if (dropped != 0) {
        text_append(errors, "/proc/self/maps: ");
        text_append_dec(errors, dropped);
        text_append(errors, " mappings beyond the table's capacity were not used\n");
    }
}

/// Writes one complete minidump (see the file comment). Returns 0, or -errno when the file
/// could not be written. g->last_path receives the file's path.
CRASHDROP_SIGSAFE long write_minidump(linux_state* g, const dump_request* req) {
    // Not while a helper that answered late is still reading the last dump from the image.
    const long claimed = claim_image(g, req->is_crash ? k_crash_claim_wait_ms : k_helper_answer_timeout_ms, req->is_crash);
    if (claimed < 0) return claimed;
    const u32 generation = g->dump_generation.fetch_add(1, std::memory_order_acq_rel) + 1;
    g->acks.store(0, std::memory_order_release);
    g->acks_wanted.store(~0u, std::memory_order_seq_cst);
    g->crash_unreleased_ns.store(0, std::memory_order_release);
    text errors;
    errors.reset(g->errors, k_errors_capacity);
    text_append(&errors, g->static_notes);

    // The image keeps what start() wrote (header, SystemInfo, cpuinfo, auxv, lsb-release).
    image im;
    im.base = g->image_base;
    im.capacity = g->image_capacity;
    im.size = g->image_static_size;
    im.directory_capacity = k_directory_capacity;
    im.stream_count = g->image_static_streams;
    auto* header = image_at<minidump::header>(&im, 0);
    header->stream_count = im.stream_count;
    zero_bytes(im.base + sizeof(minidump::header) + u64{im.stream_count} * sizeof(minidump::directory),
               (k_directory_capacity - im.stream_count) * sizeof(minidump::directory));
    struct timespec now;
    now.tv_sec = 0;
    sys_clock_gettime(CLOCK_REALTIME, &now);
    header->time_date_stamp = static_cast<u32>(now.tv_sec);
    minidump::guid report_id;
    new_report_id(&report_id);

    // 1. The threads, and a context slot in the image for each.
    CRASHDROP_DETAIL_CRASH_PHASE("writer entered");
    const u32 dropped_threads = enumerate_threads(g);
    CRASHDROP_DETAIL_CRASH_PHASE("threads listed");
    thread_slot* self = nullptr;
    for (u32 i = 0; i < g->thread_count; ++i) {
        if (g->threads[i].tid == req->tid) self = &g->threads[i];
    }
    if (self == nullptr && g->thread_count > 0) {  // not listed (table full): take the last slot
        if (g->thread_count < g->thread_capacity) ++g->thread_count;
        self = &g->threads[g->thread_count - 1];
        self->tid = req->tid;
        self->name[0] = '\0';
    } else if (self == nullptr) {
        g->thread_count = 1;
        self = &g->threads[0];
        self->tid = req->tid;
        self->name[0] = '\0';
    }
    {
        const u64 per_thread = sizeof(md_context) + sizeof(minidump::thread) + 64;
        const u64 fit = image_free_bytes(&im) / 2 / per_thread;
        if (g->thread_count > fit) {
            // Keep our own thread: swap it to the front of what is kept (only tids are set yet).
            const u32 first = g->threads[0].tid;
            g->threads[0].tid = self->tid;
            self->tid = first;
            self = &g->threads[0];
            text_append(&errors, "threads: ");
            text_append_dec(&errors, g->thread_count - fit);
            text_append(&errors, " threads not listed (dump buffer)\n");
            g->thread_count = static_cast<u32>(fit);
        }
    }
    if (dropped_threads != 0) {
        text_append(&errors, "threads: ");
        text_append_dec(&errors, dropped_threads);
        text_append(&errors, " threads beyond the table's capacity were not listed\n");
    }
    const u32 contexts = image_alloc(&im, u64{g->thread_count} * sizeof(md_context), 16);
    if (contexts == 0) return -ENOSPC;  // cannot happen: `fit` above left room for them
    for (u32 i = 0; i < g->thread_count; ++i) {
        g->threads[i].context_rva = contexts + i * static_cast<u32>(sizeof(md_context));
        g->threads[i].flags = 0;
        g->threads[i].stack_lo = g->threads[i].stack_hi = 0;
    }
    self->flags = req->is_crash ? tf_crashed : tf_requester;
    // A hang: the watched thread is the one the dump is about (the crashing thread's stack
    // budget, its registers' memory, the exception). Captured like every other thread.
    thread_slot* hung = nullptr;
    if (req->hang_tid != 0) {
        for (u32 i = 0; i < g->thread_count; ++i) {
            if (g->threads[i].tid == req->hang_tid && &g->threads[i] != self) hung = &g->threads[i];
        }
        if (hung != nullptr) {
            hung->flags = tf_crashed;
        } else {
            text_append(&errors, "hang: the watched thread ");
            text_append_dec(&errors, req->hang_tid);
            text_append(&errors, " is not in the thread list (it has exited); the exception names the writing thread\n");
        }
    }
    if (req->uc != nullptr) {
        fill_context(reinterpret_cast<md_context*>(im.base + self->context_rva), req->uc);
        self->tp = thread_pointer();
        sys_prctl(PR_GET_NAME, reinterpret_cast<unsigned long>(self->name));
        self->state.store(ts_captured, std::memory_order_release);
    }
    for (u32 i = 0; i < g->thread_count; ++i) {  // threads that crashed too and are waiting
        thread_slot* t = &g->threads[i];
        if (t == self) continue;
        if (const crash_record* r = find_secondary(g, t->tid)) {
            copy_bytes(im.base + t->context_rva, &r->context, sizeof(md_context));
            t->flags |= tf_also_crashed;
            read_thread_name(g, t->tid, t->name);
            t->state.store(ts_captured, std::memory_order_release);
            text_append(&errors, "thread ");
            text_append_dec(&errors, t->tid);
            text_append(&errors, ": also crashed (signal ");
            text_append_dec(&errors, static_cast<u64>(r->signo));
            text_append(&errors, " at ");
            text_append_hex(&errors, r->address, 0, true);
            text_append(&errors, ") while this dump was written\n");
        }
    }

    // 2. Ask every other thread (and, for write_dump(), the caller itself) for its registers.
    u32 asked = 0;
    if (install_capture_handler(g)) {
        asked = request_registers(g, generation, req->uc != nullptr ? req->tid : 0);
        g->acks_wanted.store(asked, std::memory_order_seq_cst);
    } else {
        text_append(&errors, "threads: the capture signal could not be installed\n");
    }
    const long long deadline = monotonic_ns() + static_cast<long long>(g->suspend_timeout_ms) * 1000000LL;
    CRASHDROP_DETAIL_CRASH_PHASE("registers asked");

    // 3. Meanwhile, the streams that do not need them: first the memory map (read straight
    // into its stream and parsed from there), which the modules and the stacks need.
    add_maps(g, &im, &errors);
    add_proc_stream(g, &im, "status", minidump::stream_linux_proc_status, 64 * 1024, &errors);
    add_proc_stream(g, &im, "cmdline", minidump::stream_linux_cmd_line, 64 * 1024, &errors, !g->include_command_line);
    if (g->include_environment) add_environment(g, &im, 256 * 1024, &errors);
    write_module_list(g, &im, &errors);
    write_dso_debug(g, &im, &errors);
    add_misc_info(g, &im);
    CRASHDROP_DETAIL_CRASH_PHASE("maps, /proc, modules");

    // 4. Answers, then every thread with its stack.
    wait_for_answers(g, asked, deadline);
    settle_late_threads(g, &errors);
    CRASHDROP_DETAIL_CRASH_PHASE("registers answered");
    range_list rl;
    rl.items = g->ranges;
    rl.count = 0;
    rl.capacity = g->range_capacity;
    add_threads(g, &im, &rl, &errors);
    CRASHDROP_DETAIL_CRASH_PHASE("stacks copied");
    const thread_slot* subject = hung != nullptr ? hung : self;  // the exception's thread
    const auto* self_ctx = reinterpret_cast<const md_context*>(im.base + subject->context_rva);
    add_memory_by_level(g, &im, &rl, self_ctx, &errors);
    scrub_private_bytes(g, &im, &rl, &errors);
    CRASHDROP_DETAIL_CRASH_PHASE("memory by level, scrubbed");
    if (!req->is_crash) release_threads(g, generation);  // the app may go on; memory is copied

    // 5. The exception, names, annotations, memory list, and what could not be captured.
    {
        minidump::exception_stream es;
        zero_bytes(&es, sizeof(es));
        es.thread_id = subject->tid;
        if (req->is_crash) {
            es.exception.exception_code = static_cast<u32>(req->signo);
            es.exception.exception_flags = static_cast<u32>(req->code);
            es.exception.exception_address = req->address;
        } else {
            es.exception.exception_code = req->hang_tid != 0 ? minidump::k_exception_hang : minidump::k_exception_dump_requested;
            es.exception.exception_address = context_ip(self_ctx);
        }
        es.thread_context.data_size = sizeof(md_context);
        es.thread_context.rva = subject->context_rva;
        image_add_blob_stream(&im, minidump::stream_exception, &es, sizeof(es));
    }
    add_thread_names(g, &im);
    add_crashpad_info(g, &im, &report_id, req);
    add_context_stream(g, &im);
    add_memory_list(&im, &rl);
    if (errors.size > 0) image_add_blob_stream(&im, minidump::stream_crashdrop_writer_errors, errors.data, errors.size);

    // 6. The file, appearing in pending/ complete.
    char name[64];
    text file_name;
    file_name.reset(name, sizeof(name));
    format_report_id(&report_id, &file_name);
    text_append(&file_name, ".dmp");
    char id_text[40];
    copy_bytes(id_text, name, 36);
    id_text[36] = '\0';
    CRASHDROP_DETAIL_CRASH_PHASE("streams done");
    const long w = deliver_dump(g, &im, name, id_text, req);
    CRASHDROP_DETAIL_CRASH_PHASE("delivered");
    text path;
    path.reset(g->last_path, sizeof(g->last_path));
    text_append(&path, g->pending_path);
    path.put('/');
    text_append(&path, name);
    return w;
}

}  // namespace sigsafe

namespace detail {

/// Fills the module-identity cache with the modules loaded now (start() time, ordinary code):
/// the same walk a dump does, into the not-yet-used image.
inline void prime_module_cache(sigsafe::linux_state* g) {
    sigsafe::image im;
    sigsafe::image_begin(&im, g->image_base, g->image_capacity, 2);
    sigsafe::text errors;
    errors.reset(g->errors, sigsafe::k_errors_capacity);
    sigsafe::add_maps(g, &im, &errors);
    sigsafe::write_module_list(g, &im, &errors);
}

/// A dump of the running process asked for by thread `tid`, which holds the writer (g->owner):
/// write_dump()'s, or with `hang_tid` a hang report naming the watched thread. `self`: the
/// caller's registers, taken in its own frame (nullptr: it answers its own capture signal).
/// The other threads are released before it returns. Returns write_minidump's result.
inline long write_requested_dump(sigsafe::linux_state* g, sigsafe::u32 tid, const ucontext_t* self, sigsafe::u32 hang_tid = 0,
                                 sigsafe::u64 hang_ms = 0) {
    sigsafe::dump_request req;
    req.is_crash = false;
    req.signo = 0;
    req.code = 0;
    req.address = 0;
    req.uc = self;
    req.tid = tid;
    req.hang_tid = hang_tid;
    req.hang_ms = hang_ms;
    const long r = sigsafe::write_minidump(g, &req);
    sigsafe::release_threads(g, g->dump_generation.load(std::memory_order_acquire));
    return r;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
