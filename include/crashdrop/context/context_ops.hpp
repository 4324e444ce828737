// crashdrop/context/context_ops.hpp - the public context calls on top of the store: argument
// checks with clear errors (a key over the limit is refused, never dropped), and the mapping
// of annotations, tags, user fields and attachments onto slots.
// Context: implementation TU; ordinary code. The success paths allocate nothing.
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// True if `key` ends in "__<digits>", the names long values' parts take.
inline bool looks_like_part_name(std::string_view key) {
    std::size_t i = key.size();
    while (i > 0 && key[i - 1] >= '0' && key[i - 1] <= '9') --i;
    return i < key.size() && i >= 2 && key[i - 1] == '_' && key[i - 2] == '_';
}

inline Status check_key(std::string_view what, std::string_view key, std::size_t limit) {
    if (key.empty()) return Status(Error::invalid_argument, std::string(what) + " key is empty");
    if (key.size() > limit) {
        return Status(Error::invalid_argument, std::string(what) + " key '" + std::string(key.substr(0, 64)) + "' is " +
                                                   std::to_string(key.size()) + " bytes; the limit is " + std::to_string(limit));
    }
    if (key.find('\0') != std::string_view::npos) return Status(Error::invalid_argument, std::string(what) + " key holds a NUL byte");
    return Status::success();
}

inline Status check_annotation(std::string_view key, std::string_view value) {
    if (Status s = check_key("annotation", key, limits::annotation_key); !s.ok()) return s;
    if (looks_like_part_name(key)) {
        return Status(Error::invalid_argument, "annotation key '" + std::string(key) +
                                                   "' ends in __<number>, which names the parts of long values");
    }
    if (key == minidump::k_annotation_crash_kind) {
        return Status(Error::invalid_argument, std::string("annotation key '") + minidump::k_annotation_crash_kind +
                                                   "' is reserved: crashdrop writes the report's kind under it");
    }
    if (value.size() > limits::annotation_value) {
        return Status(Error::invalid_argument, "annotation '" + std::string(key) + "': the value is " + std::to_string(value.size()) +
                                                   " bytes; the limit is " + std::to_string(limits::annotation_value));
    }
    return Status::success();
}

inline Status full(std::string_view what) {
    return Status(Error::capacity_exceeded, std::string(what) + ": the context store is full (" +
                                                std::to_string(limits::context_slots) + " slots shared by annotations, tags and user fields)");
}

inline Status set_annotation(const context_store* s, std::string_view key, std::string_view value, bool process_only) {
    if (Status st = check_annotation(key, value); !st.ok()) return st;
    const std::uint8_t flags = process_only ? sigsafe::sf_process_only : 0;
    if (!context_put_long(s, sigsafe::sk_annotation, key.data(), key.size(), value.data(), value.size(), flags)) {
        return full("annotation '" + std::string(key) + "'");
    }
    return Status::success();
}

/// An annotation recorded by crashdrop itself (the terminate handler: what() may be long), cut
/// to the value limit rather than refused.
inline void set_annotation_cut(const context_store* s, const char* key, const char* value) {
    const std::size_t n = std::strlen(value);
    (void)set_annotation(s, key, std::string_view(value, n < limits::annotation_value ? n : limits::annotation_value), false);
}

inline Status remove_annotation(const context_store* s, std::string_view key) {
    if (Status st = check_key("annotation", key, limits::annotation_key); !st.ok()) return st;
    context_erase_long(s, sigsafe::sk_annotation, key.data(), key.size());
    return Status::success();
}

inline Status set_tag(const context_store* s, std::string_view key, std::string_view value) {
    if (Status st = check_key("tag", key, limits::tag_key); !st.ok()) return st;
    if (value.size() > limits::tag_value) {
        return Status(Error::invalid_argument, "tag '" + std::string(key) + "': the value is " + std::to_string(value.size()) +
                                                   " bytes; the limit is " + std::to_string(limits::tag_value));
    }
    if (!context_put(s, sigsafe::sk_tag, key.data(), key.size(), value.data(), value.size(), 0)) return full("tag");
    return Status::success();
}

inline Status remove_tag(const context_store* s, std::string_view key) {
    if (Status st = check_key("tag", key, limits::tag_key); !st.ok()) return st;
    context_erase(s, sigsafe::sk_tag, key.data(), key.size());
    return Status::success();
}

inline Status check_user(const User& user) {
    const std::pair<const char*, const std::string*> fields[] = {
        {"id", &user.id}, {"username", &user.username}, {"email", &user.email}, {"ip_address", &user.ip_address}};
    for (const auto& f : fields) {
        if (f.second->size() > limits::user_field) {
            return Status(Error::invalid_argument, std::string("user ") + f.first + " is " + std::to_string(f.second->size()) +
                                                       " bytes; the limit is " + std::to_string(limits::user_field));
        }
    }
    return Status::success();
}

