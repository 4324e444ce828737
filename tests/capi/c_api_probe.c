/* c_api_probe - exercises crashdrop's C interface from C, one scenario per run, and prints
 * what each call returned as "name.rc=<code>" / "name.msg=<crashdrop_last_error()>" lines (and
 * other "key=value" lines) for tests/capi/capi_tests.cpp, which runs it in a child process:
 * start() installs signal handlers, and a started crashdrop stays started for the process.
 *
 *   c_api_probe <mode> <database folder> [argument]
 *
 * Modes: defaults, before_start, start_size <case>, invalid_enums, api, context <file>.
 * Compiled as C99 with strict warnings; c_api_probe_impl.cpp holds the implementation.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crashdrop.hpp"

static const char* g_db = "";

/* One line per value; newlines in messages are shown as \n so that every value is one line. */
static void print_value(const char* key, const char* value) {
    const char* p;
    printf("%s=", key);
    for (p = value != NULL ? value : "(null)"; *p != '\0'; ++p) {
        if (*p == '\n') fputs("\\n", stdout);
        else putchar(*p);
    }
    putchar('\n');
}

static void print_int(const char* key, long long value) { printf("%s=%lld\n", key, value); }

/* A call's result and this thread's last error after it. */
static void report(const char* name, int rc) {
    char key[128];
    snprintf(key, sizeof(key), "%s.rc", name);
    print_int(key, rc);
    snprintf(key, sizeof(key), "%s.msg", name);
    print_value(key, crashdrop_last_error());
}

static void base_options(crashdrop_options* o) {
    crashdrop_options_init(o);
    o->database_path = g_db;
    o->product_name = "c_api_probe";
    o->product_version = "0.0.1";
    o->helper_mode = CRASHDROP_HELPER_NONE;
}

/* ---- defaults: what crashdrop_options_init() fills in ---- */
static int run_defaults(void) {
    crashdrop_options o;
    memset(&o, 0xAB, sizeof(o)); /* init must overwrite every field */
    print_value("last_error_initial", crashdrop_last_error());
    crashdrop_options_init(NULL); /* must not crash */
    crashdrop_options_init(&o);
    print_int("sizeof", (long long)sizeof(crashdrop_options));
    print_int("struct_size", (long long)o.struct_size);
    print_int("strings_null", o.database_path == NULL && o.product_name == NULL && o.product_version == NULL &&
                                  o.helper_path == NULL && o.submit_url == NULL && o.sentry_dsn == NULL && o.ca_file == NULL);
    print_int("include_environment", o.include_environment);
    print_int("handle_terminate", o.handle_terminate);
    print_int("helper_mode", o.helper_mode);
    print_int("upload_format", o.upload_format);
    print_int("compress", o.compress);
    print_int("rate_limit", o.rate_limit);
    print_int("max_breadcrumbs", (long long)o.max_breadcrumbs);
    print_int("max_attachment_bytes", (long long)o.max_attachment_bytes);
    print_int("only_this_module", o.only_this_module);
    print_int("dump_buffer_size", (long long)o.dump_buffer_size);
    print_int("include_command_line", o.include_command_line);
    print_int("fault_filter_null", o.fault_filter == NULL);
    print_int("hang_timeout_ms", o.hang_timeout_ms);
    print_int("report_abnormal_exits", o.report_abnormal_exits);
    print_int("environment_null", o.environment == NULL);
    print_int("memory_capture", o.memory_capture);
    print_int("max_upload_bytes", (long long)o.max_upload_bytes);
    print_int("is_started", crashdrop_is_started());
    return 0;
}

/* ---- before_start: every call that needs start() says so ---- */
static int run_before_start(void) {
    char path[4096];
    print_value("last_error_initial", crashdrop_last_error());
    print_int("is_started", crashdrop_is_started());
    report("add_extra_parameter", crashdrop_add_extra_parameter("key", "value"));
    report("remove_extra_parameter", crashdrop_remove_extra_parameter("key"));
    report("set_tag", crashdrop_set_tag("key", "value"));
    report("remove_tag", crashdrop_remove_tag("key"));
    report("set_user", crashdrop_set_user("id", "name", "mail@example.com", "127.0.0.1"));
    report("add_attachment", crashdrop_add_attachment("/etc/hostname"));
    report("remove_attachment", crashdrop_remove_attachment("/etc/hostname"));
    strcpy(path, "unchanged");
    report("write_dump", crashdrop_write_dump(path, sizeof(path)));
    print_value("write_dump.path", path);
    report("prepare_thread", crashdrop_prepare_thread());
    report("check_handlers", crashdrop_check_handlers());
    report("reinstall", crashdrop_reinstall());
    crashdrop_add_breadcrumb("before start", "probe", CRASHDROP_LEVEL_INFO); /* ignored, no crash */
    crashdrop_stop();                                                        /* nothing to stop */
    print_value("survived", "yes");
    return 0;
}

/* ---- start_size <case>: struct_size handling ---- */
struct bigger_options {
    crashdrop_options options;
    unsigned char newer_fields[32]; /* what a newer header's struct might add */
};

static int run_start_size(const char* which) {
    struct bigger_options big;
    crashdrop_options* o = &big.options;
    int rc;
    memset(&big, 0, sizeof(big));
    base_options(o);
    if (strcmp(which, "zero") == 0) {
        o->struct_size = 0;
    } else if (strcmp(which, "tiny") == 0) {
        o->struct_size = (uint32_t)sizeof(uint32_t); /* struct_size alone, no database_path */
    } else if (strcmp(which, "huge") == 0) {
        o->struct_size = 1000000u;
    } else if (strcmp(which, "bigger_zero") == 0) {
        o->struct_size = (uint32_t)sizeof(big); /* unknown tail, all zero: accepted */
    } else if (strcmp(which, "bigger_set") == 0) {
        o->struct_size = (uint32_t)sizeof(big);
        big.newer_fields[5] = 1; /* an option this version does not know: refused */
    } else if (strcmp(which, "without_dump_buffer_size") == 0) {
        /* An older caller whose struct ends before dump_buffer_size: the garbage there is not
         * read (1 byte would be refused), the default is used. */
        o->struct_size = (uint32_t)offsetof(crashdrop_options, dump_buffer_size);
        o->dump_buffer_size = 1;
    } else if (strcmp(which, "with_dump_buffer_size") == 0) {
        o->dump_buffer_size = 1; /* control: the full struct, so it is read and refused */
    } else if (strcmp(which, "product_only") == 0) {
        /* The struct of a caller that knows only struct_size .. product_version: everything
         * after keeps its default although it is garbage here; the helper is the default
         * re-exec one (this program again, in this same mode). */
        o->struct_size = (uint32_t)offsetof(crashdrop_options, include_environment);
        o->product_name = "short-struct";
        o->helper_mode = 99;
        o->upload_format = 99;
        o->max_breadcrumbs = 4000000000u;
        o->max_attachment_bytes = 1;
        o->dump_buffer_size = 1;
    } else if (strcmp(which, "up_to_helper_mode") == 0) {
        /* helper_mode is the last field inside struct_size: it is read (and refused). */
        o->struct_size = (uint32_t)(offsetof(crashdrop_options, helper_mode) + sizeof(int));
        o->helper_mode = 99;
    } else {
        fprintf(stderr, "unknown start_size case %s\n", which);
        return 2;
    }
    rc = crashdrop_start(o);
    report("start", rc);
    print_int("is_started", crashdrop_is_started());
    if (rc == CRASHDROP_OK) {
        char path[4096];
        report("write_dump", crashdrop_write_dump(path, sizeof(path)));
        print_value("dump", path);
    }
    return 0;
}

/* ---- invalid_enums: out-of-range enums are refused, naming the field ---- */
static int run_invalid_enums(void) {
    crashdrop_options o;
    base_options(&o);
    o.helper_mode = 4;
    report("helper_mode_4", crashdrop_start(&o));
    o.helper_mode = -1;
    report("helper_mode_minus_1", crashdrop_start(&o));
    o.helper_mode = CRASHDROP_HELPER_NONE;
    o.upload_format = 4;
    report("upload_format_4", crashdrop_start(&o));
    o.upload_format = -7;
    report("upload_format_minus_7", crashdrop_start(&o));
    o.upload_format = CRASHDROP_FORMAT_SOCORRO;
    o.memory_capture = 3;
    report("memory_capture_3", crashdrop_start(&o));
    o.memory_capture = -1;
    report("memory_capture_minus_1", crashdrop_start(&o));
    o.memory_capture = CRASHDROP_MEMORY_FULL;
    print_int("is_started_after_refusals", crashdrop_is_started());
    report("start_null", crashdrop_start(NULL));
    /* Nothing of the refused calls stayed behind: a valid start now works. */
    o.upload_format = CRASHDROP_FORMAT_SOCORRO;
    report("valid", crashdrop_start(&o));
    print_int("is_started_after_valid", crashdrop_is_started());
    return 0;
}

/* ---- api: behaviour after start ---- */
static void* other_thread(void* arg) {
    char* out = (char*)arg;
    /* A fresh thread has no error of its own, whatever the main thread's last call did. */
    snprintf(out, 512, "%s", crashdrop_last_error());
    crashdrop_set_tag("", "empty key");
    strcat(out, "|");
    strncat(out, crashdrop_last_error(), 200);
    return NULL;
}

static int run_api(void) {
    crashdrop_options o;
    char path[4096];
    char small[8];
    char key40[41];
    char key39[40];
    char from_thread[1024];
    pthread_t thread;

    base_options(&o);
    report("start", crashdrop_start(&o));
    print_int("is_started", crashdrop_is_started());
    report("start_again", crashdrop_start(&o));
    print_int("last_run", crashdrop_last_run()); /* a fresh database: no previous run */
    print_int("consecutive_crashes", (int)crashdrop_consecutive_crashes());

    memset(key40, 'k', 40);
    key40[40] = '\0';
    memset(key39, 'k', 39);
    key39[39] = '\0';
    report("key_crash_kind", crashdrop_add_extra_parameter("crash_kind", "spoofed")); /* reserved */
    report("key40", crashdrop_add_extra_parameter(key40, "v"));
    report("key39", crashdrop_add_extra_parameter(key39, "v")); /* msg: still key40's */
    report("key_empty", crashdrop_add_extra_parameter("", "v"));
    report("key_null", crashdrop_add_extra_parameter(NULL, "v"));
    report("value_null", crashdrop_add_extra_parameter("nullvalue", NULL));

    from_thread[0] = '\0';
    if (pthread_create(&thread, NULL, other_thread, from_thread) == 0) pthread_join(thread, NULL);
    print_value("thread", from_thread);
    print_value("main_after_thread", crashdrop_last_error());

    report("tag_ok", crashdrop_set_tag("color", "red"));
    report("attachment_relative", crashdrop_add_attachment("relative/log.txt"));
    report("attachment_absolute", crashdrop_add_attachment("/etc/hostname"));
    report("user_ok", crashdrop_set_user("42", NULL, NULL, NULL));

    report("write_dump", crashdrop_write_dump(path, sizeof(path)));
    print_value("write_dump.path", path);
    strcpy(small, "xxxxxxx");
    report("write_dump_small", crashdrop_write_dump(small, sizeof(small)));
    print_int("write_dump_small.cleared", small[0] == '\0');
    report("write_dump_zero_capacity", crashdrop_write_dump(small, 0));
    report("write_dump_null", crashdrop_write_dump(NULL, 0));

    report("prepare_thread", crashdrop_prepare_thread());
    report("check_handlers", crashdrop_check_handlers());
    report("reinstall", crashdrop_reinstall());

    crashdrop_stop();
    print_int("after_stop.is_started", crashdrop_is_started());
    report("after_stop.add_extra_parameter", crashdrop_add_extra_parameter("key", "value"));
    report("restart", crashdrop_start(&o));
    print_int("after_restart.is_started", crashdrop_is_started());
    report("after_restart.write_dump", crashdrop_write_dump(path, sizeof(path)));
    print_value("after_restart.write_dump.path", path);
    return 0;
}

/* ---- context: what the C calls put into a dump ---- */
static void long_value(char* out, size_t count) {
    size_t i;
    for (i = 0; i < count; ++i) out[i] = (char)('a' + (char)(i % 26));
    out[count] = '\0';
}

static int run_context(const char* attachment) {
    crashdrop_options o;
    char path[4096];
    char value600[601];

    base_options(&o);
    o.max_breadcrumbs = 5;
    report("start", crashdrop_start(&o));

    long_value(value600, 600);
    report("ann_short", crashdrop_add_extra_parameter("short", "plain value"));
    report("ann_long", crashdrop_add_extra_parameter("long", value600));
    report("ann_removed", crashdrop_add_extra_parameter("removed_later", "x"));
    report("tag_plain", crashdrop_set_tag("map", "forest_02"));
    report("tag_special", crashdrop_set_tag("odd=key|", "50% | a=b\nnext"));
    report("user", crashdrop_set_user("u-1", "bob|smith", NULL, "10.0.0.1"));
    report("attachment", crashdrop_add_attachment(attachment));

    /* max_breadcrumbs = 5: the first of these six is overwritten. */
    crashdrop_add_breadcrumb("dropped (oldest)", "ring", CRASHDROP_LEVEL_DEBUG);
    crashdrop_add_breadcrumb("debug message", "cat", CRASHDROP_LEVEL_DEBUG);
    crashdrop_add_breadcrumb("pipe | percent % equals = newline\nend", "a|b", CRASHDROP_LEVEL_WARNING);
    crashdrop_add_breadcrumb("null category", NULL, CRASHDROP_LEVEL_ERROR);
    crashdrop_add_breadcrumb("level out of range", "cat", 99);
    crashdrop_add_breadcrumb(NULL, "null message", CRASHDROP_LEVEL_FATAL);

    report("dump1", crashdrop_write_dump(path, sizeof(path)));
    print_value("dump1.path", path);

    report("remove_ann", crashdrop_remove_extra_parameter("removed_later"));
    report("remove_missing_ann", crashdrop_remove_extra_parameter("never_set"));
    report("remove_tag", crashdrop_remove_tag("map"));
    report("clear_user", crashdrop_set_user(NULL, NULL, NULL, NULL));
    report("remove_attachment", crashdrop_remove_attachment(attachment));
    report("dump2", crashdrop_write_dump(path, sizeof(path)));
    print_value("dump2.path", path);
    return 0;
}

int main(int argc, char** argv) {
    const char* mode;
    int rc;
    if (argc < 3) {
        fprintf(stderr, "usage: c_api_probe <mode> <database folder> [argument]\n");
        return 2;
    }
    mode = argv[1];
    g_db = argv[2];
    if (strcmp(mode, "defaults") == 0) rc = run_defaults();
    else if (strcmp(mode, "before_start") == 0) rc = run_before_start();
    else if (strcmp(mode, "start_size") == 0 && argc > 3) rc = run_start_size(argv[3]);
    else if (strcmp(mode, "invalid_enums") == 0) rc = run_invalid_enums();
    else if (strcmp(mode, "api") == 0) rc = run_api();
    else if (strcmp(mode, "context") == 0 && argc > 3) rc = run_context(argv[3]);
    else {
        fprintf(stderr, "unknown mode %s\n", mode);
        rc = 2;
    }
    fflush(stdout);
    return rc;
}
