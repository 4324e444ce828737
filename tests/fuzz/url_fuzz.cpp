// tests/fuzz/url_fuzz.cpp - the upload URL (transport/url.hpp), as Options::submit_url or an
// external helper's configuration gives it. Whatever the text, parse_url accepts it or says why;
// what it accepts is an http(s) URL with a host, a port in 1..65535 and a target that starts with
// "/" and holds no fragment; with query parameters added it still parses to the same host and
// port; host and target hold no blank or control byte (they go into the request line and Host
// header); url_encode leaves only unreserved characters and %XX.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace cd = crashdrop::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    cd::url_parts u;
    std::string error;
    if (!cd::parse_url(text, &u, &error)) {
        if (error.empty()) std::abort();
    } else {
        if (u.scheme != "http" && u.scheme != "https") std::abort();
        if (u.host.empty() || u.port < 1 || u.port > 65535) std::abort();
        if (u.target.empty() || u.target[0] != '/' || u.target.find('#') != std::string::npos) std::abort();
        // Nothing that could split the request line or the Host header.
        for (const std::string* part : {&u.host, &u.target}) {
            for (const char ch : *part) {
                if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) std::abort();
            }
        }
        const std::string more = cd::add_query(text, {{"product", text.substr(0, 16)}, {"guid", "x y"}});
        cd::url_parts v;
        // A fragment in the original would swallow the added query; only check URLs without one.
        if (text.find('#') == std::string::npos) {
            if (!cd::parse_url(more, &v, &error)) std::abort();
            if (v.host != u.host || v.port != u.port || v.scheme != u.scheme) std::abort();
        }
    }
    const std::string enc = cd::url_encode(text);
    for (std::size_t i = 0; i < enc.size(); ++i) {
        const auto c = static_cast<unsigned char>(enc[i]);
        if (c == '%') {
            if (i + 2 >= enc.size()) std::abort();
            if (!std::isxdigit(static_cast<unsigned char>(enc[i + 1])) || !std::isxdigit(static_cast<unsigned char>(enc[i + 2]))) std::abort();
            i += 2;
        } else if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')) {
            std::abort();
        }
    }
    return 0;
}
