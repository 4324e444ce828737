// Windows unit tests of crashdrop's start()/stop(): what they install and put back, how they
// refuse bad options, and which exceptions are not crashes. Run by ctest through wine
// (CMAKE_CROSSCOMPILING_EMULATOR); Catch2's main is in catch_main_win.cpp.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <catch2/catch.hpp>
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

/// A fresh database folder under the (wine prefix's) temp folder, removed afterwards.
struct TempDatabase {
    fs::path path;
    TempDatabase() {
        static int counter = 0;
        path = fs::temp_directory_path() /
               ("crashdrop-unit-" + std::to_string(GetCurrentProcessId()) + "-" + std::to_string(++counter));
        fs::remove_all(path);
    }
    ~TempDatabase() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    crashdrop::Options options() const {
        crashdrop::Options o;
        o.database_path = path.string();
        o.product_name = "unit_windows";
        o.product_version = "1.0";
        return o;
    }
    std::vector<std::string> pending() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(path / "pending")) names.push_back(e.path().filename().string());
        return names;
    }
};

LONG WINAPI test_filter(EXCEPTION_POINTERS*) { return EXCEPTION_CONTINUE_SEARCH; }

/// The installed unhandled-exception filter (read by setting one and putting it back).
LPTOP_LEVEL_EXCEPTION_FILTER current_filter() {
    LPTOP_LEVEL_EXCEPTION_FILTER current = SetUnhandledExceptionFilter(nullptr);
    SetUnhandledExceptionFilter(current);
    return current;
}

void test_terminate() { std::abort(); }

using iph_fn = void(__cdecl*)(const wchar_t*, const wchar_t*, const wchar_t*, unsigned int, uintptr_t);
using pch_fn = void(__cdecl*)();
void __cdecl test_invalid_parameter(const wchar_t*, const wchar_t*, const wchar_t*, unsigned int, uintptr_t) {}
void __cdecl test_purecall() {}

template <typename F>
F crt_function(HMODULE crt, const char* name) {
    return reinterpret_cast<F>(reinterpret_cast<void*>(GetProcAddress(crt, name)));
}

/// Gives `folder` an access list of its own: `who` (a SID string) gets `rights`; the inherited
/// entries stay. Windows error code, 0 on success.
DWORD grant(const fs::path& folder, const wchar_t* who, DWORD rights) {
    PSID sid = nullptr;
    if (!ConvertStringSidToSidW(who, &sid)) return GetLastError();
    EXPLICIT_ACCESSW ea = {};
    ea.grfAccessPermissions = rights;
    ea.grfAccessMode = SET_ACCESS;
    ea.grfInheritance = NO_INHERITANCE;
    ea.Trustee.TrusteeForm = TRUSTEE_IS_SID;
    ea.Trustee.TrusteeType = TRUSTEE_IS_WELL_KNOWN_GROUP;
    ea.Trustee.ptstrName = static_cast<LPWSTR>(sid);
    PACL acl = nullptr;
    DWORD err = SetEntriesInAclW(1, &ea, nullptr, &acl);
    if (err == ERROR_SUCCESS) {
        std::wstring name = folder.wstring();
        err = SetNamedSecurityInfoW(&name[0], SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr, acl, nullptr);
        LocalFree(acl);
    }
    LocalFree(sid);
    return err;
}

/// A SID from its string form, as bytes.
std::vector<unsigned char> sid_bytes(const wchar_t* text) {
    PSID sid = nullptr;
    REQUIRE(ConvertStringSidToSidW(text, &sid));
    const auto* p = static_cast<const unsigned char*>(sid);
    std::vector<unsigned char> out(p, p + GetLengthSid(sid));
    LocalFree(sid);
    return out;
}

/// An ACL built with the system's own functions: each entry is (allow, SID string, rights, flags).
struct AceSpec {
    bool allow;
    const wchar_t* sid;
    DWORD rights;
    DWORD flags;
};
std::vector<unsigned char> make_acl(std::initializer_list<AceSpec> aces) {
    std::vector<unsigned char> acl(1024);
    REQUIRE(InitializeAcl(reinterpret_cast<PACL>(acl.data()), static_cast<DWORD>(acl.size()), ACL_REVISION));
    for (const AceSpec& a : aces) {
        std::vector<unsigned char> sid = sid_bytes(a.sid);
        if (a.allow) REQUIRE(AddAccessAllowedAceEx(reinterpret_cast<PACL>(acl.data()), ACL_REVISION, a.flags, a.rights, sid.data()));
        else REQUIRE(AddAccessDeniedAceEx(reinterpret_cast<PACL>(acl.data()), ACL_REVISION, a.flags, a.rights, sid.data()));
    }
    return acl;
}

}  // namespace

TEST_CASE("start and stop put back the unhandled-exception filter that was there before") {
    TempDatabase db;
    LPTOP_LEVEL_EXCEPTION_FILTER before = SetUnhandledExceptionFilter(test_filter);
    REQUIRE(crashdrop::start(db.options()).ok());
    CHECK(current_filter() != test_filter);  // crashdrop's own is installed
    crashdrop::stop();
    CHECK(current_filter() == test_filter);
    SetUnhandledExceptionFilter(before);
}

TEST_CASE("start and stop put back the std::terminate handler and handle_terminate=false leaves it alone") {
    TempDatabase db;
    std::terminate_handler before = std::set_terminate(test_terminate);
    REQUIRE(crashdrop::start(db.options()).ok());
    CHECK(std::get_terminate() != test_terminate);
    crashdrop::stop();
    CHECK(std::get_terminate() == test_terminate);

    crashdrop::Options o = db.options();
    o.handle_terminate = false;
    REQUIRE(crashdrop::start(o).ok());
    CHECK(std::get_terminate() == test_terminate);
    crashdrop::stop();
    std::set_terminate(before);
}

TEST_CASE("start hooks the invalid-parameter and purecall handlers of a loaded ucrtbase.dll and stop puts them back") {
    HMODULE ucrt = LoadLibraryW(L"ucrtbase.dll");
    REQUIRE(ucrt != nullptr);
    auto set_iph = crt_function<iph_fn(__cdecl*)(iph_fn)>(ucrt, "_set_invalid_parameter_handler");
    auto get_iph = crt_function<iph_fn(__cdecl*)()>(ucrt, "_get_invalid_parameter_handler");
    auto set_pch = crt_function<pch_fn(__cdecl*)(pch_fn)>(ucrt, "_set_purecall_handler");
    auto get_pch = crt_function<pch_fn(__cdecl*)()>(ucrt, "_get_purecall_handler");
    REQUIRE(set_iph != nullptr);
    REQUIRE(get_iph != nullptr);
    REQUIRE(set_pch != nullptr);
    REQUIRE(get_pch != nullptr);
    iph_fn old_iph = set_iph(test_invalid_parameter);
    pch_fn old_pch = set_pch(test_purecall);

    TempDatabase db;
    REQUIRE(crashdrop::start(db.options()).ok());
    CHECK(get_iph() != test_invalid_parameter);
    CHECK(get_iph() != nullptr);
    CHECK(get_pch() != test_purecall);
    CHECK(get_pch() != nullptr);
    crashdrop::stop();
    CHECK(get_iph() == test_invalid_parameter);
    CHECK(get_pch() == test_purecall);

    set_iph(old_iph);
    set_pch(old_pch);
    FreeLibrary(ucrt);
}

TEST_CASE("an empty database_path is refused with invalid_options and a message naming it") {
    crashdrop::Options o;
    crashdrop::Status s = crashdrop::start(o);
    CHECK(s.code() == crashdrop::Error::invalid_options);
    CHECK(s.message().find("database_path") != std::string::npos);
    CHECK_FALSE(crashdrop::is_started());
    // Nothing was left installed: a correct start() works afterwards.
    TempDatabase db;
    REQUIRE(crashdrop::start(db.options()).ok());
    crashdrop::stop();
}

TEST_CASE("attachments on Windows: drive and UNC paths are absolute - a path from the current drive or folder is refused naming it") {
    for (const char* good : {"C:\\logs\\app.log", "c:/logs/app.log", "\\\\server\\share\\app.log", "//server/share/app.log"}) {
        INFO(good);
        CHECK(crashdrop::detail::check_attachment(good).ok());
    }
    for (const char* bad : {"", "app.log", "logs\\app.log", "\\logs\\app.log", "/logs/app.log", "C:app.log", "C:"}) {
        INFO(bad);
        const crashdrop::Status s = crashdrop::detail::check_attachment(bad);
        CHECK(s.code() == crashdrop::Error::invalid_argument);
        CHECK(s.message().find("is not an absolute path") != std::string::npos);
    }
    // Through the API: start() names the option, add_attachment() takes a drive path.
    TempDatabase db;
    crashdrop::Options o = db.options();
    o.helper_mode = crashdrop::HelperMode::none;
    o.attachments = {"logs\\app.log"};
    const crashdrop::Status refused = crashdrop::start(o);
    CHECK(refused.code() == crashdrop::Error::invalid_options);
    CHECK(refused.message().find("attachments") != std::string::npos);
    o.attachments = {(db.path / "app.log").string()};
    REQUIRE(crashdrop::start(o).ok());
    CHECK(crashdrop::add_attachment((db.path / "other.log").string()).ok());
    CHECK(crashdrop::add_attachment("C:other.log").code() == crashdrop::Error::invalid_argument);
    crashdrop::stop();
}

TEST_CASE("a second start() is refused with already_started and the first keeps working") {
    TempDatabase db;
    REQUIRE(crashdrop::start(db.options()).ok());
    crashdrop::Status again = crashdrop::start(db.options());
    CHECK(again.code() == crashdrop::Error::already_started);
    CHECK(crashdrop::is_started());
    crashdrop::stop();
    CHECK_FALSE(crashdrop::is_started());
}

TEST_CASE("first-chance C++ exceptions and debug output are not crashes: no dump appears") {
    TempDatabase db;
    REQUIRE(crashdrop::start(db.options()).ok());
    int caught = 0;
    for (int i = 0; i < 3; ++i) {
        try {
            throw std::runtime_error("caught right away");
        } catch (const std::runtime_error&) {
            ++caught;
        }
    }
    OutputDebugStringA("crashdrop unit test: OutputDebugStringA raises DBG_PRINTEXCEPTION_C\n");
    CHECK(caught == 3);
    CHECK(crashdrop::is_started());
    const std::vector<std::string> files = db.pending();
    REQUIRE(files.size() == 1);  // only the file start() prepared, still a temporary
    CHECK(files[0].size() > 8);
    CHECK(files[0].compare(files[0].size() - 8, 8, ".dmp.tmp") == 0);
    crashdrop::stop();
    CHECK(db.pending().empty());  // stop() removed the unused dump file
}

TEST_CASE("a report's claim on Windows: one holder at a time - readable and movable while held - re-checked after the claim") {
    namespace cd = crashdrop::detail;
    TempDatabase t;
    const cd::database db(t.path.string());
    REQUIRE(db.create(nullptr) == 0);
    const std::string id = "00000000-0000-4000-8000-000000000001";
    const std::string pending = db.pending_dir() + "\\" + id + ".dmp";
    const std::string completed = db.completed_dir() + "\\" + id + ".dmp";
    std::string error;
    REQUIRE(cd::write_file_atomic(db.pending_dir(), id + ".dmp", "MDMP-and-more", true, &error));
    cd::report_claim first, second;
    CHECK(first.try_claim(pending) == cd::report_claim::claimed);
    CHECK(first.still_at(pending));
    CHECK(second.try_claim(pending) == cd::report_claim::busy);
    std::string bytes;
    CHECK(cd::read_whole_file(pending, &bytes));  // the lock lies past the end: reading works
    CHECK(bytes == "MDMP-and-more");
    cd::database_limits none;
    none.max_age_days = 1;
    CHECK(db.prune(none, std::time(nullptr) + 10 * 86400).empty());  // held: never pruned
    CHECK(cd::move_file(pending, completed, &error));                // its holder completes it
    CHECK_FALSE(first.still_at(pending));
    first.release();
    CHECK(second.try_claim(pending) == cd::report_claim::gone);
    CHECK(second.try_claim(completed) == cd::report_claim::claimed);
    second.release();
}

