// tests/fuzz/dsn_fuzz.cpp - a Sentry DSN (transport/url.hpp: sentry_minidump_url), as
// Options::sentry_dsn gives it. Whatever the text, it becomes an endpoint or an error that says
// why; an endpoint is an http(s) URL (parse_url accepts it) on the DSN's host and port, whose path
// ends in /api/<project>/minidump/ and whose query is sentry_key=<the key, percent-encoded>.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace cd = crashdrop::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string dsn(reinterpret_cast<const char*>(data), size);
    std::string url, error;
    if (!cd::sentry_minidump_url(dsn, &url, &error)) {
        if (error.empty()) std::abort();
        return 0;
    }
    cd::url_parts d, e;
    if (!cd::parse_url(dsn, &d, nullptr)) std::abort();  // it was accepted, so it is a URL
    if (!cd::parse_url(url, &e, &error)) std::abort();
    if (e.scheme != d.scheme || e.host != d.host || e.port != d.port) std::abort();
    const std::size_t q = e.target.find("/minidump/?sentry_key=");
    if (q == std::string::npos || e.target.find("/api/") == std::string::npos) std::abort();
    const std::string key = d.userinfo.substr(0, d.userinfo.find(':'));
    if (e.target.substr(q + 22) != cd::url_encode(key)) std::abort();
    return 0;
}
