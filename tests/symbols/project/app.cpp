// symapp - the program of the symbols tests (tests/symbols/check_symbols.py): starts crashdrop
// with the database given, and crashes in a worker thread inside libsymlib. Its symbols and the
// library's are laid out by crashdrop_add_symbols() (CMake) or the meson helper; the test checks
// that minidump_stackwalk names every frame of the crashing thread down to worker_entry from them.
//   symapp <database folder>
#define CRASHDROP_IMPLEMENTATION
#include <crashdrop.hpp>

#include <cstdio>
#include <thread>

#include "symlib.h"

namespace symapp {

__attribute__((noinline)) int step_two(volatile int* target) { return symlib_crash(target) + 1; }

__attribute__((noinline)) int step_one(volatile int* target) { return step_two(target) + 1; }

__attribute__((noinline)) void worker_entry(volatile int* target) {
    std::printf("symapp: crashing in the worker thread\n");
    std::fflush(stdout);
    std::printf("%d\n", step_one(target));
}

}  // namespace symapp

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    crashdrop::Options options;
    options.database_path = argv[1];
    options.product_name = "symapp";
    if (crashdrop::Status s = crashdrop::start(options); !s.ok()) {
        std::fprintf(stderr, "crashdrop::start: %s\n", s.message().c_str());
        return 1;
    }
    std::thread worker(symapp::worker_entry, nullptr);
    worker.join();
    return 0;
}
