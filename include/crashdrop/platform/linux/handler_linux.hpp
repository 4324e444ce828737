// crashdrop/platform/linux/handler_linux.hpp - the fatal-signal handler and what keeps it
// working: chaining to the handlers that were there before, re-raising so the process dies
// with its original signal, repairing a handler reset by signal(), surviving re-entry and
// simultaneous crashes; plus alternate signal stacks for every thread, the std::terminate
// handler and the fork child fix-up.
// Context: implementation TU. fatal_handler and its helpers (namespace sigsafe) run after a
// fault and follow the crash-path rules; everything in namespace detail is ordinary code.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

CRASHDROP_SIGSAFE void fatal_handler(int sig, siginfo_t* info, void* ucv);

CRASHDROP_SIGSAFE void say(const char* message) {
    write_all(STDERR_FILENO, message, string_length(message));  // write(2) is async-signal-safe
}

CRASHDROP_SIGSAFE bool install_fatal_handler(int sig, struct sigaction* previous) {
    struct sigaction sa;
    zero_bytes(&sa, sizeof(sa));
    sa.sa_sigaction = fatal_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    // Block everything but the fatal signals while the handler runs; in particular the capture
    // signal, which a thread that crashes too must only take once it has published its fault.
    sigfillset(&sa.sa_mask);  // async-signal-safe per signal-safety(7)
    for (int i = 0; i < k_fatal_signal_count; ++i) sigdelset(&sa.sa_mask, k_fatal_signals[i]);
    return sigaction(sig, &sa, previous) == 0;  // async-signal-safe
}

CRASHDROP_SIGSAFE void restore_previous_handlers(linux_state* g) {
    if (g->handlers_installed.exchange(0, std::memory_order_acq_rel) == 0) return;
    for (int i = 0; i < k_fatal_signal_count; ++i) {
        sigaction(k_fatal_signals[i], &g->previous[i], nullptr);  // async-signal-safe
    }
}

CRASHDROP_SIGSAFE void set_signal_blocked(int sig, bool blocked) {
    sigset_t set;
    sigemptyset(&set);    // async-signal-safe
    sigaddset(&set, sig);  // async-signal-safe
    sigprocmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);  // async-signal-safe
}

/// A fault inside our own dump writer: give up on the dump, put the previous handlers back
/// and make sure the process still dies with the signal it was first dying of.
CRASHDROP_SIGSAFE void fail_safe(linux_state* g, int nested_sig) {
    say("crashdrop: fault while writing the dump; giving up on it\n");
    restore_previous_handlers(g);
    const int original = g->crash_signal;
    if (original != 0 && original != nested_sig) {
        sys_tgkill(g->pid, sys_gettid(), original);
        set_signal_blocked(original, false);  // delivered now, to the previous disposition
    }
    // Returning re-executes the faulting instruction under the previous handler.
}

/// Records this thread's fault for the thread that is writing the dump.
CRASHDROP_SIGSAFE crash_record* publish_crash(linux_state* g, u32 tid, int sig, const siginfo_t* info, const ucontext_t* uc) {
    for (u32 i = 0; i < k_max_secondary_crashes; ++i) {
        crash_record* r = &g->secondary[i];
        u32 expected = 0;
        if (!r->tid.compare_exchange_strong(expected, tid, std::memory_order_acq_rel)) continue;
        r->signo = sig;
        r->code = info != nullptr ? info->si_code : 0;
        r->address = info != nullptr ? reinterpret_cast<u64>(info->si_addr) : 0;
        fill_context(&r->context, uc);
        r->ready.store(1, std::memory_order_release);
        return r;
    }
    return nullptr;
}

CRASHDROP_SIGSAFE void unpublish_crash(crash_record* r) {
    if (r == nullptr) return;
    r->ready.store(0, std::memory_order_release);
    r->tid.store(0, std::memory_order_release);
}

CRASHDROP_SIGSAFE_INLINE bool reraise_needed(int sig, const siginfo_t* info) {
    // Returning re-executes a faulting instruction, which faults again under the restored
    // handler. Signals sent by kill/raise/abort, traps and seccomp's SIGSYS do not come back
    // by themselves: they are sent again.
    return info == nullptr || info->si_code <= 0 || sig == SIGABRT || sig == SIGTRAP || sig == SIGSYS;
}

CRASHDROP_SIGSAFE void fatal_handler(int sig, siginfo_t* info, void* ucv) {
    linux_state* g = &g_state;
    auto* uc = static_cast<ucontext_t*>(ucv);

    // Someone saved and restored our handler with signal(): it lost SA_SIGINFO (so info is
    // garbage) and SA_ONSTACK. Put it back as it was and let the signal come again.
    struct sigaction current;
    if (sigaction(sig, nullptr, &current) == 0 &&  // async-signal-safe
        current.sa_sigaction == fatal_handler && !(current.sa_flags & SA_SIGINFO)) {
        install_fatal_handler(sig, nullptr);
        if (sig == SIGABRT || sig == SIGTRAP || sig == SIGSYS) sys_tgkill(sys_getpid(), sys_gettid(), sig);
        return;
    }

    const u32 tid = static_cast<u32>(sys_gettid());
    const u32 finished_at_entry = g->dumps_finished.load(std::memory_order_acquire);
    for (;;) {
        u32 owner = 0;
        if (g->owner.compare_exchange_strong(owner, tid | k_owner_crash, std::memory_order_acq_rel)) break;
        if ((owner & k_owner_tid_mask) == tid) {  // a fault inside our own dump writer
            fail_safe(g, sig);
            return;
        }
        // Another thread is writing a dump. Publish this fault so that dump shows it, and let
        // that thread ask for registers (the capture signal is blocked until now).
        crash_record* mine = publish_crash(g, tid, sig, info, uc);
        set_signal_blocked(g->capture_signal, false);
        if (owner & k_owner_crash) {
            // The first crash wins: wait for its dump (bounded), then fall through to the
            // restored handlers when the faulting instruction runs again.
            for (int waited = 0; waited < 30; ++waited) {
                const u32 now = g->dumps_finished.load(std::memory_order_acquire);
                if (now != finished_at_entry) break;
                futex_wait(&g->dumps_finished, now, 1000000000LL);
            }
            sleep_ms(k_crash_grace_ms);  // the first crash's signal ends the process meanwhile
            set_signal_blocked(g->capture_signal, true);
            if (reraise_needed(sig, info)) sys_tgkill(g->pid, static_cast<int>(tid), sig);
            return;
        }
        // A write_dump() is in progress: wait for it to end, then dump this crash.
        futex_wait(&g->owner, owner, 1000000000LL);
        set_signal_blocked(g->capture_signal, true);
        unpublish_crash(mine);
    }

    g->crash_signal = sig;
    dump_request req;
    req.is_crash = true;
    req.signo = sig;
    req.code = info != nullptr ? info->si_code : 0;
    req.address = info != nullptr ? reinterpret_cast<u64>(info->si_addr) : 0;
    req.uc = uc;
    req.tid = tid;
    const long r = write_minidump(g, &req);
    if (r < 0) say("crashdrop: the crash dump could not be written\n");

    restore_previous_handlers(g);
    if (reraise_needed(sig, info)) sys_tgkill(g->pid, static_cast<int>(tid), sig);
    release_threads(g, g->dump_generation.load(std::memory_order_acquire));
    g->dumps_finished.fetch_add(1, std::memory_order_acq_rel);
    futex_wake_all(&g->dumps_finished);
}

}  // namespace sigsafe

namespace detail {

// ---- alternate signal stacks ----------------------------------------------------------------

struct alt_stack_registry {
    pthread_key_t key;
    std::atomic<int> key_ready;
    std::size_t size;   // usable bytes
    std::size_t total;  // with the guard page
};
static alt_stack_registry g_alt;

/// Runs when a thread that got an alternate stack from us ends.
inline void free_alt_stack(void* base) {
    if (base == nullptr) return;
    stack_t current;
    if (sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_ONSTACK)) return;  // in use: leak it
    if (current.ss_sp == static_cast<char*>(base) + (g_alt.total - g_alt.size)) {
        stack_t off;
        off.ss_sp = nullptr;
        off.ss_flags = SS_DISABLE;
        off.ss_size = 0;
        sigaltstack(&off, nullptr);
    }
    munmap(base, g_alt.total);
}

/// Gives the calling thread an alternate stack unless it already has a large enough one.
inline Status install_alt_stack() {
    if (!g_alt.key_ready.load(std::memory_order_acquire)) return Status(Error::not_started, "crashdrop::start() has not run");
    stack_t current;
    if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE) && current.ss_size >= g_alt.size) {
        return Status::success();
    }
    void* base = mmap(nullptr, g_alt.total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) return Status(Error::out_of_memory, "alternate signal stack: mmap failed");
    mprotect(base, g_alt.total - g_alt.size, PROT_NONE);  // guard page below the stack
    stack_t ss;
    ss.ss_sp = static_cast<char*>(base) + (g_alt.total - g_alt.size);
    ss.ss_size = g_alt.size;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, nullptr) != 0) {
        munmap(base, g_alt.total);
        return Status(Error::handler_failed, "sigaltstack failed");
    }
    pthread_setspecific(g_alt.key, base);
    return Status::success();
}

// ---- std::terminate --------------------------------------------------------------------------

static std::terminate_handler g_previous_terminate = nullptr;

/// Sets (or replaces) one annotation in the reserved store. Ordinary code only.
inline bool set_annotation(const char* key, const char* value, std::size_t length) {
    sigsafe::linux_state* g = &sigsafe::g_state;
    if (g->annotations == nullptr) return false;
    const std::size_t key_len = std::strlen(key);
    if (key_len == 0 || key_len > sigsafe::k_annotation_key_max) return false;
    if (length > sigsafe::k_annotation_value_max) length = sigsafe::k_annotation_value_max;
    sigsafe::annotation* slot = nullptr;
    for (std::uint32_t i = 0; i < sigsafe::k_annotation_capacity; ++i) {
        sigsafe::annotation* a = &g->annotations[i];
        if (a->length.load(std::memory_order_acquire) != 0 && std::strcmp(a->key, key) == 0) slot = a;
    }
    for (std::uint32_t i = 0; slot == nullptr && i < sigsafe::k_annotation_capacity; ++i) {
        if (g->annotations[i].length.load(std::memory_order_acquire) == 0) slot = &g->annotations[i];
    }
    if (slot == nullptr) return false;
    slot->length.store(0, std::memory_order_release);  // hidden while it changes
    std::memcpy(slot->key, key, key_len + 1);
    std::memcpy(slot->value, value, length);
    slot->value[length] = '\0';
    slot->length.store(length == 0 ? 1 : static_cast<std::uint32_t>(length), std::memory_order_release);
    if (length == 0) slot->value[0] = '\0';
    return true;
}

#if !defined(__cpp_exceptions) && defined(__GLIBCXX__)
// std::exception's type_info, named by its symbol because typeid is unavailable with -fno-rtti.
// Declared as bytes: declared as a type_info object, the compiler would know its dynamic type
// and call type_info::__do_catch non-virtually (an exact-type comparison).
extern __attribute__((visibility("default"))) const char crashdrop_std_exception_type_info[] __asm__("_ZTISt9exception");
#endif

/// The uncaught exception's what(), when it is a std::exception; nullptr otherwise.
inline const char* current_exception_what(const std::type_info* type) {
#if defined(__cpp_exceptions)
    (void)type;
    try {
        throw;
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return nullptr;
    }
#elif defined(__GLIBCXX__)
    // This translation unit cannot catch, so ask the C++ runtime directly: libstdc++'s
    // exception_ptr holds the thrown object's address, and type_info::__do_catch performs the
    // same derived-to-base test (and pointer adjustment) a catch clause would.
    if (type == nullptr) return nullptr;
    std::exception_ptr current = std::current_exception();
    static_assert(sizeof(current) == sizeof(void*), "libstdc++ exception_ptr is one pointer");
    void* object = nullptr;
    std::memcpy(&object, static_cast<const void*>(&current), sizeof(object));
    const auto* std_exception = reinterpret_cast<const std::type_info*>(crashdrop_std_exception_type_info);
    if (object == nullptr || !std_exception->__do_catch(type, &object, 1)) return nullptr;
    return static_cast<const std::exception*>(object)->what();
#else
    (void)type;
    return nullptr;
#endif
}

inline void terminate_handler() {
    const std::type_info* type = abi::__cxa_current_exception_type();
    if (type != nullptr) {
        int status = -1;
        char* demangled = abi::__cxa_demangle(type->name(), nullptr, nullptr, &status);
        const char* name = status == 0 && demangled != nullptr ? demangled : type->name();
        set_annotation("exception_type", name, std::strlen(name));
        std::free(demangled);
        if (const char* what = current_exception_what(type)) set_annotation("exception_what", what, std::strlen(what));
    } else {
        static const char k_none[] = "std::terminate called without an active exception";
        set_annotation("terminate", k_none, sizeof(k_none) - 1);
    }
    if (g_previous_terminate != nullptr && g_previous_terminate != terminate_handler) g_previous_terminate();
    std::abort();
}

// ---- fork: the child gets its own crash buffer -----------------------------------------------

inline void atfork_child() {
    sigsafe::linux_state* g = &sigsafe::g_state;
    if (!g->started.load(std::memory_order_acquire)) return;
    if (g->launching_helper.load(std::memory_order_acquire)) return;  // start()'s own forks
    g->pid = sigsafe::sys_getpid();
    g->reader.pid = g->pid;
    // /proc/self and the pipe were opened by the parent: reopen them for this process.
    const int proc = sigsafe::sys_openat(AT_FDCWD, "/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc >= 0) {
        sigsafe::sys_close(g->proc_self_fd);
        g->proc_self_fd = proc;
        if (g->task_fd >= 0) sigsafe::sys_close(g->task_fd);
        g->task_fd = sigsafe::sys_openat(proc, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
        if (g->reader.pipe_read >= 0) {
            sigsafe::sys_close(g->reader.pipe_read);
            sigsafe::sys_close(g->reader.pipe_write);
        }
        g->reader.pipe_read = fds[0];
        g->reader.pipe_write = fds[1];
    }
    // The helper belongs to the parent: this process writes its own dumps.
    const int sock = g->helper_sock.exchange(-1, std::memory_order_acq_rel);
    if (sock >= 0) sigsafe::sys_close(sock);
    g->respawn_path = nullptr;
    if (g->region_fd >= 0) {
        sigsafe::sys_close(g->region_fd);
        g->region_fd = -1;
    }
    // The prepared dump file is shared with the parent too: take a new one.
    if (g->dump_fd >= 0) {
        sigsafe::sys_close(g->dump_fd);
        g->dump_fd = -1;
    }
    // The region is MAP_SHARED with the parent: a crash here must not write into the
    // parent's buffer. Copy what persists (annotations, notes, the static image) aside, map a
    // fresh region at the same address and copy it back.
    const std::size_t head = static_cast<std::size_t>(reinterpret_cast<std::uint8_t*>(g->errors) - g->region);
    const std::size_t image_off = static_cast<std::size_t>(g->image_base - g->region);
    const std::size_t keep = head + static_cast<std::size_t>(g->image_static_size);
    void* copy = mmap(nullptr, keep, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (copy == MAP_FAILED) {
        g->started.store(0, std::memory_order_release);  // no buffer of our own: stand aside
        sigsafe::restore_previous_handlers(g);
        return;
    }
    std::memcpy(copy, g->region, head);
    std::memcpy(static_cast<std::uint8_t*>(copy) + head, g->image_base, static_cast<std::size_t>(g->image_static_size));
    void* fresh = mmap(g->region, g->region_size, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (fresh == MAP_FAILED) {
        g->started.store(0, std::memory_order_release);
        sigsafe::restore_previous_handlers(g);
        munmap(copy, keep);
        return;
    }
    std::memcpy(g->region, copy, head);
    std::memcpy(g->region + image_off, static_cast<std::uint8_t*>(copy) + head, static_cast<std::size_t>(g->image_static_size));
    munmap(copy, keep);
    prepare_dump_file(g);
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

// ---- pthread_create interposition ----------------------------------------------------------
#if CRASHDROP_PTHREAD_INTERPOSE

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

struct thread_start {
    void* (*routine)(void*);
    void* arg;
};

inline void* thread_trampoline(void* p) {
    thread_start start = *static_cast<thread_start*>(p);
    std::free(p);
    if (sigsafe::g_state.started.load(std::memory_order_acquire)) (void)install_alt_stack();
    return start.routine(start.arg);
}

using pthread_create_fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);

inline pthread_create_fn real_pthread_create() {
    static std::atomic<pthread_create_fn> real{nullptr};
    pthread_create_fn fn = real.load(std::memory_order_acquire);
    if (fn == nullptr) {
        fn = reinterpret_cast<pthread_create_fn>(dlsym(RTLD_NEXT, "pthread_create"));
        real.store(fn, std::memory_order_release);
    }
    return fn;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

/// Every thread created after start() gets an alternate signal stack before its start routine
/// runs (and loses it when it ends), so its stack overflow is captured.
extern "C" __attribute__((visibility("default"))) int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*routine)(void*), void* arg) noexcept {
    namespace d = crashdrop::detail;
    const d::pthread_create_fn real = d::real_pthread_create();
    if (real == nullptr || real == &pthread_create) return EAGAIN;
    if (!crashdrop::sigsafe::g_state.started.load(std::memory_order_acquire)) return real(thread, attr, routine, arg);
    auto* start = static_cast<d::thread_start*>(std::malloc(sizeof(d::thread_start)));
    if (start == nullptr) return real(thread, attr, routine, arg);
    start->routine = routine;
    start->arg = arg;
    const int rc = real(thread, attr, d::thread_trampoline, start);
    if (rc != 0) std::free(start);
    return rc;
}

#endif  // CRASHDROP_PTHREAD_INTERPOSE

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
