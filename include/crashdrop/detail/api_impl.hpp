// crashdrop/detail/api_impl.hpp - definitions of the public functions declared in api.hpp,
// dispatching to the platform code. On a platform without crash capture every call returns
// Error::unsupported_platform, so a portable program still compiles, links and runs.
// Context: implementation TU; ordinary code.
#if CRASHDROP_DETAIL_IMPL_ACTIVE

CRASHDROP_NAMESPACE_BEGIN

#if CRASHDROP_SUPPORTED

// ---- what differs per platform --------------------------------------------------------------

#if CRASHDROP_OS_LINUX

Status start(const Options& options) { return detail::linux_start(options); }
bool is_started() noexcept { return sigsafe::g_state.started.load(std::memory_order_acquire) == 2; }

Status prepare_thread() {
    if (!is_started()) return Status(Error::not_started, "crashdrop::start() has not run");
    return detail::install_alt_stack();
}

Status write_dump(std::string* path_out) { return detail::linux_write_dump(path_out); }
std::size_t reserved_bytes() noexcept { return static_cast<std::size_t>(sigsafe::g_state.region_size); }
Status check_handlers() { return detail::linux_check_handlers(); }
Status reinstall() { return detail::linux_reinstall(); }
void stop() noexcept { detail::linux_stop(); }

int run_helper(int /*argc*/, char** /*argv*/) {
    // The application started this executable with the shared region and socket in place;
    // without them there is nothing to do.
    detail::run_helper_if_asked(nullptr, nullptr, nullptr);
    std::fprintf(stderr, "crashdrop helper: not started by an application (%s is not set)\n", detail::k_helper_env);
    return 2;
}

namespace detail {
inline const std::string& database_root() { return runtime().database_root; }
inline std::atomic<std::uint32_t>& context_users() { return sigsafe::g_state.users; }
inline const sigsafe::context_store* live_context() {
    const sigsafe::linux_state* g = &sigsafe::g_state;
    return g->started.load(std::memory_order_seq_cst) == 2 && g->context.header != nullptr ? &g->context : nullptr;
}
inline sigsafe::region_header* live_region() { return sigsafe::g_state.header; }
inline std::uintptr_t current_thread_key() { return static_cast<std::uintptr_t>(pthread_self()); }
inline std::uint32_t current_os_thread_id() { return static_cast<std::uint32_t>(sigsafe::sys_gettid()); }
/// Tells the helper the consent changed, so reports held back by the old setting go now.
inline void notify_helper_consent() {
    const int sock = sigsafe::g_state.helper_sock.load(std::memory_order_acquire);
    if (sock >= 0) {
        const char msg = 'C';
        send(sock, &msg, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
}
}  // namespace detail

#elif CRASHDROP_OS_WINDOWS

Status start(const Options& options) { return detail::windows_start(options); }
bool is_started() noexcept { return sigsafe::g_win.started.load(std::memory_order_acquire) == 2; }
Status prepare_thread() {
    // Windows runs the filter on the faulting thread's own stack (see handler_windows.hpp):
    // there is nothing to prepare per thread.
    return is_started() ? Status::success() : Status(Error::not_started, "crashdrop::start() has not run");
}
Status write_dump(std::string* path_out) { return detail::windows_write_dump(path_out); }
std::size_t reserved_bytes() noexcept {
    const sigsafe::region_header* r = sigsafe::g_win.region;
    return r != nullptr ? static_cast<std::size_t>(r->region_size) : 0;
}
Status check_handlers() { return detail::windows_check_handlers(); }
Status reinstall() { return detail::windows_reinstall(); }
void stop() noexcept { detail::windows_stop(); }

int run_helper(int /*argc*/, char** /*argv*/) {
    detail::run_helper_if_asked(nullptr, nullptr);
    std::fprintf(stderr, "crashdrop helper: not started by an application (%s is not set)\n", detail::k_helper_env);
    return 2;
}

namespace detail {
inline const std::string& database_root() { return win_runtime().database_root; }
inline std::atomic<std::uint32_t>& context_users() { return sigsafe::g_win.users; }
inline const sigsafe::context_store* live_context() {
    const sigsafe::windows_state* g = &sigsafe::g_win;
    return g->started.load(std::memory_order_seq_cst) == 2 && g->context.header != nullptr ? &g->context : nullptr;
}
inline void notify_helper_consent() {
    if (sigsafe::g_win.helper_wake_event != nullptr) SetEvent(sigsafe::g_win.helper_wake_event);
}
inline sigsafe::region_header* live_region() { return sigsafe::g_win.region; }
inline std::uintptr_t current_thread_key() { return GetCurrentThreadId(); }
inline std::uint32_t current_os_thread_id() { return GetCurrentThreadId(); }
}  // namespace detail

#endif

// ---- the same everywhere ----------------------------------------------------------------------

namespace detail {
/// A product name as one safe path component (see default_database_path).
inline std::string safe_path_component(const std::string& name) {
    std::string out;
    for (const char ch : name) {
        const bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                          ch == '_' || ch == '.';
        if (out.empty() && ch == '.') continue;  // never "." or "..", never hidden
        out += keep ? ch : '_';
        if (out.size() == 64) break;
    }
    while (!out.empty() && (out.back() == '.' || out.back() == ' ')) out.pop_back();  // Windows drops them
    return out;
}
}  // namespace detail

std::string default_database_path(const std::string& product_name) {
    const std::string product = detail::safe_path_component(product_name);
    if (product.empty()) return std::string();
#if CRASHDROP_OS_WINDOWS
    std::vector<wchar_t> buf(32768);
    const DWORD n = GetEnvironmentVariableW(L"LOCALAPPDATA", buf.data(), static_cast<DWORD>(buf.size()));
    if (n == 0 || n >= buf.size()) return std::string();
    std::string base = detail::narrow(buf.data(), n);
    // Only an absolute folder: "C:\..." or "\\server\share\...".
    const bool absolute = (base.size() >= 3 && base[1] == ':' && detail::is_separator(base[2])) ||
                          (base.size() >= 2 && detail::is_separator(base[0]) && detail::is_separator(base[1]));
    if (!absolute) return std::string();
    while (base.size() > 3 && detail::is_separator(base.back())) base.pop_back();
    return base + "\\" + product + "\\Crashes";
#else
    auto absolute_env = [](const char* var) {
        const char* v = std::getenv(var);
        std::string s = v != nullptr && v[0] == '/' ? std::string(v) : std::string();
        while (s.size() > 1 && s.back() == '/') s.pop_back();
        return s;
    };
    std::string state = absolute_env("XDG_STATE_HOME");
    if (state.empty()) {
        const std::string home = absolute_env("HOME");
        if (home.empty()) return std::string();
        state = (home == "/" ? std::string() : home) + "/.local/state";
    }
    return (state == "/" ? std::string() : state) + "/" + product + "/crashdrop";
#endif
}

std::vector<Report> pending_reports() {
    if (!is_started()) return {};
    return detail::database(detail::database_root()).list(ReportState::pending);
}

std::vector<Report> uploaded_reports() {
    if (!is_started()) return {};
    std::vector<Report> out;
    for (Report& r : detail::database(detail::database_root()).list(ReportState::uploaded)) {
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
    const detail::database db(detail::database_root());
    if (!db.update_settings([enabled](std::map<std::string, std::string>& kv) { kv["upload_to_server"] = enabled ? "1" : "0"; },
                            &error)) {
        return Status(Error::database_unavailable, "saving the upload consent failed: " + error);
    }
    detail::notify_helper_consent();
    return Status::success();
}

bool upload_to_server() {
    if (!is_started()) return false;
    return detail::database(detail::database_root()).consent();
}

namespace detail {
inline Status not_started() { return Status(Error::not_started, "crashdrop::start() has not run"); }

/// A setter's or getter's use of the context store. It counts itself in and then looks again
/// at whether crashdrop runs, and counts itself out when done: stop() first marks crashdrop
/// stopped and then waits for the count to reach zero before it unmaps the store (shutdown
/// rules in chain_linux.hpp / start_windows.hpp). Both sides use sequentially consistent
/// operations, so either the setter sees "stopped" or stop() sees the setter. A call made once
/// crashdrop is stopped does not touch the count at all (the first look), so setters called in
/// a tight loop cannot keep stop() waiting: each thread adds at most one short visit.
class context_use {
public:
    context_use() noexcept {
        if (live_context() == nullptr) return;
        context_users().fetch_add(1, std::memory_order_seq_cst);
        counted_ = true;
        store_ = live_context();
    }
    ~context_use() {
        if (counted_) context_users().fetch_sub(1, std::memory_order_release);
    }
    context_use(const context_use&) = delete;
    context_use& operator=(const context_use&) = delete;
    const sigsafe::context_store* get() const noexcept { return store_; }

private:
    const sigsafe::context_store* store_ = nullptr;
    bool counted_ = false;
};

/// The exit hooks (database/runs.hpp): a normal exit has begun; the helper, seeing the
/// process end, sends no abnormal-exit report. Counted in like a setter, so a concurrent
/// stop() cannot unmap the region under it; after stop() there is nothing to mark.
inline void mark_region_exit_clean() {
    const context_use use;
    if (use.get() == nullptr) return;
    if (sigsafe::region_header* r = live_region()) r->exit_state.store(sigsafe::exit_clean, std::memory_order_release);
}
}  // namespace detail

Status add_extra_parameter(std::string_view key, std::string_view value) {
    const detail::context_use use;
    const sigsafe::context_store* s = use.get();
    return s == nullptr ? detail::not_started() : detail::set_annotation(s, key, value, false);
}

Status remove_extra_parameter(std::string_view key) {
    const detail::context_use use;
    const sigsafe::context_store* s = use.get();
    return s == nullptr ? detail::not_started() : detail::remove_annotation(s, key);
}

std::map<std::string, std::string> parameters() {
    const detail::context_use use;
    const sigsafe::context_store* s = use.get();
    return s == nullptr ? std::map<std::string, std::string>() : detail::context_collect(s, sigsafe::sk_annotation);
}

void add_breadcrumb(std::string_view message, std::string_view category, BreadcrumbLevel level) noexcept {
    const detail::context_use use;
    const sigsafe::context_store* s = use.get();
    if (s == nullptr) return;
    detail::context_add_breadcrumb(s, message.data(), message.size(), category.data(), category.size(),
                                   static_cast<std::uint8_t>(level));
}

std::vector<Breadcrumb> breadcrumbs() {
    const detail::context_use use;
    const sigsafe::context_store* s = use.get();
    return s == nullptr ? std::vector<Breadcrumb>() : detail::context_breadcrumbs(s);
}

Status set_user(const User& user) {
    const detail::context_use use;
    const sigsafe::context_store* s = use.get();
    return s == nullptr ? detail::not_started() : detail::set_user(s, user);
}

Status set_tag(std::string_view key, std::string_view value) {
    const detail::context_use use;
    const sigsafe::context_store* s = use.get();
    return s == nullptr ? detail::not_started() : detail::set_tag(s, key, value);
}

Status remove_tag(std::string_view key) {
    const detail::context_use use;
    const sigsafe::context_store* s = use.get();
    return s == nullptr ? detail::not_started() : detail::remove_tag(s, key);
}

Status add_attachment(std::string_view path) {
    const detail::context_use use;
    const sigsafe::context_store* s = use.get();
    return s == nullptr ? detail::not_started() : detail::add_attachment(s, path);
}

Status remove_attachment(std::string_view path) {
    const detail::context_use use;
    const sigsafe::context_store* s = use.get();
    if (s == nullptr) return detail::not_started();
    if (Status st = detail::check_attachment(path); !st.ok()) return st;
    detail::context_remove_attachment(s, path.data(), path.size());
    return Status::success();
}


namespace detail {
/// heartbeat()'s watched thread in this process: the first caller (kept across stop()/start()).
struct heartbeat_watch {
    std::atomic<std::uintptr_t> key{0};  // current_thread_key() of the watched thread; 0: none yet
    std::atomic<std::uint32_t> tid{0};   // its OS thread id, for the helper
};
inline heartbeat_watch g_heartbeat;
}  // namespace detail

void heartbeat() noexcept {
    detail::heartbeat_watch& w = detail::g_heartbeat;
    const std::uintptr_t me = detail::current_thread_key();
    std::uintptr_t watched = w.key.load(std::memory_order_acquire);
    if (watched != me) {
        if (watched != 0) return;  // another thread is the watched one
        if (!w.key.compare_exchange_strong(watched, me, std::memory_order_acq_rel)) {
            if (watched != me) return;
        } else {
            w.tid.store(detail::current_os_thread_id(), std::memory_order_release);
        }
    }
    const detail::context_use use;  // the region stays mapped while this counts in
    if (use.get() == nullptr) return;
    sigsafe::region_header* r = detail::live_region();
    if (r == nullptr) return;
    if (r->watched_tid.load(std::memory_order_relaxed) == 0) r->watched_tid.store(w.tid.load(std::memory_order_acquire), std::memory_order_release);
    // Only the watched thread writes the count: a load and a store, no read-modify-write.
    r->heartbeats.store(r->heartbeats.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

RunOutcome last_run() noexcept {
    return static_cast<RunOutcome>(detail::run_record().previous.load(std::memory_order_acquire));
}
unsigned consecutive_crashes() noexcept { return detail::run_record().streak.load(std::memory_order_acquire); }

#else

namespace detail {
inline Status unsupported() {
    return Status(Error::unsupported_platform, "crash capture is not implemented for this platform");
}
}  // namespace detail

std::string default_database_path(const std::string&) { return std::string(); }
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
Status add_extra_parameter(std::string_view, std::string_view) { return detail::unsupported(); }
Status remove_extra_parameter(std::string_view) { return detail::unsupported(); }
std::map<std::string, std::string> parameters() { return {}; }
void add_breadcrumb(std::string_view, std::string_view, BreadcrumbLevel) noexcept {}
void heartbeat() noexcept {}
std::vector<Breadcrumb> breadcrumbs() { return {}; }
Status set_user(const User&) { return detail::unsupported(); }
Status set_tag(std::string_view, std::string_view) { return detail::unsupported(); }
Status remove_tag(std::string_view) { return detail::unsupported(); }
Status add_attachment(std::string_view) { return detail::unsupported(); }
Status remove_attachment(std::string_view) { return detail::unsupported(); }
Status check_handlers() { return detail::unsupported(); }
Status reinstall() { return detail::unsupported(); }
void stop() noexcept {}
RunOutcome last_run() noexcept { return RunOutcome::unknown; }
unsigned consecutive_crashes() noexcept { return 0; }

#endif

CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
