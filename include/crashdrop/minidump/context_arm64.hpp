// crashdrop/minidump/context_arm64.hpp - the ARM64 thread context as minidumps store it
// (Microsoft's ARM64_NT_CONTEXT, 912 bytes, flag 0x00400000 - the layout Breakpad, Crashpad,
// LLDB and Sentry read as MD_CONTEXT_ARM64; not Breakpad's older private 0x80000000 layout).
// Knows no operating system: filling it from a Linux ucontext lives in
// platform/linux/arch_aarch64.hpp.
// Context: implementation TU; plain data, used on the crash path.
#if CRASHDROP_DETAIL_IMPL_ACTIVE

CRASHDROP_NAMESPACE_BEGIN
namespace minidump {

constexpr std::uint32_t k_context_arm64 = 0x00400000u;                       // CONTEXT_ARM64
constexpr std::uint32_t k_context_arm64_control = k_context_arm64 | 0x1u;    // CONTEXT_CONTROL
constexpr std::uint32_t k_context_arm64_integer = k_context_arm64 | 0x2u;    // CONTEXT_INTEGER
constexpr std::uint32_t k_context_arm64_floating_point = k_context_arm64 | 0x4u;
constexpr std::uint32_t k_context_arm64_debug = k_context_arm64 | 0x8u;      // CONTEXT_DEBUG
/// CONTROL | INTEGER | FLOATING_POINT: what a Linux signal frame gives us.
constexpr std::uint32_t k_context_arm64_full = 0x00400007u;

/// ARM64_NT_CONTEXT. Every field is at most 8-byte aligned (the 128-bit V registers are two
/// little-endian 64-bit halves, low half first), so the layout has no padding.
struct context_arm64 {
    std::uint32_t context_flags;  // ContextFlags
    std::uint32_t cpsr;           // Cpsr (PSTATE: NZCV and friends)
    std::uint64_t x[29];          // X0..X28
    std::uint64_t fp;             // Fp (X29)
    std::uint64_t lr;             // Lr (X30)
    std::uint64_t sp;             // Sp
    std::uint64_t pc;             // Pc
    std::uint64_t v[32][2];       // V0..V31 (NEON128: Low, High)
    std::uint32_t fpcr;           // Fpcr
    std::uint32_t fpsr;           // Fpsr
    std::uint32_t bcr[8];         // Bcr: hardware breakpoint control
    std::uint64_t bvr[8];         // Bvr: hardware breakpoint values
    std::uint32_t wcr[2];         // Wcr: watchpoint control
    std::uint64_t wvr[2];         // Wvr: watchpoint values
};
static_assert(sizeof(context_arm64) == 912 && sizeof(context_arm64) == 0x390, "ARM64_NT_CONTEXT");
static_assert(offsetof(context_arm64, context_flags) == 0x000, "ContextFlags");
static_assert(offsetof(context_arm64, cpsr) == 0x004, "Cpsr");
static_assert(offsetof(context_arm64, x) == 0x008, "X0");
static_assert(offsetof(context_arm64, fp) == 0x0f0, "Fp");
static_assert(offsetof(context_arm64, lr) == 0x0f8, "Lr");
static_assert(offsetof(context_arm64, sp) == 0x100, "Sp");
static_assert(offsetof(context_arm64, pc) == 0x108, "Pc");
static_assert(offsetof(context_arm64, v) == 0x110, "V");
static_assert(offsetof(context_arm64, fpcr) == 0x310, "Fpcr");
static_assert(offsetof(context_arm64, fpsr) == 0x314, "Fpsr");
static_assert(offsetof(context_arm64, bcr) == 0x318, "Bcr");
static_assert(offsetof(context_arm64, bvr) == 0x338, "Bvr");
static_assert(offsetof(context_arm64, wcr) == 0x378, "Wcr");
static_assert(offsetof(context_arm64, wvr) == 0x380, "Wvr");

}  // namespace minidump
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
