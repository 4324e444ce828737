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
constexpr u32 k_region_version = 5;  // 4: the hand-off word carries a sequence number; 5: heartbeat, exit state
constexpr std::size_t k_config_capacity = 16 * 1024;

/// The hand-off's states. The state and the number of the hand-off it belongs to share one
/// 64-bit word (handoff_word below), changed only by compare-and-swap, so the helper can only
/// take, finish or give up the hand-off it was woken for, and the application can only
/// withdraw the one it is waiting for.
enum handoff_state : u32 {
    hs_idle = 0,
    hs_ready = 1,      // the image holds a complete dump; report id and crash facts are set
    hs_persisted = 2,  // the helper has it in pending/ (and answered 'P')
    hs_failed = 3,     // the helper could not write it (and answered 'F'); the image is free
    hs_taken = 4,      // the helper is reading the image: the application must not write it
    hs_written = 5,    // the helper has read all it needs (the image is free) and names the file
    hs_withdrawn = 6,  // the application gave up waiting and took the image back
};

CRASHDROP_SIGSAFE_INLINE u64 handoff_word(u32 seq, u32 state) { return (static_cast<u64>(seq) << 32) | state; }
CRASHDROP_SIGSAFE_INLINE u32 handoff_seq_of(u64 word) { return static_cast<u32>(word >> 32); }
CRASHDROP_SIGSAFE_INLINE u32 handoff_state_of(u64 word) { return static_cast<u32>(word & 0xffffffffu); }

/// The socket messages of a hand-off (Linux): a kind byte and the hand-off's number.
/// Application -> helper: 'D' (a dump is ready), 'C' (consent changed, no number needed).
/// Helper -> application: 'P' (persisted) or 'F' (failed), with the number it answers.
constexpr std::size_t k_handoff_message_size = 5;
CRASHDROP_SIGSAFE_INLINE void handoff_message(char* out, char kind, u32 seq) {
    out[0] = kind;
    for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>((seq >> (8 * i)) & 0xffu);
}
CRASHDROP_SIGSAFE_INLINE u32 handoff_message_seq(const char* in) {
    u32 seq = 0;
    for (int i = 0; i < 4; ++i) seq |= static_cast<u32>(static_cast<unsigned char>(in[1 + i])) << (8 * i);
    return seq;
}

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
    std::atomic<u64> handoff;  // handoff_word(sequence number, handoff_state)
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
    // ---- beyond crashes (issue 14): what the helper watches while the application runs ----
    std::atomic<u64> heartbeats;    // crashdrop::heartbeat() calls of the watched thread (only it writes)
    std::atomic<u32> watched_tid;   // the watched thread's OS id (Linux tid, Windows thread id); 0: none yet
    std::atomic<u32> exit_state;    // exit_running, or exit_clean once a normal exit has begun (exit hooks)
    // ---- hang reports (issue 14, part "hang"): the helper asks the application's watchdog
    // thread (crashdrop-hang, started by start() when Options::hang_timeout_ms > 0) for a dump of
    // the live process. The helper fills hang_tid and hang_ms, then stores a new number in
    // hang_request and wakes it (a shared futex word: the region is a MAP_SHARED memfd); the
    // watchdog writes the dump, hands it over as usual, and answers with hang_result, then
    // hang_done = that number. stop() sets k_hang_quit in hang_request to end the watchdog.
    std::atomic<u32> hang_request;  // number of the newest request (never 0); the watchdog's futex word
    std::atomic<u32> hang_done;     // the request the watchdog answered last
    std::atomic<u32> hang_result;   // that answer: hang_written, hang_busy or hang_failed
    std::atomic<u32> hang_tid;      // the request's thread: the watched one
    std::atomic<u64> hang_ms;       // how long it had not beaten when the helper asked
};

/// region_header::hang_result: what became of a hang dump request.
constexpr u32 hang_written = 1;  // written and handed over (or, without a helper, in pending/)
constexpr u32 hang_busy = 2;     // another dump was being written: ask again later
constexpr u32 hang_failed = 3;   // could not be written
constexpr u32 k_hang_quit = 0x80000000u;  // hang_request bit: the watchdog ends (stop())

/// region_header::exit_state: how the helper tells a normal exit from an abnormal one.
constexpr u32 exit_running = 0;
constexpr u32 exit_clean = 1;

}  // namespace sigsafe
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
