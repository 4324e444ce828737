// crashdrop/helper/service.hpp - what the helper process does, on every platform: keeps the
// database in order (pruning, metadata for dumps that lack it, copies of attachments), and
// sends pending reports (custom transport or the built-in one) with exponential back-off,
// honouring consent and the rate limit. The platform's helper file (helper_linux.hpp,
// helper_windows.hpp) launches the helper, receives each crash from the application, writes
// its dump into pending\ and hands the report over with persisted().
//   begin()      once: folders, client id, pruning, every pending report queued, the worker
//   persisted()  a dump just written: attachments copied, metadata saved, queued at once
//   requeue_all  the upload consent changed
//   finish()     the application has gone: what is due now is tried, then the worker ends
// Context: implementation TU; the helper process (ordinary code).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

class helper_service {
public:
    helper_service(helper_config config, const Transport* custom)
        : config_(std::move(config)), custom_(custom), db_(config_.database) {}
    helper_service(const helper_service&) = delete;
    helper_service& operator=(const helper_service&) = delete;
    ~helper_service() { finish(); }

    const helper_config& config() const { return config_; }
    const database& db() const { return db_; }
    /// This installation's id (settled by begin()).
    const std::string& client_id() const { return client_id_; }

    /// Prepares the database and starts the upload worker. False (logged) if the database
    /// cannot be created.
    bool begin() {
        log("helper started (pid " + std::to_string(current_process_id()) + ")");
        std::string where;
        if (int err = db_.create(&where)) {
            log("cannot create " + where + ": " + error_text(err));
            return false;
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
            if (!read_whole_file(path_join(db_.pending_dir(), r.id + ".meta"), &text) || !decode_report(text, &parsed, &error)) {
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
        started_ = true;
        start_worker();
        return true;
    }

    /// A dump the platform code has just written to pending\ (and answered the application
    /// for): its attachments are copied, its metadata written, and it is queued at once.
    void persisted(Report r) {
        keep_attachments(&r);
        std::string error;
        if (!db_.save(r, true, &error)) log("could not write metadata: " + error);
        fsync_directory(db_.pending_dir());
        log("persisted report " + r.id);
        for (const auto& id : db_.prune(config_.limits, std::time(nullptr))) log("pruned " + id);
        schedule(r.id, clock::now(), 0);
    }

    void requeue_all() {
        for (const Report& r : db_.list(ReportState::pending)) schedule(r.id, clock::now(), 0);
    }

    /// The application has gone: the worker tries what is due now, then ends.
    void finish() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (finishing_) return;
            finishing_ = true;
        }
        wake_.notify_all();
        join_worker();
    }

    void log(const std::string& line) {
        char stamp[32] = "";
        std::tm tm{};
        if (utc_time(std::time(nullptr), &tm)) std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        std::lock_guard<std::mutex> lock(log_mutex_);
        std::fprintf(stderr, "%s crashdrop-helper[%ld]: %s\n", stamp, current_process_id(), line.c_str());
        std::fflush(stderr);
    }

private:
    using clock = std::chrono::steady_clock;
    struct queued {
        clock::time_point due;
        int tries;  // attempts in this run, for the back-off
    };

#if CRASHDROP_OS_WINDOWS
    static DWORD WINAPI worker_entry(void* self) {
        static_cast<helper_service*>(self)->work();
        return 0;
    }
    void start_worker() {
        worker_ = CreateThread(nullptr, 0, &helper_service::worker_entry, this, 0, nullptr);
        if (worker_ == nullptr) log("cannot start the upload thread: " + error_text(last_error()) + "; uploading when finishing");
    }
    void join_worker() {
        if (worker_ != nullptr) {
            WaitForSingleObject(worker_, INFINITE);
            CloseHandle(worker_);
            worker_ = nullptr;
        } else if (started_) {
            work();
        }
    }
    HANDLE worker_ = nullptr;
#else
    // A plain pthread (not std::thread with a lambda, whose type info a plugin would export).
    static void* worker_entry(void* self) {
        static_cast<helper_service*>(self)->work();
        return nullptr;
    }
    void start_worker() {
        threaded_ = pthread_create(&worker_, nullptr, &helper_service::worker_entry, this) == 0;
        if (!threaded_) log("cannot start the upload thread; uploading when finishing");
    }
    void join_worker() {
        if (threaded_) {
            pthread_join(worker_, nullptr);
            threaded_ = false;
        } else if (started_) {
            work();
        }
    }
    pthread_t worker_{};
    bool threaded_ = false;
#endif

    void schedule(const std::string& id, clock::time_point due, int tries) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            queue_[id] = queued{due, tries};
        }
        wake_.notify_all();
    }

    /// Copies the report's attachments into <database>/attachments/<id>/ as they are now (the
    /// end of a file larger than the cap), so the report keeps them even if the application
    /// rewrites them at its next start. Files that cannot be read stay named by their path, to
    /// be read when the report is sent.
    void keep_attachments(Report* r) {
        if (r->attachments.empty()) return;
        const std::string dir = db_.attachments_dir(r->id);
        if (int err = make_directories(dir)) {
            log("cannot create " + dir + ": " + error_text(err));
            return;
        }
        std::vector<std::string> kept;
        for (std::size_t i = 0; i < r->attachments.size(); ++i) {
            const std::string& path = r->attachments[i];
            if (path.rfind(dir + k_path_separator, 0) == 0) {  // already a copy
                kept.push_back(path);
                continue;
            }
            std::string bytes;
            bool cut = false;
            if (!read_file_tail(path, config_.max_attachment_bytes, &bytes, &cut)) {
                log("attachment " + path + ": " + error_text(last_error()) + "; it will be read when the report is sent");
                kept.push_back(path);
                continue;
            }
            if (cut) log("attachment " + path + ": larger than " + std::to_string(config_.max_attachment_bytes) + " bytes, its end kept");
            std::string name = path.substr(path.find_last_of("/\\") + 1);
            for (const std::string& other : kept) {  // two files of one name: number the second
                if (other.substr(other.find_last_of("/\\") + 1) == name) name = std::to_string(i) + "-" + name;
            }
            std::string error;
            if (!write_file_atomic(dir, name, bytes, true, &error)) {
                log("attachment " + path + ": " + error);
                kept.push_back(path);
                continue;
            }
            kept.push_back(path_join(dir, name));
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
            const long long wait = rate_limit_wait_seconds(db_.settings()["last_upload"], now);
            if (wait > 0) {
                log("not sending " + id + " yet: rate limit (one upload per hour)");
                schedule(id, clock::now() + std::chrono::seconds(wait), tries);
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
    database db_;
    std::string client_id_;
    Report defaults_;  // for a dump whose metadata is missing or damaged
    std::mutex mutex_;
    std::mutex log_mutex_;
    std::condition_variable wake_;
    std::map<std::string, queued> queue_;
    bool finishing_ = false;
    bool started_ = false;  // begin() ran (the worker has a queue to work)
};

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
