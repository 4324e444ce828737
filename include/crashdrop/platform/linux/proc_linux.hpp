// crashdrop/platform/linux/proc_linux.hpp - what the crash path reads from /proc/self:
// the memory map (parsed into the mapping table), the thread list, and for a thread that did
// not answer the capture signal, its stack and program counter from /proc/self/task/T/syscall.
// Context: implementation TU; crash path (crashdrop::sigsafe rules apply).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

/// Parses the line text[pos, eol) of /proc/self/maps into *m (path_offset is into text).
CRASHDROP_SIGSAFE void parse_map_line(const char* text, std::size_t pos, std::size_t eol, mapping* out) {
    mapping& m = *out;
    zero_bytes(&m, sizeof(m));
    std::size_t p = pos;
    m.start = parse_hex(text, eol, &p);
    if (p < eol && text[p] == '-') ++p;
    m.end = parse_hex(text, eol, &p);
    skip_spaces(text, eol, &p);
    if (p + 4 <= eol) {
        if (text[p] == 'r') m.perms |= perm_read;
        if (text[p + 1] == 'w') m.perms |= perm_write;
        if (text[p + 2] == 'x') m.perms |= perm_exec;
        if (text[p + 3] == 'p') m.perms |= perm_private;
        p += 4;
    }
    skip_spaces(text, eol, &p);
    m.offset = parse_hex(text, eol, &p);
    skip_spaces(text, eol, &p);
    const u64 major = parse_hex(text, eol, &p);
    if (p < eol && text[p] == ':') ++p;
    const u64 minor = parse_hex(text, eol, &p);
    m.dev = static_cast<u32>((major << 20) | (minor & 0xfffffu));
    skip_spaces(text, eol, &p);
    m.inode = parse_dec(text, eol, &p);
    skip_spaces(text, eol, &p);
    m.path_offset = static_cast<u32>(p);
    m.path_length = static_cast<u16>(eol - p > 0xffff ? 0xffff : eol - p);
}

/// Parses maps text into g->maps. Returns the number of lines that did not fit the table.
CRASHDROP_SIGSAFE u32 parse_maps(linux_state* g, const char* text, std::size_t n) {
    g->map_count = 0;
    u32 dropped = 0;
    std::size_t pos = 0;
    while (pos < n) {
        std::size_t eol = pos;
        while (eol < n && text[eol] != '\n') ++eol;
        mapping m;
        parse_map_line(text, pos, eol, &m);
        if (m.end > m.start) {
            if (g->map_count < g->map_capacity) {
                copy_bytes(&g->maps[g->map_count], &m, sizeof(m));
                ++g->map_count;
            } else {
                ++dropped;
            }
        }
        pos = eol + 1;
    }
    return dropped;
}

/// PROCMAP_QUERY (Linux 6.11): the mapping holding an address, asked of an open
/// /proc/<pid>/maps with one ioctl instead of reading the whole text (which costs tens of
/// microseconds). The kernel's struct procmap_query (uapi linux/fs.h), version 1.
struct procmap_query_v1 {
    u64 size;  // sizeof(procmap_query_v1)
    u64 query_flags;
    u64 query_addr;
    u64 vma_start;  // out
    u64 vma_end;
    u64 vma_flags;  // out: 1 read, 2 write, 4 execute, 8 shared
    u64 vma_page_size;
    u64 vma_offset;
    u64 inode;
    u32 dev_major;
    u32 dev_minor;
    u32 vma_name_size;  // in: the buffer's size; out: the name's, with its NUL (0: none)
    u32 build_id_size;
    u64 vma_name_addr;
    u64 build_id_addr;
};
static_assert(sizeof(procmap_query_v1) == 104, "struct procmap_query is 104 bytes");
// _IOWR('f', 17, struct procmap_query): read|write (3) << 30 | size << 16 | 'f' << 8 | 17.
constexpr unsigned long k_procmap_query = (3ul << 30) | (sizeof(procmap_query_v1) << 16) | (0x66ul << 8) | 17ul;

/// Asks the open maps file `fd` which mapping holds addr: 1 found (*out, and its name in
/// name[0, name_cap), NUL-terminated), 0 none holds it, -1 the kernel does not answer this
/// question (older than 6.11, or qemu-user, which would answer for itself rather than the guest).
CRASHDROP_SIGSAFE int query_mapping(int fd, u64 addr, mapping* out, char* name, std::size_t name_cap) {
    procmap_query_v1 q;
    zero_bytes(&q, sizeof(q));
    q.size = sizeof(q);
    q.query_addr = addr;
    q.vma_name_addr = reinterpret_cast<u64>(name);
    q.vma_name_size = static_cast<u32>(name_cap);
    const long r = raw_syscall(SYS_ioctl, fd, static_cast<long>(k_procmap_query), to_long(&q));
    if (r == -ENOENT) return 0;
    if (r != 0) return -1;  // ENOTTY, EINVAL: not known here; ENAMETOOLONG cannot happen (PATH_MAX)
    zero_bytes(out, sizeof(*out));
    out->start = q.vma_start;
    out->end = q.vma_end;
    out->offset = q.vma_offset;
    out->inode = q.inode;
    out->dev = (q.dev_major << 20) | (q.dev_minor & 0xfffffu);
    if (q.vma_flags & 1u) out->perms |= perm_read;
    if (q.vma_flags & 2u) out->perms |= perm_write;
    if (q.vma_flags & 4u) out->perms |= perm_exec;
    if (!(q.vma_flags & 8u)) out->perms |= perm_private;
    if (q.vma_name_size == 0) name[0] = '\0';
    return 1;
}

