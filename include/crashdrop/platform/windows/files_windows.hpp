// crashdrop/platform/windows/files_windows.hpp - reading files by UTF-8 path on Windows, with the
// contract of the POSIX versions in database_posix.hpp (read_file_tail), for the code both
// platforms share (the attachments an upload sends).
// Context: implementation TU; ordinary code (helper process), may allocate.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// Reads at most the last `limit` bytes of a file; *cut says whether the start was left out.
/// False when it cannot be opened or is not a file on disk (a pipe would block the reader).
inline bool read_file_tail(const std::string& path, std::size_t limit, std::string* out, bool* cut) {
    // Others may go on writing, renaming or deleting the file while it is read (a log).
    const HANDLE h = CreateFileW(utf8_to_utf16(path).c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                 nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) return false;
    LARGE_INTEGER size{};
    if (GetFileType(h) != FILE_TYPE_DISK || !GetFileSizeEx(h, &size) || size.QuadPart < 0) {
        CloseHandle(h);
        return false;
    }
    const auto total = static_cast<unsigned long long>(size.QuadPart);
    const unsigned long long skip = total > limit ? total - limit : 0;
    *cut = skip > 0;
    LARGE_INTEGER at{};
    at.QuadPart = static_cast<LONGLONG>(skip);
    if (!SetFilePointerEx(h, at, nullptr, FILE_BEGIN)) {
        CloseHandle(h);
        return false;
    }
    out->assign(static_cast<std::size_t>(total - skip), '\0');
    std::size_t done = 0;
    while (done < out->size()) {
        const std::size_t want = std::min<std::size_t>(out->size() - done, 1u << 20);
        DWORD got = 0;
        if (!ReadFile(h, &(*out)[done], static_cast<DWORD>(want), &got, nullptr) || got == 0) break;
        done += got;
    }
    out->resize(done);  // a file that shrank meanwhile
    CloseHandle(h);
    return true;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS
