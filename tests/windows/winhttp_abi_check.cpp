// winhttp_abi_check - http_windows.hpp copies WinHTTP's constants and signatures rather than
// including <winhttp.h>; this TU includes both and fails to compile where they differ. Run, it
// also checks that winhttp.dll loads from the system folder with every function it needs.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <winhttp.h>

#include <cstdio>
#include <type_traits>

namespace wh = crashdrop::detail::winhttp_abi;
using lib = crashdrop::detail::winhttp_library;

static_assert(wh::k_access_type_default_proxy == WINHTTP_ACCESS_TYPE_DEFAULT_PROXY, "");
static_assert(wh::k_flag_secure == WINHTTP_FLAG_SECURE, "");
static_assert(wh::k_option_security_flags == WINHTTP_OPTION_SECURITY_FLAGS, "");
static_assert(wh::k_option_disable_feature == WINHTTP_OPTION_DISABLE_FEATURE, "");
static_assert(wh::k_option_receive_response_timeout == WINHTTP_OPTION_RECEIVE_RESPONSE_TIMEOUT, "");
static_assert(wh::k_option_server_cert_context == WINHTTP_OPTION_SERVER_CERT_CONTEXT, "");
static_assert(wh::k_disable_cookies == WINHTTP_DISABLE_COOKIES, "");
static_assert(wh::k_disable_redirects == WINHTTP_DISABLE_REDIRECTS, "");
static_assert(wh::k_disable_keep_alive == WINHTTP_DISABLE_KEEP_ALIVE, "");
static_assert(wh::k_security_flag_ignore_unknown_ca == SECURITY_FLAG_IGNORE_UNKNOWN_CA, "");
static_assert(wh::k_query_status_code == WINHTTP_QUERY_STATUS_CODE, "");
static_assert(wh::k_query_raw_headers_crlf == WINHTTP_QUERY_RAW_HEADERS_CRLF, "");
static_assert(wh::k_query_flag_number == WINHTTP_QUERY_FLAG_NUMBER, "");
static_assert(wh::k_error_timeout == ERROR_WINHTTP_TIMEOUT, "");
static_assert(wh::k_error_name_not_resolved == ERROR_WINHTTP_NAME_NOT_RESOLVED, "");
static_assert(wh::k_error_cannot_connect == ERROR_WINHTTP_CANNOT_CONNECT, "");
static_assert(wh::k_error_connection_error == ERROR_WINHTTP_CONNECTION_ERROR, "");
static_assert(wh::k_error_invalid_server_response == ERROR_WINHTTP_INVALID_SERVER_RESPONSE, "");
static_assert(wh::k_error_secure_failure == ERROR_WINHTTP_SECURE_FAILURE, "");
static_assert(wh::k_error_secure_channel_error == ERROR_WINHTTP_SECURE_CHANNEL_ERROR, "");
static_assert(wh::k_wsa_timed_out == WSAETIMEDOUT, "");
static_assert(wh::k_error_secure_invalid_ca == ERROR_WINHTTP_SECURE_INVALID_CA, "");
static_assert(wh::k_error_secure_cert_cn_invalid == ERROR_WINHTTP_SECURE_CERT_CN_INVALID, "");
static_assert(wh::k_error_secure_cert_date_invalid == ERROR_WINHTTP_SECURE_CERT_DATE_INVALID, "");

static_assert(std::is_same<lib::handle, HINTERNET>::value, "");
static_assert(std::is_same<lib::open_fn, decltype(&::WinHttpOpen)>::value, "");
static_assert(std::is_same<lib::connect_fn, decltype(&::WinHttpConnect)>::value, "");
static_assert(std::is_same<lib::open_request_fn, decltype(&::WinHttpOpenRequest)>::value, "");
static_assert(std::is_same<lib::set_timeouts_fn, decltype(&::WinHttpSetTimeouts)>::value, "");
static_assert(std::is_same<lib::set_option_fn, decltype(&::WinHttpSetOption)>::value, "");
static_assert(std::is_same<lib::query_option_fn, decltype(&::WinHttpQueryOption)>::value, "");
static_assert(std::is_same<lib::send_request_fn, decltype(&::WinHttpSendRequest)>::value, "");
static_assert(std::is_same<lib::write_data_fn, decltype(&::WinHttpWriteData)>::value, "");
static_assert(std::is_same<lib::receive_response_fn, decltype(&::WinHttpReceiveResponse)>::value, "");
static_assert(std::is_same<lib::query_headers_fn, decltype(&::WinHttpQueryHeaders)>::value, "");
static_assert(std::is_same<lib::query_data_available_fn, decltype(&::WinHttpQueryDataAvailable)>::value, "");
static_assert(std::is_same<lib::read_data_fn, decltype(&::WinHttpReadData)>::value, "");
static_assert(std::is_same<lib::close_handle_fn, decltype(&::WinHttpCloseHandle)>::value, "");

int main() {
    const lib& w = lib::get();
    if (!w.available()) {
        std::printf("FAIL: %s\n", w.error.c_str());
        return 1;
    }
    std::printf("ok: winhttp.dll loaded, every function found\n");
    return 0;
}
