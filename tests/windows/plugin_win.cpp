// plugin_win.dll - a DLL that embeds its own crashdrop, loaded by host_win.exe (which has none).
// It exports plugin_win_start (crashdrop::start with the given database) and plugin_win_crash (a
// null write inside the DLL: a real crash). No CodeView record (see CMakeLists.txt).
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdio>

namespace {
volatile int* volatile g_plugin_null = nullptr;
}  // namespace

extern "C" __declspec(dllexport) int plugin_win_start(const char* database) {
    crashdrop::Options o;
    o.database_path = database;
    o.product_name = "host_win_plugin";
    o.product_version = "1.0";
    o.only_this_module = true;  // a plugin's setting: on Windows it leaves std::terminate to the host
    const crashdrop::Status s = crashdrop::start(o);
    if (!s.ok()) std::fprintf(stderr, "plugin: start failed: %s\n", s.message().c_str());
    return s.ok() ? 1 : 0;
}

extern "C" __declspec(dllexport) __attribute__((noinline)) void plugin_win_crash() {
    *g_plugin_null = 7;
    __asm__ volatile("");
}