TEST_CASE("helper.log on Windows: rotated into helper.log.1 at its cap while a helper's handle is open - which then writes to the old one") {
    namespace cd = crashdrop::detail;
    TempDatabase t;
    fs::create_directories(t.path);
    const std::string log = (t.path / "helper.log").string();
    // Opened as the launcher opens a helper's standard output and error.
    HANDLE h = CreateFileW(cd::widen(log).c_str(), FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           nullptr, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    const std::string old_lines(20000, 'o');
    DWORD wrote = 0;
    REQUIRE(WriteFile(h, old_lines.data(), static_cast<DWORD>(old_lines.size()), &wrote, nullptr));
    CHECK_FALSE(cd::rotate_helper_log(log, 32768));  // under the cap: left alone
    CHECK(cd::rotate_helper_log(log, 16384));
    CHECK_FALSE(fs::exists(log));
    CHECK(fs::file_size(t.path / "helper.log.1") == old_lines.size());
    // The open handle follows its file: a helper that has not noticed yet writes to the old log.
    REQUIRE(WriteFile(h, "late\n", 5, &wrote, nullptr));
    CloseHandle(h);
    CHECK(fs::file_size(t.path / "helper.log.1") == old_lines.size() + 5);
    std::string error;
    REQUIRE(cd::write_file_atomic(t.path.string(), "helper.log", std::string(17000, 'n'), false, &error));
    CHECK(cd::rotate_helper_log(log, 16384));  // the older helper.log.1 is replaced
    CHECK(fs::file_size(t.path / "helper.log.1") == 17000);
}

TEST_CASE("default_database_path is LOCALAPPDATA/product/Crashes - empty without it") {
    wchar_t saved[32768];
    const DWORD had = GetEnvironmentVariableW(L"LOCALAPPDATA", saved, 32768);
    SetEnvironmentVariableW(L"LOCALAPPDATA", L"C:\\Users\\ana\\AppData\\Local\\");
    CHECK(crashdrop::default_database_path("My Game: Deluxe") == "C:\\Users\\ana\\AppData\\Local\\My_Game__Deluxe\\Crashes");
    CHECK(crashdrop::default_database_path("..").empty());
    SetEnvironmentVariableW(L"LOCALAPPDATA", L"relative\\folder");
    CHECK(crashdrop::default_database_path("MyGame").empty());
    SetEnvironmentVariableW(L"LOCALAPPDATA", nullptr);
    CHECK(crashdrop::default_database_path("MyGame").empty());
    char buf[8];
    CHECK(crashdrop_default_database_path("MyGame", buf, sizeof(buf)) == 0);
    SetEnvironmentVariableW(L"LOCALAPPDATA", had > 0 && had < 32768 ? saved : nullptr);
}

TEST_CASE("report ids are checked and database files are never read through a reparse point") {
    namespace cd = crashdrop::detail;
    CHECK(cd::is_report_id(cd::new_uuid()));
    CHECK_FALSE(cd::is_report_id("..\\..\\..\\Windows\\win.ini-aaaa-aaaa-aaaa"));
    TempDatabase db;
    fs::create_directories(db.path / "real");
    { std::FILE* f = std::fopen((db.path / "secret.txt").string().c_str(), "wb"); std::fputs("TOPSECRET", f); std::fclose(f); }
    const bool file_link = CreateSymbolicLinkW((db.path / "link.meta").wstring().c_str(), (db.path / "secret.txt").wstring().c_str(), 0) != 0;
    const bool dir_link = CreateSymbolicLinkW((db.path / "linked").wstring().c_str(), (db.path / "real").wstring().c_str(),
                                              SYMBOLIC_LINK_FLAG_DIRECTORY) != 0;
    if (!file_link || !dir_link || cd::file_kind((db.path / "linked").string()) != cd::entry_kind::link) {
        WARN("SKIPPED: this system (wine) made no symbolic link that shows as a reparse point");
        return;
    }
    std::string text;
    CHECK_FALSE(cd::read_whole_file((db.path / "link.meta").string(), &text));
    CHECK(cd::read_whole_file((db.path / "secret.txt").string(), &text));
    crashdrop::Options o = db.options();
    o.database_path = (db.path / "linked").string();
    const crashdrop::Status s = crashdrop::start(o);
    INFO(s.message());
    CHECK(s.code() == crashdrop::Error::database_unavailable);
    CHECK(s.message().find("reparse point") != std::string::npos);
    CHECK_FALSE(crashdrop::is_started());
}

TEST_CASE("a database folder on Windows is refused when Everyone may write it or it has a NULL access list - a fresh one is accepted") {
    namespace cd = crashdrop::detail;
    std::string why;
    {  // created by start(): the user's (and accepted again by the next start)
        TempDatabase db;
        REQUIRE(crashdrop::start(db.options()).ok());
        crashdrop::stop();
        CHECK(cd::check_private_folder(db.path.string(), &why));
        INFO(why);
        REQUIRE(crashdrop::start(db.options()).ok());
        crashdrop::stop();
    }
    {  // the database folder itself grants Everyone full control
        TempDatabase db;
        fs::create_directories(db.path);
        REQUIRE(grant(db.path, L"S-1-1-0", GENERIC_ALL) == ERROR_SUCCESS);
        const crashdrop::Status s = crashdrop::start(db.options());
        INFO(s.message());
        CHECK(s.code() == crashdrop::Error::database_unavailable);
        CHECK(s.message().find("is writable by Everyone") != std::string::npos);
        CHECK(s.message().find(db.path.string()) != std::string::npos);
        CHECK_FALSE(crashdrop::is_started());
        if (crashdrop::is_started()) crashdrop::stop();
    }
    {  // only its pending folder lets Everyone add files (wine keeps no entry for BUILTIN\Users:
       // it stores an access list as the Unix mode, owner and others only)
        TempDatabase db;
        REQUIRE(crashdrop::start(db.options()).ok());
        crashdrop::stop();
        REQUIRE(grant(db.path / "pending", L"S-1-1-0", FILE_GENERIC_READ | FILE_ADD_FILE) == ERROR_SUCCESS);
        const crashdrop::Status s = crashdrop::start(db.options());
        INFO(s.message());
        CHECK(s.code() == crashdrop::Error::database_unavailable);
        CHECK(s.message().find("pending' is writable by Everyone") != std::string::npos);
        CHECK_FALSE(crashdrop::is_started());
        if (crashdrop::is_started()) crashdrop::stop();
    }
    {  // a NULL DACL: full access for everyone (wine stores it as an Everyone entry; refused either way)
        TempDatabase db;
        fs::create_directories(db.path);
        std::wstring name = db.path.wstring();
        REQUIRE(SetNamedSecurityInfoW(&name[0], SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr, nullptr, nullptr) ==
                ERROR_SUCCESS);
        const crashdrop::Status s = crashdrop::start(db.options());
        INFO(s.message());
        CHECK(s.code() == crashdrop::Error::database_unavailable);
        CHECK((s.message().find("NULL access list") != std::string::npos || s.message().find("is writable by Everyone") != std::string::npos));
        CHECK_FALSE(crashdrop::is_started());
        if (crashdrop::is_started()) crashdrop::stop();
    }
}

TEST_CASE("the Windows folder decision: owner is the user - SYSTEM or Administrators - and no broad group may write") {
    namespace cd = crashdrop::detail;
    const std::vector<unsigned char> user = sid_bytes(L"S-1-5-21-1-2-3-1000");
    auto judge = [&](const wchar_t* owner, const void* acl, std::string* why) {
        const std::vector<unsigned char> o = sid_bytes(owner);
        return cd::judge_folder_security("C:\\db", o.data(), o.size(), user.data(), user.size(), acl, why);
    };
    const DWORD read = 0x1200a9;  // list, traverse, read attributes and EA, read control, synchronize
    const std::vector<unsigned char> usual =
        make_acl({{true, L"S-1-5-18", FILE_ALL_ACCESS, 0}, {true, L"S-1-5-32-544", FILE_ALL_ACCESS, 0},
                  {true, L"S-1-5-21-1-2-3-1000", FILE_ALL_ACCESS, 0}, {true, L"S-1-1-0", read, 0},
                  {true, L"S-1-5-11", GENERIC_ALL, INHERIT_ONLY_ACE | OBJECT_INHERIT_ACE}, {false, L"S-1-1-0", DELETE, 0}});
    std::string why;
    CHECK(judge(L"S-1-5-21-1-2-3-1000", usual.data(), &why));
    CHECK(judge(L"S-1-5-32-544", usual.data(), &why));  // an elevated run's folder
    CHECK(judge(L"S-1-5-18", usual.data(), &why));
    CHECK_FALSE(judge(L"S-1-5-21-1-2-3-1001", usual.data(), &why));
    CHECK(why == "'C:\\db' is owned by another user (S-1-5-21-1-2-3-1001, this process runs as S-1-5-21-1-2-3-1000; "
                 "a database folder must be owned by its user, SYSTEM or BUILTIN\\Administrators)");
    CHECK_FALSE(judge(L"S-1-5-32-545", usual.data(), &why));  // owned by BUILTIN\Users
    CHECK(why.find("is owned by another user (S-1-5-32-545,") != std::string::npos);
    CHECK_FALSE(judge(L"S-1-5-21-1-2-3-1000", nullptr, &why));
    CHECK(why.find("'C:\\db' has a NULL access list") != std::string::npos);
    struct {
        const wchar_t* sid;
        DWORD rights;
        const char* named;
    } const broad[] = {{L"S-1-1-0", FILE_ADD_FILE, "Everyone"},
                       {L"S-1-5-11", FILE_ADD_SUBDIRECTORY, "Authenticated Users"},
                       {L"S-1-5-32-545", FILE_DELETE_CHILD, "BUILTIN\\Users"},
                       {L"S-1-5-32-546", WRITE_DAC, "BUILTIN\\Guests"},
                       {L"S-1-5-4", GENERIC_WRITE, "INTERACTIVE"},
                       {L"S-1-5-7", WRITE_OWNER, "ANONYMOUS LOGON"},
                       {L"S-1-5-21-7-8-9-513", DELETE, "Domain Users"},
                       {L"S-1-1-0", GENERIC_ALL, "Everyone"}};
    for (const auto& b : broad) {
        const std::vector<unsigned char> acl =
            make_acl({{true, L"S-1-5-21-1-2-3-1000", FILE_ALL_ACCESS, 0}, {true, b.sid, b.rights | read, OBJECT_INHERIT_ACE}});
        why.clear();
        CHECK_FALSE(judge(L"S-1-5-21-1-2-3-1000", acl.data(), &why));
        INFO(why);
        CHECK(why.find(std::string("'C:\\db' is writable by ") + b.named + " (") != std::string::npos);
    }
    // Reading is no write; another named user's entry is the owner's own choice.
    const std::vector<unsigned char> shared_read =
        make_acl({{true, L"S-1-5-32-545", read, 0}, {true, L"S-1-5-21-1-2-3-1001", FILE_ALL_ACCESS, 0}});
    CHECK(judge(L"S-1-5-21-1-2-3-1000", shared_read.data(), &why));
    // A damaged list (an entry that runs past its end) is refused, not read past.
    std::vector<unsigned char> damaged = make_acl({{true, L"S-1-5-21-1-2-3-1000", FILE_ALL_ACCESS, 0}});
    const std::uint16_t too_long = 2000;  // the list is 1024 bytes
    std::memcpy(damaged.data() + 8 + 2, &too_long, 2);
    CHECK_FALSE(judge(L"S-1-5-21-1-2-3-1000", damaged.data(), &why));
    CHECK(why == "'C:\\db' has a damaged access list");
}
