// upload_target_win - sends one made-up report with crashdrop's built-in transport on Windows
// (upload_builtin: the multipart body, gzip, WinHTTP, the reading of the reply) and prints the
// verdict. run_upload_case.py runs it under wine against tools/collector.py and checks from
// outside what arrived.
//
//   upload_target_win.exe key=value ...
//     url=URL | dsn=DSN (Sentry: the DSN is turned into its minidump endpoint)
//     format=crashpad|socorro|sentry  compress=0|1  timeout_ms=N  connect_ms=N
//     ca_file=PATH  attachment=PATH  dump_bytes=N
//
// Prints "status=sent|retry_later|rejected", "server_id=...", "message=...", "retry_after_ms=N" and "elapsed_ms=N",
// a line each. The dump is dump_bytes bytes of fake_dump_byte(i) (run_upload_case.py makes the
// same bytes to compare); the report's fields are the constants below.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace cd = crashdrop;

// "MDMP", then a pattern that compresses well but not to nothing.
static std::uint8_t fake_dump_byte(std::size_t i) {
    static const char k_magic[] = "MDMP";
    if (i < 4) return static_cast<std::uint8_t>(k_magic[i]);
    return static_cast<std::uint8_t>((i * 7 + (i >> 10)) & 0xff);
}

int main(int argc, char** argv) {
    std::map<std::string, std::string> arg = {{"format", "crashpad"}, {"compress", "1"},       {"timeout_ms", "20000"},
                                              {"connect_ms", "5000"},  {"dump_bytes", "200000"}};
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const std::size_t eq = a.find('=');
        if (eq == std::string::npos) {
            std::fprintf(stderr, "not key=value: %s\n", a.c_str());
            return 2;
        }
        arg[a.substr(0, eq)] = a.substr(eq + 1);
    }

    cd::detail::upload_settings s;
    const std::string format = arg["format"];
    s.format = format == "socorro"           ? cd::UploadFormat::socorro
               : format == "sentry"          ? cd::UploadFormat::sentry
               : format == "sentry_minidump" ? cd::UploadFormat::sentry_minidump
                                             : cd::UploadFormat::crashpad;
    s.url = arg["url"];
    if (!arg["dsn"].empty()) {
        std::string error;
        if (!cd::detail::sentry_minidump_url(arg["dsn"], &s.url, &error)) {
            std::fprintf(stderr, "bad dsn: %s\n", error.c_str());
            return 2;
        }
    }
    s.compress = arg["compress"] == "1";
    s.ca_file = arg["ca_file"];
    s.upload_timeout_ms = std::atoi(arg["timeout_ms"].c_str());
    s.connect_timeout_ms = std::atoi(arg["connect_ms"].c_str());

    cd::Upload up;
    up.client_id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    up.report.id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    up.report.product = "WinApp";
    up.report.version = "2.3.4";
    up.report.annotations = {{"prod", "WinApp"}, {"ver", "2.3.4"}, {"scene", "level-3"}, {"gpu", "wine \xc3\xa9t\xc3\xa9"}};
    up.report.tags = {{"region", "eu"}};
    up.report.user.id = "u-42";
    up.report.breadcrumbs = {{1700000000123, cd::BreadcrumbLevel::info, "ui", "opened the map"},
                             {1700000001456, cd::BreadcrumbLevel::error, "net", "lost the server"}};
    const std::size_t dump_bytes = static_cast<std::size_t>(std::strtoull(arg["dump_bytes"].c_str(), nullptr, 10));
    for (std::size_t i = 0; i < dump_bytes; ++i) up.dump.push_back(fake_dump_byte(i));
    if (!arg["attachment"].empty()) up.attachments.push_back(arg["attachment"]);

    const auto t0 = std::chrono::steady_clock::now();
    const cd::UploadResult r = cd::detail::upload_builtin(up, s);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    const char* status = r.status == cd::UploadStatus::sent ? "sent" : r.status == cd::UploadStatus::rejected ? "rejected" : "retry_later";
    std::printf("status=%s\nserver_id=%s\nmessage=%s\nelapsed_ms=%lld\nretry_after_ms=%lld\n", status, r.server_id.c_str(),
                r.message.c_str(), static_cast<long long>(ms), r.retry_after_ms);
    return 0;
}
