// crashdrop/database/folder_security_windows.hpp - the database is the user's alone, on Windows:
// check_private_folder() refuses a database folder that is a reparse point, is owned by someone
// else, or whose access list lets a broad group write it (the Windows side of the owner and
// mode check in files_posix.hpp).
//  - Owner: the process token's user; SYSTEM and BUILTIN\Administrators are accepted too (an
//    elevated run of the same program makes its folders Administrators' by default, and both
//    can take any file on the machine anyway, so they add nobody who could not write it).
//  - Access list: refused when missing (a NULL DACL lets everyone do everything) or when an
//    allow entry that applies to the folder itself (not inherit-only) grants a write right to
//    Everyone, Authenticated Users, INTERACTIVE, ANONYMOUS LOGON, BUILTIN\Users, BUILTIN\Guests,
//    or a domain's Domain Users or Domain Guests. Deny entries are not weighed: a folder whose
//    list needs them to be safe is refused all the same.
// The security descriptor is read from a handle opened on the folder itself (never through a
// reparse point); advapi32 is loaded at run time from the system folder, so nobody links it.
// judge_folder_security() is the decision alone, on a SID and an ACL in memory, so the unit
// tests can give it what wine cannot make (another owner, a NULL DACL).
// Context: implementation TU; ordinary code (start(), the API, the helper), may allocate.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// A SID read from memory: its authority and sub-authorities (S-1-<authority>-<sub>...).
struct sid_view {
    std::uint64_t authority = 0;
    std::uint8_t count = 0;
    std::uint32_t sub[15] = {};  // SID_MAX_SUB_AUTHORITIES
};

/// Reads a SID from at most `size` bytes; false when they do not hold a valid one.
inline bool read_sid(const void* p, std::size_t size, sid_view* out) {
    const auto* b = static_cast<const unsigned char*>(p);
    if (p == nullptr || size < 8 || b[0] != 1 || b[1] > 15) return false;
    out->count = b[1];
    if (size < 8u + 4u * out->count) return false;
    out->authority = 0;
    for (int i = 2; i < 8; ++i) out->authority = (out->authority << 8) | b[i];
    for (std::uint8_t i = 0; i < out->count; ++i) std::memcpy(&out->sub[i], b + 8 + 4 * i, 4);  // little-endian
    return true;
}

inline bool same_sid(const sid_view& a, const sid_view& b) {
    if (a.authority != b.authority || a.count != b.count) return false;
    for (std::uint8_t i = 0; i < a.count; ++i) {
        if (a.sub[i] != b.sub[i]) return false;
    }
    return true;
}

/// "S-1-5-21-..." for a message.
inline std::string sid_text(const sid_view& s) {
    std::string t = "S-1-" + std::to_string(s.authority);
    for (std::uint8_t i = 0; i < s.count; ++i) t += "-" + std::to_string(s.sub[i]);
    return t;
}

/// Whether the SID is S-1-<authority>-<subs...>.
inline bool is_sid(const sid_view& s, std::uint64_t authority, std::initializer_list<std::uint32_t> subs) {
    if (s.authority != authority || s.count != subs.size()) return false;
    std::uint8_t i = 0;
    for (std::uint32_t v : subs) {
        if (s.sub[i++] != v) return false;
    }
    return true;
}

/// The name of a group that stands for other people (anyone, any signed-in user, any user of
/// the machine or domain), or nullptr when the SID is not one of them.
inline const char* broad_group_name(const sid_view& s) {
    if (is_sid(s, 1, {0})) return "Everyone";
    if (is_sid(s, 5, {11})) return "Authenticated Users";
    if (is_sid(s, 5, {4})) return "INTERACTIVE";
    if (is_sid(s, 5, {7})) return "ANONYMOUS LOGON";
    if (is_sid(s, 5, {32, 545})) return "BUILTIN\\Users";
    if (is_sid(s, 5, {32, 546})) return "BUILTIN\\Guests";
    if (s.authority == 5 && s.count == 5 && s.sub[0] == 21) {  // S-1-5-21-<domain>-<rid>
        if (s.sub[4] == 513) return "Domain Users";
        if (s.sub[4] == 514) return "Domain Guests";
    }
    return nullptr;
}

/// The access rights that change a folder or what is in it: add or delete entries, write data,
/// change the access list or the owner, delete the folder (and the generic rights that include
/// them).
constexpr std::uint32_t k_folder_write_rights = 0x0002u    // FILE_ADD_FILE / FILE_WRITE_DATA
                                                | 0x0004u  // FILE_ADD_SUBDIRECTORY / FILE_APPEND_DATA
                                                | 0x0040u  // FILE_DELETE_CHILD
                                                | 0x00010000u  // DELETE
                                                | 0x00040000u  // WRITE_DAC
                                                | 0x00080000u  // WRITE_OWNER
                                                | 0x10000000u  // GENERIC_ALL
                                                | 0x40000000u;  // GENERIC_WRITE

/// The decision on a folder's security, given its owner SID, the token user's SID and its DACL
/// (nullptr: a NULL DACL). The ACL is read within its own AclSize; a damaged one is refused.
/// False with the reason in *why (naming `path`) otherwise.
inline bool judge_folder_security(const std::string& path, const void* owner, std::size_t owner_size, const void* user,
                                  std::size_t user_size, const void* dacl, std::string* why) {
    sid_view owner_sid, user_sid;
    if (!read_sid(user, user_size, &user_sid)) {
        *why = "'" + path + "' cannot be checked: this process's user is unknown";
        return false;
    }
    if (!read_sid(owner, owner_size, &owner_sid)) {
        *why = "'" + path + "' has no owner that can be read";
        return false;
    }
    if (!same_sid(owner_sid, user_sid) && !is_sid(owner_sid, 5, {18}) && !is_sid(owner_sid, 5, {32, 544})) {
        *why = "'" + path + "' is owned by another user (" + sid_text(owner_sid) + ", this process runs as " +
               sid_text(user_sid) + "; a database folder must be owned by its user, SYSTEM or BUILTIN\\Administrators)";
        return false;
    }
    if (dacl == nullptr) {
        *why = "'" + path + "' has a NULL access list (everyone may write it; a database folder must be the user's alone)";
        return false;
    }
    const auto* acl = static_cast<const unsigned char*>(dacl);
    std::uint16_t acl_size = 0, ace_count = 0;
    std::memcpy(&acl_size, acl + 2, 2);
    std::memcpy(&ace_count, acl + 4, 2);
    std::size_t at = 8;  // sizeof(ACL)
    for (std::uint16_t i = 0; i < ace_count; ++i) {
        std::uint16_t ace_size = 0;
        if (at + 4 > acl_size) {
            *why = "'" + path + "' has a damaged access list";
            return false;
        }
        std::memcpy(&ace_size, acl + at + 2, 2);
        if (ace_size < 8 || at + ace_size > acl_size) {
            *why = "'" + path + "' has a damaged access list";
            return false;
        }
        const unsigned char type = acl[at], flags = acl[at + 1];
        std::uint32_t mask = 0;
        std::memcpy(&mask, acl + at + 4, 4);
        std::size_t sid_at = at + 8;  // ACCESS_ALLOWED_ACE and _CALLBACK_ACE: header, mask, SID
        bool allow = type == 0x0 /* ACCESS_ALLOWED_ACE_TYPE */ || type == 0x9 /* ACCESS_ALLOWED_CALLBACK_ACE_TYPE */;
        if (type == 0x5 /* ACCESS_ALLOWED_OBJECT_ACE_TYPE */ || type == 0xB /* ..._CALLBACK_OBJECT_ACE_TYPE */) {
            allow = ace_size >= 12;  // then object flags and the GUIDs they announce
            if (allow) {
                std::uint32_t object_flags = 0;
                std::memcpy(&object_flags, acl + at + 8, 4);
                sid_at = at + 12 + ((object_flags & 1u) != 0 ? 16u : 0u) + ((object_flags & 2u) != 0 ? 16u : 0u);
            }
        }
        const bool inherit_only = (flags & 0x08u) != 0;  // INHERIT_ONLY_ACE: for what is created inside, not this folder
        if (allow && !inherit_only && (mask & k_folder_write_rights) != 0) {
            sid_view who;
            if (sid_at >= at + ace_size || !read_sid(acl + sid_at, at + ace_size - sid_at, &who)) {
                *why = "'" + path + "' has a damaged access list";
                return false;
            }
            if (const char* group = broad_group_name(who)) {
                char hex[16];
                std::snprintf(hex, sizeof(hex), "0x%lx", static_cast<unsigned long>(mask));
                *why = "'" + path + "' is writable by " + group + " (an access rule grants " + sid_text(who) + " rights " + hex +
                       "; a database folder must be the user's alone)";
                return false;
            }
        }
        at += ace_size;
    }
    return true;
}

/// The advapi32 functions the check needs, loaded once from the system folder.
struct advapi_security {
    using open_process_token_fn = BOOL(WINAPI*)(HANDLE, DWORD, PHANDLE);
    using get_token_information_fn = BOOL(WINAPI*)(HANDLE, TOKEN_INFORMATION_CLASS, LPVOID, DWORD, PDWORD);
    using get_kernel_object_security_fn = BOOL(WINAPI*)(HANDLE, SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, DWORD, LPDWORD);
    using get_sd_owner_fn = BOOL(WINAPI*)(PSECURITY_DESCRIPTOR, PSID*, LPBOOL);
    using get_sd_dacl_fn = BOOL(WINAPI*)(PSECURITY_DESCRIPTOR, LPBOOL, PACL*, LPBOOL);
    using get_length_sid_fn = DWORD(WINAPI*)(PSID);
    open_process_token_fn open_process_token = nullptr;
    get_token_information_fn get_token_information = nullptr;
    get_kernel_object_security_fn get_kernel_object_security = nullptr;
    get_sd_owner_fn get_owner = nullptr;
    get_sd_dacl_fn get_dacl = nullptr;
    get_length_sid_fn get_length_sid = nullptr;
    bool ok = false;

    static const advapi_security& get() {
        static const advapi_security a = load();
        return a;
    }

private:
    static advapi_security load() {
        advapi_security a;
        const HMODULE m = load_system_library(L"advapi32.dll");
        a.ok = m != nullptr && find_proc(m, "OpenProcessToken", &a.open_process_token) &&
               find_proc(m, "GetTokenInformation", &a.get_token_information) &&
               find_proc(m, "GetKernelObjectSecurity", &a.get_kernel_object_security) &&
               find_proc(m, "GetSecurityDescriptorOwner", &a.get_owner) && find_proc(m, "GetSecurityDescriptorDacl", &a.get_dacl) &&
               find_proc(m, "GetLengthSid", &a.get_length_sid);
        return a;  // advapi32 stays loaded: the pointers are used for the life of the process
    }
};

/// The process token's user SID (bytes); empty with the error in *why on failure.
inline std::vector<unsigned char> token_user_sid(const advapi_security& a, std::string* why) {
    std::vector<unsigned char> sid;
    HANDLE token = nullptr;
    if (!a.open_process_token(GetCurrentProcess(), TOKEN_QUERY, &token)) {
        *why = "the process token cannot be opened: " + error_text(last_error());
        return sid;
    }
    std::vector<unsigned char> buf(256);
    DWORD needed = 0;
    bool ok = a.get_token_information(token, TokenUser, buf.data(), static_cast<DWORD>(buf.size()), &needed) != 0;
    if (!ok && GetLastError() == ERROR_INSUFFICIENT_BUFFER && needed > buf.size()) {
        buf.resize(needed);
        ok = a.get_token_information(token, TokenUser, buf.data(), static_cast<DWORD>(buf.size()), &needed) != 0;
    }
    if (!ok) *why = "the process token's user cannot be read: " + error_text(last_error());
    CloseHandle(token);
    if (ok) {
        TOKEN_USER user;
        std::memcpy(&user, buf.data(), sizeof(user));
        const auto* p = static_cast<const unsigned char*>(user.User.Sid);
        sid.assign(p, p + a.get_length_sid(user.User.Sid));
    }
    return sid;
}

