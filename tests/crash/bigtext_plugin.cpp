// bigtext_plugin.cpp - a shared library crash_target loads next to the plugin it crashes in; it
// is linked without a build id and its .text is larger than a page, so the id of its dump
// module is Breakpad's hash of the first 4 KiB of .text, which Sentry's CLI computes alike (for
// a .text shorter than a page the two tools disagree; see the crash test on Sentry's ids).
// The code only has to be there: 128 small distinct functions, each one exported so none is
// dropped.
#define CRASHDROP_BIGTEXT_FN(n)                                                                  \
    extern "C" __attribute__((noinline, visibility("default"))) unsigned crashdrop_bigtext_##n(  \
        unsigned x) {                                                                            \
        volatile unsigned v = x;                                                                 \
        for (unsigned i = 0; i < (n % 7u) + 3u; ++i) v = (v * (2u * n + 3u)) ^ (v >> (n % 5u + 1u)); \
        return v + n;                                                                            \
    }
#define CRASHDROP_BIGTEXT_8(a)                                                                         \
    CRASHDROP_BIGTEXT_FN(a##0) CRASHDROP_BIGTEXT_FN(a##1) CRASHDROP_BIGTEXT_FN(a##2) CRASHDROP_BIGTEXT_FN(a##3) \
    CRASHDROP_BIGTEXT_FN(a##4) CRASHDROP_BIGTEXT_FN(a##5) CRASHDROP_BIGTEXT_FN(a##6) CRASHDROP_BIGTEXT_FN(a##7)
CRASHDROP_BIGTEXT_8(1)
CRASHDROP_BIGTEXT_8(2)
CRASHDROP_BIGTEXT_8(3)
CRASHDROP_BIGTEXT_8(4)
CRASHDROP_BIGTEXT_8(5)
CRASHDROP_BIGTEXT_8(6)
CRASHDROP_BIGTEXT_8(7)
CRASHDROP_BIGTEXT_8(10)
CRASHDROP_BIGTEXT_8(11)
CRASHDROP_BIGTEXT_8(12)
CRASHDROP_BIGTEXT_8(13)
CRASHDROP_BIGTEXT_8(14)
CRASHDROP_BIGTEXT_8(15)
CRASHDROP_BIGTEXT_8(16)
CRASHDROP_BIGTEXT_8(17)
CRASHDROP_BIGTEXT_8(20)
