// crashdrop/minidump/writer.hpp - builds a minidump image in caller-provided memory: header and
// stream directory, bump allocation addressed by RVA, MINIDUMP_STRING / UTF-8 strings, and the
// non-overlapping memory-range list the MemoryList stream needs (readers reject overlaps).
// Knows no operating system. Nothing here allocates or fails loudly: an allocation that does
// not fit returns RVA 0 and the caller records what was left out.
// Context: implementation TU; crash path (crashdrop::sigsafe rules apply).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace sigsafe {

struct image {
    u8* base;
    u64 capacity;
    u64 size;  // bytes in use; the file is base[0, size)
    u32 directory_capacity;
    u32 stream_count;
};

/// Starts an image: header plus room for `directory_capacity` stream entries.
CRASHDROP_SIGSAFE void image_begin(image* im, u8* base, u64 capacity, u32 directory_capacity) {
    im->base = base;
    im->capacity = capacity;
    im->directory_capacity = directory_capacity;
    im->stream_count = 0;
    im->size = sizeof(minidump::header) + u64{directory_capacity} * sizeof(minidump::directory);
    zero_bytes(base, static_cast<std::size_t>(im->size));
    auto* h = reinterpret_cast<minidump::header*>(base);
    h->signature = minidump::k_signature;
    h->version = minidump::k_version;
    h->stream_directory_rva = sizeof(minidump::header);
}

/// Reserves `size` zeroed bytes aligned to `align`; returns the RVA, or 0 when it does not fit.
CRASHDROP_SIGSAFE u32 image_alloc(image* im, u64 size, u64 align) {
    const u64 at = align_up(im->size, align);
    if (at + size > im->capacity || at + size > 0xffffffffull) return 0;
    zero_bytes(im->base + at, static_cast<std::size_t>(size));
    im->size = at + size;
    return static_cast<u32>(at);
}

/// Like image_alloc but leaves the bytes as they are (the caller fills all of them).
CRASHDROP_SIGSAFE u32 image_alloc_raw(image* im, u64 size, u64 align) {
    const u64 at = align_up(im->size, align);
    if (at + size > im->capacity || at + size > 0xffffffffull) return 0;
    im->size = at + size;
    return static_cast<u32>(at);
}

CRASHDROP_SIGSAFE_INLINE u64 image_free_bytes(const image* im) {
    return im->capacity > im->size ? im->capacity - im->size : 0;
}

template <typename T>
CRASHDROP_SIGSAFE_INLINE T* image_at(image* im, u32 rva) {
    return reinterpret_cast<T*>(im->base + rva);
}

/// Adds a directory entry. Returns false when the directory is full.
CRASHDROP_SIGSAFE bool image_add_stream(image* im, u32 type, u32 rva, u64 size) {
    if (im->stream_count >= im->directory_capacity) return false;
    auto* dir = reinterpret_cast<minidump::directory*>(im->base + sizeof(minidump::header));
    minidump::directory e;
    e.stream_type = type;
    e.location.rva = rva;
    e.location.data_size = static_cast<u32>(size);
    copy_bytes(&dir[im->stream_count], &e, sizeof(e));
    ++im->stream_count;
    auto* h = reinterpret_cast<minidump::header*>(im->base);
    h->stream_count = im->stream_count;
    return true;
}

/// Copies n bytes into the image as a stream of the given type.
CRASHDROP_SIGSAFE bool image_add_blob_stream(image* im, u32 type, const void* data, u64 n) {
    const u32 rva = image_alloc_raw(im, n, 4);
    if (rva == 0 && n != 0) return false;
    copy_bytes(im->base + rva, data, static_cast<std::size_t>(n));
    return image_add_stream(im, type, rva, n);
}

/// Writes a MINIDUMP_STRING (u32 byte length, UTF-16LE, NUL) from UTF-8; returns its RVA or 0.
CRASHDROP_SIGSAFE u32 image_add_string(image* im, const char* s, std::size_t n) {
    const std::size_t units = utf16_length(s, n);
    const u32 rva = image_alloc_raw(im, 4 + units * 2 + 2, 4);
    if (rva == 0) return 0;
    const u32 bytes = static_cast<u32>(units * 2);
    copy_bytes(im->base + rva, &bytes, 4);
    utf8_to_utf16(s, n, reinterpret_cast<u16*>(im->base + rva + 4));
    const u16 nul = 0;
    copy_bytes(im->base + rva + 4 + bytes, &nul, 2);
    return rva;
}

/// Writes a Crashpad MinidumpUTF8String (u32 length, bytes, NUL); returns its RVA or 0.
CRASHDROP_SIGSAFE u32 image_add_utf8(image* im, const char* s, std::size_t n) {
    const u32 rva = image_alloc_raw(im, 4 + n + 1, 4);
    if (rva == 0) return 0;
    const u32 len = static_cast<u32>(n);
    copy_bytes(im->base + rva, &len, 4);
    copy_bytes(im->base + rva + 4, s, n);
    im->base[rva + 4 + n] = 0;
    return rva;
}

// ---- memory ranges -----------------------------------------------------------------------

struct memory_range {
    u64 start;
    u32 size;
    u32 rva;
};

/// Ranges already placed in the image. Kept disjoint: the MemoryList must not overlap.
struct range_list {
    memory_range* items;
    u32 count;
    u32 capacity;
};

/// True when [start, end) touches no listed range.
CRASHDROP_SIGSAFE bool range_is_free(const range_list* rl, u64 start, u64 end) {
    for (u32 i = 0; i < rl->count; ++i) {
        const u64 s = rl->items[i].start;
        const u64 e = s + rl->items[i].size;
        if (start < e && s < end) return false;
    }
    return true;
}

/// Shrinks [*start, *end) around `pivot` until it overlaps no listed range. Returns false
/// when the pivot itself is already covered (nothing left to add).
CRASHDROP_SIGSAFE bool range_clip_around(const range_list* rl, u64 pivot, u64* start, u64* end) {
    for (u32 i = 0; i < rl->count; ++i) {
        const u64 s = rl->items[i].start;
        const u64 e = s + rl->items[i].size;
        if (pivot >= s && pivot < e) return false;
        if (e <= pivot && e > *start) *start = e;
        if (s > pivot && s < *end) *end = s;
    }
    return *end > *start;
}

CRASHDROP_SIGSAFE bool range_add(range_list* rl, u64 start, u32 size, u32 rva) {
    if (rl->count >= rl->capacity) return false;
    rl->items[rl->count].start = start;
    rl->items[rl->count].size = size;
    rl->items[rl->count].rva = rva;
    ++rl->count;
    return true;
}

}  // namespace sigsafe
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