/// Checks that a database folder is the user's alone: a real folder (not a reparse point: a
/// symbolic link or a junction), owned by this user (or SYSTEM, Administrators), writable by no
/// broad group. False with the reason in *why otherwise.
inline bool check_private_folder(const std::string& path, std::string* why) {
    std::string p = path;
    while (p.size() > 3 && is_separator(p.back())) p.pop_back();
    const DWORD a = GetFileAttributesW(widen(p).c_str());
    if (a == INVALID_FILE_ATTRIBUTES) {
        *why = "'" + p + "': " + error_text(last_error());
        return false;
    }
    if ((a & FILE_ATTRIBUTE_REPARSE_POINT) != 0) {
        *why = "'" + p + "' is a reparse point (a symbolic link or junction; a database folder must be a real folder)";
        return false;
    }
    if ((a & FILE_ATTRIBUTE_DIRECTORY) == 0) {
        *why = "'" + p + "' is not a folder";
        return false;
    }
    const advapi_security& api = advapi_security::get();
    if (!api.ok) {
        *why = "'" + p + "' cannot be checked: advapi32.dll lacks a function crashdrop needs";
        return false;
    }
    std::string reason;
    const std::vector<unsigned char> user = token_user_sid(api, &reason);
    if (user.empty()) {
        *why = "'" + p + "' cannot be checked: " + reason;
        return false;
    }
    // The folder itself, never what a reparse point put there since the check above leads to.
    const HANDLE h = CreateFileW(widen(p).c_str(), READ_CONTROL | FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                 OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
        *why = "'" + p + "': its owner and access list cannot be read: " + error_text(last_error());
        return false;
    }
    BY_HANDLE_FILE_INFORMATION info;
    const bool still_folder = GetFileInformationByHandle(h, &info) != 0 &&
                              (info.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT)) == FILE_ATTRIBUTE_DIRECTORY;
    std::vector<unsigned char> sd(1024);
    DWORD needed = 0;
    const SECURITY_INFORMATION what = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
    bool ok = api.get_kernel_object_security(h, what, sd.data(), static_cast<DWORD>(sd.size()), &needed) != 0;
    if (!ok && GetLastError() == ERROR_INSUFFICIENT_BUFFER && needed > sd.size()) {
        sd.resize(needed);
        ok = api.get_kernel_object_security(h, what, sd.data(), static_cast<DWORD>(sd.size()), &needed) != 0;
    }
    const int err = last_error();
    CloseHandle(h);
    if (!still_folder) {
        *why = "'" + p + "' is not a real folder (it changed while it was checked)";
        return false;
    }
    if (!ok) {
        *why = "'" + p + "': its owner and access list cannot be read: " + error_text(err);
        return false;
    }
    PSID owner = nullptr;
    PACL dacl = nullptr;
    BOOL defaulted = FALSE, present = FALSE;
    if (!api.get_owner(sd.data(), &owner, &defaulted) || !api.get_dacl(sd.data(), &present, &dacl, &defaulted)) {
        *why = "'" + p + "': its security descriptor cannot be read: " + error_text(last_error());
        return false;
    }
    const std::size_t owner_size = owner != nullptr ? api.get_length_sid(owner) : 0;
    return judge_folder_security(p, owner, owner_size, user.data(), user.size(), present ? dacl : nullptr, why);
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS
