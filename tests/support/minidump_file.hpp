// tests/support/minidump_file.hpp - just enough of a minidump reader for tests to look at what
// the real readers do not print: the raw stream directory, thread ids in ThreadList order, the
// exception's thread, and crashdrop's writer-errors stream. Validated against the dumps
// written by Breakpad and Crashpad in ../shared/testdata/minidumps (tests/unit/reader_test).
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "process.hpp"

namespace testsupport {

struct minidump_file {
    std::vector<std::uint8_t> bytes;
    std::vector<std::uint32_t> stream_order;                           // types, directory order
    std::map<std::uint32_t, std::pair<std::uint32_t, std::uint32_t>> streams;  // type -> (rva, size)
    bool valid = false;

    template <typename T>
    bool get(std::uint64_t at, T* out) const {
        if (at + sizeof(T) > bytes.size()) return false;
        std::memcpy(out, bytes.data() + at, sizeof(T));
        return true;
    }

    bool load(const std::string& path) {
        std::string s = read_text_file(path);
        bytes.assign(s.begin(), s.end());
        std::uint32_t sig = 0, version = 0, count = 0, dir = 0;
        if (!get(0, &sig) || sig != 0x504d444du || !get(4, &version) || !get(8, &count) || !get(12, &dir)) return false;
        if ((version & 0xffffu) != 0xa793u) return false;
        for (std::uint32_t i = 0; i < count; ++i) {
            std::uint32_t type = 0, size = 0, rva = 0;
            if (!get(dir + 12ull * i, &type) || !get(dir + 12ull * i + 4, &size) || !get(dir + 12ull * i + 8, &rva)) return false;
            if (type == 0) continue;
            if (std::uint64_t{rva} + size > bytes.size()) return false;
            stream_order.push_back(type);
            streams[type] = {rva, size};
        }
        valid = true;
        return true;
    }

    bool has(std::uint32_t type) const { return streams.count(type) != 0; }

    std::string stream_bytes(std::uint32_t type) const {
        auto it = streams.find(type);
        if (it == streams.end()) return {};
        return std::string(reinterpret_cast<const char*>(bytes.data()) + it->second.first, it->second.second);
    }

    /// Thread ids in ThreadList order (the order minidump_stackwalk numbers threads in).
    std::vector<std::uint32_t> thread_ids() const {
        std::vector<std::uint32_t> ids;
        auto it = streams.find(3);
        if (it == streams.end()) return ids;
        std::uint32_t count = 0;
        get(it->second.first, &count);
        for (std::uint32_t i = 0; i < count; ++i) {
            std::uint32_t tid = 0;
            if (get(it->second.first + 4 + 48ull * i, &tid)) ids.push_back(tid);
        }
        return ids;
    }

    /// ThreadList entry i: stack start and size.
    bool thread_stack(std::uint32_t i, std::uint64_t* start, std::uint32_t* size) const {
        auto it = streams.find(3);
        if (it == streams.end()) return false;
        const std::uint64_t at = it->second.first + 4 + 48ull * i;
        return get(at + 24, start) && get(at + 32, size);
    }

    std::uint32_t exception_thread() const {
        auto it = streams.find(6);
        std::uint32_t tid = 0;
        if (it != streams.end()) get(it->second.first, &tid);
        return tid;
    }

    std::uint32_t exception_code() const {
        auto it = streams.find(6);
        std::uint32_t code = 0;
        if (it != streams.end()) get(it->second.first + 8, &code);
        return code;
    }

    /// MINIDUMP_STRING at rva, as UTF-8 (ASCII is enough for tests).
    std::string utf16_string(std::uint32_t rva) const {
        std::uint32_t len = 0;
        if (!get(rva, &len)) return {};
        std::string s;
        for (std::uint32_t i = 0; i + 1 < len + 1 && i < len; i += 2) {
            std::uint16_t c = 0;
            get(rva + 4 + i, &c);
            s += c < 0x80 ? static_cast<char>(c) : '?';
        }
        return s;
    }

    /// Module base -> name, from ModuleList.
    std::map<std::uint64_t, std::string> modules() const {
        std::map<std::uint64_t, std::string> out;
        auto it = streams.find(4);
        if (it == streams.end()) return out;
        std::uint32_t count = 0;
        get(it->second.first, &count);
        for (std::uint32_t i = 0; i < count; ++i) {
            const std::uint64_t at = it->second.first + 4 + 108ull * i;
            std::uint64_t base = 0;
            std::uint32_t name_rva = 0;
            get(at, &base);
            get(at + 20, &name_rva);
            out[base] = utf16_string(name_rva);
        }
        return out;
    }
};

}  // namespace testsupport
