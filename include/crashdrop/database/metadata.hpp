// crashdrop/database/metadata.hpp - the text form of a report's metadata file (<id>.meta) and of
// the database's settings file: one "key=value" line each, keys and values percent-escaped (%,
// =, and control bytes such as CR, LF, NUL), annotations as "annotation.<key>=<value>". Readable by a person
// and by the collector; a damaged file gives a clear error, never a crash.
// Context: implementation TU; ordinary code (helper process and API calls), may allocate.
#if CRASHDROP_DETAIL_IMPL_ACTIVE

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

CRASHDROP_COLD inline std::string meta_escape(const std::string& v) {
    static const char k_hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(v.size());
    for (const char ch : v) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '%' || c == '=' || c < 0x20 || c == 0x7f) {  // '=' too: keys may hold one
            out += '%';
            out += k_hex[c >> 4];
            out += k_hex[c & 0xf];
        } else {
            out += ch;
        }
    }
    return out;
}

CRASHDROP_COLD inline int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Undoes meta_escape. A malformed escape is kept literally.
CRASHDROP_COLD inline std::string meta_unescape(const std::string& v) {
    std::string out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '%' && i + 2 < v.size() && hex_digit(v[i + 1]) >= 0 && hex_digit(v[i + 2]) >= 0) {
            out += static_cast<char>(hex_digit(v[i + 1]) * 16 + hex_digit(v[i + 2]));
            i += 2;
        } else {
            out += v[i];
        }
    }
    return out;
}

/// "key=value" lines into a map (later keys win). Lines without '=' are reported in *bad.
CRASHDROP_COLD inline std::map<std::string, std::string> parse_key_values(const std::string& text, std::size_t* bad = nullptr) {
    std::map<std::string, std::string> out;
    std::size_t pos = 0;
    if (bad != nullptr) *bad = 0;
    while (pos < text.size()) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string::npos) eol = text.size();
        const std::string line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (line.empty() || line[0] == '#') continue;
        const std::size_t eq = line.find('=');
        if (eq == std::string::npos || eq == 0) {
            if (bad != nullptr) ++*bad;
            continue;
        }
        out[meta_unescape(line.substr(0, eq))] = meta_unescape(line.substr(eq + 1));
    }
    return out;
}

/// Seconds the rate limit (one upload an hour) still asks to wait, from the settings' text
/// "last_upload" (UTC seconds): 0 without one or for a damaged or negative one; a time ahead
/// of `now` (a clock set back, a planted file) waits the full hour, never longer. No value of
/// the text overflows the arithmetic.
CRASHDROP_COLD inline long long rate_limit_wait_seconds(const std::string& last_upload, std::time_t now) {
    const long long last = std::strtoll(last_upload.c_str(), nullptr, 10);
    if (last <= 0) return 0;
    if (last >= static_cast<long long>(now)) return 3600;
    const long long since = static_cast<long long>(now) - last;  // both positive: no overflow
    return since < 3600 ? 3600 - since : 0;
}

CRASHDROP_COLD inline std::string format_key_values(const std::map<std::string, std::string>& kv) {
    std::string out;
    for (const auto& e : kv) out += meta_escape(e.first) + "=" + meta_escape(e.second) + "\n";
    return out;
}

CRASHDROP_COLD inline const char* state_name(ReportState s) {
    switch (s) {
        case ReportState::pending: return "pending";
        case ReportState::uploaded: return "uploaded";
        case ReportState::rejected: return "rejected";
    }
    return "pending";
}

/// What a report is: the one list of kinds, named by report_kind_name (the `.meta` key `kind`,
/// the upload field and Sentry tag `crash_kind`, Report::kind). The helper's own reports (hangs,
/// abnormal exits) take their names from here too.
enum class report_kind { crash, requested, hang, abnormal_exit };

CRASHDROP_COLD inline const char* report_kind_name(report_kind k) {
    switch (k) {
        case report_kind::crash: return "crash";
        case report_kind::requested: return "requested";
        case report_kind::hang: return "hang";
        case report_kind::abnormal_exit: return "abnormal_exit";
    }
    return "crash";
}

/// The upload field (plain formats) and Sentry tag that carry Report::kind: the name of the
/// dump's own annotation.
constexpr const char* k_crash_kind_field = minidump::k_annotation_crash_kind;

/// The kind a name gives (report_kind_name's inverse); false for a name that is none.
CRASHDROP_COLD inline bool report_kind_from_name(const std::string& name, report_kind* out) {
    for (const report_kind k : {report_kind::crash, report_kind::requested, report_kind::hang, report_kind::abnormal_exit}) {
        if (name == report_kind_name(k)) {
            *out = k;
            return true;
        }
    }
    return false;
}

/// A breadcrumb as one value: "<UTC ms>|<level>|<category>|<message>" ('|' and '%' inside the
/// fields escaped as %7C and %25, so the value splits back unambiguously).
CRASHDROP_COLD inline std::string format_breadcrumb(const Breadcrumb& b) {
    auto field = [](const std::string& v) {
        std::string out;
        for (const char c : v) {
            if (c == '|') out += "%7C";
            else if (c == '%') out += "%25";
            else out += c;
        }
        return out;
    };
    return std::to_string(b.timestamp_ms) + "|" + level_name(b.level) + "|" + field(b.category) + "|" + field(b.message);
}

CRASHDROP_COLD inline BreadcrumbLevel parse_level(const std::string& name) {
    if (name == "debug") return BreadcrumbLevel::debug;
    if (name == "warning") return BreadcrumbLevel::warning;
    if (name == "error") return BreadcrumbLevel::error;
    if (name == "fatal") return BreadcrumbLevel::fatal;
    return BreadcrumbLevel::info;
}

/// Undoes format_breadcrumb. False for a value that is not one.
CRASHDROP_COLD inline bool parse_breadcrumb(const std::string& v, Breadcrumb* out) {
    const std::size_t a = v.find('|');
    const std::size_t b = a == std::string::npos ? a : v.find('|', a + 1);
    const std::size_t c = b == std::string::npos ? b : v.find('|', b + 1);
    if (c == std::string::npos) return false;
    char* end = nullptr;
    const std::string ms = v.substr(0, a);
    out->timestamp_ms = std::strtoll(ms.c_str(), &end, 10);
    if (ms.empty() || end == nullptr || *end != '\0') return false;
    out->level = parse_level(v.substr(a + 1, b - a - 1));
    out->category = meta_unescape(v.substr(b + 1, c - b - 1));
    out->message = meta_unescape(v.substr(c + 1));
    return true;
}

/// Applies one context line (from a dump's context stream or a metadata file) to a report.
/// Returns false for a key that is not a context key.
CRASHDROP_COLD inline bool apply_context_line(const std::string& key, const std::string& value, Report* r) {
    if (key.rfind("tag.", 0) == 0) {
        r->tags[key.substr(4)] = value;
    } else if (key == "user.id") {
        r->user.id = value;
    } else if (key == "user.username") {
        r->user.username = value;
    } else if (key == "user.email") {
        r->user.email = value;
    } else if (key == "user.ip_address") {
        r->user.ip_address = value;
    } else if (key.rfind("attachment.", 0) == 0) {
        r->attachments.push_back(value);
    } else if (key.rfind("breadcrumb.", 0) == 0) {
        Breadcrumb b;
        if (parse_breadcrumb(value, &b)) r->breadcrumbs.push_back(std::move(b));
    } else {
        return false;
    }
    return true;
}

/// Orders "breadcrumb.<n>" / "attachment.<n>" lines by their number (they may be unpadded).
CRASHDROP_COLD inline std::vector<std::pair<std::string, std::string>> numbered_in_order(const std::map<std::string, std::string>& kv) {
    std::vector<std::pair<std::string, std::string>> out(kv.begin(), kv.end());
    auto number = [](const std::string& k) -> long long {
        const std::size_t dot = k.rfind('.');
        return dot == std::string::npos ? -1 : std::strtoll(k.c_str() + dot + 1, nullptr, 10);
    };
    std::stable_sort(out.begin(), out.end(), [&](const auto& x, const auto& y) {
        const std::string px = x.first.substr(0, x.first.rfind('.') + 1), py = y.first.substr(0, y.first.rfind('.') + 1);
        if (px != py) return px < py;
        return number(x.first) < number(y.first);
    });
    return out;
}

/// True for a report id as crashdrop makes them: 36 characters, lower-case hex digits with dashes
/// at 8, 13, 18 and 23 (8-4-4-4-12). Only such an id ever becomes part of a file name.
CRASHDROP_COLD inline bool is_report_id(const std::string& id) {
    if (id.size() != 36) return false;
    for (std::size_t i = 0; i < id.size(); ++i) {
        const char c = id[i];
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

CRASHDROP_COLD inline std::string encode_report(const Report& r) {
    std::map<std::string, std::string> kv;
    kv["id"] = r.id;
    kv["created"] = std::to_string(static_cast<long long>(r.created));
    kv["product"] = r.product;
    kv["version"] = r.version;
    kv["state"] = state_name(r.state);
    kv["attempts"] = std::to_string(r.attempts);
    kv["last_attempt"] = std::to_string(static_cast<long long>(r.last_attempt));
    kv["server_id"] = r.server_id;
    kv["last_error"] = r.last_error;
    kv["kind"] = r.kind.empty() ? report_kind_name(report_kind::crash) : r.kind;
    if (!r.trimmed.empty()) kv["trimmed"] = r.trimmed;
    for (const auto& a : r.annotations) kv["annotation." + a.first] = a.second;
    for (const auto& t : r.tags) kv["tag." + t.first] = t.second;
    if (!r.user.id.empty()) kv["user.id"] = r.user.id;
    if (!r.user.username.empty()) kv["user.username"] = r.user.username;
    if (!r.user.email.empty()) kv["user.email"] = r.user.email;
    if (!r.user.ip_address.empty()) kv["user.ip_address"] = r.user.ip_address;
    // Numbered with leading zeros so that the file lists them in order.
    char number[32];
    for (std::size_t i = 0; i < r.attachments.size(); ++i) {
        std::snprintf(number, sizeof(number), "%04zu", i);
        kv[std::string("attachment.") + number] = r.attachments[i];
    }
    for (std::size_t i = 0; i < r.breadcrumbs.size(); ++i) {
        std::snprintf(number, sizeof(number), "%05zu", i);
        kv[std::string("breadcrumb.") + number] = format_breadcrumb(r.breadcrumbs[i]);
    }
    return "# crashdrop report metadata\n" + format_key_values(kv);
}

/// Parses a metadata file. Returns false (with *error) when it is not one: a report needs at
/// least a well-formed id and creation time.
CRASHDROP_COLD inline bool decode_report(const std::string& text, Report* out, std::string* error) {
    const auto kv = parse_key_values(text);
    auto get = [&kv](const char* key) {
        auto it = kv.find(key);
        return it == kv.end() ? std::string() : it->second;
    };
    Report r;
    r.id = get("id");
    if (!is_report_id(r.id)) {
        if (error != nullptr) *error = "no valid report id";
        return false;
    }
    char* end = nullptr;
    const std::string created = get("created");
    r.created = static_cast<std::time_t>(std::strtoll(created.c_str(), &end, 10));
    if (created.empty() || end == nullptr || *end != '\0') {
        if (error != nullptr) *error = "no valid creation time";
        return false;
    }
    r.product = get("product");
    r.version = get("version");
    const std::string state = get("state");
    r.state = state == "uploaded" ? ReportState::uploaded : state == "rejected" ? ReportState::rejected : ReportState::pending;
    // A count, held to 0 .. 1000000 whatever the file says: the helper adds one after each
    // attempt, which must not overflow (atoi of a damaged value was undefined besides).
    r.attempts = static_cast<int>(std::min(1000000LL, std::max(0LL, std::strtoll(get("attempts").c_str(), nullptr, 10))));
    r.last_attempt = static_cast<std::time_t>(std::strtoll(get("last_attempt").c_str(), nullptr, 10));
    r.server_id = get("server_id");
    r.last_error = get("last_error");
    // Metadata written before reports had a kind: all of those were crashes or requested dumps,
    // and are read as crashes (the dump's exception stream tells them apart if it matters).
    r.kind = get("kind");
    if (r.kind.empty()) r.kind = report_kind_name(report_kind::crash);
    r.trimmed = get("trimmed");
    for (const auto& e : numbered_in_order(kv)) {
        if (e.first.rfind("annotation.", 0) == 0) r.annotations[e.first.substr(11)] = e.second;
        else apply_context_line(e.first, e.second, &r);
    }
    *out = r;
    return true;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
