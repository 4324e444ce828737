// tests/support/json.hpp - a small JSON reader for tests (objects, arrays, strings with escapes,
// numbers, true/false/null): enough to read what tools/collector.py records.
#pragma once

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace testsupport {

struct json {
    enum kind_t { null_v, bool_v, number_v, string_v, array_v, object_v } kind = null_v;
    bool boolean = false;
    double number = 0;
    std::string string;
    std::vector<json> array;
    std::map<std::string, json> object;

    const json& operator[](const std::string& key) const {
        static const json missing;
        auto it = object.find(key);
        return it == object.end() ? missing : it->second;
    }
    const json& operator[](std::size_t i) const {
        static const json missing;
        return i < array.size() ? array[i] : missing;
    }
    bool has(const std::string& key) const { return object.count(key) != 0; }
    std::string str() const { return kind == string_v ? string : kind == number_v ? std::to_string(static_cast<long long>(number)) : ""; }
    long long integer() const { return static_cast<long long>(number); }

    static json parse(const std::string& text, bool* ok = nullptr) {
        std::size_t pos = 0;
        bool good = true;
        json j = parse_value(text, pos, good);
        skip(text, pos);
        if (pos != text.size()) good = false;
        if (ok != nullptr) *ok = good;
        return j;
    }

private:
    static void skip(const std::string& t, std::size_t& p) {
        while (p < t.size() && (t[p] == ' ' || t[p] == '\n' || t[p] == '\r' || t[p] == '\t')) ++p;
    }
    static std::string parse_string(const std::string& t, std::size_t& p, bool& ok) {
        std::string out;
        ++p;  // opening quote
        while (p < t.size() && t[p] != '"') {
            char c = t[p++];
            if (c != '\\') {
                out += c;
                continue;
            }
            if (p >= t.size()) break;
            c = t[p++];
            switch (c) {
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'u': {
                    const unsigned cp = static_cast<unsigned>(std::strtoul(t.substr(p, 4).c_str(), nullptr, 16));
                    p += 4;
                    if (cp < 0x80) out += static_cast<char>(cp);
                    else if (cp < 0x800) {
                        out += static_cast<char>(0xc0 | (cp >> 6));
                        out += static_cast<char>(0x80 | (cp & 0x3f));
                    } else {
                        out += static_cast<char>(0xe0 | (cp >> 12));
                        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
                        out += static_cast<char>(0x80 | (cp & 0x3f));
                    }
                    break;
                }
                default: out += c;
            }
        }
        if (p >= t.size()) ok = false;
        ++p;  // closing quote
        return out;
    }
    static json parse_value(const std::string& t, std::size_t& p, bool& ok) {
        json j;
        skip(t, p);
        if (p >= t.size()) {
            ok = false;
            return j;
        }
        const char c = t[p];
        if (c == '{') {
            j.kind = object_v;
            ++p;
            skip(t, p);
            if (p < t.size() && t[p] == '}') {
                ++p;
                return j;
            }
            while (ok && p < t.size()) {
                skip(t, p);
                if (t[p] != '"') {
                    ok = false;
                    break;
                }
                const std::string key = parse_string(t, p, ok);
                skip(t, p);
                if (p >= t.size() || t[p] != ':') {
                    ok = false;
                    break;
                }
                ++p;
                j.object[key] = parse_value(t, p, ok);
                skip(t, p);
                if (p < t.size() && t[p] == ',') {
                    ++p;
                    continue;
                }
                if (p < t.size() && t[p] == '}') {
                    ++p;
                    break;
                }
                ok = false;
            }
        } else if (c == '[') {
            j.kind = array_v;
            ++p;
            skip(t, p);
            if (p < t.size() && t[p] == ']') {
                ++p;
                return j;
            }
            while (ok && p < t.size()) {
                j.array.push_back(parse_value(t, p, ok));
                skip(t, p);
                if (p < t.size() && t[p] == ',') {
                    ++p;
                    continue;
                }
                if (p < t.size() && t[p] == ']') {
                    ++p;
                    break;
                }
                ok = false;
            }
        } else if (c == '"') {
            j.kind = string_v;
            j.string = parse_string(t, p, ok);
        } else if (t.compare(p, 4, "true") == 0) {
            j.kind = bool_v;
            j.boolean = true;
            p += 4;
        } else if (t.compare(p, 5, "false") == 0) {
            j.kind = bool_v;
            p += 5;
        } else if (t.compare(p, 4, "null") == 0) {
            p += 4;
        } else {
            char* end = nullptr;
            j.kind = number_v;
            j.number = std::strtod(t.c_str() + p, &end);
            if (end == t.c_str() + p) ok = false;
            p = static_cast<std::size_t>(end - t.c_str());
        }
        return j;
    }
};

}  // namespace testsupport
