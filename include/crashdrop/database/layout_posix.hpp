// crashdrop/database/layout_posix.hpp - the crash database's folders on POSIX systems:
// <root>/pending (reports not yet sent) and <root>/completed (sent or given up), created with
// mode 0700 and checked for writability at start(). Stores, never sends.
// Context: implementation TU; ordinary code (start() time), may allocate.
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
    partial.reserve(path.size());
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

struct database_layout {
    std::string root;     // absolute
    std::string pending;  // absolute
    std::string completed;
    int pending_fd = -1;  // O_DIRECTORY, for openat() on the crash path
};

/// Creates the folders and proves a report can be written there (a probe file is created
/// exclusively and removed). On failure returns Error::database_unavailable with the reason.
inline Status prepare_database(const std::string& root_in, database_layout* out) {
    if (int err = make_directories(root_in)) {
        return Status(Error::database_unavailable,
                      "database_path '" + root_in + "' cannot be created: " + errno_text(err));
    }
    char* resolved = realpath(root_in.c_str(), nullptr);
    if (resolved == nullptr) {
        return Status(Error::database_unavailable, "database_path '" + root_in + "': " + errno_text(errno));
    }
    out->root = resolved;
    std::free(resolved);
    out->pending = out->root + "/pending";
    out->completed = out->root + "/completed";
    for (const std::string* dir : {&out->pending, &out->completed}) {
        if (int err = make_directories(*dir)) {
            return Status(Error::database_unavailable, "'" + *dir + "' cannot be created: " + errno_text(err));
        }
    }
    const int fd = open(out->pending.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status(Error::database_unavailable, "'" + out->pending + "' cannot be opened: " + errno_text(errno));
    const std::string probe = ".write-probe-" + std::to_string(getpid());
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
