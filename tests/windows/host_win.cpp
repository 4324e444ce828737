// host_win.exe - a Windows host with no crashdrop of its own that recovers from its own access
// violations, the ways runtimes and applications do, and loads plugin_win.dll, which embeds
// crashdrop. Run under wine by run_crash_case.py:
//     host_win.exe <database> <case> [--token=...]
// Cases (each: recover from 3 faults of its own with crashdrop loaded, print how many, then let
// the plugin crash for real - the one report the runner must find):
//   veh_recovers_then_plugin_crash   a vectored handler, added before the plugin loads (so
//                                    crashdrop's, added with First=1 by start(), runs before it),
//                                    takes the fault on its guard page and continues execution
//                                    after moving RIP past the faulting instruction, as a JIT or
//                                    a JVM does (EXCEPTION_CONTINUE_EXECUTION)
//   seh_recovers_then_plugin_crash   structured exception handling: mingw-w64's __try1/__except1
//                                    (<excpt.h>): a scope-table entry handled by the system's
//                                    __C_specific_handler, the mechanism MSVC's __try/__except
//                                    compiles to; its filter returns EXCEPTION_EXECUTE_HANDLER and
//                                    the system unwinds to the end of the guarded block
//   seh_catches_stack_overflow       a recursion guarded by __try1/__except1 whose filter takes
//                                    EXCEPTION_STACK_OVERFLOW (host_win_overflow.cpp): crashdrop's
//                                    vectored handler reports the overflow and ends the process
//                                    before any __except filter runs (handler_windows.hpp says why)
//   no_plugin_stack_overflow         the same without the plugin: what the host does on its own
#include <windows.h>
#include <excpt.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

// The host's faulting instruction, and where its vectored handler resumes: one 6-byte store
// through RCX, then the label right after it.
__asm__(".text\n"
        ".globl host_touch\n"
        ".def host_touch; .scl 2; .type 32; .endef\n"
        "host_touch:\n"
        ".seh_proc host_touch\n"
        ".seh_endprologue\n"
        "movl $1, (%rcx)\n"
        ".globl host_touch_resume\n"
        "host_touch_resume:\n"
        "ret\n"
        ".seh_endproc\n");
extern "C" void host_touch(volatile int* where);
extern "C" char host_touch_resume[];
bool host_overflow_guarded();  // host_win_overflow.cpp

namespace {

char* g_guard = nullptr;  // a PAGE_NOACCESS page the host "owns", like a JIT's guard page
volatile LONG g_veh_recovered = 0;

LONG CALLBACK host_vectored_handler(EXCEPTION_POINTERS* ep) {
    EXCEPTION_RECORD* r = ep->ExceptionRecord;
    if (r->ExceptionCode == EXCEPTION_ACCESS_VIOLATION && r->NumberParameters >= 2 &&
        reinterpret_cast<char*>(r->ExceptionInformation[1]) >= g_guard &&
        reinterpret_cast<char*>(r->ExceptionInformation[1]) < g_guard + 4096 &&
        ep->ContextRecord->Rip == reinterpret_cast<DWORD64>(&host_touch)) {
        ep->ContextRecord->Rip = reinterpret_cast<DWORD64>(host_touch_resume);  // skip the store
        InterlockedIncrement(&g_veh_recovered);
        return EXCEPTION_CONTINUE_EXECUTION;
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

}  // namespace

// ---- SEH with mingw-w64's __try1/__except1 (one guarded block per file: its labels are fixed) ----

volatile LONG g_seh_caught = 0;
volatile int* volatile g_host_null = nullptr;

/// The __except filter: called by __C_specific_handler with the exception; takes access violations.
extern "C" __attribute__((used)) LONG host_seh_filter(EXCEPTION_POINTERS* ep, void*) {
    if (ep->ExceptionRecord->ExceptionCode != EXCEPTION_ACCESS_VIOLATION) return EXCEPTION_CONTINUE_SEARCH;
    InterlockedIncrement(&g_seh_caught);
    return EXCEPTION_EXECUTE_HANDLER;
}

__attribute__((noinline, noclone)) void host_seh_touch() {
    __try1(host_seh_filter)
    __asm__ volatile("" ::: "memory");
    *g_host_null = 1;
    __asm__ volatile("" ::: "memory");
    __except1
}

int main(int argc, char** argv) {
    // The runner's control string, kept on this stack as ASCII and UTF-16 (see crash_target_win.cpp).
    volatile char control[64] = {};
    volatile wchar_t control_wide[64] = {};
    if (const char* c = std::getenv("CRASHDROP_TEST_CONTROL")) {
        const std::size_t n = std::strlen(c) < 63 ? std::strlen(c) : 63;
        for (std::size_t i = 0; i < n; ++i) {
            control[i] = c[n - 1 - i];
            control_wide[i] = static_cast<wchar_t>(static_cast<unsigned char>(c[n - 1 - i]));
        }
    }
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s <database> <case>\n", argv[0]);
        return 2;
    }
    const char* what = argv[2];
    const bool veh = std::strcmp(what, "veh_recovers_then_plugin_crash") == 0;
    const bool seh = std::strcmp(what, "seh_recovers_then_plugin_crash") == 0;
    const bool overflow = std::strcmp(what, "seh_catches_stack_overflow") == 0;
    const bool alone = std::strcmp(what, "no_plugin_stack_overflow") == 0;
    if (alone) {
        std::printf("host: guarded recursion %s\n", host_overflow_guarded() ? "caught its stack overflow" : "returned");
        return 0;
    }
    if (!veh && !seh && !overflow) {
        std::fprintf(stderr, "unknown case %s\n", what);
        return 2;
    }
    g_guard = static_cast<char*>(VirtualAlloc(nullptr, 4096, MEM_RESERVE | MEM_COMMIT, PAGE_NOACCESS));
    if (g_guard == nullptr) return 4;
    if (veh && AddVectoredExceptionHandler(1, host_vectored_handler) == nullptr) return 4;

    HMODULE plugin = LoadLibraryW(L"plugin_win.dll");
    if (plugin == nullptr) return 5;
    auto start = reinterpret_cast<int (*)(const char*)>(reinterpret_cast<void*>(GetProcAddress(plugin, "plugin_win_start")));
    auto crash = reinterpret_cast<void (*)()>(reinterpret_cast<void*>(GetProcAddress(plugin, "plugin_win_crash")));
    if (start == nullptr || crash == nullptr) return 5;
    if (!start(argv[1])) return 3;

    if (overflow) {
        std::printf("host: guarded recursion %s\n", host_overflow_guarded() ? "caught its stack overflow" : "returned");
        return 0;
    }
    for (int i = 0; i < 3; ++i) {
        if (veh) host_touch(reinterpret_cast<volatile int*>(g_guard + 64));
        else host_seh_touch();
    }
    if (veh) std::printf("host: vectored handler recovered %ld faults\n", static_cast<long>(g_veh_recovered));
    else std::printf("host: __try1/__except1 caught %ld faults\n", static_cast<long>(g_seh_caught));
    std::fflush(stdout);
    __asm__ volatile("" : : "r"(control), "r"(control_wide) : "memory");  // kept on this stack
    crash();  // a real crash, in the plugin
    return 1;
}
