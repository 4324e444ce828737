// crashdrop/platform/linux/return_address_linux.hpp - telling a return address into this module
// from any other word that happens to point into its code (a function pointer kept as data, a
// stale value), for only_this_module: a word counts only if the instruction before it is a call
// (x86-64: E8 rel32, or FF /2 with the length its ModRM and SIB bytes give; aarch64: BL, BLR and
// the pointer-authenticating BLRAA/BLRAAZ/BLRAB/BLRABZ) and it is not the first instruction of a
// function (a function that starts right after a call to a noreturn function would otherwise
// pass). Function starts come from the module's .eh_frame_hdr search table, found by start().
//
// The one ambiguity left: the real return address of a call to a noreturn function (abort(),
// std::terminate(), a function the compiler found never returns) that ends its function IS the
// next function's first instruction - the same value as a pointer to that function. Such a word
// is a weak return address: crash_is_ours counts it only for a signal the thread raised itself
// (abort, raise: exactly how a chain of noreturn calls ends), never for a fault.
// Context: implementation TU. The decoders and plausible_return_address run on the crash path
// (namespace sigsafe); read_own_function_table is start()-time code (namespace detail).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

constexpr std::size_t k_x86_call_max = 7;  // the longest call form: FF /2 with SIB and disp32

/// The length of an FF /2 (near indirect call) instruction whose ModRM byte is `modrm`, from the
/// FF byte on (prefixes such as REX or notrack come before it and are not counted); 0 when the
/// ModRM's reg field is not 2 (another FF instruction). `sib` is read only when the form has one.
CRASHDROP_SIGSAFE_INLINE std::size_t x86_indirect_call_length(u8 modrm, u8 sib) {
    if (((modrm >> 3) & 7) != 2) return 0;
    const unsigned mod = modrm >> 6;
    const unsigned rm = modrm & 7;
    if (mod == 3) return 2;  // call *%reg
    if (mod == 0) {
        if (rm == 5) return 6;                       // call *disp32(%rip)
        if (rm == 4) return (sib & 7) == 5 ? 7 : 3;  // SIB; base 5 with mod 0 means disp32, no base
        return 2;                                    // call *(%reg)
    }
    const std::size_t disp = mod == 1 ? 1 : 4;
    return 2 + (rm == 4 ? 1 : 0) + disp;  // call *disp(%reg), with a SIB byte for rm 4
}

/// x86-64: do the `n` bytes in `before`, which end where a candidate return address starts, end
/// with a call instruction? n is at most k_x86_call_max; fewer when the bytes before them are
/// unreadable (no instruction straddles an unmapped page).
CRASHDROP_SIGSAFE_INLINE bool x86_call_ends_at(const u8* before, std::size_t n) {
    if (n >= 5 && before[n - 5] == 0xE8) return true;  // call rel32
    for (std::size_t len = 2; len <= k_x86_call_max && len <= n; ++len) {
        const u8* insn = before + (n - len);
        if (insn[0] != 0xFF) continue;
        const u8 sib = len >= 3 ? insn[2] : 0;
        if (x86_indirect_call_length(insn[1], sib) == len) return true;
    }
    return false;
}

/// aarch64: is this instruction one that sets the link register to the address after it?
CRASHDROP_SIGSAFE_INLINE bool a64_is_call(u32 insn) {
    if ((insn & 0xFC000000u) == 0x94000000u) return true;  // BL imm26
    if ((insn & 0xFFFFFC1Fu) == 0xD63F0000u) return true;  // BLR Xn
    if ((insn & 0xFFFFF81Fu) == 0xD63F081Fu) return true;  // BLRAAZ / BLRABZ Xn (bit 10: key B)
    if ((insn & 0xFFFFF800u) == 0xD73F0800u) return true;  // BLRAA / BLRAB Xn, Xm|SP
    return false;
}

