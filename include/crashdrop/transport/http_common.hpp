// crashdrop/transport/http_common.hpp - what every HTTP client of crashdrop shares: the reply
// (http_response), the request headers (http_headers), the deadline of one exchange, the reply
// parser (http_reply_parser: bytes in, a bounded reply out, no socket), the reading of
// Retry-After, and the classification of status codes that every client's reply goes through
// (classify_http_status). The clients themselves are per platform (http_posix.hpp and
// curl_linux.hpp, http_windows.hpp).
//
// A crash server is outside input: the parser keeps fixed bounds whatever it is sent (see the
// k_http_* constants), runs in time linear in the bytes it is given, and never reads past what
// it was handed. tests/fuzz/http_reply_fuzz.cpp drives it directly.
// Context: implementation TU; helper process (ordinary code, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

struct http_response {
    int status = 0;                // 0: no usable HTTP reply (network failure, malformed or oversized reply)
    std::string body;              // at most k_http_max_body_kept bytes (the rest was read and dropped)
    std::map<std::string, std::string> headers;  // names in lower case; repeated names joined with ", "
    std::string error;             // set when status is 0
};

using http_headers = std::vector<std::pair<std::string, std::string>>;

/// Bounds on what one exchange reads, whatever the server sends.
/// Bytes read from the connection for one reply, interim (1xx) replies included; more is an
/// error (the report stays pending). A crash server answers with an id, not a page.
constexpr std::size_t k_http_max_reply = 1u << 20;
/// Bytes of the body kept (server id, error text); the rest is read (within k_http_max_reply) and dropped.
constexpr std::size_t k_http_max_body_kept = 64u * 1024u;
/// One status line, header line, chunk-size line or trailer line.
constexpr std::size_t k_http_max_line = 8u * 1024u;
/// Header (and trailer) lines of one reply.
constexpr std::size_t k_http_max_header_lines = 100;
/// Interim (1xx) replies skipped before the final one.
constexpr int k_http_max_interim = 16;
/// The longest a report waits between two attempts in one helper run (back-off, Retry-After,
/// a configuration error): one hour. The next start() tries every pending report at once.
constexpr long long k_max_retry_wait_ms = 3600000;

class http_deadline {
public:
    explicit http_deadline(int ms) : end_(std::chrono::steady_clock::now() + std::chrono::milliseconds(ms)) {}
    int remaining_ms() const {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end_ - std::chrono::steady_clock::now()).count();
        return left <= 0 ? 0 : static_cast<int>(left > 2147483647 ? 2147483647 : left);
    }
    std::chrono::steady_clock::time_point end() const { return end_; }

private:
    std::chrono::steady_clock::time_point end_;
};

CRASHDROP_COLD inline bool http_is_blank(char c) { return c == ' ' || c == '\t'; }

CRASHDROP_COLD inline std::string http_trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && http_is_blank(s[b])) ++b;
    while (e > b && http_is_blank(s[e - 1])) --e;
    return s.substr(b, e - b);
}

/// RFC 9110 token characters (header names).
CRASHDROP_COLD inline bool http_is_token_char(char ch) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80 || c <= 0x20 || c == 0x7f) return false;
    return std::strchr("\"(),/:;<=>?@[\\]{}", static_cast<int>(c)) == nullptr;
}

/// Adds "Name: value" (one line, no line end) to *out: name in lower case, value trimmed,
/// a repeated name joined to the earlier value with ", ". Lines that are not a header (no
/// colon, a name that is not a token) are ignored: false.
CRASHDROP_COLD inline bool http_add_header_line(const std::string& line, std::map<std::string, std::string>* out) {
    const std::size_t c = line.find(':');
    if (c == std::string::npos || c == 0) return false;
    std::string name = line.substr(0, c);
    for (auto& ch : name) {
        if (!http_is_token_char(ch)) return false;
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    const std::string value = http_trim(line.substr(c + 1));
    auto it = out->find(name);
    if (it == out->end()) {
        out->emplace(std::move(name), value);
    } else {
        it->second += ", " + value;
    }
    return true;
}

/// Reads the "Name: value" lines of raw[begin, end) (CRLF-separated) into *out (see
/// http_add_header_line). Lines without a colon (a status line) are skipped. For header blocks
/// that another client already framed and bounded (WinHTTP's).
CRASHDROP_COLD inline void http_parse_header_lines(const std::string& raw, std::size_t begin, std::size_t end,
                                    std::map<std::string, std::string>* out) {
    std::size_t pos = begin;
    std::size_t lines = 0;
    while (pos < end && lines < k_http_max_header_lines) {
        std::size_t eol = raw.find("\r\n", pos);
        if (eol == std::string::npos || eol > end) eol = end;
        const std::string line = raw.substr(pos, std::min(eol - pos, k_http_max_line));
        pos = eol + 2;
        if (!line.empty()) ++lines;
        http_add_header_line(line, out);
    }
}

/// An HTTP/1.x reply parser: bytes in (any split), a reply out. No socket: the clients feed it
/// what they receive, the fuzzer feeds it anything. It keeps fixed bounds (k_http_max_*),
/// works in time linear in the bytes given, skips interim replies (100 Continue, 102
/// Processing, 103 Early Hints, any 1xx but 101) and frames the body by chunked coding,
/// Content-Length, or the connection's end.
class http_reply_parser {
public:
    /// Takes up to `size` bytes; returns how many were used (fewer once the reply is complete or
    /// has failed: what follows a complete reply is not part of it).
    std::size_t feed(const char* data, std::size_t size) {
        std::size_t used = 0;
        while (used < size && state_ != st::done && state_ != st::failed) {
            if (consumed_ >= k_http_max_reply) {
                fail("the reply is larger than 1 MiB");
                break;
            }
            const std::size_t budget = std::min(size - used, k_http_max_reply - consumed_);
            const std::size_t n = step(data + used, budget);
            used += n;
            consumed_ += n;
        }
        return used;
    }
    /// The connection has ended: a body framed by the end is complete; anything else that is
    /// not complete has failed.
    void finish() {
        if (state_ == st::done || state_ == st::failed) return;
        if (state_ == st::body_until_close) {
            state_ = st::done;
            return;
        }
        if (state_ == st::status_line && consumed_ == 0) fail("the server closed the connection without a reply");
        else if (state_ == st::status_line || state_ == st::headers) fail("incomplete reply headers");
        else if (state_ == st::body_length) fail("the reply ended early");
        else fail("incomplete chunked reply");
    }
    bool complete() const { return state_ == st::done; }
    bool failed() const { return state_ == st::failed; }
    bool finished() const { return state_ == st::done || state_ == st::failed; }
    /// A status line was read (of a final reply or an interim one).
    bool started() const { return status_ != 0; }
    /// Bytes used so far (interim replies included).
    std::size_t consumed() const { return consumed_; }
    /// The reply: its status, headers and (kept part of the) body when complete; status 0 and
    /// the reason when failed or not complete.
    http_response result() const {
        http_response r;
        if (state_ == st::done) {
            r.status = status_;
            r.headers = headers_;
            r.body = body_;
        } else {
            r.error = state_ == st::failed ? error_ : "incomplete reply";
        }
        return r;
    }

private:
    enum class st { status_line, headers, body_length, body_until_close, chunk_size, chunk_data, chunk_data_end, trailers, done, failed };

    void fail(const std::string& why) {
        state_ = st::failed;
        error_ = why;
    }

    void keep(const char* data, std::size_t n) {
        const std::size_t room = k_http_max_body_kept - std::min(k_http_max_body_kept, body_.size());
        body_.append(data, std::min(n, room));
    }

    /// Collects a line; true when one is complete (in line_, without its CR LF).
    bool take_line(const char* data, std::size_t size, std::size_t* used) {
        const void* nl = std::memchr(data, '\n', size);
        const std::size_t n = nl == nullptr ? size : static_cast<std::size_t>(static_cast<const char*>(nl) - data);
        if (line_.size() + n > k_http_max_line) {
            *used = size;
            fail(state_ == st::status_line ? "the status line is too long"
                 : state_ == st::chunk_size ? "a chunk-size line is too long"
                                            : "a reply header line is too long");
            return false;
        }
        line_.append(data, n);
        if (nl == nullptr) {
            *used = size;
            return false;
        }
        *used = n + 1;
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        return true;
    }

    /// Processes a prefix of data; returns the bytes used (at least one).
    std::size_t step(const char* data, std::size_t size) {
        std::size_t used = 0;
        switch (state_) {
            case st::status_line:
            case st::headers:
            case st::chunk_size:
            case st::trailers:
                if (take_line(data, size, &used)) {
                    std::string line;
                    line.swap(line_);
                    on_line(line);
                }
                return used;
            case st::body_length: {
                const std::size_t n = static_cast<std::size_t>(std::min<unsigned long long>(remaining_, size));
                keep(data, n);
                remaining_ -= n;
                if (remaining_ == 0) state_ = st::done;
                return n;
            }
            case st::body_until_close:
                keep(data, size);
                return size;
            case st::chunk_data: {
                const std::size_t n = static_cast<std::size_t>(std::min<unsigned long long>(remaining_, size));
                keep(data, n);
                remaining_ -= n;
                if (remaining_ == 0) state_ = st::chunk_data_end;
                return n;
            }
            case st::chunk_data_end:
                // The CR LF after a chunk's data (a bare LF is accepted).
                if (data[0] == '\r' && !saw_cr_) {
                    saw_cr_ = true;
                } else if (data[0] == '\n') {
                    saw_cr_ = false;
                    state_ = st::chunk_size;
                } else {
                    fail("malformed chunked reply (no line end after a chunk)");
                }
                return 1;
            case st::done:
            case st::failed:
                break;
        }
        return size;
    }

    void on_line(const std::string& line) {
        switch (state_) {
            case st::status_line: return on_status_line(line);
            case st::headers:
                if (line.empty()) return on_headers_end();
                return on_header_line(line);
            case st::chunk_size: return on_chunk_size(line);
            case st::trailers:
                if (line.empty()) {
                    state_ = st::done;
                } else if (++header_lines_ > k_http_max_header_lines) {
                    fail("too many trailer lines in the reply");
                }
                return;  // trailers are read and dropped
            default: return;
        }
    }

    // "HTTP/1.1 200 OK": the version, three digits, then a blank or the end.
    void on_status_line(const std::string& line) {
        if (line.empty() && interim_ > 0) return;  // tolerate a blank line between replies
        const bool shape = line.size() >= 12 && line.compare(0, 5, "HTTP/") == 0 && std::isdigit(static_cast<unsigned char>(line[5])) &&
                           line[6] == '.' && std::isdigit(static_cast<unsigned char>(line[7])) && line[8] == ' ' &&
                           std::isdigit(static_cast<unsigned char>(line[9])) && std::isdigit(static_cast<unsigned char>(line[10])) &&
                           std::isdigit(static_cast<unsigned char>(line[11])) && (line.size() == 12 || line[12] == ' ');
        if (!shape) {
            std::string shown;
            for (std::size_t i = 0; i < line.size() && i < 64; ++i) {
                const auto c = static_cast<unsigned char>(line[i]);
                shown += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
            }
            return fail("not an HTTP reply: '" + shown + "'");
        }
        status_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        if (status_ < 100 || status_ > 599) return fail("the reply's status " + std::to_string(status_) + " is not an HTTP status");
        headers_.clear();
        header_lines_ = 0;
        state_ = st::headers;
    }

    void on_header_line(const std::string& line) {
        if (++header_lines_ > k_http_max_header_lines) return fail("too many header lines in the reply");
        if (http_is_blank(line[0])) {
            // An obsolete folded continuation: part of the previous value.
            if (!last_header_.empty()) {
                auto it = headers_.find(last_header_);
                if (it != headers_.end()) {
                    const std::string more = http_trim(line);
                    if (!more.empty()) it->second += (it->second.empty() ? "" : " ") + more;
                }
            }
            return;
        }
        const std::size_t c = line.find(':');
        last_header_.clear();
        if (http_add_header_line(line, &headers_)) {
            last_header_ = line.substr(0, c);
            for (auto& ch : last_header_) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
    }

    void on_headers_end() {
        last_header_.clear();
        if (status_ == 101) return fail("the server switched protocols (101), which crashdrop never asks for");
        if (status_ < 200) {  // interim: the final reply follows
            if (++interim_ > k_http_max_interim) return fail("too many interim (1xx) replies");
            status_ = 0;
            headers_.clear();
            state_ = st::status_line;
            return;
        }
        if (status_ == 204 || status_ == 304) {
            state_ = st::done;
            return;
        }
        auto te = headers_.find("transfer-encoding");
        if (te != headers_.end()) {
            // The last coding decides: chunked frames the body; any other one runs to the end.
            std::string v = te->second;
            for (auto& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            const std::size_t comma = v.rfind(',');
            state_ = http_trim(comma == std::string::npos ? v : v.substr(comma + 1)) == "chunked" ? st::chunk_size
                                                                                                  : st::body_until_close;
            return;
        }
        auto cl = headers_.find("content-length");
        if (cl == headers_.end()) {
            state_ = st::body_until_close;
            return;
        }
        // Digits only; a repeated header must repeat the same value ("5, 5").
        unsigned long long length = 0;
        bool have = false;
        std::size_t pos = 0;
        const std::string& v = cl->second;
        while (pos <= v.size()) {
            std::size_t comma = v.find(',', pos);
            if (comma == std::string::npos) comma = v.size();
            const std::string one = http_trim(v.substr(pos, comma - pos));
            if (one.empty() || one.size() > 18 || one.find_first_not_of("0123456789") != std::string::npos) {
                return fail("the reply's Content-Length is not a number");
            }
            const unsigned long long n = std::strtoull(one.c_str(), nullptr, 10);
            if (have && n != length) return fail("the reply has two different Content-Length values");
            length = n;
            have = true;
            pos = comma + 1;
        }
        if (length > k_http_max_reply) return fail("the reply is larger than 1 MiB");
        remaining_ = length;
        state_ = length == 0 ? st::done : st::body_length;
    }

    // "1a2b[;extension]": hex digits, then blanks or an extension.
    void on_chunk_size(const std::string& line) {
        std::size_t i = 0;
        unsigned long long size = 0;
        while (i < line.size() && std::isxdigit(static_cast<unsigned char>(line[i]))) {
            if (i >= 15) return fail("a chunk size is too large");
            const char c = line[i];
            const unsigned digit = static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
            size = size * 16 + digit;
            ++i;
        }
        if (i == 0) return fail("malformed chunked reply (a chunk size is not hexadecimal)");
        while (i < line.size() && http_is_blank(line[i])) ++i;
        if (i < line.size() && line[i] != ';') return fail("malformed chunked reply (a chunk size is not hexadecimal)");
        if (size == 0) {
            state_ = st::trailers;
            return;
        }
        if (size > k_http_max_reply) return fail("the reply is larger than 1 MiB");
        remaining_ = size;
        state_ = st::chunk_data;
    }

    st state_ = st::status_line;
    int status_ = 0;
    int interim_ = 0;
    std::size_t consumed_ = 0;
    std::size_t header_lines_ = 0;
    unsigned long long remaining_ = 0;
    bool saw_cr_ = false;
    std::string line_;
    std::string last_header_;
    std::string body_;
    std::string error_;
    std::map<std::string, std::string> headers_;
};

/// Parses a whole reply held in memory (`closed`: the connection ended after it).
CRASHDROP_COLD inline http_response http_parse_reply(const std::string& bytes, bool closed = true) {
    http_reply_parser p;
    p.feed(bytes.data(), bytes.size());
    if (closed) p.finish();
    return p.result();
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12).
CRASHDROP_COLD inline long long http_days_from_civil(long long y, unsigned m, unsigned d) {
    y -= m <= 2 ? 1 : 0;
    const long long era = (y >= 0 ? y : y - 399) / 400;
    const long long yoe = y - era * 400;
    const long long mp = (m + 9) % 12;
    const long long doy = (153 * mp + 2) / 5 + static_cast<long long>(d) - 1;
    const long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/// An HTTP-date (RFC 9110 5.6.7: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete
/// RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994") as UTC
/// seconds; false if it is none of them.
CRASHDROP_COLD inline bool http_parse_date(const std::string& text, long long* out) {
    static const char* const k_months[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
    // Split into words at blanks, commas and dashes; keep the word order.
    std::vector<std::string> w;
    std::string cur;
    for (const char ch : text) {
        if (ch == ' ' || ch == ',' || ch == '-' || ch == '\t') {
            if (!cur.empty()) w.push_back(cur);
            cur.clear();
            if (w.size() > 8) return false;
        } else {
            cur += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (cur.size() > 16) return false;
        }
    }
    if (!cur.empty()) w.push_back(cur);
    auto number = [](const std::string& s, long long* v) {
        if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos) return false;
        *v = std::atoll(s.c_str());
        return true;
    };
    auto month = [&](const std::string& s) {
        for (unsigned i = 0; i < 12; ++i) {
            if (s == k_months[i]) return static_cast<int>(i) + 1;
        }
        return 0;
    };
    long long day = 0, year = 0;
    int mon = 0;
    std::string clock_text;
    if (w.size() == 6 && w[5] == "gmt") {  // IMF-fixdate or RFC 850: weekday day month year time GMT
        if (!number(w[1], &day) || (mon = month(w[2])) == 0 || !number(w[3], &year)) return false;
        if (w[3].size() == 2) year += year < 70 ? 2000 : 1900;  // RFC 850's two-digit year
        clock_text = w[4];
    } else if (w.size() == 5) {  // asctime: weekday month day time year
        if ((mon = month(w[1])) == 0 || !number(w[2], &day) || !number(w[4], &year)) return false;
        clock_text = w[3];
    } else {
        return false;
    }
    if (clock_text.size() != 8 || clock_text[2] != ':' || clock_text[5] != ':') return false;
    long long hh = 0, mm = 0, ss = 0;
    if (!number(clock_text.substr(0, 2), &hh) || !number(clock_text.substr(3, 2), &mm) || !number(clock_text.substr(6, 2), &ss)) {
        return false;
    }
    if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970 || year > 9999) return false;
    *out = http_days_from_civil(year, static_cast<unsigned>(mon), static_cast<unsigned>(day)) * 86400 + hh * 3600 + mm * 60 + ss;
    return true;
}

/// The wait a Retry-After value asks for, in milliseconds from `now` (UTC seconds): delay-seconds
/// or an HTTP-date (a date in the past: 0). -1 if the value is neither. Not capped here.
CRASHDROP_COLD inline long long http_retry_after_ms(const std::string& value, long long now) {
    const std::string v = http_trim(value);
    if (v.empty()) return -1;
    if (v.find_first_not_of("0123456789") == std::string::npos) {
        if (v.size() > 9) return 999999999LL * 1000;  // longer than 31 years: as good as forever
        return std::atoll(v.c_str()) * 1000;
    }
    long long when = 0;
    if (!http_parse_date(v, &when)) return -1;
    return when <= now ? 0 : (when - now) * 1000;
}

/// What a reply's status means for the report, the same for every client.
enum class http_status_class {
    sent,           ///< 2xx: the server has it (Socorro may still say Discarded= in the body)
    rejected,       ///< 400, 413: the server refuses this report; no retry will change that
    configuration,  ///< 301, 308, 401, 403, 404, 405, 407, 410: the URL, credentials or proxy are
                    ///< wrong; the report stays pending with the longest back-off
    retry,          ///< everything else: 5xx, 408, 429, other 4xx and 3xx, no reply at all
};

CRASHDROP_COLD inline http_status_class classify_http_status(int status) {
    if (status >= 200 && status < 300) return http_status_class::sent;
    switch (status) {
        case 400:
        case 413: return http_status_class::rejected;
        case 301:
        case 308:
        case 401:
        case 403:
        case 404:
        case 405:
        case 407:
        case 410: return http_status_class::configuration;
        default: return http_status_class::retry;
    }
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
