// tests/fuzz/helper_config_fuzz.cpp - the helper's configuration text (helper/config.hpp), which
// an external helper reads from the memory it shares with the application: whatever the bytes,
// decode_helper_config gives a configuration within its bounds, never a crash, and that
// configuration encodes and decodes back to itself.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace cd = crashdrop::detail;

namespace {

bool same(const cd::helper_config& a, const cd::helper_config& b) {
    return a.database == b.database && a.upload.url == b.upload.url && a.upload.format == b.upload.format &&
           a.upload.compress == b.upload.compress && a.upload.ca_file == b.upload.ca_file &&
           a.upload.connect_timeout_ms == b.upload.connect_timeout_ms && a.upload.upload_timeout_ms == b.upload.upload_timeout_ms &&
           a.rate_limit == b.rate_limit && a.retry_delay_ms == b.retry_delay_ms && a.limits.max_reports == b.limits.max_reports &&
           a.limits.max_bytes == b.limits.max_bytes && a.limits.max_age_days == b.limits.max_age_days && a.product == b.product &&
           a.version == b.version && a.mode == b.mode && a.max_attachment_bytes == b.max_attachment_bytes &&
           a.upload.max_attachment_bytes == b.upload.max_attachment_bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const cd::helper_config c = cd::decode_helper_config(text);
    // The bounds start() holds the options to (options_check.hpp), whatever the text said.
    if (c.upload.connect_timeout_ms < 100 || c.upload.connect_timeout_ms > 600000) std::abort();
    if (c.upload.upload_timeout_ms < 100 || c.upload.upload_timeout_ms > 600000) std::abort();
    if (c.retry_delay_ms < 10 || c.retry_delay_ms > 3600000 || c.limits.max_age_days < 0) std::abort();
    if (c.mode != crashdrop::HelperMode::reexec && c.mode != crashdrop::HelperMode::fork && c.mode != crashdrop::HelperMode::external &&
        c.mode != crashdrop::HelperMode::none) {
        std::abort();
    }
    const cd::helper_config again = cd::decode_helper_config(cd::encode_helper_config(c));
    if (!same(c, again)) std::abort();
    return 0;
}
