// crashdrop/detail/c_api_impl.hpp - definitions of the C interface declared in c_api.hpp: each
// crashdrop_* function converts its plain arguments, calls the C++ API and turns the Status into
// an error code, keeping the message for crashdrop_last_error().
// Context: implementation TU; ordinary code (never the crash path). No C++ exception leaves
// these functions: where exceptions are enabled, every call that may allocate runs inside a
// try block, and std::bad_alloc becomes CRASHDROP_ERROR_OUT_OF_MEMORY. (Built with
// -fno-exceptions, an allocation failure ends the process as it would anywhere else.)
#if CRASHDROP_DETAIL_IMPL_ACTIVE

#include <cstdarg>
#include <new>

CRASHDROP_NAMESPACE_BEGIN
namespace detail {
namespace capi {

// ---- the C enums are the C++ ones, value for value ----

constexpr bool same_value(int c_value, int cpp_value) { return c_value == cpp_value; }

static_assert(same_value(CRASHDROP_OK, static_cast<int>(Error::ok)), "C and C++ error codes differ");
static_assert(same_value(CRASHDROP_ERROR_ALREADY_STARTED, static_cast<int>(Error::already_started)), "C and C++ error codes differ");
static_assert(same_value(CRASHDROP_ERROR_NOT_STARTED, static_cast<int>(Error::not_started)), "C and C++ error codes differ");
static_assert(same_value(CRASHDROP_ERROR_INVALID_OPTIONS, static_cast<int>(Error::invalid_options)), "C and C++ error codes differ");
static_assert(same_value(CRASHDROP_ERROR_DATABASE_UNAVAILABLE, static_cast<int>(Error::database_unavailable)),
              "C and C++ error codes differ");
static_assert(same_value(CRASHDROP_ERROR_OUT_OF_MEMORY, static_cast<int>(Error::out_of_memory)), "C and C++ error codes differ");
static_assert(same_value(CRASHDROP_ERROR_HANDLER_FAILED, static_cast<int>(Error::handler_failed)), "C and C++ error codes differ");
static_assert(same_value(CRASHDROP_ERROR_DUMP_FAILED, static_cast<int>(Error::dump_failed)), "C and C++ error codes differ");
static_assert(same_value(CRASHDROP_ERROR_BUSY, static_cast<int>(Error::busy)), "C and C++ error codes differ");
static_assert(same_value(CRASHDROP_ERROR_UNSUPPORTED_PLATFORM, static_cast<int>(Error::unsupported_platform)),
              "C and C++ error codes differ");
static_assert(same_value(CRASHDROP_ERROR_INVALID_ARGUMENT, static_cast<int>(Error::invalid_argument)), "C and C++ error codes differ");
static_assert(same_value(CRASHDROP_ERROR_CAPACITY_EXCEEDED, static_cast<int>(Error::capacity_exceeded)),
              "C and C++ error codes differ");
static_assert(same_value(CRASHDROP_ERROR_HANDLER_REPLACED, static_cast<int>(Error::handler_replaced)), "C and C++ error codes differ");

static_assert(same_value(CRASHDROP_HELPER_REEXEC, static_cast<int>(HelperMode::reexec)), "C and C++ helper modes differ");
static_assert(same_value(CRASHDROP_HELPER_FORK, static_cast<int>(HelperMode::fork)), "C and C++ helper modes differ");
static_assert(same_value(CRASHDROP_HELPER_EXTERNAL, static_cast<int>(HelperMode::external)), "C and C++ helper modes differ");
static_assert(same_value(CRASHDROP_HELPER_NONE, static_cast<int>(HelperMode::none)), "C and C++ helper modes differ");

static_assert(same_value(CRASHDROP_FORMAT_CRASHPAD, static_cast<int>(UploadFormat::crashpad)), "C and C++ upload formats differ");
static_assert(same_value(CRASHDROP_FORMAT_SOCORRO, static_cast<int>(UploadFormat::socorro)), "C and C++ upload formats differ");
static_assert(same_value(CRASHDROP_FORMAT_SENTRY, static_cast<int>(UploadFormat::sentry)), "C and C++ upload formats differ");
static_assert(same_value(CRASHDROP_FORMAT_SENTRY_MINIDUMP, static_cast<int>(UploadFormat::sentry_minidump)),
              "C and C++ upload formats differ");
static_assert(same_value(CRASHDROP_MEMORY_FULL, static_cast<int>(MemoryCapture::full)), "C and C++ memory capture levels differ");
static_assert(same_value(CRASHDROP_MEMORY_STACKS_ONLY, static_cast<int>(MemoryCapture::stacks_only)),
              "C and C++ memory capture levels differ");
static_assert(same_value(CRASHDROP_MEMORY_SCRUBBED_STACKS, static_cast<int>(MemoryCapture::scrubbed_stacks)),
              "C and C++ memory capture levels differ");

static_assert(same_value(CRASHDROP_LEVEL_DEBUG, static_cast<int>(BreadcrumbLevel::debug)), "C and C++ breadcrumb levels differ");
static_assert(same_value(CRASHDROP_LEVEL_INFO, static_cast<int>(BreadcrumbLevel::info)), "C and C++ breadcrumb levels differ");
static_assert(same_value(CRASHDROP_LEVEL_WARNING, static_cast<int>(BreadcrumbLevel::warning)), "C and C++ breadcrumb levels differ");
static_assert(same_value(CRASHDROP_LEVEL_ERROR, static_cast<int>(BreadcrumbLevel::error)), "C and C++ breadcrumb levels differ");
static_assert(same_value(CRASHDROP_LEVEL_FATAL, static_cast<int>(BreadcrumbLevel::fatal)), "C and C++ breadcrumb levels differ");
static_assert(same_value(CRASHDROP_RUN_UNKNOWN, static_cast<int>(RunOutcome::unknown)), "C and C++ run outcomes differ");
static_assert(same_value(CRASHDROP_RUN_CLEAN_EXIT, static_cast<int>(RunOutcome::clean_exit)), "C and C++ run outcomes differ");
static_assert(same_value(CRASHDROP_RUN_CRASHED, static_cast<int>(RunOutcome::crashed)), "C and C++ run outcomes differ");
static_assert(same_value(CRASHDROP_RUN_HUNG, static_cast<int>(RunOutcome::hung)), "C and C++ run outcomes differ");
static_assert(same_value(CRASHDROP_RUN_ABNORMAL_EXIT, static_cast<int>(RunOutcome::abnormal_exit)), "C and C++ run outcomes differ");

// ---- crashdrop_last_error(): one fixed buffer per thread, nothing allocated to read it ----

constexpr std::size_t k_last_error_size = 512;
thread_local char t_last_error[k_last_error_size] = {};

/// crashdrop_start_note(): the same kind of buffer.
thread_local char t_start_note[k_last_error_size] = {};

/// Stores `text` (at most len bytes, cut at a UTF-8 character boundary) in one of this
/// thread's buffers (this thread's message by default).
inline void set_last_error(const char* text, std::size_t len, char* buffer = t_last_error) noexcept {
    std::size_t n = len < k_last_error_size - 1 ? len : k_last_error_size - 1;
    if (n < len) {
        // Do not end in the middle of a multi-byte character: drop its lead and continuation bytes.
        while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0u) == 0x80u) --n;
    }
    if (n > 0) std::memcpy(buffer, text, n);
    buffer[n] = '\0';
}

