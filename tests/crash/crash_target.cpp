// crash_target - a program that crashes in one of many ways, with crashdrop started. The crash
// tests (crash_tests.cpp) run it in a child process and inspect the dump it leaves with
// readers crashdrop did not write (Breakpad's minidump_stackwalk/minidump_dump, lldb).
//
//   crash_target <mode> <database folder> [plugin path]
//
// Before crashing it writes <database>/expect.txt: what the test should find in the dump
// (crashing thread id, live thread count, crash address, the crashing thread's frames from
// the top down to main or the thread's start routine).
//
// Built several times: plain; with CRASHDROP_TEST_NO_EXCEPTIONS (this TU with -fno-exceptions
// -fno-rtti, the throw in thrower.cpp); with CRASHDROP_TEST_MALLOC_GUARD (malloc/free are
// interposed and end the process if called once the crash has begun).
//
// The same source runs on x86_64 and arm64; the few instructions that differ (and what the dump
// then says) are in crash_arch.hpp.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "crash_arch.hpp"

#define NOINLINE __attribute__((noinline))

// From thrower.cpp (always compiled with exceptions).
void throw_runtime_error(const char* message);

static std::string g_db;
static std::vector<std::string> g_expect;
static std::atomic<int> g_parked{0};
static std::atomic<int> g_release{0};
int* volatile g_null = nullptr;

static int gettid_() { return static_cast<int>(syscall(SYS_gettid)); }

static void expect(const std::string& key, const std::string& value) { g_expect.push_back(key + "=" + value); }
static std::string hex(std::uintptr_t v) {
    char b[32];
    snprintf(b, sizeof(b), "0x%zx", static_cast<size_t>(v));
    return b;
}
static int live_threads() {
    int n = 0;
    char buf[4096];
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
    for (;;) {
        long r = syscall(SYS_getdents64, fd, buf, sizeof(buf));
        if (r <= 0) break;
        for (long off = 0; off < r;) {
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, 2);
            if (buf[off + 19] >= '0' && buf[off + 19] <= '9') ++n;
            off += reclen;
        }
    }
    close(fd);
    return n;
}
/// Writes expect.txt (with the live thread count) just before the crash.
static void commit_expectations() {
    expect("pid", std::to_string(getpid()));
    expect("threads", std::to_string(live_threads()));
    std::string text;
    for (auto& l : g_expect) text += l + "\n";
    std::string path = g_db + "/expect.txt";
    FILE* f = fopen(path.c_str(), "w");
    fputs(text.c_str(), f);
    fclose(f);
}

// ---- malloc guard ------------------------------------------------------------------------
#if defined(CRASHDROP_TEST_MALLOC_GUARD)
static std::atomic<int> g_crashing{0};
extern "C" void* __libc_malloc(size_t);
extern "C" void __libc_free(void*);
extern "C" void* __libc_calloc(size_t, size_t);
extern "C" void* __libc_realloc(void*, size_t);
extern "C" void* __libc_memalign(size_t, size_t);
static void guard(const char* what) {
    if (g_crashing.load()) {
        static const char msg[] = "MALLOC DURING CRASH: ";
        (void)!write(2, msg, sizeof(msg) - 1);
        (void)!write(2, what, strlen(what));
        (void)!write(2, "\n", 1);
        _exit(97);
    }
}
extern "C" void* malloc(size_t n) { guard("malloc"); return __libc_malloc(n); }
extern "C" void free(void* p) { if (p) guard("free"); __libc_free(p); }
extern "C" void* calloc(size_t a, size_t b) { guard("calloc"); return __libc_calloc(a, b); }
extern "C" void* realloc(void* p, size_t n) { guard("realloc"); return __libc_realloc(p, n); }
extern "C" void* memalign(size_t a, size_t n) { guard("memalign"); return __libc_memalign(a, n); }
extern "C" void* aligned_alloc(size_t a, size_t n) { guard("aligned_alloc"); return __libc_memalign(a, n); }
extern "C" int posix_memalign(void** out, size_t a, size_t n) {
    guard("posix_memalign");
    *out = __libc_memalign(a, n);
    return *out ? 0 : 12;
}
static void crash_begins() { g_crashing.store(1); }
#else
static void crash_begins() {}
#endif

// ---- privacy: secrets in the environment and on the command line -------------------------
// With CRASHDROP_TEST_PRIVACY set, the leaves below read MY_API_TOKEN and the secret argument
// right before they crash, the way an application that uses them would: the string routines
// load their bytes into vector registers, and a pointer to each stays live in a register, so
// the writer's register memory would read around them. The test then searches the dump.
static bool g_privacy = false;
static const char* g_secret_arg = nullptr;
static std::atomic<size_t> g_secret_lengths{0};
static char g_token_copy[128];
/// Returns the environment secret's address (nullptr outside the privacy runs). Leaves its
/// bytes in vector registers: glibc's memcpy loads them (the copy itself is then wiped), and
/// one register is loaded directly, so the case does not depend on one libc's routines.
NOINLINE const char* touch_secrets() {
    if (!g_privacy) return nullptr;
    const char* env = getenv("MY_API_TOKEN");
    const size_t n = (env != nullptr ? strlen(env) : 0) + (g_secret_arg != nullptr ? strlen(g_secret_arg) : 0);
    g_secret_lengths.store(n);
    if (env != nullptr && strlen(env) < sizeof(g_token_copy) && strlen(env) >= 26) {
        memcpy(g_token_copy, env, strlen(env));
        for (size_t i = 0; i < sizeof(g_token_copy); ++i) static_cast<volatile char*>(g_token_copy)[i] = 0;
        CRASH_ARCH_LOAD_VECTOR(env + 10);
    }
    return env;
}
/// Eight bytes of the secret argument, to be held in a general register across the crash.
static uint64_t secret_word() {
    uint64_t w = 0;
    if (g_secret_arg != nullptr && strlen(g_secret_arg) >= 26) memcpy(&w, g_secret_arg + 18, 8);
    return w;
}

// ---- parked threads ------------------------------------------------------------------------

NOINLINE static void park_deep(int depth) {
    volatile char used[4096];  // ~16 KiB of used stack over 4 levels
    for (size_t i = 0; i < sizeof(used); i += 512) used[i] = static_cast<char>(depth);
    if (depth > 0) {
        park_deep(depth - 1);
        return;
    }
    g_parked.fetch_add(1);
    while (!g_release.load()) usleep(1000);
}
static std::atomic<int> g_park_counter{0};
static void* park_entry(void*) {
    const std::string name = "parked-" + std::to_string(g_park_counter.fetch_add(1));
    pthread_setname_np(pthread_self(), name.c_str());
    park_deep(3);
    return nullptr;
}
static void start_parked(int n, size_t stack_size = 0) {
    for (int i = 0; i < n; ++i) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        if (stack_size) pthread_attr_setstacksize(&a, stack_size);
        if (pthread_create(&t, &a, park_entry, nullptr) != 0) abort();
        pthread_attr_destroy(&a);
    }
}
static void wait_parked(int n) {
    while (g_parked.load() < n) usleep(1000);
}

// ---- the crashes -----------------------------------------------------------------------------

NOINLINE void null_write_leaf() {
    crash_begins();
    const char* secret = touch_secrets();
    const char* arg = g_secret_arg;
    const uint64_t word = secret_word();
    *g_null = 42;
    __asm__ volatile("" : : "r"(secret), "r"(arg), "r"(word));  // all three stay live across the fault
}
NOINLINE void null_write_middle() {
    null_write_leaf();
    __asm__ volatile("");
}
NOINLINE void run_null_main() {
    expect("signal", "11");
    expect("reason", "SIGSEGV /SEGV_MAPERR");
    expect("address", "0x0");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "null_write_leaf,null_write_middle,run_null_main,main");
    commit_expectations();
    null_write_middle();
    __asm__ volatile("");
}

// ---- a crash the instant start() returns (right_after_start) ------------------------------
// Everything the test checks is written before start() (expect.txt, the options' annotation
// and tag), so nothing runs between start() returning and the fault: whatever start() leaves
// for later (to the helper, which is still being exec'd then) must not be missing from the dump.
static void expect_right_after_start(crashdrop::Options* o) {
    o->extra["early"] = "set-in-options";
    o->tags["when"] = "right-after-start";
    expect("signal", "11");
    expect("reason", "SIGSEGV /SEGV_MAPERR");
    expect("address", "0x0");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "crash_right_after_start,main");
    expect("annotation.early", "set-in-options");
    commit_expectations();
}
NOINLINE void crash_right_after_start() {
    crash_begins();
    *g_null = 42;
    __asm__ volatile("");
}

// ---- memory capture levels (heap_secret; CRASHDROP_TEST_MEMORY picks the level) ------------
// The marker crash_tests looks for, xor 0x5a: the program's own bytes never hold it in the
// clear, so only the heap copy made below can bring it into a dump.
static const unsigned char k_heap_marker_xored[] = {
    0x12, 0x29, 0x0b, 0x6d, 0x2c, 0x02, 0x68, 0x37, 0x11, 0x63, 0x77, 0x32, 0x3f, 0x3b, 0x2a, 0x77, 0x29, 0x3f, 0x39, 0x28, 0x3f, 0x2e, 0x77,
    0x2d, 0x69, 0x16, 0x2a, 0x62, 0x00};

/// Faults (a store to address 0) with `secret` in a callee-saved register (rbx / x19).
NOINLINE void heap_secret_leaf(char* secret) {
    crash_begins();
#if defined(__x86_64__)
    __asm__ volatile("movq %0, %%rbx\n\tmovl $0, (%1)" : : "r"(secret), "r"(0L) : "rbx", "memory");
#elif defined(__aarch64__)
    __asm__ volatile("mov x19, %0\n\tstr wzr, [%1]" : : "r"(secret), "r"(0L) : "x19", "memory");
#endif
}
NOINLINE void heap_secret_middle(char* secret) {
    heap_secret_leaf(secret);
    __asm__ volatile("");
}
NOINLINE void run_heap_secret() {
    // 64 bytes of heap: the marker at its start, decoded one byte at a time through a volatile
    // pointer (no vector register ever holds it).
    char* secret = static_cast<char*>(malloc(64));
    volatile char* out = secret;
    for (std::size_t i = 0; i < 64; ++i) {
        out[i] = i < sizeof(k_heap_marker_xored) ? static_cast<char>(k_heap_marker_xored[i] ^ 0x5a) : '.';
    }
    // A stack word pointing into the secret (not at its start: that value is the register's).
    char* volatile slots[2];
    slots[0] = secret + 16;
    slots[1] = nullptr;
    expect("signal", "11");
    expect("reason", "SIGSEGV /SEGV_MAPERR");
    expect("address", "0x0");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "heap_secret_leaf,heap_secret_middle,run_heap_secret,main");
    expect("heap_secret", hex(reinterpret_cast<std::uintptr_t>(secret)));
    expect("heap_pointer", hex(reinterpret_cast<std::uintptr_t>(secret + 16)));
    commit_expectations();
    heap_secret_middle(secret);
    __asm__ volatile("" : : "r"(&slots[0]) : "memory");
}

NOINLINE void worker_null_leaf() {
    crash_begins();
    const char* secret = touch_secrets();
    const char* arg = g_secret_arg;
    const uint64_t word = secret_word();
    *g_null = 7;
    __asm__ volatile("" : : "r"(secret), "r"(arg), "r"(word));
}
NOINLINE void worker_null_middle() {
    worker_null_leaf();
    __asm__ volatile("");
}
static void* worker_entry(void*) {
    pthread_setname_np(pthread_self(), "crasher");
    wait_parked(6);
    expect("thread_name", "parked-0");
    expect("crash_thread_name", "crasher");
    expect("signal", "11");
    expect("reason", "SIGSEGV /SEGV_MAPERR");
    expect("address", "0x0");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "worker_null_leaf,worker_null_middle,worker_entry");
    commit_expectations();
    worker_null_middle();
    return nullptr;
}
NOINLINE void run_null_worker() {  // 8 threads: main, 6 parked, 1 crashing
    start_parked(6);
    pthread_t t;
    pthread_create(&t, nullptr, worker_entry, nullptr);
    pthread_join(t, nullptr);
}

