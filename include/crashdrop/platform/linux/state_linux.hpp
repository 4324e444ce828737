// crashdrop/platform/linux/state_linux.hpp - the one process-wide object the Linux crash path
// works from. It is defined once, in the implementation TU, with static storage and no
// constructor (zero-initialised before any code runs, so start() may even be called from a
// static initialiser). Everything the crash path touches is either in here or in the region
// start() reserved; nothing else is allocated after a fault.
// Context: implementation TU. Written by start() (ordinary code), read by the crash path.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

// Where a crash stands, for tests/bench/capture_bench.cpp's "where the time goes" table: the
// benchmark defines these before including crashdrop to take a timestamp at each point (the
// crashed process's marks from the crash path, the helper's from serve_handoff). No-ops
// otherwise.
#ifndef CRASHDROP_DETAIL_CRASH_PHASE
#define CRASHDROP_DETAIL_CRASH_PHASE(name) ((void)0)
#endif
#ifndef CRASHDROP_DETAIL_HELPER_PHASE
#define CRASHDROP_DETAIL_HELPER_PHASE(name) ((void)0)
#endif

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

static_assert(std::atomic<u32>::is_always_lock_free, "lock-free atomics are needed in signal handlers");
static_assert(std::atomic<u64>::is_always_lock_free, "lock-free atomics are needed in signal handlers");

constexpr int k_fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
constexpr int k_fatal_signal_count = sizeof(k_fatal_signals) / sizeof(k_fatal_signals[0]);

constexpr u32 k_directory_capacity = 24;      // stream directory entries reserved in every dump
constexpr u32 k_max_secondary_crashes = 8;    // threads that crash while a dump is in progress
constexpr std::size_t k_errors_capacity = 16 * 1024;  // text of the writer-errors stream
constexpr std::size_t k_static_notes_capacity = 1024;
constexpr std::size_t k_scratch_capacity = 64 * 1024;  // getdents, ELF headers, /proc snippets
constexpr std::size_t k_path_max = 4096;

constexpr u32 k_owner_crash = 0x80000000u;  // owner bit: the dump is for a crash
constexpr u32 k_owner_tid_mask = 0x7fffffffu;
// After a crash dump, the threads it stopped (and threads that crashed too) wait this long
// before going on: the crashing thread's signal normally ends the process first, so it dies of
// the first crash; only if an earlier handler recovers from it do they continue.
constexpr long k_crash_grace_ms = 500;

/// Where a listed thread is in the capture protocol.
enum thread_state : u32 {
    ts_pending = 0,   // signalled, not answered yet
    ts_captured = 1,  // answered: context is in the image
    ts_gone = 2,      // exited before it could be asked
    ts_late = 3,      // did not answer in time; registers from /proc (if any)
};

struct thread_slot {
    u32 tid;
    std::atomic<u32> state;
    u32 context_rva;  // its md_context inside the image
    u32 flags;        // tf_* below
    u64 tp;           // thread pointer (recorded as the TEB)
    u64 stack_lo;     // stack bytes to copy: [stack_lo, stack_hi)
    u64 stack_hi;
    char name[16];    // prctl(PR_GET_NAME) / comm, NUL-terminated
};
constexpr u32 tf_crashed = 1;        // the thread whose signal started this dump
constexpr u32 tf_also_crashed = 2;   // crashed while another thread was dumping
constexpr u32 tf_requester = 4;      // called write_dump()

/// A thread that crashed while another thread was already writing a dump: its fault context,
/// published for the dumping thread to use instead of the handler frame it is waiting in.
struct crash_record {
    std::atomic<u32> tid;    // 0: free
    std::atomic<u32> ready;  // 1 once the fields below are complete
    int signo;
    int code;
    u64 address;
    md_context context;
};

/// One line of /proc/self/maps, parsed. The path stays in the maps text (inside the image).
struct mapping {
    u64 start;
    u64 end;
    u64 offset;
    u64 inode;
    u32 dev;
    u32 path_offset;  // into the maps text
    u16 path_length;
    u8 perms;         // perm_* bits
    u8 marks;         // mark_* bits: set by the dump writer for the dump being written
};
constexpr u8 perm_read = 1, perm_write = 2, perm_exec = 4, perm_private = 8;
constexpr u8 mark_stack = 1;  // holds a listed thread's stack (scrubbed_stacks, dumper_linux.hpp)

constexpr u32 k_max_build_id = 32;
constexpr std::size_t k_soname_max = 95;

/// What identifies a module, computed once (at start(), or at the first dump that meets the
/// module) and reused: reading ELF headers costs several system calls per module.
struct module_identity {
    u64 base;
    u64 inode;
    u32 dev;
    u32 id_length;  // 0: none found
    u8 id[k_max_build_id];
    u8 from_text_hash;  // the id is Breakpad's .text hash, not a build id
    char soname[k_soname_max];
};

/// One loaded segment of the module holding this copy of crashdrop (for only_this_module).
struct address_range {
    u64 start;
    u64 end;
    u32 executable;
    u32 reserved;
};
constexpr u32 k_max_own_ranges = 16;

/// The binary search table of the module's .eh_frame_hdr (PT_GNU_EH_FRAME), recorded by start():
/// `count` pairs of 4-byte signed offsets from `base` (the header's address), sorted by the first
/// one, a function's start (only the DW_EH_PE_datarel | DW_EH_PE_sdata4 encoding linkers write;
/// count 0: no table, function starts are not known).
struct own_function_table {
    u64 base;
    u64 table;
    u64 count;
};

/// An executable segment of a module loaded when start() ran, with that module's .eh_frame_hdr
/// search table: what the CFI walk (cfi_unwind_linux.hpp) knows of it.
struct cfi_module {
    u64 start;
    u64 end;
    own_function_table table;
};
constexpr u32 k_max_cfi_modules = 512;

/// A thread that is inside a handler crashdrop passed a crash on to (only_this_module), and
/// how deep in its stack our frame was: a call back into crashdrop from that handler is a
/// chain loop, not a new crash. A slot whose frame is not below the new one is stale (the
/// handler left with siglongjmp) and is reused.
/// The same table marks a thread inside a call crashdrop makes before it decides (kind
/// pk_first_chance: the previous handler given the first chance at a fault; pk_filter:
/// Options::fault_filter): a fault or a call back into crashdrop from there is not offered to
/// them again (see callout_active in handler_linux.hpp).
enum passing_kind : u32 { pk_pass_on = 0, pk_first_chance = 1, pk_filter = 2 };
struct passing_thread {
    std::atomic<u32> tid;
    u32 kind;                // passing_kind
    std::atomic<u64> frame;
    u64 context;             // pk_first_chance, pk_filter: the ucontext_t* of the fault offered
    int signo;               // and its signal
    u32 reserved;
};
constexpr u32 k_max_passing = 32;

/// A fault handed back to the program by the first chance (the previous handler returned and
/// changed nothing): the faulting instruction runs again. If the same fault (the same signal
/// and fault address, every register the same) comes back on the same thread within
/// k_retry_cpu_bound_ns of that thread's CPU time, the instruction ran again and nothing had
/// been fixed: it is then dumped. (A program that went on in between and faults at the same
/// place again has different registers: a loop counter, a return value.) One slot per thread
/// that is retrying; a slot whose wall-clock stamp is older than k_retry_slot_stale_ns may be
/// taken by another thread.
struct retry_slot {
    std::atomic<u32> tid;  // 0: free
    int signo;
    u64 ip;
    u64 address;           // si_addr
    u64 sp;
    u64 registers;         // a hash of the whole register context (context_hash)
    long long cpu_ns;      // CLOCK_THREAD_CPUTIME_ID when the fault was handed back
    std::atomic<long long> wall_ns;  // CLOCK_MONOTONIC then
};
constexpr u32 k_max_retry_slots = 64;
// Running an instruction again costs the thread a return from the handler and a new fault:
// about 6 us of its CPU time on x86-64, 60-100 us under qemu-user (measured: docs), however
// long it waits for a CPU (time spent stopped or preempted is not the thread's CPU time).
constexpr long long k_retry_cpu_bound_ns = 10000000;  // 10 ms: room for slower emulators (valgrind)
constexpr long long k_retry_slot_stale_ns = 1000000000;  // 1 s

/// What a dump is for: a crash (with its signal) or write_dump().
struct dump_request {
    bool is_crash;
    int signo;             // crash: the signal
    int code;              // crash: si_code
    u64 address;           // crash: si_addr
    const ucontext_t* uc;  // crash: the signal frame; nullptr for a requested dump
    u32 tid;               // the crashing or requesting thread
    bool keep_blocked = false;  // crash: the signal stays blocked while the dump is written (it is pending)
    // A hang report (requested by the helper, written by the watchdog thread): the exception
    // names this thread (the watched one) with its captured registers, code k_exception_hang,
    // and the dump's annotations gain hang_thread and hang_ms. 0: not a hang.
    u32 hang_tid = 0;
    u64 hang_ms = 0;
};

struct linux_state {
    std::atomic<u32> started;

    // ---- settings fixed at start() ----
    int capture_signal;
    int suspend_timeout_ms;
    u64 crashed_stack_limit;
    u64 other_stack_limit;
    bool include_environment;
    bool include_command_line;
    // Options::memory_capture (0 full, 1 stacks_only, 2 scrubbed_stacks; MemoryCapture's values).
    u32 memory_capture;
    // The area the kernel filled at exec at the top of the main thread's stack: argc, the argv
    // and envp arrays, the aux vector, AT_RANDOM's bytes and the argument and environment
    // strings. [private_lo, private_hi) is never copied into a dump; registers are compared
    // with [private_strings, private_hi) (the bytes after the pointer arrays). 0: unknown.
    u64 private_lo;
    u64 private_hi;
    u64 private_strings;
    // The helper's restart command (its arguments and environment), in a mapping of its own:
    // never copied either. 0: none.
    u64 command_lo;
    u64 command_hi;
    int pending_dirfd;  // <database>/pending
    char pending_path[k_path_max];
    int dump_fd;              // an unnamed file (O_TMPFILE) in pending/, ready for the next dump; -1: none
    char dump_fd_path[32];    // "/proc/self/fd/<dump_fd>", for linkat()
    int proc_self_fd;   // /proc/self, so lookups are relative and cheap
    int task_fd;        // /proc/self/task, kept open: a dump rewinds and lists it
    int pid;
    u32 uid;
    u64 page_size;
    memory_reader reader;
    u64 exe_dynamic;    // the executable's _DYNAMIC (for the DSO debug stream)
    u64 vdso_base;      // AT_SYSINFO_EHDR
    u32 process_create_time;
    long clock_ticks;   // sysconf(_SC_CLK_TCK)

    // ---- the reserved region and what start() carved out of it ----
    u8* region;
    u64 region_size;
    int region_fd;            // the memfd behind it (a helper started after a crash maps it too)
    region_header* header;    // at offset 0: layout and the hand-off (helper/region.hpp)
    char* config_text;        // the helper's configuration (k_config_capacity)
    thread_slot* threads;
    u32 thread_capacity;
    u32 thread_count;
    mapping* maps;
    u32 map_capacity;
    u32 map_count;
    const char* maps_text;  // points into the image of the dump being written
    memory_range* ranges;
    u32 range_capacity;
    module_identity* module_cache;
    u32 module_cache_capacity;
    u32 module_cache_count;
    context_store context;  // annotations, tags, user, attachments, breadcrumbs (context/store.hpp)
    char* errors;        // k_errors_capacity
    char* static_notes;  // k_static_notes_capacity: what start() could not gather
    u8* scratch;         // k_scratch_capacity
    u8* image_base;
    u64 image_capacity;
    u64 image_static_size;   // header, directory and the streams written at start()
    u32 image_static_streams;

    // ---- dump coordination (all lock-free) ----
    std::atomic<u32> owner;                // tid writing a dump (| k_owner_crash for a crash); 0: none
    std::atomic<u32> dump_generation;      // bumped when a dump starts
    std::atomic<u32> released_generation;  // set to dump_generation when its threads may go
    std::atomic<u32> acks;                 // threads that answered the capture signal
    std::atomic<u32> acks_wanted;          // answers the writer waits for (~0 while it is still asking)
    // When a crash dump ended without releasing its threads (its signal ends the process as
    // the handler returns), CLOCK_MONOTONIC ns; 0 otherwise. See park_until_released().
    std::atomic<u64> crash_unreleased_ns;
    std::atomic<u32> dumps_finished;       // bumped after every crash dump
    int crash_signal;                      // the signal being dumped (for the fail-safe)
    // A fault inside the crash dump writer jumps back here (__builtin_setjmp's five words),
    // armed for the thread in writer_escape_tid only while the writer runs.
    void* writer_escape[5];
    std::atomic<u32> writer_escape_tid;
    // stop(): threads inside a setter or the crash path; the region is unmapped only at 0.
    std::atomic<u32> users;
    crash_record secondary[k_max_secondary_crashes];

    // ---- handlers ----
    struct sigaction previous[k_fatal_signal_count];
    struct sigaction previous_capture;
    std::atomic<u32> handlers_installed;
    std::atomic<u32> capture_installed;
    u32 capture_cookie;          // this copy's mark on its capture signals (another copy may share the signal)
    std::atomic<u32> crash_done_tid;  // the thread whose crash this copy has dumped (a later entry is a chain loop)
    passing_thread passing[k_max_passing];
    FaultFilter fault_filter;    // Options::fault_filter (nullptr: none)
    retry_slot retries[k_max_retry_slots];  // faults handed back by the first chance
    // only_this_module: the segments of the module that holds this copy
    u32 only_own;
    u32 own_range_count;
    address_range own_ranges[k_max_own_ranges];
    own_function_table own_functions;  // its .eh_frame_hdr search table (return_address_linux.hpp)
    u32 cfi_module_count;              // every module's code and CFI table, for the walk (cfi_unwind_linux.hpp)
    cfi_module cfi_modules[k_max_cfi_modules];

    // ---- the helper ----
    std::atomic<u32> handoff_seq;  // the number of the last hand-off (region.hpp)
    std::atomic<int> helper_sock;  // our end of the helper's socket; -1: no helper
    std::atomic<u32> launching_helper;  // set while start() forks the helper: atfork_child stays out
    const char* respawn_path;      // how to start a helper after a crash (prepared by start());
    char* const* respawn_argv;     // respawn_path nullptr: never
    char* const* respawn_envp;
    char helper_log_path[k_path_max];
    minidump::guid client_id;      // this installation's id (Crashpad info stream)

    // ---- results ----
    char last_path[k_path_max];  // of the newest dump written by this process
};

}  // namespace sigsafe
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
