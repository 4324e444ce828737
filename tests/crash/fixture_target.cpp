// fixture_target - the smallest crash worth keeping: one thread, no helper process, a null
// write three calls below main. Built for aarch64 and run under qemu-aarch64 it made
// tests/fixtures/aarch64/fixture_target.dmp (see docs/platforms.md, "A real dump, kept";
// tools/make_aarch64_fixture.sh regenerates it).
//
//   fixture_target <database folder>
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>

int* volatile g_fixture_null = nullptr;

__attribute__((noinline)) void fixture_leaf() { *g_fixture_null = 42; }
__attribute__((noinline)) void fixture_middle() {
    fixture_leaf();
    __asm__ volatile("");
}
__attribute__((noinline)) void fixture_outer() {
    fixture_middle();
    __asm__ volatile("");
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: fixture_target <database folder>\n");
        return 2;
    }
    crashdrop::Options o;
    o.database_path = argv[1];
    o.product_name = "fixture_target";
    o.product_version = "1.0";
    o.helper_mode = crashdrop::HelperMode::none;
    const crashdrop::Status s = crashdrop::start(o);
    if (!s.ok()) {
        std::fprintf(stderr, "crashdrop::start: %s\n", s.message().c_str());
        return 2;
    }
    // What the live process looks like, for the fixture's expect.txt: its threads (under
    // qemu-user /proc/self/task lists the emulator's own helper thread too) and the crashing one.
    int threads = 0;
    if (DIR* d = opendir("/proc/self/task")) {
        while (dirent* e = readdir(d)) threads += e->d_name[0] >= '0' && e->d_name[0] <= '9';
        closedir(d);
    }
    std::printf("threads=%d\ncrash_tid=%ld\n", threads, static_cast<long>(syscall(SYS_gettid)));
    std::fflush(stdout);
    fixture_outer();
    __asm__ volatile("");
    std::fprintf(stderr, "fixture_target did not crash\n");
    return 1;
}
