// tests/fuzz/sentry_rate_limits_fuzz.cpp - a Sentry server's X-Sentry-Rate-Limits value, as
// sentry_rate_limit_ms (transport/upload.hpp) reads it. Whatever the bytes:
//   - it never crashes and the hold is within 0 .. one hour;
//   - appending a group that limits every category for 1 s never shortens the hold, and makes it
//     at least 1 s (a malformed prefix costs its own groups only, up to the 64 read);
//   - a group naming only categories other than error, default and attachment adds nothing.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace cd = crashdrop::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string value(reinterpret_cast<const char*>(data), size);
    const long long hold = cd::sentry_rate_limit_ms(value);
    if (hold < 0 || hold > cd::k_max_retry_wait_ms) std::abort();
    std::size_t commas = 0;
    for (const char c : value) commas += c == ',' ? 1 : 0;
    if (commas < 60) {
        const long long more = cd::sentry_rate_limit_ms(value + ",1::organization");
        if (more < hold || more < 1000) std::abort();
        if (cd::sentry_rate_limit_ms(value + ",5:transaction;session:project") != hold) std::abort();
    }
    return 0;
}
