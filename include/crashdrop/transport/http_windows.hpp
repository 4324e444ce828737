// crashdrop/transport/http_windows.hpp - HTTP and HTTPS POSTs on Windows through WinHTTP, the HTTP
// client that is part of the system (no libcurl there). The same contract as the POSIX client
// (http_posix.hpp): one POST per connection, a connect timeout, a deadline for the whole exchange
// (a server that hangs or trickles its reply is cut off; WinHTTP's resolve timeout is set from it
// too), redirects not followed, bodies over 1 MiB refused and only their first 64 KiB kept (WinHTTP
// parses the status line and headers itself and limits them, 64 KiB by default; an interim 1xx
// status that still reached us would be classified "retry", never "sent"), status 0 and a reason
// on any failure before a complete reply; the status is read by the same interpret_reply. Unlike it, this one
// goes through the proxy configured for WinHTTP (`netsh winhttp set proxy`), when there is one.
//
// Loading: winhttp.dll is loaded from the system folder at the first upload, and its functions
// are found with GetProcAddress. crashdrop is header-only: linking winhttp (a `#pragma comment(lib)`
// for MSVC, -lwinhttp for mingw) would put a link flag on every user and winhttp.dll into every
// process at start, although only the helper ever uploads. <winhttp.h> is not included either: it
// clashes with <wininet.h> in a TU that includes both. The few constants and the signatures below
// are WinHTTP's stable ABI; tests/windows/winhttp_abi_check.cpp compares them with <winhttp.h>.
//
// The deadline: WinHTTP's synchronous calls block with per-call timeouts only, so before each
// call the timeouts are set to what is left of the deadline (the connect and resolve timeouts to
// at most connect_ms), the body is written in pieces, and the reply is read as it arrives.
//
// Certificates: WinHTTP checks the server against the Windows certificate store. It cannot be
// given a CA file; with a ca_file, an unknown root is let through WinHTTP's own check and the
// chain is then checked against the file (cert_windows.hpp) before the body is sent (the request
// line and headers, which hold no more than the URL's query, have gone out by then).
// Context: implementation TU; helper process (ordinary code, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

namespace winhttp_abi {
constexpr DWORD k_access_type_default_proxy = 0;             // WINHTTP_ACCESS_TYPE_DEFAULT_PROXY
constexpr DWORD k_flag_secure = 0x00800000;                  // WINHTTP_FLAG_SECURE
constexpr DWORD k_option_security_flags = 31;                // WINHTTP_OPTION_SECURITY_FLAGS
constexpr DWORD k_option_disable_feature = 63;               // WINHTTP_OPTION_DISABLE_FEATURE
constexpr DWORD k_option_receive_response_timeout = 7;       // WINHTTP_OPTION_RECEIVE_RESPONSE_TIMEOUT
constexpr DWORD k_option_server_cert_context = 78;           // WINHTTP_OPTION_SERVER_CERT_CONTEXT
constexpr DWORD k_disable_cookies = 0x1;                     // WINHTTP_DISABLE_COOKIES
constexpr DWORD k_disable_redirects = 0x2;                   // WINHTTP_DISABLE_REDIRECTS
constexpr DWORD k_disable_keep_alive = 0x8;                  // WINHTTP_DISABLE_KEEP_ALIVE
constexpr DWORD k_security_flag_ignore_unknown_ca = 0x100;   // SECURITY_FLAG_IGNORE_UNKNOWN_CA
constexpr DWORD k_query_status_code = 19;                    // WINHTTP_QUERY_STATUS_CODE
constexpr DWORD k_query_raw_headers_crlf = 22;               // WINHTTP_QUERY_RAW_HEADERS_CRLF
constexpr DWORD k_query_flag_number = 0x20000000;            // WINHTTP_QUERY_FLAG_NUMBER
constexpr DWORD k_error_timeout = 12002;                     // ERROR_WINHTTP_TIMEOUT
constexpr DWORD k_error_name_not_resolved = 12007;           // ERROR_WINHTTP_NAME_NOT_RESOLVED
constexpr DWORD k_error_cannot_connect = 12029;              // ERROR_WINHTTP_CANNOT_CONNECT
constexpr DWORD k_error_connection_error = 12030;            // ERROR_WINHTTP_CONNECTION_ERROR
constexpr DWORD k_error_invalid_server_response = 12152;     // ERROR_WINHTTP_INVALID_SERVER_RESPONSE
constexpr DWORD k_error_secure_failure = 12175;              // ERROR_WINHTTP_SECURE_FAILURE
constexpr DWORD k_error_secure_channel_error = 12157;        // ERROR_WINHTTP_SECURE_CHANNEL_ERROR
constexpr DWORD k_error_secure_invalid_ca = 12045;           // ERROR_WINHTTP_SECURE_INVALID_CA
constexpr DWORD k_error_secure_cert_cn_invalid = 12038;      // ERROR_WINHTTP_SECURE_CERT_CN_INVALID
constexpr DWORD k_error_secure_cert_date_invalid = 12037;    // ERROR_WINHTTP_SECURE_CERT_DATE_INVALID
constexpr DWORD k_wsa_timed_out = 10060;                     // WSAETIMEDOUT (what wine's WinHTTP says for a timeout)
}  // namespace winhttp_abi

/// winhttp.dll's entry points, found once per process (the library stays loaded).
struct winhttp_library {
    using handle = void*;  // HINTERNET
    using open_fn = handle(WINAPI*)(LPCWSTR, DWORD, LPCWSTR, LPCWSTR, DWORD);
    using connect_fn = handle(WINAPI*)(handle, LPCWSTR, WORD, DWORD);
    using open_request_fn = handle(WINAPI*)(handle, LPCWSTR, LPCWSTR, LPCWSTR, LPCWSTR, LPCWSTR*, DWORD);
    using set_timeouts_fn = BOOL(WINAPI*)(handle, int, int, int, int);
    using set_option_fn = BOOL(WINAPI*)(handle, DWORD, LPVOID, DWORD);
    using query_option_fn = BOOL(WINAPI*)(handle, DWORD, LPVOID, LPDWORD);
    using send_request_fn = BOOL(WINAPI*)(handle, LPCWSTR, DWORD, LPVOID, DWORD, DWORD, DWORD_PTR);
    using write_data_fn = BOOL(WINAPI*)(handle, LPCVOID, DWORD, LPDWORD);
    using receive_response_fn = BOOL(WINAPI*)(handle, LPVOID);
    using query_headers_fn = BOOL(WINAPI*)(handle, DWORD, LPCWSTR, LPVOID, LPDWORD, LPDWORD);
    using query_data_available_fn = BOOL(WINAPI*)(handle, LPDWORD);
    using read_data_fn = BOOL(WINAPI*)(handle, LPVOID, DWORD, LPDWORD);
    using close_handle_fn = BOOL(WINAPI*)(handle);

    HMODULE module = nullptr;
    open_fn open = nullptr;
    connect_fn connect = nullptr;
    open_request_fn open_request = nullptr;
    set_timeouts_fn set_timeouts = nullptr;
    set_option_fn set_option = nullptr;
    query_option_fn query_option = nullptr;
    send_request_fn send_request = nullptr;
    write_data_fn write_data = nullptr;
    receive_response_fn receive_response = nullptr;
    query_headers_fn query_headers = nullptr;
    query_data_available_fn query_data_available = nullptr;
    read_data_fn read_data = nullptr;
    close_handle_fn close_handle = nullptr;
    std::string error;

    static const winhttp_library& get() {
        static const winhttp_library lib = load();
        return lib;
    }
    bool available() const { return module != nullptr; }

private:
    static winhttp_library load() {
        winhttp_library w;
        // From the system folder only: never a winhttp.dll planted next to the program.
        const HMODULE m = load_system_library(L"winhttp.dll");
        if (m == nullptr) {
            w.error = "cannot load winhttp.dll (Windows error " + std::to_string(GetLastError()) + ")";
            return w;
        }
        if (!find_proc(m, "WinHttpOpen", &w.open) || !find_proc(m, "WinHttpConnect", &w.connect) ||
            !find_proc(m, "WinHttpOpenRequest", &w.open_request) || !find_proc(m, "WinHttpSetTimeouts", &w.set_timeouts) ||
            !find_proc(m, "WinHttpSetOption", &w.set_option) || !find_proc(m, "WinHttpQueryOption", &w.query_option) ||
            !find_proc(m, "WinHttpSendRequest", &w.send_request) || !find_proc(m, "WinHttpWriteData", &w.write_data) ||
            !find_proc(m, "WinHttpReceiveResponse", &w.receive_response) || !find_proc(m, "WinHttpQueryHeaders", &w.query_headers) ||
            !find_proc(m, "WinHttpQueryDataAvailable", &w.query_data_available) || !find_proc(m, "WinHttpReadData", &w.read_data) ||
            !find_proc(m, "WinHttpCloseHandle", &w.close_handle)) {
            w.error = "winhttp.dll lacks a function crashdrop needs";
            FreeLibrary(m);
            return w;
        }
        w.module = m;
        return w;
    }
};

/// A WinHTTP handle, closed when it goes out of scope.
class winhttp_handle {
public:
    winhttp_handle(const winhttp_library& lib, winhttp_library::handle h) : lib_(lib), h_(h) {}
    ~winhttp_handle() {
        if (h_ != nullptr) lib_.close_handle(h_);
    }
    winhttp_handle(const winhttp_handle&) = delete;
    winhttp_handle& operator=(const winhttp_handle&) = delete;
    winhttp_library::handle get() const { return h_; }

private:
    const winhttp_library& lib_;
    winhttp_library::handle h_;
};

/// A WinHTTP error code in words, with the code.
inline std::string winhttp_error_text(DWORD err) {
    namespace abi = winhttp_abi;
    std::string text;
    switch (err) {
        case abi::k_error_timeout: text = "timed out"; break;
        case abi::k_error_name_not_resolved: text = "the host name does not resolve"; break;
        case abi::k_error_cannot_connect: text = "cannot connect (refused or unreachable)"; break;
        case abi::k_error_connection_error: text = "the connection was reset or closed"; break;
        case abi::k_error_invalid_server_response: text = "the reply is not valid HTTP"; break;
        case abi::k_error_secure_failure: text = "TLS failed (the certificate is not trusted, or the handshake failed)"; break;
        case abi::k_error_secure_channel_error: text = "TLS failed (the certificate is not trusted, or the handshake failed)"; break;
        case abi::k_error_secure_invalid_ca: text = "the server's certificate is not issued by a trusted CA"; break;
        case abi::k_error_secure_cert_cn_invalid: text = "the server's certificate is for another host name"; break;
        case abi::k_error_secure_cert_date_invalid: text = "the server's certificate has expired or is not yet valid"; break;
        default: {
            wchar_t* message = nullptr;
            const DWORD n = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_FROM_SYSTEM |
                                               FORMAT_MESSAGE_IGNORE_INSERTS,
                                           winhttp_library::get().module, err, 0, reinterpret_cast<LPWSTR>(&message), 0, nullptr);
            if (n > 0 && message != nullptr) {
                text = narrow(message, n);
                while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '.')) {
                    text.pop_back();
                }
            }
            if (message != nullptr) LocalFree(message);
            if (text.empty()) text = "failed";
        }
    }
    return text + " (WinHTTP error " + std::to_string(err) + ")";
}

/// POSTs `body` to an http:// or https:// URL through WinHTTP. Never throws; a failure before a
/// complete reply comes back with status 0 and the reason in `error`.
inline http_response winhttp_post(const url_parts& url, const http_headers& headers, const std::string& body,
                                  int connect_ms, int total_ms, const std::string& ca_file) {
    namespace abi = winhttp_abi;
    http_response r;
    const http_deadline deadline(total_ms);
    const winhttp_library& lib = winhttp_library::get();
    if (!lib.available()) {
        r.error = lib.error;
        return r;
    }
    const bool tls = url.scheme == "https";
    // An IPv6 literal goes to WinHTTP in brackets, as in a URL: WinHTTP writes the Host header from it.
    const std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    const std::string where = host + ":" + std::to_string(url.port);
    auto failed = [&r](const std::string& what) {
        r.status = 0;
        r.body.clear();
        r.headers.clear();
        r.error = what;
        return r;
    };

    const winhttp_handle session(lib, lib.open(L"crashdrop/" CRASHDROP_VERSION_STRING, abi::k_access_type_default_proxy,
                                               nullptr, nullptr, 0));
    if (session.get() == nullptr) return failed("WinHttpOpen: " + winhttp_error_text(GetLastError()));
    const winhttp_handle connection(lib, lib.connect(session.get(), widen(host).c_str(),
                                                     static_cast<WORD>(url.port), 0));
    if (connection.get() == nullptr) return failed("WinHttpConnect to " + where + ": " + winhttp_error_text(GetLastError()));
    const winhttp_handle request(lib, lib.open_request(connection.get(), L"POST", widen(url.target).c_str(), nullptr,
                                                       nullptr, nullptr, tls ? abi::k_flag_secure : 0));
    if (request.get() == nullptr) return failed("WinHttpOpenRequest: " + winhttp_error_text(GetLastError()));
    DWORD features = abi::k_disable_redirects | abi::k_disable_cookies | abi::k_disable_keep_alive;
    lib.set_option(request.get(), abi::k_option_disable_feature, &features, sizeof(features));
    if (tls && !ca_file.empty()) {
        DWORD flags = abi::k_security_flag_ignore_unknown_ca;  // the chain is checked against ca_file below
        if (!lib.set_option(request.get(), abi::k_option_security_flags, &flags, sizeof(flags))) {
            return failed("WinHTTP refuses to let ca_file decide on the server's CA: " + winhttp_error_text(GetLastError()));
        }
    }

    // A call that failed on a timeout, or after the deadline passed (WinHTTP then says "timed out"
    // or, under wine, passes on the socket's WSAETIMEDOUT).
    auto timed_out = [&deadline](DWORD err) {
        return err == abi::k_error_timeout || err == abi::k_wsa_timed_out || deadline.remaining_ms() == 0;
    };
    // Every blocking call gets what is left of the deadline (0 would mean no timeout at all).
    auto arm = [&](bool connecting) {
        const int left = deadline.remaining_ms();
        if (left == 0) return false;
        const int c = connecting && connect_ms > 0 ? std::min(connect_ms, left) : left;
        lib.set_timeouts(request.get(), c, c, left, left);
        DWORD response = static_cast<DWORD>(left);
        lib.set_option(request.get(), abi::k_option_receive_response_timeout, &response, sizeof(response));
        return true;
    };

    std::wstring header_lines;
    for (const auto& h : headers) header_lines += widen(h.first + ": " + h.second + "\r\n");
    // Connects (and, for https, makes the TLS handshake) and sends the request line and headers;
    // WinHTTP adds Host and Content-Length.
    if (!arm(true)) return failed("connect to " + where + ": timed out");
    if (!lib.send_request(request.get(), header_lines.c_str(), static_cast<DWORD>(-1), nullptr, 0,
                          static_cast<DWORD>(body.size()), 0)) {
        const DWORD err = GetLastError();
        if (err == abi::k_error_name_not_resolved) return failed("cannot resolve " + url.host + ": " + winhttp_error_text(err));
        return failed("connect to " + where + ": " + (timed_out(err) ? std::string("timed out") : winhttp_error_text(err)));
    }
    if (tls && !ca_file.empty()) {
        PCCERT_CONTEXT cert = nullptr;
        DWORD size = sizeof(cert);
        if (!lib.query_option(request.get(), abi::k_option_server_cert_context, &cert, &size) || cert == nullptr) {
            return failed("cannot get the certificate of " + where + ": " + winhttp_error_text(GetLastError()));
        }
        std::string why;
        const bool trusted = server_cert_trusted(cert, url.host, ca_file, &why);
        crypt32_library::get().free_certificate(cert);
        if (!trusted) return failed("TLS with " + where + ": " + why);
    }

    // The body, in pieces, so a stalled upload ends at the deadline too.
    constexpr std::size_t k_piece = 64 * 1024;
    for (std::size_t done = 0; done < body.size();) {
        if (!arm(false)) return failed("sending the request timed out");
        const DWORD want = static_cast<DWORD>(std::min(k_piece, body.size() - done));
        DWORD wrote = 0;
        if (!lib.write_data(request.get(), body.data() + done, want, &wrote) || wrote == 0) {
            const DWORD err = GetLastError();
            return failed(timed_out(err) ? std::string("sending the request timed out")
                                         : "sending the request: " + winhttp_error_text(err));
        }
        done += wrote;
    }

    auto reading_failed = [&](DWORD err) {
        if (timed_out(err)) return failed("the server did not answer in time");
        if (err == abi::k_error_connection_error) return failed("the server closed the connection without a reply");
        return failed("reading the reply: " + winhttp_error_text(err));
    };
    if (!arm(false)) return failed("the server did not answer in time");
    if (!lib.receive_response(request.get(), nullptr)) return reading_failed(GetLastError());
    DWORD status = 0;
    DWORD size = sizeof(status);
    if (!lib.query_headers(request.get(), abi::k_query_status_code | abi::k_query_flag_number, nullptr, &status, &size,
                           nullptr)) {
        return reading_failed(GetLastError());
    }
    DWORD bytes = 0;
    lib.query_headers(request.get(), abi::k_query_raw_headers_crlf, nullptr, nullptr, &bytes, nullptr);  // the size
    if (bytes > 0) {
        std::wstring raw(bytes / sizeof(wchar_t) + 1, L'\0');
        if (lib.query_headers(request.get(), abi::k_query_raw_headers_crlf, nullptr, &raw[0], &bytes, nullptr)) {
            const std::string text = narrow(raw.c_str(), bytes / sizeof(wchar_t));
            const std::size_t first = text.find("\r\n");  // the status line
            if (first != std::string::npos) http_parse_header_lines(text, first + 2, text.size(), &r.headers);
        }
    }

    // The body as it arrives: waiting for some (within the deadline), then taking what is there.
    char buf[16384];
    std::size_t received = 0;
    for (;;) {
        if (!arm(false)) return failed("the server did not answer in time");
        DWORD available = 0;
        if (!lib.query_data_available(request.get(), &available)) return reading_failed(GetLastError());
        if (available == 0) break;  // the end of the reply
        DWORD got = 0;
        if (!lib.read_data(request.get(), buf, std::min<DWORD>(available, sizeof(buf)), &got)) return reading_failed(GetLastError());
        if (got == 0) break;
        received += got;
        if (received > k_http_max_reply) return failed("the reply is larger than 1 MiB");
        r.body.append(buf, std::min<std::size_t>(got, k_http_max_body_kept - std::min(k_http_max_body_kept, r.body.size())));
    }
    r.status = static_cast<int>(status);
    return r;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS
