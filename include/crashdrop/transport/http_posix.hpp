// crashdrop/transport/http_posix.hpp - a small HTTP/1.1 client for http:// on POSIX sockets:
// one POST per connection ("Connection: close"), a connect timeout and a deadline for the whole
// exchange that covers the name lookup too (a resolver or server that hangs, or a reply trickled a
// byte at a time, is cut off), the reply read through http_reply_parser (http_common.hpp), which
// keeps it within fixed bounds.
// The reply and header types and the deadline are shared with the other clients (http_common.hpp).
// Context: implementation TU; helper process (ordinary code, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// Waits for fd to become ready for `events` within the deadline.
CRASHDROP_COLD inline bool wait_fd(int fd, short events, const http_deadline& deadline) {
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

/// A name resolver with getaddrinfo's signature (tests pass a slow one).
using http_resolver_fn = int (*)(const char*, const char*, const addrinfo*, addrinfo**);

/// One name lookup on its own thread, so that the caller can give up at its deadline:
/// getaddrinfo has no timeout of its own, and a resolver that does not answer (an unreachable
/// name server, a hung nsswitch module) would otherwise hold the attempt for as long as the
/// system's resolver settings say (attempts x timeout x servers, easily minutes).
/// The caller and the thread share this object; whichever of them is last frees it (and the
/// addresses, if the caller has gone).
struct http_lookup {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    bool abandoned = false;
    int rc = 0;
    addrinfo* list = nullptr;
    std::string host;
    std::string service;
    http_resolver_fn resolve = nullptr;

    static void* run(void* self) {
        auto* job = static_cast<http_lookup*>(self);
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* list = nullptr;
        const int rc = job->resolve(job->host.c_str(), job->service.c_str(), &hints, &list);
        std::unique_lock<std::mutex> lock(job->mutex);
        job->rc = rc;
        job->list = list;
        job->done = true;
        if (!job->abandoned) {
            // Notified under the lock: the caller frees the job once it has the lock, and this
            // thread touches nothing of it after releasing the lock.
            job->done_cv.notify_all();
            return nullptr;
        }
        lock.unlock();  // the caller has given up: nobody else will free these
        if (rc == 0 && list != nullptr) freeaddrinfo(list);
        delete job;
        return nullptr;
    }
};

/// Resolves host:port within `deadline`: 0 and *out (free with freeaddrinfo), a getaddrinfo
/// error code, or EAI_AGAIN with *timed_out set when the deadline passed first (the lookup
/// then finishes unobserved on its detached thread, which frees what it finds).
CRASHDROP_COLD inline int http_resolve(const std::string& host, int port, const http_deadline& deadline, http_resolver_fn resolve,
                        addrinfo** out, bool* timed_out) {
    *out = nullptr;
    *timed_out = false;
    auto* job = new http_lookup;
    job->host = host;
    job->service = std::to_string(port);
    job->resolve = resolve;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);  // resolvers need little; never the 8 MiB default
    pthread_t thread;
    const bool threaded = pthread_create(&thread, &attr, &http_lookup::run, job) == 0;
    pthread_attr_destroy(&attr);
    if (!threaded) {  // no thread to spare: resolve here, without a deadline
        http_lookup::run(job);
        const int rc = job->rc;
        *out = job->list;
        delete job;
        return rc;
    }
    std::unique_lock<std::mutex> lock(job->mutex);
    if (!job->done_cv.wait_until(lock, deadline.end(), [job] { return job->done; })) {
        job->abandoned = true;  // the thread frees the job when its lookup ends
        *timed_out = true;
        return EAI_AGAIN;
    }
    const int rc = job->rc;
    *out = job->list;
    lock.unlock();
    delete job;
    return rc;
}

/// Connects to host:port (any address the lookup gives) within connect_ms and the deadline;
/// the name lookup counts against both.
CRASHDROP_COLD inline int http_connect(const std::string& host, int port, int connect_ms, const http_deadline& deadline, std::string* error,
                        http_resolver_fn resolve = &getaddrinfo) {
    const http_deadline connect_deadline(std::min(connect_ms, std::max(1, deadline.remaining_ms())));
    addrinfo* list = nullptr;
    bool timed_out = false;
    const int gai = http_resolve(host, port, connect_deadline, resolve, &list, &timed_out);
    if (timed_out) {
        *error = "cannot resolve " + host + ": no answer in time";
        return -1;
    }
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

CRASHDROP_COLD inline bool send_all(int fd, const char* data, std::size_t size, const http_deadline& deadline, std::string* error) {
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

/// POSTs `body` to an http:// URL. Never throws; a failure before a complete reply (or a reply
/// the parser refuses) comes back with status 0 and the reason in `error`. The deadline
/// (total_ms) covers the name lookup, connecting, sending and the whole reply.
CRASHDROP_COLD inline http_response http_post(const url_parts& url, const http_headers& headers, const std::string& body,
                               int connect_ms, int total_ms, http_resolver_fn resolve = &getaddrinfo) {
    http_response r;
    const http_deadline deadline(total_ms);
    const int fd = http_connect(url.host, url.port, connect_ms, deadline, &r.error, resolve);
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
    // Read the reply as it comes, through the parser (which keeps its bounds), until it is
    // complete or refused, the peer closes, or the deadline passes.
    http_reply_parser parser;
    char buf[16384];
    while (!parser.finished()) {
        if (!wait_fd(fd, POLLIN, deadline)) {
            close(fd);
            r.error = "the server did not answer in time";
            return r;
        }
        const ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {  // closed (or reset): a body framed by the end ends here
            parser.finish();
            break;
        }
        parser.feed(buf, static_cast<std::size_t>(n));
    }
    close(fd);
    return parser.result();
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX
