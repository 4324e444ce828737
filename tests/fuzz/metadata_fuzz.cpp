// tests/fuzz/metadata_fuzz.cpp - a report's metadata file (<id>.meta, database/metadata.hpp), as
// the helper reads it from pending/: whatever the bytes, decode_report gives a report or an
// error, never a crash; a report it accepts encodes and decodes back to the same report, and
// takes the helper's bookkeeping (one attempt more) without overflow.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace cd = crashdrop::detail;

namespace {

bool same(const crashdrop::Report& a, const crashdrop::Report& b) {
    if (a.breadcrumbs.size() != b.breadcrumbs.size()) return false;
    for (std::size_t i = 0; i < a.breadcrumbs.size(); ++i) {
        const auto& x = a.breadcrumbs[i];
        const auto& y = b.breadcrumbs[i];
        if (x.timestamp_ms != y.timestamp_ms || x.level != y.level || x.category != y.category || x.message != y.message) return false;
    }
    return a.id == b.id && a.created == b.created && a.product == b.product && a.version == b.version && a.state == b.state &&
           a.attempts == b.attempts && a.last_attempt == b.last_attempt && a.server_id == b.server_id &&
           a.last_error == b.last_error && a.annotations == b.annotations && a.tags == b.tags && a.user.id == b.user.id &&
           a.user.username == b.user.username && a.user.email == b.user.email && a.user.ip_address == b.user.ip_address &&
           a.attachments == b.attachments && a.kind == b.kind;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    crashdrop::Report first;
    std::string error;
    if (!cd::decode_report(text, &first, &error)) {
        if (error.empty()) std::abort();  // a refusal always says why
        return 0;
    }
    // What the helper writes back (after an attempt) must read as the same report.
    const std::string again = cd::encode_report(first);
    crashdrop::Report second;
    if (!cd::decode_report(again, &second, &error) || !same(first, second)) std::abort();
    if (cd::encode_report(second) != again) std::abort();
    // What the helper does with it after an attempt (helper/service.hpp): one more attempt,
    // saved again. UBSan checks the arithmetic on whatever number the file held.
    second.attempts += 1;
    if (second.attempts < 1) std::abort();
    crashdrop::Report third;
    // (the count saturates at the decoder's bound: it may read back lower, never wrap)
    if (!cd::decode_report(cd::encode_report(second), &third, &error) || third.attempts < 1 || third.attempts > second.attempts) {
        std::abort();
    }
    return 0;
}
