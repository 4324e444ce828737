// crashdrop/platform/windows/state_windows.hpp - the one process-wide object the Windows crash
// path works from. Static storage, no constructor (zero-initialised before any code runs).
// Everything the crash path touches was made by start(): the events, the dump-writer thread,
// the prepared dump file, MiniDumpWriteDump's address and the rename request.
// Context: implementation TU. Written by start() (ordinary code), read by the crash path.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

/// dbghelp!MiniDumpWriteDump, looked up by start() (dbghelp.dll is loaded at run time, never
/// linked, and never loaded after a fault).
using minidump_write_dump_fn = BOOL(WINAPI*)(HANDLE, DWORD, HANDLE, MINIDUMP_TYPE, PMINIDUMP_EXCEPTION_INFORMATION,
                                             PMINIDUMP_USER_STREAM_INFORMATION, PMINIDUMP_CALLBACK_INFORMATION);

// Exception codes crashdrop uses or recognises. Only the ones <windows.h> may lack are named here.
constexpr DWORD k_code_fatal_app_exit = 0x40000015u;      // STATUS_FATAL_APP_EXIT: abort(), as Crashpad reports it
constexpr DWORD k_code_mingw_cxx = 0x20474343u;           // a C++ throw in a mingw (libgcc) build ("\0GCC")
constexpr DWORD k_code_msvc_cxx = 0xE06D7363u;            // a C++ throw in an MSVC build ("\xE0msc")
constexpr DWORD k_code_print = 0x40010006u;               // DBG_PRINTEXCEPTION_C (OutputDebugStringA)
constexpr DWORD k_code_print_wide = 0x4001000Au;          // DBG_PRINTEXCEPTION_WIDE_C (OutputDebugStringW)
constexpr DWORD k_code_thread_name = 0x406D1388u;         // MS_VC_EXCEPTION: the old thread-naming protocol
constexpr DWORD k_code_control_c = 0x40010005u;           // DBG_CONTROL_C
constexpr DWORD k_code_control_break = 0x40010008u;       // DBG_CONTROL_BREAK
constexpr DWORD k_code_heap_corruption = 0xC0000374u;     // STATUS_HEAP_CORRUPTION
constexpr DWORD k_code_stack_buffer_overrun = 0xC0000409u;// STATUS_STACK_BUFFER_OVERRUN (__fastfail, /GS)
constexpr DWORD k_code_fail_fast = 0xC0000602u;           // STATUS_FAIL_FAST_EXCEPTION
constexpr DWORD k_code_dump_requested = minidump::k_exception_dump_requested_windows;  // write_dump(): a requested dump (Crashpad's code for a simulated crash)

/// How long a crashing thread waits for the dump-writer thread (MiniDumpWriteDump of a big
/// process under a slow disk takes seconds; a writer that never answers must not hang the
/// process forever).
constexpr DWORD k_writer_wait_ms = 60000;

/// What every Windows dump holds, whoever writes it (helper, in-process writer, write_dump()):
/// every thread with its stack, the modules (unloaded ones too), thread times, handles.
constexpr MINIDUMP_TYPE k_dump_type = static_cast<MINIDUMP_TYPE>(MiniDumpNormal | MiniDumpWithUnloadedModules |
                                                                 MiniDumpWithThreadInfo | MiniDumpWithHandleData);

/// Unix seconds now, from the system clock (no CRT: also used on the crash path).
CRASHDROP_SIGSAFE_INLINE std::uint64_t win_unix_seconds() {
    FILETIME t;
    GetSystemTimeAsFileTime(&t);
    const std::uint64_t ticks = (std::uint64_t{t.dwHighDateTime} << 32) | t.dwLowDateTime;
    return ticks / 10000000u - 11644473600ull;
}

struct windows_state {
    std::atomic<int> started;            // 0 stopped, 1 start()/stop() running, 2 started
    std::atomic<DWORD> crashing_thread;  // 0, or the id of the thread whose crash owns the writer
    std::atomic<int> stopping;           // set by stop() before it wakes the writer to end it
    std::atomic<int> dump_written;       // 1 once MiniDumpWriteDump succeeded and the file has its name
    std::atomic<std::uint32_t> users;    // threads inside a setter, write_dump() or the crash path (stop() waits)
    std::atomic<std::uint32_t> handoff_seq;  // the number of the last hand-off to the helper

    HANDLE crash_event;   // auto-reset: the crash path wakes the writer thread
    HANDLE done_event;    // manual-reset: the writer says the dump is finished
    HANDLE writer_thread;
    DWORD writer_thread_id;
    HANDLE dump_file;     // pending\.<id>.dmp.tmp, created by start(), delete-on-close until a crash

    HMODULE dbghelp;
    minidump_write_dump_fn write_dump;
    int memory_capture;  // Options::memory_capture (MemoryCapture's value), for dumps written without the helper

    // What the crash path hands to the writer.
    EXCEPTION_POINTERS* exception;
    DWORD exception_thread;

    // The handlers crashdrop replaced, restored by stop() and chained to after a dump.
    LPTOP_LEVEL_EXCEPTION_FILTER previous_filter;
    void* vectored_handle;
    void(__cdecl* previous_sigabrt)(int);

    // abort() arrives as SIGABRT without an exception: its record and context are made here.
    CONTEXT abort_context;
    EXCEPTION_RECORD abort_record;
    EXCEPTION_POINTERS abort_pointers;

    // FILE_RENAME_INFO that gives the finished dump its name (pending\<id>.dmp), built by
    // start() so the writer does no path work.
    alignas(8) unsigned char rename_info[sizeof(FILE_RENAME_INFO) + 2 * 1024];
    DWORD rename_info_size;
    wchar_t temp_path[1024];   // pending\.<id>.dmp.tmp (for stop() and the fallback rename)
    wchar_t final_path[1024];  // pending\<id>.dmp

    // The helper process (helper/helper_windows.hpp) and the region shared with it.
    HANDLE region_mapping;        // pagefile-backed section: region_header, config, context store
    region_header* region;
    HANDLE helper_crash_event;    // auto-reset: the crash path wakes the helper
    HANDLE helper_done_event;     // manual-reset: the helper has answered
    HANDLE helper_wake_event;     // auto-reset: consent changed / stop()
    HANDLE helper_app_handle;     // this process, as the helper's inherited copy
    HANDLE helper_process;        // nullptr without a helper
    context_store context;        // in the region (annotations, tags, user, breadcrumbs)
};

static windows_state g_win;  // the process-wide state (one per copy of crashdrop)

}  // namespace sigsafe
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED
