// crashdrop/helper/helper_linux.hpp - the helper process: how start() launches it (re-exec of
// the executable, fork without exec, or an external executable), and what it does: persist each
// dump the application hands over through the shared region, then send pending reports (custom
// transport or the built-in HTTP/HTTPS one) with exponential back-off, honouring consent, the
// rate limit and the database bounds; and exit after the application does, once what is due has
// been tried (each attempt bounded by its timeouts).
//
// Trade-offs of the modes (also in docs/helper-and-uploads.md):
//   reexec   - /proc/self/exe again, with the same arguments. A fresh process: no copied
//              state, no locks held. With CRASHDROP_HELPER_EARLY_ENTRY (executables) it becomes
//              the helper from .preinit_array, before any constructor and main(); otherwise (or
//              with helper-side application code: a custom transport) it goes through main()
//              to start(), which must come before anything with side effects.
//              The default for executables; no second binary to ship.
//   fork     - for a plugin inside a host whose executable cannot be re-run. When crashdrop
//              lives in the executable (early entry) and no helper-side application code is
//              configured, the helper is exec'd like reexec's (a clean process; it says hello
//              on its socket, and start() falls back to the copy below if it does not). Else
//              the helper is a fork of the application without exec: a copy of the host (its
//              memory shared copy-on-write; locks other threads held at the fork stay held, and
//              glibc's fork() itself waits for every malloc arena lock).
//   external - Options::helper_path, a small program calling crashdrop::run_helper(); its own
//              binary, configured from the shared region (custom transports do not apply).
// In every mode the helper is double-forked (never a zombie of the application), starts its own
// session (no controlling terminal: the terminal's signals are not its own), has only the
// region, its socket, /dev/null and <database>/helper.log open, blocks every asynchronous signal
// but SIGTERM (which makes it finish early), and runs at a low priority.
// Context: implementation TU; start() (launch) and the helper process (ordinary code).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

// "<region fd>:<socket fd or -1>[:early][:hello][:module=<path>]": early - the executable's
// .preinit_array entry may take it (no helper-side application code); hello - say so on the
// socket once configured; module - the shared object at <path> takes it from its constructor
// (a plugin's clean fork-mode helper: the dynamic loader runs with that object preloaded).
constexpr const char* k_helper_env = "CRASHDROP_HELPER";
constexpr int k_helper_region_fd = 3;
constexpr int k_helper_socket_fd = 4;

inline std::string new_uuid() {
    minidump::guid g;
    sigsafe::new_report_id(&g);
    char buf[64];
    sigsafe::text t;
    t.reset(buf, sizeof(buf));
    sigsafe::format_report_id(&g, &t);
    return std::string(buf, t.size);
}

// ---- the helper's side of the hand-off ------------------------------------------------------

/// What became of a dump the application handed over.
enum class handoff_outcome {
    stored,     // in pending/, claimed: answered 'P'
    in_memory,  // could not be stored (the disk is full, say): copied out, answered 'F'
    failed,     // damaged hand-off: answered 'F'
    not_ours,   // withdrawn or taken back by the application: nothing is answered
};

