// start_bench - what crashdrop::start() costs the thread that calls it (issue 17's target:
// at most 1.0 ms with the default helper), side by side in one run with baselines measured the
// same way, and where the time goes (start()'s phases). Run on demand (not a test):
//   build/.../tests/start_bench [runs]          (default 41 runs)
//
// Method. Every sample is a fresh process: this executable, fork()ed and exec()ed again with
// `--child <variant> <database>`, so no start() ever sees a process that ran one before (the
// module list, the page cache of the database, the dynamic linker's bindings are those of a
// real program's start-up). The variants of a run are interleaved, in an order that turns with
// the run, so that machine noise hits them alike; round 0 is a warm-up (it also creates each
// variant's database, which later runs reuse, as an application's later starts do) and is not
// counted. Per run, each variant's child prints what it measured on one line; the parent keeps
// them and prints the median and [min..max] of each figure over the runs.
//   default      start() with the default options (HelperMode::reexec: this executable is
//                exec'd again as the helper and taken at its .preinit_array entry), a
//                database of its own. start ms: CLOCK_MONOTONIC around the call, on the
//                calling thread; cpu ms: CLOCK_THREAD_CPUTIME_ID around it. helper ready:
//                from the call until the helper's log says it serves the application
//                ("watching for an abnormal exit": it reads hand-offs from then on; a crash
//                before that is not lost, its hand-off waits on the socket).
//   none         the same with HelperMode::none (no helper process).
//   empty        the same process doing nothing in place of start() (two clock readings):
//                the floor. In this child only (not to disturb the others), two costs of
//                the same kind as start()'s own parts, as baselines: a posix_spawn() of
//                /bin/true and waitpid() for it (a process launch), and an atomic file write
//                with fsync (open, write, fsync, rename: what a durable record costs here).
//   process      the parent's view of the empty child: fork() to waitpid() (an empty
//                program's whole start-up and exit), for scale.
// The phases: start_linux.hpp marks where start() stands with CRASHDROP_DETAIL_START_PHASE,
// defined here (before crashdrop.hpp) to take a CLOCK_MONOTONIC reading; each phase's figure
// is the time from the mark before it. Helpers of earlier runs are waited for (their log
// says "helper exits") before the next child starts, so that none of them runs meanwhile.
#include <time.h>

#include <cstdint>

namespace start_bench {
struct phase_mark {
    const char* name;
    long long ns;
};
inline phase_mark g_marks[32];
inline int g_mark_count = 0;
inline long long now_ns() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<long long>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}
inline void mark(const char* name) {
    if (g_mark_count < 32) g_marks[g_mark_count++] = {name, now_ns()};
}
}  // namespace start_bench
#define CRASHDROP_DETAIL_START_PHASE(name) ::start_bench::mark(name)

#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

extern char** environ;

namespace {

using start_bench::now_ns;

long long thread_cpu_ns() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<long long>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

std::string read_file(const std::string& path) {
    std::string out;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
        std::fclose(f);
    }
    return out;
}

std::size_t count_of(const std::string& text, const char* what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

/// Waits (up to `ms`) until helper.log in `db` holds `what` more than `before` times; the time
/// it took in ns, or -1.
long long wait_for_log(const std::string& db, const char* what, std::size_t before, int ms) {
    const long long from = now_ns();
    const std::string log = db + "/helper.log";
    for (;;) {
        if (count_of(read_file(log), what) > before) return now_ns() - from;
        if (now_ns() - from > static_cast<long long>(ms) * 1000000LL) return -1;
        usleep(100);
    }
}

// ---- the child: one sample ------------------------------------------------------------------

int child(const std::string& variant, const std::string& db) {
    const std::size_t ready_before = count_of(read_file(db + "/helper.log"), "watching for an abnormal exit");
    crashdrop::Options o;
    o.database_path = db;
    o.product_name = "start_bench";
    if (variant == "none") o.helper_mode = crashdrop::HelperMode::none;
    const long long cpu0 = thread_cpu_ns();
    const long long t0 = now_ns();
    if (variant != "empty") {
        const crashdrop::Status s = crashdrop::start(o);
        if (!s.ok()) {
            std::fprintf(stderr, "start(): %s\n", s.message().c_str());
            return 2;
        }
    }
    const long long t1 = now_ns();
    const long long cpu1 = thread_cpu_ns();
    std::printf("start_ns=%lld cpu_ns=%lld", t1 - t0, cpu1 - cpu0);
    long long previous = t0;
    for (int i = 0; i < start_bench::g_mark_count; ++i) {
        std::printf(" phase.%02d.%s=%lld", i, start_bench::g_marks[i].name, start_bench::g_marks[i].ns - previous);
        previous = start_bench::g_marks[i].ns;
    }
    if (variant == "default") {
        const long long waited = wait_for_log(db, "watching for an abnormal exit", ready_before, 3000);
        if (waited >= 0) std::printf(" ready_ns=%lld", now_ns() - t0);
    }
    if (variant == "empty") {
        // A process launch: posix_spawn of /bin/true, and waitpid for it.
        char arg0[] = "/bin/true";
        char* argv[] = {arg0, nullptr};
        long long a = now_ns();
        pid_t pid = -1;
        if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) == 0) {
            int status = 0;
            waitpid(pid, &status, 0);
            std::printf(" spawn_ns=%lld", now_ns() - a);
        }
        // A durable atomic write: open, write, fsync, rename.
        const std::string tmp = db + "/.bench.tmp", final_path = db + "/bench-record";
        a = now_ns();
        const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            const char text[] = "state=started\npid=1\ncrashes=0\n";
            const bool ok = write(fd, text, sizeof(text) - 1) == static_cast<ssize_t>(sizeof(text) - 1) && fsync(fd) == 0;
            close(fd);
            if (ok && rename(tmp.c_str(), final_path.c_str()) == 0) std::printf(" fsync_write_ns=%lld", now_ns() - a);
        }
    }
    std::printf("\n");
    std::fflush(stdout);
    return 0;
}

// ---- the parent -----------------------------------------------------------------------------

struct sample {
    std::map<std::string, long long> values;  // name -> ns
};

/// Runs one child; returns what it printed (parsed), plus "process_ns" (fork to reaped).
bool run_child(const std::string& self, const std::string& variant, const std::string& db, sample* out) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return false;
    const long long t0 = now_ns();
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        const char* argv[] = {self.c_str(), "--child", variant.c_str(), db.c_str(), nullptr};
        execv(self.c_str(), const_cast<char**>(argv));
        _exit(127);
    }
    close(fds[1]);
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    const long long t1 = now_ns();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "child %s failed (status %d): %s\n", variant.c_str(), status, text.c_str());
        return false;
    }
    out->values["process_ns"] = t1 - t0;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find_first_of(" \n", at);
        if (end == std::string::npos) end = text.size();
        const std::string item = text.substr(at, end - at);
        const std::size_t eq = item.find('=');
        if (eq != std::string::npos) out->values[item.substr(0, eq)] = std::atoll(item.c_str() + eq + 1);
        at = end + 1;
    }
    return true;
}

struct stats {
    double median = 0, min = 0, max = 0;
    std::size_t n = 0;
};
stats summarize(std::vector<long long> v) {
    stats s;
    s.n = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    s.median = (v.size() % 2 ? static_cast<double>(v[m]) : (static_cast<double>(v[m - 1]) + static_cast<double>(v[m])) / 2.0) / 1e6;
    s.min = static_cast<double>(v.front()) / 1e6;
    s.max = static_cast<double>(v.back()) / 1e6;
    return s;
}

std::vector<long long> column(const std::vector<sample>& samples, const std::string& name) {
    std::vector<long long> out;
    for (const auto& s : samples) {
        auto it = s.values.find(name);
        if (it != s.values.end()) out.push_back(it->second);
    }
    return out;
}

void print_row(const char* label, const stats& s) {
    if (s.n == 0) {
        std::printf("  %-44s  (no samples)\n", label);
        return;
    }
    std::printf("  %-44s %8.3f ms  [%.3f .. %.3f]  n=%zu\n", label, s.median, s.min, s.max, s.n);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 4 && std::strcmp(argv[1], "--child") == 0) return child(argv[2], argv[3]);
    const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 41;
    char self[4096];
    const ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) return 1;
    self[len] = '\0';
    char base_template[] = "/tmp/start_bench.XXXXXX";
    const char* base_dir = mkdtemp(base_template);
    if (base_dir == nullptr) return 1;
    const std::string base = base_dir;
    const std::vector<std::string> variants = {"default", "none", "empty"};
    std::map<std::string, std::vector<sample>> results;
    for (int r = 0; r <= runs; ++r) {
        for (std::size_t k = 0; k < variants.size(); ++k) {
            const std::string& v = variants[(k + static_cast<std::size_t>(r)) % variants.size()];
            const std::string db = base + "/" + v;
            mkdir(db.c_str(), 0700);  // the empty child writes its baseline file there
            const std::size_t exits_before = count_of(read_file(db + "/helper.log"), "helper exits");
            sample s;
            if (!run_child(self, v, db, &s)) return 1;
            if (v == "default") {
                // Its helper ends once the child has gone: wait for that, so it runs during no other sample.
                if (wait_for_log(db, "helper exits", exits_before, 5000) < 0) std::fprintf(stderr, "run %d: the helper did not exit within 5 s\n", r);
            }
            if (r > 0) results[v].push_back(s);
        }
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    std::printf("start_bench: %d runs (after a warm-up), fresh processes, variants interleaved; %ld cores; medians [min .. max]\n\n",
                runs, cores);
    const stats def = summarize(column(results["default"], "start_ns"));
    const stats none = summarize(column(results["none"], "start_ns"));
    const stats empty = summarize(column(results["empty"], "start_ns"));
    const stats process = summarize(column(results["empty"], "process_ns"));
    const stats spawn = summarize(column(results["empty"], "spawn_ns"));
    const stats fsync_write = summarize(column(results["empty"], "fsync_write_ns"));
    std::printf("start() on the calling thread (wall)\n");
    print_row("default options (HelperMode::reexec)", def);
    print_row("HelperMode::none", none);
    print_row("baseline: empty (nothing in its place)", empty);
    std::printf("start() on the calling thread (thread CPU time)\n");
    print_row("default options", summarize(column(results["default"], "cpu_ns")));
    print_row("HelperMode::none", summarize(column(results["none"], "cpu_ns")));
    std::printf("the helper\n");
    print_row("start() called -> helper serves the socket", summarize(column(results["default"], "ready_ns")));
    std::printf("baselines, same run\n");
    print_row("empty program: fork -> exec -> exit -> reaped", process);
    print_row("posix_spawn(/bin/true) + waitpid", spawn);
    print_row("atomic file write with fsync", fsync_write);
    std::printf("ratios (medians)\n");
    if (process.median > 0) std::printf("  default start() / empty program's whole life   %6.2f\n", def.median / process.median);
    if (spawn.median > 0) std::printf("  default start() / spawn of /bin/true           %6.2f\n", def.median / spawn.median);
    if (none.median > 0) std::printf("  default start() / HelperMode::none start()     %6.2f\n", def.median / none.median);
    std::printf("  default start() / the 1.0 ms target            %6.2f\n", def.median / 1.0);
    for (const std::string v : {"default", "none"}) {
        std::printf("\nphases of start(), %s (ms, median [min .. max])\n", v.c_str());
        std::vector<std::string> names;
        for (const auto& s : results[v]) {
            for (const auto& kv : s.values) {
                if (kv.first.rfind("phase.", 0) == 0 && std::find(names.begin(), names.end(), kv.first) == names.end()) names.push_back(kv.first);
            }
        }
        std::sort(names.begin(), names.end());  // "phase.NN.name": in start()'s order
        for (const auto& n : names) print_row(n.substr(9).c_str(), summarize(column(results[v], n)));
    }
    std::string cleanup = "rm -rf '" + base + "'";
    if (std::system(cleanup.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", base.c_str());
    return 0;
}