NOINLINE int recurse(int depth) {
    volatile char frame[2048];
    frame[0] = static_cast<char>(depth);
    if (depth == 1) crash_begins();
    if (g_null == reinterpret_cast<int*>(1)) return 0;  // never: keeps -Winfinite-recursion quiet
    return recurse(depth + 1) + frame[0];
}
NOINLINE void run_overflow_main() {
    // A small stack limit keeps the whole stack inside the crashed thread's capture limit, so
    // the frames can be followed all the way down to main.
    struct rlimit rl;
    getrlimit(RLIMIT_STACK, &rl);
    rl.rlim_cur = 512 * 1024;
    setrlimit(RLIMIT_STACK, &rl);
    expect("signal", "11");
    expect("reason_prefix", "SIGSEGV");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "recurse+,run_overflow_main,main");
    expect("stack_overflow", "1");
    commit_expectations();
    recurse(0);
}
static void* overflow_entry(void*) {
    expect("signal", "11");
    expect("reason_prefix", "SIGSEGV");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "recurse+,overflow_entry");
    expect("stack_overflow", "1");
    commit_expectations();
    recurse(0);
    return nullptr;
}
NOINLINE void run_overflow_worker() {
    start_parked(2);
    wait_parked(2);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 256 * 1024);
    pthread_t t;
    pthread_create(&t, &a, overflow_entry, nullptr);
    pthread_join(t, nullptr);
}

NOINLINE void abort_leaf() {
    crash_begins();
    abort();
}
NOINLINE void run_abort() {
    start_parked(2);
    wait_parked(2);
    expect("signal", "6");
    expect("reason", "SIGABRT");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames_anywhere", "abort_leaf,run_abort,main");
    commit_expectations();
    abort_leaf();
}

NOINLINE void throw_leaf() {
    const char* secret = touch_secrets();
    throw_runtime_error("crashdrop test: the widget exploded");
    __asm__ volatile("" : : "r"(secret));
}
NOINLINE void run_uncaught() {
    expect("signal", "6");
    expect("reason", "SIGABRT");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames_anywhere", "throw_leaf,run_uncaught,main");
    expect("annotation.exception_type", "std::runtime_error");
    expect("annotation.exception_what", "crashdrop test: the widget exploded");
    commit_expectations();
    throw_leaf();
}

NOINLINE int fpe_leaf(int a, int b) {
    int q;
    crash_begins();
    CRASH_ARCH_RAISE_FPE(q, a, b);
    return q;
}
NOINLINE void run_fpe() {
    expect("signal", "8");
    expect("reason_prefix", crash_arch::k_expect.fpe_reason);
    if (crash_arch::k_expect.fpe_has_address) {
        expect("address", hex(reinterpret_cast<std::uintptr_t>(crashdrop_test_fpe_insn)));
    }
    if (*crash_arch::k_expect.fpe_note) expect("note", crash_arch::k_expect.fpe_note);
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "fpe_leaf,run_fpe,main");
    commit_expectations();
    volatile int zero = 0;
    fpe_leaf(10, zero);
}

NOINLINE void ill_leaf() {
    crash_begins();
    CRASH_ARCH_RAISE_ILL();
}
NOINLINE void run_ill() {
    expect("signal", "4");
    expect("reason_prefix", crash_arch::k_expect.ill_reason);
    expect("address", hex(reinterpret_cast<std::uintptr_t>(crashdrop_test_ill_insn)));
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "ill_leaf,run_ill,main");
    commit_expectations();
    ill_leaf();
}

NOINLINE int bus_leaf(volatile int* p) {
    crash_begins();
    return *p;
}
NOINLINE void run_bus() {
    // Reading a page of a file mapping beyond the end of the (empty) file raises SIGBUS.
    std::string path = g_db + "/empty-file";
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    void* p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
    expect("signal", "7");
    expect("reason", "SIGBUS / BUS_ADRERR");
    expect("address", hex(reinterpret_cast<std::uintptr_t>(p)));
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "bus_leaf,run_bus,main");
    commit_expectations();
    bus_leaf(static_cast<volatile int*>(p));
}

NOINLINE void trap_leaf() {
    crash_begins();
    CRASH_ARCH_RAISE_TRAP();
}
NOINLINE void run_trap() {
    expect("signal", "5");
    expect("reason_prefix", "SIGTRAP");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "trap_leaf,run_trap,main");
    commit_expectations();
    trap_leaf();
}

// Four threads crash at the same moment.
static std::atomic<int> g_ready{0};
static std::atomic<int> g_go{0};
NOINLINE void simultaneous_leaf() {
    *g_null = 4;
}
static void* simultaneous_entry(void* arg) {
    (void)arg;
    g_ready.fetch_add(1);
    while (!g_go.load()) {
    }
    simultaneous_leaf();
    return nullptr;
}
NOINLINE void run_simultaneous() {
    std::string tids;
    pthread_t t[4];
    for (int i = 0; i < 4; ++i) pthread_create(&t[i], nullptr, simultaneous_entry, nullptr);
    while (g_ready.load() < 4) usleep(100);
    // The crashing thread is whichever one wins; any of the four is right.
    expect("signal", "11");
    expect("reason", "SIGSEGV /SEGV_MAPERR");
    expect("address", "0x0");
    expect("crash_tid", "any-worker");
    expect("frames", "simultaneous_leaf,simultaneous_entry");
    commit_expectations();
    crash_begins();
    g_go.store(1);
    for (int i = 0; i < 4; ++i) pthread_join(t[i], nullptr);
}

/// Mode dlopen: loads `plugin` and crashes inside it. Any further libraries (`also`, argc of
/// them) are loaded first and stay loaded, so the dump lists them as modules too.
NOINLINE void run_dlopen(const char* plugin, char** also = nullptr, int also_count = 0) {
    for (int i = 0; i < also_count; ++i) {
        if (dlopen(also[i], RTLD_NOW | RTLD_LOCAL) == nullptr) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            exit(3);
        }
    }
    void* h = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        exit(3);
    }
    auto fn = reinterpret_cast<void (*)(void (*)())>(dlsym(h, "crashdrop_test_plugin_crash"));
    expect("signal", "11");
    expect("reason", "SIGSEGV /SEGV_MAPERR");
    expect("address", "0x10");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "plugin_leaf,crashdrop_test_plugin_crash,run_dlopen,main");
    const std::string base = strrchr(plugin, '/') ? strrchr(plugin, '/') + 1 : plugin;
    expect("module", base);
    if (base.find("nobuildid") != std::string::npos) expect("writer_error", "no build id; identified by its .text hash");
    commit_expectations();
    fn(crash_begins);
    __asm__ volatile("");
}

static std::atomic<int> g_app_rt_signals{0};
static void app_rt_handler(int) { g_app_rt_signals.fetch_add(1); }

NOINLINE void run_requested() {
    // The application uses the capture signal itself: its handler must keep getting its signals.
    signal(SIGRTMIN + 3, app_rt_handler);
    start_parked(3);
    wait_parked(3);
    expect("reason", "DUMP_REQUESTED");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames_anywhere", "run_requested,main");
    commit_expectations();
    std::string path;
    const char* secret = touch_secrets();
    crashdrop::Status s = crashdrop::write_dump(&path);
    __asm__ volatile("" : : "r"(secret));
    if (!s.ok()) {
        fprintf(stderr, "write_dump: %s\n", s.message().c_str());
        exit(4);
    }
    printf("dump=%s\n", path.c_str());
    g_release.store(1);
    // The process goes on: prove the threads were let go and nothing is left blocked.
    crashdrop::Status again = crashdrop::write_dump(&path);
    printf("second=%s\n", again.ok() ? "ok" : again.message().c_str());
    raise(SIGRTMIN + 3);
    printf("app_signals=%d\n", g_app_rt_signals.load());
    fflush(stdout);
    _exit(0);
}

// A thread that blocks every signal cannot answer; it must still be listed, with a reason.
static void* blocking_entry(void*) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    g_parked.fetch_add(1);
    for (;;) pause();
}
NOINLINE void run_blocked_thread() {
    start_parked(2);
    pthread_t t;
    pthread_create(&t, nullptr, blocking_entry, nullptr);
    wait_parked(3);
    expect("signal", "11");
    expect("reason", "SIGSEGV /SEGV_MAPERR");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "null_write_leaf,null_write_middle,run_blocked_thread,main");
    expect("writer_error", "(it blocks that signal)");
    commit_expectations();
    null_write_middle();
    __asm__ volatile("");
}

NOINLINE void run_many_threads() {
    start_parked(256);
    wait_parked(256);
    expect("signal", "11");
    expect("reason", "SIGSEGV /SEGV_MAPERR");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "null_write_leaf,null_write_middle,run_many_threads,main");
    expect("writer_error", "thread stacks trimmed to");
    commit_expectations();
    null_write_middle();
    __asm__ volatile("");
}

// A handler installed before crashdrop: it must still run after the dump, and the process
// must still die of the original signal.
static void previous_handler(int sig) {
    static const char msg[] = "PREVIOUS HANDLER RAN\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    signal(sig, SIG_DFL);
    raise(sig);
}
NOINLINE void run_chained() {
    expect("signal", "11");
    expect("reason", "SIGSEGV /SEGV_MAPERR");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "null_write_leaf,null_write_middle,run_chained,main");
    commit_expectations();
    null_write_middle();
    __asm__ volatile("");
}

// Code that saves and restores the handler with signal() drops SA_SIGINFO.
NOINLINE void run_signal_reset() {
    void (*old)(int) = signal(SIGSEGV, SIG_IGN);
    signal(SIGSEGV, old);
    old = signal(SIGABRT, SIG_IGN);
    signal(SIGABRT, old);
    expect("signal", "11");
    expect("reason", "SIGSEGV /SEGV_MAPERR");
    expect("address", "0x0");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "null_write_leaf,null_write_middle,run_signal_reset,main");
    commit_expectations();
    null_write_middle();
    __asm__ volatile("");
}

// The region start() reserved (its memfd mapping), found in /proc/self/maps; exits 5 if absent.
static void find_reserved_region(void** region, size_t* size) {
    FILE* maps = fopen("/proc/self/maps", "r");
    char line[512];
    *region = nullptr;
    *size = 0;
    while (fgets(line, sizeof(line), maps)) {
        if (strstr(line, "/memfd:crashdrop")) {
            unsigned long lo, hi;
            sscanf(line, "%lx-%lx", &lo, &hi);
            *region = reinterpret_cast<void*>(lo);
            *size = hi - lo;
            break;
        }
    }
    fclose(maps);
    if (*region == nullptr || *size != crashdrop::reserved_bytes()) {
        fprintf(stderr, "reserved region not found\n");
        exit(5);
    }
}

// The dump writer itself faults (its buffer is made read-only): the process must neither hang
// nor die of the writer's SIGSEGV, but of the SIGABRT it was handling.
NOINLINE void run_fault_in_writer() {
    void* region = nullptr;
    size_t size = 0;
    find_reserved_region(&region, &size);
    expect("signal", "6");
    commit_expectations();
    mprotect(region, size, PROT_READ);
    abort();
}

// A thread that existed before start() has no alternate stack unless it calls
// crashdrop::prepare_thread(); without one, its stack overflow cannot be caught at all.
static std::atomic<int> g_started{0};
static bool g_prepare = false;
static void* early_entry(void*) {
    while (!g_started.load()) usleep(100);
    if (g_prepare && !crashdrop::prepare_thread().ok()) _exit(6);
    expect("signal", "11");
    expect("reason_prefix", "SIGSEGV");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "recurse+,early_entry");
    expect("stack_overflow", "1");
    commit_expectations();
    recurse(0);
    return nullptr;
}
static pthread_t g_early;
static void start_early_thread(bool prepare) {
    g_prepare = prepare;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 256 * 1024);
    pthread_create(&g_early, &a, early_entry, nullptr);
}
NOINLINE void run_early_thread() {
    g_started.store(1);
    pthread_join(g_early, nullptr);
}

// ---- hand-off, shutdown and fork (issue 12, points 3 and 10) ------------------------------

// A second fault of the same signal inside the dump writer (its buffer made read-only): the
// process must still die of SIGSEGV, and the handler installed before crashdrop must run.
NOINLINE void run_fault_in_writer_same() {
    void* region = nullptr;
    size_t size = 0;
    find_reserved_region(&region, &size);
    expect("signal", "11");
    commit_expectations();
    mprotect(region, size, PROT_READ);
    null_write_middle();
    __asm__ volatile("");
}

/// The inode of this process's shared region (its memfd), from /proc/self/maps.
static unsigned long region_inode() {
    FILE* maps = fopen("/proc/self/maps", "r");
    char line[512];
    unsigned long inode = 0;
    while (maps != nullptr && fgets(line, sizeof(line), maps)) {
        if (strstr(line, "/memfd:crashdrop")) {
            char perms[8], offset[32], dev[32];
            unsigned long lo, hi;
            sscanf(line, "%lx-%lx %7s %31s %31s %lu", &lo, &hi, perms, offset, dev, &inode);
            break;
        }
    }
    if (maps != nullptr) fclose(maps);
    return inode;
}

/// The pid of this process's helper: the process whose fd 3 is our region (waits for it).
static pid_t find_helper() {
    const unsigned long inode = region_inode();
    for (int attempt = 0; attempt < 500 && inode != 0; ++attempt) {
        DIR* proc = opendir("/proc");
        while (dirent* e = proc != nullptr ? readdir(proc) : nullptr) {
            const pid_t pid = static_cast<pid_t>(atoi(e->d_name));
            if (pid <= 0 || pid == getpid()) continue;
            struct stat st;
            const std::string fd3 = "/proc/" + std::string(e->d_name) + "/fd/3";
            char comm[64] = {};
            FILE* c = fopen(("/proc/" + std::string(e->d_name) + "/comm").c_str(), "r");
            if (c != nullptr) {
                if (fgets(comm, sizeof(comm), c) == nullptr) comm[0] = '\0';
                fclose(c);
            }
            if (strncmp(comm, "crashdrop-hlp", 13) == 0 && stat(fd3.c_str(), &st) == 0 && st.st_ino == inode) {
                closedir(proc);
                return pid;
            }
        }
        if (proc != nullptr) closedir(proc);
        usleep(10000);
    }
    return -1;
}

static bool contains_bytes(const std::string& path, const std::string& needle) {
    FILE* f = fopen(path.c_str(), "rb");
    if (f == nullptr) return false;
    std::string data;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) data.append(buf, n);
    fclose(f);
    return data.find(needle) != std::string::npos;
}

// Two write_dump() calls; the helper (built with CRASHDROP_TEST_HOOKS, run with
// CRASHDROP_TEST_HELPER_STALL_MS) stalls with the first hand-off taken and answers it only after
// the application gave up waiting. Prints each dump's path, what each holds, and whether the
// second call succeeded.
NOINLINE void run_late_answer() {
    (void)crashdrop::add_extra_parameter("phase", "PHASE-ONE-MARK");
    std::string first, second;
    const crashdrop::Status a = crashdrop::write_dump(&first);
    printf("first_status=%s\n", a.ok() ? "ok" : a.message().c_str());
    (void)crashdrop::add_extra_parameter("phase", "PHASE-TWO-MARK");
    const crashdrop::Status b = crashdrop::write_dump(&second);
    printf("second_status=%s\n", b.ok() ? "ok" : b.message().c_str());
    printf("first=%s\nsecond=%s\n", first.c_str(), second.c_str());
    // Give the helper time to finish and take the reports (it runs on after us anyway).
    usleep(300000);
    for (const std::string* p : {&first, &second}) {
        printf("%s: exists=%d one=%d two=%d\n", p == &first ? "first" : "second", access(p->c_str(), F_OK) == 0,
               contains_bytes(*p, "PHASE-ONE-MARK"), contains_bytes(*p, "PHASE-TWO-MARK"));
    }
    fflush(stdout);
    _exit(0);
}

// stop() while 8 threads set context, in a loop of start()/stop(); exit 0 means no crash.
NOINLINE void run_stop_race(const crashdrop::Options& o) {
    std::atomic<int> done{0};
    std::vector<pthread_t> threads(8);
    struct arg_t {
        std::atomic<int>* done;
        int index;
    };
    std::vector<arg_t> args(8);
    for (int i = 0; i < 8; ++i) {
        args[i] = {&done, i};
        pthread_create(&threads[i], nullptr, [](void* p) -> void* {
            arg_t* a = static_cast<arg_t*>(p);
            const std::string key = "key" + std::to_string(a->index);
            const std::string long_value(600, static_cast<char>('a' + a->index));
            crashdrop::User u;
            u.id = "user";
            for (unsigned n = 0; !a->done->load(std::memory_order_relaxed); ++n) {
                switch (n % 8) {
                    case 0: (void)crashdrop::add_extra_parameter(key, "v"); break;
                    case 1: crashdrop::add_breadcrumb("crumb", "race"); break;
                    case 2: (void)crashdrop::set_tag(key, "t"); break;
                    case 3: (void)crashdrop::add_extra_parameter(key + "_long", long_value); break;
                    case 4: (void)crashdrop::remove_extra_parameter(key); break;
                    case 5: (void)crashdrop::set_user(u); break;
                    case 6: (void)crashdrop::parameters(); break;
                    case 7: (void)crashdrop::breadcrumbs(); break;
                }
            }
            return nullptr;
        }, &args[i]);
    }
    crashdrop::Options quiet = o;
    quiet.helper_mode = crashdrop::HelperMode::none;  // one helper (main's start()) is enough
    int started = 0;
    const int rounds = getenv("STOP_RACE_ROUNDS") != nullptr ? atoi(getenv("STOP_RACE_ROUNDS")) : 60;
    for (int round = 0; round < rounds; ++round) {
        if (!crashdrop::is_started()) {
            const crashdrop::Status s = crashdrop::start(quiet);
            if (s.ok()) ++started;
        }
        usleep(static_cast<useconds_t>(round % 7) * 300);
        crashdrop::stop();
    }
    done.store(1);
    for (pthread_t t : threads) pthread_join(t, nullptr);
    printf("stop_race=done started=%d\n", started);
    fflush(stdout);
    _exit(0);
}

// exit() while 8 threads set context: with the unload hook (crash_target_hooks is built with
// CRASHDROP_UNLOAD_HOOK=1) exit runs stop() from an ELF destructor, as a plugin's dlclose does.
static void* exit_race_entry(void* p) {
    const std::string key = "key" + std::to_string(reinterpret_cast<std::uintptr_t>(p));
    const std::string long_value(600, 'x');
    g_parked.fetch_add(1);
    for (unsigned n = 0;; ++n) {
        switch (n % 4) {
            case 0: (void)crashdrop::add_extra_parameter(key, "v"); break;
            case 1: crashdrop::add_breadcrumb("crumb", "race"); break;
            case 2: (void)crashdrop::set_tag(key, "t"); break;
            case 3: (void)crashdrop::add_extra_parameter(key + "_long", long_value); break;
        }
    }
    return nullptr;
}
NOINLINE void run_exit_race() {
    for (std::uintptr_t i = 0; i < 8; ++i) {
        pthread_t t;
        pthread_create(&t, nullptr, exit_race_entry, reinterpret_cast<void*>(i));
    }
    while (g_parked.load() < 8) usleep(100);
    usleep(20000);
    printf("exit_race=exiting\n");
    fflush(stdout);
    exit(0);
}

// fork() in another thread while a dump is being written (the helper is stopped, so the
// write_dump() waits for it): the child must have a working handler of its own - its crash is
// dumped and it dies of SIGSEGV, without waiting for the parent's dump.
static std::atomic<int> g_dump_begun{0};
static std::atomic<pid_t> g_fork_child{0};
static void* forking_entry(void*) {
    sigset_t all;  // not suspended by the dump: this thread must run while it is written
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    while (!g_dump_begun.load()) usleep(1000);
    usleep(400000);  // well inside the dump (the helper does not answer for seconds)
    const pid_t child = fork();
    if (child == 0) {
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, nullptr);
        static const char msg[] = "CHILD CRASHES\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        *g_null = 1;
        _exit(3);
    }
    g_fork_child.store(child);
    return nullptr;
}
NOINLINE void run_fork_during_dump() {
    const pid_t helper = find_helper();
    if (helper <= 0) {
        fprintf(stderr, "helper not found\n");
        exit(5);
    }
    pthread_t t;
    pthread_create(&t, nullptr, forking_entry, nullptr);
    kill(helper, SIGSTOP);  // the hand-off now waits for its answer (then times out)
    g_dump_begun.store(1);
    std::string path;
    const crashdrop::Status s = crashdrop::write_dump(&path);
    kill(helper, SIGCONT);
    pthread_join(t, nullptr);
    printf("parent_dump=%s\n", s.ok() ? path.c_str() : s.message().c_str());
    const pid_t child = g_fork_child.load();
    int status = 0;
    bool ended = false;
    for (int i = 0; i < 200 && !ended; ++i) {  // 20 s
        ended = waitpid(child, &status, WNOHANG) == child;
        if (!ended) usleep(100000);
    }
    if (!ended) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        printf("child=hung\n");
    } else if (WIFSIGNALED(status)) {
        printf("child=signal:%d\n", WTERMSIG(status));
    } else {
        printf("child=exit:%d\n", WEXITSTATUS(status));
    }
    printf("child_pid=%d\n", static_cast<int>(child));
    fflush(stdout);
    _exit(0);
}


// ---- hang reports (Options::hang_timeout_ms, from CRASHDROP_TEST_HANG_MS) -----------------
// The main thread beats (it is the watched thread), then stops beating inside a named function
// while the helper notices and the watchdog thread dumps the live process, then beats again.
// Each mode prints watched_tid= and, at the end, exits 0 (the process goes on after a report).
static long long mono_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}
static int pending_dump_count() {
    int n = 0;
    if (DIR* d = opendir((g_db + "/pending").c_str())) {
        while (dirent* e = readdir(d)) {
            const size_t len = strlen(e->d_name);
            if (len > 4 && strcmp(e->d_name + len - 4, ".dmp") == 0 && e->d_name[0] != '.') ++n;
        }
        closedir(d);
    }
    return n;
}
static void beat_for(long ms) {
    const long long end = mono_ms() + ms;
    while (mono_ms() < end) {
        crashdrop::heartbeat();
        usleep(10000);
    }
}
/// Beats until `dumps` reports are in pending/ (at most 20 s), so the run's end is not racing
/// a dump still on its way.
static void beat_until_dumps(int dumps) {
    const long long end = mono_ms() + 20000;
    while (pending_dump_count() < dumps && mono_ms() < end) beat_for(20);
}
/// Stuck, sleeping in short naps: the function a hang report must name.
NOINLINE void hang_sleep_leaf(long ms) {
    const long long end = mono_ms() + ms;
    while (mono_ms() < end) usleep(5000);
    __asm__ volatile("");
}
/// Stuck, spinning.
NOINLINE void hang_spin_leaf(long ms) {
    const long long end = mono_ms() + ms;
    volatile unsigned long spins = 0;
    while (mono_ms() < end) {
        for (int i = 0; i < 10000; ++i) spins = spins + 1;
    }
    __asm__ volatile("");
}
/// Stuck in the kernel with every signal blocked: nanosleeps the capture signal cannot interrupt
/// (the thread cannot answer it), for `ms`, then on in 200 ms naps until a report is in pending/
/// (at most 20 s), so a helper slowed down by a loaded machine still finds it stuck.
NOINLINE void hang_blocked_leaf(long ms) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    while (syscall(SYS_nanosleep, &ts, &ts) != 0) {
    }
    for (int nap = 0; nap < 100 && pending_dump_count() < 1; ++nap) {
        ts = timespec{0, 200 * 1000000L};
        while (syscall(SYS_nanosleep, &ts, &ts) != 0) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    __asm__ volatile("");
}
/// Stays hung in LEAF for at least MS, then on in 50 ms calls of it until DUMPS reports are in
/// pending/ (at most 20 s): a helper slowed down by a loaded machine may find the hang late, and
/// the thread must still be stuck when the dump takes its registers. A macro, so the loop runs
/// in run_hang's own frame and the report's stack reads LEAF <- run_hang <- main.
#define HANG_UNTIL_DUMPS(LEAF, MS, DUMPS)                                      \
    do {                                                                       \
        LEAF(MS);                                                              \
        const long long hang_until_ = mono_ms() + 20000;                       \
        while (pending_dump_count() < (DUMPS) && mono_ms() < hang_until_) {    \
            LEAF(50);                                                          \
        }                                                                      \
    } while (0)
NOINLINE int run_hang(const std::string& mode, long t) {
    printf("watched_tid=%d\n", gettid_());
    fflush(stdout);
    start_parked(2);  // other threads: every thread is in a hang dump
    wait_parked(2);
    if (mode == "hang_no_beat") {  // nothing before the first beat
        hang_sleep_leaf(2 * t);
        return 0;
    }
    if (mode == "hang_thread_exits") {  // the watched thread beats, then ends: silence, not a hang
        pthread_t worker;
        pthread_create(&worker, nullptr, [](void*) -> void* {
            beat_for(200);
            return nullptr;
        }, nullptr);
        pthread_join(worker, nullptr);
        hang_sleep_leaf(2 * t);
        return 0;
    }
    beat_for(200);
    if (mode == "hang") {
        HANG_UNTIL_DUMPS(hang_sleep_leaf, 2 * t, 1);
        beat_until_dumps(1);
    } else if (mode == "hang_twice") {
        HANG_UNTIL_DUMPS(hang_sleep_leaf, 2 * t, 1);
        beat_until_dumps(1);
        beat_for(200);
        HANG_UNTIL_DUMPS(hang_spin_leaf, 2 * t, 2);
        beat_until_dumps(2);
        std::string path;  // a later report: the hang annotations must not be in it
        printf("write_dump=%s\n", crashdrop::write_dump(&path).ok() ? path.c_str() : "failed");
    } else if (mode == "hang_long") {  // one episode of many timeouts: one report
        HANG_UNTIL_DUMPS(hang_sleep_leaf, 8 * t, 1);
        beat_until_dumps(1);
    } else if (mode == "hang_blocked") {
        hang_blocked_leaf(2 * t + static_cast<long>(500));  // + the writer's wait for its answer
        beat_until_dumps(1);
    } else if (mode == "hang_stopped") {  // stopped (SIGSTOP) for 2 x timeout: not a hang
        const pid_t self = getpid();
        const pid_t stopper = fork();
        if (stopper == 0) {
            usleep(100000);
            kill(self, SIGSTOP);
            usleep(static_cast<useconds_t>(2 * t) * 1000);
            kill(self, SIGCONT);
            _exit(0);
        }
        beat_for(2 * t + 600);  // stopped in the middle of it
        waitpid(stopper, nullptr, 0);
    } else if (mode == "hang_after_stop") {  // nothing after stop()
        crashdrop::stop();
        hang_sleep_leaf(2 * t);
    } else if (mode == "hang_killed") {  // ends during the episode: the run is recorded as hung
        const long long end = mono_ms() + 20000;
        while (pending_dump_count() < 1 && mono_ms() < end) hang_sleep_leaf(50);
        hang_sleep_leaf(300);
        raise(SIGKILL);
    } else if (mode == "hang_busy") {
        // The hang is found while write_dump() is being written: the watched thread writes it
        // itself (slow: a thread that blocks every signal makes it wait
        // thread_suspend_timeout_ms, 1500 ms here), so it stops beating exactly as the write
        // begins and the hang, found timeout ms later, falls inside the write however loaded
        // the machine. The watchdog answers busy; the helper asks again in the same episode,
        // which goes on after the write (no beat) until the hang report is in.
        pthread_t blocker;
        pthread_create(&blocker, nullptr, blocking_entry, nullptr);
        wait_parked(3);
        crashdrop::heartbeat();
        std::string path;
        const crashdrop::Status s = crashdrop::write_dump(&path);
        printf("write_dump=%s\n", s.ok() ? "ok" : s.message().c_str());
        fflush(stdout);
        const long long end = mono_ms() + 20000;  // hung (no beat) until both reports are in
        while (pending_dump_count() < 2 && mono_ms() < end) hang_sleep_leaf(50);
    } else if (mode == "hang_latency") {
        // Beat stops -> report in pending/, measured by the watched thread itself (polling
        // pending/ is not beating), several episodes in one run.
        const int rounds = getenv("CRASHDROP_TEST_HANG_ROUNDS") ? atoi(getenv("CRASHDROP_TEST_HANG_ROUNDS")) : 5;
        std::string out;
        for (int i = 0; i < rounds; ++i) {
            beat_for(300);
            const int before = pending_dump_count();
            crashdrop::heartbeat();
            const long long stopped = mono_ms();
            while (pending_dump_count() == before && mono_ms() - stopped < 20000) usleep(2000);
            out += (out.empty() ? "" : ",") + std::to_string(mono_ms() - stopped);
        }
        beat_for(100);
        printf("latency_ms=%s\n", out.c_str());
    }
    beat_for(100);
    printf("dumps=%d\n", pending_dump_count());
    fflush(stdout);
    return 0;
}

static const char* k_modes =
    "null_main null_worker overflow_main overflow_worker abort uncaught fpe ill bus trap simultaneous "
    "dlopen requested blocked_thread many_threads chained signal_reset fault_in_writer "
    "malloc_lock_control overflow_prepared overflow_unprepared fault_in_writer_same late_answer stop_race "
    "fork_during_dump exit_race last_run killed quick_exit hang hang_twice hang_long hang_blocked hang_no_beat "
    "hang_after_stop hang_killed hang_latency hang_busy hang_thread_exits hang_stopped heap_secret right_after_start";

// Holds glibc's main-arena lock forever: malloc_stats() prints while holding it, and this
// stream's writes never return.
static std::atomic<int> g_lock_held{0};
static std::atomic<int> g_take_lock{0};
static ssize_t blocking_write(void*, const char*, size_t n) {
    g_lock_held.store(1);
    for (;;) pause();
    return static_cast<ssize_t>(n);
}
static void* lock_holder(void*) {
    cookie_io_functions_t io = {nullptr, blocking_write, nullptr, nullptr};
    FILE* f = fopencookie(nullptr, "w", io);
    setvbuf(f, nullptr, _IONBF, 0);
    while (!g_take_lock.load()) usleep(100);
    stderr = f;
    malloc_stats();
    return nullptr;
}
/// Starts the thread that will hold the lock (so it is counted), then makes it take the lock.
/// Expectations are written in between: nothing may allocate once the lock is held.
static void hold_malloc_lock(void (*before_taking)()) {
    pthread_t t;
    pthread_create(&t, nullptr, lock_holder, nullptr);
    before_taking();
    g_take_lock.store(1);
    while (!g_lock_held.load()) {
    }
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: crash_target <mode> <database> [plugin]\nmodes: %s\n", k_modes);
        return 2;
    }
    const std::string mode = argv[1];
    g_db = argv[2];
    if (mode == "chained" || mode == "fault_in_writer_same") signal(SIGSEGV, previous_handler);

    if (mode == "overflow_prepared" || mode == "overflow_unprepared") start_early_thread(mode == "overflow_prepared");
    const bool without = getenv("CRASHDROP_TEST_DISABLE") != nullptr;  // control runs
    crashdrop::Options o;
    o.database_path = g_db;
    o.product_name = "crash_target";
    o.product_version = "1.2.3";
    // A run whose death by a signal is expected and not what its test looks at (issue 14's
    // abnormal-exit report would come a moment after the death).
    if (getenv("CRASHDROP_TEST_NO_ABNORMAL_EXITS") != nullptr) o.report_abnormal_exits = false;
    if (getenv("CRASHDROP_TEST_PRIVACY") != nullptr) {
        // crash_target <mode> <database> <secret argument>: the privacy runs (modes without a plugin)
        g_privacy = true;
        g_secret_arg = argc > 3 ? argv[3] : nullptr;
        o.include_environment = getenv("CRASHDROP_TEST_INCLUDE_ENVIRONMENT") != nullptr;
        o.include_command_line = getenv("CRASHDROP_TEST_INCLUDE_COMMAND_LINE") != nullptr;
    }
    if (const char* hang_ms = getenv("CRASHDROP_TEST_HANG_MS")) o.hang_timeout_ms = atoi(hang_ms);
    if (const char* level = getenv("CRASHDROP_TEST_MEMORY")) {  // full, stacks_only, scrubbed_stacks
        const std::string l = level;
        o.memory_capture = l == "stacks_only"       ? crashdrop::MemoryCapture::stacks_only
                           : l == "scrubbed_stacks" ? crashdrop::MemoryCapture::scrubbed_stacks
                                                    : crashdrop::MemoryCapture::full;
    }
    if (mode == "hang_busy") o.thread_suspend_timeout_ms = 1500;
    struct stat log_before;  // helper.log before this run's helper wrote to it (mode killed)
    const long long log_size_before = stat((g_db + "/helper.log").c_str(), &log_before) == 0 ? static_cast<long long>(log_before.st_size) : 0;
    if (mode == "right_after_start") expect_right_after_start(&o);
    if (!without) {
        crashdrop::Status s = crashdrop::start(o);
        if (!s.ok()) {
            fprintf(stderr, "crashdrop::start: %s\n", s.message().c_str());
            return 2;
        }
        if (mode == "right_after_start") crash_right_after_start();
    }
    if (mode == "null_main") run_null_main();
    else if (mode == "null_worker") run_null_worker();
    else if (mode == "heap_secret") run_heap_secret();
    else if (mode == "overflow_main") run_overflow_main();
    else if (mode == "overflow_worker") run_overflow_worker();
    else if (mode == "abort") run_abort();
    else if (mode == "uncaught") run_uncaught();
    else if (mode == "fpe") run_fpe();
    else if (mode == "ill") run_ill();
    else if (mode == "bus") run_bus();
    else if (mode == "trap") run_trap();
    else if (mode == "simultaneous") run_simultaneous();
    else if (mode == "dlopen" && argc > 3) run_dlopen(argv[3], argv + 4, argc - 4);
    else if (mode == "requested") run_requested();
    else if (mode == "blocked_thread") run_blocked_thread();
    else if (mode == "many_threads") run_many_threads();
    else if (mode == "chained") run_chained();
    else if (mode == "signal_reset") run_signal_reset();
    else if (mode == "fault_in_writer") run_fault_in_writer();
    else if (mode == "fault_in_writer_same") run_fault_in_writer_same();
    else if (mode == "late_answer") run_late_answer();
    else if (mode == "stop_race") run_stop_race(o);
    else if (mode == "fork_during_dump") run_fork_during_dump();
    else if (mode == "exit_race") run_exit_race();
    else if (mode == "overflow_prepared" || mode == "overflow_unprepared") run_early_thread();
    else if (mode.rfind("hang", 0) == 0) return run_hang(mode, o.hang_timeout_ms);
    else if (mode == "last_run" || mode == "killed" || mode == "quick_exit") {
        // What start() read from the run record, then a normal exit
        // (return from main, or std::quick_exit: recorded as clean_exit) or death by SIGKILL
        // (recorded abnormal_exit by the helper).
        static const char* const names[] = {"unknown", "clean_exit", "crashed", "hung", "abnormal_exit"};
        const int outcome = static_cast<int>(crashdrop::last_run());
        printf("last_run=%s consecutive_crashes=%u\n", outcome >= 0 && outcome < 5 ? names[outcome] : "?",
               crashdrop::consecutive_crashes());
        fflush(stdout);
        if (mode == "killed") {
            // Once the helper watches (it does as soon as it is up), so that its end is seen
            // as the abnormal exit it is (issue 14) and recorded.
            const std::string log = g_db + "/helper.log";
            for (int i = 0; i < 1000; ++i) {
                std::ifstream in(log);
                const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
                if (static_cast<long long>(text.size()) > log_size_before &&
                    text.find("watching for an abnormal exit", static_cast<std::size_t>(log_size_before)) != std::string::npos) {
                    break;
                }
                usleep(10000);
            }
            raise(SIGKILL);
        }
        if (mode == "quick_exit") std::quick_exit(0);
        return 0;
    }
    else if (mode == "malloc_lock") {
        expect("signal", "11");
        expect("reason", "SIGSEGV /SEGV_MAPERR");
        expect("crash_tid", std::to_string(gettid_()));
        expect("frames", "null_write_leaf,null_write_middle,main");
        hold_malloc_lock(commit_expectations);
        null_write_middle();
    } else if (mode == "malloc_lock_control") {
        // Proves the lock really is held: this malloc never returns (the test expects a hang).
        hold_malloc_lock([] {});
        void* volatile p = malloc(200000);
        (void)p;
        printf("malloc returned\n");
        return 0;
    } else {
        fprintf(stderr, "unknown mode %s\nmodes: %s\n", mode.c_str(), k_modes);
        return 2;
    }
    fprintf(stderr, "mode %s did not crash\n", mode.c_str());
    return 1;
}
