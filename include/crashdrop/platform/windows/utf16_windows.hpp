// crashdrop/platform/windows/utf16_windows.hpp - UTF-8 <-> UTF-16 for the Windows API: crashdrop's
// strings (paths, URLs, options) are UTF-8 everywhere, the W functions take UTF-16.
// Context: implementation TU; ordinary code (may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// UTF-8 -> UTF-16; invalid bytes become U+FFFD.
inline std::wstring utf8_to_utf16(const std::string& s) {
    if (s.empty()) return std::wstring();
    const int n = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
    if (n <= 0) return std::wstring();
    std::wstring out(static_cast<std::size_t>(n), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), &out[0], n);
    return out;
}

/// UTF-16 -> UTF-8; unpaired surrogates become U+FFFD.
inline std::string utf16_to_utf8(const wchar_t* s, std::size_t size) {
    if (size == 0) return std::string();
    const int n = WideCharToMultiByte(CP_UTF8, 0, s, static_cast<int>(size), nullptr, 0, nullptr, nullptr);
    if (n <= 0) return std::string();
    std::string out(static_cast<std::size_t>(n), '\0');
    WideCharToMultiByte(CP_UTF8, 0, s, static_cast<int>(size), &out[0], n, nullptr, nullptr);
    return out;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS
