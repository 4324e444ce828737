// crashdrop/helper/helper_windows.hpp - the helper process on Windows: how start() launches it
// and how it writes the dump of a crashed application from outside.
//
// Launch (start()): CreateProcess of the executable itself with its own command line (reexec;
// its main() must reach start() without side effects first, as on Linux) or of
// Options::helper_path with "--crashdrop-helper" (external; a plugin inside a host uses this).
// HelperMode::fork does not exist on Windows. The child inherits exactly five handles (listed
// with PROC_THREAD_ATTRIBUTE_HANDLE_LIST) whose values it finds in the CRASHDROP_HELPER
// environment variable: the shared region (a pagefile-backed section), the crash event, the
// done event, the wake event (consent changed, or stop()) and a handle to the application
// process. Its standard output and error go to <database>\helper.log; it runs at below-normal
// priority without a console window.
//
// A crash: the application's crash path leaves the address of its EXCEPTION_POINTERS, the
// crashing thread and the time in the region, sets the crash event and waits for the done
// event. The helper calls dbghelp's MiniDumpWriteDump on the application (every thread, the
// module list, the exception record and the crashing thread's context, read from the
// application with ClientPointers), clears the registers and stack words that hold bytes of the
// application's command line or environment (read through its PEB), adds what MiniDumpWriteDump cannot (minidump/amend.hpp:
// Crashpad's annotations, crashdrop's context stream, CodeView records it left out), writes
// pending\<id>.dmp (flushed to disk), answers, and then stores and sends the report as on
// Linux (helper/service.hpp). The helper exits once the application has, after trying what
// is due.
// Beyond crashes (issue 14): with hang_timeout_ms the wait times out every quarter of it (at
// most 250 ms) and the helper reads heartbeat()'s count; a watched thread that stood still that
// long gets one hang report per episode (MiniDumpWriteDump of the live process, the thread's own
// context in the exception stream). With report_abnormal_exits the helper keeps the module
// list (looked at once a second); when the process handle signals without a crash, a normal
// exit or stop(), it writes an abnormal_exit report (build_exit_dump) naming the exit code.
// Context: implementation TU; start() (launch) and the helper process (ordinary code).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>  // __cpuid
#else
#include <cpuid.h>  // __get_cpuid: static inline functions only
#endif

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

constexpr const char* k_helper_env = "CRASHDROP_HELPER";  // five handle values: region:crash:done:wake:process
constexpr const wchar_t* k_helper_env_wide = L"CRASHDROP_HELPER";

/// 16 random bytes from the system (advapi32's RtlGenRandom); a clock-based fallback.
inline void win_random_bytes(unsigned char* out, std::size_t n) {
    using gen_random_fn = BOOLEAN(WINAPI*)(void*, ULONG);  // advapi32!SystemFunction036
    HMODULE advapi = load_system_library(L"advapi32.dll");
    gen_random_fn gen = nullptr;
    if (advapi == nullptr || !find_proc(advapi, "SystemFunction036", &gen) || !gen(out, static_cast<ULONG>(n))) {
        LARGE_INTEGER t;
        QueryPerformanceCounter(&t);
        unsigned long long x = static_cast<unsigned long long>(t.QuadPart) ^ (static_cast<unsigned long long>(GetCurrentProcessId()) << 32);
        for (std::size_t i = 0; i < n; ++i) {  // splitmix64: only ever a fallback
            x += 0x9E3779B97F4A7C15ull;
            unsigned long long z = x;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            out[i] = static_cast<unsigned char>(z ^ (z >> 31));
        }
    }
    if (advapi != nullptr) FreeLibrary(advapi);
}

inline std::string new_uuid() {
    unsigned char b[16];
    win_random_bytes(b, sizeof(b));
    b[6] = static_cast<unsigned char>((b[6] & 0x0fu) | 0x40u);  // version 4
    b[8] = static_cast<unsigned char>((b[8] & 0x3fu) | 0x80u);  // RFC 4122 variant
    char out[40];
    std::snprintf(out, sizeof(out), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                  b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return out;
}

/// The handles the application and its helper share.
struct win_helper_handles {
    HANDLE region = nullptr;
    HANDLE crash = nullptr;  // auto-reset: the application crashed (or asks for a dump)
    HANDLE done = nullptr;   // manual-reset: the helper has answered
    HANDLE wake = nullptr;   // auto-reset: consent changed, or stop() ran
    HANDLE app = nullptr;    // the application process (the helper's copy)
};

inline std::string encode_helper_handles(const win_helper_handles& h) {
    char buf[128];
    std::snprintf(buf, sizeof(buf), "%llu:%llu:%llu:%llu:%llu", static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(h.region)),
                  static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(h.crash)),
                  static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(h.done)),
                  static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(h.wake)),
                  static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(h.app)));
    return buf;
}

inline bool decode_helper_handles(const char* text, win_helper_handles* h) {
    unsigned long long v[5] = {};
    if (std::sscanf(text, "%llu:%llu:%llu:%llu:%llu", &v[0], &v[1], &v[2], &v[3], &v[4]) != 5) return false;
    HANDLE* out[5] = {&h->region, &h->crash, &h->done, &h->wake, &h->app};
    for (int i = 0; i < 5; ++i) {
        if (v[i] == 0) return false;
        *out[i] = reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(v[i]));
    }
    return true;
}

// ---- the helper's side -----------------------------------------------------------------------

/// The annotations (as the dump's Crashpad info carries them: long values as their parts) and
/// the context text of the application's store, read from the shared region.
inline void win_read_store(sigsafe::region_header* region, std::vector<std::pair<std::string, std::string>>* annotations,
                           std::string* context_text) {
    sigsafe::context_store store{};
    if (region->context_offset == 0 || region->context_offset + region->context_size > region->region_size ||
        !sigsafe::context_attach(&store, reinterpret_cast<sigsafe::u8*>(region) + region->context_offset)) {
        return;
    }
    sigsafe::slot_copy c;
    for (sigsafe::u32 i = 0; i < store.header->slot_capacity; ++i) {
        if (sigsafe::context_read_slot(&store, i, &c) && c.kind == sigsafe::sk_annotation && !(c.flags & sigsafe::sf_split)) {
            annotations->emplace_back(std::string(c.key, c.key_length), std::string(c.value, c.value_length));
        }
    }
    std::vector<char> buf(static_cast<std::size_t>(sigsafe::context_dump_bound(&store)) + 1);
    sigsafe::text t;
    t.reset(buf.data(), buf.size());
    sigsafe::breadcrumb_entry entry;
    std::vector<char> path(limits::attachment_path + 1);
    sigsafe::context_write_text(&store, &t, &c, &entry, path.data(), path.size());
    context_text->assign(buf.data(), t.size);
}

/// Reads the application's memory for dump_fill_codeview (user: the process handle).
inline bool win_read_app_memory(void* user, std::uint64_t address, void* out, std::size_t size) {
    SIZE_T got = 0;
    return ReadProcessMemory(static_cast<HANDLE>(user), reinterpret_cast<const void*>(static_cast<std::uintptr_t>(address)), out,
                             size, &got) &&
           got == size;
}

// Offsets in the x64 PEB and RTL_USER_PROCESS_PARAMETERS (stable since Windows XP x64; wine
// lays them out the same): PEB.ProcessParameters; the parameters' CommandLine (a
// UNICODE_STRING: Length, MaximumLength, then Buffer at +8) and Environment (a block of
// NUL-terminated UTF-16 strings ending with an empty one).
constexpr std::uint64_t k_peb_process_parameters = 0x20u;
constexpr std::uint64_t k_parameters_command_line = 0x70u;
constexpr std::uint64_t k_parameters_environment = 0x80u;
/// Longest environment block read (Windows caps the block at 32767 characters per variable,
/// not in total; beyond this the rest is not compared).
constexpr std::size_t k_environment_read_max = 4u * 1024u * 1024u;

/// Reads the application's command line and environment block (UTF-16, as its PEB holds
/// them) and adds their 8-byte windows to *out. false with *why when they cannot be read.
inline bool win_read_app_secrets(HANDLE app, secret_windows* out, std::string* why) {
    struct basic_information {  // PROCESS_BASIC_INFORMATION
        LONG exit_status;
        void* peb;
        ULONG_PTR affinity_mask;
        LONG base_priority;
        ULONG_PTR unique_process_id;
        ULONG_PTR inherited_from;
    };
    using query_fn = LONG(WINAPI*)(HANDLE, int, void*, ULONG, ULONG*);  // NtQueryInformationProcess
    static HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    query_fn query = nullptr;
    if (ntdll == nullptr || !find_proc(ntdll, "NtQueryInformationProcess", &query)) {
        *why = "ntdll's NtQueryInformationProcess is unavailable";
        return false;
    }
    basic_information info{};
    ULONG got = 0;
    const LONG status = query(app, 0 /* ProcessBasicInformation */, &info, sizeof(info), &got);
    if (status < 0 || info.peb == nullptr) {
        *why = "NtQueryInformationProcess failed (status " + amend_hex(static_cast<std::uint32_t>(status)) + ")";
        return false;
    }
    const auto peb = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(info.peb));
    std::uint64_t parameters = 0, command_line = 0, environment = 0;
    std::uint16_t command_length = 0;
    if (!win_read_app_memory(app, peb + k_peb_process_parameters, &parameters, 8) || parameters == 0 ||
        !win_read_app_memory(app, parameters + k_parameters_command_line, &command_length, 2) ||
        !win_read_app_memory(app, parameters + k_parameters_command_line + 8, &command_line, 8) ||
        !win_read_app_memory(app, parameters + k_parameters_environment, &environment, 8)) {
        *why = "the process parameters in the application's PEB cannot be read";
        return false;
    }
    bool ok = true;
    if (command_line != 0 && command_length >= 2) {
        std::u16string text(command_length / 2u, u'\0');
        if (win_read_app_memory(app, command_line, &text[0], text.size() * 2)) secret_windows_add_utf16(out, text);
        else ok = false;
    }
    // The environment block: read page by page (it may end anywhere in its last page) until the
    // empty string that ends it.
    std::u16string block;
    std::uint64_t at = environment;
    while (environment != 0 && block.size() * 2 < k_environment_read_max) {
        const std::size_t chunk = static_cast<std::size_t>(4096u - at % 4096u);
        std::u16string part(chunk / 2, u'\0');
        if (!win_read_app_memory(app, at, &part[0], chunk)) {
            ok = ok && !block.empty();  // a block that ends at the end of its mapping
            break;
        }
        block += part;
        at += chunk;
        if (block.find(std::u16string(2, u'\0')) != std::u16string::npos) break;
    }
    const std::size_t end = block.find(std::u16string(2, u'\0'));
    if (end != std::u16string::npos) block.resize(end + 1);
    secret_windows_add_utf16(out, block);
    if (!ok) *why = "the application's command line or environment block cannot be read";
    return ok;
}

/// Clears the registers and stack words of the written dump that hold bytes of the
/// application's command line or environment (dump_scrub_secrets), whatever include_environment
/// and include_command_line say (as on Linux, those decide only what streams hold; MiniDumpWriteDump
/// writes neither). What was cleared goes into the writer-errors stream and helper.log.
/// `note`: what win_apply_memory_level did, for the same writer-errors stream.
inline void win_scrub_dump(helper_service* service, HANDLE app, std::string* dump, const std::string& note) {
    secret_windows windows;
    std::string why;
    if (!win_read_app_secrets(app, &windows, &why)) service->log("privacy: " + why);
    scrub_result result;
    std::string error;
    if (!dump_scrub_secrets(dump, windows, &result, &error)) {
        service->log("privacy: the registers and stacks were not checked: " + error);
        result.report.clear();
    } else if (!result.report.empty()) {
        service->log("privacy: " + std::to_string(result.registers) + " registers and " + std::to_string(result.words) +
                     " stack words cleared (they held bytes of the command line or environment)");
    }
    const std::string errors = note + result.report;
    if (errors.empty()) return;
    if (!dump_append_stream(dump, minidump::stream_crashdrop_writer_errors, errors, &error)) service->log("writer errors: " + error);
}

// ---- Options::memory_capture (docs/dumps.md, "Memory capture levels") ---------------------------
// MiniDumpWriteDump writes the same dump type at every level (sigsafe::k_dump_type: stacks, the
// instruction windows, the modules' unwind data; no indirectly referenced memory, data segments
// or heap). The level is applied to its result, before anything else touches it:
//  - full: the memory around the crashing thread's registers is added (dump_add_register_memory);
//  - stacks_only: nothing is added;
//  - scrubbed_stacks: nothing is added, and the stack words that point neither into a stack nor
//    into a module are zeroed (dump_scrub_stack_words), a stack being the thread's whole stack
//    reservation (VirtualQueryEx's AllocationBase up to the stack's end), as on Linux.

/// VirtualQueryEx: the committed, readable region of the application holding `address`.
inline bool win_app_region(void* user, std::uint64_t address, std::uint64_t* start, std::uint64_t* end) {
    MEMORY_BASIC_INFORMATION mbi;
    if (VirtualQueryEx(static_cast<HANDLE>(user), reinterpret_cast<const void*>(static_cast<std::uintptr_t>(address)), &mbi,
                       sizeof(mbi)) == 0) {
        return false;
    }
    const DWORD readable = PAGE_READONLY | PAGE_READWRITE | PAGE_WRITECOPY | PAGE_EXECUTE_READ | PAGE_EXECUTE_READWRITE |
                           PAGE_EXECUTE_WRITECOPY;
    if (mbi.State != MEM_COMMIT || (mbi.Protect & readable) == 0 || (mbi.Protect & (PAGE_GUARD | PAGE_NOACCESS)) != 0) return false;
    *start = reinterpret_cast<std::uintptr_t>(mbi.BaseAddress);
    *end = *start + mbi.RegionSize;
    return true;
}

/// Applies the configured level to a dump MiniDumpWriteDump just wrote; returns the line for
/// the writer-errors stream (none at full, as on Linux).
inline std::string win_apply_memory_level(helper_service* service, HANDLE app, std::string* dump) {
    const int level = service->config().memory_capture;
    std::string error;
    if (level == static_cast<int>(MemoryCapture::full)) {
        std::size_t added = 0;
        if (!dump_add_register_memory(dump, win_app_region, win_read_app_memory, app, &added, &error)) {
            service->log("memory around registers: " + error);
        }
        return "";
    }
    if (level == static_cast<int>(MemoryCapture::stacks_only)) return "memory_capture: stacks_only: no memory around registers\n";
    // scrubbed_stacks: each thread's whole stack reservation counts as its stack.
    const auto* bytes = reinterpret_cast<const unsigned char*>(dump->data());
    scrub_layout layout;
    std::vector<address_range> stacks(scrub_find_layout(bytes, dump->size(), &layout) ? layout.thread_count : 0);
    stacks.resize(sigsafe::win_stack_reservations(app, bytes, dump->size(), stacks.data(), stacks.size()));
    stack_scrub_counts counts;
    if (!dump_scrub_stack_words(reinterpret_cast<unsigned char*>(&(*dump)[0]), dump->size(), stacks.data(), stacks.size(), &counts)) {
        service->log("memory_capture: scrubbed_stacks: the dump's thread or module list is damaged; the stacks were not scrubbed");
        return "memory_capture: scrubbed_stacks: the stacks could not be scrubbed\n";
    }
    return "memory_capture: scrubbed_stacks: " + std::to_string(counts.zeroed) + " stack words zeroed, " + std::to_string(counts.kept) +
           " kept (pointers into stacks or code); no memory around registers\n";
}

/// Adds to a dump what MiniDumpWriteDump cannot write (minidump/amend.hpp): Crashpad's info
/// stream with the report id, the client id and the annotations; crashdrop's context stream;
/// the CodeView records of modules it left without one (wine's dbghelp leaves them all out;
/// mingw builds linked with --build-id carry an RSDS record in their PE debug directory).
/// `kind` becomes the dump's annotation crash_kind (a hang dump passes report_kind::hang).
/// `extra`: annotations the helper adds (a hang report's hang_thread...); they replace the
/// application's own of the same name (a key listed twice would be ambiguous to readers).
inline void win_amend_dump(helper_service* service, sigsafe::region_header* region, const std::string& id, HANDLE app,
                           report_kind kind, std::string* dump, const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    std::vector<std::pair<std::string, std::string>> annotations;
    std::string context_text;
    win_read_store(region, &annotations, &context_text);
    override_annotations(&annotations, extra);
    minidump::guid report_id{}, client_id{};
    parse_guid(id, &report_id);
    parse_guid(service->client_id(), &client_id);
    std::string error;
    std::size_t filled = 0;
    if (!dump_fill_codeview(dump, win_read_app_memory, app, &error, &filled)) service->log("CodeView records: " + error);
    if (!dump_append_crashpad_info(dump, report_id, client_id, kind, annotations, &error)) service->log("annotations: " + error);
    if (!context_text.empty() && !dump_append_stream(dump, minidump::stream_crashdrop_context, context_text, &error)) {
        service->log("context: " + error);
    }
}

/// dbghelp's MiniDumpWriteDump of the application (every thread, sigsafe::k_dump_type) into
/// *dump, through a temporary file in `folder`. false (logged) when it fails.
inline bool win_minidump(helper_service* service, HANDLE app, DWORD pid, MINIDUMP_EXCEPTION_INFORMATION* mei,
                         const std::string& folder, const std::string& id, std::string* dump) {
    static HMODULE dbghelp = load_system_library(L"dbghelp.dll");
    using write_dump_fn = BOOL(WINAPI*)(HANDLE, DWORD, HANDLE, MINIDUMP_TYPE, PMINIDUMP_EXCEPTION_INFORMATION,
                                        PMINIDUMP_USER_STREAM_INFORMATION, PMINIDUMP_CALLBACK_INFORMATION);
    write_dump_fn write_dump = nullptr;
    if (dbghelp == nullptr || !find_proc(dbghelp, "MiniDumpWriteDump", &write_dump)) {
        service->log("dbghelp.dll's MiniDumpWriteDump is unavailable: " + error_text(last_error()));
        return false;
    }
    // MiniDumpWriteDump into a temporary file, which is then read back (and amended by the
    // caller, which writes it under its final name).
    const std::string temp = path_join(folder, "." + id + ".dmp.helper.tmp");
    HANDLE file = CreateFileW(widen(temp).c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                              FILE_ATTRIBUTE_TEMPORARY, nullptr);
    if (file == INVALID_HANDLE_VALUE) {
        service->log("cannot create " + temp + ": " + error_text(last_error()));
        return false;
    }
    // The symbol handler initialised for the application without loading its modules' symbols:
    // Microsoft's MiniDumpWriteDump needs none, and wine's, finding none, would initialise it
    // itself and parse the debug information of every module first (3 to 14 s of CPU per dump
    // on a busy 2-core machine, against 0.1 s: the hang cases' dumps outlasted their tests).
    using sym_init_fn = BOOL(WINAPI*)(HANDLE, PCWSTR, BOOL);
    using sym_cleanup_fn = BOOL(WINAPI*)(HANDLE);
    sym_init_fn sym_init = nullptr;
    sym_cleanup_fn sym_cleanup = nullptr;
    const bool inited = find_proc(dbghelp, "SymInitializeW", &sym_init) && find_proc(dbghelp, "SymCleanup", &sym_cleanup) &&
                        sym_init(app, nullptr, FALSE);
    const BOOL wrote = write_dump(app, pid, file, sigsafe::k_dump_type, mei, nullptr, nullptr);
    const int write_error = last_error();
    if (inited) sym_cleanup(app);
    CloseHandle(file);
    if (!wrote || !read_whole_file(temp, dump, 1u << 31)) {
        service->log("MiniDumpWriteDump failed: " + error_text(write_error));
        remove_file(temp);
        return false;
    }
    remove_file(temp);
    return true;
}

/// Writes the dump of the crashed application (or of the one that asked for a dump) into
/// pending\<id>.dmp, flushed, before answering. *out gets its report.
/// The hand-off's facts, copied from the region when the helper takes it.
struct win_handoff_facts {
    std::string id;
    std::uint64_t exception_pointers = 0;
    std::uint32_t crashed_tid = 0;
    std::uint32_t app_pid = 0;
    std::uint64_t crash_time = 0;
};

inline bool win_persist_crash(helper_service* service, sigsafe::region_header* region, const win_handoff_facts& facts, HANDLE app,
                              Report* out) {
    const std::string& id = facts.id;
    if (!is_report_id(id)) {  // only a well-formed id becomes a file name
        service->log("hand-off refused: malformed report id");
        return false;
    }
    const std::string pending = service->db().pending_dir();
    MINIDUMP_EXCEPTION_INFORMATION mei;
    mei.ThreadId = facts.crashed_tid;
    mei.ExceptionPointers = reinterpret_cast<PEXCEPTION_POINTERS>(static_cast<std::uintptr_t>(facts.exception_pointers));
    mei.ClientPointers = TRUE;  // the record and context are in the application's memory
    std::string dump;
    if (!win_minidump(service, app, facts.app_pid, facts.exception_pointers != 0 ? &mei : nullptr, pending, id, &dump)) return false;
    const std::string level_note = win_apply_memory_level(service, app, &dump);
    win_scrub_dump(service, app, &dump, level_note);
    // What the dump is, from the exception record MiniDumpWriteDump wrote (write_dump()'s code
    // 0x0517A7ED: requested; an exception code: a crash).
    Report written;
    read_dump_context(reinterpret_cast<const std::uint8_t*>(dump.data()), dump.size(), &written);
    report_kind kind = report_kind::crash;
    report_kind_from_name(written.kind, &kind);
    win_amend_dump(service, region, id, app, kind, &dump);
    std::string error;
    if (!store_helper_dump(service, id, dump, static_cast<std::time_t>(facts.crash_time), out, &error)) {
        service->log("could not write " + id + ".dmp: " + error);
        return false;
    }
    return true;
}

// ---- hangs (issue 14 part 5): the helper watches heartbeat()'s count ----------------------------

/// How often the helper looks at the heartbeat count: a quarter of the timeout, at most 250 ms
/// (a hang is seen at most that late).
inline DWORD win_hang_poll_ms(int hang_timeout_ms) {
    return static_cast<DWORD>(std::max(25, std::min(250, hang_timeout_ms / 4)));
}

/// Milliseconds of the system's interrupt time without the time it spent asleep or
/// hibernating (QueryUnbiasedInterruptTime): a laptop's sleep is no hang.
inline ULONGLONG win_awake_ms() {
    ULONGLONG t = 0;
    if (!QueryUnbiasedInterruptTime(&t)) return GetTickCount64();
    return t / 10000u;  // 100 ns units
}

/// The watched thread's state as the helper last saw it.
struct win_hang_watch {
    std::uint64_t count = 0;          // the heartbeat count last seen
    ULONGLONG moved_at = 0;           // win_awake_ms() when it last changed
    bool beaten = false;              // the watched thread has beaten at least once
    bool reported = false;            // this episode has its report (or its attempt failed)
    bool active = false;              // the count has stood still for the timeout: a hang episode
};

/// Writes the hang report: a dump of the live application (every thread) whose exception stream
/// names the watched thread with its own context (taken here with the thread suspended) and
/// minidump::k_exception_hang, annotated hang_thread, hang_ms and crash_kind. *out gets its report.
inline bool win_persist_hang(helper_service* service, sigsafe::region_header* region, HANDLE app, DWORD pid, DWORD tid,
                             std::uint64_t hung_ms, Report* out) {
    const std::string id = new_uuid();
    const std::string pending = service->db().pending_dir();
    HANDLE thread = OpenThread(THREAD_SUSPEND_RESUME | THREAD_GET_CONTEXT | THREAD_QUERY_INFORMATION, FALSE, tid);
    if (thread == nullptr) {
        service->log("hang: the watched thread " + std::to_string(tid) + " cannot be opened: " + error_text(last_error()));
        return false;
    }
    // Suspended while its context is taken and the dump written: the exception stream's context
    // and the stack in the thread list are then of one moment.
    const bool suspended = SuspendThread(thread) != static_cast<DWORD>(-1);
    alignas(16) CONTEXT context;
    std::memset(&context, 0, sizeof(context));
    context.ContextFlags = CONTEXT_FULL | CONTEXT_SEGMENTS | CONTEXT_FLOATING_POINT;
    const bool have_context = suspended && GetThreadContext(thread, &context);
    EXCEPTION_RECORD record;
    std::memset(&record, 0, sizeof(record));
    record.ExceptionCode = minidump::k_exception_hang;
    record.ExceptionAddress = have_context ? reinterpret_cast<void*>(context.Rip) : nullptr;
    record.NumberParameters = 1;
    record.ExceptionInformation[0] = static_cast<ULONG_PTR>(hung_ms);
    EXCEPTION_POINTERS pointers{&record, &context};
    MINIDUMP_EXCEPTION_INFORMATION mei{tid, &pointers, FALSE};  // the record and context are the helper's
    std::string dump;
    const bool wrote = have_context && win_minidump(service, app, pid, &mei, pending, id, &dump);
    if (!have_context) service->log("hang: the watched thread's context cannot be read: " + error_text(last_error()));
    if (suspended) ResumeThread(thread);
    CloseHandle(thread);
    if (!wrote) return false;
    const std::string level_note = win_apply_memory_level(service, app, &dump);
    win_scrub_dump(service, app, &dump, level_note);
    const std::vector<std::pair<std::string, std::string>> extra = {
        {"hang_thread", std::to_string(tid)}, {"hang_ms", std::to_string(hung_ms)}};
    win_amend_dump(service, region, id, app, report_kind::hang, &dump, extra);  // crash_kind=hang comes first
    std::string error;
    if (!store_helper_dump(service, id, dump, std::time(nullptr), out, &error)) {  // its kind from the dump
        service->log("could not write " + id + ".dmp: " + error);
        return false;
    }
    return true;
}

/// Looks at the heartbeat count (after every wait): once the watched thread has beaten and
/// the count has stood still for hang_timeout_ms, one hang report for the episode; a beat ends
/// the episode.
inline void win_check_hang(helper_service* service, sigsafe::region_header* region, HANDLE app, DWORD pid, win_hang_watch* w) {
    const int timeout = service->config().hang_timeout_ms;
    if (timeout <= 0) return;
    const std::uint64_t count = region->heartbeats.load(std::memory_order_acquire);
    const DWORD tid = region->watched_tid.load(std::memory_order_acquire);
    const ULONGLONG now = win_awake_ms();
    if (count != w->count || !w->beaten) {
        if (count != w->count && w->active) service->log("hang over: the watched thread beats again");
        w->beaten = count != 0 && tid != 0;
        w->count = count;
        w->moved_at = now;
        w->reported = false;
        w->active = false;
        return;
    }
    const ULONGLONG still = now - w->moved_at;
    if (still < static_cast<ULONGLONG>(timeout) || w->reported) return;
    w->active = true;
    w->reported = true;  // one report per episode, written or not
    service->log("hang: the watched thread " + std::to_string(tid) + " has not beaten for " + std::to_string(still) + " ms");
    Report r;
    if (win_persist_hang(service, region, app, pid, tid, still, &r)) service->persisted(r);
}

// ---- the end of the application (issue 14 part 5) ----------------------------------------------
// A terminated application's memory is gone by the time its handle signals (MiniDumpWriteDump
// can no longer read it), so the helper keeps, while the application lives, what the
// abnormal-exit report needs: its module list (looked at again at most once a second, read
// anew only when it changed). The report is then built by build_exit_dump (minidump/exit_dump.hpp).

/// How often the module list is looked at while the application runs.
constexpr ULONGLONG k_module_refresh_ms = 1000;

/// The application's modules as the helper last saw them.
struct win_module_watch {
    std::vector<HMODULE> handles;            // EnumProcessModulesEx's answer they were read from
    std::vector<exit_dump_module> modules;
    ULONGLONG looked_at = 0;                 // GetTickCount64(), 0: never
};

/// Reads the module list of the application (psapi's functions, exported by kernel32 as K32*),
/// unless it is the one already held. Each module's PE TimeDateStamp, CheckSum and CodeView
/// record come from its headers in the application's memory.
inline void win_refresh_modules(HANDLE app, win_module_watch* w) {
    using enum_fn = BOOL(WINAPI*)(HANDLE, HMODULE*, DWORD, DWORD*, DWORD);
    struct module_info {  // psapi's MODULEINFO
        void* base;
        DWORD size;
        void* entry;
    };
    using info_fn = BOOL(WINAPI*)(HANDLE, HMODULE, module_info*, DWORD);
    using name_fn = DWORD(WINAPI*)(HANDLE, HMODULE, wchar_t*, DWORD);
    static HMODULE kernel32 = GetModuleHandleW(L"kernel32.dll");
    enum_fn enumerate = nullptr;
    info_fn info = nullptr;
    name_fn name = nullptr;
    if (kernel32 == nullptr || !find_proc(kernel32, "K32EnumProcessModulesEx", &enumerate) ||
        !find_proc(kernel32, "K32GetModuleInformation", &info) || !find_proc(kernel32, "K32GetModuleFileNameExW", &name)) {
        return;
    }
    w->looked_at = GetTickCount64();
    std::vector<HMODULE> handles(256);
    DWORD needed = 0;
    for (int attempt = 0; attempt < 4; ++attempt) {
        if (!enumerate(app, handles.data(), static_cast<DWORD>(handles.size() * sizeof(HMODULE)), &needed, 0x03 /* LIST_MODULES_ALL */)) {
            return;  // keeps what it had (the application may be ending)
        }
        if (needed <= handles.size() * sizeof(HMODULE)) break;
        handles.resize(needed / sizeof(HMODULE) + 16);
    }
    handles.resize(std::min<std::size_t>(handles.size(), needed / sizeof(HMODULE)));
    if (handles == w->handles) return;
    std::vector<exit_dump_module> modules;
    std::vector<wchar_t> path(32768);
    for (HMODULE m : handles) {
        module_info mi{};
        if (!info(app, m, &mi, sizeof(mi))) continue;
        exit_dump_module e;
        e.base = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(mi.base));
        e.size = mi.size;
        const DWORD n = name(app, m, path.data(), static_cast<DWORD>(path.size()));
        e.name = narrow(path.data(), n < path.size() ? n : 0);
        // IMAGE_FILE_HEADER.TimeDateStamp (NT headers + 8) and the optional header's CheckSum (+64).
        std::uint32_t nt = 0;
        if (win_read_app_memory(app, e.base + k_pe_dos_lfanew, &nt, 4) && nt < e.size) {
            win_read_app_memory(app, e.base + nt + 8, &e.time_date_stamp, 4);
            win_read_app_memory(app, e.base + nt + 4 + k_pe_file_header_size + 64, &e.checksum, 4);
        }
        pe_read_codeview(win_read_app_memory, app, e.base, e.size, &e.codeview);
        modules.push_back(e);
    }
    w->handles = handles;
    w->modules = modules;
}

/// The system info stream of this machine (the helper runs beside the application): the
/// processor (GetNativeSystemInfo, cpuid) and the Windows version (ntdll's RtlGetVersion, which
/// no manifest hides).
inline void win_system_info(minidump::system_info* si, std::string* csd_version) {
    std::memset(si, 0, sizeof(*si));
    SYSTEM_INFO sys;
    GetNativeSystemInfo(&sys);
    si->processor_architecture = minidump::k_arch_amd64;
    si->processor_level = sys.wProcessorLevel;
    si->processor_revision = sys.wProcessorRevision;
    si->number_of_processors = static_cast<std::uint8_t>(std::min<DWORD>(255, sys.dwNumberOfProcessors));
    si->platform_id = minidump::k_platform_windows;
    using version_fn = LONG(WINAPI*)(OSVERSIONINFOEXW*);
    static HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    version_fn get_version = nullptr;
    OSVERSIONINFOEXW v;
    std::memset(&v, 0, sizeof(v));
    v.dwOSVersionInfoSize = sizeof(v);
    if (ntdll != nullptr && find_proc(ntdll, "RtlGetVersion", &get_version) && get_version(&v) >= 0) {
        si->major_version = v.dwMajorVersion;
        si->minor_version = v.dwMinorVersion;
        si->build_number = v.dwBuildNumber;
        si->product_type = v.wProductType;
        si->suite_mask = v.wSuiteMask;
        *csd_version = narrow(v.szCSDVersion, wcsnlen(v.szCSDVersion, 128));
    }
    auto cpuid = [](unsigned leaf, std::uint32_t r[4]) {  // eax, ebx, ecx, edx
#if defined(_MSC_VER) && !defined(__clang__)
        int x[4] = {};
        __cpuid(x, static_cast<int>(leaf));
        for (int i = 0; i < 4; ++i) r[i] = static_cast<std::uint32_t>(x[i]);
#else
        unsigned a = 0, b = 0, c = 0, d = 0;
        __get_cpuid(leaf, &a, &b, &c, &d);
        r[0] = a, r[1] = b, r[2] = c, r[3] = d;
#endif
    };
    std::uint32_t regs[4] = {};
    cpuid(0, regs);
    si->cpu.x86.vendor_id[0] = regs[1];  // ebx, edx, ecx: "GenuineIntel"
    si->cpu.x86.vendor_id[1] = regs[3];
    si->cpu.x86.vendor_id[2] = regs[2];
    cpuid(1, regs);
    si->cpu.x86.version_information = regs[0];
    si->cpu.x86.feature_information = regs[3];
}

/// The abnormal-exit report of an application that ended with `exit_code`: a minimal dump
/// (build_exit_dump) of what the helper holds: system info, the modules last seen, an exception
/// record (k_exception_abnormal_exit, the exit code as its first parameter), the annotations with
/// crash_kind and exit_code, the context text (user, tags, breadcrumbs). *out gets its report.
inline bool win_persist_abnormal_exit(helper_service* service, sigsafe::region_header* region, HANDLE app, DWORD exit_code,
                                      const win_module_watch& modules, Report* out) {
    const std::string id = new_uuid();
    exit_dump_input in;
    win_system_info(&in.system, &in.csd_version);
    in.modules = modules.modules;
    in.process_id = region->app_pid;
    in.time_date_stamp = static_cast<std::uint32_t>(std::time(nullptr));
    FILETIME created{}, ended{}, kernel{}, user{};
    if (GetProcessTimes(app, &created, &ended, &kernel, &user)) {
        const std::uint64_t t = (std::uint64_t{created.dwHighDateTime} << 32) | created.dwLowDateTime;  // 100 ns since 1601
        const std::uint64_t k_1601_to_1970 = 116444736000000000ull;
        if (t > k_1601_to_1970) in.process_create_time = static_cast<std::uint32_t>((t - k_1601_to_1970) / 10000000u);
    }
    in.exception_code = minidump::k_exception_abnormal_exit;
    in.exception_parameters.push_back(exit_code);
    // The one listed thread (no registers): the watched thread when heartbeat() named one, else
    // the process id stands in (the helper knows no other thread of the application).
    const std::uint32_t watched = region->watched_tid.load(std::memory_order_acquire);
    in.exception_thread_id = watched != 0 ? watched : region->app_pid;
    parse_guid(id, &in.report_id);
    parse_guid(service->client_id(), &in.client_id);
    std::string context_text;
    win_read_store(region, &in.annotations, &context_text);
    // What ended it, as annotations (the names the Linux helper gives them; these win over the
    // application's own of the same name).
    const std::vector<std::pair<std::string, std::string>> facts = {
        {k_crash_kind_field, report_kind_name(report_kind::abnormal_exit)},
        {"exit_reason", "terminated"},
        {"exit_code", std::to_string(exit_code)},
        {"exit_cause_source", "GetExitCodeProcess"}};
    override_annotations(&in.annotations, facts);
    if (!context_text.empty()) in.extra_streams.emplace_back(minidump::stream_crashdrop_context, context_text);
    in.extra_streams.emplace_back(minidump::stream_crashdrop_writer_errors,
                                  "abnormal exit: the process had ended when this dump was built (by the helper): no thread registers, "
                                  "stacks or memory; the module list is the helper's last look (at most " +
                                      std::to_string(k_module_refresh_ms) + " ms old) at the application's modules\n");
    std::string error;
    if (!store_helper_dump(service, id, build_exit_dump(in, &error), std::time(nullptr), out, &error)) {
        service->log("abnormal exit: the report could not be stored: " + error);
        return false;
    }
    return true;
}

