// Loads a plugin that embeds crashdrop and asks it to start and write a dump.
#include <dlfcn.h>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc < 3) return 2;
    void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
        std::fprintf(stderr, "dlopen: %s\n", dlerror());
        return 3;
    }
    auto start = reinterpret_cast<int (*)(const char*)>(dlsym(h, "embed_plugin_start"));
    auto dump = reinterpret_cast<int (*)()>(dlsym(h, "embed_plugin_write_dump"));
    if (start == nullptr || dump == nullptr) return 4;
    if (start(argv[2]) != 0) return 5;
    if (dump() != 0) return 6;
    std::puts("plugin started crashdrop and wrote a dump");
    return 0;
}