inline Status set_user(const context_store* s, const User& user) {
    if (Status st = check_user(user); !st.ok()) return st;
    const std::pair<const char*, const std::string*> fields[] = {
        {"id", &user.id}, {"username", &user.username}, {"email", &user.email}, {"ip_address", &user.ip_address}};
    for (const auto& f : fields) {
        const std::size_t n = std::strlen(f.first);
        if (f.second->empty()) {
            context_erase(s, sigsafe::sk_user, f.first, n);
        } else if (!context_put(s, sigsafe::sk_user, f.first, n, f.second->data(), f.second->size(), 0)) {
            return full("user");
        }
    }
    return Status::success();
}

/// An absolute path: /dir/file on Linux; on Windows a drive's (C:\dir\file, C:/dir/file) or a
/// UNC one (\\server\share\file), not \dir\file (the current drive's) nor C:file (that drive's
/// current folder's).
inline bool attachment_path_is_absolute(std::string_view path) {
#if CRASHDROP_OS_WINDOWS
    const bool drive = path.size() >= 3 && ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) && path[1] == ':' &&
                       (path[2] == '\\' || path[2] == '/');
    const bool unc = path.size() >= 3 && (path[0] == '\\' || path[0] == '/') && (path[1] == '\\' || path[1] == '/');
    return drive || unc;
#else
    return !path.empty() && path[0] == '/';
#endif
}

inline Status check_attachment(std::string_view path) {
    if (!attachment_path_is_absolute(path)) {
        return Status(Error::invalid_argument, "attachment '" + std::string(path) + "' is not an absolute path");
    }
    if (path.size() > limits::attachment_path) {
        return Status(Error::invalid_argument, "attachment path is " + std::to_string(path.size()) + " bytes; the limit is " +
                                                   std::to_string(limits::attachment_path));
    }
    if (path.find('\0') != std::string_view::npos) return Status(Error::invalid_argument, "attachment path holds a NUL byte");
    return Status::success();
}

inline Status add_attachment(const context_store* s, std::string_view path) {
    if (Status st = check_attachment(path); !st.ok()) return st;
    if (!context_add_attachment(s, path.data(), path.size())) {
        return Status(Error::capacity_exceeded, "attachments: all " + std::to_string(limits::attachments) + " are taken");
    }
    return Status::success();
}

/// Checks everything the options bring into the store before start() changes anything.
inline Status check_context_options(const Options& o) {
    auto as_options_error = [](Status s, const char* field) {
        return Status(Error::invalid_options, std::string(field) + ": " + s.message());
    };
    for (const auto& e : o.extra) {
        if (Status s = check_annotation(e.first, e.second); !s.ok()) return as_options_error(s, "extra");
    }
    for (const auto& e : o.global_extra) {
        if (Status s = check_annotation(e.first, e.second); !s.ok()) return as_options_error(s, "global_extra");
    }
    for (const auto& e : o.tags) {
        if (Status s = check_key("tag", e.first, limits::tag_key); !s.ok()) return as_options_error(s, "tags");
        if (e.second.size() > limits::tag_value) return Status(Error::invalid_options, "tags: the value of '" + e.first + "' is over 200 bytes");
    }
    if (Status s = check_user(o.user); !s.ok()) return as_options_error(s, "user");
    if (o.attachments.size() > limits::attachments) return Status(Error::invalid_options, "attachments: more than 16");
    for (const auto& a : o.attachments) {
        if (Status s = check_attachment(a); !s.ok()) return as_options_error(s, "attachments");
    }
    if (o.max_breadcrumbs > limits::max_breadcrumbs) return Status(Error::invalid_options, "max_breadcrumbs is over 10000");
    if (o.max_attachment_bytes < 1024 || o.max_attachment_bytes > 100u * 1024u * 1024u) {
        return Status(Error::invalid_options, "max_attachment_bytes is outside 1 KiB .. 100 MiB");
    }
    return Status::success();
}

/// Fills a fresh store from the options (start(); already checked).
inline Status apply_context_options(const context_store* s, const Options& o) {
    if (!o.product_name.empty()) {
        if (Status st = set_annotation(s, "prod", o.product_name, false); !st.ok()) return st;
    }
    if (!o.product_version.empty()) {
        if (Status st = set_annotation(s, "ver", o.product_version, false); !st.ok()) return st;
    }
    for (const auto& e : o.global_extra) {
        if (o.extra.count(e.first) != 0) continue;
        if (Status st = set_annotation(s, e.first, e.second, false); !st.ok()) return st;
    }
    for (const auto& e : o.extra) {
        if (Status st = set_annotation(s, e.first, e.second, true); !st.ok()) return st;
    }
    for (const auto& e : o.tags) {
        if (Status st = set_tag(s, e.first, e.second); !st.ok()) return st;
    }
    if (Status st = set_user(s, o.user); !st.ok()) return st;
    for (const auto& a : o.attachments) {
        if (Status st = add_attachment(s, a); !st.ok()) return st;
    }
    return Status::success();
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
