// crashdrop/platform/windows/terminate_windows.hpp - the std::terminate handler on Windows: it
// records the uncaught exception's type and what() (detail/uncaught_exception.hpp, shared with
// Linux), runs the previous terminate handler, then abort()s; the abort is what the crash path
// captures (SIGABRT -> exception code 0x40000015, handler_windows.hpp), as on Linux.
// In a mingw build an uncaught exception gets here from __cxa_throw, and so does a pure virtual
// call (libstdc++'s __cxa_pure_virtual calls std::terminate; msvcrt's _purecall is not used).
// Context: implementation TU; ordinary code (runs before the abort, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// Records one annotation (exception_type, exception_what) for the report of the coming abort.
inline void win_note_terminate(const char* key, const char* value) {
    sigsafe::windows_state* g = &sigsafe::g_win;
    if (g->started.load(std::memory_order_seq_cst) != 2) return;
    g->users.fetch_add(1, std::memory_order_seq_cst);  // as the setters do (api_impl.hpp)
    if (g->started.load(std::memory_order_seq_cst) == 2 && g->context.header != nullptr) set_annotation_cut(&g->context, key, value);
    g->users.fetch_sub(1, std::memory_order_release);
}

static std::terminate_handler g_win_previous_terminate = nullptr;
static bool g_win_terminate_installed = false;

inline void win_terminate_handler() {
    describe_current_exception(win_note_terminate);
    std::terminate_handler previous = g_win_previous_terminate;
    if (previous != nullptr && previous != win_terminate_handler) previous();
    std::abort();
}

/// start(): std::terminate is process-wide, so a plugin that reports only its own crashes
/// (only_this_module) leaves it to the host, as on Linux.
inline void win_install_terminate(const Options& options) {
    if (!options.handle_terminate || options.only_this_module) return;
    g_win_previous_terminate = std::set_terminate(win_terminate_handler);
    g_win_terminate_installed = true;
}

/// stop(): restores the previous handler where crashdrop's is still the one installed.
inline void win_remove_terminate() {
    if (!g_win_terminate_installed) return;
    if (std::get_terminate() == win_terminate_handler) std::set_terminate(g_win_previous_terminate);
    g_win_previous_terminate = nullptr;
    g_win_terminate_installed = false;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED
