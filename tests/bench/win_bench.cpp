// win_bench - crashdrop's costs on Windows x64, side by side with their baselines in one run:
// how long a process takes from a fault to being gone (1 and 33 threads, ~16 KiB of used stack
// each), and what start() costs on the calling thread. Run on demand (not a test), built with
// the mingw-w64 tests (tools/test_windows.sh's build tree):
//   cmake --build build/mingw --target win_bench
//   wine build/mingw/tests/windows/win_bench.exe [runs=15] [work folder=%TEMP%\crashdrop-win-bench]
// Here it runs under wine, so only the ratios mean something (docs/performance.md).
//
// Method. Every run starts a fresh child process (this program, "child <variant> <threads>").
// The child maps a block of shared memory the parent created, records QueryPerformanceCounter
// readings there (main entered, start() called, start() returned), starts its threads, waits
// until each has used its stack and parked, stores the counter and writes to a null pointer.
// The parent, blocked in WaitForSingleObject on the child's process handle, reads the counter
// when the process is gone. Variants, interleaved run by run so machine noise hits all alike:
//   helper    crashdrop::start() with the default (re-exec) helper, which is given 20 s to be
//             up before the fault; the dump is in pending\ before the process goes
//   none      crashdrop::start() with HelperMode::none: the crashed process writes the dump
//   baseline  no crashdrop: the unhandled exception ends the process (no debugger, no dump)
// start() is reported beside the cost of the child's own start-up (CreateProcess in the parent
// until main is entered in the child), measured in the same runs.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <windows.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct shared_block {
    volatile LONGLONG main_at;
    volatile LONGLONG start_begin;
    volatile LONGLONG start_end;
    volatile LONGLONG crash_at;
    volatile LONG parked;
    volatile LONG pending_dumps;
};

shared_block* g_shared = nullptr;

LONGLONG now_ticks() {
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    return c.QuadPart;
}

double ticks_ms(LONGLONG ticks) {
    LARGE_INTEGER f;
    QueryPerformanceFrequency(&f);
    return static_cast<double>(ticks) * 1000.0 / static_cast<double>(f.QuadPart);
}

__attribute__((noinline)) void use_stack(int depth) {
    volatile char frame[4000];
    for (std::size_t i = 0; i < sizeof(frame); i += 256) frame[i] = static_cast<char>(depth);
    if (depth > 0) {
        use_stack(depth - 1);
        frame[0] = 0;  // used after the call: no tail call, every frame stays on the stack
        return;
    }
    InterlockedIncrement(&g_shared->parked);
    for (;;) Sleep(INFINITE);
}

DWORD WINAPI thread_main(LPVOID) {
    use_stack(3);  // 4 frames of ~4 KiB
    return 0;
}

bool helper_up(const std::string& db) {
    const std::string log = db + "\\helper.log";
    HANDLE f = CreateFileA(log.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING, 0, nullptr);
    if (f == INVALID_HANDLE_VALUE) return false;
    char buf[4096];
    DWORD got = 0;
    const bool ok = ReadFile(f, buf, sizeof(buf) - 1, &got, nullptr) != 0;
    CloseHandle(f);
    if (!ok) return false;
    buf[got] = '\0';
    return std::strstr(buf, "helper started") != nullptr;
}

int* volatile g_null = nullptr;

int child(const std::string& variant, int threads, const std::string& db, const char* mapping) {
    HANDLE m = OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, mapping);
    if (m == nullptr) return 90;
    g_shared = static_cast<shared_block*>(MapViewOfFile(m, FILE_MAP_ALL_ACCESS, 0, 0, sizeof(shared_block)));
    if (g_shared == nullptr) return 91;
    // Kept locally until start() has returned: the re-exec helper is this program with the same
    // command line (and crashdrop's marker in its environment), and its start() never returns.
    const LONGLONG main_at = now_ticks();
    LONGLONG start_begin = 0, start_end = 0;
    if (variant != "baseline") {
        crashdrop::Options o;
        o.database_path = db;
        if (variant == "none") o.helper_mode = crashdrop::HelperMode::none;
        start_begin = now_ticks();
        const crashdrop::Status s = crashdrop::start(o);
        start_end = now_ticks();
        if (!s.ok()) {
            std::fprintf(stderr, "start failed: %s\n", s.message().c_str());
            return 92;
        }
        if (variant == "helper") {
            int i = 0;
            while (!helper_up(db) && i++ < 2000) Sleep(10);
            if (i >= 2000) return 93;
        }
    }
    g_shared->main_at = main_at;
    g_shared->start_begin = start_begin;
    g_shared->start_end = start_end;
    for (int i = 1; i < threads; ++i) CloseHandle(CreateThread(nullptr, 256 * 1024, thread_main, nullptr, 0, nullptr));
    while (g_shared->parked < threads - 1) Sleep(1);
    volatile char frame[12000];  // the crashing thread's ~16 KiB too
    for (std::size_t i = 0; i < sizeof(frame); i += 256) frame[i] = 1;
    g_shared->crash_at = now_ticks();
    *g_null = static_cast<int>(frame[0]);
    return 0;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

void remove_tree(const std::string& dir) {
    WIN32_FIND_DATAA fd;
    HANDLE h = FindFirstFileA((dir + "\\*").c_str(), &fd);
    if (h != INVALID_HANDLE_VALUE) {
        do {
            const std::string name = fd.cFileName;
            if (name == "." || name == "..") continue;
            const std::string path = dir + "\\" + name;
            if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) remove_tree(path);
            else DeleteFileA(path.c_str());
        } while (FindNextFileA(h, &fd));
        FindClose(h);
    }
    RemoveDirectoryA(dir.c_str());
}

struct sample {
    double gone_ms = -1;   // fault -> process handle signalled
    double launch_ms = -1; // CreateProcess -> child's main
    double start_ms = -1;  // start() on the calling thread
    DWORD exit_code = 0;
    int dumps = 0;
};

int count_dumps(const std::string& db) {
    WIN32_FIND_DATAA fd;
    HANDLE h = FindFirstFileA((db + "\\pending\\*.dmp").c_str(), &fd);
    if (h == INVALID_HANDLE_VALUE) return 0;
    int n = 0;
    do ++n; while (FindNextFileA(h, &fd));
    FindClose(h);
    return n;
}

bool run_once(const std::string& self, const std::string& variant, int threads, const std::string& work, int index, sample* out) {
    char name[96];
    std::snprintf(name, sizeof(name), "Local\\crashdrop-win-bench-%lu-%d", static_cast<unsigned long>(GetCurrentProcessId()), index);
    HANDLE m = CreateFileMappingA(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, 0, sizeof(shared_block), name);
    if (m == nullptr) return false;
    auto* block = static_cast<shared_block*>(MapViewOfFile(m, FILE_MAP_ALL_ACCESS, 0, 0, sizeof(shared_block)));
    ZeroMemory(block, sizeof(*block));
    const std::string db = work + "\\db-" + std::to_string(index);
    remove_tree(db);
    std::string cmd = "\"" + self + "\" child " + variant + " " + std::to_string(threads) + " \"" + db + "\" " + name;
    STARTUPINFOA si;
    ZeroMemory(&si, sizeof(si));
    si.cb = sizeof(si);
    PROCESS_INFORMATION pi;
    const LONGLONG launched = now_ticks();
    if (!CreateProcessA(nullptr, &cmd[0], nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si, &pi)) return false;
    WaitForSingleObject(pi.hProcess, 120000);
    const LONGLONG gone = now_ticks();
    GetExitCodeProcess(pi.hProcess, &out->exit_code);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    if (block->crash_at != 0) out->gone_ms = ticks_ms(gone - block->crash_at);
    if (block->main_at != 0) out->launch_ms = ticks_ms(block->main_at - launched);
    if (block->start_end != 0) out->start_ms = ticks_ms(block->start_end - block->start_begin);
    out->dumps = variant == "baseline" ? 0 : count_dumps(db);
    UnmapViewOfFile(block);
    CloseHandle(m);
    if (variant == "helper") Sleep(200);  // the helper sees its application gone and ends
    remove_tree(db);
    return block != nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 6 && std::string(argv[1]) == "child") return child(argv[2], std::atoi(argv[3]), argv[4], argv[5]);
    const int runs = argc > 1 ? std::max(5, std::atoi(argv[1])) : 15;
    char temp[MAX_PATH];
    GetTempPathA(sizeof(temp), temp);
    const std::string work = argc > 2 ? argv[2] : std::string(temp) + "crashdrop-win-bench";
    CreateDirectoryA(work.c_str(), nullptr);
    char self[MAX_PATH];
    GetModuleFileNameA(nullptr, self, sizeof(self));

    const char* variants[] = {"helper", "none", "baseline"};
    const int thread_counts[] = {1, 33};
    std::printf("win_bench: %d runs per cell, interleaved; medians (QueryPerformanceCounter)\n", runs);
    std::printf("%-8s %-9s %12s %12s %12s %6s\n", "threads", "variant", "fault->gone", "start()", "launch", "dumps");
    std::vector<double> gone[2][3], start[2][3], launch[2][3];
    int dumps[2][3] = {}, bad[2][3] = {};
    int index = 0;
    for (int r = 0; r < runs; ++r) {
        for (int t = 0; t < 2; ++t) {
            for (int v = 0; v < 3; ++v) {
                sample s;
                if (!run_once(self, variants[v], thread_counts[t], work, index++, &s) || s.gone_ms < 0) {
                    ++bad[t][v];
                    continue;
                }
                gone[t][v].push_back(s.gone_ms);
                launch[t][v].push_back(s.launch_ms);
                if (s.start_ms >= 0) start[t][v].push_back(s.start_ms);
                dumps[t][v] += s.dumps;
            }
        }
    }
    for (int t = 0; t < 2; ++t) {
        for (int v = 0; v < 3; ++v) {
            std::printf("%-8d %-9s %9.2f ms %9.2f ms %9.2f ms %3d/%d%s\n", thread_counts[t], variants[v], median(gone[t][v]),
                        start[t][v].empty() ? 0.0 : median(start[t][v]), median(launch[t][v]), dumps[t][v], runs,
                        bad[t][v] ? "  (some runs failed)" : "");
        }
        const double floor = median(gone[t][2]);
        std::printf("  %d thread(s): fault->gone helper/baseline %.2fx, none/baseline %.2fx; start() helper/launch %.2fx, none/launch %.2fx\n",
                    thread_counts[t], median(gone[t][0]) / floor, median(gone[t][1]) / floor,
                    median(start[t][0]) / median(launch[t][2]), median(start[t][1]) / median(launch[t][2]));
    }
    return 0;
}
