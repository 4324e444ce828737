// plugin - a shared library that embeds its own copy of crashdrop, loaded by tests/host/host.cpp.
// Built several times from this one source, with -fvisibility=hidden -fvisibility-inlines-hidden:
//   plugin_a.so   PLUGIN_NAME=plugin_a, this crashdrop (include/)
//   plugin_b.so   PLUGIN_NAME=plugin_b, another version of crashdrop: the single header made by
//                 make_other_version.py (0.0.9, inline namespace v0_0), named by
//                 PLUGIN_OTHER_VERSION_HEADER
//   plugin_c.so   PLUGIN_NAME=plugin_c, this crashdrop again (two copies of the same version)
// Each faults on its own address (PLUGIN_FAULT_ADDRESS) in functions named after the plugin, so
// a dump shows whose crash it holds. It exports only the hostplug_* entry points below (and
// whatever crashdrop exports on purpose: crashdrop_chain_v1).
#define CRASHDROP_IMPLEMENTATION
#ifdef PLUGIN_OTHER_VERSION_HEADER
#include PLUGIN_OTHER_VERSION_HEADER
#else
#include "crashdrop.hpp"
#endif

#include <cstdint>
#include <cstdlib>
#include <string>

#if !defined(PLUGIN_NAME) || !defined(PLUGIN_FAULT_ADDRESS)
#error "PLUGIN_NAME and PLUGIN_FAULT_ADDRESS must be defined by the build"
#endif

#define PLUGIN_CAT2(a, b) a##b
#define PLUGIN_CAT(a, b) PLUGIN_CAT2(a, b)
#define PLUGIN_STR2(a) #a
#define PLUGIN_STR(a) PLUGIN_STR2(a)
#define PLUGIN_NOINLINE __attribute__((noinline))
#define PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

namespace {
std::string g_result;  // what the last call answers, kept alive for the host to print
int* volatile g_plugin_bad = reinterpret_cast<int*>(static_cast<std::uintptr_t>(PLUGIN_FAULT_ADDRESS));

const char* answer(const crashdrop::Status& s) {
    g_result = s.ok() ? std::string("ok") : std::string(crashdrop::error_name(s.code())) + ": " + s.message();
    return g_result.c_str();
}
}  // namespace

// Named after the plugin (plugin_a_crash_leaf, ...), hidden, kept as separate frames.
// The misaligned store to a low address is the point: UBSan (tools/test_sanitizers.sh) must
// let it fault.
PLUGIN_NOINLINE __attribute__((no_sanitize("undefined"))) void PLUGIN_CAT(PLUGIN_NAME, _crash_leaf)() {
    *g_plugin_bad = 1;
    __asm__ volatile("");
}

PLUGIN_NOINLINE void PLUGIN_CAT(PLUGIN_NAME, _abort_leaf)() {
    std::abort();
}

PLUGIN_NOINLINE void PLUGIN_CAT(PLUGIN_NAME, _calls_host)(void (*host_function)()) {
    host_function();
    __asm__ volatile("");
}

// A function that starts right after a call to a noreturn function, with nothing between them:
// a pointer to it looks like a return address by the bytes before it (only the function table,
// .eh_frame_hdr, tells it apart). Written in assembly so no padding or reordering can separate
// the two; both have unwind information (.cfi_*), as compiled functions do.
#define PLUGIN_GIVES_UP PLUGIN_STR(PLUGIN_CAT(PLUGIN_NAME, _gives_up))
#define PLUGIN_AFTER_GIVES_UP PLUGIN_STR(PLUGIN_CAT(PLUGIN_NAME, _after_gives_up))
#if defined(__x86_64__)
__asm__(".text\n.globl " PLUGIN_GIVES_UP "\n.hidden " PLUGIN_GIVES_UP "\n.type " PLUGIN_GIVES_UP ", @function\n"
        PLUGIN_GIVES_UP ":\n.cfi_startproc\nsubq $8, %rsp\n.cfi_def_cfa_offset 16\ncall abort@PLT\n.cfi_endproc\n"
        ".size " PLUGIN_GIVES_UP ", .-" PLUGIN_GIVES_UP "\n"
        ".globl " PLUGIN_AFTER_GIVES_UP "\n.hidden " PLUGIN_AFTER_GIVES_UP "\n.type " PLUGIN_AFTER_GIVES_UP ", @function\n"
        PLUGIN_AFTER_GIVES_UP ":\n.cfi_startproc\nret\n.cfi_endproc\n.size " PLUGIN_AFTER_GIVES_UP ", .-" PLUGIN_AFTER_GIVES_UP "\n");
