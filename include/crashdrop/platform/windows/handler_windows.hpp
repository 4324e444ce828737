// crashdrop/platform/windows/handler_windows.hpp - the Windows crash path: the unhandled-exception
// filter, the vectored handler, the SIGABRT handler, and the dump-writer thread they wake.
//
// CRASH-PATH CODE (the Windows counterpart of the Linux sigsafe files): everything here runs
// after a fault, so it calls no CRT function, allocates nothing and takes no lock. The faulting
// thread only stores a pointer, signals an event and waits (SetEvent / WaitForSingleObject,
// kernel calls that need a few hundred bytes of stack), so it works with the one page a stack
// overflow leaves. Normally the helper process writes the dump from outside. When no helper
// answers, a thread start() created, with a stack of its own, writes it instead: it calls
// dbghelp's MiniDumpWriteDump, which does allocate from the process heap, so a crash while
// another thread holds the heap lock can stall it (the wait below is bounded).
//
// Which exceptions are crashes:
//  - The unhandled-exception filter sees only what no __try/__except or C++ catch handled, so
//    everything reaching it is fatal except the debug notifications listed in
//    win_is_nonfatal() (an unhandled DBG_PRINTEXCEPTION_C etc. is continued by the system).
//    EXCEPTION_BREAKPOINT reaching it (a __debugbreak() with no debugger attached) is a crash;
//    under a debugger the debugger sees it first and crashdrop never does.
//  - The vectored handler sees every exception first, handled or not, so it acts only on codes
//    that never come back: heap corruption and fail-fast (on real Windows these often skip
//    the filter). First-chance C++ exceptions (0x20474343 mingw, 0xE06D7363 MSVC) and all
//    other codes pass through untouched.
//  - Stack overflow (0xC00000FD) is reported by the vectored handler too, the first time it is
//    raised, and the process then ends with that code (TerminateProcess). Whatever comes after
//    the vectored handlers (the search for a __except frame, then UnhandledExceptionFilter and
//    the filter) needs more stack than the overflow leaves. Measured under wine 8: the
//    vectored handler runs with about 5.5 KB left; continuing the search, wine faults again
//    on the last page, cannot set up another exception frame and kills the thread without
//    reaching the filter (exit code 1 for the main thread; a worker thread just vanishes and
//    crashdrop's writer thread keeps the process alive: the hang seen before). Real Windows
//    keeps a reserve for the dispatcher, but its filter gets little stack too. The price: a
//    program that catches its own stack overflows with __try/__except is ended by crashdrop.
// Context: implementation TU; crash path.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

/// Debug notifications raised as exceptions: never crashes.
CRASHDROP_SIGSAFE bool win_is_nonfatal(DWORD code) {
    switch (code) {
        case k_code_mingw_cxx:
        case k_code_msvc_cxx:
        case k_code_print:
        case k_code_print_wide:
        case k_code_thread_name:
        case k_code_control_c:
        case k_code_control_break: return true;
        default: return false;
    }
}

/// The codes the vectored handler reports: those that end the process without (reliably)
/// reaching the unhandled-exception filter.
CRASHDROP_SIGSAFE bool win_vectored_reports(DWORD code) {
    return code == k_code_heap_corruption || code == k_code_stack_buffer_overrun || code == k_code_fail_fast;
}

/// Asks the helper to write the dump from outside: the address of the exception, the thread
/// and the time go into the shared region, the crash event wakes the helper, and the thread
/// waits for its answer (or its death). True once the dump is in pending\. A helper that
/// is gone, fails or does not answer leaves the dump to the in-process writer thread.
/// Each hand-off has its own number in the region's hand-off word: the done event of an
/// earlier hand-off that timed out (answered late) does not complete this one, and while a
/// helper still works on an earlier hand-off (it reads the exception pointers from this
/// process) nothing is handed to it: the in-process writer takes the dump.
CRASHDROP_SIGSAFE bool win_handoff_to_helper(windows_state* g, EXCEPTION_POINTERS* ep, DWORD self) {
    region_header* r = g->region;
    if (r == nullptr || g->helper_process == nullptr || WaitForSingleObject(g->helper_process, 0) != WAIT_TIMEOUT) return false;
    if (handoff_state_of(r->handoff.load(std::memory_order_acquire)) == hs_taken) return false;
    u32 seq = g->handoff_seq.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (seq == 0) seq = g->handoff_seq.fetch_add(1, std::memory_order_acq_rel) + 1;
    r->exception_pointers = reinterpret_cast<u64>(ep);
    r->exception_code = ep->ExceptionRecord->ExceptionCode;
    r->crashed_tid = self;
    r->crash_time = win_unix_seconds();
    const u64 ready = handoff_word(seq, hs_ready);
    r->handoff.store(ready, std::memory_order_release);
    ResetEvent(g->helper_done_event);
    SetEvent(g->helper_crash_event);
    HANDLE waits[2] = {g->helper_done_event, g->helper_process};
    const ULONGLONG deadline = GetTickCount64() + k_writer_wait_ms;
    for (;;) {
        const u64 word = r->handoff.load(std::memory_order_acquire);
        if (word == handoff_word(seq, hs_persisted)) return true;
        if (word == handoff_word(seq, hs_failed)) return false;
        const ULONGLONG now = GetTickCount64();
        if (now >= deadline) break;
        const DWORD w = WaitForMultipleObjects(2, waits, FALSE, static_cast<DWORD>(deadline - now));
        if (w == WAIT_OBJECT_0) {
            ResetEvent(g->helper_done_event);  // possibly a late answer to an earlier hand-off
            continue;
        }
        if (w != WAIT_TIMEOUT) break;  // the helper died (or the wait failed)
    }
    // Not answered: take it back unless the helper has taken it (then the next hand-off is
    // not made until it has finished: see above).
    u64 expected = ready;
    r->handoff.compare_exchange_strong(expected, handoff_word(seq, hs_withdrawn), std::memory_order_acq_rel);
    return r->handoff.load(std::memory_order_acquire) == handoff_word(seq, hs_persisted);
}

/// Hands the exception to the writer thread and waits until the dump is written. The first
/// crashing thread owns the writer; a second one waits for that dump and then some more, so
/// the process ends with the first crash's code. A fault in the writer itself, or a second
/// fault of the crashing thread, returns at once (no dump; the process still dies of it).
CRASHDROP_SIGSAFE void win_capture_counted(windows_state* g, EXCEPTION_POINTERS* ep) {
    if (g->started.load(std::memory_order_seq_cst) != 2 || ep == nullptr || ep->ExceptionRecord == nullptr) return;
    const DWORD self = GetCurrentThreadId();
    if (self == g->writer_thread_id) return;
    DWORD expected = 0;
    if (!g->crashing_thread.compare_exchange_strong(expected, self, std::memory_order_acq_rel)) {
        if (expected == self) return;
        WaitForSingleObject(g->done_event, k_writer_wait_ms);
        Sleep(5000);  // the first crash is ending the process
        return;
    }
    if (win_handoff_to_helper(g, ep, self)) return;
    g->exception = ep;
    g->exception_thread = self;
    SetEvent(g->crash_event);
    WaitForSingleObject(g->done_event, k_writer_wait_ms);
}

CRASHDROP_SIGSAFE void win_capture(windows_state* g, EXCEPTION_POINTERS* ep) {
    if (g->started.load(std::memory_order_seq_cst) != 2) return;
    g->users.fetch_add(1, std::memory_order_seq_cst);  // stop() waits for it to leave
    win_capture_counted(g, ep);
    g->users.fetch_sub(1, std::memory_order_release);
}

LONG WINAPI win_unhandled_filter(EXCEPTION_POINTERS* ep) {
    windows_state* g = &g_win;
    if (ep != nullptr && ep->ExceptionRecord != nullptr && !win_is_nonfatal(ep->ExceptionRecord->ExceptionCode)) {
        win_capture(g, ep);
    }
    // Chain: the previous filter decides (it may end the process itself); without one the
    // system ends the process with the exception code, as it would have without crashdrop.
    LPTOP_LEVEL_EXCEPTION_FILTER previous = g->previous_filter;
    if (previous != nullptr) return previous(ep);
    return EXCEPTION_CONTINUE_SEARCH;
}

