// tests/fuzz/key_values_fuzz.cpp - the "key=value" text of the settings file (<db>/settings:
// client id, upload consent, last upload) and of every metadata file (database/metadata.hpp):
// whatever the bytes, parse_key_values gives a map, never a crash; what format_key_values writes
// from any map parses back to that map; every string survives meta_escape/meta_unescape.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

namespace cd = crashdrop::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    std::size_t bad = 0;
    const std::map<std::string, std::string> kv = cd::parse_key_values(text, &bad);
    for (const auto& e : kv) {
        if (e.first.empty()) std::abort();  // a line "=value" is refused, not stored under ""
    }
    // The settings file is rewritten from what was read (update_settings): nothing may change.
    const std::string written = cd::format_key_values(kv);
    std::size_t bad_again = 0;
    if (cd::parse_key_values(written, &bad_again) != kv || bad_again != 0) std::abort();
    if (cd::format_key_values(cd::parse_key_values(written)) != written) std::abort();
    // The settings' upload time, as the helper's rate limit reads it: a wait of 0 .. 3600 s.
    for (const auto& e : kv) {
        for (const std::time_t now : {std::time_t{0}, std::time_t{1700000000}, std::time_t{0x7fffffff}}) {
            const long long wait = cd::rate_limit_wait_seconds(e.second, now);
            if (wait < 0 || wait > 3600) std::abort();
        }
    }
    // Any bytes as one value (a tag, a user name, a path) come back as they were.
    if (cd::meta_unescape(cd::meta_escape(text)) != text) std::abort();
    const std::string escaped = cd::meta_escape(text);
    if (escaped.find_first_of("\n\r=") != std::string::npos) std::abort();
    return 0;
}
