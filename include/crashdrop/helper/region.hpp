// crashdrop/helper/region.hpp - the memory the application shares with its helper process.
// start() reserves one region (a memfd on Linux, a pagefile-backed section on Windows); the
// helper maps the same memory. At offset 0 sits this header: where the helper finds the
// configuration, the annotations and (Linux) the dump image, and the hand-off of one dump. On
// Linux the crashed process fills the image, marks it ready and wakes the helper, which
// persists it and answers; on Windows the crashed process leaves the address of its exception
// record and the helper writes the dump from outside (MiniDumpWriteDump), then answers. The helper reads the annotations from here,
// so they reach it even when the crash corrupted the application's heap.
// Context: implementation TU. The hand-off fields are written on the crash path; everything
// else by start() and the helper (ordinary code).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

constexpr u32 k_region_magic = 0x31524443u;  // "CDR1"
constexpr u32 k_region_version = 3;
constexpr std::size_t k_config_capacity = 16 * 1024;

/// The hand-off's states.
enum handoff_state : u32 {
    hs_idle = 0,
    hs_ready = 1,      // the image holds a complete dump; report id and crash facts are set
    hs_persisted = 2,  // the helper has it in pending/ (and answered 'P')
    hs_failed = 3,     // the helper could not write it (and answered 'F')
};

struct region_header {
    u32 magic;
    u32 version;
    u64 region_size;
    u64 config_offset;       // key=value text (detail::helper_config), NUL-terminated
    u64 context_offset;      // the context store (context/store.hpp)
    u64 context_size;
    u64 image_offset;        // the dump image
    u64 image_capacity;
    // ---- one dump handed to the helper ----
    std::atomic<u32> handoff;
    u32 app_pid;
    u64 image_size;
    u64 crash_time;   // UTC seconds
    u32 signo;        // 0: a requested dump
    u32 crashed_tid;
    char report_id[40];
    // ---- Windows: the helper writes the dump from outside, from what the crash path left ----
    u64 exception_pointers;  // the EXCEPTION_POINTERS* in the application's address space
    u32 exception_code;
    std::atomic<u32> app_detached;  // stop() ran: the helper finishes as if the application had gone
};

}  // namespace sigsafe
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
