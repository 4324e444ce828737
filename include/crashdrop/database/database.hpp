// crashdrop/database/database.hpp - the crash database:
//   <root>/pending/<id>.dmp + <id>.meta     reports still to be sent
//   <root>/completed/<id>.dmp + <id>.meta   uploaded or rejected (kept, never resent)
//   <root>/attachments/<id>/                the helper's copies of a report's attachments
//   <root>/settings                         client id, upload consent, last upload time
//   <root>/runs                             how the previous run ended, the crash streak (runs.hpp)
//   <root>/quarantine/                      what was found planted or damaged, set aside
// Every file is written whole under a temporary name and renamed into place, so a reader never
// sees half of one. It stores; it never sends. Written against the file operations of
// files_posix.hpp / files_windows.hpp (POSIX: folders 0700, files 0600; Windows: the
// folder's inherited ACL, which for a per-user path is the user's).
// The database is the user's alone: check() refuses folders that are links, another user's, or
// writable by others; only well-formed report ids (is_report_id) become file names; no link is
// followed (the file layer opens everything relative to its folder); set_aside_strays() moves
// whatever does not belong (links, FIFOs, devices, names that are no report's, metadata nothing
// can be made of) into quarantine/ instead of reading it.
// Context: implementation TU; ordinary code (start(), the API, the helper), may allocate.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// dir + separator + name.
inline std::string path_join(const std::string& dir, const std::string& name) {
    return dir + k_path_separator + name;
}

/// Limits on the database; 0 disables one.
struct database_limits {
    std::size_t max_reports = 0;
    std::size_t max_bytes = 0;
    int max_age_days = 0;
};

class database {
public:
    explicit database(std::string root)
        : root_(std::move(root)), pending_(path_join(root_, "pending")), completed_(path_join(root_, "completed")) {}

    const std::string& root() const { return root_; }
    const std::string& pending_dir() const { return pending_; }
    const std::string& completed_dir() const { return completed_; }
    std::string attachments_root() const { return path_join(root_, "attachments"); }
    std::string quarantine_dir() const { return path_join(root_, "quarantine"); }
    /// Where the helper keeps copies of a report's attachments; empty for a malformed id.
    std::string attachments_dir(const std::string& id) const {
        return is_report_id(id) ? path_join(attachments_root(), id) : std::string();
    }

    /// The helper's copies of a report's attachments: the regular files of attachments/<id>/
    /// (links and anything else there are not), by name. This, never a path read from a file,
    /// is what is sent with a report.
    std::vector<std::string> attachment_files(const std::string& id) const {
        std::vector<std::string> out;
        const std::string dir = attachments_dir(id);
        if (dir.empty()) return out;
        std::vector<std::string> names = list_directory(dir);
        std::sort(names.begin(), names.end());
        for (const auto& name : names) {
            if (name[0] == '.') continue;  // a copy being written
            const std::string path = path_join(dir, name);
            if (file_kind(path) == entry_kind::file) out.push_back(path);
        }
        return out;
    }

    /// Removes a report's attachment copies (with the report); returns their size.
    std::size_t remove_attachments(const std::string& id, bool only_measure = false) const {
        const std::string dir = attachments_dir(id);
        if (dir.empty()) return 0;
        bool ok = false;
        const std::vector<std::string> names = list_directory(dir, &ok);
        if (!ok) return 0;
        std::size_t bytes = 0;
        for (const auto& name : names) {
            std::uint64_t size = 0;
            if (file_info(path_join(dir, name), &size, nullptr)) bytes += static_cast<std::size_t>(size);
            if (!only_measure) remove_file(path_join(dir, name));
        }
        if (!only_measure) remove_directory(dir);
        return bytes;
    }
    std::string folder(ReportState s) const { return s == ReportState::pending ? pending_ : completed_; }

    /// Creates the folders. Returns 0 or the platform's error code; *where names what failed.
    int create(std::string* where) const {
        for (const std::string* dir : {&root_, &pending_, &completed_}) {
            if (int err = make_directories(*dir)) {
                if (where != nullptr) *where = *dir;
                return err;
            }
        }
        return 0;
    }

