// A plugin (.so built with -fvisibility=hidden) that embeds crashdrop. It exports only its own
// two entry points; check_plugin.py verifies that none of crashdrop's symbols leak out.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <string>

extern "C" __attribute__((visibility("default"))) int embed_plugin_start(const char* database) {
    crashdrop::Options o;
    o.database_path = database;
    o.product_name = "embed_plugin";
    o.helper_mode = crashdrop::HelperMode::fork;  // a plugin cannot re-run its host
    return crashdrop::start(o).ok() ? 0 : 1;
}

extern "C" __attribute__((visibility("default"))) int embed_plugin_write_dump() {
    std::string path;
    return crashdrop::write_dump(&path).ok() ? 0 : 1;
}
