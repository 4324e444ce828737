// crashdrop/context/store.hpp - the context store: annotations, tags, user fields,
// attachments and the breadcrumb ring, laid out in the memory start() reserves (the region the
// helper maps too), so that the crash path reads them without allocating and they survive a
// corrupted heap.
//
// Writers (ordinary code, any thread) never allocate and never block one another, with one
// exception kept off the hot path: adding a key the table has never held takes a tiny
// spin lock (insertions are rare; updating or removing a key is lock-free).
//   - Key/value slots are an open-addressing hash table. Each slot has a sequence number: a
//     writer owns the slot while the number is odd (taken with compare-and-swap), and a
//     reader that sees it odd or changed knows the copy may be torn. Two threads writing the
//     same key take turns on that slot; threads writing different keys never meet.
//   - Breadcrumbs are a ring: a writer takes the next index with fetch_add and claims its
//     entry with compare-and-swap on the entry's sequence number (2*index+1 while writing,
//     2*index+2 when complete). A writer never waits: if the entry is still being written by
//     a writer a whole ring behind (stalled), it takes the next index instead.
// Readers on the crash path (namespace sigsafe) copy what is stable and skip what is not;
// they never wait for a writer, which may be the very thread that crashed.
//
// Context: implementation TU. Layout and readers are crash-path code (sigsafe rules);
// writers in namespace detail are ordinary code but allocation-free and lock-free.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

constexpr u32 k_slot_key_capacity = 48;     // a 39-byte key + "__64" + NUL
constexpr u32 k_slot_value_capacity = 256;  // one 255-byte part + NUL
static_assert(limits::annotation_key + 5 < k_slot_key_capacity, "a part's name fits a slot");
static_assert(limits::annotation_part < k_slot_value_capacity, "a part fits a slot");
static_assert(limits::tag_value < k_slot_value_capacity && limits::user_field < k_slot_value_capacity, "fits a slot");

/// What a slot holds.
enum slot_kind : u8 { sk_annotation = 1, sk_tag = 2, sk_user = 3 };
/// A slot's life: empty slots end a probe sequence; removed ones keep their key (and are
/// reused by the next insertion) so that probing stays correct without deletion.
enum slot_state : u32 { ss_empty = 0, ss_live = 1, ss_removed = 2 };
/// Slot flags.
constexpr u8 sf_split = 1;         // the head of a long value: its parts are key__1..key__N
constexpr u8 sf_process_only = 2;  // Options::extra: dropped in a forked child

struct context_slot {
    std::atomic<u32> seq;    // odd: a writer owns the slot
    std::atomic<u32> state;  // slot_state
    u32 hash;
    u8 kind;
    u8 flags;
    u16 parts;         // of a split head
    u16 key_length;
    u16 value_length;
    u32 reserved;
    char key[k_slot_key_capacity];
    char value[k_slot_value_capacity];
};

struct attachment_slot {
    std::atomic<u32> seq;
    std::atomic<u32> state;  // ss_empty / ss_live / ss_removed
    u32 length;
    u32 reserved;
    char path[limits::attachment_path + 1];
};

struct breadcrumb_entry {
    std::atomic<u64> seq;  // 0: never written; odd: being written; 2*index+2: holds entry `index`
    long long timestamp_ms;
    u8 level;
    u8 category_length;
    u8 message_length;
    u8 reserved[5];
    char category[limits::breadcrumb_category + 1];
    char message[limits::breadcrumb_message + 1];
};

/// The store, at the start of its part of the region; slots, attachments and entries follow.
struct context_header {
    u32 magic;           // k_context_magic
    u32 slot_capacity;
    u32 attachment_capacity;
    u32 breadcrumb_capacity;
    u32 slot_size;       // layout checks for a reader in another process
    u32 entry_size;
    std::atomic<u32> insert_lock;
    std::atomic<u32> long_lock;  // held by writers of long (split) values and by parameters()
    std::atomic<u64> breadcrumb_head;  // entries ever appended
};
constexpr u32 k_context_magic = 0x31584443u;  // "CDX1"

/// Pointers into a store laid out at `header`.
struct context_store {
    context_header* header;
    context_slot* slots;
    attachment_slot* attachments;
    breadcrumb_entry* breadcrumbs;
};

inline u64 context_bytes(u32 breadcrumb_capacity) {
    return align_up(sizeof(context_header), 64) + align_up(sizeof(context_slot) * limits::context_slots, 64) +
           align_up(sizeof(attachment_slot) * limits::attachments, 64) +
           align_up(sizeof(breadcrumb_entry) * (breadcrumb_capacity == 0 ? 1 : breadcrumb_capacity), 64);
}

CRASHDROP_SIGSAFE bool context_attach(context_store* s, u8* base) {
    s->header = reinterpret_cast<context_header*>(base);
    if (s->header->magic != k_context_magic || s->header->slot_size != sizeof(context_slot) ||
        s->header->entry_size != sizeof(breadcrumb_entry)) {
        s->header = nullptr;
        return false;
    }
    u8* p = base + align_up(sizeof(context_header), 64);
    s->slots = reinterpret_cast<context_slot*>(p);
    p += align_up(sizeof(context_slot) * s->header->slot_capacity, 64);
    s->attachments = reinterpret_cast<attachment_slot*>(p);
    p += align_up(sizeof(attachment_slot) * s->header->attachment_capacity, 64);
    s->breadcrumbs = reinterpret_cast<breadcrumb_entry*>(p);
    return true;
}

/// FNV-1a over the kind and the key.
CRASHDROP_SIGSAFE_INLINE u32 slot_hash(u8 kind, const char* key, std::size_t n) {
    u32 h = 2166136261u;
    h = (h ^ kind) * 16777619u;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<u8>(key[i])) * 16777619u;
    return h;
}

/// A stable copy of one slot, for readers.
struct slot_copy {
    u8 kind;
    u8 flags;
    u16 parts;
    u16 key_length;
    u16 value_length;
    bool torn;  // a writer owned the slot (it may be the crashed thread): the copy may mix values
    char key[k_slot_key_capacity];
    char value[k_slot_value_capacity];
};

/// Copies slot `i` if it is live. Retries a few times when a writer changes it meanwhile; if
/// the slot stays owned (its writer is stopped or crashed), copies it as it is.
CRASHDROP_SIGSAFE bool context_read_slot(const context_store* s, u32 i, slot_copy* out) {
    const context_slot* slot = &s->slots[i];
    for (int attempt = 0; attempt < 4; ++attempt) {
        const u32 before = slot->seq.load(std::memory_order_acquire);
        if (slot->state.load(std::memory_order_acquire) != ss_live) return false;
        out->kind = slot->kind;
        out->flags = slot->flags;
        out->parts = slot->parts;
        out->key_length = slot->key_length < k_slot_key_capacity ? slot->key_length : k_slot_key_capacity - 1;
        out->value_length = slot->value_length < k_slot_value_capacity ? slot->value_length : k_slot_value_capacity - 1;
        copy_bytes(out->key, slot->key, out->key_length);
        out->key[out->key_length] = '\0';
        copy_bytes(out->value, slot->value, out->value_length);
        out->value[out->value_length] = '\0';
        std::atomic_thread_fence(std::memory_order_acquire);
        const u32 after = slot->seq.load(std::memory_order_relaxed);
        out->torn = (before & 1u) != 0 || before != after;
        if (!out->torn) return true;
    }
    return true;
}

/// Copies entry `index` of the ring if it still holds that entry. False: overwritten, not
/// complete, or changing.
CRASHDROP_SIGSAFE bool context_read_breadcrumb(const context_store* s, u64 index, breadcrumb_entry* out) {
    const u32 capacity = s->header->breadcrumb_capacity;
    if (capacity == 0) return false;
    const breadcrumb_entry* e = &s->breadcrumbs[index % capacity];
    const u64 want = 2 * index + 2;
    if (e->seq.load(std::memory_order_acquire) != want) return false;
    out->timestamp_ms = e->timestamp_ms;
    out->level = e->level;
    out->category_length = e->category_length <= limits::breadcrumb_category ? e->category_length : 0;
    out->message_length = e->message_length <= limits::breadcrumb_message ? e->message_length : 0;
    copy_bytes(out->category, e->category, out->category_length);
    out->category[out->category_length] = '\0';
    copy_bytes(out->message, e->message, out->message_length);
    out->message[out->message_length] = '\0';
    std::atomic_thread_fence(std::memory_order_acquire);
    return e->seq.load(std::memory_order_relaxed) == want;
}

/// Copies attachment slot `i` if it is live.
CRASHDROP_SIGSAFE std::size_t context_read_attachment(const context_store* s, u32 i, char* out, std::size_t capacity) {
    const attachment_slot* a = &s->attachments[i];
    if (a->state.load(std::memory_order_acquire) != ss_live) return 0;
    std::size_t n = a->length;
    if (n >= capacity) n = capacity - 1;
    copy_bytes(out, a->path, n);
    out[n] = '\0';
    return n;
}

/// Appends `s` to `t` escaped for a context line: %, =, |, and control bytes become %XX.
CRASHDROP_SIGSAFE void text_append_escaped(text* t, const char* s, std::size_t n) {
    static const char k_hex[] = "0123456789ABCDEF";
    for (std::size_t i = 0; i < n; ++i) {
        const u8 c = static_cast<u8>(s[i]);
        if (c == '%' || c == '=' || c == '|' || c < 0x20 || c == 0x7f) {
            t->put('%');
            t->put(k_hex[c >> 4]);
            t->put(k_hex[c & 0xf]);
        } else {
            t->put(static_cast<char>(c));
        }
    }
}

/// A breadcrumb's category or message inside a context line: escaped as a field first ('|' and
/// '%' as %7C and %25, so the value splits on '|' unambiguously), then as part of the line.
CRASHDROP_SIGSAFE void text_append_field(text* t, const char* s, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        if (s[i] == '|') text_append(t, "%257C");
        else if (s[i] == '%') text_append(t, "%2525");
        else text_append_escaped(t, s + i, 1);
    }
}

CRASHDROP_SIGSAFE_INLINE const char* level_text(u8 level) {
    switch (level) {
        case 0: return "debug";
        case 2: return "warning";
        case 3: return "error";
        case 4: return "fatal";
        default: return "info";
    }
}

/// The context stream's text (user, tags, attachments, breadcrumbs; annotations go to
/// Crashpad's info stream): "key=value" lines, escaped, appended to `t`.
CRASHDROP_SIGSAFE void context_write_text(const context_store* s, text* t, slot_copy* scratch_slot,
                                          breadcrumb_entry* scratch_entry, char* path_buffer, std::size_t path_capacity) {
    for (u32 i = 0; i < s->header->slot_capacity; ++i) {
        if (!context_read_slot(s, i, scratch_slot)) continue;
        if (scratch_slot->kind == sk_user) {
            text_append(t, "user.");
        } else if (scratch_slot->kind == sk_tag) {
            text_append(t, "tag.");
        } else {
            continue;
        }
        text_append_escaped(t, scratch_slot->key, scratch_slot->key_length);
        t->put('=');
        text_append_escaped(t, scratch_slot->value, scratch_slot->value_length);
        t->put('\n');
    }
    u32 n = 0;
    for (u32 i = 0; i < s->header->attachment_capacity; ++i) {
        const std::size_t len = context_read_attachment(s, i, path_buffer, path_capacity);
        if (len == 0) continue;
        text_append(t, "attachment.");
        text_append_dec(t, n++);
        t->put('=');
        text_append_escaped(t, path_buffer, len);
        t->put('\n');
    }
    const u64 head = s->header->breadcrumb_head.load(std::memory_order_acquire);
    const u32 capacity = s->header->breadcrumb_capacity;
    n = 0;
    for (u64 index = head > capacity ? head - capacity : 0; index < head; ++index) {
        if (!context_read_breadcrumb(s, index, scratch_entry)) continue;
        text_append(t, "breadcrumb.");
        text_append_dec(t, n++);
        t->put('=');
        text_append_sdec(t, scratch_entry->timestamp_ms);
        text_append(t, "%7C");
        text_append(t, level_text(scratch_entry->level));
        text_append(t, "%7C");
        text_append_field(t, scratch_entry->category, scratch_entry->category_length);
        text_append(t, "%7C");
        text_append_field(t, scratch_entry->message, scratch_entry->message_length);
        t->put('\n');
    }
}

