/* crashdrop/c_api.hpp - the C interface: plain structs and extern "C" functions over start(),
 * the context (annotations, breadcrumbs, user, tags, attachments) and write_dump(), for C
 * engines and for other languages' FFI (Rust, Zig, C#). This file is C (C99 and later) as
 * well as C++: a C translation unit that includes crashdrop.hpp sees only this part. The
 * definitions live in the C++ translation unit that defines CRASHDROP_IMPLEMENTATION (a C
 * program adds one such .cpp file and links as C++, see examples/c_example.c); build that one
 * with CRASHDROP_EXPORT=1 to call these functions from another shared object or language (and
 * define it as well where C code in another shared object includes this header).
 *
 * Conventions: an int result is 0 (CRASHDROP_OK) or an enum crashdrop_error, and then
 * crashdrop_last_error() says why. A NULL string argument means "" (empty). Strings are UTF-8
 * and copied before the call returns. No C++ exception ever leaves these functions.
 * Context: ordinary code. No function here may be called from a signal handler.
 */
#ifndef CRASHDROP_C_API_INCLUDED
#define CRASHDROP_C_API_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.hpp"

#if defined(_WIN32)
#if CRASHDROP_EXPORT
#define CRASHDROP_C_API __declspec(dllexport)
#else
#define CRASHDROP_C_API
#endif
#elif CRASHDROP_EXPORT
#define CRASHDROP_C_API __attribute__((visibility("default")))
#else
#define CRASHDROP_C_API __attribute__((visibility("hidden")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Results: 0 on success, otherwise the value of the C++ crashdrop::Error. */
enum crashdrop_error {
    CRASHDROP_OK = 0,
    CRASHDROP_ERROR_ALREADY_STARTED = 1,
    CRASHDROP_ERROR_NOT_STARTED = 2,
    CRASHDROP_ERROR_INVALID_OPTIONS = 3,
    CRASHDROP_ERROR_DATABASE_UNAVAILABLE = 4,
    CRASHDROP_ERROR_OUT_OF_MEMORY = 5,
    CRASHDROP_ERROR_HANDLER_FAILED = 6,
    CRASHDROP_ERROR_DUMP_FAILED = 7,
    CRASHDROP_ERROR_BUSY = 8,
    CRASHDROP_ERROR_UNSUPPORTED_PLATFORM = 9,
    CRASHDROP_ERROR_INVALID_ARGUMENT = 10,
    CRASHDROP_ERROR_CAPACITY_EXCEEDED = 11,
    CRASHDROP_ERROR_HANDLER_REPLACED = 12
};

enum crashdrop_helper_mode {
    CRASHDROP_HELPER_REEXEC = 0,
    CRASHDROP_HELPER_FORK = 1,
    CRASHDROP_HELPER_EXTERNAL = 2,
    CRASHDROP_HELPER_NONE = 3
};

enum crashdrop_upload_format {
    CRASHDROP_FORMAT_CRASHPAD = 0,
    CRASHDROP_FORMAT_SOCORRO = 1,
    CRASHDROP_FORMAT_SENTRY = 2,
    CRASHDROP_FORMAT_SENTRY_MINIDUMP = 3
};

enum crashdrop_memory_capture {
    CRASHDROP_MEMORY_FULL = 0,
    CRASHDROP_MEMORY_STACKS_ONLY = 1,
    CRASHDROP_MEMORY_SCRUBBED_STACKS = 2
};

enum crashdrop_level {
    CRASHDROP_LEVEL_DEBUG = 0,
    CRASHDROP_LEVEL_INFO = 1,
    CRASHDROP_LEVEL_WARNING = 2,
    CRASHDROP_LEVEL_ERROR = 3,
    CRASHDROP_LEVEL_FATAL = 4
};

/* crashdrop::Options::fault_filter (its rules are there): on Linux info is the handler's
 * siginfo_t* and context its ucontext_t*, so a function of the shape of a SA_SIGINFO handler that
 * returns bool (v8::TryHandleWebAssemblyTrapPosix) fits. It returns true when it handled the
 * fault. Refused on Windows. */
typedef bool (*crashdrop_fault_filter)(int signo, void* info, void* context);

