// crashdrop/helper/config.hpp - what the helper process runs by (the database, the upload
// settings, the bounds), and its text form: start() writes it into the memory it shares with
// the helper, which reads it back (an external helper has nothing else to go by).
// Context: implementation TU; ordinary code (start() and the helper).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// What the helper runs by; serialised into the shared region by start().
struct helper_config {
    std::string database;
    upload_settings upload;
    bool rate_limit = false;
    int retry_delay_ms = 60000;
    database_limits limits;
    std::string product;
    std::string version;
    HelperMode mode = HelperMode::reexec;
    std::size_t max_attachment_bytes = 4u * 1024u * 1024u;
    int linger_ms = 10000;  // Options::helper_linger_ms
    int hang_timeout_ms = 0;           // Options::hang_timeout_ms (0: off)
    bool report_abnormal_exits = true;  // Options::report_abnormal_exits
    std::size_t max_upload_bytes = 0;   // Options::max_upload_bytes (0: the format's default)
    int memory_capture = 0;             // Options::memory_capture (MemoryCapture's value; the Windows helper applies it)
};

inline std::string encode_helper_config(const helper_config& c) {
    std::map<std::string, std::string> kv;
    kv["database"] = c.database;
    kv["url"] = c.upload.url;
    kv["format"] = std::to_string(static_cast<int>(c.upload.format));
    kv["compress"] = c.upload.compress ? "1" : "0";
    kv["ca_file"] = c.upload.ca_file;
    kv["connect_timeout_ms"] = std::to_string(c.upload.connect_timeout_ms);
    kv["upload_timeout_ms"] = std::to_string(c.upload.upload_timeout_ms);
    kv["rate_limit"] = c.rate_limit ? "1" : "0";
    kv["retry_delay_ms"] = std::to_string(c.retry_delay_ms);
    kv["max_reports"] = std::to_string(c.limits.max_reports);
    kv["max_bytes"] = std::to_string(c.limits.max_bytes);
    kv["max_age_days"] = std::to_string(c.limits.max_age_days);
    kv["product"] = c.product;
    kv["version"] = c.version;
    kv["mode"] = std::to_string(static_cast<int>(c.mode));
    kv["max_attachment_bytes"] = std::to_string(c.max_attachment_bytes);
    kv["linger_ms"] = std::to_string(c.linger_ms);
    kv["hang_timeout_ms"] = std::to_string(c.hang_timeout_ms);
    kv["report_abnormal_exits"] = c.report_abnormal_exits ? "1" : "0";
    kv["environment"] = c.upload.environment;
    kv["sentry_dsn"] = c.upload.sentry_dsn;
    kv["max_upload_bytes"] = std::to_string(c.max_upload_bytes);
    kv["memory_capture"] = std::to_string(c.memory_capture);
    return format_key_values(kv);
}

/// A number of the configuration text, held to [low, high] (the bounds check_options holds the
/// options to); `fallback` when the text has none. Damaged text never gives a value outside.
inline int config_number(const std::string& text, int low, int high, int fallback) {
    char* end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);  // saturates; never undefined
    if (text.empty() || end == text.c_str()) return fallback;
    return static_cast<int>(std::min<long long>(high, std::max<long long>(low, v)));
}

inline helper_config decode_helper_config(const std::string& text) {
    auto kv = parse_key_values(text);
    helper_config c;
    c.database = kv["database"];
    c.upload.url = kv["url"];
    const int format = config_number(kv["format"], 0, static_cast<int>(UploadFormat::sentry_minidump), 0);
    c.upload.format = static_cast<UploadFormat>(format);
    c.upload.compress = kv["compress"] != "0";
    c.upload.ca_file = kv["ca_file"];
    c.upload.connect_timeout_ms = config_number(kv["connect_timeout_ms"], 100, 600000, c.upload.connect_timeout_ms);
    c.upload.upload_timeout_ms = config_number(kv["upload_timeout_ms"], 100, 600000, c.upload.upload_timeout_ms);
    c.rate_limit = kv["rate_limit"] == "1";
    c.retry_delay_ms = config_number(kv["retry_delay_ms"], 10, 3600000, c.retry_delay_ms);
    c.limits.max_reports = static_cast<std::size_t>(std::strtoull(kv["max_reports"].c_str(), nullptr, 10));
    c.limits.max_bytes = static_cast<std::size_t>(std::strtoull(kv["max_bytes"].c_str(), nullptr, 10));
    c.limits.max_age_days = config_number(kv["max_age_days"], 0, 0x7fffffff, 0);
    c.product = kv["product"];
    c.version = kv["version"];
    // An unknown mode (damaged text) is the default one, never a value outside the enum.
    c.mode = static_cast<HelperMode>(config_number(kv["mode"], 0, static_cast<int>(HelperMode::none), 0));
    if (!kv["max_attachment_bytes"].empty()) {
        c.max_attachment_bytes = static_cast<std::size_t>(std::strtoull(kv["max_attachment_bytes"].c_str(), nullptr, 10));
    }
    c.upload.max_attachment_bytes = c.max_attachment_bytes;
    if (!kv["linger_ms"].empty()) c.linger_ms = std::max(0, std::min(600000, std::atoi(kv["linger_ms"].c_str())));
    c.hang_timeout_ms = config_number(kv["hang_timeout_ms"], 0, 3600000, 0);
    if (c.hang_timeout_ms != 0 && c.hang_timeout_ms < 100) c.hang_timeout_ms = 100;
    c.report_abnormal_exits = kv["report_abnormal_exits"] != "0";
    c.upload.environment = kv["environment"];
    c.upload.sentry_dsn = kv["sentry_dsn"];
    c.max_upload_bytes = static_cast<std::size_t>(std::strtoull(kv["max_upload_bytes"].c_str(), nullptr, 10));
    c.memory_capture = config_number(kv["memory_capture"], 0, static_cast<int>(MemoryCapture::scrubbed_stacks), 0);
    return c;
}

/// What the helper will run by, from the options (the URL already resolved).
inline helper_config make_helper_config(const Options& o, const std::string& database_root) {
    helper_config c;
    c.database = database_root;
    c.upload.format = o.upload_format;
    c.upload.url = o.submit_url;
    if (!o.sentry_dsn.empty()) {
        // A DSN means Sentry: its envelope endpoint, unless the minidump endpoint was chosen.
        if (o.upload_format != UploadFormat::sentry_minidump) c.upload.format = UploadFormat::sentry;
        c.upload.sentry_dsn = o.sentry_dsn;
        if (c.upload.format == UploadFormat::sentry) sentry_envelope_url(o.sentry_dsn, &c.upload.url, nullptr);
        else sentry_minidump_url(o.sentry_dsn, &c.upload.url, nullptr);
    }
    c.upload.compress = o.compress;
    c.upload.ca_file = o.ca_file;
    c.upload.connect_timeout_ms = o.connect_timeout_ms;
    c.upload.upload_timeout_ms = o.upload_timeout_ms;
    c.rate_limit = o.rate_limit;
    c.retry_delay_ms = o.retry_delay_ms;
    c.limits.max_reports = o.max_reports;
    c.limits.max_bytes = o.max_database_bytes;
    c.limits.max_age_days = o.max_report_age_days;
    c.product = o.product_name;
    c.version = o.product_version;
    c.mode = o.helper_mode;
    c.max_attachment_bytes = o.max_attachment_bytes;
    c.linger_ms = o.helper_linger_ms;
    c.hang_timeout_ms = o.hang_timeout_ms;
    // A plugin (only_this_module) reports its own crashes only: its host's deaths (SIGKILL,
    // the OOM killer) are not the plugin's to report.
    c.report_abnormal_exits = o.report_abnormal_exits && !o.only_this_module;
    c.upload.environment = o.environment;
    c.max_upload_bytes = o.max_upload_bytes;
    c.memory_capture = static_cast<int>(o.memory_capture);
    return c;
}

/// An id's text (8-4-4-4-12 hex) as the GUID Crashpad's info stream holds.
inline bool parse_guid(const std::string& text, minidump::guid* g) {
    unsigned v[11] = {0};
    if (text.size() != 36 || std::sscanf(text.c_str(), "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x", &v[0], &v[1], &v[2], &v[3], &v[4],
                                         &v[5], &v[6], &v[7], &v[8], &v[9], &v[10]) != 11) {
        return false;
    }
    g->data1 = v[0];
    g->data2 = static_cast<std::uint16_t>(v[1]);
    g->data3 = static_cast<std::uint16_t>(v[2]);
    for (int i = 0; i < 8; ++i) g->data4[i] = static_cast<std::uint8_t>(v[3 + i]);
    return true;
}

/// A new random (version 4) id, 8-4-4-4-12 lower-case hex; defined by the platform's helper file.
inline std::string new_uuid();

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
