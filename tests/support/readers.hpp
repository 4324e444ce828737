// tests/support/readers.hpp - runs the readers crashdrop did not write and parses what they
// print: Breakpad's minidump_stackwalk -m, minidump_dump and dump_syms (the npm "minidump"
// package's prebuilt binaries, found through CRASHDROP_MINIDUMP_TOOLS), lldb-14, and Sentry's
// sentry-cli (npm "@sentry/cli-linux-x64", found through CRASHDROP_SENTRY_CLI).
// When a reader is missing the test fails if CRASHDROP_REQUIRE_READERS=1 (the README's test
// command and CI set it); otherwise it warns and checks only what it can.
#pragma once

#include <sys/stat.h>

#include <cctype>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "json.hpp"
#include "process.hpp"

namespace testsupport {

inline bool file_exists(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

struct reader_tools {
    std::string stackwalk, minidump_dump, dump_syms, lldb, sentry_cli;
    bool breakpad = false;
    bool has_lldb = false;
    bool has_sentry_cli = false;
    bool required = false;
};

inline const reader_tools& tools() {
    static reader_tools t = [] {
        reader_tools r;
        const std::string dir = env_or("CRASHDROP_MINIDUMP_TOOLS", "");
        r.stackwalk = dir + "/minidump_stackwalk";
        r.minidump_dump = dir + "/minidump_dump";
        r.dump_syms = dir + "/dump_syms";
        r.breakpad = !dir.empty() && file_exists(r.stackwalk) && file_exists(r.minidump_dump) && file_exists(r.dump_syms);
        r.lldb = env_or("CRASHDROP_LLDB", "lldb-14");
        r.has_lldb = run_process({r.lldb, "--version"}, 30).exit_code() == 0;
        r.sentry_cli = env_or("CRASHDROP_SENTRY_CLI", "");
        r.has_sentry_cli = !r.sentry_cli.empty() && file_exists(r.sentry_cli);
        r.required = env_or("CRASHDROP_REQUIRE_READERS", "0") == "1";
        return r;
    }();
    return t;
}

inline std::string strip_params(std::string f) {
    // "ns::fn(int, char)" -> "ns::fn"; keeps "operator()" readable enough for tests.
    const auto p = f.find('(');
    if (p != std::string::npos && p > 0) f.resize(p);
    while (!f.empty() && f.back() == ' ') f.pop_back();
    return f;
}

// ---- symbols ---------------------------------------------------------------------------------

/// Breakpad symbol store under `dir`: dump_syms output stored as <name>/<id>/<name>.sym.
/// Returns the module's debug id as dump_syms computes it ("" on failure). Cached per path.
inline std::string ensure_symbols(const std::string& dir, const std::string& module_path) {
    static std::mutex m;
    static std::map<std::string, std::string> cache;
    std::lock_guard<std::mutex> lock(m);
    auto it = cache.find(module_path);
    if (it != cache.end()) return it->second;
    std::string id;
    run_result r = run_process({tools().dump_syms, module_path}, 120);
    if (r.exit_code() == 0) {
        const std::string first = r.out.substr(0, r.out.find('\n'));
        auto parts = split(first, ' ');  // MODULE Linux x86_64 ID name
        if (parts.size() >= 5 && parts[0] == "MODULE") {
            id = parts[3];
            const std::string name = parts[4];
            const std::string folder = dir + "/" + name + "/" + id;
            run_process({"mkdir", "-p", folder}, 30);
            const std::string tmp = folder + "/" + name + ".sym.tmp" + std::to_string(getpid());
            FILE* f = fopen(tmp.c_str(), "wb");
            if (f) {
                fwrite(r.out.data(), 1, r.out.size(), f);
                fclose(f);
                rename(tmp.c_str(), (folder + "/" + name + ".sym").c_str());
            }
        }
    }
    cache[module_path] = id;
    return id;
}

// ---- minidump_stackwalk -m ------------------------------------------------------------------

struct sw_frame {
    std::string module;
    std::string function;  // without parameters
    std::string trust;
};
struct sw_module {
    std::string name, debug_file, debug_id;
    std::uint64_t base = 0, end = 0;
};
struct stackwalk_result {
    run_result run;
    std::string os, cpu, reason, address;
    int crash_thread = -1;
    std::vector<sw_module> modules;
    std::map<int, std::vector<sw_frame>> threads;

    std::vector<std::string> functions(int thread) const {
        std::vector<std::string> out;
        auto it = threads.find(thread);
        if (it != threads.end()) {
            for (const auto& f : it->second) out.push_back(f.function);
        }
        return out;
    }
};

inline stackwalk_result stackwalk(const std::string& dump, const std::string& symbol_dir) {
    stackwalk_result s;
    s.run = run_process({tools().stackwalk, "-m", dump, symbol_dir}, 120);
    for (const auto& line : split(s.run.out, '\n')) {
        auto f = split(line, '|');
        if (f[0] == "OS" && f.size() >= 3) s.os = f[1] + " " + f[2];
        else if (f[0] == "CPU" && f.size() >= 2) s.cpu = f[1];
        else if (f[0] == "Crash" && f.size() >= 4) {
            s.reason = f[1];
            s.address = f[2];
            s.crash_thread = f[3].empty() ? -1 : std::atoi(f[3].c_str());
        } else if (f[0] == "Module" && f.size() >= 8) {
            sw_module m;
            m.name = f[1];
            m.debug_file = f[3];
            m.debug_id = f[4];
            m.base = std::strtoull(f[5].c_str(), nullptr, 16);
            m.end = std::strtoull(f[6].c_str(), nullptr, 16);
            s.modules.push_back(m);
        } else if (f.size() >= 7 && !f[0].empty() && f[0][0] >= '0' && f[0][0] <= '9') {
            sw_frame fr;
            fr.module = f[2];
            fr.function = strip_params(f[3]);
            s.threads[std::atoi(f[0].c_str())].push_back(fr);
        }
    }
    return s;
}

// ---- minidump_dump --------------------------------------------------------------------------

/// One module as minidump_dump prints it: the fields it derives from the MINIDUMP_MODULE and
/// its CodeView record ("(code_identifier)", "(debug_identifier)").
struct dd_module {
    std::string code_file, code_identifier, debug_file, debug_identifier;
};
struct dump_result {
    run_result run;
    std::vector<dd_module> modules;
    int thread_count = -1;
    std::map<std::string, std::string> annotations;  // Crashpad simple annotations
    std::map<std::uint32_t, std::string> thread_names;
};

inline dump_result minidump_dump(const std::string& dump) {
    dump_result d;
    d.run = run_process({tools().minidump_dump, dump}, 120);
    std::uint32_t last_tid = 0;
    for (const auto& line : split(d.run.out, '\n')) {
        if (line.rfind("module[", 0) == 0) d.modules.emplace_back();
        if (line.rfind("  (", 0) == 0 && !d.modules.empty()) {
            const auto close = line.find(')');
            const auto eq = line.find(" = ");
            if (close != std::string::npos && eq != std::string::npos && close < eq) {
                const std::string key = line.substr(3, close - 3);
                std::string value = line.substr(eq + 3);
                if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
                dd_module& m = d.modules.back();
                if (key == "code_file") m.code_file = value;
                else if (key == "code_identifier") m.code_identifier = value;
                else if (key == "debug_file") m.debug_file = value;
                else if (key == "debug_identifier") m.debug_identifier = value;
            }
        }
        if (line.rfind("  thread_count = ", 0) == 0) d.thread_count = std::atoi(line.c_str() + 17);
        const std::string ann = "  simple_annotations[\"";
        if (line.rfind(ann, 0) == 0) {
            const auto close = line.find("\"] = ", ann.size());
            if (close != std::string::npos) d.annotations[line.substr(ann.size(), close - ann.size())] = line.substr(close + 5);
        }
        if (line.rfind("  thread_id                   = 0x", 0) == 0) last_tid = static_cast<std::uint32_t>(std::strtoul(line.c_str() + 34, nullptr, 16));
        const std::string tn = "  thread_name                 = \"";
        if (line.rfind(tn, 0) == 0 && line.size() > tn.size()) d.thread_names[last_tid] = line.substr(tn.size(), line.size() - tn.size() - 1);
    }
    return d;
}

// ---- sentry-cli debug-files check --json ----------------------------------------------------

/// What Sentry's CLI reports for one file: its single variant's debug id (Sentry's form, e.g.
/// "d39d7d4e-9216-884f-e2fb-3fb748f040af", an age other than 0 appended as "-<hex>") and code
/// id (lowercase hex of the whole build id; none for a file without one).
struct sentry_file_ids {
    run_result run;
    bool ok = false;  // the output parsed, with exactly one variant
    std::string debug_id, code_id, arch;
    bool has_code_id = false;
};

inline sentry_file_ids sentry_check(const std::string& file) {
    sentry_file_ids s;
    // No update check (a network request) and no log noise mixed into the JSON.
    s.run = run_process({tools().sentry_cli, "--log-level=error", "debug-files", "check", "--json", file}, 120,
                        {"SENTRY_DISABLE_UPDATE_CHECK=1", "SENTRY_LOAD_DOTENV=0"});
    bool parsed = false;
    const json j = json::parse(s.run.out, &parsed);
    if (!parsed || s.run.exit_code() != 0 || j["variants"].array.size() != 1) return s;
    const json& v = j["variants"][0];
    s.debug_id = v["debug_id"].str();
    s.has_code_id = v["code_id"].kind == json::string_v;
    s.code_id = v["code_id"].str();
    s.arch = v["arch"].str();
    s.ok = !s.debug_id.empty();
    return s;
}

/// Sentry's debug id in Breakpad's form (what minidump_stackwalk and minidump_dump print): the
/// UUID's 32 hex digits without dashes, uppercase, then the age in hex (Sentry writes an age
/// of 0 as nothing, Breakpad as "0"). The byte order is already the same in both: each prints
/// the GUID's first three fields as numbers. "" when `id` is not of that form.
inline std::string breakpad_id_from_sentry(const std::string& id) {
    std::string hex, age = "0";
    const auto parts = split(id, '-');
    if (parts.size() != 5 && parts.size() != 6) return "";
    const std::size_t widths[5] = {8, 4, 4, 4, 12};
    for (std::size_t i = 0; i < 5; ++i) {
        if (parts[i].size() != widths[i]) return "";
        hex += parts[i];
    }
    if (parts.size() == 6) age = parts[5];
    std::string out = hex + age;
    for (char& ch : out) {
        if (!std::isxdigit(static_cast<unsigned char>(ch))) return "";
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    return out;
}

// ---- lldb -----------------------------------------------------------------------------------

struct lldb_thread {
    int index = 0;
    std::uint64_t tid = 0;
    bool selected = false;
    std::string stop_reason;
    std::vector<std::string> functions;
};
struct lldb_result {
    run_result run;
    std::vector<lldb_thread> threads;
    const lldb_thread* stopped() const {
        for (const auto& t : threads) {
            if (t.selected) return &t;
        }
        return nullptr;
    }
};

/// `lldb -b -c DUMP -o "thread list" -o "bt all"`, with extra search paths for modules.
inline lldb_result lldb(const std::string& dump, const std::vector<std::string>& search_paths = {}) {
    lldb_result l;
    std::vector<std::string> argv = {tools().lldb, "-b"};
    for (const auto& p : search_paths) {
        argv.push_back("-O");
        argv.push_back("settings append target.exec-search-paths " + p);
    }
    argv.insert(argv.end(), {"-c", dump, "-o", "thread list", "-o", "bt all"});
    l.run = run_process(argv, 180, {"PYTHONPATH=/usr/lib/llvm-14/lib/python3.11/dist-packages"});
    bool in_bt = false;
    lldb_thread* cur = nullptr;
    for (const auto& raw : split(l.run.out, '\n')) {
        std::string line = raw;
        if (line.find("(lldb) bt all") != std::string::npos) {
            in_bt = true;
            continue;
        }
        const auto th = line.find("thread #");
        if (th != std::string::npos && line.find("frame #") == std::string::npos) {
            const int index = std::atoi(line.c_str() + th + 8);
            if (!in_bt) {
                lldb_thread t;
                t.index = index;
                t.selected = line.find('*') != std::string::npos && line.find('*') < th;
                const auto tid = line.find("tid = ");
                if (tid != std::string::npos) t.tid = std::strtoull(line.c_str() + tid + 6, nullptr, 10);
                const auto sr = line.find("stop reason = ");
                if (sr != std::string::npos) t.stop_reason = line.substr(sr + 14);
                l.threads.push_back(t);
            } else {
                cur = nullptr;
                for (auto& t : l.threads) {
                    if (t.index == index) cur = &t;
                }
            }
            continue;
        }
        if (in_bt && cur != nullptr && line.find("frame #") != std::string::npos) {
            const auto tick = line.find('`');
            std::string fn;
            if (tick != std::string::npos) {
                fn = line.substr(tick + 1);
                for (const char* cut : {" at ", " + "}) {
                    const auto c = fn.find(cut);
                    if (c != std::string::npos) fn.resize(c);
                }
                fn = strip_params(fn);
                if (fn.rfind("::", 0) == 0) fn.erase(0, 2);  // lldb writes file-local functions as ::name
            }
            cur->functions.push_back(fn);
        }
    }
    return l;
}

}  // namespace testsupport
