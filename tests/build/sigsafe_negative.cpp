// Deliberately breaks the crash-path rules, to prove tools/check_sigsafe.py notices: functions
// placed in the crashdrop_sigsafe section that allocate, call libc's memcpy and use stdio.
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define IN_CRASH_SECTION __attribute__((section("crashdrop_sigsafe"), noinline))

IN_CRASH_SECTION void* capture_handler(std::size_t n) { return std::malloc(n); }
IN_CRASH_SECTION void write_minidump(char* dst, const char* src, std::size_t n) { std::memcpy(dst, src, n); }
IN_CRASH_SECTION void fatal_handler(const char* message, int value) { std::printf("%s %d\n", message, value); }

int main(int argc, char** argv) {
    char* p = static_cast<char*>(capture_handler(static_cast<std::size_t>(argc) + 64));
    write_minidump(p, argv[0], std::strlen(argv[0]) + 1);
    fatal_handler(p, argc);
    std::free(p);
    return 0;
}
