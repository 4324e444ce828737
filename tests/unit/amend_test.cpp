// The dump post-processor (minidump/amend.hpp) that adds to a finished Windows dump what
// MiniDumpWriteDump could not write: a flat stream, Crashpad's info stream with annotations, and
// modules' CodeView records read from the crashed process's PE headers. Checked on synthetic
// dumps and PE images (a fake process serves the images and notes any read outside them), on
// the real Linux dumps in ../shared/testdata/minidumps, on damaged input, and end to end on a
// dump of the Windows build (crash_target_win.exe under wine) with Breakpad's readers.
// The implementation TU of its own test binary.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <catch2/catch.hpp>


#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../support/minidump_file.hpp"
#include "../support/process.hpp"
#include "../support/readers.hpp"

namespace cd = crashdrop::detail;
namespace md = crashdrop::minidump;

namespace {

const std::string k_work = CRASHDROP_TEST_WORKDIR;
const std::string k_shared = CRASHDROP_SHARED_TESTDATA;

template <typename T>
void put(std::string* s, std::size_t at, const T& v) {
    if (s->size() < at + sizeof(T)) s->resize(at + sizeof(T), '\0');
    std::memcpy(&(*s)[at], &v, sizeof(T));
}

template <typename T>
T get(const std::string& s, std::size_t at) {
    T v{};
    REQUIRE(at + sizeof(T) <= s.size());
    std::memcpy(&v, s.data() + at, sizeof(T));
    return v;
}

bool write_file(const std::string& path, const std::string& data) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return false;
    const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
    return std::fclose(f) == 0 && ok;
}

// ---- a synthetic dump ------------------------------------------------------------------------

/// Builds a minidump: streams are added in order, the directory goes at the end.
struct dump_builder {
    std::string bytes = std::string(sizeof(md::header), '\0');
    std::vector<md::directory> entries;

    std::uint32_t add(const std::string& data) {
        bytes.resize((bytes.size() + 7) / 8 * 8, '\0');
        const auto rva = static_cast<std::uint32_t>(bytes.size());
        bytes += data;
        return rva;
    }
    void stream(std::uint32_t type, const std::string& data) {
        md::directory d;
        d.stream_type = type;
        d.location.data_size = static_cast<std::uint32_t>(data.size());
        d.location.rva = add(data);
        entries.push_back(d);
    }
    std::string finish() {
        md::header h{};
        h.signature = md::k_signature;
        h.version = md::k_version;
        h.stream_count = static_cast<std::uint32_t>(entries.size());
        h.stream_directory_rva = add(std::string(reinterpret_cast<const char*>(entries.data()), entries.size() * sizeof(md::directory)));
        put(&bytes, 0, h);
        return bytes;
    }
};

std::string as_bytes(const void* p, std::size_t n) { return std::string(static_cast<const char*>(p), n); }

const md::guid k_rsds_guid = {0x11223344u, 0x5566u, 0x7788u, {0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01}};

/// An RSDS CodeView record: signature, GUID, age, the name (with its NUL when `terminate`).
std::string rsds(const std::string& name, std::uint32_t age = 3, bool terminate = true) {
    std::string r;
    put(&r, 0, md::k_cv_signature_pdb70);
    put(&r, 4, k_rsds_guid);
    put(&r, 20, age);
    r += name;
    if (terminate) r.push_back('\0');
    return r;
}

/// A loaded PE image of `size` bytes whose debug directory names one CodeView record. Every
/// header field the amender reads is a knob, so tests can make the headers lie.
struct pe_image {
    std::uint32_t size = 0x3000;
    std::uint16_t dos_magic = 0x5a4d;
    std::uint32_t lfanew = 0x80;
    std::uint32_t nt_signature = 0x00004550u;
    std::uint16_t magic = 0x20b;  // PE32+
    std::uint16_t optional_size = 240;
    std::uint32_t rva_count = 16;
    std::uint32_t debug_rva = 0x1000;
    std::uint32_t debug_size = 28;
    std::uint32_t debug_type = 2;  // CODEVIEW
    std::uint32_t cv_rva = 0x1100;
    std::uint32_t cv_size = 0;     // 0: the record's size
    std::string cv = rsds("app.pdb");

    std::string build() const {
        std::string img(size, '\0');
        put(&img, 0, dos_magic);
        put(&img, 0x3c, lfanew);
        if (std::uint64_t{lfanew} + 24 + 240 > size) return img;
        put(&img, lfanew, nt_signature);
        put<std::uint16_t>(&img, lfanew + 4, 0x8664);           // Machine
        put<std::uint16_t>(&img, lfanew + 4 + 16, optional_size);
        const std::uint32_t opt = lfanew + 24;
        put(&img, opt, magic);
        const std::uint32_t dirs = magic == 0x10b ? 96 : 112;
        put(&img, opt + dirs - 4, rva_count);
        put(&img, opt + dirs + 6 * 8, debug_rva);
        put(&img, opt + dirs + 6 * 8 + 4, debug_size);
        if (std::uint64_t{debug_rva} + 28 <= size) {
            cd::pe_debug_directory d{};
            d.type = debug_type;
            d.size_of_data = cv_size != 0 ? cv_size : static_cast<std::uint32_t>(cv.size());
            d.address_of_raw_data = cv_rva;
            d.pointer_to_raw_data = 0x400;  // a file offset: never to be used on a loaded image
            put(&img, debug_rva, d);
        }
        if (std::uint64_t{cv_rva} + cv.size() <= size) img.replace(cv_rva, cv.size(), cv);
        img.resize(size);
        return img;
    }
};

/// The crashed process, as far as read_memory sees it: images at their bases. Reads that
/// fall outside every image are refused and remembered.
struct fake_process {
    std::map<std::uint64_t, std::string> images;
    int reads = 0;
    std::vector<std::uint64_t> outside;

    static bool read(void* user, std::uint64_t address, void* out, std::size_t size) {
        auto* p = static_cast<fake_process*>(user);
        ++p->reads;
        for (const auto& im : p->images) {
            if (address >= im.first && address - im.first <= im.second.size() && im.second.size() - (address - im.first) >= size) {
                std::memcpy(out, im.second.data() + (address - im.first), size);
                return true;
            }
        }
        p->outside.push_back(address);
        return false;
    }
};

md::module module_at(std::uint64_t base, std::uint32_t size) {
    md::module m;
    std::memset(&m, 0, sizeof(m));
    m.base_of_image = base;
    m.size_of_image = size;
    return m;
}

std::string module_list(const std::vector<md::module>& mods) {
    std::string s;
    put(&s, 0, static_cast<std::uint32_t>(mods.size()));
    for (const auto& m : mods) s += as_bytes(&m, sizeof(m));
    return s;
}

/// Module i of the dump's ModuleList (entries right after the count).
md::module read_module(const std::string& dump, std::uint32_t i) {
    testsupport::minidump_file f;
    REQUIRE(f.load_bytes(dump));
    const auto it = f.streams.find(md::stream_module_list);
    REQUIRE(it != f.streams.end());
    return get<md::module>(dump, it->second.first + 4 + i * sizeof(md::module));
}

std::string cv_bytes(const std::string& dump, const md::module& m) {
    REQUIRE(std::uint64_t{m.cv_record.rva} + m.cv_record.data_size <= dump.size());
    return dump.substr(m.cv_record.rva, m.cv_record.data_size);
}

/// Every stream of `before` is in `after` with the same bytes, in the same order, then `added`.
void check_streams_kept(const std::string& before, const std::string& after, const std::vector<std::uint32_t>& added) {
    testsupport::minidump_file a, b;
    REQUIRE(a.load_bytes(before));
    REQUIRE(b.load_bytes(after));
    std::vector<std::uint32_t> expected = a.stream_order;
    expected.insert(expected.end(), added.begin(), added.end());
    CHECK(b.stream_order == expected);
    for (std::uint32_t type : a.stream_order) {
        INFO("stream " << std::hex << type);
        CHECK(b.stream_bytes(type) == a.stream_bytes(type));
    }
    // Appending moves nothing: the old file is a prefix of the new one, but for the header.
    CHECK(after.compare(sizeof(md::header), before.size() - sizeof(md::header), before, sizeof(md::header), std::string::npos) == 0);
}

std::vector<std::string> shared_dumps() {
    std::vector<std::string> out;
    if (testsupport::read_text_file(k_shared + "/README.md").empty()) {
        WARN("shared test dumps not found at " << k_shared << "; that part skipped");
        return out;
    }
    for (const char* n : {"bp_linux_null_dereference.dmp", "bp_linux_inline.dmp", "nm_linux.dmp", "rm_linux-mini.dmp"}) {
        out.push_back(k_shared + "/" + n);
    }
    return out;
}

bool breakpad_readers() {
    const auto& t = testsupport::tools();
    if (t.breakpad) return true;
    if (t.required) FAIL("Breakpad's readers missing (CRASHDROP_MINIDUMP_TOOLS) and CRASHDROP_REQUIRE_READERS=1");
    WARN("Breakpad's readers missing: reader checks skipped (set CRASHDROP_MINIDUMP_TOOLS)");
    return false;
}

}  // namespace

// ---- appending a flat stream ------------------------------------------------------------------

TEST_CASE("appending a stream keeps every stream of a real dump and adds the new one", "[amend]") {
    for (const auto& path : shared_dumps()) {
        INFO(path);
        const std::string before = testsupport::read_text_file(path);
        REQUIRE(!before.empty());
        std::string after = before;
        std::string error;
        const std::string payload = "writer: the amender was here\n";
        REQUIRE(cd::dump_append_stream(&after, 0x43440007u, payload, &error));
        CHECK(error.empty());
        check_streams_kept(before, after, {0x43440007u});
        testsupport::minidump_file f;
        REQUIRE(f.load_bytes(after));
        CHECK(f.stream_bytes(0x43440007u) == payload);
        CHECK(f.streams[0x43440007u].first % 8 == 0);
        CHECK(after.size() < 0x100000000ull);

        // Breakpad's reader sees the same crash in both.
        if (!breakpad_readers()) continue;
        const std::string out = k_work + "/appended.dmp";
        REQUIRE(write_file(out, after));
        const auto sw_before = testsupport::run_process({testsupport::tools().stackwalk, "-m", path}, 120);
        const auto sw_after = testsupport::run_process({testsupport::tools().stackwalk, "-m", out}, 120);
        CHECK(sw_after.exit_code() == 0);
        CHECK(sw_after.out == sw_before.out);
    }
}

TEST_CASE("appending a stream type the dump already has is refused and changes nothing", "[amend]") {
    dump_builder b;
    b.stream(0x43440001u, "first\n");
    const std::string before = b.finish();
    std::string dump = before;
    std::string error;
    CHECK_FALSE(cd::dump_append_stream(&dump, 0x43440001u, "second\n", &error));
    CHECK(error.find("already has a stream of type 0x43440001") != std::string::npos);
    CHECK(dump == before);
    CHECK_FALSE(cd::dump_append_stream(&dump, 0, "x", &error));
    CHECK(dump == before);
    // Two appends in a row: the second directory holds the first one's stream too.
    REQUIRE(cd::dump_append_stream(&dump, 0x10000u, "a", &error));
    REQUIRE(cd::dump_append_stream(&dump, 0x10001u, "", &error));
    check_streams_kept(before, dump, {0x10000u, 0x10001u});
}

// ---- Crashpad's info stream ---------------------------------------------------------------------

TEST_CASE("read_dump_context names the kind from the exception stream: requested on Linux and Windows - else crash", "[amend][kind]") {
    auto kind_of = [](bool with_exception, std::uint32_t code) {
        dump_builder b;
        b.stream(md::stream_system_info, std::string(sizeof(md::system_info), '\0'));
        if (with_exception) {
            md::exception_stream es{};
            es.exception.exception_code = code;
            b.stream(md::stream_exception, as_bytes(&es, sizeof(es)));
        }
        const std::string dump = b.finish();
        crashdrop::Report r;
        r.kind = "unset";
        REQUIRE(cd::read_dump_context(reinterpret_cast<const std::uint8_t*>(dump.data()), dump.size(), &r));
        return r.kind;
    };
    CHECK(kind_of(true, md::k_exception_dump_requested) == "requested");   // Linux write_dump()
    CHECK(kind_of(true, 0x0517A7EDu) == "requested");                      // Windows write_dump()
    CHECK(kind_of(true, md::k_exception_hang) == "hang");                  // the helper's hang report (both platforms)
    CHECK(kind_of(true, 11) == "crash");                                   // SIGSEGV
    CHECK(kind_of(true, 0xC0000005u) == "crash");                          // EXCEPTION_ACCESS_VIOLATION
    CHECK(kind_of(false, 0) == "unset");  // no exception stream: left as it was
    CHECK(kind_of(true, md::k_exception_hang) == "hang");                     // the helper's hang dump
    CHECK(kind_of(true, md::k_exception_abnormal_exit) == "abnormal_exit");   // an exit with no code of its own
}

TEST_CASE("read_dump_context prefers the dump's crash_kind annotation to the exception code - and drops it from the annotations", "[amend][kind]") {
    // A dump as the helper builds one for a process killed by SIGKILL: the exception code is
    // the signal's number (a crash's code), the annotation says abnormal_exit.
    auto read = [](const char* kind_value, std::uint32_t code) {
        dump_builder b;
        b.stream(md::stream_system_info, std::string(sizeof(md::system_info), '\0'));
        md::exception_stream es{};
        es.exception.exception_code = code;
        b.stream(md::stream_exception, as_bytes(&es, sizeof(es)));
        std::string dump = b.finish();
        std::vector<std::pair<std::string, std::string>> given = {{"prod", "p"}};
        std::string error;
        if (kind_value != nullptr) {
            REQUIRE(cd::dump_append_crashpad_info(&dump, md::guid{}, md::guid{}, cd::report_kind::crash, given, &error));
            // Rewrite the value the writer put there (the entry's value string, 5 bytes "crash").
            const std::size_t at = dump.find(std::string("\x05\0\0\0crash", 9));
            REQUIRE(at != std::string::npos);
            const std::uint32_t n = static_cast<std::uint32_t>(std::strlen(kind_value));
            REQUIRE(n <= 5);
            std::memcpy(&dump[at], &n, 4);
            std::memcpy(&dump[at + 4], kind_value, n + 1);
        }
        crashdrop::Report r;
        REQUIRE(cd::read_dump_context(reinterpret_cast<const std::uint8_t*>(dump.data()), dump.size(), &r));
        return r;
    };
    const crashdrop::Report killed = read("crash", 9);
    CHECK(killed.kind == "crash");
    CHECK(killed.annotations.count("crash_kind") == 0);
    CHECK(killed.annotations.at("prod") == "p");
    CHECK(read("hang", 9).kind == "hang");                                   // the annotation wins over SIGKILL's 9
    CHECK(read("crash", md::k_exception_dump_requested).kind == "crash");    // ... and over write_dump()'s code
    CHECK(read(nullptr, md::k_exception_dump_requested).kind == "requested"); // none: the code decides
    // A value that names no kind (an older crashdrop let the application set one): the code
    // decides, and the value stays an annotation.
    const crashdrop::Report odd = read("odd", md::k_exception_hang);
    CHECK(odd.kind == "hang");
    CHECK(odd.annotations.at("crash_kind") == "odd");
}

TEST_CASE("dump_append_crashpad_info writes crash_kind first and leaves out an annotation of that name", "[amend][kind]") {
    dump_builder b;
    b.stream(md::stream_system_info, std::string(sizeof(md::system_info), '\0'));
    std::string dump = b.finish();
    std::string error;
    REQUIRE(cd::dump_append_crashpad_info(&dump, md::guid{}, md::guid{}, cd::report_kind::abnormal_exit,
                                          {{"crash_kind", "spoofed"}, {"a", "1"}}, &error));
    testsupport::minidump_file f;
    REQUIRE(f.load_bytes(dump));
    const auto info = get<md::crashpad_info>(f.stream_bytes(md::stream_crashpad_info), 0);
    REQUIRE(get<std::uint32_t>(dump, info.simple_annotations.rva) == 2u);
    const auto first = get<md::simple_string_dictionary_entry>(dump, info.simple_annotations.rva + 4);
    auto utf8 = [&](std::uint32_t rva) { return dump.substr(rva + 4, get<std::uint32_t>(dump, rva)); };
    CHECK(utf8(first.key) == "crash_kind");
    CHECK(utf8(first.value) == "abnormal_exit");
    CHECK(dump.find("spoofed") == std::string::npos);
    crashdrop::Report r;
    REQUIRE(cd::read_dump_context(reinterpret_cast<const std::uint8_t*>(dump.data()), dump.size(), &r));
    CHECK(r.kind == "abnormal_exit");
    CHECK(r.annotations == std::map<std::string, std::string>{{"a", "1"}});
}

TEST_CASE("the Crashpad info stream round-trips through read_dump_context", "[amend]") {
    dump_builder b;
    b.stream(md::stream_system_info, std::string(sizeof(md::system_info), '\0'));
    const std::string before = b.finish();
    const md::guid report = {0x0a0b0c0du, 0x1234u, 0x5678u, {1, 2, 3, 4, 5, 6, 7, 8}};
    const md::guid client = {0xfeedface, 0xbeefu, 0xcafeu, {8, 7, 6, 5, 4, 3, 2, 1}};
    const std::vector<std::pair<std::string, std::string>> annotations = {
        {"prod", "MyGame"}, {"ver", "1.4.2"}, {"empty", ""}, {"utf8", "gr\xc3\xbc\xc3\x9f" "e = \"hi\""}, {"k", std::string(300, 'v')}};
    std::string dump = before;
    std::string error;
    REQUIRE(cd::dump_append_crashpad_info(&dump, report, client, cd::report_kind::hang, annotations, &error));
    check_streams_kept(before, dump, {md::stream_crashpad_info});

    crashdrop::Report r;
    REQUIRE(cd::read_dump_context(reinterpret_cast<const std::uint8_t*>(dump.data()), dump.size(), &r));
    const std::map<std::string, std::string> expected(annotations.begin(), annotations.end());
    CHECK(r.annotations == expected);  // crash_kind is the report's kind, not an annotation
    CHECK(r.kind == "hang");

    testsupport::minidump_file f;
    REQUIRE(f.load_bytes(dump));
    const std::string info_bytes = f.stream_bytes(md::stream_crashpad_info);
    REQUIRE(info_bytes.size() == sizeof(md::crashpad_info));
    const auto info = get<md::crashpad_info>(info_bytes, 0);
    CHECK(info.version == 1u);
    CHECK(std::memcmp(&info.report_id, &report, sizeof(report)) == 0);
    CHECK(std::memcmp(&info.client_id, &client, sizeof(client)) == 0);
    CHECK(info.module_list.rva == 0u);
    CHECK(info.simple_annotations.data_size == 4 + (annotations.size() + 1) * 8);  // and crash_kind
    CHECK(get<std::uint32_t>(dump, info.simple_annotations.rva) == annotations.size() + 1);

    // A second info stream would make Breakpad reject the dump: refused.
    std::string again = dump;
    CHECK_FALSE(cd::dump_append_crashpad_info(&again, report, client, cd::report_kind::crash, {}, &error));
    CHECK(again == dump);
}

TEST_CASE("the Crashpad info stream reads in minidump_dump with its annotations and ids", "[amend]") {
    const std::string path = k_shared + "/bp_linux_null_dereference.dmp";
    const std::string before = testsupport::read_text_file(path);
    if (before.empty()) {
        WARN("shared test dumps not found; skipped");
        return;
    }
    if (!breakpad_readers()) return;
    const md::guid report = {0x83e6ce16u, 0xf67bu, 0x456cu, {0xad, 0x43, 0x22, 0xcb, 0x77, 0x18, 0x04, 0x19}};
    std::string dump = before;
    std::string error;
    REQUIRE(cd::dump_append_crashpad_info(&dump, report, md::guid{}, cd::report_kind::requested, {{"prod", "amend_test"}, {"ver", "7"}}, &error));
    const std::string out = k_work + "/crashpad_info.dmp";
    REQUIRE(write_file(out, dump));
    const auto d = testsupport::minidump_dump(out);
    CHECK(d.run.out.find("MD_CRASHPAD_INFO_STREAM") != std::string::npos);
    CHECK(d.run.out.find("report_id = 83e6ce16-f67b-456c-ad43-22cb77180419") != std::string::npos);
    CHECK(d.annotations == std::map<std::string, std::string>{{"crash_kind", "requested"}, {"prod", "amend_test"}, {"ver", "7"}});
    const auto sw = testsupport::run_process({testsupport::tools().stackwalk, "-m", out}, 120);
    CHECK(sw.exit_code() == 0);
    CHECK(sw.out == testsupport::run_process({testsupport::tools().stackwalk, "-m", path}, 120).out);
}

// ---- CodeView records --------------------------------------------------------------------------

TEST_CASE("fill_codeview gives a module without a record the RSDS record of its PE image", "[amend]") {
    fake_process p;
    pe_image exe;
    p.images[0x140000000ull] = exe.build();
    pe_image dll32;  // a PE32 image, name without a NUL in the image
    dll32.magic = 0x10b;
    dll32.optional_size = 224;
    dll32.cv = rsds("c:\\build\\lib.pdb", 9, false);
    p.images[0x10000000ull] = dll32.build();
    pe_image other;  // readable, but its module already has a record: must stay untouched
    other.cv = rsds("other.pdb");
    p.images[0x7ff000000000ull] = other.build();

    dump_builder b;
    b.stream(0x43440001u, "errors\n");
    const std::string elf_cv = "LEpB" + std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    const std::uint32_t elf_cv_rva = b.add(elf_cv);
    auto with_record = module_at(0x7ff000000000ull, 0x3000);
    with_record.cv_record.data_size = static_cast<std::uint32_t>(elf_cv.size());
    with_record.cv_record.rva = elf_cv_rva;
    b.stream(md::stream_module_list, module_list({module_at(0x140000000ull, 0x3000), with_record,
                                                   module_at(0x180000000ull, 0x2000),  // nothing mapped there
                                                   module_at(0x10000000ull, 0x3000)}));
    const std::string before = b.finish();
    std::string dump = before;
    std::string error;
    std::size_t filled = 0;
    REQUIRE(cd::dump_fill_codeview(&dump, &fake_process::read, &p, &error, &filled));
    CHECK(filled == 2);
    CHECK(p.outside == std::vector<std::uint64_t>{0x180000000ull});  // only the unmapped module's first read

    const auto m0 = read_module(dump, 0);
    CHECK(cv_bytes(dump, m0) == rsds("app.pdb"));
    CHECK(m0.cv_record.rva % 4 == 0);
    CHECK(m0.cv_record.rva >= before.size());
    const auto m1 = read_module(dump, 1);
    CHECK(m1.cv_record.rva == elf_cv_rva);
    CHECK(cv_bytes(dump, m1) == elf_cv);
    CHECK(read_module(dump, 2).cv_record.data_size == 0u);
    CHECK(cv_bytes(dump, read_module(dump, 3)) == rsds("c:\\build\\lib.pdb", 9));  // NUL added

    // Nothing else moved: the directory and every stream but the module list are as they were.
    testsupport::minidump_file a, f;
    REQUIRE(a.load_bytes(before));
    REQUIRE(f.load_bytes(dump));
    CHECK(f.stream_order == a.stream_order);
    CHECK(f.stream_bytes(0x43440001u) == "errors\n");

    // Running it again finds every readable module done.
    const std::string once = dump;
    REQUIRE(cd::dump_fill_codeview(&dump, &fake_process::read, &p, &error, &filled));
    CHECK(filled == 0);
    CHECK(dump == once);
}

TEST_CASE("fill_codeview leaves a module alone when its PE headers lie, and reads only inside the image", "[amend]") {
    struct lie {
        const char* what;
        void (*apply)(pe_image*);
    };
    const lie lies[] = {
        {"no MZ", [](pe_image* i) { i->dos_magic = 0x1234; }},
        {"e_lfanew past the image", [](pe_image* i) { i->lfanew = 0xfffffff0u; }},
        {"e_lfanew at the image's last bytes", [](pe_image* i) { i->lfanew = i->size - 2; }},
        {"NE instead of PE", [](pe_image* i) { i->nt_signature = 0x454eu; }},
        {"unknown optional header magic", [](pe_image* i) { i->magic = 0x107; }},
        {"too few data directories", [](pe_image* i) { i->rva_count = 6; }},
        {"optional header too short for the debug entry", [](pe_image* i) { i->optional_size = 112 + 6 * 8; }},
        {"debug directory past the image", [](pe_image* i) { i->debug_rva = 0xfffffff0u; }},
        {"debug directory straddling the image's end", [](pe_image* i) { i->debug_rva = i->size - 20; }},
        {"debug directory of 4 GiB (and no CodeView entry)", [](pe_image* i) { i->debug_size = 0xffffffffu; i->debug_type = 4; }},
        {"no CodeView entry", [](pe_image* i) { i->debug_type = 4; }},
        {"CodeView data past the image", [](pe_image* i) { i->cv_rva = 0xffffff00u; }},
        {"CodeView data straddling the image's end", [](pe_image* i) { i->cv_rva = i->size - 10; }},
        {"CodeView data of 2 GiB", [](pe_image* i) { i->cv_size = 0x7fffffffu; }},
        {"CodeView data shorter than an RSDS header", [](pe_image* i) { i->cv_size = 23; }},
        {"CodeView data not mapped (RVA 0)", [](pe_image* i) { i->cv_rva = 0; }},
        {"not RSDS", [](pe_image* i) { i->cv = "NB10" + std::string(20, 'x'); }},
    };
    for (const auto& l : lies) {
        INFO(l.what);
        pe_image img;
        l.apply(&img);
        fake_process p;
        p.images[0x140000000ull] = img.build();
        dump_builder b;
        b.stream(md::stream_module_list, module_list({module_at(0x140000000ull, img.size)}));
        const std::string before = b.finish();
        std::string dump = before;
        std::string error;
        std::size_t filled = 99;
        CHECK(cd::dump_fill_codeview(&dump, &fake_process::read, &p, &error, &filled));
        CHECK(filled == 0);
        CHECK(dump == before);
        CHECK(p.outside.empty());
        CHECK(p.reads > 0);
    }
}

// ---- damaged dumps ------------------------------------------------------------------------------

TEST_CASE("damaged dumps give an error and stay unchanged", "[amend]") {
    fake_process p;
    p.images[0x140000000ull] = pe_image().build();
    dump_builder b;
    b.stream(md::stream_module_list, module_list({module_at(0x140000000ull, 0x3000)}));
    const std::string good = b.finish();
    const auto h = get<md::header>(good, 0);
    const std::uint32_t list_entry = h.stream_directory_rva;  // the only directory entry

    struct damage {
        const char* what;
        std::string bytes;
        bool index_ok;  // only the module list is damaged: the appends still work
    };
    std::vector<damage> cases;
    cases.push_back({"empty", "", false});
    cases.push_back({"shorter than the header", good.substr(0, 20), false});
    std::string s = good;
    put<std::uint32_t>(&s, 0, 0x504d444cu);
    cases.push_back({"wrong signature", s, false});
    s = good;
    put<std::uint32_t>(&s, 4, 0xa794u);
    cases.push_back({"wrong version", s, false});
    s = good;
    put<std::uint32_t>(&s, 12, static_cast<std::uint32_t>(good.size() - 4));
    cases.push_back({"directory RVA at the last bytes", s, false});
    s = good;
    put<std::uint32_t>(&s, 12, 0xfffffff8u);
    cases.push_back({"directory RVA past the end", s, false});
    s = good;
    put<std::uint32_t>(&s, 8, 0xffffffffu);
    cases.push_back({"4 billion streams", s, false});
    cases.push_back({"truncated in the directory", good.substr(0, good.size() - 1), false});
    s = good;
    put<std::uint32_t>(&s, list_entry + 8, 0xfffffff0u);
    cases.push_back({"module list RVA past the end", s, true});
    s = good;
    put<std::uint32_t>(&s, list_entry + 4, 0x7fffffffu);
    cases.push_back({"module list size past the end", s, true});
    s = good;
    put<std::uint32_t>(&s, list_entry + 4, 2);
    cases.push_back({"module list shorter than its count", s, true});
    s = good;
    put<std::uint32_t>(&s, get<md::directory>(good, list_entry).location.rva, 1000);
    cases.push_back({"module list count too big", s, true});
    s = good;
    put<std::uint32_t>(&s, get<md::directory>(good, list_entry).location.rva, 0xffffffffu);
    cases.push_back({"module list count of 4 billion", s, true});

    for (const auto& c : cases) {
        INFO(c.what);
        std::string dump = c.bytes;
        std::string error;
        CHECK_FALSE(cd::dump_fill_codeview(&dump, &fake_process::read, &p, &error));
        CHECK(!error.empty());
        CHECK(dump == c.bytes);
        error.clear();
        CHECK(cd::dump_append_stream(&dump, 0x10000u, "x", &error) == c.index_ok);
        CHECK(error.empty() == c.index_ok);
        if (!c.index_ok) CHECK(dump == c.bytes);
        dump = c.bytes;
        error.clear();
        CHECK(cd::dump_append_crashpad_info(&dump, md::guid{}, md::guid{}, cd::report_kind::crash, {{"k", "v"}}, &error) == c.index_ok);
        if (!c.index_ok) CHECK(dump == c.bytes);
    }
    CHECK(p.outside.empty());
}

TEST_CASE("randomly damaged dumps never crash the amender, and what it accepts still parses", "[amend]") {
    fake_process p;
    p.images[0x140000000ull] = pe_image().build();
    dump_builder b;
    b.stream(md::stream_system_info, std::string(sizeof(md::system_info), '\0'));
    b.stream(md::stream_module_list, module_list({module_at(0x140000000ull, 0x3000), module_at(0x150000000ull, 0x1000)}));
    const std::string good = b.finish();
    std::mt19937 rng(20261122);
    int accepted = 0;
    for (int round = 0; round < 3000; ++round) {
        std::string dump = good;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < flips; ++i) {
            // Mostly the header, the directory and the module list's count and first entry.
            const std::size_t at = rng() % 2 == 0 ? rng() % 48 : rng() % dump.size();
            dump[at] = static_cast<char>(rng() % 4 == 0 ? 0xff : rng() & 0xff);
        }
        if (rng() % 8 == 0) dump.resize(rng() % dump.size());
        std::string error;
        std::string copy = dump;
        const bool ok = cd::dump_fill_codeview(&copy, &fake_process::read, &p, &error);
        if (!ok) CHECK(copy == dump);
        copy = dump;
        if (cd::dump_append_crashpad_info(&copy, md::guid{}, md::guid{}, cd::report_kind::crash, {{"k", "v"}}, &error)) {
            ++accepted;
            cd::dump_index index;
            CHECK(cd::dump_read_index(copy, &index, &error));
        } else {
            CHECK(copy == dump);
        }
    }
    CHECK(accepted > 0);
}

// ---- clearing copies of the command line and environment (dump_scrub_secrets) ----------------

namespace {

std::u16string utf16(const std::string& ascii) { return std::u16string(ascii.begin(), ascii.end()); }

std::uint64_t word_of(const std::string& bytes, std::size_t at = 0) {
    std::uint64_t w = 0;
    std::memcpy(&w, bytes.data() + at, 8);
    return w;
}

/// One thread whose context holds the secret in xmm7 (narrow), r12 (narrow), rsi (UTF-16), a
/// pointer in rbp, and a stack with the secret's words (narrow, UTF-16) among pointers and the
/// program's own text; the exception stream points at a second copy of the context.
struct secret_dump {
    std::string dump;
    std::size_t thread_context = 0, exception_context = 0, stack = 0;
};

secret_dump make_secret_dump(const std::string& secret) {
    md::context_amd64 c{};
    c.context_flags = md::k_context_amd64_full;
    c.rbp = 0x000000014000abcdull;  // a pointer: kept
    c.rsp = 0x00000000001ff000ull;
    c.rip = 0x0000000140001234ull;
    c.r12 = word_of(secret, 3);
    c.rbx = 0x4847464544434241ull;  // "ABCDEFGH": not in the secret, kept
    const std::u16string wide = utf16(secret);
    std::memcpy(&c.rsi, reinterpret_cast<const char*>(wide.data()) + 4, 8);
    std::memcpy(&c.flt_save[160 + 7 * 16], secret.data() + 5, 16);  // xmm7
    std::string stack(64, '\0');
    put<std::uint64_t>(&stack, 0, 0x0000000140001000ull);  // a return address
    std::memcpy(&stack[8], secret.data() + 8, 8);          // a narrow copy
    std::memcpy(&stack[16], reinterpret_cast<const char*>(wide.data()) + 8, 8);  // a UTF-16 copy
    std::memcpy(&stack[24], "own data", 8);
    std::memcpy(&stack[36], secret.data() + 1, 8);         // unaligned: not compared
    dump_builder b;
    const std::string context = as_bytes(&c, sizeof(c));
    const std::uint32_t stack_rva = b.add(stack);
    const std::uint32_t context_rva = b.add(context);
    md::thread t{};
    t.thread_id = 7;
    t.stack.start_of_memory_range = 0x1ff000;
    t.stack.memory.rva = stack_rva;
    t.stack.memory.data_size = static_cast<std::uint32_t>(stack.size());
    t.thread_context.rva = context_rva;
    t.thread_context.data_size = sizeof(c);
    std::string list;
    put<std::uint32_t>(&list, 0, 1);
    list += as_bytes(&t, sizeof(t));
    b.stream(md::stream_thread_list, list);
    md::exception_stream es{};
    es.thread_id = 7;
    es.thread_context.rva = b.add(context);
    es.thread_context.data_size = sizeof(c);
    b.stream(md::stream_exception, as_bytes(&es, sizeof(es)));
    std::string memory;
    put<std::uint32_t>(&memory, 0, 1);
    memory += as_bytes(&t.stack, sizeof(t.stack));
    b.stream(md::stream_memory_list, memory);
    secret_dump out;
    out.dump = b.finish();
    out.thread_context = context_rva;
    out.exception_context = es.thread_context.rva;
    out.stack = stack_rva;
    return out;
}

}  // namespace

TEST_CASE("scrubbing clears the registers and stack words holding the secret, and keeps pointers", "[amend]") {
    const std::string secret = "TOKEN=s3cr3tVALUE-0123456789abcdef";
    cd::secret_windows windows;
    cd::secret_windows_add_utf16(&windows, utf16("PATH=C:\\x") + u'\0' + utf16(secret) + u'\0' + u'\0');
    const secret_dump d = make_secret_dump(secret);
    std::string dump = d.dump;
    cd::scrub_result result;
    std::string error;
    REQUIRE(cd::dump_scrub_secrets(&dump, windows, &result, &error));
    CHECK(result.contexts == 2);
    CHECK(result.registers == 6);  // r12, rsi and xmm7, in both copies of the context
    CHECK(result.words == 2);
    CHECK(result.report.find("thread 7: 3 registers cleared") != std::string::npos);
    CHECK(result.report.find("memory: 2 words cleared") != std::string::npos);
    for (std::size_t at : {d.thread_context, d.exception_context}) {
        const auto c = get<md::context_amd64>(dump, at);
        CHECK(c.r12 == 0);
        CHECK(c.rsi == 0);
        CHECK(get<std::uint64_t>(dump, at + offsetof(md::context_amd64, flt_save) + 160 + 7 * 16) == 0);
        CHECK(get<std::uint64_t>(dump, at + offsetof(md::context_amd64, flt_save) + 168 + 7 * 16) == 0);
        CHECK(c.rbp == 0x000000014000abcdull);
        CHECK(c.rsp == 0x00000000001ff000ull);
        CHECK(c.rip == 0x0000000140001234ull);
        CHECK(c.rbx == 0x4847464544434241ull);
    }
    CHECK(get<std::uint64_t>(dump, d.stack) == 0x0000000140001000ull);
    CHECK(get<std::uint64_t>(dump, d.stack + 8) == 0);
    CHECK(get<std::uint64_t>(dump, d.stack + 16) == 0);
    CHECK(dump.substr(d.stack + 24, 8) == "own data");
    CHECK(dump.substr(d.stack + 36, 8) == secret.substr(1, 8));  // unaligned copies are out of reach

    // Without the secret's windows nothing changes.
    std::string untouched = d.dump;
    REQUIRE(cd::dump_scrub_secrets(&untouched, cd::secret_windows{}, &result, &error));
    CHECK(untouched == d.dump);
}

// ---- Options::memory_capture on a finished dump (what the Windows helper does) ------------------

namespace {

/// One thread, its stack at 0x1ff000 (64 bytes) holding a return address into the module
/// (0x140000000, 64 KiB), a saved frame pointer into the stack, a heap pointer, text, 0, a
/// pointer below the captured part of the stack and a small integer; a module list.
std::string make_scrub_dump(std::size_t* stack_at) {
    std::string stack(60, '\0');  // 60: the last 4 bytes are too short to be a word
    put<std::uint64_t>(&stack, 0, 0x0000000140001000ull);
    put<std::uint64_t>(&stack, 8, 0x00000000001ff020ull);
    put<std::uint64_t>(&stack, 16, 0x0000000030000010ull);
    std::memcpy(&stack[24], "own data", 8);
    put<std::uint64_t>(&stack, 40, 0x00000000001fe800ull);
    put<std::uint64_t>(&stack, 48, 5);
    std::memcpy(&stack[56], "tail", 4);
    md::context_amd64 c{};
    c.context_flags = md::k_context_amd64_full;
    c.rbx = 0x0000000030000000ull;
    c.rsp = 0x00000000001ff000ull;
    dump_builder b;
    const std::uint32_t stack_rva = b.add(stack);
    md::thread t{};
    t.thread_id = 7;
    t.stack.start_of_memory_range = 0x1ff000;
    t.stack.memory.rva = stack_rva;
    t.stack.memory.data_size = static_cast<std::uint32_t>(stack.size());
    t.thread_context.rva = b.add(as_bytes(&c, sizeof(c)));
    t.thread_context.data_size = sizeof(c);
    std::string list;
    put<std::uint32_t>(&list, 0, 1);
    list += as_bytes(&t, sizeof(t));
    b.stream(md::stream_thread_list, list);
    b.stream(md::stream_module_list, module_list({module_at(0x140000000ull, 0x10000)}));
    *stack_at = stack_rva;
    return b.finish();
}

/// The fake process of dump_add_register_memory: one readable region, 0x140000000 + 64 KiB,
/// whose bytes are 0xab.
bool fake_region(void*, std::uint64_t address, std::uint64_t* start, std::uint64_t* end) {
    if (address < 0x140000000ull || address >= 0x140010000ull) return false;
    *start = 0x140000000ull;
    *end = 0x140010000ull;
    return true;
}
bool fake_read(void*, std::uint64_t address, void* out, std::size_t size) {
    if (address < 0x140000000ull || address + size > 0x140010000ull) return false;
    std::memset(out, 0xab, size);
    return true;
}

}  // namespace

TEST_CASE("memory_capture scrubbed_stacks on a dump: words pointing neither into a stack nor a module are zeroed", "[amend][memory]") {
    std::size_t stack = 0;
    const std::string original = make_scrub_dump(&stack);
    std::string dump = original;
    cd::stack_scrub_counts counts;
    REQUIRE(cd::dump_scrub_stack_words(reinterpret_cast<unsigned char*>(&dump[0]), dump.size(), nullptr, 0, &counts));
    CHECK(counts.threads == 1);
    CHECK(get<std::uint64_t>(dump, stack) == 0x0000000140001000ull);       // into the module: kept
    CHECK(get<std::uint64_t>(dump, stack + 8) == 0x00000000001ff020ull);   // into the stack: kept
    CHECK(get<std::uint64_t>(dump, stack + 16) == 0);                      // a heap pointer
    CHECK(get<std::uint64_t>(dump, stack + 24) == 0);                      // text
    CHECK(get<std::uint64_t>(dump, stack + 40) == 0);                      // below the captured stack
    CHECK(get<std::uint64_t>(dump, stack + 48) == 0);                      // a small integer
    CHECK(get<std::uint32_t>(dump, stack + 56) == 0);                      // too short to be a word
    CHECK(counts.kept == 2);
    CHECK(counts.zeroed == 4);
    // Only the stack changed (the registers, the lists and the context stay).
    for (std::size_t i = 0; i < dump.size(); ++i) {
        if (i < stack || i >= stack + 60) REQUIRE(dump[i] == original[i]);
    }
    // With the thread's whole stack reservation given, a pointer below the captured part stays.
    std::string widened = original;
    const cd::address_range reservation[] = {{0x1f0000ull, 0x1ff03cull}};
    REQUIRE(cd::dump_scrub_stack_words(reinterpret_cast<unsigned char*>(&widened[0]), widened.size(), reservation, 1, &counts));
    CHECK(get<std::uint64_t>(widened, stack + 40) == 0x00000000001fe800ull);
    CHECK(counts.kept == 3);
    // A stack outside the file: refused, nothing changed.
    std::string cut = original;
    md::header h = get<md::header>(cut, 0);
    const auto dir = get<md::directory>(cut, h.stream_directory_rva);
    auto t = get<md::thread>(cut, dir.location.rva + 4);
    t.stack.memory.rva = static_cast<std::uint32_t>(cut.size() - 8);
    put(&cut, dir.location.rva + 4, t);
    const std::string before = cut;
    CHECK_FALSE(cd::dump_scrub_stack_words(reinterpret_cast<unsigned char*>(&cut[0]), cut.size(), nullptr, 0, &counts));
    CHECK(cut == before);
}

TEST_CASE("memory_capture full on a dump: the memory around the exception's registers is added to the memory list", "[amend][memory]") {
    const secret_dump d = make_secret_dump("TOKEN=s3cr3tVALUE-0123456789abcdef");
    std::string dump = d.dump;
    std::size_t added = 0;
    std::string error;
    REQUIRE(cd::dump_add_register_memory(&dump, fake_region, fake_read, nullptr, &added, &error));
    // rbp (0x14000abcd) and rip (0x140001234) point into the readable region; rsp is inside the
    // stack the dump holds; the other registers point nowhere readable.
    CHECK(added == 2);
    cd::dump_index index;
    REQUIRE(cd::dump_read_index(dump, &index, &error));
    const md::directory* list = cd::dump_find_stream(index, md::stream_memory_list);
    REQUIRE(list != nullptr);
    REQUIRE(get<std::uint32_t>(dump, list->location.rva) == 3);
    CHECK(list->location.data_size == 4 + 3 * sizeof(md::memory_descriptor));
    const auto stack = get<md::memory_descriptor>(dump, list->location.rva + 4);
    CHECK(stack.start_of_memory_range == 0x1ff000u);  // the old descriptor first, as it was
    CHECK(stack.memory.rva == d.stack);
    for (std::uint32_t i = 1; i < 3; ++i) {
        const auto m = get<md::memory_descriptor>(dump, list->location.rva + 4 + i * sizeof(md::memory_descriptor));
        CHECK(m.memory.data_size == 512);
        CHECK((m.start_of_memory_range == 0x14000abcdull - 256 || m.start_of_memory_range == 0x140001234ull - 256));
        REQUIRE(std::uint64_t{m.memory.rva} + 512 <= dump.size());
        CHECK(dump.substr(m.memory.rva, 512) == std::string(512, '\xab'));
    }
    // Every other stream is where it was.
    for (std::size_t i = 0; i < index.entries.size(); ++i) {
        if (index.entries[i].stream_type != md::stream_memory_list) CHECK(dump.compare(index.entries[i].location.rva, 16, d.dump, index.entries[i].location.rva, 16) == 0);
    }
    // Ranges never overlap what the dump holds: a second pass finds every register covered.
    std::string again = dump;
    REQUIRE(cd::dump_add_register_memory(&again, fake_region, fake_read, nullptr, &added, &error));
    CHECK(added == 0);
    CHECK(again == dump);
}

TEST_CASE("secret windows never include a pointer or a small number", "[amend]") {
    cd::secret_windows windows;
    // Text that holds pointer-like and number-like byte runs: short strings between NULs.
    cd::secret_windows_add_utf16(&windows, utf16("A=1") + u'\0' + utf16("B=ab") + u'\0' + utf16("LONGER_NAME=value") + u'\0');
    for (std::uint64_t w : windows.set) {
        CHECK((w >> 48) != 0);  // a user-space pointer has its top two bytes zero
    }
    CHECK_FALSE(windows.set.empty());
}

TEST_CASE("scrubbing a damaged dump gives an error and changes nothing", "[amend]") {
    const std::string secret = "TOKEN=s3cr3tVALUE-0123456789abcdef";
    cd::secret_windows windows;
    cd::secret_windows_add_utf16(&windows, utf16(secret));
    const secret_dump d = make_secret_dump(secret);
    std::mt19937 rng(20261203);
    for (int round = 0; round < 2000; ++round) {
        std::string dump = d.dump;
        for (int i = 0; i < 3; ++i) dump[rng() % dump.size()] = static_cast<char>(rng() & 0xff);
        if (rng() % 4 == 0) dump.resize(rng() % dump.size());
        const std::string before = dump;
        cd::scrub_result result;
        std::string error;
        if (!cd::dump_scrub_secrets(&dump, windows, &result, &error)) {
            CHECK(dump == before);
            CHECK(!error.empty());
        } else {
            CHECK(dump.size() == before.size());
        }
    }
}

// ---- the minimal dump of an ended process (minidump/exit_dump.hpp) ----------------------------

namespace {

/// An exit dump as the Linux helper builds one: this test binary as its only module, with its
/// real build id, a signal as the exception code, annotations and a context stream.
cd::exit_dump_input sample_exit_dump_input() {
    cd::exit_dump_input in;
    in.system.processor_architecture = CRASHDROP_ARCH_X86_64 ? md::k_arch_amd64 : md::k_arch_arm64;
    in.system.number_of_processors = 2;
    in.system.platform_id = md::k_platform_linux;
    in.system.major_version = 6;
    in.csd_version = "test kernel";
    in.process_id = 4242;
    in.time_date_stamp = 1700000000u;
    in.exception_code = 9;  // SIGKILL
    in.exception_thread_id = 4242;
    in.annotations = {{"crash_kind", "abnormal_exit"}, {"exit_reason", "signal"}, {"exit_signal", "SIGKILL"}};
    in.extra_streams = {{md::stream_crashdrop_context, "breadcrumb.1=1700000000|info|test|before the kill\n"},
                        {md::stream_system_info, "a second SystemInfo is left out"}};
    cd::exit_dump_module m;
    m.base = 0x555555554000ull;
    m.size = 0x20000;
    m.name = "/opt/game/bin/game";
    m.codeview = std::string("LEpB", 4) + std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14", 20);
    in.modules.push_back(m);
    return in;
}

}  // namespace

TEST_CASE("an exit dump holds the modules, the exception, the annotations and the context, each stream once", "[exit_dump]") {
    const std::string dump = cd::build_exit_dump(sample_exit_dump_input());
    REQUIRE(!dump.empty());
    cd::dump_index index;
    std::string error;
    REQUIRE(cd::dump_read_index(dump, &index, &error));
    std::map<std::uint32_t, int> seen;
    for (const auto& e : index.entries) {
        ++seen[e.stream_type];
        CHECK(std::uint64_t{e.location.rva} + e.location.data_size <= dump.size());
    }
    for (std::uint32_t type : std::vector<std::uint32_t>{3u, 4u, 6u, 7u, 15u, md::stream_crashpad_info, md::stream_crashdrop_context}) {
        INFO(type);
        CHECK(seen[type] == 1);
    }
    crashdrop::Report r;
    REQUIRE(cd::read_dump_context(reinterpret_cast<const std::uint8_t*>(dump.data()), dump.size(), &r));
    CHECK(r.annotations["exit_signal"] == "SIGKILL");
    REQUIRE(r.breadcrumbs.size() == 1);
    CHECK(r.breadcrumbs[0].message == "before the kill");
    testsupport::minidump_file mf;
    const std::string path = k_work + "/exit_dump.dmp";
    REQUIRE(cd::write_file_atomic(k_work, "exit_dump.dmp", dump, false, nullptr));
    REQUIRE(mf.load(path));
    CHECK(mf.exception_thread() == 4242u);
    REQUIRE(mf.modules().size() == 1);
}

TEST_CASE("an exit dump is accepted by minidump_stackwalk, minidump_dump and lldb", "[exit_dump]") {
    const std::string dump = cd::build_exit_dump(sample_exit_dump_input());
    REQUIRE(cd::write_file_atomic(k_work, "exit_dump_readers.dmp", dump, false, nullptr));
    const std::string path = k_work + "/exit_dump_readers.dmp";
    if (!testsupport::tools().breakpad) {
        if (testsupport::tools().required) FAIL("Breakpad's readers are required but missing");
        WARN("Breakpad's readers not found; skipped");
        return;
    }
    const auto sw = testsupport::stackwalk(path, k_work + "/no-symbols");
    INFO(sw.run.out << sw.run.err);
    CHECK(sw.run.exit_code() == 0);
    CHECK(sw.reason == "SIGKILL");
    CHECK(sw.crash_thread == 0);
    REQUIRE(sw.modules.size() == 1);
    CHECK(sw.modules[0].debug_id == "0403020106050807090A0B0C0D0E0F100");
    auto dd = testsupport::minidump_dump(path);
    INFO(dd.run.out << dd.run.err);
    // (minidump_dump exits 1 for every Linux dump, Breakpad's own too: none has a MemoryInfoList.)
    CHECK(dd.run.out.find("MDRawModule") != std::string::npos);
    CHECK(dd.thread_count == 1);  // the exception thread alone
    CHECK(dd.annotations["crash_kind"] == "abnormal_exit");
    if (testsupport::tools().has_lldb) {
        const auto l = testsupport::lldb(path);
        INFO(l.run.out << l.run.err);
        CHECK(l.run.out.find("was loaded") != std::string::npos);  // lldb-14 crashed on an exception thread not listed
        REQUIRE(l.threads.size() == 1);
        CHECK(l.threads[0].tid == 4242u);
        CHECK(l.threads[0].stop_reason.find("SIGKILL") != std::string::npos);
    }
}
