// Compiled by compile_matrix.py with every compiler, standard and flag set the header must
// accept (-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror, -fno-exceptions -fno-rtti):
// the implementation and ordinary use of the API in one TU.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    crashdrop::Options options;
    options.database_path = argc > 1 ? argv[1] : "/tmp/crashdrop-strict";
    options.product_name = "strict";
    const crashdrop::Status status = crashdrop::start(options);
    if (!status.ok()) {
        std::fprintf(stderr, "%s: %s\n", crashdrop::error_name(status.code()), status.message().c_str());
        return 1;
    }
    std::string path;
    return crashdrop::write_dump(&path).ok() ? 0 : 2;
}
