// The gzip encoder that compresses dumps for upload, checked against an independent decoder (Python's
// gzip module, run as a child process): the header and trailer, empty and tiny inputs, data that does
// not compress and data that compresses very well, matches at DEFLATE's distance and length limits,
// and dump-like data. Also the implementation TU of its own test binary.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace cd = crashdrop::detail;

namespace {

std::string random_bytes(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xffu);
    return s;
}

bool write_file(const std::string& path, const std::string& data) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return false;
    const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
    return std::fclose(f) == 0 && ok;
}

/// Decodes gz with Python's gzip module (every member, concatenated). Sets ok to whether Python succeeded.
std::string python_gunzip(const std::string& gz, bool* ok) {
    *ok = false;
    char path[] = "/tmp/crashdrop_gzip_test_XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) return {};
    close(fd);
    std::string out;
    if (write_file(path, gz)) {
        const std::string command = "python3 -c \"import gzip,sys; "
                                    "sys.stdout.buffer.write(gzip.decompress(open(sys.argv[1],'rb').read()))\" " +
                                    std::string(path);
        if (FILE* p = popen(command.c_str(), "r")) {
            char buf[65536];
            for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
            *ok = pclose(p) == 0;
        }
    }
    std::remove(path);
    return out;
}

/// Where a and b first differ (a.size() == b.size() if they are equal).
std::size_t first_difference(const std::string& a, const std::string& b) {
    std::size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
    return i;
}

/// Compresses data, checks that Python decodes it back exactly, and returns the compressed size.
std::size_t check_round_trip(const std::string& data) {
    const std::string gz = cd::gzip_compress(data.data(), data.size());
    bool ok = false;
    const std::string decoded = python_gunzip(gz, &ok);
    INFO("input " << data.size() << " bytes, compressed " << gz.size() << " bytes");
    REQUIRE(ok);
    CHECK(decoded.size() == data.size());
    INFO("first difference at byte " << first_difference(decoded, data));
    const bool same = decoded == data;  // not CHECK(decoded == data): that would print megabytes
    CHECK(same);
    return gz.size();
}

std::uint32_t le32(const std::string& s, std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<unsigned char>(s[at + i])} << (8 * i);
    return v;
}

/// Text made of a small vocabulary: repetitive, as logs and symbol names are.
std::string repetitive_text(std::size_t n) {
    static const char* const words[] = {"crash",    "dump",    "thread",  "module", "stack", "frame",
                                        "register", "signal",  "memory",  "0x7ff",  "libc",  "the",
                                        "of",       "handler", "pending", "upload"};
    std::mt19937 rng(1234);
    std::string s;
    while (s.size() < n) {
        s += words[rng() % 16];
        s += rng() % 9 == 0 ? ".\n" : " ";
    }
    s.resize(n);
    return s;
}

std::string read_proc_maps() {
    std::string s;
    if (FILE* f = std::fopen("/proc/self/maps", "rb")) {
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) s.append(buf, n);
        std::fclose(f);
    }
    return s;
}

/// Roughly what a minidump holds: zero pages, stacks of pointer-like words and small integers, module
/// paths and /proc text.
std::string dump_like(std::size_t n) {
    const std::string maps = read_proc_maps();
    std::mt19937 rng(99);
    std::string s;
    while (s.size() < n) {
        switch (rng() % 4) {
        case 0: s.append(4096 * (1 + rng() % 4), '\0'); break;
        case 1:
            for (int i = 0; i < 512; ++i) {
                // A third pointers into 0x7f.. mappings, the rest small integers.
                const std::uint64_t word = rng() % 3 == 0
                                               ? 0x00007f0000000000u | (std::uint64_t{rng()} << 8 & 0xffffffffffu)
                                               : std::uint64_t{rng() % 64};
                s.append(reinterpret_cast<const char*>(&word), 8);
            }
            break;
        case 2: s += maps; break;
        default: s += random_bytes(1024 + rng() % 2048, static_cast<std::uint32_t>(rng())); break;
        }
    }
    s.resize(n);
    return s;
}

}  // namespace

TEST_CASE("crc32 is the CRC-32 of gzip and zip and continues over split data", "[gzip]") {
    CHECK(cd::crc32("123456789", 9) == 0xCBF43926u);
    CHECK(cd::crc32("", 0) == 0u);
    CHECK(cd::crc32("56789", 5, cd::crc32("1234", 4)) == 0xCBF43926u);
    CHECK(cd::crc32("The quick brown fox jumps over the lazy dog", 43) == 0x414FA339u);
}

TEST_CASE("the gzip header is fixed and the trailer holds the CRC-32 and size", "[gzip]") {
    const std::string data = "hello, hello, hello";
    const std::string gz = cd::gzip_compress(data.data(), data.size());
    REQUIRE(gz.size() >= 18);
    const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};  // ID1 ID2 CM FLG MTIME XFL OS
    for (std::size_t i = 0; i < 10; ++i) {
        INFO("header byte " << i);
        CHECK(static_cast<unsigned char>(gz[i]) == header[i]);
    }
    CHECK(le32(gz, gz.size() - 8) == cd::crc32(data.data(), data.size()));
    CHECK(le32(gz, gz.size() - 4) == data.size());

    const std::string empty = cd::gzip_compress(nullptr, 0);
    CHECK(empty.size() == 20);  // header, one empty fixed-Huffman block (2 bytes), trailer
    CHECK(le32(empty, 12) == 0u);
    CHECK(le32(empty, 16) == 0u);
    CHECK(cd::gzip_compress(data.data(), data.size()) == gz);  // deterministic
}

TEST_CASE("empty and tiny inputs round-trip", "[gzip]") {
    check_round_trip("");
    check_round_trip("x");
    check_round_trip(std::string(1, '\0'));
    check_round_trip("hello");
    check_round_trip("aaaa");
    check_round_trip("abcabcabcabc");
}

TEST_CASE("many small inputs round-trip (one gzip member each - decoded together)", "[gzip]") {
    std::string all, gz;
    std::mt19937 rng(7);
    for (std::size_t n = 0; n < 400; ++n) {
        std::string s = random_bytes(n, static_cast<std::uint32_t>(n));
        // Few distinct letters, so even short inputs have matches.
        for (auto& c : s) c = static_cast<char>('a' + (static_cast<unsigned char>(c) % (1 + rng() % 4)));
        all += s;
        gz += cd::gzip_compress(s.data(), s.size());
    }
    bool ok = false;
    const std::string decoded = python_gunzip(gz, &ok);
    REQUIRE(ok);
    const bool same = decoded == all;
    CHECK(same);
}

TEST_CASE("zeros compress to almost nothing", "[gzip]") {
    check_round_trip(std::string(100 * 1024, '\0'));
    const std::size_t mib = 1024 * 1024;
    const std::size_t size = check_round_trip(std::string(mib, '\0'));
    CHECK(size < mib / 100);
}

TEST_CASE("random bytes grow by less than 1%", "[gzip]") {
    const std::size_t mib = 1024 * 1024;
    const std::size_t size = check_round_trip(random_bytes(mib, 1));
    CHECK(size < mib + mib / 100);
    // Around the 65535-byte limit of a stored block.
    check_round_trip(random_bytes(65535, 2));
    check_round_trip(random_bytes(65536, 3));
    check_round_trip(random_bytes(2 * 65535 + 1, 4));
}

TEST_CASE("repetitive text round-trips and compresses", "[gzip]") {
    const std::string text = repetitive_text(300 * 1024);
    const std::size_t size = check_round_trip(text);
    CHECK(size < text.size() / 3);
}

TEST_CASE("matches at the farthest distance and the longest length round-trip", "[gzip]") {
    SECTION("a copy exactly 32768 bytes back, and one 32769 bytes back (out of reach)") {
        const std::string block = random_bytes(32768, 10);
        check_round_trip(block + block + block);
        const std::string far = random_bytes(32769, 11);
        check_round_trip(far + far.substr(0, 600) + random_bytes(1000, 12));
        const std::string x = random_bytes(300, 13);
        check_round_trip(x + random_bytes(32768 - 300, 14) + x + random_bytes(32768 - 299, 15) + x);
    }
    SECTION("runs and repeats of lengths around 258") {
        std::string s;
        for (std::size_t len : {2u, 3u, 4u, 257u, 258u, 259u, 260u, 516u, 517u, 1000u}) {
            s += random_bytes(50, static_cast<std::uint32_t>(len));
            s.append(len, static_cast<char>(len));
            const std::string pattern = random_bytes(len, static_cast<std::uint32_t>(len + 1));
            s += pattern + pattern;
        }
        check_round_trip(s);
        check_round_trip(std::string(258, 'a'));
        check_round_trip(std::string(259, 'a'));
        check_round_trip(std::string(258 + 3, 'a'));
        check_round_trip(std::string(32768 + 258, 'z') + "end");
    }
}

TEST_CASE("Huffman code lengths stay within their limit and form a complete code", "[gzip]") {
    namespace df = crashdrop::detail::deflate;
    auto check = [](const std::vector<std::uint32_t>& freq, unsigned max_bits) {
        std::vector<std::uint8_t> len(freq.size());
        df::build_lengths(freq.data(), freq.size(), max_bits, len.data());
        std::uint64_t kraft = 0;
        std::size_t coded = 0;
        for (std::size_t s = 0; s < freq.size(); ++s) {
            INFO("symbol " << s << " frequency " << freq[s] << " length " << int{len[s]});
            CHECK(len[s] <= max_bits);
            if (freq[s] != 0) CHECK(len[s] >= 1);
            if (len[s] != 0) {
                kraft += std::uint64_t{1} << (max_bits - len[s]);
                ++coded;
            }
        }
        CHECK(coded >= 2);
        CHECK(kraft == std::uint64_t{1} << max_bits);  // neither over- nor under-subscribed
    };
    // Fibonacci frequencies make the deepest possible Huffman trees, far beyond the limits.
    auto fibonacci = [](std::size_t n, std::size_t count) {
        std::vector<std::uint32_t> f(n, 0);
        std::uint32_t a = 1, b = 1;
        for (std::size_t i = 0; i < count && i < n; ++i, b = a + b, a = b - a) f[i] = a;
        return f;
    };
    check(fibonacci(286, 40), 15);
    check(fibonacci(30, 30), 15);
    check(fibonacci(19, 19), 7);
    check(std::vector<std::uint32_t>(286, 5), 15);
    check(std::vector<std::uint32_t>(30, 0), 15);  // no distances at all: still two codes
    std::vector<std::uint32_t> one(30, 0);
    one[7] = 100;
    check(one, 15);
    std::mt19937 rng(5);
    for (int round = 0; round < 20; ++round) {
        std::vector<std::uint32_t> f(286);
        for (auto& x : f) x = rng() % 3 == 0 ? 0 : static_cast<std::uint32_t>(1u << (rng() % 20));
        check(f, 15);
    }
}

TEST_CASE("a block whose Huffman code would need more than 15 bits decodes with limited lengths", "[gzip]") {
    namespace df = crashdrop::detail::deflate;
    // Literal frequencies 1, 2, 3, 5, ... (20 symbols; the end-of-block symbol is the other 1): an unlimited
    // Huffman code would need 20 bits. write_block() is fed the literals directly, since LZ77 would turn such
    // data into matches.
    std::string data;
    std::uint32_t a = 1, b = 2;
    for (int symbol = 0; symbol < 20; ++symbol, b = a + b, a = b - a) data.append(a, static_cast<char>('A' + symbol));
    std::shuffle(data.begin(), data.end(), std::mt19937(3));
    std::vector<std::uint32_t> symbols;
    for (const char c : data) symbols.push_back(static_cast<unsigned char>(c));

    std::string gz("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
    df::bit_writer w{gz};
    const auto* raw = reinterpret_cast<const std::uint8_t*>(data.data());
    df::write_block(w, symbols.data(), symbols.size(), raw, data.size(), true);
    w.align();
    CHECK(((static_cast<unsigned char>(gz[10]) >> 1) & 3u) == 2u);  // BTYPE 10: dynamic Huffman codes
    const std::uint32_t trailer[2] = {cd::crc32(data.data(), data.size()), static_cast<std::uint32_t>(data.size())};
    for (const std::uint32_t v : trailer) {
        for (int shift = 0; shift < 32; shift += 8) gz.push_back(static_cast<char>(v >> shift));
    }
    bool ok = false;
    const std::string decoded = python_gunzip(gz, &ok);
    REQUIRE(ok);
    const bool same = decoded == data;
    CHECK(same);
}

TEST_CASE("mixed data (stored and Huffman blocks in one stream) round-trips", "[gzip]") {
    check_round_trip(random_bytes(200000, 20) + repetitive_text(200000) + std::string(70000, '\0') +
                     random_bytes(100000, 21));
}

TEST_CASE("dump-like data round-trips and compresses", "[gzip]") {
    const std::string maps = read_proc_maps();
    REQUIRE(!maps.empty());
    std::string s;
    for (int i = 0; i < 40; ++i) s += maps + std::string(4096, '\0');
    check_round_trip(s);
    const std::string dump = dump_like(2 * 1024 * 1024);
    const std::size_t size = check_round_trip(dump);
    CHECK(size < dump.size() / 2);
}
