// crashdrop/platform/linux/modules_linux.hpp - the ModuleList and LinuxDsoDebug streams.
// Modules come from the parsed memory map: every file mapped at offset 0 whose first bytes are
// an ELF header, sized by the extent of that file's mappings. The build id is read from the
// module's PT_NOTE segments in memory (no file is opened); only a module without a build-id
// note falls back to Breakpad's rule, hashing the first 4 KiB of .text read from the file.
// Context: implementation TU; crash path (crashdrop::sigsafe rules apply).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

// Scratch layout while modules are written: a NUL-terminated path, the image's first 4 KiB
// (or its program headers), notes, then file data for the .text fallback.
constexpr std::size_t k_scratch_elf = 4096;
constexpr std::size_t k_scratch_notes = 12288;
constexpr std::size_t k_scratch_file = 20480;

struct elf_identity {
    u8 bytes[k_max_build_id];
    u32 length;
};

/// Reads, from the ELF image mapped at `base`, its build id (NT_GNU_BUILD_ID in a PT_NOTE
/// segment) and its DT_SONAME. Returns false when `base` holds no usable ELF header; id->length
/// is 0 and soname empty when the image has none.
CRASHDROP_SIGSAFE bool read_elf_identity(linux_state* g, u64 base, elf_identity* id, char* soname, std::size_t soname_cap) {
    id->length = 0;
    soname[0] = '\0';
    // The image's first 4 KiB in one read (within its first page, which is mapped): the ELF
    // header, and nearly always the program headers and the notes too, so that those need no
    // read of their own. A short read (a file shorter than that) still serves what it holds.
    u8* head = g->scratch + k_scratch_elf;
    constexpr std::size_t k_head = 4096;
    const long head_got = read_memory(&g->reader, head, base, k_head);
    if (head_got < static_cast<long>(sizeof(ElfW(Ehdr)))) return false;
    u64 head_size = static_cast<u64>(head_got);
    ElfW(Ehdr) eh;
    copy_bytes(&eh, head, sizeof(eh));
    if (!bytes_equal(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != (sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32)) return false;
    if (eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum == 0 || eh.e_phnum > 128) return false;
    // The program headers where the 4 KiB hold them, else read over them (then the notes are
    // read too).
    auto* ph = reinterpret_cast<ElfW(Phdr)*>(head + eh.e_phoff);
    const std::size_t ph_bytes = sizeof(ElfW(Phdr)) * eh.e_phnum;
    if (eh.e_phoff + ph_bytes > head_size || eh.e_phoff % alignof(ElfW(Phdr)) != 0) {
        ph = reinterpret_cast<ElfW(Phdr)*>(head);  // [k_scratch_elf, k_scratch_notes) holds 128 headers
        head_size = 0;
        if (read_memory(&g->reader, ph, base + eh.e_phoff, ph_bytes) != static_cast<long>(ph_bytes)) return false;
    }
    u64 min_vaddr = ~u64{0};
    for (u32 i = 0; i < eh.e_phnum; ++i) {
        if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr < min_vaddr) min_vaddr = ph[i].p_vaddr;
    }
    if (min_vaddr == ~u64{0}) return false;
    const u64 bias = base - align_down(min_vaddr, g->page_size);
    u8* notes = g->scratch + k_scratch_notes;
    for (u32 i = 0; i < eh.e_phnum && id->length == 0; ++i) {
        if (ph[i].p_type != PT_NOTE) continue;
        const std::size_t size = static_cast<std::size_t>(min_u64(ph[i].p_memsz, k_scratch_file - k_scratch_notes));
        const u64 at = bias + ph[i].p_vaddr;
        long got;
        if (at >= base && at - base <= head_size && size <= head_size - (at - base)) {
            copy_bytes(notes, head + (at - base), size);  // within the first 4 KiB: no read
            got = static_cast<long>(size);
        } else {
            got = read_memory(&g->reader, notes, at, size);
        }
        if (got <= 0) continue;
        std::size_t off = 0;
        const std::size_t end = static_cast<std::size_t>(got);
        while (off + 12 <= end) {
            u32 namesz, descsz, type;
            copy_bytes(&namesz, notes + off, 4);
            copy_bytes(&descsz, notes + off + 4, 4);
            copy_bytes(&type, notes + off + 8, 4);
            const std::size_t name_at = off + 12;
            const std::size_t desc_at = name_at + align_up(namesz, 4);
            const std::size_t next = desc_at + align_up(descsz, 4);
            if (next > end || next <= off) break;
            if (type == NT_GNU_BUILD_ID && namesz == 4 && bytes_equal(notes + name_at, "GNU", 4) && descsz > 0) {
                id->length = descsz > k_max_build_id ? k_max_build_id : descsz;
                copy_bytes(id->bytes, notes + desc_at, id->length);
                break;
            }
            off = next;
        }
    }
    // DT_SONAME: an offset into DT_STRTAB. The dynamic linker has usually relocated d_ptr in
    // place; where it has not (the vDSO), the value is still relative to the load bias.
    for (u32 i = 0; i < eh.e_phnum; ++i) {
        if (ph[i].p_type != PT_DYNAMIC) continue;
        auto* dyn = reinterpret_cast<ElfW(Dyn)*>(g->scratch + k_scratch_file);
        const std::size_t cap = static_cast<std::size_t>(min_u64(ph[i].p_memsz, 8192));
        const long got = read_memory(&g->reader, dyn, bias + ph[i].p_vaddr, cap);
        const std::size_t count = got > 0 ? static_cast<std::size_t>(got) / sizeof(ElfW(Dyn)) : 0;
        u64 strtab = 0, name_offset = ~u64{0};
        for (std::size_t k = 0; k < count && dyn[k].d_tag != DT_NULL; ++k) {
            if (dyn[k].d_tag == DT_STRTAB) strtab = dyn[k].d_un.d_ptr;
            if (dyn[k].d_tag == DT_SONAME) name_offset = dyn[k].d_un.d_val;
        }
        if (strtab == 0 || name_offset == ~u64{0}) break;
        if (strtab < base) strtab += bias;
        const long n = read_memory(&g->reader, soname, strtab + name_offset, soname_cap - 1);
        std::size_t len = 0;
        while (n > 0 && len < static_cast<std::size_t>(n) && soname[len] != '\0') ++len;
        soname[len] = '\0';
        break;
    }
    return true;
}

CRASHDROP_SIGSAFE bool pread_all(int fd, void* dst, std::size_t n, u64 off) {
    return raw_syscall(SYS_pread64, fd, to_long(dst), static_cast<long>(n), static_cast<long>(off)) ==
           static_cast<long>(n);
}

/// Breakpad's identifier for an ELF file without a build id: the first 4 KiB of .text,
/// XOR-folded into 16 bytes. Reads the section headers and .text from the file itself.
CRASHDROP_SIGSAFE bool text_hash_from_file(linux_state* g, const char* path, elf_identity* out) {
    const int fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = false;
    ElfW(Ehdr) eh;
    u8* buf = g->scratch + k_scratch_file;  // section headers and names, then .text bytes
    const std::size_t cap = k_scratch_capacity - k_scratch_file;
    if (pread_all(fd, &eh, sizeof(eh), 0) && bytes_equal(eh.e_ident, ELFMAG, SELFMAG) &&
        eh.e_shentsize == sizeof(ElfW(Shdr)) && eh.e_shnum > 0 && eh.e_shstrndx < eh.e_shnum &&
        u64{eh.e_shnum} * sizeof(ElfW(Shdr)) <= cap / 2) {
        auto* sh = reinterpret_cast<ElfW(Shdr)*>(buf);
        const std::size_t sh_bytes = eh.e_shnum * sizeof(ElfW(Shdr));
        char* names = reinterpret_cast<char*>(buf + sh_bytes);
        const std::size_t names_cap = cap / 2 - sh_bytes;
        if (pread_all(fd, sh, sh_bytes, eh.e_shoff)) {
            const ElfW(Shdr)& strtab = sh[eh.e_shstrndx];
            const std::size_t names_len = static_cast<std::size_t>(min_u64(strtab.sh_size, names_cap));
            if (pread_all(fd, names, names_len, strtab.sh_offset)) {
                for (u32 i = 0; i < eh.e_shnum; ++i) {
                    if (sh[i].sh_name + 6 > names_len || sh[i].sh_type != SHT_PROGBITS) continue;
                    if (!bytes_equal(names + sh[i].sh_name, ".text", 6)) continue;
                    // Whole 16-byte blocks while the block starts inside the first 4 KiB of
                    // .text: the last block may take bytes from past the section's end, as
                    // Breakpad's reader of the mapped file does.
                    const std::size_t n = static_cast<std::size_t>(align_up(min_u64(sh[i].sh_size, 4096), 16));
                    u8* text_bytes = buf + cap / 2;
                    zero_bytes(text_bytes, n);
                    const long got = raw_syscall(SYS_pread64, fd, to_long(text_bytes), static_cast<long>(n),
                                                 static_cast<long>(sh[i].sh_offset));
                    if (got <= 0) break;
                    zero_bytes(out->bytes, 16);
                    for (std::size_t k = 0; k < n; ++k) out->bytes[k % 16] ^= text_bytes[k];
                    out->length = 16;
                    ok = true;
                    break;
                }
            }
        }
    }
    sys_close(fd);
    return ok;
}

/// The identity of the module mapped at m (which must start at file offset 0): from the cache,
/// or read from memory (and, without a build id, from the file) and then cached.
/// Returns false when m holds no ELF image.
CRASHDROP_SIGSAFE const module_identity* identify_module(linux_state* g, const mapping* m, bool is_vdso,
                                                         bool deleted, const char* path) {
    for (u32 i = 0; i < g->module_cache_count; ++i) {
        const module_identity* c = &g->module_cache[i];
        if (c->base == m->start && c->inode == m->inode && c->dev == m->dev) return c;
    }
    // Not cached: computed into the next free slot, or into a scratch slot when the cache is full.
    module_identity* out = g->module_cache_count < g->module_cache_capacity
                               ? &g->module_cache[g->module_cache_count]
                               : &g->module_cache[g->module_cache_capacity];  // the spare slot
    elf_identity id;
    char soname[k_soname_max];
    if (!read_elf_identity(g, m->start, &id, soname, sizeof(soname))) return nullptr;
    out->base = m->start;
    out->inode = m->inode;
    out->dev = m->dev;
    out->from_text_hash = 0;
    if (id.length == 0 && !is_vdso && !deleted && text_hash_from_file(g, path, &id)) out->from_text_hash = 1;
    out->id_length = id.length;
    copy_bytes(out->id, id.bytes, id.length);
    copy_bytes(out->soname, soname, string_length(soname) + 1);
    if (g->module_cache_count < g->module_cache_capacity) ++g->module_cache_count;
    return out;
}

/// Writes the ModuleList stream. Returns false when the image had no room.
CRASHDROP_SIGSAFE bool write_module_list(linux_state* g, image* im, text* errors) {
    // Upper bound of the module count: mappings at file offset 0.
    u32 candidates = 0;
    for (u32 i = 0; i < g->map_count; ++i) {
        if (g->maps[i].offset == 0 && g->maps[i].path_length > 0) ++candidates;
    }
    const u32 list_rva = image_alloc(im, 4 + u64{candidates} * sizeof(minidump::module), 8);
    if (list_rva == 0) {
        text_append(errors, "module list: no room in the dump buffer\n");
        return false;
    }
    u32 count = 0;
    char* path = reinterpret_cast<char*>(g->scratch);  // NUL-terminated copy, < 4096 bytes
    for (u32 i = 0; i < g->map_count && count < candidates; ++i) {
        const mapping* m = &g->maps[i];
        if (m->offset != 0 || m->path_length == 0 || !(m->perms & perm_read)) continue;
        const char* p = mapping_path(g, m);
        std::size_t plen = m->path_length;
        const bool is_vdso = m->start == g->vdso_base && starts_with(p, plen, "[vdso]");
        if (p[0] != '/' && !is_vdso) continue;  // an ELF image or not: identify_module says (cached, or by one read)
        u64 end = m->end;
        u32 j = i + 1;
        while (j < g->map_count && g->maps[j].inode == m->inode && g->maps[j].dev == m->dev && m->inode != 0 &&
               g->maps[j].offset != 0) {
            end = g->maps[j].end;
            ++j;
        }
        static const char k_deleted[] = " (deleted)";
        const std::size_t kd = sizeof(k_deleted) - 1;
        bool deleted = false;
        if (plen > kd && bytes_equal(p + plen - kd, k_deleted, kd)) {
            plen -= kd;
            deleted = true;
        }
        if (plen >= k_path_max) plen = k_path_max - 1;
        copy_bytes(path, p, plen);
        path[plen] = '\0';

        const module_identity* ident = identify_module(g, m, is_vdso, deleted, path);
        if (ident == nullptr) continue;
        if (ident->from_text_hash || ident->id_length == 0) {
            text_append(errors, "module ");
            text_append(errors, path);
            text_append(errors, ident->from_text_hash ? ": no build id; identified by its .text hash\n"
                                                      : ": no build id and no readable .text; debug id is empty\n");
        }
        const char* soname = ident->soname;

        minidump::module rec;
        zero_bytes(&rec, sizeof(rec));
        rec.base_of_image = m->start;
        rec.size_of_image = static_cast<u32>(min_u64(end - m->start, 0xffffffffu));
        // Named as Breakpad and dump_syms name it: the file's folder plus its DT_SONAME (so a
        // library mapped as libstdc++.so.6.0.30 is libstdc++.so.6, as its symbol file says).
        static const char k_vdso_name[] = "linux-gate.so";
        if (is_vdso) {
            rec.module_name_rva = image_add_string(im, k_vdso_name, sizeof(k_vdso_name) - 1);
        } else if (soname[0] != '\0') {
            std::size_t dir = plen;
            while (dir > 0 && path[dir - 1] != '/') --dir;
            const std::size_t sl = string_length(soname);
            if (dir + sl < k_path_max) {
                copy_bytes(path + dir, soname, sl + 1);
                plen = dir + sl;
            }
            rec.module_name_rva = image_add_string(im, path, plen);
        } else {
            rec.module_name_rva = image_add_string(im, path, plen);
        }
        const u32 cv_rva = image_alloc_raw(im, 4 + u64{ident->id_length}, 4);
        if (rec.module_name_rva == 0 || cv_rva == 0) {
            text_append(errors, "module list: no room in the dump buffer for names\n");
            break;
        }
        const u32 sig = minidump::k_cv_signature_elf;
        copy_bytes(im->base + cv_rva, &sig, 4);
        copy_bytes(im->base + cv_rva + 4, ident->id, ident->id_length);
        rec.cv_record.rva = cv_rva;
        rec.cv_record.data_size = 4 + ident->id_length;
        copy_bytes(im->base + list_rva + 4 + u64{count} * sizeof(rec), &rec, sizeof(rec));
        ++count;
        i = j - 1;
    }
    copy_bytes(im->base + list_rva, &count, 4);
    return image_add_stream(im, minidump::stream_module_list, list_rva, 4 + u64{count} * sizeof(minidump::module));
}