/// The mapping that holds `addr`, looked up now (any thread may call this at any time: the
/// table g->maps belongs to the dump being written): with PROCMAP_QUERY, or else read from
/// the text of /proc/self/maps in pieces through buf[0, cap) (at least PATH_MAX bytes). On
/// success *out is that mapping and path[] the start of its path (NUL-terminated, cut to
/// path_cap - 1 bytes). False when no mapping holds addr or the file cannot be read.
/// "/proc/self/maps" by name first: qemu-user answers that name (only) with the guest's map.
/// ask_kernel false: the text only (the tests compare the two).
CRASHDROP_SIGSAFE bool lookup_mapping(linux_state* g, u64 addr, char* buf, std::size_t cap, mapping* out, char* path,
                                      std::size_t path_cap, bool ask_kernel = true) {
    int fd = sys_openat(AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0 && g->proc_self_fd >= 0) fd = sys_openat(g->proc_self_fd, "maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const int asked = ask_kernel ? query_mapping(fd, addr, out, buf, cap) : -1;
    if (asked >= 0) {
        sys_close(fd);
        std::size_t n = 0;
        while (asked == 1 && n + 1 < path_cap && buf[n] != '\0') {
            path[n] = buf[n];
            ++n;
        }
        path[n] = '\0';
        return asked == 1;
    }
    std::size_t have = 0;  // bytes in buf
    bool eof = false;
    bool skip = false;     // the next line end ends a line too long for buf, whose start was parsed
    bool found = false;
    bool done = false;
    while (!done) {
        if (!eof) {
            const long r = sys_read(fd, buf + have, cap - have);
            if (r == -EINTR) continue;
            if (r <= 0) eof = true;
            else have += static_cast<std::size_t>(r);
        }
        std::size_t pos = 0;
        while (!done) {
            std::size_t eol = pos;
            while (eol < have && buf[eol] != '\n') ++eol;
            const bool whole = eol < have || (eof && eol > pos);
            const bool too_long = pos == 0 && eol == have && have == cap;
            if (!whole && !too_long) break;
            if (!skip) {
                parse_map_line(buf, pos, eol, out);
                if (addr >= out->start && addr < out->end) {
                    found = true;
                    const std::size_t n = min_u64(out->path_length, path_cap - 1);
                    copy_bytes(path, buf + out->path_offset, n);
                    path[n] = '\0';
                }
                if (found || out->start > addr) done = true;  // the lines are in address order
            }
            skip = too_long;
            pos = eol < have ? eol + 1 : have;
        }
        if (pos > 0 && pos < have) copy_bytes(buf, buf + pos, have - pos);  // keep the unfinished line
        have -= pos;
        if (eof && have == 0) done = true;
    }
    sys_close(fd);
    return found;
}

/// The mapping containing addr, or nullptr. The table is sorted (the kernel lists in order).
CRASHDROP_SIGSAFE const mapping* find_mapping(const linux_state* g, u64 addr) {
    u32 lo = 0, hi = g->map_count;
    while (lo < hi) {
        const u32 mid = lo + (hi - lo) / 2;
        const mapping* m = &g->maps[mid];
        if (addr < m->start) hi = mid;
        else if (addr >= m->end) lo = mid + 1;
        else return m;
    }
    return nullptr;
}

/// The first readable mapping that starts above addr, within `window` bytes; nullptr if none.
/// Used when a stack pointer has run off its stack (an overflow into the guard gap).
CRASHDROP_SIGSAFE const mapping* find_readable_above(const linux_state* g, u64 addr, u64 window) {
    for (u32 i = 0; i < g->map_count; ++i) {
        const mapping* m = &g->maps[i];
        if (m->start <= addr) continue;
        if (m->start - addr > window) return nullptr;
        if (m->perms & perm_read) return m;
    }
    return nullptr;
}

CRASHDROP_SIGSAFE_INLINE const char* mapping_path(const linux_state* g, const mapping* m) {
    return g->maps_text + m->path_offset;
}

/// Lists /proc/self/task into g->threads (tids only). Returns threads that did not fit.
CRASHDROP_SIGSAFE u32 enumerate_threads(linux_state* g) {
    g->thread_count = 0;
    u32 dropped = 0;
    int fd = g->task_fd;
    if (fd >= 0 && raw_syscall(SYS_lseek, fd, 0, SEEK_SET) != 0) fd = -1;
    const bool own = fd < 0;  // the kept descriptor is unusable: open one for this dump
    if (own) fd = sys_openat(g->proc_self_fd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    u8* buf = g->scratch;
    for (;;) {
        const long n = sys_getdents64(fd, buf, k_scratch_capacity);
        if (n <= 0) break;
        long off = 0;
        while (off < n) {
            // struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[]
            u16 reclen;
            copy_bytes(&reclen, buf + off + 16, 2);
            const char* name = reinterpret_cast<const char*>(buf + off + 19);
            if (name[0] >= '0' && name[0] <= '9') {
                std::size_t p = 0;
                const u64 tid = parse_dec(name, string_length(name), &p);
                if (g->thread_count < g->thread_capacity) {
                    thread_slot* t = &g->threads[g->thread_count++];
                    t->tid = static_cast<u32>(tid);
                    t->state.store(ts_pending, std::memory_order_relaxed);
                    t->context_rva = 0;
                    t->flags = 0;
                    t->tp = 0;
                    t->name[0] = '\0';
                } else {
                    ++dropped;
                }
            }
            off += reclen;
        }
    }
    if (own) sys_close(fd);
    return dropped;
}

/// Builds "task/<tid>/<leaf>" relative to /proc/self.
CRASHDROP_SIGSAFE void task_path(text* t, char* buf, std::size_t cap, u32 tid, const char* leaf) {
    t->reset(buf, cap);
    text_append(t, "task/");
    text_append_dec(t, tid);
    t->put('/');
    text_append(t, leaf);
}

/// For a thread that did not answer: SP and PC from /proc/self/task/T/syscall, which the
/// kernel fills for a thread blocked in the kernel ("nr a1..a6 sp pc" or "-1 sp pc").
/// Returns false when the thread is running ("running") or the file is unreadable.
CRASHDROP_SIGSAFE bool read_blocked_registers(linux_state* g, u32 tid, u64* sp, u64* pc) {
    char path[64];
    text t;
    task_path(&t, path, sizeof(path), tid, "syscall");
    char buf[256];
    const long n = read_file(g->proc_self_fd, path, buf, sizeof(buf) - 1, nullptr);
    if (n <= 0 || buf[0] == 'r') return false;  // "running"
    // The last two fields are sp and pc.
    std::size_t end = static_cast<std::size_t>(n);
    while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == ' ')) --end;
    std::size_t fields[9];
    std::size_t count = 0;
    std::size_t i = 0;
    while (i < end && count < 9) {
        while (i < end && buf[i] == ' ') ++i;
        if (i < end) fields[count++] = i;
        while (i < end && buf[i] != ' ') ++i;
    }
    if (count < 3) return false;
    std::size_t p = fields[count - 2];
    *sp = parse_hex(buf, end, &p);
    p = fields[count - 1];
    *pc = parse_hex(buf, end, &p);
    return *sp != 0;
}

