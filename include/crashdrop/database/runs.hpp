// crashdrop/database/runs.hpp - this process's side of the run record (<db>/runs, written by
// database::begin_run / end_run): start() reads how the previous run ended and records this one
// as started; a normal exit records clean_exit (atexit + at_quick_exit hooks installed by the
// first start(); no at_quick_exit on Windows, where mingw-w64 lacks it), and the same hooks
// mark the shared region's exit_state clean for the helper; the helper records
// crashed when it receives a crash's dump (helper_linux.hpp, helper_windows.hpp) and will
// record hung / abnormal_exit through record_run_end().
// A run that ends otherwise (power loss, SIGKILL, a crash with HelperMode::none, whose crash
// path cannot write files safely) stays "started" and reads as unknown next time.
// stop() records nothing: the process goes on; its normal exit still records clean_exit.
// With a helper, start() leaves the new record's fsync to it (begin_run_in, make_run_record_durable).
// Context: implementation TU; ordinary code (start(), exit hooks, the helper). Never the crash path.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

struct run_record_state {
    std::atomic<int> previous{static_cast<int>(RunOutcome::unknown)};
    std::atomic<std::uint32_t> streak{0};
    std::mutex lock;           // guards root
    std::string root;          // the database whose record the exit hooks complete ("" : none)
    bool hooks_installed = false;
};
inline run_record_state& run_record() {
    static run_record_state* s = new run_record_state();  // never destroyed: used by exit hooks
    return *s;
}

/// The one place the helper (or anyone) records how the run of `pid` ended in database `root`.
inline bool record_run_end(const std::string& root, long pid, RunOutcome outcome, std::string* error = nullptr) {
    if (root.empty() || outcome == RunOutcome::unknown) return false;
    return database(root).end_run(pid, outcome, error);
}

/// Tells the helper, through the shared region, that a normal exit has begun (exit_state =
/// exit_clean): it then sends no abnormal-exit report when the process ends (api_impl.hpp).
inline void mark_region_exit_clean();

inline void record_clean_exit() {
    mark_region_exit_clean();  // first: the helper must know before the process can end
    run_record_state& s = run_record();
    std::string root;
    {
        std::lock_guard<std::mutex> guard(s.lock);
        root = s.root;
    }
    record_run_end(root, current_process_id(), RunOutcome::clean_exit);
}

/// Reads how the previous run ended (a leftover "started" reads as unknown) and the crash
/// streak up to it, then records this run as started by `pid` (database.hpp's begin_run),
/// under the settings lock.
/// `durable`: the new record is written to a new file, fsync'd, and renamed over the old one
/// (database.hpp's write_file_atomic), as every other writer of the record does.
/// Not `durable` (start() with a helper to come): an fsync and a rename over the old file cost
/// the calling thread 0.2-0.6 ms (ext4 starts the new file's writeback at such a rename), so
/// the record is rewritten in place in the existing file (database::rewrite_in_place: padded
/// to at least its old length, no truncation, a record of under 100 bytes is one block), and
/// make_run_record_durable() brings it to the disk later, from the helper. Every reader (under
/// the same lock) sees it at once: the page cache is shared. Only a power loss before the
/// helper's fsync can bring back the previous record. No record yet (a first run), or not a
/// regular file: written as in the durable case, without the fsync.
inline bool begin_run_in(const std::string& root, long pid, bool durable, RunOutcome* previous, std::uint32_t* streak,
                         std::string* error) {
    return database(root).begin_run(pid, previous, streak, error, durable);
}

/// The helper, once it runs: brings the run record start() wrote without an fsync (and the
/// folder entry its rename made) to the disk.
inline void make_run_record_durable(const std::string& root) {
#if !CRASHDROP_OS_WINDOWS
    if (root.empty()) return;
    const int dir = open_folder(root);
    if (dir < 0) return;
    const int fd = openat(dir, "runs", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    fsync(dir);
    close(dir);
#else
    (void)root;
#endif
}

/// start(): keeps the previous run's outcome and streak for last_run() / consecutive_crashes(),
/// records this run as started and makes a normal exit record clean_exit. `durable`: see
/// begin_run_in (false only when a helper will call make_run_record_durable()).
inline void begin_run_record(const std::string& root, bool durable = true) {
    run_record_state& s = run_record();
    {
        // start() again in this process (after stop()) with the same database: this run is
        // already recorded, and what came before it is already known.
        std::lock_guard<std::mutex> guard(s.lock);
        if (s.root == root) return;
    }
    RunOutcome previous = RunOutcome::unknown;
    std::uint32_t streak = 0;
    std::string error;
    begin_run_in(root, current_process_id(), durable, &previous, &streak, &error);
    s.previous.store(static_cast<int>(previous), std::memory_order_release);
    s.streak.store(streak, std::memory_order_release);
    std::lock_guard<std::mutex> guard(s.lock);
    s.root = root;
    if (!s.hooks_installed) {
        s.hooks_installed = true;
        std::atexit(record_clean_exit);
#if !CRASHDROP_OS_WINDOWS  // mingw-w64's msvcrt has no at_quick_exit: there std::quick_exit reads as unknown
        std::at_quick_exit(record_clean_exit);
#endif
    }
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
