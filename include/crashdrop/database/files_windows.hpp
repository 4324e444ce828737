// crashdrop/database/files_windows.hpp - the file operations the crash database and the helper
// use, on Windows (the same functions as files_posix.hpp, with Win32 error codes where that
// file has errno values). Paths are UTF-8 and converted to UTF-16 for the wide Win32 calls;
// '/' and '\' both separate folders. Files are opened with every sharing mode but exclusive
// creation where a name must be new, and renamed into place with MOVEFILE_WRITE_THROUGH
// (NTFS journals the rename, so no folder flush is needed or possible).
// Database files and folders are never reached through a reparse point (a symbolic link or a
// junction) in their last part: files are opened with FILE_FLAG_OPEN_REPARSE_POINT and refused
// when they are one, folders are checked before they are listed or written to, and only files
// on a disk (not pipes or devices) are read. Only read_file_tail(follow_links = true), for the
// application's own attachment paths, follows them.
// Who owns a database folder and who may write it: folder_security_windows.hpp.
// Context: implementation TU; ordinary code (start(), the API, the helper), may allocate.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

constexpr char k_path_separator = '\\';

/// UTF-8 -> UTF-16.
inline std::wstring widen(const std::string& s) {
    if (s.empty()) return std::wstring();
    const int n = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
    if (n <= 0) return std::wstring();
    std::wstring out(static_cast<std::size_t>(n), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), &out[0], n);
    return out;
}

/// UTF-16 -> UTF-8.
inline std::string narrow(const wchar_t* s, std::size_t length) {
    if (length == 0) return std::string();
    const int n = WideCharToMultiByte(CP_UTF8, 0, s, static_cast<int>(length), nullptr, 0, nullptr, nullptr);
    if (n <= 0) return std::string();
    std::string out(static_cast<std::size_t>(n), '\0');
    WideCharToMultiByte(CP_UTF8, 0, s, static_cast<int>(length), &out[0], n, nullptr, nullptr);
    return out;
}

/// "Windows error N: <the system's message>".
inline std::string error_text(int err) {
    std::string out = "Windows error " + std::to_string(err);
    wchar_t buf[256];
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, static_cast<DWORD>(err),
                             0, buf, 256, nullptr);
    while (n > 0 && (buf[n - 1] == L'\n' || buf[n - 1] == L'\r' || buf[n - 1] == L' ' || buf[n - 1] == L'.')) --n;
    if (n > 0) out += ": " + narrow(buf, n);
    return out;
}
inline std::string errno_text(int err) { return error_text(err); }
inline int last_error() { return static_cast<int>(GetLastError()); }
inline long current_process_id() { return static_cast<long>(GetCurrentProcessId()); }

inline bool is_separator(char c) { return c == '/' || c == '\\'; }

/// Creates a folder and its parents. Returns 0 or a Win32 error code.
inline int make_directories(const std::string& path) {
    if (path.empty()) return ERROR_PATH_NOT_FOUND;
    // Skip what cannot be created: a drive ("C:") or a share ("\\server\share").
    std::size_t first = 0;
    if (path.size() >= 2 && path[1] == ':') first = 2;
    if (path.size() >= 2 && is_separator(path[0]) && is_separator(path[1])) {
        std::size_t seps = 0;
        for (first = 2; first < path.size() && seps < 2; ++first) {
            if (is_separator(path[first])) ++seps;
        }
    }
    for (std::size_t i = first; i <= path.size(); ++i) {
        if (i != path.size() && !is_separator(path[i])) continue;
        if (i == 0 || is_separator(path[i - 1]) || (i == 2 && path[1] == ':')) continue;
        const std::wstring partial = widen(path.substr(0, i));
        if (!CreateDirectoryW(partial.c_str(), nullptr)) {
            const DWORD err = GetLastError();
            if (err != ERROR_ALREADY_EXISTS && err != ERROR_ACCESS_DENIED) return static_cast<int>(err);
        }
    }
    const DWORD attributes = GetFileAttributesW(widen(path).c_str());
    if (attributes == INVALID_FILE_ATTRIBUTES) return static_cast<int>(GetLastError());
    if (!(attributes & FILE_ATTRIBUTE_DIRECTORY)) return ERROR_DIRECTORY;
    return 0;
}

/// A file opened for reading, closed when it goes out of scope. Without follow_links, a
/// reparse point (symbolic link, junction) is opened as itself and refused.
class win_read_handle {
public:
    explicit win_read_handle(const std::string& path, bool follow_links = true)
        : h_(CreateFileW(widen(path).c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                         OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | (follow_links ? 0 : FILE_FLAG_OPEN_REPARSE_POINT), nullptr)) {
        BY_HANDLE_FILE_INFORMATION info;
        if (!follow_links && h_ != INVALID_HANDLE_VALUE &&
            (!GetFileInformationByHandle(h_, &info) || (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0)) {
            CloseHandle(h_);
            h_ = INVALID_HANDLE_VALUE;
            SetLastError(ERROR_CANT_ACCESS_FILE);
        }
    }
    ~win_read_handle() {
        if (h_ != INVALID_HANDLE_VALUE) CloseHandle(h_);
    }
    win_read_handle(const win_read_handle&) = delete;
    win_read_handle& operator=(const win_read_handle&) = delete;
    HANDLE get() const { return h_; }
    bool ok() const { return h_ != INVALID_HANDLE_VALUE; }

    /// Reads up to `size` bytes from `offset` into out; returns how many were read.
    std::size_t read_at(std::uint64_t offset, char* out, std::size_t size) const {
        std::size_t done = 0;
        while (done < size) {
            OVERLAPPED at{};
            at.Offset = static_cast<DWORD>((offset + done) & 0xffffffffu);
            at.OffsetHigh = static_cast<DWORD>((offset + done) >> 32);
            const DWORD want = static_cast<DWORD>(std::min<std::size_t>(size - done, 1u << 24));
            DWORD got = 0;
            if (!ReadFile(h_, out + done, want, &got, &at) || got == 0) break;
            done += got;
        }
        return done;
    }

private:
    HANDLE h_;
};

/// Reads at most the last `limit` bytes of a file; *cut says whether the start was left out.
inline bool read_file_tail(const std::string& path, std::size_t limit, std::string* out, bool* cut, bool follow_links = true) {
    win_read_handle f(path, follow_links);
    if (!f.ok()) return false;
    LARGE_INTEGER size;
    if (GetFileType(f.get()) != FILE_TYPE_DISK || !GetFileSizeEx(f.get(), &size)) {
        SetLastError(ERROR_INVALID_PARAMETER);  // not a file on a disk (a pipe would block the helper)
        return false;
    }
    const auto total = static_cast<std::size_t>(size.QuadPart);
    const std::size_t skip = total > limit ? total - limit : 0;
    *cut = skip > 0;
    out->assign(total - skip, '\0');
    out->resize(f.read_at(skip, out->empty() ? nullptr : &(*out)[0], out->size()));
    return true;
}

/// Reads a database file (no reparse point followed, files on a disk only).
inline bool read_whole_file(const std::string& path, std::string* out, std::size_t limit = 64u << 20) {
    win_read_handle f(path, false);
    if (!f.ok()) return false;
    if (GetFileType(f.get()) != FILE_TYPE_DISK) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return false;
    }
    out->clear();
    char buf[65536];
    for (std::uint64_t at = 0;;) {
        const std::size_t n = f.read_at(at, buf, sizeof(buf));
        if (n == 0) break;
        out->append(buf, n);
        at += n;
        if (out->size() > limit) break;
    }
    return true;
}

/// What a path is, a reparse point in its last part not followed.
enum class entry_kind { missing, file, folder, link, other };

inline entry_kind file_kind(const std::string& path) {
    const DWORD a = GetFileAttributesW(widen(path).c_str());
    if (a == INVALID_FILE_ATTRIBUTES) return entry_kind::missing;
    if ((a & FILE_ATTRIBUTE_REPARSE_POINT) != 0) return entry_kind::link;
    if ((a & FILE_ATTRIBUTE_DIRECTORY) != 0) return entry_kind::folder;
    if ((a & FILE_ATTRIBUTE_DEVICE) != 0) return entry_kind::other;
    return entry_kind::file;
}

/// Folder entries reach the disk with the rename itself (MOVEFILE_WRITE_THROUGH).
inline bool fsync_directory(const std::string&) { return true; }

/// Writes `content` to dir\name: a new temporary file renamed over the name. With `sync`,
/// the data reaches the disk before the rename.
inline bool write_file_atomic(const std::string& dir, const std::string& name, const std::string& content, bool sync,
                              std::string* error) {
    static std::atomic<unsigned> counter{0};
    const std::string tmp = dir + k_path_separator + "." + name + ".tmp" + std::to_string(GetCurrentProcessId()) + "-" +
                            std::to_string(counter++);
    const std::string final_path = dir + k_path_separator + name;
    if (file_kind(dir) != entry_kind::folder) {  // never into a folder through a reparse point
        if (error != nullptr) *error = dir + ": not a folder (or a reparse point)";
        return false;
    }
    if (name.empty() || name.find_first_of("/\\:") != std::string::npos || name == "." || name == "..") {
        if (error != nullptr) *error = final_path + ": not a file name";
        return false;
    }
    const std::wstring wtmp = widen(tmp);
    HANDLE h = CreateFileW(wtmp.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
        if (error != nullptr) *error = tmp + ": " + error_text(last_error());
        return false;
    }
    bool ok = true;
    for (std::size_t done = 0; ok && done < content.size();) {
        DWORD wrote = 0;
        const DWORD want = static_cast<DWORD>(std::min<std::size_t>(content.size() - done, 1u << 24));
        ok = WriteFile(h, content.data() + done, want, &wrote, nullptr) && wrote > 0;
        if (!ok && error != nullptr) *error = tmp + ": " + error_text(last_error());
        done += wrote;
    }
    if (ok && sync && !FlushFileBuffers(h)) {
        ok = false;
        if (error != nullptr) *error = tmp + ": FlushFileBuffers: " + error_text(last_error());
    }
    CloseHandle(h);
    if (ok && !MoveFileExW(wtmp.c_str(), widen(final_path).c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
        ok = false;
        if (error != nullptr) *error = final_path + ": " + error_text(last_error());
    }
    if (!ok) DeleteFileW(wtmp.c_str());
    return ok;
}

/// The names in a folder (without "." and ".."); *ok says whether it could be read.
inline std::vector<std::string> list_directory(const std::string& dir, bool* ok = nullptr) {
    std::vector<std::string> names;
    WIN32_FIND_DATAW found;
    HANDLE h = file_kind(dir) == entry_kind::folder ? FindFirstFileW(widen(dir + k_path_separator + "*").c_str(), &found)
                                                    : INVALID_HANDLE_VALUE;  // never through a reparse point
    if (ok != nullptr) *ok = h != INVALID_HANDLE_VALUE;
    if (h == INVALID_HANDLE_VALUE) return names;
    do {
        const std::string name = narrow(found.cFileName, std::wcslen(found.cFileName));
        if (name != "." && name != "..") names.push_back(name);
    } while (FindNextFileW(h, &found));
    FindClose(h);
    return names;
}

/// A FILETIME (100 ns since 1601) as Unix seconds.
inline std::time_t unix_time(const FILETIME& t) {
    const std::uint64_t ticks = (std::uint64_t{t.dwHighDateTime} << 32) | t.dwLowDateTime;
    return static_cast<std::time_t>(ticks / 10000000u) - static_cast<std::time_t>(11644473600LL);
}

/// Size and modification time of a file (not a folder or reparse point); false otherwise.
inline bool file_info(const std::string& path, std::uint64_t* size, std::time_t* modified) {
    WIN32_FILE_ATTRIBUTE_DATA data;
    if (!GetFileAttributesExW(widen(path).c_str(), GetFileExInfoStandard, &data)) return false;
    if ((data.dwFileAttributes & (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY)) != 0) return false;
    if (size != nullptr) *size = (std::uint64_t{data.nFileSizeHigh} << 32) | data.nFileSizeLow;
    if (modified != nullptr) *modified = unix_time(data.ftLastWriteTime);
    return true;
}

inline bool remove_file(const std::string& path) { return DeleteFileW(widen(path).c_str()) != 0; }
inline bool remove_directory(const std::string& path) { return RemoveDirectoryW(widen(path).c_str()) != 0; }

/// Renames a file, replacing the target.
inline bool move_file(const std::string& from, const std::string& to, std::string* error) {
    if (MoveFileExW(widen(from).c_str(), widen(to).c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) return true;
    if (error != nullptr) *error = from + ": " + error_text(last_error());
    return false;
}

/// An exclusive lock on a lock file, shared by every process using the database (LockFileEx).
class file_lock {
public:
    file_lock() = default;
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;
    ~file_lock() {
        if (h_ != INVALID_HANDLE_VALUE) {
            OVERLAPPED at{};
            UnlockFileEx(h_, 0, 1, 0, &at);
            CloseHandle(h_);
        }
    }
    bool acquire(const std::string& path, std::string* error) {
        h_ = CreateFileW(widen(path).c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                         OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
        OVERLAPPED at{};
        if (h_ == INVALID_HANDLE_VALUE || !LockFileEx(h_, LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &at)) {
            if (error != nullptr) *error = path + ": " + error_text(last_error());
            return false;
        }
        return true;
    }

private:
    HANDLE h_ = INVALID_HANDLE_VALUE;
};

/// Same file? (volume serial and file index of two open handles.)
inline bool win_same_file(HANDLE a, HANDLE b, bool* a_linked = nullptr) {
    BY_HANDLE_FILE_INFORMATION x, y;
    if (!GetFileInformationByHandle(a, &x) || !GetFileInformationByHandle(b, &y)) return false;
    if (a_linked != nullptr) *a_linked = x.nNumberOfLinks > 0;
    return x.dwVolumeSerialNumber == y.dwVolumeSerialNumber && x.nFileIndexHigh == y.nFileIndexHigh &&
           x.nFileIndexLow == y.nFileIndexLow;
}

/// A handle that reads nothing: only for asking which file a path names.
inline HANDLE win_open_for_identity(const std::string& path) {
    return CreateFileW(widen(path).c_str(), 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                       FILE_ATTRIBUTE_NORMAL, nullptr);
}

/// Byte-range locks are mandatory on Windows: a claim locks one byte far past the end of any
/// dump, where no reader ever looks, so holding it never blocks reading the report.
constexpr DWORD k_claim_offset_high = 0x40000000u;  // 2^62

/// A sender's claim on one report: an exclusive LockFileEx on a handle to its dump file, taken
/// without waiting. It ends when the holder releases it, closes the handle or dies. Every
/// process that sends, repairs or prunes a report claims it first; after the claim, still_at()
/// tells whether the file is still the pending one. The handle shares delete access, so the
/// holder (and only the holder, by the claim's rules) can still move or remove the file.
class report_claim {
public:
    enum outcome { claimed, busy, gone };
    report_claim() = default;
    report_claim(const report_claim&) = delete;
    report_claim& operator=(const report_claim&) = delete;
    report_claim(report_claim&& other) noexcept : h_(other.h_) { other.h_ = INVALID_HANDLE_VALUE; }
    report_claim& operator=(report_claim&& other) noexcept {
        if (this != &other) {
            release();
            h_ = other.h_;
            other.h_ = INVALID_HANDLE_VALUE;
        }
        return *this;
    }
    ~report_claim() { release(); }

    outcome try_claim(const std::string& dump_path) {
        release();
        HANDLE h = CreateFileW(widen(dump_path).c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                               nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
        if (h == INVALID_HANDLE_VALUE) {
            const DWORD err = GetLastError();
            return err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND ? gone : busy;
        }
        if (!lock(h)) {
            CloseHandle(h);
            return busy;
        }
        h_ = h;
        return claimed;
    }
    /// Whether the claimed file is still the one named `path`.
    bool still_at(const std::string& path) const {
        if (h_ == INVALID_HANDLE_VALUE) return false;
        HANDLE named = win_open_for_identity(path);
        if (named == INVALID_HANDLE_VALUE) return false;
        bool linked = false;
        const bool same = win_same_file(h_, named, &linked);
        CloseHandle(named);
        return same && linked;
    }
    bool held() const { return h_ != INVALID_HANDLE_VALUE; }
    void release() {
        if (h_ != INVALID_HANDLE_VALUE) {
            OVERLAPPED at{};
            at.OffsetHigh = k_claim_offset_high;
            UnlockFileEx(h_, 0, 1, 0, &at);
            CloseHandle(h_);
            h_ = INVALID_HANDLE_VALUE;
        }
    }

private:
    static bool lock(HANDLE h) {
        OVERLAPPED at{};
        at.OffsetHigh = k_claim_offset_high;
        return LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &at) != 0;
    }
    HANDLE h_ = INVALID_HANDLE_VALUE;
};

// ---- the helper's log: <database>\helper.log on the helper's standard output and error ----

/// The size of helper.log, if the helper's standard error is that very file; -1 when it is not.
inline long long helper_log_size(const std::string& path) {
    HANDLE mine = GetStdHandle(STD_ERROR_HANDLE);
    if (mine == nullptr || mine == INVALID_HANDLE_VALUE) return -1;
    HANDLE named = win_open_for_identity(path);
    if (named == INVALID_HANDLE_VALUE) return -1;
    const bool same = win_same_file(mine, named);
    CloseHandle(named);
    LARGE_INTEGER size;
    if (!same || !GetFileSizeEx(mine, &size)) return -1;
    return static_cast<long long>(size.QuadPart);
}

/// Points the standard output and error (the C runtime's too) at `path` again, appending.
inline bool reopen_helper_log(const std::string& path) {
    HANDLE h = CreateFileW(widen(path).c_str(), FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           nullptr, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) return false;
    const int fd = _open_osfhandle(reinterpret_cast<intptr_t>(h), _O_APPEND | _O_WRONLY);
    if (fd < 0) {
        CloseHandle(h);
        return false;
    }
    std::fflush(stderr);
    std::fflush(stdout);
    const bool ok = _dup2(fd, 2) == 0 && _dup2(fd, 1) == 0;
    SetStdHandle(STD_ERROR_HANDLE, reinterpret_cast<HANDLE>(_get_osfhandle(2)));
    SetStdHandle(STD_OUTPUT_HANDLE, reinterpret_cast<HANDLE>(_get_osfhandle(1)));
    _close(fd);
    return ok;
}

/// helper.log grown past `cap` becomes helper.log.1 (replacing the older one), under a lock
/// on the log itself so that helpers of several applications rotate it once. Every handle
/// to the log shares delete access (the launcher opens it so), or the rename would fail.
inline bool rotate_helper_log(const std::string& path, long long cap) {
    HANDLE h = CreateFileW(widen(path).c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) return false;
    OVERLAPPED at{};
    at.OffsetHigh = k_claim_offset_high;
    bool rotated = false;
    if (LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &at)) {
        HANDLE named = win_open_for_identity(path);
        LARGE_INTEGER size;
        if (named != INVALID_HANDLE_VALUE && win_same_file(h, named) && GetFileSizeEx(h, &size) && size.QuadPart >= cap) {
            CloseHandle(named);
            named = INVALID_HANDLE_VALUE;
            rotated = MoveFileExW(widen(path).c_str(), widen(path + ".1").c_str(), MOVEFILE_REPLACE_EXISTING) != 0;
        }
        if (named != INVALID_HANDLE_VALUE) CloseHandle(named);
        UnlockFileEx(h, 0, 1, 0, &at);
    }
    CloseHandle(h);
    return rotated;
}

/// Unix seconds as UTC calendar time (for log lines and timestamps).
inline bool utc_time(std::time_t t, std::tm* out) {
    return gmtime_s(out, &t) == 0;
}

/// A DLL from the system folder, never a copy planted next to the program (dbghelp, winhttp,
/// crypt32 are loaded at run time, so nobody has to link them).
inline HMODULE load_system_library(const wchar_t* name) {
    wchar_t system_dir[MAX_PATH];
    const UINT n = GetSystemDirectoryW(system_dir, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) return nullptr;
    return LoadLibraryW((std::wstring(system_dir, n) + L"\\" + name).c_str());
}

/// GetProcAddress into a typed function pointer; false if the DLL lacks it.
template <typename T>
inline bool find_proc(HMODULE m, const char* name, T* out) {
    *out = reinterpret_cast<T>(reinterpret_cast<void*>(GetProcAddress(m, name)));
    return *out != nullptr;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS
