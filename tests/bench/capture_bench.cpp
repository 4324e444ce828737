// capture_bench - how long from a crash until the dump file is complete, for processes with 1,
// 8 and 32 threads (each with ~16 KiB of used stack), side by side in one run with the Linux
// kernel's own core dump of the same process. Prints medians of R runs, the dump sizes and the
// memory start() reserves. Run on demand (not a test): build/tests/capture_bench [runs].
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
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

long long now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

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
        return;
    }
    g_shared->parked.fetch_add(1);
    while (g_shared->crash_at.load() >= 0) pause();  // parks until the process dies
}

void* thread_main(void*) {
    use_stack(3);  // ~16 KiB
    return nullptr;
}

int* volatile g_null = nullptr;

enum class variant { crashdrop, kernel, baseline };

[[noreturn]] void child(variant v, int threads, const std::string& dir) {
    if (chdir(dir.c_str()) != 0) _exit(90);
    rlimit core{0, 0};
    if (v == variant::kernel) core.rlim_cur = core.rlim_max = RLIM_INFINITY;
    setrlimit(RLIMIT_CORE, &core);
    if (v == variant::crashdrop) {
        crashdrop::Options o;
        o.database_path = dir + "/db";
        o.product_name = "capture_bench";
        o.helper_mode = crashdrop::HelperMode::none;  // the crashed process writes the dump itself
        if (!crashdrop::start(o).ok()) _exit(91);
        g_shared->reserved.store(crashdrop::reserved_bytes());
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
    for (int threads : {1, 8, 32}) {
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
    return 0;
}
