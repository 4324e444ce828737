#!/usr/bin/env python3
"""crashdrop.hpp compiles as C: with gcc and clang, -std=c99 and -std=c11, strict warnings
(-Wall -Wextra -Wpedantic -Wconversion -Werror and more), from include/ and from single_include/.
A C file that includes it sees the C interface only, with every declaration usable as
declared (each function is assigned to a pointer of its exact type), and including it twice
or defining CRASHDROP_IMPLEMENTATION first changes nothing. The C example and the C probe
compile under the same flags. Standard library only.

    check_c_header.py --source-dir <repo> --work-dir <scratch folder>
"""
import argparse
import os
import shutil
import subprocess
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--source-dir", required=True)
parser.add_argument("--work-dir", required=True)
args = parser.parse_args()

STRICT = ["-Wall", "-Wextra", "-Wpedantic", "-pedantic-errors", "-Wconversion", "-Werror"]
# For the header alone: what careful C projects add.
HEADER_EXTRA = ["-Wundef", "-Wstrict-prototypes", "-Wmissing-prototypes", "-Wshadow", "-Wcast-qual",
                "-Wsign-conversion", "-Wredundant-decls"]
GCC_ONLY = ["-Wc++-compat"]

# Every declaration of c_api.hpp, used as declared: a changed signature fails to compile.
USE_EVERYTHING = r"""
#include <stddef.h>
#include <stdint.h>

typedef int check_enums[(CRASHDROP_OK == 0 && CRASHDROP_ERROR_HANDLER_REPLACED == 12 &&
                         CRASHDROP_HELPER_NONE == 3 && CRASHDROP_FORMAT_SENTRY == 2 &&
                         CRASHDROP_LEVEL_FATAL == 4) ? 1 : -1];

int use_everything(int argc, char** argv);
int use_everything(int argc, char** argv) {
    void (*options_init)(crashdrop_options*) = crashdrop_options_init;
    int (*start)(const crashdrop_options*) = crashdrop_start;
    const char* (*last_error)(void) = crashdrop_last_error;
    const char* (*start_note)(void) = crashdrop_start_note;
    int (*is_started)(void) = crashdrop_is_started;
    int (*prepare_thread)(void) = crashdrop_prepare_thread;
    int (*write_dump)(char*, size_t) = crashdrop_write_dump;
    int (*add_extra_parameter)(const char*, const char*) = crashdrop_add_extra_parameter;
    int (*remove_extra_parameter)(const char*) = crashdrop_remove_extra_parameter;
    void (*add_breadcrumb)(const char*, const char*, int) = crashdrop_add_breadcrumb;
    int (*set_tag)(const char*, const char*) = crashdrop_set_tag;
    int (*remove_tag)(const char*) = crashdrop_remove_tag;
    int (*set_user)(const char*, const char*, const char*, const char*) = crashdrop_set_user;
    int (*add_attachment)(const char*) = crashdrop_add_attachment;
    int (*remove_attachment)(const char*) = crashdrop_remove_attachment;
    int (*check_handlers)(void) = crashdrop_check_handlers;
    int (*reinstall)(void) = crashdrop_reinstall;
    void (*stop)(void) = crashdrop_stop;
    void (*heartbeat)(void) = crashdrop_heartbeat;
    int (*last_run)(void) = crashdrop_last_run;
    unsigned (*consecutive_crashes)(void) = crashdrop_consecutive_crashes;
    int (*run_helper)(int, char**) = crashdrop_run_helper;
    size_t (*default_database_path)(const char*, char*, size_t) = crashdrop_default_database_path;

    crashdrop_options o;
    enum crashdrop_error e = CRASHDROP_ERROR_INVALID_ARGUMENT;
    enum crashdrop_helper_mode h = CRASHDROP_HELPER_FORK;
    enum crashdrop_upload_format f = CRASHDROP_FORMAT_SOCORRO;
    enum crashdrop_level l = CRASHDROP_LEVEL_WARNING;
    char path[64];
    options_init(&o);
    o.struct_size = (uint32_t)sizeof(o);
    o.database_path = "/tmp/db";
    o.product_name = "p";
    o.product_version = "v";
    o.include_environment = 0;
    o.handle_terminate = 1;
    o.helper_mode = (int)h; /* the fields are int (a fixed size for FFI); clang's
                                -Wconversion wants the cast from an enum variable */
    o.helper_path = NULL;
    o.submit_url = NULL;
    o.upload_format = (int)f;
    o.sentry_dsn = NULL;
    o.compress = 1;
    o.rate_limit = 0;
    o.ca_file = NULL;
    o.max_breadcrumbs = 10u;
    o.max_attachment_bytes = 1024u;
    o.only_this_module = 0;
    o.dump_buffer_size = (uint64_t)1 << 22;
    o.include_command_line = 0;
    o.fault_filter = NULL;
    o.hang_timeout_ms = 0;
    o.report_abnormal_exits = 1;
    o.environment = NULL;
    o.memory_capture = CRASHDROP_MEMORY_FULL;
    o.max_upload_bytes = 0u;
    o.helper_mode = CRASHDROP_HELPER_NONE; /* the constants themselves are int */
    if (start(&o) != CRASHDROP_OK) return (int)e;
    add_breadcrumb("m", "c", (int)l);
    return add_extra_parameter("k", "v") + remove_extra_parameter("k") + set_tag("k", "v") + remove_tag("k") +
           set_user(NULL, NULL, NULL, NULL) + add_attachment("/a") + remove_attachment("/a") +
           write_dump(path, sizeof(path)) + prepare_thread() + check_handlers() + reinstall() + is_started() +
           (last_error()[0] != '\0') + (start_note()[0] != '\0') + (stop(), 0) + (heartbeat(), 0) + run_helper(argc, argv) +
           (int)default_database_path("p", path, sizeof(path)) + (last_run() == CRASHDROP_RUN_UNKNOWN) +
           (int)consecutive_crashes();
}
"""

SOURCES = {
    # The umbrella, as C code includes it.
    "umbrella.c": '#include "crashdrop.hpp"\n' + USE_EVERYTHING,
    # Twice (the umbrella has no include guard on purpose).
    "twice.c": '#include "crashdrop.hpp"\n#include "crashdrop.hpp"\n' + USE_EVERYTHING,
    # CRASHDROP_IMPLEMENTATION means nothing to C: the implementation is C++.
    "implementation_macro.c": '#define CRASHDROP_IMPLEMENTATION\n#include "crashdrop.hpp"\n' + USE_EVERYTHING,
    # Nothing but the C interface and config macros: no implementation switch, and (since it
    # compiles as C at all) no C++.
    "c_only.c": '#include "crashdrop.hpp"\n'
                '#ifndef CRASHDROP_C_API_INCLUDED\n#error "the C interface is missing"\n#endif\n'
                '#ifdef CRASHDROP_DETAIL_IMPL_ACTIVE\n#error "implementation macros leaked into C"\n#endif\n'
                'int c_only;\n',
}
DIRECT = {
    # c_api.hpp on its own (include/ only: the single header has no separate files).
    "direct.c": '#include "crashdrop/c_api.hpp"\n' + USE_EVERYTHING,
}

shutil.rmtree(args.work_dir, ignore_errors=True)
os.makedirs(args.work_dir)
for name, text in {**SOURCES, **DIRECT}.items():
    with open(os.path.join(args.work_dir, name), "w", encoding="utf-8") as f:
        f.write(text)

compilers = [c for c in ("gcc", "clang") if shutil.which(c)]
if len(compilers) != 2:
    print("missing C compilers: need gcc and clang, found", compilers)
    sys.exit(1)

failed = 0
runs = 0


def compile_one(cc, std, include, source, flags):
    global failed, runs
    runs += 1
    out = os.path.join(args.work_dir, "out.o")
    cmd = [cc, f"-std={std}", *flags, "-I", os.path.join(args.source_dir, include), "-c", source, "-o", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    label = f"{cc:5} {std} {include:14} {os.path.relpath(source, args.source_dir) if source.startswith(args.source_dir) else os.path.basename(source)}"
    if r.returncode != 0 or r.stderr.strip():
        failed += 1
        print("FAILED  " + label)
        print("  " + " ".join(cmd))
        print(r.stderr[-4000:])
    else:
        print("ok      " + label)


for cc in compilers:
    header_flags = STRICT + HEADER_EXTRA + (GCC_ONLY if cc == "gcc" else [])
    for std in ("c99", "c11"):
        for include in ("include", "single_include"):
            for name in SOURCES:
                compile_one(cc, std, include, os.path.join(args.work_dir, name), header_flags)
        for name in DIRECT:
            compile_one(cc, std, "include", os.path.join(args.work_dir, name), header_flags)
        # The example and the probe: real C programs under the strict set.
        for program in (os.path.join("examples", "c_example.c"), os.path.join("tests", "capi", "c_api_probe.c")):
            compile_one(cc, std, "include", os.path.join(args.source_dir, program), STRICT + ["-O2"])

print(f"{runs - failed} of {runs} compilations clean")
sys.exit(1 if failed else 0)
