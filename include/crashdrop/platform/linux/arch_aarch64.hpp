// crashdrop/platform/linux/arch_aarch64.hpp - everything about ARM64 (AArch64) Linux the rest
// of the library needs, behind the same small interface as arch_x86_64.hpp:
//   md_context / k_md_processor_architecture   minidump context type and SystemInfo CPU id
//   raw_syscall(...)                           the svc instruction (no libc, no errno)
//   fill_context(md_context*, const ucontext_t*) signal frame -> minidump context
//   context_sp / context_ip / set_context_sp_ip, context_registers  register access
//   thread_pointer()                           the TLS base (recorded as the thread's TEB)
//   copy_large(dst, src, n)                    a fast copy of memory known to be readable
//   cpu_pause()                                the spin-wait hint
//   k_red_zone                                 bytes below SP a leaf function may use (none)
//   fill_cpu_info(minidump::system_info*)      CPU identification (start() time, not crash path)
// Nothing outside platform/linux/arch_*.hpp branches on the architecture.
// Context: implementation TU; all but fill_cpu_info run on the crash path.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_ARCH_AARCH64

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

using md_context = minidump::context_arm64;
constexpr u16 k_md_processor_architecture = minidump::k_arch_arm64;
constexpr std::size_t k_red_zone = 0;  // AAPCS64 has no red zone: nothing below SP is live
constexpr const char* k_arch_name = "arm64";
constexpr bool k_calls_are_a64 = true;  // call instructions: A64 (return_address_linux.hpp)

/// The AArch64 `svc #0` instruction: number in x8, arguments in x0..x5, result in x0
/// (-errno on failure). Clobbers nothing else.
CRASHDROP_SIGSAFE_INLINE long raw_syscall(long n, long a1 = 0, long a2 = 0, long a3 = 0,
                                          long a4 = 0, long a5 = 0, long a6 = 0) {
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a1;
    register long x1 __asm__("x1") = a2;
    register long x2 __asm__("x2") = a3;
    register long x3 __asm__("x3") = a4;
    register long x4 __asm__("x4") = a5;
    register long x5 __asm__("x5") = a6;
    __asm__ volatile("svc #0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
}

// The records in uc_mcontext.__reserved: {u32 magic; u32 size; payload}, ended by magic 0.
constexpr u32 k_fpsimd_magic = 0x46508001u;  // struct fpsimd_context: fpsr, fpcr, vregs[32]
constexpr std::size_t k_fpsimd_vregs_offset = 16;  // after the 8-byte header, fpsr and fpcr

/// Copies a signal frame's registers (and the FP/SIMD record) into a minidump context.
CRASHDROP_SIGSAFE void fill_context(md_context* out, const ucontext_t* uc) {
    zero_bytes(out, sizeof(*out));
    const mcontext_t* m = &uc->uc_mcontext;
    out->context_flags = minidump::k_context_arm64_control | minidump::k_context_arm64_integer;
    out->cpsr = static_cast<u32>(m->pstate);
    for (int i = 0; i < 29; ++i) out->x[i] = m->regs[i];
    out->fp = m->regs[29];
    out->lr = m->regs[30];
    out->sp = m->sp;
    out->pc = m->pc;
    // Walk the records for the FP/SIMD state; never past the reserved area.
    const u8* area = m->__reserved;
    const std::size_t cap = sizeof(m->__reserved);
    std::size_t at = 0;
    while (at + 8 <= cap) {
        u32 magic, size;
        copy_bytes(&magic, area + at, 4);
        copy_bytes(&size, area + at + 4, 4);
        if (magic == 0 || size < 8 || size > cap - at) break;
        if (magic == k_fpsimd_magic && size >= k_fpsimd_vregs_offset + sizeof(out->v)) {
            copy_bytes(&out->fpsr, area + at + 8, 4);
            copy_bytes(&out->fpcr, area + at + 12, 4);
            copy_bytes(out->v, area + at + k_fpsimd_vregs_offset, sizeof(out->v));
            out->context_flags |= minidump::k_context_arm64_floating_point;
            break;
        }
        at += size;
    }
}

CRASHDROP_SIGSAFE_INLINE u64 context_sp(const md_context* c) { return c->sp; }
CRASHDROP_SIGSAFE_INLINE u64 context_ip(const md_context* c) { return c->pc; }

/// For a thread known only from /proc/<tid>/syscall: a context holding just SP and PC.
CRASHDROP_SIGSAFE void set_context_sp_ip(md_context* c, u64 sp, u64 ip) {
    zero_bytes(c, sizeof(*c));
    c->context_flags = minidump::k_context_arm64_control;
    c->sp = sp;
    c->pc = ip;
}

/// The general registers whose targets are worth capturing - x0..x28, the frame pointer and
/// the link register (a return address: a leaf's caller is known only from LR); returns how many.
CRASHDROP_SIGSAFE std::size_t context_registers(const md_context* c, u64* out) {
    std::size_t n = 0;
    for (int i = 0; i < 29; ++i) out[n++] = c->x[i];
    out[n++] = c->fp;
    out[n++] = c->lr;
    return n;
}
constexpr std::size_t k_max_context_registers = 31;

/// The registers that hold data rather than addresses the unwinder needs: x0-x28 (not fp, lr,
/// sp, pc) and v0-v31. The privacy scrub (dumper_linux.hpp) clears those that hold argument
/// or environment bytes. Returns how many.
CRASHDROP_SIGSAFE std::size_t context_data_registers(md_context* c, register_bytes* out) {
    auto* base = reinterpret_cast<u8*>(c);
    std::size_t n = 0;
    for (std::size_t i = 0; i < 29; ++i) out[n++] = register_bytes{base + offsetof(md_context, x) + 8 * i, 8};
    for (std::size_t i = 0; i < 32; ++i) out[n++] = register_bytes{base + offsetof(md_context, v) + 16 * i, 16};
    return n;
}
constexpr std::size_t k_max_data_registers = 61;

/// Copies a large block fast (16 bytes per load/store pair, then the tail) - for memory known
/// to be readable, such as a stopped thread's stack.
CRASHDROP_SIGSAFE_INLINE void copy_large(void* dst, const void* src, std::size_t n) {
    auto* d = static_cast<u8*>(dst);
    const auto* s = static_cast<const u8*>(src);
    const std::size_t blocks = n / 16;
    if (blocks > 0) {
        u8* to = d;
        const u8* from = s;
        std::size_t left = blocks;
        u64 a, b;
        __asm__ volatile(
            "1:\n\t"
            "ldp %[a], %[b], [%[s]], #16\n\t"
            "stp %[a], %[b], [%[d]], #16\n\t"
            "subs %[left], %[left], #1\n\t"
            "b.ne 1b"
            : [d] "+r"(to), [s] "+r"(from), [left] "+r"(left), [a] "=&r"(a), [b] "=&r"(b)
            :
            : "cc", "memory");
    }
    if (n % 16 != 0) copy_bytes(d + blocks * 16, s + blocks * 16, n % 16);
}

/// The thread pointer (TPIDR_EL0: glibc's TCB, a fixed distance above pthread_self()).
CRASHDROP_SIGSAFE_INLINE u64 thread_pointer() {
    u64 tp;
    __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
    return tp;
}

/// Tells the CPU this is a spin-wait loop.
CRASHDROP_SIGSAFE_INLINE void cpu_pause() { __asm__ volatile("yield" ::: "memory"); }

}  // namespace sigsafe

namespace detail {

/// Reads one "name : value" line of /proc/cpuinfo as a number (hex with 0x, else decimal).
inline bool cpuinfo_field(const char* text, const char* name, unsigned long* value) {
    const std::size_t len = std::strlen(name);
    for (const char* line = text; line != nullptr && *line != '\0';) {
        if (std::strncmp(line, name, len) == 0) {
            const char* p = line + len;
            while (*p == ' ' || *p == '\t') ++p;
            if (*p == ':') {
                ++p;
                while (*p == ' ' || *p == '\t') ++p;
                char* end = nullptr;
                const unsigned long v = std::strtoul(p, &end, 0);
                if (end != p) {
                    *value = v;
                    return true;
                }
            }
        }
        line = std::strchr(line, '\n');
        if (line != nullptr) ++line;
    }
    return false;
}

/// CPU identification for SystemInfo. Runs at start(), not after a fault. From the first
/// processor in /proc/cpuinfo: ProcessorLevel = CPU architecture (8), ProcessorRevision =
/// variant << 8 | revision, and the ARM CPU_INFORMATION arm: cpuid in MIDR_EL1's layout
/// (implementer, variant, architecture 0xf, part, revision) and AT_HWCAP.
inline void fill_cpu_info(minidump::system_info* si) {
    char text[8192];  // the first processor's lines come first
    std::size_t n = 0;
    if (std::FILE* f = std::fopen("/proc/cpuinfo", "r")) {
        n = std::fread(text, 1, sizeof(text) - 1, f);
        std::fclose(f);
    }
    text[n] = '\0';
    unsigned long implementer = 0, variant = 0, part = 0, revision = 0, architecture = 8;
    const bool arm = cpuinfo_field(text, "CPU implementer", &implementer);
    if (arm) {
        cpuinfo_field(text, "CPU variant", &variant);
        cpuinfo_field(text, "CPU part", &part);
        cpuinfo_field(text, "CPU revision", &revision);
        cpuinfo_field(text, "CPU architecture", &architecture);
        si->cpu.arm.cpuid = static_cast<std::uint32_t>(((implementer & 0xffu) << 24) | ((variant & 0xfu) << 20) |
                                                       (0xfu << 16) | ((part & 0xfffu) << 4) | (revision & 0xfu));
    }
    // (Under qemu-user /proc/cpuinfo is the host's: then only the architecture is known.)
    si->processor_level = static_cast<std::uint16_t>(architecture);
    si->processor_revision = static_cast<std::uint16_t>(((variant & 0xffu) << 8) | (revision & 0xffu));
    si->cpu.arm.elf_hwcaps = static_cast<std::uint32_t>(getauxval(AT_HWCAP));
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_ARCH_AARCH64