/// Is `address` exactly where a function of this module starts, by its .eh_frame_hdr table?
/// The table lies in this module's read-only segment, mapped for as long as this code runs.
CRASHDROP_SIGSAFE bool is_own_function_start(const linux_state* g, u64 address) {
    const own_function_table& t = g->own_functions;
    u64 lo = 0;
    u64 hi = t.count;
    while (lo < hi) {
        const u64 mid = lo + (hi - lo) / 2;
        const auto* entry = reinterpret_cast<const std::int32_t*>(t.table + 8 * mid);
        const u64 start = t.base + static_cast<u64>(static_cast<std::int64_t>(entry[0]));
        if (start == address) return true;
        if (start < address) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

enum return_address_kind : int {
    ra_none = 0,    // no call ends right before it: data
    ra_weak = 1,    // a call ends before it, but a function starts at it (see above)
    ra_strong = 2,  // a call ends before it, inside a function
};

/// Could `word`, a value that points into this module's code, be a return address: does a call
/// instruction end right before it, and is it not a function's first instruction? The bytes
/// before it are read with read_memory (they may lie on an unreadable page).
CRASHDROP_SIGSAFE return_address_kind classify_return_address(linux_state* g, u64 word) {
    u8 before[8];
    std::size_t n = k_calls_are_a64 ? 4 : k_x86_call_max;
    if (k_calls_are_a64 && (word & 3) != 0) return ra_none;
    if (word < n) return ra_none;
    if (read_memory(&g->reader, before, word - n, n) != static_cast<long>(n)) {
        // The page before may be unreadable: only what lies on the return address's own page.
        const u64 page = (word - 1) & ~u64{4095};
        n = static_cast<std::size_t>(word - page);
        if (n >= (k_calls_are_a64 ? 4 : k_x86_call_max)) return ra_none;
        if (n == 0 || read_memory(&g->reader, before, page, n) != static_cast<long>(n)) return ra_none;
    }
    bool call = false;
    if (k_calls_are_a64) {
        call = n == 4 && a64_is_call(static_cast<u32>(before[0]) | static_cast<u32>(before[1]) << 8 |
                                     static_cast<u32>(before[2]) << 16 | static_cast<u32>(before[3]) << 24);
    } else {
        call = x86_call_ends_at(before, n);
    }
    if (!call) return ra_none;
    return is_own_function_start(g, word) ? ra_weak : ra_strong;
}

}  // namespace sigsafe

namespace detail {

/// Reads the search table of an .eh_frame_hdr section (`size` bytes at `address`, mapped) into
/// `*out`; leaves out->count 0 when it has none, or one in a form linkers do not write.
inline void read_own_function_table(sigsafe::own_function_table* out, std::uint64_t address, std::uint64_t size) {
    *out = sigsafe::own_function_table{};
    const auto* hdr = reinterpret_cast<const std::uint8_t*>(address);
    if (size < 4 || hdr[0] != 1) return;  // version 1
    // The width of an encoded value by its format (the low four bits); 0: not one we read.
    auto width = [](std::uint8_t enc) -> std::uint64_t {
        switch (enc & 0x0f) {
            case 0x00: return 8;  // absptr
            case 0x02: case 0x0a: return 2;
            case 0x03: case 0x0b: return 4;
            case 0x04: case 0x0c: return 8;
            default: return 0;
        }
    };
    const std::uint8_t frame_enc = hdr[1];
    const std::uint8_t count_enc = hdr[2];
    const std::uint8_t table_enc = hdr[3];
    if (table_enc != 0x3b) return;  // DW_EH_PE_datarel | DW_EH_PE_sdata4, what every linker writes
    if ((count_enc & 0x70) != 0 || (count_enc != 0x03 && count_enc != 0x0b && count_enc != 0x04 && count_enc != 0x0c)) return;
    std::uint64_t at = 4;
    if (frame_enc != 0xff) {  // DW_EH_PE_omit: no pointer
        if (width(frame_enc) == 0) return;
        at += width(frame_enc);
    }
    const std::uint64_t count_width = width(count_enc);
    if (at + count_width > size) return;
    std::uint64_t count = 0;
    if (count_width == 4) {
        std::uint32_t v;
        std::memcpy(&v, hdr + at, 4);
        count = v;
    } else {
        std::memcpy(&count, hdr + at, 8);
    }
    at += count_width;
    if (count == 0 || count > (size - at) / 8) return;
    // Sorted by function start, as the format requires: check, since the crash path relies on it.
    std::int64_t previous = INT64_MIN;
    for (std::uint64_t i = 0; i < count; ++i) {
        std::int32_t start;
        std::memcpy(&start, hdr + at + 8 * i, 4);
        if (start < previous) return;
        previous = start;
    }
    if ((address + at) % 4 != 0) return;  // the crash path reads the entries as aligned words
    out->base = address;
    out->table = address + at;
    out->count = count;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
