// hostile_plugin - a plugin (a shared object holding crashdrop) that hostile_host loads: it
// starts crashdrop with the fork-mode helper (the mode meant for plugins inside hosts) and
// crashes when asked.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <string.h>

int* volatile g_plugin_null = nullptr;

/// Starts crashdrop (fork-mode helper) on `database`, uploading to `url`; `notes` gets start()'s
/// notes. 0 on success.
extern "C" __attribute__((visibility("default"))) int hostile_plugin_start(const char* database, const char* url, char* notes,
                                                                           size_t notes_size) {
    crashdrop::Options o;
    o.database_path = database;
    o.submit_url = url;
    o.product_name = "HostilePlugin";
    o.product_version = "1.0";
    o.helper_mode = crashdrop::HelperMode::fork;
    o.only_this_module = true;
    const crashdrop::Status s = crashdrop::start(o);
    const std::string text = s.message();
    if (notes_size > 0) {
        strncpy(notes, text.c_str(), notes_size - 1);
        notes[notes_size - 1] = '\0';
    }
    return s.ok() ? 0 : 1;
}

// The store to null is the point: UBSan (tools/test_sanitizers.sh) must let it fault.
__attribute__((noinline, no_sanitize("undefined"))) static void plugin_crash_here() {
    *g_plugin_null = 7;
    __asm__ volatile("");
}

extern "C" __attribute__((visibility("default"))) void hostile_plugin_crash() {
    plugin_crash_here();
    __asm__ volatile("");
}
