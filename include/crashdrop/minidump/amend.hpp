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

CRASHDROP_COLD inline bool dump_bytes_at(const std::string& dump, std::uint64_t at, void* out, std::size_t size) {
    if (at > dump.size() || dump.size() - at < size) return false;
    std::memcpy(out, dump.data() + at, size);
    return true;
}

CRASHDROP_COLD inline bool amend_fail(std::string* error, const std::string& why) {
    if (error != nullptr) *error = why;
    return false;
}

CRASHDROP_COLD inline std::string amend_hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

/// The header and stream directory of a dump, checked to lie inside it.
struct dump_index {
    minidump::header header;
    std::vector<minidump::directory> entries;
};

CRASHDROP_COLD inline bool dump_read_index(const std::string& dump, dump_index* out, std::string* error) {
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
CRASHDROP_COLD inline const minidump::directory* dump_find_stream(const dump_index& index, std::uint32_t type) {
    for (const auto& e : index.entries) {
        if (e.stream_type == type) return &e;
    }
    return nullptr;
}

// ---- appending ---------------------------------------------------------------------------------

CRASHDROP_COLD inline std::uint64_t amend_align(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

/// Where appended data starts: the first 8-byte boundary at or after the end of the file.
CRASHDROP_COLD inline std::uint64_t dump_append_base(const std::string& dump) { return amend_align(dump.size(), 8); }

/// Appends `blob` at dump_append_base() and, after it, a new directory of the old entries
/// followed by `added`; points the header at it (with nothing added, the directory stays
/// where it is). Checks everything before changing anything:
/// on false the dump is as it was. A stream type the dump already has is refused (Breakpad's
/// reader rejects a dump that lists a type twice).
CRASHDROP_COLD inline bool dump_append(std::string* dump, const dump_index& index, const std::string& blob,
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
CRASHDROP_COLD inline bool dump_append_stream(std::string* dump, std::uint32_t type, const std::string& bytes, std::string* error) {
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
/// (dumper_linux.hpp, add_crashpad_info) and read back by read_dump_context. The first entry
/// is crash_kind = report_kind_name(kind), what the dump is; an entry of that name among
/// `given` is left out (the writer's wins). Values are written as given: split long ones first
/// (split_annotation_parts) when readers expect that.
CRASHDROP_COLD inline bool dump_append_crashpad_info(std::string* dump, const minidump::guid& report_id, const minidump::guid& client_id,
                                      report_kind kind, const std::vector<std::pair<std::string, std::string>>& given,
                                      std::string* error) {
    dump_index index;
    if (!dump_read_index(*dump, &index, error)) return false;
    std::vector<std::pair<std::string, std::string>> annotations{{minidump::k_annotation_crash_kind, report_kind_name(kind)}};
    for (const auto& a : given) {
        if (a.first != minidump::k_annotation_crash_kind) annotations.push_back(a);
    }
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
CRASHDROP_COLD inline bool pe_read_codeview(dump_read_memory_fn read_memory, void* user, std::uint64_t base, std::uint32_t image_size,
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
CRASHDROP_COLD inline bool dump_fill_codeview(std::string* dump, dump_read_memory_fn read_memory, void* user, std::string* error,
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

// ---- clearing copies of the environment and command line ----------------------------------------
// Windows x64 dumps only (their CONTEXT is AMD64's): built where that layout is.
#if CRASHDROP_ARCH_X86_64

// MiniDumpWriteDump writes every thread's CONTEXT as it is and the stacks as they are. A secret
// the application has just read (getenv, its command line) can sit in a general or vector
// register (string routines leave 8 to 32 bytes of what they read there) or in a spilled copy
// on a stack. dump_scrub_secrets clears them, as the Linux writer does on its crash path
// (dumper_linux.hpp): a register holding an 8-byte window of the strings, and an 8-byte-aligned
// stack word equal to one, are zeroed. Only windows that cannot be a pointer are compared, so
// return addresses and frame pointers stay and the stack stays walkable: for narrow text, at
// least 7 non-zero bytes; for UTF-16 text (the form Windows keeps), 4 non-zero code units at an
// even offset. A user-space pointer has its two top bytes (its last code unit) zero.

/// The 8-byte windows of the secret strings, as 64-bit little-endian values.
struct secret_windows {
    std::unordered_set<std::uint64_t> set;
};

CRASHDROP_COLD inline bool secret_narrow_window(std::uint64_t w) {
    int non_zero = 0;
    for (int i = 0; i < 8; ++i) non_zero += ((w >> (8 * i)) & 0xffu) != 0 ? 1 : 0;
    return non_zero >= 7;
}

CRASHDROP_COLD inline bool secret_wide_window(std::uint64_t w) {
    for (int i = 0; i < 4; ++i) {
        if (((w >> (16 * i)) & 0xffffu) == 0) return false;
    }
    return true;
}

/// Adds the windows of UTF-16 text (as it is in memory, little-endian code units) and of its
/// narrowing to UTF-8 (ASCII stays ASCII: what getenv and argv give a program).
CRASHDROP_COLD inline void secret_windows_add_utf16(secret_windows* out, const std::u16string& text) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t size = text.size() * 2;
    for (std::size_t i = 0; i + 8 <= size; i += 2) {
        std::uint64_t w = 0;
        std::memcpy(&w, bytes + i, 8);
        if (secret_wide_window(w)) out->set.insert(w);
    }
    std::string narrow;
    narrow.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        std::uint32_t c = text[i];
        if (c >= 0xd800u && c < 0xdc00u && i + 1 < text.size() && text[i + 1] >= 0xdc00u && text[i + 1] < 0xe000u) {
            c = 0x10000u + ((c - 0xd800u) << 10) + (static_cast<std::uint32_t>(text[++i]) - 0xdc00u);
        }
        if (c < 0x80u) {
            narrow.push_back(static_cast<char>(c));
        } else if (c < 0x800u) {
            narrow.push_back(static_cast<char>(0xc0u | (c >> 6)));
            narrow.push_back(static_cast<char>(0x80u | (c & 0x3fu)));
        } else if (c < 0x10000u) {
            narrow.push_back(static_cast<char>(0xe0u | (c >> 12)));
            narrow.push_back(static_cast<char>(0x80u | ((c >> 6) & 0x3fu)));
            narrow.push_back(static_cast<char>(0x80u | (c & 0x3fu)));
        } else {
            narrow.push_back(static_cast<char>(0xf0u | (c >> 18)));
            narrow.push_back(static_cast<char>(0x80u | ((c >> 12) & 0x3fu)));
            narrow.push_back(static_cast<char>(0x80u | ((c >> 6) & 0x3fu)));
            narrow.push_back(static_cast<char>(0x80u | (c & 0x3fu)));
        }
    }
    for (std::size_t i = 0; i + 8 <= narrow.size(); ++i) {
        std::uint64_t w = 0;
        std::memcpy(&w, narrow.data() + i, 8);
        if (secret_narrow_window(w)) out->set.insert(w);
    }
}

/// True when any 8-byte window of `bytes` (every offset) is a secret window.
CRASHDROP_COLD inline bool secret_windows_hit(const secret_windows& s, const unsigned char* bytes, std::size_t size) {
    for (std::size_t i = 0; i + 8 <= size; ++i) {
        std::uint64_t w = 0;
        std::memcpy(&w, bytes + i, 8);
        if (s.set.count(w) != 0) return true;
    }
    return false;
}

/// What dump_scrub_secrets cleared.
struct scrub_result {
    std::size_t contexts = 0;   // thread contexts looked at
    std::size_t registers = 0;  // registers zeroed
    std::size_t words = 0;      // stack words zeroed
    std::string report;         // one line per thread with cleared registers, and one for words
};

/// Zeroes the registers of an AMD64 CONTEXT at `at` that hold a secret window: the general
/// registers but rsp and rip, the parameter home slots, st0-7 and xmm0-15 of the FXSAVE area
/// and the VectorRegister array. Returns how many were zeroed.
CRASHDROP_COLD inline std::size_t scrub_context_amd64(std::string* dump, std::uint64_t at, const secret_windows& s) {
    std::size_t cleared = 0;
    auto scrub = [&](std::uint64_t offset, std::size_t size) {
        auto* p = reinterpret_cast<unsigned char*>(&(*dump)[static_cast<std::size_t>(at + offset)]);
        if (secret_windows_hit(s, p, size)) {
            std::memset(p, 0, size);
            ++cleared;
        }
    };
    using minidump::context_amd64;
    const std::uint64_t homes = offsetof(context_amd64, p1_home);
    for (std::uint64_t i = 0; i < 6; ++i) scrub(homes + 8 * i, 8);
    const std::uint64_t general[] = {offsetof(context_amd64, rax), offsetof(context_amd64, rcx), offsetof(context_amd64, rdx),
                                     offsetof(context_amd64, rbx), offsetof(context_amd64, rbp), offsetof(context_amd64, rsi),
                                     offsetof(context_amd64, rdi), offsetof(context_amd64, r8),  offsetof(context_amd64, r9),
                                     offsetof(context_amd64, r10), offsetof(context_amd64, r11), offsetof(context_amd64, r12),
                                     offsetof(context_amd64, r13), offsetof(context_amd64, r14), offsetof(context_amd64, r15)};
    for (std::uint64_t g : general) scrub(g, 8);
    // FXSAVE image: st0-7 (16-byte slots) at 32, xmm0-15 at 160.
    const std::uint64_t flt = offsetof(context_amd64, flt_save);
    for (std::uint64_t i = 0; i < 8; ++i) scrub(flt + 32 + 16 * i, 16);
    for (std::uint64_t i = 0; i < 16; ++i) scrub(flt + 160 + 16 * i, 16);
    const std::uint64_t vectors = offsetof(context_amd64, vector_register);
    for (std::uint64_t i = 0; i < 26; ++i) scrub(vectors + 16 * i, 16);
    return cleared;
}

/// Clears, in a Windows x64 dump, every register of every thread context (thread list and
/// exception stream) and every 8-byte-aligned word of the memory list (the stacks) that holds
/// an 8-byte window of the secret strings (see above). false (dump unchanged) when the dump is
/// damaged; contexts that are not AMD64 ones are left alone.
CRASHDROP_COLD inline bool dump_scrub_secrets(std::string* dump, const secret_windows& s, scrub_result* out, std::string* error) {
    *out = scrub_result{};
    dump_index index;
    if (!dump_read_index(*dump, &index, error)) return false;
    // First collect and check every place, then change the dump.
    std::vector<std::pair<std::uint32_t, std::uint64_t>> contexts;  // thread id, offset
    struct range { std::uint64_t rva, size, address; };
    std::vector<range> ranges;
    auto add_context = [&](std::uint32_t tid, const minidump::location_descriptor& l) {
        if (l.data_size < sizeof(minidump::context_amd64) || std::uint64_t{l.rva} + l.data_size > dump->size()) return false;
        std::uint32_t flags = 0;
        std::memcpy(&flags, dump->data() + l.rva + offsetof(minidump::context_amd64, context_flags), 4);
        if ((flags & minidump::k_context_amd64) == minidump::k_context_amd64) contexts.emplace_back(tid, l.rva);
        return true;
    };
    if (const minidump::directory* list = dump_find_stream(index, minidump::stream_thread_list)) {
        std::uint32_t count = 0;
        const std::uint64_t at = list->location.rva;
        if (!dump_bytes_at(*dump, at, &count, 4) || std::uint64_t{count} * sizeof(minidump::thread) + 4 > list->location.data_size ||
            at + list->location.data_size > dump->size()) {
            return amend_fail(error, "the thread list at " + amend_hex(at) + " is damaged");
        }
        for (std::uint32_t i = 0; i < count; ++i) {
            minidump::thread t;
            std::memcpy(&t, dump->data() + at + 4 + std::uint64_t{i} * sizeof(t), sizeof(t));
            if (!add_context(t.thread_id, t.thread_context)) return amend_fail(error, "thread " + std::to_string(t.thread_id) + ": its context lies outside the file");
            if (t.stack.memory.data_size > 0) ranges.push_back({t.stack.memory.rva, t.stack.memory.data_size, t.stack.start_of_memory_range});
        }
    }
    if (const minidump::directory* e = dump_find_stream(index, minidump::stream_exception)) {
        minidump::exception_stream es;
        if (e->location.data_size < sizeof(es) || !dump_bytes_at(*dump, e->location.rva, &es, sizeof(es))) {
            return amend_fail(error, "the exception stream is damaged");
        }
        if (!add_context(es.thread_id, es.thread_context)) return amend_fail(error, "the exception's context lies outside the file");
    }
    if (const minidump::directory* m = dump_find_stream(index, minidump::stream_memory_list)) {
        std::uint32_t count = 0;
        const std::uint64_t at = m->location.rva;
        if (!dump_bytes_at(*dump, at, &count, 4) || std::uint64_t{count} * sizeof(minidump::memory_descriptor) + 4 > m->location.data_size ||
            at + m->location.data_size > dump->size()) {
            return amend_fail(error, "the memory list at " + amend_hex(at) + " is damaged");
        }
        for (std::uint32_t i = 0; i < count; ++i) {
            minidump::memory_descriptor d;
            std::memcpy(&d, dump->data() + at + 4 + std::uint64_t{i} * sizeof(d), sizeof(d));
            if (d.memory.data_size > 0) ranges.push_back({d.memory.rva, d.memory.data_size, d.start_of_memory_range});
        }
    }
    for (const auto& r : ranges) {
        if (r.rva + r.size > dump->size()) return amend_fail(error, "a memory range at " + amend_hex(r.rva) + " lies outside the file");
    }
    if (s.set.empty()) return true;
    // A context can be listed twice (thread list and exception stream): each is looked at once.
    std::vector<std::uint64_t> seen;
    for (const auto& c : contexts) {
        if (std::find(seen.begin(), seen.end(), c.second) != seen.end()) continue;
        seen.push_back(c.second);
        ++out->contexts;
        const std::size_t n = scrub_context_amd64(dump, c.second, s);
        if (n > 0) {
            out->registers += n;
            out->report += "thread " + std::to_string(c.first) + ": " + std::to_string(n) +
                           " registers cleared (they held bytes of the argument or environment strings)\n";
        }
    }
    // Memory ranges: the words at 8-byte-aligned addresses. A stack listed twice (thread list
    // and memory list) is looked at twice; its words are counted once (a cleared word is 0).
    for (const auto& r : ranges) {
        for (std::uint64_t o = (8 - r.address % 8) % 8; o + 8 <= r.size; o += 8) {
            std::uint64_t w = 0;
            std::memcpy(&w, dump->data() + r.rva + o, 8);
            if (w != 0 && s.set.count(w) != 0) {
                std::memset(&(*dump)[static_cast<std::size_t>(r.rva + o)], 0, 8);
                ++out->words;
            }
        }
    }
    if (out->words > 0) {
        out->report += "memory: " + std::to_string(out->words) +
                       " words cleared (copies of the argument or environment strings, e.g. spilled registers)\n";
    }
    return true;
}

// ---- memory around the crashing thread's registers (Options::memory_capture = full) ------------
// MiniDumpWriteDump without MiniDumpWithIndirectlyReferencedMemory (and wine's dbghelp in any
// case) copies the stacks and a window around each thread's instruction pointer, not what the
// registers point at. At level full the helper adds, as the Linux writer does, up to 256 bytes
// either side of every general register and rip of the exception's context that points into
// readable memory (clipped to its region and to the ranges the dump already holds).

/// The readable region holding `address`: [*start, *end); false when it is not readable.
using dump_region_fn = bool (*)(void* user, std::uint64_t address, std::uint64_t* start, std::uint64_t* end);

/// Adds the memory around the registers of the exception stream's context (see above) to the
/// memory list: the old descriptors and the new ones go into a new list after the end of the
/// file, which the memory list's directory entry then names (the old list stays as unused
/// bytes). `added` gets the number of ranges added. false (dump unchanged) when the dump is
/// damaged; a dump without an exception stream or with a context that is not AMD64's is left alone.
CRASHDROP_COLD inline bool dump_add_register_memory(std::string* dump, dump_region_fn region, dump_read_memory_fn read_memory, void* user,
                                     std::size_t* added, std::string* error) {
    *added = 0;
    dump_index index;
    if (!dump_read_index(*dump, &index, error)) return false;
    const minidump::directory* e = dump_find_stream(index, minidump::stream_exception);
    if (e == nullptr) return true;
    minidump::exception_stream es;
    if (e->location.data_size < sizeof(es) || !dump_bytes_at(*dump, e->location.rva, &es, sizeof(es))) {
        return amend_fail(error, "the exception stream is damaged");
    }
    minidump::context_amd64 ctx;
    if (es.thread_context.data_size < sizeof(ctx) || !dump_bytes_at(*dump, es.thread_context.rva, &ctx, sizeof(ctx))) {
        return amend_fail(error, "the exception's context lies outside the file");
    }
    if ((ctx.context_flags & minidump::k_context_amd64) != minidump::k_context_amd64) return true;
    // What the dump holds already: the memory list and the thread stacks.
    std::vector<minidump::memory_descriptor> old;
    std::vector<address_range> held;
    const minidump::directory* list = dump_find_stream(index, minidump::stream_memory_list);
    if (list != nullptr) {
        std::uint32_t count = 0;
        const std::uint64_t at = list->location.rva;
        if (!dump_bytes_at(*dump, at, &count, 4) || std::uint64_t{count} * sizeof(minidump::memory_descriptor) + 4 > list->location.data_size ||
            at + list->location.data_size > dump->size()) {
            return amend_fail(error, "the memory list at " + amend_hex(at) + " is damaged");
        }
        old.resize(count);
        if (count > 0) std::memcpy(old.data(), dump->data() + at + 4, count * sizeof(minidump::memory_descriptor));
        for (const auto& d : old) held.push_back({d.start_of_memory_range, d.start_of_memory_range + d.memory.data_size});
    }
    if (const minidump::directory* threads = dump_find_stream(index, minidump::stream_thread_list)) {
        std::uint32_t count = 0;
        const std::uint64_t at = threads->location.rva;
        if (!dump_bytes_at(*dump, at, &count, 4) || std::uint64_t{count} * sizeof(minidump::thread) + 4 > threads->location.data_size ||
            at + threads->location.data_size > dump->size()) {
            return amend_fail(error, "the thread list at " + amend_hex(at) + " is damaged");
        }
        for (std::uint32_t i = 0; i < count; ++i) {
            minidump::thread t;
            std::memcpy(&t, dump->data() + at + 4 + std::uint64_t{i} * sizeof(t), sizeof(t));
            held.push_back({t.stack.start_of_memory_range, t.stack.start_of_memory_range + t.stack.memory.data_size});
        }
    }
    const std::uint64_t values[] = {ctx.rax, ctx.rcx, ctx.rdx, ctx.rbx, ctx.rsp, ctx.rbp, ctx.rsi, ctx.rdi, ctx.r8,
                                    ctx.r9,  ctx.r10, ctx.r11, ctx.r12, ctx.r13, ctx.r14, ctx.r15, ctx.rip};
    const std::uint64_t base = dump_append_base(*dump);
    std::string blob;
    std::vector<minidump::memory_descriptor> fresh;
    for (std::uint64_t v : values) {
        if (v < 4096) continue;
        bool inside = false;
        std::uint64_t lo = v >= 256 ? v - 256 : 0, hi = v + 256;
        for (const auto& r : held) {  // clipped so no two ranges of the list overlap
            if (v >= r.start && v < r.end) inside = true;
            else if (r.end <= v && r.end > lo) lo = r.end;
            else if (r.start > v && r.start < hi) hi = r.start;
        }
        std::uint64_t start = 0, end = 0;
        if (inside || !region(user, v, &start, &end)) continue;
        lo = std::max(lo, start);
        hi = std::min(hi, end);
        if (hi <= lo) continue;
        std::string bytes(static_cast<std::size_t>(hi - lo), '\0');
        if (!read_memory(user, lo, &bytes[0], bytes.size())) continue;
        blob.resize(static_cast<std::size_t>(amend_align(blob.size(), 16)), '\0');
        minidump::memory_descriptor d;
        d.start_of_memory_range = lo;
        d.memory.data_size = static_cast<std::uint32_t>(bytes.size());
        d.memory.rva = static_cast<std::uint32_t>(base + blob.size());  // dump_append refuses a blob past 4 GiB
        blob += bytes;
        fresh.push_back(d);
        held.push_back({lo, hi});
    }
    if (fresh.empty()) return true;
    // The new list: the count, the old descriptors, the new ones.
    blob.resize(static_cast<std::size_t>(amend_align(blob.size(), 8)), '\0');
    const std::uint64_t list_at = base + blob.size();
    const auto count = static_cast<std::uint32_t>(old.size() + fresh.size());
    blob.append(reinterpret_cast<const char*>(&count), 4);
    if (!old.empty()) blob.append(reinterpret_cast<const char*>(old.data()), old.size() * sizeof(minidump::memory_descriptor));
    blob.append(reinterpret_cast<const char*>(fresh.data()), fresh.size() * sizeof(minidump::memory_descriptor));
    minidump::directory d;
    d.stream_type = minidump::stream_memory_list;
    d.location.rva = static_cast<std::uint32_t>(list_at);
    d.location.data_size = static_cast<std::uint32_t>(4 + std::uint64_t{count} * sizeof(minidump::memory_descriptor));
    if (list == nullptr) {
        if (!dump_append(dump, index, blob, {d}, error)) return false;
    } else {
        const std::uint64_t entry = std::uint64_t{index.header.stream_directory_rva} +
                                    static_cast<std::uint64_t>(list - index.entries.data()) * sizeof(minidump::directory);
        if (!dump_append(dump, index, blob, {}, error)) return false;  // the directory stays where it is
        std::memcpy(&(*dump)[static_cast<std::size_t>(entry)], &d, sizeof(d));
    }
    *added = fresh.size();
    return true;
}
#endif  // CRASHDROP_ARCH_X86_64

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
