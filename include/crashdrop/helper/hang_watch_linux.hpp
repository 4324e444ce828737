// crashdrop/helper/hang_watch_linux.hpp - the helper's side of hang reports (Linux): it reads
// the watched thread's heartbeat count in the shared region while it serves the application
// (serve_application wakes it at least every min(hang_timeout_ms / 4, 250) ms). A hang: the
// watched thread has beaten at least once and the count has not changed for hang_timeout_ms
// of CLOCK_MONOTONIC. The helper then asks the application's watchdog thread for a dump
// (platform/linux/hang_linux.hpp), which comes back through the ordinary hand-off. One report
// per episode: none again until the count moves. Nothing before the first beat, nothing once
// stop() ran (app_detached), nothing while a crash dump is being handed over, nothing for a
// watched thread that has ended; time the thread spends stopped (SIGSTOP, a debugger) is not
// counted as silence; a request the
// watchdog could not serve (another dump was being written) is asked again in the same
// episode. When the application ends during an episode, the run is recorded as hung.
// Context: implementation TU; the helper process (ordinary code).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

class hang_watch {
public:
    hang_watch(helper_service* service, sigsafe::region_header* region, int timeout_ms)
        : service_(service), region_(region), timeout_ms_(region != nullptr ? timeout_ms : 0) {
        if (timeout_ms_ > 0) {
            last_count_ = region_->heartbeats.load(std::memory_order_acquire);
            last_change_ms_ = now_ms();
        }
    }

    /// poll()'s timeout while the application is served: -1 when hangs are not watched.
    int poll_timeout_ms() const { return timeout_ms_ > 0 ? std::max(10, std::min(timeout_ms_ / 4, 250)) : -1; }

    /// After every wake-up of the helper: a beat ends the episode; a silence of the timeout
    /// (and no episode yet) asks for a report; an answer is taken in.
    void tick() {
        if (timeout_ms_ <= 0) return;
        const long long now = now_ms();
        take_answer(now);
        const std::uint64_t count = region_->heartbeats.load(std::memory_order_acquire);
        if (count != last_count_) {
            if (episode_ != episode::none && episode_ != episode::ended) {
                service_->log("hang: the watched thread beats again after " + std::to_string(now - last_change_ms_) + " ms");
            }
            last_count_ = count;
            last_change_ms_ = now;
            episode_ = episode::none;
            return;
        }
        const std::uint32_t tid = region_->watched_tid.load(std::memory_order_acquire);
        if (count == 0 || tid == 0) return;  // nothing before the first beat
        if (episode_ == episode::none && thread_stopped(tid)) {
            // Stopped by a debugger or SIGSTOP: time it spends so is not silence.
            last_change_ms_ = now;
            return;
        }
        if (region_->app_detached.load(std::memory_order_acquire) != 0) return;  // stop() ran
        const bool due = (episode_ == episode::none && now - last_change_ms_ >= timeout_ms_) ||
                         (episode_ == episode::retry && now >= retry_at_ms_);
        if (!due || outstanding_ != 0) return;
        const std::uint32_t handoff = sigsafe::handoff_state_of(region_->handoff.load(std::memory_order_acquire));
        if (handoff == sigsafe::hs_ready || handoff == sigsafe::hs_taken) return;  // a crash dump is on its way
        if (!thread_lives(tid)) {  // it ended: silence, not a hang
            if (episode_ == episode::none) service_->log("hang: the watched thread " + std::to_string(tid) + " has ended; no report");
            episode_ = episode::ended;  // until the count moves again
            return;
        }
        ask(tid, static_cast<std::uint64_t>(now - last_change_ms_));
    }

    /// A hang episode is on: the timeout passed and no beat came since.
    bool hanging() const { return timeout_ms_ > 0 && episode_ != episode::none && episode_ != episode::ended; }

private:
    enum class episode { none, asked, retry, reported, ended };  // ended: the watched thread exited

    static long long now_ms() {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
    }

    /// Is thread `tid` stopped (SIGSTOP, or a debugger: state T or t in its stat file)?
    bool thread_stopped(std::uint32_t tid) const {
        const std::string path = "/proc/" + std::to_string(region_->app_pid) + "/task/" + std::to_string(tid) + "/stat";
        std::string stat_text;
        if (!read_system_file(path.c_str(), &stat_text, 4096)) return false;
        const std::size_t close = stat_text.rfind(')');  // the name may hold anything
        if (close == std::string::npos || close + 2 >= stat_text.size()) return false;
        const char state = stat_text[close + 2];
        return state == 'T' || state == 't';
    }

    /// Is thread `tid` of the application still there?
    bool thread_lives(std::uint32_t tid) const {
        const std::string path = "/proc/" + std::to_string(region_->app_pid) + "/task/" + std::to_string(tid);
        struct stat st;
        return stat(path.c_str(), &st) == 0 || errno != ENOENT;
    }

    void ask(std::uint32_t tid, std::uint64_t silent_ms) {
        const std::uint32_t current = region_->hang_request.load(std::memory_order_acquire);
        if (current & sigsafe::k_hang_quit) return;  // the watchdog has ended (stop())
        next_seq_ = (next_seq_ + 1) & ~sigsafe::k_hang_quit;
        if (next_seq_ == 0 || next_seq_ == current) next_seq_ = (current + 1) & ~sigsafe::k_hang_quit;
        if (next_seq_ == 0) next_seq_ = 1;
        region_->hang_tid.store(tid, std::memory_order_release);
        region_->hang_ms.store(silent_ms, std::memory_order_release);
        region_->hang_request.store(next_seq_, std::memory_order_release);
        sigsafe::futex_wake_all_shared(&region_->hang_request);
        outstanding_ = next_seq_;
        episode_ = episode::asked;
        service_->log("hang: thread " + std::to_string(tid) + " has not beaten for " + std::to_string(silent_ms) +
                      " ms; a dump is asked for");
    }

    void take_answer(long long now) {
        if (outstanding_ == 0 || region_->hang_done.load(std::memory_order_acquire) != outstanding_) return;
        outstanding_ = 0;
        const std::uint32_t result = region_->hang_result.load(std::memory_order_acquire);
        if (result == sigsafe::hang_busy) {
            service_->log("hang: another dump was being written; asking again");
            if (episode_ == episode::asked) {
                episode_ = episode::retry;
                retry_at_ms_ = now + poll_timeout_ms();
            }
            return;
        }
        service_->log(result == sigsafe::hang_written ? "hang: dump written" : "hang: the dump could not be written");
        if (episode_ == episode::asked) episode_ = episode::reported;  // one per episode, written or not
    }

    helper_service* service_;
    sigsafe::region_header* region_;
    int timeout_ms_;
    std::uint64_t last_count_ = 0;
    long long last_change_ms_ = 0;
    episode episode_ = episode::none;
    long long retry_at_ms_ = 0;
    std::uint32_t outstanding_ = 0;  // the request the watchdog has not answered yet; 0: none
    std::uint32_t next_seq_ = 0;
};

/// When the application has gone (its socket closed without stop()): a run that ended during a
/// hang episode ended hung. (The first recorded end wins: a crash recorded before stays; a
/// normal exit records clean_exit itself, before its socket closes.)
inline void record_hung_run(helper_service* service, sigsafe::region_header* region, const hang_watch& watch) {
    if (region == nullptr || !watch.hanging() || region->app_detached.load(std::memory_order_acquire) != 0) return;
    std::string error;
    if (!record_run_end(service->db().root(), static_cast<long>(region->app_pid), RunOutcome::hung, &error) && !error.empty()) {
        service->log("could not record the hung run: " + error);
    } else {
        service->log("the application ended while its watched thread hung: run recorded as hung");
    }
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
