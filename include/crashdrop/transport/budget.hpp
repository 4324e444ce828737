// crashdrop/transport/budget.hpp - fits a report into the upload budget (Options::max_upload_bytes)
// before it is sent. The size measured is the uncompressed request body the built-in formats
// build (multipart_body of report_parts: fields, dump, attachments): servers state their limits
// on what they receive, some after decompression, and the uncompressed size is an upper bound
// of the compressed one, so a report that fits here fits however it is encoded.
// A report over the budget is cut down in a fixed order, checking after each cut:
//   (a) every stack but the crashing thread's halved, again and again, down to 1 KiB;
//   (b) the memory-list ranges that are no stack (memory around registers) dropped;
//   (c) attachments dropped, the largest first;
//   (d) the crashing thread's stack halved, down to 4 KiB.
// What was cut is written into the dump's writer-errors stream and returned as one line for the
// report's metadata (`trimmed=`); 1 KiB of the budget is kept for that note. A report still over the budget after every step is sent as it
// is then (the smallest it can be made): the server decides, and a 413 keeps it as rejected.
// The stored dump is not changed: only the upload carries the smaller one.
// Context: implementation TU; helper process (ordinary code, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && (CRASHDROP_OS_LINUX || CRASHDROP_OS_WINDOWS)

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

constexpr std::size_t k_upload_budget_min = 64u * 1024u;
constexpr std::size_t k_budget_other_stack_floor = 1024u;
constexpr std::size_t k_budget_crashed_stack_floor = 4096u;
constexpr std::size_t k_budget_note_reserve = 1024u;

/// The default budget of a format (Options::max_upload_bytes = 0). Sentry documents 20 MB for
/// a compressed request (minidump endpoint and attachments) and 100 MB uncompressed; 16 MiB
/// uncompressed stays under both. Socorro's collector Antenna: its nginx allows 25 MiB of body
/// as received (client_max_body_size 25m; systemtest/test_25mblimit.py expects 413 past it), so
/// 16 MiB uncompressed fits, gzip or not. Crashpad-style collectors: no common limit is
/// documented; the same 16 MiB (docs/crashpad.md, docs/socorro.md, docs/sentry.md).
CRASHDROP_COLD inline std::size_t default_upload_budget(UploadFormat /* every format: the same */) { return 16u * 1024u * 1024u; }

/// The request body's size without compression.
CRASHDROP_COLD inline std::size_t upload_request_size(const Upload& up, const upload_settings& s) {
    if (s.format == UploadFormat::sentry) return sentry_envelope(up, s, 0).size();  // an envelope, not multipart
    return multipart_body(report_parts(up, s.format, s.max_attachment_bytes), "----crashdrop-" + up.report.id).size();
}

/// Room for one attachment's part headers (multipart) or item header (envelope) besides its
/// name, twice, and for the digits of the dump's length: far more than any takes.
constexpr std::size_t k_budget_attachment_overhead = 512u;

/// An upper bound of upload_request_size that reads no attachment and copies no dump: the request
/// without them, plus the dump's size (and room), each attachment's size (at most max_attachment_bytes, as
/// it is sent) and room for its headers. Every attempt measures; most reports are far under their
/// budget and need no exact size.
CRASHDROP_COLD inline std::size_t upload_request_size_bound(const Upload& up, const upload_settings& s) {
    Upload text_only;
    text_only.report = up.report;
    text_only.client_id = up.client_id;
    // (An envelope's item header carries the dump's length: its digits count too.)
    std::size_t bound = upload_request_size(text_only, s) + up.dump.size() + k_budget_attachment_overhead;
    for (const std::string& path : up.attachments) {
        std::uint64_t n = 0;
        file_info(path, &n, nullptr);
        bound += static_cast<std::size_t>(std::min<std::uint64_t>(n, s.max_attachment_bytes)) + 2 * path.size() +
                 k_budget_attachment_overhead;
    }
    return bound;
}

/// Largest stack size among the threads that did not crash (0: none).
CRASHDROP_COLD inline std::uint64_t budget_other_stack_max(const std::string& dump) {
    dump_index index;
    if (!dump_read_index(dump, &index, nullptr)) return 0;
    std::uint32_t crashed = 0;
    const bool has_crashed = dump_crashed_thread(dump, index, &crashed);
    const minidump::directory* list = dump_find_stream(index, minidump::stream_thread_list);
    std::uint32_t count = 0;
    if (list == nullptr || !dump_bytes_at(dump, list->location.rva, &count, 4)) return 0;
    std::uint64_t most = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
        minidump::thread t;
        if (!dump_bytes_at(dump, list->location.rva + 4 + std::uint64_t{i} * sizeof(t), &t, sizeof(t))) return most;
        if (has_crashed && t.thread_id == crashed) continue;
        most = std::max<std::uint64_t>(most, t.stack.memory.data_size);
    }
    return most;
}

/// Cuts `up` down to `budget` bytes (see above). Returns what was cut, one line (empty: it fit).
CRASHDROP_COLD inline std::string fit_upload_budget(Upload* up, const upload_settings& s, std::size_t budget, const std::function<void(const std::string&)>& log) {
    if (budget == 0 || upload_request_size_bound(*up, s) <= budget) return std::string();
    std::size_t size = upload_request_size(*up, s);
    if (size <= budget) return std::string();
    const std::size_t original = size;
    // Room for the note this adds to the dump's writer-errors stream (one line, well under 1 KiB).
    const std::size_t full_budget = budget;
    budget -= k_budget_note_reserve;
    std::string dump(up->dump.begin(), up->dump.end());
    std::vector<std::string> done;
    bool dump_changed = false;
    auto apply = [&](const trim_request& req) {
        std::string smaller = dump;
        trim_result r;
        std::string error;
        if (!dump_trim(&smaller, req, &r, &error)) {
            log("upload budget: the dump of " + up->report.id + " cannot be trimmed: " + error);
            return false;
        }
        dump = std::move(smaller);
        up->dump.assign(dump.begin(), dump.end());
        dump_changed = true;
        size = upload_request_size(*up, s);
        return true;
    };
    // (a) the other threads' stacks
    std::uint64_t limit = budget_other_stack_max(dump);
    bool cut_others = false;
    while (size > budget && limit > k_budget_other_stack_floor) {
        limit = std::max<std::uint64_t>(limit / 2, k_budget_other_stack_floor);
        trim_request req;
        req.other_stack_max = limit;
        if (!apply(req)) break;
        cut_others = true;
    }
    if (cut_others) done.push_back("other threads' stacks cut to " + std::to_string(limit) + " bytes");
    // (b) memory around registers
    if (size > budget) {
        trim_request req;
        req.drop_memory = true;
        if (apply(req)) done.push_back("memory around registers dropped");
    }
    // (c) attachments, the largest first
    while (size > budget && !up->attachments.empty()) {
        std::size_t largest = 0;
        std::uint64_t largest_size = 0;
        for (std::size_t i = 0; i < up->attachments.size(); ++i) {
            std::uint64_t n = 0;
            file_info(up->attachments[i], &n, nullptr);
            if (i == 0 || n > largest_size) {
                largest = i;
                largest_size = n;
            }
        }
        const std::string path = up->attachments[largest];
        const std::size_t slash = path.find_last_of(CRASHDROP_OS_WINDOWS ? "/\\" : "/");
        done.push_back("attachment " + (slash == std::string::npos ? path : path.substr(slash + 1)) + " (" + std::to_string(largest_size) + " bytes) dropped");
        up->attachments.erase(up->attachments.begin() + static_cast<std::ptrdiff_t>(largest));
        up->report.attachments = up->attachments;
        size = upload_request_size(*up, s);
    }
    // (d) the crashing thread's stack
    std::uint64_t crashed_limit = ~std::uint64_t{0};
    if (size > budget) {
        dump_index index;
        std::uint32_t crashed = 0;
        if (dump_read_index(dump, &index, nullptr) && dump_crashed_thread(dump, index, &crashed)) {
            const minidump::directory* list = dump_find_stream(index, minidump::stream_thread_list);
            std::uint32_t count = 0;
            if (list != nullptr && dump_bytes_at(dump, list->location.rva, &count, 4)) {
                for (std::uint32_t i = 0; i < count; ++i) {
                    minidump::thread t;
                    if (dump_bytes_at(dump, list->location.rva + 4 + std::uint64_t{i} * sizeof(t), &t, sizeof(t)) && t.thread_id == crashed) {
                        crashed_limit = t.stack.memory.data_size;
                    }
                }
            }
        }
        bool cut = false;
        while (size > budget && crashed_limit != ~std::uint64_t{0} && crashed_limit > k_budget_crashed_stack_floor) {
            crashed_limit = std::max<std::uint64_t>(crashed_limit / 2, k_budget_crashed_stack_floor);
            trim_request req;
            req.crashed_stack_max = crashed_limit;
            if (!apply(req)) break;
            cut = true;
        }
        if (cut) done.push_back("crashing thread's stack cut to " + std::to_string(crashed_limit) + " bytes");
    }
    std::string line = "upload budget " + std::to_string(full_budget) + " bytes, request was " + std::to_string(original) + ": ";
    for (std::size_t i = 0; i < done.size(); ++i) line += (i == 0 ? "" : "; ") + done[i];
    if (done.empty()) line += "nothing could be cut";
    line += size > budget ? "; still " + std::to_string(size) + " bytes, sent as it is" : "; now " + std::to_string(size) + " bytes and this note";
    if (dump_changed || !done.empty()) {
        std::string error;
        if (dump_add_writer_error(&dump, line + "\n", &error)) {
            up->dump.assign(dump.begin(), dump.end());
        } else {
            log("upload budget: the writer-errors stream of " + up->report.id + " was not written: " + error);
        }
    }
    return line;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && (CRASHDROP_OS_LINUX || CRASHDROP_OS_WINDOWS)
