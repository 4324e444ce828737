// node_addon - a Node-API addon (`require('/abs/path/crashdrop_addon.node')`) that embeds
// crashdrop the way docs/plugins.md tells a plugin to: the single header, hidden visibility, a
// fork helper, started from JavaScript. tests/host/real_hosts.py builds it with plain g++ against
// single_include/crashdrop.hpp and Node's own headers (node_api.h: ABI-stable, no node-gyp).
//
//   start(database, onlyThisModule) -> "ok" or "<error>: <message>"
//   checkHandlers()                 -> "ok" or "<error>: <message>"
//   previousHandler()               -> who handled SIGSEGV before start(): "SIG_DFL", or the
//                                      module and symbol dladdr names (node's
//                                      TrapWebAssemblyOrContinue when V8's trap handler is on)
//   crash()                         a write to 0x52 in crashdrop_addon_crash_leaf (SIGSEGV)
#include <node_api.h>

#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <dlfcn.h>
#include <signal.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace {

int* volatile g_bad = reinterpret_cast<int*>(static_cast<std::uintptr_t>(0x52));
std::string g_previous_handler = "not started";

napi_value text(napi_env env, const std::string& s) {
    napi_value v = nullptr;
    napi_create_string_utf8(env, s.c_str(), s.size(), &v);
    return v;
}

napi_value status_text(napi_env env, const crashdrop::Status& s) {
    return text(env, s.ok() ? std::string("ok") : std::string(crashdrop::error_name(s.code())) + ": " + s.message());
}

std::string describe_handler(const struct sigaction& sa) {
    const bool info = (sa.sa_flags & SA_SIGINFO) != 0;
    if (!info && sa.sa_handler == SIG_DFL) return "SIG_DFL";
    if (!info && sa.sa_handler == SIG_IGN) return "SIG_IGN";
    void* fn = info ? reinterpret_cast<void*>(sa.sa_sigaction) : reinterpret_cast<void*>(sa.sa_handler);
    Dl_info where;
    if (dladdr(fn, &where) == 0) return "unknown";
    std::string module = where.dli_fname != nullptr ? where.dli_fname : "?";
    const auto slash = module.rfind('/');
    if (slash != std::string::npos) module.erase(0, slash + 1);
    return module + " " + (where.dli_sname != nullptr ? where.dli_sname : "?");
}

napi_value js_start(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2] = {nullptr, nullptr};
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    char database[4096] = {0};
    size_t length = 0;
    bool only = false;
    if (argc < 2 || napi_get_value_string_utf8(env, argv[0], database, sizeof(database), &length) != napi_ok ||
        napi_get_value_bool(env, argv[1], &only) != napi_ok) {
        napi_throw_type_error(env, nullptr, "start(database: string, onlyThisModule: boolean)");
        return nullptr;
    }
    struct sigaction before;
    std::memset(&before, 0, sizeof(before));
    sigaction(SIGSEGV, nullptr, &before);
    g_previous_handler = describe_handler(before);
    crashdrop::Options o;
    o.database_path = std::string(database, length);
    o.product_name = "crashdrop_addon";
    o.product_version = CRASHDROP_VERSION_STRING;
    o.helper_mode = crashdrop::HelperMode::fork;  // an addon cannot re-run node
    o.only_this_module = only;
    return status_text(env, crashdrop::start(o));
}

napi_value js_check_handlers(napi_env env, napi_callback_info) { return status_text(env, crashdrop::check_handlers()); }

napi_value js_previous_handler(napi_env env, napi_callback_info) { return text(env, g_previous_handler); }

}  // namespace

// Plain names (outside the anonymous namespace), kept as separate frames: the dump must name them.
extern "C" __attribute__((noinline)) void crashdrop_addon_crash_leaf() {
    *g_bad = 1;
    __asm__ volatile("");
}

extern "C" __attribute__((noinline)) napi_value crashdrop_addon_crash(napi_env, napi_callback_info) {
    crashdrop_addon_crash_leaf();
    __asm__ volatile("");
    return nullptr;
}

NAPI_MODULE_INIT() {
    const napi_property_descriptor methods[] = {
        {"start", nullptr, js_start, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"checkHandlers", nullptr, js_check_handlers, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"previousHandler", nullptr, js_previous_handler, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"crash", nullptr, crashdrop_addon_crash, nullptr, nullptr, nullptr, napi_default, nullptr},
    };
    napi_define_properties(env, exports, sizeof(methods) / sizeof(methods[0]), methods);
    return exports;
}
