// crashdrop/status.hpp - the result every public call returns: an error code and a message
// (and, on success, sometimes a note).
// Context: ordinary code (never the crash path); may allocate.
#pragma once

#include <string>
#include <utility>

#include "config.hpp"

CRASHDROP_NAMESPACE_BEGIN

/// What went wrong. `ok` means nothing did.
enum class Error : int {
    ok = 0,
    already_started,       ///< start() was called before in this process (or module copy)
    not_started,           ///< a call that needs start() came first
    invalid_options,       ///< an Options field is out of range; the message names it
    database_unavailable,  ///< the database folder cannot be created or written
    out_of_memory,         ///< reserving the crash-time memory failed
    handler_failed,        ///< a signal handler or alternate stack could not be installed
    dump_failed,           ///< writing a dump failed; the message says where
    busy,                  ///< another dump is being written right now
    unsupported_platform,  ///< crash capture is not implemented for this OS/architecture
    invalid_argument,      ///< an argument is out of its documented limits; the message says which
    capacity_exceeded,     ///< a fixed-size store reserved at start() is full
    handler_replaced,      ///< another signal handler took crashdrop's place (see reinstall())
};

/// A short stable name for an error code ("invalid_options", ...).
inline const char* error_name(Error e) noexcept {
    switch (e) {
        case Error::ok: return "ok";
        case Error::already_started: return "already_started";
        case Error::not_started: return "not_started";
        case Error::invalid_options: return "invalid_options";
        case Error::database_unavailable: return "database_unavailable";
        case Error::out_of_memory: return "out_of_memory";
        case Error::handler_failed: return "handler_failed";
        case Error::dump_failed: return "dump_failed";
        case Error::busy: return "busy";
        case Error::unsupported_platform: return "unsupported_platform";
        case Error::invalid_argument: return "invalid_argument";
        case Error::capacity_exceeded: return "capacity_exceeded";
        case Error::handler_replaced: return "handler_replaced";
    }
    return "unknown";
}

/// Result of a public call: `ok()` or an Error with a human-readable message.
class CRASHDROP_NODISCARD Status {
public:
    Status() = default;
    Status(Error code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status success() { return Status(); }
    /// Success with a note: something the caller may want to print or log, that is not an error.
    static Status success_with_note(std::string note) {
        Status s;
        s.note_ = std::move(note);
        return s;
    }

    bool ok() const noexcept { return code_ == Error::ok; }
    explicit operator bool() const noexcept { return ok(); }
    Error code() const noexcept { return code_; }
    /// Empty on success; otherwise says what failed and why (errno text included).
    const std::string& message() const noexcept { return message_; }
    /// Empty unless a call that succeeded has something to say about how it succeeded. Only
    /// start() sets one today, when threads created after it get no alternate signal stack from
    /// crashdrop (a sanitizer's pthread_create in the process; docs/hosts.md). Never set together
    /// with an error: ok() stays true.
    const std::string& note() const noexcept { return note_; }

private:
    Error code_ = Error::ok;
    std::string message_;
    std::string note_;
};

CRASHDROP_NAMESPACE_END
