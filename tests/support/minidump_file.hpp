// tests/support/minidump_file.hpp - just enough of a minidump reader for tests to look at what
// the real readers do not print: the raw stream directory, thread ids in ThreadList order, the
// exception's thread, and crashdrop's writer-errors stream. Validated against the dumps
// written by Breakpad and Crashpad in ../shared/testdata/minidumps (tests/unit/reader_test).
#pragma once

#include <algorithm>
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

    bool load(const std::string& path) { return load_bytes(read_text_file(path)); }

    /// The same for a dump already in memory.
    bool load_bytes(const std::string& s) {
        bytes.assign(s.begin(), s.end());
        stream_order.clear();
        streams.clear();
        valid = false;
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
            if (!get(it->second.first + 4 + 48ull * i, &tid)) break;  // a count larger than the file
            ids.push_back(tid);
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
        for (std::uint64_t i = 0; i < std::uint64_t{len}; i += 2) {
            std::uint16_t c = 0;
            if (!get(rva + 4 + i, &c)) break;  // a length larger than the file
            s += c < 0x80 ? static_cast<char>(c) : '?';
        }
        return s;
    }

    /// SystemInfo's processor_architecture (9 = AMD64, 12 = ARM64).
    std::uint16_t architecture() const {
        auto it = streams.find(7);
        std::uint16_t arch = 0;
        if (it != streams.end()) get(it->second.first, &arch);
        return arch;
    }

    /// Instruction and stack pointer from ThreadList entry i's context.
    bool thread_ip_sp(std::uint32_t i, std::uint64_t* ip, std::uint64_t* sp) const {
        auto it = streams.find(3);
        if (it == streams.end()) return false;
        std::uint32_t ctx_rva = 0;
        if (!get(it->second.first + 4 + 48ull * i + 44, &ctx_rva)) return false;
        // AMD64 CONTEXT: Rsp at 0x98, Rip at 0xf8. ARM64: Sp at 0x100, Pc at 0x108.
        const bool arm64 = architecture() == 12;
        return get(ctx_rva + (arm64 ? 0x108u : 0xf8u), ip) && get(ctx_rva + (arm64 ? 0x100u : 0x98u), sp);
    }

    /// ThreadList entry i's context: its size and its context_flags (the first 4 bytes on both
    /// AMD64 and ARM64).
    bool thread_context(std::uint32_t i, std::uint32_t* size, std::uint32_t* flags) const {
        auto it = streams.find(3);
        if (it == streams.end()) return false;
        std::uint32_t ctx_rva = 0;
        const std::uint64_t entry = it->second.first + 4 + 48ull * i;
        if (!get(entry + 40, size) || !get(entry + 44, &ctx_rva)) return false;
        // AMD64 CONTEXT starts with six home registers; its ContextFlags is at 0x30.
        return get(ctx_rva + (architecture() == 12 ? 0u : 0x30u), flags);
    }

    /// MemoryList ranges as [start, end).
    std::vector<std::pair<std::uint64_t, std::uint64_t>> memory_ranges() const {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> r;
        auto it = streams.find(5);
        if (it == streams.end()) return r;
        std::uint32_t count = 0;
        get(it->second.first, &count);
        for (std::uint32_t i = 0; i < count; ++i) {
            std::uint64_t start = 0;
            std::uint32_t size = 0;
            if (!get(it->second.first + 4 + 16ull * i, &start) || !get(it->second.first + 4 + 16ull * i + 8, &size)) break;
            r.emplace_back(start, start + size);
        }
        return r;
    }

    /// Is addr inside a MemoryList range?
    bool memory_covers(std::uint64_t addr) const {
        for (const auto& r : memory_ranges()) {
            if (addr >= r.first && addr < r.second) return true;
        }
        return false;
    }

    /// True when no two MemoryList ranges overlap (Breakpad's reader rejects overlaps).
    bool memory_ranges_disjoint() const {
        auto r = memory_ranges();
        std::sort(r.begin(), r.end());
        for (std::size_t i = 1; i < r.size(); ++i) {
            if (r[i].first < r[i - 1].second) return false;
        }
        return true;
    }

    /// The names in the LinuxDsoDebug stream's link_map list (Breakpad's MDRawDebug64).
    std::vector<std::string> dso_names(std::uint32_t* version = nullptr) const {
        std::vector<std::string> names;
        auto it = streams.find(0x4767000au);
        if (it == streams.end()) return names;
        std::uint32_t v = 0, map = 0, count = 0;
        get(it->second.first, &v);
        get(it->second.first + 4, &map);
        get(it->second.first + 8, &count);
        if (version) *version = v;
        for (std::uint32_t i = 0; i < count; ++i) {
            std::uint32_t name = 0;
            if (!get(map + 24ull * i + 8, &name)) break;
            names.push_back(utf16_string(name));
        }
        return names;
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
            if (!get(at, &base) || !get(at + 20, &name_rva)) break;
            out[base] = utf16_string(name_rva);
        }
        return out;
    }
};

}  // namespace testsupport
