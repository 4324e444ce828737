// crashdrop/platform/linux/syscalls_linux.hpp - typed Linux system calls over the
// architecture's raw_syscall, plus the few composite operations the crash path needs: write
// everything, read a whole /proc file, read memory that may be unmapped without faulting.
// Every call returns the kernel's result (-errno on failure); errno is never touched.
// Context: implementation TU; crash path (crashdrop::sigsafe rules apply).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

CRASHDROP_SIGSAFE_INLINE long to_long(const void* p) { return reinterpret_cast<long>(p); }

CRASHDROP_SIGSAFE_INLINE int sys_openat(int dirfd, const char* path, int flags, int mode = 0) {
    return static_cast<int>(raw_syscall(SYS_openat, dirfd, to_long(path), flags, mode));
}
CRASHDROP_SIGSAFE_INLINE long sys_read(int fd, void* buf, std::size_t n) {
    return raw_syscall(SYS_read, fd, to_long(buf), static_cast<long>(n));
}
CRASHDROP_SIGSAFE_INLINE long sys_write(int fd, const void* buf, std::size_t n) {
    return raw_syscall(SYS_write, fd, to_long(buf), static_cast<long>(n));
}
CRASHDROP_SIGSAFE_INLINE int sys_close(int fd) { return static_cast<int>(raw_syscall(SYS_close, fd)); }
CRASHDROP_SIGSAFE_INLINE long sys_getdents64(int fd, void* buf, std::size_t n) {
    return raw_syscall(SYS_getdents64, fd, to_long(buf), static_cast<long>(n));
}
CRASHDROP_SIGSAFE_INLINE int sys_gettid() { return static_cast<int>(raw_syscall(SYS_gettid)); }
CRASHDROP_SIGSAFE_INLINE int sys_getpid() { return static_cast<int>(raw_syscall(SYS_getpid)); }
CRASHDROP_SIGSAFE_INLINE int sys_tgkill(int tgid, int tid, int sig) {
    return static_cast<int>(raw_syscall(SYS_tgkill, tgid, tid, sig));
}
CRASHDROP_SIGSAFE_INLINE int sys_rt_tgsigqueueinfo(int tgid, int tid, int sig, siginfo_t* info) {
    return static_cast<int>(raw_syscall(SYS_rt_tgsigqueueinfo, tgid, tid, sig, to_long(info)));
}
CRASHDROP_SIGSAFE_INLINE int sys_prctl(int option, unsigned long arg2) {
    return static_cast<int>(raw_syscall(SYS_prctl, option, static_cast<long>(arg2)));
}
CRASHDROP_SIGSAFE_INLINE long sys_getrandom(void* buf, std::size_t n, unsigned flags) {
    return raw_syscall(SYS_getrandom, to_long(buf), static_cast<long>(n), static_cast<long>(flags));
}
CRASHDROP_SIGSAFE_INLINE int sys_clock_gettime(int clock, struct timespec* ts) {
    return static_cast<int>(raw_syscall(SYS_clock_gettime, clock, to_long(ts)));
}
CRASHDROP_SIGSAFE_INLINE long sys_times(struct tms* t) { return raw_syscall(SYS_times, to_long(t)); }

/// Waits while *addr == expected, at most `timeout_ns` (< 0: no limit). `op`: FUTEX_WAIT_PRIVATE
/// for a word of this process, FUTEX_WAIT for one in MAP_SHARED memory another process changes.
CRASHDROP_SIGSAFE_INLINE int futex_wait_op(const std::atomic<u32>* addr, u32 expected, long long timeout_ns, int op) {
    struct timespec ts;
    struct timespec* tsp = nullptr;
    if (timeout_ns >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000LL);
        ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000LL);
        tsp = &ts;
    }
    return static_cast<int>(raw_syscall(SYS_futex, to_long(addr), op, static_cast<long>(expected), to_long(tsp)));
}
/// Process-private futex wait and wake.
CRASHDROP_SIGSAFE_INLINE int futex_wait(const std::atomic<u32>* addr, u32 expected, long long timeout_ns) {
    return futex_wait_op(addr, expected, timeout_ns, FUTEX_WAIT_PRIVATE);
}
CRASHDROP_SIGSAFE_INLINE void futex_wake_all(const std::atomic<u32>* addr) {
    raw_syscall(SYS_futex, to_long(addr), FUTEX_WAKE_PRIVATE, 0x7fffffff);
}

/// futex_wait and futex_wake_all across processes: for a word in MAP_SHARED memory that
/// another process waits on or changes (the region's hang_request).
CRASHDROP_SIGSAFE_INLINE int futex_wait_shared(const std::atomic<u32>* addr, u32 expected, long long timeout_ns) {
    return futex_wait_op(addr, expected, timeout_ns, FUTEX_WAIT);
}
CRASHDROP_SIGSAFE_INLINE void futex_wake_all_shared(const std::atomic<u32>* addr) {
    raw_syscall(SYS_futex, to_long(addr), FUTEX_WAKE, 0x7fffffff);
}

CRASHDROP_SIGSAFE_INLINE void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (raw_syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, to_long(&ts), to_long(&ts)) == -EINTR) {
    }
}

/// A clock's reading in nanoseconds (0 if the call fails).
CRASHDROP_SIGSAFE_INLINE long long clock_ns(clockid_t clock) {
    struct timespec ts;
    ts.tv_sec = 0;
    ts.tv_nsec = 0;
    sys_clock_gettime(clock, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

CRASHDROP_SIGSAFE_INLINE long long monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }

/// CPU time the calling thread has used (not counting time it was preempted or stopped).
CRASHDROP_SIGSAFE_INLINE long long thread_cpu_ns() { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

/// Writes all n bytes (retrying short writes and EINTR). Returns 0 or -errno.
CRASHDROP_SIGSAFE long write_all(int fd, const void* buf, std::size_t n) {
    const auto* p = static_cast<const u8*>(buf);
    while (n > 0) {
        const long r = sys_write(fd, p, n);
        if (r == -EINTR) continue;
        if (r <= 0) return r < 0 ? r : -EIO;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return 0;
}

/// Reads a whole (proc) file into buf, up to cap bytes. Returns the size, or -errno.
/// *truncated is set when the file had more than cap bytes.
CRASHDROP_SIGSAFE long read_file(int dirfd, const char* path, void* buf, std::size_t cap,
                                 bool* truncated) {
    if (truncated != nullptr) *truncated = false;
    const int fd = sys_openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fd;
    auto* p = static_cast<u8*>(buf);
    std::size_t got = 0;
    for (;;) {
        if (got == cap) {
            u8 probe;
            long r = sys_read(fd, &probe, 1);
            if (r > 0 && truncated != nullptr) *truncated = true;
            break;
        }
        const long r = sys_read(fd, p + got, cap - got);
        if (r == -EINTR) continue;
        if (r < 0) {
            sys_close(fd);
            return r;
        }
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    sys_close(fd);
    return static_cast<long>(got);
}

/// Reads memory of this process that may be unmapped or unreadable, without faulting:
/// process_vm_readv on our own pid (no ptrace permission needed for one's own process), or,
/// where that call is unavailable (seccomp, qemu-user), a pipe the kernel copies through.
/// Both report EFAULT instead of raising SIGSEGV/SIGBUS.
struct memory_reader {
    int pid;
    int pipe_read;
    int pipe_write;
    int use_pipe;  // 1 after process_vm_readv failed with ENOSYS/EPERM
};

/// Returns bytes read (a short count stops at the first unreadable byte) or -errno.
CRASHDROP_SIGSAFE long read_memory(memory_reader* m, void* dst, u64 addr, std::size_t len) {
    if (!m->use_pipe) {
        struct iovec local;
        struct iovec remote;
        local.iov_base = dst;
        local.iov_len = len;
        remote.iov_base = reinterpret_cast<void*>(addr);
        remote.iov_len = len;
        const long r = raw_syscall(SYS_process_vm_readv, m->pid, to_long(&local), 1, to_long(&remote), 1, 0);
        if (r >= 0) return r;
        if (r != -ENOSYS && r != -EPERM) return r;
        m->use_pipe = 1;
    }
    if (m->pipe_read < 0) return -ENOSYS;
    auto* out = static_cast<u8*>(dst);
    std::size_t done = 0;
    while (done < len) {
        // One page at a time: a pipe write that meets an unmapped page fails whole (EFAULT),
        // so chunks never cross a page boundary and a short read ends exactly at the hole.
        const u64 at = addr + done;
        const std::size_t to_page_end = static_cast<std::size_t>(4096 - (at & 4095));
        const std::size_t chunk = len - done > to_page_end ? to_page_end : len - done;
        const long w = sys_write(m->pipe_write, reinterpret_cast<const void*>(addr + done), chunk);
        if (w == -EINTR) continue;
        if (w <= 0) return done > 0 ? static_cast<long>(done) : (w < 0 ? w : -EFAULT);
        std::size_t got = 0;
        while (got < static_cast<std::size_t>(w)) {
            const long r = sys_read(m->pipe_read, out + done + got, static_cast<std::size_t>(w) - got);
            if (r == -EINTR) continue;
            if (r <= 0) return -EIO;
            got += static_cast<std::size_t>(r);
        }
        done += got;
    }
    return static_cast<long>(done);
}

struct memory_request {
    void* dst;
    u64 addr;
    std::size_t len;
    long got;  // out: bytes read (a short count stops at the first unreadable byte), or -errno;
               // left as it is for a request of length 0
};

constexpr u32 k_batch_max = 512;  // requests per process_vm_readv call

/// Reads many ranges with as few system calls as possible: one process_vm_readv for up to
/// k_batch_max ranges; when that call stops early (a range is unreadable), the ranges it did not
/// finish are read one by one. `iov` must hold 2 * k_batch_max entries.
CRASHDROP_SIGSAFE void read_memory_many(memory_reader* m, memory_request* req, u32 n, struct iovec* iov) {
    for (u32 base = 0; base < n; base += k_batch_max) {
        const u32 count = n - base < k_batch_max ? n - base : k_batch_max;
        long total = -ENOSYS;
        if (!m->use_pipe) {
            for (u32 i = 0; i < count; ++i) {
                iov[i].iov_base = req[base + i].dst;
                iov[i].iov_len = req[base + i].len;
                iov[k_batch_max + i].iov_base = reinterpret_cast<void*>(req[base + i].addr);
                iov[k_batch_max + i].iov_len = req[base + i].len;
            }
            total = raw_syscall(SYS_process_vm_readv, m->pid, to_long(iov), count, to_long(iov + k_batch_max), count, 0);
        }
        u64 done = total > 0 ? static_cast<u64>(total) : 0;
        for (u32 i = 0; i < count; ++i) {
            memory_request* r = &req[base + i];
            if (r->len == 0) continue;  // nothing asked (or already read some other way): got stays
            if (done >= r->len) {
                r->got = static_cast<long>(r->len);
                done -= r->len;
            } else {
                done = 0;
                r->got = read_memory(m, r->dst, r->addr, r->len);  // where the batch stopped, and after
            }
        }
    }
}

}  // namespace sigsafe
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
