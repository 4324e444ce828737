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

/// Puts back the handlers crashdrop found, except for `keep_sig` (0: none), whose disposition
/// a previous handler has just set itself.
CRASHDROP_SIGSAFE void restore_previous_handlers(linux_state* g, int keep_sig = 0) {
    if (g->handlers_installed.exchange(0, std::memory_order_acq_rel) == 0) return;
    for (int i = 0; i < k_fatal_signal_count; ++i) {
        if (k_fatal_signals[i] == keep_sig) continue;
        sigaction(k_fatal_signals[i], &g->previous[i], nullptr);  // async-signal-safe
    }
}

CRASHDROP_SIGSAFE void set_signal_blocked(int sig, bool blocked) {
    sigset_t set;
    sigemptyset(&set);    // async-signal-safe
    sigaddset(&set, sig);  // async-signal-safe
    sigprocmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);  // async-signal-safe
}

/// A fault inside our own dump writer: give up on the dump. A crash dump's writer is left
/// through the escape run_crash_writer() armed (back into the handler of the crash, which then
/// ends as if the dump had failed: previous handlers, then death by the original signal with the
/// original fault's context). Otherwise (write_dump(), or no escape): put the previous handlers
/// back and make sure the process still dies with the signal it was first dying of.
CRASHDROP_SIGSAFE void fail_safe(linux_state* g, int nested_sig) {
    say("crashdrop: fault while writing the dump; giving up on it\n");
    const u32 tid = static_cast<u32>(sys_gettid());
    u32 armed = tid;
    if (g->writer_escape_tid.compare_exchange_strong(armed, 0, std::memory_order_acq_rel)) {
        __builtin_longjmp(g->writer_escape, 1);
    }
    restore_previous_handlers(g);
    const int original = g->crash_signal;
    if (original != 0 && original != nested_sig) {
        sys_tgkill(g->pid, sys_gettid(), original);
        set_signal_blocked(original, false);  // delivered now, to the previous disposition
    }
    // Returning re-executes the faulting instruction under the previous handler.
}

