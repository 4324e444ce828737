// crashdrop/helper/service.hpp - what the helper process does, on every platform: keeps the
// database in order (pruning, metadata for dumps that lack it, copies of attachments), and
// sends pending reports (custom transport or the built-in one) with exponential back-off (or
// longer when the server's Retry-After or UploadResult::retry_after_ms asks for it),
// honouring consent and the rate limit. The platform's helper file (helper_linux.hpp,
// helper_windows.hpp) launches the helper, receives each crash from the application, writes
// its dump into pending\ and hands the report over with persisted().
//   begin()      once: folders, client id, pruning, every pending report queued, the worker
//   persisted()  a dump just written: attachments copied, metadata saved, queued at once
//   held_in_memory()  a dump that could not be stored (disk full): sent from memory
//   requeue_all  the upload consent changed
//   finish()     the application has gone: what falls due within helper_linger_ms is tried,
//                then the helper leaves (an attempt still running is abandoned)
// Exactly once: every helper of every application that uses the database may see a pending
// report, so whatever sends, repairs or prunes one first claims it (report_claim: a lock on its
// dump file that dies with its holder) and checks that it is still pending. A report another
// helper holds is tried again a second later while this helper's application runs, and left
// to its holder once it has gone.
// The log: <database>/helper.log is rotated into helper.log.1 at k_helper_log_cap (less for a
// small max_database_bytes), and both count against max_database_bytes.
// Context: implementation TU; the helper process (ordinary code).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// helper.log is rotated at this size, or at max_database_bytes / 16 when that is smaller (but
/// never below 16 KiB): with its one predecessor, the logs take at most twice that.
constexpr std::size_t k_helper_log_cap = 1024u * 1024u;
constexpr std::size_t k_helper_log_min_cap = 16u * 1024u;
/// How soon a report that another helper holds is looked at again (while the application runs).
constexpr int k_claimed_elsewhere_retry_ms = 1000;
/// A dump held in memory (not stored) is sent this long after the helper answered: time for the
/// crashed process to store it itself, which it tries when the helper could not.
constexpr int k_memory_report_grace_ms = 1000;

inline std::size_t helper_log_cap(std::size_t max_database_bytes) {
    if (max_database_bytes == 0) return k_helper_log_cap;
    return std::max(k_helper_log_min_cap, std::min(k_helper_log_cap, max_database_bytes / 16));
}

/// Writes a report's metadata some quicker way than database::save (the Linux helper: into a
/// file made ahead, spares_linux.hpp); false when it could not, and the ordinary way follows.
using metadata_saver = std::function<bool(const Report&)>;

class helper_service {
public:
    /// `custom` and `before` (Options::transport, Options::before_upload; nullptr: none) are the
    /// application's code; they must outlive the service (the helper never returns from them).
    helper_service(helper_config config, const Transport* custom, const BeforeUpload* before = nullptr)
        : config_(std::move(config)),
          custom_(custom),
          before_(before != nullptr && *before ? before : nullptr),
          db_(config_.database),
          log_path_(db_.helper_log_path()),
          log_cap_(static_cast<long long>(helper_log_cap(config_.limits.max_bytes))),
          owns_log_(helper_log_size(log_path_) >= 0) {}
    helper_service(const helper_service&) = delete;
    helper_service& operator=(const helper_service&) = delete;
    ~helper_service() {
        if (!finish()) {
            // The worker is still in an attempt past the linger deadline and uses this object:
            // the process ends here (the report's claim ends with it; it stays pending).
            std::fflush(nullptr);
            leave_process_now();
        }
    }

    const helper_config& config() const { return config_; }
    const database& db() const { return db_; }
    /// This installation's id (settled by begin()).
    const std::string& client_id() const { return client_id_; }

