// crashdrop/sigsafe/common.hpp - byte, string and number primitives for the crash path.
//
// THE CRASH-PATH RULES (every function in namespace crashdrop::sigsafe, wherever its file is):
//   - no allocation (malloc/new), no locks, no stdio, no exceptions, no std::string/vector;
//   - only memory reserved at start(), the stack, and raw system calls;
//   - libc only where POSIX lists the function as async-signal-safe (sigaction, sigprocmask,
//     ...), each call carrying a comment that says so;
//   - no compiler-generated calls either: large struct copies or zero-initialisations become
//     memcpy/memset calls, so use copy_bytes / zero_bytes.
// Every such function is marked CRASHDROP_SIGSAFE, which places it in the ELF section
// "crashdrop_sigsafe". tests/sigsafe_section_test disassembles that section and fails if any
// call leaves it for anything but the allow-listed async-signal-safe libc functions.
//
// Context: implementation TU only; runs inside signal handlers.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

// Built with ThreadSanitizer, the crash path is not instrumented: its threads hand data over
// through raw futex and tgkill system calls TSan cannot see (it would report races between the
// crashing thread and the threads it captures), and TSan's runtime is no place to be after a
// fault. Its always-inlined helpers carry the same attribute (gcc inlines only alike functions).
#if defined(CRASHDROP_DETAIL_TSAN)
#define CRASHDROP_DETAIL_NO_TSAN __attribute__((no_sanitize("thread")))
#else
#define CRASHDROP_DETAIL_NO_TSAN
#endif
#if (defined(__GNUC__) || defined(__clang__)) && defined(__ELF__)
#define CRASHDROP_SIGSAFE __attribute__((section("crashdrop_sigsafe"), noinline)) CRASHDROP_DETAIL_NO_TSAN
#else
#define CRASHDROP_SIGSAFE
#endif
// Tiny helpers that are always inlined into their (marked) callers.
#if defined(_MSC_VER) && !defined(__clang__)
#define CRASHDROP_SIGSAFE_INLINE __forceinline
#else
#define CRASHDROP_SIGSAFE_INLINE __attribute__((always_inline)) CRASHDROP_DETAIL_NO_TSAN inline
#endif

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;

// A compiler barrier inside copy loops keeps GCC/Clang from turning them into memcpy calls.
#define CRASHDROP_LOOP_BARRIER() __asm__ volatile("" ::: "memory")

CRASHDROP_SIGSAFE void copy_bytes(void* dst, const void* src, std::size_t n) {
    auto* d = static_cast<u8*>(dst);
    const auto* s = static_cast<const u8*>(src);
    while (n >= 8) {
        u64 w;
        __builtin_memcpy(&w, s, 8);  // a single 8-byte load, never a call
        __builtin_memcpy(d, &w, 8);
        d += 8;
        s += 8;
        n -= 8;
        CRASHDROP_LOOP_BARRIER();
    }
    while (n > 0) {
        *d++ = *s++;
        --n;
        CRASHDROP_LOOP_BARRIER();
    }
}

CRASHDROP_SIGSAFE void zero_bytes(void* dst, std::size_t n) {
    auto* d = static_cast<u8*>(dst);
    while (n >= 8) {
        const u64 z = 0;
        __builtin_memcpy(d, &z, 8);
        d += 8;
        n -= 8;
        CRASHDROP_LOOP_BARRIER();
    }
    while (n > 0) {
        *d++ = 0;
        --n;
        CRASHDROP_LOOP_BARRIER();
    }
}

CRASHDROP_SIGSAFE std::size_t string_length(const char* s) {
    std::size_t n = 0;
    while (s[n] != '\0') {
        ++n;
        CRASHDROP_LOOP_BARRIER();
    }
    return n;
}

CRASHDROP_SIGSAFE bool bytes_equal(const void* a, const void* b, std::size_t n) {
    const auto* x = static_cast<const u8*>(a);
    const auto* y = static_cast<const u8*>(b);
    for (std::size_t i = 0; i < n; ++i) {
        if (x[i] != y[i]) return false;
    }
    return true;
}

CRASHDROP_SIGSAFE_INLINE bool starts_with(const char* s, std::size_t n, const char* prefix) {
    std::size_t i = 0;
    for (; prefix[i] != '\0'; ++i) {
        if (i >= n || s[i] != prefix[i]) return false;
    }
    return true;
}

CRASHDROP_SIGSAFE_INLINE u64 align_up(u64 v, u64 a) { return (v + a - 1) & ~(a - 1); }
CRASHDROP_SIGSAFE_INLINE u64 align_down(u64 v, u64 a) { return v & ~(a - 1); }
CRASHDROP_SIGSAFE_INLINE u64 min_u64(u64 a, u64 b) { return a < b ? a : b; }
CRASHDROP_SIGSAFE_INLINE u64 max_u64(u64 a, u64 b) { return a > b ? a : b; }

/// Parses an unsigned hexadecimal number at s[*pos], advancing *pos. Stops at a non-digit.
CRASHDROP_SIGSAFE u64 parse_hex(const char* s, std::size_t n, std::size_t* pos) {
    u64 v = 0;
    std::size_t i = *pos;
    if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) i += 2;
    for (; i < n; ++i) {
        const char c = s[i];
        u64 d;
        if (c >= '0' && c <= '9') d = static_cast<u64>(c - '0');
        else if (c >= 'a' && c <= 'f') d = static_cast<u64>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = static_cast<u64>(c - 'A' + 10);
        else break;
        v = (v << 4) | d;
    }
    *pos = i;
    return v;
}

/// Parses an unsigned decimal number at s[*pos], advancing *pos.
CRASHDROP_SIGSAFE u64 parse_dec(const char* s, std::size_t n, std::size_t* pos) {
    u64 v = 0;
    std::size_t i = *pos;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; ++i) v = v * 10 + static_cast<u64>(s[i] - '0');
    *pos = i;
    return v;
}

CRASHDROP_SIGSAFE_INLINE void skip_spaces(const char* s, std::size_t n, std::size_t* pos) {
    while (*pos < n && (s[*pos] == ' ' || s[*pos] == '\t')) ++*pos;
}

/// A fixed-capacity text builder over caller memory. Truncates silently, always NUL-terminates.
struct text {
    char* data;
    std::size_t capacity;  // including the terminating NUL
    std::size_t size;

    CRASHDROP_SIGSAFE_INLINE void reset(char* buf, std::size_t cap) {
        data = buf;
        capacity = cap;
        size = 0;
        if (cap > 0) buf[0] = '\0';
    }
    CRASHDROP_SIGSAFE_INLINE void put(char c) {
        if (size + 1 < capacity) {
            data[size++] = c;
            data[size] = '\0';
        }
    }
};

CRASHDROP_SIGSAFE void text_append(text* t, const char* s, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) t->put(s[i]);
}

CRASHDROP_SIGSAFE void text_append(text* t, const char* s) { text_append(t, s, string_length(s)); }

CRASHDROP_SIGSAFE void text_append_dec(text* t, u64 v) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) t->put(digits[--n]);
}

CRASHDROP_SIGSAFE void text_append_sdec(text* t, long long v) {
    if (v < 0) {
        t->put('-');
        text_append_dec(t, static_cast<u64>(-(v + 1)) + 1);
    } else {
        text_append_dec(t, static_cast<u64>(v));
    }
}

/// Appends v in lower-case hex, at least `width` digits, with "0x" when `prefix`.
CRASHDROP_SIGSAFE void text_append_hex(text* t, u64 v, int width, bool prefix) {
    static const char k_digits[] = "0123456789abcdef";
    char digits[16];
    int n = 0;
    do {
        digits[n++] = k_digits[v & 0xf];
        v >>= 4;
    } while (v != 0);
    if (prefix) text_append(t, "0x", 2);
    for (int i = n; i < width; ++i) t->put('0');
    while (n > 0) t->put(digits[--n]);
}

/// Decodes one UTF-8 code point at s[*i] (advancing *i); malformed input yields U+FFFD.
CRASHDROP_SIGSAFE u32 utf8_next(const u8* s, std::size_t n, std::size_t* i) {
    const u8 c = s[*i];
    u32 cp;
    std::size_t extra;
    if (c < 0x80) {
        ++*i;
        return c;
    } else if ((c & 0xe0) == 0xc0) {
        cp = c & 0x1fu;
        extra = 1;
    } else if ((c & 0xf0) == 0xe0) {
        cp = c & 0x0fu;
        extra = 2;
    } else if ((c & 0xf8) == 0xf0) {
        cp = c & 0x07u;
        extra = 3;
    } else {
        ++*i;
        return 0xfffdu;
    }
    if (*i + extra >= n) {  // truncated sequence
        ++*i;
        return 0xfffdu;
    }
    for (std::size_t k = 1; k <= extra; ++k) {
        const u8 cc = s[*i + k];
        if ((cc & 0xc0) != 0x80) {
            ++*i;
            return 0xfffdu;
        }
        cp = (cp << 6) | (cc & 0x3fu);
    }
    *i += extra + 1;
    if (cp > 0x10ffffu || (cp >= 0xd800u && cp <= 0xdfffu)) return 0xfffdu;
    return cp;
}

/// Number of UTF-16 code units needed for UTF-8 text s[0..n).
CRASHDROP_SIGSAFE std::size_t utf16_length(const char* s, std::size_t n) {
    const auto* b = reinterpret_cast<const u8*>(s);
    std::size_t i = 0, units = 0;
    while (i < n) units += utf8_next(b, n, &i) >= 0x10000u ? 2 : 1;
    return units;
}

/// Converts UTF-8 s[0..n) into out (which has room for utf16_length(s, n) units).
CRASHDROP_SIGSAFE void utf8_to_utf16(const char* s, std::size_t n, u16* out) {
    const auto* b = reinterpret_cast<const u8*>(s);
    std::size_t i = 0, o = 0;
    while (i < n) {
        u32 cp = utf8_next(b, n, &i);
        u16 unit;
        if (cp >= 0x10000u) {
            cp -= 0x10000u;
            unit = static_cast<u16>(0xd800u + (cp >> 10));
            copy_bytes(&out[o++], &unit, 2);
            unit = static_cast<u16>(0xdc00u + (cp & 0x3ffu));
        } else {
            unit = static_cast<u16>(cp);
        }
        copy_bytes(&out[o++], &unit, 2);  // out may be unaligned inside the image
    }
}

/// Where one register's bytes lie inside a saved context (see context_data_registers).
struct register_bytes {
    u8* data;
    u32 size;
};

}  // namespace sigsafe
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