/* The C view of crashdrop::Options (its fields mean what they mean there; defaults in
 * brackets; an int flag is "on" when non-zero). Fill it with crashdrop_options_init() first
 * (it sets struct_size and every default), then change what you need. Strings are copied by
 * crashdrop_start(); NULL means "empty".
 *
 * struct_size is how many bytes of this struct the caller has. A caller built against an older
 * header (or FFI bindings that mirror one) passes a smaller struct: the fields that do not lie
 * wholly within struct_size keep their defaults. It must cover at least struct_size and
 * database_path (else CRASHDROP_ERROR_INVALID_ARGUMENT). A larger struct_size (a newer
 * header's struct, up to 4096 bytes) is accepted when every byte past this version's struct
 * is zero, and refused (CRASHDROP_ERROR_INVALID_ARGUMENT) when one is set: an option this
 * version cannot honour is not dropped silently. crashdrop_options_init() writes this
 * version's sizeof(crashdrop_options) bytes: bindings with a different layout set
 * struct_size and every field themselves instead. */
typedef struct crashdrop_options {
    uint32_t struct_size;            /* sizeof(crashdrop_options) of the caller */
    const char* database_path;       /* required: the crash database folder */
    const char* product_name;        /* [NULL] annotation "prod", at most 255 bytes */
    const char* product_version;     /* [NULL] annotation "ver", at most 255 bytes */
    int include_environment;         /* [0] copy the environment into dumps */
    int handle_terminate;            /* [1] record uncaught C++ exceptions */
    int helper_mode;                 /* [CRASHDROP_HELPER_REEXEC] enum crashdrop_helper_mode */
    const char* helper_path;         /* [NULL] the helper executable for CRASHDROP_HELPER_EXTERNAL */
    const char* submit_url;          /* [NULL: store only] http:// or https:// */
    int upload_format;               /* [CRASHDROP_FORMAT_CRASHPAD] enum crashdrop_upload_format */
    const char* sentry_dsn;          /* [NULL] https://KEY@HOST/PROJECT */
    int compress;                    /* [1] gzip the request body */
    int rate_limit;                  /* [0] at most one upload per hour */
    const char* ca_file;             /* [NULL] HTTPS: PEM file of CA certificates to trust */
    uint32_t max_breadcrumbs;        /* [100] entries of the breadcrumb ring, 0 .. 10000 */
    uint64_t max_attachment_bytes;   /* [4 MiB] 1 KiB .. 100 MiB */
    int only_this_module;            /* [0] report only crashes of this module (plugins) */
    uint64_t dump_buffer_size;       /* [4 MiB] 256 KiB .. 1 GiB */
    int include_command_line;        /* [0] the whole command line in dumps (else argv[0] only) */
    crashdrop_fault_filter fault_filter; /* [NULL] asked first about every fault (Linux only) */
    int hang_timeout_ms;             /* [0: off] hang reports, 0 or 100 .. 3600000 (crashdrop_heartbeat) */
    int report_abnormal_exits;       /* [1] a report when the application is killed or ends abnormally */
    const char* environment;         /* [NULL] the deployment environment (Sentry's environment) */
    int memory_capture;              /* [CRASHDROP_MEMORY_FULL] enum crashdrop_memory_capture */
    uint64_t max_upload_bytes;       /* [0: the upload format's default] */
} crashdrop_options;

/* Sets every field of *options to its default (strings NULL) and struct_size to
 * sizeof(crashdrop_options). NULL: nothing happens. */
CRASHDROP_C_API void crashdrop_options_init(crashdrop_options* options);

/* crashdrop::start(). On failure crashdrop_last_error() says why; an enum field out of range
 * is CRASHDROP_ERROR_INVALID_OPTIONS naming the field. With CRASHDROP_HELPER_REEXEC (the
 * default) call it first thing in main(): the helper process runs main() again and this call
 * never returns there. */
CRASHDROP_C_API int crashdrop_start(const crashdrop_options* options);

/* The message of the last call that failed on this thread ("" if none has): a buffer of this
 * thread's, valid until its next failing call, at most 511 bytes (cut at a UTF-8 character
 * boundary). A call that succeeds leaves it as it was, as errno does; reading it allocates
 * nothing. */
CRASHDROP_C_API const char* crashdrop_last_error(void);

/* The note of this thread's last crashdrop_start() that succeeded: "" when it had none, else
 * something to print or log that is not an error (crashdrop::Status::note(): today, that
 * threads created after start() get no alternate signal stack from crashdrop because a
 * sanitizer's pthread_create is in the process). Buffer rules as crashdrop_last_error(). */
