// crashdrop/transport/url.hpp - URLs and Sentry DSNs: split http(s)://host[:port]/path?query,
// percent-encode query values, and turn a DSN into its project's envelope or minidump endpoint.
// Context: implementation TU; helper process (ordinary code, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

struct url_parts {
    std::string scheme;  // "http" or "https", lower case
    std::string userinfo;
    std::string host;    // without brackets for IPv6 literals
    int port = 0;
    std::string target;  // path and query, at least "/"
};

/// Splits an absolute http(s) URL. Returns false (with *error) for anything else.
CRASHDROP_COLD inline bool parse_url(const std::string& url, url_parts* out, std::string* error) {
    // A blank or control byte would end up in the request line or the Host header (a CR LF
    // there splits the request); a URL percent-encodes them.
    for (const char ch : url) {
        if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) {
            if (error != nullptr) *error = "the URL holds a blank or control character (percent-encode it)";
            return false;
        }
    }
    const std::size_t colon = url.find("://");
    if (colon == std::string::npos) {
        if (error != nullptr) *error = "not an absolute URL: '" + url + "'";
        return false;
    }
    url_parts u;
    for (std::size_t i = 0; i < colon; ++i) u.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(url[i])));
    if (u.scheme != "http" && u.scheme != "https") {
        if (error != nullptr) *error = "unsupported scheme '" + u.scheme + "' (http and https are)";
        return false;
    }
    const std::size_t auth_start = colon + 3;
    const std::size_t auth_end = url.find_first_of("/?#", auth_start);
    std::string authority = url.substr(auth_start, auth_end == std::string::npos ? std::string::npos : auth_end - auth_start);
    u.target = auth_end == std::string::npos ? "/" : url.substr(auth_end);
    const std::size_t hash = u.target.find('#');
    if (hash != std::string::npos) u.target.resize(hash);
    if (u.target.empty() || u.target[0] != '/') u.target = "/" + u.target;
    const std::size_t at = authority.rfind('@');
    if (at != std::string::npos) {
        u.userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
    }
    std::string port;
    if (!authority.empty() && authority[0] == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string::npos) {
            if (error != nullptr) *error = "bad IPv6 host in '" + url + "'";
            return false;
        }
        u.host = authority.substr(1, close - 1);
        const bool literal = !u.host.empty() && u.host.find_first_not_of("0123456789abcdefABCDEF:.") == std::string::npos;
        if (!literal || (close + 1 < authority.size() && authority[close + 1] != ':')) {
            if (error != nullptr) *error = "bad IPv6 host in '" + url + "'";
            return false;
        }
        if (close + 1 < authority.size()) port = authority.substr(close + 2);
    } else {
        const std::size_t pc = authority.rfind(':');
        u.host = authority.substr(0, pc);
        if (pc != std::string::npos) port = authority.substr(pc + 1);
        // A colon or bracket left in the host is not a host name (nor an unbracketed IPv6 literal).
        if (u.host.find_first_of(":[]") != std::string::npos) {
            if (error != nullptr) *error = "bad host in '" + url + "' (an IPv6 address goes in brackets)";
            return false;
        }
    }
    if (u.host.empty()) {
        if (error != nullptr) *error = "no host in '" + url + "'";
        return false;
    }
    u.port = u.scheme == "https" ? 443 : 80;
    if (!port.empty()) {
        char* end = nullptr;
        const long p = std::strtol(port.c_str(), &end, 10);
        if (end == nullptr || *end != '\0' || p <= 0 || p > 65535) {
            if (error != nullptr) *error = "bad port in '" + url + "'";
            return false;
        }
        u.port = static_cast<int>(p);
    }
    *out = u;
    return true;
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
CRASHDROP_COLD inline std::string url_encode(const std::string& v) {
    static const char k_hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char ch : v) {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += ch;
        } else {
            out += '%';
            out += k_hex[c >> 4];
            out += k_hex[c & 0xf];
        }
    }
    return out;
}

/// Appends query parameters to a URL (after "?" or "&").
CRASHDROP_COLD inline std::string add_query(const std::string& url, const std::vector<std::pair<std::string, std::string>>& params) {
    std::string out = url;
    bool has_query = out.find('?') != std::string::npos;
    for (const auto& p : params) {
        out += has_query ? '&' : '?';
        has_query = true;
        out += url_encode(p.first) + "=" + url_encode(p.second);
    }
    return out;
}

/// A Sentry DSN's parts: https://KEY[:SECRET]@HOST[:PORT]/[PATH/]PROJECT.
struct sentry_dsn_parts {
    std::string base;     // "https://HOST[:PORT]/[PATH/]"
    std::string project;
    std::string key;      // the public key
};

CRASHDROP_COLD inline bool parse_sentry_dsn(const std::string& dsn, sentry_dsn_parts* out, std::string* error) {
    url_parts u;
    if (!parse_url(dsn, &u, error)) return false;
    std::string key = u.userinfo.substr(0, u.userinfo.find(':'));  // old DSNs carry KEY:SECRET
    std::string path = u.target.substr(0, u.target.find('?'));
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    const std::size_t slash = path.rfind('/');
    const std::string project = path.substr(slash + 1);
    const std::string prefix = path.substr(0, slash + 1);  // "/" or "/path/"
    if (key.empty() || project.empty()) {
        if (error != nullptr) *error = "a Sentry DSN needs a public key and a project: '" + dsn + "'";
        return false;
    }
    const bool default_port = (u.scheme == "https" && u.port == 443) || (u.scheme == "http" && u.port == 80);
    const bool v6 = u.host.find(':') != std::string::npos;
    std::string host = v6 ? "[" + u.host + "]" : u.host;
    if (!default_port) host += ":" + std::to_string(u.port);
    out->base = u.scheme + "://" + host + prefix;
    out->project = project;
    out->key = key;
    return true;
}

/// Sentry: https://KEY@HOST[:PORT]/[PATH/]PROJECT -> https://HOST[:PORT]/[PATH/]api/PROJECT/minidump/?sentry_key=KEY
CRASHDROP_COLD inline bool sentry_minidump_url(const std::string& dsn, std::string* url, std::string* error) {
    sentry_dsn_parts d;
    if (!parse_sentry_dsn(dsn, &d, error)) return false;
    *url = d.base + "api/" + d.project + "/minidump/?sentry_key=" + url_encode(d.key);
    return true;
}

/// Sentry: https://KEY@HOST[:PORT]/[PATH/]PROJECT -> https://HOST[:PORT]/[PATH/]api/PROJECT/envelope/
/// (the key goes in the X-Sentry-Auth header).
CRASHDROP_COLD inline bool sentry_envelope_url(const std::string& dsn, std::string* url, std::string* error) {
    sentry_dsn_parts d;
    if (!parse_sentry_dsn(dsn, &d, error)) return false;
    *url = d.base + "api/" + d.project + "/envelope/";
    return true;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
