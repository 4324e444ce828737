// crashdrop/transport/http_common.hpp - what every HTTP client of crashdrop returns and takes:
// the reply, the request headers, and the deadline of one exchange.
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

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