/// Reads "SigBlk:" from /proc/self/task/T/status and says whether `sig` is blocked.
CRASHDROP_SIGSAFE bool thread_blocks_signal(linux_state* g, u32 tid, int sig) {
    char path[64];
    text t;
    task_path(&t, path, sizeof(path), tid, "status");
    char* buf = reinterpret_cast<char*>(g->scratch);
    const long n = read_file(g->proc_self_fd, path, buf, 4096, nullptr);
    if (n <= 0) return false;
    const std::size_t len = static_cast<std::size_t>(n);
    for (std::size_t i = 0; i + 7 < len; ++i) {
        if ((i == 0 || buf[i - 1] == '\n') && starts_with(buf + i, len - i, "SigBlk:")) {
            std::size_t p = i + 7;
            skip_spaces(buf, len, &p);
            const u64 mask = parse_hex(buf, len, &p);
            return sig >= 1 && sig <= 64 && ((mask >> (sig - 1)) & 1u) != 0;
        }
    }
    return false;
}

/// The thread's name from /proc/self/task/T/comm.
CRASHDROP_SIGSAFE void read_thread_name(linux_state* g, u32 tid, char* out /* 16 */) {
    char path[64];
    text t;
    task_path(&t, path, sizeof(path), tid, "comm");
    const long n = read_file(g->proc_self_fd, path, out, 15, nullptr);
    std::size_t len = n > 0 ? static_cast<std::size_t>(n) : 0;
    while (len > 0 && out[len - 1] == '\n') --len;
    out[len] = '\0';
}

}  // namespace sigsafe
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
