// crashdrop/transport/upload.hpp - turns a report into the request a crash server expects and
// its reply into a verdict: the multipart body (Breakpad/Crashpad/Electron, Socorro or Sentry
// fields) or a Sentry envelope, optional gzip, the client (Linux: http:// through the built-in client, https:// through
// libcurl; Windows: both through WinHTTP), and the reading of the reply (interpret_reply: 2xx +
// id: sent; 400, 413 or Socorro's "Discarded=": rejected; a configuration error such as 404:
// pending with the longest back-off; anything else, or no reply: retry later, after Retry-After
// for 429 and 503; Sentry's X-Sentry-Rate-Limits holds every report back while it lasts).
// Context: implementation TU; helper process (ordinary code, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && (CRASHDROP_OS_LINUX || CRASHDROP_OS_WINDOWS)

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// Everything the built-in transport needs to know (from Options, or from the config an
/// external helper reads).
struct upload_settings {
    std::string url;  // resolved (a Sentry DSN already turned into its endpoint)
    UploadFormat format = UploadFormat::crashpad;
    bool compress = true;
    std::string ca_file;
    int connect_timeout_ms = 10000;
    int upload_timeout_ms = 60000;
    std::size_t max_attachment_bytes = 4u * 1024u * 1024u;  // an attachment not copied at persist time is cut here
    std::string sentry_dsn;   // format sentry: the DSN (its key goes in X-Sentry-Auth, the DSN in the envelope header)
    std::string environment;  // Options::environment (Sentry's `environment`; empty: none sent)
};

struct multipart_part {
    std::string name;
    std::string value;         // text, or the file's bytes
    std::string filename;      // non-empty: a file part
    std::string content_type;  // for file parts
};

CRASHDROP_COLD inline std::string multipart_body(const std::vector<multipart_part>& parts, const std::string& boundary) {
    std::string body;
    for (const auto& p : parts) {
        body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
        if (!p.filename.empty()) {
            body += "; filename=\"" + p.filename + "\"\r\nContent-Type: " +
                    (p.content_type.empty() ? std::string("application/octet-stream") : p.content_type);
        }
        body += "\r\n\r\n";
        body += p.value;
        body += "\r\n";
    }
    body += "--" + boundary + "--\r\n";
    return body;
}

/// A field name must not break the Content-Disposition header it sits in.
CRASHDROP_COLD inline std::string safe_field_name(const std::string& name) {
    std::string out;
    for (const char c : name) out += (c == '"' || c == '\r' || c == '\n' || c == '\\') ? '_' : c;
    return out;
}

/// A JSON string literal of `v`: quotes, backslashes and control bytes escaped, and bytes that
/// are not valid UTF-8 replaced by U+FFFD (servers reject invalid JSON text).
CRASHDROP_COLD inline std::string json_string(const std::string& v) {
    static const char k_hex[] = "0123456789abcdef";
    std::string out = "\"";
    const auto* s = reinterpret_cast<const unsigned char*>(v.data());
    const std::size_t n = v.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned char c = s[i];
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                out += '\\';
                out += static_cast<char>(c);
            } else if (c < 0x20 || c == 0x7f) {
                out += "\\u00";
                out += k_hex[c >> 4];
                out += k_hex[c & 0xf];
            } else {
                out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        // The length of a well-formed UTF-8 sequence starting here (0: malformed).
        std::size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (len != 0 && i + len <= n) {
            for (std::size_t k = 1; k < len; ++k) {
                if ((s[i + k] & 0xC0) != 0x80) len = 0;
            }
            if (len == 3 && ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F))) len = 0;  // overlong, surrogate
            if (len == 4 && ((c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))) len = 0;
        } else {
            len = 0;
        }
        if (len == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(v, i, len);
            i += len;
        }
    }
    return out + "\"";
}

CRASHDROP_COLD inline std::string json_object(const std::map<std::string, std::string>& kv) {
    std::string out = "{";
    for (const auto& e : kv) out += (out.size() > 1 ? "," : "") + json_string(e.first) + ":" + json_string(e.second);
    return out + "}";
}

/// UTC milliseconds as ISO 8601 ("2026-11-22T10:11:12.345Z").
CRASHDROP_COLD inline std::string iso8601_ms(long long ms) {
    const auto seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    utc_time(seconds, &tm);
    char buf[40];
    const std::size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms % 1000));
    return buf;
}

/// The level a Sentry event of each kind has. Sentry keeps the level the event JSON gives (Relay
/// sets `fatal` only when there is none; its minidump processing sets fatal/info only then):
/// a crash and an abnormal exit ended the process: `fatal`; a hang did not (the application
/// went on; Sentry's own SDKs file a hang or an ANR as an error): `error`; a write_dump() is the
/// application's own diagnostic, no failure (Sentry gives a minidump of a process that did not
/// crash `info`): `info`.
CRASHDROP_COLD inline const char* sentry_level(report_kind k) {
    switch (k) {
        case report_kind::crash:
        case report_kind::abnormal_exit: return "fatal";
        case report_kind::hang: return "error";
        case report_kind::requested: return "info";
    }
    return "fatal";
}

/// Sentry's event (the `sentry` part): release, level (sentry_level), tags (the report's kind
/// as `crash_kind`), user, breadcrumbs and the annotations as extra data. A report that is not
/// a crash gets the fingerprint ["{{ default }}", <kind>]: grouped by its stack as a crash is,
/// but never into a crash's issue (a hang in the same function as a crash is another
/// problem). A crash keeps Sentry's default grouping (no fingerprint), so crash issues stay as
/// they were. No exception or mechanism is sent: for a minidump upload Relay replaces the
/// event's exceptions with its placeholder (mechanism type `minidump`, the mark that makes the
/// dump processed) and the processed dump then fills it in.
CRASHDROP_COLD inline std::string sentry_event_json(const Report& r) {
    report_kind kind = report_kind::crash;
    if (!report_kind_from_name(r.kind, &kind)) kind = report_kind::crash;
    std::map<std::string, std::string> tags = r.tags;
    if (!r.product.empty()) tags.emplace("product", r.product);
    tags["crashdrop.report_id"] = r.id;
    tags[k_crash_kind_field] = report_kind_name(kind);  // searchable, groupable
    std::map<std::string, std::string> extra;
    for (const auto& a : r.annotations) {
        if (a.first != "prod" && a.first != "ver" && a.first != k_crash_kind_field) extra[a.first] = a.second;
    }
    std::map<std::string, std::string> user;
    if (!r.user.id.empty()) user["id"] = r.user.id;
    if (!r.user.username.empty()) user["username"] = r.user.username;
    if (!r.user.email.empty()) user["email"] = r.user.email;
    if (!r.user.ip_address.empty()) user["ip_address"] = r.user.ip_address;
    std::string crumbs;
    for (const Breadcrumb& b : r.breadcrumbs) {
        char ts[32];
        std::snprintf(ts, sizeof(ts), "%lld.%03d", static_cast<long long>(b.timestamp_ms / 1000), static_cast<int>(b.timestamp_ms % 1000));
        crumbs += std::string(crumbs.empty() ? "" : ",") + "{\"timestamp\":" + ts + ",\"type\":\"default\",\"level\":" +
                  json_string(level_name(b.level)) + ",\"category\":" + json_string(b.category) +
                  ",\"message\":" + json_string(b.message) + "}";
    }
    std::string out = "{\"level\":" + json_string(sentry_level(kind)) + ",\"platform\":\"native\"";
    if (kind != report_kind::crash) out += ",\"fingerprint\":[\"{{ default }}\"," + json_string(report_kind_name(kind)) + "]";
    if (!r.product.empty()) out += ",\"release\":" + json_string(r.version.empty() ? r.product : r.product + "@" + r.version);
    out += ",\"tags\":" + json_object(tags);
    if (!user.empty()) out += ",\"user\":" + json_object(user);
    out += ",\"extra\":" + json_object(extra);
    out += ",\"breadcrumbs\":{\"values\":[" + crumbs + "]}";
    return out + "}";
}