LONG WINAPI win_vectored_handler(EXCEPTION_POINTERS* ep) {
    if (ep != nullptr && ep->ExceptionRecord != nullptr && win_vectored_reports(ep->ExceptionRecord->ExceptionCode)) {
        win_capture(&g_win, ep);
    }
    // ---- stack overflow: captured here, first, and the process ended (see the header) ----
    if (ep != nullptr && ep->ExceptionRecord != nullptr && ep->ExceptionRecord->ExceptionCode == EXCEPTION_STACK_OVERFLOW) {
        win_capture(&g_win, ep);
        TerminateProcess(GetCurrentProcess(), EXCEPTION_STACK_OVERFLOW);
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

/// abort(): the CRT raises SIGABRT, calls this, then ends the process with exit code 3. The
/// context is this function's own (readers then walk handler -> raise -> abort -> caller).
void __cdecl win_on_sigabrt(int sig) {
    windows_state* g = &g_win;
    RtlCaptureContext(&g->abort_context);
    zero_bytes(&g->abort_record, sizeof(g->abort_record));
    g->abort_record.ExceptionCode = k_code_fatal_app_exit;
    g->abort_record.ExceptionFlags = EXCEPTION_NONCONTINUABLE;
    g->abort_record.ExceptionAddress = reinterpret_cast<void*>(g->abort_context.Rip);
    g->abort_pointers.ExceptionRecord = &g->abort_record;
    g->abort_pointers.ContextRecord = &g->abort_context;
    win_capture(g, &g->abort_pointers);
    void(__cdecl * previous)(int) = g->previous_sigabrt;
    if (previous != SIG_DFL && previous != SIG_IGN && previous != SIG_ERR && previous != nullptr) previous(sig);
}

/// The stacks of the threads in a dump of `process`, for dump_scrub_stack_words: each thread's
/// whole stack reservation (VirtualQueryEx's AllocationBase up to the end of the stack the dump
/// holds). At most `capacity` go into `out` (no allocation: the crashing process calls it too);
/// returns how many.
inline std::size_t win_stack_reservations(HANDLE process, const unsigned char* dump, std::size_t size, detail::address_range* out,
                                          std::size_t capacity) {
    detail::scrub_layout layout;
    if (!detail::scrub_find_layout(dump, size, &layout)) return 0;
    std::size_t count = 0;
    for (std::uint32_t i = 0; i < layout.thread_count && count < capacity; ++i) {
        minidump::thread t;
        copy_bytes(&t, dump + layout.threads_at + std::uint64_t{i} * sizeof(t), sizeof(t));
        MEMORY_BASIC_INFORMATION mbi;
        if (t.stack.memory.data_size == 0 ||
            VirtualQueryEx(process, reinterpret_cast<const void*>(static_cast<std::uintptr_t>(t.stack.start_of_memory_range)), &mbi,
                           sizeof(mbi)) == 0) {
            continue;
        }
        out[count++] = {reinterpret_cast<std::uintptr_t>(mbi.AllocationBase), t.stack.start_of_memory_range + t.stack.memory.data_size};
    }
    return count;
}

/// Options::memory_capture for a dump this process wrote itself (HelperMode::none, or
/// write_dump() without a helper): MiniDumpWriteDump's dump type holds no memory around registers
/// (stacks_only needs nothing more; full stays without it: only the helper adds it), and for
/// scrubbed_stacks the file is mapped and detail::dump_scrub_stack_words runs on it in place,
/// each thread's whole stack reservation counting as its stack (win_stack_reservations). No allocation
/// (the heap may be locked). false when the dump should not be kept: it could not be scrubbed.
inline bool win_apply_own_memory_level(windows_state* g, HANDLE file) {
    if (g->memory_capture != static_cast<int>(MemoryCapture::scrubbed_stacks)) return true;
    LARGE_INTEGER size;
    if (!GetFileSizeEx(file, &size) || size.QuadPart <= 0) return false;
    HANDLE mapping = CreateFileMappingW(file, nullptr, PAGE_READWRITE, 0, 0, nullptr);
    if (mapping == nullptr) return false;
    bool scrubbed = false;
    if (void* view = MapViewOfFile(mapping, FILE_MAP_WRITE, 0, 0, 0)) {
        auto* bytes = static_cast<unsigned char*>(view);
        const auto length = static_cast<std::size_t>(size.QuadPart);
        detail::address_range stacks[256];
        const std::size_t count = win_stack_reservations(GetCurrentProcess(), bytes, length, stacks, 256);
        detail::stack_scrub_counts counts;
        scrubbed = detail::dump_scrub_stack_words(bytes, length, stacks, count, &counts);
        FlushViewOfFile(view, 0);
        UnmapViewOfFile(view);
    }
    CloseHandle(mapping);
    return scrubbed;
}

/// The dump-writer thread: created by start(), it sleeps on crash_event. Woken by a crash, it
/// keeps the prepared file (cancels its delete-on-close), writes the dump into it, gives it its
/// final name and wakes the crashing thread. Woken by stop(), it ends.
DWORD WINAPI win_writer_main(void* arg) {
    windows_state* g = static_cast<windows_state*>(arg);
    for (;;) {
        if (WaitForSingleObject(g->crash_event, INFINITE) != WAIT_OBJECT_0) return 1;
        if (g->stopping.load(std::memory_order_acquire) != 0) return 0;
        FILE_DISPOSITION_INFO keep;
        keep.DeleteFile = FALSE;
        SetFileInformationByHandle(g->dump_file, FileDispositionInfo, &keep, sizeof(keep));
        MINIDUMP_EXCEPTION_INFORMATION mei;
        mei.ThreadId = g->exception_thread;
        mei.ExceptionPointers = g->exception;
        mei.ClientPointers = FALSE;
        BOOL ok = g->write_dump(GetCurrentProcess(), GetCurrentProcessId(), g->dump_file, k_dump_type, &mei, nullptr, nullptr);
        if (ok && !win_apply_own_memory_level(g, g->dump_file)) {
            ok = FALSE;  // not scrubbed as asked: not kept (deleted when the handle closes)
            keep.DeleteFile = TRUE;
            SetFileInformationByHandle(g->dump_file, FileDispositionInfo, &keep, sizeof(keep));
        }
        FlushFileBuffers(g->dump_file);
        if (ok) {
            if (!SetFileInformationByHandle(g->dump_file, FileRenameInfo, g->rename_info, g->rename_info_size)) {
                // Some systems refuse a rename through the handle: close it and move by name.
                CloseHandle(g->dump_file);
                g->dump_file = INVALID_HANDLE_VALUE;
                MoveFileExW(g->temp_path, g->final_path, 0);
            }
            g->dump_written.store(1, std::memory_order_release);
        }
        SetEvent(g->done_event);
    }
}

}  // namespace sigsafe
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED
