// The implementation TU: it sees <windows.h>, but the user's macro state must survive: no
// min/max macros, and WIN32_LEAN_AND_MEAN / NOMINMAX as undefined as they were before.
// Also the test's main(): start() and stop() on a clean run, and the declarations-only TU.
// mingw's libstdc++ defines NOMINMAX itself (os_defines.h): compare with the state before.
#include <cstddef>
#define CRASHDROP_IMPLEMENTATION
#ifdef NOMINMAX
#define TEST_HAD_NOMINMAX 1
#else
#define TEST_HAD_NOMINMAX 0
#endif
#include "crashdrop.hpp"

#include <algorithm>
#include <cstdio>

#if !defined(_WINDOWS_) && !defined(_WINDOWS_H) && !defined(_INC_WINDOWS)
#error "expected the implementation TU to see <windows.h>"
#endif
#if defined(min) || defined(max)
#error "the implementation leaked min/max"
#endif
#if defined(WIN32_LEAN_AND_MEAN)
#error "the implementation left WIN32_LEAN_AND_MEAN defined"
#endif
#if defined(NOMINMAX) != TEST_HAD_NOMINMAX
#error "the implementation left NOMINMAX changed"
#endif

int decl_tu_min_max(int a, int b);
int user_macros_tu();

int main(int argc, char** argv) {
    int min = std::min(3, 4);
    int max = std::max(3, 4);
    if (min != 3 || max != 4 || decl_tu_min_max(2, 9) != 7 || user_macros_tu() != 1) return 1;
    crashdrop::Options o;
    o.database_path = argc > 1 ? argv[1] : "macro_leak_db";
    crashdrop::Status s = crashdrop::start(o);
    if (!s.ok()) {
        std::printf("start: %s\n", s.message().c_str());
        return 1;
    }
    if (!crashdrop::is_started() || crashdrop::start(o).code() != crashdrop::Error::already_started) return 1;
    crashdrop::stop();
    if (crashdrop::is_started()) return 1;
    s = crashdrop::start(o);  // start() again after stop()
    if (!s.ok()) return 1;
    crashdrop::stop();
    std::printf("ok\n");
    return 0;
}
