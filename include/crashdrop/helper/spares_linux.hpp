// crashdrop/helper/spares_linux.hpp - files the Linux helper makes ahead of a hand-off. Creating
// a file costs an inode (0.1-0.4 ms on ext4 in this project's VM, more when the journal is
// busy), and a crashed process waits for two of them: its dump and its .meta. So the helper
// keeps pending/ open and two unnamed files (O_TMPFILE) in it, made at its start and again
// after each hand-off; a hand-off only writes them and gives them their names (linkat, which
// never replaces a file). Where O_TMPFILE is not available, or pending/ has been removed or
// renamed since, the hand-off makes its files as before.
// Context: implementation TU; the helper process (ordinary code, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// An unnamed file in a folder, and the folder (opened without following a link).
struct prepared_file {
    int dirfd = -1;
    int fd = -1;

    prepared_file() = default;
    prepared_file(const prepared_file&) = delete;
    prepared_file& operator=(const prepared_file&) = delete;
    ~prepared_file() { discard(); }

    bool ready() const { return fd >= 0 && dirfd >= 0; }

    /// Makes the file in `dir` (nothing when it is made already). False when it cannot be.
    bool make(const std::string& dir) {
        if (ready()) return true;
        discard();
        dirfd = open_folder(dir);
        if (dirfd >= 0) fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (!ready()) discard();
        return ready();
    }

    /// True when `dir` still names the folder the file was made in (not removed or renamed
    /// since: a name given in a folder that moved would be lost to the database).
    bool still_in(const std::string& dir) const {
        struct stat opened, named;
        return dirfd >= 0 && fstat(dirfd, &opened) == 0 && opened.st_nlink > 0 &&
               fstatat(AT_FDCWD, dir.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 && named.st_dev == opened.st_dev &&
               named.st_ino == opened.st_ino;
    }

    /// Hands the two descriptors over to the caller (who closes them); this one is empty after.
    void release_to(int* dir_out, int* fd_out) {
        *dir_out = dirfd;
        *fd_out = fd;
        dirfd = fd = -1;
    }

    void discard() {
        if (fd >= 0) close(fd);
        if (dirfd >= 0) close(dirfd);
        fd = dirfd = -1;
    }
};

/// Names an unnamed file `name` in its folder, never over an existing file. Returns 0 or errno.
inline int name_unnamed_file(int dirfd, int fd, const std::string& name) {
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    return linkat(AT_FDCWD, self.c_str(), dirfd, name.c_str(), AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
}

/// Writes `content` into a file prepared in `dir` and names it `name` there; the file is used
/// up either way.
/// False (with *error) when it could not be; then no file of that name was made by it.
inline bool publish_prepared_file(prepared_file* f, const std::string& dir, const std::string& name, const std::string& content,
                                  std::string* error) {
    if (!f->ready() || !f->still_in(dir)) {
        f->discard();
        if (error != nullptr) *error = "no prepared file";
        return false;
    }
    bool ok = true;
    for (std::size_t done = 0; ok && done < content.size();) {
        const ssize_t n = write(f->fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<std::size_t>(n);
        else if (error != nullptr) *error = name + ": " + errno_text(n == 0 ? ENOSPC : errno);
    }
    if (ok) {
        const int err = name_unnamed_file(f->dirfd, f->fd, name);
        ok = err == 0;
        if (!ok && error != nullptr) *error = name + ": " + errno_text(err);
    }
    f->discard();
    return ok;
}

/// The helper's files for the next hand-off: one for the dump, one for its .meta, both in
/// pending/.
struct handoff_spares {
    prepared_file dump;
    prepared_file meta;

    /// Makes whichever is missing (after each hand-off, off the crashed process's time).
    void refill(const std::string& pending_dir) {
        dump.make(pending_dir);
        meta.make(pending_dir);
    }
};

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
