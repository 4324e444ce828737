// crashdrop/transport/gzip.hpp - gzip (RFC 1952) with DEFLATE (RFC 1951) compression, for uploading dumps.
// Context: implementation TU; helper process (ordinary code, may allocate).
//
// LZ77 over hash chains (3-byte hash, 32 KiB window, one step of lazy matching), then blocks of up to
// k_block_symbols symbols, each sent with dynamic Huffman codes, the fixed codes or stored, whichever is
// smallest. Minidumps are mostly zero pages and repeated structures; random-looking memory ends up in stored
// blocks, so incompressible input grows by about 5 bytes per 8 KiB.
#if CRASHDROP_DETAIL_IMPL_ACTIVE
#include <vector>

CRASHDROP_NAMESPACE_BEGIN
namespace detail {
namespace deflate {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;

// ---- format (RFC 1951, 3.2.5 - 3.2.7) --------------------------------------------------------
constexpr std::size_t k_min_match = 3;
constexpr std::size_t k_max_match = 258;
constexpr u32 k_max_distance = 32768;
constexpr std::size_t k_lit_symbols = 286;  // 0-255 literals, 256 end of block, 257-285 lengths
constexpr std::size_t k_dist_symbols = 30;
constexpr std::size_t k_cl_symbols = 19;    // the code-length alphabet: 0-15 lengths, 16-18 repeats
constexpr std::size_t k_max_symbols = 288;  // the fixed literal/length code has 288
constexpr unsigned k_end_of_block = 256;
constexpr std::size_t k_stored_max = 65535;

// Length symbols 257-285 and distance symbols 0-29: the first value each stands for, and its extra bits.
inline constexpr u16 k_len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                       31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
inline constexpr u8 k_len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                       2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
inline constexpr u16 k_dist_base[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                        33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                        1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
inline constexpr u8 k_dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                        6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
// The order in which a dynamic block header lists the code-length code's lengths.
inline constexpr u8 k_cl_order[k_cl_symbols] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

// ---- tuning ----------------------------------------------------------------------------------
constexpr unsigned k_hash_bits = 15;
constexpr unsigned k_max_chain = 16;           // candidates tried per position
constexpr std::size_t k_lazy_below = 32;       // a match this long is taken without looking one byte further
constexpr std::size_t k_good = 8;              // after a match this long, the lazy search tries fewer candidates
constexpr std::size_t k_nice = 128;            // a match this long ends the search
constexpr u32 k_too_far = 4096;                // a 3-byte match further back costs more than three literals
constexpr std::size_t k_skip_after = 256;      // literals in a row after which every other position is skipped
constexpr std::size_t k_block_symbols = 8192;  // dumps change content often: smaller blocks adapt (measured)

/// Lookup tables, computed at compile time.
struct tables {
    u32 crc[8][256] = {};               // crc[k][b]: byte b followed by k zero bytes, for eight bytes per step
    u8 len_code[k_max_match + 1] = {};  // match length -> length symbol - 257
    u8 dist_code[512] = {};             // see dist_code_of()
    constexpr tables() {
        for (u32 i = 0; i < 256; ++i) {
            u32 c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1u) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            crc[0][i] = c;
        }
        for (std::size_t k = 1; k < 8; ++k) {
            for (std::size_t i = 0; i < 256; ++i) crc[k][i] = (crc[k - 1][i] >> 8) ^ crc[0][crc[k - 1][i] & 0xffu];
        }
        for (std::size_t code = 0; code < 29; ++code) {  // code 28 (258) overwrites code 27's unused last value
            const std::size_t end = std::size_t{k_len_base[code]} + (std::size_t{1} << k_len_extra[code]);
            for (std::size_t len = k_len_base[code]; len < end && len <= k_max_match; ++len) {
                len_code[len] = static_cast<u8>(code);
            }
        }
        // Distances up to 256 directly, longer ones in steps of 128 (their codes have at least 7 extra bits).
        for (std::size_t code = 0; code < k_dist_symbols; ++code) {
            const std::size_t first = std::size_t{k_dist_base[code]} - 1;
            const std::size_t end = first + (std::size_t{1} << k_dist_extra[code]);
            for (std::size_t d = first; d < end; d += d < 256 ? 1 : 128) {
                dist_code[d < 256 ? d : 256 + (d >> 7)] = static_cast<u8>(code);
            }
        }
    }
};
inline constexpr tables k_tables{};

inline unsigned dist_code_of(u32 distance) {
    const u32 d = distance - 1;
    return d < 256 ? k_tables.dist_code[d] : k_tables.dist_code[256 + (d >> 7)];
}

// ---- Huffman codes ---------------------------------------------------------------------------

/// Lengths of an optimal prefix code for freq[0, n) with no code longer than max_bits; unused symbols get 0.
/// At least two symbols always get a code, so every code is complete: zlib's inflate rejects an incomplete
/// code-length code, and a lone distance code would need the special case RFC 1951 allows for it.
inline void build_lengths(const u32* freq, std::size_t n, unsigned max_bits, u8* lengths) {
    u32 weight[k_max_symbols];
    std::size_t used = 0;
    for (std::size_t s = 0; s < n; ++s) {
        weight[s] = freq[s];
        lengths[s] = 0;
        if (freq[s] != 0) ++used;
    }
    for (std::size_t s = 0; s < n && used < 2; ++s) {
        if (weight[s] == 0) {
            weight[s] = 1;
            ++used;
        }
    }
    u16 order[k_max_symbols];  // used symbols, rarest first
    std::size_t m = 0;
    for (std::size_t s = 0; s < n; ++s) {
        if (weight[s] != 0) order[m++] = static_cast<u16>(s);
    }
    std::sort(order, order + m,
              [&weight](u16 a, u16 b) { return weight[a] != weight[b] ? weight[a] < weight[b] : a < b; });

    // Two queues: the sorted leaves, and the inner nodes, which are made in order of weight too.
    u32 node_weight[2 * k_max_symbols];
    u16 parent[2 * k_max_symbols];
    for (std::size_t i = 0; i < m; ++i) node_weight[i] = weight[order[i]];
    std::size_t next_leaf = 0, next_inner = m, end = m;
    auto lightest = [&]() {
        const bool leaf = next_leaf < m && (next_inner == end || node_weight[next_leaf] <= node_weight[next_inner]);
        return leaf ? next_leaf++ : next_inner++;
    };
    while (end < 2 * m - 1) {
        const std::size_t a = lightest();
        const std::size_t b = lightest();
        node_weight[end] = node_weight[a] + node_weight[b];
        parent[a] = parent[b] = static_cast<u16>(end);
        ++end;
    }
    // Depths from the root down: a parent is always made after its children.
    u16 depth[2 * k_max_symbols];
    depth[end - 1] = 0;
    for (std::size_t i = end - 1; i-- > 0;) depth[i] = static_cast<u16>(depth[parent[i]] + 1);
    unsigned count[k_max_symbols] = {};  // leaves per depth (depth < m)
    unsigned max_depth = 0;
    for (std::size_t i = 0; i < m; ++i) {
        ++count[depth[i]];
        max_depth = std::max<unsigned>(max_depth, depth[i]);
    }
    // Too deep: move pairs of the deepest leaves up, keeping the code complete. Two leaves at depth i
    // become one at i - 1; the other hangs below a leaf at a shallower depth j, which moves to j + 1.
    for (unsigned i = max_depth; i > max_bits; --i) {
        while (count[i] > 0) {
            unsigned j = i - 2;
            while (count[j] == 0) --j;
            count[i] -= 2;
            count[i - 1] += 1;
            count[j + 1] += 2;
            count[j] -= 1;
        }
    }
    // The shortest codes go to the most frequent symbols.
    std::size_t next = 0;
    for (unsigned len = std::min(max_depth, max_bits); len >= 1; --len) {
        for (unsigned c = 0; c < count[len]; ++c) lengths[order[next++]] = static_cast<u8>(len);
    }
}

/// Canonical codes for lengths[0, n) (RFC 1951, 3.2.2), bit-reversed: DEFLATE sends a code from its top bit
/// down, into a stream that is otherwise filled from each byte's lowest bit.
inline void build_codes(const u8* lengths, std::size_t n, u16* codes) {
    unsigned count[16] = {}, next[16] = {};
    for (std::size_t s = 0; s < n; ++s) ++count[lengths[s]];
    count[0] = 0;
    unsigned code = 0;
    for (unsigned bits = 1; bits < 16; ++bits) {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    for (std::size_t s = 0; s < n; ++s) {
        unsigned c = next[lengths[s]]++, reversed = 0;
        for (unsigned k = 0; k < lengths[s]; ++k, c >>= 1) reversed = (reversed << 1) | (c & 1u);
        codes[s] = static_cast<u16>(reversed);
    }
}

// ---- output ----------------------------------------------------------------------------------

/// Writes bits from each byte's lowest bit up, as DEFLATE wants.
struct bit_writer {
    std::string& out;
    u64 bits = 0;
    unsigned count = 0;  // pending bits, below 32 between calls

    /// value must fit in n <= 32 bits.
    void put(u32 value, unsigned n) {
        bits |= static_cast<u64>(value) << count;
        count += n;
        if (count >= 32) {
            const char b[4] = {static_cast<char>(bits), static_cast<char>(bits >> 8), static_cast<char>(bits >> 16),
                               static_cast<char>(bits >> 24)};
            out.append(b, 4);
            bits >>= 32;
            count -= 32;
        }
    }
    /// Pads with zero bits to a byte boundary and writes out everything pending.
    void align() {
        for (; count > 0; count = count > 8 ? count - 8 : 0) {
            out.push_back(static_cast<char>(bits));
            bits >>= 8;
        }
        bits = 0;
    }
};

/// Sends symbols[0, n) and the end of block with the given codes.
inline void write_symbols(bit_writer& w, const u32* symbols, std::size_t n, const u8* lit_len, const u16* lit_code,
                          const u8* dist_len, const u16* dist_code) {
    for (std::size_t i = 0; i < n; ++i) {
        const u32 value = symbols[i] & 0xffffu, distance = symbols[i] >> 16;
        if (distance == 0) {
            w.put(lit_code[value], lit_len[value]);
            continue;
        }
        // Each code together with its extra bits: at most 15 + 13 bits.
        const unsigned lc = k_tables.len_code[value], ls = 257 + lc;
        w.put(lit_code[ls] | (value - k_len_base[lc]) << lit_len[ls], lit_len[ls] + k_len_extra[lc]);
        const unsigned dc = dist_code_of(distance);
        w.put(dist_code[dc] | (distance - k_dist_base[dc]) << dist_len[dc], dist_len[dc] + k_dist_extra[dc]);
    }
    w.put(lit_code[k_end_of_block], lit_len[k_end_of_block]);
}

/// One or more DEFLATE blocks for symbols[0, n), which encode raw[0, raw_size): dynamic Huffman, fixed
/// Huffman or stored, whichever is smallest. A symbol's low 16 bits are a literal byte or a match length,
/// its high 16 bits the match distance (0 for a literal).
inline void write_block(bit_writer& w, const u32* symbols, std::size_t n, const u8* raw, std::size_t raw_size,
                        bool last) {
    u32 lit_freq[k_max_symbols] = {}, dist_freq[k_dist_symbols] = {};
    u64 extra_bits = 0;  // length and distance extra bits, the same in every kind of Huffman block
    for (std::size_t i = 0; i < n; ++i) {
        const u32 value = symbols[i] & 0xffffu, distance = symbols[i] >> 16;
        if (distance == 0) {
            ++lit_freq[value];
            continue;
        }
        const unsigned lc = k_tables.len_code[value], dc = dist_code_of(distance);
        ++lit_freq[257 + lc];
        ++dist_freq[dc];
        extra_bits += k_len_extra[lc] + k_dist_extra[dc];
    }
    lit_freq[k_end_of_block] = 1;

    u8 lit_len[k_max_symbols], dist_len[k_dist_symbols];
    build_lengths(lit_freq, k_lit_symbols, 15, lit_len);
    build_lengths(dist_freq, k_dist_symbols, 15, dist_len);
    std::size_t hlit = k_lit_symbols, hdist = k_dist_symbols;
    while (hlit > 257 && lit_len[hlit - 1] == 0) --hlit;
    while (hdist > 1 && dist_len[hdist - 1] == 0) --hdist;

    // Both length lists as one sequence (repeats may cross from one to the other), run-length encoded:
    // 16 repeats the previous length 3-6 times, 17 and 18 give 3-10 and 11-138 zeros.
    u8 all[k_lit_symbols + k_dist_symbols];
    std::copy(lit_len, lit_len + hlit, all);
    std::copy(dist_len, dist_len + hdist, all + hlit);
    const std::size_t total = hlit + hdist;
    u16 items[k_lit_symbols + k_dist_symbols];  // symbol | repeat count (extra bits) << 8
    std::size_t n_items = 0;
    u32 cl_freq[k_cl_symbols] = {};
    auto item = [&](unsigned symbol, std::size_t extra) {
        items[n_items++] = static_cast<u16>(symbol | extra << 8);
        ++cl_freq[symbol];
    };
    for (std::size_t i = 0, run = 1; i < total; i += run) {
        const u8 len = all[i];
        for (run = 1; i + run < total && all[i + run] == len; ++run) {
        }
        std::size_t left = run;
        if (len == 0) {
            while (left >= 11) {
                // Leave at least 3 for a 17 rather than 1 or 2 single zeros.
                const std::size_t k = left > 138 && left < 141 ? left - 3 : std::min<std::size_t>(left, 138);
                item(18, k - 11);
                left -= k;
            }
            if (left >= 3) {
                item(17, left - 3);
                left = 0;
            }
        } else {
            item(len, 0);
            for (--left; left >= 3;) {
                const std::size_t k = std::min<std::size_t>(left, 6);
                item(16, k - 3);
                left -= k;
            }
        }
        for (; left > 0; --left) item(len, 0);
    }
    u8 cl_len[k_cl_symbols];
    build_lengths(cl_freq, k_cl_symbols, 7, cl_len);
    std::size_t hclen = k_cl_symbols;
    while (hclen > 4 && cl_len[k_cl_order[hclen - 1]] == 0) --hclen;

    // Sizes in bits of the three choices.
    u64 dynamic_bits = 3 + 5 + 5 + 4 + 3 * hclen + extra_bits;
    dynamic_bits += 2u * cl_freq[16] + 3u * cl_freq[17] + 7u * cl_freq[18];
    for (std::size_t s = 0; s < k_cl_symbols; ++s) dynamic_bits += u64{cl_freq[s]} * cl_len[s];
    u8 fixed_lit_len[k_max_symbols], fixed_dist_len[k_dist_symbols];
    u64 fixed_bits = 3 + extra_bits;
    for (std::size_t s = 0; s < k_max_symbols; ++s) {
        fixed_lit_len[s] = static_cast<u8>(s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8);
        dynamic_bits += u64{lit_freq[s]} * (s < k_lit_symbols ? lit_len[s] : 0u);
        fixed_bits += u64{lit_freq[s]} * fixed_lit_len[s];
    }
    for (std::size_t s = 0; s < k_dist_symbols; ++s) {
        fixed_dist_len[s] = 5;
        dynamic_bits += u64{dist_freq[s]} * dist_len[s];
        fixed_bits += u64{dist_freq[s]} * 5u;
    }
    const std::size_t chunks = raw_size == 0 ? 1 : (raw_size + k_stored_max - 1) / k_stored_max;
    const u64 stored_bits = 3 + (8 - (w.count + 3) % 8) % 8 + 32 + 8 * u64{raw_size} + (chunks - 1) * (3 + 5 + 32);

    if (stored_bits < dynamic_bits && stored_bits < fixed_bits) {
        std::size_t at = 0;
        do {
            const std::size_t chunk = std::min(raw_size - at, k_stored_max);
            w.put(last && at + chunk == raw_size ? 1u : 0u, 3);  // BFINAL, BTYPE 00
            w.align();
            const auto len = static_cast<u16>(chunk), nlen = static_cast<u16>(~len);
            const char header[4] = {static_cast<char>(len), static_cast<char>(len >> 8), static_cast<char>(nlen),
                                    static_cast<char>(nlen >> 8)};
            w.out.append(header, 4);
            w.out.append(reinterpret_cast<const char*>(raw + at), chunk);
            at += chunk;
        } while (at < raw_size);
        return;
    }
    u16 lit_code[k_max_symbols], dist_code[k_dist_symbols];
    if (fixed_bits <= dynamic_bits) {
        w.put(last ? 1u : 0u, 1);
        w.put(1, 2);
        build_codes(fixed_lit_len, k_max_symbols, lit_code);
        build_codes(fixed_dist_len, k_dist_symbols, dist_code);
        write_symbols(w, symbols, n, fixed_lit_len, lit_code, fixed_dist_len, dist_code);
        return;
    }
    w.put(last ? 1u : 0u, 1);
    w.put(2, 2);
    w.put(static_cast<u32>(hlit - 257), 5);
    w.put(static_cast<u32>(hdist - 1), 5);
    w.put(static_cast<u32>(hclen - 4), 4);
    for (std::size_t i = 0; i < hclen; ++i) w.put(cl_len[k_cl_order[i]], 3);
    u16 cl_code[k_cl_symbols];
    build_codes(cl_len, k_cl_symbols, cl_code);
    for (std::size_t i = 0; i < n_items; ++i) {
        const unsigned symbol = items[i] & 0xffu, extra = items[i] >> 8u;
        w.put(cl_code[symbol], cl_len[symbol]);
        if (symbol >= 16) w.put(extra, symbol == 16 ? 2 : symbol == 17 ? 3 : 7);
    }
    build_codes(lit_len, k_lit_symbols, lit_code);
    build_codes(dist_len, k_dist_symbols, dist_code);
    write_symbols(w, symbols, n, lit_len, lit_code, dist_len, dist_code);
}

// ---- LZ77 ------------------------------------------------------------------------------------

/// Finds earlier occurrences in the whole input (it is all in memory, so there is no sliding buffer).
/// head[] holds the latest position with each 3-byte hash, prev[] links each position to the previous one
/// with the same hash. Both store positions relative to base, plus one (0: none), in 32 bits. A link is only
/// a hint: every candidate's distance is checked and its bytes compared, so a position never linked in (or a
/// stale link) can cost a match but never produce a wrong one.
struct matcher {
    struct match {
        u32 length;
        u32 distance;
    };
    static constexpr u32 k_prev_mask = 65535;  // twice the window: a link still within reach is never overwritten
    static constexpr std::size_t k_rebase_at = 0xffff0000u;

    const u8* in;
    std::size_t in_size;
    std::size_t base = 0;
    std::vector<u32> head = std::vector<u32>(std::size_t{1} << k_hash_bits);
    std::vector<u32> prev = std::vector<u32>(std::size_t{k_prev_mask} + 1);

    matcher(const u8* data, std::size_t size) : in(data), in_size(size) {}

    /// Inputs beyond 4 GiB: forget everything before pos (which costs matches across that point only).
    void rebase_if_needed(std::size_t pos) {
        if (pos - base < k_rebase_at) return;
        base = pos;
        std::fill(head.begin(), head.end(), 0u);
    }

    static u32 hash(const u8* p) {
        const u32 v = static_cast<u32>(p[0]) | static_cast<u32>(p[1]) << 8 | static_cast<u32>(p[2]) << 16;
        return (v * 0x9E3779B1u) >> (32 - k_hash_bits);
    }

    /// Links pos into its hash chain; returns the chain's previous head.
    u32 insert(std::size_t pos) {
        if (pos + k_min_match > in_size) return 0;
        const u32 h = hash(in + pos), rel = static_cast<u32>(pos - base), previous = head[h];
        prev[rel & k_prev_mask] = previous;
        head[h] = rel + 1;
        return previous;
    }

    static std::size_t common_length(const u8* a, const u8* b, std::size_t limit) {
        std::size_t n = 0;
        for (; n + 8 <= limit; n += 8) {
            u64 x, y;
            std::memcpy(&x, a + n, 8);
            std::memcpy(&y, b + n, 8);
            if (x != y) {
#if (defined(__GNUC__) || defined(__clang__)) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                return n + static_cast<std::size_t>(__builtin_ctzll(x ^ y) / 8);  // the first differing byte
#else
                break;
#endif
            }
        }
        while (n < limit && a[n] == b[n]) ++n;
        return n;
    }

    /// The longest match for pos among at most `chain` candidates if it is longer than `beat` and worth
    /// sending, else length 0. Links pos in.
    match find(std::size_t pos, unsigned chain, std::size_t beat = k_min_match - 1) {
        u32 candidate = insert(pos);
        const std::size_t limit = std::min(k_max_match, in_size - pos);
        if (limit < k_min_match || beat >= limit) return {0, 0};
        const u8* p = in + pos;
        const u32 rel = static_cast<u32>(pos - base);
        std::size_t best = beat;
        u32 best_distance = 0;
        for (; candidate != 0 && chain > 0; --chain) {
            const u32 distance = rel - (candidate - 1);
            if (distance - 1 >= k_max_distance) break;  // out of reach (or 0, which a sound chain never holds)
            const u8* q = p - distance;
            if (q[best] == p[best] && q[0] == p[0] && q[1] == p[1]) {
                const std::size_t len = common_length(p, q, limit);
                if (len > best) {
                    best = len;
                    best_distance = distance;
                    if (len >= k_nice || len == limit) break;
                }
            }
            candidate = prev[(candidate - 1) & k_prev_mask];
        }
        if (best_distance == 0 || (best == k_min_match && best_distance > k_too_far)) return {0, 0};
        return {static_cast<u32>(best), best_distance};
    }
};

/// Appends the DEFLATE stream for in[0, size) to out.
inline void compress(const u8* in, std::size_t size, std::string& out) {
    bit_writer w{out};
    matcher mt(in, size);
    std::vector<u32> symbols;
    symbols.reserve(k_block_symbols);
    std::size_t block_start = 0, pos = 0, misses = 0;  // misses: literals since the last match
    auto literal = [&](std::size_t at) { symbols.push_back(in[at]); };
    auto copy = [&](matcher::match m) { symbols.push_back(m.length | m.distance << 16); };
    matcher::match current = mt.find(0, k_max_chain);
    while (pos < size) {
        if (symbols.size() >= k_block_symbols) {
            write_block(w, symbols.data(), symbols.size(), in + block_start, pos - block_start, false);
            symbols.clear();
            block_start = pos;
        }
        mt.rebase_if_needed(pos);
        if (current.length == 0) {
            literal(pos++);
            // Long without a match, the data is likely packed or random: searching only every other position
            // there halves the work and loses little.
            if (++misses >= k_skip_after && pos < size) literal(pos++);
        } else if (current.length < k_lazy_below && pos + 1 < size) {
            // Lazy matching: a longer match one byte later is worth a literal first. After a good match,
            // look less hard.
            const unsigned chain = current.length >= k_good ? k_max_chain / 4 : k_max_chain;
            const matcher::match next = mt.find(pos + 1, chain, current.length);
            if (next.length > current.length) {
                literal(pos++);
                current = next;
                continue;
            }
            misses = 0;
            copy(current);
            for (std::size_t i = pos + 2; i < pos + current.length; ++i) mt.insert(i);
            pos += current.length;
        } else {
            misses = 0;
            copy(current);
            for (std::size_t i = pos + 1; i < pos + current.length; ++i) mt.insert(i);
            pos += current.length;
        }
        current = pos < size ? mt.find(pos, k_max_chain) : matcher::match{0, 0};
    }
    write_block(w, symbols.data(), symbols.size(), in + block_start, size - block_start, true);
    w.align();
}

}  // namespace deflate

/// CRC-32 as gzip and zip use it. Pass the previous result as crc to continue over more data.
inline std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc = 0) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    const auto& t = deflate::k_tables.crc;
    auto le32 = [](const std::uint8_t* b) {
        return static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8 |
               static_cast<std::uint32_t>(b[2]) << 16 | static_cast<std::uint32_t>(b[3]) << 24;
    };
    crc = ~crc;
    for (; size >= 8; size -= 8, p += 8) {
        const std::uint32_t a = crc ^ le32(p), b = le32(p + 4);
        crc = t[7][a & 0xffu] ^ t[6][(a >> 8) & 0xffu] ^ t[5][(a >> 16) & 0xffu] ^ t[4][a >> 24] ^ t[3][b & 0xffu] ^
              t[2][(b >> 8) & 0xffu] ^ t[1][(b >> 16) & 0xffu] ^ t[0][b >> 24];
    }
    for (; size > 0; --size, ++p) crc = t[0][(crc ^ *p) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

/// A complete gzip member (header, DEFLATE data, CRC-32, size) for data[0, size).
inline std::string gzip_compress(const void* data, std::size_t size) {
    const auto* in = static_cast<const std::uint8_t*>(data);
    // ID1 ID2, CM 8 (deflate), FLG 0, MTIME 0 (the same input always gives the same output), XFL 0, OS 3 (Unix).
    std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
    out.reserve(size / 4 + 64);
    deflate::compress(in, size, out);
    const std::uint32_t trailer[2] = {crc32(in, size), static_cast<std::uint32_t>(size)};  // ISIZE: size mod 2^32
    for (const std::uint32_t v : trailer) {
        for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>(v >> shift));
    }
    return out;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