/// Formats this thread's message (printf-style, truncated to the buffer) and returns `code`.
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
inline int fail(int code, const char* format, ...) noexcept {
    char text[k_last_error_size];
    va_list args;
    va_start(args, format);
    const int written = std::vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    if (written < 0) {
        static const char k_unformatted[] = "(the error message could not be formatted)";
        set_last_error(k_unformatted, sizeof(k_unformatted) - 1);
    } else {
        const std::size_t len = static_cast<std::size_t>(written);
        set_last_error(text, len < sizeof(text) ? len : sizeof(text) - 1);
    }
    return code;
}

/// A Status as a C result: 0, or the error code with its message kept for crashdrop_last_error().
inline int result(const Status& status) noexcept {
    if (status.ok()) return CRASHDROP_OK;
    const std::string& message = status.message();
    if (message.empty()) {
        const char* name = error_name(status.code());
        set_last_error(name, std::strlen(name));
    } else {
        set_last_error(message.data(), message.size());
    }
    return static_cast<int>(status.code());
}

/// Runs `call` (returning a C result) so that no exception reaches the C caller.
template <typename Call>
int guarded(const char* function, Call&& call) noexcept {
#if defined(__cpp_exceptions)
    try {
        return call();
    } catch (const std::bad_alloc&) {
        return fail(CRASHDROP_ERROR_OUT_OF_MEMORY, "%s: out of memory", function);
    } catch (const std::exception& e) {
        return fail(CRASHDROP_ERROR_INVALID_ARGUMENT, "%s: %s", function, e.what());
    } catch (...) {
        return fail(CRASHDROP_ERROR_INVALID_ARGUMENT, "%s: an unexpected C++ exception", function);
    }
#else
    (void)function;
    return call();
#endif
}

