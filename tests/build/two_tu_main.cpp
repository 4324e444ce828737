// Two translation units include crashdrop.hpp; this one includes it twice, the second time
// with CRASHDROP_IMPLEMENTATION, as a program that already included it through another header
// would. The program must compile, link once, and work.
#include "crashdrop.hpp"
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdio>
#include <string>

bool other_tu_write_dump(std::string* path);  // two_tu_other.cpp

int main() {
    crashdrop::Options o;
    o.database_path = std::string(CRASHDROP_TEST_WORKDIR) + "/db";
    if (crashdrop::Status s = crashdrop::start(o); !s.ok()) {
        std::fprintf(stderr, "start: %s\n", s.message().c_str());
        return 1;
    }
    std::string path;
    if (!other_tu_write_dump(&path)) return 2;
    std::printf("dump written by the other TU: %s\n", path.c_str());
    return 0;
}
