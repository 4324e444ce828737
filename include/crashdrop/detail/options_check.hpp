// crashdrop/detail/options_check.hpp - start()'s check of the Options: every range, the URL or
// DSN, the helper executable; the first problem becomes Error::invalid_options naming the field.
// Context: implementation TU; ordinary code (start()).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

inline Status invalid(const std::string& what) { return Status(Error::invalid_options, what); }

inline Status check_options(const Options& o) {
    constexpr std::size_t KiB = 1024, MiB = 1024 * 1024;
    if (o.database_path.empty()) return invalid("database_path is empty");
    if (o.product_name.size() > 255) return invalid("product_name is longer than 255 bytes");
    if (o.product_version.size() > 255) return invalid("product_version is longer than 255 bytes");
    if (o.dump_buffer_size < 256 * KiB || o.dump_buffer_size > 1024 * MiB) {
        return invalid("dump_buffer_size " + std::to_string(o.dump_buffer_size) + " is outside 256 KiB .. 1 GiB");
    }
    if (o.crashed_thread_stack_limit < 4 * KiB || o.crashed_thread_stack_limit > o.dump_buffer_size / 2) {
        return invalid("crashed_thread_stack_limit is outside 4 KiB .. dump_buffer_size / 2");
    }
    if (o.thread_stack_limit < 4 * KiB || o.thread_stack_limit > o.dump_buffer_size / 2) {
        return invalid("thread_stack_limit is outside 4 KiB .. dump_buffer_size / 2");
    }
    if (o.alt_stack_size != 0 && (o.alt_stack_size < 16 * KiB || o.alt_stack_size > 16 * MiB)) {
        return invalid("alt_stack_size is neither 0 nor within 16 KiB .. 16 MiB");
    }
    if (o.thread_suspend_timeout_ms < 1 || o.thread_suspend_timeout_ms > 10000) {
        return invalid("thread_suspend_timeout_ms is outside 1 .. 10000");
    }
#if CRASHDROP_OS_LINUX
    if (o.thread_signal != 0 && (o.thread_signal < SIGRTMIN || o.thread_signal > SIGRTMAX)) {
        return invalid("thread_signal is neither 0 nor a real-time signal (SIGRTMIN .. SIGRTMAX)");
    }
#endif
    // Sentry's rules for an environment name: no newline, no '/', at most 64 bytes, not "None".
    if (o.environment.size() > 64 || o.environment.find_first_of("\r\n/") != std::string::npos || o.environment == "None") {
        return invalid("environment must have at most 64 bytes, no newline and no '/', and not be \"None\"");
    }
    std::string error;
    url_parts url;
    if (!o.sentry_dsn.empty()) {
        std::string endpoint;
        if (!sentry_minidump_url(o.sentry_dsn, &endpoint, &error)) return invalid("sentry_dsn: " + error);
    } else if (!o.submit_url.empty() && !parse_url(o.submit_url, &url, &error)) {
        return invalid("submit_url: " + error);
    }
#if CRASHDROP_OS_WINDOWS
    const DWORD helper_attributes = o.helper_path.empty() ? INVALID_FILE_ATTRIBUTES : GetFileAttributesW(widen(o.helper_path).c_str());
    const bool helper_ok = helper_attributes != INVALID_FILE_ATTRIBUTES && !(helper_attributes & FILE_ATTRIBUTE_DIRECTORY);
    if (o.helper_mode == HelperMode::fork) {
        return invalid("helper_mode fork is not available on Windows (a plugin uses HelperMode::external)");
    }
    if (o.fault_filter != nullptr) {
        return invalid("fault_filter is not used on Windows (a host's vectored handlers and __try/__except see an "
                       "exception before crashdrop does): leave it nullptr");
    }
#else
    const bool helper_ok = !o.helper_path.empty() && access(o.helper_path.c_str(), X_OK) == 0;
#endif
    if (o.helper_mode == HelperMode::external && !helper_ok) {
        return invalid("helper_path '" + o.helper_path + "' is not an executable (HelperMode::external needs one)");
    }
    // An external helper runs no code of the application: a callback start() would silently
    // ignore there is refused instead.
    if (o.helper_mode == HelperMode::external && o.transport) {
        return invalid("transport is application code, which an external helper does not run: not with HelperMode::external "
                       "(use the re-exec or fork helper, or the built-in transport)");
    }
    if (o.helper_mode == HelperMode::external && o.before_upload) {
        return invalid("before_upload is application code, which an external helper does not run: not with "
                       "HelperMode::external (use the re-exec or fork helper)");
    }
    if (o.helper_mode == HelperMode::none && o.before_upload) {
        return invalid("before_upload runs in the helper before an upload: not with HelperMode::none (nothing is sent)");
    }
    if (o.connect_timeout_ms < 100 || o.connect_timeout_ms > 600000) return invalid("connect_timeout_ms is outside 100 .. 600000");
    if (o.upload_timeout_ms < 100 || o.upload_timeout_ms > 600000) return invalid("upload_timeout_ms is outside 100 .. 600000");
    if (o.retry_delay_ms < 10 || o.retry_delay_ms > 3600000) return invalid("retry_delay_ms is outside 10 .. 3600000");
    if (o.helper_linger_ms < 0 || o.helper_linger_ms > 600000) return invalid("helper_linger_ms is outside 0 .. 600000");
    if (o.max_report_age_days < 0) return invalid("max_report_age_days is negative");
    if (static_cast<int>(o.memory_capture) < 0 || static_cast<int>(o.memory_capture) > static_cast<int>(MemoryCapture::scrubbed_stacks)) {
        return invalid("memory_capture is not one of full, stacks_only, scrubbed_stacks");
    }
    if (o.max_upload_bytes != 0 && o.max_upload_bytes < 64 * KiB) {
        return invalid("max_upload_bytes " + std::to_string(o.max_upload_bytes) + " is neither 0 nor at least 64 KiB");
    }
    if (o.hang_timeout_ms != 0 && (o.hang_timeout_ms < 100 || o.hang_timeout_ms > 3600000)) {
        return invalid("hang_timeout_ms is neither 0 nor within 100 .. 3600000");
    }
    if (o.hang_timeout_ms != 0 && o.helper_mode == HelperMode::none) {
        return invalid("hang_timeout_ms needs a helper process (the helper watches for hangs): not with HelperMode::none");
    }
    return check_context_options(o);
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