/// The application has gone without a crash handed off: a normal exit (exit_state says so: the
/// exit hooks recorded clean_exit themselves) or not. Otherwise (TerminateProcess, ExitProcess
/// called directly, a fault that never reached crashdrop's handlers) an abnormal-exit report
/// when report_abnormal_exits is on, and the run ends hung when a hang episode was under way,
/// else abnormal_exit.
inline void win_app_ended(helper_service* service, sigsafe::region_header* region, HANDLE app, bool hang_active,
                          const win_module_watch& modules) {
    if (region->exit_state.load(std::memory_order_acquire) == sigsafe::exit_clean) return;
    DWORD code = 0;
    const bool have_code = GetExitCodeProcess(app, &code) != 0;
    service->log("the application ended without a normal exit" + (have_code ? " (exit code " + std::to_string(code) + ")" : std::string()));
    record_run_end(service->db().root(), static_cast<long>(region->app_pid), hang_active ? RunOutcome::hung : RunOutcome::abnormal_exit);
    if (!service->config().report_abnormal_exits) return;
    Report r;
    if (win_persist_abnormal_exit(service, region, app, code, modules, &r)) service->persisted(r);
}

/// The helper process: maps the region, reads its configuration, and serves the application
/// until it has gone (or stop() detached it). Never returns.
[[noreturn]] inline void win_helper_main(const win_helper_handles& h, const Transport* custom, const BeforeUpload* before) {
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
    void* view = MapViewOfFile(h.region, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0);
    auto* region = static_cast<sigsafe::region_header*>(view);
    if (region == nullptr || region->magic != sigsafe::k_region_magic || region->version != sigsafe::k_region_version) {
        std::fprintf(stderr, "crashdrop-helper: the shared region is missing or from another crashdrop version\n");
        std::fflush(stderr);
        TerminateProcess(GetCurrentProcess(), 2);
    }
    const helper_config config = decode_helper_config(reinterpret_cast<const char*>(region) + region->config_offset);
    int code = 1;
    {
        helper_service service(config, custom, before);
        service.set_region(region);
        if (service.begin()) {
            win_hang_watch hang;
            win_module_watch modules;  // for an abnormal-exit report
            bool crash_seen = false;   // a crash was handed off: its end is no abnormal exit
            DWORD poll = config.hang_timeout_ms > 0 ? win_hang_poll_ms(config.hang_timeout_ms) : INFINITE;
            if (config.report_abnormal_exits) {
                poll = std::min<DWORD>(poll, static_cast<DWORD>(k_module_refresh_ms));
                win_refresh_modules(h.app, &modules);
            }
            for (;;) {
                HANDLE waits[3] = {h.crash, h.wake, h.app};
                const DWORD r = WaitForMultipleObjects(3, waits, FALSE, poll);
                if (r != WAIT_OBJECT_0 + 2) win_check_hang(&service, region, h.app, region->app_pid, &hang);
                if (r != WAIT_OBJECT_0 + 2 && config.report_abnormal_exits && GetTickCount64() - modules.looked_at >= k_module_refresh_ms) {
                    win_refresh_modules(h.app, &modules);
                }
                if (r == WAIT_TIMEOUT) {
                    continue;
                } else if (r == WAIT_OBJECT_0) {
                    // Only the hand-off that is waiting is taken (its number is in the word);
                    // one the application withdrew is left alone.
                    std::uint64_t word = region->handoff.load(std::memory_order_acquire);
                    const sigsafe::u32 seq = sigsafe::handoff_seq_of(word);
                    if (sigsafe::handoff_state_of(word) != sigsafe::hs_ready ||
                        !region->handoff.compare_exchange_strong(word, sigsafe::handoff_word(seq, sigsafe::hs_taken),
                                                                 std::memory_order_acq_rel)) {
                        service.log("crash event without a hand-off waiting (withdrawn by the application)");
                        // A crash the application writes itself: its end is no abnormal exit either.
                        crash_seen = crash_seen || region->exception_code != sigsafe::k_code_dump_requested;
                        continue;
                    }
                    win_handoff_facts facts;
                    facts.id.assign(region->report_id, strnlen(region->report_id, sizeof(region->report_id)));
                    facts.exception_pointers = region->exception_pointers;
                    facts.crashed_tid = region->crashed_tid;
                    facts.app_pid = region->app_pid;
                    facts.crash_time = region->crash_time;
                    const bool crashed = region->exception_code != sigsafe::k_code_dump_requested;  // not write_dump()
                    Report persisted;
                    const bool ok = win_persist_crash(&service, region, facts, h.app, &persisted);
                    std::uint64_t taken = sigsafe::handoff_word(seq, sigsafe::hs_taken);
                    region->handoff.compare_exchange_strong(taken, sigsafe::handoff_word(seq, ok ? sigsafe::hs_persisted : sigsafe::hs_failed),
                                                            std::memory_order_acq_rel);
                    // A crash ends the run: recorded before the answer lets the application
                    // die, so the next start() reads it.
                    if (crashed) record_run_end(service.db().root(), static_cast<long>(facts.app_pid), RunOutcome::crashed);
                    crash_seen = crash_seen || crashed;
                    SetEvent(h.done);
                    if (ok) service.persisted(persisted);
                } else if (r == WAIT_OBJECT_0 + 1) {
                    if (region->app_detached.load(std::memory_order_acquire) != 0) {
                        service.log("the application stopped crashdrop");
                        break;
                    }
                    service.log("upload consent changed");
                    service.requeue_all();
                } else {
                    service.log(r == WAIT_OBJECT_0 + 2 ? "the application has gone" : "waiting failed: " + error_text(last_error()));
                    if (r == WAIT_OBJECT_0 + 2 && !crash_seen) win_app_ended(&service, region, h.app, hang.active, modules);
                    break;
                }
            }
            if (!service.finish()) {
                service.log("helper exits (linger time over)");
                std::fflush(nullptr);
                TerminateProcess(GetCurrentProcess(), 0);  // the abandoned upload ends with the process
            }
            service.log("helper exits");
            code = 0;
        }
    }
    std::fflush(nullptr);
    // Not ExitProcess: the application's atexit handlers and static destructors (this is its
    // executable, in reexec mode) are not the helper's to run.
    TerminateProcess(GetCurrentProcess(), static_cast<UINT>(code));
    for (;;) Sleep(INFINITE);
}

/// In a process started as a helper (the environment says so): run it. Returns only if this
/// process is not one.
inline void run_helper_if_asked(const Transport* custom, const BeforeUpload* before) {
    char spec[128];
    const DWORD n = GetEnvironmentVariableA(k_helper_env, spec, sizeof(spec));
    if (n == 0 || n >= sizeof(spec)) return;
    win_helper_handles h;
    if (!decode_helper_handles(spec, &h)) return;
    SetEnvironmentVariableA(k_helper_env, nullptr);  // not for whatever the helper might start
    win_helper_main(h, custom, before);
}

// ---- launching -------------------------------------------------------------------------------

/// The environment block of this process with CRASHDROP_HELPER set to `value`.
inline std::wstring win_helper_environment(const std::string& value) {
    std::wstring block;
    const std::wstring prefix = std::wstring(k_helper_env_wide) + L"=";
    if (LPWCH env = GetEnvironmentStringsW()) {
        for (const wchar_t* e = env; *e != L'\0'; e += std::wcslen(e) + 1) {
            if (_wcsnicmp(e, prefix.c_str(), prefix.size()) != 0) {
                block += e;
                block += L'\0';
            }
        }
        FreeEnvironmentStringsW(env);
    }
    block += prefix + widen(value);
    block += L'\0';
    block += L'\0';
    return block;
}

/// Starts the helper with the shared handles; returns its process handle, or nullptr with *error.
inline HANDLE win_launch_helper(HelperMode mode, const std::string& helper_path, const win_helper_handles& h,
                                const std::string& log_path, std::string* error) {
    std::wstring exe, command;
    if (mode == HelperMode::external) {
        exe = widen(helper_path);
        command = L"\"" + exe + L"\" --crashdrop-helper";
    } else {
        std::vector<wchar_t> path(32768);
        const DWORD n = GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
        if (n == 0 || n >= path.size()) {
            *error = "GetModuleFileName: " + error_text(last_error());
            return nullptr;
        }
        exe.assign(path.data(), n);
        command = GetCommandLineW();
    }
    std::wstring environment = win_helper_environment(encode_helper_handles(h));

    SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
    // Shared for deletion too: a helper rotates the log by renaming it (files_windows.hpp).
    HANDLE log = CreateFileW(widen(log_path).c_str(), FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &inherit,
                             OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    HANDLE nul = CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit, OPEN_EXISTING,
                             0, nullptr);
    if (log == INVALID_HANDLE_VALUE) log = nullptr;
    if (nul == INVALID_HANDLE_VALUE) nul = nullptr;

    // Exactly these handles are inherited; the shared ones are inheritable only meanwhile.
    HANDLE shared[5] = {h.region, h.crash, h.done, h.wake, h.app};
    std::vector<HANDLE> list(shared, shared + 5);
    if (log != nullptr) list.push_back(log);
    if (nul != nullptr) list.push_back(nul);
    for (HANDLE x : shared) SetHandleInformation(x, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);

    STARTUPINFOEXW si;
    std::memset(&si, 0, sizeof(si));
    si.StartupInfo.cb = sizeof(si);
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = nul;
    si.StartupInfo.hStdOutput = log != nullptr ? log : nul;
    si.StartupInfo.hStdError = log != nullptr ? log : nul;
    SIZE_T attributes_size = 0;
    InitializeProcThreadAttributeList(nullptr, 1, 0, &attributes_size);
    std::vector<unsigned char> attributes(attributes_size);
    DWORD flags = CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW | BELOW_NORMAL_PRIORITY_CLASS;
    auto* attribute_list = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attributes.data());
    if (attributes_size > 0 && InitializeProcThreadAttributeList(attribute_list, 1, 0, &attributes_size)) {
        if (UpdateProcThreadAttribute(attribute_list, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, list.data(),
                                      list.size() * sizeof(HANDLE), nullptr, nullptr)) {
            si.lpAttributeList = attribute_list;
            flags |= EXTENDED_STARTUPINFO_PRESENT;
        }
    }
    PROCESS_INFORMATION pi;
    std::memset(&pi, 0, sizeof(pi));
    const BOOL ok = CreateProcessW(exe.c_str(), &command[0], nullptr, nullptr, TRUE, flags, &environment[0], nullptr,
                                   &si.StartupInfo, &pi);
    const int launch_error = last_error();
    if (si.lpAttributeList != nullptr) DeleteProcThreadAttributeList(attribute_list);
    for (HANDLE x : shared) SetHandleInformation(x, HANDLE_FLAG_INHERIT, 0);
    if (log != nullptr) CloseHandle(log);
    if (nul != nullptr) CloseHandle(nul);
    if (!ok) {
        *error = "CreateProcess: " + error_text(launch_error);
        return nullptr;
    }
    CloseHandle(pi.hThread);
    return pi.hProcess;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS && CRASHDROP_SUPPORTED
