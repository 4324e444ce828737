// crashdrop/platform/linux/hang_linux.hpp - the application's side of hang reports: the
// watchdog thread ("crashdrop-hang") that start() creates when Options::hang_timeout_ms > 0.
// The helper watches the heartbeat count in the shared region (helper/hang_watch_linux.hpp);
// when the watched thread has not beaten for that long it asks, through the region's
// hang_request word (a futex shared by both processes), and the watchdog writes a dump of the
// live process with the application's own writer (write_minidump): every thread is asked for
// its registers by the capture signal (a thread that cannot answer - signals blocked, stuck in
// the kernel - is described from /proc and the writer-errors stream says so), the watched
// thread is the exception thread, and the dump is handed to the helper like a crash's. The
// application goes on. The watchdog is not the crash path (a thread of its own, never after a
// fault), but what it calls is, and it allocates nothing. It blocks every asynchronous signal
// but the capture signal (so it is listed in crash dumps with its registers) and never calls
// heartbeat(), so it is never the watched thread. stop() ends it (k_hang_quit) and joins it.
// Context: implementation TU; start() and stop() (ordinary code) and the watchdog thread.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// The watchdog thread of this process.
struct hang_watchdog {
    pthread_t thread{};
    std::atomic<std::uint32_t> running{0};  // 1: created by process `pid`, not yet joined
    int pid = 0;  // a fork's child has no such thread: it must not join it
};
inline hang_watchdog g_hang_watchdog;

/// Writes the hang dump the helper asked for: `watched` is the exception thread, `hang_ms`
/// how long it had not beaten. Returns the answer for region_header::hang_result.
inline sigsafe::u32 write_hang_dump(sigsafe::linux_state* g, sigsafe::u32 watched, sigsafe::u64 hang_ms) {
    if (g->started.load(std::memory_order_seq_cst) != 2 || watched == 0) return sigsafe::hang_failed;
    const auto tid = static_cast<sigsafe::u32>(sigsafe::sys_gettid());
    sigsafe::u32 expected = 0;
    if (!g->owner.compare_exchange_strong(expected, tid, std::memory_order_acq_rel)) return sigsafe::hang_busy;  // a crash or write_dump()
    // The watchdog's own registers, as write_dump() takes its caller's (it is listed as a thread
    // like any other; without them it answers its own capture signal, which it does not block).
    ucontext_t self_context;
    const bool have_self = getcontext(&self_context) == 0;
    const long r = write_requested_dump(g, tid, have_self ? &self_context : nullptr, watched, hang_ms);
    prepare_dump_file(g);  // for the next dump
    g->owner.store(0, std::memory_order_release);
    sigsafe::futex_wake_all(&g->owner);
    if (r == -EBUSY) return sigsafe::hang_busy;  // the helper still reads the previous dump from the image
    return r < 0 ? sigsafe::hang_failed : sigsafe::hang_written;
}

/// The watchdog thread: waits for the helper's requests, writes each dump, answers.
inline void* hang_watchdog_main(void*) {
    sigsafe::linux_state* g = &sigsafe::g_state;
    sigsafe::region_header* h = g->header;
    sigsafe::u32 seen = 0;  // the region starts zeroed: no request yet
    for (;;) {
        const sigsafe::u32 request = h->hang_request.load(std::memory_order_acquire);
        if (request & sigsafe::k_hang_quit) break;
        if (request == seen) {
            sigsafe::futex_wait_shared(&h->hang_request, request, -1);
            continue;
        }
        seen = request;
        const sigsafe::u32 watched = h->hang_tid.load(std::memory_order_acquire);
        const sigsafe::u64 hang_ms = h->hang_ms.load(std::memory_order_acquire);
        h->hang_result.store(write_hang_dump(g, watched, hang_ms), std::memory_order_release);
        h->hang_done.store(request, std::memory_order_release);
    }
    return nullptr;
}

/// start(): creates the watchdog (once the handlers are in place and a helper runs). Returns
/// false with *why when it could not be created (hang reports are then off; start() says so).
inline bool start_hang_watchdog(sigsafe::linux_state* g, std::string* why) {
    hang_watchdog& w = g_hang_watchdog;
    if (g->header == nullptr || g->helper_sock.load(std::memory_order_acquire) < 0) {
        *why = "no helper runs, and the helper is what watches the heartbeat";
        return false;
    }
    sigset_t mask, old;
    sigfillset(&mask);
    for (int i = 0; i < sigsafe::k_fatal_signal_count; ++i) sigdelset(&mask, sigsafe::k_fatal_signals[i]);
    sigdelset(&mask, g->capture_signal);
    pthread_sigmask(SIG_SETMASK, &mask, &old);  // the new thread inherits it
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    const int rc = pthread_create(&w.thread, &attr, hang_watchdog_main, nullptr);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (rc != 0) {
        *why = "the watchdog thread could not be created: " + errno_text(rc);
        return false;
    }
    pthread_setname_np(w.thread, "crashdrop-hang");
    w.pid = getpid();
    w.running.store(1, std::memory_order_release);
    return true;
}

/// stop(): ends the watchdog (it finishes a dump it is writing first) and waits for it, before
/// the region goes. Also tells the helper that the application detached (no hang reports, and
/// its end is not a run's end). A forked child shares the region with its parent (MAP_SHARED)
/// but not the helper's attention: its stop() leaves both alone.
inline void stop_hang_watchdog(sigsafe::linux_state* g) {
    sigsafe::region_header* h = g->header;
    const bool ours = h != nullptr && h->app_pid == static_cast<sigsafe::u32>(getpid());
    if (ours) h->app_detached.store(1, std::memory_order_release);
    hang_watchdog& w = g_hang_watchdog;
    if (w.running.exchange(0, std::memory_order_acq_rel) == 0) return;
    if (ours) {
        h->hang_request.fetch_or(sigsafe::k_hang_quit, std::memory_order_acq_rel);
        sigsafe::futex_wake_all_shared(&h->hang_request);
    }
    if (w.pid == getpid()) pthread_join(w.thread, nullptr);
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
