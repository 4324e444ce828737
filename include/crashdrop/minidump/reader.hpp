// crashdrop/minidump/reader.hpp - reads back what a report needs from a minidump crashdrop
// wrote: the annotations (Crashpad's info stream) and the context stream (user, tags,
// attachments, breadcrumbs). The helper uses it for the dump the crashed process handed over,
// and for a dump it finds in pending/ without metadata (written when no helper was there), so
// both carry the same context. Every offset is checked: a damaged dump gives an empty context,
// never a crash.
// Context: implementation TU; ordinary code (helper process), may allocate.
#if CRASHDROP_DETAIL_IMPL_ACTIVE

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// Joins long values' parts (key__1, key__2, ...) back into `key`.
CRASHDROP_COLD inline void join_annotation_parts(std::map<std::string, std::string>* annotations) {
    std::map<std::string, std::map<long, std::string>> parts;
    for (auto it = annotations->begin(); it != annotations->end();) {
        const std::string& key = it->first;
        std::size_t digits = key.size();
        while (digits > 0 && key[digits - 1] >= '0' && key[digits - 1] <= '9') --digits;
        if (digits < key.size() && digits >= 3 && key[digits - 1] == '_' && key[digits - 2] == '_') {
            parts[key.substr(0, digits - 2)][std::strtol(key.c_str() + digits, nullptr, 10)] = it->second;
            it = annotations->erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& p : parts) {
        std::string joined;
        for (const auto& piece : p.second) joined += piece.second;
        (*annotations)[p.first] = joined;
    }
}

/// The other way: a value longer than limits::annotation_part becomes key__1, key__2, ...
CRASHDROP_COLD inline std::vector<std::pair<std::string, std::string>> split_annotation_parts(const std::map<std::string, std::string>& annotations) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& a : annotations) {
        if (a.second.size() <= limits::annotation_part) {
            out.emplace_back(a.first, a.second);
            continue;
        }
        for (std::size_t at = 0, n = 1; at < a.second.size(); at += limits::annotation_part, ++n) {
            out.emplace_back(a.first + "__" + std::to_string(n), a.second.substr(at, limits::annotation_part));
        }
    }
    return out;
}

/// The kind a dump's exception code names: a requested dump (write_dump(): Linux's
/// k_exception_dump_requested, Windows' k_exception_dump_requested_windows), the helper's
/// hang and abnormal-exit codes, or a crash (a signal or an exception code). Used for a dump
/// without the crash_kind annotation (written by an older crashdrop), and by the Windows
/// helper to name the dump MiniDumpWriteDump wrote.
CRASHDROP_COLD inline report_kind kind_of_exception_code(std::uint32_t code) {
    if (code == minidump::k_exception_dump_requested || code == minidump::k_exception_dump_requested_windows) {
        return report_kind::requested;
    }
    if (code == minidump::k_exception_hang) return report_kind::hang;
    if (code == minidump::k_exception_abnormal_exit) return report_kind::abnormal_exit;
    return report_kind::crash;
}

/// Reads the context of a dump into *r (annotations, tags, user, attachments, breadcrumbs, and
/// its kind: the annotation crash_kind when it names a kind (then taken out of the annotations);
/// else the exception stream's code, kind_of_exception_code; a dump with neither is left as
/// it was: a crash). A helper-built abnormal-exit dump whose exception code is the signal's
/// number is named by its annotation.
/// Returns false when the bytes are not a minidump.
/// Work stays linear in the dump's size: only the first stream of each type is read (a writer
/// writes each once), and the annotation strings read add up to at most the dump's size (a
/// dictionary whose entries all point at one long string would otherwise copy it per entry).
CRASHDROP_COLD inline bool read_dump_context(const std::uint8_t* data, std::size_t size, Report* r) {
    auto u32_at = [&](std::uint64_t at, std::uint32_t* out) {
        if (at + 4 > size) return false;
        std::memcpy(out, data + at, 4);
        return true;
    };
    std::uint64_t text_budget = size;
    auto utf8_at = [&](std::uint32_t rva, std::string* out) {
        std::uint32_t length = 0;
        if (!u32_at(rva, &length) || std::uint64_t{rva} + 4 + length > size || length > text_budget) return false;
        text_budget -= length;
        out->assign(reinterpret_cast<const char*>(data) + rva + 4, length);
        return true;
    };
    std::uint32_t signature = 0, count = 0, directory = 0;
    if (!u32_at(0, &signature) || signature != minidump::k_signature || !u32_at(8, &count) || !u32_at(12, &directory)) return false;
    bool info_read = false, context_read = false, exception_read = false;
    for (std::uint32_t i = 0; i < count && i < 4096; ++i) {
        const std::uint64_t entry = std::uint64_t{directory} + std::uint64_t{i} * 12;
        std::uint32_t type = 0, stream_size = 0, rva = 0;
        if (!u32_at(entry, &type) || !u32_at(entry + 4, &stream_size) || !u32_at(entry + 8, &rva)) break;
        if (std::uint64_t{rva} + stream_size > size) continue;
        if (type == minidump::stream_crashpad_info && stream_size >= sizeof(minidump::crashpad_info) && !info_read) {
            info_read = true;
            minidump::crashpad_info info;
            std::memcpy(&info, data + rva, sizeof(info));
            std::uint32_t entries = 0;
            const std::uint32_t dict = info.simple_annotations.rva;
            if (dict == 0 || !u32_at(dict, &entries)) continue;
            for (std::uint32_t k = 0; k < entries && k < 65536; ++k) {
                std::uint32_t key_rva = 0, value_rva = 0;
                if (!u32_at(std::uint64_t{dict} + 4 + std::uint64_t{k} * 8, &key_rva) ||
                    !u32_at(std::uint64_t{dict} + 8 + std::uint64_t{k} * 8, &value_rva)) {
                    break;
                }
                std::string key, value;
                if (utf8_at(key_rva, &key) && utf8_at(value_rva, &value)) r->annotations[key] = value;
            }
        } else if (type == minidump::stream_exception && stream_size >= sizeof(minidump::exception_stream) && !exception_read) {
            exception_read = true;
            minidump::exception_stream es;
            std::memcpy(&es, data + rva, sizeof(es));
            r->kind = report_kind_name(kind_of_exception_code(es.exception.exception_code));
        } else if (type == minidump::stream_crashdrop_context && !context_read) {
            context_read = true;
            const auto kv = parse_key_values(std::string(reinterpret_cast<const char*>(data) + rva, stream_size));
            for (const auto& line : numbered_in_order(kv)) apply_context_line(line.first, line.second, r);
        }
    }
    join_annotation_parts(&r->annotations);
    const auto named = r->annotations.find(minidump::k_annotation_crash_kind);
    if (named != r->annotations.end()) {
        report_kind k = report_kind::crash;
        if (report_kind_from_name(named->second, &k)) {  // else an older crashdrop's application value: kept as it is
            r->kind = report_kind_name(k);
            r->annotations.erase(named);
        }
    }
    return true;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
