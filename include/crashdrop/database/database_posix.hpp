// crashdrop/database/database_posix.hpp - the crash database on POSIX file systems:
//   <root>/pending/<id>.dmp + <id>.meta     reports still to be sent
//   <root>/completed/<id>.dmp + <id>.meta   uploaded or rejected (kept, never resent)
//   <root>/settings                         client id, upload consent, last upload time
// Folders are 0700, files 0600. Every file is written whole under a temporary name and renamed
// into place, so a reader never sees half of one. It stores; it never sends.
// Context: implementation TU; ordinary code (start(), the API, the helper), may allocate.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

inline std::string errno_text(int err) {
    char buf[128];
    // GNU strerror_r returns the message pointer; XSI returns int. Handle both.
    auto r = strerror_r(err, buf, sizeof(buf));
    if constexpr (std::is_same<decltype(r), int>::value) {
        return r == 0 ? std::string(buf) : std::string("errno ") + std::to_string(err);
    } else {
        return std::string(r);
    }
}

/// mkdir -p with mode 0700 for every folder it creates. Returns 0 or an errno value.
inline int make_directories(const std::string& path) {
    if (path.empty()) return ENOENT;
    std::string partial;
    for (std::size_t i = 0; i <= path.size(); ++i) {
        if (i == path.size() || (path[i] == '/' && i > 0)) {
            partial.assign(path, 0, i);
            if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) return errno;
        }
    }
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return errno;
    if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    return 0;
}

/// Reads at most the last `limit` bytes of a file; *cut says whether the start was left out.
inline bool read_file_tail(const std::string& path, std::size_t limit, std::string* out, bool* cut) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;  // not a regular file (a FIFO would block the helper)
        return false;
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    const std::size_t skip = size > limit ? size - limit : 0;
    *cut = skip > 0;
    out->assign(size - skip, '\0');
    std::size_t done = 0;
    while (done < out->size()) {
        const ssize_t n = pread(fd, &(*out)[done], out->size() - done, static_cast<off_t>(skip + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    out->resize(done);  // a file that shrank meanwhile
    close(fd);
    return true;
}

inline bool read_whole_file(const std::string& path, std::string* out, std::size_t limit = 64u << 20) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return false;
    out->clear();
    char buf[65536];
    for (;;) {
        const ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out->append(buf, static_cast<std::size_t>(n));
        if (out->size() > limit) break;
    }
    close(fd);
    return true;
}

inline bool fsync_directory(const std::string& dir) {
    const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

/// Writes `content` to dir/name: a temporary file (O_EXCL, O_NOFOLLOW, 0600) renamed over the
/// name. With `sync`, the data reaches the disk before the rename.
inline bool write_file_atomic(const std::string& dir, const std::string& name, const std::string& content, bool sync,
                              std::string* error) {
    static std::atomic<unsigned> counter{0};
    const std::string tmp = dir + "/." + name + ".tmp" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    const std::string final_path = dir + "/" + name;
    const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (error != nullptr) *error = tmp + ": " + errno_text(errno);
        return false;
    }
    std::size_t done = 0;
    bool ok = true;
    while (done < content.size()) {
        const ssize_t n = write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ok = false;
            if (error != nullptr) *error = tmp + ": " + errno_text(errno);
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    if (ok && sync && fsync(fd) != 0) {
        ok = false;
        if (error != nullptr) *error = tmp + ": fsync: " + errno_text(errno);
    }
    close(fd);
    if (ok && rename(tmp.c_str(), final_path.c_str()) != 0) {
        ok = false;
        if (error != nullptr) *error = final_path + ": " + errno_text(errno);
    }
    if (!ok) unlink(tmp.c_str());
    return ok;
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
        : root_(std::move(root)), pending_(root_ + "/pending"), completed_(root_ + "/completed") {}

    const std::string& root() const { return root_; }
    const std::string& pending_dir() const { return pending_; }
    const std::string& completed_dir() const { return completed_; }
    /// Where the helper keeps copies of a report's attachments.
    std::string attachments_dir(const std::string& id) const { return root_ + "/attachments/" + id; }

    /// Removes a report's attachment copies (with the report).
    std::size_t remove_attachments(const std::string& id, bool only_measure = false) const {
        const std::string dir = attachments_dir(id);
        DIR* d = opendir(dir.c_str());
        if (d == nullptr) return 0;
        std::vector<std::string> names;
        while (dirent* e = readdir(d)) {
            if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
        }
        closedir(d);
        std::size_t bytes = 0;
        for (const auto& name : names) {
            struct stat st;
            if (stat((dir + "/" + name).c_str(), &st) == 0) bytes += static_cast<std::size_t>(st.st_size);
            if (!only_measure) unlink((dir + "/" + name).c_str());
        }
        if (!only_measure) rmdir(dir.c_str());
        return bytes;
    }
    std::string folder(ReportState s) const { return s == ReportState::pending ? pending_ : completed_; }

    /// Creates the folders (0700). Returns 0 or an errno value; *where names what failed.
    int create(std::string* where) const {
        for (const std::string* dir : {&root_, &pending_, &completed_}) {
            if (int err = make_directories(*dir)) {
                if (where != nullptr) *where = *dir;
                return err;
            }
        }
        return 0;
    }

    /// The reports of one folder, oldest first. A dump without metadata (written by a crashed
    /// process itself, when no helper took it) gets metadata made from what is known.
    std::vector<Report> list(ReportState folder_state, const Report* defaults = nullptr) const {
        std::vector<Report> out;
        const std::string dir = folder(folder_state);
        DIR* d = opendir(dir.c_str());
        if (d == nullptr) return out;
        std::vector<std::string> names;
        while (dirent* e = readdir(d)) names.emplace_back(e->d_name);
        closedir(d);
        for (const auto& name : names) {
            if (name.size() != 40 || name.compare(36, 4, ".dmp") != 0 || name[0] == '.') continue;
            const std::string id = name.substr(0, 36);
            Report r;
            std::string text, error;
            if (!read_whole_file(dir + "/" + id + ".meta", &text) || !decode_report(text, &r, &error) || r.id != id) {
                struct stat st;
                if (stat((dir + "/" + name).c_str(), &st) != 0) continue;
                if (defaults != nullptr) r = *defaults;
                r.id = id;
                r.created = st.st_mtime;
                r.state = folder_state;
            }
            r.dump_path = dir + "/" + name;
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
        const std::string from = pending_ + "/" + r->id + ".dmp";
        const std::string to = completed_ + "/" + r->id + ".dmp";
        if (rename(from.c_str(), to.c_str()) != 0) {
            if (error != nullptr) *error = from + ": " + errno_text(errno);
            return false;
        }
        unlink((pending_ + "/" + r->id + ".meta").c_str());
        fsync_directory(pending_);
        fsync_directory(completed_);
        r->dump_path = to;
        return true;
    }

    /// Removes whole reports, oldest first, until the limits hold; also leftovers of
    /// interrupted writes (temporary files) older than an hour. Returns the ids removed.
    std::vector<std::string> prune(const database_limits& limits, std::time_t now) const {
        std::vector<Report> all = list(ReportState::pending);
        for (auto& r : list(ReportState::uploaded)) all.push_back(std::move(r));
        std::sort(all.begin(), all.end(), [](const Report& a, const Report& b) { return a.created < b.created; });
        auto size_of = [this](const Report& r) {
            struct stat st;
            std::size_t total = 0;
            if (stat(r.dump_path.c_str(), &st) == 0) total += static_cast<std::size_t>(st.st_size);
            const std::string meta = r.dump_path.substr(0, r.dump_path.size() - 4) + ".meta";
            if (stat(meta.c_str(), &st) == 0) total += static_cast<std::size_t>(st.st_size);
            return total + remove_attachments(r.id, true);
        };
        std::size_t total = 0;
        std::vector<std::size_t> sizes;
        for (const auto& r : all) {
            sizes.push_back(size_of(r));
            total += sizes.back();
        }
        std::vector<std::string> removed;
        std::size_t count = all.size();
        for (std::size_t i = 0; i < all.size(); ++i) {
            const bool too_many = limits.max_reports != 0 && count > limits.max_reports;
            const bool too_big = limits.max_bytes != 0 && total > limits.max_bytes;
            const bool too_old = limits.max_age_days > 0 &&
                                 all[i].created < now - static_cast<std::time_t>(limits.max_age_days) * 86400;
            if (!too_many && !too_big && !too_old) continue;
            unlink(all[i].dump_path.c_str());
            unlink((all[i].dump_path.substr(0, all[i].dump_path.size() - 4) + ".meta").c_str());
            remove_attachments(all[i].id);
            removed.push_back(all[i].id);
            --count;
            total -= sizes[i];
        }
        for (const std::string* dir : {&pending_, &completed_}) {
            DIR* d = opendir(dir->c_str());
            if (d == nullptr) continue;
            std::vector<std::string> stale;
            while (dirent* e = readdir(d)) {
                const std::string name = e->d_name;
                if (name.size() > 1 && name[0] == '.' && name.find(".tmp") != std::string::npos) stale.push_back(name);
            }
            closedir(d);
            for (const auto& name : stale) {
                struct stat st;
                const std::string path = *dir + "/" + name;
                if (stat(path.c_str(), &st) == 0 && st.st_mtime < now - 3600) unlink(path.c_str());
            }
        }
        return removed;
    }

    // ---- settings: client id, consent, last upload ----

    std::map<std::string, std::string> settings() const {
        std::string text;
        read_whole_file(root_ + "/settings", &text, 1u << 20);
        return parse_key_values(text);
    }

    /// Read-modify-write of the settings under an exclusive lock (the application and its
    /// helper both write them).
    template <typename F>
    bool update_settings(F&& change, std::string* error) const {
        const std::string lock_path = root_ + "/settings.lock";
        const int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (lock < 0) {
            if (error != nullptr) *error = lock_path + ": " + errno_text(errno);
            return false;
        }
        while (flock(lock, LOCK_EX) != 0 && errno == EINTR) {
        }
        auto kv = settings();
        change(kv);
        const bool ok = write_file_atomic(root_, "settings", format_key_values(kv), true, error);
        flock(lock, LOCK_UN);
        close(lock);
        return ok;
    }

    /// This installation's stable id, created on first use.
    std::string client_id(const std::string& fresh_id) const {
        std::string id = settings()["client_id"];
        if (id.size() == 36) return id;
        update_settings(
            [&](std::map<std::string, std::string>& kv) {
                if (kv["client_id"].size() != 36) kv["client_id"] = fresh_id;
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

private:
    std::string root_;
    std::string pending_;
    std::string completed_;
};

/// Creates the folders and proves a report can be written there (a probe file is created
/// exclusively and removed). On failure returns Error::database_unavailable with the reason.
struct database_layout {
    std::string root;     // absolute
    std::string pending;  // absolute
    std::string completed;
    int pending_fd = -1;  // O_DIRECTORY, for openat() on the crash path
};

inline Status prepare_database(const std::string& root_in, database_layout* out) {
    if (int err = make_directories(root_in)) {
        return Status(Error::database_unavailable, "database_path '" + root_in + "' cannot be created: " + errno_text(err));
    }
    char* resolved = realpath(root_in.c_str(), nullptr);
    if (resolved == nullptr) {
        return Status(Error::database_unavailable, "database_path '" + root_in + "': " + errno_text(errno));
    }
    database db(resolved);
    std::free(resolved);
    std::string where;
    if (int err = db.create(&where)) {
        return Status(Error::database_unavailable, "'" + where + "' cannot be created: " + errno_text(err));
    }
    out->root = db.root();
    out->pending = db.pending_dir();
    out->completed = db.completed_dir();
    const int fd = open(out->pending.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status(Error::database_unavailable, "'" + out->pending + "' cannot be opened: " + errno_text(errno));
    const std::string probe = ".write-probe-" + std::to_string(getpid()) + ".tmp";
    const int pfd = openat(fd, probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int err = pfd < 0 ? errno : 0;
    if (pfd >= 0) {
        if (write(pfd, "x", 1) != 1) err = errno != 0 ? errno : EIO;
        close(pfd);
        unlinkat(fd, probe.c_str(), 0);
    }
    if (err != 0) {
        close(fd);
        return Status(Error::database_unavailable, "'" + out->pending + "' is not writable: " + errno_text(err));
    }
    out->pending_fd = fd;
    return Status::success();
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX
