// c_example_impl.cpp - the one C++ translation unit of the C example (c_example.c): it holds
// crashdrop's implementation, which the C code calls through the C interface. A C program
// needs exactly this file, and the C++ linker.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"
