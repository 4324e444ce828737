// crashdrop/helper/helper_linux.hpp - the helper process: how start() launches it (re-exec of
// the executable, fork without exec, or an external executable), and what it does: persist each
// dump the application hands over through the shared region, then send pending reports (custom
// transport or the built-in HTTP/HTTPS one) with exponential back-off, honouring consent, the
// rate limit and the database bounds; and exit after the application does, once what is due has
// been tried (each attempt bounded by its timeouts).
//
// Trade-offs of the modes (also in the README):
//   reexec   - /proc/self/exe again, with the same arguments; its main() must reach start()
//              without side effects first. A fresh process: no copied state, no locks held.
//              The default for executables; no second binary to ship.
//   fork     - a fork of the application, without exec: works inside a host whose executable a
//              plugin cannot re-run, but the helper is a copy of the host (its memory is shared
//              copy-on-write; locks other threads held at the fork stay held, so the helper only
//              uses crashdrop's own code and libc).
//   external - Options::helper_path, a small program calling crashdrop::run_helper(); its own
//              binary, configured from the shared region (custom transports do not apply).
// In every mode the helper is double-forked (never a zombie of the application), starts its own
// session (no controlling terminal: the terminal's signals are not its own), has only the
// region, its socket, /dev/null and <database>/helper.log open, blocks every asynchronous signal
// but SIGTERM (which makes it finish early), and runs at a low priority.
// Context: implementation TU; start() (launch) and the helper process (ordinary code).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

constexpr const char* k_helper_env = "CRASHDROP_HELPER";  // "<region fd>:<socket fd or -1>"
constexpr int k_helper_region_fd = 3;
constexpr int k_helper_socket_fd = 4;

/// What the helper runs by; serialised into the shared region by start().
struct helper_config {
    std::string database;
    upload_settings upload;
    bool rate_limit = false;
    int retry_delay_ms = 60000;
    database_limits limits;
    std::string product;
    std::string version;
    HelperMode mode = HelperMode::reexec;
    std::size_t max_attachment_bytes = 4u * 1024u * 1024u;
};

inline std::string encode_helper_config(const helper_config& c) {
    std::map<std::string, std::string> kv;
    kv["database"] = c.database;
    kv["url"] = c.upload.url;
    kv["format"] = std::to_string(static_cast<int>(c.upload.format));
    kv["compress"] = c.upload.compress ? "1" : "0";
    kv["ca_file"] = c.upload.ca_file;
    kv["connect_timeout_ms"] = std::to_string(c.upload.connect_timeout_ms);
    kv["upload_timeout_ms"] = std::to_string(c.upload.upload_timeout_ms);
    kv["rate_limit"] = c.rate_limit ? "1" : "0";
    kv["retry_delay_ms"] = std::to_string(c.retry_delay_ms);
    kv["max_reports"] = std::to_string(c.limits.max_reports);
    kv["max_bytes"] = std::to_string(c.limits.max_bytes);
    kv["max_age_days"] = std::to_string(c.limits.max_age_days);
    kv["product"] = c.product;
    kv["version"] = c.version;
    kv["mode"] = std::to_string(static_cast<int>(c.mode));
    kv["max_attachment_bytes"] = std::to_string(c.max_attachment_bytes);
    return format_key_values(kv);
}

inline helper_config decode_helper_config(const std::string& text) {
    auto kv = parse_key_values(text);
    helper_config c;
    c.database = kv["database"];
    c.upload.url = kv["url"];
    const int format = std::atoi(kv["format"].c_str());
    c.upload.format = format == 1 ? UploadFormat::socorro : format == 2 ? UploadFormat::sentry : UploadFormat::crashpad;
    c.upload.compress = kv["compress"] != "0";
    c.upload.ca_file = kv["ca_file"];
    c.upload.connect_timeout_ms = std::max(100, std::atoi(kv["connect_timeout_ms"].c_str()));
    c.upload.upload_timeout_ms = std::max(100, std::atoi(kv["upload_timeout_ms"].c_str()));
    c.rate_limit = kv["rate_limit"] == "1";
    c.retry_delay_ms = std::max(10, std::atoi(kv["retry_delay_ms"].c_str()));
    c.limits.max_reports = static_cast<std::size_t>(std::strtoull(kv["max_reports"].c_str(), nullptr, 10));
    c.limits.max_bytes = static_cast<std::size_t>(std::strtoull(kv["max_bytes"].c_str(), nullptr, 10));
    c.limits.max_age_days = std::atoi(kv["max_age_days"].c_str());
    c.product = kv["product"];
    c.version = kv["version"];
    c.mode = static_cast<HelperMode>(std::atoi(kv["mode"].c_str()));
    if (!kv["max_attachment_bytes"].empty()) {
        c.max_attachment_bytes = static_cast<std::size_t>(std::strtoull(kv["max_attachment_bytes"].c_str(), nullptr, 10));
    }
    c.upload.max_attachment_bytes = c.max_attachment_bytes;
    return c;
}

inline std::string new_uuid() {
    minidump::guid g;
    sigsafe::new_report_id(&g);
    char buf[64];
    sigsafe::text t;
    t.reset(buf, sizeof(buf));
    sigsafe::format_report_id(&g, &t);
    return std::string(buf, t.size);
}

// ---- the helper's work ------------------------------------------------------------------------

class helper_service {
public:
    helper_service(helper_config config, const Transport* custom, sigsafe::region_header* region, int socket_fd)
        : config_(std::move(config)), custom_(custom), region_(region), socket_(socket_fd), db_(config_.database) {}

    int run() {
        log("helper started (pid " + std::to_string(getpid()) + ")");
        std::string where;
        if (int err = db_.create(&where)) {
            log("cannot create " + where + ": " + errno_text(err));
            return 1;
        }
        client_id_ = db_.client_id(new_uuid());
        for (const auto& id : db_.prune(config_.limits, std::time(nullptr))) log("pruned " + id);
        // A new start() retries every pending report at once (dumps a crashed process had to
        // write itself get their metadata here).
        defaults_.product = config_.product;
        defaults_.version = config_.version;
        for (const Report& r : db_.list(ReportState::pending, &defaults_)) {
            std::string text, error;
            Report parsed;
            if (!read_whole_file(db_.pending_dir() + "/" + r.id + ".meta", &text) || !decode_report(text, &parsed, &error)) {
                log("metadata of " + r.id + (text.empty() ? " missing" : " unreadable (" + error + ")") +
                    ": written anew from the dump");
                Report repaired = r;
                std::string dump;
                if (read_whole_file(r.dump_path, &dump, 1u << 30)) {
                    read_dump_context(reinterpret_cast<const std::uint8_t*>(dump.data()), dump.size(), &repaired);
                }
                keep_attachments(&repaired);
                db_.save(repaired, true, nullptr);
            }
            schedule(r.id, clock::now(), 0);
        }
        // A plain pthread (not std::thread with a lambda, whose type info a plugin would export).
        pthread_t worker;
        const bool threaded = pthread_create(&worker, nullptr, &helper_service::worker_entry, this) == 0;
        serve();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            finishing_ = true;
        }
        wake_.notify_all();
        if (threaded) pthread_join(worker, nullptr);
        else work();
        log("helper exits");
        return 0;
    }

private:
    using clock = std::chrono::steady_clock;
    struct queued {
        clock::time_point due;
        int tries;  // attempts in this run, for the back-off
    };

    static void* worker_entry(void* self) {
        static_cast<helper_service*>(self)->work();
        return nullptr;
    }

    void log(const std::string& line) {
        char stamp[32];
        const std::time_t now = std::time(nullptr);
        std::tm tm{};
        gmtime_r(&now, &tm);
        std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        std::lock_guard<std::mutex> lock(log_mutex_);
        std::fprintf(stderr, "%s crashdrop-helper[%d]: %s\n", stamp, static_cast<int>(getpid()), line.c_str());
        std::fflush(stderr);
    }

    void schedule(const std::string& id, clock::time_point due, int tries) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            queue_[id] = queued{due, tries};
        }
        wake_.notify_all();
    }

    /// Waits for the application's messages until it goes away (or SIGTERM).
    void serve() {
        sigset_t term;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        const int sigfd = signalfd(-1, &term, SFD_CLOEXEC);
        while (socket_ >= 0) {
            pollfd fds[2] = {{socket_, POLLIN, 0}, {sigfd, POLLIN, 0}};
            const int n = poll(fds, sigfd >= 0 ? 2 : 1, -1);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) break;
            if (sigfd >= 0 && (fds[1].revents & POLLIN)) {
                log("SIGTERM: finishing");
                break;
            }
            if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                char msg = 0;
                const ssize_t got = recv(socket_, &msg, 1, 0);
                if (got < 0 && errno == EINTR) continue;
                if (got <= 0) {
                    log("the application has gone");
                    break;
                }
                if (msg == 'D') {
                    const char answer = persist_handoff() ? 'P' : 'F';
                    send(socket_, &answer, 1, MSG_NOSIGNAL);
                    after_persist();
                } else if (msg == 'C') {
                    log("upload consent changed");
                    requeue_all();
                }
            }
        }
        if (sigfd >= 0) close(sigfd);
    }

    void requeue_all() {
        for (const Report& r : db_.list(ReportState::pending)) schedule(r.id, clock::now(), 0);
    }

    /// Writes the dump the application left in the region to pending/, then answers; its
    /// metadata follows, and then both reach the disk (fsync) before it is queued for upload.
    bool persist_handoff() {
        if (region_ == nullptr || region_->handoff.load(std::memory_order_acquire) != sigsafe::hs_ready) return false;
        const std::string id(region_->report_id, strnlen(region_->report_id, sizeof(region_->report_id)));
        const std::uint64_t size = region_->image_size;
        if (id.size() != 36 || size == 0 || size > region_->image_capacity) {
            region_->handoff.store(sigsafe::hs_failed, std::memory_order_release);
            return false;
        }
        const auto* image = reinterpret_cast<const char*>(region_) + region_->image_offset;
        const std::string dir = db_.pending_dir();
        const std::string name = id + ".dmp";
        int fd = open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        std::string tmp;
        if (fd < 0) {
            tmp = dir + "/." + name + ".helper.tmp";
            fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        }
        bool ok = fd >= 0;
        for (std::uint64_t done = 0; ok && done < size;) {
            const ssize_t n = write(fd, image + done, static_cast<std::size_t>(size - done));
            if (n < 0 && errno == EINTR) continue;
            ok = n > 0;
            if (ok) done += static_cast<std::uint64_t>(n);
        }
        if (ok) {
            int r;
            if (tmp.empty()) {
                const std::string self = "/proc/self/fd/" + std::to_string(fd);
                r = linkat(AT_FDCWD, self.c_str(), AT_FDCWD, (dir + "/" + name).c_str(), AT_SYMLINK_FOLLOW);
            } else {
                r = static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, tmp.c_str(), AT_FDCWD, (dir + "/" + name).c_str(), 1));
                if (r != 0 && (errno == EINVAL || errno == ENOSYS)) {
                    r = link(tmp.c_str(), (dir + "/" + name).c_str());
                    if (r == 0) unlink(tmp.c_str());
                }
            }
            // EEXIST: the application wrote it itself (it gave up waiting); the file is the same.
            ok = r == 0 || errno == EEXIST;
        }
        if (!tmp.empty()) unlink(tmp.c_str());
        region_->handoff.store(ok ? sigsafe::hs_persisted : sigsafe::hs_failed, std::memory_order_release);
        if (!ok) {
            log("could not write " + name + ": " + errno_text(errno));
            if (fd >= 0) close(fd);
            return false;
        }
        fsync(fd);
        close(fd);
        Report r;
        r.id = id;
        r.created = static_cast<std::time_t>(region_->crash_time);
        r.product = config_.product;
        r.version = config_.version;
        // The dump is the snapshot: its annotations and context stream (read from the shared
        // image, not the application's heap) become the report's.
        read_dump_context(reinterpret_cast<const std::uint8_t*>(image), static_cast<std::size_t>(size), &r);
        pending_persisted_ = r;
        return true;
    }

    /// The metadata of the dump just persisted, written after the application was answered.
    void after_persist() {
        if (pending_persisted_.id.empty()) return;
        Report r = pending_persisted_;
        pending_persisted_ = Report();
        keep_attachments(&r);
        std::string error;
        if (!db_.save(r, true, &error)) log("could not write metadata: " + error);
        fsync_directory(db_.pending_dir());
        log("persisted report " + r.id);
        for (const auto& id : db_.prune(config_.limits, std::time(nullptr))) log("pruned " + id);
        schedule(r.id, clock::now(), 0);
    }

    /// Copies the report's attachments into <database>/attachments/<id>/ as they are now (the
    /// end of a file larger than the cap), so the report keeps them even if the application
    /// rewrites them at its next start. Files that cannot be read stay named by their path, to
    /// be read when the report is sent.
    void keep_attachments(Report* r) {
        if (r->attachments.empty()) return;
        const std::string dir = db_.attachments_dir(r->id);
        if (int err = make_directories(dir)) {
            log("cannot create " + dir + ": " + errno_text(err));
            return;
        }
        std::vector<std::string> kept;
        for (std::size_t i = 0; i < r->attachments.size(); ++i) {
            const std::string& path = r->attachments[i];
            if (path.rfind(dir + "/", 0) == 0) {  // already a copy
                kept.push_back(path);
                continue;
            }
            std::string bytes;
            bool cut = false;
            if (!read_file_tail(path, config_.max_attachment_bytes, &bytes, &cut)) {
                log("attachment " + path + ": " + errno_text(errno) + "; it will be read when the report is sent");
                kept.push_back(path);
                continue;
            }
            if (cut) log("attachment " + path + ": larger than " + std::to_string(config_.max_attachment_bytes) + " bytes, its end kept");
            std::string name = path.substr(path.rfind('/') + 1);
            for (const std::string& other : kept) {  // two files of one name: number the second
                if (other.substr(other.rfind('/') + 1) == name) name = std::to_string(i) + "-" + name;
            }
            std::string error;
            if (!write_file_atomic(dir, name, bytes, true, &error)) {
                log("attachment " + path + ": " + error);
                kept.push_back(path);
                continue;
            }
            kept.push_back(dir + "/" + name);
        }
        r->attachments = kept;
    }

    /// The upload worker: attempts reports when they fall due. Once finishing (the application
    /// has gone), it tries what is due now and stops: back-off waits are not worth outliving
    /// the application for; the reports stay pending for the next start().
    void work() {
        for (;;) {
            std::string id;
            int tries = 0;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                for (;;) {
                    auto next = queue_.end();
                    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
                        if (next == queue_.end() || it->second.due < next->second.due) next = it;
                    }
                    const auto now = clock::now();
                    if (next != queue_.end() && next->second.due <= now) {
                        id = next->first;
                        tries = next->second.tries;
                        queue_.erase(next);
                        break;
                    }
                    if (finishing_) return;
                    if (next == queue_.end()) wake_.wait(lock);
                    else wake_.wait_until(lock, next->second.due);
                }
            }
            attempt(id, tries);
        }
    }

    void attempt(const std::string& id, int tries) {
        if (config_.upload.url.empty() && custom_ == nullptr) return;  // store only
        Report report;
        bool found = false;
        for (Report& r : db_.list(ReportState::pending, &defaults_)) {
            if (r.id == id) {
                report = r;
                found = true;
            }
        }
        if (!found) return;  // sent, rejected or pruned meanwhile
        if (!db_.consent()) {
            log("not sending " + id + ": upload consent is off");
            return;  // set_upload_to_server(true) queues it again
        }
        const std::time_t now = std::time(nullptr);
        if (config_.rate_limit) {
            const std::time_t last = static_cast<std::time_t>(std::strtoll(db_.settings()["last_upload"].c_str(), nullptr, 10));
            if (last != 0 && now - last < 3600) {
                log("not sending " + id + " yet: rate limit (one upload per hour)");
                schedule(id, clock::now() + std::chrono::seconds(3600 - (now - last)), tries);
                return;
            }
        }
        Upload up;
        up.report = report;
        up.client_id = client_id_;
        std::string bytes;
        if (!read_whole_file(report.dump_path, &bytes, 1u << 30)) {
            log("cannot read " + report.dump_path);
            return;
        }
        up.dump.assign(bytes.begin(), bytes.end());
        up.attachments = report.attachments;
        const UploadResult result = custom_ != nullptr ? (*custom_)(up) : upload_builtin(up, config_.upload);
        report.attempts += 1;
        report.last_attempt = now;
        std::string error;
        switch (result.status) {
            case UploadStatus::sent:
                report.state = ReportState::uploaded;
                report.server_id = result.server_id;
                report.last_error.clear();
                if (!db_.complete(&report, &error)) log("could not complete " + id + ": " + error);
                db_.update_settings([now](std::map<std::string, std::string>& kv) { kv["last_upload"] = std::to_string(now); },
                                    nullptr);
                log("sent " + id + " (server id '" + result.server_id + "')");
                break;
            case UploadStatus::rejected:
                report.state = ReportState::rejected;
                report.last_error = result.message;
                if (!db_.complete(&report, &error)) log("could not complete " + id + ": " + error);
                log("rejected " + id + ": " + result.message + " (kept, not resent)");
                break;
            case UploadStatus::retry_later: {
                report.last_error = result.message;
                db_.save(report, true, nullptr);
                const long long delay = std::min<long long>(3600000LL, static_cast<long long>(config_.retry_delay_ms)
                                                                           << std::min(tries, 20));
                log("could not send " + id + ": " + result.message + "; retrying in " + std::to_string(delay) + " ms");
                schedule(id, clock::now() + std::chrono::milliseconds(delay), tries + 1);
                break;
            }
        }
    }

    helper_config config_;
    const Transport* custom_;
    sigsafe::region_header* region_;
    int socket_;
    database db_;
    std::string client_id_;
    Report defaults_;  // for a dump whose metadata is missing or damaged
    Report pending_persisted_;
    std::mutex mutex_;
    std::mutex log_mutex_;
    std::condition_variable wake_;
    std::map<std::string, queued> queue_;
    bool finishing_ = false;
};

/// The helper process's life: signals, priority, the region, then the service. Never returns.
[[noreturn]] inline void helper_process_main(int region_fd, int socket_fd, const Transport* custom,
                                             const helper_config* local_config) {
    // Every asynchronous signal but SIGTERM stays blocked (SIGTERM is read from a signalfd).
    sigset_t all;
    sigfillset(&all);
    for (int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS}) sigdelset(&all, s);
    pthread_sigmask(SIG_SETMASK, &all, nullptr);
    signal(SIGPIPE, SIG_IGN);
    for (int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS}) signal(s, SIG_DFL);
    setpriority(PRIO_PROCESS, 0, 10);
    prctl(PR_SET_NAME, reinterpret_cast<unsigned long>("crashdrop-hlp"), 0, 0, 0);
    sigsafe::region_header* region = nullptr;
    struct stat st;
    if (region_fd >= 0 && fstat(region_fd, &st) == 0 && st.st_size > 0) {
        void* p = mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, region_fd, 0);
        if (p != MAP_FAILED) region = static_cast<sigsafe::region_header*>(p);
    }
    if (region != nullptr && (region->magic != sigsafe::k_region_magic || region->version != sigsafe::k_region_version)) {
        std::fprintf(stderr, "crashdrop-helper: the shared region is from another crashdrop version\n");
        region = nullptr;
    }
    helper_config config;
    if (local_config != nullptr) {
        config = *local_config;
    } else if (region != nullptr) {
        config = decode_helper_config(reinterpret_cast<const char*>(region) + region->config_offset);
    } else {
        std::fprintf(stderr, "crashdrop-helper: no configuration\n");
        _exit(2);
    }
    helper_service service(config, custom, region, socket_fd);
    const int code = service.run();
    std::fflush(nullptr);
    _exit(code);  // never the application's atexit handlers or static destructors
}

/// In a process started as a helper (the environment says so): run it. Returns only if this
/// process is not one.
inline void run_helper_if_asked(const Transport* custom, const helper_config* local_config) {
    const char* spec = std::getenv(k_helper_env);
    if (spec == nullptr) return;
    int region_fd = -1, socket_fd = -1;
    if (std::sscanf(spec, "%d:%d", &region_fd, &socket_fd) != 2) return;
    unsetenv(k_helper_env);  // not for whatever the helper might start
    helper_process_main(region_fd, socket_fd, custom, local_config);
}

// ---- launching -------------------------------------------------------------------------------

/// An executable with its arguments and environment, all prepared before fork() so the child
/// does nothing but async-signal-safe calls until exec.
struct helper_command {
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::vector<char*> argv;
    std::vector<char*> envp;

    void finish() {
        argv.clear();
        envp.clear();
        for (auto& a : args) argv.push_back(&a[0]);
        argv.push_back(nullptr);
        for (auto& e : env) envp.push_back(&e[0]);
        envp.push_back(nullptr);
    }
};

/// The command a helper is started with: the executable itself (its arguments from
/// /proc/self/cmdline) or the external helper; the environment marked with where the region
/// and the socket will be.
inline helper_command make_helper_command(HelperMode mode, const std::string& helper_path, bool with_socket) {
    helper_command c;
    if (mode == HelperMode::external) {
        c.path = helper_path;
        c.args = {helper_path, "--crashdrop-helper"};
    } else {
        c.path = "/proc/self/exe";
        std::string cmdline;
        read_whole_file("/proc/self/cmdline", &cmdline, 1u << 20);
        std::size_t pos = 0;
        while (pos < cmdline.size()) {
            const std::size_t end = cmdline.find('\0', pos);
            c.args.push_back(cmdline.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
            pos = end == std::string::npos ? cmdline.size() : end + 1;
        }
        if (c.args.empty()) c.args.emplace_back("crashdrop-helper");
    }
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        if (std::strncmp(*e, k_helper_env, std::strlen(k_helper_env)) != 0) c.env.emplace_back(*e);
    }
    c.env.push_back(std::string(k_helper_env) + "=" + std::to_string(k_helper_region_fd) + ":" +
                    std::to_string(with_socket ? k_helper_socket_fd : -1));
    c.finish();
    return c;
}

/// In the (grand)child, before exec or the fork-mode helper: the region and socket at their
/// agreed numbers, /dev/null and the log on 0-2, nothing else open. Async-signal-safe only.
inline void helper_child_fds(int region_fd, int socket_fd, int log_fd) {
    const int region_copy = fcntl(region_fd, F_DUPFD, 10);
    const int socket_copy = socket_fd >= 0 ? fcntl(socket_fd, F_DUPFD, 10) : -1;
    const int log_copy = log_fd >= 0 ? fcntl(log_fd, F_DUPFD, 10) : -1;
    const int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
        dup2(null_fd, 0);
        dup2(null_fd, 1);
        dup2(log_copy >= 0 ? log_copy : null_fd, 2);
    }
    dup2(region_copy, k_helper_region_fd);
    if (socket_copy >= 0) dup2(socket_copy, k_helper_socket_fd);
    const int first_free = socket_copy >= 0 ? k_helper_socket_fd + 1 : k_helper_region_fd + 1;
    if (syscall(SYS_close_range, first_free, ~0U, 0) != 0) {
        for (int fd = first_free; fd < 65536; ++fd) close(fd);
    }
}

/// Starts the helper (double fork: it is reparented at once, never a zombie of ours). Returns
/// our end of its socket, or -1 with *error.
inline int launch_helper(HelperMode mode, const helper_command& command, int region_fd, const std::string& log_path,
                         const Transport* custom, const helper_config* config, std::string* error) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        *error = "socketpair: " + errno_text(errno);
        return -1;
    }
    const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    const pid_t child = fork();
    if (child < 0) {
        *error = "fork: " + errno_text(errno);
        close(sv[0]);
        close(sv[1]);
        if (log_fd >= 0) close(log_fd);
        return -1;
    }
    if (child == 0) {
        setsid();
        const pid_t grandchild = fork();
        if (grandchild != 0) _exit(grandchild < 0 ? 1 : 0);
        helper_child_fds(region_fd, sv[1], log_fd);
        if (mode == HelperMode::fork) {
            helper_process_main(k_helper_region_fd, k_helper_socket_fd, custom, config);
        }
        execve(command.path.c_str(), command.argv.data(), command.envp.data());
        _exit(127);
    }
    close(sv[1]);
    if (log_fd >= 0) close(log_fd);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return sv[0];
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
