// Catch2's main() for the Windows unit tests, compiled once in its own file.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
