// crashdrop/database/files_posix.hpp - the file operations the crash database and the helper
// use, on POSIX: whole-file reads, atomic writes (temporary file + rename), folder listing, an
// exclusive lock file. files_windows.hpp has the same functions for Windows; database.hpp is
// written against these only. Paths are UTF-8 strings.
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


/// The platform's error text for an errno value (the Windows file uses Win32 error codes).
inline std::string error_text(int err) { return errno_text(err); }
inline int last_error() { return errno; }
inline long current_process_id() { return static_cast<long>(getpid()); }
constexpr char k_path_separator = '/';

/// The names in a folder (without "." and ".."); *ok says whether it could be read.
inline std::vector<std::string> list_directory(const std::string& dir, bool* ok = nullptr) {
    std::vector<std::string> names;
    DIR* d = opendir(dir.c_str());
    if (ok != nullptr) *ok = d != nullptr;
    if (d == nullptr) return names;
    while (dirent* e = readdir(d)) {
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
    }
    closedir(d);
    return names;
}

/// Size and modification time of a file; false if it does not exist.
inline bool file_info(const std::string& path, std::uint64_t* size, std::time_t* modified) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return false;
    if (size != nullptr) *size = static_cast<std::uint64_t>(st.st_size);
    if (modified != nullptr) *modified = st.st_mtime;
    return true;
}

inline bool remove_file(const std::string& path) { return unlink(path.c_str()) == 0; }
inline bool remove_directory(const std::string& path) { return rmdir(path.c_str()) == 0; }

/// Renames a file, replacing the target.
inline bool move_file(const std::string& from, const std::string& to, std::string* error) {
    if (rename(from.c_str(), to.c_str()) == 0) return true;
    if (error != nullptr) *error = from + ": " + errno_text(errno);
    return false;
}

/// An exclusive lock on a lock file, shared by every process using the database (flock).
class file_lock {
public:
    file_lock() = default;
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;
    ~file_lock() {
        if (fd_ >= 0) {
            flock(fd_, LOCK_UN);
            close(fd_);
        }
    }
    bool acquire(const std::string& path, std::string* error) {
        fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd_ < 0) {
            if (error != nullptr) *error = path + ": " + errno_text(errno);
            return false;
        }
        while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
        }
        return true;
    }

private:
    int fd_ = -1;
};

/// A sender's claim on one report: an exclusive flock on its dump file, taken without waiting.
/// The lock belongs to the open file, so it ends when the holder releases it, closes the file
/// or dies (a killed helper never leaves a report claimed). Every process that sends, repairs
/// or prunes a report claims it first; after the claim, still_at() tells whether the file is
/// still the pending one (another sender may have completed it just before).
class report_claim {
public:
    enum outcome { claimed, busy, gone };
    report_claim() = default;
    report_claim(const report_claim&) = delete;
    report_claim& operator=(const report_claim&) = delete;
    report_claim(report_claim&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    report_claim& operator=(report_claim&& other) noexcept {
        if (this != &other) {
            release();
            fd_ = other.fd_;
            other.fd_ = -1;
        }
        return *this;
    }
    ~report_claim() { release(); }

    outcome try_claim(const std::string& dump_path) {
        release();
        const int fd = open(dump_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0) return errno == ENOENT ? gone : busy;
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            return gone;  // not a dump file (prune and list pass such names over)
        }
        int r;
        while ((r = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
        }
        if (r != 0) {
            close(fd);
            return busy;
        }
        fd_ = fd;
        return claimed;
    }
    /// Takes over an open file the caller has already locked (flock LOCK_EX).
    void adopt(int fd) {
        release();
        fd_ = fd;
    }
    /// Locks an open file (a dump not yet named) and holds it; false if it cannot be locked.
    bool lock_open_file(int fd) {
        int r;
        while ((r = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
        }
        if (r != 0) return false;
        adopt(fd);
        return true;
    }
    /// Whether the claimed file is still the one named `path`.
    bool still_at(const std::string& path) const {
        struct stat held, named;
        return fd_ >= 0 && fstat(fd_, &held) == 0 && held.st_nlink > 0 && stat(path.c_str(), &named) == 0 &&
               named.st_dev == held.st_dev && named.st_ino == held.st_ino;
    }
    bool held() const { return fd_ >= 0; }
    void release() {
        if (fd_ >= 0) {
            flock(fd_, LOCK_UN);
            close(fd_);
            fd_ = -1;
        }
    }

private:
    int fd_ = -1;
};

// ---- the helper's log: <database>/helper.log on the helper's standard error ----

/// The size of helper.log, if the helper's standard error is that very file; -1 when it is
/// not (another helper rotated it, or stderr is something else).
inline long long helper_log_size(const std::string& path) {
    struct stat mine, named;
    if (fstat(2, &mine) != 0 || stat(path.c_str(), &named) != 0) return -1;
    if (mine.st_dev != named.st_dev || mine.st_ino != named.st_ino) return -1;
    return static_cast<long long>(mine.st_size);
}

/// Points the standard error at `path` again (appending, created 0600 if missing).
inline bool reopen_helper_log(const std::string& path) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return false;
    const bool ok = dup2(fd, 2) == 2;
    close(fd);
    return ok;
}

/// helper.log grown past `cap` becomes helper.log.1 (replacing the older one) and a new
/// helper.log is started, under an exclusive lock on the log itself so that helpers of
/// several applications rotate it once. Returns whether this call rotated it.
inline bool rotate_helper_log(const std::string& path, long long cap) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return false;
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    bool rotated = false;
    struct stat held, named;
    // Still the current log (not rotated by another helper meanwhile), and still too large.
    if (fstat(fd, &held) == 0 && stat(path.c_str(), &named) == 0 && held.st_dev == named.st_dev &&
        held.st_ino == named.st_ino && held.st_size >= cap) {
        rotated = rename(path.c_str(), (path + ".1").c_str()) == 0;
    }
    flock(fd, LOCK_UN);
    close(fd);
    return rotated;
}

/// Unix seconds as UTC calendar time (for log lines and timestamps).
inline bool utc_time(std::time_t t, std::tm* out) {
    return gmtime_r(&t, out) != nullptr;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX
