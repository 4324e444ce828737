// crashdrop/detail/impl_end.hpp - closes the implementation part of crashdrop.hpp: internal
// macros do not leak into the including translation unit.
// No #pragma once: read on every inclusion of crashdrop.hpp.
#if CRASHDROP_DETAIL_IMPL_ACTIVE
#if (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#pragma GCC visibility pop
#endif
#undef CRASHDROP_SIGSAFE
#undef CRASHDROP_SIGSAFE_INLINE
#undef CRASHDROP_LOOP_BARRIER
#endif
#undef CRASHDROP_DETAIL_IMPL_ACTIVE
