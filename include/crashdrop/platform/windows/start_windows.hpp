// crashdrop/platform/windows/start_windows.hpp - start(), stop() and write_dump() on Windows
// x64: prepares everything the crash path needs (the database folders, the region shared with
// the helper with the configuration and the context store, the helper itself, and for when no
// helper answers: dbghelp's MiniDumpWriteDump, the dump file, the events and the dump-writer
// thread), then installs the handlers.
// Context: implementation TU; ordinary code (never called after a fault).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// Process-wide things start() keeps in ordinary memory (allocated once, never freed: a crash
/// may come during exit).
struct windows_runtime {
    std::string database_root;
};
inline windows_runtime& win_runtime() {
    static windows_runtime* r = new windows_runtime();
    return *r;
}

inline void win_close(HANDLE* h) {
    if (*h != nullptr && *h != INVALID_HANDLE_VALUE) CloseHandle(*h);
    *h = nullptr;
}

/// Appends a line to <database>\helper.log (start()'s notes: the helper could not be started).
inline void win_log_note(const std::string& root, const std::string& line) {
    HANDLE log = CreateFileW(widen(path_join(root, "helper.log")).c_str(), FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE,
                             nullptr, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (log == INVALID_HANDLE_VALUE) return;
    const std::string text = "crashdrop[" + std::to_string(current_process_id()) + "]: " + line + "\r\n";
    DWORD wrote = 0;
    WriteFile(log, text.data(), static_cast<DWORD>(text.size()), &wrote, nullptr);
    CloseHandle(log);
}

/// Waits until no thread is inside crashdrop (g->users is 0), at most `ms`. True if none is.
inline bool win_wait_for_users(sigsafe::windows_state* g, DWORD ms) {
    const ULONGLONG deadline = GetTickCount64() + ms;
    for (unsigned spins = 0; g->users.load(std::memory_order_seq_cst) != 0; ++spins) {
        if (GetTickCount64() >= deadline) return false;
        Sleep(spins < 64 ? 0 : 1);
    }
    return true;
}

/// Undoes whatever windows_start() did so far (also stop()'s second half). With `unmap` false
/// (threads were still inside crashdrop when stop() gave up waiting) the region stays mapped
/// for them: one region left to the process per such stop().
inline void win_release(sigsafe::windows_state* g, bool unmap = true) {
    if (g->writer_thread != nullptr) {
        g->stopping.store(1, std::memory_order_release);
        SetEvent(g->crash_event);
        WaitForSingleObject(g->writer_thread, 5000);
        win_close(&g->writer_thread);
        g->writer_thread_id = 0;
    }
    win_close(&g->crash_event);
    win_close(&g->done_event);
    if (g->dump_file != nullptr && g->dump_file != INVALID_HANDLE_VALUE) {
        CloseHandle(g->dump_file);  // delete-on-close removes the unused file
        if (g->dump_written.load() == 0) DeleteFileW(g->temp_path);  // where that was refused
    }
    g->dump_file = nullptr;
    if (g->dbghelp != nullptr) FreeLibrary(g->dbghelp);
    g->dbghelp = nullptr;
    g->write_dump = nullptr;
    // The helper: told to finish (it also would when this process ends).
    if (g->region != nullptr) g->region->app_detached.store(1, std::memory_order_release);
    if (g->helper_wake_event != nullptr) SetEvent(g->helper_wake_event);
    win_close(&g->helper_process);
    win_close(&g->helper_crash_event);
    win_close(&g->helper_done_event);
    win_close(&g->helper_wake_event);
    win_close(&g->helper_app_handle);
    if (unmap) {
        g->context = sigsafe::context_store{};
        if (g->region != nullptr) UnmapViewOfFile(g->region);
        g->region = nullptr;
    }
    win_close(&g->region_mapping);
    g->stopping.store(0);
    g->crashing_thread.store(0);
    g->dump_written.store(0);
}

/// The region shared with the helper: header, configuration, context store.
inline Status win_make_region(sigsafe::windows_state* g, const Options& options, const std::string& config_text) {
    using namespace sigsafe;
    const auto breadcrumb_capacity = static_cast<u32>(options.max_breadcrumbs);
    const u64 header_size = align_up(sizeof(region_header), 64);
    const u64 context_size = context_bytes(breadcrumb_capacity);
    const u64 size = align_up(header_size + k_config_capacity + context_size, 4096);
    g->region_mapping = CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, static_cast<DWORD>(size >> 32),
                                           static_cast<DWORD>(size & 0xffffffffu), nullptr);
    if (g->region_mapping == nullptr) {
        return Status(Error::out_of_memory, "reserving " + std::to_string(size) + " bytes for the crash path failed: " +
                                                error_text(last_error()));
    }
    g->region = static_cast<region_header*>(MapViewOfFile(g->region_mapping, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0));
    if (g->region == nullptr) return Status(Error::out_of_memory, "MapViewOfFile failed: " + error_text(last_error()));
    std::memset(static_cast<void*>(g->region), 0, static_cast<std::size_t>(size));  // every page present before a crash needs it
    region_header* h = g->region;
    h->magic = k_region_magic;
    h->version = k_region_version;
    h->region_size = size;
    h->config_offset = header_size;
    h->context_offset = header_size + k_config_capacity;
    h->context_size = context_size;
    h->app_pid = GetCurrentProcessId();
    if (config_text.size() >= k_config_capacity) return Status(Error::invalid_options, "the helper's configuration is too long");
    std::memcpy(reinterpret_cast<char*>(h) + h->config_offset, config_text.c_str(), config_text.size() + 1);
    context_init(&g->context, reinterpret_cast<u8*>(h) + h->context_offset, breadcrumb_capacity);
    return Status::success();
}

/// The dump file the in-process writer fills when no helper answers: pending\.<id>.dmp.tmp,
/// exclusive, deleted when closed unless a crash keeps it, and its rename request.
inline Status win_prepare_dump_file(sigsafe::windows_state* g, const std::string& pending, const std::string& id) {
    const std::wstring temp = widen(path_join(pending, "." + id + ".dmp.tmp"));
    const std::wstring final_name = widen(path_join(pending, id + ".dmp"));
    if (temp.size() >= 1024 || final_name.size() >= 1024) return Status(Error::invalid_options, "database_path is too long");
    std::memcpy(g->temp_path, temp.c_str(), (temp.size() + 1) * sizeof(wchar_t));
    std::memcpy(g->final_path, final_name.c_str(), (final_name.size() + 1) * sizeof(wchar_t));
    g->dump_file = CreateFileW(temp.c_str(), GENERIC_READ | GENERIC_WRITE | DELETE, 0, nullptr, CREATE_NEW,
                               FILE_ATTRIBUTE_NORMAL, nullptr);
    if (g->dump_file == INVALID_HANDLE_VALUE) {
        g->dump_file = nullptr;
        return Status(Error::database_unavailable, "cannot create a dump file in " + pending + ": " + error_text(last_error()));
    }
    FILE_DISPOSITION_INFO discard;
    discard.DeleteFile = TRUE;
    SetFileInformationByHandle(g->dump_file, FileDispositionInfo, &discard, sizeof(discard));

    // The rename request, with the NT form of the final path (\??\C:\... or \??\UNC\server\...).
    std::wstring nt_name = final_name.compare(0, 2, L"\\\\") == 0 ? L"\\??\\UNC\\" + final_name.substr(2) : L"\\??\\" + final_name;
    const std::size_t name_bytes = nt_name.size() * sizeof(wchar_t);
    if (offsetof(FILE_RENAME_INFO, FileName) + name_bytes + sizeof(wchar_t) > sizeof(g->rename_info)) {
        return Status(Error::invalid_options, "database_path is too long");
    }
    std::memset(g->rename_info, 0, sizeof(g->rename_info));
    FILE_RENAME_INFO* rename = reinterpret_cast<FILE_RENAME_INFO*>(g->rename_info);
    rename->ReplaceIfExists = FALSE;
    rename->RootDirectory = nullptr;
    rename->FileNameLength = static_cast<DWORD>(name_bytes);
    std::memcpy(rename->FileName, nt_name.c_str(), name_bytes);
    g->rename_info_size = static_cast<DWORD>(offsetof(FILE_RENAME_INFO, FileName) + name_bytes + sizeof(wchar_t));
    return Status::success();
}