/// Writes LinuxDsoDebug: r_debug, the link_map list and the executable's dynamic section,
/// all read from this process's memory (the dynamic linker's own bookkeeping).
CRASHDROP_SIGSAFE bool write_dso_debug(linux_state* g, image* im, text* errors) {
    struct r_debug rd;
    if (read_memory(&g->reader, &rd, reinterpret_cast<u64>(&_r_debug), sizeof(rd)) != static_cast<long>(sizeof(rd))) {
        text_append(errors, "dso debug: r_debug unreadable\n");
        return false;
    }
    // Count the list first (bounded: a corrupt list must not loop forever).
    constexpr u32 k_max_dsos = 4096;
    struct link_map lm;
    u32 count = 0;
    for (u64 at = reinterpret_cast<u64>(rd.r_map); at != 0 && count < k_max_dsos; ++count) {
        if (read_memory(&g->reader, &lm, at, sizeof(lm)) != static_cast<long>(sizeof(lm))) break;
        at = reinterpret_cast<u64>(lm.l_next);
    }
    const u32 map_rva = image_alloc(im, u64{count} * sizeof(minidump::link_map64), 8);
    if (map_rva == 0 && count != 0) {
        text_append(errors, "dso debug: no room in the dump buffer\n");
        return false;
    }
    // Walk the list (each entry's address comes from the previous one), then read every name in
    // one batch into scratch: 1 + n/k_batch_max system calls instead of n.
    constexpr std::size_t k_name_max = 255;
    auto* iov = reinterpret_cast<struct iovec*>(g->scratch);
    auto* req = reinterpret_cast<memory_request*>(g->scratch + 2 * k_batch_max * sizeof(struct iovec));
    u8* names = g->scratch + 2 * k_batch_max * sizeof(struct iovec) + k_batch_max * sizeof(memory_request);
    const u32 batch = static_cast<u32>((k_scratch_capacity - static_cast<std::size_t>(names - g->scratch)) / (k_name_max + 1));
    u32 written = 0;
    u64 at = reinterpret_cast<u64>(rd.r_map);
    while (at != 0 && written < count) {
        u32 n = 0;
        const u32 first = written;
        for (; at != 0 && written < count && n < batch && n < k_batch_max; ++written, ++n) {
            if (read_memory(&g->reader, &lm, at, sizeof(lm)) != static_cast<long>(sizeof(lm))) {
                at = 0;
                break;
            }
            minidump::link_map64 out;
            zero_bytes(&out, sizeof(out));
            out.addr = lm.l_addr;
            out.ld = reinterpret_cast<u64>(lm.l_ld);
            copy_bytes(im->base + map_rva + u64{written} * sizeof(out), &out, sizeof(out));
            req[n].dst = names + u64{n} * (k_name_max + 1);
            req[n].addr = reinterpret_cast<u64>(lm.l_name);
            req[n].len = lm.l_name != nullptr ? k_name_max : 0;
            req[n].got = 0;
            at = reinterpret_cast<u64>(lm.l_next);
        }
        read_memory_many(&g->reader, req, n, iov);
        for (u32 k = 0; k < n; ++k) {
            const char* name = static_cast<const char*>(req[k].dst);
            std::size_t len = 0;
            while (req[k].got > 0 && len < static_cast<std::size_t>(req[k].got) && name[len] != '\0') ++len;
            const u32 rva = image_add_string(im, name, len);
            copy_bytes(im->base + map_rva + u64{first + k} * sizeof(minidump::link_map64) + 8, &rva, 4);
        }
    }
    // The executable's dynamic section, up to and including DT_NULL.
    std::size_t dyn_bytes = 0;
    ElfW(Dyn)* dyn = reinterpret_cast<ElfW(Dyn)*>(g->scratch);
    if (g->exe_dynamic != 0) {
        const long got = read_memory(&g->reader, dyn, g->exe_dynamic, 4096);
        const std::size_t entries = got > 0 ? static_cast<std::size_t>(got) / sizeof(ElfW(Dyn)) : 0;
        for (std::size_t i = 0; i < entries; ++i) {
            dyn_bytes += sizeof(ElfW(Dyn));
            if (dyn[i].d_tag == DT_NULL) break;
        }
    }
    const u32 rva = image_alloc_raw(im, sizeof(minidump::debug64) + dyn_bytes, 8);
    if (rva == 0) {
        text_append(errors, "dso debug: no room in the dump buffer\n");
        return false;
    }
    minidump::debug64 d;
    zero_bytes(&d, sizeof(d));
    d.version = static_cast<u32>(rd.r_version);
    d.map = map_rva;
    d.dso_count = written;
    d.brk = static_cast<u64>(rd.r_brk);
    d.ldbase = static_cast<u64>(rd.r_ldbase);
    d.dynamic = g->exe_dynamic;
    copy_bytes(im->base + rva, &d, sizeof(d));
    copy_bytes(im->base + rva + sizeof(d), dyn, dyn_bytes);
    return image_add_stream(im, minidump::stream_linux_dso_debug, rva, sizeof(d) + dyn_bytes);
}

}  // namespace sigsafe
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
