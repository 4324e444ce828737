// upload_support.hpp - what the upload suites share to look at a report's way from outside:
// tools/collector.py started as the server (what it received, request by request), and the
// crash database as the helper left it (reports per folder, their .meta, helper.log).
// Context: test code (the test process, never the application under test).
#pragma once

#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "json.hpp"
#include "process.hpp"
#include "readers.hpp"

namespace testsupport {

/// The names in a folder (no dot files), sorted; empty if it cannot be read.
inline std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            if (e->d_name[0] != '.') out.emplace_back(e->d_name);
        }
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

/// An empty folder at `dir` (whatever was there is removed).
inline std::string fresh_folder(const std::string& dir) {
    run_process({"rm", "-rf", dir}, 30);
    run_process({"mkdir", "-p", dir}, 30);
    return dir;
}

/// A .meta value as the database writes it (percent-encoded) turned back into its bytes.
inline std::string percent_decode(const std::string& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '%' && i + 2 < v.size()) {
            out += static_cast<char>(std::strtol(v.substr(i + 1, 2).c_str(), nullptr, 16));
            i += 2;
        } else {
            out += v[i];
        }
    }
    return out;
}

/// tools/collector.py, serving on a free port of 127.0.0.1; each request it received is a
/// numbered folder of `dir` (request.json, fields.json, files/).
struct collector {
    background_process proc;
    std::string base;
    std::string dir;
    int port = 0;

    void start(const std::string& test_dir, const std::vector<std::string>& extra = {}) {
        base = test_dir + "/collector";
        dir = base + "/received";
        run_process({"mkdir", "-p", base}, 30);
        std::vector<std::string> argv = {"python3", COLLECTOR_PY, "serve", "--out", dir, "--port-file", base + "/port"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        REQUIRE(proc.start(argv, base + "/log"));
        REQUIRE(eventually(20, [&] { return file_exists(base + "/port"); }));
        port = std::atoi(read_text_file(base + "/port").c_str());
        REQUIRE(port > 0);
    }
    std::string url(const std::string& scheme = "http", const std::string& host = "127.0.0.1") const {
        return scheme + "://" + host + ":" + std::to_string(port) + "/submit";
    }
    /// The requests received so far, oldest first (folder names).
    std::vector<std::string> folders() const {
        std::vector<std::string> out;
        for (const auto& n : list_dir(dir)) {
            if (!n.empty() && n.find_first_not_of("0123456789") == std::string::npos) out.push_back(n);
        }
        return out;
    }
    std::size_t count() const { return folders().size(); }
    bool wait_count(std::size_t n, double timeout = 30) const {
        return eventually(timeout, [&] { return count() >= n; });
    }
    json request(std::size_t i) const { return request_in(folders().at(i)); }
    json fields(std::size_t i) const { return fields_in(folders().at(i)); }
    json request_in(const std::string& folder) const { return json::parse(read_text_file(dir + "/" + folder + "/request.json")); }
    json fields_in(const std::string& folder) const { return json::parse(read_text_file(dir + "/" + folder + "/fields.json")); }
    std::string file(std::size_t i, const std::string& name) const {
        return read_text_file(dir + "/" + folders().at(i) + "/files/" + name);
    }
    std::string log() const { return read_text_file(base + "/log"); }
    /// Report id -> how many times it arrived (the multipart boundary names the report).
    std::map<std::string, int> received_ids() const {
        std::map<std::string, int> ids;
        static const std::regex boundary("crashdrop-([0-9a-f-]{36})");
        for (const auto& f : folders()) {
            const std::string headers = read_text_file(dir + "/" + f + "/request.json");
            std::smatch m;
            ids[std::regex_search(headers, m, boundary) ? m[1].str() : "?" + f] += 1;
        }
        return ids;
    }
};

/// A crash database as the helpers left it.
struct database_view {
    std::string root;
    /// The report ids of a folder (pending, completed).
    std::vector<std::string> ids(const std::string& folder) const {
        std::vector<std::string> out;
        for (const auto& n : list_dir(root + "/" + folder)) {
            if (n.size() == 40 && n.compare(36, 4, ".dmp") == 0) out.push_back(n.substr(0, 36));
        }
        return out;
    }
    /// A report's metadata, decoded.
    std::map<std::string, std::string> meta(const std::string& folder, const std::string& id) const {
        std::map<std::string, std::string> kv;
        for (const auto& line : split(read_text_file(root + "/" + folder + "/" + id + ".meta"), '\n')) {
            const auto eq = line.find('=');
            if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
            kv[line.substr(0, eq)] = percent_decode(line.substr(eq + 1));
        }
        return kv;
    }
    std::string helper_log() const { return read_text_file(root + "/helper.log"); }
    /// How often `what` stands in the helpers' logs (the rotated one included).
    std::size_t count_in_logs(const std::string& what) const {
        std::size_t n = 0;
        const std::string log = read_text_file(root + "/helper.log.1") + helper_log();
        for (std::size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
        return n;
    }
    std::size_t helper_exits() const { return count_in_logs("helper exits"); }
    /// Waits until `n` helpers have exited (each run's helper ends after its application).
    bool wait_helpers_done(std::size_t n, double timeout = 30) const {
        return eventually(timeout, [&] { return helper_exits() >= n; });
    }
    /// The lines of helper.log that report a problem: anything not sent, stored, repaired
    /// or completed as it should have been.
    std::vector<std::string> problem_lines() const {
        static const char* const k_problems[] = {"could not", "cannot", "unreadable", "missing", "failed",
                                                 "taken over", "abandoned", "error"};
        std::vector<std::string> out;
        for (const auto& line : split(helper_log(), '\n')) {
            for (const char* p : k_problems) {
                if (line.find(p) != std::string::npos) {
                    out.push_back(line);
                    break;
                }
            }
        }
        return out;
    }
    /// The pids of the helpers that started on this database, in order.
    std::vector<int> helper_pids() const {
        std::vector<int> pids;
        const std::string log = helper_log();
        for (auto at = log.find("helper started (pid "); at != std::string::npos; at = log.find("helper started (pid ", at + 1)) {
            pids.push_back(std::atoi(log.c_str() + at + 20));
        }
        return pids;
    }
};

}  // namespace testsupport
