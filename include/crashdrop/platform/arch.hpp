// crashdrop/platform/arch.hpp - the one place that picks the architecture's files: its minidump
// context layout and its platform file (registers, system calls, signal frames, CPU info).
// Everything else uses the interface those files share (see arch_x86_64.hpp) and never
// branches on the architecture. tools/amalgamate.py keeps both, each under its guard.
// Context: implementation TU (each included file checks CRASHDROP_DETAIL_IMPL_ACTIVE itself).
#if CRASHDROP_ARCH_X86_64
#include "../minidump/context_amd64.hpp"
#include "linux/arch_x86_64.hpp"
#include "windows/arch_windows.hpp"
#elif CRASHDROP_ARCH_AARCH64
#include "../minidump/context_arm64.hpp"
#include "linux/arch_aarch64.hpp"
#endif
