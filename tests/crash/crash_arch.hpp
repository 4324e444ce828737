// crash_arch.hpp - the architecture-specific part of crash_target: the instructions that raise
// SIGFPE, SIGILL and SIGTRAP, and what the dump should then say. Everything else in
// crash_target is the same on every architecture.
//
//   x86_64: idiv by zero (SIGFPE / FPE_INTDIV at the idiv), ud2 (SIGILL / ILL_ILLOPN),
//           int3 (SIGTRAP).
//   arm64:  integer division by zero does not trap (sdiv returns 0), and trapping floating-point
//           exceptions are optional and absent on most cores and in qemu: the fpe mode sends
//           itself SIGFPE with tgkill from the leaf (an svc there), so the dump shows a SIGFPE
//           with the leaf on top but no fault address. udf #0 is SIGILL / ILL_ILLOPC on Linux
//           (qemu-user reports ILL_ILLOPN), brk #0 is SIGTRAP / TRAP_BRKPT.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

extern "C" char crashdrop_test_fpe_insn[];
extern "C" char crashdrop_test_ill_insn[];

namespace crash_arch {

struct expectations {
    const char* fpe_reason;   // a prefix of minidump_stackwalk's crash reason
    bool fpe_has_address;     // the reason's address is crashdrop_test_fpe_insn
    const char* fpe_note;     // printed by the test when the check differs from x86_64 ("" if not)
    const char* ill_reason;   // a prefix of the crash reason
};

#if defined(__x86_64__)

constexpr expectations k_expect = {"SIGFPE / FPE_INTDIV", true, "", "SIGILL / ILL_ILLOPN"};

// Macros, not functions: an inlined function would be a frame of its own in the debug info
// (lldb lists inlined frames), and the tests expect the leaf on top.

/// q = a / b with b == 0: SIGFPE at crashdrop_test_fpe_insn.
#define CRASH_ARCH_RAISE_FPE(q, a, b)     \
    __asm__ volatile(                     \
        "movl %1, %%eax\n\t"              \
        "cltd\n\t"                        \
        ".globl crashdrop_test_fpe_insn\n" \
        "crashdrop_test_fpe_insn:\n\t"    \
        "idivl %2\n\t"                    \
        "movl %%eax, %0"                  \
        : "=r"(q)                         \
        : "r"(a), "r"(b)                  \
        : "eax", "edx", "cc")
#define CRASH_ARCH_RAISE_ILL() __asm__ volatile(".globl crashdrop_test_ill_insn\ncrashdrop_test_ill_insn:\n\tud2")
#define CRASH_ARCH_RAISE_TRAP() __asm__ volatile("int3")
// Loads 16 bytes at p into a vector register that nothing else touches before the crash, as a
// string routine's unaligned load does (the privacy runs).
#define CRASH_ARCH_LOAD_VECTOR(p) __asm__ volatile("movdqu (%0), %%xmm7" : : "r"(p) : "xmm7", "memory")

#elif defined(__aarch64__)

constexpr expectations k_expect = {
    "SIGFPE", false,
    "arm64: integer division by zero does not trap (sdiv gives 0) and FP traps are absent on most cores "
    "and in qemu, so the fpe mode sends SIGFPE with tgkill from the leaf: reason SIGFPE, leaf on top, no "
    "fault address",
    "SIGILL / ILL_ILLOP"};  // ILL_ILLOPC from Linux, ILL_ILLOPN from qemu-user

/// Sends this thread SIGFPE with tgkill, from an svc in the calling function (its top frame);
/// q = a / b is then computed safely (0 for b == 0: what sdiv gives).
#define CRASH_ARCH_RAISE_FPE(q, a, b)                                           \
    do {                                                                        \
        const long cd_pid = getpid(); /* calls first: they clobber x0..x18 */   \
        const long cd_tid = syscall(SYS_gettid);                                \
        register long cd_x8 __asm__("x8") = SYS_tgkill;                         \
        register long cd_x0 __asm__("x0") = cd_pid;                             \
        register long cd_x1 __asm__("x1") = cd_tid;                             \
        register long cd_x2 __asm__("x2") = 8; /* SIGFPE */                     \
        __asm__ volatile("svc #0\n\t"                                           \
                         ".globl crashdrop_test_fpe_insn\n"                     \
                         "crashdrop_test_fpe_insn:\n\t"                         \
                         "nop"                                                  \
                         : "+r"(cd_x0)                                          \
                         : "r"(cd_x8), "r"(cd_x1), "r"(cd_x2)                   \
                         : "memory");                                           \
        (q) = (b) != 0 ? (a) / (b) : 0;                                         \
    } while (0)
#define CRASH_ARCH_RAISE_ILL() __asm__ volatile(".globl crashdrop_test_ill_insn\ncrashdrop_test_ill_insn:\n\tudf #0")
#define CRASH_ARCH_RAISE_TRAP() __asm__ volatile("brk #0")
#define CRASH_ARCH_LOAD_VECTOR(p) __asm__ volatile("ld1 {v7.16b}, [%0]" : : "r"(p) : "v7", "memory")

#else
#error "crash_target: no crash instructions for this architecture (add them to crash_arch.hpp)"
#endif

}  // namespace crash_arch
