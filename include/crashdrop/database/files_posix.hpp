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

/// Unix seconds as UTC calendar time (for log lines and timestamps).
inline bool utc_time(std::time_t t, std::tm* out) {
    return gmtime_r(&t, out) != nullptr;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX
