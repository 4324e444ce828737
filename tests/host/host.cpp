// host - a program that loads plugins embedding crashdrop, the way an application, a game engine
// or a language runtime loads extensions. It holds no crashdrop of its own, and it has its own
// fatal-signal handler, installed with sigaction before any plugin is loaded:
//   - it writes "host-handler: <SIG> addr=<fault address>" to stderr with write(2), puts the
//     default action back and returns, so the process dies of the signal (the fault re-executes;
//     a signal sent with kill/raise/abort is raised again);
//   - during `host-fault-recover` it behaves like a JIT or GC that uses guard pages: a fault on
//     its own guard page is recovered from with siglongjmp and the host carries on.
// host_tests.cpp runs it in a child process with a script of commands on the command line:
//
//   load <name> <plugin.so> <database> [only] [fork] [global]
//       dlopen the plugin (RTLD_LOCAL, or RTLD_GLOBAL with `global`) and start its crashdrop:
//       `only` sets Options::only_this_module, `fork` uses HelperMode::fork (default: none)
//   unload <name>            dlclose, then say whether the module is really gone
//   stop <name>              crashdrop::stop() in the plugin (it stays loaded)
//   restart <name> <db> [only]  crashdrop::start() again in a plugin after stop
//   check <name>             crashdrop::check_handlers() in the plugin
//   reinstall <name>         crashdrop::reinstall() in the plugin
//   dump <name>              crashdrop::write_dump() in the plugin
//   crash-host               a write to 0x48 in the host's own code (SIGSEGV)
//   abort-host               abort() called by the host (SIGABRT)
//   crash-host-holding <name>
//                            the host keeps the plugin's function pointers (hostplug_functions) in
//                            a local table on its stack, prints how many of them follow a call
//                            instruction, then writes to 0x48 in its own code (SIGSEGV)
//   crash-host-after-plugin-call <name>
//                            the host calls into the plugin (its check), then faults in its own code
//                            under a frame whose uninitialised locals still hold the return
//                            addresses that call left (stale words, not frames)
//   crash-plugin <name>      a write to the plugin's own bad address in its code (SIGSEGV)
//   abort-plugin <name>      abort() called by the plugin (SIGABRT)
//   plugin-calls-host-crash <name>
//                            the plugin calls back into a host function that writes to 0x48:
//                            the fault is in the host's code, with the plugin's frames below it
//   host-fault-recover       the host touches its guard page and recovers (siglongjmp)
//   install-host-handler-after [chain]
//                            the host installs a second SIGSEGV handler over whatever is there
//                            (crashdrop's); with `chain` that handler calls the one it replaced
//   print-handler            which module's function is the SIGSEGV handler now
//   spawn-threads <n>        n threads that sleep until the process ends
//   mark <text>              prints "mark <text>"
//
// Every command prints its result as one line on stdout; "host-done" ends a script that ran to
// its end. Before each command the stack below the command loop is zeroed, so that a command's
// stack holds only what that command put there: a crash in the host then has no stale return
// address into a plugin on its stack (only_this_module looks for those).
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define HOST_NOINLINE __attribute__((noinline))

namespace {

// ---- the host's own fatal-signal handlers (async-signal-safe: write(2) only) ----------------

const int k_host_signals[] = {SIGSEGV, SIGBUS, SIGABRT};

constexpr std::uintptr_t k_host_fault_address = 0x48;
int* volatile g_host_bad = reinterpret_cast<int*>(k_host_fault_address);

sigjmp_buf g_recover_jmp;
volatile sig_atomic_t g_recover_armed = 0;
char* volatile g_guard_page = nullptr;
std::size_t g_page_size = 4096;

struct sigaction g_after_previous;  // what install-host-handler-after replaced
volatile sig_atomic_t g_after_chains = 0;

void say(const char* s) {
    std::size_t n = std::strlen(s);
    while (n > 0) {
        const ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0) return;
        s += w;
        n -= static_cast<std::size_t>(w);
    }
}

const char* signal_name(int sig) {
    switch (sig) {
        case SIGSEGV: return "SIGSEGV";
        case SIGBUS: return "SIGBUS";
        case SIGABRT: return "SIGABRT";
        case SIGILL: return "SIGILL";
        case SIGFPE: return "SIGFPE";
        default: return "signal";
    }
}

void say_line(const char* who, int sig, const siginfo_t* info) {
    char hex[2 + 16 + 1] = "0x";
    std::uintptr_t a = info != nullptr ? reinterpret_cast<std::uintptr_t>(info->si_addr) : 0;
    char digits[16];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[a & 0xf];
        a >>= 4;
    } while (a != 0);
    for (int i = 0; i < n; ++i) hex[2 + i] = digits[n - 1 - i];
    hex[2 + n] = '\0';
    say(who);
    say(": ");
    say(signal_name(sig));
    say(" addr=");
    say(hex);
    say("\n");
}

/// Puts the default action back, so that returning from the handler ends the process with the
/// signal: a fault re-executes, a sent signal (kill, raise, abort) is raised again.
void die_of(int sig, const siginfo_t* info) {
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    if (info == nullptr || info->si_code <= 0 || sig == SIGABRT) raise(sig);  // pending until we return
}

void host_handler(int sig, siginfo_t* info, void*) {
    if (sig == SIGSEGV && g_recover_armed && info != nullptr) {
        const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
        const auto guard = reinterpret_cast<std::uintptr_t>(g_guard_page);
        if (addr >= guard && addr < guard + g_page_size) {
            g_recover_armed = 0;
            siglongjmp(g_recover_jmp, 1);  // like a JIT: its own guard page, its own recovery
        }
    }
    say_line("host-handler", sig, info);
    die_of(sig, info);
}

void host_handler_after(int sig, siginfo_t* info, void* uc) {
    say_line("host-handler-after", sig, info);
    if (g_after_chains) {
        const struct sigaction& prev = g_after_previous;
        if (prev.sa_flags & SA_SIGINFO) {
            say("host-handler-after: chaining\n");
            prev.sa_sigaction(sig, info, uc);
        } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
            say("host-handler-after: chaining\n");
            prev.sa_handler(sig);
        }
    }
    die_of(sig, info);
}

void install(int sig, void (*fn)(int, siginfo_t*, void*), struct sigaction* previous) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;  // as a runtime with its own alternate stacks would
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, previous) != 0) {
        std::perror("sigaction");
        std::exit(3);
    }
}

// ---- plugins -----------------------------------------------------------------------------------

struct plugin {
    std::string name;
    std::string path;
    void* handle = nullptr;
    const char* (*start)(const char*, int, int) = nullptr;
    const char* (*version)() = nullptr;
    void (*crash)() = nullptr;
    void (*abort_now)() = nullptr;
    void (*call)(void (*)()) = nullptr;
    const char* (*check)() = nullptr;
    const char* (*reinstall)() = nullptr;
    void (*stop)() = nullptr;
    const char* (*dump)() = nullptr;
    int (*functions)(void**, int) = nullptr;
};

// In static storage, never on the stack: a crash in the host must not find pointers into a
// plugin on its stack.
std::vector<plugin>* g_plugins = new std::vector<plugin>();

void out(const std::string& line) {
    std::fputs((line + "\n").c_str(), stdout);
    std::fflush(stdout);
}

[[noreturn]] void fail(const std::string& why) {
    out("host-error " + why);
    std::exit(2);
}

plugin& find(const std::string& name) {
    for (auto& p : *g_plugins) {
        if (p.name == name && p.handle != nullptr) return p;
    }
    fail("no loaded plugin named " + name);
}

template <typename F>
void bind(plugin& p, F* fn, const char* symbol) {
    void* s = dlsym(p.handle, symbol);
    if (s == nullptr) fail(std::string("dlsym ") + symbol + ": " + dlerror());
    *fn = reinterpret_cast<F>(s);
}

