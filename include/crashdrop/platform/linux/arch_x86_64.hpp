// crashdrop/platform/linux/arch_x86_64.hpp - everything about x86-64 Linux the rest of the
// library needs, behind one small interface that arch_aarch64.hpp provides too:
//   md_context / k_md_processor_architecture   minidump context type and SystemInfo CPU id
//   raw_syscall(...)                           the syscall instruction (no libc, no errno)
//   fill_context(md_context*, const ucontext_t*) signal frame -> minidump context
//   context_sp / context_ip / set_context_sp_ip, context_registers  register access
//   thread_pointer()                           the TLS base (recorded as the thread's TEB)
//   copy_large(dst, src, n)                    a fast copy of memory known to be readable
//   cpu_pause()                                the spin-wait hint
//   k_red_zone                                 bytes below SP a leaf function may use
//   fill_cpu_info(minidump::system_info*)      CPU identification (start() time, not crash path)
// Nothing outside platform/linux/arch_*.hpp branches on the architecture.
// Context: implementation TU; all but fill_cpu_info run on the crash path.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_ARCH_X86_64
#include <cpuid.h>  // __get_cpuid: static inline functions only

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

using md_context = minidump::context_amd64;
constexpr u16 k_md_processor_architecture = minidump::k_arch_amd64;
constexpr std::size_t k_red_zone = 128;
constexpr const char* k_arch_name = "x86_64";
constexpr bool k_calls_are_a64 = false;  // call instructions: x86-64 (return_address_linux.hpp)

/// The x86-64 `syscall` instruction: number in rax, arguments in rdi rsi rdx r10 r8 r9;
/// returns -errno on failure. Clobbers rcx and r11.
CRASHDROP_SIGSAFE_INLINE long raw_syscall(long n, long a1 = 0, long a2 = 0, long a3 = 0,
                                          long a4 = 0, long a5 = 0, long a6 = 0) {
    long ret;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/// Copies a signal frame's registers (and the FXSAVE area) into a minidump context.
CRASHDROP_SIGSAFE void fill_context(md_context* out, const ucontext_t* uc) {
    zero_bytes(out, sizeof(*out));
    out->context_flags = minidump::k_context_amd64_full;
    const greg_t* g = uc->uc_mcontext.gregs;
    out->rax = static_cast<u64>(g[REG_RAX]);
    out->rbx = static_cast<u64>(g[REG_RBX]);
    out->rcx = static_cast<u64>(g[REG_RCX]);
    out->rdx = static_cast<u64>(g[REG_RDX]);
    out->rsi = static_cast<u64>(g[REG_RSI]);
    out->rdi = static_cast<u64>(g[REG_RDI]);
    out->rbp = static_cast<u64>(g[REG_RBP]);
    out->rsp = static_cast<u64>(g[REG_RSP]);
    out->r8 = static_cast<u64>(g[REG_R8]);
    out->r9 = static_cast<u64>(g[REG_R9]);
    out->r10 = static_cast<u64>(g[REG_R10]);
    out->r11 = static_cast<u64>(g[REG_R11]);
    out->r12 = static_cast<u64>(g[REG_R12]);
    out->r13 = static_cast<u64>(g[REG_R13]);
    out->r14 = static_cast<u64>(g[REG_R14]);
    out->r15 = static_cast<u64>(g[REG_R15]);
    out->rip = static_cast<u64>(g[REG_RIP]);
    out->eflags = static_cast<u32>(g[REG_EFL]);
    // REG_CSGSFS packs cs, gs, fs (16 bits each).
    const u64 segs = static_cast<u64>(g[REG_CSGSFS]);
    out->cs = static_cast<u16>(segs & 0xffffu);
    out->gs = static_cast<u16>((segs >> 16) & 0xffffu);
    out->fs = static_cast<u16>((segs >> 32) & 0xffffu);
    if (uc->uc_mcontext.fpregs != nullptr) {
        // struct _libc_fpstate is the 512-byte FXSAVE image, the same as XMM_SAVE_AREA32.
        static_assert(sizeof(*uc->uc_mcontext.fpregs) == sizeof(out->flt_save), "FXSAVE size");
        copy_bytes(out->flt_save, uc->uc_mcontext.fpregs, sizeof(out->flt_save));
        out->mx_csr = uc->uc_mcontext.fpregs->mxcsr;
    }
}

CRASHDROP_SIGSAFE_INLINE u64 context_sp(const md_context* c) { return c->rsp; }
CRASHDROP_SIGSAFE_INLINE u64 context_ip(const md_context* c) { return c->rip; }

/// For a thread known only from /proc/<tid>/syscall: a context holding just SP and PC.
CRASHDROP_SIGSAFE void set_context_sp_ip(md_context* c, u64 sp, u64 ip) {
    zero_bytes(c, sizeof(*c));
    c->context_flags = minidump::k_context_amd64_control;
    c->rsp = sp;
    c->rip = ip;
}

/// The general registers (and the IP) whose targets are worth capturing; returns how many.
CRASHDROP_SIGSAFE std::size_t context_registers(const md_context* c, u64* out) {
    std::size_t n = 0;
    out[n++] = c->rax;
    out[n++] = c->rbx;
    out[n++] = c->rcx;
    out[n++] = c->rdx;
    out[n++] = c->rsi;
    out[n++] = c->rdi;
    out[n++] = c->rbp;
    out[n++] = c->r8;
    out[n++] = c->r9;
    out[n++] = c->r10;
    out[n++] = c->r11;
    out[n++] = c->r12;
    out[n++] = c->r13;
    out[n++] = c->r14;
    out[n++] = c->r15;
    return n;
}
constexpr std::size_t k_max_context_registers = 15;

/// The registers that may hold data: every general register but rsp and rip (rbp too: code
/// built without frame pointers uses it as any other; a frame pointer never matches text),
/// the x87 registers (10 bytes each) and xmm0-15 (in the FXSAVE image). The privacy scrub
/// (dumper_linux.hpp) clears those that hold argument or environment bytes. Returns how many.
CRASHDROP_SIGSAFE std::size_t context_data_registers(md_context* c, register_bytes* out) {
    auto* base = reinterpret_cast<u8*>(c);
    std::size_t n = 0;
    const std::size_t gprs[] = {offsetof(md_context, rax), offsetof(md_context, rbx), offsetof(md_context, rcx),
                                offsetof(md_context, rdx), offsetof(md_context, rsi), offsetof(md_context, rdi),
                                offsetof(md_context, rbp), offsetof(md_context, r8),  offsetof(md_context, r9),  offsetof(md_context, r10),
                                offsetof(md_context, r11), offsetof(md_context, r12), offsetof(md_context, r13),
                                offsetof(md_context, r14), offsetof(md_context, r15)};
    for (std::size_t off : gprs) out[n++] = register_bytes{base + off, 8};
    u8* fx = base + offsetof(md_context, flt_save);
    for (std::size_t i = 0; i < 8; ++i) out[n++] = register_bytes{fx + 32 + 16 * i, 10};   // ST0-ST7
    for (std::size_t i = 0; i < 16; ++i) out[n++] = register_bytes{fx + 160 + 16 * i, 16};  // XMM0-XMM15
    return n;
}
constexpr std::size_t k_max_data_registers = 39;

/// Copies a large block fast (rep movsb: the CPU's own block copy) - for memory known to be
/// readable, such as a stopped thread's stack.
CRASHDROP_SIGSAFE_INLINE void copy_large(void* dst, const void* src, std::size_t n) {
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

/// The thread pointer: glibc keeps a self-pointer at %fs:0 (it is pthread_self()).
CRASHDROP_SIGSAFE_INLINE u64 thread_pointer() {
    u64 tp;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
    return tp;
}

/// Tells the CPU this is a spin-wait loop.
CRASHDROP_SIGSAFE_INLINE void cpu_pause() { __builtin_ia32_pause(); }

}  // namespace sigsafe

namespace detail {

/// CPU identification for SystemInfo. Runs at start(), not after a fault.
inline void fill_cpu_info(minidump::system_info* si) {
    // __cpuid, not __get_cpuid: the latter asks for the highest leaf before every leaf, and
    // in a virtual machine each cpuid is a trip to the hypervisor (~5-7 us here). Leaf 0 says
    // the highest basic leaf; leaf 0x80000000 the highest extended one.
    unsigned a = 0, b = 0, c = 0, d = 0;
    __cpuid(0, a, b, c, d);
    const unsigned max_basic = a;
    si->cpu.x86.vendor_id[0] = b;
    si->cpu.x86.vendor_id[1] = d;
    si->cpu.x86.vendor_id[2] = c;
    const bool amd = b == 0x68747541u;  // "Auth" of AuthenticAMD
    if (max_basic >= 1) {
        __cpuid(1, a, b, c, d);
        si->cpu.x86.version_information = a;
        si->cpu.x86.feature_information = d;
        unsigned family = (a >> 8) & 0xfu;
        unsigned model = (a >> 4) & 0xfu;
        const unsigned stepping = a & 0xfu;
        if (family == 0xfu) family += (a >> 20) & 0xffu;
        if (family == 0x6u || family >= 0xfu) model += ((a >> 16) & 0xfu) << 4;
        si->processor_level = static_cast<std::uint16_t>(family);
        si->processor_revision = static_cast<std::uint16_t>((model << 8) | stepping);
    }
    if (amd) {
        __cpuid(0x80000000u, a, b, c, d);
        if (a >= 0x80000001u) {
            __cpuid(0x80000001u, a, b, c, d);
            si->cpu.x86.amd_extended_cpu_features = d;
        }
    }
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_ARCH_X86_64
