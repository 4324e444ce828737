// crashdrop/helper/exit_watch_linux.hpp - abnormal exits (issue 14), the helper's side on Linux:
// what it keeps while the application lives (its module list with build ids, its start time,
// a pidfd, its cgroup's OOM-kill count) and, once the application has gone, the one decision
// whether that was an abnormal exit (settle_application_end), with the report it then writes:
// a minimal minidump built from what it holds (minidump/exit_dump.hpp).
//
// How the helper knows what ended the process: the socket closes when the process releases its
// files (in the kernel's do_exit, after its exit code is set and its memory is gone, before its
// parent is woken). /proc/<pid>/stat then still shows the process (exiting or a zombie) with its
// exit code (field 52, the wait status) until the parent reaps it; a pidfd opened while it lived
// keeps the exit code past the reaping on Linux >= 6.15 (PIDFD_GET_INFO, PIDFD_INFO_EXIT). A
// death by a signal is abnormal; an exit by status (`_exit(n)`) is not. The OOM killer: the
// oom_kill (+ oom_group_kill) count in the application's cgroup's memory.events (v2; v1's
// memory.oom_control as a fallback), kept fresh while it runs: an increase since the last look
// together with SIGKILL says OOM.
// Nothing here runs in the application: the helper reads /proc and the files named in the
// memory map from its own process.
// Context: implementation TU; the helper process (ordinary code).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// How often the helper looks again at the application's modules and OOM count while it runs.
constexpr int k_exit_watch_refresh_ms = 2000;

/// What /proc/<pid>/stat says about a process.
struct proc_stat_facts {
    char state = '?';
    unsigned long long flags = 0;       // field 9: the kernel's PF_* flags
    unsigned long long start_time = 0;  // field 22 (clock ticks since boot): with the pid, which process
    int exit_code = 0;                  // field 52: the wait status once it is exiting
};
constexpr unsigned long long k_pf_exiting = 0x4;  // PF_EXITING: do_exit() has begun

inline bool read_proc_stat(long pid, proc_stat_facts* out) {
    std::string text;
    if (!read_system_file("/proc/" + std::to_string(pid) + "/stat", &text, 8192)) return false;
    const std::size_t paren = text.rfind(')');  // the command name may hold spaces and ')'
    if (paren == std::string::npos) return false;
    int field = 2;
    std::size_t at = paren + 1;
    while (at < text.size()) {
        while (at < text.size() && text[at] == ' ') ++at;
        const std::size_t end = std::min(text.find(' ', at), text.size());
        ++field;
        const std::string v = text.substr(at, end - at);
        if (field == 3 && !v.empty()) out->state = v[0];
        else if (field == 9) out->flags = std::strtoull(v.c_str(), nullptr, 10);
        else if (field == 22) out->start_time = std::strtoull(v.c_str(), nullptr, 10);
        else if (field == 52) out->exit_code = std::atoi(v.c_str());
        at = end;
    }
    return field >= 22;
}

/// PIDFD_GET_INFO (Linux >= 6.15; include/uapi/linux/pidfd.h): the first version of its struct.
struct pidfd_info_v0 {
    std::uint64_t mask;
    std::uint64_t cgroupid;
    std::uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    std::int32_t exit_code;
};
static_assert(sizeof(pidfd_info_v0) == 64, "PIDFD_INFO_SIZE_VER0");
constexpr std::uint64_t k_pidfd_info_exit = 1ull << 3;

/// What ended the application, as far as the helper can tell.
struct exit_cause {
    enum what_t { still_running, by_status, by_signal, unknown } what = unknown;
    int status = 0;    // by_status
    int signo = 0;     // by_signal
    bool core = false; // by_signal: the kernel wrote a core file
    std::string source;  // where it was read: "/proc" or "pidfd"; or why it could not be
};

inline exit_cause decode_wait_status(int code, const char* source) {
    exit_cause c;
    c.source = source;
    if ((code & 0x7f) != 0 && (code & 0x7f) != 0x7f) {
        c.what = exit_cause::by_signal;
        c.signo = code & 0x7f;
        c.core = (code & 0x80) != 0;
    } else {
        c.what = exit_cause::by_status;
        c.status = (code >> 8) & 0xff;
    }
    return c;
}

/// Reads what ended process `pid` (started at `start_time`): /proc first (the process exiting or
/// a zombie), then the pidfd (after the parent reaped it). A process that is there and not
/// exiting has not ended (it exec'd: its close-on-exec socket closed).
inline exit_cause read_exit_cause(long pid, unsigned long long start_time, int pidfd) {
#if defined(CRASHDROP_TEST_HOOKS)
    // Tests only: as if the parent had reaped the process first on a kernel before 6.15.
    if (std::getenv("CRASHDROP_TEST_EXIT_CAUSE_UNREADABLE") != nullptr) {
        exit_cause c;
        c.source = "test hook: the exit code was made unreadable";
        return c;
    }
#endif
    for (int attempt = 0; attempt < 20; ++attempt) {
        proc_stat_facts st;
        if (read_proc_stat(pid, &st) && st.start_time == start_time) {
            if (st.state != 'Z' && st.state != 'X' && (st.flags & k_pf_exiting) == 0) {
                exit_cause c;
                c.what = exit_cause::still_running;
                c.source = "/proc";
                return c;
            }
            return decode_wait_status(st.exit_code, "/proc");
        }
        if (pidfd >= 0) {
            pidfd_info_v0 info;
            std::memset(&info, 0, sizeof(info));
            info.mask = k_pidfd_info_exit;
            if (ioctl(pidfd, _IOWR(0xFF, 11, pidfd_info_v0), &info) == 0 && (info.mask & k_pidfd_info_exit) != 0) {
                return decode_wait_status(info.exit_code, "pidfd");
            }
            if (errno == ENOTTY || errno == EINVAL) break;  // a kernel before 6.15
        } else {
            break;
        }
        usleep(5000);  // reaped, and the pidfd's exit information not published yet
    }
    exit_cause c;
    c.source = pidfd >= 0 ? "reaped before it was read; this kernel keeps no exit code for a pidfd (Linux < 6.15)"
                          : "reaped before it was read; no pidfd";
    return c;
}

inline const char* exit_signal_name(int sig) {
    switch (sig) {
        case SIGHUP: return "SIGHUP";
        case SIGINT: return "SIGINT";
        case SIGQUIT: return "SIGQUIT";
        case SIGILL: return "SIGILL";
        case SIGTRAP: return "SIGTRAP";
        case SIGABRT: return "SIGABRT";
        case SIGBUS: return "SIGBUS";
        case SIGFPE: return "SIGFPE";
        case SIGKILL: return "SIGKILL";
        case SIGUSR1: return "SIGUSR1";
        case SIGSEGV: return "SIGSEGV";
        case SIGUSR2: return "SIGUSR2";
        case SIGPIPE: return "SIGPIPE";
        case SIGALRM: return "SIGALRM";
        case SIGTERM: return "SIGTERM";
        case SIGXCPU: return "SIGXCPU";
        case SIGXFSZ: return "SIGXFSZ";
        case SIGVTALRM: return "SIGVTALRM";
        case SIGPROF: return "SIGPROF";
        case SIGIO: return "SIGIO";
        case SIGPWR: return "SIGPWR";
        case SIGSYS: return "SIGSYS";
        case SIGSTKFLT: return "SIGSTKFLT";
        default: return nullptr;
    }
}

// ---- the OOM killer's count ----------------------------------------------------------------

/// The file that counts OOM kills in the cgroup of `pid`: cgroup v2's memory.events, or cgroup
/// v1's memory.oom_control (its memory hierarchy); empty when neither can be found.
inline std::string oom_events_path(long pid) {
    std::string groups, mounts;
    if (!read_system_file("/proc/" + std::to_string(pid) + "/cgroup", &groups, 1u << 16)) return std::string();
    read_system_file("/proc/self/mountinfo", &mounts, 1u << 20);
    std::string v2_path, v1_path;
    std::size_t at = 0;
    while (at < groups.size()) {
        std::size_t end = groups.find('\n', at);
        if (end == std::string::npos) end = groups.size();
        const std::string line = groups.substr(at, end - at);
        at = end + 1;
        const std::size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
        if (b == std::string::npos) continue;
        const std::string controllers = line.substr(a + 1, b - a - 1);
        if (line.compare(0, a, "0") == 0 && controllers.empty()) v2_path = line.substr(b + 1);
        else if (("," + controllers + ",").find(",memory,") != std::string::npos) v1_path = line.substr(b + 1);
    }
    // mountinfo: id parent dev root mountpoint options [optional...] - fstype source superoptions
    auto mount_of = [&mounts](bool v2, const std::string& path) {
        std::size_t pos = 0;
        while (pos < mounts.size()) {
            std::size_t end = mounts.find('\n', pos);
            if (end == std::string::npos) end = mounts.size();
            const std::string line = mounts.substr(pos, end - pos);
            pos = end + 1;
            std::vector<std::string> f;
            for (std::size_t i = 0; i < line.size();) {
                const std::size_t sp = std::min(line.find(' ', i), line.size());
                f.push_back(line.substr(i, sp - i));
                i = sp + 1;
            }
            std::size_t dash = 0;
            while (dash < f.size() && f[dash] != "-") ++dash;
            if (f.size() < 5 || dash + 3 > f.size()) continue;
            const std::string& type = f[dash + 1];
            const bool match = v2 ? type == "cgroup2" : (type == "cgroup" && ("," + f[dash + 3] + ",").find(",memory,") != std::string::npos);
            if (!match) continue;
            std::string rel = path;
            const std::string& root = f[3];
            if (root != "/" && rel.compare(0, root.size(), root) == 0) rel = rel.substr(root.size());
            return f[4] + (rel == "/" ? std::string() : rel);
        }
        return std::string();
    };
    struct stat st;
    if (!v2_path.empty()) {
        const std::string dir = mount_of(true, v2_path);
        if (!dir.empty() && stat((dir + "/memory.events").c_str(), &st) == 0) return dir + "/memory.events";
    }
    if (!v1_path.empty()) {
        const std::string dir = mount_of(false, v1_path);
        if (!dir.empty() && stat((dir + "/memory.oom_control").c_str(), &st) == 0) return dir + "/memory.oom_control";
    }
    return std::string();
}

/// oom_kill + oom_group_kill in the file; -1 when it cannot be read.
inline long long read_oom_kills(const std::string& path) {
    std::string text;
    if (path.empty() || !read_system_file(path, &text, 1u << 14)) return -1;
    long long total = -1;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(at, end - at);
        at = end + 1;
        for (const char* key : {"oom_kill ", "oom_group_kill "}) {
            if (line.compare(0, std::strlen(key), key) == 0) total = std::max(total, 0LL) + std::atoll(line.c_str() + std::strlen(key));
        }
    }
    return total;
}

// ---- the module list, from /proc/<pid>/maps and the ELF files --------------------------------

/// A file's identity as the dump needs it (read once per file).
struct elf_file_identity {
    bool elf = false;
    std::string codeview;  // "BpEL" + build id; empty when it has none
    std::string soname;
};

/// Reads the build id (PT_NOTE, NT_GNU_BUILD_ID) and DT_SONAME of the ELF file open at `fd`.
inline elf_file_identity read_elf_file_identity(int fd) {
    elf_file_identity id;
    auto read_at = [fd](std::uint64_t off, void* buf, std::size_t n) {
        return pread(fd, buf, n, static_cast<off_t>(off)) == static_cast<ssize_t>(n);
    };
    ElfW(Ehdr) eh;
    if (!read_at(0, &eh, sizeof(eh)) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != (sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32) || eh.e_phentsize != sizeof(ElfW(Phdr)) ||
        eh.e_phnum == 0 || eh.e_phnum > 256) {
        return id;
    }
    id.elf = true;
    std::vector<ElfW(Phdr)> ph(eh.e_phnum);
    if (!read_at(eh.e_phoff, ph.data(), ph.size() * sizeof(ElfW(Phdr)))) return id;
    for (const auto& p : ph) {
        if (p.p_type != PT_NOTE || !id.codeview.empty()) continue;
        std::string notes(static_cast<std::size_t>(std::min<std::uint64_t>(p.p_filesz, 65536)), '\0');
        if (!read_at(p.p_offset, &notes[0], notes.size())) continue;
        for (std::size_t off = 0; off + 12 <= notes.size();) {
            std::uint32_t namesz, descsz, type;
            std::memcpy(&namesz, &notes[off], 4);
            std::memcpy(&descsz, &notes[off + 4], 4);
            std::memcpy(&type, &notes[off + 8], 4);
            const std::size_t name_at = off + 12;
            const std::size_t desc_at = name_at + ((namesz + 3u) & ~3u);
            const std::size_t next = desc_at + ((descsz + 3u) & ~3u);
            if (next > notes.size() || next <= off) break;
            if (type == NT_GNU_BUILD_ID && namesz == 4 && std::memcmp(&notes[name_at], "GNU", 4) == 0 && descsz > 0) {
                const std::uint32_t sig = minidump::k_cv_signature_elf;
                id.codeview.assign(reinterpret_cast<const char*>(&sig), 4);
                id.codeview.append(&notes[desc_at], std::min<std::size_t>(descsz, sigsafe::k_max_build_id));
                break;
            }
            off = next;
        }
    }
    // DT_SONAME: DT_STRTAB is an address; the PT_LOAD segment holding it gives its file offset.
    auto file_offset = [&ph](std::uint64_t vaddr, std::uint64_t* out) {
        for (const auto& p : ph) {
            if (p.p_type == PT_LOAD && vaddr >= p.p_vaddr && vaddr < p.p_vaddr + p.p_filesz) {
                *out = vaddr - p.p_vaddr + p.p_offset;
                return true;
            }
        }
        return false;
    };
    for (const auto& p : ph) {
        if (p.p_type != PT_DYNAMIC) continue;
        std::vector<ElfW(Dyn)> dyn(static_cast<std::size_t>(std::min<std::uint64_t>(p.p_filesz, 16384) / sizeof(ElfW(Dyn))));
        if (dyn.empty() || !read_at(p.p_offset, dyn.data(), dyn.size() * sizeof(ElfW(Dyn)))) break;
        std::uint64_t strtab = 0, name = ~0ull, strtab_off = 0;
        for (const auto& d : dyn) {
            if (d.d_tag == DT_NULL) break;
            if (d.d_tag == DT_STRTAB) strtab = d.d_un.d_ptr;
            if (d.d_tag == DT_SONAME) name = d.d_un.d_val;
        }
        if (name == ~0ull || !file_offset(strtab, &strtab_off)) break;
        char buf[256] = {};
        const ssize_t got = pread(fd, buf, sizeof(buf) - 1, static_cast<off_t>(strtab_off + name));
        if (got > 0) id.soname.assign(buf, strnlen(buf, static_cast<std::size_t>(got)));
        break;
    }
    return id;
}

/// What the helper keeps while the application runs, and reads once it has gone.
class exit_watch {
public:
    /// At the helper's start, with the application alive: its start time, a pidfd, its
    /// cgroup's OOM count and its modules. False when there is nothing to watch.
    bool begin(long pid) {
        pid_ = pid;
        proc_stat_facts st;
        if (pid <= 0 || !read_proc_stat(pid, &st)) return false;
        start_time_ = st.start_time;
        pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
        oom_path_ = oom_events_path(pid);
        oom_kills_ = oom_baseline_ = read_oom_kills(oom_path_);
        refresh();
        return true;
    }
    ~exit_watch() {
        if (pidfd_ >= 0) close(pidfd_);
    }

    /// While the application runs (every k_exit_watch_refresh_ms): the OOM count's baseline,
    /// and the module list when the memory map has changed (a file is read once).
    void refresh() {
        const auto t0 = std::chrono::steady_clock::now();
        const long long kills = read_oom_kills(oom_path_);
        if (kills >= 0) {
            // The baseline is the count one look earlier: a kill in the middle of this look
            // (the socket's end not yet seen) is still counted as new at the end.
            oom_baseline_ = oom_kills_ >= 0 ? oom_kills_ : kills;
            oom_kills_ = kills;
        }
        std::string maps;
        if (read_system_file("/proc/" + std::to_string(pid_) + "/maps", &maps, 16u << 20) && !maps.empty() && maps != maps_) {
            maps_.swap(maps);
            parse_modules();
        }
        last_refresh_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
    }

    long pid() const { return pid_; }
    int pidfd() const { return pidfd_; }
    unsigned long long start_time() const { return start_time_; }
    const std::string& maps() const { return maps_; }
    const std::vector<exit_dump_module>& modules() const { return modules_; }
    const std::string& oom_path() const { return oom_path_; }
    /// The OOM count the end is compared with (-1: unknown).
    long long oom_baseline() const { return oom_baseline_; }
    long long last_refresh_ns() const { return last_refresh_ns_; }
    /// A crash dump of the application was handed over (whatever became of it): its end is
    /// the crash's, never an abnormal exit.
    void crash_handed_off() { crash_handed_off_ = true; }
    bool crash_was_handed_off() const { return crash_handed_off_; }

private:
    void parse_modules() {
        struct line_t {
            std::uint64_t lo, hi, offset, inode;
            unsigned major, minor;
            std::string path;
        };
        std::vector<line_t> lines;
        std::size_t at = 0;
        while (at < maps_.size()) {
            std::size_t end = maps_.find('\n', at);
            if (end == std::string::npos) end = maps_.size();
            const std::string text = maps_.substr(at, end - at);
            at = end + 1;
            line_t l;
            unsigned long long lo = 0, hi = 0, off = 0, ino = 0;
            char perms[8];
            int path_at = 0;
            if (std::sscanf(text.c_str(), "%llx-%llx %7s %llx %x:%x %llu %n", &lo, &hi, perms, &off, &l.major, &l.minor, &ino, &path_at) < 7) {
                continue;
            }
            l.lo = lo;
            l.hi = hi;
            l.offset = off;
            l.inode = ino;
            if (path_at > 0 && static_cast<std::size_t>(path_at) < text.size()) l.path = text.substr(static_cast<std::size_t>(path_at));
            lines.push_back(l);
        }
        std::vector<exit_dump_module> out;
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const line_t& l = lines[i];
            if (l.offset != 0 || l.inode == 0 || l.path.empty() || l.path[0] != '/') continue;
            if (l.path.size() >= 10 && l.path.compare(l.path.size() - 10, 10, " (deleted)") == 0) continue;
            std::uint64_t end = l.hi;
            for (std::size_t j = i + 1; j < lines.size(); ++j) {
                if (lines[j].inode != l.inode || lines[j].major != l.major || lines[j].minor != l.minor) continue;
                if (lines[j].offset == 0) break;  // the same file mapped again: another module
                end = std::max(end, lines[j].hi);
            }
            const std::string key = std::to_string(l.major) + ":" + std::to_string(l.minor) + ":" + std::to_string(l.inode);
            auto found = files_.find(key);
            if (found == files_.end()) found = files_.emplace(key, identify(l.path, l.major, l.minor, l.inode, l.lo, l.hi)).first;
            if (!found->second.elf) continue;
            exit_dump_module m;
            m.base = l.lo;
            m.size = static_cast<std::uint32_t>(std::min<std::uint64_t>(end - l.lo, 0xffffffffu));
            m.codeview = found->second.codeview;
            // Named as Breakpad and dump_syms name it: the folder plus the DT_SONAME.
            m.name = found->second.soname.empty() ? l.path : l.path.substr(0, l.path.rfind('/') + 1) + found->second.soname;
            out.push_back(m);
        }
        modules_.swap(out);
    }

    /// The file behind a mapping: by its path when that is still the same file (device and
    /// inode), else through /proc/<pid>/map_files (privileged); not an ELF file when neither.
    elf_file_identity identify(const std::string& path, unsigned major_dev, unsigned minor_dev, std::uint64_t inode, std::uint64_t lo,
                               std::uint64_t hi) const {
        elf_file_identity none;
        auto same = [&](int fd) {
            struct stat st;
            return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == inode && major(st.st_dev) == major_dev &&
                   minor(st.st_dev) == minor_dev;
        };
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd >= 0 && !same(fd)) {
            close(fd);
            fd = -1;
        }
        if (fd < 0) {
            char name[96];
            std::snprintf(name, sizeof(name), "/proc/%ld/map_files/%llx-%llx", pid_, static_cast<unsigned long long>(lo),
                          static_cast<unsigned long long>(hi));
            fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
            if (fd >= 0 && !same(fd)) {
                close(fd);
                fd = -1;
            }
        }
        if (fd < 0) return none;
        elf_file_identity id = read_elf_file_identity(fd);
        close(fd);
        return id;
    }

    long pid_ = 0;
    int pidfd_ = -1;
    unsigned long long start_time_ = 0;
    std::string oom_path_;
    long long oom_kills_ = -1;
    long long oom_baseline_ = -1;
    std::string maps_;
    std::vector<exit_dump_module> modules_;
    std::map<std::string, elf_file_identity> files_;
    long long last_refresh_ns_ = 0;
    bool crash_handed_off_ = false;
};


// ---- the report ------------------------------------------------------------------------------

/// The application's context store in the region, checked to lie inside it.
inline bool region_context_store(sigsafe::region_header* region, sigsafe::context_store* out) {
    return region != nullptr && region->context_offset != 0 && region->context_offset + region->context_size <= region->region_size &&
           sigsafe::context_attach(out, reinterpret_cast<sigsafe::u8*>(region) + region->context_offset);
}

/// The annotations exactly as a crash dump carries them (dumper_linux.hpp, add_crashpad_info):
/// every annotation slot but the heads of long values, whose parts (key__1, ...) are slots too.
inline std::vector<std::pair<std::string, std::string>> region_annotations(const sigsafe::context_store* cs) {
    std::vector<std::pair<std::string, std::string>> out;
    std::vector<sigsafe::slot_copy> copy(1);  // large: not on the stack
    sigsafe::slot_copy* c = copy.data();
    for (sigsafe::u32 i = 0; i < cs->header->slot_capacity; ++i) {
        if (!sigsafe::context_read_slot(cs, i, c) || c->kind != sigsafe::sk_annotation || (c->flags & sigsafe::sf_split)) continue;
        out.emplace_back(std::string(c->key, c->key_length), std::string(c->value, c->value_length));
    }
    return out;
}

/// The context stream's text (user, tags, attachments, breadcrumbs), as a crash dump's.
inline std::string region_context_text(const sigsafe::context_store* cs) {
    std::string buf(static_cast<std::size_t>(sigsafe::context_dump_bound(cs)) + 1024, '\0');
    sigsafe::text t;
    t.reset(&buf[0], buf.size());
    std::vector<sigsafe::slot_copy> slot(1);
    std::vector<sigsafe::breadcrumb_entry> entry(1);
    std::vector<char> path(limits::attachment_path + 1);
    sigsafe::context_write_text(cs, &t, slot.data(), entry.data(), path.data(), path.size());
    buf.resize(t.size);
    return buf;
}

/// What start() wrote into the dump image and every dump of this process starts with
/// (start_linux.hpp, write_static_image): SystemInfo with its CSD text, cpuinfo, lsb-release,
/// auxv. Read from the region's image; every offset checked. False without SystemInfo.
inline bool region_static_streams(sigsafe::region_header* region, exit_dump_input* in) {
    if (region == nullptr || region->image_offset == 0 || region->image_offset + region->image_capacity > region->region_size) return false;
    const auto* image = reinterpret_cast<const std::uint8_t*>(region) + region->image_offset;
    const std::uint64_t cap = region->image_capacity;
    minidump::header h;
    if (cap < sizeof(h)) return false;
    std::memcpy(&h, image, sizeof(h));
    if (h.signature != minidump::k_signature || h.stream_directory_rva + std::uint64_t{h.stream_count} * sizeof(minidump::directory) > cap) return false;
    bool system = false;
    for (std::uint32_t i = 0; i < h.stream_count && i < 64; ++i) {
        minidump::directory d;
        std::memcpy(&d, image + h.stream_directory_rva + i * sizeof(d), sizeof(d));
        if (std::uint64_t{d.location.rva} + d.location.data_size > cap) continue;
        const char* data = reinterpret_cast<const char*>(image) + d.location.rva;
        if (d.stream_type == minidump::stream_system_info && d.location.data_size >= sizeof(minidump::system_info) && !system) {
            system = true;
            std::memcpy(&in->system, data, sizeof(in->system));
            std::uint32_t bytes = 0;
            const std::uint64_t csd = in->system.csd_version_rva;
            if (csd != 0 && csd + 4 <= cap) std::memcpy(&bytes, image + csd, 4);
            for (std::uint64_t k = 0; csd != 0 && k + 1 < bytes && csd + 4 + k + 2 <= cap; k += 2) {
                std::uint16_t unit = 0;
                std::memcpy(&unit, image + csd + 4 + k, 2);
                in->csd_version.push_back(unit < 0x80 ? static_cast<char>(unit) : '?');
            }
            in->system.csd_version_rva = 0;
        } else if (d.stream_type == minidump::stream_linux_cpu_info || d.stream_type == minidump::stream_linux_lsb_release ||
                   d.stream_type == minidump::stream_linux_auxv) {
            in->extra_streams.emplace_back(d.stream_type, std::string(data, d.location.data_size));
        }
    }
    return system;
}

/// Writes the abnormal-exit report of the application that `watch` watched into pending/ and
/// hands it to the service (metadata, attachments, sending). False (logged) when it could not.
inline bool write_abnormal_exit_report(helper_service* service, sigsafe::region_header* region, const exit_watch& watch,
                                       const exit_cause& cause, bool oom) {
    exit_dump_input in;
    std::string notes = "abnormal exit: the process had ended when this dump was built (by the helper): no thread registers, "
                        "stacks or memory; the module list is the helper's last look at the memory map\n";
    if (!region_static_streams(region, &in)) {
        notes += "system info: not found in the shared region\n";
        in.system.processor_architecture = sigsafe::k_md_processor_architecture;
        in.system.platform_id = minidump::k_platform_linux;
    }
    in.modules = watch.modules();
    in.process_id = static_cast<std::uint32_t>(watch.pid());
    in.exception_thread_id = static_cast<std::uint32_t>(watch.pid());  // the main thread: no other is known
    in.time_date_stamp = static_cast<std::uint32_t>(std::time(nullptr));
    in.exception_code = cause.what == exit_cause::by_signal ? static_cast<std::uint32_t>(cause.signo) : minidump::k_exception_abnormal_exit;
    const std::string id = new_uuid();
    parse_guid(id, &in.report_id);
    parse_guid(service->client_id(), &in.client_id);
    sigsafe::context_store cs{};
    if (region_context_store(region, &cs)) {
        in.annotations = region_annotations(&cs);
        const std::string context = region_context_text(&cs);
        if (!context.empty()) in.extra_streams.emplace_back(static_cast<std::uint32_t>(minidump::stream_crashdrop_context), context);
    } else {
        notes += "annotations and context: the shared region holds no readable context store\n";
    }
    // What ended it, as annotations (their names are the report's; crash_kind wins over the
    // exception code when the kind is read back, read_dump_context).
    std::vector<std::pair<std::string, std::string>> facts = {{k_crash_kind_field, report_kind_name(report_kind::abnormal_exit)}};
    facts.emplace_back("exit_reason", oom ? "oom_kill" : cause.what == exit_cause::by_signal ? "signal" : "unknown");
    if (cause.what == exit_cause::by_signal) {
        const char* name = exit_signal_name(cause.signo);
        facts.emplace_back("exit_signal", name != nullptr ? name : std::to_string(cause.signo));
    }
    facts.emplace_back("exit_cause_source", cause.source);
    override_annotations(&in.annotations, facts);
    if (!watch.maps().empty()) in.extra_streams.emplace_back(static_cast<std::uint32_t>(minidump::stream_linux_maps), watch.maps());
    in.extra_streams.emplace_back(static_cast<std::uint32_t>(minidump::stream_crashdrop_writer_errors), notes);
    std::string error;
    Report r;
    if (!store_helper_dump(service, id, build_exit_dump(in, &error), static_cast<std::time_t>(in.time_date_stamp), &r, &error)) {
        service->log("abnormal exit: the report could not be stored: " + error);
        return false;
    }
    service->persisted(r);
    return true;
}

