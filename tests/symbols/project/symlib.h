// A shared library the test program calls into; it faults, so the crashing thread's frames cross
// two modules (the library and the executable), each named from its own .sym.
#pragma once
extern "C" int symlib_crash(volatile int* target);