/// A C string as a view: NULL is the empty string.
inline std::string_view view(const char* s) noexcept { return s != nullptr ? std::string_view(s) : std::string_view(); }
inline std::string text(const char* s) { return s != nullptr ? std::string(s) : std::string(); }

/// Is the field at [offset, offset + size) inside the caller's struct of struct_size bytes?
constexpr bool has_field(std::uint32_t struct_size, std::size_t offset, std::size_t size) {
    return offset + size <= struct_size;
}

/// The smallest struct_size accepted: struct_size itself and database_path (required anyway).
constexpr std::size_t k_min_options_size = offsetof(crashdrop_options, database_path) + sizeof(const char*);
/// The largest: a caller built against a newer header may pass a bigger struct, provided every
/// byte this version does not know is zero (that newer version's defaults for its new fields
/// must then be "zero"; a set field this version would ignore is refused instead).
constexpr std::size_t k_max_options_size = 4096;

/// crashdrop_options (struct_size bytes of it) -> crashdrop::Options. Returns 0 or an error code
/// with its message set.
inline int convert_options(const crashdrop_options* in, Options* out) {
    if (in == nullptr) return fail(CRASHDROP_ERROR_INVALID_ARGUMENT, "crashdrop_start: options is NULL");
    const std::uint32_t size = in->struct_size;
    if (size < k_min_options_size) {
        return fail(CRASHDROP_ERROR_INVALID_ARGUMENT,
                    "crashdrop_options.struct_size is %u, less than the %lu bytes up to database_path; call "
                    "crashdrop_options_init() first (it sets struct_size to sizeof(crashdrop_options), %lu here)",
                    static_cast<unsigned>(size), static_cast<unsigned long>(k_min_options_size),
                    static_cast<unsigned long>(sizeof(crashdrop_options)));
    }
    if (size > k_max_options_size) {
        return fail(CRASHDROP_ERROR_INVALID_ARGUMENT, "crashdrop_options.struct_size is %u, more than %lu: not a crashdrop_options",
                    static_cast<unsigned>(size), static_cast<unsigned long>(k_max_options_size));
    }
    if (size > sizeof(crashdrop_options)) {
        const unsigned char* tail = reinterpret_cast<const unsigned char*>(in) + sizeof(crashdrop_options);
        for (std::size_t i = 0; i < size - sizeof(crashdrop_options); ++i) {
            if (tail[i] != 0) {
                return fail(CRASHDROP_ERROR_INVALID_ARGUMENT,
                            "crashdrop_options.struct_size is %u and byte %lu is set, but this version of crashdrop "
                            "knows only the first %lu bytes (a newer header's option it cannot honour)",
                            static_cast<unsigned>(size), static_cast<unsigned long>(sizeof(crashdrop_options) + i),
                            static_cast<unsigned long>(sizeof(crashdrop_options)));
            }
        }
    }
#define CRASHDROP_C_HAS(field) has_field(size, offsetof(crashdrop_options, field), sizeof(in->field))
    if (CRASHDROP_C_HAS(helper_mode) && (in->helper_mode < CRASHDROP_HELPER_REEXEC || in->helper_mode > CRASHDROP_HELPER_NONE)) {
        return fail(CRASHDROP_ERROR_INVALID_OPTIONS,
                    "crashdrop_options.helper_mode is %d, not one of %d (CRASHDROP_HELPER_REEXEC) .. %d (CRASHDROP_HELPER_NONE)",
                    in->helper_mode, static_cast<int>(CRASHDROP_HELPER_REEXEC), static_cast<int>(CRASHDROP_HELPER_NONE));
    }
    if (CRASHDROP_C_HAS(upload_format) &&
        (in->upload_format < CRASHDROP_FORMAT_CRASHPAD || in->upload_format > CRASHDROP_FORMAT_SENTRY_MINIDUMP)) {
        return fail(CRASHDROP_ERROR_INVALID_OPTIONS,
                    "crashdrop_options.upload_format is %d, not one of %d (CRASHDROP_FORMAT_CRASHPAD) .. %d "
                    "(CRASHDROP_FORMAT_SENTRY_MINIDUMP)",
                    in->upload_format, static_cast<int>(CRASHDROP_FORMAT_CRASHPAD), static_cast<int>(CRASHDROP_FORMAT_SENTRY_MINIDUMP));
    }
    if (CRASHDROP_C_HAS(memory_capture) &&
        (in->memory_capture < CRASHDROP_MEMORY_FULL || in->memory_capture > CRASHDROP_MEMORY_SCRUBBED_STACKS)) {
        return fail(CRASHDROP_ERROR_INVALID_OPTIONS,
                    "crashdrop_options.memory_capture is %d, not one of %d (CRASHDROP_MEMORY_FULL) .. %d "
                    "(CRASHDROP_MEMORY_SCRUBBED_STACKS)",
                    in->memory_capture, static_cast<int>(CRASHDROP_MEMORY_FULL), static_cast<int>(CRASHDROP_MEMORY_SCRUBBED_STACKS));
    }

    // 64-bit sizes on a 32-bit system: refuse what does not fit rather than cut it.
    const auto fits = [](std::uint64_t v) { return static_cast<std::uint64_t>(static_cast<std::size_t>(v)) == v; };
    if (CRASHDROP_C_HAS(max_attachment_bytes) && !fits(in->max_attachment_bytes)) {
        return fail(CRASHDROP_ERROR_INVALID_OPTIONS, "crashdrop_options.max_attachment_bytes does not fit in size_t");
    }
    if (CRASHDROP_C_HAS(dump_buffer_size) && !fits(in->dump_buffer_size)) {
        return fail(CRASHDROP_ERROR_INVALID_OPTIONS, "crashdrop_options.dump_buffer_size does not fit in size_t");
    }
    if (CRASHDROP_C_HAS(max_upload_bytes) && !fits(in->max_upload_bytes)) {
        return fail(CRASHDROP_ERROR_INVALID_OPTIONS, "crashdrop_options.max_upload_bytes does not fit in size_t");
    }

    Options& o = *out;
    o.database_path = text(in->database_path);
    if (CRASHDROP_C_HAS(product_name)) o.product_name = text(in->product_name);
    if (CRASHDROP_C_HAS(product_version)) o.product_version = text(in->product_version);
    if (CRASHDROP_C_HAS(include_environment)) o.include_environment = in->include_environment != 0;
    if (CRASHDROP_C_HAS(handle_terminate)) o.handle_terminate = in->handle_terminate != 0;
    if (CRASHDROP_C_HAS(helper_mode)) o.helper_mode = static_cast<HelperMode>(in->helper_mode);
    if (CRASHDROP_C_HAS(helper_path)) o.helper_path = text(in->helper_path);
    if (CRASHDROP_C_HAS(submit_url)) o.submit_url = text(in->submit_url);
    if (CRASHDROP_C_HAS(upload_format)) o.upload_format = static_cast<UploadFormat>(in->upload_format);
    if (CRASHDROP_C_HAS(sentry_dsn)) o.sentry_dsn = text(in->sentry_dsn);
    if (CRASHDROP_C_HAS(compress)) o.compress = in->compress != 0;
    if (CRASHDROP_C_HAS(rate_limit)) o.rate_limit = in->rate_limit != 0;
    if (CRASHDROP_C_HAS(ca_file)) o.ca_file = text(in->ca_file);
    if (CRASHDROP_C_HAS(max_breadcrumbs)) o.max_breadcrumbs = static_cast<std::size_t>(in->max_breadcrumbs);
    if (CRASHDROP_C_HAS(max_attachment_bytes)) o.max_attachment_bytes = static_cast<std::size_t>(in->max_attachment_bytes);
    if (CRASHDROP_C_HAS(only_this_module)) o.only_this_module = in->only_this_module != 0;
    if (CRASHDROP_C_HAS(dump_buffer_size)) o.dump_buffer_size = static_cast<std::size_t>(in->dump_buffer_size);
    if (CRASHDROP_C_HAS(include_command_line)) o.include_command_line = in->include_command_line != 0;
    // The same function: on Linux only the type of `info` differs (void* here, siginfo_t* there).
    if (CRASHDROP_C_HAS(fault_filter)) o.fault_filter = reinterpret_cast<FaultFilter>(in->fault_filter);
    if (CRASHDROP_C_HAS(hang_timeout_ms)) o.hang_timeout_ms = in->hang_timeout_ms;
    if (CRASHDROP_C_HAS(report_abnormal_exits)) o.report_abnormal_exits = in->report_abnormal_exits != 0;
    if (CRASHDROP_C_HAS(environment)) o.environment = text(in->environment);
    if (CRASHDROP_C_HAS(memory_capture)) o.memory_capture = static_cast<MemoryCapture>(in->memory_capture);
    if (CRASHDROP_C_HAS(max_upload_bytes)) o.max_upload_bytes = static_cast<std::size_t>(in->max_upload_bytes);
#undef CRASHDROP_C_HAS
    return CRASHDROP_OK;
}

}  // namespace capi
}  // namespace detail
CRASHDROP_NAMESPACE_END

// ---- the C functions (global scope; declared in c_api.hpp with CRASHDROP_C_API) ----

extern "C" {

void crashdrop_options_init(crashdrop_options* options) {
    if (options == nullptr) return;
    // Only the defaults' scalars are read: a default Options allocates nothing.
    crashdrop::detail::capi::guarded("crashdrop_options_init", [options]() -> int {
        const crashdrop::Options defaults;
        std::memset(static_cast<void*>(options), 0, sizeof(*options));
        options->struct_size = static_cast<std::uint32_t>(sizeof(crashdrop_options));
        options->database_path = nullptr;
        options->product_name = nullptr;
        options->product_version = nullptr;
        options->include_environment = defaults.include_environment ? 1 : 0;
        options->handle_terminate = defaults.handle_terminate ? 1 : 0;
        options->helper_mode = static_cast<int>(defaults.helper_mode);
        options->helper_path = nullptr;
        options->submit_url = nullptr;
        options->upload_format = static_cast<int>(defaults.upload_format);
        options->sentry_dsn = nullptr;
        options->compress = defaults.compress ? 1 : 0;
        options->rate_limit = defaults.rate_limit ? 1 : 0;
        options->ca_file = nullptr;
        options->max_breadcrumbs = static_cast<std::uint32_t>(defaults.max_breadcrumbs);
        options->max_attachment_bytes = static_cast<std::uint64_t>(defaults.max_attachment_bytes);
        options->only_this_module = defaults.only_this_module ? 1 : 0;
        options->dump_buffer_size = static_cast<std::uint64_t>(defaults.dump_buffer_size);
        options->include_command_line = defaults.include_command_line ? 1 : 0;
        options->fault_filter = nullptr;
        options->hang_timeout_ms = defaults.hang_timeout_ms;
        options->report_abnormal_exits = defaults.report_abnormal_exits ? 1 : 0;
        options->environment = nullptr;
        options->memory_capture = static_cast<int>(defaults.memory_capture);
        options->max_upload_bytes = defaults.max_upload_bytes;
        return CRASHDROP_OK;
    });
}

int crashdrop_start(const crashdrop_options* options) {
    return crashdrop::detail::capi::guarded("crashdrop_start", [options]() -> int {
        crashdrop::Options converted;
        const int rc = crashdrop::detail::capi::convert_options(options, &converted);
        if (rc != CRASHDROP_OK) return rc;
        const crashdrop::Status status = crashdrop::start(converted);
        if (status.ok()) {
            crashdrop::detail::capi::set_last_error(status.note().data(), status.note().size(), crashdrop::detail::capi::t_start_note);
        }
        return crashdrop::detail::capi::result(status);
    });
}

const char* crashdrop_last_error(void) { return crashdrop::detail::capi::t_last_error; }

const char* crashdrop_start_note(void) { return crashdrop::detail::capi::t_start_note; }

int crashdrop_is_started(void) { return crashdrop::is_started() ? 1 : 0; }
void crashdrop_heartbeat(void) { crashdrop::heartbeat(); }
int crashdrop_last_run(void) { return static_cast<int>(crashdrop::last_run()); }
unsigned crashdrop_consecutive_crashes(void) { return crashdrop::consecutive_crashes(); }

int crashdrop_prepare_thread(void) {
    return crashdrop::detail::capi::guarded("crashdrop_prepare_thread",
                                            []() -> int { return crashdrop::detail::capi::result(crashdrop::prepare_thread()); });
}

int crashdrop_write_dump(char* path_out, size_t path_capacity) {
    if (path_out != nullptr && path_capacity > 0) path_out[0] = '\0';
    return crashdrop::detail::capi::guarded("crashdrop_write_dump", [path_out, path_capacity]() -> int {
        std::string path;
        const int rc = crashdrop::detail::capi::result(crashdrop::write_dump(&path));
        if (rc != CRASHDROP_OK || path_out == nullptr) return rc;
        if (path.size() >= path_capacity) {
            // The dump is on disk either way; only its path did not fit. The message names it.
            return crashdrop::detail::capi::fail(CRASHDROP_ERROR_INVALID_ARGUMENT,
                                                 "crashdrop_write_dump: the dump was written, but its path needs %lu bytes and "
                                                 "path_capacity is %lu: %s",
                                                 static_cast<unsigned long>(path.size() + 1),
                                                 static_cast<unsigned long>(path_capacity), path.c_str());
        }
        std::memcpy(path_out, path.c_str(), path.size() + 1);
        return CRASHDROP_OK;
    });
}

int crashdrop_add_extra_parameter(const char* key, const char* value) {
    return crashdrop::detail::capi::guarded("crashdrop_add_extra_parameter", [key, value]() -> int {
        return crashdrop::detail::capi::result(
            crashdrop::add_extra_parameter(crashdrop::detail::capi::view(key), crashdrop::detail::capi::view(value)));
    });
}

int crashdrop_remove_extra_parameter(const char* key) {
    return crashdrop::detail::capi::guarded("crashdrop_remove_extra_parameter", [key]() -> int {
        return crashdrop::detail::capi::result(crashdrop::remove_extra_parameter(crashdrop::detail::capi::view(key)));
    });
}

void crashdrop_add_breadcrumb(const char* message, const char* category, int level) {
    const crashdrop::BreadcrumbLevel lvl = level >= CRASHDROP_LEVEL_DEBUG && level <= CRASHDROP_LEVEL_FATAL
                                               ? static_cast<crashdrop::BreadcrumbLevel>(static_cast<std::uint8_t>(level))
                                               : crashdrop::BreadcrumbLevel::info;
    crashdrop::add_breadcrumb(crashdrop::detail::capi::view(message),
                              category != nullptr ? std::string_view(category) : std::string_view("default"), lvl);
}

int crashdrop_set_tag(const char* key, const char* value) {
    return crashdrop::detail::capi::guarded("crashdrop_set_tag", [key, value]() -> int {
        return crashdrop::detail::capi::result(
            crashdrop::set_tag(crashdrop::detail::capi::view(key), crashdrop::detail::capi::view(value)));
    });
}

int crashdrop_remove_tag(const char* key) {
    return crashdrop::detail::capi::guarded("crashdrop_remove_tag", [key]() -> int {
        return crashdrop::detail::capi::result(crashdrop::remove_tag(crashdrop::detail::capi::view(key)));
    });
}

int crashdrop_set_user(const char* id, const char* username, const char* email, const char* ip_address) {
    return crashdrop::detail::capi::guarded("crashdrop_set_user", [=]() -> int {
        crashdrop::User user;
        user.id = crashdrop::detail::capi::text(id);
        user.username = crashdrop::detail::capi::text(username);
        user.email = crashdrop::detail::capi::text(email);
        user.ip_address = crashdrop::detail::capi::text(ip_address);
        return crashdrop::detail::capi::result(crashdrop::set_user(user));
    });
}

int crashdrop_add_attachment(const char* path) {
    return crashdrop::detail::capi::guarded("crashdrop_add_attachment", [path]() -> int {
        return crashdrop::detail::capi::result(crashdrop::add_attachment(crashdrop::detail::capi::view(path)));
    });
}

int crashdrop_remove_attachment(const char* path) {
    return crashdrop::detail::capi::guarded("crashdrop_remove_attachment", [path]() -> int {
        return crashdrop::detail::capi::result(crashdrop::remove_attachment(crashdrop::detail::capi::view(path)));
    });
}

int crashdrop_check_handlers(void) {
    return crashdrop::detail::capi::guarded("crashdrop_check_handlers",
                                            []() -> int { return crashdrop::detail::capi::result(crashdrop::check_handlers()); });
}

int crashdrop_reinstall(void) {
    return crashdrop::detail::capi::guarded("crashdrop_reinstall",
                                            []() -> int { return crashdrop::detail::capi::result(crashdrop::reinstall()); });
}

void crashdrop_stop(void) { crashdrop::stop(); }

size_t crashdrop_default_database_path(const char* product_name, char* out, size_t capacity) {
    if (out != nullptr && capacity > 0) out[0] = '\0';
    size_t length = 0;
    const int rc = crashdrop::detail::capi::guarded("crashdrop_default_database_path", [&]() -> int {
        const std::string path = crashdrop::default_database_path(crashdrop::detail::capi::text(product_name));
        length = path.size();
        if (out != nullptr && length < capacity) std::memcpy(out, path.c_str(), length + 1);
        return CRASHDROP_OK;
    });
    return rc == CRASHDROP_OK ? length : 0;
}

int crashdrop_run_helper(int argc, char** argv) {
    // Its result is an exit code, not a crashdrop_error: an exception (out of memory) becomes
    // exit code 2, what run_helper() itself returns when it has nothing to do.
#if defined(__cpp_exceptions)
    try {
        return crashdrop::run_helper(argc, argv);
    } catch (...) {
        return 2;
    }
#else
    return crashdrop::run_helper(argc, argv);
#endif
}

}  // extern "C"

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
