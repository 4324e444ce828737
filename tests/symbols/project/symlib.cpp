#include "symlib.h"

extern "C" __attribute__((noinline)) int symlib_crash(volatile int* target) {
    *target = 42;  // target is null: SIGSEGV here
    return *target;
}
