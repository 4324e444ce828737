// crashdrop/minidump/context_amd64.hpp - the x86-64 thread context as minidumps store it
// (Microsoft's CONTEXT for AMD64, 1232 bytes). Knows no operating system: filling it from a
// Linux ucontext lives in platform/linux/arch_x86_64.hpp.
// Context: implementation TU; plain data, used on the crash path.
#if CRASHDROP_DETAIL_IMPL_ACTIVE

CRASHDROP_NAMESPACE_BEGIN
namespace minidump {

constexpr std::uint32_t k_context_amd64 = 0x00100000u;                  // CONTEXT_AMD64
constexpr std::uint32_t k_context_amd64_control = k_context_amd64 | 0x1u;   // CONTEXT_CONTROL
constexpr std::uint32_t k_context_amd64_integer = k_context_amd64 | 0x2u;   // CONTEXT_INTEGER
constexpr std::uint32_t k_context_amd64_segments = k_context_amd64 | 0x4u;  // CONTEXT_SEGMENTS
constexpr std::uint32_t k_context_amd64_floating_point = k_context_amd64 | 0x8u;
/// CONTROL | INTEGER | FLOATING_POINT: what a Linux signal frame gives us (Breakpad's choice).
constexpr std::uint32_t k_context_amd64_full = 0x0010000bu;

/// CONTEXT (AMD64). 128-bit registers are stored as two little-endian 64-bit halves.
struct context_amd64 {
    std::uint64_t p1_home, p2_home, p3_home, p4_home, p5_home, p6_home;  // P1Home..P6Home
    std::uint32_t context_flags;                                         // ContextFlags
    std::uint32_t mx_csr;                                                // MxCsr
    std::uint16_t cs, ds, es, fs, gs, ss;                                // SegCs..SegSs
    std::uint32_t eflags;                                                // EFlags
    std::uint64_t dr0, dr1, dr2, dr3, dr6, dr7;                          // Dr0..Dr7
    std::uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;                // Rax..Rdi
    std::uint64_t r8, r9, r10, r11, r12, r13, r14, r15;                  // R8..R15
    std::uint64_t rip;                                                   // Rip
    std::uint8_t flt_save[512];            // FltSave: XMM_SAVE_AREA32, the FXSAVE image
    std::uint64_t vector_register[26][2];  // VectorRegister
    std::uint64_t vector_control;          // VectorControl
    std::uint64_t debug_control;           // DebugControl
    std::uint64_t last_branch_to_rip;      // LastBranchToRip
    std::uint64_t last_branch_from_rip;    // LastBranchFromRip
    std::uint64_t last_exception_to_rip;   // LastExceptionToRip
    std::uint64_t last_exception_from_rip; // LastExceptionFromRip
};
static_assert(sizeof(context_amd64) == 1232, "CONTEXT (AMD64)");
static_assert(offsetof(context_amd64, context_flags) == 0x30, "ContextFlags");
static_assert(offsetof(context_amd64, eflags) == 0x44, "EFlags");
static_assert(offsetof(context_amd64, rax) == 0x78, "Rax");
static_assert(offsetof(context_amd64, rip) == 0xf8, "Rip");
static_assert(offsetof(context_amd64, flt_save) == 0x100, "FltSave");
static_assert(offsetof(context_amd64, vector_register) == 0x300, "VectorRegister");
static_assert(offsetof(context_amd64, vector_control) == 0x4a0, "VectorControl");

}  // namespace minidump
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
