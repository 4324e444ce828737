// crashdrop/context.hpp - what a report says about the moment of the crash besides the dump:
// annotations (Electron's "extra" parameters), breadcrumbs, the user and tags (as Sentry names
// them) and attachments. The types and their documented limits; the functions that set them are
// in api.hpp.
// Context: ordinary code. All of it is stored in memory reserved by start() and shared with the
// helper process; the limits below are that memory's shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "config.hpp"

CRASHDROP_NAMESPACE_BEGIN

namespace limits {
/// Annotation keys: 1 .. 39 bytes (Electron's limit). A longer key is refused with
/// Error::invalid_argument, never dropped silently.
constexpr std::size_t annotation_key = 39;
/// An annotation value longer than this is stored, dumped and sent as parts named `key__1`,
/// `key__2`, ... of this many bytes each, as Electron's Linux builds did; parameters() and the
/// Sentry format join the parts again.
constexpr std::size_t annotation_part = 255;
/// The longest annotation value (64 parts).
constexpr std::size_t annotation_value = 64 * annotation_part;
/// Slots of the store annotations, tags and user fields share: one per short value, one per
/// part of a long value plus one for its key.
constexpr std::size_t context_slots = 512;
/// Tags (Sentry's limits): keys 1 .. 32 bytes, values up to 200 bytes.
constexpr std::size_t tag_key = 32;
constexpr std::size_t tag_value = 200;
/// User fields: each up to 255 bytes.
constexpr std::size_t user_field = 255;
/// Breadcrumbs: longer categories and messages are cut (at a UTF-8 character boundary).
constexpr std::size_t breadcrumb_category = 31;
constexpr std::size_t breadcrumb_message = 223;
constexpr std::size_t max_breadcrumbs = 10000;
/// Attachments: files named at start() or later.
constexpr std::size_t attachments = 16;
constexpr std::size_t attachment_path = 1023;
}  // namespace limits

/// How serious a breadcrumb is (Sentry's levels).
enum class BreadcrumbLevel : std::uint8_t { debug = 0, info = 1, warning = 2, error = 3, fatal = 4 };

/// A level's name as Sentry spells it ("debug", "info", "warning", "error", "fatal").
inline const char* level_name(BreadcrumbLevel level) noexcept {
    switch (level) {
        case BreadcrumbLevel::debug: return "debug";
        case BreadcrumbLevel::info: return "info";
        case BreadcrumbLevel::warning: return "warning";
        case BreadcrumbLevel::error: return "error";
        case BreadcrumbLevel::fatal: return "fatal";
    }
    return "info";
}

/// One breadcrumb: something the application did shortly before the crash.
struct Breadcrumb {
    std::int64_t timestamp_ms = 0;  ///< UTC milliseconds since the Unix epoch
    BreadcrumbLevel level = BreadcrumbLevel::info;
    std::string category;
    std::string message;
};

/// Who was using the application (Sentry's user interface). Empty fields are not sent.
struct User {
    std::string id;
    std::string username;
    std::string email;
    std::string ip_address;
};

CRASHDROP_NAMESPACE_END