    /// Prepares the database and starts the upload worker. False (logged) if the database
    /// cannot be created.
    bool begin() {
        log("helper started (pid " + std::to_string(current_process_id()) + ")");
        std::string where, why;
        if (file_kind(db_.root()) != entry_kind::missing && !check_private_folder(db_.root(), &why)) {
            log("database refused: " + why);  // before anything is created in it
            return false;
        }
        if (int err = db_.create(&where)) {
            log("cannot create " + where + ": " + error_text(err));
            return false;
        }
        if (!db_.check(&why)) {
            log("database refused: " + why);
            return false;
        }
        for (const auto& line : db_.set_aside_strays()) log("set aside " + line);
        client_id_ = db_.client_id(new_uuid());
        for (const auto& id : db_.prune(config_.limits, std::time(nullptr))) log("pruned " + id);
        // A new start() retries every pending report at once (dumps a crashed process had to
        // write itself get their metadata here).
        defaults_.product = config_.product;
        defaults_.version = config_.version;
        for (const Report& r : db_.list(ReportState::pending, &defaults_)) {
            repair_metadata(r);
            schedule(r.id, clock::now(), 0);
        }
        started_ = true;
        start_worker();
        return true;
    }

    /// A dump the platform code has just written to pending\ (and answered the application
    /// for): its attachments are copied, its metadata written, and it is queued at once.
    /// `claim`, if given, already holds the dump (taken before it was named, so no other helper
    /// saw it without its metadata); otherwise it is claimed here.
    void persisted(Report r, report_claim* claim = nullptr) {
        report_claim own;
        if (!describe(&r, &claim, &own, true, true)) return;
        settle(r, claim, false);
    }

    /// The first half of persisted(), for a helper that answers the application in between
    /// (Linux): claims the dump unless `*claim` holds it already (then `*claim` points at
    /// `own`) and writes its metadata (`sync`: made durable too). With `copy_attachments` the
    /// attachments are copied first and the metadata names the copies; without, it names the
    /// application's files until settle() copies them (copying a large log must not keep a
    /// crashed process waiting; the claim is held meanwhile). False (logged) when another
    /// helper took the report over: nothing more is to be done with it.
    bool describe(Report* r, report_claim** claim, report_claim* own, bool sync, bool copy_attachments,
                  const metadata_saver* quick = nullptr) {
        if (*claim == nullptr || !(*claim)->held()) {
            *claim = own;
            const std::string path = path_join(db_.pending_dir(), r->id + ".dmp");
            // Another helper may be repairing it this very moment (a few milliseconds).
            for (int i = 0; i < 200 && own->try_claim(path) == report_claim::busy; ++i) sleep_ms(10);
            if (!own->held() || !own->still_at(path)) {
                log("report " + r->id + " was taken over by another helper before its metadata was written");
                return false;
            }
        }
        if (copy_attachments) keep_attachments(r, true);
        if (!sync && quick != nullptr && (*quick)(*r)) return true;
        std::string error;
        if (!db_.save(*r, sync, &error)) log("could not write metadata: " + error);
        return true;
    }

    /// The second half: the attachments copied and the metadata written again naming the
    /// copies (`copy_attachments`: describe() left them; durable), pending\ made durable (the
    /// names in it; the caller has synced the files' data when describe() did not), the claim
    /// released, the report queued at once.
    void settle(Report r, report_claim* claim, bool copy_attachments) {
        if (copy_attachments && !r.attachments.empty()) {
            keep_attachments(&r, true);
            std::string error;
            if (!db_.save(r, true, &error)) log("could not write metadata: " + error);
        }
        fsync_directory(db_.pending_dir());
        claim->release();
        log("persisted report " + r.id);
        for (const auto& id : db_.prune(config_.limits, std::time(nullptr))) log("pruned " + id);
        schedule(r.id, clock::now(), 0);
    }

    /// The region shared with the application (nullptr: none): where the helper reads which
    /// files the running application names as attachments.
    void set_region(sigsafe::region_header* region) { region_ = region; }