bool has_word(const std::vector<std::string>& args, std::size_t from, const char* word) {
    for (std::size_t i = from; i < args.size(); ++i) {
        if (args[i] == word) return true;
    }
    return false;
}

HOST_NOINLINE void cmd_load(const std::vector<std::string>& a) {
    if (a.size() < 4) fail("load <name> <plugin.so> <database> [only] [fork] [global]");
    plugin p;
    p.name = a[1];
    p.path = a[2];
    const int mode = RTLD_NOW | (has_word(a, 4, "global") ? RTLD_GLOBAL : RTLD_LOCAL);
    p.handle = dlopen(p.path.c_str(), mode);
    if (p.handle == nullptr) fail(std::string("dlopen: ") + dlerror());
    bind(p, &p.start, "hostplug_start");
    bind(p, &p.version, "hostplug_version");
    bind(p, &p.crash, "hostplug_crash");
    bind(p, &p.abort_now, "hostplug_abort");
    bind(p, &p.call, "hostplug_call");
    bind(p, &p.check, "hostplug_check");
    bind(p, &p.reinstall, "hostplug_reinstall");
    bind(p, &p.stop, "hostplug_stop");
    bind(p, &p.dump, "hostplug_dump");
    bind(p, &p.functions, "hostplug_functions");
    const std::string status = p.start(a[3].c_str(), has_word(a, 4, "only") ? 1 : 0, has_word(a, 4, "fork") ? 1 : 0);
    const std::string version = p.version();
    g_plugins->push_back(p);
    out("loaded " + a[1] + ": " + status + " version=" + version);
}

HOST_NOINLINE void cmd_unload(const std::vector<std::string>& a) {
    if (a.size() < 2) fail("unload <name>");
    plugin& p = find(a[1]);
    if (dlclose(p.handle) != 0) fail(std::string("dlclose: ") + dlerror());
    p.handle = nullptr;
    // RTLD_NOLOAD finds the module only if it is still mapped (a DSO marked NODELETE, or one
    // something else still holds).
    void* again = dlopen(p.path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (again != nullptr) {
        dlclose(again);
        out("unloaded " + a[1] + ": still-loaded");
    } else {
        out("unloaded " + a[1] + ": gone");
    }
}

HOST_NOINLINE void cmd_restart(const std::vector<std::string>& a) {
    if (a.size() < 3) fail("restart <name> <database> [only]");
    plugin& p = find(a[1]);
    out("restarted " + a[1] + ": " + p.start(a[2].c_str(), has_word(a, 3, "only") ? 1 : 0, 0));
}

int live_threads() {
    int n = 0;
    if (FILE* f = std::fopen("/proc/self/status", "r")) {
        char line[256];
        while (std::fgets(line, sizeof(line), f) != nullptr) {
            if (std::strncmp(line, "Threads:", 8) == 0) n = std::atoi(line + 8);
        }
        std::fclose(f);
    }
    return n;
}

void* sleeper(void*) {
    for (;;) pause();
    return nullptr;
}

HOST_NOINLINE void cmd_spawn_threads(const std::vector<std::string>& a) {
    const int n = a.size() > 1 ? std::atoi(a[1].c_str()) : 1;
    for (int i = 0; i < n; ++i) {
        pthread_t t;
        if (pthread_create(&t, nullptr, sleeper, nullptr) != 0) fail("pthread_create");
        pthread_detach(t);
    }
    out("threads: " + std::to_string(live_threads()));
}

}  // namespace

// ---- crashes in the host's own code (outside the anonymous namespace: plain names in dumps) ----
// (Their stores to bad addresses are the point: UBSan, in tools/test_sanitizers.sh, must let them fault.)

HOST_NOINLINE __attribute__((no_sanitize("undefined"))) void host_crash_leaf() {
    *g_host_bad = 1;
    __asm__ volatile("");
}

/// Called by a plugin (plugin-calls-host-crash): faults in the host's code, under plugin frames.
HOST_NOINLINE __attribute__((no_sanitize("undefined"))) void host_callback_crash() {
    *g_host_bad = 2;
    __asm__ volatile("");
}

/// Does a call instruction end right before `code` (x86-64: call rel32; aarch64: bl)?
bool follows_call(const void* code) {
    const auto* p = static_cast<const unsigned char*>(code);
#if defined(__x86_64__)
    return p[-5] == 0xE8;
#elif defined(__aarch64__)
    std::uint32_t insn;
    std::memcpy(&insn, p - 4, 4);
    return (insn & 0xFC000000u) == 0x94000000u;
#else
    (void)p;
    return false;
#endif
}

/// A host crash with a table of a plugin's callbacks on its stack (data, not return addresses).
/// Not instrumented by AddressSanitizer: with detect_stack_use_after_return its locals would live
/// on a heap "fake stack" (tools/test_sanitizers.sh), and the table must be on the real one.
HOST_NOINLINE __attribute__((no_sanitize("address"))) void host_crash_holding(int (*functions)(void**, int)) {
    void* got[32];
    const int n = functions(got, 32);
    volatile std::uintptr_t table[32] = {};  // volatile: really stored in this frame
    int after_call = 0;
    for (int i = 0; i < n; ++i) {
        table[i] = reinterpret_cast<std::uintptr_t>(got[i]);
        if (follows_call(got[i])) ++after_call;
        got[i] = nullptr;
    }
    std::printf("holding %d plugin functions, %d right after a call\n", n, after_call);
    std::fflush(stdout);
    host_crash_leaf();
    __asm__ volatile("" : : "r"(table) : "memory");
}

/// A frame with a large uninitialised local area (it covers where the plugin's frames were, so it
/// holds their stale return addresses), and the host's fault below it. Not instrumented by
/// AddressSanitizer (its locals must be on the real stack).
HOST_NOINLINE __attribute__((no_sanitize("address"))) void host_crash_over_stale() {
    volatile char area[16384];  // never written
    __asm__ volatile("" : : "r"(area) : "memory");
    host_crash_leaf();
}

HOST_NOINLINE void host_crash_after_plugin_call(const char* (*check)()) {
    (void)check();  // deep into the plugin (crashdrop::check_handlers), then back
    host_crash_over_stale();
}

HOST_NOINLINE void host_abort_leaf() {
    std::abort();
}

HOST_NOINLINE void host_touch_guard() {
    *reinterpret_cast<volatile int*>(g_guard_page + 64) = 1;
    __asm__ volatile("");
}

namespace {

HOST_NOINLINE void cmd_fault_recover() {
    if (g_guard_page == nullptr) {
        void* p = mmap(nullptr, g_page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) fail("mmap guard page");
        g_guard_page = static_cast<char*>(p);
    }
    if (sigsetjmp(g_recover_jmp, 1) == 0) {
        g_recover_armed = 1;
        host_touch_guard();
        g_recover_armed = 0;
        out("host-fault-not-taken");
    } else {
        out("host-recovered");
    }
}

HOST_NOINLINE void cmd_install_after(const std::vector<std::string>& a) {
    g_after_chains = has_word(a, 1, "chain") ? 1 : 0;
    install(SIGSEGV, host_handler_after, &g_after_previous);
    out(std::string("installed host-handler-after") + (g_after_chains ? " (chaining)" : ""));
}

HOST_NOINLINE void cmd_print_handler() {
    struct sigaction cur;
    sigaction(SIGSEGV, nullptr, &cur);
    std::string who;
    void* fn = (cur.sa_flags & SA_SIGINFO) ? reinterpret_cast<void*>(cur.sa_sigaction) : reinterpret_cast<void*>(cur.sa_handler);
    if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL) {
        who = "SIG_DFL";
    } else if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN) {
        who = "SIG_IGN";
    } else if (fn == reinterpret_cast<void*>(&host_handler)) {
        who = "host_handler";
    } else if (fn == reinterpret_cast<void*>(&host_handler_after)) {
        who = "host_handler_after";
    } else {
        Dl_info info;
        if (dladdr(fn, &info) != 0 && info.dli_fname != nullptr) {
            who = info.dli_fname;
            const auto slash = who.rfind('/');
            if (slash != std::string::npos) who.erase(0, slash + 1);
        } else {
            who = "unknown";
        }
    }
    out("handler SIGSEGV: " + who);
}

HOST_NOINLINE void run_command(const std::vector<std::string>& a) {
    const std::string& c = a[0];
    if (c == "load") cmd_load(a);
    else if (c == "unload") cmd_unload(a);
    else if (c == "restart") cmd_restart(a);
    else if (c == "stop") {
        find(a.at(1)).stop();
        out("stopped " + a[1]);
    } else if (c == "check") out("check " + a.at(1) + ": " + find(a[1]).check());
    else if (c == "reinstall") out("reinstall " + a.at(1) + ": " + find(a[1]).reinstall());
    else if (c == "dump") {
        const std::string threads = std::to_string(live_threads());
        out("dump " + a.at(1) + ": " + find(a[1]).dump() + " threads=" + threads);
    } else if (c == "crash-host") host_crash_leaf();
    else if (c == "crash-host-holding") host_crash_holding(find(a.at(1)).functions);
    else if (c == "abort-host") host_abort_leaf();
    else if (c == "crash-host-after-plugin-call") host_crash_after_plugin_call(find(a.at(1)).check);
    else if (c == "crash-plugin") find(a.at(1)).crash();
    else if (c == "abort-plugin") find(a.at(1)).abort_now();
    else if (c == "plugin-calls-host-crash") find(a.at(1)).call(host_callback_crash);
    else if (c == "host-fault-recover") cmd_fault_recover();
    else if (c == "install-host-handler-after") cmd_install_after(a);
    else if (c == "print-handler") cmd_print_handler();
    else if (c == "spawn-threads") cmd_spawn_threads(a);
    else if (c == "mark") out("mark " + (a.size() > 1 ? a[1] : std::string()));
    else fail("unknown command " + c);
}

/// Zeroes the stack the next command will use (far more than the 256 KiB only_this_module scans).
HOST_NOINLINE void scrub_stack() {
    char area[384 * 1024];
    std::memset(area, 0, sizeof(area));
    __asm__ volatile("" : : "r"(area) : "memory");
}

/// Splits argv into commands: a command starts at each word that names one.
std::vector<std::vector<std::string>> parse_script(int argc, char** argv) {
    static const char* const k_commands[] = {"load", "unload", "stop", "restart", "check", "reinstall", "dump",
                                             "crash-host", "crash-host-holding", "crash-host-after-plugin-call", "abort-host", "crash-plugin", "abort-plugin",
                                             "plugin-calls-host-crash", "host-fault-recover",
                                             "install-host-handler-after", "print-handler", "spawn-threads", "mark"};
    std::vector<std::vector<std::string>> script;
    for (int i = 1; i < argc; ++i) {
        bool is_command = false;
        for (const char* c : k_commands) is_command = is_command || std::strcmp(argv[i], c) == 0;
        // "mark" takes exactly one word, which may itself look like a command
        const bool after_mark = !script.empty() && script.back()[0] == "mark" && script.back().size() == 1;
        if (is_command && !after_mark) script.emplace_back();
        if (script.empty()) fail(std::string("script must start with a command, not ") + argv[i]);
        script.back().push_back(argv[i]);
    }
    return script;
}

}  // namespace

int main(int argc, char** argv) {
    g_page_size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    for (int sig : k_host_signals) install(sig, host_handler, nullptr);
    const auto script = parse_script(argc, argv);
    for (const auto& command : script) {
        scrub_stack();
        run_command(command);
    }
    out("host-done");
    return 0;
}
