// The Windows crash target: starts crashdrop, then crashes the way argv[2] says. Run under
// wine by tests/windows/run_crash_case.py, which reads the dump with the Linux readers.
//     crash_target_win.exe <database> <case>
// Cases: null_write, divide_by_zero, stack_overflow, abort, thread_null_write, clean_exit,
// uncaught_exception, pure_virtual (in this static mingw build the vtable slot is 0: see
// run_crash_case.py), invalid_parameter_ucrt and purecall_ucrt (ucrtbase.dll loaded before
// start(), then its memcpy_s(NULL, ...) / _purecall called: what an MSVC-built module does),
// dll_divide_by_zero (crash_dll_win.dll loaded after start(), crashing inside), register_secret
// (a secret of the environment in xmm7 and one of the command line in r12 when it faults),
// heap_secret (rbx holds the address of a heap secret when it faults; CRASHDROP_TEST_MEMORY
// picks Options::memory_capture).
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <windows.h>
#include <malloc.h>

namespace {

volatile int g_zero = 0;
volatile int* volatile g_null = nullptr;

__attribute__((noinline)) void crash_null_write() { *g_null = 42; }

__attribute__((noinline)) int crash_divide_by_zero() { return 100 / g_zero; }

__attribute__((noinline)) int recurse_forever(int depth) {
    volatile char pad[512];
    pad[0] = static_cast<char>(depth);
    return recurse_forever(depth + 1) + pad[0];
}

__attribute__((noinline)) void crash_abort() { std::abort(); }

__attribute__((noinline)) void worker_thread_body() { crash_null_write(); }

__attribute__((noinline)) void throw_uncaught() { throw std::runtime_error("crashdrop test: nobody catches this"); }

// A pure virtual call: Base's constructor calls speak() through a pointer the compiler cannot
// see through, while the object is still a Base (its vtable slot for speak() is the pure
// virtual one: __cxa_pure_virtual, referred to weakly and, unlinked, 0 here).
struct Base {
    Base();
    virtual ~Base() = default;
    virtual int speak() = 0;
};
Base* volatile g_base = nullptr;
__attribute__((noinline)) int call_speak() { return g_base->speak(); }
Base::Base() {
    g_base = this;
    call_speak();
}
struct Derived : Base {
    int speak() override { return 1; }
};
__attribute__((noinline)) void crash_pure_virtual() { Derived d; }

HMODULE g_ucrt = nullptr;

__attribute__((noinline)) void crash_invalid_parameter_ucrt() {
    using memcpy_s_fn = int(__cdecl*)(void*, std::size_t, const void*, std::size_t);
    auto fn = reinterpret_cast<memcpy_s_fn>(reinterpret_cast<void*>(GetProcAddress(g_ucrt, "memcpy_s")));
    if (fn == nullptr) std::exit(4);
    std::printf("memcpy_s returned %d\n", fn(nullptr, 8, "abc", 3));  // not reached with crashdrop
}

__attribute__((noinline)) void crash_purecall_ucrt() {
    using purecall_fn = void(__cdecl*)();
    auto fn = reinterpret_cast<purecall_fn>(reinterpret_cast<void*>(GetProcAddress(g_ucrt, "_purecall")));
    if (fn == nullptr) std::exit(4);
    fn();
}

__attribute__((noinline)) int crash_in_dll() {
    HMODULE dll = LoadLibraryW(L"crash_dll_win.dll");
    if (dll == nullptr) std::exit(4);
    using divide_fn = int (*)(int);
    auto fn = reinterpret_cast<divide_fn>(reinterpret_cast<void*>(GetProcAddress(dll, "crashdrop_test_dll_divide")));
    if (fn == nullptr) std::exit(4);
    return fn(1);
}

/// Locks the process heap and the CRT's heap for good, then crashes: a crash path (and hand-off)
/// that allocated from either would hang here instead of producing its dump.
__attribute__((noinline)) void crash_with_heaps_locked() {
    HANDLE heaps[2] = {GetProcessHeap(), reinterpret_cast<HANDLE>(_get_heap_handle())};
    HANDLE locked = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    struct arg_t {
        HANDLE* heaps;
        HANDLE locked;
    } arg{heaps, locked};
    auto holder = [](void* p) -> DWORD {
        auto* a = static_cast<arg_t*>(p);
        HeapLock(a->heaps[0]);
        if (a->heaps[1] != nullptr && a->heaps[1] != a->heaps[0]) HeapLock(a->heaps[1]);
        SetEvent(a->locked);
        Sleep(INFINITE);
        return 0;
    };
    CreateThread(nullptr, 0, holder, &arg, 0, nullptr);
    WaitForSingleObject(locked, INFINITE);
    crash_null_write();
}

/// The application's own filter, installed before crashdrop's: crashdrop chains to it.
LONG WINAPI previous_filter(EXCEPTION_POINTERS*) {
    static const char text[] = "previous filter ran\n";
    DWORD wrote = 0;
    WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), text, sizeof(text) - 1, &wrote, nullptr);
    return EXCEPTION_CONTINUE_SEARCH;
}

/// For heap_locked: ends the process at once with the exception's code (wine's own unhandled-
/// exception path, which crashdrop chains to, needs the heap this case keeps locked).
LONG WINAPI terminating_filter(EXCEPTION_POINTERS* ep) {
    TerminateProcess(GetCurrentProcess(), ep->ExceptionRecord->ExceptionCode);
    return EXCEPTION_CONTINUE_SEARCH;
}

/// The privacy runs (CRASHDROP_TEST_PRIVACY set by run_crash_case.py): the program reads its
/// secrets as an application would and keeps pointers to them, so whatever a dump copies
/// around them would show.
const char* volatile g_secret_env = nullptr;
const char* volatile g_secret_arg = nullptr;
volatile std::size_t g_secret_lengths = 0;

/// register_secret: 16 bytes of the environment's secret in xmm7 and 8 bytes of the
/// argument's in r12 (as string routines leave them), live when the null write faults.
__attribute__((noinline)) void crash_with_secrets_in_registers(const char* env, const char* arg) {
    asm volatile("movdqu (%0), %%xmm7\n\t"
                 "movq (%1), %%r12\n\t"
                 "movl $42, (%2)\n\t"
                 :
                 : "r"(env), "r"(arg), "r"(g_null)
                 : "xmm7", "r12", "memory");
}

/// heap_secret: the marker run_crash_case.py looks for, xor 0x5a (the program's own bytes never
/// hold it in the clear: only the heap copy made below can bring it into a dump).
const unsigned char k_heap_marker_xored[] = {0x32, 0x3f, 0x3b, 0x2a, 0x77, 0x29, 0x3f, 0x39, 0x28, 0x3f, 0x2e, 0x77, 0x0d,
                                             0x13, 0x14, 0x77, 0x1b, 0x2c, 0x6e, 0x2d, 0x0c, 0x01, 0x68, 0x32, 0x00};

/// Faults (a store to address 0) with the secret's address in rbx (callee-saved: nothing
/// between the load and the fault changes it).
__attribute__((noinline)) void heap_secret_leaf(char* secret) {
    asm volatile("movq %0, %%rbx\n\t"
                 "movl $42, (%1)\n\t"
                 :
                 : "r"(secret), "r"(g_null)
                 : "rbx", "memory");
}
__attribute__((noinline)) void heap_secret_middle(char* secret) {
    heap_secret_leaf(secret);
    asm volatile("");
}
__attribute__((noinline)) void run_heap_secret() {
    // 64 bytes of heap: the marker at its start, decoded one byte at a time through a volatile
    // pointer (no vector register ever holds it), dots after it.
    char* secret = static_cast<char*>(std::malloc(64));
    volatile char* out = secret;
    for (std::size_t i = 0; i < 64; ++i) {
        out[i] = i + 1 < sizeof(k_heap_marker_xored) ? static_cast<char>(k_heap_marker_xored[i] ^ 0x5a) : '.';
    }
    // A stack word pointing into the secret (not at its start: that value is the register's).
    char* volatile slots[2];
    slots[0] = secret + 16;
    slots[1] = nullptr;
    std::printf("heap_pointer=%p\n", static_cast<void*>(secret + 16));
    std::fflush(stdout);
    heap_secret_middle(secret);
    asm volatile("" : : "r"(&slots[0]) : "memory");
}

}  // namespace

int main(int argc, char** argv) {
    // The control: a string this frame keeps on the main thread's stack, as ASCII and as
    // UTF-16, which the runner must find in the dump (so its search for the secrets can fail).
    volatile char control[64] = {};
    volatile wchar_t control_wide[64] = {};
    // The runner passes it reversed: a copy of the environment's own bytes on a stack is
    // cleared from the dump (privacy), the reversed text is the program's own data.
    if (const char* c = std::getenv("CRASHDROP_TEST_CONTROL")) {
        const std::size_t n = std::strlen(c) < 63 ? std::strlen(c) : 63;
        for (std::size_t i = 0; i < n; ++i) {
            control[i] = c[n - 1 - i];
            control_wide[i] = static_cast<wchar_t>(static_cast<unsigned char>(c[n - 1 - i]));
        }
    }
    if (std::getenv("CRASHDROP_TEST_PRIVACY") != nullptr) {
        g_secret_env = std::getenv("MY_API_TOKEN");
        g_secret_arg = argc > 3 ? argv[3] : nullptr;
        g_secret_lengths = (g_secret_env != nullptr ? std::strlen(g_secret_env) : 0) +
                           (g_secret_arg != nullptr ? std::strlen(g_secret_arg) : 0);
    }
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s <database> <case>\n", argv[0]);
        return 2;
    }
    const char* what = argv[2];
    if (std::strcmp(what, "invalid_parameter_ucrt") == 0 || std::strcmp(what, "purecall_ucrt") == 0) {
        g_ucrt = LoadLibraryW(L"ucrtbase.dll");  // before start(): only CRTs loaded then are hooked
        if (g_ucrt == nullptr) return 4;
    }
    if (std::strcmp(what, "chained_filter") == 0) SetUnhandledExceptionFilter(previous_filter);
    if (std::strcmp(what, "heap_locked") == 0) SetUnhandledExceptionFilter(terminating_filter);
    crashdrop::Options o;
    o.database_path = argv[1];
    o.product_name = "crash_target_win";
    o.product_version = "1.0";
    if (std::getenv("CRASHDROP_TEST_NO_HELPER") != nullptr) o.helper_mode = crashdrop::HelperMode::none;  // the in-process writer
    if (const char* level = std::getenv("CRASHDROP_TEST_MEMORY")) {
        if (std::strcmp(level, "stacks_only") == 0) o.memory_capture = crashdrop::MemoryCapture::stacks_only;
        else if (std::strcmp(level, "scrubbed_stacks") == 0) o.memory_capture = crashdrop::MemoryCapture::scrubbed_stacks;
    }
    if (crashdrop::Status s = crashdrop::start(o); !s.ok()) {
        std::fprintf(stderr, "start failed: %s\n", s.message().c_str());
        return 3;
    }
    std::fflush(stdout);
    if (std::strcmp(what, "null_write") == 0 || std::strcmp(what, "chained_filter") == 0) crash_null_write();
    else if (std::strcmp(what, "divide_by_zero") == 0) return crash_divide_by_zero();
    else if (std::strcmp(what, "stack_overflow") == 0) return recurse_forever(0);
    else if (std::strcmp(what, "abort") == 0) crash_abort();
    else if (std::strcmp(what, "register_secret") == 0) {
        // The random parts: "envSECRET-" and "--token=argSECRET-" come first.
        if (g_secret_env == nullptr || g_secret_arg == nullptr || std::strlen(g_secret_env) < 26 || std::strlen(g_secret_arg) < 26) return 5;
        crash_with_secrets_in_registers(g_secret_env + 10, g_secret_arg + 18);
    }
    else if (std::strcmp(what, "heap_secret") == 0) run_heap_secret();
    else if (std::strcmp(what, "thread_null_write") == 0) {
        std::thread t(worker_thread_body);
        t.join();
    } else if (std::strcmp(what, "heap_locked") == 0) {
        crash_with_heaps_locked();
    } else if (std::strcmp(what, "uncaught_exception") == 0) {
        throw_uncaught();
    } else if (std::strcmp(what, "pure_virtual") == 0) {
        crash_pure_virtual();
    } else if (std::strcmp(what, "invalid_parameter_ucrt") == 0) {
        crash_invalid_parameter_ucrt();
    } else if (std::strcmp(what, "purecall_ucrt") == 0) {
        crash_purecall_ucrt();
    } else if (std::strcmp(what, "dll_divide_by_zero") == 0) {
        return crash_in_dll();
    } else if (std::strcmp(what, "clean_exit") == 0) {
        crashdrop::stop();
        return 0;
    } else {
        std::fprintf(stderr, "unknown case %s\n", what);
        return 2;
    }
    return 1;  // not reached when the crash happened
}
