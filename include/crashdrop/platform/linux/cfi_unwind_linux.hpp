// crashdrop/platform/linux/cfi_unwind_linux.hpp - walking the crashing thread's real call chain
// with the DWARF call frame information (.eh_frame, found through .eh_frame_hdr) of the modules
// loaded when start() ran, for only_this_module: a crash is ours when one of its frames is.
//
// start() records, for every loaded module, its executable segments and its .eh_frame_hdr search
// table (record_cfi_module). After a fault, cfi_step finds the FDE of a pc by that table, runs the
// CIE's and the FDE's CFA programs up to the pc and computes the caller's registers. Every byte
// (CFI, stack) is read with read_memory, so an unmapped table or a wild stack pointer is a failed
// step, never a fault. What it does not do (it stops, and says so by its result): DWARF
// expressions (PLT stubs, signal trampolines), modules loaded after start(), code without CFI.
// Context: implementation TU. cfi_* run on the crash path (namespace sigsafe);
// record_cfi_module is start()-time code (namespace detail).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

using i64 = std::int64_t;

#if defined(__aarch64__)
constexpr u32 k_cfi_regs = 32;  // x0..x30, sp (31)
constexpr u32 k_cfi_sp = 31;
#else
constexpr u32 k_cfi_regs = 17;  // rax rdx rcx rbx rsi rdi rbp rsp r8..r15, the return address (16)
constexpr u32 k_cfi_sp = 7;
#endif

/// A thread's registers by DWARF number, and its pc.
struct cfi_frame {
    u64 reg[k_cfi_regs];
    u64 pc;
    u32 first;  // the frame of the fault: its pc is exact (a caller's is a return address)
};

enum cfi_rule_kind : u8 { cr_same = 0, cr_undefined, cr_offset, cr_val_offset, cr_register, cr_expression };
struct cfi_rule {
    u8 kind;
    i64 value;
};
struct cfi_rules {
    cfi_rule reg[k_cfi_regs];
    u32 cfa_reg;
    i64 cfa_offset;
    u32 cfa_expression;
};

/// Reads a byte stream from another part of memory through read_memory, a window at a time.
struct cfi_cursor {
    memory_reader* reader;
    u64 at;
    u64 end;
    u64 window_addr;
    u32 window_len;
    u32 failed;
    u8 window[256];
};

CRASHDROP_SIGSAFE_INLINE void cfi_cursor_init(cfi_cursor* c, memory_reader* reader, u64 at, u64 end) {
    c->reader = reader;
    c->at = at;
    c->end = end;
    c->window_addr = 0;
    c->window_len = 0;
    c->failed = 0;
}

CRASHDROP_SIGSAFE u8 cfi_u8(cfi_cursor* c) {
    if (c->failed || c->at >= c->end) {
        c->failed = 1;
        return 0;
    }
    if (c->at < c->window_addr || c->at >= c->window_addr + c->window_len) {
        u64 len = c->end - c->at;
        if (len > sizeof(c->window)) len = sizeof(c->window);
        const long got = read_memory(c->reader, c->window, c->at, static_cast<std::size_t>(len));
        if (got <= 0) {
            c->failed = 1;
            return 0;
        }
        c->window_addr = c->at;
        c->window_len = static_cast<u32>(got);
    }
    return c->window[c->at++ - c->window_addr];
}

CRASHDROP_SIGSAFE u64 cfi_fixed(cfi_cursor* c, u32 bytes) {
    u64 v = 0;
    for (u32 i = 0; i < bytes; ++i) v |= static_cast<u64>(cfi_u8(c)) << (8 * i);
    return v;
}

CRASHDROP_SIGSAFE u64 cfi_uleb(cfi_cursor* c) {
    u64 v = 0;
    for (u32 shift = 0;; shift += 7) {
        const u8 b = cfi_u8(c);
        if (shift < 64) v |= static_cast<u64>(b & 0x7f) << shift;
        if (!(b & 0x80) || c->failed) break;
        if (shift > 70) {
            c->failed = 1;
            break;
        }
    }
    return v;
}

CRASHDROP_SIGSAFE i64 cfi_sleb(cfi_cursor* c) {
    u64 v = 0;
    u32 shift = 0;
    u8 b = 0;
    do {
        b = cfi_u8(c);
        if (shift < 64) v |= static_cast<u64>(b & 0x7f) << shift;
        shift += 7;
        if (shift > 70) c->failed = 1;
    } while ((b & 0x80) && !c->failed);
    if (shift < 64 && (b & 0x40)) v |= ~u64{0} << shift;
    return static_cast<i64>(v);
}

/// `value == constant`, seen through an empty asm so that a chain of these stays a chain of
/// compares: the compiler cannot turn it into a jump table (an indirect jump through .rodata,
/// which the crash path's section check rejects).
CRASHDROP_SIGSAFE_INLINE bool cfi_is(u32 value, u32 constant) {
    __asm__ volatile("" : "+r"(value));  // volatile: each one stays, none merged
    return value == constant;
}

/// An encoded pointer (DW_EH_PE_*). `data_base` is the .eh_frame_hdr address (datarel). An
/// indirect pointer is not followed: *indirect is set (only the personality may be one).
CRASHDROP_SIGSAFE u64 cfi_pointer(cfi_cursor* c, u8 enc, u64 data_base, bool format_only = false) {
    const u64 field = c->at;
    const u32 format = enc & 0x0f;
    u64 v = 0;
    if (cfi_is(format, 0x00) || cfi_is(format, 0x04) || cfi_is(format, 0x0c)) v = cfi_fixed(c, 8);
    else if (cfi_is(format, 0x01)) v = cfi_uleb(c);
    else if (cfi_is(format, 0x02)) v = cfi_fixed(c, 2);
    else if (cfi_is(format, 0x03)) v = cfi_fixed(c, 4);
    else if (cfi_is(format, 0x09)) v = static_cast<u64>(cfi_sleb(c));
    else if (cfi_is(format, 0x0a)) v = static_cast<u64>(static_cast<i64>(static_cast<std::int16_t>(cfi_fixed(c, 2))));
    else if (cfi_is(format, 0x0b)) v = static_cast<u64>(static_cast<i64>(static_cast<std::int32_t>(cfi_fixed(c, 4))));
    else c->failed = 1;
    if (c->failed || format_only) return v;
    const u32 application = enc & 0x70;
    if (cfi_is(application, 0x10)) v += field;  // pcrel
    else if (cfi_is(application, 0x30)) v += data_base;  // datarel
    else if (!cfi_is(application, 0x00)) c->failed = 1;  // textrel, funcrel, aligned: not in .eh_frame
    return v;
}

/// One recorded executable segment with its module's search table.
CRASHDROP_SIGSAFE const cfi_module* cfi_module_of(const linux_state* g, u64 pc) {
    for (u32 i = 0; i < g->cfi_module_count; ++i) {
        const cfi_module* m = &g->cfi_modules[i];
        if (pc >= m->start && pc < m->end) return m;
    }
    return nullptr;
}

/// The FDE address for `pc` by the module's .eh_frame_hdr table (the last entry whose function
/// starts at or below pc); 0 if none.
CRASHDROP_SIGSAFE u64 cfi_find_fde(linux_state* g, const cfi_module* m, u64 pc) {
    const own_function_table& t = m->table;
    if (t.count == 0) return 0;
    u64 lo = 0;
    u64 hi = t.count;  // answer: the last index with start <= pc, found as lo - 1
    while (lo < hi) {
        const u64 mid = lo + (hi - lo) / 2;
        std::int32_t entry[2];
        if (read_memory(&g->reader, entry, t.table + 8 * mid, 8) != 8) return 0;
        const u64 start = t.base + static_cast<u64>(static_cast<i64>(entry[0]));
        if (start <= pc) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return 0;
    std::int32_t entry[2];
    if (read_memory(&g->reader, entry, t.table + 8 * (lo - 1), 8) != 8) return 0;
    return t.base + static_cast<u64>(static_cast<i64>(entry[1]));
}

struct cfi_cie {
    u64 code_align;
    i64 data_align;
    u32 ra_reg;
    u8 fde_enc;
    u8 has_z;
    u8 signal_frame;
    u64 program;
    u64 end;
};

/// Parses the CIE at `address`. False on anything it does not know.
CRASHDROP_SIGSAFE bool cfi_parse_cie(linux_state* g, u64 address, u64 data_base, cfi_cie* cie, cfi_cursor* c) {
    cfi_cursor_init(c, &g->reader, address, address + 12);
    const u64 length = cfi_fixed(c, 4);
    if (c->failed || length == 0 || length >= 0xfffffff0u) return false;
    cfi_cursor_init(c, &g->reader, address + 4, address + 4 + length);
    if (cfi_fixed(c, 4) != 0) return false;  // a CIE's id is 0 in .eh_frame
    const u8 version = cfi_u8(c);
    if (version != 1 && version != 3 && version != 4) return false;
    char aug[8];
    u32 n = 0;
    for (;;) {
        const u8 ch = cfi_u8(c);
        if (c->failed) return false;
        if (ch == 0) break;
        if (n + 1 >= sizeof(aug)) return false;
        aug[n++] = static_cast<char>(ch);
    }
    aug[n] = 0;
    if (version == 4) {
        if (cfi_u8(c) != 8 || cfi_u8(c) != 0) return false;  // address size 8, no segments
    }
    cie->code_align = cfi_uleb(c);
    cie->data_align = cfi_sleb(c);
    cie->ra_reg = version == 1 ? cfi_u8(c) : static_cast<u32>(cfi_uleb(c));
    cie->fde_enc = 0x00;
    cie->has_z = 0;
    cie->signal_frame = 0;
    if (n > 0) {
        if (aug[0] != 'z') return false;  // "eh" and other old forms
        cie->has_z = 1;
        const u64 aug_len = cfi_uleb(c);
        const u64 aug_end = c->at + aug_len;
        for (u32 i = 1; i < n && !c->failed; ++i) {
            const u32 ch = static_cast<u8>(aug[i]);
            if (cfi_is(ch, 'R')) {
                cie->fde_enc = cfi_u8(c);
            } else if (cfi_is(ch, 'L')) {
                (void)cfi_u8(c);
            } else if (cfi_is(ch, 'P')) {
                const u8 enc = cfi_u8(c);
                (void)cfi_pointer(c, static_cast<u8>(enc & 0x7f), data_base);  // not followed
            } else if (cfi_is(ch, 'S')) {
                cie->signal_frame = 1;
            } else if (!cfi_is(ch, 'B')) {  // B: aarch64 pointer authentication with the B key
                break;                      // unknown: the length lets us skip the rest
            }
        }
        c->at = aug_end;
    }
    if (c->failed || cie->code_align == 0 || c->at > c->end) return false;
    cie->program = c->at;
    cie->end = c->end;
    return true;
}

CRASHDROP_SIGSAFE_INLINE void cfi_set(cfi_rules* rules, u64 reg, u8 kind, i64 value) {
    if (reg < k_cfi_regs) {
        rules->reg[reg].kind = kind;
        rules->reg[reg].value = value;
    }
}

CRASHDROP_SIGSAFE_INLINE void cfi_restore(cfi_rules* rules, const cfi_rules* initial, u64 reg) {
    if (reg < k_cfi_regs) rules->reg[reg] = initial != nullptr ? initial->reg[reg] : cfi_rule{cr_same, 0};
}

constexpr u32 k_cfi_state_stack = 4;

/// Runs the CFA program from c->at to c->end, starting at location `loc`, until the location
/// passes `target`. `initial` holds the rules after the CIE's program (for restore).
CRASHDROP_SIGSAFE bool cfi_run(cfi_cursor* c, const cfi_cie* cie, u64 loc, u64 target, u64 data_base, cfi_rules* rules,
                               const cfi_rules* initial, u32* ra_signed) {
    cfi_rules stack[k_cfi_state_stack];
    u32 depth = 0;
    const i64 da = cie->data_align;
    while (c->at < c->end) {
        const u8 op = cfi_u8(c);
        if (c->failed) return false;
        u64 advance = 0;
        bool advancing = false;
        const u32 high = op & 0xc0;
        const u32 o = op;
        if (cfi_is(high, 0x40)) {
            advance = (op & 0x3f) * cie->code_align;
            advancing = true;
        } else if (cfi_is(high, 0x80)) {
            cfi_set(rules, op & 0x3f, cr_offset, static_cast<i64>(cfi_uleb(c)) * da);
        } else if (cfi_is(high, 0xc0)) {
            cfi_restore(rules, initial, op & 0x3f);
        } else if (cfi_is(o, 0x00)) {  // nop
        } else if (cfi_is(o, 0x01)) {  // set_loc
            const u64 to = cfi_pointer(c, cie->fde_enc, data_base);
            if (to > target) return !c->failed;
            loc = to;
        } else if (cfi_is(o, 0x02)) {
            advance = cfi_u8(c) * cie->code_align;
            advancing = true;
        } else if (cfi_is(o, 0x03)) {
            advance = cfi_fixed(c, 2) * cie->code_align;
            advancing = true;
        } else if (cfi_is(o, 0x04)) {
            advance = cfi_fixed(c, 4) * cie->code_align;
            advancing = true;
        } else if (cfi_is(o, 0x05)) {  // offset_extended
            const u64 reg = cfi_uleb(c);
            cfi_set(rules, reg, cr_offset, static_cast<i64>(cfi_uleb(c)) * da);
        } else if (cfi_is(o, 0x06)) {
            cfi_restore(rules, initial, cfi_uleb(c));
        } else if (cfi_is(o, 0x07)) {
            cfi_set(rules, cfi_uleb(c), cr_undefined, 0);
        } else if (cfi_is(o, 0x08)) {
            cfi_set(rules, cfi_uleb(c), cr_same, 0);
        } else if (cfi_is(o, 0x09)) {  // register
            const u64 reg = cfi_uleb(c);
            const u64 from = cfi_uleb(c);
            if (reg < k_cfi_regs && from >= k_cfi_regs) return false;
            cfi_set(rules, reg, cr_register, static_cast<i64>(from));
        } else if (cfi_is(o, 0x0a)) {  // remember_state
            if (depth >= k_cfi_state_stack) return false;
            copy_bytes(&stack[depth++], rules, sizeof(cfi_rules));
        } else if (cfi_is(o, 0x0b)) {  // restore_state (the CFA is part of the state too, as GCC's and LLVM's unwinders treat it)
            if (depth == 0) return false;
            copy_bytes(rules, &stack[--depth], sizeof(cfi_rules));
        } else if (cfi_is(o, 0x0c)) {  // def_cfa
            rules->cfa_reg = static_cast<u32>(cfi_uleb(c));
            rules->cfa_offset = static_cast<i64>(cfi_uleb(c));
            rules->cfa_expression = 0;
        } else if (cfi_is(o, 0x0d)) {  // def_cfa_register
            rules->cfa_reg = static_cast<u32>(cfi_uleb(c));
            rules->cfa_expression = 0;
        } else if (cfi_is(o, 0x0e)) {  // def_cfa_offset
            rules->cfa_offset = static_cast<i64>(cfi_uleb(c));
        } else if (cfi_is(o, 0x0f)) {  // def_cfa_expression
            const u64 len = cfi_uleb(c);
            c->at += len;
            rules->cfa_expression = 1;
        } else if (cfi_is(o, 0x10) || cfi_is(o, 0x16)) {  // expression, val_expression
            const u64 reg = cfi_uleb(c);
            const u64 len = cfi_uleb(c);
            c->at += len;
            cfi_set(rules, reg, cr_expression, 0);
        } else if (cfi_is(o, 0x11)) {  // offset_extended_sf
            const u64 reg = cfi_uleb(c);
            cfi_set(rules, reg, cr_offset, cfi_sleb(c) * da);
        } else if (cfi_is(o, 0x12)) {  // def_cfa_sf
            rules->cfa_reg = static_cast<u32>(cfi_uleb(c));
            rules->cfa_offset = cfi_sleb(c) * da;
            rules->cfa_expression = 0;
        } else if (cfi_is(o, 0x13)) {  // def_cfa_offset_sf
            rules->cfa_offset = cfi_sleb(c) * da;
        } else if (cfi_is(o, 0x14)) {  // val_offset
            const u64 reg = cfi_uleb(c);
            cfi_set(rules, reg, cr_val_offset, static_cast<i64>(cfi_uleb(c)) * da);
        } else if (cfi_is(o, 0x15)) {  // val_offset_sf
            const u64 reg = cfi_uleb(c);
            cfi_set(rules, reg, cr_val_offset, cfi_sleb(c) * da);
        } else if (cfi_is(o, 0x2d)) {  // aarch64: negate_ra_state (elsewhere GNU_window_save: SPARC only)
            if (k_cfi_sp != 31) return false;
            *ra_signed ^= 1u;
        } else if (cfi_is(o, 0x2e)) {  // GNU_args_size
            (void)cfi_uleb(c);
        } else if (cfi_is(o, 0x2f)) {  // GNU_negative_offset_extended
            const u64 reg = cfi_uleb(c);
            cfi_set(rules, reg, cr_offset, -static_cast<i64>(cfi_uleb(c)) * da);
        } else {
            return false;
        }
        if (c->failed) return false;
        if (advancing) {
            if (loc + advance > target) return true;
            loc += advance;
        }
    }
    return !c->failed;
}

enum cfi_step_result : int {
    cs_ok = 0,       // *frame is now the caller's
    cs_end = 1,      // the outermost frame: no caller (its return address is undefined or 0)
    cs_stopped = 2,  // cannot go on: no module or CFI for the pc, an expression, a bad read
};

/// One step of the walk: replaces *f by its caller's frame.
CRASHDROP_SIGSAFE cfi_step_result cfi_step(linux_state* g, cfi_frame* f) {
    const u64 target = f->first ? f->pc : f->pc - 1;
    const cfi_module* m = cfi_module_of(g, target);
    if (m == nullptr) return cs_stopped;
    const u64 data_base = m->table.base;
    const u64 fde = cfi_find_fde(g, m, target);
    if (fde == 0) return cs_stopped;
    cfi_cursor c;
    cfi_cursor_init(&c, &g->reader, fde, fde + 8);
    const u64 length = cfi_fixed(&c, 4);
    const u64 cie_offset = cfi_fixed(&c, 4);
    if (c.failed || length < 8 || length >= 0xfffffff0u || cie_offset == 0 || cie_offset > fde + 4) return cs_stopped;
    cfi_cie cie;
    cfi_cursor cc;
    if (!cfi_parse_cie(g, fde + 4 - cie_offset, data_base, &cie, &cc)) return cs_stopped;
    if (cie.ra_reg >= k_cfi_regs) return cs_stopped;
    cfi_cursor_init(&c, &g->reader, fde + 8, fde + 4 + length);
    const u64 pc_begin = cfi_pointer(&c, cie.fde_enc, data_base);
    const u64 pc_range = cfi_pointer(&c, cie.fde_enc, data_base, true);
    if (c.failed || (cie.fde_enc & 0x80) != 0 || target < pc_begin || target - pc_begin >= pc_range) return cs_stopped;
    if (cie.has_z) {
        const u64 aug_len = cfi_uleb(&c);
        c.at += aug_len;
    }
    if (c.failed || c.at > c.end) return cs_stopped;

    cfi_rules initial;
    zero_bytes(&initial, sizeof(initial));  // every register: same value (cr_same is 0)
    initial.cfa_reg = k_cfi_sp;
    u32 ra_signed = 0;
    cfi_cursor_init(&cc, &g->reader, cie.program, cie.end);
    if (!cfi_run(&cc, &cie, pc_begin, ~u64{0}, data_base, &initial, nullptr, &ra_signed)) return cs_stopped;
    cfi_rules rules;
    copy_bytes(&rules, &initial, sizeof(rules));
    if (!cfi_run(&c, &cie, pc_begin, target, data_base, &rules, &initial, &ra_signed)) return cs_stopped;

    if (rules.cfa_expression || rules.cfa_reg >= k_cfi_regs) return cs_stopped;
    const u64 cfa = f->reg[rules.cfa_reg] + static_cast<u64>(rules.cfa_offset);
    const cfi_rule& ra_rule = rules.reg[cie.ra_reg];
    if (ra_rule.kind == cr_undefined) return cs_end;
    u64 next[k_cfi_regs];
    for (u32 i = 0; i < k_cfi_regs; ++i) {
        const cfi_rule& r = rules.reg[i];
        const u32 kind = r.kind;
        if (cfi_is(kind, cr_same)) {
            next[i] = f->reg[i];
        } else if (cfi_is(kind, cr_undefined)) {
            next[i] = 0;
        } else if (cfi_is(kind, cr_offset)) {
            if (read_memory(&g->reader, &next[i], cfa + static_cast<u64>(r.value), 8) != 8) return cs_stopped;
        } else if (cfi_is(kind, cr_val_offset)) {
            next[i] = cfa + static_cast<u64>(r.value);
        } else if (cfi_is(kind, cr_register)) {
            next[i] = f->reg[static_cast<u32>(r.value)];
        } else {
            return cs_stopped;  // an expression
        }
    }
    u64 ra = next[cie.ra_reg];
    if (ra_signed && k_cfi_sp == 31) ra &= (u64{1} << 48) - 1;  // strip the pointer authentication code
    if (ra == 0) return cs_end;
    if (cfa <= f->reg[k_cfi_sp]) return cs_stopped;  // the stack grows down: a caller's SP is higher
    copy_bytes(f->reg, next, sizeof(next));
    f->reg[k_cfi_sp] = cfa;
    f->pc = ra;
    f->first = 0;
    return cs_ok;
}

/// Fills a first frame from the signal context.
CRASHDROP_SIGSAFE void cfi_frame_from(cfi_frame* f, const ucontext_t* uc) {
#if defined(__aarch64__)
    copy_bytes(f->reg, uc->uc_mcontext.regs, 31 * sizeof(u64));
    f->reg[31] = uc->uc_mcontext.sp;
    f->pc = uc->uc_mcontext.pc;
#else
    const greg_t* r = uc->uc_mcontext.gregs;
    const int order[16] = {REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
                           REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
    for (u32 i = 0; i < 16; ++i) f->reg[i] = static_cast<u64>(r[order[i]]);
    f->pc = static_cast<u64>(r[REG_RIP]);
    f->reg[16] = f->pc;
#endif
    f->first = 1;
}

constexpr u32 k_cfi_max_frames = 256;

}  // namespace sigsafe

namespace detail {

/// Records the executable segments of one loaded module with its .eh_frame_hdr table (start()).
inline void record_cfi_module(sigsafe::linux_state* g, const struct dl_phdr_info* info) {
    sigsafe::own_function_table table{};
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type == PT_GNU_EH_FRAME) read_own_function_table(&table, info->dlpi_addr + ph.p_vaddr, ph.p_memsz);
    }
    for (int i = 0; i < info->dlpi_phnum && g->cfi_module_count < sigsafe::k_max_cfi_modules; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
        sigsafe::cfi_module& m = g->cfi_modules[g->cfi_module_count++];
        m.start = info->dlpi_addr + ph.p_vaddr;
        m.end = m.start + ph.p_memsz;
        m.table = table;
    }
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_LINUX && CRASHDROP_SUPPORTED