#elif defined(__aarch64__)
__asm__(".text\n.globl " PLUGIN_GIVES_UP "\n.hidden " PLUGIN_GIVES_UP "\n.type " PLUGIN_GIVES_UP ", %function\n"
        PLUGIN_GIVES_UP ":\n.cfi_startproc\nstp x29, x30, [sp, #-16]!\n.cfi_def_cfa_offset 16\nbl abort\n.cfi_endproc\n"
        ".size " PLUGIN_GIVES_UP ", .-" PLUGIN_GIVES_UP "\n"
        ".globl " PLUGIN_AFTER_GIVES_UP "\n.hidden " PLUGIN_AFTER_GIVES_UP "\n.type " PLUGIN_AFTER_GIVES_UP ", %function\n"
        PLUGIN_AFTER_GIVES_UP ":\n.cfi_startproc\nret\n.cfi_endproc\n.size " PLUGIN_AFTER_GIVES_UP ", .-" PLUGIN_AFTER_GIVES_UP "\n");
#else
#error "plugin.cpp: no assembly for this architecture"
#endif
extern "C" void PLUGIN_CAT(PLUGIN_NAME, _after_gives_up)();

PLUGIN_EXPORT const char* hostplug_start(const char* database, int only_this_module, int fork_helper) {
    crashdrop::Options o;
    o.database_path = database;
    o.product_name = PLUGIN_STR(PLUGIN_NAME);
    o.product_version = CRASHDROP_VERSION_STRING;
    o.helper_mode = fork_helper != 0 ? crashdrop::HelperMode::fork : crashdrop::HelperMode::none;
    o.only_this_module = only_this_module != 0;
    return answer(crashdrop::start(o));
}

PLUGIN_EXPORT const char* hostplug_version() { return CRASHDROP_VERSION_STRING; }

PLUGIN_EXPORT void hostplug_crash() {
    PLUGIN_CAT(PLUGIN_NAME, _crash_leaf)();
    __asm__ volatile("");
}

PLUGIN_EXPORT void hostplug_abort() {
    PLUGIN_CAT(PLUGIN_NAME, _abort_leaf)();
    __asm__ volatile("");
}

PLUGIN_EXPORT void hostplug_call(void (*host_function)()) {
    PLUGIN_CAT(PLUGIN_NAME, _calls_host)(host_function);
    __asm__ volatile("");
}

PLUGIN_EXPORT const char* hostplug_check() { return answer(crashdrop::check_handlers()); }

PLUGIN_EXPORT const char* hostplug_reinstall() { return answer(crashdrop::reinstall()); }

PLUGIN_EXPORT void hostplug_stop() { crashdrop::stop(); }

PLUGIN_EXPORT const char* hostplug_dump() {
    std::string path;
    const crashdrop::Status s = crashdrop::write_dump(&path);
    answer(s);
    if (s.ok()) g_result += " " + path;
    return g_result.c_str();
}

/// Pointers to this plugin's functions, for a host that keeps a table of callbacks: the entry
/// points, internal functions, and the one right after a noreturn call. Returns how many.
PLUGIN_EXPORT int hostplug_functions(void** out, int capacity) {
    void* const all[] = {reinterpret_cast<void*>(&hostplug_start), reinterpret_cast<void*>(&hostplug_version),
                         reinterpret_cast<void*>(&hostplug_crash), reinterpret_cast<void*>(&hostplug_abort),
                         reinterpret_cast<void*>(&hostplug_call), reinterpret_cast<void*>(&hostplug_check),
                         reinterpret_cast<void*>(&hostplug_reinstall), reinterpret_cast<void*>(&hostplug_stop),
                         reinterpret_cast<void*>(&hostplug_dump), reinterpret_cast<void*>(&hostplug_functions),
                         reinterpret_cast<void*>(&PLUGIN_CAT(PLUGIN_NAME, _crash_leaf)),
                         reinterpret_cast<void*>(&PLUGIN_CAT(PLUGIN_NAME, _abort_leaf)),
                         reinterpret_cast<void*>(&PLUGIN_CAT(PLUGIN_NAME, _calls_host)),
                         reinterpret_cast<void*>(&PLUGIN_CAT(PLUGIN_NAME, _after_gives_up))};
    int n = 0;
    for (void* f : all) {
        if (n < capacity) out[n++] = f;
    }
    return n;
}