/// Sentry's event id for a report: its UUID as 32 lower-case hex digits (no dashes); empty when
/// the id is not a UUID (then Sentry assigns one).
CRASHDROP_COLD inline std::string sentry_event_id(const std::string& report_id) {
    std::string out;
    for (const char c : report_id) {
        if (c == '-') continue;
        if (!std::isxdigit(static_cast<unsigned char>(c))) return std::string();
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out.size() == 32 ? out : std::string();
}

/// Sentry's `contexts.os` for this machine (the helper runs where the crash happened).
CRASHDROP_COLD inline std::string sentry_os_context() {
#if CRASHDROP_OS_WINDOWS
    // RtlGetVersion (ntdll) tells the version as it is; GetVersionEx says what the executable's
    // manifest claims to support.
    using rtl_get_version_fn = LONG(WINAPI*)(OSVERSIONINFOW*);
    OSVERSIONINFOW v;
    std::memset(&v, 0, sizeof(v));
    v.dwOSVersionInfoSize = sizeof(v);
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    const auto get = ntdll == nullptr ? nullptr : reinterpret_cast<rtl_get_version_fn>(reinterpret_cast<void (*)()>(GetProcAddress(ntdll, "RtlGetVersion")));
    if (get == nullptr || get(&v) != 0) return "{\"name\":\"Windows\"}";
    return "{\"name\":\"Windows\",\"version\":\"" + std::to_string(v.dwMajorVersion) + "." + std::to_string(v.dwMinorVersion) + "." +
           std::to_string(v.dwBuildNumber) + "\",\"build\":\"" + std::to_string(v.dwBuildNumber) + "\"}";
#else
    struct utsname u;
    if (uname(&u) != 0) return "{\"name\":\"Linux\"}";
    return "{\"name\":" + json_string(u.sysname) + ",\"version\":" + json_string(u.release) +
           ",\"kernel_version\":" + json_string(std::string(u.release) + " " + u.version) + "}";
#endif
}

/// The event item of an envelope: sentry_event_json (which alone decides level, fingerprint,
/// tags, user, extra, breadcrumbs) with the event id, the crash time as `timestamp` (not the
/// upload time), `environment` (when set) and `contexts.os`.
CRASHDROP_COLD inline std::string sentry_envelope_event_json(const Report& r, const std::string& environment) {
    std::string out = sentry_event_json(r);
    out.pop_back();  // the closing brace
    const std::string event_id = sentry_event_id(r.id);
    if (!event_id.empty()) out += ",\"event_id\":" + json_string(event_id);
    out += ",\"timestamp\":" + json_string(iso8601_ms(static_cast<long long>(r.created) * 1000));
    if (!environment.empty()) out += ",\"environment\":" + json_string(environment);
    out += ",\"contexts\":{\"os\":" + sentry_os_context() + "}";
    return out + "}";
}

/// A report as a Sentry envelope: a header line ({"event_id","dsn","sent_at"}), then items, each
/// an item header line with an explicit `length`, the payload and a newline: the event, the dump
/// (attachment_type event.minidump), then each other attachment as a plain attachment.
CRASHDROP_COLD inline std::string sentry_envelope(const Upload& up, const upload_settings& s, long long now_ms) {
    const Report& r = up.report;
    std::string out = "{";
    const std::string event_id = sentry_event_id(r.id);
    if (!event_id.empty()) out += "\"event_id\":" + json_string(event_id) + ",";
    if (!s.sentry_dsn.empty()) out += "\"dsn\":" + json_string(s.sentry_dsn) + ",";
    out += "\"sent_at\":" + json_string(iso8601_ms(now_ms)) + "}\n";
    auto item = [&out](const std::string& header_fields, const std::string& payload) {
        out += "{" + header_fields + ",\"length\":" + std::to_string(payload.size()) + "}\n";
        out += payload;
        out += "\n";
    };
    item("\"type\":\"event\",\"content_type\":\"application/json\"", sentry_envelope_event_json(r, s.environment));
    item("\"type\":\"attachment\",\"attachment_type\":\"event.minidump\",\"content_type\":\"application/octet-stream\","
         "\"filename\":" + json_string(r.id + ".dmp"),
         std::string(up.dump.begin(), up.dump.end()));
    for (const std::string& path : up.attachments) {
        std::string bytes;
        bool cut = false;
        if (!read_file_tail(path, s.max_attachment_bytes, &bytes, &cut, false)) continue;  // gone since: send the rest
        const std::size_t slash = path.find_last_of(CRASHDROP_OS_WINDOWS ? "/\\" : "/");
        const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
        item("\"type\":\"attachment\",\"content_type\":\"application/octet-stream\",\"filename\":" + json_string(base), bytes);
    }
    return out;
}

/// How long an X-Sentry-Rate-Limits value holds back a report with a minidump: the longest of
/// its limits that apply (categories empty: all; or naming `error`, the event's category,
/// `default`, its older name, or `attachment`, the dump's), in ms, at most an hour; 0: none.
/// The value is comma-separated groups <seconds>:<category;category...>:<scope>[:<reason>...];
/// a malformed group is skipped; at most 64 groups are read.
CRASHDROP_COLD inline long long sentry_rate_limit_ms(const std::string& value) {
    auto trim = [](const std::string& t) {
        std::size_t b = 0, e = t.size();
        while (b < e && (t[b] == ' ' || t[b] == '\t')) ++b;
        while (e > b && (t[e - 1] == ' ' || t[e - 1] == '\t')) --e;
        return t.substr(b, e - b);
    };
    long long longest = 0;
    std::size_t start = 0;
    for (int groups = 0; groups < 64 && start <= value.size(); ++groups) {
        std::size_t end = value.find(',', start);
        if (end == std::string::npos) end = value.size();
        const std::string group = value.substr(start, end - start);
        start = end + 1;
        const std::size_t c1 = group.find(':');
        if (c1 == std::string::npos) continue;
        // Seconds: digits, optionally a fraction; rounded up to whole ms.
        const std::string secs = trim(group.substr(0, c1));
        const std::size_t dot = secs.find('.');
        const std::string whole = secs.substr(0, dot);
        const std::string frac = dot == std::string::npos ? std::string() : secs.substr(dot + 1);
        if (whole.empty() || whole.size() > 9 || whole.find_first_not_of("0123456789") != std::string::npos ||
            frac.find_first_not_of("0123456789") != std::string::npos || (dot != std::string::npos && frac.empty())) {
            continue;
        }
        long long ms = std::atoll(whole.c_str()) * 1000;
        long long scale = 100;
        bool rest = false;
        for (const char d : frac) {
            if (scale > 0) ms += (d - '0') * scale;
            else if (d != '0') rest = true;
            scale /= 10;
        }
        if (rest) ++ms;
        const std::size_t c2 = group.find(':', c1 + 1);
        const std::string categories = group.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
        bool applies = trim(categories).empty();
        std::size_t at = 0;
        while (!applies && at <= categories.size()) {
            std::size_t semi = categories.find(';', at);
            if (semi == std::string::npos) semi = categories.size();
            const std::string c = trim(categories.substr(at, semi - at));
            applies = c == "error" || c == "default" || c == "attachment";
            at = semi + 1;
        }
        if (applies) longest = std::max(longest, ms);
    }
    return std::min(longest, k_max_retry_wait_ms);
}

/// Until when (steady clock, ms) Sentry asked this process to send nothing (rate limits); one
/// helper sends to one server.
CRASHDROP_COLD inline std::atomic<long long>& sentry_hold_until_ms() {
    static std::atomic<long long> until{0};
    return until;
}

CRASHDROP_COLD inline long long steady_now_ms() {
    return static_cast<long long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

/// Breadcrumbs as one text field for the plain formats: a line each, oldest first.
CRASHDROP_COLD inline std::string breadcrumbs_text(const std::vector<Breadcrumb>& crumbs) {
    std::string out;
    for (const Breadcrumb& b : crumbs) {
        out += iso8601_ms(b.timestamp_ms) + " " + level_name(b.level) + " [" + b.category + "] " + b.message + "\n";
    }
    return out;
}

/// The parts a report is sent as, in the given format.
CRASHDROP_COLD inline std::vector<multipart_part> report_parts(const Upload& up, UploadFormat format,
                                                std::size_t max_attachment_bytes = 4u * 1024u * 1024u) {
    std::vector<multipart_part> parts;
    auto text = [&parts](const std::string& name, const std::string& value) {
        parts.push_back({safe_field_name(name), value, std::string(), std::string()});
    };
    const Report& r = up.report;
    // The plain formats: annotations as fields (long ones as key__1, key__2, ... like
    // Electron's Linux builds), tags as tag.<key>, the user as user.<field>, breadcrumbs as
    // one text field; the report's kind as crash_kind (an annotation of that name gives way).
    auto plain_context = [&]() {
        text(k_crash_kind_field, r.kind.empty() ? report_kind_name(report_kind::crash) : r.kind);
        std::map<std::string, std::string> annotations = r.annotations;
        annotations.erase(k_crash_kind_field);
        for (const auto& a : split_annotation_parts(annotations)) {
            if (a.first != "prod" && a.first != "ver") text(a.first, a.second);
        }
        for (const auto& t : r.tags) text("tag." + t.first, t.second);
        if (!r.user.id.empty()) text("user.id", r.user.id);
        if (!r.user.username.empty()) text("user.username", r.user.username);
        if (!r.user.email.empty()) text("user.email", r.user.email);
        if (!r.user.ip_address.empty()) text("user.ip_address", r.user.ip_address);
        if (!r.breadcrumbs.empty()) text("breadcrumbs", breadcrumbs_text(r.breadcrumbs));
    };
    switch (format) {
        case UploadFormat::crashpad:
            text("prod", r.product);
            text("ver", r.version);
            text("guid", up.client_id);
            text("_productName", r.product);
            text("_version", r.version);
            text("platform", CRASHDROP_OS_WINDOWS ? "win32" : "linux");  // Electron's process.platform
            text("process_type", "main");
            plain_context();
            break;
        case UploadFormat::socorro:
            text("ProductName", r.product);
            text("Version", r.version);
            text("ReportId", r.id);
            plain_context();
            break;
        case UploadFormat::sentry:  // (sent as an envelope, sentry_envelope; these parts for a custom caller)
        case UploadFormat::sentry_minidump:
            // Everything in one JSON event; no other text fields (they would land in "extra").
            text("sentry", sentry_event_json(r));
            break;
    }
    parts.push_back({"upload_file_minidump", std::string(up.dump.begin(), up.dump.end()), r.id + ".dmp",
                     "application/octet-stream"});
    for (const std::string& path : up.attachments) {
        std::string bytes;
        bool cut = false;
        // The helper's copies in the database: read without following a link, regular files only.
        if (!read_file_tail(path, max_attachment_bytes, &bytes, &cut, false)) continue;  // gone since: send the rest
        const std::size_t slash = path.find_last_of(CRASHDROP_OS_WINDOWS ? "/\\" : "/");
        const std::string base = safe_field_name(slash == std::string::npos ? path : path.substr(slash + 1));
        parts.push_back({base, bytes, base, "application/octet-stream"});
    }
    return parts;
}

/// Reads a server's reply as a verdict, per format. The status decides first, the same for
/// every client (classify_http_status); the body then gives the server id, or Socorro's
/// "Discarded=" refusal. `now` (UTC seconds) is for a Retry-After given as a date.
CRASHDROP_COLD inline UploadResult interpret_reply(const http_response& reply, UploadFormat format, long long now = -1) {
    UploadResult out;
    auto trimmed = [](std::string s) {
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
        return s;
    };
    const std::string body = trimmed(reply.body);
    if (reply.status == 0) {
        out.status = UploadStatus::retry_later;
        out.message = reply.error;
        return out;
    }
    const std::string status = "HTTP " + std::to_string(reply.status);
    switch (classify_http_status(reply.status)) {
        case http_status_class::rejected:
            out.status = UploadStatus::rejected;
            out.message = status + ": " + body.substr(0, 200);
            return out;
        case http_status_class::configuration:
            // The URL, the credentials or a proxy is wrong: nothing the report can be blamed for.
            out.status = UploadStatus::retry_later;
            out.retry_after_ms = k_max_retry_wait_ms;
            out.message = status + " (check the upload URL, credentials and proxy; the report is kept): " + body.substr(0, 200);
            return out;
        case http_status_class::retry: {
            out.status = UploadStatus::retry_later;
            out.message = status + ": " + body.substr(0, 200);
            if (reply.status < 200 || (reply.status >= 300 && reply.status < 400)) {
                out.message = status + " (not a success; redirects are not followed)";
            }
            auto ra = reply.headers.find("retry-after");
            if ((reply.status == 429 || reply.status == 503) && ra != reply.headers.end()) {
                const long long ms = http_retry_after_ms(ra->second, now >= 0 ? now : static_cast<long long>(std::time(nullptr)));
                if (ms > 0) {
                    out.retry_after_ms = std::min(ms, k_max_retry_wait_ms);
                    out.message += " (Retry-After: " + ra->second.substr(0, 64) + ")";
                }
            }
            return out;
        }
        case http_status_class::sent:
            break;
    }
    if (format == UploadFormat::socorro) {
        if (body.rfind("Discarded=", 0) == 0) {
            out.status = UploadStatus::rejected;
            out.message = body.substr(0, 200);
            return out;
        }
        out.status = UploadStatus::sent;
        out.server_id = body.rfind("CrashID=", 0) == 0 ? body.substr(8) : body;
        return out;
    }
    if (format == UploadFormat::sentry || format == UploadFormat::sentry_minidump) {
        // {"id":"<event id>"}: pick the value after "id".
        const std::size_t key = body.find("\"id\"");
        if (key != std::string::npos) {
            const std::size_t open = body.find('"', body.find(':', key) + 1);
            const std::size_t close = open == std::string::npos ? open : body.find('"', open + 1);
            if (close != std::string::npos) out.server_id = body.substr(open + 1, close - open - 1);
        }
        if (out.server_id.empty()) out.server_id = body;
        out.status = UploadStatus::sent;
        return out;
    }
    out.status = UploadStatus::sent;
    out.server_id = body;  // Crashpad keeps the reply verbatim as the report's server id
    return out;
}

/// One attempt with the built-in transport.
CRASHDROP_COLD inline UploadResult upload_builtin(const Upload& up, const upload_settings& s) {
    UploadResult bad;
    bad.status = UploadStatus::retry_later;
    url_parts url;
    std::string target = s.url;
    if (s.format == UploadFormat::crashpad) {
        target = add_query(s.url, {{"product", up.report.product}, {"version", up.report.version}, {"guid", up.client_id}});
    }
    if (!parse_url(target, &url, &bad.message)) {
        // A configuration error: the report is not to blame, and a corrected URL at the next
        // start() sends it.
        bad.retry_after_ms = k_max_retry_wait_ms;
        return bad;
    }
    const bool sentry = s.format == UploadFormat::sentry || s.format == UploadFormat::sentry_minidump;
    if (sentry) {
        // Held back while a rate limit Sentry announced lasts (nothing is sent, nothing lost).
        const long long left = sentry_hold_until_ms().load() - steady_now_ms();
        if (left > 0) {
            bad.retry_after_ms = left;
            bad.message = "held back: Sentry's rate limit lasts another " + std::to_string(left) + " ms";
            return bad;
        }
    }
    std::string body;
    http_headers headers;
    if (s.format == UploadFormat::sentry) {
        const long long now_ms = static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                            std::chrono::system_clock::now().time_since_epoch())
                                                            .count());
        body = sentry_envelope(up, s, now_ms);
        headers = {{"Content-Type", "application/x-sentry-envelope"}, {"User-Agent", "crashdrop/" CRASHDROP_VERSION_STRING}};
        sentry_dsn_parts dsn;
        if (!s.sentry_dsn.empty() && parse_sentry_dsn(s.sentry_dsn, &dsn, nullptr)) {
            headers.emplace_back("X-Sentry-Auth", "Sentry sentry_version=7, sentry_key=" + dsn.key +
                                                      ", sentry_client=crashdrop/" CRASHDROP_VERSION_STRING);
        }
    } else {
        const std::string boundary = "----crashdrop-" + up.report.id;
        std::vector<multipart_part> parts = report_parts(up, s.format, s.max_attachment_bytes);
        for (multipart_part& p : parts) {
            // The minidump endpoint's event carries the environment too.
            if (s.format == UploadFormat::sentry_minidump && p.name == "sentry" && !s.environment.empty() && !p.value.empty()) {
                p.value.pop_back();
                p.value += ",\"environment\":" + json_string(s.environment) + "}";
            }
        }
        body = multipart_body(parts, boundary);
        headers = {{"Content-Type", "multipart/form-data; boundary=" + boundary}, {"User-Agent", "crashdrop/" CRASHDROP_VERSION_STRING}};
    }
    if (s.compress) {
        body = gzip_compress(body.data(), body.size());
        headers.emplace_back("Content-Encoding", "gzip");
    }
#if CRASHDROP_OS_WINDOWS
    const http_response reply = winhttp_post(url, headers, body, s.connect_timeout_ms, s.upload_timeout_ms, s.ca_file);
#else
    const http_response reply = url.scheme == "https"
                                    ? curl_post(target, headers, body, s.connect_timeout_ms, s.upload_timeout_ms, s.ca_file)
                                    : http_post(url, headers, body, s.connect_timeout_ms, s.upload_timeout_ms);
#endif
    UploadResult result = interpret_reply(reply, s.format);
    if (sentry && reply.status != 0) {
        // X-Sentry-Rate-Limits decides when present (even on a 200: it limits what comes next);
        // else a 429 holds everything for its Retry-After (60 s without one).
        long long hold = 0;
        const auto limits = reply.headers.find("x-sentry-rate-limits");
        if (limits != reply.headers.end()) {
            hold = sentry_rate_limit_ms(limits->second);
        } else if (reply.status == 429) {
            hold = result.retry_after_ms > 0 ? result.retry_after_ms : 60000;
        }
        if (hold > 0) {
            sentry_hold_until_ms().store(steady_now_ms() + hold);
            if (result.status == UploadStatus::retry_later) {
                result.retry_after_ms = std::max(result.retry_after_ms, hold);
                if (limits != reply.headers.end()) result.message += " (X-Sentry-Rate-Limits: " + limits->second.substr(0, 64) + ")";
            }
        }
    }
    return result;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && (CRASHDROP_OS_LINUX || CRASHDROP_OS_WINDOWS)