/// At most how many bytes the annotations and the context stream take in a dump right now
/// (escaping can triple a byte), so the stacks leave room for them.
CRASHDROP_SIGSAFE u64 context_dump_bound(const context_store* s) {
    if (s->header == nullptr) return 0;
    u64 total = 4096;
    for (u32 i = 0; i < s->header->slot_capacity; ++i) {
        const context_slot* slot = &s->slots[i];
        if (slot->state.load(std::memory_order_relaxed) != ss_live) continue;
        total += 3 * (u64{k_slot_key_capacity} + k_slot_value_capacity) + 32;
    }
    for (u32 i = 0; i < s->header->attachment_capacity; ++i) {
        if (s->attachments[i].state.load(std::memory_order_relaxed) == ss_live) total += 3 * (limits::attachment_path + 1) + 32;
    }
    const u64 head = s->header->breadcrumb_head.load(std::memory_order_relaxed);
    const u64 crumbs = head < s->header->breadcrumb_capacity ? head : s->header->breadcrumb_capacity;
    total += crumbs * (3 * (limits::breadcrumb_category + limits::breadcrumb_message) + 64);
    return total;
}

/// In a forked child (one thread, async-signal-safe context): drops Options::extra, and what
/// threads that do not exist here were in the middle of - their locks, and slots they were
/// writing (half-written, so dropped).
CRASHDROP_SIGSAFE void context_drop_process_only(context_store* s) {
    if (s->header == nullptr) return;
    s->header->insert_lock.store(0, std::memory_order_relaxed);
    s->header->long_lock.store(0, std::memory_order_relaxed);
    for (u32 i = 0; i < s->header->slot_capacity; ++i) {
        context_slot* slot = &s->slots[i];
        const u32 seq = slot->seq.load(std::memory_order_relaxed);
        if (seq & 1u) {
            slot->state.store(ss_removed, std::memory_order_relaxed);
            slot->value_length = 0;
            slot->seq.store(seq + 1, std::memory_order_relaxed);
        }
        if (slot->state.load(std::memory_order_relaxed) == ss_live && (slot->flags & sf_process_only)) {
            slot->state.store(ss_removed, std::memory_order_relaxed);
            slot->value_length = 0;
        }
    }
}

}  // namespace sigsafe

namespace detail {

using sigsafe::context_slot;
using sigsafe::context_store;

/// Lays out an empty store at `base` (start(); the memory is zeroed).
inline void context_init(context_store* s, std::uint8_t* base, std::uint32_t breadcrumb_capacity) {
    auto* h = reinterpret_cast<sigsafe::context_header*>(base);
    h->magic = sigsafe::k_context_magic;
    h->slot_capacity = static_cast<std::uint32_t>(limits::context_slots);
    h->attachment_capacity = static_cast<std::uint32_t>(limits::attachments);
    h->breadcrumb_capacity = breadcrumb_capacity;
    h->slot_size = sizeof(context_slot);
    h->entry_size = sizeof(sigsafe::breadcrumb_entry);
    sigsafe::context_attach(s, base);
}

inline void cpu_relax(unsigned spins) {
    if (spins < 64) {
        sigsafe::cpu_pause();
    } else {
#if CRASHDROP_OS_WINDOWS
        SwitchToThread();
#else
        sched_yield();
#endif
    }
}

/// Takes ownership of a slot (its sequence number made odd). Spins only while another thread
/// writes the same slot.
inline std::uint32_t slot_acquire(context_slot* slot) {
    unsigned spins = 0;
    for (;;) {
        std::uint32_t seq = slot->seq.load(std::memory_order_relaxed);
        if ((seq & 1u) == 0 && slot->seq.compare_exchange_weak(seq, seq + 1, std::memory_order_acquire)) return seq + 1;
        cpu_relax(spins++);
    }
}

inline void slot_release(context_slot* slot, std::uint32_t owned) {
    slot->seq.store(owned + 1, std::memory_order_release);
}

inline bool slot_matches(const context_slot* slot, std::uint8_t kind, std::uint32_t hash, const char* key, std::size_t n) {
    return slot->hash == hash && slot->kind == kind && slot->key_length == n && std::memcmp(slot->key, key, n) == 0;
}

/// The slot holding (kind, key), live or removed; nullptr if the table never held it.
inline context_slot* context_find(const context_store* s, std::uint8_t kind, const char* key, std::size_t n, std::uint32_t hash) {
    const std::uint32_t capacity = s->header->slot_capacity;
    for (std::uint32_t probe = 0; probe < capacity; ++probe) {
        context_slot* slot = &s->slots[(hash + probe) % capacity];
        const std::uint32_t state = slot->state.load(std::memory_order_acquire);
        if (state == sigsafe::ss_empty) return nullptr;
        if (slot_matches(slot, kind, hash, key, n)) return slot;
    }
    return nullptr;
}

/// Writes value/flags into an owned slot and makes it live.
inline void slot_fill(context_slot* slot, const char* value, std::size_t n, std::uint8_t flags, std::uint16_t parts) {
    std::memcpy(slot->value, value, n);
    slot->value[n] = '\0';
    slot->value_length = static_cast<std::uint16_t>(n);
    slot->flags = flags;
    slot->parts = parts;
    slot->state.store(sigsafe::ss_live, std::memory_order_release);
}

/// Sets (kind, key) = value. False only when the table is full. The value must fit a slot.
inline bool context_put(const context_store* s, std::uint8_t kind, const char* key, std::size_t key_n, const char* value,
                        std::size_t value_n, std::uint8_t flags, std::uint16_t parts = 0) {
    const std::uint32_t hash = sigsafe::slot_hash(kind, key, key_n);
    for (;;) {
        if (context_slot* slot = context_find(s, kind, key, key_n, hash)) {
            const std::uint32_t owned = slot_acquire(slot);
            // Between finding and owning, an insertion may have given a removed slot to another
            // key: check again under ownership.
            if (slot_matches(slot, kind, hash, key, key_n)) {
                slot_fill(slot, value, value_n, flags, parts);
                slot_release(slot, owned);
                return true;
            }
            slot_release(slot, owned);
            continue;
        }
        // A key the table has never held (or has reused the slot of): insert under the lock.
        unsigned spins = 0;
        while (s->header->insert_lock.exchange(1, std::memory_order_acquire) != 0) cpu_relax(spins++);
        context_slot* target = nullptr;
        bool found_again = false;
        const std::uint32_t capacity = s->header->slot_capacity;
        for (std::uint32_t probe = 0; probe < capacity; ++probe) {
            context_slot* slot = &s->slots[(hash + probe) % capacity];
            const std::uint32_t state = slot->state.load(std::memory_order_acquire);
            if (state != sigsafe::ss_empty && slot_matches(slot, kind, hash, key, key_n)) {
                found_again = true;  // inserted meanwhile by another thread
                break;
            }
            if (target == nullptr && state == sigsafe::ss_removed) target = slot;
            if (state == sigsafe::ss_empty) {
                if (target == nullptr) target = slot;
                break;
            }
        }
        if (found_again) {
            s->header->insert_lock.store(0, std::memory_order_release);
            continue;
        }
        if (target == nullptr) {
            s->header->insert_lock.store(0, std::memory_order_release);
            return false;
        }
        const std::uint32_t owned = slot_acquire(target);
        std::memcpy(target->key, key, key_n);
        target->key[key_n] = '\0';
        target->key_length = static_cast<std::uint16_t>(key_n);
        target->kind = kind;
        target->hash = hash;
        slot_fill(target, value, value_n, flags, parts);
        slot_release(target, owned);
        s->header->insert_lock.store(0, std::memory_order_release);
        return true;
    }
}

/// Removes (kind, key). Returns the removed slot's split part count (0 if not split or absent).
inline std::uint16_t context_erase(const context_store* s, std::uint8_t kind, const char* key, std::size_t key_n) {
    const std::uint32_t hash = sigsafe::slot_hash(kind, key, key_n);
    context_slot* slot = context_find(s, kind, key, key_n, hash);
    if (slot == nullptr) return 0;
    const std::uint32_t owned = slot_acquire(slot);
    std::uint16_t parts = 0;
    if (slot_matches(slot, kind, hash, key, key_n) && slot->state.load(std::memory_order_relaxed) == sigsafe::ss_live) {
        parts = (slot->flags & sigsafe::sf_split) ? slot->parts : 0;
        slot->state.store(sigsafe::ss_removed, std::memory_order_release);
        slot->value_length = 0;
    }
    slot_release(slot, owned);
    return parts;
}

/// The parts count of a live split head (kind, key); 0 otherwise.
inline std::uint16_t context_parts(const context_store* s, std::uint8_t kind, const char* key, std::size_t key_n) {
    const std::uint32_t hash = sigsafe::slot_hash(kind, key, key_n);
    const context_slot* slot = context_find(s, kind, key, key_n, hash);
    if (slot == nullptr || slot->state.load(std::memory_order_acquire) != sigsafe::ss_live) return 0;
    return (slot->flags & sigsafe::sf_split) ? slot->parts : 0;
}

/// "key__N" into buf (which holds k_slot_key_capacity bytes); returns its length.
inline std::size_t part_name(char* buf, const char* key, std::size_t key_n, unsigned part) {
    std::memcpy(buf, key, key_n);
    std::size_t n = key_n;
    buf[n++] = '_';
    buf[n++] = '_';
    char digits[8];
    std::size_t d = 0;
    do {
        digits[d++] = static_cast<char>('0' + part % 10);
        part /= 10;
    } while (part != 0);
    while (d > 0) buf[n++] = digits[--d];
    buf[n] = '\0';
    return n;
}

/// Holds the store's long lock (when `take`) for a scope.
class long_lock_guard {
public:
    long_lock_guard(const context_store* s, bool take) : lock_(take ? &s->header->long_lock : nullptr) {
        if (lock_ == nullptr) return;
        unsigned spins = 0;
        while (lock_->exchange(1, std::memory_order_acquire) != 0) cpu_relax(spins++);
    }
    ~long_lock_guard() {
        if (lock_ != nullptr) lock_->store(0, std::memory_order_release);
    }
    bool held() const { return lock_ != nullptr; }
    long_lock_guard(const long_lock_guard&) = delete;
    long_lock_guard& operator=(const long_lock_guard&) = delete;

private:
    std::atomic<std::uint32_t>* lock_;
};

/// Sets a value of any length up to limits::annotation_value: short values take one slot; a
/// long one is stored as parts key__1..key__N (written first) under a split head. Parts a
/// previous, longer value left behind are removed afterwards. False when the table is full.
inline bool context_put_long(const context_store* s, std::uint8_t kind, const char* key, std::size_t key_n, const char* value,
                             std::size_t value_n, std::uint8_t flags) {
    const std::size_t part = limits::annotation_part;
    // Writers of split values take the long lock, so parameters() never joins parts of two
    // values; a short value over a short one (the common case) does not.
    const std::uint16_t seen_parts = context_parts(s, kind, key, key_n);
    long_lock_guard guard(s, value_n > part || seen_parts != 0);
    const std::uint16_t old_parts = guard.held() ? context_parts(s, kind, key, key_n) : seen_parts;
    char name[sigsafe::k_slot_key_capacity];
    std::uint16_t parts = 0;
    bool ok = true;
    if (value_n <= part) {
        ok = context_put(s, kind, key, key_n, value, value_n, flags);
    } else {
        parts = static_cast<std::uint16_t>((value_n + part - 1) / part);
        for (std::uint16_t i = 0; ok && i < parts; ++i) {
            const std::size_t at = std::size_t{i} * part;
            const std::size_t len = value_n - at < part ? value_n - at : part;
            ok = context_put(s, kind, name, part_name(name, key, key_n, i + 1u), value + at, len, flags);
        }
        if (ok) ok = context_put(s, kind, key, key_n, "", 0, static_cast<std::uint8_t>(flags | sigsafe::sf_split), parts);
    }
    if (!ok) parts = 0;  // whatever was written of it is removed below
    for (std::uint16_t i = parts; i < (ok ? old_parts : std::max<std::uint16_t>(old_parts, 64)); ++i) {
        context_erase(s, kind, name, part_name(name, key, key_n, i + 1u));
    }
    if (!ok) context_erase(s, kind, key, key_n);
    return ok;
}

inline void context_erase_long(const context_store* s, std::uint8_t kind, const char* key, std::size_t key_n) {
    long_lock_guard guard(s, context_parts(s, kind, key, key_n) != 0);
    const std::uint16_t parts = context_erase(s, kind, key, key_n);
    char name[sigsafe::k_slot_key_capacity];
    for (std::uint16_t i = 0; i < parts; ++i) context_erase(s, kind, name, part_name(name, key, key_n, i + 1u));
}

/// Cuts n back to a UTF-8 character boundary at or below `limit`.
inline std::size_t utf8_cut(const char* s, std::size_t n, std::size_t limit) {
    if (n <= limit) return n;
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0u) == 0x80u) --cut;
    return cut;
}

inline long long realtime_ms() {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
}

/// Appends a breadcrumb. Never waits: an entry still being written by a stalled writer a
/// whole ring behind is skipped (a few times), and an entry already taken by a newer writer
/// means this older one is dropped.
inline void context_add_breadcrumb(const context_store* s, const char* message, std::size_t message_n, const char* category,
                                   std::size_t category_n, std::uint8_t level) {
    sigsafe::context_header* h = s->header;
    const std::uint32_t capacity = h->breadcrumb_capacity;
    if (capacity == 0) return;
    const long long now = realtime_ms();
    message_n = utf8_cut(message, message_n, limits::breadcrumb_message);
    category_n = utf8_cut(category, category_n, limits::breadcrumb_category);
    for (int attempt = 0; attempt < 4; ++attempt) {
        const std::uint64_t index = h->breadcrumb_head.fetch_add(1, std::memory_order_relaxed);
        sigsafe::breadcrumb_entry* e = &s->breadcrumbs[index % capacity];
        const std::uint64_t writing = 2 * index + 1;
        std::uint64_t seq = e->seq.load(std::memory_order_relaxed);
        bool claimed = false;
        while (!claimed) {
            if (seq & 1u) break;             // a stalled writer is in it: take another index
            if (seq >= writing) return;      // a newer breadcrumb is already there: drop this one
            claimed = e->seq.compare_exchange_weak(seq, writing, std::memory_order_acquire, std::memory_order_relaxed);
        }
        if (!claimed) continue;
        e->timestamp_ms = now;
        e->level = level;
        e->category_length = static_cast<std::uint8_t>(category_n);
        e->message_length = static_cast<std::uint8_t>(message_n);
        std::memcpy(e->category, category, category_n);
        e->category[category_n] = '\0';
        std::memcpy(e->message, message, message_n);
        e->message[message_n] = '\0';
        e->seq.store(writing + 1, std::memory_order_release);
        return;
    }
}

