// tests/fuzz/http_reply_fuzz.cpp - a crash server's reply (transport/http_common.hpp), as the
// helper reads it from the connection: status line, headers, interim 1xx replies, chunked
// coding, Content-Length, bodies framed by the end, and Retry-After. Whatever the bytes:
//   - the parser never crashes and keeps its bounds (body kept <= 64 KiB, bytes used <= 1 MiB);
//   - fed in one piece or in pieces of any size (the first input byte picks the sizes), it
//     gives the same reply: the socket's way of splitting bytes never changes the answer;
//   - a reply it accepts has a final status (200..599) and reads as a verdict in every format;
//   - a Retry-After value reads as -1 (unreadable) or a wait >= 0.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace cd = crashdrop::detail;

namespace {

bool same(const cd::http_response& a, const cd::http_response& b) {
    return a.status == b.status && a.body == b.body && a.headers == b.headers && a.error == b.error;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned pattern = data[0];
    const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

    cd::http_reply_parser whole;
    const std::size_t used = whole.feed(bytes.data(), bytes.size());
    whole.finish();
    const cd::http_response a = whole.result();
    if (used > bytes.size() || used > cd::k_http_max_reply) std::abort();

    // The same bytes in pieces of 1..(pattern % 17 + 1) bytes, cycling.
    cd::http_reply_parser pieces;
    std::size_t pos = 0, k = 0;
    const std::size_t longest = pattern % 17 + 1;
    while (pos < bytes.size() && !pieces.finished()) {
        const std::size_t n = std::min(bytes.size() - pos, k++ % longest + 1);
        const std::size_t took = pieces.feed(bytes.data() + pos, n);
        if (took > n) std::abort();
        pos += n;
    }
    pieces.finish();
    const cd::http_response b = pieces.result();
    if (!same(a, b)) std::abort();

    if (a.body.size() > cd::k_http_max_body_kept) std::abort();
    if (a.status == 0) {
        if (a.error.empty()) std::abort();  // a refusal always says why
    } else if (a.status < 200 || a.status > 599 || !a.error.empty()) {
        std::abort();  // interim replies are skipped, never the answer
    }
    for (auto format : {crashdrop::UploadFormat::crashpad, crashdrop::UploadFormat::socorro, crashdrop::UploadFormat::sentry}) {
        const crashdrop::UploadResult v = cd::interpret_reply(a, format, 1700000000);
        if (v.retry_after_ms < 0 || v.retry_after_ms > cd::k_max_retry_wait_ms) std::abort();
        if (v.status == crashdrop::UploadStatus::sent && a.status == 0) std::abort();
    }
    auto ra = a.headers.find("retry-after");
    if (ra != a.headers.end() && cd::http_retry_after_ms(ra->second, 1700000000) < -1) std::abort();
    // The input as a Retry-After value of its own (dates are the larger grammar).
    if (bytes.size() < 128 && cd::http_retry_after_ms(bytes, 1700000000) < -1) std::abort();
    return 0;
}
