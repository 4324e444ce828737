// crashdrop/transport/upload.hpp - turns a report into the request a crash server expects and
// its reply into a verdict: the multipart body (Breakpad/Crashpad/Electron, Socorro or Sentry
// fields), optional gzip, http:// through the built-in client or https:// through libcurl, and
// the reading of the reply (200 + id: sent; 5xx or no reply: retry later; 4xx or Socorro's
// "Discarded=": rejected).
// Context: implementation TU; helper process (ordinary code, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// Everything the built-in transport needs to know (from Options, or from the config an
/// external helper reads).
struct upload_settings {
    std::string url;  // resolved (a Sentry DSN already turned into its endpoint)
    UploadFormat format = UploadFormat::crashpad;
    bool compress = true;
    std::string ca_file;
    int connect_timeout_ms = 10000;
    int upload_timeout_ms = 60000;
};

struct multipart_part {
    std::string name;
    std::string value;         // text, or the file's bytes
    std::string filename;      // non-empty: a file part
    std::string content_type;  // for file parts
};

inline std::string multipart_body(const std::vector<multipart_part>& parts, const std::string& boundary) {
    std::string body;
    for (const auto& p : parts) {
        body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
        if (!p.filename.empty()) {
            body += "; filename=\"" + p.filename + "\"\r\nContent-Type: " +
                    (p.content_type.empty() ? std::string("application/octet-stream") : p.content_type);
        }
        body += "\r\n\r\n";
        body += p.value;
        body += "\r\n";
    }
    body += "--" + boundary + "--\r\n";
    return body;
}

/// A field name must not break the Content-Disposition header it sits in.
inline std::string safe_field_name(const std::string& name) {
    std::string out;
    for (const char c : name) out += (c == '"' || c == '\r' || c == '\n' || c == '\\') ? '_' : c;
    return out;
}

/// The parts a report is sent as, in the given format.
inline std::vector<multipart_part> report_parts(const Upload& up, UploadFormat format) {
    std::vector<multipart_part> parts;
    auto text = [&parts](const std::string& name, const std::string& value) {
        parts.push_back({safe_field_name(name), value, std::string(), std::string()});
    };
    const Report& r = up.report;
    switch (format) {
        case UploadFormat::crashpad:
            text("prod", r.product);
            text("ver", r.version);
            text("guid", up.client_id);
            text("_productName", r.product);
            text("_version", r.version);
            text("platform", "linux");
            text("process_type", "main");
            for (const auto& a : r.annotations) {
                if (a.first != "prod" && a.first != "ver") text(a.first, a.second);
            }
            break;
        case UploadFormat::socorro:
            text("ProductName", r.product);
            text("Version", r.version);
            text("ReportId", r.id);
            for (const auto& a : r.annotations) {
                if (a.first != "prod" && a.first != "ver") text(a.first, a.second);
            }
            break;
        case UploadFormat::sentry:
            if (!r.product.empty()) text("sentry[release]", r.version.empty() ? r.product : r.product + "@" + r.version);
            text("sentry[tags][product]", r.product);
            text("sentry[tags][crashdrop.report_id]", r.id);
            // Other fields land in the event's "extra" data.
            for (const auto& a : r.annotations) {
                if (a.first != "prod" && a.first != "ver") text(a.first, a.second);
            }
            break;
    }
    parts.push_back({"upload_file_minidump", std::string(up.dump.begin(), up.dump.end()), r.id + ".dmp",
                     "application/octet-stream"});
    for (const auto& path : up.attachments) {
        std::string bytes;
        if (!read_whole_file(path, &bytes, 32u << 20)) continue;
        const std::string base = path.substr(path.rfind('/') + 1);
        parts.push_back({safe_field_name(base), bytes, base, "application/octet-stream"});
    }
    return parts;
}

/// Reads a server's reply as a verdict, per format.
inline UploadResult interpret_reply(const http_response& reply, UploadFormat format) {
    UploadResult out;
    auto trimmed = [](std::string s) {
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
        return s;
    };
    const std::string body = trimmed(reply.body);
    if (reply.status == 0) {
        out.status = UploadStatus::retry_later;
        out.message = reply.error;
        return out;
    }
    const std::string status = "HTTP " + std::to_string(reply.status);
    if (reply.status >= 500 || reply.status == 408 || reply.status == 429) {
        out.status = UploadStatus::retry_later;
        out.message = status + ": " + body.substr(0, 200);
        return out;
    }
    if (reply.status >= 400) {
        out.status = UploadStatus::rejected;
        out.message = status + ": " + body.substr(0, 200);
        return out;
    }
    if (reply.status < 200 || reply.status >= 300) {
        out.status = UploadStatus::retry_later;  // redirects are not followed
        out.message = status + " (not a success)";
        return out;
    }
    if (format == UploadFormat::socorro) {
        if (body.rfind("Discarded=", 0) == 0) {
            out.status = UploadStatus::rejected;
            out.message = body;
            return out;
        }
        out.status = UploadStatus::sent;
        out.server_id = body.rfind("CrashID=", 0) == 0 ? body.substr(8) : body;
        return out;
    }
    if (format == UploadFormat::sentry) {
        // {"id":"<event id>"}: pick the value after "id".
        const std::size_t key = body.find("\"id\"");
        if (key != std::string::npos) {
            const std::size_t open = body.find('"', body.find(':', key) + 1);
            const std::size_t close = open == std::string::npos ? open : body.find('"', open + 1);
            if (close != std::string::npos) out.server_id = body.substr(open + 1, close - open - 1);
        }
        if (out.server_id.empty()) out.server_id = body;
        out.status = UploadStatus::sent;
        return out;
    }
    out.status = UploadStatus::sent;
    out.server_id = body;  // Crashpad keeps the reply verbatim as the report's server id
    return out;
}

/// One attempt with the built-in transport.
inline UploadResult upload_builtin(const Upload& up, const upload_settings& s) {
    UploadResult bad;
    bad.status = UploadStatus::retry_later;
    url_parts url;
    std::string target = s.url;
    if (s.format == UploadFormat::crashpad) {
        target = add_query(s.url, {{"product", up.report.product}, {"version", up.report.version}, {"guid", up.client_id}});
    }
    if (!parse_url(target, &url, &bad.message)) {
        bad.status = UploadStatus::rejected;  // no retry will fix the URL
        return bad;
    }
    const std::string boundary = "----crashdrop-" + up.report.id;
    std::string body = multipart_body(report_parts(up, s.format), boundary);
    http_headers headers = {{"Content-Type", "multipart/form-data; boundary=" + boundary},
                            {"User-Agent", "crashdrop/" CRASHDROP_VERSION_STRING}};
    if (s.compress) {
        body = gzip_compress(body.data(), body.size());
        headers.emplace_back("Content-Encoding", "gzip");
    }
    const http_response reply = url.scheme == "https"
                                    ? curl_post(target, headers, body, s.connect_timeout_ms, s.upload_timeout_ms, s.ca_file)
                                    : http_post(url, headers, body, s.connect_timeout_ms, s.upload_timeout_ms);
    return interpret_reply(reply, s.format);
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX
