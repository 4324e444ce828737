// fault_host - a host of our own that recovers from its own faults, with crashdrop started
// after its handlers (so they are crashdrop's "previous" handlers). crash_tests.cpp runs it in
// a child process and reads what it left.
//
//   fault_host <mode> <database folder>
//
// The faults happen in code generated at run time (a few bytes of machine code in an anonymous
// executable mapping, as a JIT writes them) that loads from an inaccessible page, or, for the
// fault filter, in this program's own code. Modes:
//   jvm        the handler moves the program counter past the faulting load (a JVM's null
//              check); 4 threads x 250 faults
//   longjmp    the handler siglongjmps back out of the load; 500 faults on the main thread,
//              500 on a thread without an alternate signal stack
//   mprotect   the handler makes the page readable and returns, the load runs again; 1000 times
//              (the page is made inaccessible again before each)
//   unfixed    the handler returns without fixing anything: must end in one dump and SIGSEGV
//   reraise    the handler resets SIGSEGV to SIG_DFL and raises it again (Node's way with a
//              fault that is not WebAssembly's): one dump, SIGSEGV; it prints how many dumps
//              there were when it ran (0: it had the first chance)
//   filter     no handler; Options::fault_filter claims faults on the inaccessible page and
//              moves the program counter to a landing pad: 1000 faults in this program's code
//              (with FAULT_HOST_ONLY_THIS_MODULE set: with Options::only_this_module)
//   seccomp    a seccomp filter traps getppid() (SECCOMP_RET_TRAP); the SIGSYS handler
//              emulates it (returns 4242); 1000 calls
// Every mode but unfixed and reraise then checks that no report was written and crashdrop's
// handlers are still in place (check_handlers), and crashes for real in its own code (a null
// write): one dump, death by SIGSEGV. Before crashing it writes <database>/expect.txt as
// crash_target does.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#define NOINLINE __attribute__((noinline))

static std::string g_db;
static std::vector<std::string> g_expect;
int* volatile g_null = nullptr;

static int gettid_() { return static_cast<int>(syscall(SYS_gettid)); }
static std::string hex(std::uintptr_t v) {
    char b[32];
    snprintf(b, sizeof(b), "0x%zx", static_cast<size_t>(v));
    return b;
}
static int live_threads() {
    int n = 0;
    if (DIR* d = opendir("/proc/self/task")) {
        while (dirent* e = readdir(d)) n += e->d_name[0] >= '0' && e->d_name[0] <= '9';
        closedir(d);
    }
    return n;
}
static void expect(const std::string& key, const std::string& value) { g_expect.push_back(key + "=" + value); }
static void commit_expectations() {
    expect("pid", std::to_string(getpid()));
    expect("threads", std::to_string(live_threads()));
    std::string text;
    for (auto& l : g_expect) text += l + "\n";
    FILE* f = fopen((g_db + "/expect.txt").c_str(), "w");
    fputs(text.c_str(), f);
    fclose(f);
}
static int count_files(const std::string& dir) {
    int n = 0;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
        closedir(d);
    }
    return n;
}

// ---- the architecture: generated code, registers ------------------------------------------
// The generated function: long load(long* p) { return *p; } - one load, then return.
#if defined(__x86_64__)
static const unsigned char k_load_code[] = {0x48, 0x8b, 0x07, 0xc3};  // mov (%rdi),%rax; ret
constexpr std::size_t k_load_length = 3;                             // the mov
static std::uintptr_t& context_ip(ucontext_t* uc) { return reinterpret_cast<std::uintptr_t&>(uc->uc_mcontext.gregs[REG_RIP]); }
static void set_result(ucontext_t* uc, long v) { uc->uc_mcontext.gregs[REG_RAX] = v; }
// Its counterpart in this program's own code (file-backed), and a landing pad.
__asm__(".text\n.globl fh_probe\n.type fh_probe,@function\nfh_probe:\n\tmovq (%rdi), %rax\n\tret\n"
        ".globl fh_landing\n.type fh_landing,@function\nfh_landing:\n\tmovq $-1, %rax\n\tret\n");