    /// Checks that every folder of the database (those that exist) is the user's alone: not a
    /// link, owned by this user, writable by nobody else. False with the reason otherwise.
    bool check(std::string* why) const {
        for (const std::string& dir : {root_, pending_, completed_}) {
            if (!check_private_folder(dir, why)) return false;
        }
        for (const std::string& dir : {attachments_root(), quarantine_dir()}) {
            if (file_kind(dir) != entry_kind::missing && !check_private_folder(dir, why)) return false;
        }
        return true;
    }

    /// Moves what does not belong in pending/, completed/ and attachments/ into quarantine/
    /// (never reading or following it): symbolic links, FIFOs, devices, sockets; .dmp/.meta
    /// files whose name is not a report id; metadata without a dump that cannot be decoded;
    /// attachment folders not named by a report id, and anything but regular files in them.
    /// Temporary files (names starting with '.') are left to prune(). Returns one line per
    /// entry set aside, for the log.
    std::vector<std::string> set_aside_strays() const {
        std::vector<std::string> lines;
        auto set_aside = [&](const std::string& path, const std::string& why) {
            lines.push_back(path + ": " + why + "; " + quarantine(path));
        };
        for (const std::string* dir : {&pending_, &completed_}) {
            for (const auto& name : list_directory(*dir)) {
                const std::string path = path_join(*dir, name);
                const entry_kind kind = file_kind(path);
                if (kind == entry_kind::link) set_aside(path, "a symbolic link");
                else if (kind == entry_kind::other) set_aside(path, "not a regular file");
                if (kind != entry_kind::file || name[0] == '.') continue;
                const bool dump = ends_with(name, ".dmp"), meta = ends_with(name, ".meta");
                if (!dump && !meta) continue;  // not ours to judge; never read
                const std::string id = name.substr(0, name.size() - (dump ? 4 : 5));
                if (!is_report_id(id)) {
                    set_aside(path, "not named by a report id");
                } else if (meta && file_kind(path_join(*dir, id + ".dmp")) == entry_kind::missing) {
                    std::string text, error;
                    Report r;
                    if (!read_whole_file(path, &text, 1u << 20) || !decode_report(text, &r, &error) || r.id != id) {
                        if (file_kind(path) == entry_kind::missing) continue;  // completed by a sender meanwhile
                        set_aside(path, "metadata without a dump that cannot be read (" + (error.empty() ? "mismatched id" : error) + ")");
                    }
                }
            }
        }
        for (const auto& name : list_directory(attachments_root())) {
            const std::string path = path_join(attachments_root(), name);
            const entry_kind kind = file_kind(path);
            if (kind != entry_kind::folder) {
                if (name[0] != '.' || kind != entry_kind::file) set_aside(path, "not a report's attachment folder");
                continue;
            }
            if (!is_report_id(name)) {
                set_aside(path, "not named by a report id");
                continue;
            }
            for (const auto& inner : list_directory(path)) {
                const std::string file = path_join(path, inner);
                const entry_kind k = file_kind(file);
                if (k == entry_kind::link) set_aside(file, "a symbolic link");
                else if (k != entry_kind::file) set_aside(file, "not a regular file");
            }
        }
        return lines;
    }

    /// The reports of one folder, oldest first. A dump without metadata (written by a crashed
    /// process itself, when no helper took it) gets metadata made from what is known.
    std::vector<Report> list(ReportState folder_state, const Report* defaults = nullptr) const {
        std::vector<Report> out;
        const std::string dir = folder(folder_state);
        for (const auto& name : list_directory(dir)) {
            if (name.size() != 40 || name.compare(36, 4, ".dmp") != 0 || name[0] == '.') continue;
            const std::string id = name.substr(0, 36);
            if (!is_report_id(id) || file_kind(path_join(dir, name)) != entry_kind::file) continue;  // never followed
            Report r;
            std::string text, error;
            if (!read_whole_file(path_join(dir, id + ".meta"), &text) || !decode_report(text, &r, &error) || r.id != id) {
                std::time_t modified = 0;
                if (!file_info(path_join(dir, name), nullptr, &modified)) continue;
                if (defaults != nullptr) r = *defaults;
                r.id = id;
                r.created = modified;
                r.state = folder_state;
            }
            r.dump_path = path_join(dir, name);
            out.push_back(std::move(r));
        }
        std::sort(out.begin(), out.end(), [](const Report& a, const Report& b) {
            return a.created != b.created ? a.created < b.created : a.id < b.id;
        });
        return out;
    }

    /// Writes the report's metadata into the folder its state belongs in.
    bool save(const Report& r, bool sync, std::string* error) const {
        return write_file_atomic(folder(r.state), r.id + ".meta", encode_report(r), sync, error);
    }

    /// Moves a pending report to completed/ under its new state (uploaded or rejected). The new
    /// metadata is written first, so an interruption at worst sends a report twice, never loses it.
    bool complete(Report* r, std::string* error) const {
        if (!save(*r, true, error)) return false;
        // The pending metadata goes before the dump moves, so pending/ never holds metadata
        // without its dump (which a starting helper would take for a planted file). The dump,
        // claimed by the caller, briefly has none: an interruption then resends it, never loses it.
        remove_file(path_join(pending_, r->id + ".meta"));
        const std::string from = path_join(pending_, r->id + ".dmp");
        const std::string to = path_join(completed_, r->id + ".dmp");
        if (!move_file(from, to, error)) return false;
        fsync_directory(pending_);
        fsync_directory(completed_);
        r->dump_path = to;
        return true;
    }

    /// The helper's log and its one rotated predecessor (they count against max_bytes).
    std::string helper_log_path() const { return path_join(root_, "helper.log"); }
    std::size_t log_bytes() const {
        std::uint64_t a = 0, b = 0;
        file_info(helper_log_path(), &a, nullptr);
        file_info(helper_log_path() + ".1", &b, nullptr);
        return static_cast<std::size_t>(a + b);
    }

    /// Removes whole reports, oldest first, until the limits hold (the helper's logs count
    /// towards max_bytes); also leftovers of interrupted writes (temporary files) older than an
    /// hour. A report is claimed before it is removed, so one that a sender holds is never
    /// pruned under it: it is passed over and not counted (it is about to be completed; a
    /// later pruning bounds it), so no other report is removed in its place. Returns the ids
    /// removed.
    std::vector<std::string> prune(const database_limits& limits, std::time_t now) const {
        std::vector<Report> all = list(ReportState::pending);
        for (auto& r : list(ReportState::uploaded)) all.push_back(std::move(r));
        std::sort(all.begin(), all.end(), [](const Report& a, const Report& b) { return a.created < b.created; });
        auto meta_of = [](const Report& r) { return r.dump_path.substr(0, r.dump_path.size() - 4) + ".meta"; };
        auto size_of = [this, &meta_of](const Report& r) {
            std::uint64_t dump = 0, meta = 0;
            file_info(r.dump_path, &dump, nullptr);
            file_info(meta_of(r), &meta, nullptr);
            return static_cast<std::size_t>(dump + meta) + remove_attachments(r.id, true);
        };
        std::size_t total = log_bytes();
        std::vector<std::size_t> sizes;
        for (const auto& r : all) {
            sizes.push_back(size_of(r));
            total += sizes.back();
        }
        std::vector<std::string> removed;
        std::size_t count = all.size();
        // Reports being sent are leaving: they do not count, so no other report is removed in
        // their place (a later pruning bounds them once they are completed).
        std::vector<bool> held(all.size(), false);
        for (std::size_t i = 0; i < all.size(); ++i) {
            report_claim probe;
            held[i] = probe.try_claim(all[i].dump_path) != report_claim::claimed;
            if (held[i]) {
                --count;
                total -= sizes[i];
            }
        }
        for (std::size_t i = 0; i < all.size(); ++i) {
            if (held[i]) continue;
            const bool too_many = limits.max_reports != 0 && count > limits.max_reports;
            const bool too_big = limits.max_bytes != 0 && total > limits.max_bytes;
            const bool too_old = limits.max_age_days > 0 &&
                                 all[i].created < now - static_cast<std::time_t>(limits.max_age_days) * 86400;
            if (!too_many && !too_big && !too_old) continue;
            report_claim claim;
            const auto claimed = claim.try_claim(all[i].dump_path);
            if (claimed != report_claim::claimed || !claim.still_at(all[i].dump_path)) {
                --count;  // being sent (never removed under its sender), or gone meanwhile
                total -= sizes[i];
                continue;
            }
            remove_file(all[i].dump_path);
            remove_file(meta_of(all[i]));
            remove_attachments(all[i].id);
            removed.push_back(all[i].id);
            --count;
            total -= sizes[i];
        }
        for (const std::string* dir : {&pending_, &completed_}) {
            for (const auto& name : list_directory(*dir)) {
                if (name.size() <= 1 || name[0] != '.' || name.find(".tmp") == std::string::npos) continue;
                std::time_t modified = 0;
                const std::string path = path_join(*dir, name);
                if (file_info(path, nullptr, &modified) && modified < now - 3600) remove_file(path);
            }
        }
        return removed;
    }

    // ---- settings: client id, consent, last upload ----

    std::map<std::string, std::string> settings() const {
        std::string text;
        read_whole_file(path_join(root_, "settings"), &text, 1u << 20);
        return parse_key_values(text);
    }

    /// Read-modify-write of the settings under an exclusive lock (the application and its
    /// helper both write them).
    template <typename F>
    bool update_settings(F&& change, std::string* error) const {
        file_lock lock;
        if (!lock.acquire(path_join(root_, "settings.lock"), error)) return false;
        auto kv = settings();
        change(kv);
        return write_file_atomic(root_, "settings", format_key_values(kv), true, error);
    }

    /// This installation's stable id, created on first use.
    std::string client_id(const std::string& fresh_id) const {
        std::string id = settings()["client_id"];
        if (is_report_id(id)) return id;
        update_settings(
            [&](std::map<std::string, std::string>& kv) {
                if (!is_report_id(kv["client_id"])) kv["client_id"] = fresh_id;
                id = kv["client_id"];
            },
            nullptr);
        return id;
    }

    bool consent() const {
        const auto kv = settings();
        auto it = kv.find("upload_to_server");
        return it == kv.end() || it->second != "0";
    }

    // ---- the run record (<db>/runs): how the previous run ended, crash loops ----
    // Text, key=value: `state` (started | clean_exit | crashed | hung | abnormal_exit), `pid`
    // (the process of the run it describes), `crashes` (while started: the crash streak before
    // this run; once ended: the streak including it). Rewritten whole (write_file_atomic, never
    // through a link) under the settings lock: the application and its helper both write it.

    static const char* run_state_name(RunOutcome o) {
        switch (o) {
            case RunOutcome::clean_exit: return "clean_exit";
            case RunOutcome::crashed: return "crashed";
            case RunOutcome::hung: return "hung";
            case RunOutcome::abnormal_exit: return "abnormal_exit";
            case RunOutcome::unknown: break;
        }
        return "unknown";
    }

    /// Reads how the previous run ended (a leftover "started" reads as unknown) and the crash
    /// streak up to it, then records this run as started by `pid`. Not `durable` (start() with a
    /// helper to come, which fsyncs it): rewritten in place without an fsync where it can be
    /// (rewrite_in_place), else replaced without one.
    bool begin_run(long pid, RunOutcome* previous, std::uint32_t* streak, std::string* error, bool durable = true) const {
        *previous = RunOutcome::unknown;
        *streak = 0;
        file_lock lock;
        if (!lock.acquire(path_join(root_, "settings.lock"), error)) return false;
        std::string text;
        read_whole_file(path_join(root_, "runs"), &text, 4096);
        auto kv = parse_key_values(text);
        const std::string& state = kv["state"];
        for (RunOutcome o : {RunOutcome::clean_exit, RunOutcome::crashed, RunOutcome::hung, RunOutcome::abnormal_exit}) {
            if (state == run_state_name(o)) *previous = o;
        }
        if (*previous == RunOutcome::crashed || *previous == RunOutcome::abnormal_exit) {
            const unsigned long n = std::strtoul(kv["crashes"].c_str(), nullptr, 10);
            *streak = n == 0 ? 1u : static_cast<std::uint32_t>(n > 1000000u ? 1000000u : n);
        }
        std::map<std::string, std::string> next;
        next["state"] = "started";
        next["pid"] = std::to_string(pid);
        next["crashes"] = std::to_string(*streak);
        const std::string record = format_key_values(next);
        if (!durable && rewrite_in_place("runs", record, text.size())) return true;
        return write_file_atomic(root_, "runs", record, durable, error);
    }

    /// Records how the run of `pid` ended. Only a run still recorded as started by that process
    /// changes (the first recorded end wins; a newer run's record is never touched). Without
    /// `sync` the record is in place (every reader sees it) but not yet durable: the caller
    /// fsyncs <root>/runs and the root later (the helper does, after answering a crash).
    bool end_run(long pid, RunOutcome outcome, std::string* error, bool sync = true) const {
        file_lock lock;
        if (!lock.acquire(path_join(root_, "settings.lock"), error)) return false;
        std::string text;
        read_whole_file(path_join(root_, "runs"), &text, 4096);
        auto kv = parse_key_values(text);
        if (kv["state"] != "started" || kv["pid"] != std::to_string(pid)) return false;
        unsigned long streak = std::strtoul(kv["crashes"].c_str(), nullptr, 10);
        if (streak > 1000000u) streak = 1000000u;
        const bool crash = outcome == RunOutcome::crashed || outcome == RunOutcome::abnormal_exit;
        kv["state"] = run_state_name(outcome);
        kv["crashes"] = std::to_string(crash ? streak + 1 : 0);
        const std::string record = format_key_values(kv);
        // Not synced (the helper, before its answer lets a crashed application die): rewritten
        // in place, as start() does (runs.hpp's begin_run_in): a rename over the old file makes
        // ext4 start the new file's writeback, 0.3-0.8 ms the crashed process would wait for.
        if (!sync && rewrite_in_place("runs", record, text.size())) return true;
        return write_file_atomic(root_, "runs", record, sync, error);
    }

    /// Rewrites the small file `name` in place, padded with empty lines to at least its old
    /// length `old_size` (no truncation; a record under 100 bytes is one block, written whole or
    /// not at all). False where that cannot be done (no such regular file of that length, a
    /// failed write, or Windows); the caller then replaces the file instead.
    bool rewrite_in_place(const char* name, std::string record, std::size_t old_size) const {
#if CRASHDROP_OS_WINDOWS
        (void)name, (void)record, (void)old_size;
        return false;
#else
        const int dir = open_folder(root_);
        const int fd = dir >= 0 ? openat(dir, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) : -1;
        if (dir >= 0) close(dir);
        if (fd < 0) return false;
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::size_t>(st.st_size) != old_size) {
            close(fd);
            return false;
        }
        if (record.size() < old_size) record.append(old_size - record.size(), '\n');
        std::size_t done = 0;
        while (done < record.size()) {
            const ssize_t n = pwrite(fd, record.data() + done, record.size() - done, static_cast<off_t>(done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        close(fd);
        return done == record.size();
#endif
    }

private:
    static bool ends_with(const std::string& s, const char* tail) {
        const std::size_t n = std::strlen(tail);
        return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
    }

    /// Moves one entry into quarantine/ (as "<folder>.<name>", numbered if taken); removes it
    /// when it cannot be moved or quarantine/ already holds 64 entries. Says which.
    std::string quarantine(const std::string& path) const {
        const std::string dir = quarantine_dir();
        std::string error;
        if (int err = make_directories(dir)) return "could not be set aside (" + dir + ": " + error_text(err) + ")";
        std::string why;
        if (!check_private_folder(dir, &why)) return "not set aside (" + why + ")";
        const std::size_t held = list_directory(dir).size();
        std::string folder_name = path.substr(0, path.find_last_of("/\\"));
        folder_name = folder_name.substr(folder_name.find_last_of("/\\") + 1);
        const std::string base = folder_name + "." + path.substr(path.find_last_of("/\\") + 1);
        if (held < 64) {
            for (int n = 0; n < 100; ++n) {
                const std::string target = path_join(dir, n == 0 ? base : base + "." + std::to_string(n));
                if (file_kind(target) != entry_kind::missing) continue;
                if (move_file(path, target, &error)) return "set aside as " + target;
                break;
            }
        }
        if (remove_file(path) || remove_directory(path)) return "removed (quarantine full or not movable)";
        return "could not be set aside (" + error + ")";
    }

    std::string root_;
    std::string pending_;
    std::string completed_;
};

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
