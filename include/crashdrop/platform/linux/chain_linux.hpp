// crashdrop/platform/linux/chain_linux.hpp - living in a chain of signal handlers that other
// code (a host, other plugins, other copies of crashdrop) shares: picking a capture signal no
// one uses, finding the module this copy lives in (for only_this_module), checking and
// re-taking the top of the chain (check_handlers, reinstall), and leaving it cleanly (stop,
// also run when a plugin is unloaded).
//
// Copies of crashdrop find one another through one exported symbol, crashdrop_chain_v1, a
// table with a stable C layout. When a copy is stopped while another copy sits above it in a
// chain (the other one saved this copy's handler as its "previous"), it asks that copy to chain
// past it instead, so an unloaded plugin's code is never called. A handler of foreign code
// installed above crashdrop cannot be asked; stop() then leaves crashdrop's handler passing
// everything on, and says so on stderr.
// Context: implementation TU; ordinary code.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// The table copies of crashdrop use to talk to each other (version 1: never change its layout;
/// add fields at the end and raise `version`).
struct chain_v1 {
    std::uint32_t magic;    // k_chain_magic
    std::uint32_t version;  // 1
    /// If this copy saved `old_handler` as the previous handler of `sig`, it takes
    /// `*replacement` instead; returns 1 if it did.
    int (*replace_previous)(int sig, void* old_handler, const struct sigaction* replacement);
    /// The handler this copy chains to for `sig` (nullptr if none or not a signal it handles).
    void* (*previous_handler)(int sig);
    /// The same for the std::terminate handler.
    int (*replace_previous_terminate)(void (*old_handler)(), void (*replacement)());
};
constexpr std::uint32_t k_chain_magic = 0x48434443u;  // "CDCH"

inline void* handler_address(const struct sigaction& sa) {
    return (sa.sa_flags & SA_SIGINFO) ? reinterpret_cast<void*>(sa.sa_sigaction) : reinterpret_cast<void*>(sa.sa_handler);
}

inline struct sigaction* saved_previous(int sig) {
    sigsafe::linux_state* g = &sigsafe::g_state;
    const int index = sigsafe::signal_index(sig);
    if (index >= 0) return &g->previous[index];
    if (sig == g->capture_signal && g->capture_installed.load(std::memory_order_acquire)) return &g->previous_capture;
    return nullptr;
}

inline int chain_replace_previous(int sig, void* old_handler, const struct sigaction* replacement) {
    struct sigaction* prev = saved_previous(sig);
    if (prev == nullptr || replacement == nullptr || handler_address(*prev) != old_handler) return 0;
    *prev = *replacement;
    return 1;
}

inline void* chain_previous_handler(int sig) {
    const struct sigaction* prev = saved_previous(sig);
    return prev == nullptr ? nullptr : handler_address(*prev);
}

inline int chain_replace_previous_terminate(void (*old_handler)(), void (*replacement)()) {
    if (!g_terminate_installed || g_previous_terminate != old_handler) return 0;
    g_previous_terminate = replacement;
    return 1;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

/// This copy's table (the one symbol of crashdrop a binary exports on purpose).
extern "C" __attribute__((visibility("default"))) const crashdrop::detail::chain_v1 crashdrop_chain_v1 = {
    crashdrop::detail::k_chain_magic, 1, crashdrop::detail::chain_replace_previous, crashdrop::detail::chain_previous_handler,
    crashdrop::detail::chain_replace_previous_terminate};

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// The table of the copy of crashdrop `code` belongs to; nullptr for foreign code (and for
/// an executable that does not export its dynamic symbols).
inline const chain_v1* chain_of(void* code) {
    Dl_info info;
    if (code == nullptr || dladdr(code, &info) == 0 || info.dli_fname == nullptr) return nullptr;
    void* handle = dlopen(info.dli_fname[0] != '\0' ? info.dli_fname : nullptr, RTLD_LAZY | RTLD_NOLOAD);
    if (handle == nullptr) return nullptr;
    const auto* table = static_cast<const chain_v1*>(dlsym(handle, "crashdrop_chain_v1"));
    dlclose(handle);
    if (table == nullptr || table == &crashdrop_chain_v1 || table->magic != k_chain_magic || table->version < 1) return nullptr;
    return table;
}

/// Takes `ours` out of the chain of `sig`: restores `*saved` if ours is on top, else asks the
/// copies of crashdrop above it to chain past it. False if a foreign handler is in the way.
inline bool unchain(int sig, void* ours, const struct sigaction* saved) {
    struct sigaction current;
    if (sigaction(sig, nullptr, &current) != 0) return false;
    if (handler_address(current) == ours) return sigaction(sig, saved, nullptr) == 0;
    void* above = handler_address(current);
    for (int depth = 0; depth < 16 && above != nullptr; ++depth) {
        const chain_v1* table = chain_of(above);
        if (table == nullptr) return false;
        if (table->replace_previous(sig, ours, saved)) return true;
        above = table->previous_handler(sig);
    }
    return false;
}

/// The first real-time signal from SIGRTMIN + 3 up that nobody handles.
inline int pick_capture_signal() {
    for (int sig = SIGRTMIN + 3; sig <= SIGRTMAX; ++sig) {
        struct sigaction sa;
        if (sigaction(sig, nullptr, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL) return sig;
    }
    return SIGRTMIN + 3;
}

inline std::uint32_t capture_cookie(const sigsafe::linux_state* g) {
    std::uint64_t v = reinterpret_cast<std::uint64_t>(g) ^ 0x9e3779b97f4a7c15ull;
    v ^= v >> 29;
    v *= 0xbf58476d1ce4e5b9ull;
    v ^= v >> 32;
    return static_cast<std::uint32_t>(v) | 1u;
}

/// Records the loaded segments of the module holding this copy, and every loaded module's code
/// and CFI table (for only_this_module).
inline void find_own_module(sigsafe::linux_state* g) {
    struct search {
        sigsafe::linux_state* g;
        std::uint64_t code;
    } state{g, reinterpret_cast<std::uint64_t>(&sigsafe::fatal_handler)};
    g->own_range_count = 0;
    g->own_functions = sigsafe::own_function_table{};
    g->cfi_module_count = 0;
    dl_iterate_phdr(
        [](struct dl_phdr_info* info, std::size_t, void* data) -> int {
            auto* st = static_cast<search*>(data);
            record_cfi_module(st->g, info);  // every module, for the walk of only_this_module
            bool mine = false;
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                const std::uint64_t start = info->dlpi_addr + ph.p_vaddr;
                if (ph.p_type == PT_LOAD && st->code >= start && st->code < start + ph.p_memsz) mine = true;
            }
            if (!mine) return 0;
            for (int i = 0; i < info->dlpi_phnum && st->g->own_range_count < sigsafe::k_max_own_ranges; ++i) {
                const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_LOAD) continue;
                sigsafe::address_range& r = st->g->own_ranges[st->g->own_range_count++];
                r.start = info->dlpi_addr + ph.p_vaddr;
                r.end = r.start + ph.p_memsz;
                r.executable = (ph.p_flags & PF_X) ? 1u : 0u;
            }
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                if (ph.p_type == PT_GNU_EH_FRAME) read_own_function_table(&st->g->own_functions, info->dlpi_addr + ph.p_vaddr, ph.p_memsz);
            }
            return 0;
        },
        &state);
}

inline const char* signal_name(int sig) {
    switch (sig) {
        case SIGSEGV: return "SIGSEGV";
        case SIGBUS: return "SIGBUS";
        case SIGILL: return "SIGILL";
        case SIGFPE: return "SIGFPE";
        case SIGABRT: return "SIGABRT";
        case SIGTRAP: return "SIGTRAP";
        case SIGSYS: return "SIGSYS";
        default: return "a signal";
    }
}

inline bool handler_is_ours(int sig) {
    struct sigaction current;
    return sigaction(sig, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) &&
           current.sa_sigaction == sigsafe::fatal_handler;
}

/// Is our handler of `sig` called? True when it is installed, or when every handler above it
/// is another copy of crashdrop (each chains to the one below it, so the chain reaches ours).
inline bool handler_reachable(int sig) {
    struct sigaction current;
    if (sigaction(sig, nullptr, &current) != 0) return false;
    void* at = handler_address(current);
    for (int depth = 0; depth < 16 && at != nullptr; ++depth) {
        if (at == reinterpret_cast<void*>(sigsafe::fatal_handler)) return true;
        const chain_v1* table = chain_of(at);
        if (table == nullptr) return false;
        at = table->previous_handler(sig);
    }
    return false;
}

inline Status linux_check_handlers() {
    sigsafe::linux_state* g = &sigsafe::g_state;
    if (g->started.load(std::memory_order_acquire) != 2) return Status(Error::not_started, "crashdrop::start() has not run");
    std::string replaced;
    for (const int sig : sigsafe::k_fatal_signals) {
        if (handler_reachable(sig)) continue;
        if (!replaced.empty()) replaced += ", ";
        replaced += signal_name(sig);
    }
    if (replaced.empty()) return Status::success();
    return Status(Error::handler_replaced, "another handler replaced crashdrop's for " + replaced +
                                               "; those crashes reach crashdrop only if that handler chains to it "
                                               "(crashdrop::reinstall() puts crashdrop's back on top)");
}

inline Status linux_reinstall() {
    sigsafe::linux_state* g = &sigsafe::g_state;
    if (g->started.load(std::memory_order_acquire) != 2) return Status(Error::not_started, "crashdrop::start() has not run");
    for (int i = 0; i < sigsafe::k_fatal_signal_count; ++i) {
        const int sig = sigsafe::k_fatal_signals[i];
        if (handler_is_ours(sig)) continue;
        // Below other copies of crashdrop (a plugin loaded later): leave their chain first, so
        // that the one that chained to us chains to what we did, and no handler is called twice.
        (void)unchain(sig, reinterpret_cast<void*>(sigsafe::fatal_handler), &g->previous[i]);
        struct sigaction saved;
        if (!sigsafe::install_fatal_handler(sig, &saved)) {
            return Status(Error::handler_failed, std::string("sigaction(") + signal_name(sig) + ") failed: " + errno_text(errno));
        }
        // Whatever was there becomes the handler crashdrop chains to.
        g->previous[i] = saved;
    }
    if (!sigsafe::install_capture_handler(g)) return Status(Error::handler_failed, "sigaction for the capture signal failed");
    g->crash_done_tid.store(0, std::memory_order_release);
    g->handlers_installed.store(1, std::memory_order_release);
    return Status::success();
}

/// How long stop() waits for threads inside crashdrop (a setter, write_dump(), a crash being
/// dumped) to leave before it releases the memory they use. A dump waits for the helper for
/// up to 5 s (handoff_linux.hpp), so this covers one.
constexpr int k_stop_drain_ms = 6000;

/// Waits until no thread is inside crashdrop (g->users is 0), at most `ms`. True if none is.
inline bool wait_for_users(sigsafe::linux_state* g, int ms) {
    const long long deadline = sigsafe::monotonic_ns() + static_cast<long long>(ms) * 1000000LL;
    for (unsigned spins = 0; g->users.load(std::memory_order_seq_cst) != 0; ++spins) {
        if (sigsafe::monotonic_ns() >= deadline) return false;
        if (spins < 64) sched_yield();
        else sigsafe::sleep_ms(1);
    }
    return true;
}

/// Closes and unmaps what start() took (not the saved handlers: a stopped handler that is
/// still called passes crashes on through them). With `unmap` false (threads were still
/// inside crashdrop when stop() gave up waiting for them) the region and the pointers into it
/// stay as they are: those threads keep working on mapped memory, and the region is left to
/// the process (one region per such stop(), and stop() says so on stderr).
inline void release_resources(sigsafe::linux_state* g, bool unmap = true) {
    auto close_fd = [](int& fd) {
        if (fd >= 0) close(fd);
        fd = -1;
    };
    // Detached first: the helper then takes the end of the socket for stop(), never for an
    // abnormal exit of the process.
    if (g->header != nullptr) g->header->app_detached.store(1, std::memory_order_release);
    const int sock = g->helper_sock.exchange(-1, std::memory_order_acq_rel);
    if (sock >= 0) close(sock);  // the helper sees the end of the socket, finishes its uploads and exits
    close_fd(g->pending_dirfd);
    close_fd(g->dump_fd);
    close_fd(g->proc_self_fd);
    close_fd(g->task_fd);
    close_fd(g->reader.pipe_read);
    close_fd(g->reader.pipe_write);
    close_fd(g->region_fd);
    g->respawn_path = nullptr;
    if (!unmap) return;
    if (g->region != nullptr) munmap(g->region, static_cast<std::size_t>(g->region_size));
    g->region = nullptr;
    g->region_size = 0;
    g->header = nullptr;
    g->context = sigsafe::context_store{};
    g->image_base = nullptr;
    g->module_cache_count = 0;
    g->owner.store(0, std::memory_order_release);
}

inline void linux_stop() {
    sigsafe::linux_state* g = &sigsafe::g_state;
    std::uint32_t expected = 2;
    // Sequentially consistent, like the users count: a setter or crash that counted itself in
    // after this sees "stopped" and leaves the region alone; one that came before is waited for.
    if (!g->started.compare_exchange_strong(expected, 3, std::memory_order_seq_cst)) return;
    std::string stuck;
    if (g->handlers_installed.exchange(0, std::memory_order_acq_rel) != 0) {
        for (int i = 0; i < sigsafe::k_fatal_signal_count; ++i) {
            const int sig = sigsafe::k_fatal_signals[i];
            if (!unchain(sig, reinterpret_cast<void*>(sigsafe::fatal_handler), &g->previous[i])) {
                stuck += std::string(stuck.empty() ? "" : ", ") + signal_name(sig);
            }
        }
    }
    if (g->capture_installed.load(std::memory_order_acquire) != 0) {
        unchain(g->capture_signal, reinterpret_cast<void*>(sigsafe::capture_handler), &g->previous_capture);
        g->capture_installed.store(0, std::memory_order_release);
    }
    if (g_terminate_installed) {
        if (std::get_terminate() == terminate_handler) {
            std::set_terminate(g_previous_terminate);
        } else if (const chain_v1* table = chain_of(reinterpret_cast<void*>(std::get_terminate()))) {
            table->replace_previous_terminate(terminate_handler, g_previous_terminate);
        }
        g_terminate_installed = false;
    }
    if (g_alt.key_ready.exchange(0, std::memory_order_acq_rel) != 0) {
        // Threads keep the alternate stacks they have (they may be on one right now); only the
        // destructor, which would run code that may be unloaded, goes.
        pthread_key_delete(g_alt.key);
    }
    stop_hang_watchdog(g);  // before the region goes; the helper no longer watches
    // Setters, write_dump() and crashes on other threads may still be using the region: it
    // goes only once they have left (bounded; past the bound it stays mapped).
    const bool drained = wait_for_users(g, k_stop_drain_ms);
    release_resources(g, drained);
    if (!drained) {
        static const char text[] = "crashdrop: stop(): threads were still inside crashdrop after 6 s; its shared memory stays mapped\n";
        (void)!write(STDERR_FILENO, text, sizeof(text) - 1);
    }
    if (!stuck.empty()) {
        const std::string text = "crashdrop: stop(): a handler crashdrop cannot reach was installed over its own for " + stuck +
                                 "; if it chains, it still calls crashdrop's handler\n";
        (void)!write(STDERR_FILENO, text.data(), text.size());
    }
    g->started.store(0, std::memory_order_release);
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#if CRASHDROP_UNLOAD_HOOK
// Runs when the shared library holding this copy is unloaded (dlclose) - and at exit, when it
// makes no difference. Its signal handlers must not outlive its code.
__attribute__((destructor)) static void crashdrop_unload_hook() { crashdrop::detail::linux_stop(); }
#endif

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
