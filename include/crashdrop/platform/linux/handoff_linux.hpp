// crashdrop/platform/linux/handoff_linux.hpp - after a dump is built: hand it to the helper
// (the image is already in the region the helper maps; one byte on the socket wakes it, one
// byte back says it is in pending/). The crashed process waits for that answer only, never for
// the network. If there is no helper, or it does not answer in time, the crashed process writes
// the dump itself; and if the helper is gone, it starts a new one (fork and exec with raw
// system calls) to send what was written. Each hand-off is numbered (region.hpp): an answer
// completes only its own hand-off, and the image is not written again while a helper that
// answered late may still be reading it (claim_image).
// Context: implementation TU; crash path (crashdrop::sigsafe rules apply).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

constexpr int k_helper_answer_timeout_ms = 5000;
// A crash waits this long at most for a helper that answered a hand-off late and still reads
// the image; then it takes the image back (claim_image).
constexpr int k_crash_claim_wait_ms = 1000;

/// Gives the dump file its name in pending/. The bytes went into an unnamed file (O_TMPFILE,
/// made by start()) and linkat() names it, or, where O_TMPFILE is not available, into
/// ".<id>.dmp.tmp" created with O_CREAT|O_EXCL|O_NOFOLLOW and renamed without replacing. Either
/// way the dump appears in pending/ complete, mode 0600, never through a symbolic link and
/// never over an existing file. Returns 0 or -errno.
CRASHDROP_SIGSAFE long publish_dump(linux_state* g, const image* im, const char* name) {
    const int prepared = g->dump_fd;
    g->dump_fd = -1;
    if (prepared >= 0) {
        long r = write_all(prepared, im->base, static_cast<std::size_t>(im->size));
        if (r == 0) {
            r = raw_syscall(SYS_linkat, AT_FDCWD, to_long(g->dump_fd_path), g->pending_dirfd, to_long(name),
                            AT_SYMLINK_FOLLOW);
        }
        sys_close(prepared);
        if (r == 0 || r == -EEXIST) return r;
        // Otherwise (no /proc, say) fall through to the named temporary file.
    }
    char tmp[80];
    text t;
    t.reset(tmp, sizeof(tmp));
    t.put('.');
    text_append(&t, name);
    text_append(&t, ".tmp");
    const int fd = sys_openat(g->pending_dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return fd;
    const long w = write_all(fd, im->base, static_cast<std::size_t>(im->size));
    sys_close(fd);
    long r = w;
    if (w == 0) {
        r = raw_syscall(SYS_renameat2, g->pending_dirfd, to_long(tmp), g->pending_dirfd, to_long(name),
                        1 /* RENAME_NOREPLACE */);
        if (r == -EINVAL || r == -ENOSYS) {  // a file system without RENAME_NOREPLACE
            r = raw_syscall(SYS_linkat, g->pending_dirfd, to_long(tmp), g->pending_dirfd, to_long(name), 0);
        }
    }
    raw_syscall(SYS_unlinkat, g->pending_dirfd, to_long(tmp), 0);
    return r;
}


/// Reads one answer from the helper's socket, waiting at most until `deadline` (monotonic
/// ns). Returns 1 with *kind and *seq set, 0 at the deadline, -1 when the helper is gone.
/// A message that is not a hand-off answer (wrong size) is skipped.
CRASHDROP_SIGSAFE int read_answer(int sock, long long deadline, char* kind, u32* seq) {
    for (;;) {
        const long long left = deadline - monotonic_ns();
        if (left <= 0) return 0;
        struct pollfd p;
        p.fd = sock;
        p.events = POLLIN;
        p.revents = 0;
        struct timespec ts;
        ts.tv_sec = static_cast<time_t>(left / 1000000000LL);
        ts.tv_nsec = static_cast<long>(left % 1000000000LL);
        const long r = raw_syscall(SYS_ppoll, to_long(&p), 1, to_long(&ts), 0, 0);
        if (r == -EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) return 0;
        char msg[8];
        const long got = raw_syscall(SYS_recvfrom, sock, to_long(msg), sizeof(msg), MSG_DONTWAIT, 0, 0);
        if (got == -EAGAIN || got == -EINTR) continue;
        if (got <= 0) return -1;  // closed: it died while we waited
        if (got != static_cast<long>(k_handoff_message_size)) continue;
        *kind = msg[0];
        *seq = handoff_message_seq(msg);
        return 1;
    }
}

/// Before a dump is built in the image: makes sure the helper is not still reading it (a
/// hand-off that timed out, whose helper went on). Waits for the helper to finish, at most
/// `wait_ms`; then, for a crash (`take` true), takes the image back: the helper sees that
/// when it finishes and throws its copy away, so a torn copy is never stored (the dump it was
/// reading is on disk already: the crashed process wrote it itself when it stopped waiting).
/// For write_dump() (`take` false) the image stays the helper's and -EBUSY is returned.
/// 0: the image is ours.
CRASHDROP_SIGSAFE long claim_image(linux_state* g, int wait_ms, bool take) {
    region_header* h = g->header;
    if (h == nullptr) return 0;
    const long long deadline = monotonic_ns() + static_cast<long long>(wait_ms) * 1000000LL;
    for (;;) {
        u64 word = h->handoff.load(std::memory_order_acquire);
        if (handoff_state_of(word) != hs_taken) return 0;
        const int sock = g->helper_sock.load(std::memory_order_acquire);
        char kind = 0;
        u32 seq = 0;
        // Answers come when the helper finishes; stale ones are read and dropped here. No
        // socket (it was closed when the helper was found gone) or a closed one: the helper has
        // exited, so nobody reads the image any more.
        const int r = sock >= 0 ? read_answer(sock, deadline, &kind, &seq) : -1;
        if (r == 1) continue;
        if (r < 0) {
            h->handoff.compare_exchange_strong(word, handoff_word(handoff_seq_of(word), hs_withdrawn), std::memory_order_acq_rel);
            return 0;
        }
        // The deadline passed with the helper still at it.
        if (!take) return -EBUSY;
        if (h->handoff.compare_exchange_strong(word, handoff_word(handoff_seq_of(word), hs_withdrawn), std::memory_order_acq_rel)) {
            return 0;
        }
        // It finished just now: look again.
    }
}

/// 1: persisted by the helper; 0: it did not answer in time (it may still be alive);
/// -1: there is no helper (none configured, or its socket is closed).
/// Every hand-off has its own number, in the region's hand-off word and in the messages: an
/// answer to an earlier hand-off (one that timed out, answered late) is read and ignored.
CRASHDROP_SIGSAFE int handoff_to_helper(linux_state* g, const image* im, const char* id, const dump_request* req) {
    const int sock = g->helper_sock.load(std::memory_order_acquire);
    region_header* h = g->header;
    if (sock < 0 || h == nullptr) return -1;
    if (handoff_state_of(h->handoff.load(std::memory_order_acquire)) == hs_taken) return 0;  // never: claim_image ran
    u32 seq = g->handoff_seq.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (seq == 0) seq = g->handoff_seq.fetch_add(1, std::memory_order_acq_rel) + 1;  // 0 is never a hand-off's
    h->image_size = im->size;
    struct timespec now;
    now.tv_sec = 0;
    sys_clock_gettime(CLOCK_REALTIME, &now);
    h->crash_time = static_cast<u64>(now.tv_sec);
    h->signo = req->is_crash ? static_cast<u32>(req->signo) : 0;
    h->crashed_tid = req->tid;
    zero_bytes(h->report_id, sizeof(h->report_id));
    copy_bytes(h->report_id, id, string_length(id));
    const u64 ready = handoff_word(seq, hs_ready);
    h->handoff.store(ready, std::memory_order_release);
    char wake[k_handoff_message_size];
    handoff_message(wake, 'D', seq);
    const long sent = raw_syscall(SYS_sendto, sock, to_long(wake), sizeof(wake), MSG_NOSIGNAL | MSG_DONTWAIT, 0, 0);
    if (sent != static_cast<long>(sizeof(wake))) {
        u64 expected = ready;
        h->handoff.compare_exchange_strong(expected, handoff_word(seq, hs_withdrawn), std::memory_order_acq_rel);
        return sent == -EAGAIN ? 0 : -1;  // EPIPE, ECONNRESET...: the helper is gone
    }
    CRASHDROP_DETAIL_CRASH_PHASE("helper woken");
    const long long deadline = monotonic_ns() + k_helper_answer_timeout_ms * 1000000LL;
    int result = 0;
    for (;;) {
        char kind = 0;
        u32 answered = 0;
        const int r = read_answer(sock, deadline, &kind, &answered);
        if (r <= 0) {
            result = r;
            break;
        }
        if (answered != seq) continue;  // a late answer to an earlier hand-off
        if (kind == 'P' && h->handoff.load(std::memory_order_acquire) == handoff_word(seq, hs_persisted)) return 1;
        if (kind == 'F') return 0;  // alive, but could not write: we write it ourselves
    }
    // No answer in time (or the helper died): take the hand-off back unless the helper has
    // already taken it (then claim_image() waits for it before the image is written again).
    u64 expected = ready;
    h->handoff.compare_exchange_strong(expected, handoff_word(seq, hs_withdrawn), std::memory_order_acq_rel);
    return result;
}

/// Starts a helper after a crash, to send the dump the crashed process wrote: fork (clone)
/// and exec of the command start() prepared, with the region on fd 3 and no socket. The child
/// outlives us (it is reparented when we die).
CRASHDROP_SIGSAFE void respawn_helper(linux_state* g) {
    if (g->respawn_path == nullptr || g->region_fd < 0) return;
    const long pid = raw_syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid != 0) return;  // the parent (or a failure) goes on
    raw_syscall(SYS_setsid);
    const int region = static_cast<int>(raw_syscall(SYS_fcntl, g->region_fd, F_DUPFD, 10));
    const int null_fd = sys_openat(AT_FDCWD, "/dev/null", O_RDWR);
    // O_NONBLOCK: a FIFO planted as helper.log fails at once (ENXIO) instead of blocking.
    const int log_fd = sys_openat(AT_FDCWD, g->helper_log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK, 0600);
    if (null_fd >= 0) {
        raw_syscall(SYS_dup3, null_fd, 0, 0);
        raw_syscall(SYS_dup3, null_fd, 1, 0);
        raw_syscall(SYS_dup3, log_fd >= 0 ? log_fd : null_fd, 2, 0);
    }
    raw_syscall(SYS_dup3, region, 3, 0);
    raw_syscall(SYS_close_range, 4, ~0u, 0);
    raw_syscall(SYS_execve, to_long(g->respawn_path), to_long(g->respawn_argv), to_long(g->respawn_envp));
    raw_syscall(SYS_exit_group, 127);
}

/// Puts the finished image on disk, by the helper or ourselves. Returns 0 or -errno.
CRASHDROP_SIGSAFE long deliver_dump(linux_state* g, const image* im, const char* name, const char* id, const dump_request* req) {
    const int handed = handoff_to_helper(g, im, id, req);
    if (handed == 1) return 0;
    const bool helper_gone = handed < 0 && g->helper_sock.load(std::memory_order_acquire) >= 0;
    const long written = publish_dump(g, im, name);  // on disk before anything else is tried
    if (helper_gone) {
        g->helper_sock.store(-1, std::memory_order_release);
        if (written == 0) respawn_helper(g);
    }
    return written;
}

}  // namespace sigsafe

namespace detail {

/// Prepares the unnamed file the next dump is written to (O_TMPFILE in pending/). Without
/// O_TMPFILE support the dump path creates a named temporary file instead.
inline void prepare_dump_file(sigsafe::linux_state* g) {
    if (g->dump_fd >= 0) return;
    const int fd = openat(g->pending_dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return;
    g->dump_fd = fd;
    std::snprintf(g->dump_fd_path, sizeof(g->dump_fd_path), "/proc/self/fd/%d", fd);
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
