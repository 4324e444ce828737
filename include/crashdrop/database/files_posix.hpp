// crashdrop/database/files_posix.hpp - the file operations the crash database and the helper
// use, on POSIX: whole-file reads, atomic writes (temporary file + rename), folder listing, an
// exclusive lock file, and the checks that keep the database the user's alone. files_windows.hpp
// has the same functions for Windows; database.hpp is written against these only. Paths are
// UTF-8 strings.
// Every function that takes a database path opens the path's folder with O_DIRECTORY|O_NOFOLLOW
// and then works relative to it (openat, fstatat, renameat, unlinkat) without following a link
// in the last part either: a symbolic link planted as a database file or folder is never
// followed. Files are opened O_NONBLOCK and read only when fstat says they are regular files (a
// FIFO or a device never blocks the helper). Only read_file_tail(follow_links = true), for the
// application's own attachment paths, and read_system_file (/proc) follow links.
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

/// Opens a database folder for the *at() calls: never through a symbolic link as its last part.
inline int open_folder(const std::string& dir) {
    return open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/// A path as its folder (opened with open_folder) and its last part, for the *at() calls.
class folder_entry {
public:
    explicit folder_entry(const std::string& path) {
        std::string p = path;
        while (p.size() > 1 && p.back() == '/') p.pop_back();
        const std::size_t slash = p.rfind('/');
        name_ = slash == std::string::npos ? p : p.substr(slash + 1);
        dir_ = open_folder(slash == std::string::npos ? std::string(".") : slash == 0 ? std::string("/") : p.substr(0, slash));
    }
    ~folder_entry() {
        if (dir_ >= 0) close(dir_);
    }
    folder_entry(const folder_entry&) = delete;
    folder_entry& operator=(const folder_entry&) = delete;
    bool ok() const { return dir_ >= 0 && !name_.empty() && name_ != "." && name_ != ".."; }
    int dir() const { return dir_; }
    const char* name() const { return name_.c_str(); }

private:
    int dir_ = -1;
    std::string name_;
};

/// Opens a file for reading without blocking (a FIFO or a device opens at once), and keeps it
/// only if it is a regular file (errno EINVAL otherwise). `follow_links`: the last part may be
/// a symbolic link (the application's own attachment paths); otherwise the path is a database
/// file, opened relative to its folder without following a link anywhere in its last two parts.
inline int open_regular_file(const std::string& path, bool follow_links, struct stat* st) {
    int fd;
    if (follow_links) {
        fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    } else {
        folder_entry at(path);
        if (!at.ok()) return -1;
        fd = openat(at.dir(), at.name(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        errno = EINVAL;  // not a regular file (a FIFO would block the helper)
        return -1;
    }
    return fd;
}

/// Reads at most the last `limit` bytes of a regular file; *cut says whether the start was left
/// out. With follow_links false, the path is a database file (see open_regular_file).
inline bool read_file_tail(const std::string& path, std::size_t limit, std::string* out, bool* cut, bool follow_links = true) {
    struct stat st;
    const int fd = open_regular_file(path, follow_links, &st);
    if (fd < 0) return false;
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

/// Reads up to `limit` (+ one buffer) bytes from an open file.
inline void read_all(int fd, std::string* out, std::size_t limit) {
    out->clear();
    char buf[65536];
    for (;;) {
        const ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out->append(buf, static_cast<std::size_t>(n));
        if (out->size() > limit) break;
    }
}

/// Reads a database file (regular, no link followed; see open_regular_file).
inline bool read_whole_file(const std::string& path, std::string* out, std::size_t limit = 64u << 20) {
    struct stat st;
    const int fd = open_regular_file(path, false, &st);
    if (fd < 0) return false;
    read_all(fd, out, limit);
    close(fd);
    return true;
}

/// Reads a file of the system (/proc/self/cmdline: its size is 0 until read; /proc/self is a link).
inline bool read_system_file(const std::string& path, std::string* out, std::size_t limit) {
    const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return false;
    read_all(fd, out, limit);
    close(fd);
    return true;
}

inline bool fsync_directory(const std::string& dir) {
    const int fd = open_folder(dir);
    if (fd < 0) return false;
    const bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

/// Writes `content` to dir/name: a temporary file (O_EXCL, O_NOFOLLOW, 0600) renamed over the
/// name, both relative to the folder (opened without following a link). With `sync`, the data
/// reaches the disk before the rename.
inline bool write_file_atomic(const std::string& dir, const std::string& name, const std::string& content, bool sync,
                              std::string* error) {
    static std::atomic<unsigned> counter{0};
    const std::string tmp = "." + name + ".tmp" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    const std::string final_path = dir + "/" + name;
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
        if (error != nullptr) *error = final_path + ": not a file name";
        return false;
    }
    const int dirfd = open_folder(dir);
    if (dirfd < 0) {
        if (error != nullptr) *error = dir + ": " + errno_text(errno);
        return false;
    }
    const int fd = openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (error != nullptr) *error = dir + "/" + tmp + ": " + errno_text(errno);
        close(dirfd);
        return false;
    }
    std::size_t done = 0;
    bool ok = true;
    while (done < content.size()) {
        const ssize_t n = write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ok = false;
            if (error != nullptr) *error = dir + "/" + tmp + ": " + errno_text(errno);
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    if (ok && sync && fsync(fd) != 0) {
        ok = false;
        if (error != nullptr) *error = dir + "/" + tmp + ": fsync: " + errno_text(errno);
    }
    close(fd);
    if (ok && renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) {
        ok = false;
        if (error != nullptr) *error = final_path + ": " + errno_text(errno);
    }
    if (!ok) unlinkat(dirfd, tmp.c_str(), 0);
    close(dirfd);
    return ok;
}

/// The platform's error text for an errno value (the Windows file uses Win32 error codes).
inline std::string error_text(int err) { return errno_text(err); }
inline int last_error() { return errno; }
inline long current_process_id() { return static_cast<long>(getpid()); }
constexpr char k_path_separator = '/';

/// The names in a folder (without "." and ".."); *ok says whether it could be read. The folder
/// itself is opened without following a link.
inline std::vector<std::string> list_directory(const std::string& dir, bool* ok = nullptr) {
    std::vector<std::string> names;
    const int fd = open_folder(dir);
    DIR* d = fd >= 0 ? fdopendir(fd) : nullptr;
    if (d == nullptr && fd >= 0) close(fd);
    if (ok != nullptr) *ok = d != nullptr;
    if (d == nullptr) return names;
    while (dirent* e = readdir(d)) {
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
    }
    closedir(d);
    return names;
}

/// What a path is, its last part not followed.
enum class entry_kind { missing, file, folder, link, other };

inline entry_kind file_kind(const std::string& path) {
    folder_entry at(path);
    struct stat st;
    if (!at.ok() || fstatat(at.dir(), at.name(), &st, AT_SYMLINK_NOFOLLOW) != 0) return entry_kind::missing;
    if (S_ISREG(st.st_mode)) return entry_kind::file;
    if (S_ISDIR(st.st_mode)) return entry_kind::folder;
    if (S_ISLNK(st.st_mode)) return entry_kind::link;
    return entry_kind::other;
}

/// Size and modification time of a regular file (no link followed); false otherwise.
inline bool file_info(const std::string& path, std::uint64_t* size, std::time_t* modified) {
    folder_entry at(path);
    struct stat st;
    if (!at.ok() || fstatat(at.dir(), at.name(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return false;
    if (size != nullptr) *size = static_cast<std::uint64_t>(st.st_size);
    if (modified != nullptr) *modified = st.st_mtime;
    return true;
}

inline bool remove_file(const std::string& path) {
    folder_entry at(path);
    return at.ok() && unlinkat(at.dir(), at.name(), 0) == 0;
}
inline bool remove_directory(const std::string& path) {
    folder_entry at(path);
    return at.ok() && unlinkat(at.dir(), at.name(), AT_REMOVEDIR) == 0;
}

/// Renames a file (or a link, or a folder: never what a link points to), replacing the target.
inline bool move_file(const std::string& from, const std::string& to, std::string* error) {
    folder_entry a(from), b(to);
    if (a.ok() && b.ok() && renameat(a.dir(), a.name(), b.dir(), b.name()) == 0) return true;
    if (error != nullptr) *error = from + ": " + errno_text(errno);
    return false;
}

/// Checks that a database folder is the user's alone: a real folder (not a symbolic link),
/// owned by this user, writable by nobody else. False with the reason in *why otherwise.
inline bool check_private_folder(const std::string& path, std::string* why) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();  // "link/" would follow the link
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) {
        *why = "'" + p + "': " + errno_text(errno);
        return false;
    }
    if (S_ISLNK(st.st_mode)) {
        *why = "'" + p + "' is a symbolic link (a database folder must be a real folder, not a link to one)";
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        *why = "'" + p + "' is not a folder";
        return false;
    }
    if (st.st_uid != geteuid()) {
        *why = "'" + p + "' is owned by another user (uid " + std::to_string(st.st_uid) + ", this process runs as uid " +
               std::to_string(geteuid()) + ")";
        return false;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
        *why = "'" + p + "' is writable by " + ((st.st_mode & S_IWOTH) != 0 ? "others" : "its group") + " (mode " + mode +
               "; chmod go-w makes it the user's alone)";
        return false;
    }
    return true;
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
        folder_entry at(path);
        fd_ = at.ok() ? openat(at.dir(), at.name(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600) : -1;
        struct stat st;
        if (fd_ >= 0 && (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode))) {
            close(fd_);
            fd_ = -1;
            errno = EINVAL;  // not a regular file
        }
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
