// crashdrop/minidump/trim.hpp - makes a finished minidump smaller so that a report fits an upload
// budget (Options::max_upload_bytes): stacks are cut short and memory ranges dropped, and the bytes
// nothing references any more are taken out of the file.
//
// A stack range starts at (or just below) its thread's stack pointer, so keeping its first bytes
// keeps the innermost frames, the part an unwinder reads first. Cutting is done by shortening the
// MINIDUMP_MEMORY_DESCRIPTORs of the thread list and memory list (their start address stays), then
// removing the freed bytes from the file and moving every RVA behind them down. That needs every
// RVA in the file: the streams whose layout is known here are fixed up (thread list, memory list,
// exception, module list, thread names, system info, Crashpad info with its annotation dictionary,
// Linux DSO debug; Windows' unloaded modules and handle data, wine's host module list); a stream
// type not known to hold no RVAs makes the call refuse. Dropped memory-list descriptors are taken
// out of the file too (wine's dbghelp lists every function's unwind data as a range of its own:
// thousands of descriptors, more bytes than the ranges). Removed lengths are multiples of 16, so
// what follows keeps its alignment. Every offset and size read
// from the dump is checked; bad input gives false and a message, and a failed call leaves the
// dump unchanged.
// Context: implementation TU; ordinary code (helper process), may allocate.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// What dump_trim is asked to do. Limits are bytes kept of a stack (from its low end, the
/// stack pointer); ~0 leaves stacks as they are.
struct trim_request {
    std::uint64_t other_stack_max = ~std::uint64_t{0};    // each thread's stack but the crashing one's
    std::uint64_t crashed_stack_max = ~std::uint64_t{0};  // the crashing thread's stack
    bool drop_memory = false;  // drop memory-list ranges that are no thread's stack (memory around registers)
};

/// What dump_trim did.
struct trim_result {
    std::size_t stacks_cut = 0;       // stacks made shorter
    std::size_t ranges_dropped = 0;   // memory-list ranges removed
    std::uint64_t bytes_removed = 0;  // the file is this much shorter
};

/// The id of the crashing thread (the exception stream's), or false when the dump has none.
CRASHDROP_COLD inline bool dump_crashed_thread(const std::string& dump, const dump_index& index, std::uint32_t* tid) {
    const minidump::directory* e = dump_find_stream(index, minidump::stream_exception);
    if (e == nullptr || e->location.data_size < sizeof(minidump::exception_stream)) return false;
    return dump_bytes_at(dump, e->location.rva, tid, 4);
}

/// Stream types that hold no RVAs (their bytes can move as a whole).
CRASHDROP_COLD inline bool trim_stream_without_rvas(std::uint32_t type) {
    switch (type) {
        case minidump::stream_unused:
        case minidump::stream_comment_a:
        case minidump::stream_comment_w:
        case minidump::stream_misc_info:
        case minidump::stream_memory_info_list:
        case minidump::stream_thread_info_list:
        case minidump::stream_token:
        case minidump::stream_system_memory_info:
        case minidump::stream_process_vm_counters:
        case minidump::stream_linux_cpu_info:
        case minidump::stream_linux_proc_status:
        case minidump::stream_linux_lsb_release:
        case minidump::stream_linux_cmd_line:
        case minidump::stream_linux_environ:
        case minidump::stream_linux_auxv:
        case minidump::stream_linux_maps:
        case minidump::stream_crashdrop_writer_errors:
        case minidump::stream_crashdrop_context:
            return true;
        default:
            return false;
    }
}

CRASHDROP_COLD inline bool dump_trim_once(std::string* dump, const trim_request& req, trim_result* out, std::string* error) {
    *out = trim_result{};
    dump_index index;
    if (!dump_read_index(*dump, &index, error)) return false;
    const std::uint64_t file_size = dump->size();
    std::string work = *dump;  // changed here; copied back only when everything went well
    std::uint32_t crashed = 0;
    const bool has_crashed = dump_crashed_thread(*dump, index, &crashed);

    // 1. The memory ranges: where each one is, and how much of it stays.
    struct range {
        std::uint64_t rva, size, keep;
    };
    std::vector<range> ranges;
    std::vector<std::uint64_t> stack_rvas;
    auto in_file = [&](std::uint64_t at, std::uint64_t size) { return at <= file_size && file_size - at >= size; };
    auto keep_of = [](std::uint64_t size, std::uint64_t max) {
        if (size <= max) return size;
        const std::uint64_t removed = (size - max) / 16 * 16;  // whole 16-byte blocks (alignment)
        return size - removed;
    };
    const minidump::directory* threads = dump_find_stream(index, minidump::stream_thread_list);
    std::uint32_t thread_count = 0;
    if (threads != nullptr) {
        const std::uint64_t at = threads->location.rva;
        if (!dump_bytes_at(work, at, &thread_count, 4) || !in_file(at, threads->location.data_size) ||
            std::uint64_t{thread_count} * sizeof(minidump::thread) + 4 > threads->location.data_size) {
            return amend_fail(error, "the thread list at " + amend_hex(at) + " is damaged");
        }
        for (std::uint32_t i = 0; i < thread_count; ++i) {
            minidump::thread t;
            std::memcpy(&t, work.data() + at + 4 + std::uint64_t{i} * sizeof(t), sizeof(t));
            if (!in_file(t.stack.memory.rva, t.stack.memory.data_size)) {
                return amend_fail(error, "thread " + std::to_string(t.thread_id) + ": its stack lies outside the file");
            }
            if (t.stack.memory.data_size == 0) continue;
            const std::uint64_t max = (has_crashed && t.thread_id == crashed) ? req.crashed_stack_max : req.other_stack_max;
            ranges.push_back({t.stack.memory.rva, t.stack.memory.data_size, keep_of(t.stack.memory.data_size, max)});
            stack_rvas.push_back(t.stack.memory.rva);
        }
    }
    const minidump::directory* memory = dump_find_stream(index, minidump::stream_memory_list);
    std::uint32_t memory_count = 0;
    std::uint32_t memory_kept = 0;  // descriptors that stay in the memory list
    if (memory != nullptr) {
        const std::uint64_t at = memory->location.rva;
        if (!dump_bytes_at(work, at, &memory_count, 4) || !in_file(at, memory->location.data_size) ||
            std::uint64_t{memory_count} * sizeof(minidump::memory_descriptor) + 4 > memory->location.data_size) {
            return amend_fail(error, "the memory list at " + amend_hex(at) + " is damaged");
        }
        for (std::uint32_t i = 0; i < memory_count; ++i) {
            minidump::memory_descriptor d;
            std::memcpy(&d, work.data() + at + 4 + std::uint64_t{i} * sizeof(d), sizeof(d));
            if (!in_file(d.memory.rva, d.memory.data_size)) {
                return amend_fail(error, "memory range " + amend_hex(d.start_of_memory_range) + " lies outside the file");
            }
            const bool is_stack = std::find(stack_rvas.begin(), stack_rvas.end(), d.memory.rva) != stack_rvas.end();
            if (is_stack || !req.drop_memory) ++memory_kept;
            if (d.memory.data_size == 0) continue;
            if (is_stack) continue;  // the thread list decides how much of a stack stays
            ranges.push_back({d.memory.rva, d.memory.data_size, req.drop_memory ? 0 : d.memory.data_size});
        }
    }
    if (index.header.stream_count > 0) {
        for (const auto& e : index.entries) {
            if (e.stream_type == minidump::stream_memory64_list) return amend_fail(error, "a full-memory dump (Memory64List) is not trimmed");
        }
    }
    // The same bytes listed twice (a stack in both lists) keep the larger part; ranges that
    // overlap otherwise are refused.
    std::sort(ranges.begin(), ranges.end(), [](const range& a, const range& b) { return a.rva < b.rva; });
    std::vector<range> merged;
    for (const range& r : ranges) {
        if (!merged.empty() && merged.back().rva == r.rva && merged.back().size == r.size) {
            merged.back().keep = std::max(merged.back().keep, r.keep);
            continue;
        }
        if (!merged.empty() && merged.back().rva + merged.back().size > r.rva) {
            return amend_fail(error, "memory ranges overlap in the file at " + amend_hex(r.rva));
        }
        merged.push_back(r);
    }
    // Removed file intervals [from, to), sorted; their lengths are multiples of 16.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> removed;
    for (const range& r : merged) {
        if (r.keep < r.size) removed.emplace_back(r.rva + r.keep, r.rva + r.size);
    }
    // The dropped descriptors: the memory list keeps its first memory_kept entries (step 2
    // writes them there), the rest of its descriptor array goes.
    if (memory != nullptr && memory_kept < memory_count) {
        const std::uint64_t from = memory->location.rva + 4 + std::uint64_t{memory_kept} * sizeof(minidump::memory_descriptor);
        const std::uint64_t to = memory->location.rva + 4 + std::uint64_t{memory_count} * sizeof(minidump::memory_descriptor);
        removed.emplace_back(from, to);
        std::sort(removed.begin(), removed.end());
        for (std::size_t i = 1; i < removed.size(); ++i) {
            if (removed[i].first < removed[i - 1].second) return amend_fail(error, "a memory range overlaps the memory list at " + amend_hex(from));
        }
    }
    // Intervals that touch are one, and each is cut to whole 16-byte blocks from its end (the
    // alignment of what follows): a dropped range's bytes go whatever its size (wine's unwind
    // data ranges are mostly 4 to 12 bytes), the last few of a run of them stay, unreferenced.
    {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> joined;
        for (const auto& c : removed) {
            if (!joined.empty() && joined.back().second == c.first) {
                joined.back().second = c.second;
            } else {
                joined.push_back(c);
            }
        }
        removed.clear();
        for (const auto& c : joined) {
            const std::uint64_t whole = (c.second - c.first) / 16 * 16;
            if (whole > 0) removed.emplace_back(c.first, c.first + whole);
        }
    }
    auto is_removed = [&](std::uint64_t x) {
        for (const auto& c : removed) {
            if (x >= c.first && x < c.second) return true;
        }
        return false;
    };
    auto shift = [&](std::uint64_t x) {
        std::uint64_t s = 0;
        for (const auto& c : removed) {
            if (c.second <= x) s += c.second - c.first;
        }
        return x - s;
    };
    bool pointed_into_removed = false;
    // Moves an RVA (in `work`, at file offset `where`) down past the removed bytes before it.
    auto fix32 = [&](std::uint64_t where) {
        std::uint32_t v = 0;
        std::memcpy(&v, work.data() + where, 4);
        if (v == 0) return;
        if (is_removed(v)) pointed_into_removed = true;
        const auto nv = static_cast<std::uint32_t>(shift(v));
        std::memcpy(&work[static_cast<std::size_t>(where)], &nv, 4);
    };

    // 2. Descriptors: shorter stacks, dropped memory ranges, and every RVA moved.
    auto new_keep = [&](std::uint64_t rva, std::uint64_t size) {
        for (const range& r : merged) {
            if (r.rva == rva && r.size == size) return r.keep;
        }
        return size;
    };
    if (threads != nullptr) {
        const std::uint64_t at = threads->location.rva;
        for (std::uint32_t i = 0; i < thread_count; ++i) {
            const std::uint64_t t_at = at + 4 + std::uint64_t{i} * sizeof(minidump::thread);
            minidump::thread t;
            std::memcpy(&t, work.data() + t_at, sizeof(t));
            if (t.stack.memory.data_size > 0) {
                const std::uint64_t keep = new_keep(t.stack.memory.rva, t.stack.memory.data_size);
                if (keep < t.stack.memory.data_size) {
                    ++out->stacks_cut;
                    const auto k = static_cast<std::uint32_t>(keep);
                    std::memcpy(&work[static_cast<std::size_t>(t_at + offsetof(minidump::thread, stack) + offsetof(minidump::memory_descriptor, memory) +
                                                               offsetof(minidump::location_descriptor, data_size))],
                                &k, 4);
                }
            }
            fix32(t_at + offsetof(minidump::thread, stack) + offsetof(minidump::memory_descriptor, memory) + offsetof(minidump::location_descriptor, rva));
            if (!in_file(t.thread_context.rva, t.thread_context.data_size)) {
                return amend_fail(error, "thread " + std::to_string(t.thread_id) + ": its context lies outside the file");
            }
            fix32(t_at + offsetof(minidump::thread, thread_context) + offsetof(minidump::location_descriptor, rva));
        }
    }
    if (memory != nullptr) {
        const std::uint64_t at = memory->location.rva;
        std::vector<minidump::memory_descriptor> kept;
        for (std::uint32_t i = 0; i < memory_count; ++i) {
            minidump::memory_descriptor d;
            std::memcpy(&d, work.data() + at + 4 + std::uint64_t{i} * sizeof(d), sizeof(d));
            const std::uint64_t keep = d.memory.data_size == 0 ? 0 : new_keep(d.memory.rva, d.memory.data_size);
            const bool is_stack = std::find(stack_rvas.begin(), stack_rvas.end(), d.memory.rva) != stack_rvas.end();
            if (!is_stack && req.drop_memory) {
                ++out->ranges_dropped;
                continue;
            }
            d.memory.data_size = static_cast<std::uint32_t>(keep);
            if (d.memory.rva != 0 && is_removed(d.memory.rva)) pointed_into_removed = true;
            d.memory.rva = static_cast<std::uint32_t>(shift(d.memory.rva));
            kept.push_back(d);
        }
        const auto n = static_cast<std::uint32_t>(kept.size());
        std::memcpy(&work[static_cast<std::size_t>(at)], &n, 4);
        if (!kept.empty()) std::memcpy(&work[static_cast<std::size_t>(at + 4)], kept.data(), kept.size() * sizeof(minidump::memory_descriptor));
    }
    // The other streams' RVAs.
    for (std::uint32_t s = 0; s < index.header.stream_count; ++s) {
        const minidump::directory& e = index.entries[s];
        const std::uint64_t at = e.location.rva, size = e.location.data_size;
        if (!in_file(at, size)) return amend_fail(error, "stream " + amend_hex(e.stream_type) + " lies outside the file");
        switch (e.stream_type) {
            case minidump::stream_thread_list:
            case minidump::stream_memory_list:
                break;  // done above
            case minidump::stream_exception:
                if (size < sizeof(minidump::exception_stream)) return amend_fail(error, "the exception stream is damaged");
                fix32(at + offsetof(minidump::exception_stream, thread_context) + offsetof(minidump::location_descriptor, rva));
                break;
            case minidump::stream_system_info:
                if (size < sizeof(minidump::system_info)) return amend_fail(error, "the system info stream is damaged");
                fix32(at + offsetof(minidump::system_info, csd_version_rva));
                break;
            case minidump::stream_module_list:
            case minidump::stream_wine_host_module_list: {
                // Wine's 0xfff0 is a module list (its host's ELF modules); that number is in the
                // range Microsoft reserves, so it is taken for one only when its size is exactly that.
                std::uint32_t count = 0;
                if (!dump_bytes_at(work, at, &count, 4) || std::uint64_t{count} * sizeof(minidump::module) + 4 > size) {
                    return amend_fail(error, "the module list at " + amend_hex(at) + " is damaged");
                }
                if (e.stream_type == minidump::stream_wine_host_module_list && std::uint64_t{count} * sizeof(minidump::module) + 4 != size) {
                    return amend_fail(error, "stream 0xfff0 is not wine's host module list: not trimmed");
                }
                for (std::uint32_t i = 0; i < count; ++i) {
                    const std::uint64_t m = at + 4 + std::uint64_t{i} * sizeof(minidump::module);
                    fix32(m + offsetof(minidump::module, module_name_rva));
                    fix32(m + offsetof(minidump::module, cv_record) + offsetof(minidump::location_descriptor, rva));
                    fix32(m + offsetof(minidump::module, misc_record) + offsetof(minidump::location_descriptor, rva));
                }
                break;
            }
            case minidump::stream_unloaded_module_list: {
                // MINIDUMP_UNLOADED_MODULE_LIST (SizeOfHeader, SizeOfEntry, NumberOfEntries), then
                // entries whose ModuleNameRva is at offset 20.
                std::uint32_t head[3] = {0, 0, 0};
                if (size < sizeof(head) || !dump_bytes_at(work, at, head, sizeof(head)) || head[0] < 12 || head[1] < 24 ||
                    head[0] + std::uint64_t{head[1]} * head[2] > size) {
                    return amend_fail(error, "the unloaded module list at " + amend_hex(at) + " is damaged");
                }
                for (std::uint32_t i = 0; i < head[2]; ++i) fix32(at + head[0] + std::uint64_t{i} * head[1] + 20);
                break;
            }
            case minidump::stream_handle_data: {
                // MINIDUMP_HANDLE_DATA_STREAM (SizeOfHeader, SizeOfDescriptor, NumberOfDescriptors,
                // Reserved), then descriptors: TypeNameRva at 8, ObjectNameRva at 12 and, in a
                // MINIDUMP_HANDLE_DESCRIPTOR_2 (40 bytes), ObjectInfoRva at 32: a chain of
                // MINIDUMP_HANDLE_OBJECT_INFORMATION whose first field is the next one's RVA.
                std::uint32_t head[3] = {0, 0, 0};
                if (size < 16 || !dump_bytes_at(work, at, head, sizeof(head)) || head[0] < 16 || head[1] < 32 ||
                    head[0] + std::uint64_t{head[1]} * head[2] > size) {
                    return amend_fail(error, "the handle data stream at " + amend_hex(at) + " is damaged");
                }
                std::vector<std::uint64_t> infos_seen;
                for (std::uint32_t i = 0; i < head[2]; ++i) {
                    const std::uint64_t d = at + head[0] + std::uint64_t{i} * head[1];
                    fix32(d + 8);
                    fix32(d + 12);
                    if (head[1] < 40) continue;
                    std::uint32_t info = 0;
                    std::memcpy(&info, work.data() + d + 32, 4);
                    fix32(d + 32);
                    // Each node once (two handles may share one); a chain longer than the file could
                    // hold nodes is a loop.
                    for (std::uint64_t steps = 0; info != 0; ++steps) {
                        if (!in_file(info, 12) || steps > file_size / 12) return amend_fail(error, "a handle's object information chain is damaged");
                        if (std::find(infos_seen.begin(), infos_seen.end(), info) != infos_seen.end()) break;
                        infos_seen.push_back(info);
                        std::uint32_t next = 0;
                        std::memcpy(&next, work.data() + info, 4);
                        fix32(info);
                        info = next;
                    }
                }
                break;
            }
            case minidump::stream_thread_name_list: {
                std::uint32_t count = 0;
                if (!dump_bytes_at(work, at, &count, 4) || std::uint64_t{count} * sizeof(minidump::thread_name) + 4 > size) {
                    return amend_fail(error, "the thread name list at " + amend_hex(at) + " is damaged");
                }
                for (std::uint32_t i = 0; i < count; ++i) {
                    const std::uint64_t n = at + 4 + std::uint64_t{i} * sizeof(minidump::thread_name) + offsetof(minidump::thread_name, rva_of_thread_name);
                    std::uint64_t v = 0;
                    std::memcpy(&v, work.data() + n, 8);
                    if (v == 0) continue;
                    if (v > 0xffffffffu) return amend_fail(error, "a thread name lies past 4 GiB");
                    if (is_removed(v)) pointed_into_removed = true;
                    const std::uint64_t nv = shift(v);
                    std::memcpy(&work[static_cast<std::size_t>(n)], &nv, 8);
                }
                break;
            }
            case minidump::stream_crashpad_info: {
                // Older writers end the record after module_list (52 bytes).
                minidump::crashpad_info info;
                std::memset(&info, 0, sizeof(info));
                const std::size_t known = offsetof(minidump::crashpad_info, reserved);
                if (size < known || !dump_bytes_at(work, at, &info, std::min<std::size_t>(sizeof(info), static_cast<std::size_t>(size)))) {
                    return amend_fail(error, "the Crashpad info stream is damaged");
                }
                if (info.module_list.data_size != 0) return amend_fail(error, "the Crashpad info stream has a module list (not trimmed)");
                if (info.simple_annotations.data_size != 0) {
                    const std::uint64_t d = info.simple_annotations.rva;
                    std::uint32_t count = 0;
                    if (!dump_bytes_at(work, d, &count, 4) || !in_file(d, info.simple_annotations.data_size) ||
                        std::uint64_t{count} * sizeof(minidump::simple_string_dictionary_entry) + 4 > info.simple_annotations.data_size) {
                        return amend_fail(error, "the Crashpad annotation dictionary is damaged");
                    }
                    for (std::uint32_t i = 0; i < count; ++i) {
                        fix32(d + 4 + std::uint64_t{i} * 8);
                        fix32(d + 4 + std::uint64_t{i} * 8 + 4);
                    }
                    fix32(at + offsetof(minidump::crashpad_info, simple_annotations) + offsetof(minidump::location_descriptor, rva));
                }
                break;
            }
            case minidump::stream_linux_dso_debug: {
                minidump::debug64 dbg;
                if (size < sizeof(dbg) || !dump_bytes_at(work, at, &dbg, sizeof(dbg))) return amend_fail(error, "the DSO debug stream is damaged");
                if (dbg.map != 0) {
                    if (!in_file(dbg.map, std::uint64_t{dbg.dso_count} * sizeof(minidump::link_map64))) {
                        return amend_fail(error, "the DSO debug link map lies outside the file");
                    }
                    for (std::uint32_t i = 0; i < dbg.dso_count; ++i) fix32(dbg.map + std::uint64_t{i} * sizeof(minidump::link_map64) + offsetof(minidump::link_map64, name));
                    fix32(at + offsetof(minidump::debug64, map));
                }
                break;
            }
            default:
                if (!trim_stream_without_rvas(e.stream_type)) {
                    return amend_fail(error, "stream " + amend_hex(e.stream_type) + " may hold RVAs this code does not know: not trimmed");
                }
        }
    }
    if (pointed_into_removed) return amend_fail(error, "a stream points into a removed memory range: not trimmed");
    // The directory and the header.
    for (std::uint32_t s = 0; s < index.header.stream_count; ++s) {
        const std::uint64_t d = index.header.stream_directory_rva + std::uint64_t{s} * sizeof(minidump::directory);
        std::uint32_t type = 0, dsize = 0;
        std::memcpy(&type, work.data() + d, 4);
        if (type == minidump::stream_memory_list) {
            std::uint32_t n = 0;
            std::memcpy(&n, work.data() + index.entries[s].location.rva, 4);
            dsize = 4 + n * static_cast<std::uint32_t>(sizeof(minidump::memory_descriptor));
            std::memcpy(&work[static_cast<std::size_t>(d + offsetof(minidump::directory, location))], &dsize, 4);
        }
        fix32(d + offsetof(minidump::directory, location) + offsetof(minidump::location_descriptor, rva));
    }
    if (is_removed(index.header.stream_directory_rva)) return amend_fail(error, "the stream directory lies inside a memory range");
    fix32(offsetof(minidump::header, stream_directory_rva));

    // A stream that overlaps the directory (damaged or hostile input) had its offsets moved in
    // place there too: the directory would no longer name the streams it named.
    for (std::uint32_t s = 0; s < index.header.stream_count; ++s) {
        std::uint32_t type = 0;
        std::memcpy(&type, work.data() + index.header.stream_directory_rva + std::uint64_t{s} * sizeof(minidump::directory), 4);
        if (type != index.entries[s].stream_type) return amend_fail(error, "a stream overlaps the stream directory: not trimmed");
    }

    // 3. The smaller file: everything but the removed intervals.
    std::string smaller;
    smaller.reserve(work.size());
    std::uint64_t from = 0;
    for (const auto& c : removed) {
        smaller.append(work, static_cast<std::size_t>(from), static_cast<std::size_t>(c.first - from));
        out->bytes_removed += c.second - c.first;
        from = c.second;
    }
    smaller.append(work, static_cast<std::size_t>(from), std::string::npos);
    *dump = std::move(smaller);
    return true;
}

/// Trims `dump` as `req` asks (dump_trim_once), then reads the result back as a trim that cuts
/// nothing would: damaged or hostile input whose streams overlap (a stream across a stack, over
/// the directory) can come out of the offset moves inconsistent, and is then refused, the dump
/// left as it was.
CRASHDROP_COLD inline bool dump_trim(std::string* dump, const trim_request& req, trim_result* out, std::string* error) {
    std::string trimmed = *dump;
    if (!dump_trim_once(&trimmed, req, out, error)) return false;
    std::string check = trimmed;
    trim_result unused;
    std::string why;
    if (!dump_trim_once(&check, trim_request{}, &unused, &why)) {
        *out = trim_result{};
        return amend_fail(error, "the trimmed dump would not read back (" + why + "): not trimmed");
    }
    *dump = std::move(trimmed);
    return true;
}

/// Adds `text` to the dump's crashdrop writer-errors stream: a new stream when it has none,
/// otherwise the old text and `text` after it, appended at the end of the file (the directory
/// entry is pointed there; the old bytes stay unused).
CRASHDROP_COLD inline bool dump_add_writer_error(std::string* dump, const std::string& text, std::string* error) {
    dump_index index;
    if (!dump_read_index(*dump, &index, error)) return false;
    for (std::uint32_t s = 0; s < index.header.stream_count; ++s) {
        const minidump::directory& e = index.entries[s];
        if (e.stream_type != minidump::stream_crashdrop_writer_errors) continue;
        if (std::uint64_t{e.location.rva} + e.location.data_size > dump->size()) return amend_fail(error, "the writer-errors stream lies outside the file");
        std::string all = dump->substr(e.location.rva, e.location.data_size);
        while (!all.empty() && all.back() == '\0') all.pop_back();
        if (!all.empty() && all.back() != '\n') all.push_back('\n');
        all += text;
        const std::uint64_t base = dump_append_base(*dump);
        if (base + all.size() > 0xffffffffu) return amend_fail(error, "the dump would pass 4 GiB");
        dump->resize(static_cast<std::size_t>(base), '\0');
        dump->append(all);
        minidump::directory d = e;
        d.location.rva = static_cast<std::uint32_t>(base);
        d.location.data_size = static_cast<std::uint32_t>(all.size());
        std::memcpy(&(*dump)[static_cast<std::size_t>(index.header.stream_directory_rva + std::uint64_t{s} * sizeof(d))], &d, sizeof(d));
        return true;
    }
    return dump_append_stream(dump, minidump::stream_crashdrop_writer_errors, text, error);
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