CRASHDROP_C_API const char* crashdrop_start_note(void);

CRASHDROP_C_API int crashdrop_is_started(void);
CRASHDROP_C_API int crashdrop_prepare_thread(void);

/* crashdrop::write_dump(): a dump of the running process, which goes on. With path_out NULL
 * the path is not wanted. Otherwise the dump's path, NUL-terminated, is copied into path_out
 * when it fits in path_capacity bytes; when it does not, the dump has still been written (do
 * not retry: that writes another), path_out gets "" (if path_capacity > 0), the result is
 * CRASHDROP_ERROR_INVALID_ARGUMENT and crashdrop_last_error() names the path and the size it
 * needs. 4096 bytes (PATH_MAX) are enough for any database folder path under 4000 bytes. */
CRASHDROP_C_API int crashdrop_write_dump(char* path_out, size_t path_capacity);

/* The context (limits and errors as in crashdrop/context.hpp and api.hpp): an annotation
 * (key 1 .. 39 bytes, not "crash_kind", which names the report's kind in every dump; a value
 * over 255 bytes is kept as parts key__1, key__2, ...). */
CRASHDROP_C_API int crashdrop_add_extra_parameter(const char* key, const char* value);
CRASHDROP_C_API int crashdrop_remove_extra_parameter(const char* key);
/* A breadcrumb: category NULL is "default"; a level outside enum crashdrop_level is
 * CRASHDROP_LEVEL_INFO. Never fails (too long a text is cut), so it returns nothing. */
CRASHDROP_C_API void crashdrop_add_breadcrumb(const char* message, const char* category, int level);
CRASHDROP_C_API int crashdrop_set_tag(const char* key, const char* value);
CRASHDROP_C_API int crashdrop_remove_tag(const char* key);
/* Replaces the user; NULL or "" clears a field. */
CRASHDROP_C_API int crashdrop_set_user(const char* id, const char* username, const char* email, const char* ip_address);
/* A file (absolute path) sent with every report from now on. */
CRASHDROP_C_API int crashdrop_add_attachment(const char* path);
CRASHDROP_C_API int crashdrop_remove_attachment(const char* path);

CRASHDROP_C_API int crashdrop_check_handlers(void);
CRASHDROP_C_API int crashdrop_reinstall(void);
CRASHDROP_C_API void crashdrop_stop(void);
/* crashdrop::heartbeat(): the first thread to call it is watched for hangs (hang_timeout_ms). */
CRASHDROP_C_API void crashdrop_heartbeat(void);
/* crashdrop::last_run() as an enum crashdrop_run_outcome, and crashdrop::consecutive_crashes():
 * how the previous run of this database ended, valid once crashdrop_start() has succeeded. */
enum crashdrop_run_outcome {
    CRASHDROP_RUN_UNKNOWN = 0,
    CRASHDROP_RUN_CLEAN_EXIT = 1,
    CRASHDROP_RUN_CRASHED = 2,
    CRASHDROP_RUN_HUNG = 3,
    CRASHDROP_RUN_ABNORMAL_EXIT = 4
};
CRASHDROP_C_API int crashdrop_last_run(void);
CRASHDROP_C_API unsigned crashdrop_consecutive_crashes(void);

/* crashdrop::default_database_path(): the per-user folder for a product's crash database
 * (Linux: $XDG_STATE_HOME/<product>/crashdrop or $HOME/.local/state/<product>/crashdrop;
 * Windows: %LOCALAPPDATA%\<product>\Crashes). Returns the path's length in bytes (without the
 * NUL), 0 when it cannot be determined. The path, NUL-terminated, is copied into out when it
 * fits in capacity bytes (length < capacity); otherwise out gets "" (if capacity > 0): call
 * again with length + 1 bytes. out may be NULL with capacity 0. */
CRASHDROP_C_API size_t crashdrop_default_database_path(const char* product_name, char* out, size_t capacity);

/* crashdrop::run_helper(): the main() of an external helper executable. */
CRASHDROP_C_API int crashdrop_run_helper(int argc, char** argv);

#ifdef __cplusplus
}
#endif

#endif /* CRASHDROP_C_API_INCLUDED */