/// Writes the crash dump with an escape armed: a fault inside the writer (fail_safe) comes back
/// here and the dump counts as failed. The crash's own signal is unblocked meanwhile, so that a
/// second fault of the same signal reaches fail_safe instead of being delivered blocked (which
/// the kernel turns into death by SIG_DFL, without the previous handler) - unless the signal is
/// pending already (req->keep_blocked: a previous handler re-raised it), which would end the
/// process mid-dump. Never inlined: the escape needs this frame.
CRASHDROP_SIGSAFE long run_crash_writer(linux_state* g, const dump_request* req) {
    volatile long r = -EFAULT;  // in memory: read again after the escape
    if (__builtin_setjmp(g->writer_escape) == 0) {
        g->writer_escape_tid.store(req->tid, std::memory_order_release);
        if (!req->keep_blocked) set_signal_blocked(req->signo, false);
        r = write_minidump(g, req);
        set_signal_blocked(req->signo, true);
        g->writer_escape_tid.store(0, std::memory_order_release);
    } else {
        set_signal_blocked(req->signo, true);  // came back from a fault in the writer
    }
    return r;
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

CRASHDROP_SIGSAFE_INLINE int signal_index(int sig) {
    for (int i = 0; i < k_fatal_signal_count; ++i) {
        if (k_fatal_signals[i] == sig) return i;
        CRASHDROP_LOOP_BARRIER();  // stays a loop: clang makes a switch of it, an indirect jump (a table)
    }
    return -1;
}

/// True when returning from a crash handler ends the process: the signal's disposition is
/// SIG_DFL now (for each fatal signal that is to die, with a core) and it comes again: the
/// faulting instruction runs again, or it has been sent again and the mask the return restores
/// does not block it.
CRASHDROP_SIGSAFE bool ends_on_return(int sig, const siginfo_t* info, const ucontext_t* uc) {
    struct sigaction now;
    if (sigaction(sig, nullptr, &now) != 0) return false;  // async-signal-safe
    if ((now.sa_flags & SA_SIGINFO) || now.sa_handler != SIG_DFL) return false;
    if (!reraise_needed(sig, info)) return true;
    if (uc == nullptr || sig < 1) return false;
    const auto bit = static_cast<unsigned>(sig - 1);
    const auto* words = reinterpret_cast<const unsigned long*>(&uc->uc_sigmask);
    return ((words[bit / (8 * sizeof(unsigned long))] >> (bit % (8 * sizeof(unsigned long)))) & 1ul) == 0;
}

/// The end of a handler chain: the signal's default action (the process dies of it, with a
/// core dump where the signal asks for one).
CRASHDROP_SIGSAFE void die_by_default(int sig, const siginfo_t* info) {
    struct sigaction dfl;
    zero_bytes(&dfl, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, nullptr);  // async-signal-safe
    if (reraise_needed(sig, info)) sys_tgkill(sys_getpid(), sys_gettid(), sig);
    set_signal_blocked(sig, false);
    // Returning re-executes a faulting instruction, now under SIG_DFL; a re-raised signal is
    // delivered as soon as the handler's mask is gone.
}

CRASHDROP_SIGSAFE_INLINE bool in_ranges(const linux_state* g, u64 address, bool code_only) {
    for (u32 i = 0; i < g->own_range_count; ++i) {
        const address_range* r = &g->own_ranges[i];
        if (address >= r->start && address < r->end && (!code_only || r->executable)) return true;
    }
    return false;
}

constexpr u64 k_own_stack_scan = 256 * 1024;  // bytes of the crashing stack searched for our code

/// only_this_module: is this crash ours? Our code faulted, the faulting address is inside our
/// module, or (aarch64) the first frame's link register is a return address into our code, or a
/// frame of the crashing thread's real call chain, walked with the modules' CFI
/// (cfi_unwind_linux.hpp), is in our code. A walk that reaches the outermost frame without one
/// says "not ours": words left on the stack by earlier calls do not count. Only when the walk
/// stops early (code without CFI, a module loaded after start()) is the stack above where it
/// stopped searched for plausible return addresses into our code (return_address_linux.hpp):
/// one that follows a call and is not a function's start; one that is a function's start (the
/// return address of a noreturn call that ends its function) counts only for a signal the
/// thread raised itself (abort, raise).
CRASHDROP_SIGSAFE bool crash_is_ours(linux_state* g, int sig, const siginfo_t* info, const ucontext_t* uc) {
    if (uc == nullptr) return true;  // nothing to judge by: keep it
    md_context ctx;
    fill_context(&ctx, uc);
    if (in_ranges(g, context_ip(&ctx), true)) return true;
    if (info != nullptr && (sig == SIGSEGV || sig == SIGBUS) && in_ranges(g, reinterpret_cast<u64>(info->si_addr), false)) return true;
    const return_address_kind enough = (info == nullptr || info->si_code <= 0) ? ra_weak : ra_strong;
    u64 regs[k_max_context_registers];
    const std::size_t n = context_registers(&ctx, regs);
    if (k_calls_are_a64 && n > 30 && in_ranges(g, regs[30], true) && classify_return_address(g, regs[30]) >= enough) {
        return true;  // aarch64: the link register of the first frame (a leaf called by our code)
    }
    // The real call chain, by the modules' CFI: a frame in our code makes the crash ours; a walk
    // that reaches the outermost frame without one makes it not ours.
    cfi_frame frame;
    cfi_frame_from(&frame, uc);
    u32 steps = 0;
    for (; steps < k_cfi_max_frames; ++steps) {
        const cfi_step_result r = cfi_step(g, &frame);
        if (r == cs_end) return false;
        if (r != cs_ok) break;
        if (in_ranges(g, frame.pc, true)) return true;
    }
    // The walk stopped (code without CFI, a module loaded after start(), an expression): the
    // frames below where it stopped are proven not ours; above, search for return addresses.
    if (steps == 0) {
        for (std::size_t i = 0; i < n; ++i) {
            if (in_ranges(g, regs[i], true) && classify_return_address(g, regs[i]) >= enough) return true;
        }
    }
    u64 words[512];  // 4 KiB at a time, on the alternate stack
    const u64 sp = frame.reg[k_cfi_sp] & ~u64{7};
    for (u64 at = sp; at < sp + k_own_stack_scan; at += sizeof(words)) {
        const long got = read_memory(&g->reader, words, at, sizeof(words));
        if (got <= 0) break;
        const std::size_t count = static_cast<std::size_t>(got) / 8;
        for (std::size_t i = 0; i < count; ++i) {
            if (in_ranges(g, words[i], true) && classify_return_address(g, words[i]) >= enough) return true;
        }
        if (static_cast<std::size_t>(got) < sizeof(words)) break;  // the end of the stack mapping
    }
    return false;
}

/// Is this thread still inside the call that entry p marks, seen from a call of crashdrop's
/// handler whose frame is `frame` with signal frame `uc`? Its frame must lie above ours (so
/// this call is nested inside that one). For a first chance or the fault filter that is not
/// enough: without an alternate stack, an entry left behind by siglongjmp can lie above a later,
/// deeper fault. So one of two must hold as well: the call is ours called back with the same
/// signal frame, or the entry's signal was blocked when this signal came (it is, from its
/// delivery until its handler returns; siglongjmp to a sigsetjmp(env, 1) unblocks it).
CRASHDROP_SIGSAFE_INLINE bool passing_live(const passing_thread* p, u64 frame, const ucontext_t* uc) {
    if (p->frame.load(std::memory_order_acquire) <= frame) return false;
    if (p->kind == pk_pass_on) return true;
    if (p->context == reinterpret_cast<u64>(uc)) return true;
    return uc != nullptr && sigismember(&uc->uc_sigmask, p->signo) == 1;  // async-signal-safe
}

/// The entry of `tid` among the threads inside a handler crashdrop passed a crash to (or a call
/// it made before deciding: the first chance, the fault filter) that this call is nested in;
/// a pass_on entry first. nullptr if none.
CRASHDROP_SIGSAFE passing_thread* find_passing(linux_state* g, u32 tid, u64 frame, const ucontext_t* uc) {
    passing_thread* callout = nullptr;
    for (u32 i = 0; i < k_max_passing; ++i) {
        passing_thread* p = &g->passing[i];
        if (p->tid.load(std::memory_order_acquire) != tid || !passing_live(p, frame, uc)) continue;
        if (p->kind == pk_pass_on) return p;
        callout = p;
    }
    return callout;
}

CRASHDROP_SIGSAFE_INLINE passing_thread* fill_passing(passing_thread* p, u64 frame, u32 kind, const void* uc, int sig) {
    p->kind = kind;
    p->context = reinterpret_cast<u64>(uc);
    p->signo = sig;
    p->frame.store(frame, std::memory_order_release);
    return p;
}

CRASHDROP_SIGSAFE passing_thread* enter_passing(linux_state* g, u32 tid, u64 frame, u32 kind = pk_pass_on,
                                                const void* uc = nullptr, int sig = 0) {
    // A stale entry of this thread (its handler left by siglongjmp) is reused first; one that
    // this call is nested in stays.
    for (u32 i = 0; i < k_max_passing; ++i) {
        passing_thread* p = &g->passing[i];
        if (p->tid.load(std::memory_order_acquire) == tid && !passing_live(p, frame, static_cast<const ucontext_t*>(uc))) {
            return fill_passing(p, frame, kind, uc, sig);
        }
    }
    for (u32 i = 0; i < k_max_passing; ++i) {
        passing_thread* p = &g->passing[i];
        u32 expected = 0;
        if (p->tid.compare_exchange_strong(expected, tid, std::memory_order_acq_rel)) return fill_passing(p, frame, kind, uc, sig);
    }
    return nullptr;  // more than k_max_passing threads at once: loop detection is off for this one
}

CRASHDROP_SIGSAFE void leave_passing(passing_thread* p) {
    if (p == nullptr) return;
    p->frame.store(0, std::memory_order_release);
    p->tid.store(0, std::memory_order_release);
}

/// A disposition that is a function (not SIG_DFL or SIG_IGN, whatever sa_flags say: the
/// kernel looks at the value).
CRASHDROP_SIGSAFE_INLINE bool is_handler(const struct sigaction* sa) {
    void (*h)(int) = sa->sa_handler;  // the same bits as sa_sigaction
    return h != SIG_DFL && h != SIG_IGN;
}

/// Calls the handler installed before crashdrop for `sig` as the kernel would have, with this
/// thread marked in the passing table (as `kind`) meanwhile. False, and nothing called, when
/// there is none (SIG_DFL, SIG_IGN). It may not return (siglongjmp): that leaves a stale mark.
CRASHDROP_SIGSAFE bool call_previous(linux_state* g, u32 tid, int sig, siginfo_t* info, void* uc, u32 kind) {
    const int index = signal_index(sig);
    if (index < 0) return false;
    struct sigaction* prev = &g->previous[index];
    if (!is_handler(prev)) return false;
    const bool has_siginfo = (prev->sa_flags & SA_SIGINFO) != 0;
    const u64 frame = reinterpret_cast<u64>(__builtin_frame_address(0));
    passing_thread* mark = enter_passing(g, tid, frame, kind, uc, sig);
    const unsigned flags = static_cast<unsigned>(prev->sa_flags);  // SA_RESETHAND is the sign bit
    const bool reset = (flags & static_cast<unsigned>(SA_RESETHAND)) != 0u;
    void (*handler)(int) = prev->sa_handler;
    void (*action)(int, siginfo_t*, void*) = prev->sa_sigaction;
    if (reset) {
        // The kernel would have reset it to SIG_DFL on delivery: so do we, in our saved copy.
        prev->sa_flags = static_cast<int>(flags & ~static_cast<unsigned>(SA_SIGINFO | SA_RESETHAND));
        prev->sa_handler = SIG_DFL;
    }
    if (has_siginfo) {
        action(sig, info, uc);
    } else {
        handler(sig);
    }
    leave_passing(mark);
    return true;
}

/// Hands a crash that is not ours to the handler installed before crashdrop, by calling it
/// as the kernel would have, and stays installed (a host that recovers from its own fault
/// keeps crashdrop). With no previous handler the process dies of the signal's default action.
CRASHDROP_SIGSAFE void pass_on(linux_state* g, u32 tid, int sig, siginfo_t* info, void* uc) {
    if (signal_index(sig) < 0) return;
    if (!call_previous(g, tid, sig, info, uc, pk_pass_on)) die_by_default(sig, info);
}

// ---- faults a host recovers from: the fault filter and the first chance --------------------

/// How a crash dump ends (dump_crash): the handlers crashdrop found are put back and the
/// fault runs again under them (ce_previous); the same but the signal keeps the disposition a
/// previous handler just gave it (ce_keep); or the fault runs again under SIG_DFL (ce_default).
enum crash_end : int { ce_previous = 0, ce_keep = 1, ce_default = 2 };

/// si_code of a seccomp filter's SECCOMP_RET_TRAP (SYS_SECCOMP in the kernel's
/// asm-generic/siginfo.h; glibc's <signal.h> does not define it).
constexpr int k_sys_seccomp = 1;

/// What the first chance came to.
enum first_chance_result : int {
    fc_not_offered = 0,  // not a fault for the previous handler: crashdrop goes on as usual
    fc_handled = 1,      // the previous handler dealt with it (or it runs again): return
    fc_dumped = 2,       // it gave up; the dump has been written from the original fault: return
    fc_came_back = 3,    // the same fault again right after it was handed back: dump it
};

/// Counts this thread in among the users of the region (see fatal_handler) if crashdrop is
/// running; false, and not counted, if it is not.
CRASHDROP_SIGSAFE_INLINE bool count_in(linux_state* g) {
    if (g->started.load(std::memory_order_seq_cst) != 2 || g->handlers_installed.load(std::memory_order_acquire) == 0) return false;
    g->users.fetch_add(1, std::memory_order_seq_cst);
    if (g->started.load(std::memory_order_seq_cst) == 2 && g->handlers_installed.load(std::memory_order_acquire) != 0) return true;
    g->users.fetch_sub(1, std::memory_order_release);
    return false;
}

/// Asks Options::fault_filter about a fault, with this thread marked in the passing table
/// meanwhile (a fault inside the filter is then not offered to it again). True: handled.
CRASHDROP_SIGSAFE bool ask_fault_filter(linux_state* g, u32 tid, FaultFilter filter, int sig, siginfo_t* info, void* uc) {
    const u64 frame = reinterpret_cast<u64>(__builtin_frame_address(0));
    passing_thread* mark = enter_passing(g, tid, frame, pk_filter, uc, sig);
    const bool handled = filter(sig, info, uc);
    leave_passing(mark);
    return handled;
}

/// Where a fault happened and the state it happened in.
struct fault_point {
    u64 ip;
    u64 sp;
    u64 address;    // si_addr
    u64 registers;  // a hash of the whole register context (general and floating-point)
};

CRASHDROP_SIGSAFE void get_fault_point(const ucontext_t* uc, const siginfo_t* info, fault_point* out) {
    md_context ctx;
    fill_context(&ctx, uc);  // zeroed first: its padding is the same every time
    out->ip = context_ip(&ctx);
    out->sp = context_sp(&ctx);
    out->address = reinterpret_cast<u64>(info->si_addr);
    // FNV-1a, a word at a time (about 150 multiplications instead of 1200).
    static_assert(sizeof(ctx) % 8 == 0, "the context is whole words");
    const auto* bytes = reinterpret_cast<const u8*>(&ctx);
    u64 h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < sizeof(ctx); i += 8) {
        u64 w;
        __builtin_memcpy(&w, bytes + i, 8);  // one load, never a call
        h = (h ^ w) * 0x100000001b3ull;
    }
    out->registers = h ^ (h >> 32);
}

