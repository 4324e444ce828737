// crashdrop/platform/linux/threads_linux.hpp - collecting every thread's registers without
// ptrace. The dumping thread queues a real-time signal (rt_tgsigqueueinfo, carrying the
// thread's slot index) to each other thread; each one, in capture_handler, writes its own
// signal-frame registers into its slot of the dump image, answers, and waits until the dump
// is done. This works under Yama ptrace_scope >= 1, in containers and under qemu-user, and
// costs one signal per thread instead of ptrace round trips. A thread that does not answer in
// time (it blocks the signal, or is stuck in the kernel) is still listed, with the stack and
// program counter /proc/self/task/T/syscall shows, and the writer-errors stream says why.
// Context: implementation TU; crash path (crashdrop::sigsafe rules apply).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

static linux_state g_state;  // the process-wide state (one per copy of crashdrop)

// sival_ptr = this copy's cookie (32 bits) | tag (8 bits) | dump generation (8 bits) | slot
// index (16 bits). The cookie tells two copies of crashdrop in one process (two plugins)
// apart should they share the signal.
constexpr u32 k_capture_tag = 0xcdu;
constexpr u32 ts_capturing = 0x10;  // transient: a handler is writing the slot

CRASHDROP_SIGSAFE_INLINE u32 capture_value(u32 generation, u32 index) {
    return (k_capture_tag << 24) | ((generation & 0xffu) << 16) | (index & 0xffffu);
}

/// The published fault context of `tid`, if it crashed while another dump was running.
CRASHDROP_SIGSAFE const crash_record* find_secondary(linux_state* g, u32 tid) {
    for (u32 i = 0; i < k_max_secondary_crashes; ++i) {
        const crash_record* r = &g->secondary[i];
        if (r->tid.load(std::memory_order_acquire) == tid && r->ready.load(std::memory_order_acquire) == 1) return r;
    }
    return nullptr;
}

/// Calls the handler that owned the capture signal before crashdrop (for signals not ours).
CRASHDROP_SIGSAFE void forward_signal(const struct sigaction* prev, int sig, siginfo_t* info, void* uc) {
    if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction != nullptr) prev->sa_sigaction(sig, info, uc);
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN && prev->sa_handler != nullptr) {
        prev->sa_handler(sig);
    }
    // SIG_DFL of a real-time signal would end the process; a signal we cannot attribute is
    // safer dropped than obeyed in the middle of a dump.
}

/// How long a parked thread waits before it looks again whether a crash dump ended without
/// releasing it.
constexpr long long k_park_recheck_ns = 100 * 1000000LL;

/// Holds a thread that answered until the dump no longer needs its memory to stay as it was.
/// True when the dump released it. A crash dump whose signal ends the process as its handler
/// returns does not release anyone (dump_crash): the process dies with its threads parked.
/// Should it live on after all (a debugger swallowed the signal), they go on once
/// k_crash_grace_ms have passed since that dump ended: false.
CRASHDROP_SIGSAFE bool park_until_released(linux_state* g, u32 generation) {
    for (;;) {
        const u32 released = g->released_generation.load(std::memory_order_acquire);
        if ((released & 0xffu) == generation) return true;
        long long wait = k_park_recheck_ns;
        const u64 ended = g->crash_unreleased_ns.load(std::memory_order_acquire);
        if (ended != 0) {
            const long long since = monotonic_ns() - static_cast<long long>(ended);
            if (since >= k_crash_grace_ms * 1000000LL) return false;
            wait = k_crash_grace_ms * 1000000LL - since;
        }
        futex_wait(&g->released_generation, released, wait);
    }
}

/// Runs in every other thread when the dumping thread asks for its registers.
CRASHDROP_SIGSAFE void capture_handler(int sig, siginfo_t* info, void* ucv) {
    linux_state* g = &g_state;
    const u64 full = info != nullptr ? reinterpret_cast<u64>(info->si_value.sival_ptr) : 0;
    const u32 value = static_cast<u32>(full);
    if (info == nullptr || info->si_code != SI_QUEUE || info->si_pid != g->pid || (value >> 24) != k_capture_tag ||
        static_cast<u32>(full >> 32) != g->capture_cookie) {
        forward_signal(&g->previous_capture, sig, info, ucv);
        return;
    }
    const u32 generation = (value >> 16) & 0xffu;
    const u32 index = value & 0xffffu;
    // A late answer to an earlier dump: that dump no longer waits for it.
    if (generation != (g->dump_generation.load(std::memory_order_acquire) & 0xffu) || index >= g->thread_count) return;
    thread_slot* t = &g->threads[index];
    const u32 tid = static_cast<u32>(sys_gettid());
    if (t->tid != tid) return;
    u32 expected = ts_pending;
    if (!t->state.compare_exchange_strong(expected, ts_capturing, std::memory_order_acq_rel)) return;
    auto* ctx = reinterpret_cast<md_context*>(g->image_base + t->context_rva);
    if (const crash_record* r = find_secondary(g, tid)) {
        copy_bytes(ctx, &r->context, sizeof(md_context));  // its fault, not this handler frame
        t->flags |= tf_also_crashed;
    } else {
        fill_context(ctx, static_cast<const ucontext_t*>(ucv));
    }
    t->tp = thread_pointer();
    sys_prctl(PR_GET_NAME, reinterpret_cast<unsigned long>(t->name));
    t->state.store(ts_captured, std::memory_order_release);
    // Only the last answer wakes the writer (one wake-up instead of one per thread). Until the
    // writer has asked every thread, acks_wanted is ~0 and it is not waiting; it then stores the
    // count and looks at acks before it waits (both seq_cst: one of the two sees the other).
    const u32 answered = g->acks.fetch_add(1, std::memory_order_seq_cst) + 1;
    if (answered >= g->acks_wanted.load(std::memory_order_seq_cst)) futex_wake_all(&g->acks);
    if (tid == (g->owner.load(std::memory_order_acquire) & k_owner_tid_mask)) return;  // write_dump's caller
    if (park_until_released(g, generation) && (g->owner.load(std::memory_order_acquire) & k_owner_crash)) {
        sleep_ms(k_crash_grace_ms);
    }
}

/// Makes sure capture_handler owns the capture signal. Installed by start(), it stays
/// (forwarding signals that are not its own), so an answer arriving after its dump ended never
/// meets SIG_DFL. Checked again at every dump: if the application has since installed its own
/// handler for that signal, that one becomes the handler signals are forwarded to.
CRASHDROP_SIGSAFE bool install_capture_handler(linux_state* g) {
    struct sigaction current;
    if (sigaction(g->capture_signal, nullptr, &current) == 0 &&  // async-signal-safe
        (current.sa_flags & SA_SIGINFO) && current.sa_sigaction == capture_handler) {
        return true;
    }
    struct sigaction sa;
    zero_bytes(&sa, sizeof(sa));
    sa.sa_sigaction = capture_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);  // async-signal-safe per signal-safety(7)
    if (sigaction(g->capture_signal, &sa, &g->previous_capture) != 0) return false;  // async-signal-safe
    g->capture_installed.store(1, std::memory_order_release);
    return true;
}

/// Queues the capture signal to every pending thread. Returns how many will answer.
CRASHDROP_SIGSAFE u32 request_registers(linux_state* g, u32 generation, u32 self_tid) {
    u32 asked = 0;
    for (u32 i = 0; i < g->thread_count; ++i) {
        thread_slot* t = &g->threads[i];
        if (t->state.load(std::memory_order_acquire) != ts_pending || t->tid == self_tid) continue;
        siginfo_t si;
        zero_bytes(&si, sizeof(si));
        si.si_signo = g->capture_signal;
        si.si_code = SI_QUEUE;
        si.si_pid = g->pid;
        si.si_uid = g->uid;
        si.si_value.sival_ptr = reinterpret_cast<void*>((u64{g->capture_cookie} << 32) | capture_value(generation, i));
        const int r = sys_rt_tgsigqueueinfo(g->pid, static_cast<int>(t->tid), g->capture_signal, &si);
        if (r == -ESRCH) {
            u32 expected = ts_pending;
            t->state.compare_exchange_strong(expected, ts_gone, std::memory_order_acq_rel);
        } else if (r == 0) {
            ++asked;
        }
        // Any other failure (EAGAIN: the queue is full) leaves it pending: it becomes late.
    }
    return asked;
}

/// Waits until `asked` threads answered or the deadline passes.
CRASHDROP_SIGSAFE void wait_for_answers(linux_state* g, u32 asked, long long deadline_ns) {
    for (;;) {
        const u32 got = g->acks.load(std::memory_order_acquire);
        if (got >= asked) return;
        const long long now = monotonic_ns();
        if (now >= deadline_ns) return;
        futex_wait(&g->acks, got, deadline_ns - now);
    }
}

/// After the deadline: every thread still pending is marked late and described from /proc.
/// A thread caught in the middle of answering is given a moment to finish.
CRASHDROP_SIGSAFE void settle_late_threads(linux_state* g, text* errors) {
    for (u32 i = 0; i < g->thread_count; ++i) {
        thread_slot* t = &g->threads[i];
        u32 expected = ts_pending;
        if (t->state.compare_exchange_strong(expected, ts_late, std::memory_order_acq_rel)) {
            auto* ctx = reinterpret_cast<md_context*>(g->image_base + t->context_rva);
            u64 sp = 0, pc = 0;
            const bool have = read_blocked_registers(g, t->tid, &sp, &pc);
            if (have) set_context_sp_ip(ctx, sp, pc);
            read_thread_name(g, t->tid, t->name);
            text_append(errors, "thread ");
            text_append_dec(errors, t->tid);
            text_append(errors, ": did not answer signal ");
            text_append_dec(errors, static_cast<u64>(g->capture_signal));
            text_append(errors, " within ");
            text_append_dec(errors, static_cast<u64>(g->suspend_timeout_ms));
            text_append(errors, " ms");
            if (thread_blocks_signal(g, t->tid, g->capture_signal)) text_append(errors, " (it blocks that signal)");
            text_append(errors, have ? "; stack and pc from /proc/self/task/T/syscall, other registers unknown\n"
                                     : "; it was running, registers unknown\n");
        } else if (expected == ts_capturing) {
            for (int spin = 0; spin < 100000 && t->state.load(std::memory_order_acquire) == ts_capturing; ++spin) {
                raw_syscall(SYS_sched_yield);
            }
        }
    }
}

/// Lets every captured thread run again.
CRASHDROP_SIGSAFE void release_threads(linux_state* g, u32 generation) {
    g->released_generation.store(generation, std::memory_order_release);
    futex_wake_all(&g->released_generation);
}

}  // namespace sigsafe
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
