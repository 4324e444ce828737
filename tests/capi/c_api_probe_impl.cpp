// c_api_probe_impl.cpp - the C++ translation unit of c_api_probe (a C program): crashdrop's
// implementation, C interface included. Built once against include/ with exceptions and once
// against single_include/ with -fno-exceptions -fno-rtti.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"
