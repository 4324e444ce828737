// crashdrop/minidump/amend.hpp - adds to a finished minidump what its writer could not put in.
// On Windows dbghelp's MiniDumpWriteDump writes the dump; it cannot add a stream whose data
// holds RVAs of its own (Crashpad's info stream and its annotation dictionary), and under wine
// it writes modules without their CodeView records (readers then show an empty debug id). The
// helper runs these functions on the file's bytes afterwards.
//
// Appending never moves what is there: new data goes after the end of the file, followed by a
// new stream directory (the old entries, then the new ones); the header then points at it.
// The old directory stays behind as unused bytes. Every offset and size read from the dump is
// checked; bad input gives false and a message, and a failed call leaves the dump unchanged.
// Context: implementation TU; ordinary code (helper process), may allocate.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// Reads `size` bytes of the crashed process at `address` into `out`; false when it cannot.
using dump_read_memory_fn = bool (*)(void* user, std::uint64_t address, void* out, std::size_t size);

// ---- reading the dump ------------------------------------------------------------------------

inline bool dump_bytes_at(const std::string& dump, std::uint64_t at, void* out, std::size_t size) {
    if (at > dump.size() || dump.size() - at < size) return false;
    std::memcpy(out, dump.data() + at, size);
    return true;
}

inline bool amend_fail(std::string* error, const std::string& why) {
    if (error != nullptr) *error = why;
    return false;
}

inline std::string amend_hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

/// The header and stream directory of a dump, checked to lie inside it.
struct dump_index {
    minidump::header header;
    std::vector<minidump::directory> entries;
};

inline bool dump_read_index(const std::string& dump, dump_index* out, std::string* error) {
    if (!dump_bytes_at(dump, 0, &out->header, sizeof(out->header))) return amend_fail(error, "not a minidump: shorter than its header");
    const minidump::header& h = out->header;
    if (h.signature != minidump::k_signature || (h.version & 0xffffu) != minidump::k_version) {
        return amend_fail(error, "not a minidump: bad signature or version");
    }
    const std::uint64_t end = std::uint64_t{h.stream_directory_rva} + std::uint64_t{h.stream_count} * sizeof(minidump::directory);
    if (end > dump.size()) {
        return amend_fail(error, "stream directory at " + amend_hex(h.stream_directory_rva) + " with " + std::to_string(h.stream_count) +
                                     " entries runs past the end of the file (" + std::to_string(dump.size()) + " bytes)");
    }
    out->entries.resize(h.stream_count);
    if (h.stream_count > 0) std::memcpy(out->entries.data(), dump.data() + h.stream_directory_rva, h.stream_count * sizeof(minidump::directory));
    return true;
}

/// The directory entry of stream `type`, or nullptr.
inline const minidump::directory* dump_find_stream(const dump_index& index, std::uint32_t type) {
    for (const auto& e : index.entries) {
        if (e.stream_type == type) return &e;
    }
    return nullptr;
}

// ---- appending ---------------------------------------------------------------------------------

inline std::uint64_t amend_align(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

/// Where appended data starts: the first 8-byte boundary at or after the end of the file.
inline std::uint64_t dump_append_base(const std::string& dump) { return amend_align(dump.size(), 8); }

/// Appends `blob` at dump_append_base() and, after it, a new directory of the old entries
/// followed by `added`; points the header at it (with nothing added, the directory stays
/// where it is). Checks everything before changing anything:
/// on false the dump is as it was. A stream type the dump already has is refused (Breakpad's
/// reader rejects a dump that lists a type twice).
inline bool dump_append(std::string* dump, const dump_index& index, const std::string& blob,
                        const std::vector<minidump::directory>& added, std::string* error) {
    for (const auto& a : added) {
        if (a.stream_type == minidump::stream_unused) return amend_fail(error, "stream type 0 means unused: nothing to append");
        if (dump_find_stream(index, a.stream_type) != nullptr) {
            return amend_fail(error, "the dump already has a stream of type " + amend_hex(a.stream_type));
        }
    }
    const std::uint64_t base = dump_append_base(*dump);
    const std::uint64_t directory_rva = amend_align(base + blob.size(), 4);
    const std::uint64_t count = index.entries.size() + added.size();
    const std::uint64_t new_size = added.empty() ? base + blob.size() : directory_rva + count * sizeof(minidump::directory);
    if (new_size > 0xffffffffu) {
        return amend_fail(error, "the amended dump would be " + std::to_string(new_size) + " bytes: RVAs are 32-bit, so a minidump ends below 4 GiB");
    }
    dump->resize(static_cast<std::size_t>(new_size), '\0');
    if (!blob.empty()) std::memcpy(&(*dump)[static_cast<std::size_t>(base)], blob.data(), blob.size());
    if (added.empty()) return true;  // the directory stays where it is
    char* dir = &(*dump)[static_cast<std::size_t>(directory_rva)];
    if (!index.entries.empty()) std::memcpy(dir, index.entries.data(), index.entries.size() * sizeof(minidump::directory));
    if (!added.empty()) std::memcpy(dir + index.entries.size() * sizeof(minidump::directory), added.data(), added.size() * sizeof(minidump::directory));
    minidump::header h = index.header;
    h.stream_count = static_cast<std::uint32_t>(count);
    h.stream_directory_rva = static_cast<std::uint32_t>(directory_rva);
    std::memcpy(&(*dump)[0], &h, sizeof(h));
    return true;
}

/// Appends a stream whose bytes hold no RVAs (they are copied as they are).
inline bool dump_append_stream(std::string* dump, std::uint32_t type, const std::string& bytes, std::string* error) {
    dump_index index;
    if (!dump_read_index(*dump, &index, error)) return false;
    if (bytes.size() > 0xffffffffu) return amend_fail(error, "a stream of " + std::to_string(bytes.size()) + " bytes does not fit a minidump");
    minidump::directory d;
    d.stream_type = type;
    d.location.data_size = static_cast<std::uint32_t>(bytes.size());
    d.location.rva = static_cast<std::uint32_t>(dump_append_base(*dump));
    return dump_append(dump, index, bytes, {d}, error);
}

/// Appends Crashpad's info stream (version 1): the report and client ids and the annotations
/// as a simple string dictionary of MinidumpUTF8Strings, laid out as the Linux writer does
/// (dumper_linux.hpp, add_crashpad_info) and read back by read_dump_context. Values are
/// written as given: split long ones first (split_annotation_parts) when readers expect that.
inline bool dump_append_crashpad_info(std::string* dump, const minidump::guid& report_id, const minidump::guid& client_id,
                                      const std::vector<std::pair<std::string, std::string>>& annotations, std::string* error) {
    dump_index index;
    if (!dump_read_index(*dump, &index, error)) return false;
    const std::uint64_t base = dump_append_base(*dump);
    // The blob: the info record, the dictionary (count, then key/value RVA pairs), the strings.
    const std::uint64_t dict_offset = sizeof(minidump::crashpad_info);
    const std::uint64_t dict_size = 4 + std::uint64_t{annotations.size()} * sizeof(minidump::simple_string_dictionary_entry);
    // (RVAs past 4 GiB would be cut short here, but dump_append then refuses the whole blob.)
    std::string blob(static_cast<std::size_t>(dict_offset + dict_size), '\0');
    auto add_utf8 = [&](const std::string& s) {
        blob.resize(static_cast<std::size_t>(amend_align(blob.size(), 4)), '\0');
        const auto rva = static_cast<std::uint32_t>(base + blob.size());
        const auto length = static_cast<std::uint32_t>(s.size());
        blob.append(reinterpret_cast<const char*>(&length), 4);
        blob.append(s);
        blob.push_back('\0');
        return rva;
    };
    const auto count = static_cast<std::uint32_t>(annotations.size());
    std::memcpy(&blob[static_cast<std::size_t>(dict_offset)], &count, 4);
    for (std::size_t i = 0; i < annotations.size(); ++i) {
        minidump::simple_string_dictionary_entry e;
        e.key = add_utf8(annotations[i].first);
        e.value = add_utf8(annotations[i].second);
        std::memcpy(&blob[static_cast<std::size_t>(dict_offset + 4 + i * sizeof(e))], &e, sizeof(e));
    }
    minidump::crashpad_info info;
    std::memset(&info, 0, sizeof(info));
    info.version = 1;
    info.report_id = report_id;
    info.client_id = client_id;
    info.simple_annotations.data_size = static_cast<std::uint32_t>(dict_size);
    info.simple_annotations.rva = static_cast<std::uint32_t>(base + dict_offset);
    std::memcpy(&blob[0], &info, sizeof(info));

    minidump::directory d;
    d.stream_type = minidump::stream_crashpad_info;
    d.location.data_size = sizeof(minidump::crashpad_info);
    d.location.rva = static_cast<std::uint32_t>(base);
    return dump_append(dump, index, blob, {d}, error);
}

// ---- CodeView records from the crashed process's PE headers ------------------------------------

// PE facts (Microsoft's PE format documentation): offsets into the headers this code reads.
constexpr std::uint16_t k_pe_dos_magic = 0x5a4du;          // "MZ"
constexpr std::uint32_t k_pe_dos_lfanew = 0x3cu;           // e_lfanew: offset of the NT headers
constexpr std::uint32_t k_pe_nt_signature = 0x00004550u;   // "PE\0\0"
constexpr std::uint32_t k_pe_file_header_size = 20u;       // IMAGE_FILE_HEADER
constexpr std::uint32_t k_pe_optional_size_at = 16u;       // IMAGE_FILE_HEADER.SizeOfOptionalHeader
constexpr std::uint16_t k_pe_magic_pe32 = 0x10bu;          // IMAGE_NT_OPTIONAL_HDR32_MAGIC
constexpr std::uint16_t k_pe_magic_pe32_plus = 0x20bu;     // IMAGE_NT_OPTIONAL_HDR64_MAGIC
constexpr std::uint32_t k_pe_directories_pe32 = 96u;       // DataDirectory[] in IMAGE_OPTIONAL_HEADER32
constexpr std::uint32_t k_pe_directories_pe32_plus = 112u; // ... in IMAGE_OPTIONAL_HEADER64
constexpr std::uint32_t k_pe_directory_debug = 6u;         // IMAGE_DIRECTORY_ENTRY_DEBUG
constexpr std::uint32_t k_pe_debug_type_codeview = 2u;     // IMAGE_DEBUG_TYPE_CODEVIEW

/// IMAGE_DEBUG_DIRECTORY
struct pe_debug_directory {
    std::uint32_t characteristics;
    std::uint32_t time_date_stamp;
    std::uint16_t major_version;
    std::uint16_t minor_version;
    std::uint32_t type;
    std::uint32_t size_of_data;
    std::uint32_t address_of_raw_data;  // RVA in the loaded image (0: not mapped)
    std::uint32_t pointer_to_raw_data;  // file offset
};
static_assert(sizeof(pe_debug_directory) == 28, "IMAGE_DEBUG_DIRECTORY");

/// Longest CodeView record taken from a module (RSDS header and a path of MAX_PATH and more).
constexpr std::uint32_t k_codeview_max = 24u + 1024u;
/// An RSDS record: signature, GUID, age (24 bytes), then the PDB name and its NUL.
constexpr std::uint32_t k_codeview_pdb70_header = 24u;

/// Reads a module's RSDS CodeView record from its loaded PE image; false when the image has
/// none or its headers make no sense. Every RVA from the headers must lie inside the image.
inline bool pe_read_codeview(dump_read_memory_fn read_memory, void* user, std::uint64_t base, std::uint32_t image_size,
                             std::string* record) {
    auto read = [&](std::uint64_t rva, void* out, std::size_t size) {
        if (rva > image_size || image_size - rva < size || base + rva < base) return false;
        return read_memory(user, base + rva, out, size);
    };
    std::uint16_t dos_magic = 0;
    std::uint32_t nt = 0, nt_signature = 0;
    if (!read(0, &dos_magic, 2) || dos_magic != k_pe_dos_magic || !read(k_pe_dos_lfanew, &nt, 4)) return false;
    if (!read(nt, &nt_signature, 4) || nt_signature != k_pe_nt_signature) return false;
    std::uint16_t optional_size = 0, magic = 0;
    const std::uint64_t optional = std::uint64_t{nt} + 4 + k_pe_file_header_size;
    if (!read(std::uint64_t{nt} + 4 + k_pe_optional_size_at, &optional_size, 2) || !read(optional, &magic, 2)) return false;
    std::uint32_t directories = 0;
    if (magic == k_pe_magic_pe32_plus) directories = k_pe_directories_pe32_plus;
    else if (magic == k_pe_magic_pe32) directories = k_pe_directories_pe32;
    else return false;
    std::uint32_t directory_count = 0;
    if (!read(optional + directories - 4, &directory_count, 4)) return false;  // NumberOfRvaAndSizes
    const std::uint32_t debug_entry = directories + k_pe_directory_debug * 8;
    if (directory_count <= k_pe_directory_debug || optional_size < debug_entry + 8) return false;
    std::uint32_t debug_rva = 0, debug_size = 0;
    if (!read(optional + debug_entry, &debug_rva, 4) || !read(optional + debug_entry + 4, &debug_size, 4)) return false;
    const std::uint32_t entries = debug_size / static_cast<std::uint32_t>(sizeof(pe_debug_directory));
    for (std::uint32_t i = 0; i < entries && i < 64; ++i) {
        pe_debug_directory d;
        if (!read(std::uint64_t{debug_rva} + std::uint64_t{i} * sizeof(d), &d, sizeof(d))) return false;
        if (d.type != k_pe_debug_type_codeview || d.address_of_raw_data == 0) continue;
        if (d.size_of_data < k_codeview_pdb70_header || d.size_of_data > k_codeview_max) continue;
        std::string cv(d.size_of_data, '\0');
        std::uint32_t signature = 0;
        if (!read(d.address_of_raw_data, &cv[0], cv.size())) continue;
        std::memcpy(&signature, cv.data(), 4);
        if (signature != minidump::k_cv_signature_pdb70) continue;
        // Keep the name up to its NUL, and end it with one even when the image did not.
        const std::size_t nul = cv.find('\0', k_codeview_pdb70_header);
        cv.resize(nul == std::string::npos ? cv.size() : nul);
        cv.push_back('\0');
        *record = cv;
        return true;
    }
    return false;
}

/// For each module of the ModuleList without a CodeView record, reads the RSDS record from
/// the module's PE headers in the crashed process (through read_memory), appends it and points
/// the module's cv_record at it. Modules that have a record keep it; modules whose headers
/// cannot be read or name no RSDS record stay without one (that is no error). false (and the
/// dump unchanged) when the dump itself is damaged or would grow past 4 GiB. `filled`, when
/// given, receives how many modules got a record.
inline bool dump_fill_codeview(std::string* dump, dump_read_memory_fn read_memory, void* user, std::string* error,
                               std::size_t* filled = nullptr) {
    if (filled != nullptr) *filled = 0;
    dump_index index;
    if (!dump_read_index(*dump, &index, error)) return false;
    const minidump::directory* list = dump_find_stream(index, minidump::stream_module_list);
    if (list == nullptr) return true;
    std::uint32_t count = 0;
    const std::uint64_t list_end = std::uint64_t{list->location.rva} + list->location.data_size;
    if (list_end > dump->size() || list->location.data_size < 4 || !dump_bytes_at(*dump, list->location.rva, &count, 4)) {
        return amend_fail(error, "the module list at " + amend_hex(list->location.rva) + " lies outside the file");
    }
    // The modules follow the count (some writers put 4 bytes of padding in between).
    const std::uint64_t needed = std::uint64_t{count} * sizeof(minidump::module);
    std::uint64_t first = std::uint64_t{list->location.rva} + 4;
    if (list->location.data_size == 8 + needed) first += 4;
    else if (list->location.data_size < 4 + needed) {
        return amend_fail(error, "the module list says " + std::to_string(count) + " modules but holds " +
                                     std::to_string(list->location.data_size) + " bytes");
    }

    const std::uint64_t base = dump_append_base(*dump);
    std::string blob;
    std::vector<std::pair<std::uint64_t, minidump::location_descriptor>> patches;  // module offset -> record
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::uint64_t at = first + std::uint64_t{i} * sizeof(minidump::module);
        minidump::module m;
        std::memcpy(&m, dump->data() + at, sizeof(m));
        if (m.cv_record.data_size != 0 || m.size_of_image == 0) continue;
        std::string record;
        if (!pe_read_codeview(read_memory, user, m.base_of_image, m.size_of_image, &record)) continue;
        blob.resize(static_cast<std::size_t>(amend_align(blob.size(), 4)), '\0');
        minidump::location_descriptor where;
        where.data_size = static_cast<std::uint32_t>(record.size());
        where.rva = static_cast<std::uint32_t>(base + blob.size());  // dump_append refuses a blob past 4 GiB
        blob += record;
        patches.emplace_back(at + offsetof(minidump::module, cv_record), where);
    }
    if (patches.empty()) return true;
    if (!dump_append(dump, index, blob, {}, error)) return false;  // the size check comes first
    for (const auto& p : patches) std::memcpy(&(*dump)[static_cast<std::size_t>(p.first)], &p.second, sizeof(p.second));
    if (filled != nullptr) *filled = patches.size();
    return true;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
