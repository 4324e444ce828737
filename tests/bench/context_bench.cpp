// context_bench - what setting an annotation, a tag, adding a breadcrumb or a heartbeat() costs, with 1 thread
// and with 8 threads writing at once (the target: below 100 ns per call), side by side
// in one run with a naive store (a std::mutex around a std::map<std::string, std::string>, and
// around a std::deque for breadcrumbs). Run on demand (not a test):
//   build/.../tests/context_bench [runs] [calls-per-thread]
//
// Method. crashdrop::start() (HelperMode::none, a database in a mkdtemp() folder, the default
// dump buffer and 100 breadcrumbs), then for every operation, thread count and store: T threads
// are created, meet on a barrier and each makes K calls (default 1,000,000). Every run of every
// cell is interleaved with the others (run r of all cells, then run r+1), so that machine noise
// hits them alike; the first, untimed round is a warm-up. heartbeat() with 1 thread runs on the
// main thread, the watched one (its first caller: a load, a compare and a store to the shared
// region); with 8 threads none of them is the watched thread (each call is one load and a
// return). The naive heartbeat takes a clock reading and stores it under a mutex. For each run:
//   wall ns/call  per thread: steady_clock time from the barrier to its last call / K; the
//                 run's figure is the median over its threads.
//   cpu ns/call   per thread: CLOCK_THREAD_CPUTIME_ID time over the same calls / K, median over
//                 the threads. Only the time the thread was on a CPU counts, so being preempted
//                 is not counted as call cost, while spinning or yielding while another thread
//                 owns a slot is (that is real cost of contention).
//   Mcalls/s      aggregate: T*K calls / (last thread's end - first thread's start).
// Each column prints the median of the R runs' figures and [min..max] of them.
//
// Which figure is the call's cost. With 1 thread, wall and cpu agree. This machine may have
// fewer cores than 8 (see "cores" in the header line): 8 threads are then oversubscribed, each
// one is runnable but off-CPU most of the time, and its wall time per call is at least
// 8/cores times the call cost. The cpu figure is the CPU-time-fair cost per call with 8 writers
// contending, and it is the one compared with the 100 ns target; wall is printed beside it.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

enum class op { extra_same, extra_own, extra_64, breadcrumb, tag, heartbeat };
constexpr op k_ops[] = {op::extra_same, op::extra_own, op::extra_64, op::breadcrumb, op::tag, op::heartbeat};
enum class store { crashdrop, naive };
constexpr int k_thread_counts[] = {1, 8};
constexpr std::size_t k_ring = 100;  // Options::max_breadcrumbs (the default)

const char* op_name(op o) {
    switch (o) {
        case op::extra_same: return "add_extra_parameter same key";
        case op::extra_own: return "add_extra_parameter own key";
        case op::extra_64: return "add_extra_parameter 64 B value";
        case op::breadcrumb: return "add_breadcrumb";
        case op::tag: return "set_tag";
        case op::heartbeat: return "heartbeat";
    }
    return "?";
}

/// What one thread writes: its keys and values, built before the clock starts.
struct thread_input {
    std::string own_key;      // "bench.thread.3"
    std::string value16;      // 16 bytes, different per thread
    std::string value64;      // 64 bytes
    std::string message;      // ~40 bytes
};

thread_input make_input(int t) {
    thread_input in;
    char b[96];
    std::snprintf(b, sizeof(b), "bench.thread.%d", t);
    in.own_key = b;
    std::snprintf(b, sizeof(b), "value-thread-%03d", t);  // 16 bytes
    in.value16 = b;
    std::snprintf(b, sizeof(b), "%-64.64s", "a 64 byte value: build 1.2.3-beta (x86_64), channel stable, t=");
    in.value64 = b;
    in.value64[62] = static_cast<char>('0' + t / 10 % 10);
    in.value64[63] = static_cast<char>('0' + t % 10);
    std::snprintf(b, sizeof(b), "user clicked 'Save' in editor window %03d", t);  // 40 bytes
    in.message = b;
    return in;
}

const std::string k_shared_key = "bench.shared";
const std::string k_tag_key = "screen";

/// The naive store: what a straightforward implementation would do.
struct naive_store {
    std::mutex mutex;
    std::map<std::string, std::string> annotations;
    std::map<std::string, std::string> tags;
    std::deque<crashdrop::Breadcrumb> crumbs;
    std::chrono::steady_clock::time_point last_beat;