/// The helper: its events, a handle to this process for it, and the process itself.
inline Status win_start_helper(sigsafe::windows_state* g, const Options& options, const std::string& root) {
    g->helper_crash_event = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    g->helper_done_event = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    g->helper_wake_event = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    if (g->helper_crash_event == nullptr || g->helper_done_event == nullptr || g->helper_wake_event == nullptr ||
        !DuplicateHandle(GetCurrentProcess(), GetCurrentProcess(), GetCurrentProcess(), &g->helper_app_handle, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) {
        return Status(Error::handler_failed, "creating the helper's events failed: " + error_text(last_error()));
    }
    win_helper_handles h;
    h.region = g->region_mapping;
    h.crash = g->helper_crash_event;
    h.done = g->helper_done_event;
    h.wake = g->helper_wake_event;
    h.app = g->helper_app_handle;
    std::string error;
    g->helper_process = win_launch_helper(options.helper_mode, options.helper_path, h, path_join(root, "helper.log"), &error);
    if (g->helper_process == nullptr) {
        win_log_note(root, "helper: could not be started (" + error + "); dumps are written by the crashed process");
    }
    return Status::success();
}

inline Status windows_start(const Options& options) {
    sigsafe::windows_state* g = &sigsafe::g_win;
    if (Status s = check_options(options); !s.ok()) return s;
    // In a process started as the helper (re-exec mode), start() runs the helper instead and
    // never returns.
    run_helper_if_asked(options.transport ? &options.transport : nullptr, options.before_upload ? &options.before_upload : nullptr);
    int expected = 0;
    if (!g->started.compare_exchange_strong(expected, 1)) {
        return Status(Error::already_started, "crashdrop::start() was already called");
    }
    auto fail = [g](Status s) {
        win_release(g);
        g->started.store(0, std::memory_order_release);
        return s;
    };

    // The database (folders, and proof that a report can be written there).
    std::vector<wchar_t> full(32768);
    const DWORD full_len = GetFullPathNameW(widen(options.database_path).c_str(), static_cast<DWORD>(full.size()), full.data(), nullptr);
    if (full_len == 0 || full_len >= full.size()) {
        return fail(Status(Error::invalid_options, "database_path '" + options.database_path + "' is invalid: " + error_text(last_error())));
    }
    std::string root = narrow(full.data(), full_len);
    while (root.size() > 3 && is_separator(root.back())) root.pop_back();
    if (file_kind(root) == entry_kind::link) {
        return fail(Status(Error::database_unavailable, "database_path '" + options.database_path +
                                                            "' is a reparse point (a symbolic link or junction; a database folder must be a real folder)"));
    }
    const database db(root);
    std::string where, why;
    if (file_kind(root) != entry_kind::missing && !check_private_folder(root, &why)) {
        return fail(Status(Error::database_unavailable, "database_path '" + options.database_path + "' refused: " + why));
    }
    if (int err = db.create(&where)) {
        return fail(Status(Error::database_unavailable, "'" + where + "' cannot be created: " + error_text(err)));
    }
    if (!db.check(&why)) return fail(Status(Error::database_unavailable, "database_path '" + options.database_path + "' refused: " + why));
    win_runtime().database_root = root;
    begin_run_record(root);  // last_run() and consecutive_crashes() are valid from here
    const std::string id = new_uuid();
    if (Status s = win_prepare_dump_file(g, db.pending_dir(), id); !s.ok()) return fail(s);

    // The region shared with the helper, with the configuration and the context store.
    if (Status s = win_make_region(g, options, encode_helper_config(make_helper_config(options, root))); !s.ok()) return fail(s);
    g->memory_capture = static_cast<int>(options.memory_capture);
    std::memcpy(g->region->report_id, id.c_str(), id.size() + 1);
    if (Status s = apply_context_options(&g->context, options); !s.ok()) return fail(s);

    // MiniDumpWriteDump, from the system's dbghelp.dll (loaded now, never after a fault).
    g->dbghelp = load_system_library(L"dbghelp.dll");
    if (g->dbghelp == nullptr) return fail(Status(Error::handler_failed, "cannot load dbghelp.dll: " + error_text(last_error())));
    if (!find_proc(g->dbghelp, "MiniDumpWriteDump", &g->write_dump)) {
        return fail(Status(Error::handler_failed, "dbghelp.dll has no MiniDumpWriteDump"));
    }

    // The in-process writer: events and its thread (its own 256 KiB stack: MiniDumpWriteDump
    // needs room).
    g->crash_event = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    g->done_event = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (g->crash_event == nullptr || g->done_event == nullptr) {
        return fail(Status(Error::handler_failed, "CreateEvent failed: " + error_text(last_error())));
    }
    g->writer_thread = CreateThread(nullptr, 256 * 1024, sigsafe::win_writer_main, g, STACK_SIZE_PARAM_IS_A_RESERVATION,
                                    &g->writer_thread_id);
    if (g->writer_thread == nullptr) {
        return fail(Status(Error::handler_failed, "cannot create the dump-writer thread: " + error_text(last_error())));
    }

    // The helper, before the handlers.
    if (options.helper_mode != HelperMode::none) {
        if (Status s = win_start_helper(g, options, root); !s.ok()) return fail(s);
    }

    // The handlers, last: the previous ones are kept for chaining and for stop().
    g->previous_filter = SetUnhandledExceptionFilter(sigsafe::win_unhandled_filter);
    g->vectored_handle = AddVectoredExceptionHandler(1, sigsafe::win_vectored_handler);
    g->previous_sigabrt = signal(SIGABRT, sigsafe::win_on_sigabrt);
    win_install_crt_handlers();      // crt_windows.hpp: invalid parameter, pure call
    win_install_terminate(options);  // terminate_windows.hpp
    g->started.store(2, std::memory_order_release);
    return Status::success();
}

inline void windows_stop() noexcept {
    sigsafe::windows_state* g = &sigsafe::g_win;
    int expected = 2;
    // Sequentially consistent, like the users count (see api_impl.hpp's context_use).
    if (!g->started.compare_exchange_strong(expected, 1, std::memory_order_seq_cst)) return;
    // Restore what crashdrop replaced, where crashdrop's own handler is still the one installed.
    LPTOP_LEVEL_EXCEPTION_FILTER current = SetUnhandledExceptionFilter(g->previous_filter);
    if (current != sigsafe::win_unhandled_filter) SetUnhandledExceptionFilter(current);
    if (g->vectored_handle != nullptr) RemoveVectoredExceptionHandler(g->vectored_handle);
    g->vectored_handle = nullptr;
    void(__cdecl * current_abort)(int) = signal(SIGABRT, g->previous_sigabrt == SIG_ERR ? SIG_DFL : g->previous_sigabrt);
    if (current_abort != sigsafe::win_on_sigabrt) signal(SIGABRT, current_abort);
    win_remove_terminate();     // terminate_windows.hpp
    win_remove_crt_handlers();  // crt_windows.hpp
    // Setters, write_dump() and crashes on other threads may still use the region: it goes only
    // once they have left (bounded, as on Linux; past the bound it stays mapped).
    const bool drained = win_wait_for_users(g, 6000);
    win_release(g, drained);
    g->started.store(0, std::memory_order_release);
}

/// A dump of the running process, on request: written by the helper when there is one (as a
/// crash would be, with a simulated exception record at the caller), else from this thread.
inline Status windows_write_dump(std::string* path_out) {
    using namespace sigsafe;
    windows_state* g = &g_win;
    struct inside {  // counted in while crashdrop runs, as the setters are (api_impl.hpp)
        windows_state* g;
        bool on = false;
        explicit inside(windows_state* s) : g(s) {
            if (g->started.load(std::memory_order_seq_cst) != 2) return;
            g->users.fetch_add(1, std::memory_order_seq_cst);
            on = true;
        }
        ~inside() {
            if (on) g->users.fetch_sub(1, std::memory_order_release);
        }
    } counted(g);
    if (g->started.load(std::memory_order_seq_cst) != 2) return Status(Error::not_started, "crashdrop::start() has not run");
    const DWORD self = GetCurrentThreadId();
    DWORD expected = 0;
    if (!g->crashing_thread.compare_exchange_strong(expected, self, std::memory_order_acq_rel)) {
        return Status(Error::busy, "another dump is being written");
    }
    const std::string id = new_uuid();
    const std::string pending = path_join(win_runtime().database_root, "pending");
    CONTEXT context;
    std::memset(&context, 0, sizeof(context));
    RtlCaptureContext(&context);
    EXCEPTION_RECORD record;
    std::memset(&record, 0, sizeof(record));
    record.ExceptionCode = k_code_dump_requested;
    record.ExceptionAddress = reinterpret_cast<void*>(context.Rip);
    EXCEPTION_POINTERS pointers{&record, &context};
    bool written = false;
    if (g->region != nullptr && g->helper_process != nullptr) {
        char crash_id[40];
        std::memcpy(crash_id, g->region->report_id, sizeof(crash_id));
        std::memcpy(g->region->report_id, id.c_str(), id.size() + 1);
        written = win_handoff_to_helper(g, &pointers, self);
        // Kept for a crash. A helper that took this hand-off copied the id when it took it.
        std::memcpy(g->region->report_id, crash_id, sizeof(crash_id));
    }
    std::string error;
    if (!written) {
        const std::string temp = path_join(pending, "." + id + ".dmp.tmp");
        HANDLE file = CreateFileW(widen(temp).c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
        if (file == INVALID_HANDLE_VALUE) {
            error = temp + ": " + error_text(last_error());
        } else {
            MINIDUMP_EXCEPTION_INFORMATION mei{self, &pointers, FALSE};
            written = g->write_dump(GetCurrentProcess(), GetCurrentProcessId(), file, k_dump_type, &mei, nullptr, nullptr) != 0;
            if (!written) error = "MiniDumpWriteDump: " + error_text(last_error());
            if (written && !win_apply_own_memory_level(g, file)) {
                written = false;
                error = "memory_capture scrubbed_stacks: the dump could not be scrubbed";
            }
            FlushFileBuffers(file);
            CloseHandle(file);
            if (written) written = move_file(temp, path_join(pending, id + ".dmp"), &error);
            if (!written) remove_file(temp);
        }
    }
    g->crashing_thread.store(0, std::memory_order_release);
    if (!written) return Status(Error::database_unavailable, "the dump could not be written: " + error);
    if (path_out != nullptr) *path_out = path_join(pending, id + ".dmp");
    return Status::success();
}

/// Whether crashdrop's handlers are still the ones installed.
inline Status windows_check_handlers() {
    sigsafe::windows_state* g = &sigsafe::g_win;
    if (g->started.load(std::memory_order_acquire) != 2) return Status(Error::not_started, "crashdrop::start() has not run");
    // Reading the current filter means setting one: put crashdrop's back at once if it was ours.
    LPTOP_LEVEL_EXCEPTION_FILTER current = SetUnhandledExceptionFilter(sigsafe::win_unhandled_filter);
    if (current != sigsafe::win_unhandled_filter) {
        SetUnhandledExceptionFilter(current);
        return Status(Error::handler_replaced, "the unhandled-exception filter was replaced after crashdrop::start()");
    }
    void(__cdecl * abort_handler)(int) = signal(SIGABRT, sigsafe::win_on_sigabrt);
    if (abort_handler != sigsafe::win_on_sigabrt) {
        signal(SIGABRT, abort_handler);
        return Status(Error::handler_replaced, "the SIGABRT handler was replaced after crashdrop::start()");
    }
    return Status::success();
}

/// Installs crashdrop's handlers again; whatever replaced them becomes the one chained to.
inline Status windows_reinstall() {
    sigsafe::windows_state* g = &sigsafe::g_win;
    if (g->started.load(std::memory_order_acquire) != 2) return Status(Error::not_started, "crashdrop::start() has not run");
    LPTOP_LEVEL_EXCEPTION_FILTER current = SetUnhandledExceptionFilter(sigsafe::win_unhandled_filter);
    if (current != sigsafe::win_unhandled_filter) g->previous_filter = current;
    void(__cdecl * abort_handler)(int) = signal(SIGABRT, sigsafe::win_on_sigabrt);
    if (abort_handler != sigsafe::win_on_sigabrt && abort_handler != SIG_ERR) g->previous_sigabrt = abort_handler;
    return Status::success();
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED
