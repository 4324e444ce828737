// crashdrop/platform/windows/crt_windows.hpp - the failures a Microsoft C runtime reports by
// calling a handler instead of raising an exception: an invalid parameter (memcpy_s(NULL, ...),
// a bad format string, ...) and a pure virtual call compiled by MSVC (its _purecall).
//
// Which CRT: every CRT DLL already loaded when start() runs (ucrtbase.dll for MSVC and
// mingw-ucrt builds, msvcrt.dll for Debian's mingw-w64, which links it by default, and the
// older msvcr*.dll). Their _set_invalid_parameter_handler / _set_purecall_handler are looked up
// with GetProcAddress: a mingw build's own entry points of those names are inert (libmingwex
// keeps the pointer; msvcrt never calls it). A CRT loaded after start() is not covered, nor a
// CRT linked statically into another module (MSVC /MT). Wine's msvcrt.dll exports neither
// setter, so under wine only ucrtbase.dll is hooked (docs/platforms.md, "Windows x64").
//
// What the handlers do: make an exception record the CRT did not (the code below and the
// handler's own context from RtlCaptureContext, so readers walk handler -> CRT -> caller),
// hand it to the same capture path as the unhandled-exception filter (win_capture), and end
// the process with that code, as the CRT itself would without a handler. The handlers that
// were installed before are kept for stop() and are not called: a report is made instead.
//   invalid parameter  0xC0000417 STATUS_INVALID_CRUNTIME_PARAMETER (the code ucrt raises)
//   pure call          0xC0000025 STATUS_NONCONTINUABLE_EXCEPTION (what Breakpad's purecall
//                      handler records; ucrt itself only aborts, which would be 0x40000015)
// Context: implementation TU. namespace sigsafe runs after the failure (crash-path rules: the
// record lives on the failing thread's stack, nothing is allocated, no lock, no stdio); namespace
// detail is start()/stop() code.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

constexpr DWORD k_code_invalid_parameter = 0xC0000417u;  // STATUS_INVALID_CRUNTIME_PARAMETER
constexpr DWORD k_code_pure_call = 0xC0000025u;          // STATUS_NONCONTINUABLE_EXCEPTION

using crt_invalid_parameter_fn = void(__cdecl*)(const wchar_t*, const wchar_t*, const wchar_t*, unsigned int, uintptr_t);
using crt_purecall_fn = void(__cdecl*)();
using crt_set_invalid_parameter_fn = crt_invalid_parameter_fn(__cdecl*)(crt_invalid_parameter_fn);
using crt_set_purecall_fn = crt_purecall_fn(__cdecl*)(crt_purecall_fn);

/// Captures a failure that arrived as a call, then ends the process with `code`. Not inlined:
/// the context is this function's, one frame below the CRT's handler call.
__attribute__((noinline)) CRASHDROP_SIGSAFE void win_capture_crt_failure(DWORD code) {
    CONTEXT context;  // 16-byte aligned by its type
    EXCEPTION_RECORD record;
    zero_bytes(&context, sizeof(context));
    zero_bytes(&record, sizeof(record));
    RtlCaptureContext(&context);
    record.ExceptionCode = code;
    record.ExceptionFlags = EXCEPTION_NONCONTINUABLE;
    record.ExceptionAddress = reinterpret_cast<void*>(context.Rip);
    EXCEPTION_POINTERS pointers;
    pointers.ExceptionRecord = &record;
    pointers.ContextRecord = &context;
    win_capture(&g_win, &pointers);
    TerminateProcess(GetCurrentProcess(), code);
}

void __cdecl win_on_invalid_parameter(const wchar_t*, const wchar_t*, const wchar_t*, unsigned int, uintptr_t) {
    win_capture_crt_failure(k_code_invalid_parameter);
}

void __cdecl win_on_purecall() { win_capture_crt_failure(k_code_pure_call); }

}  // namespace sigsafe

namespace detail {

/// One CRT DLL whose handlers crashdrop replaced. The module is referenced (GetModuleHandleEx)
/// so it cannot be unloaded before stop() puts the previous handlers back.
struct win_crt_hook {
    HMODULE module;
    sigsafe::crt_set_invalid_parameter_fn set_invalid_parameter;
    sigsafe::crt_set_purecall_fn set_purecall;
    sigsafe::crt_invalid_parameter_fn previous_invalid_parameter;
    sigsafe::crt_purecall_fn previous_purecall;
};

/// The CRT DLLs looked for, newest first.
static const wchar_t* const k_win_crt_dlls[] = {L"ucrtbase.dll", L"ucrtbased.dll", L"msvcrt.dll",  L"msvcr120.dll",
                                                L"msvcr110.dll", L"msvcr100.dll",  L"msvcr90.dll", L"msvcr80.dll"};
constexpr std::size_t k_win_crt_max = sizeof(k_win_crt_dlls) / sizeof(k_win_crt_dlls[0]);

static win_crt_hook g_win_crt[k_win_crt_max];
static std::size_t g_win_crt_count = 0;

/// start(): installs crashdrop's handlers in every loaded CRT that exports the setters.
inline void win_install_crt_handlers() {
    g_win_crt_count = 0;
    for (const wchar_t* name : k_win_crt_dlls) {
        HMODULE module = nullptr;
        if (!GetModuleHandleExW(0, name, &module) || module == nullptr) continue;  // not loaded: skipped
        win_crt_hook h{};
        h.module = module;
        h.set_invalid_parameter = reinterpret_cast<sigsafe::crt_set_invalid_parameter_fn>(
            reinterpret_cast<void*>(GetProcAddress(module, "_set_invalid_parameter_handler")));
        h.set_purecall = reinterpret_cast<sigsafe::crt_set_purecall_fn>(
            reinterpret_cast<void*>(GetProcAddress(module, "_set_purecall_handler")));
        if (h.set_invalid_parameter == nullptr && h.set_purecall == nullptr) {
            FreeLibrary(module);  // e.g. wine's msvcrt.dll: nothing to hook
            continue;
        }
        if (h.set_invalid_parameter != nullptr) h.previous_invalid_parameter = h.set_invalid_parameter(sigsafe::win_on_invalid_parameter);
        if (h.set_purecall != nullptr) h.previous_purecall = h.set_purecall(sigsafe::win_on_purecall);
        g_win_crt[g_win_crt_count++] = h;
    }
}

/// stop(): puts the previous handlers back where crashdrop's are still the ones installed
/// (someone who replaced crashdrop's since keeps theirs), and releases the modules.
inline void win_remove_crt_handlers() {
    for (std::size_t i = 0; i < g_win_crt_count; ++i) {
        win_crt_hook& h = g_win_crt[i];
        if (h.set_invalid_parameter != nullptr) {
            sigsafe::crt_invalid_parameter_fn current = h.set_invalid_parameter(h.previous_invalid_parameter);
            if (current != sigsafe::win_on_invalid_parameter) h.set_invalid_parameter(current);
        }
        if (h.set_purecall != nullptr) {
            sigsafe::crt_purecall_fn current = h.set_purecall(h.previous_purecall);
            if (current != sigsafe::win_on_purecall) h.set_purecall(current);
        }
        FreeLibrary(h.module);
        h = win_crt_hook{};
    }
    g_win_crt_count = 0;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED
