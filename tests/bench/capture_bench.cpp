// capture_bench - how long from a crash until the dump file is complete, for processes with 1,
// 8 and 32 threads (each with ~16 KiB of used stack), side by side in one run with the Linux
// kernel's own core dump of the same process. Prints medians of R runs, the dump sizes and the
// memory start() reserves. Then fault -> process gone with the default helper at 1 and 33 threads
// (below). Then, for a 1 MB dump handed to the helper process: how long until it is in pending/,
// until its metadata is there, and until a local collector (tools/collector.py) has it. Run on
// demand (not a test):
//   build/.../tests/capture_bench [runs]
//
// Method. For every run a child process is forked; it starts its threads, waits until each has
// used its stack and parked, stores a CLOCK_MONOTONIC timestamp in shared memory and writes to
// a null pointer. The parent, blocked on inotify, takes its own timestamp when the file is
// complete - crashdrop's dump when it appears in pending/ (it is written first, then linked or
// renamed there), the kernel's core file when it is closed - and again when the child is reaped. Three variants per thread count, interleaved run by run so machine noise hits all
// alike:
//   crashdrop  crashdrop::start() in the child, RLIMIT_CORE 0
//   kernel     no crashdrop, RLIMIT_CORE unlimited, core_pattern as configured (must be a file)
//   baseline   no crashdrop, no core: the cost of dying at all
//
// Fault -> process gone, with the default helper (issue 17). A child with 1 or 33 threads
// (~16 KiB of used stack each) calls crashdrop::start() with the default options (re-exec
// helper, sending to the local collector), waits until its helper serves (the helper's log says
// so), then faults; beside it, interleaved run by run, the same child dumped by the kernel and
// not dumped at all. The parent watches the child through a pidfd: "gone" is the moment the
// child dies (the child is reaped right after). Right then the parent lists pending/: "in
// pending" counts the runs whose <id>.dmp and <id>.meta were both there (every run must count:
// the helper answers only once they are). The last column is when the helper named the dump in
// pending/ (inotify IN_CREATE). Each run waits for its helper to exit before the next.
// Environment: CRASHDROP_BENCH_EXIT_ONLY=1 prints only this table; CRASHDROP_BENCH_KEEP=1 keeps
// the run folders; CRASHDROP_BENCH_TRACE=1 prints each helper run's fault and death times
// (absolute CLOCK_MONOTONIC ns, "<pid> crash|gone <ns>") on stderr, to line up with timestamps
// taken elsewhere.
// Where a crash's time goes: crashdrop takes a timestamp at each point it marks with
// CRASHDROP_DETAIL_CRASH_PHASE (the crashed process's crash path) and
// CRASHDROP_DETAIL_HELPER_PHASE (the helper's serve_handoff). Both processes write into one
// shared page: the crashed child inherits the parent's mapping; the helper (an exec of this
// program) maps the same file when it takes its first mark. Taking a mark is a vDSO clock read
// and a store, so the crash path stays async-signal-safe.
#include <atomic>

namespace capture_phases {
struct mark {
    char name[40];
    long long ns;
};
struct area {
    std::atomic<int> count;
    mark marks[62];
};
const char* const k_file = "/dev/shm/crashdrop-capture-bench-phases";
area* g_area = nullptr;
void take(const char* name) noexcept;
}  // namespace capture_phases
#define CRASHDROP_DETAIL_CRASH_PHASE(name) ::capture_phases::take(name)
#define CRASHDROP_DETAIL_HELPER_PHASE(name) ::capture_phases::take(name)

#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

long long now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace

namespace capture_phases {
area* map_area(bool create) {
    const int fd = open(k_file, create ? (O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC) : (O_RDWR | O_CLOEXEC), 0600);
    if (fd < 0) return nullptr;
    if (create && ftruncate(fd, sizeof(area)) != 0) {
        close(fd);
        return nullptr;
    }
    void* p = mmap(nullptr, sizeof(area), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? nullptr : static_cast<area*>(p);
}

void take(const char* name) noexcept {
    static bool tried = false;
    if (g_area == nullptr && !tried) {
        // The helper (ordinary code there), at its first mark; the crashed child inherits the
        // parent's mapping, so its crash path never comes here.
        tried = true;
        g_area = map_area(false);
    }
    if (g_area == nullptr) return;
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const int i = g_area->count.fetch_add(1);
    if (i < 0 || i >= static_cast<int>(sizeof(g_area->marks) / sizeof(g_area->marks[0]))) return;
    mark* m = &g_area->marks[i];
    std::size_t n = 0;
    for (; name[n] != '\0' && n + 1 < sizeof(m->name); ++n) m->name[n] = name[n];
    m->name[n] = '\0';
    m->ns = static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}
}  // namespace capture_phases

namespace {

struct shared_block {
    std::atomic<long long> crash_at;
    std::atomic<int> parked;
    std::atomic<unsigned long long> reserved;
};
shared_block* g_shared = nullptr;

__attribute__((noinline)) void use_stack(int depth) {
    volatile char frame[4000];
    for (std::size_t i = 0; i < sizeof(frame); i += 256) frame[i] = static_cast<char>(depth);
    if (depth > 0) {
        use_stack(depth - 1);
        frame[0] = 0;  // used after the call: no tail call, every frame stays on the stack
        return;
    }
    g_shared->parked.fetch_add(1);
    while (g_shared->crash_at.load() >= 0) pause();  // parks until the process dies
}

int g_depth = 3;  // use_stack frames of ~4 KiB each, depth + 1 of them: 3 -> ~16 KiB

void* thread_main(void*) {
    use_stack(g_depth);
    return nullptr;
}

int* volatile g_null = nullptr;

/// The crash must find the helper serving (not still starting): it logs a line about abnormal
/// exits as it begins to serve the application. Waited for outside the timed part, at most 3 s.
void wait_for_helper(const std::string& log) {
    for (int i = 0; i < 600; ++i) {
        if (FILE* f = std::fopen(log.c_str(), "r")) {
            char line[512];
            bool ready = false;
            while (!ready && std::fgets(line, sizeof(line), f)) ready = std::strstr(line, "abnormal exit") != nullptr;
            std::fclose(f);
            if (ready) return;
        }
        usleep(5000);
    }
}

enum class variant { crashdrop, kernel, baseline, helper };
std::string g_collector_url;

[[noreturn]] void child(variant v, int threads, const std::string& dir) {
    if (chdir(dir.c_str()) != 0) _exit(90);
    rlimit core{0, 0};
    if (v == variant::kernel) core.rlim_cur = core.rlim_max = RLIM_INFINITY;
    setrlimit(RLIMIT_CORE, &core);
    if (v == variant::crashdrop || v == variant::helper) {
        crashdrop::Options o;
        o.database_path = dir + "/db";
        o.product_name = "capture_bench";
        if (v == variant::crashdrop) {
            o.helper_mode = crashdrop::HelperMode::none;  // the crashed process writes the dump itself
        } else {
            o.submit_url = g_collector_url;  // re-exec helper: this executable, see main()
        }
        if (!crashdrop::start(o).ok()) _exit(91);
        g_shared->reserved.store(crashdrop::reserved_bytes());
        if (v == variant::helper) wait_for_helper(dir + "/db/helper.log");
    }
    for (int i = 1; i < threads; ++i) {
        pthread_t t;
        if (pthread_create(&t, nullptr, thread_main, nullptr) != 0) _exit(92);
    }
    while (g_shared->parked.load() < threads - 1) usleep(200);
    volatile char main_stack[16 * 1024];  // the main thread uses ~16 KiB too
    for (std::size_t i = 0; i < sizeof(main_stack); i += 256) main_stack[i] = 1;
    usleep(20000);  // let everything settle
    g_shared->crash_at.store(now_ns());
    *g_null = 1;
    _exit(93);
}

struct sample {
    double file_ms = -1;    // crash -> file closed
    double reaped_ms = -1;  // crash -> child reaped
    long long size = 0;     // file size in bytes
    long long disk = 0;     // bytes allocated on disk
};

/// Runs one crash; watches `watch_dir` for the first file closed after writing.
sample run_once(variant v, int threads, const std::string& base, int index) {
    sample s;
    const std::string dir = base + "/run-" + std::to_string(index);
    std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "/db/pending'").c_str());
    const std::string watch_dir = v == variant::crashdrop ? dir + "/db/pending" : dir;
    const int in = inotify_init1(IN_CLOEXEC);
    // crashdrop's dump appears in pending/ complete, by linkat() or rename (IN_CREATE /
    // IN_MOVED_TO); the kernel's core file is complete when it is closed (IN_CLOSE_WRITE).
    inotify_add_watch(in, watch_dir.c_str(),
                      v == variant::crashdrop ? IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE : IN_CLOSE_WRITE);
    g_shared->crash_at.store(0);
    g_shared->parked.store(0);
    const pid_t pid = fork();
    if (pid == 0) child(v, threads, dir);
    std::string file;
    if (v != variant::baseline) {
        // Wait (bounded) for IN_CLOSE_WRITE of the dump / core file.
        alignas(inotify_event) char buf[4096];
        for (;;) {
            fd_set set;
            FD_ZERO(&set);
            FD_SET(in, &set);
            timeval tv{10, 0};
            if (select(in + 1, &set, nullptr, nullptr, &tv) <= 0) break;
            const long long t = now_ns();
            const ssize_t n = read(in, buf, sizeof(buf));
            if (n <= 0) break;
            bool found = false;
            for (ssize_t off = 0; off < n;) {
                const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
                const std::string name = e->len ? e->name : "";
                const bool ours = v == variant::crashdrop
                                      ? name.size() > 4 && name.compare(name.size() - 4, 4, ".dmp") == 0
                                      : name.rfind("core", 0) == 0;
                if (ours) {
                    s.file_ms = static_cast<double>(t - g_shared->crash_at.load()) / 1e6;
                    file = watch_dir + "/" + name;
                    found = true;
                    break;
                }
                off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
            }
            if (found) break;
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    const long long reaped = now_ns();
    s.reaped_ms = static_cast<double>(reaped - g_shared->crash_at.load()) / 1e6;
    if (!WIFSIGNALED(status)) s.reaped_ms = -1;
    close(in);
    struct stat st;
    if (!file.empty() && stat(file.c_str(), &st) == 0) {
        s.size = st.st_size;
        s.disk = static_cast<long long>(st.st_blocks) * 512;
    }
    std::system(("rm -rf '" + dir + "'").c_str());
    return s;
}

/// Waits (at most 3 s) until a helper's log says it has exited.
void wait_for_helper_exit(const std::string& log) {
    for (int i = 0; i < 300; ++i) {
        bool done = false;
        if (FILE* f = std::fopen(log.c_str(), "r")) {
            char line[512];
            while (!done && std::fgets(line, sizeof(line), f)) done = std::strstr(line, "helper exits") != nullptr;
            std::fclose(f);
        }
        if (done) return;
        usleep(10000);
    }
}

struct helper_sample {
    double pending_ms = -1;  // crash -> <id>.dmp in pending/
    double durable_ms = -1;  // crash -> <id>.meta in pending/ (written before the answer, fsync'ed after it)
    double server_ms = -1;   // crash -> the collector's record of it
    double reaped_ms = -1;
    long long size = 0;
};

/// One crash of a process whose dump the helper takes over and sends to `received`.
helper_sample run_helper_once(int threads, const std::string& base, int index, const std::string& received) {
    helper_sample s;
    const std::string dir = base + "/helper-run-" + std::to_string(index);
    std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "/db/pending'").c_str());
    const int in = inotify_init1(IN_CLOEXEC);
    const int wd_pending = inotify_add_watch(in, (dir + "/db/pending").c_str(), IN_CREATE | IN_MOVED_TO);
    inotify_add_watch(in, received.c_str(), IN_MOVED_TO | IN_CREATE);
    g_shared->crash_at.store(0);
    g_shared->parked.store(0);
    const pid_t pid = fork();
    if (pid == 0) child(variant::helper, threads, dir);
    // The child's death is noticed as it happens (a pidfd), not after the upload.
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    alignas(inotify_event) char buf[8192];
    std::string dump;
    while (s.pending_ms < 0 || s.durable_ms < 0 || s.server_ms < 0 || (pidfd >= 0 && s.reaped_ms < 0)) {
        fd_set set;
        FD_ZERO(&set);
        FD_SET(in, &set);
        if (pidfd >= 0 && s.reaped_ms < 0) FD_SET(pidfd, &set);
        timeval tv{20, 0};
        if (select(std::max(in, pidfd) + 1, &set, nullptr, nullptr, &tv) <= 0) break;
        const long long t = now_ns();
        if (pidfd >= 0 && FD_ISSET(pidfd, &set)) {
            s.reaped_ms = static_cast<double>(t - g_shared->crash_at.load()) / 1e6;
            waitpid(pid, nullptr, 0);
        }
        if (!FD_ISSET(in, &set)) continue;
        const ssize_t n = read(in, buf, sizeof(buf));
        for (ssize_t off = 0; off < n;) {
            const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
            const std::string name = e->len ? e->name : "";
            const double ms = static_cast<double>(t - g_shared->crash_at.load()) / 1e6;
            const bool numbered = !name.empty() && name.find_first_not_of("0123456789") == std::string::npos;
            if (e->wd == wd_pending && name.size() == 40 && name.compare(36, 4, ".dmp") == 0 && s.pending_ms < 0) {
                s.pending_ms = ms;
                dump = dir + "/db/pending/" + name;
            } else if (e->wd == wd_pending && name.size() == 41 && name.compare(36, 5, ".meta") == 0 && s.durable_ms < 0) {
                s.durable_ms = ms;
            } else if (e->wd != wd_pending && numbered && s.server_ms < 0) {
                s.server_ms = ms;
            }
            off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        }
    }
    if (pidfd < 0) {
        waitpid(pid, nullptr, 0);
    } else {
        close(pidfd);
    }
    close(in);
    struct stat st;
    const std::string done = dump.empty() ? "" : dir + "/db/completed/" + dump.substr(dump.rfind('/') + 1);
    for (int i = 0; i < 200 && !done.empty() && stat(done.c_str(), &st) != 0; ++i) usleep(10000);
    if (!done.empty() && stat(done.c_str(), &st) == 0) s.size = st.st_size;
    wait_for_helper_exit(dir + "/db/helper.log");  // it still writes: the folder is removed after
    if (std::getenv("CRASHDROP_BENCH_KEEP") == nullptr) std::system(("rm -rf '" + dir + "'").c_str());
    return s;
}

struct exit_sample {
    double reaped_ms = -1;   // fault -> the child is gone (its pidfd readable), reaped by us
    bool dump_in_pending = false;  // crashdrop: <id>.dmp and <id>.meta were in pending/ then
    double named_ms = -1;    // crashdrop: fault -> the helper named the dump in pending/
    std::vector<std::pair<std::string, double>> phases;  // crashdrop: fault -> each marked point, ms
};

/// fault -> process gone, for the end-to-end table: the child is watched through a pidfd, so
/// the time is taken when it dies, whatever else happens; right then pending/ is looked at.
exit_sample run_exit_once(variant v, int threads, const std::string& base, int index) {
    exit_sample s;
    const std::string dir = base + "/exit-run-" + std::to_string(static_cast<int>(v)) + "-" + std::to_string(threads) + "-" + std::to_string(index);
    std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "/db/pending'").c_str());
    g_shared->crash_at.store(0);
    g_shared->parked.store(0);
    if (capture_phases::g_area != nullptr) capture_phases::g_area->count.store(0);
    const pid_t pid = fork();
    if (pid == 0) child(v, threads, dir);
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    // The helper names the dump in pending/ (IN_CREATE): when, beside when the child is gone.
    const int in = v == variant::helper ? inotify_init1(IN_CLOEXEC | IN_NONBLOCK) : -1;
    if (in >= 0) inotify_add_watch(in, (dir + "/db/pending").c_str(), IN_CREATE);
    long long gone_at = -1;  // when the pidfd said so (closing an inotify fd can take ms: done after)
    for (bool gone = pidfd < 0; !gone;) {
        pollfd p[2] = {{pidfd, POLLIN, 0}, {in, POLLIN, 0}};
        if (poll(p, in >= 0 ? 2 : 1, 20000) <= 0) {
            if (errno == EINTR) continue;
            break;
        }
        const long long t = now_ns();
        if (in >= 0 && (p[1].revents & POLLIN)) {
            alignas(inotify_event) char buf[4096];
            const ssize_t n = read(in, buf, sizeof(buf));
            for (ssize_t off = 0; off < n;) {
                const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
                const std::string name = e->len ? e->name : "";
                if (s.named_ms < 0 && name.size() == 40 && name.compare(36, 4, ".dmp") == 0) {
                    s.named_ms = static_cast<double>(t - g_shared->crash_at.load()) / 1e6;
                }
                off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
            }
        }
        gone = (p[0].revents & POLLIN) != 0;
        if (gone) gone_at = t;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    const long long gone = gone_at >= 0 ? gone_at : now_ns();
    if (std::getenv("CRASHDROP_BENCH_TRACE") != nullptr && v == variant::helper) {
        std::fprintf(stderr, "%d crash %lld\n%d gone %lld\n", pid, g_shared->crash_at.load(), pid, gone);
    }
    if (WIFSIGNALED(status)) s.reaped_ms = static_cast<double>(gone - g_shared->crash_at.load()) / 1e6;
    if (pidfd >= 0) close(pidfd);
    if (v == variant::helper) {
        bool dmp = false, meta = false;
        if (DIR* d = opendir((dir + "/db/pending").c_str())) {
            while (dirent* e = readdir(d)) {
                const std::string name = e->d_name;
                dmp = dmp || (name.size() == 40 && name.compare(36, 4, ".dmp") == 0);
                meta = meta || (name.size() == 41 && name.compare(36, 5, ".meta") == 0);
            }
            closedir(d);
        }
        s.dump_in_pending = dmp && meta;
        if (in >= 0) close(in);
        // The helper goes on (fsync, the upload): it is given time to finish before the next
        // run, so one run's helper does not slow the next one's crash.
        wait_for_helper_exit(dir + "/db/helper.log");
        if (capture_phases::area* a = capture_phases::g_area) {
            const int n = std::min<int>(a->count.load(), static_cast<int>(sizeof(a->marks) / sizeof(a->marks[0])));
            for (int i = 0; i < n; ++i) {
                s.phases.emplace_back(a->marks[i].name, static_cast<double>(a->marks[i].ns - g_shared->crash_at.load()) / 1e6);
            }
            s.phases.emplace_back("process gone", s.reaped_ms);
        }
    }
    if (std::getenv("CRASHDROP_BENCH_KEEP") == nullptr) std::system(("rm -rf '" + dir + "'").c_str());
    return s;
}

double median(std::vector<double> v) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return x < 0; }), v.end());
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string ms(double v) {
    if (v < 0) return "n/a";
    char b[32];
    std::snprintf(b, sizeof(b), "%.2f ms", v);
    return b;
}
std::string kb(double v) {
    char b[32];
    std::snprintf(b, sizeof(b), "%.0f KiB", v / 1024.0);
    return b;
}

}  // namespace

int main(int argc, char** argv) {
    // Started again as a crashed child's helper (re-exec mode): be that helper.
    if (std::getenv("CRASHDROP_HELPER") != nullptr) return crashdrop::run_helper(argc, argv);
    const int runs = argc > 1 ? std::max(10, std::atoi(argv[1])) : 15;
    const std::string base = argc > 2 ? argv[2] : "/tmp/crashdrop-bench";
    g_shared = static_cast<shared_block*>(
        mmap(nullptr, sizeof(shared_block), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    std::string pattern;
    if (FILE* f = std::fopen("/proc/sys/kernel/core_pattern", "r")) {
        char line[256] = {0};
        if (std::fgets(line, sizeof(line), f)) pattern = line;
        std::fclose(f);
        while (!pattern.empty() && pattern.back() == '\n') pattern.pop_back();
    }
    const bool kernel_ok = !pattern.empty() && pattern[0] != '|' && pattern[0] != '/';
    std::printf("capture_bench: %d runs per cell, medians; core_pattern '%s'%s\n", runs, pattern.c_str(),
                kernel_ok ? "" : " (not a relative file: kernel core dumps not measured)");
    std::printf("crash -> complete file (as inotify reports it to the parent), and crash -> child reaped\n\n");
    std::printf("%-8s | %-22s | %-22s | %-12s | %-14s | %-11s | %-20s\n", "threads", "crashdrop file/reaped",
                "kernel core file/reaped", "no dump reap", "crashdrop/core", "dump size", "core size (disk)");
    unsigned long long reserved = 0;
    // CRASHDROP_BENCH_EXIT_ONLY=1: only the fault -> process gone table (quicker to repeat)
    const bool exit_only = std::getenv("CRASHDROP_BENCH_EXIT_ONLY") != nullptr;
    for (int threads : {1, 8, 32}) {
        if (exit_only) break;
        std::vector<double> cf, cr, kf, kr, br, csize, ksize, kdisk;
        for (int r = 0; r < runs; ++r) {
            sample a = run_once(variant::crashdrop, threads, base, r);
            cf.push_back(a.file_ms);
            cr.push_back(a.reaped_ms);
            csize.push_back(static_cast<double>(a.size));
            reserved = g_shared->reserved.load();
            if (kernel_ok) {
                sample k = run_once(variant::kernel, threads, base, r);
                kf.push_back(k.file_ms);
                kr.push_back(k.reaped_ms);
                ksize.push_back(static_cast<double>(k.size));
                kdisk.push_back(static_cast<double>(k.disk));
            }
            sample b = run_once(variant::baseline, threads, base, r);
            br.push_back(b.reaped_ms);
        }
        const double ratio = kernel_ok && median(kf) > 0 ? median(cf) / median(kf) : -1;
        char ratio_s[32];
        std::snprintf(ratio_s, sizeof(ratio_s), ratio > 0 ? "%.2fx" : "n/a", ratio);
        std::printf("%-8d | %-10s %-11s | %-10s %-11s | %-12s | %-14s | %-11s | %s (%s)\n", threads, ms(median(cf)).c_str(),
                    ms(median(cr)).c_str(), ms(median(kf)).c_str(), ms(median(kr)).c_str(), ms(median(br)).c_str(),
                    ratio_s, kb(median(csize)).c_str(), kernel_ok ? kb(median(ksize)).c_str() : "n/a",
                    kernel_ok ? kb(median(kdisk)).c_str() : "n/a");
        std::fflush(stdout);
    }
    std::printf("\nmemory reserved by start(): %llu KiB (dump buffer and tables), plus one %zu KiB alternate\n"
                "signal stack per thread (64 KiB default, from mmap, freed when the thread ends)\n",
                reserved / 1024, static_cast<size_t>(64));
    std::fflush(stdout);

    // ---- the helper: a ~1 MB dump (16 threads x ~64 KiB of used stack), re-exec helper ----
    const std::string collector = argc > 3 ? argv[3] : CRASHDROP_COLLECTOR_PY;
    const std::string received = base + "/received";
    std::system(("rm -rf '" + received + "' '" + base + "/port' && mkdir -p '" + base + "'").c_str());
    const pid_t server = fork();
    if (server == 0) {
        const int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("python3", "python3", collector.c_str(), "serve", "--out", received.c_str(), "--port-file",
               (base + "/port").c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    std::string port;
    for (int i = 0; i < 200 && port.empty(); ++i) {
        usleep(50000);
        if (FILE* f = std::fopen((base + "/port").c_str(), "r")) {
            char line[32] = {0};
            if (std::fgets(line, sizeof(line), f)) port = line;
            std::fclose(f);
            while (!port.empty() && (port.back() == '\n')) port.pop_back();
        }
    }
    if (port.empty()) {
        std::printf("\nhelper: the collector (%s) did not start; skipped\n", collector.c_str());
        kill(server, SIGTERM);
        waitpid(server, nullptr, 0);
        return 0;
    }
    mkdir(received.c_str(), 0700);
    g_collector_url = "http://127.0.0.1:" + port + "/submit";

    // ---- fault -> process gone, the default helper (issue 17), beside the kernel and no dump ----
    std::printf("\nfault -> process gone (reaped by its parent), %d runs per cell, medians, interleaved run by run;\n"
                "~16 KiB of used stack per thread; crashdrop with the default helper (re-exec, uploading to a\n"
                "local collector); 'in pending' = the dump and its .meta were in pending/ when the child was gone\n\n",
                runs);
    std::printf("%-8s | %-14s | %-14s | %-12s | %-10s | %-10s | %-10s | %s\n", "threads", "crashdrop", "kernel core", "no dump",
                "/ core", "/ no dump", "in pending", "(crashdrop: dump named by the helper)");
    capture_phases::g_area = capture_phases::map_area(true);
    std::vector<std::pair<int, std::map<std::string, std::vector<double>>>> where;  // per thread count
    for (int threads : {1, 33}) {
        std::vector<double> hr, hn, kr, br;
        std::map<std::string, std::vector<double>> phase_ms;
        int complete = 0, crashes = 0;
        for (int r = 0; r < runs; ++r) {
            const exit_sample h = run_exit_once(variant::helper, threads, base, r);
            for (const auto& p : h.phases) phase_ms[p.first].push_back(p.second);
            hr.push_back(h.reaped_ms);
            hn.push_back(h.named_ms);
            if (h.reaped_ms >= 0) ++crashes;
            if (h.dump_in_pending) ++complete;
            if (kernel_ok) kr.push_back(run_exit_once(variant::kernel, threads, base, r).reaped_ms);
            br.push_back(run_exit_once(variant::baseline, threads, base, r).reaped_ms);
        }
        char vs_core[32] = "n/a", vs_none[32] = "n/a", in_pending[32];
        if (kernel_ok && median(kr) > 0) std::snprintf(vs_core, sizeof(vs_core), "%.2fx", median(hr) / median(kr));
        if (median(br) > 0) std::snprintf(vs_none, sizeof(vs_none), "%.2fx", median(hr) / median(br));
        std::snprintf(in_pending, sizeof(in_pending), "%d/%d", complete, crashes);
        std::printf("%-8d | %-14s | %-14s | %-12s | %-10s | %-10s | %-10s | %s\n", threads, ms(median(hr)).c_str(),
                    kernel_ok ? ms(median(kr)).c_str() : "n/a", ms(median(br)).c_str(), vs_core, vs_none, in_pending,
                    ms(median(hn)).c_str());
        std::fflush(stdout);
        where.emplace_back(threads, std::move(phase_ms));
    }
    // Where the time goes: fault -> each point crashdrop marks, medians of the same runs, in
    // the order they come; the step is the difference of consecutive medians.
    for (const auto& w : where) {
        std::vector<std::pair<double, std::string>> order;
        for (const auto& p : w.second) order.emplace_back(median(p.second), p.first);
        std::sort(order.begin(), order.end());
        std::printf("\nwhere the time goes, %d thread%s (fault -> each point, medians of the runs above; step = from the point before)\n",
                    w.first, w.first == 1 ? "" : "s");
        double before = 0;
        for (const auto& o : order) {
            std::printf("  %-34s %8.3f ms   step %7.3f ms\n", o.second.c_str(), o.first, o.first - before);
            before = o.first;
        }
    }
    if (capture_phases::g_area != nullptr) unlink(capture_phases::k_file);
    std::fflush(stdout);
    if (exit_only) {
        kill(server, SIGTERM);
        waitpid(server, nullptr, 0);
        return 0;
    }
    g_depth = 14;  // ~60 KiB per thread (under the 64 KiB per-thread stack limit)
    std::vector<double> hp, hd, hs, hr, hsize;
    for (int r = 0; r < runs; ++r) {
        helper_sample h = run_helper_once(16, base, r, received);
        hp.push_back(h.pending_ms);
        hd.push_back(h.durable_ms);
        hs.push_back(h.server_ms);
        hr.push_back(h.reaped_ms);
        hsize.push_back(static_cast<double>(h.size));
    }
    kill(server, SIGTERM);
    waitpid(server, nullptr, 0);
    std::printf("\nhand-off to the helper, %d runs, medians: 16 threads x ~60 KiB of used stack, dump %s\n", runs,
                kb(median(hsize)).c_str());
    std::printf("  crash -> dump in pending/ (written by the helper)   %s\n", ms(median(hp)).c_str());
    std::printf("  crash -> its metadata in pending/ (fsync'ed after)   %s\n", ms(median(hd)).c_str());
    std::printf("  crash -> the collector has it (gzip, HTTP, loopback) %s\n", ms(median(hs)).c_str());
    std::printf("  crash -> the crashed process is gone (reaped)        %s\n", ms(median(hr)).c_str());
    return 0;
}
