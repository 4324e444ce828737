// Declarations only: crashdrop.hpp must not pull <windows.h> (or anything that defines min/max)
// into an ordinary translation unit.
// mingw's libstdc++ defines NOMINMAX itself (os_defines.h): compare with the state before.
#include <cstddef>
#ifdef NOMINMAX
#define TEST_HAD_NOMINMAX 1
#else
#define TEST_HAD_NOMINMAX 0
#endif
#include "crashdrop.hpp"

#include <algorithm>

#if defined(_WINDOWS_) || defined(_WINDOWS_H) || defined(_INC_WINDOWS)
#error "crashdrop.hpp (declarations) included <windows.h>"
#endif
#if defined(min) || defined(max)
#error "crashdrop.hpp defined min/max"
#endif
#if defined(WIN32_LEAN_AND_MEAN)
#error "crashdrop.hpp left WIN32_LEAN_AND_MEAN defined"
#endif
#if defined(NOMINMAX) != TEST_HAD_NOMINMAX
#error "crashdrop.hpp left NOMINMAX changed"
#endif

int decl_tu_min_max(int a, int b) {
    int min = std::min(a, b);
    int max = std::max(a, b);
    return max - min;
}
