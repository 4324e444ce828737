// The Windows crash target: starts crashdrop, then crashes the way argv[2] says. Run under
// wine by tests/windows/run_crash_case.py, which reads the dump with the Linux readers.
//     crash_target_win.exe <database> <case>
// Cases: null_write, divide_by_zero, stack_overflow, abort, thread_null_write, clean_exit.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

volatile int g_zero = 0;
volatile int* volatile g_null = nullptr;

__attribute__((noinline)) void crash_null_write() { *g_null = 42; }

__attribute__((noinline)) int crash_divide_by_zero() { return 100 / g_zero; }

__attribute__((noinline)) int recurse_forever(int depth) {
    volatile char pad[512];
    pad[0] = static_cast<char>(depth);
    return recurse_forever(depth + 1) + pad[0];
}

__attribute__((noinline)) void crash_abort() { std::abort(); }

__attribute__((noinline)) void worker_thread_body() { crash_null_write(); }

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s <database> <case>\n", argv[0]);
        return 2;
    }
    crashdrop::Options o;
    o.database_path = argv[1];
    o.product_name = "crash_target_win";
    o.product_version = "1.0";
    if (crashdrop::Status s = crashdrop::start(o); !s.ok()) {
        std::fprintf(stderr, "start failed: %s\n", s.message().c_str());
        return 3;
    }
    std::fflush(stdout);
    const char* what = argv[2];
    if (std::strcmp(what, "null_write") == 0) crash_null_write();
    else if (std::strcmp(what, "divide_by_zero") == 0) return crash_divide_by_zero();
    else if (std::strcmp(what, "stack_overflow") == 0) return recurse_forever(0);
    else if (std::strcmp(what, "abort") == 0) crash_abort();
    else if (std::strcmp(what, "thread_null_write") == 0) {
        std::thread t(worker_thread_body);
        t.join();
    } else if (std::strcmp(what, "clean_exit") == 0) {
        crashdrop::stop();
        return 0;
    } else {
        std::fprintf(stderr, "unknown case %s\n", what);
        return 2;
    }
    return 1;  // not reached when the crash happened
}
