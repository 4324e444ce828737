// host_win_overflow.cpp - part of host_win.exe: a guarded recursion that overflows the stack, its
// fault caught with mingw-w64's __try1/__except1 (in a file of its own: the macros' labels are
// fixed, one guarded block per file). See host_win.cpp, case seh_catches_stack_overflow.
#include <windows.h>
#include <excpt.h>

volatile LONG g_overflow_caught = 0;

/// The __except filter: takes only a stack overflow.
extern "C" __attribute__((used)) LONG host_overflow_filter(EXCEPTION_POINTERS* ep, void*) {
    if (ep->ExceptionRecord->ExceptionCode != EXCEPTION_STACK_OVERFLOW) return EXCEPTION_CONTINUE_SEARCH;
    InterlockedIncrement(&g_overflow_caught);
    return EXCEPTION_EXECUTE_HANDLER;
}

__attribute__((noinline)) int host_recurse(int depth) {
    volatile char pad[512];
    pad[0] = static_cast<char>(depth);
    return host_recurse(depth + 1) + pad[0];
}

/// Recurses until the stack overflows, inside a guarded block; true if the filter took it.
__attribute__((noinline, noclone)) bool host_overflow_guarded() {
    __try1(host_overflow_filter)
    __asm__ volatile("" ::: "memory");
    host_recurse(0);
    __asm__ volatile("" ::: "memory");
    __except1
    return g_overflow_caught != 0;
}