// ---- the decision ----------------------------------------------------------------------------

/// The application has gone (its socket closed): was that an abnormal exit? The one place
/// that decides, and records the run and writes the report when it was. Not one when: stop()
/// detached it first; a crash dump was handed over (the crash is the report and the run's
/// end); the exit hooks marked a normal exit; it did not end (it exec'd); it exited by status
/// (`_exit(n)`, however non-zero). One when it died by a signal (SIGKILL, SIGTERM's default
/// action, a crash signal whose dump never came), or when its end could not be read at all
/// (reaped before the helper looked, on a kernel that keeps no exit code for a pidfd): then the
/// report says exit_reason=unknown - nothing is lost, at the price of a report for an _exit(n)
/// that lost the race - but the run is not recorded (it reads unknown: such a run must not count
/// towards consecutive_crashes()). OOM when the cgroup's OOM-kill count rose and the signal was
/// SIGKILL (or unknown). Returns the outcome recorded (unknown: none).
inline RunOutcome settle_application_end(helper_service* service, sigsafe::region_header* region, exit_watch* watch) {
    if (region == nullptr || watch == nullptr || watch->pid() <= 0) return RunOutcome::unknown;
    if (region->app_detached.load(std::memory_order_acquire) != 0) {
        service->log("the application detached (stop()): not an abnormal exit");
        return RunOutcome::unknown;
    }
    const std::uint64_t handoff = region->handoff.load(std::memory_order_acquire);
    if (watch->crash_was_handed_off() || (region->signo != 0 && sigsafe::handoff_state_of(handoff) != sigsafe::hs_idle)) {
        return RunOutcome::unknown;  // the crash's dump is the report; the run was recorded crashed
    }
    if (region->exit_state.load(std::memory_order_acquire) == sigsafe::exit_clean) return RunOutcome::unknown;
    const exit_cause cause = read_exit_cause(watch->pid(), watch->start_time(), watch->pidfd());
    if (cause.what == exit_cause::still_running) {
        service->log("the application's socket closed but it runs on (it exec'd): not an exit");
        return RunOutcome::unknown;
    }
    if (cause.what == exit_cause::by_status) {
        service->log("the application exited with status " + std::to_string(cause.status) +
                     " without its exit hooks (_exit, or exit from a forked copy): not an abnormal exit");
        return RunOutcome::unknown;
    }
    const long long kills = read_oom_kills(watch->oom_path());
    const bool oom = kills >= 0 && watch->oom_baseline() >= 0 && kills > watch->oom_baseline() &&
                     (cause.what == exit_cause::unknown || cause.signo == SIGKILL);
    const char* name = cause.what == exit_cause::by_signal ? exit_signal_name(cause.signo) : nullptr;
    service->log("abnormal exit of process " + std::to_string(watch->pid()) + ": " +
                 (cause.what == exit_cause::by_signal ? "killed by " + (name != nullptr ? std::string(name) : "signal " + std::to_string(cause.signo))
                                                      : "ended without a normal exit, how unknown") +
                 (oom ? " (the OOM killer: oom_kill rose in " + watch->oom_path() + ")" : "") + " [" + cause.source + "]");
    // Recorded only when known: a run whose end could not be read may have been an _exit(n),
    // and must not push an application into its crash-loop safe mode; it reads unknown.
    const bool known = cause.what == exit_cause::by_signal || oom;
    std::string error;
    if (known && !record_run_end(service->db().root(), watch->pid(), RunOutcome::abnormal_exit, &error) && !error.empty()) {
        service->log("could not record the abnormally ended run: " + error);
    }
    write_abnormal_exit_report(service, region, *watch, cause, oom);
    return known ? RunOutcome::abnormal_exit : RunOutcome::unknown;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
