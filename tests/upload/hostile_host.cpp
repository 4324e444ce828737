// hostile_host - a host program (no crashdrop of its own) whose other threads hold the locks a
// forked copy of it would inherit held, when its plugin (hostile_plugin) starts crashdrop with
// the fork-mode helper:
//   - a thread holds stdout's FILE lock (flockfile) for good;
//   - a thread is inside dlopen() of blocking_ctor, whose constructor never returns: it holds
//     the dynamic loader's lock;
//   - a thread waits in getaddrinfo() for a name whose lookup never answers (slow_resolver, the
//     resolver stand-in, LD_PRELOADed by the test; it gives up after 30 s);
//   - a thread is in malloc_stats() writing to stderr, a pipe that is full and never read: it
//     holds the main malloc arena's lock (and stderr's FILE lock) for good.
// It fills a 512 MiB heap before the plugin starts crashdrop, rewrites it after, and crashes in
// the plugin once the test says so. The plugin's work runs in a thread of its own whose malloc
// arena is not the main one (the main arena stays locked).
//
//   hostile_host run <plugin.so> <blocking.so> <database> <url> <dir> [heap MiB]
//       <dir>/started ("ok" or start()'s error), <dir>/rewritten once the heap was rewritten
//       after start(); then waits (up to 60 s) for <dir>/go and crashes in the plugin.
//   hostile_host probe_fork <dir>
//       only the malloc hazard, then fork() from a thread: says "fork returned" or, after
//       2 s, "fork blocked" (what a launch through glibc's fork() would meet).
// It exports hostile_host_data (for hostile_plugin_needs_host, which refers to it), and with
// HOSTILE_HOST_SIDE_EFFECTS=<file> its global constructor and main() each append a line with
// their pid to the file (so does the constructor of host_library, which it is linked against).
// HOSTILE_HOST_KEEP_ARENA=1 leaves the malloc arena alone (to see what else a plain fork()
// helper meets: glibc's fork() would wait for that lock for ever).
// Nothing goes through stdio (its locks are held): results are files and write(2).
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>

extern "C" int host_library_linked();
extern "C" {
__attribute__((visibility("default"))) int hostile_host_data = 13;
}

namespace {

std::atomic<int> g_in_place{0};

void side_effect(const char* what) {
    const char* path = getenv("HOSTILE_HOST_SIDE_EFFECTS");
    if (path == nullptr) return;
    const std::string line = std::string(what) + " pid=" + std::to_string(getpid()) + "\n";
    const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    if (write(fd, line.data(), line.size()) < 0) {
    }
    close(fd);
}

__attribute__((constructor)) void host_constructor() {
    side_effect("host constructor");
}

void put_file(const std::string& path, const std::string& text) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    if (write(fd, text.data(), text.size()) < 0) {
    }
    close(fd);
}
bool exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}
void say(const char* text) {
    if (write(1, text, strlen(text)) < 0) {
    }
}

void* hold_stdout(void*) {
    flockfile(stdout);
    g_in_place.fetch_add(1);
    for (;;) pause();
}
void* hold_loader(void* library) {
    dlopen(static_cast<const char*>(library), RTLD_NOW);  // its constructor never returns
    return nullptr;
}
void* hold_lookup(void*) {
    g_in_place.fetch_add(1);
    addrinfo* result = nullptr;
    getaddrinfo("crash-server.hang.invalid", "80", nullptr, &result);
    return nullptr;
}
void* hold_malloc_arena(void*) {
    g_in_place.fetch_add(1);
    malloc_stats();  // locks the main arena, then blocks writing to the full stderr pipe
    return nullptr;
}

/// fd 2 becomes a pipe that is full and never read (its read end stays open: writes block).
void stderr_into_full_pipe() {
    int p[2];
    if (pipe(p) != 0) return;
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    static char block[4096];
    while (write(p[1], block, sizeof(block)) > 0) {
    }
    fcntl(p[1], F_SETFL, 0);
    dup2(p[1], 2);
}

void start_thread(void* (*fn)(void*), void* arg) {
    pthread_t t;
    if (pthread_create(&t, nullptr, fn, arg) == 0) pthread_detach(t);
}

/// The malloc hazard, in place: malloc_stats() has had time to lock the arena and block.
void hold_arena_now() {
    free(malloc(100));  // malloc initialised before stderr is taken away
    stderr_into_full_pipe();
    start_thread(hold_malloc_arena, nullptr);
    while (g_in_place.load() < 1) usleep(1000);
    usleep(300000);
}

struct run_args {
    int argc;
    char** argv;
};

void* plugin_work(void* p) {
    const run_args* a = static_cast<const run_args*>(p);
    const std::string plugin = a->argv[2], blocking = a->argv[3], database = a->argv[4], url = a->argv[5], dir = a->argv[6];
    const std::size_t heap_bytes = (a->argc > 7 ? std::strtoull(a->argv[7], nullptr, 10) : 512) << 20;
    free(malloc(64 * 1024));  // this thread's own arena, before the main one is locked
    void* module = dlopen(plugin.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (module == nullptr) {
        put_file(dir + "/started", std::string("dlopen: ") + dlerror());
        _exit(2);
    }
    using start_fn = int (*)(const char*, const char*, char*, size_t);
    using crash_fn = void (*)();
    const auto plugin_start = reinterpret_cast<start_fn>(dlsym(module, "hostile_plugin_start"));
    const auto plugin_crash = reinterpret_cast<crash_fn>(dlsym(module, "hostile_plugin_crash"));
    if (plugin_start == nullptr || plugin_crash == nullptr) _exit(2);

    // The heap the helper must not end up holding a copy of.
    auto* heap = static_cast<unsigned char*>(malloc(heap_bytes));
    if (heap == nullptr) _exit(3);
    memset(heap, 1, heap_bytes);

    // The hazards, each in place before the plugin starts crashdrop.
    start_thread(hold_stdout, nullptr);
    setenv("BLOCKING_CTOR_FLAG", (dir + "/in-loader").c_str(), 1);
    start_thread(hold_loader, const_cast<char*>(blocking.c_str()));
    start_thread(hold_lookup, nullptr);
    while (g_in_place.load() < 2 || !exists(dir + "/in-loader")) usleep(1000);
    if (getenv("HOSTILE_HOST_KEEP_ARENA") == nullptr) hold_arena_now();

    char notes[512] = {};
    const int rc = plugin_start(database.c_str(), url.c_str(), notes, sizeof(notes));
    put_file(dir + "/started", rc == 0 ? "ok" : std::string("start failed: ") + notes);
    if (rc != 0) _exit(4);
    for (int round = 2; round < 5; ++round) {
        for (std::size_t i = 0; i < heap_bytes; i += 4096) heap[i] = static_cast<unsigned char>(round);
    }
    put_file(dir + "/rewritten", "ok");
    for (int i = 0; i < 6000 && !exists(dir + "/go"); ++i) usleep(10000);
    plugin_crash();
    _exit(5);  // not reached
}

}  // namespace

int main(int argc, char** argv) {
    side_effect(host_library_linked() == 1 ? "host main" : "host main (no library)");
    if (argc >= 7 && strcmp(argv[1], "run") == 0) {
        run_args args{argc, argv};
        pthread_t t;
        if (pthread_create(&t, nullptr, plugin_work, &args) != 0) return 2;
        for (;;) pause();  // the main thread's arena gets locked: it allocates nothing from here
    }
    if (argc >= 3 && strcmp(argv[1], "probe_fork") == 0) {
        // The forking thread exists before the arena is locked (creating a thread allocates).
        static std::atomic<int> go{0}, forked{0};
        start_thread(
            [](void*) -> void* {
                while (go.load() == 0) usleep(1000);
                const pid_t child = fork();
                if (child == 0) _exit(0);
                forked.store(1);
                return nullptr;
            },
            nullptr);
        hold_arena_now();
        go.store(1);
        for (int i = 0; i < 200 && forked.load() == 0; ++i) usleep(10000);
        say(forked.load() != 0 ? "fork returned\n" : "fork blocked\n");
        _exit(0);
    }
    say("usage: hostile_host run <plugin.so> <blocking.so> <database> <url> <dir> [heap MiB] | probe_fork <dir>\n");
    return 2;
}
