// crashdrop/transport/curl_linux.hpp - HTTPS through libcurl, loaded at run time with dlopen:
// crashdrop builds and runs without libcurl, and https:// works wherever libcurl.so.4 is
// installed. Certificates are always verified; Options::ca_file adds a CA bundle to trust.
// The option numbers are libcurl's stable ABI values (checked against <curl/curl.h> by
// tests/unit/transport_test.cpp when the header is installed).
// Context: implementation TU; helper process (ordinary code, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

namespace curl_abi {
constexpr int k_global_default = 3;               // CURL_GLOBAL_DEFAULT
constexpr int k_opt_writedata = 10001;            // CURLOPT_WRITEDATA
constexpr int k_opt_url = 10002;                  // CURLOPT_URL
constexpr int k_opt_errorbuffer = 10010;          // CURLOPT_ERRORBUFFER
constexpr int k_opt_postfields = 10015;           // CURLOPT_POSTFIELDS
constexpr int k_opt_useragent = 10018;            // CURLOPT_USERAGENT
constexpr int k_opt_httpheader = 10023;           // CURLOPT_HTTPHEADER
constexpr int k_opt_cainfo = 10065;               // CURLOPT_CAINFO
constexpr int k_opt_writefunction = 20011;        // CURLOPT_WRITEFUNCTION
constexpr int k_opt_postfieldsize_large = 30120;  // CURLOPT_POSTFIELDSIZE_LARGE
constexpr int k_opt_post = 47;                    // CURLOPT_POST
constexpr int k_opt_ssl_verifypeer = 64;          // CURLOPT_SSL_VERIFYPEER
constexpr int k_opt_ssl_verifyhost = 81;          // CURLOPT_SSL_VERIFYHOST
constexpr int k_opt_nosignal = 99;                // CURLOPT_NOSIGNAL
constexpr int k_opt_timeout_ms = 155;             // CURLOPT_TIMEOUT_MS
constexpr int k_opt_connecttimeout_ms = 156;      // CURLOPT_CONNECTTIMEOUT_MS
constexpr int k_opt_headerdata = 10029;           // CURLOPT_HEADERDATA
constexpr int k_opt_headerfunction = 20079;       // CURLOPT_HEADERFUNCTION
constexpr int k_opt_maxfilesize_large = 30117;    // CURLOPT_MAXFILESIZE_LARGE
constexpr int k_opt_followlocation = 52;          // CURLOPT_FOLLOWLOCATION
constexpr int k_opt_protocols = 181;              // CURLOPT_PROTOCOLS (before 7.85)
constexpr int k_opt_protocols_str = 10318;        // CURLOPT_PROTOCOLS_STR (7.85+)
constexpr long k_proto_http = 1;                  // CURLPROTO_HTTP
constexpr long k_proto_https = 2;                 // CURLPROTO_HTTPS
constexpr int k_info_response_code = 0x200002;    // CURLINFO_RESPONSE_CODE
constexpr int k_info_retry_after = 0x600000 + 57; // CURLINFO_RETRY_AFTER (libcurl 7.66+; older ones refuse it)
constexpr std::size_t k_error_size = 256;         // CURL_ERROR_SIZE
}  // namespace curl_abi

/// libcurl's entry points, found once per process.
struct curl_library {
    using init_fn = void* (*)();
    using cleanup_fn = void (*)(void*);
    using setopt_fn = int (*)(void*, int, ...);
    using perform_fn = int (*)(void*);
    using getinfo_fn = int (*)(void*, int, ...);
    using strerror_fn = const char* (*)(int);
    using slist_append_fn = void* (*)(void*, const char*);
    using slist_free_fn = void (*)(void*);
    using global_init_fn = int (*)(long);

    void* handle = nullptr;
    init_fn easy_init = nullptr;
    cleanup_fn easy_cleanup = nullptr;
    setopt_fn easy_setopt = nullptr;
    perform_fn easy_perform = nullptr;
    getinfo_fn easy_getinfo = nullptr;
    strerror_fn easy_strerror = nullptr;
    slist_append_fn slist_append = nullptr;
    slist_free_fn slist_free_all = nullptr;
    std::string error;

    static const curl_library& get() {
        static const curl_library lib = load();
        return lib;
    }
    bool available() const { return handle != nullptr; }

private:
    template <typename T>
    static bool find(void* h, const char* name, T* out) {
        *out = reinterpret_cast<T>(dlsym(h, name));
        return *out != nullptr;
    }
    /// A statically linked executable (no PT_INTERP: no dynamic loader ran) must not dlopen
    /// libcurl: that would load a second C library, libc.so.6, beside the linked-in one.
    static bool executable_is_static() {
        const auto* phdr = reinterpret_cast<const ElfW(Phdr)*>(getauxval(AT_PHDR));
        const unsigned long count = getauxval(AT_PHNUM);
        if (phdr == nullptr) return false;
        for (unsigned long i = 0; i < count; ++i) {
            if (phdr[i].p_type == PT_INTERP) return false;
        }
        return true;
    }
    static curl_library load() {
        curl_library c;
        void* h = nullptr;
        if (executable_is_static()) {
            c.error = "https:// needs libcurl, which a statically linked program cannot load (use http:// or Options::transport)";
            return c;
        }
        for (const char* name : {"libcurl.so.4", "libcurl-gnutls.so.4", "libcurl-nss.so.4", "libcurl.so"}) {
            h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
            if (h != nullptr) break;
        }
        if (h == nullptr) {
            c.error = "https:// needs libcurl, which is not installed (libcurl.so.4 not found)";
            return c;
        }
        global_init_fn global_init = nullptr;
        if (!find(h, "curl_global_init", &global_init) || !find(h, "curl_easy_init", &c.easy_init) ||
            !find(h, "curl_easy_cleanup", &c.easy_cleanup) || !find(h, "curl_easy_setopt", &c.easy_setopt) ||
            !find(h, "curl_easy_perform", &c.easy_perform) || !find(h, "curl_easy_getinfo", &c.easy_getinfo) ||
            !find(h, "curl_easy_strerror", &c.easy_strerror) || !find(h, "curl_slist_append", &c.slist_append) ||
            !find(h, "curl_slist_free_all", &c.slist_free_all)) {
            c.error = "libcurl lacks a function crashdrop needs";
            dlclose(h);
            return c;
        }
        global_init(curl_abi::k_global_default);
        c.handle = h;
        return c;
    }
};

/// The reply as libcurl hands it over, kept within the bounds of http_common.hpp.
struct curl_reply {
    std::string body;
    std::size_t body_bytes = 0;  // received, kept or not
    std::size_t header_lines = 0;
    std::map<std::string, std::string> headers;
    std::string refused;  // why a callback stopped the transfer
};

CRASHDROP_COLD inline std::size_t curl_collect(char* data, std::size_t size, std::size_t count, void* user) {
    auto* out = static_cast<curl_reply*>(user);
    const std::size_t n = size * count;
    out->body_bytes += n;
    if (out->body_bytes > k_http_max_reply) {
        out->refused = "the reply is larger than 1 MiB";
        return 0;  // libcurl ends the transfer with a write error
    }
    out->body.append(data, std::min(n, k_http_max_body_kept - std::min(k_http_max_body_kept, out->body.size())));
    return n;
}

/// One header line of a reply (the status line starts a new reply: an interim reply's
/// headers are dropped).
CRASHDROP_COLD inline std::size_t curl_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* out = static_cast<curl_reply*>(user);
    const std::size_t n = size * count;
    std::string line(data, std::min(n, k_http_max_line));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.compare(0, 5, "HTTP/") == 0) {
        out->headers.clear();
        out->header_lines = 0;
        return n;
    }
    if (line.empty()) return n;
    if (++out->header_lines > k_http_max_header_lines) {
        out->refused = "too many header lines in the reply";
        return 0;
    }
    http_add_header_line(line, &out->headers);
    return n;
}

/// POSTs `body` to an https:// (or http://) URL through libcurl.
CRASHDROP_COLD inline http_response curl_post(const std::string& url, const http_headers& headers, const std::string& body,
                               int connect_ms, int total_ms, const std::string& ca_file) {
    http_response r;
    const curl_library& lib = curl_library::get();
    if (!lib.available()) {
        r.error = lib.error;
        return r;
    }
    void* easy = lib.easy_init();
    if (easy == nullptr) {
        r.error = "curl_easy_init failed";
        return r;
    }
    void* list = nullptr;
    std::vector<std::string> lines;
    for (const auto& h : headers) lines.push_back(h.first + ": " + h.second);
    lines.emplace_back("Expect:");  // no "100-continue" round trip
    for (const auto& l : lines) list = lib.slist_append(list, l.c_str());
    char errbuf[curl_abi::k_error_size] = {0};
    lib.easy_setopt(easy, curl_abi::k_opt_url, url.c_str());
    lib.easy_setopt(easy, curl_abi::k_opt_post, 1L);
    lib.easy_setopt(easy, curl_abi::k_opt_postfields, body.data());
    lib.easy_setopt(easy, curl_abi::k_opt_postfieldsize_large, static_cast<long long>(body.size()));
    lib.easy_setopt(easy, curl_abi::k_opt_httpheader, list);
    curl_reply reply;
    lib.easy_setopt(easy, curl_abi::k_opt_writefunction, &curl_collect);
    lib.easy_setopt(easy, curl_abi::k_opt_writedata, &reply);
    lib.easy_setopt(easy, curl_abi::k_opt_headerfunction, &curl_header);
    lib.easy_setopt(easy, curl_abi::k_opt_headerdata, &reply);
    // Bounds: a declared length over the limit is refused before its body; redirects are not
    // followed (the status is the answer); http and https only.
    lib.easy_setopt(easy, curl_abi::k_opt_maxfilesize_large, static_cast<long long>(k_http_max_reply));
    lib.easy_setopt(easy, curl_abi::k_opt_followlocation, 0L);
    if (lib.easy_setopt(easy, curl_abi::k_opt_protocols_str, "http,https") != 0) {
        lib.easy_setopt(easy, curl_abi::k_opt_protocols, curl_abi::k_proto_http | curl_abi::k_proto_https);
    }
    lib.easy_setopt(easy, curl_abi::k_opt_errorbuffer, errbuf);
    lib.easy_setopt(easy, curl_abi::k_opt_nosignal, 1L);
    lib.easy_setopt(easy, curl_abi::k_opt_connecttimeout_ms, static_cast<long>(connect_ms));
    lib.easy_setopt(easy, curl_abi::k_opt_timeout_ms, static_cast<long>(total_ms));
    lib.easy_setopt(easy, curl_abi::k_opt_ssl_verifypeer, 1L);
    lib.easy_setopt(easy, curl_abi::k_opt_ssl_verifyhost, 2L);
    lib.easy_setopt(easy, curl_abi::k_opt_useragent, "crashdrop/" CRASHDROP_VERSION_STRING);
    if (!ca_file.empty()) lib.easy_setopt(easy, curl_abi::k_opt_cainfo, ca_file.c_str());
    // CURLOPT_TIMEOUT_MS covers the name lookup too with libcurl's threaded resolver (Debian's and
    // most distributions' builds); a build with the blocking resolver cannot time out a lookup.
    const int rc = lib.easy_perform(easy);
    if (rc == 0) {
        long code = 0;
        lib.easy_getinfo(easy, curl_abi::k_info_response_code, &code);
        r.status = static_cast<int>(code);
        r.body = std::move(reply.body);
        r.headers = std::move(reply.headers);
        if (r.headers.count("retry-after") == 0) {  // libcurl's own reading, when it has one
            long long after = 0;
            if (lib.easy_getinfo(easy, curl_abi::k_info_retry_after, &after) == 0 && after > 0) {
                r.headers["retry-after"] = std::to_string(after);
            }
        }
    } else {
        r.status = 0;
        r.error = "libcurl: " + (!reply.refused.empty() ? reply.refused : std::string(errbuf[0] != '\0' ? errbuf : lib.easy_strerror(rc)));
    }
    lib.slist_free_all(list);
    lib.easy_cleanup(easy);
    return r;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX
