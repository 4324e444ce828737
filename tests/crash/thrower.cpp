// thrower.cpp - throws, from a translation unit compiled with exceptions, so crash_target can be
// built with -fno-exceptions -fno-rtti and still meet an uncaught exception.
#include <stdexcept>

void throw_runtime_error(const char* message) { throw std::runtime_error(message); }
