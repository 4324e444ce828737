// crashdrop/transport/http_common.hpp - what every HTTP client of crashdrop shares: the reply
// (http_response), the request headers (http_headers), the deadline of one exchange and the
// reading of "Name: value" header lines. The clients themselves are per platform
// (http_posix.hpp and curl_linux.hpp, http_windows.hpp).
// Context: implementation TU; helper process (ordinary code, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

struct http_response {
    int status = 0;                // 0: no HTTP reply (network failure)
    std::string body;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string error;             // set when status is 0
};

using http_headers = std::vector<std::pair<std::string, std::string>>;

/// Replies longer than this are refused: a crash server answers with an id, not a page.
constexpr std::size_t k_http_max_reply = 1u << 20;

class http_deadline {
public:
    explicit http_deadline(int ms) : end_(std::chrono::steady_clock::now() + std::chrono::milliseconds(ms)) {}
    int remaining_ms() const {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end_ - std::chrono::steady_clock::now()).count();
        return left <= 0 ? 0 : static_cast<int>(left > 2147483647 ? 2147483647 : left);
    }

private:
    std::chrono::steady_clock::time_point end_;
};

/// Reads the "Name: value" lines of raw[begin, end) (CRLF-separated) into *out, names in lower
/// case and values without surrounding blanks. Lines without a colon (a status line) are skipped.
inline void http_parse_header_lines(const std::string& raw, std::size_t begin, std::size_t end,
                                    std::map<std::string, std::string>* out) {
    std::size_t pos = begin;
    while (pos < end) {
        std::size_t eol = raw.find("\r\n", pos);
        if (eol == std::string::npos || eol > end) eol = end;
        const std::string line = raw.substr(pos, eol - pos);
        pos = eol + 2;
        const std::size_t c = line.find(':');
        if (c == std::string::npos) continue;
        std::string name = line.substr(0, c);
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::string value = line.substr(c + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
        (*out)[name] = value;
    }
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