#elif defined(__aarch64__)
static const unsigned char k_load_code[] = {0x00, 0x00, 0x40, 0xf9, 0xc0, 0x03, 0x5f, 0xd6};  // ldr x0,[x0]; ret
constexpr std::size_t k_load_length = 4;
static std::uintptr_t& context_ip(ucontext_t* uc) { return reinterpret_cast<std::uintptr_t&>(uc->uc_mcontext.pc); }
static void set_result(ucontext_t* uc, long v) { uc->uc_mcontext.regs[0] = static_cast<unsigned long>(v); }
__asm__(".text\n.globl fh_probe\n.type fh_probe,%function\nfh_probe:\n\tldr x0, [x0]\n\tret\n"
        ".globl fh_landing\n.type fh_landing,%function\nfh_landing:\n\tmov x0, #-1\n\tret\n");
#else
#error "fault_host: no generated code for this architecture"
#endif
extern "C" long fh_probe(long* p);
extern "C" long fh_landing(long* p);

using load_fn = long (*)(long*, long);  // the second argument only varies the registers
static char* g_code = nullptr;          // the generated code (anonymous, r-x)
static char* g_page = nullptr;          // the page it loads from (made inaccessible)
static std::size_t g_page_size = 4096;

static void generate_code() {
    g_page_size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    void* code = mmap(nullptr, g_page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void* page = mmap(nullptr, g_page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED || page == MAP_FAILED) abort();
    memcpy(code, k_load_code, sizeof(k_load_code));
    if (mprotect(code, g_page_size, PROT_READ | PROT_EXEC) != 0) abort();  // W^X, as a JIT does
    __builtin___clear_cache(static_cast<char*>(code), static_cast<char*>(code) + sizeof(k_load_code));
    g_code = static_cast<char*>(code);
    g_page = static_cast<char*>(page);
}
static bool in_generated_code(ucontext_t* uc) {
    const std::uintptr_t ip = context_ip(uc);
    return ip >= reinterpret_cast<std::uintptr_t>(g_code) && ip < reinterpret_cast<std::uintptr_t>(g_code) + g_page_size;
}
static long* target(long i) { return reinterpret_cast<long*>(g_page + (static_cast<std::size_t>(i) % 64) * 8); }

// ---- the hosts' handlers (installed before start()) ---------------------------------------

static char g_pending_path[4096];  // <database>/pending, set before any fault

/// Dumps in <database>/pending now, counted with system calls only (in a signal handler).
static int pending_dumps() {
    const int fd = open(g_pending_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    int n = 0;
    char buf[4096];
    for (;;) {
        const long got = syscall(SYS_getdents64, fd, buf, sizeof(buf));
        if (got <= 0) break;
        for (long off = 0; off < got;) {
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, 2);
            const char* name = buf + off + 19;
            const size_t len = strlen(name);
            n += len > 4 && strcmp(name + len - 4, ".dmp") == 0;
            off += reclen;
        }
    }
    close(fd);
    return n;
}

static std::string g_mode;
static std::atomic<int> g_handled{0};
static thread_local sigjmp_buf* t_escape = nullptr;

/// Not our fault: the process must die of it, as a JVM does after its report (SIG_DFL, run
/// the instruction again).
static void not_ours(int sig) {
    signal(sig, SIG_DFL);
}

static void host_handler(int sig, siginfo_t* info, void* ucv) {
    auto* uc = static_cast<ucontext_t*>(ucv);
    if (!in_generated_code(uc)) return not_ours(sig);
    g_handled.fetch_add(1);
    if (g_mode == "jvm") {
        set_result(uc, -1);
        context_ip(uc) += k_load_length;
    } else if (g_mode == "longjmp") {
        if (t_escape != nullptr) siglongjmp(*t_escape, 1);
    } else if (g_mode == "mprotect") {
        mprotect(g_page, g_page_size, PROT_READ);  // fixed: the load runs again and passes
    } else if (g_mode == "unfixed") {
        // returns as it came: the load faults again, forever without crashdrop
    } else if (g_mode == "reraise") {
        // Says whether it was asked first: a dump written before it ran would be there already.
        char msg[] = "HOST HANDLER: not a fault of mine (dumps so far: ?), re-raising\n";
        const int dumps = pending_dumps();
        *strchr(msg, '?') = static_cast<char>(dumps < 10 ? '0' + dumps : '+');
        (void)!write(2, msg, sizeof(msg) - 1);
        signal(sig, SIG_DFL);
        raise(sig);
    }
    (void)info;
}

static void sigsys_handler(int, siginfo_t* info, void* ucv) {
    if (info->si_code == 1 /* SYS_SECCOMP */ && info->si_syscall == SYS_getppid) {
        set_result(static_cast<ucontext_t*>(ucv), 4242);
        g_handled.fetch_add(1);
    }
}

static bool g_filter_calls_seen = false;
static bool fault_filter(int sig, siginfo_t* info, void* ucv) {
    g_filter_calls_seen = true;
    const auto at = reinterpret_cast<std::uintptr_t>(info->si_addr);
    const auto page = reinterpret_cast<std::uintptr_t>(g_page);
    if (sig != SIGSEGV || at < page || at >= page + g_page_size) return false;
    context_ip(static_cast<ucontext_t*>(ucv)) = reinterpret_cast<std::uintptr_t>(&fh_landing);
    g_handled.fetch_add(1);
    return true;
}

// ---- the runs ------------------------------------------------------------------------------

static std::atomic<int> g_recovered{0};

static void* jvm_thread(void*) {
    const auto load = reinterpret_cast<load_fn>(g_code);
    for (long i = 0; i < 250; ++i) g_recovered += load(target(i), i) == -1;
    return nullptr;
}

/// Faults `count` times, `depth` frames (of 1 KiB) deeper than the caller each time, and
/// recovers with siglongjmp.
NOINLINE static void longjmp_faults(int depth, int count) {
    volatile char frame[1024];
    frame[0] = static_cast<char>(depth);
    if (depth > 0) {
        longjmp_faults(depth - 1, count);
        return;
    }
    const auto load = reinterpret_cast<load_fn>(g_code);
    for (long i = 0; i < count; ++i) {
        sigjmp_buf env;
        t_escape = &env;
        if (sigsetjmp(env, 1) == 0) {
            (void)load(target(i), i);
        } else {
            g_recovered++;
        }
        t_escape = nullptr;
    }
    (void)frame[0];
}

// A thread started before start(): it has no alternate signal stack, so each signal frame lies
// on its own stack, below the fault. Its faults come deeper and deeper (a first chance left by
// siglongjmp then lies above the next fault, and must not be taken for a live one).
static pthread_t g_early;
static std::atomic<int> g_early_go{0};
static void* early_entry(void*) {
    while (!g_early_go.load()) usleep(1000);
    for (int depth = 0; depth < 10; ++depth) longjmp_faults(depth, 50);
    return nullptr;
}

NOINLINE static void run_faults() {
    const auto load = reinterpret_cast<load_fn>(g_code);
    if (g_mode == "jvm") {
        const int before = live_threads();
        pthread_t t[4];
        for (auto& th : t) pthread_create(&th, nullptr, jvm_thread, nullptr);
        for (auto& th : t) pthread_join(th, nullptr);
        // A joined thread may still be listed for a moment (under qemu-user, longer): the dump
        // of the real crash must find as many threads as expect.txt says.
        for (int i = 0; i < 2000 && live_threads() > before; ++i) usleep(1000);
    } else if (g_mode == "longjmp") {
        longjmp_faults(0, 500);
        const int before = live_threads() - 1;
        g_early_go.store(1);  // and 500 on a thread without an alternate stack
        pthread_join(g_early, nullptr);
        for (int i = 0; i < 2000 && live_threads() > before; ++i) usleep(1000);
    } else if (g_mode == "mprotect") {
        for (long i = 0; i < 1000; ++i) {
            mprotect(g_page, g_page_size, PROT_NONE);
            g_recovered += load(target(i), i) == 0;  // the fixed page reads as zeros
        }
    } else if (g_mode == "filter") {
        for (long i = 0; i < 1000; ++i) g_recovered += fh_probe(target(i)) == -1;
    } else if (g_mode == "seccomp") {
        for (int i = 0; i < 1000; ++i) g_recovered += syscall(SYS_getppid) == 4242;
    }
}

NOINLINE void null_write_leaf() {
    *g_null = 42;
    __asm__ volatile("");
}
NOINLINE void real_crash() {
    expect("signal", "11");
    expect("reason", "SIGSEGV /SEGV_MAPERR");
    expect("address", "0x0");
    expect("crash_tid", std::to_string(gettid_()));
    expect("frames", "null_write_leaf,real_crash,main");
    commit_expectations();
    null_write_leaf();
    __asm__ volatile("");
}

/// A fault in the generated code that the host's handler does not recover from.
NOINLINE void generated_crash() {
    expect("signal", "11");
    expect("address", hex(reinterpret_cast<std::uintptr_t>(target(5))));
    expect("crash_tid", std::to_string(gettid_()));
    expect("generated_code", hex(reinterpret_cast<std::uintptr_t>(g_code)));
    commit_expectations();
    const auto load = reinterpret_cast<load_fn>(g_code);
    (void)load(target(5), 5);
    __asm__ volatile("");
}

static bool install_seccomp_trap() {
    // Trap getppid on this thread only; every other system call is allowed.
#if defined(__x86_64__)
    const unsigned arch = AUDIT_ARCH_X86_64;
#else
    const unsigned arch = AUDIT_ARCH_AARCH64;
#endif
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog = {static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: fault_host jvm|longjmp|mprotect|unfixed|reraise|filter|seccomp <database>\n");
        return 2;
    }
    g_mode = argv[1];
    g_db = argv[2];
    snprintf(g_pending_path, sizeof(g_pending_path), "%s/pending", g_db.c_str());
    generate_code();

    if (g_mode == "longjmp") pthread_create(&g_early, nullptr, early_entry, nullptr);
    // The host's handlers come first: crashdrop finds them and chains to them.
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    if (g_mode == "seccomp") {
        sa.sa_sigaction = sigsys_handler;
        sigaction(SIGSYS, &sa, nullptr);
    } else if (g_mode != "filter") {
        sa.sa_sigaction = host_handler;
        sigaction(SIGSEGV, &sa, nullptr);
    }

    crashdrop::Options o;
    o.database_path = g_db;
    o.product_name = "crash_target";  // what the crash tests' dump check expects
    o.product_version = "1.2.3";
    if (g_mode == "filter") o.fault_filter = fault_filter;
    o.only_this_module = getenv("FAULT_HOST_ONLY_THIS_MODULE") != nullptr;  // the faults are all "ours"
    if (getenv("CRASHDROP_TEST_DISABLE") == nullptr) {
        const crashdrop::Status s = crashdrop::start(o);
        if (!s.ok()) {
            fprintf(stderr, "crashdrop::start: %s\n", s.message().c_str());
            return 2;
        }
    }

    if (g_mode == "unfixed" || g_mode == "reraise") {
        generated_crash();
        fprintf(stderr, "mode %s: the generated code's fault was survived\n", g_mode.c_str());
        return 1;
    }
    if (g_mode == "seccomp" && !install_seccomp_trap()) {
        printf("seccomp=unavailable (%s)\n", strerror(errno));
        fflush(stdout);
        return 0;
    }
    timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_faults();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double us = static_cast<double>(t1.tv_sec - t0.tv_sec) * 1e6 + static_cast<double>(t1.tv_nsec - t0.tv_nsec) / 1e3;
    printf("recovered=%d handled=%d\n", g_recovered.load(), g_handled.load());
    printf("us_per_fault=%.1f\n", us / 1000);  // the figure in the docs (with and without crashdrop)
    printf("reports_before_crash=%d\n", count_files(g_db + "/pending") + count_files(g_db + "/completed"));
    const crashdrop::Status h = crashdrop::check_handlers();
    printf("handlers=%s\n", h.ok() ? "ok" : h.message().c_str());
    if (g_mode == "filter") printf("filter_called=%d\n", g_filter_calls_seen ? 1 : 0);
    fflush(stdout);
    real_crash();
    fprintf(stderr, "mode %s did not crash\n", g_mode.c_str());
    return 1;
}
