// Uses crashdrop from an installed package: start, write a dump, report where it went.
#define CRASHDROP_IMPLEMENTATION
#include <crashdrop.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    crashdrop::Options o;
    o.database_path = argv[1];
    o.product_name = "consumer";
    if (crashdrop::Status s = crashdrop::start(o); !s.ok()) {
        std::fprintf(stderr, "start: %s\n", s.message().c_str());
        return 1;
    }
    std::string path;
    if (!crashdrop::write_dump(&path).ok()) return 3;
    std::printf("crashdrop %s wrote %s\n", CRASHDROP_VERSION_STRING, path.c_str());
    return 0;
}
