// crashdrop/platform/windows/arch_windows.hpp - the part of the architecture interface (see
// linux/arch_x86_64.hpp) that shared code needs on Windows x64. Today that is the spin-wait
// hint only, used by the context store; the minidump context itself comes from dbghelp.
// Context: implementation TU; may run on the crash path.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_ARCH_X86_64

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

/// The spin-wait hint (the x86 `pause` instruction, as YieldProcessor() emits it).
CRASHDROP_SIGSAFE_INLINE void cpu_pause() { YieldProcessor(); }

}  // namespace sigsafe
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_ARCH_X86_64
