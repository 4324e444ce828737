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

std::vector<Report> pending_reports() {
    if (!is_started()) return {};
    return detail::database(detail::runtime().database_root).list(ReportState::pending);
}

std::vector<Report> uploaded_reports() {
    if (!is_started()) return {};
    std::vector<Report> out;
    for (Report& r : detail::database(detail::runtime().database_root).list(ReportState::uploaded)) {
        if (r.state == ReportState::uploaded) out.push_back(std::move(r));
    }
    return out;
}

bool last_crash_report(Report* out) {
    std::vector<Report> uploaded = uploaded_reports();
    if (uploaded.empty()) return false;
    if (out != nullptr) *out = uploaded.back();
    return true;
}

Status set_upload_to_server(bool enabled) {
    if (!is_started()) return Status(Error::not_started, "crashdrop::start() has not run");
    std::string error;
    const detail::database db(detail::runtime().database_root);
    if (!db.update_settings([enabled](std::map<std::string, std::string>& kv) { kv["upload_to_server"] = enabled ? "1" : "0"; },
                            &error)) {
        return Status(Error::database_unavailable, "saving the upload consent failed: " + error);
    }
    // Tell the helper, so reports held back by the old setting go now.
    const int sock = sigsafe::g_state.helper_sock.load(std::memory_order_acquire);
    if (sock >= 0) {
        const char msg = 'C';
        send(sock, &msg, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    return Status::success();
}

bool upload_to_server() {
    if (!is_started()) return false;
    return detail::database(detail::runtime().database_root).consent();
}

int run_helper(int /*argc*/, char** /*argv*/) {
    // The application started this executable with the shared region and socket in place;
    // without them there is nothing to do.
    detail::run_helper_if_asked(nullptr, nullptr);
    std::fprintf(stderr, "crashdrop helper: not started by an application (%s is not set)\n", detail::k_helper_env);
    return 2;
}

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
std::vector<Report> pending_reports() { return {}; }
std::vector<Report> uploaded_reports() { return {}; }
bool last_crash_report(Report*) { return false; }
Status set_upload_to_server(bool) { return detail::unsupported(); }
bool upload_to_server() { return false; }
int run_helper(int, char**) { return 2; }

#endif

CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
