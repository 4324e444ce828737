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

/// start(): keeps the previous run's outcome and streak for last_run() / consecutive_crashes(),
/// records this run as started and makes a normal exit record clean_exit.
inline void begin_run_record(const std::string& root) {
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
    database(root).begin_run(current_process_id(), &previous, &streak, &error);
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