/// Every live slot of a kind, long values joined again.
inline std::map<std::string, std::string> context_collect(const context_store* s, std::uint8_t kind) {
    std::map<std::string, std::string> out;
    std::map<std::string, std::uint16_t> heads;
    long_lock_guard guard(s, true);  // no split value changes while it is read
    sigsafe::slot_copy c;
    for (std::uint32_t i = 0; i < s->header->slot_capacity; ++i) {
        bool live = sigsafe::context_read_slot(s, i, &c);
        // Unlike the crash path, this caller can wait for a writer to finish the slot rather than
        // return a mix of two values (bounded: a writer stopped for good, as in a forked child,
        // still leaves the copy as it is).
        for (unsigned spins = 0; live && c.torn && spins < 1000; ++spins) {
            cpu_relax(spins);
            live = sigsafe::context_read_slot(s, i, &c);
        }
        if (!live || c.kind != kind) continue;
        if (c.flags & sigsafe::sf_split) {
            heads[std::string(c.key, c.key_length)] = c.parts;
        } else {
            out[std::string(c.key, c.key_length)] = std::string(c.value, c.value_length);
        }
    }
    for (const auto& head : heads) {
        std::string joined;
        char name[sigsafe::k_slot_key_capacity];
        for (std::uint16_t i = 0; i < head.second; ++i) {
            const std::string part(name, part_name(name, head.first.data(), head.first.size(), i + 1u));
            auto it = out.find(part);
            if (it == out.end()) continue;
            joined += it->second;
            out.erase(it);
        }
        out[head.first] = joined;
    }
    return out;
}

inline std::vector<Breadcrumb> context_breadcrumbs(const context_store* s) {
    std::vector<Breadcrumb> out;
    const std::uint64_t head = s->header->breadcrumb_head.load(std::memory_order_acquire);
    const std::uint32_t capacity = s->header->breadcrumb_capacity;
    sigsafe::breadcrumb_entry e;
    for (std::uint64_t index = head > capacity ? head - capacity : 0; index < head; ++index) {
        if (!sigsafe::context_read_breadcrumb(s, index, &e)) continue;
        Breadcrumb b;
        b.timestamp_ms = e.timestamp_ms;
        b.level = static_cast<BreadcrumbLevel>(e.level <= 4 ? e.level : 1);
        b.category.assign(e.category, e.category_length);
        b.message.assign(e.message, e.message_length);
        out.push_back(std::move(b));
    }
    return out;
}

/// Adds a path unless it is there already. False when all slots are taken.
inline bool context_add_attachment(const context_store* s, const char* path, std::size_t n) {
    sigsafe::context_header* h = s->header;
    unsigned spins = 0;
    while (h->insert_lock.exchange(1, std::memory_order_acquire) != 0) cpu_relax(spins++);
    sigsafe::attachment_slot* free_slot = nullptr;
    bool present = false;
    for (std::uint32_t i = 0; i < h->attachment_capacity; ++i) {
        sigsafe::attachment_slot* a = &s->attachments[i];
        if (a->state.load(std::memory_order_acquire) == sigsafe::ss_live) {
            if (a->length == n && std::memcmp(a->path, path, n) == 0) present = true;
        } else if (free_slot == nullptr) {
            free_slot = a;
        }
    }
    bool ok = present;
    if (!present && free_slot != nullptr) {
        std::memcpy(free_slot->path, path, n);
        free_slot->path[n] = '\0';
        free_slot->length = static_cast<std::uint32_t>(n);
        free_slot->state.store(sigsafe::ss_live, std::memory_order_release);
        ok = true;
    }
    h->insert_lock.store(0, std::memory_order_release);
    return ok;
}

inline void context_remove_attachment(const context_store* s, const char* path, std::size_t n) {
    sigsafe::context_header* h = s->header;
    unsigned spins = 0;
    while (h->insert_lock.exchange(1, std::memory_order_acquire) != 0) cpu_relax(spins++);
    for (std::uint32_t i = 0; i < h->attachment_capacity; ++i) {
        sigsafe::attachment_slot* a = &s->attachments[i];
        if (a->state.load(std::memory_order_acquire) == sigsafe::ss_live && a->length == n && std::memcmp(a->path, path, n) == 0) {
            a->state.store(sigsafe::ss_removed, std::memory_order_release);
        }
    }
    h->insert_lock.store(0, std::memory_order_release);
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
