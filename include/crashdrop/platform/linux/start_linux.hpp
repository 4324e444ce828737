// crashdrop/platform/linux/start_linux.hpp - start(), write_dump() and prepare_thread() on
// Linux: checks the options, prepares the database, reserves and pre-faults every byte the
// crash path will use, writes the parts of the dump that never change (SystemInfo, cpuinfo,
// auxv, lsb-release) once, and only then installs the handlers.
// Context: implementation TU; ordinary code (may allocate), except where it calls into sigsafe.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

using sigsafe::linux_state;

// Where start() stands, for tests/bench/start_bench.cpp (which defines it before including
// crashdrop to time each phase); nothing otherwise.
#ifndef CRASHDROP_DETAIL_START_PHASE
#define CRASHDROP_DETAIL_START_PHASE(name) ((void)0)
#endif

/// Creates the folders and proves a report can be written there (a probe file is created
/// exclusively and removed). Refuses a database that is not the user's alone: an existing
/// folder reached through a symbolic link in its last part, owned by another user, or writable
/// by group or others (database::check). On failure returns Error::database_unavailable with
/// the reason.
struct database_layout {
    std::string root;     // absolute
    std::string pending;  // absolute
    std::string completed;
    int pending_fd = -1;  // O_DIRECTORY, for openat() on the crash path
};

inline Status prepare_database(const std::string& root_given, database_layout* out) {
    std::string root_in = root_given;
    while (root_in.size() > 1 && root_in.back() == '/') root_in.pop_back();  // "link/" would follow the link
    struct stat st;
    if (lstat(root_in.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
        return Status(Error::database_unavailable, "database_path '" + root_given +
                                                       "' is a symbolic link (a database folder must be a real folder, not a link to one)");
    }
    const bool root_exists = lstat(root_in.c_str(), &st) == 0 && S_ISDIR(st.st_mode);  // the usual case: one lstat, no mkdir walk
    if (int err = root_exists ? 0 : make_directories(root_in)) {
        return Status(Error::database_unavailable, "database_path '" + root_in + "' cannot be created: " + errno_text(err));
    }
    char* resolved = realpath(root_in.c_str(), nullptr);
    if (resolved == nullptr) {
        return Status(Error::database_unavailable, "database_path '" + root_in + "': " + errno_text(errno));
    }
    database db(resolved);
    std::free(resolved);
    std::string why;
    if (!check_private_folder(db.root(), &why)) {  // before anything is created in it
        return Status(Error::database_unavailable, "database_path '" + root_given + "' refused: " + why);
    }
    // A database used before passes the check as it is (its folders are there, and private):
    // then nothing is created (no mkdir walk from / for each folder). Else the folders are
    // created and checked again, which says what is wrong when something still is.
    if (!db.check(&why)) {
        std::string where;
        if (int err = db.create(&where)) {
            return Status(Error::database_unavailable, "'" + where + "' cannot be created: " + errno_text(err));
        }
        if (!db.check(&why)) return Status(Error::database_unavailable, "database_path '" + root_given + "' refused: " + why);
    }
    out->root = db.root();
    out->pending = db.pending_dir();
    out->completed = db.completed_dir();
    const int fd = open_folder(out->pending);
    if (fd < 0) return Status(Error::database_unavailable, "'" + out->pending + "' cannot be opened: " + errno_text(errno));
    // An unnamed file first (O_TMPFILE: nothing is added to the folder, nothing to remove);
    // a named one where the file system has no unnamed files.
    const std::string probe = ".write-probe-" + std::to_string(getpid()) + ".tmp";
    int pfd = openat(fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    const bool named = pfd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL || errno == ENOENT);
    if (named) pfd = openat(fd, probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int err = pfd < 0 ? errno : 0;
    if (pfd >= 0) {
        if (write(pfd, "x", 1) != 1) err = errno != 0 ? errno : EIO;
        close(pfd);
        if (named) unlinkat(fd, probe.c_str(), 0);
    }
    if (err != 0) {
        close(fd);
        return Status(Error::database_unavailable, "'" + out->pending + "' is not writable: " + errno_text(err));
    }
    out->pending_fd = fd;
    return Status::success();
}

/// Process-wide things start() keeps in ordinary memory (allocated once, never freed).
struct linux_runtime {
    std::string database_root;
    packed_command respawn;  // what respawn_helper() execs (its own mapping; dumps never copy it)
};
inline linux_runtime& runtime() {
    static linux_runtime* r = new linux_runtime();  // never destroyed: a crash may come during exit
    return *r;
}

/// Reserves the region: a memfd (so the helper maps the same memory) whose memory is committed
/// now with fallocate(), so that no page is allocated after a crash. It is mapped without its
/// pages: the process maps only the pages it writes (a minor fault each, on a page that
/// exists), and its exit tears down only those - mapping all of them cost start() 3 ms and a
/// crashed process's exit 1 ms. The page tables that can cover the region are made now (one
/// page touched per 2 MiB), so a fault after a crash allocates nothing. Where fallocate() is
/// refused, every page is mapped and touched as before. *fd_out keeps the memfd (-1 when only
/// anonymous shared memory could be had: then no helper can be given the dumps).
inline sigsafe::u8* reserve_region(std::size_t size, int* fd_out, bool commit_now) {
    void* p = MAP_FAILED;
    *fd_out = -1;
    bool committed = false;
    const int fd = static_cast<int>(syscall(SYS_memfd_create, "crashdrop", 1u /* MFD_CLOEXEC */));
    if (fd >= 0) {
        // Deferred: the helper commits the memfd's memory at its own start (helper_process_main),
        // off this thread; until then a crash takes its pages from the kernel as it writes them.
        const bool deferred = !commit_now && ftruncate(fd, static_cast<off_t>(size)) == 0;
        committed = deferred || syscall(SYS_fallocate, fd, 0, static_cast<off_t>(0), static_cast<off_t>(size)) == 0;
        if (committed || ftruncate(fd, static_cast<off_t>(size)) == 0) {
            p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | (committed ? 0 : MAP_POPULATE), fd, 0);
        }
        if (p != MAP_FAILED) *fd_out = fd;
        else close(fd);
    }
    if (p == MAP_FAILED) {
        committed = false;
        p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    }
    if (p == MAP_FAILED) return nullptr;
    auto* base = static_cast<sigsafe::u8*>(p);
    if (!committed) {
        std::memset(p, 0, size);  // MAP_POPULATE is advisory; make sure every page is present
        return base;
    }
    constexpr std::uintptr_t table_span = 2u * 1024u * 1024u;  // what one page-table page maps (x86_64, aarch64 4K)
    const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(base);
    volatile sigsafe::u8* touch = base;
    touch[0] = 0;
    for (std::uintptr_t at = (first / table_span + 1) * table_span; at < first + size; at += table_span) touch[at - first] = 0;
    return base;
}

/// Commits a region whose memory reserve_region() left to a helper that did not start: the
/// memfd's pages are allocated now (or, where fallocate() is refused, touched).
inline void commit_region(int fd, sigsafe::u8* region, std::size_t size) {
    if (fd >= 0 && syscall(SYS_fallocate, fd, 0, static_cast<off_t>(0), static_cast<off_t>(size)) == 0) return;
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    volatile sigsafe::u8* touch = region;
    for (std::size_t at = 0; at < size; at += page) touch[at] = touch[at];
}

inline void carve_region(linux_state* g, sigsafe::u8* region, std::size_t size, std::uint32_t breadcrumb_capacity) {
    using namespace sigsafe;
    g->region = region;
    g->region_size = size;
    g->thread_capacity = static_cast<u32>(std::min<std::size_t>(4096, std::max<std::size_t>(64, size / 2048)));
    g->map_capacity = static_cast<u32>(std::min<std::size_t>(8192, std::max<std::size_t>(256, size / 1024)));
    g->range_capacity = g->thread_capacity + 64;
    std::size_t at = 0;
    auto take = [&](std::size_t bytes) {
        sigsafe::u8* p = region + at;
        at = static_cast<std::size_t>(align_up(at + bytes, 64));
        return p;
    };
    // Persistent part first (a fork child copies it): the header the helper reads the layout
    // from, its configuration, annotations, start()'s notes, module ids.
    g->header = reinterpret_cast<region_header*>(take(sizeof(region_header)));
    g->config_text = reinterpret_cast<char*>(take(k_config_capacity));
    const std::size_t context_size = static_cast<std::size_t>(context_bytes(breadcrumb_capacity));
    u8* context = take(context_size);
    context_init(&g->context, context, breadcrumb_capacity);
    g->static_notes = reinterpret_cast<char*>(take(k_static_notes_capacity));
    g->module_cache_capacity = 256;
    g->module_cache_count = 0;
    // One spare slot beyond the capacity: where a module is identified once the cache is full.
    g->module_cache = reinterpret_cast<module_identity*>(take(sizeof(module_identity) * (g->module_cache_capacity + 1)));
    g->errors = reinterpret_cast<char*>(take(k_errors_capacity));
    g->scratch = take(k_scratch_capacity);
    g->threads = reinterpret_cast<thread_slot*>(take(sizeof(thread_slot) * g->thread_capacity));
    g->maps = reinterpret_cast<mapping*>(take(sizeof(mapping) * g->map_capacity));
    g->ranges = reinterpret_cast<memory_range*>(take(sizeof(memory_range) * g->range_capacity));

    g->image_base = region + at;
    g->image_capacity = size - at;
    region_header* h = g->header;
    h->magic = k_region_magic;
    h->version = k_region_version;
    h->region_size = size;
    h->config_offset = static_cast<u64>(reinterpret_cast<u8*>(g->config_text) - region);
    h->context_offset = static_cast<u64>(context - region);
    h->context_size = context_size;
    h->image_offset = at;
    h->image_capacity = g->image_capacity;
    h->app_pid = static_cast<u32>(getpid());
}

inline void note(linux_state* g, const std::string& text) {
    sigsafe::text t;
    t.data = g->static_notes;
    t.capacity = sigsafe::k_static_notes_capacity;
    t.size = std::strlen(g->static_notes);
    sigsafe::text_append(&t, text.c_str(), text.size());
    t.put('\n');
}

/// Reads a file into the image as a stream. Returns false if it could not be read.
inline bool add_file_stream(linux_state* g, sigsafe::image* im, const char* path, std::uint32_t type, std::size_t cap) {
    const std::uint32_t rva = static_cast<std::uint32_t>(sigsafe::align_up(im->size, 4));
    cap = static_cast<std::size_t>(std::min<std::uint64_t>(cap, sigsafe::image_free_bytes(im) / 4));
    bool truncated = false;
    const long n = sigsafe::read_file(AT_FDCWD, path, im->base + rva, cap, &truncated);
    if (n < 0) return false;
    im->size = rva + static_cast<std::uint64_t>(n);
    sigsafe::image_add_stream(im, type, rva, static_cast<std::uint64_t>(n));
    if (truncated) note(g, std::string(path) + ": truncated to " + std::to_string(n) + " bytes");
    return true;
}

/// The dump's unchanging part: header, directory, SystemInfo, cpuinfo, auxv, lsb-release.
inline void write_static_image(linux_state* g) {
    using namespace sigsafe;
    image im;
    image_begin(&im, g->image_base, g->image_capacity, k_directory_capacity);

    minidump::system_info si;
    std::memset(&si, 0, sizeof(si));
    si.processor_architecture = k_md_processor_architecture;
    const long cpus = sysconf(_SC_NPROCESSORS_CONF);
    si.number_of_processors = static_cast<std::uint8_t>(cpus > 255 ? 255 : (cpus < 1 ? 1 : cpus));
    si.platform_id = minidump::k_platform_linux;
    fill_cpu_info(&si);
    struct utsname u;
    std::string csd;
    if (uname(&u) == 0) {
        // "6.1.0-13-amd64": numbers into major/minor/build, the rest (and version, machine)
        // into the CSD string, as Crashpad does.
        unsigned v[3] = {0, 0, 0};
        const char* p = u.release;
        int consumed = 0;
        for (int i = 0; i < 3 && *p >= '0' && *p <= '9'; ++i) {
            v[i] = static_cast<unsigned>(std::strtoul(p, const_cast<char**>(&p), 10));
            consumed = static_cast<int>(p - u.release);
            if (*p == '.') ++p;
            else break;
        }
        si.major_version = v[0];
        si.minor_version = v[1];
        si.build_number = v[2];
        csd = std::string(u.release + consumed) + " " + u.version + " " + u.machine;
    }
    si.csd_version_rva = image_add_string(&im, csd.c_str(), csd.size());
    image_add_blob_stream(&im, minidump::stream_system_info, &si, sizeof(si));

    if (!add_file_stream(g, &im, "/proc/cpuinfo", minidump::stream_linux_cpu_info, 256 * 1024)) note(g, "/proc/cpuinfo: unreadable");
    if (!add_file_stream(g, &im, "/proc/self/auxv", minidump::stream_linux_auxv, 16 * 1024)) note(g, "/proc/self/auxv: unreadable");
    if (!add_file_stream(g, &im, "/etc/lsb-release", minidump::stream_linux_lsb_release, 16 * 1024)) {
        add_file_stream(g, &im, "/etc/os-release", minidump::stream_linux_lsb_release, 16 * 1024);
    }
    g->image_static_size = im.size;
    g->image_static_streams = im.stream_count;
}

/// What start() takes from /proc/self/stat (read once): the process's start time in clock
/// ticks after boot (field 22) and the initial stack pointer (startstack, field 28: where the
/// kernel put argc; argv, the environment, the aux vector and their strings lie above it).
/// Zeros when it cannot be read.
struct self_stat {
    unsigned long long start_ticks = 0;
    std::uint64_t start_stack = 0;
};
inline self_stat read_self_stat() {
    self_stat out;
    char buf[4096];
    const long n = sigsafe::read_file(AT_FDCWD, "/proc/self/stat", buf, sizeof(buf) - 1, nullptr);
    if (n <= 0) return out;
    buf[n] = '\0';
    const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
    if (p == nullptr) return out;
    int field = 2;  // state, after ')', is field 3
    for (const char* q = p + 1; *q != '\0'; ++q) {
        if (*q != ' ') continue;
        ++field;
        if (field == 22) out.start_ticks = std::strtoull(q + 1, nullptr, 10);
        if (field == 28) {
            out.start_stack = std::strtoull(q + 1, nullptr, 10);
            break;
        }
    }
    return out;
}

/// Process start time (time_t): the boot time plus the start's ticks. The boot time is
/// CLOCK_REALTIME - CLOCK_BOOTTIME, which is what /proc/stat's btime says (the kernel's
/// getboottime64), without reading and parsing /proc/stat.
inline std::uint32_t process_create_time(const self_stat& st, long ticks) {
    if (ticks <= 0 || st.start_ticks == 0) return 0;
    timespec real{}, boot{};
    if (clock_gettime(CLOCK_REALTIME, &real) != 0 || clock_gettime(CLOCK_BOOTTIME, &boot) != 0) return 0;
    long long boot_at = static_cast<long long>(real.tv_sec) - static_cast<long long>(boot.tv_sec);
    if (real.tv_nsec < boot.tv_nsec) --boot_at;  // whole seconds, as btime (rounded down)
    return static_cast<std::uint32_t>(static_cast<unsigned long long>(boot_at) + st.start_ticks / static_cast<unsigned long long>(ticks));
}

/// Finds the area at the top of the main thread's stack that the kernel filled at exec
/// (argc, argv, envp, auxv, AT_RANDOM's bytes, the argument and environment strings, up to
/// the end of that mapping). Dumps never copy it (dumper_linux.hpp). Needs g->maps (parsed
/// by prime_module_cache). When /proc does not say where it starts, the lowest of the
/// strings the aux vector and `environ` point at stands in (the pointer arrays below them
/// hold no text).
inline void find_private_area(linux_state* g, std::uint64_t initial_stack_pointer) {
    g->private_lo = g->private_hi = g->private_strings = 0;
    std::uint64_t lo = initial_stack_pointer;
    const std::uint64_t random = getauxval(AT_RANDOM);
    if (lo == 0 || sigsafe::find_mapping(g, lo) == nullptr) {
        lo = random;
        const std::uint64_t execfn = getauxval(AT_EXECFN);
        if (execfn != 0 && (lo == 0 || execfn < lo)) lo = execfn;
        const auto env = reinterpret_cast<std::uint64_t>(environ);
        const sigsafe::mapping* m = lo != 0 ? sigsafe::find_mapping(g, lo) : nullptr;
        if (m != nullptr && env >= m->start && env < lo) lo = env;
    }
    const sigsafe::mapping* m = lo != 0 ? sigsafe::find_mapping(g, lo) : nullptr;
    if (m == nullptr) {
        note(g, "stack: the argument and environment area was not found; stacks are copied whole");
        return;
    }
    g->private_lo = lo;
    g->private_hi = m->end;
    g->private_strings = random >= lo && random < m->end ? random : lo;
}

/// The executable's _DYNAMIC, from its program headers (found through the aux vector).
inline std::uint64_t executable_dynamic() {
    const auto* ph = reinterpret_cast<const ElfW(Phdr)*>(getauxval(AT_PHDR));
    const unsigned long count = getauxval(AT_PHNUM);
    if (ph == nullptr) return 0;
    std::uint64_t bias = 0, dynamic = 0;
    for (unsigned long i = 0; i < count; ++i) {
        if (ph[i].p_type == PT_PHDR) bias = reinterpret_cast<std::uint64_t>(ph) - ph[i].p_vaddr;
    }
    for (unsigned long i = 0; i < count; ++i) {
        if (ph[i].p_type == PT_DYNAMIC) dynamic = bias + ph[i].p_vaddr;
    }
    return dynamic;
}

/// One clean fork-mode helper of a shared object through the dynamic loader (`loader`); -1
/// and *error when it did not come up, *ended when it ended before its hello.
inline int launch_through_loader(linux_state* g, const loader_command& loader, bool* ended, std::string* error) {
    const helper_command command = make_helper_command(HelperMode::fork, std::string(), true, false, true, &loader);
    return launch_helper(HelperMode::fork, false, true, command, g->region_fd, g->helper_log_path, nullptr, nullptr, nullptr, error, ended);
}

/// Fork mode in a shared object: its clean helper, first with libdl.so.2 as the loader's
/// program (nothing of the host is loaded); when that helper ended before its hello (the
/// loader could not load the object on its own: it refers to data, or is bound at load time
/// to functions, that only its host executable has - a Python extension module), again with
/// the host executable as the program (use_host_program: its libraries' constructors run
/// before the helper takes over, a note says so). A helper that stayed silent for 5 s is not
/// tried again. -1 and *error when none came up; *loader is the command that did (packed for
/// a restart after a crash).
inline int launch_loader_helper(linux_state* g, loader_command* loader, std::string* error) {
    bool ended = false;
    int sock = launch_through_loader(g, *loader, &ended, error);
    if (sock >= 0 || !ended) return sock;
    std::string why;
    if (!use_host_program(loader, &why)) {
        *error += " (" + why + ")";
        return -1;
    }
    sock = launch_through_loader(g, *loader, &ended, error);
    if (sock >= 0) {
        note(g, "helper: " + loader->module + " cannot be loaded without its host; its clean helper runs with the host executable (" +
                    loader->program + ") as the loader's program, after the constructors of the executable's libraries");
    } else {
        *error += ", neither with libdl.so.2 nor with the host executable as the program";
    }
    return sock;
}

inline Status linux_start(const Options& options) {
    linux_state* g = &sigsafe::g_state;
    if (Status s = check_options(options); !s.ok()) return s;
    // In a process started as the helper (re-exec mode), start() runs the helper instead and
    // never returns.
    run_helper_if_asked(options.transport ? &options.transport : nullptr, options.before_upload ? &options.before_upload : nullptr,
                        nullptr);
    std::uint32_t expected = 0;
    if (!g->started.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
        return Status(Error::already_started, "crashdrop::start() was already called in this process");
    }
    auto fail = [g](Status s) {
        if (g->capture_installed.exchange(0, std::memory_order_acq_rel) != 0) {
            sigaction(g->capture_signal, &g->previous_capture, nullptr);
        }
        if (g_terminate_installed) {
            std::set_terminate(g_previous_terminate);
            g_terminate_installed = false;
        }
        release_resources(g);
        g->started.store(0, std::memory_order_release);
        return s;
    };
    // A stop() that gave up waiting for threads inside crashdrop left its region mapped: if
    // they have left now, it goes; if not, they still use this state and start() must wait.
    if (!wait_for_users(g, k_stop_drain_ms)) {
        g->started.store(0, std::memory_order_release);
        return Status(Error::busy, "threads of the previous crashdrop::start() are still inside crashdrop; try again later");
    }
    if (g->region != nullptr) munmap(g->region, static_cast<std::size_t>(g->region_size));
    // Nothing is open yet (a zeroed state would say fd 0).
    g->pending_dirfd = g->dump_fd = g->proc_self_fd = g->task_fd = g->region_fd = -1;
    g->reader.pipe_read = g->reader.pipe_write = -1;
    g->region = nullptr;
    g->helper_sock.store(-1, std::memory_order_release);

    CRASHDROP_DETAIL_START_PHASE("begin");
    database_layout db;
    if (Status s = prepare_database(options.database_path, &db); !s.ok()) return fail(s);
    CRASHDROP_DETAIL_START_PHASE("prepare_database");

    // One region: the dump buffer plus the context store.
    const auto breadcrumb_capacity = static_cast<std::uint32_t>(options.max_breadcrumbs);
    const std::size_t region_page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t region_size =
        (options.dump_buffer_size + static_cast<std::size_t>(sigsafe::context_bytes(breadcrumb_capacity)) + region_page - 1) / region_page * region_page;
    // With a helper, the helper commits the region's memory (off this thread; start() must stay
    // cheap); without one, start() does.
    const bool helper_commits = options.helper_mode != HelperMode::none;
    sigsafe::u8* region = reserve_region(region_size, &g->region_fd, !helper_commits);
    if (region == nullptr) {
        close(db.pending_fd);
        return fail(Status(Error::out_of_memory,
                           "reserving " + std::to_string(region_size) + " bytes for the crash path failed: " + errno_text(errno)));
    }
    carve_region(g, region, region_size, breadcrumb_capacity);
    CRASHDROP_DETAIL_START_PHASE("reserve_region");

    g->pending_dirfd = db.pending_fd;
    std::snprintf(g->pending_path, sizeof(g->pending_path), "%s", db.pending.c_str());
    g->proc_self_fd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g->task_fd = g->proc_self_fd >= 0 ? openat(g->proc_self_fd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    g->pid = getpid();
    g->uid = static_cast<std::uint32_t>(getuid());
    g->page_size = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    g->clock_ticks = sysconf(_SC_CLK_TCK);
    const self_stat self = read_self_stat();
    g->process_create_time = process_create_time(self, g->clock_ticks);
    g->exe_dynamic = executable_dynamic();
    g->vdso_base = getauxval(AT_SYSINFO_EHDR);
    g->include_environment = options.include_environment;
    g->include_command_line = options.include_command_line;
    g->memory_capture = static_cast<std::uint32_t>(options.memory_capture);
    g->crashed_stack_limit = options.crashed_thread_stack_limit;
    g->other_stack_limit = options.thread_stack_limit;
    g->suspend_timeout_ms = options.thread_suspend_timeout_ms;
    g->capture_signal = options.thread_signal != 0 ? options.thread_signal : pick_capture_signal();
    g->capture_cookie = capture_cookie(g);
    g->static_notes[0] = '\0';
    if (g->proc_self_fd < 0) note(g, "/proc/self: unavailable (" + errno_text(errno) + "); threads and maps will be missing");

    // Memory reader: process_vm_readv on ourselves, or a pipe where that is not allowed.
    g->reader.pid = g->pid;
    g->reader.pipe_read = g->reader.pipe_write = -1;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
        g->reader.pipe_read = fds[0];
        g->reader.pipe_write = fds[1];
    }
    std::uint64_t probe = 0x1234, probe_out = 0;
    g->reader.use_pipe = 0;
    if (sigsafe::read_memory(&g->reader, &probe_out, reinterpret_cast<std::uint64_t>(&probe), sizeof(probe)) !=
            static_cast<long>(sizeof(probe)) ||
        probe_out != probe) {
        note(g, "memory reader: process_vm_readv unavailable; reading memory through a pipe");
    }

    CRASHDROP_DETAIL_START_PHASE("process_facts");
    g->dump_fd = -1;
    g->helper_sock.store(-1, std::memory_order_release);
    prepare_dump_file(g);
    CRASHDROP_DETAIL_START_PHASE("prepare_dump_file");
    runtime().database_root = db.root;
    // last_run() and consecutive_crashes() are valid from here. With a helper to come, the
    // record is not fsync'd here: the helper does it (make_run_record_durable), off this thread.
    const bool helper_to_come = options.helper_mode != HelperMode::none && g->region_fd >= 0;
    begin_run_record(db.root, !helper_to_come);
    CRASHDROP_DETAIL_START_PHASE("begin_run_record");
    {
        const helper_config config = make_helper_config(options, db.root);
        const std::string text = encode_helper_config(config);
        std::snprintf(g->config_text, sigsafe::k_config_capacity, "%s", text.c_str());
        database store(db.root);
        const std::string client = store.client_id(new_uuid());
        parse_guid(client, &g->client_id);  // as Crashpad's info stream holds it
    }
    CRASHDROP_DETAIL_START_PHASE("helper_config_client_id");
    prime_module_cache(g);  // uses the image area, so before the static part is written
    CRASHDROP_DETAIL_START_PHASE("prime_module_cache");
    find_private_area(g, self.start_stack);
    CRASHDROP_DETAIL_START_PHASE("find_private_area");
    write_static_image(g);
    CRASHDROP_DETAIL_START_PHASE("write_static_image");
    if (Status s = apply_context_options(&g->context, options); !s.ok()) return fail(s);
    find_own_module(g);
    g->only_own = options.only_this_module ? 1 : 0;
    g->fault_filter = options.fault_filter;
    for (sigsafe::u32 i = 0; i < sigsafe::k_max_retry_slots; ++i) g->retries[i].tid.store(0, std::memory_order_release);
    if (options.only_this_module && g->own_range_count == 0) {
        return fail(Status(Error::handler_failed, "only_this_module: the module holding crashdrop was not found"));
    }

    CRASHDROP_DETAIL_START_PHASE("context_own_module");
    // Alternate signal stacks: this thread now, later threads through pthread_create.
    if (g_alt.key_ready.load(std::memory_order_acquire) == 0) {
        if (pthread_key_create(&g_alt.key, free_alt_stack) != 0) {
            return fail(Status(Error::handler_failed, "pthread_key_create failed"));
        }
        g_alt.key_ready.store(1, std::memory_order_release);
    }
    const std::size_t page = static_cast<std::size_t>(g->page_size);
    std::size_t alt = options.alt_stack_size;
    if (alt == 0) {
        std::size_t minimum = static_cast<std::size_t>(getauxval(AT_MINSIGSTKSZ));
        const long sc = sysconf(_SC_SIGSTKSZ);
        if (sc > 0) minimum = std::max(minimum, static_cast<std::size_t>(sc));
        alt = std::max<std::size_t>(64 * 1024, 4 * minimum);
    }
    g_alt.size = (alt + page - 1) / page * page;
    g_alt.total = g_alt.size + page;
    if (Status s = install_alt_stack(); !s.ok()) return fail(s);

    // Bind the libc functions the crash path calls (sigaction, sigprocmask, sig*set) now,
    // so the dynamic linker is never entered after a fault.
    {
        struct sigaction sa;
        sigaction(SIGSEGV, nullptr, &sa);
        sigset_t set;
        sigemptyset(&set);
        sigfillset(&set);
        sigaddset(&set, SIGSEGV);
        sigdelset(&set, SIGSEGV);
        sigprocmask(SIG_BLOCK, nullptr, &set);
    }

    static bool atfork_registered = false;
    if (!atfork_registered) {
        pthread_atfork(nullptr, nullptr, atfork_child);
        atfork_registered = true;
    }
    // std::terminate is process-wide: a plugin that reports only its own crashes leaves it to
    // the host.
    if (options.handle_terminate && !options.only_this_module) {
        g_previous_terminate = std::set_terminate(terminate_handler);
        g_terminate_installed = true;
    }
    CRASHDROP_DETAIL_START_PHASE("alt_stack_bind_hooks");
    // The helper, before the handlers: a fork-mode helper must not inherit them.
    std::snprintf(g->helper_log_path, sizeof(g->helper_log_path), "%s/helper.log", db.root.c_str());
    g->respawn_path = nullptr;
    if (options.helper_mode != HelperMode::none && g->region_fd >= 0) {
        // The .preinit_array entry takes the helper when crashdrop lives in the executable and
        // the helper runs no code of the application; fork mode then execs a clean helper too.
        // A shared object's fork-mode helper is exec'd through the dynamic loader instead.
#if CRASHDROP_HELPER_EARLY_ENTRY && !(defined(__PIC__) && !defined(__PIE__))
        const bool early = !helper_runs_application_code(options);
#else
        const bool early = false;
#endif
        loader_command loader;
        std::string loader_why;
        const bool via_loader = !early && options.helper_mode == HelperMode::fork && !helper_runs_application_code(options) &&
                                find_loader_command(&loader, &loader_why);
        const bool clean_fork = options.helper_mode == HelperMode::fork && (early || via_loader);
        const Transport* custom = options.transport ? &options.transport : nullptr;
        const BeforeUpload* before = options.before_upload ? &options.before_upload : nullptr;
        std::string error;
        g->launching_helper.store(1, std::memory_order_release);
        int sock = -1;
        helper_command command;  // what the helper is exec'd with (not via the loader), packed below for a restart
        if (via_loader) {
            sock = launch_loader_helper(g, &loader, &error);
        } else {
            const bool in_copy = options.helper_mode == HelperMode::fork && !clean_fork;
            if (!in_copy) command = make_helper_command(options.helper_mode, options.helper_path, true, early, clean_fork);
            sock = launch_helper(options.helper_mode, in_copy, clean_fork, command, g->region_fd, g->helper_log_path, custom, before,
                                 nullptr, &error);
        }
        bool exec_helper = options.helper_mode != HelperMode::fork || clean_fork;
        if (options.helper_mode == HelperMode::fork && !clean_fork) {
            note(g, std::string("helper: runs in a fork of this process (") +
                        (helper_runs_application_code(options) ? "a custom transport or before_upload is application code" : loader_why) + ")");
        }
        if (sock < 0 && clean_fork) {
            note(g, "helper: " + error + "; it runs in a fork of this process instead");
            exec_helper = false;
            sock = launch_helper(options.helper_mode, true, false, helper_command(), g->region_fd, g->helper_log_path, custom, before, nullptr,
                                 &error);
        }
        g->launching_helper.store(0, std::memory_order_release);
        if (sock >= 0) {
            g->helper_sock.store(sock, std::memory_order_release);
        } else {
            make_run_record_durable(db.root);  // no helper will
            note(g, "helper: could not be started (" + error + "); dumps are written by the crashed process");
            commit_region(g->region_fd, g->region, static_cast<std::size_t>(g->region_size));
        }
        if (exec_helper) {
            linux_runtime& rt = runtime();
            if (rt.respawn.base != nullptr) munmap(rt.respawn.base, rt.respawn.size);  // an earlier start()'s
            rt.respawn = packed_command();
            g->command_lo = g->command_hi = 0;
            // The restart's command: the launch's, with a marker that names no socket (nor hello).
            const std::string marker = helper_marker_text(false, early, false, via_loader ? &loader : nullptr);
            const bool packed = via_loader || command.env.empty()
                                    ? pack_command(make_helper_command(options.helper_mode, options.helper_path, false, early, false,
                                                                       via_loader ? &loader : nullptr),
                                                   &rt.respawn)
                                    : pack_command(command, &rt.respawn, &marker);
            if (packed) {
                g->command_lo = reinterpret_cast<std::uint64_t>(rt.respawn.base);
                g->command_hi = g->command_lo + rt.respawn.size;
                g->respawn_argv = rt.respawn.argv;
                g->respawn_envp = rt.respawn.envp;
                g->respawn_path = rt.respawn.path;
            } else {
                note(g, "helper: no memory for the command that restarts it after a crash");
            }
        }
    } else if (options.helper_mode != HelperMode::none) {
        note(g, "helper: no memfd for the shared buffer; dumps are written by the crashed process");
    }

    CRASHDROP_DETAIL_START_PHASE("launch_helper");
    // Whether later threads get an alternate stack from us: said in start()'s note and in dumps.
    std::string threads = thread_stack_note();
    if (!threads.empty()) note(g, threads);

    // The capture signal now (not at the first dump): another copy of crashdrop in this
    // process then sees it taken and picks another one.
    if (!sigsafe::install_capture_handler(g)) {
        return fail(Status(Error::handler_failed, "sigaction for the capture signal failed: " + errno_text(errno)));
    }
    g->crash_done_tid.store(0, std::memory_order_release);
    for (int i = 0; i < sigsafe::k_fatal_signal_count; ++i) {
        if (!sigsafe::install_fatal_handler(sigsafe::k_fatal_signals[i], &g->previous[i])) {
            for (int j = 0; j < i; ++j) sigaction(sigsafe::k_fatal_signals[j], &g->previous[j], nullptr);
            return fail(Status(Error::handler_failed, "sigaction failed: " + errno_text(errno)));
        }
    }
    g->handlers_installed.store(1, std::memory_order_release);
    if (options.hang_timeout_ms > 0) {  // hang reports: the thread that writes them (hang_linux.hpp)
        std::string why;
        if (!start_hang_watchdog(g, &why)) note(g, "hang reports: off (" + why + ")");
    }
    g->started.store(2, std::memory_order_release);
    CRASHDROP_DETAIL_START_PHASE("handlers");
    if (threads.empty()) return Status::success();
    return Status::success_with_note(std::move(threads));
}

/// Counts a thread in as inside crashdrop for as long as it lives (stop() waits for it); only
/// while crashdrop runs, as the setters do (api_impl.hpp's context_use).
struct linux_user {
    bool counted = false;
    linux_user() noexcept {
        if (sigsafe::g_state.started.load(std::memory_order_seq_cst) != 2) return;
        sigsafe::g_state.users.fetch_add(1, std::memory_order_seq_cst);
        counted = true;
    }
    ~linux_user() {
        if (counted) sigsafe::g_state.users.fetch_sub(1, std::memory_order_release);
    }
    linux_user(const linux_user&) = delete;
    linux_user& operator=(const linux_user&) = delete;
};

inline Status linux_write_dump(std::string* path_out) {
    linux_state* g = &sigsafe::g_state;
    const linux_user inside;
    if (g->started.load(std::memory_order_seq_cst) != 2) return Status(Error::not_started, "crashdrop::start() has not run");
    const auto tid = static_cast<std::uint32_t>(sigsafe::sys_gettid());
    std::uint32_t expected = 0;
    if (!g->owner.compare_exchange_strong(expected, tid, std::memory_order_acq_rel)) {
        return Status(Error::busy, "another dump is being written");
    }
    // The caller answers its own capture signal: make sure it can.
    sigset_t unblock, old;
    sigemptyset(&unblock);
    sigaddset(&unblock, g->capture_signal);
    pthread_sigmask(SIG_UNBLOCK, &unblock, &old);
    // The caller's own registers, taken here: this frame and its callers stay as they are while
    // the dump is written (registers taken deeper, in a frame that has returned by the time the
    // stack is copied, would describe a stack that was since overwritten - on ARM64 that loses the
    // saved link register and the unwind stops).
    ucontext_t self_context;
    const bool have_self = getcontext(&self_context) == 0;
    const long r = write_requested_dump(g, tid, have_self ? &self_context : nullptr);  // nullptr: it answers its own capture signal
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    prepare_dump_file(g);  // for the next dump
    std::string path = g->last_path;
    g->owner.store(0, std::memory_order_release);
    sigsafe::futex_wake_all(&g->owner);
    if (r == -EBUSY) {
        return Status(Error::busy,
                      "the helper is still reading the previous dump from the shared buffer (it answered that hand-off "
                      "late); try again later");
    }
    if (r < 0) return Status(Error::dump_failed, "writing the dump failed: " + errno_text(static_cast<int>(-r)));
    if (path_out != nullptr) *path_out = path;
    return Status::success();
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