/// Writes the dump of hand-off `seq` from the region to pending/ (named there before the
/// application is answered; fsync'ed after); *out gets its report, for helper_service::persisted(), and
/// *claim the report's claim, taken before the dump got its name (no other helper sees it
/// before its metadata is written). When it cannot be stored, the bytes are kept in
/// *memory_copy and *why says what failed: the helper sends it from there
/// (helper_service::held_in_memory()), and the application, answered 'F', still tries to store
/// it itself.
/// The image is read only between taking the hand-off (ready -> taken) and giving it back
/// (taken -> written); if the application took the image back meanwhile (a crash that could
/// not wait for us), the copy may be torn and is thrown away, never named.
inline handoff_outcome persist_handoff(helper_service* service, sigsafe::region_header* region, sigsafe::u32 seq, Report* out,
                                       report_claim* claim, std::string* memory_copy, std::string* why, prepared_file* spare) {
    using sigsafe::handoff_word;
    if (region == nullptr) return handoff_outcome::failed;
    std::uint64_t expected = handoff_word(seq, sigsafe::hs_ready);
    if (!region->handoff.compare_exchange_strong(expected, handoff_word(seq, sigsafe::hs_taken), std::memory_order_acq_rel)) {
        service->log("hand-off " + std::to_string(seq) + ": withdrawn by the application before it was taken");
        return handoff_outcome::not_ours;
    }
    auto finish = [region, seq](sigsafe::u32 from, sigsafe::u32 to) {
        std::uint64_t word = handoff_word(seq, from);
        return region->handoff.compare_exchange_strong(word, handoff_word(seq, to), std::memory_order_acq_rel);
    };
    // What identifies the dump is copied once: the application may reuse these fields as soon
    // as the image is given back.
    const std::string id(region->report_id, strnlen(region->report_id, sizeof(region->report_id)));
    const std::uint64_t size = region->image_size;
    const std::uint64_t crash_time = region->crash_time;
#if defined(CRASHDROP_TEST_HOOKS)
    // Tests only: a helper that stalls with the first hand-off taken (it answers late).
    if (const char* stall = std::getenv("CRASHDROP_TEST_HELPER_STALL_MS")) {
        static bool stalled = false;
        if (!stalled) {
            stalled = true;
            usleep(static_cast<useconds_t>(std::atoi(stall)) * 1000u);
        }
    }
#endif
    if (!is_report_id(id) || size == 0 || size > region->image_capacity) {  // only a well-formed id becomes a file name
        service->log(!is_report_id(id) ? "hand-off refused: malformed report id" : "hand-off refused: bad dump size");
        finish(sigsafe::hs_taken, sigsafe::hs_failed);
        return handoff_outcome::failed;
    }
    const auto* image = reinterpret_cast<const char*>(region) + region->image_offset;
    const std::string dir = service->db().pending_dir();
    const std::string name = id + ".dmp";
    // The file made ahead (spares_linux.hpp) when pending/ is still the same folder; otherwise
    // made now.
    int dirfd = -1, fd = -1;
    if (spare != nullptr && spare->ready() && spare->still_in(dir)) spare->release_to(&dirfd, &fd);
    if (spare != nullptr) spare->discard();
    if (dirfd < 0) {
        dirfd = open_folder(dir);  // pending/ itself never through a link
        fd = dirfd >= 0 ? openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) : -1;
    }
    std::string tmp;
    if (fd < 0 && dirfd >= 0) {
        tmp = "." + name + ".helper.tmp";
        fd = openat(dirfd, tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    bool ok = fd >= 0;
    int err = ok ? 0 : errno;
    for (std::uint64_t done = 0; ok && done < size;) {
        const ssize_t n = write(fd, image + done, static_cast<std::size_t>(size - done));
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<std::uint64_t>(n);
        else err = n == 0 ? ENOSPC : errno;
    }
    Report r;
    r.id = id;
    r.created = static_cast<std::time_t>(crash_time);
    r.product = service->config().product;
    r.version = service->config().version;
    // The dump is the snapshot: its annotations and context stream (read from the shared
    // image, not the application's heap) become the report's.
    read_dump_context(reinterpret_cast<const std::uint8_t*>(image), static_cast<std::size_t>(size), &r);
    // Not stored: the bytes are copied out before the image is given back.
    if (!ok) memory_copy->assign(image, static_cast<std::size_t>(size));
    // Done with the image. If the application took it back meanwhile, what we read may be torn.
    if (!finish(sigsafe::hs_taken, sigsafe::hs_written)) {
        service->log("hand-off " + std::to_string(seq) + " (" + name + "): the application took the buffer back while it was "
                     "being read; this copy is discarded (the application wrote the dump itself)");
        if (fd >= 0) close(fd);
        if (!tmp.empty()) unlinkat(dirfd, tmp.c_str(), 0);
        if (dirfd >= 0) close(dirfd);
        memory_copy->clear();
        return handoff_outcome::not_ours;
    }
    // Not fsync'ed here: it is in pending/ the moment it is named, which is what the
    // application waits for; serve_handoff() makes it durable after answering.
    // Claimed before it has a name in pending/: held until its metadata is written.
    const bool locked = ok && claim->lock_open_file(fd);
    if (ok) {
        int rc;
        if (tmp.empty()) {
            errno = name_unnamed_file(dirfd, fd, name);
            rc = errno == 0 ? 0 : -1;
        } else {
            rc = static_cast<int>(syscall(SYS_renameat2, dirfd, tmp.c_str(), dirfd, name.c_str(), 1));
            if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
                rc = linkat(dirfd, tmp.c_str(), dirfd, name.c_str(), 0);
                if (rc == 0) unlinkat(dirfd, tmp.c_str(), 0);
            }
        }
        if (rc != 0 && errno == EEXIST) {
            // The application wrote it itself (it gave up waiting); the file is the same, but
            // not the one claimed here: persisted() claims that one.
            claim->release();
            if (locked) fd = -1;  // closed by the release
            rc = 0;
        }
        if (rc != 0) {
            err = errno;
            // Written but not named: the bytes are read back to be sent from memory.
            memory_copy->resize(static_cast<std::size_t>(size));
            std::size_t got = 0;
            while (fd >= 0 && got < memory_copy->size()) {
                const ssize_t n = pread(fd, &(*memory_copy)[got], memory_copy->size() - got, static_cast<off_t>(got));
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) break;
                got += static_cast<std::size_t>(n);
            }
            if (got != memory_copy->size()) memory_copy->clear();
        }
        ok = rc == 0;
    }
    if (!tmp.empty()) unlinkat(dirfd, tmp.c_str(), 0);
    if (dirfd >= 0) close(dirfd);
    if (!ok) {
        claim->release();  // closes fd when it was adopted
        if (locked) fd = -1;
    }
    if (!locked && fd >= 0) close(fd);
    *out = r;
    if (!ok) {
        *why = errno_text(err);
        finish(sigsafe::hs_written, sigsafe::hs_failed);
        return memory_copy->empty() ? handoff_outcome::failed : handoff_outcome::in_memory;
    }
    finish(sigsafe::hs_written, sigsafe::hs_persisted);
    return handoff_outcome::stored;
}

/// After answering a crash: the crashed process is dying, and what comes next here (fsyncs,
/// the upload) would take the CPU its threads need to exit. Waits (at most
/// k_crashed_end_wait_ms) until it is gone: its pidfd (exit_watch's, when it watches) says so
/// once the process has wholly ended; without one, its end of the socket closing (which comes
/// a little earlier in its exit).
constexpr int k_crashed_end_wait_ms = 50;
inline void await_crashed_end(int socket_fd, int app_pidfd) {
    pollfd p{app_pidfd >= 0 ? app_pidfd : socket_fd, static_cast<short>(app_pidfd >= 0 ? POLLIN : POLLRDHUP), 0};
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(k_crashed_end_wait_ms);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
        if (left < 0) return;
        const int r = poll(&p, 1, static_cast<int>(left) + 1);
        if (r < 0 && errno == EINTR) continue;
        return;  // gone, a message after all, or the time is up
    }
}

/// fsyncs a file of the database (by name: any descriptor of it flushes its data).
inline bool sync_file(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return false;
    const bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

/// One hand-off ('D' with number `seq`). The application waits for the answer, and dies when
/// it comes, so before it: the dump named in pending/, its metadata written, and (for a crash)
/// the run recorded as crashed - everything another process can see at once: the next start()
/// reads the run record, any helper the report. Only after it: the attachments copied (the
/// metadata then names the copies), fsync (durability protects against a power loss, which
/// the crashed process's remaining lifetime does not change), then the upload.
inline void serve_handoff(helper_service* service, sigsafe::region_header* region, int socket_fd, sigsafe::u32 seq,
                          exit_watch* watch, handoff_spares* spares) {
    Report persisted;
    report_claim claim;
    report_claim own_claim;
    report_claim* held = &claim;
    std::string memory_copy, why;
    CRASHDROP_DETAIL_HELPER_PHASE("helper: woken");
    const handoff_outcome got_dump = persist_handoff(service, region, seq, &persisted, &claim, &memory_copy, &why, &spares->dump);
    const bool crash = region->signo != 0;
    CRASHDROP_DETAIL_HELPER_PHASE("helper: dump named");
    if (crash) watch->crash_handed_off();  // its end is the crash's, whatever became of the dump
    // The metadata into the other file made ahead, the ordinary way if that cannot be.
    const std::string pending = service->db().pending_dir();
    const metadata_saver quick = [spares, &pending](const Report& r) {
        return publish_prepared_file(&spares->meta, pending, r.id + ".meta", encode_report(r), nullptr);
    };
    const bool described =
        got_dump == handoff_outcome::stored && service->describe(&persisted, &held, &own_claim, false, false, &quick);
    CRASHDROP_DETAIL_HELPER_PHASE("helper: .meta written");
    bool recorded = false;
    if (got_dump != handoff_outcome::not_ours && crash) {
        // A crash (not write_dump()): the run ends crashed, recorded before the answer lets
        // the application die, so the next start() reads it.
        std::string error;
        recorded = database(service->db().root()).end_run(static_cast<long>(region->app_pid), RunOutcome::crashed, &error, false);
        if (!recorded && !error.empty()) service->log("could not record the crashed run: " + error);
    }
    if (got_dump != handoff_outcome::not_ours) {
        char reply[sigsafe::k_handoff_message_size];
        sigsafe::handoff_message(reply, got_dump == handoff_outcome::stored ? 'P' : 'F', seq);
        CRASHDROP_DETAIL_HELPER_PHASE("helper: run recorded");
        send(socket_fd, reply, sizeof(reply), MSG_NOSIGNAL);
        CRASHDROP_DETAIL_HELPER_PHASE("helper: answered");
        if (crash) await_crashed_end(socket_fd, watch->pidfd());
    }
    if (recorded) {
        sync_file(path_join(service->db().root(), "runs"));
        fsync_directory(service->db().root());
    }
    if (got_dump == handoff_outcome::stored) {
        // Durable whoever describes it (another helper that took it over writes its own
        // metadata durably).
        const std::string base = path_join(service->db().pending_dir(), persisted.id);
        if (!sync_file(base + ".dmp") || (described && !sync_file(base + ".meta"))) {
            service->log("report " + persisted.id + ": fsync failed: " + errno_text(errno));
        }
        if (described) service->settle(persisted, held, true);
    }
    if (got_dump == handoff_outcome::in_memory) service->held_in_memory(persisted, std::move(memory_copy), why);
    if (got_dump == handoff_outcome::failed && !why.empty()) service->log("could not store " + persisted.id + ".dmp: " + why);
}

/// Waits for the application's messages until it goes away (or SIGTERM).
inline void serve_application(helper_service* service, sigsafe::region_header* region, int socket_fd) {
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    const int sigfd = signalfd(-1, &term, SFD_CLOEXEC);
    // Abnormal exits (exit_watch_linux.hpp): what the helper keeps while the application lives.
    exit_watch watch;
    handoff_spares spares;
    if (region != nullptr && socket_fd >= 0) spares.refill(service->db().pending_dir());
    const bool watching = region != nullptr && socket_fd >= 0 && service->config().report_abnormal_exits && watch.begin(region->app_pid);
    if (watching) {
        service->log("watching for an abnormal exit: " + std::to_string(watch.modules().size()) + " modules, OOM count " +
                     (watch.oom_path().empty() ? std::string("not found") : "in " + watch.oom_path()) + ", look took " +
                     std::to_string(watch.last_refresh_ns() / 1000) + " us");
    } else if (region != nullptr && socket_fd >= 0) {
        service->log(service->config().report_abnormal_exits ? "abnormal exits: not watched (the application had already ended)"
                                                             : "abnormal exits: not watched (report_abnormal_exits is off, or only_this_module)");
    }
    // Hangs (hang_watch_linux.hpp): woken more often than the exit watch's refresh needs.
    hang_watch hangs(service, region, service->config().hang_timeout_ms);
    const int hang_poll_ms = hangs.poll_timeout_ms();
    const int poll_ms = hang_poll_ms >= 0 ? hang_poll_ms : watching ? k_exit_watch_refresh_ms : -1;
    timespec refreshed{};
    clock_gettime(CLOCK_MONOTONIC, &refreshed);
    while (socket_fd >= 0) {
        pollfd fds[2] = {{socket_fd, POLLIN, 0}, {sigfd, POLLIN, 0}};
        const int n = poll(fds, sigfd >= 0 ? 2 : 1, poll_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        hangs.tick();
        if (n == 0) {
            timespec now{};
            clock_gettime(CLOCK_MONOTONIC, &now);
            const long long since_ms = (now.tv_sec - refreshed.tv_sec) * 1000LL + (now.tv_nsec - refreshed.tv_nsec) / 1000000;
            if (watching && since_ms >= k_exit_watch_refresh_ms - 10) {
                watch.refresh();
                refreshed = now;
            }
            continue;
        }
        if (sigfd >= 0 && (fds[1].revents & POLLIN)) {
            service->log("SIGTERM: finishing");
            break;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char msg[8] = {};
            const ssize_t got = recv(socket_fd, msg, sizeof(msg), 0);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                service->log("the application has gone");
                // During a hang episode the run ended hung (recorded first: the first recorded end
                // wins over settle_application_end's abnormal_exit, whose report is still written).
                record_hung_run(service, region, hangs);
                if (watching) settle_application_end(service, region, &watch);
                break;
            }
            if (msg[0] == 'D' && got == static_cast<ssize_t>(sigsafe::k_handoff_message_size)) {
                serve_handoff(service, region, socket_fd, sigsafe::handoff_message_seq(msg), &watch, &spares);
                spares.refill(service->db().pending_dir());
            } else if (msg[0] == 'C') {
                service->log("upload consent changed");
                service->requeue_all();
            }
        }
    }
    if (sigfd >= 0) close(sigfd);
}

/// True when the helper must run code of the application: a custom transport or a
/// before_upload callback. Such code exists only once main() has built the Options (re-exec) or
/// only in the application's memory (fork), so the helper then goes through main() / stays a
/// fork of the application.
inline bool helper_runs_application_code(const Options& o) { return static_cast<bool>(o.transport) || static_cast<bool>(o.before_upload); }

/// What CRASHDROP_HELPER says.
struct helper_marker {
    int region_fd = -1;
    int socket_fd = -1;
    bool early = false;     // the .preinit_array entry may become the helper
    bool announce = false;  // answer 'H' on the socket once configured
    const char* module = nullptr;  // the shared object that is to take it (its path), or none
};
inline bool parse_helper_marker(const char* spec, helper_marker* m) {
    if (spec == nullptr || std::sscanf(spec, "%d:%d", &m->region_fd, &m->socket_fd) != 2) return false;
    m->early = std::strstr(spec, ":early") != nullptr;
    m->announce = std::strstr(spec, ":hello") != nullptr;
    const char* module = std::strstr(spec, ":module=");
    m->module = module != nullptr ? module + 8 : nullptr;
    return true;
}

/// The helper process's life: signals, priority, the region, then the service. Never returns.
/// `announce`: once the region and the configuration are read, it says 'H' on the socket (the
/// launcher of a clean fork-mode helper waits for it).
[[noreturn]] inline void helper_process_main(int region_fd, int socket_fd, const Transport* custom, const BeforeUpload* before,
                                             const helper_config* local_config, bool announce = false) {
    // Every asynchronous signal but SIGTERM stays blocked (SIGTERM is read from a signalfd).
    sigset_t all;
    sigfillset(&all);
    for (int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS}) sigdelset(&all, s);
    pthread_sigmask(SIG_SETMASK, &all, nullptr);
    signal(SIGPIPE, SIG_IGN);
    for (int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS}) signal(s, SIG_DFL);
    setpriority(PRIO_PROCESS, 0, 10);
    prctl(PR_SET_NAME, reinterpret_cast<unsigned long>("crashdrop-hlp"), 0, 0, 0);
    sigsafe::region_header* region = nullptr;
    struct stat st;
    if (region_fd >= 0 && fstat(region_fd, &st) == 0 && st.st_size > 0) {
        // The region's memory is committed here, at the helper's start, not on the thread that
        // called start() (reserve_region): fallocate() allocates every page of the memfd, and the
        // populated mapping lets a hand-off read the image without a page fault. Until then, a
        // crash takes its pages from the kernel as it writes them.
        if (syscall(SYS_fallocate, region_fd, 0, static_cast<off_t>(0), static_cast<off_t>(st.st_size)) != 0) {
            std::fprintf(stderr, "crashdrop-helper: fallocate of the region failed (%s); its pages are committed as mapped\n",
                         std::strerror(errno));
        }
        void* p = mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, region_fd, 0);
        if (p != MAP_FAILED) region = static_cast<sigsafe::region_header*>(p);
    }
    if (region != nullptr && (region->magic != sigsafe::k_region_magic || region->version != sigsafe::k_region_version)) {
        std::fprintf(stderr, "crashdrop-helper: the shared region is from another crashdrop version\n");
        region = nullptr;
    }
    helper_config config;
    if (local_config != nullptr) {
        config = *local_config;
    } else if (region != nullptr) {
        config = decode_helper_config(reinterpret_cast<const char*>(region) + region->config_offset);
    } else {
        std::fprintf(stderr, "crashdrop-helper: no configuration\n");
        _exit(2);
    }
    if (announce && socket_fd >= 0) {
        char hello[sigsafe::k_handoff_message_size];
        sigsafe::handoff_message(hello, 'H', 0);
        send(socket_fd, hello, sizeof(hello), MSG_NOSIGNAL);
    }
    make_run_record_durable(config.database);  // start() left that fsync to the helper (runs.hpp)
    int code = 1;
    {
        helper_service service(config, custom, before);
        service.set_region(region);
        if (service.begin()) {
            serve_application(&service, region, socket_fd);
            if (!service.finish()) {
                service.log("helper exits (linger time over)");
                std::fflush(nullptr);
                _exit(0);  // the abandoned upload ends with the process, its claim too
            }
            service.log("helper exits");
            code = 0;
        }
    }
    std::fflush(nullptr);
    _exit(code);  // never the application's atexit handlers or static destructors
}

/// In a process started as a helper (the environment says so): run it. Returns only if this
/// process is not one.
inline void run_helper_if_asked(const Transport* custom, const BeforeUpload* before, const helper_config* local_config) {
    helper_marker m;
    if (!parse_helper_marker(std::getenv(k_helper_env), &m)) return;
    unsetenv(k_helper_env);  // not for whatever the helper might start
    helper_process_main(m.region_fd, m.socket_fd, custom, before, local_config, m.announce);
}

// ---- launching -------------------------------------------------------------------------------

/// An executable with its arguments and environment, all prepared before fork() so the child
/// does nothing but async-signal-safe calls until exec.
/// Overwrites a string's bytes (the compiler may not drop the stores) before its memory goes
/// back to the heap: copies of arguments and environment variables must not linger there,
/// where a dump's memory around a register could find them.
inline void wipe_string(std::string* s) {
    volatile char* p = &(*s)[0];
    for (std::size_t i = 0; i < s->size(); ++i) p[i] = '\0';
}

struct helper_command {
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::vector<char*> argv;
    std::vector<char*> envp;

    helper_command() = default;
    helper_command(helper_command&&) = default;
    helper_command& operator=(helper_command&&) = default;
    helper_command(const helper_command&) = delete;
    helper_command& operator=(const helper_command&) = delete;
    ~helper_command() {
        for (auto& a : args) wipe_string(&a);
        for (auto& e : env) wipe_string(&e);
    }

    void finish() {
        argv.clear();
        envp.clear();
        for (auto& a : args) argv.push_back(&a[0]);
        argv.push_back(nullptr);
        for (auto& e : env) envp.push_back(&e[0]);
        envp.push_back(nullptr);
    }
};

/// The command a helper is started with: the executable itself (its arguments from
/// /proc/self/cmdline; re-exec, and fork mode's clean helper) or the external helper; the
/// environment marked with where the region and the socket will be, whether the early entry
/// may take it, and whether it is to say hello.
/// How a clean helper of a shared object is started: the dynamic loader, with the object
/// preloaded (its constructor takes the helper, ahead of every other object's) and glibc's
/// libdl.so.2 as the program: it depends on the C library alone (since glibc 2.34 it is an
/// empty stub), and it never gets to run. (Not the C library itself: as the program it is
/// relocated last, and an object bound at load time - linked with -z now, or ASan's runtime -
/// that refers to one of its IFUNC functions is refused.)
struct loader_command {
    std::string loader;   // the dynamic loader
    std::string module;   // the shared object holding crashdrop
    std::string program;  // libdl.so.2, next to the C library's file; or the host executable
};

/// The CRASHDROP_HELPER entry of a helper's environment (see helper_marker).
inline std::string helper_marker_text(bool with_socket, bool early, bool announce, const loader_command* via_loader) {
    return std::string(k_helper_env) + "=" + std::to_string(k_helper_region_fd) + ":" + std::to_string(with_socket ? k_helper_socket_fd : -1) +
           (early ? ":early" : "") + (announce && with_socket ? ":hello" : "") + (via_loader != nullptr ? ":module=" + via_loader->module : "");
}

inline helper_command make_helper_command(HelperMode mode, const std::string& helper_path, bool with_socket, bool early = false,
                                          bool announce = false, const loader_command* via_loader = nullptr) {
    helper_command c;
    if (via_loader != nullptr) {
        c.path = via_loader->loader;
        c.args = {via_loader->loader, "--preload", via_loader->module, via_loader->program};
    } else if (mode == HelperMode::external) {
        c.path = helper_path;
        c.args = {helper_path, "--crashdrop-helper"};
    } else {
        c.path = "/proc/self/exe";
        std::string cmdline;
        read_system_file("/proc/self/cmdline", &cmdline, 1u << 20);
        c.args.reserve(static_cast<std::size_t>(std::count(cmdline.begin(), cmdline.end(), '\0')) + 1);
        std::size_t pos = 0;
        while (pos < cmdline.size()) {
            const std::size_t end = cmdline.find('\0', pos);
            c.args.push_back(cmdline.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
            pos = end == std::string::npos ? cmdline.size() : end + 1;
        }
        wipe_string(&cmdline);
        if (c.args.empty()) c.args.emplace_back("crashdrop-helper");
    }
    std::size_t variables = 0;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) ++variables;
    c.env.reserve(variables + 1);  // no reallocation: a moved string's old bytes would stay behind
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        if (std::strncmp(*e, k_helper_env, std::strlen(k_helper_env)) != 0) c.env.emplace_back(*e);
    }
    c.env.push_back(helper_marker_text(with_socket, early, announce, via_loader));
    c.finish();
    return c;
}

/// A command packed into one private mapping of its own: what a crashed process execs to
/// start a new helper. It holds the arguments and the environment, so the dump writer is told
/// its range and never copies it (start_linux.hpp).
struct packed_command {
    void* base = nullptr;
    std::size_t size = 0;
    const char* path = nullptr;
    char* const* argv = nullptr;
    char* const* envp = nullptr;
};

/// Packs `c` (argv and envp arrays, then the strings). `marker`, when given, stands in for
/// c's last environment entry (its helper marker, make_helper_command's last): the command
/// that started the helper packed for a restart, without reading the command line and copying
/// the environment again. False when no memory could be mapped.
inline bool pack_command(const helper_command& c, packed_command* out, const std::string* marker = nullptr) {
    const std::size_t pointers = (c.args.size() + 1 + c.env.size() + 1) * sizeof(char*);
    std::size_t bytes = pointers + c.path.size() + 1;
    for (const auto& a : c.args) bytes += a.size() + 1;
    for (const auto& e : c.env) bytes += e.size() + 1;
    if (marker != nullptr && !c.env.empty()) bytes += marker->size() + 1;
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    bytes = (bytes + page - 1) / page * page;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    auto** argv = static_cast<char**>(p);
    char** envp = argv + c.args.size() + 1;
    char* at = reinterpret_cast<char*>(envp + c.env.size() + 1);
    auto put = [&at](const std::string& s) {
        char* d = at;
        std::memcpy(d, s.data(), s.size());
        d[s.size()] = '\0';
        at += s.size() + 1;
        return d;
    };
    for (std::size_t i = 0; i < c.args.size(); ++i) argv[i] = put(c.args[i]);
    argv[c.args.size()] = nullptr;
    for (std::size_t i = 0; i < c.env.size(); ++i) envp[i] = put(marker != nullptr && i + 1 == c.env.size() ? *marker : c.env[i]);
    envp[c.env.size()] = nullptr;
    out->path = put(c.path);
    out->base = p;
    out->size = bytes;
    out->argv = argv;
    out->envp = envp;
    return true;
}

/// In the (grand)child, before exec or the fork-mode helper: the region and socket at their
/// agreed numbers, /dev/null and the log on 0-2, nothing else open. Async-signal-safe only.
inline void helper_child_fds(int region_fd, int socket_fd, int log_fd) {
    const int region_copy = fcntl(region_fd, F_DUPFD, 10);
    const int socket_copy = socket_fd >= 0 ? fcntl(socket_fd, F_DUPFD, 10) : -1;
    const int log_copy = log_fd >= 0 ? fcntl(log_fd, F_DUPFD, 10) : -1;
    const int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
        dup2(null_fd, 0);
        dup2(null_fd, 1);
        dup2(log_copy >= 0 ? log_copy : null_fd, 2);
    }
    dup2(region_copy, k_helper_region_fd);
    if (socket_copy >= 0) dup2(socket_copy, k_helper_socket_fd);
    const int first_free = socket_copy >= 0 ? k_helper_socket_fd + 1 : k_helper_region_fd + 1;
    if (syscall(SYS_close_range, first_free, ~0U, 0) != 0) {
        for (int fd = first_free; fd < 65536; ++fd) close(fd);
    }
}

/// What the two children of an exec'd helper's launch work from (exec_launch_middle,
/// exec_launch_helper). They share this process's memory (clone with CLONE_VM, as
/// posix_spawn() does): nothing of the process is copied. start() waits only for the middle
/// child (CLONE_VFORK: until it has gone, a few system calls); the helper runs on meanwhile,
/// in this memory until its execve() lets go of it, so what it reads lives in a block of its
/// own (launch_block: this struct at its bottom, its stack above, the command packed in a
/// mapping of its own) that stays until the kernel has cleared `running` (CLONE_CHILD_CLEARTID:
/// at the execve, or at its end if that fails). It runs beside the application's threads, so
/// it makes raw system calls only: no errno, no other memory of the process is touched.
struct exec_launch {
    const char* path = nullptr;
    char* const* argv = nullptr;
    char* const* envp = nullptr;
    int region_fd = -1;
    int socket_fd = -1;
    int log_fd = -1;
    char* helper_stack_top = nullptr;
    int running = 0;  // non-zero until the helper has exec'd (or ended): the kernel clears it
};

/// The grandchild, to be the helper: the region and the socket at their agreed numbers,
/// /dev/null and the log on 0-2, nothing else open (as helper_child_fds, by raw system calls),
/// then the command. Every signal stays blocked through execve() (it shares the application's
/// memory until then, where no handler of the application may run for it); the helper sets its
/// own mask first thing (helper_process_main: a SIGTERM sent meanwhile stays pending and is
/// read from its signalfd).
inline int exec_launch_helper(void* arg) {
    using sigsafe::raw_syscall;
    const auto* l = static_cast<const exec_launch*>(arg);
    const long region_copy = raw_syscall(SYS_fcntl, l->region_fd, F_DUPFD, 10);
    const long socket_copy = l->socket_fd >= 0 ? raw_syscall(SYS_fcntl, l->socket_fd, F_DUPFD, 10) : -1;
    const long log_copy = l->log_fd >= 0 ? raw_syscall(SYS_fcntl, l->log_fd, F_DUPFD, 10) : -1;
    const long null_fd = raw_syscall(SYS_openat, AT_FDCWD, sigsafe::to_long("/dev/null"), O_RDWR);
    if (null_fd >= 0) {
        raw_syscall(SYS_dup3, null_fd, 0, 0);
        raw_syscall(SYS_dup3, null_fd, 1, 0);
        raw_syscall(SYS_dup3, log_copy >= 0 ? log_copy : null_fd, 2, 0);
    }
    raw_syscall(SYS_dup3, region_copy, k_helper_region_fd, 0);
    if (socket_copy >= 0) raw_syscall(SYS_dup3, socket_copy, k_helper_socket_fd, 0);
    const long first_free = socket_copy >= 0 ? k_helper_socket_fd + 1 : k_helper_region_fd + 1;
    if (raw_syscall(SYS_close_range, first_free, ~0U, 0) != 0) {
        for (long fd = first_free; fd < 65536; ++fd) raw_syscall(SYS_close, fd);
    }
    raw_syscall(SYS_execve, sigsafe::to_long(l->path), sigsafe::to_long(l->argv), sigsafe::to_long(l->envp));
    raw_syscall(SYS_exit_group, 127);
    return 127;
}

/// The middle child of the double fork (the helper is never a zombie of ours): a session of
/// its own for the helper, the helper, and gone. start() is held (CLONE_VFORK) only for this.
inline int exec_launch_middle(void* arg) {
    auto* l = static_cast<exec_launch*>(arg);
    sigsafe::raw_syscall(SYS_setsid);
    const int helper = clone(exec_launch_helper, l->helper_stack_top, CLONE_VM | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD,
                             arg, nullptr, nullptr, &l->running);
    if (helper < 0) __atomic_store_n(&l->running, 0, __ATOMIC_RELEASE);
    sigsafe::raw_syscall(SYS_exit_group, helper < 0 ? 1 : 0);
    return 0;
}

/// A copy of this process by the clone system call itself (as fork() without exec would be,
/// but none of glibc's fork machinery: no atfork handlers, no waiting for the malloc arena
/// locks). The child may make only async-signal-safe calls, then exec. Only where
/// ThreadSanitizer's runtime is in the process (tsan_runtime_present): its interceptor of
/// clone() takes every clone for a fork and breaks on the CLONE_VM children below.
inline long clone_for_exec() {
    return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

}  // namespace detail
CRASHDROP_NAMESPACE_END
extern "C" {
// A weak reference, null unless ThreadSanitizer's runtime is in the process (whether or not
// this translation unit was built with it). A function, default visibility: see handler_linux.hpp.
void crashdrop_detail_launch_tsan_init() __asm__("__tsan_init") __attribute__((weak, visibility("default")));
}
CRASHDROP_NAMESPACE_BEGIN
namespace detail {

inline bool tsan_runtime_present() { return &crashdrop_detail_launch_tsan_init != nullptr; }

/// The memory a launch's helper reads until it has exec'd: the struct and the stack (one
/// mapping), the packed command (another). Kept process-wide: the next launch frees it once
/// the kernel has said the helper let go of it (free_done), or never, when it has not.
struct launch_block {
    void* stack = nullptr;  // k_size bytes: exec_launch at the bottom, the stack above
    packed_command command;
    static constexpr std::size_t k_size = 64 * 1024;
    exec_launch* launch() const { return static_cast<exec_launch*>(stack); }
};
inline launch_block*& previous_launch_block() {
    static launch_block* b = nullptr;
    return b;
}
/// Frees the previous launch's block once its helper has exec'd (waits up to 100 ms for it).
inline void free_previous_launch_block() {
    launch_block*& b = previous_launch_block();
    if (b == nullptr) return;
    exec_launch* l = b->launch();
    for (int i = 0; i < 100; ++i) {
        const int tid = __atomic_load_n(&l->running, __ATOMIC_ACQUIRE);
        if (tid == 0) break;
        timespec ms{0, 1000000};
        syscall(SYS_futex, &l->running, FUTEX_WAIT, tid, &ms, nullptr, 0);
    }
    if (__atomic_load_n(&l->running, __ATOMIC_ACQUIRE) != 0) return;  // still in use: kept
    munmap(b->stack, launch_block::k_size);
    if (b->command.base != nullptr) munmap(b->command.base, b->command.size);
    delete b;
    b = nullptr;
}

/// What came from a clean helper while start() waited for its hello.
enum class hello_result {
    said,    // it is up
    ended,   // it ended (or said something else) first: e.g. the loader could not load the object
    silent,  // nothing within the time
};

/// Waits up to `ms` for a clean helper's hello on `sock`. Its end is seen at once (the socket
/// closes when the process exits), not after the time.
inline hello_result await_hello(int sock, int ms) {
    timespec start{};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        const long long spent = (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent >= ms) return hello_result::silent;
        pollfd p = {sock, POLLIN, 0};
        const int n = poll(&p, 1, static_cast<int>(ms - spent));
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) return hello_result::silent;
        if (n < 0) return hello_result::ended;
        char msg[sigsafe::k_handoff_message_size] = {};
        const ssize_t got = recv(sock, msg, sizeof(msg), 0);
        if (got < 0 && errno == EINTR) continue;
        return got == static_cast<ssize_t>(sizeof(msg)) && msg[0] == 'H' ? hello_result::said : hello_result::ended;
    }
}

/// Starts the helper (double fork: it is reparented at once, never a zombie of ours). Returns
/// our end of its socket, or -1 with *error. `in_copy` (fork mode's fallback): the helper runs
/// in a fork() of this process; otherwise `command` is exec'd (exec_launch_middle),
/// and with `hello` start() waits (up to 5 s) for the helper to say it is up; *ended (when
/// given) tells a helper that ended before its hello from one that stayed silent.
inline int launch_helper(HelperMode mode, bool in_copy, bool hello, const helper_command& command, int region_fd,
                         const std::string& log_path, const Transport* custom, const BeforeUpload* before, const helper_config* config,
                         std::string* error,
                         bool* ended = nullptr) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        *error = "socketpair: " + errno_text(errno);
        return -1;
    }
    // Never through a link, and only a regular file (a FIFO planted as helper.log would block start()).
    int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    struct stat log_st;
    if (log_fd >= 0 && (fstat(log_fd, &log_st) != 0 || !S_ISREG(log_st.st_mode))) {
        close(log_fd);
        log_fd = -1;
    }
    (void)mode;
    pid_t child = -1;
    if (in_copy) {
        child = fork();
        if (child == 0) {
            setsid();
            const pid_t grandchild = fork();
            if (grandchild != 0) _exit(grandchild < 0 ? 1 : 0);
            helper_child_fds(region_fd, sv[1], log_fd);
            helper_process_main(k_helper_region_fd, k_helper_socket_fd, custom, before, config);
        }
    } else if (tsan_runtime_present()) {
        // Two copies of the process, each by a bare clone (see clone_for_exec); every signal
        // blocked across them (restored in the helper just before exec, which resets handlers).
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        child = static_cast<pid_t>(clone_for_exec());
        if (child == 0) {
            setsid();
            const long grandchild = clone_for_exec();
            if (grandchild != 0) _exit(grandchild < 0 ? 1 : 0);
            helper_child_fds(region_fd, sv[1], log_fd);
            pthread_sigmask(SIG_SETMASK, &old, nullptr);
            execve(command.path.c_str(), command.argv.data(), command.envp.data());
            _exit(127);
        }
        const int clone_errno = errno;
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        errno = clone_errno;
    } else {
        // Every signal blocked across the clones: no handler of the application runs in the
        // children, which share its memory (restored here once the middle one has gone).
        free_previous_launch_block();
        auto* block = new launch_block();
        block->stack = mmap(nullptr, launch_block::k_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (block->stack == MAP_FAILED || !pack_command(command, &block->command)) {
            *error = "no memory for the helper's launch: " + errno_text(errno);
            if (block->stack != MAP_FAILED) munmap(block->stack, launch_block::k_size);
            delete block;
            close(sv[0]);
            close(sv[1]);
            if (log_fd >= 0) close(log_fd);
            return -1;
        }
        exec_launch* l = new (block->stack) exec_launch();
        l->path = block->command.path;
        l->argv = block->command.argv;
        l->envp = block->command.envp;
        l->region_fd = region_fd;
        l->socket_fd = sv[1];
        l->log_fd = log_fd;
        l->running = 1;
        // The helper's stack above the struct; the middle child's, while start() waits, is the
        // upper half (the helper's grows down from the middle of the block).
        l->helper_stack_top = static_cast<char*>(block->stack) + launch_block::k_size / 2;
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        child = clone(exec_launch_middle, static_cast<char*>(block->stack) + launch_block::k_size, CLONE_VM | CLONE_VFORK | SIGCHLD, l);
        const int clone_errno = errno;
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        if (child < 0) __atomic_store_n(&l->running, 0, __ATOMIC_RELEASE);
        previous_launch_block() = block;  // freed by the next launch, once the helper has exec'd
        errno = clone_errno;
    }
    if (child < 0) {
        *error = std::string(in_copy ? "fork: " : "clone: ") + errno_text(errno);
        close(sv[0]);
        close(sv[1]);
        if (log_fd >= 0) close(log_fd);
        return -1;
    }
    close(sv[1]);
    if (log_fd >= 0) close(log_fd);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    const hello_result came = hello ? await_hello(sv[0], 5000) : hello_result::said;
    if (ended != nullptr) *ended = came == hello_result::ended;
    if (came != hello_result::said) {
        *error = "the clean helper (" + command.path + ") did not come up";
        close(sv[0]);
        return -1;
    }
    return sv[0];
}

/// The file mapped at `address` (from /proc/self/maps); empty when it is none, or deleted.
inline std::string mapped_file_of(std::uintptr_t address) {
    std::string maps;
    read_system_file("/proc/self/maps", &maps, 16u << 20);
    std::string found;
    std::size_t at = 0;
    while (at < maps.size() && found.empty()) {
        std::size_t end = maps.find('\n', at);
        if (end == std::string::npos) end = maps.size();
        const std::string line = maps.substr(at, end - at);
        at = end + 1;
        unsigned long long lo = 0, hi = 0;
        if (std::sscanf(line.c_str(), "%llx-%llx", &lo, &hi) != 2 || address < lo || address >= hi) continue;
        const std::size_t slash = line.find('/');  // no field before the path holds one
        if (slash != std::string::npos) found = line.substr(slash);
        if (found.size() >= 10 && found.compare(found.size() - 10, 10, " (deleted)") == 0) found.clear();
    }
    return found;
}

#if CRASHDROP_HELPER_EARLY_ENTRY && defined(__PIC__) && !defined(__PIE__)
inline void helper_module_entry(int, char**, char** envp);
#endif

/// For crashdrop in a shared object: how the dynamic loader can start a clean helper from it.
/// False (and *why) when it cannot: the module entry is not compiled in, no dynamic loader (a
/// static host), not glibc, the object's file is gone or unnamed, or a path the loader's
/// --preload list cannot hold (a space or a colon). Takes no lock of the loader's (a thread
/// of the host may hold it for good: one inside dlopen()).
inline bool find_loader_command(loader_command* out, std::string* why) {
#if CRASHDROP_HELPER_EARLY_ENTRY && defined(__PIC__) && !defined(__PIE__)
    const std::uintptr_t base = static_cast<std::uintptr_t>(getauxval(AT_BASE));
#if defined(__GLIBC__)
    // glibc's own function (its address, not dlsym: that would wait for the loader's lock).
    const void* libc_symbol = reinterpret_cast<const void*>(&gnu_get_libc_version);
#else
    const void* libc_symbol = nullptr;  // the loader command is glibc's
#endif
    out->loader = base != 0 ? mapped_file_of(base) : std::string();
    out->module = mapped_file_of(reinterpret_cast<std::uintptr_t>(&helper_module_entry));
    const std::string libc = libc_symbol != nullptr ? mapped_file_of(reinterpret_cast<std::uintptr_t>(libc_symbol)) : std::string();
    out->program = libc.empty() ? std::string() : libc.substr(0, libc.rfind('/') + 1) + "libdl.so.2";
    if (out->loader.empty()) *why = "no dynamic loader was found";
    else if (libc.empty()) *why = "the GNU C library was not found";
    else if (access(out->program.c_str(), R_OK) != 0) *why = out->program + " was not found";
    else if (out->module.empty()) *why = "the shared object holding crashdrop has no file";
    else if (out->module.find_first_of(" :") != std::string::npos || out->program.find_first_of(" :") != std::string::npos) {
        *why = "a path holds a space or a colon";
    } else {
        return true;
    }
    return false;
#else
    (void)out;
    *why = "CRASHDROP_HELPER_EARLY_ENTRY is 0";
    return false;
#endif
}

/// The second way to a clean helper of a shared object, for one that cannot be loaded on its
/// own (a Python extension module refers to data only the python executable exports,
/// `_Py_NoneStruct`; an object bound at load time, -z now, to functions of its host): the host
/// executable as the loader's program, `ld.so --preload <object> <executable>`, so that the
/// object's references to its host resolve. The object's first constructor still takes the
/// helper before the executable's constructors and main(); what runs before it is the
/// executable's .preinit_array and the constructors of the executable's libraries (glibc
/// initialises the program's dependencies before a preloaded object that does not depend on
/// them). Sets loader->program to the executable's real path (its $ORIGIN is then the right
/// one; /proc/self/exe would be the loader's own in the helper). False (and *why) when it has
/// no file (deleted, a memfd) or is the loader itself.
inline bool use_host_program(loader_command* loader, std::string* why) {
    char path[4096];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    const std::string exe = n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string();
    struct stat st;
    const bool deleted = exe.size() >= 10 && exe.compare(exe.size() - 10, 10, " (deleted)") == 0;
    if (exe.empty() || exe[0] != '/' || deleted || stat(exe.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        *why = "the host executable has no file";
    } else if (exe == loader->loader) {
        *why = "the host executable is the dynamic loader";
    } else {
        loader->program = exe;
        return true;
    }
    return false;
}

/// The helper marker's value in an environment block (the entries below run before `environ`
/// is set); nullptr when it has none.
inline const char* helper_marker_in(char** envp) {
    if (envp == nullptr) return nullptr;
    const std::size_t name = std::strlen(k_helper_env);
    const char* spec = nullptr;
    for (char** e = envp; *e != nullptr; ++e) {
        if (std::strncmp(*e, k_helper_env, name) == 0 && (*e)[name] == '=') spec = *e + name + 1;
    }
    return spec;
}

#if CRASHDROP_HELPER_EARLY_ENTRY && !(defined(__PIC__) && !defined(__PIE__))
/// The executable's .preinit_array entry: the dynamic loader calls it after mapping and
/// relocating every library, before any library's or the executable's constructor and before
/// main() (a static executable: __libc_start_main, before its constructors). In a helper
/// started with an ":early" marker it becomes the helper, configured from the shared region,
/// and never returns; anywhere else it returns at once. What the helper uses is ready by then:
/// libc is initialised by the loader before any preinit entry (malloc and stdio need no
/// constructor; `environ` is the one thing libc sets later, so it is set here from envp), and
/// the parts of libstdc++ used (strings, containers, std::function, mutexes) need none of its
/// constructors (no iostream objects are used). Sanitizer runtimes link their own preinit
/// entry ahead of the application's objects, so they are initialised before this one.
inline void helper_early_entry(int, char**, char** envp) {
    helper_marker m;
    if (!parse_helper_marker(helper_marker_in(envp), &m) || !m.early) return;
    if (environ == nullptr) environ = envp;
    unsetenv(k_helper_env);  // not for whatever the helper might start
    helper_process_main(m.region_fd, m.socket_fd, nullptr, nullptr, nullptr, m.announce);
}
__attribute__((section(".preinit_array"), used)) static void (*g_helper_early_entry)(int, char**, char**) = &helper_early_entry;
#endif

#if CRASHDROP_HELPER_EARLY_ENTRY && defined(__PIC__) && !defined(__PIE__)
/// A shared object's entry (a shared object may have no .preinit_array): its first
/// constructor. In the clean fork-mode helper the loader runs as
/// `ld.so --preload <this object> libdl.so.2`; preloaded objects are initialised after their
/// own dependencies (the C library, libstdc++) and before anything else, and the program
/// (libdl.so.2) never runs. (Or, when the object cannot be loaded without its host, with the
/// host executable as the program: see use_host_program().) It takes the helper only when the marker names this object's file,
/// so a dependency of it that holds another crashdrop lets it pass; anywhere else (the object
/// loaded into its host) it returns at once. glibc calls constructors with the program's
/// argc, argv and envp; `environ` is set here when it is not yet, as in the executable's entry.
inline void helper_module_entry(int, char**, char** envp) {
    helper_marker m;
    if (!parse_helper_marker(helper_marker_in(envp), &m) || m.module == nullptr) return;
    Dl_info self;
    if (dladdr(reinterpret_cast<void*>(&helper_module_entry), &self) == 0 || self.dli_fname == nullptr ||
        std::strcmp(self.dli_fname, m.module) != 0) {
        return;
    }
    if (environ == nullptr) environ = envp;
    unsetenv(k_helper_env);
    helper_process_main(m.region_fd, m.socket_fd, nullptr, nullptr, nullptr, m.announce);
}
__attribute__((constructor(101))) static void crashdrop_helper_module_entry(int argc, char** argv, char** envp) {
    helper_module_entry(argc, argv, envp);
}
#endif

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
