// crashdrop/detail/api_impl.hpp - definitions of the public functions declared in api.hpp,
// dispatching to the platform code. On a platform without crash capture every call returns
// Error::unsupported_platform, so a portable program still compiles, links and runs.
// Context: implementation TU; ordinary code.
#if CRASHDROP_DETAIL_IMPL_ACTIVE

CRASHDROP_NAMESPACE_BEGIN

#if CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

Status start(const Options& options) { return detail::linux_start(options); }

bool is_started() noexcept { return sigsafe::g_state.started.load(std::memory_order_acquire) == 2; }

Status prepare_thread() {
    if (!is_started()) return Status(Error::not_started, "crashdrop::start() has not run");
    return detail::install_alt_stack();
}

Status write_dump(std::string* path_out) { return detail::linux_write_dump(path_out); }

std::size_t reserved_bytes() noexcept { return static_cast<std::size_t>(sigsafe::g_state.region_size); }

#else

namespace detail {
inline Status unsupported() {
    return Status(Error::unsupported_platform, "crash capture is not implemented for this platform");
}
}  // namespace detail

Status start(const Options&) { return detail::unsupported(); }
bool is_started() noexcept { return false; }
Status prepare_thread() { return detail::unsupported(); }
Status write_dump(std::string*) { return detail::unsupported(); }
std::size_t reserved_bytes() noexcept { return 0; }

#endif

CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