/// Did the first chance hand this very fault (signal, fault address, every register) back to
/// this thread within k_retry_cpu_bound_ns of the thread's CPU time? Then the instruction ran
/// again and nothing had been fixed. The thread's record is dropped either way.
CRASHDROP_SIGSAFE bool retry_came_back(linux_state* g, u32 tid, int sig, const fault_point* f) {
    const long long now = thread_cpu_ns();
    for (u32 i = 0; i < k_max_retry_slots; ++i) {
        retry_slot* r = &g->retries[i];
        if (r->tid.load(std::memory_order_acquire) != tid) continue;
        const long long spent = now - r->cpu_ns;
        const bool same = r->signo == sig && r->ip == f->ip && r->sp == f->sp && r->address == f->address &&
                          r->registers == f->registers;
        u32 mine = tid;
        // Taken over meanwhile (it was older than k_retry_slot_stale_ns): not a record to judge by.
        const bool kept = r->tid.compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
        return kept && same && spent >= 0 && spent <= k_retry_cpu_bound_ns;
    }
    return false;
}

/// Remembers a fault the first chance hands back to this thread (see retry_came_back). False
/// when no slot is free (every one taken by a thread within the last k_retry_slot_stale_ns).
CRASHDROP_SIGSAFE bool retry_remember(linux_state* g, u32 tid, int sig, const fault_point* f) {
    const long long wall = monotonic_ns();
    retry_slot* slot = nullptr;
    for (u32 i = 0; i < k_max_retry_slots && slot == nullptr; ++i) {
        retry_slot* r = &g->retries[i];
        if (r->tid.load(std::memory_order_acquire) != 0) continue;
        r->wall_ns.store(wall, std::memory_order_relaxed);  // first: a fresh claim never looks stale
        u32 expected = 0;
        if (r->tid.compare_exchange_strong(expected, tid, std::memory_order_acq_rel)) slot = r;
    }
    for (u32 i = 0; i < k_max_retry_slots && slot == nullptr; ++i) {
        retry_slot* r = &g->retries[i];
        u32 owner = r->tid.load(std::memory_order_acquire);
        if (owner == 0 || wall - r->wall_ns.load(std::memory_order_relaxed) <= k_retry_slot_stale_ns) continue;
        if (r->tid.compare_exchange_strong(owner, tid, std::memory_order_acq_rel)) slot = r;
    }
    if (slot == nullptr) return false;
    slot->signo = sig;
    slot->ip = f->ip;
    slot->sp = f->sp;
    slot->address = f->address;
    slot->registers = f->registers;
    slot->wall_ns.store(wall, std::memory_order_relaxed);
    slot->cpu_ns = thread_cpu_ns();  // last: the bound counts from here
    return true;
}

/// Is `ip` inside code generated at run time - an executable mapping that is no file
/// (anonymous memory, or a memfd) - rather than inside a module, or nowhere (a wild jump)?
/// Looked up in /proc/self/maps now: a library loaded since start() is a file too.
CRASHDROP_SIGSAFE bool in_generated_code(linux_state* g, u64 ip) {
    char buf[4096];
    char path[16];
    mapping m;
    if (!lookup_mapping(g, ip, buf, sizeof(buf), &m, path, sizeof(path))) return false;
    if ((m.perms & perm_exec) == 0) return false;
    if (bytes_equal(path, "/memfd:", 7)) return true;
    if (m.inode != 0) return false;
    return !(path[0] == '[' && path[1] == 'v');  // [vdso], [vsyscall]: the kernel's code
}

/// Is `sig` pending for this thread (or the process)?
CRASHDROP_SIGSAFE_INLINE bool signal_pending(int sig) {
    u64 set = 0;
    if (raw_syscall(SYS_rt_sigpending, to_long(&set), static_cast<long>(sizeof(set))) != 0) return false;
    return ((set >> (sig - 1)) & 1u) != 0;
}

CRASHDROP_SIGSAFE void dump_crash(linux_state* g, u32 tid, int sig, siginfo_t* info, ucontext_t* uc, int end,
                                  bool keep_blocked = false);

/// The first chance: a fault raised by the kernel in generated code (a JIT's, a WebAssembly
/// runtime's), or a seccomp trap (SIGSYS, SYS_SECCOMP), goes to the handler that was installed
/// before crashdrop before anything is dumped, called as the kernel would have called it. Then:
///  - it never returns (siglongjmp): handled;
///  - it re-raised the signal, or set it to SIG_DFL/SIG_IGN: it gave up - the dump is written
///    from the fault as it was (fc_dumped) and the process dies as that handler arranged;
///  - it changed the registers of the signal frame: handled, the thread goes on there;
///  - it changed nothing: a seccomp trap is handled; a fault runs again (memory the handler
///    fixed lets the instruction pass), and the same fault coming straight back, with every
///    register the same, is dumped (fc_came_back: retry_came_back).
/// Entered counted in (g->users); counted out on fc_handled and fc_dumped.
CRASHDROP_SIGSAFE int first_chance(linux_state* g, u32 tid, int sig, siginfo_t* info, ucontext_t* uc) {
    if (info == nullptr || uc == nullptr) return fc_not_offered;
    const bool seccomp = sig == SIGSYS && info->si_code == k_sys_seccomp;
    const bool fault = !seccomp && sig != SIGABRT && sig != SIGSYS && info->si_code > 0;
    if (!seccomp && !fault) return fc_not_offered;
    const int index = signal_index(sig);
    if (index < 0 || !is_handler(&g->previous[index])) return fc_not_offered;
    fault_point at = {0, 0, 0, 0};
    if (fault) {
        get_fault_point(uc, info, &at);
        if (retry_came_back(g, tid, sig, &at)) return fc_came_back;
        if (!in_generated_code(g, at.ip)) return fc_not_offered;
    }
    ucontext_t original;
    copy_bytes(&original, uc, sizeof(original));
    siginfo_t original_info;
    copy_bytes(&original_info, info, sizeof(original_info));
    const bool pending_before = signal_pending(sig);
    g->users.fetch_sub(1, std::memory_order_release);  // the handler may not come back
    call_previous(g, tid, sig, info, uc, pk_first_chance);
    struct sigaction now;
    const bool reset = sigaction(sig, nullptr, &now) == 0 && !is_handler(&now);  // async-signal-safe
    const bool reraised = !pending_before && signal_pending(sig);
    if (reset || reraised) {
        if (!count_in(g)) return fc_handled;  // stopped meanwhile: the handler's way it is
        // Written with the signal blocked: if it was raised again (under qemu-user that does not
        // show as pending), delivering it mid-dump would end the process there.
        dump_crash(g, tid, sig, &original_info, &original, reset ? ce_keep : ce_previous, true);
        return fc_dumped;
    }
    if (!bytes_equal(&original.uc_mcontext, &uc->uc_mcontext, sizeof(original.uc_mcontext))) return fc_handled;
    if (fault) (void)retry_remember(g, tid, sig, &at);  // no free slot: it runs again unwatched
    return fc_handled;
}

/// Writes the dump of a crash and ends it (see crash_end). Entered counted in (g->users).
/// keep_blocked: see dump_request.
CRASHDROP_SIGSAFE void dump_crash(linux_state* g, u32 tid, int sig, siginfo_t* info, ucontext_t* uc, int end,
                                  bool keep_blocked) {
    const u32 finished_at_entry = g->dumps_finished.load(std::memory_order_acquire);
    for (;;) {
        u32 owner = 0;
        if (g->owner.compare_exchange_strong(owner, tid | k_owner_crash, std::memory_order_acq_rel)) break;
        if ((owner & k_owner_tid_mask) == tid) {  // a fault inside our own dump writer
            g->users.fetch_sub(1, std::memory_order_release);  // the outer entry still counts
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
            g->users.fetch_sub(1, std::memory_order_release);
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
        g->users.fetch_sub(1, std::memory_order_release);
        futex_wait(&g->owner, owner, 1000000000LL);
        set_signal_blocked(g->capture_signal, true);
        unpublish_crash(mine);
        g->users.fetch_add(1, std::memory_order_seq_cst);
        if (g->started.load(std::memory_order_seq_cst) != 2) {  // stop() ran meanwhile
            g->users.fetch_sub(1, std::memory_order_release);
            pass_on(g, tid, sig, info, uc);
            return;
        }
    }

    g->crash_signal = sig;
    dump_request req;
    req.is_crash = true;
    req.signo = sig;
    req.code = info != nullptr ? info->si_code : 0;
    req.address = info != nullptr ? reinterpret_cast<u64>(info->si_addr) : 0;
    req.uc = uc;
    req.tid = tid;
    req.keep_blocked = keep_blocked;
    const long r = run_crash_writer(g, &req);
    if (r < 0) say("crashdrop: the crash dump could not be written\n");

    g->crash_done_tid.store(tid, std::memory_order_release);
    restore_previous_handlers(g, end == ce_keep ? sig : 0);
    if (end == ce_default) {
        // The previous handler let this fault come back unchanged: it would loop. The fault
        // runs again under SIG_DFL instead.
        struct sigaction dfl;
        zero_bytes(&dfl, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, nullptr);  // async-signal-safe
    }
    if (reraise_needed(sig, info)) sys_tgkill(g->pid, static_cast<int>(tid), sig);
    if (ends_on_return(sig, info, uc)) {
        // The other threads stay parked: waking them all only to let the signal kill them a
        // moment later delays the process's end (with 33 threads, ~0.2 ms of wake-ups here
        // and ~0.6 ms more of exit). Should it live on, they go on after the grace period.
        g->crash_unreleased_ns.store(static_cast<u64>(monotonic_ns()), std::memory_order_release);
    } else {
        release_threads(g, g->dump_generation.load(std::memory_order_acquire));
    }
    g->dumps_finished.fetch_add(1, std::memory_order_acq_rel);
    futex_wake_all(&g->dumps_finished);
    g->users.fetch_sub(1, std::memory_order_release);
    CRASHDROP_DETAIL_CRASH_PHASE("handler returns");
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

    CRASHDROP_DETAIL_CRASH_PHASE("fault handler entered");
    const u32 tid = static_cast<u32>(sys_gettid());
    // Checked first, stopped or not: a handler we passed this crash to (or the one we chained
    // to after dumping it) called us back, so the chain has gone round. End it. A fault inside
    // (or a call back from) what crashdrop asks before it decides - the fault filter, a previous
    // handler given the first chance - is judged as any fault, but not offered to them again.
    const passing_thread* nested = find_passing(g, tid, reinterpret_cast<u64>(__builtin_frame_address(0)), uc);
    if ((nested != nullptr && nested->kind == pk_pass_on) || g->crash_done_tid.load(std::memory_order_acquire) == tid) {
        die_by_default(sig, info);
        return;
    }
    // Stopped (stop() ran, or start() is half done): pass everything on. Otherwise this thread
    // counts itself in (g->users: stop() waits for the count to reach zero before it releases
    // the region), looking at `started` before and after (see context_use in api_impl.hpp), and
    // out again before anything that may not come back (a previous handler, a long wait).
    bool running = g->started.load(std::memory_order_seq_cst) == 2 && g->handlers_installed.load(std::memory_order_acquire) != 0;
    if (running) {
        g->users.fetch_add(1, std::memory_order_seq_cst);
        running = g->started.load(std::memory_order_seq_cst) == 2 && g->handlers_installed.load(std::memory_order_acquire) != 0;
        if (!running) g->users.fetch_sub(1, std::memory_order_release);
    }
    if (!running) {
        pass_on(g, tid, sig, info, ucv);
        return;
    }
    // Not offered to anyone in our own dump writer (a fault there is the writer's, fail_safe).
    const bool offer = nested == nullptr && (g->owner.load(std::memory_order_acquire) & k_owner_tid_mask) != tid;
    // The embedder's own recovery first (Options::fault_filter).
    if (offer && g->fault_filter != nullptr) {
        const FaultFilter filter = g->fault_filter;
        g->users.fetch_sub(1, std::memory_order_release);  // it may not come back
        if (ask_fault_filter(g, tid, filter, sig, info, ucv)) return;
        if (!count_in(g)) {  // stop() ran meanwhile
            pass_on(g, tid, sig, info, ucv);
            return;
        }
    }
    if (g->only_own != 0 && !crash_is_ours(g, sig, info, uc)) {
        g->users.fetch_sub(1, std::memory_order_release);
        pass_on(g, tid, sig, info, ucv);
        return;
    }
    // A fault in generated code, or a seccomp trap: the handler that was there before crashdrop
    // goes first (a runtime that recovers from it is not crashing).
    if (offer && g->only_own == 0) {
        const int fc = first_chance(g, tid, sig, info, uc);
        if (fc == fc_handled || fc == fc_dumped) return;
        if (fc == fc_came_back) {
            dump_crash(g, tid, sig, info, uc, ce_default);
            return;
        }
    }
    dump_crash(g, tid, sig, info, uc, ce_previous);
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

static bool g_terminate_installed = false;

/// An annotation set by the terminate handler (cut to the limit: what() may be long).
inline void set_terminate_annotation(const char* key, const char* value) {
    sigsafe::linux_state* g = &sigsafe::g_state;
    if (g->started.load(std::memory_order_seq_cst) != 2) return;
    g->users.fetch_add(1, std::memory_order_seq_cst);  // as the setters do (api_impl.hpp)
    if (g->started.load(std::memory_order_seq_cst) == 2 && g->context.header != nullptr) set_annotation_cut(&g->context, key, value);
    g->users.fetch_sub(1, std::memory_order_release);
}

inline void terminate_handler() {
    describe_current_exception(set_terminate_annotation);  // detail/uncaught_exception.hpp
    if (g_previous_terminate != nullptr && g_previous_terminate != terminate_handler) g_previous_terminate();
    std::abort();
}

// ---- fork: the child gets its own crash buffer -----------------------------------------------

inline void atfork_child() {
    sigsafe::linux_state* g = &sigsafe::g_state;
    if (!g->started.load(std::memory_order_acquire)) return;
    if (g->launching_helper.load(std::memory_order_acquire)) return;  // start()'s own forks
    // Only this thread lives on in the child. A dump another thread of the parent was writing
    // when it forked (its owner mark, the threads it waits for, crashes published to it, the
    // hand-off it was in) and the parent's threads inside a setter are not the child's: start
    // the child's bookkeeping afresh, or its first crash would wait for a dump nobody writes.
    g->owner.store(0, std::memory_order_release);
    g->acks.store(0, std::memory_order_release);
    g->released_generation.store(g->dump_generation.load(std::memory_order_acquire), std::memory_order_release);
    g->users.store(0, std::memory_order_release);
    g->writer_escape_tid.store(0, std::memory_order_release);
    g->crash_done_tid.store(0, std::memory_order_release);
    g->crash_signal = 0;
    for (sigsafe::u32 i = 0; i < sigsafe::k_max_secondary_crashes; ++i) sigsafe::unpublish_crash(&g->secondary[i]);
    for (sigsafe::u32 i = 0; i < sigsafe::k_max_passing; ++i) sigsafe::leave_passing(&g->passing[i]);
    for (sigsafe::u32 i = 0; i < sigsafe::k_max_retry_slots; ++i) g->retries[i].tid.store(0, std::memory_order_release);
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
    // The parent's hand-off state came with the header: this process has no helper of its own.
    g->header->handoff.store(sigsafe::handoff_word(0, sigsafe::hs_idle), std::memory_order_release);
    sigsafe::context_drop_process_only(&g->context);  // Options::extra is this process's only
    prepare_dump_file(g);
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

// ---- pthread_create interposition ----------------------------------------------------------
// crashdrop's pthread_create gives each new thread an alternate signal stack, then calls the
// pthread_create it stands in front of, found in this order:
//  - a sanitizer runtime in the process (TSan, ASan, MSan, HWASan, LSan) intercepts
//    pthread_create to register every thread; clang links that runtime into the executable,
//    where its pthread_create is a weak alias that ours overrides. Bypassing the interceptor
//    (RTLD_NEXT from the executable is libc) leaves TSan with an unregistered thread: "CHECK
//    failed: tsan_interceptors_posix.cpp:1983". So with a sanitizer present ours calls the
//    interceptor by its own name (gcc's shared runtimes export it too) and adds nothing: the
//    thread is the sanitizer's. A TU built with such a sanitizer defines no pthread_create at all
//    (CRASHDROP_DETAIL_SANITIZER, config.hpp).
//  - the next pthread_create in the dynamic symbol search order (libc's).
//  - in a static executable there is no next one: libc.a's own __pthread_create, which ours
//    replaces as pthread_create, is called by its internal name. A static link only takes it from
//    libc.a when something refers to it, so this TU refers to thrd_create, whose member of
//    libc.a calls __pthread_create (glibc 2.34 and later).
// When none is found (a static link with an older glibc) ours cannot create threads and returns
// ENOSYS, never EAGAIN (which callers retry), and start()'s note says so.
#if CRASHDROP_PTHREAD_INTERPOSE && !defined(CRASHDROP_DETAIL_SANITIZER)
#define CRASHDROP_DETAIL_DEFINES_PTHREAD_CREATE 1

extern "C" {
// Weak references: null unless the process has them. Functions, never objects (an object
// reference to a function in a shared library would get a copy relocation); default visibility,
// or clang marks the references hidden (the implementation is inside a hidden-visibility pragma)
// and a shared runtime's definition could not satisfy them.
void crashdrop_detail_tsan_init() __asm__("__tsan_init") __attribute__((weak, visibility("default")));
void crashdrop_detail_asan_init() __asm__("__asan_init") __attribute__((weak, visibility("default")));
void crashdrop_detail_msan_init() __asm__("__msan_init") __attribute__((weak, visibility("default")));
void crashdrop_detail_hwasan_init() __asm__("__hwasan_init") __attribute__((weak, visibility("default")));
void crashdrop_detail_lsan_init() __asm__("__lsan_init") __attribute__((weak, visibility("default")));
// The interceptor under its own name: LLVM 16 and earlier, gcc's runtimes; LLVM 17 and later.
int crashdrop_detail_interceptor_a(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*) __asm__(
    "__interceptor_pthread_create") __attribute__((weak, visibility("default")));
int crashdrop_detail_interceptor_b(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*) __asm__(
    "___interceptor_pthread_create") __attribute__((weak, visibility("default")));
// libc's own, in a static executable (glibc 2.34+: __pthread_create; older: __pthread_create_2_1).
int crashdrop_detail_libc_create(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*) __asm__(
    "__pthread_create") __attribute__((weak, visibility("default")));
int crashdrop_detail_libc_create_2_1(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*) __asm__(
    "__pthread_create_2_1") __attribute__((weak, visibility("default")));
}

#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 34)
extern "C" int crashdrop_detail_thrd_create(unsigned long*, int (*)(void*), void*) __asm__("thrd_create")
    __attribute__((visibility("default")));
// Referred to so that a static link takes libc.a's pthread_create member (see above); costs a
// dynamic link nothing (thrd_create is in libc.so.6, GLIBC_2.34, like pthread_create itself).
__attribute__((used)) static int (*const crashdrop_detail_pull_libc_pthread_create)(unsigned long*, int (*)(void*), void*) =
    crashdrop_detail_thrd_create;
#endif
#endif

#else
#define CRASHDROP_DETAIL_DEFINES_PTHREAD_CREATE 0
#endif

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

using pthread_create_fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);

#if CRASHDROP_DETAIL_DEFINES_PTHREAD_CREATE

/// The sanitizer runtime in this process that intercepts pthread_create; nullptr if none.
inline const char* sanitizer_runtime() noexcept {
    if (&crashdrop_detail_tsan_init != nullptr) return "ThreadSanitizer";
    if (&crashdrop_detail_msan_init != nullptr) return "MemorySanitizer";
    if (&crashdrop_detail_hwasan_init != nullptr) return "HWAddressSanitizer";
    if (&crashdrop_detail_asan_init != nullptr) return "AddressSanitizer";
    if (&crashdrop_detail_lsan_init != nullptr) return "LeakSanitizer";
    return nullptr;
}

enum class create_path : int { unresolved = 0, interpose, pass_through, missing };

struct real_create {
    std::atomic<pthread_create_fn> fn{nullptr};
    std::atomic<int> path{0};  // create_path
};
static real_create g_real_create;

/// Finds the pthread_create ours stands in front of (see above); idempotent, thread-safe.
inline create_path resolve_pthread_create() noexcept {
    const int known = g_real_create.path.load(std::memory_order_acquire);
    if (known != 0) return static_cast<create_path>(known);
    pthread_create_fn fn = nullptr;
    create_path path = create_path::interpose;
    const pthread_create_fn self = &::pthread_create;
    if (sanitizer_runtime() != nullptr) {
        path = create_path::pass_through;
        fn = crashdrop_detail_interceptor_a != nullptr ? crashdrop_detail_interceptor_a : crashdrop_detail_interceptor_b;
    }
    if (fn == nullptr || fn == self) fn = reinterpret_cast<pthread_create_fn>(dlsym(RTLD_NEXT, "pthread_create"));
    if (fn == nullptr || fn == self) fn = crashdrop_detail_libc_create;
    if (fn == nullptr || fn == self) fn = crashdrop_detail_libc_create_2_1;
    if (fn == nullptr || fn == self) {
        fn = nullptr;
        path = create_path::missing;
    }
    g_real_create.fn.store(fn, std::memory_order_release);
    g_real_create.path.store(static_cast<int>(path), std::memory_order_release);
    return path;
}

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

#endif  // CRASHDROP_DETAIL_DEFINES_PTHREAD_CREATE

/// What start() says about threads created after it (Status::note()): empty when they get an
/// alternate signal stack from crashdrop, or when CRASHDROP_PTHREAD_INTERPOSE is 0 (the
/// application's choice, documented there).
inline std::string thread_stack_note() {
    const char* lost =
        "threads created after start() get no alternate signal stack from crashdrop (a stack overflow in "
        "one is captured only if it calls crashdrop::prepare_thread())";
#if defined(CRASHDROP_DETAIL_SANITIZER)
#if CRASHDROP_PTHREAD_INTERPOSE
    return std::string("pthread_create is left to " CRASHDROP_DETAIL_SANITIZER " (this code is built with it): ") + lost;
#else
    (void)lost;
    return std::string();
#endif
#elif CRASHDROP_DETAIL_DEFINES_PTHREAD_CREATE
    switch (resolve_pthread_create()) {
        case create_path::pass_through:
            return std::string("pthread_create is left to ") + sanitizer_runtime() + " (present in this process): " + lost;
        case create_path::missing:
            return std::string("the C library's pthread_create was not found (a static link with a C library older than "
                               "glibc 2.34?): creating a thread fails with ENOSYS; build with "
                               "CRASHDROP_PTHREAD_INTERPOSE=0");
        default: return std::string();
    }
#else
    (void)lost;
    return std::string();
#endif
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#if CRASHDROP_DETAIL_DEFINES_PTHREAD_CREATE
/// Every thread created after start() gets an alternate signal stack before its start routine
/// runs (and loses it when it ends), so its stack overflow is captured. Never fails on its own
/// account: every error is the real pthread_create's.
extern "C" __attribute__((visibility("default"))) int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*routine)(void*), void* arg) noexcept {
    namespace d = crashdrop::detail;
    const d::create_path path = d::resolve_pthread_create();
    const d::pthread_create_fn real = d::g_real_create.fn.load(std::memory_order_acquire);
    if (path == d::create_path::missing || real == nullptr) return ENOSYS;
    if (path == d::create_path::pass_through || !crashdrop::sigsafe::g_state.started.load(std::memory_order_acquire)) {
        return real(thread, attr, routine, arg);
    }
    auto* start = static_cast<d::thread_start*>(std::malloc(sizeof(d::thread_start)));
    if (start == nullptr) return real(thread, attr, routine, arg);
    start->routine = routine;
    start->arg = arg;
    const int rc = real(thread, attr, d::thread_trampoline, start);
    if (rc != 0) std::free(start);
    return rc;
}
#endif  // CRASHDROP_DETAIL_DEFINES_PTHREAD_CREATE

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
