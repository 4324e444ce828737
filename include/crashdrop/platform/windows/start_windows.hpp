// crashdrop/platform/windows/start_windows.hpp - start() and stop() on Windows x64: prepares
// everything the crash path needs (database folders, dbghelp's MiniDumpWriteDump, the dump
// file, the events and the dump-writer thread), then installs the handlers.
// Context: implementation TU; ordinary code (never called after a fault).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// UTF-8 -> UTF-16 (paths in Options are UTF-8, as on Linux).
inline std::wstring win_widen(const std::string& s) {
    if (s.empty()) return std::wstring();
    const int n = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
    if (n <= 0) return std::wstring();
    std::wstring out(static_cast<std::size_t>(n), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), &out[0], n);
    return out;
}

inline std::string win_error_text(DWORD err) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "Windows error %lu", static_cast<unsigned long>(err));
    return buf;
}

inline bool win_make_folder(const std::wstring& path) {
    return CreateDirectoryW(path.c_str(), nullptr) != 0 || GetLastError() == ERROR_ALREADY_EXISTS;
}

/// A random (version 4) report id, 8-4-4-4-12 lower-case hex like the Linux one.
inline std::string win_new_report_id() {
    unsigned char b[16] = {};
    using gen_random_fn = BOOLEAN(WINAPI*)(void*, ULONG);  // advapi32!SystemFunction036 (RtlGenRandom)
    HMODULE advapi = LoadLibraryW(L"advapi32.dll");
    gen_random_fn gen = advapi != nullptr ? reinterpret_cast<gen_random_fn>(
                                                reinterpret_cast<void*>(GetProcAddress(advapi, "SystemFunction036")))
                                          : nullptr;
    if (gen == nullptr || !gen(b, sizeof(b))) {
        LARGE_INTEGER t;
        QueryPerformanceCounter(&t);
        const unsigned long long a = static_cast<unsigned long long>(t.QuadPart);
        const unsigned long long p = (static_cast<unsigned long long>(GetCurrentProcessId()) << 32) ^
                                     reinterpret_cast<unsigned long long>(&b);
        std::memcpy(b, &a, 8);
        std::memcpy(b + 8, &p, 8);
    }
    if (advapi != nullptr) FreeLibrary(advapi);
    b[7] = static_cast<unsigned char>((b[7] & 0x0fu) | 0x40u);  // data3's high byte: version 4
    b[8] = static_cast<unsigned char>((b[8] & 0x3fu) | 0x80u);
    char out[40];
    std::snprintf(out, sizeof(out), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[3], b[2],
                  b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return out;
}

/// Undoes whatever windows_start() did so far (also stop()'s second half).
inline void win_release(sigsafe::windows_state* g) {
    if (g->writer_thread != nullptr) {
        g->stopping.store(1, std::memory_order_release);
        SetEvent(g->crash_event);
        WaitForSingleObject(g->writer_thread, 5000);
        CloseHandle(g->writer_thread);
        g->writer_thread = nullptr;
        g->writer_thread_id = 0;
    }
    if (g->crash_event != nullptr) CloseHandle(g->crash_event);
    if (g->done_event != nullptr) CloseHandle(g->done_event);
    g->crash_event = g->done_event = nullptr;
    if (g->dump_file != nullptr && g->dump_file != INVALID_HANDLE_VALUE) {
        CloseHandle(g->dump_file);  // delete-on-close removes the unused file
        if (g->dump_written.load() == 0) DeleteFileW(g->temp_path);  // where that was refused
    }
    g->dump_file = nullptr;
    if (g->dbghelp != nullptr) FreeLibrary(g->dbghelp);
    g->dbghelp = nullptr;
    g->write_dump = nullptr;
    g->stopping.store(0);
    g->crashing_thread.store(0);
    g->dump_written.store(0);
}

inline Status windows_start(const Options& options) {
    sigsafe::windows_state* g = &sigsafe::g_win;
    int expected = 0;
    if (!g->started.compare_exchange_strong(expected, 1)) {
        return Status(Error::already_started, "crashdrop::start() was already called");
    }
    auto fail = [g](Error e, std::string message) {
        win_release(g);
        g->started.store(0, std::memory_order_release);
        return Status(e, std::move(message));
    };
    if (options.database_path.empty()) return fail(Error::invalid_options, "database_path is empty");

    // The database folders (the layout is Linux's: pending\ and completed\).
    const std::wstring given = win_widen(options.database_path);
    wchar_t full[1024];
    const DWORD full_len = GetFullPathNameW(given.c_str(), 1024, full, nullptr);
    if (full_len == 0 || full_len >= 900) return fail(Error::invalid_options, "database_path is invalid or too long");
    std::wstring root(full, full_len);
    while (root.size() > 3 && (root.back() == L'\\' || root.back() == L'/')) root.pop_back();
    const std::wstring pending = root + L"\\pending";
    if (!win_make_folder(root) || !win_make_folder(pending) || !win_make_folder(root + L"\\completed")) {
        return fail(Error::database_unavailable,
                    "cannot create the database folders under " + options.database_path + ": " + win_error_text(GetLastError()));
    }

    // MiniDumpWriteDump, from the system's dbghelp.dll (loaded now, never after a fault).
    wchar_t system_dir[MAX_PATH];
    const UINT sys_len = GetSystemDirectoryW(system_dir, MAX_PATH);
    std::wstring dbghelp_path = (sys_len > 0 && sys_len < MAX_PATH) ? std::wstring(system_dir, sys_len) + L"\\dbghelp.dll"
                                                                     : std::wstring(L"dbghelp.dll");
    g->dbghelp = LoadLibraryW(dbghelp_path.c_str());
    if (g->dbghelp == nullptr) return fail(Error::handler_failed, "cannot load dbghelp.dll: " + win_error_text(GetLastError()));
    g->write_dump = reinterpret_cast<sigsafe::minidump_write_dump_fn>(
        reinterpret_cast<void*>(GetProcAddress(g->dbghelp, "MiniDumpWriteDump")));
    if (g->write_dump == nullptr) return fail(Error::handler_failed, "dbghelp.dll has no MiniDumpWriteDump");

    // The dump file: pending\.<id>.dmp.tmp, exclusive, deleted when closed unless a crash keeps it.
    const std::wstring id = win_widen(win_new_report_id());
    const std::wstring temp = pending + L"\\." + id + L".dmp.tmp";
    const std::wstring final_name = pending + L"\\" + id + L".dmp";
    if (temp.size() >= 1024 || final_name.size() >= 1024) return fail(Error::invalid_options, "database_path is too long");
    std::memcpy(g->temp_path, temp.c_str(), (temp.size() + 1) * sizeof(wchar_t));
    std::memcpy(g->final_path, final_name.c_str(), (final_name.size() + 1) * sizeof(wchar_t));
    g->dump_file = CreateFileW(temp.c_str(), GENERIC_READ | GENERIC_WRITE | DELETE, 0, nullptr, CREATE_NEW,
                               FILE_ATTRIBUTE_NORMAL, nullptr);
    if (g->dump_file == INVALID_HANDLE_VALUE) {
        g->dump_file = nullptr;
        return fail(Error::database_unavailable, "cannot create a dump file in " + options.database_path + "\\pending: " +
                                                     win_error_text(GetLastError()));
    }
    FILE_DISPOSITION_INFO discard;
    discard.DeleteFile = TRUE;
    SetFileInformationByHandle(g->dump_file, FileDispositionInfo, &discard, sizeof(discard));

    // The rename request, with the NT form of the final path (\??\C:\... or \??\UNC\server\...).
    std::wstring nt_name = final_name.compare(0, 2, L"\\\\") == 0 ? L"\\??\\UNC\\" + final_name.substr(2) : L"\\??\\" + final_name;
    const std::size_t name_bytes = nt_name.size() * sizeof(wchar_t);
    if (offsetof(FILE_RENAME_INFO, FileName) + name_bytes + sizeof(wchar_t) > sizeof(g->rename_info)) {
        return fail(Error::invalid_options, "database_path is too long");
    }
    std::memset(g->rename_info, 0, sizeof(g->rename_info));
    FILE_RENAME_INFO* rename = reinterpret_cast<FILE_RENAME_INFO*>(g->rename_info);
    rename->ReplaceIfExists = FALSE;
    rename->RootDirectory = nullptr;
    rename->FileNameLength = static_cast<DWORD>(name_bytes);
    std::memcpy(rename->FileName, nt_name.c_str(), name_bytes);
    g->rename_info_size = static_cast<DWORD>(offsetof(FILE_RENAME_INFO, FileName) + name_bytes + sizeof(wchar_t));

    // The events and the writer thread (its own 256 KiB stack: MiniDumpWriteDump needs room).
    g->crash_event = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    g->done_event = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (g->crash_event == nullptr || g->done_event == nullptr) {
        return fail(Error::handler_failed, "CreateEvent failed: " + win_error_text(GetLastError()));
    }
    g->writer_thread = CreateThread(nullptr, 256 * 1024, sigsafe::win_writer_main, g, STACK_SIZE_PARAM_IS_A_RESERVATION,
                                    &g->writer_thread_id);
    if (g->writer_thread == nullptr) return fail(Error::handler_failed, "cannot create the dump-writer thread: " + win_error_text(GetLastError()));

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
    if (!g->started.compare_exchange_strong(expected, 1)) return;
    // Restore what crashdrop replaced, where crashdrop's own handler is still the one installed.
    LPTOP_LEVEL_EXCEPTION_FILTER current = SetUnhandledExceptionFilter(g->previous_filter);
    if (current != sigsafe::win_unhandled_filter) SetUnhandledExceptionFilter(current);
    if (g->vectored_handle != nullptr) RemoveVectoredExceptionHandler(g->vectored_handle);
    g->vectored_handle = nullptr;
    void(__cdecl * current_abort)(int) = signal(SIGABRT, g->previous_sigabrt == SIG_ERR ? SIG_DFL : g->previous_sigabrt);
    if (current_abort != sigsafe::win_on_sigabrt) signal(SIGABRT, current_abort);
    win_remove_terminate();     // terminate_windows.hpp
    win_remove_crt_handlers();  // crt_windows.hpp
    win_release(g);
    g->started.store(0, std::memory_order_release);
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED
