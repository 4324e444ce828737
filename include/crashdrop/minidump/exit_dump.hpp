// crashdrop/minidump/exit_dump.hpp - builds a minimal minidump for a process that has already
// ended (issue 14: an abnormal exit; the Windows helper uses it for a terminated process too).
// Its memory is gone, so the dump holds only what the helper kept while the process lived:
// the system info, the module list (with CodeView records, so symbols match), an exception
// stream naming what ended the process, the annotations (Crashpad's info stream, as crash
// dumps carry them) and any further streams given as bytes (the context text, the memory
// map...). The thread list holds the exception's thread alone, with a context whose flags say
// that no register is known (lldb-14 crashes on an exception whose thread is not listed), and
// the memory list is empty: minidump_stackwalk, minidump_dump and lldb all read such a dump.
// Knows no operating system: the caller fills every field (the Linux helper from the shared
// region and /proc, the Windows helper from its process handle).
// Context: implementation TU; ordinary code (helper process), may allocate.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// One module of the ended process.
struct exit_dump_module {
    std::uint64_t base = 0;
    std::uint32_t size = 0;
    std::uint32_t checksum = 0;         // PE CheckSum (0 on Linux)
    std::uint32_t time_date_stamp = 0;  // PE TimeDateStamp (0 on Linux)
    std::string name;                   // UTF-8 path, as readers show it
    std::string codeview;               // the whole CodeView record ("BpEL" + build id, or "RSDS"...); empty: none
};

/// What the dump is built from.
struct exit_dump_input {
    minidump::system_info system{};  // csd_version_rva is set by the builder
    std::string csd_version;         // UTF-8 (Linux: kernel version text; Windows: service pack)
    std::vector<exit_dump_module> modules;
    std::uint32_t process_id = 0;
    std::uint32_t process_create_time = 0;  // time_t; 0: unknown
    std::uint32_t time_date_stamp = 0;      // when the process was seen gone (time_t)
    // The exception stream: what ended the process.
    std::uint32_t exception_code = minidump::k_exception_abnormal_exit;
    std::uint32_t exception_flags = 0;
    std::uint64_t exception_address = 0;
    std::uint32_t exception_thread_id = 0;             // listed as the one thread; 0: none (no thread listed)
    std::vector<std::uint64_t> exception_parameters;   // at most 15 are kept
    // Crashpad's info stream.
    minidump::guid report_id{};
    minidump::guid client_id{};
    std::vector<std::pair<std::string, std::string>> annotations;  // as stored (split long values first)
    // Further streams, copied as they are (their bytes must hold no RVAs). A type listed twice,
    // or one the builder writes itself, is left out (readers reject a type listed twice).
    std::vector<std::pair<std::uint32_t, std::string>> extra_streams;
};

/// The dump's bytes; empty (and *error) when it cannot be built (over 4 GiB).
CRASHDROP_COLD inline std::string build_exit_dump(const exit_dump_input& in, std::string* error = nullptr) {
    std::string out;
    std::vector<minidump::directory> dir;
    auto align = [&out](std::size_t a) { out.resize((out.size() + a - 1) / a * a, '\0'); };
    auto put = [&](const void* p, std::size_t n, std::size_t a) {
        align(a);
        const std::size_t at = out.size();
        out.append(static_cast<const char*>(p), n);
        return static_cast<std::uint32_t>(at);
    };
    auto put_string = [&](const std::string& s) {  // MINIDUMP_STRING: byte length, UTF-16LE, NUL
        const std::size_t units = sigsafe::utf16_length(s.data(), s.size());
        std::vector<std::uint16_t> utf16(units + 1, 0);
        sigsafe::utf8_to_utf16(s.data(), s.size(), utf16.data());
        const auto bytes = static_cast<std::uint32_t>(units * 2);
        const std::uint32_t rva = put(&bytes, 4, 4);
        out.append(reinterpret_cast<const char*>(utf16.data()), (units + 1) * 2);
        return rva;
    };
    auto put_utf8 = [&](const std::string& s) {  // Crashpad's MinidumpUTF8String
        const auto length = static_cast<std::uint32_t>(s.size());
        const std::uint32_t rva = put(&length, 4, 4);
        out.append(s);
        out.push_back('\0');
        return rva;
    };
    auto stream = [&dir](std::uint32_t type, std::uint32_t rva, std::size_t size) {
        minidump::directory d;
        d.stream_type = type;
        d.location.rva = rva;
        d.location.data_size = static_cast<std::uint32_t>(size);
        dir.push_back(d);
    };
    auto has_stream = [&dir](std::uint32_t type) {
        for (const auto& d : dir) {
            if (d.stream_type == type) return true;
        }
        return false;
    };

    minidump::header h;
    std::memset(&h, 0, sizeof(h));
    out.assign(sizeof(h), '\0');  // written last, once the directory's place is known

    // SystemInfo, its CSD string after it.
    minidump::system_info si = in.system;
    const std::uint32_t si_rva = put(&si, sizeof(si), 8);
    si.csd_version_rva = put_string(in.csd_version);
    std::memcpy(&out[si_rva], &si, sizeof(si));
    stream(minidump::stream_system_info, si_rva, sizeof(si));

    // ModuleList: the records, then each one's name and CodeView record.
    {
        const auto count = static_cast<std::uint32_t>(in.modules.size());
        const std::uint32_t list_rva = put(&count, 4, 8);
        const std::size_t records_at = out.size();
        out.resize(records_at + in.modules.size() * sizeof(minidump::module), '\0');
        for (std::size_t i = 0; i < in.modules.size(); ++i) {
            const exit_dump_module& m = in.modules[i];
            minidump::module rec;
            std::memset(&rec, 0, sizeof(rec));
            rec.base_of_image = m.base;
            rec.size_of_image = m.size;
            rec.checksum = m.checksum;
            rec.time_date_stamp = m.time_date_stamp;
            rec.module_name_rva = put_string(m.name);
            if (!m.codeview.empty()) {
                rec.cv_record.rva = put(m.codeview.data(), m.codeview.size(), 4);
                rec.cv_record.data_size = static_cast<std::uint32_t>(m.codeview.size());
            }
            std::memcpy(&out[records_at + i * sizeof(rec)], &rec, sizeof(rec));
        }
        stream(minidump::stream_module_list, list_rva, 4 + in.modules.size() * sizeof(minidump::module));
    }

    // ThreadList: the exception's thread alone, with a context that says no register is known
    // (lldb needs the exception's thread in the list; no stack, no register was seen).
    // MemoryList: present and empty.
    std::uint32_t context_rva = 0, context_size = 0;
    {
        std::string context;
        // The layout of the architecture this is built for (the helper's, which is the
        // application's): only that one is declared (platform/arch.hpp).
#if CRASHDROP_ARCH_X86_64
        if (in.exception_thread_id != 0 && in.system.processor_architecture == minidump::k_arch_amd64) {
            minidump::context_amd64 c;
            std::memset(&c, 0, sizeof(c));
            c.context_flags = minidump::k_context_amd64;
            context.assign(reinterpret_cast<const char*>(&c), sizeof(c));
        }
#elif CRASHDROP_ARCH_AARCH64
        if (in.exception_thread_id != 0 && in.system.processor_architecture == minidump::k_arch_arm64) {
            minidump::context_arm64 c;
            std::memset(&c, 0, sizeof(c));
            c.context_flags = minidump::k_context_arm64;
            context.assign(reinterpret_cast<const char*>(&c), sizeof(c));
        }
#endif
        if (!context.empty()) {
            context_rva = put(context.data(), context.size(), 16);
            context_size = static_cast<std::uint32_t>(context.size());
        }
        const std::uint32_t threads = context_size != 0 ? 1 : 0;
        const std::uint32_t list_rva = put(&threads, 4, 8);
        if (threads != 0) {
            minidump::thread t;
            std::memset(&t, 0, sizeof(t));
            t.thread_id = in.exception_thread_id;
            t.thread_context.rva = context_rva;
            t.thread_context.data_size = context_size;
            out.append(reinterpret_cast<const char*>(&t), sizeof(t));
        }
        stream(minidump::stream_thread_list, list_rva, 4 + threads * sizeof(minidump::thread));
        const std::uint32_t none = 0;
        stream(minidump::stream_memory_list, put(&none, 4, 4), 4);
    }

    // Exception: what ended the process, on that thread.
    {
        minidump::exception_stream es;
        std::memset(&es, 0, sizeof(es));
        es.thread_id = in.exception_thread_id;
        es.exception.exception_code = in.exception_code;
        es.exception.exception_flags = in.exception_flags;
        es.exception.exception_address = in.exception_address;
        const std::size_t n = std::min<std::size_t>(in.exception_parameters.size(), 15);
        es.exception.number_parameters = static_cast<std::uint32_t>(n);
        for (std::size_t i = 0; i < n; ++i) es.exception.exception_information[i] = in.exception_parameters[i];
        es.thread_context.rva = context_rva;
        es.thread_context.data_size = context_size;
        stream(minidump::stream_exception, put(&es, sizeof(es), 8), sizeof(es));
    }

    // MiscInfo: the process id and, when known, its creation time.
    {
        minidump::misc_info mi;
        std::memset(&mi, 0, sizeof(mi));
        mi.size_of_info = sizeof(mi);
        mi.flags1 = minidump::k_misc1_process_id;
        mi.process_id = in.process_id;
        if (in.process_create_time != 0) {
            mi.flags1 |= minidump::k_misc1_process_times;
            mi.process_create_time = in.process_create_time;
        }
        stream(minidump::stream_misc_info, put(&mi, sizeof(mi), 4), sizeof(mi));
    }

    // Crashpad's info stream: ids and the annotations as a simple string dictionary.
    {
        minidump::crashpad_info info;
        std::memset(&info, 0, sizeof(info));
        const std::uint32_t info_rva = put(&info, sizeof(info), 8);
        const auto count = static_cast<std::uint32_t>(in.annotations.size());
        const std::uint32_t dict_rva = put(&count, 4, 4);
        const std::size_t entries_at = out.size();
        out.resize(entries_at + in.annotations.size() * sizeof(minidump::simple_string_dictionary_entry), '\0');
        for (std::size_t i = 0; i < in.annotations.size(); ++i) {
            minidump::simple_string_dictionary_entry e;
            e.key = put_utf8(in.annotations[i].first);
            e.value = put_utf8(in.annotations[i].second);
            std::memcpy(&out[entries_at + i * sizeof(e)], &e, sizeof(e));
        }
        info.version = 1;
        info.report_id = in.report_id;
        info.client_id = in.client_id;
        info.simple_annotations.rva = dict_rva;
        info.simple_annotations.data_size =
            static_cast<std::uint32_t>(4 + in.annotations.size() * sizeof(minidump::simple_string_dictionary_entry));
        std::memcpy(&out[info_rva], &info, sizeof(info));
        stream(minidump::stream_crashpad_info, info_rva, sizeof(info));
    }

    for (const auto& s : in.extra_streams) {
        if (s.first == minidump::stream_unused || has_stream(s.first)) continue;
        stream(s.first, put(s.second.data(), s.second.size(), 4), s.second.size());
    }

    // The directory, then the header pointing at it.
    const std::uint32_t dir_rva = put(dir.data(), dir.size() * sizeof(minidump::directory), 4);
    if (out.size() > 0xffffffffu) {
        if (error != nullptr) *error = "the dump would be " + std::to_string(out.size()) + " bytes: a minidump ends below 4 GiB";
        return std::string();
    }
    h.signature = minidump::k_signature;
    h.version = minidump::k_version;
    h.stream_count = static_cast<std::uint32_t>(dir.size());
    h.stream_directory_rva = dir_rva;
    h.time_date_stamp = in.time_date_stamp;
    std::memcpy(&out[0], &h, sizeof(h));
    return out;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