    void set(std::map<std::string, std::string>& m, std::string_view key, std::string_view value) {
        std::lock_guard<std::mutex> lock(mutex);
        m[std::string(key)] = std::string(value);
    }
    void add_breadcrumb(std::string_view message, std::string_view category) {
        crashdrop::Breadcrumb b;
        b.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        b.category = std::string(category);
        b.message = std::string(message);
        std::lock_guard<std::mutex> lock(mutex);
        if (crumbs.size() == k_ring) crumbs.pop_front();
        crumbs.push_back(std::move(b));
    }
    /// A naive heartbeat: the time of the last beat, under the lock.
    void heartbeat() {
        const auto now = std::chrono::steady_clock::now();
        std::lock_guard<std::mutex> lock(mutex);
        last_beat = now;
    }
};
naive_store g_naive;

long long thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

long long steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct thread_result {
    long long start = 0, end = 0;  // steady_clock
    long long cpu = 0;             // thread CPU time over the calls
    long long errors = 0;
    std::string first_error;
};

void note(thread_result* r, const crashdrop::Status& s) {
    if (s.ok()) return;
    if (r->errors++ == 0) r->first_error = std::string(crashdrop::error_name(s.code())) + ": " + s.message();
}

/// K calls of `o` on `st` by thread `t`; the clocks bracket the calls only.
void run_thread(op o, store st, const thread_input& in, long long calls, pthread_barrier_t* barrier, thread_result* r) {
    pthread_barrier_wait(barrier);
    const long long cpu0 = thread_cpu_ns();
    r->start = steady_ns();
    if (st == store::crashdrop) {
        switch (o) {
            case op::extra_same:
                for (long long i = 0; i < calls; ++i) note(r, crashdrop::add_extra_parameter(k_shared_key, in.value16));
                break;
            case op::extra_own:
                for (long long i = 0; i < calls; ++i) note(r, crashdrop::add_extra_parameter(in.own_key, in.value16));
                break;
            case op::extra_64:
                for (long long i = 0; i < calls; ++i) note(r, crashdrop::add_extra_parameter(in.own_key, in.value64));
                break;
            case op::breadcrumb:
                for (long long i = 0; i < calls; ++i) crashdrop::add_breadcrumb(in.message, "ui");
                break;
            case op::tag:
                for (long long i = 0; i < calls; ++i) note(r, crashdrop::set_tag(k_tag_key, in.value16));
                break;
            case op::heartbeat:
                for (long long i = 0; i < calls; ++i) crashdrop::heartbeat();
                break;
        }
    } else {
        switch (o) {
            case op::extra_same:
                for (long long i = 0; i < calls; ++i) g_naive.set(g_naive.annotations, k_shared_key, in.value16);
                break;
            case op::extra_own:
                for (long long i = 0; i < calls; ++i) g_naive.set(g_naive.annotations, in.own_key, in.value16);
                break;
            case op::extra_64:
                for (long long i = 0; i < calls; ++i) g_naive.set(g_naive.annotations, in.own_key, in.value64);
                break;
            case op::breadcrumb:
                for (long long i = 0; i < calls; ++i) g_naive.add_breadcrumb(in.message, "ui");
                break;
            case op::tag:
                for (long long i = 0; i < calls; ++i) g_naive.set(g_naive.tags, k_tag_key, in.value16);
                break;
            case op::heartbeat:
                for (long long i = 0; i < calls; ++i) g_naive.heartbeat();
                break;
        }
    }
    r->end = steady_ns();
    r->cpu = thread_cpu_ns() - cpu0;
}

struct run_figures {
    double wall_ns;   // median over threads of wall time per call
    double cpu_ns;    // median over threads of CPU time per call
    double mcalls_s;  // aggregate throughput
};

double median(std::vector<double> v) {
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

/// The 1/5/15-minute load averages: other work on the machine shows in the figures.
std::string loadavg() {
    std::string out = "?";
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        double a = 0, b = 0, c = 0;
        if (std::fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) {
            char buf[64];
            std::snprintf(buf, sizeof(buf), "%.2f %.2f %.2f", a, b, c);
            out = buf;
        }
        std::fclose(f);
    }
    return out;
}

long long g_errors = 0;
std::string g_first_error;

run_figures run_once(op o, store st, int threads, long long calls, const std::vector<thread_input>& inputs) {
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, nullptr, static_cast<unsigned>(threads));
    std::vector<thread_result> results(static_cast<std::size_t>(threads));
    std::vector<std::thread> pool;
    // heartbeat() with 1 thread is measured on the main thread, the watched one (its first
    // caller); the 8 threads are not watched and return after one load.
    const bool on_main = o == op::heartbeat && threads == 1;
    if (on_main) run_thread(o, st, inputs[0], calls, &barrier, &results[0]);
    for (int t = 0; t < threads && !on_main; ++t) {
        const auto i = static_cast<std::size_t>(t);
        pool.emplace_back(run_thread, o, st, std::cref(inputs[i]), calls, &barrier, &results[i]);
    }
    for (auto& th : pool) th.join();
    pthread_barrier_destroy(&barrier);
    std::vector<double> wall, cpu;
    long long first = results[0].start, last = results[0].end;
    for (const auto& r : results) {
        wall.push_back(static_cast<double>(r.end - r.start) / static_cast<double>(calls));
        cpu.push_back(static_cast<double>(r.cpu) / static_cast<double>(calls));
        first = std::min(first, r.start);
        last = std::max(last, r.end);
        if (r.errors != 0 && g_errors == 0) g_first_error = r.first_error;
        g_errors += r.errors;
    }
    const double total = static_cast<double>(calls) * threads;
    return {median(wall), median(cpu), total / static_cast<double>(last - first) * 1e3};
}

struct cell {
    op o;
    int threads;
    store st;
    std::vector<run_figures> runs;
};

std::string stat3(const std::vector<run_figures>& runs, double run_figures::*field, const char* fmt) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(r.*field);
    char b[64];
    std::snprintf(b, sizeof(b), fmt, median(v), *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
    return b;
}

double med(const std::vector<run_figures>& runs, double run_figures::*field) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(r.*field);
    return median(v);
}

/// 8 threads, each appending "t<T> n<N>" breadcrumbs with N counting up; then the ring must hold
/// exactly k_ring complete entries, and each thread's entries must be in the order it wrote them.
bool check_breadcrumbs(long long calls) {
    constexpr int threads = 8;
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, nullptr, threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([t, calls, &barrier] {
            pthread_barrier_wait(&barrier);
            char msg[64];
            for (long long i = 0; i < calls; ++i) {
                const int n = std::snprintf(msg, sizeof(msg), "t%d n%08lld user clicked Save", t, i);
                crashdrop::add_breadcrumb(std::string_view(msg, static_cast<std::size_t>(n)), "ui");
            }
        });
    }
    for (auto& th : pool) th.join();
    pthread_barrier_destroy(&barrier);
    const std::vector<crashdrop::Breadcrumb> crumbs = crashdrop::breadcrumbs();
    std::size_t well_formed = 0;
    bool ordered = true;
    long long last_n[threads];
    std::fill(last_n, last_n + threads, -1LL);
    std::set<int> writers;
    for (const auto& b : crumbs) {
        int t = -1;
        long long n = -1;
        char tail[64] = {0};
        if (b.category != "ui" || b.level != crashdrop::BreadcrumbLevel::info ||
            std::sscanf(b.message.c_str(), "t%d n%lld %63[^\n]", &t, &n, tail) != 3 || t < 0 || t >= threads ||
            std::string(tail) != "user clicked Save" || n < 0 || n >= calls) {
            continue;
        }
        ++well_formed;
        writers.insert(t);
        if (n <= last_n[t]) ordered = false;
        last_n[t] = n;
    }
    const bool ok = crumbs.size() == k_ring && well_formed == k_ring && ordered;
    std::printf("breadcrumbs after 8 threads x %lld add_breadcrumb calls: %zu in breadcrumbs() (ring size %zu), %zu well formed, "
                "from %zu threads, each thread's in its own order: %s -> %s\n",
                calls, crumbs.size(), k_ring, well_formed, writers.size(), ordered ? "yes" : "no", ok ? "correct" : "WRONG");
    return ok;
}

/// After the runs, the annotations hold a value one of the writers wrote, whole.
bool check_parameters(const std::vector<thread_input>& inputs) {
    const std::map<std::string, std::string> p = crashdrop::parameters();
    bool ok = true;
    auto shared = p.find(k_shared_key);
    bool shared_ok = false;
    for (const auto& in : inputs) shared_ok = shared_ok || (shared != p.end() && shared->second == in.value16);
    ok = ok && shared_ok;
    std::size_t own_ok = 0;
    for (const auto& in : inputs) {
        auto it = p.find(in.own_key);
        // extra_own (16 B) and extra_64 (64 B) both write own_key; the last run of the rounds decides.
        if (it != p.end() && (it->second == in.value16 || it->second == in.value64)) ++own_ok;
    }
    ok = ok && own_ok == inputs.size();
    std::printf("parameters() after the runs: shared key holds one writer's whole value: %s; %zu/%zu own keys intact -> %s\n",
                shared_ok ? "yes" : "no", own_ok, inputs.size(), ok ? "correct" : "WRONG");
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
    const long long calls = argc > 2 ? std::max(1000LL, std::atoll(argv[2])) : 1000000LL;

    char tmpl[] = "/tmp/crashdrop-context-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    const std::string dir = tmpl;
    crashdrop::Options o;
    o.database_path = dir + "/db";
    o.product_name = "context_bench";
    o.helper_mode = crashdrop::HelperMode::none;
    o.max_breadcrumbs = k_ring;
    if (crashdrop::Status s = crashdrop::start(o); !s.ok()) {
        std::fprintf(stderr, "context_bench: crashdrop::start failed: %s: %s\n", crashdrop::error_name(s.code()),
                     s.message().c_str());
        std::filesystem::remove_all(dir);
        return 1;
    }

    crashdrop::heartbeat();  // the main thread is the watched one (see run_once)
    int max_threads = 0;
    for (int t : k_thread_counts) max_threads = std::max(max_threads, t);
    std::vector<thread_input> inputs;
    for (int t = 0; t < max_threads; ++t) inputs.push_back(make_input(t));

    std::vector<cell> cells;
    for (op o2 : k_ops) {
        for (int t : k_thread_counts) {
            for (store st : {store::crashdrop, store::naive}) cells.push_back({o2, t, st, {}});
        }
    }

    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    std::printf("context_bench: %d runs per cell (after a warm-up round), %lld calls per thread per run, %ld cores "
                "(load average %s); value 16 B (64 B where named), breadcrumb message %zu B, category \"ui\"\n",
                runs, calls, cores, loadavg().c_str(), inputs[0].message.size());
    std::printf("ns/call: median of the runs' medians over threads [min..max of them]; cpu = per-thread CPU time "
                "(preemption not counted), wall = steady_clock\n\n");
    std::fflush(stdout);

    // Warm-up round (untimed): every cell once, with fewer calls.
    for (const cell& c : cells) (void)run_once(c.o, c.st, c.threads, std::max(1000LL, calls / 10), inputs);
    for (int r = 0; r < runs; ++r) {
        for (cell& c : cells) c.runs.push_back(run_once(c.o, c.st, c.threads, calls, inputs));
    }

    std::printf("%-31s %-7s %-10s | %-23s | %-23s | %-22s | %s\n", "operation", "threads", "store", "cpu ns/call",
                "wall ns/call", "Mcalls/s (all threads)", "naive/crashdrop (cpu)");
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const cell& c = cells[i];
        std::string ratio;
        if (c.st == store::naive && i > 0) {
            char b[32];
            std::snprintf(b, sizeof(b), "%.1fx", med(c.runs, &run_figures::cpu_ns) / med(cells[i - 1].runs, &run_figures::cpu_ns));
            ratio = b;
        }
        std::printf("%-31s %-7d %-10s | %-23s | %-23s | %-22s | %s\n", op_name(c.o), c.threads,
                    c.st == store::crashdrop ? "crashdrop" : "naive", stat3(c.runs, &run_figures::cpu_ns, "%6.1f [%.1f..%.1f]").c_str(),
                    stat3(c.runs, &run_figures::wall_ns, "%6.1f [%.1f..%.1f]").c_str(),
                    stat3(c.runs, &run_figures::mcalls_s, "%5.1f [%.1f..%.1f]").c_str(), ratio.c_str());
    }
    std::printf("\n");

    bool all_met = true;
    for (const cell& c : cells) {
        if (c.st != store::crashdrop) continue;
        const double cpu = med(c.runs, &run_figures::cpu_ns);
        const double wall = med(c.runs, &run_figures::wall_ns);
        const bool met = cpu < 100.0;
        all_met = all_met && met;
        if (c.threads == 1) {
            std::printf("%s, 1 thread: %.0f ns/call (target < 100 ns: %s)\n", op_name(c.o), cpu, met ? "met" : "NOT met");
        } else {
            std::printf("%s, %d threads at once: %.0f ns/call CPU time (wall %.0f ns/call, %d threads on %ld cores) "
                        "(target < 100 ns: %s)\n",
                        op_name(c.o), c.threads, cpu, wall, c.threads, cores, met ? "met" : "NOT met");
        }
    }
    std::printf("(load average at the end: %s; other work on the machine makes threads wait for a core, which "
                "the wall figures include and the cpu figures do not)\n\n",
                loadavg().c_str());

    const bool crumbs_ok = check_breadcrumbs(calls);
    const bool params_ok = check_parameters(inputs);
    if (g_errors != 0) {
        std::printf("crashdrop returned %lld errors; the first: %s\n", g_errors, g_first_error.c_str());
    } else {
        std::printf("crashdrop returned no errors; all targets %s\n", all_met ? "met" : "NOT met");
    }
    crashdrop::stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return g_errors == 0 && crumbs_ok && params_ok ? 0 : 1;
}