    /// A dump the platform code could not store (`why`: the disk is full, say), copied out of
    /// the shared memory: it is sent from here. Each attempt first looks whether it reached the
    /// disk after all (the crashed process writes it itself when the helper could not) or can
    /// be stored now; either way it then goes the ordinary way, so it is never sent twice.
    void held_in_memory(Report r, std::string dump, const std::string& why) {
        log("could not store " + r.id + ".dmp (" + why + "): holding it in memory to send it from there");
        const std::string id = r.id;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            memory_[id] = memory_report{std::move(r), std::move(dump)};
        }
        schedule(id, clock::now() + std::chrono::milliseconds(k_memory_report_grace_ms), 0);
    }

    void requeue_all() {
        for (const Report& r : db_.list(ReportState::pending)) schedule(r.id, clock::now(), 0);
        std::vector<std::string> held;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            for (const auto& m : memory_) held.push_back(m.first);
        }
        for (const auto& id : held) schedule(id, clock::now(), 0);
    }

    /// The application has gone: the worker goes on with what falls due within
    /// helper_linger_ms, then ends. True when it has ended; false when an attempt was still
    /// running at the deadline (abandoned: the caller ends the process, and with it the
    /// attempt and its claim; the report stays pending for the next start()).
    bool finish() {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!finishing_) {
            finishing_ = true;
            deadline_ = clock::now() + std::chrono::milliseconds(config_.linger_ms);
            wake_.notify_all();
        }
        if (!worker_running_) {
            if (joined_) return true;
            joined_ = true;
            lock.unlock();
            join_worker();
            log_lost_memory_reports();
            return true;
        }
        // A moment past the deadline for the worker to notice it.
        const auto limit = deadline_ + std::chrono::milliseconds(100);
        done_.wait_until(lock, limit, [this] { return !worker_running_; });
        if (!worker_running_) {
            joined_ = true;
            lock.unlock();
            join_worker();
            log_lost_memory_reports();
            return true;
        }
        abandoned_ = true;
        // An answer already being recorded is recorded (local files: quick).
        done_.wait_for(lock, std::chrono::seconds(5), [this] { return !in_commit_; });
        lock.unlock();
        log("linger time (" + std::to_string(config_.linger_ms) +
            " ms) over: the upload still running is abandoned; what was not sent stays pending for the next start()");
        return false;
    }

    void log(const std::string& line) {
        char stamp[32] = "";
        std::tm tm{};
        if (utc_time(std::time(nullptr), &tm)) std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        std::lock_guard<std::mutex> lock(log_mutex_);
        if (owns_log_) {
            const long long size = helper_log_size(log_path_);
            if (size < 0) {
                reopen_helper_log(log_path_);  // another helper rotated it
            } else if (size >= log_cap_) {
                rotate_helper_log(log_path_, log_cap_);
                reopen_helper_log(log_path_);
            }
        }
        std::fprintf(stderr, "%s crashdrop-helper[%ld]: %s\n", stamp, current_process_id(), line.c_str());
        std::fflush(stderr);
    }

private:
    using clock = std::chrono::steady_clock;
    struct queued {
        clock::time_point due;
        int tries;  // attempts in this run, for the back-off
    };
    struct memory_report {
        Report report;
        std::string dump;
    };

#if CRASHDROP_OS_WINDOWS
    static DWORD WINAPI worker_entry(void* self) {
        static_cast<helper_service*>(self)->work_then_signal();
        return 0;
    }
    static void sleep_ms(int ms) { Sleep(static_cast<DWORD>(ms)); }
    [[noreturn]] static void leave_process_now() {
        TerminateProcess(GetCurrentProcess(), 0);
        for (;;) Sleep(INFINITE);
    }
    void start_worker() {
        worker_running_ = true;
        worker_ = CreateThread(nullptr, 0, &helper_service::worker_entry, this, 0, nullptr);
        if (worker_ == nullptr) {
            worker_running_ = false;
            log("cannot start the upload thread: " + error_text(last_error()) + "; uploading when finishing");
        }
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
        static_cast<helper_service*>(self)->work_then_signal();
        return nullptr;
    }
    static void sleep_ms(int ms) { usleep(static_cast<useconds_t>(ms) * 1000); }
    [[noreturn]] static void leave_process_now() { _exit(0); }
    void start_worker() {
        worker_running_ = true;
        threaded_ = pthread_create(&worker_, nullptr, &helper_service::worker_entry, this) == 0;
        if (!threaded_) {
            worker_running_ = false;
            log("cannot start the upload thread; uploading when finishing");
        }
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

    /// At the end: dumps held in memory that could not be sent are lost; the log says so.
    void log_lost_memory_reports() {
        std::vector<std::string> lost;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            for (const auto& m : memory_) lost.push_back(m.first);
        }
        for (const auto& id : lost) log("report " + id + " could be neither stored nor sent: lost");
    }

    void work_then_signal() {
        work();
        std::lock_guard<std::mutex> lock(mutex_);
        worker_running_ = false;
        done_.notify_all();
    }

    /// A pending report whose metadata is missing or damaged (a dump the crashed process wrote
    /// itself) gets it anew from the dump, under the report's claim: one that another helper
    /// holds is being stored or sent by it.
    void repair_metadata(const Report& r) {
        const std::string meta = path_join(db_.pending_dir(), r.id + ".meta");
        std::string text, error;
        Report parsed;
        if (read_whole_file(meta, &text) && decode_report(text, &parsed, &error)) return;
        report_claim claim;
        if (claim.try_claim(r.dump_path) != report_claim::claimed || !claim.still_at(r.dump_path)) return;
        text.clear();
        error.clear();
        if (read_whole_file(meta, &text) && decode_report(text, &parsed, &error)) return;  // written meanwhile
        log("metadata of " + r.id + (text.empty() ? " missing" : " unreadable (" + error + ")") + ": written anew from the dump");
        Report repaired = r;
        std::string dump;
        if (read_whole_file(r.dump_path, &dump, 1u << 30)) {
            read_dump_context(reinterpret_cast<const std::uint8_t*>(dump.data()), dump.size(), &repaired);
        }
        keep_attachments(&repaired, false);
        db_.save(repaired, true, nullptr);
    }

    /// Consent and the rate limit; false (logged, rescheduled where that helps) if the report
    /// must not be sent now.
    bool may_send_now(const std::string& id, int tries) {
        if (!db_.consent()) {
            log("not sending " + id + ": upload consent is off");
            return false;  // set_upload_to_server(true) queues it again
        }
        if (config_.rate_limit) {
            const long long wait = rate_limit_wait_seconds(db_.settings()["last_upload"], std::time(nullptr));
            if (wait > 0) {
                log("not sending " + id + " yet: rate limit (one upload per hour)");
                schedule(id, clock::now() + std::chrono::seconds(wait), tries);
                return false;
            }
        }
        return true;
    }

    /// The answer of an upload is about to be recorded; false if the helper is leaving (the
    /// linger time is over), when nothing more is written.
    bool begin_commit() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (abandoned_) return false;
        in_commit_ = true;
        return true;
    }
    void end_commit() {
        std::lock_guard<std::mutex> lock(mutex_);
        in_commit_ = false;
        done_.notify_all();
    }

    void schedule(const std::string& id, clock::time_point due, int tries) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            queue_[id] = queued{due, tries};
        }
        wake_.notify_all();
    }

    /// The attachment paths the running application names now (Options::attachments and
    /// add_attachment()), read from its context store in the shared region.
    std::vector<std::string> named_by_application() const {
        std::vector<std::string> out;
        sigsafe::context_store store{};
        if (region_ == nullptr || region_->context_offset == 0 ||
            region_->context_offset + region_->context_size > region_->region_size ||
            !sigsafe::context_attach(&store, reinterpret_cast<sigsafe::u8*>(region_) + region_->context_offset)) {
            return out;
        }
        std::vector<char> path(limits::attachment_path + 1);
        for (sigsafe::u32 i = 0; i < store.header->attachment_capacity && i < limits::attachments; ++i) {
            const std::size_t n = sigsafe::context_read_attachment(&store, i, path.data(), path.size());
            if (n > 0) out.emplace_back(path.data(), n);
        }
        return out;
    }

    /// Copies the report's attachments into <database>/attachments/<id>/ as they are now (the
    /// end of a file larger than the cap), so the report keeps them even if the application
    /// rewrites them at its next start. These copies, and nothing else, are sent with the report
    /// (attempt() lists the folder; no path is ever taken from a file to be read at sending
    /// time). `from_application`: the paths came from the application's memory (the dump it
    /// just handed over); otherwise they were read from a dump found on disk, and only those the
    /// running application names too are read. A file that cannot be copied (gone, unreadable,
    /// not a regular file: a FIFO or device is refused without blocking) is logged and left out.
    void keep_attachments(Report* r, bool from_application) {
        if (r->attachments.empty()) return;
        const std::string dir = db_.attachments_dir(r->id);
        std::vector<std::string> allowed;
        if (!from_application) allowed = named_by_application();
        std::vector<std::string> kept;
        bool have_dir = false;
        for (std::size_t i = 0; i < r->attachments.size(); ++i) {
            const std::string& path = r->attachments[i];
            if (dir.empty()) {
                log("attachment " + path + ": the report id '" + r->id + "' is malformed; not copied");
                continue;
            }
            if (path.rfind(dir + k_path_separator, 0) == 0 && file_kind(path) == entry_kind::file) {  // already a copy
                kept.push_back(path);
                continue;
            }
            if (!from_application && std::find(allowed.begin(), allowed.end(), path) == allowed.end()) {
                log("attachment " + path + " named in " + r->id + ".dmp: not read (a path found in a file is read only "
                    "when the running application names it as an attachment too)");
                continue;
            }
            if (!have_dir) {
                std::string why;
                int err = make_directories(db_.attachments_root());
                if (err == 0) err = make_directories(dir);
                if (err != 0) {
                    log("cannot create " + dir + ": " + error_text(err) + "; the attachments of " + r->id + " are not sent");
                    break;
                }
                if (!check_private_folder(db_.attachments_root(), &why) || !check_private_folder(dir, &why)) {
                    log("attachments refused: " + why + "; the attachments of " + r->id + " are not sent");
                    break;
                }
                have_dir = true;
            }
            std::string bytes;
            bool cut = false;
            if (!read_file_tail(path, config_.max_attachment_bytes, &bytes, &cut)) {
                log("attachment " + path + ": " + error_text(last_error()) + "; not sent (no copy could be made)");
                continue;
            }
            if (cut) log("attachment " + path + ": larger than " + std::to_string(config_.max_attachment_bytes) + " bytes, its end kept");
            std::string name = path.substr(path.find_last_of("/\\") + 1);
            if (name.empty() || name[0] == '.') name = "attachment" + name;  // never a hidden or temporary name
            for (const std::string& other : kept) {  // two files of one name: number the second
                if (other.substr(other.find_last_of("/\\") + 1) == name) name = std::to_string(i) + "-" + name;
            }
            std::string error;
            if (!write_file_atomic(dir, name, bytes, true, &error)) {
                log("attachment " + path + ": " + error + "; not sent (no copy could be made)");
                continue;
            }
            kept.push_back(path_join(dir, name));
        }
        r->attachments = kept;
    }

    /// The upload worker: attempts reports when they fall due. Once finishing (the application
    /// has gone), it goes on only with what falls due before the linger deadline, and stops
    /// when nothing does: longer back-off waits are not worth outliving the application for;
    /// the reports stay pending for the next start().
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
                    if (finishing_ && now >= deadline_) return;
                    if (next != queue_.end() && next->second.due <= now) {
                        id = next->first;
                        tries = next->second.tries;
                        queue_.erase(next);
                        break;
                    }
                    if (finishing_ && (next == queue_.end() || next->second.due >= deadline_)) return;
                    if (next == queue_.end()) wake_.wait(lock);
                    else wake_.wait_until(lock, next->second.due);
                }
            }
            attempt(id, tries);
        }
    }

    /// How long a report waits after an attempt that asked to retry: the back-off, or what the
    /// server (or transport) asked for if longer; at most an hour.
    long long retry_wait_ms(const UploadResult& result, int tries) const {
        const long long backoff = std::min<long long>(k_max_retry_wait_ms, static_cast<long long>(config_.retry_delay_ms)
                                                                               << std::min(tries, 20));
        return std::max(backoff, std::min(result.retry_after_ms, k_max_retry_wait_ms));
    }

    /// What Options::before_upload made of an attempt.
    enum class before_verdict {
        send,  ///< send *up (as the callback left it)
        drop,  ///< it returned false: the report is kept as rejected, never sent
        hold,  ///< it threw: nothing is sent this time; the report stays pending and is retried
    };

    /// Runs Options::before_upload (if any) on the upload about to be sent, once per attempt. Its
    /// edits are for this attempt only (the stored report is never changed). Afterwards the
    /// report keeps its id (the server's deduplication key), and the files sent are those of the
    /// helper's copies it left in both Upload::attachments and Upload::report.attachments (it
    /// may drop files, not add them). A throw sends nothing unscrubbed: the report waits for the
    /// next attempt (the application may scrub on purpose, so "send unchanged" would leak).
    before_verdict run_before_upload(Upload* up, std::string* why) {
        if (before_ == nullptr) return before_verdict::send;
        const std::string id = up->report.id;
        const std::vector<std::string> offered = up->attachments;
        bool keep = true;
#if defined(__cpp_exceptions)
        try {
            keep = (*before_)(*up);
        } catch (const std::exception& e) {
            *why = std::string("before_upload threw: ") + e.what() + " (not sent; retried)";
            return before_verdict::hold;
        } catch (...) {
            *why = "before_upload threw (not sent; retried)";
            return before_verdict::hold;
        }
#else
        keep = (*before_)(*up);
#endif
        if (!keep) {
            *why = "dropped by before_upload";
            return before_verdict::drop;
        }
        auto listed = [](const std::vector<std::string>& list, const std::string& path) {
            return std::find(list.begin(), list.end(), path) != list.end();
        };
        std::vector<std::string> kept;
        for (const std::string& path : offered) {
            if (listed(up->attachments, path) && listed(up->report.attachments, path)) kept.push_back(path);
        }
        up->attachments = kept;
        up->report.attachments = kept;
        up->report.id = id;
        return before_verdict::send;
    }

    /// One attempt's verdict: the transport's, or before_upload's drop (rejected) or throw
    /// (retry_later) without calling the transport.
    /// One attempt's sending: before_upload first (it may edit, drop or hold the report), then
    /// the upload budget on what it left (*trimmed: what the budget cut, "" if nothing), then the
    /// transport.
    UploadResult send_upload(Upload* up, std::string* trimmed) {
        std::string why;
        switch (run_before_upload(up, &why)) {
            case before_verdict::send:
                break;
            case before_verdict::drop: {
                UploadResult dropped;
                dropped.status = UploadStatus::rejected;
                dropped.message = why;
                return dropped;
            }
            case before_verdict::hold: {
                UploadResult held;
                held.status = UploadStatus::retry_later;
                held.message = why;
                return held;
            }
        }
        // The upload budget: an explicit one for every transport, the format's default for the
        // built-in one (a custom transport's own limits are not known here).
        const std::size_t budget = config_.max_upload_bytes != 0 ? config_.max_upload_bytes
                                   : custom_ == nullptr        ? default_upload_budget(config_.upload.format)
                                                               : 0;
        *trimmed = fit_upload_budget(up, config_.upload, budget, [this](const std::string& m) { log(m); });
        up->report.trimmed = *trimmed;
        if (!trimmed->empty()) log("report " + up->report.id + ": " + *trimmed);
        return custom_ != nullptr ? (*custom_)(*up) : upload_builtin(*up, config_.upload);
    }

    void attempt(const std::string& id, int tries) {
        if (config_.upload.url.empty() && custom_ == nullptr) return;  // store only
        bool in_memory = false;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            in_memory = memory_.count(id) != 0;
        }
        if (in_memory) {
            attempt_from_memory(id, tries);
            return;
        }
        // Claimed first, then looked at: only the holder of the claim sends, and only a report
        // that is still pending once it holds it.
        const std::string dump_path = path_join(db_.pending_dir(), id + ".dmp");
        report_claim claim;
        switch (claim.try_claim(dump_path)) {
            case report_claim::gone:
                return;  // sent, rejected or pruned meanwhile
            case report_claim::busy: {
                std::lock_guard<std::mutex> lock(mutex_);
                if (finishing_) return;  // its holder sends it, or it waits for the next start()
            }
                schedule(id, clock::now() + std::chrono::milliseconds(k_claimed_elsewhere_retry_ms), tries);
                return;
            case report_claim::claimed:
                break;
        }
        if (!claim.still_at(dump_path)) return;  // completed by another sender just before
        Report report;
        bool found = false;
        for (Report& r : db_.list(ReportState::pending, &defaults_)) {
            if (r.id == id) {
                report = r;
                found = true;
            }
        }
        if (!found) return;
        if (!may_send_now(id, tries)) return;
        const std::time_t now = std::time(nullptr);
        Upload up;
        up.report = report;
        up.client_id = client_id_;
        std::string bytes;
        if (!read_whole_file(report.dump_path, &bytes, 1u << 30)) {
            log("cannot read " + report.dump_path);
            return;
        }
        up.dump.assign(bytes.begin(), bytes.end());
        // Only the helper's own copies are sent, found by listing the report's folder: a path in
        // the metadata (which anything able to write to pending/ could have planted) is never read.
        up.attachments = db_.attachment_files(id);
        up.report.attachments = up.attachments;
        const UploadResult result = send_upload(&up, &report.trimmed);
        if (!begin_commit()) return;  // the helper is leaving: the report stays pending
        struct commit_end {
            helper_service* self;
            ~commit_end() { self->end_commit(); }
        } commit_guard{this};
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
                const long long delay = retry_wait_ms(result, tries);
                log("could not send " + id + ": " + result.message + "; retrying in " + std::to_string(delay) + " ms");
                schedule(id, clock::now() + std::chrono::milliseconds(delay), tries + 1);
                break;
            }
        }
    }

    /// A report held in memory (it could not be stored): sent from there, unless it has reached
    /// the disk meanwhile (then it goes the ordinary way). Its outcome is logged; it has no
    /// files to move.
    void attempt_from_memory(const std::string& id, int tries) {
        memory_report held;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto it = memory_.find(id);
            if (it == memory_.end()) return;
            held = it->second;
        }
        auto forget = [this, &id] {
            std::lock_guard<std::mutex> lock(mutex_);
            memory_.erase(id);
        };
        std::uint64_t size = 0;
        const std::string pending_path = path_join(db_.pending_dir(), id + ".dmp");
        if (file_info(path_join(db_.completed_dir(), id + ".dmp"), &size, nullptr)) {
            forget();  // completed by another helper meanwhile
            return;
        }
        if (file_info(pending_path, &size, nullptr)) {
            // The crashed process stored it itself: it gets its metadata and goes from there.
            log("report " + id + " reached the disk after all: sent from there");
            forget();
            persisted(held.report);
            return;
        }
        std::string error;
        if (write_file_atomic(db_.pending_dir(), id + ".dmp", held.dump, true, &error)) {
            log("report " + id + " stored now");
            forget();
            persisted(held.report);
            return;
        }
        if (!may_send_now(id, tries)) return;
        Upload up;
        up.report = held.report;
        up.client_id = client_id_;
        up.dump.assign(held.dump.begin(), held.dump.end());
        // Its attachments could not be copied either (nothing could be stored); no path is read at
        // sending time, so it goes without them.
        up.report.attachments.clear();
        std::string trimmed;  // what the budget cut from this attempt (a held report has no .meta to say it in)
        const UploadResult result = send_upload(&up, &trimmed);
        if (!begin_commit()) return;
        struct commit_end {
            helper_service* self;
            ~commit_end() { self->end_commit(); }
        } commit_guard{this};
        switch (result.status) {
            case UploadStatus::sent:
                forget();
                db_.update_settings(
                    [](std::map<std::string, std::string>& kv) { kv["last_upload"] = std::to_string(std::time(nullptr)); }, nullptr);
                log("sent " + id + " from memory (server id '" + result.server_id + "'); not kept on disk");
                break;
            case UploadStatus::rejected:
                forget();
                log("rejected " + id + " (sent from memory): " + result.message);
                break;
            case UploadStatus::retry_later: {
                const long long delay = retry_wait_ms(result, tries);
                log("could not send " + id + " from memory: " + result.message + "; retrying in " + std::to_string(delay) +
                    " ms (lost if this helper ends first)");
                schedule(id, clock::now() + std::chrono::milliseconds(delay), tries + 1);
                break;
            }
        }
        if (file_info(pending_path, &size, nullptr)) {
            // The crashed process stored it while it was being sent: complete that copy too.
            report_claim claim;
            if (claim.try_claim(pending_path) == report_claim::claimed && claim.still_at(pending_path) &&
                result.status != UploadStatus::retry_later) {
                Report r = held.report;
                r.state = result.status == UploadStatus::sent ? ReportState::uploaded : ReportState::rejected;
                r.server_id = result.server_id;
                r.attempts = 1;
                if (!db_.complete(&r, &error)) log("could not complete " + id + ": " + error);
            }
        }
    }

    helper_config config_;
    const Transport* custom_;
    const BeforeUpload* before_;  // Options::before_upload, or nullptr
    sigsafe::region_header* region_ = nullptr;
    database db_;
    std::string client_id_;
    Report defaults_;  // for a dump whose metadata is missing or damaged
    std::mutex mutex_;
    std::mutex log_mutex_;
    std::condition_variable wake_;
    std::map<std::string, queued> queue_;
    std::map<std::string, memory_report> memory_;  // dumps that could not be stored
    std::condition_variable done_;                  // the worker ended, or a commit did
    clock::time_point deadline_{};                  // once finishing: the end of the linger time
    std::string log_path_;
    long long log_cap_;
    bool owns_log_;          // stderr is <database>/helper.log: rotate it
    bool finishing_ = false;
    bool started_ = false;   // begin() ran (the worker has a queue to work)
    bool worker_running_ = false;
    bool joined_ = false;
    bool abandoned_ = false;  // the linger time is over: record nothing more
    bool in_commit_ = false;  // an answer is being recorded
};

/// Puts each of `added` into `annotations`, in place of an annotation of the same name (the
/// helper's own facts, such as hang_ms or exit_reason, win over the application's: a key listed
/// twice would be ambiguous to readers).
inline void override_annotations(std::vector<std::pair<std::string, std::string>>* annotations,
                                 const std::vector<std::pair<std::string, std::string>>& added) {
    for (const auto& e : added) {
        annotations->erase(std::remove_if(annotations->begin(), annotations->end(),
                                          [&e](const std::pair<std::string, std::string>& a) { return a.first == e.first; }),
                           annotations->end());
        annotations->push_back(e);
    }
}

/// Stores a dump the helper holds (written or built by the helper itself) as pending/<id>.dmp
/// and describes it in *out: its kind and context read back from the dump, as for any other.
inline bool store_helper_dump(helper_service* service, const std::string& id, const std::string& dump, std::time_t created,
                              Report* out, std::string* error) {
    if (dump.empty() || !write_file_atomic(service->db().pending_dir(), id + ".dmp", dump, true, error)) return false;
    Report r;
    r.id = id;
    r.created = created;
    r.product = service->config().product;
    r.version = service->config().version;
    read_dump_context(reinterpret_cast<const std::uint8_t*>(dump.data()), dump.size(), &r);
    *out = r;
    return true;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
