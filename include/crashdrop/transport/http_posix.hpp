// crashdrop/transport/http_posix.hpp - a small HTTP/1.1 client for http:// on POSIX sockets:
// one POST per connection ("Connection: close"), a connect timeout and a deadline for the whole
// exchange (a server that hangs, or trickles its reply a byte at a time, is cut off), replies
// framed by Content-Length, chunked transfer coding, or the connection's end.
// The reply and header types and the deadline are shared with the other clients (http_common.hpp).
// Context: implementation TU; helper process (ordinary code, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// Waits for fd to become ready for `events` within the deadline.
inline bool wait_fd(int fd, short events, const http_deadline& deadline) {
    for (;;) {
        const int ms = deadline.remaining_ms();
        if (ms == 0) return false;
        pollfd p{fd, events, 0};
        const int r = poll(&p, 1, ms);
        if (r > 0) return true;
        if (r == 0) return false;
        if (errno != EINTR) return false;
    }
}

/// Connects to host:port (any address getaddrinfo gives) within connect_ms and the deadline.
inline int http_connect(const std::string& host, int port, int connect_ms, const http_deadline& deadline, std::string* error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    const int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
    if (gai != 0) {
        *error = "cannot resolve " + host + ": " + gai_strerror(gai);
        return -1;
    }
    int fd = -1;
    for (addrinfo* a = list; a != nullptr && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            *error = "connect to " + host + ":" + std::to_string(port) + ": " + errno_text(errno);
            close(fd);
            fd = -1;
            continue;
        }
        const http_deadline connect_deadline(std::min(connect_ms, std::max(1, deadline.remaining_ms())));
        int err = 0;
        socklen_t len = sizeof(err);
        if (!wait_fd(fd, POLLOUT, connect_deadline) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            *error = "connect to " + host + ":" + std::to_string(port) + ": " + (err != 0 ? errno_text(err) : "timed out");
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    return fd;
}

inline bool send_all(int fd, const char* data, std::size_t size, const http_deadline& deadline, std::string* error) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = send(fd, data + done, size - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(fd, POLLOUT, deadline)) {
                *error = "sending the request timed out";
                return false;
            }
            continue;
        }
        *error = "sending the request: " + errno_text(errno);
        return false;
    }
    return true;
}

/// Decodes a chunked body; false when it is incomplete or malformed.
inline bool dechunk(const std::string& in, std::string* out) {
    out->clear();
    std::size_t pos = 0;
    for (;;) {
        const std::size_t eol = in.find("\r\n", pos);
        if (eol == std::string::npos) return false;
        char* end = nullptr;
        const unsigned long long size = std::strtoull(in.c_str() + pos, &end, 16);
        if (end == in.c_str() + pos) return false;
        pos = eol + 2;
        if (size == 0) return true;  // trailers ignored
        if (pos + size + 2 > in.size()) return false;
        out->append(in, pos, static_cast<std::size_t>(size));
        pos += static_cast<std::size_t>(size) + 2;
    }
}

/// POSTs `body` to an http:// URL. Never throws; a failure before a status line comes back
/// with status 0 and the reason in `error`.
inline http_response http_post(const url_parts& url, const http_headers& headers, const std::string& body,
                               int connect_ms, int total_ms) {
    http_response r;
    const http_deadline deadline(total_ms);
    const int fd = http_connect(url.host, url.port, connect_ms, deadline, &r.error);
    if (fd < 0) return r;
    std::string request = "POST " + url.target + " HTTP/1.1\r\n";
    const bool v6 = url.host.find(':') != std::string::npos;
    request += "Host: " + (v6 ? "[" + url.host + "]" : url.host) + (url.port != 80 ? ":" + std::to_string(url.port) : "") + "\r\n";
    request += "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    for (const auto& h : headers) request += h.first + ": " + h.second + "\r\n";
    request += "\r\n";
    if (!send_all(fd, request.data(), request.size(), deadline, &r.error) ||
        !send_all(fd, body.data(), body.size(), deadline, &r.error)) {
        close(fd);
        return r;
    }
    // Read the reply until it is complete, the peer closes, or the deadline passes.
    std::string raw;
    std::size_t header_end = std::string::npos;
    long long content_length = -1;
    bool chunked = false;
    char buf[16384];
    for (;;) {
        if (header_end != std::string::npos) {
            const std::size_t have = raw.size() - header_end;
            if (content_length >= 0 && have >= static_cast<std::size_t>(content_length)) break;
            std::string decoded;
            if (chunked && dechunk(raw.substr(header_end), &decoded)) break;
        }
        if (!wait_fd(fd, POLLIN, deadline)) {
            r.error = "the server did not answer in time";
            close(fd);
            r.status = 0;
            return r;
        }
        const ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;  // closed: the body ends here
        raw.append(buf, static_cast<std::size_t>(n));
        if (raw.size() > k_http_max_reply) {
            r.error = "the reply is larger than 1 MiB";
            close(fd);
            return r;
        }
        if (header_end == std::string::npos) {
            const std::size_t he = raw.find("\r\n\r\n");
            if (he == std::string::npos) continue;
            header_end = he + 4;
            // Status line and headers.
            const std::size_t sl_end = raw.find("\r\n");
            const std::string status_line = raw.substr(0, sl_end);
            if (status_line.compare(0, 5, "HTTP/") != 0 || status_line.size() < 12) {
                r.error = "not an HTTP reply: '" + status_line.substr(0, 64) + "'";
                close(fd);
                return r;
            }
            r.status = std::atoi(status_line.c_str() + status_line.find(' ') + 1);
            http_parse_header_lines(raw, sl_end + 2, he, &r.headers);
            auto te = r.headers.find("transfer-encoding");
            chunked = te != r.headers.end() && te->second.find("chunked") != std::string::npos;
            auto cl = r.headers.find("content-length");
            if (!chunked && cl != r.headers.end()) content_length = std::atoll(cl->second.c_str());
            if (r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200)) content_length = 0;
        }
    }
    close(fd);
    if (header_end == std::string::npos) {
        r.status = 0;
        r.error = raw.empty() ? "the server closed the connection without a reply" : "incomplete reply headers";
        return r;
    }
    const std::string payload = raw.substr(header_end);
    if (chunked) {
        if (!dechunk(payload, &r.body)) {
            r.status = 0;
            r.error = "incomplete chunked reply";
        }
    } else if (content_length >= 0) {
        if (payload.size() < static_cast<std::size_t>(content_length)) {
            r.status = 0;
            r.error = "the reply ended early";
        } else {
            r.body = payload.substr(0, static_cast<std::size_t>(content_length));
        }
    } else {
        r.body = payload;
    }
    return r;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX
