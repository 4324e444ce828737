#!/usr/bin/env python3
"""Applications built with -fsanitize=thread, =address and =undefined (g++ and clang++) and one
linked -static and -static-pie start crashdrop, run threads, write a dump and crash (tests/build/sanitized_app.cpp).

What each build proves:
  - TSan/ASan (sanitizer runtime present): start() succeeds with a note naming the sanitizer,
    every thread runs (TSan's CHECK failure at the first thread is gone: crashdrop's
    pthread_create calls the sanitizer's interceptor instead of libc's), and they get no
    alternate stack from crashdrop (TSan's have none at all).
  - UBSan alone and -static(-pie): crashdrop still interposes: no note, every thread has an alternate
    signal stack (in the static one through libc.a's own __pthread_create; before, every thread
    failed with EAGAIN).
  - Each: write_dump, a foreign handler noticed and replaced (check_handlers, reinstall: the
    dynamic loader's dladdr/dlopen in a static binary), only_this_module's module search,
    crashdrop_start_note() equal to the note; no sanitizer report. A crash in a second thread gives one dump that minidump_stackwalk reads
    (SIGSEGV, a crashed thread other than the main one); the process dies by SIGSEGV or by the
    sanitizer's own report of it, which crashdrop chains to. The static one sends to an https://
    URL: its helper says libcurl cannot be loaded there instead of loading a second libc.
    A stack overflow in a second thread gives a dump too: on crashdrop's alternate stack (UBSan,
    static), on ASan's own, and under TSan when the thread called prepare_thread() (what start()'s
    note tells; without it TSan's threads have no alternate stack and the process just dies).
The crashdrop implementation is compiled once per compiler without a sanitizer (the run-time
detection: a sanitized application linking a plain crashdrop TU) and twice with one (clang TSan,
g++ ASan: the compile-time detection); the builds run in parallel.
"""
import argparse
import concurrent.futures
import glob
import os
import shutil
import subprocess
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--source-dir", required=True)
parser.add_argument("--work-dir", required=True)
args = parser.parse_args()

started = time.monotonic()
source = os.path.join(args.source_dir, "tests", "build", "sanitized_app.cpp")
include = os.path.join(args.source_dir, "include")
work = args.work_dir
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
warnings = ["-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror"]
ci = bool(os.environ.get("CI"))
require_readers = os.environ.get("CRASHDROP_REQUIRE_READERS") == "1"
failures = []


def fail(what):
    failures.append(what)
    print("FAILED  " + what)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


gxx = shutil.which("g++")
clang = shutil.which("clang++-14") or shutil.which("clang++")
if gxx is None:
    print("g++ missing")
    sys.exit(1)


def runtime_links(cxx, flag):
    probe = os.path.join(work, "probe.cpp")
    with open(probe, "w") as f:
        f.write("int main() { return 0; }\n")
    return run([cxx, flag, probe, "-o", os.path.join(work, "probe-" + os.path.basename(cxx) + flag.replace("=", "-"))]).returncode == 0


compilers = {"gcc": gxx}
if clang is not None and runtime_links(clang, "-fsanitize=thread") and runtime_links(clang, "-fsanitize=address"):
    compilers["clang"] = clang
else:
    message = "clang++ with its sanitizer runtimes (clang-14 libclang-rt-14-dev) is missing"
    if ci:
        print("FAILED: " + message)
        sys.exit(1)
    print("#" * 80 + "\n## the clang builds are SKIPPED: " + message + "\n" + "#" * 80)

# (name, compiler, the application's -fsanitize, "static" or "static-pie", implementation object; -fPIE
# everywhere for static-pie)
APPS = [
    ("gcc-tsan", "gcc", "thread", "gcc-plain"),
    ("gcc-asan", "gcc", "address", "gcc-address"),
    ("gcc-ubsan", "gcc", "undefined", "gcc-plain"),
    ("gcc-static", "gcc", "static", "gcc-plain"),
    ("gcc-static-pie", "gcc", "static-pie", "gcc-plain"),
    ("clang-tsan", "clang", "thread", "clang-thread"),
    ("clang-tsan-plain-impl", "clang", "thread", "clang-plain"),
    ("clang-asan", "clang", "address", "clang-plain"),
    ("clang-ubsan", "clang", "undefined", "clang-plain"),
]
APPS = [a for a in APPS if a[1] in compilers]
NOTE = {"thread": "ThreadSanitizer", "address": "AddressSanitizer"}


def san_flags(san):
    return [] if san in ("plain", "static", "static-pie") else ["-fsanitize=" + san, "-fno-omit-frame-pointer"]


def compile_object(key):
    role, cc, san = key
    out = os.path.join(work, f"{role}-{cc}-{san}.o")
    cmd = [compilers[cc], "-std=c++17", "-O0", "-fPIE", *warnings, *san_flags(san), "-I", include, "-c", source, "-o", out]
    if role == "impl":
        cmd.insert(1, "-DCRASHDROP_IMPLEMENTATION")
    r = run(cmd)
    return key, out, (" ".join(cmd) + "\n" + r.stderr[-4000:]) if r.returncode != 0 else ""


objects = set()
for name, cc, san, impl in APPS:
    objects.add(("main", cc, "plain" if san.startswith("static") else san))
    objects.add(("impl", *impl.split("-")))
built = {}
workers = max(2, os.cpu_count() or 2)
with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
    for key, out, error in pool.map(compile_object, sorted(objects)):
        if error:
            fail("compile " + "-".join(key) + "\n" + error)
        built[key] = out
if failures:
    sys.exit(1)
compiled = time.monotonic()


def link(app):
    name, cc, san, impl = app
    main = built[("main", cc, "plain" if san.startswith("static") else san)]
    out = os.path.join(work, name)
    cmd = [compilers[cc], *san_flags(san), main, built[("impl", *impl.split("-"))], "-o", out, "-pthread", "-ldl"]
    if san.startswith("static"):
        cmd.insert(1, "-" + san)
    r = run(cmd)
    if r.returncode != 0:
        return app, "link: " + " ".join(cmd) + "\n" + r.stderr[-3000:]
    return app, ""


SANITIZER_REPORT = ("ERROR: AddressSanitizer", "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer", "runtime error:",
                    "ERROR: LeakSanitizer", "CHECK failed")
env = {k: v for k, v in os.environ.items() if not k.endswith("SAN_OPTIONS")}
stackwalk = os.path.join(os.environ.get("CRASHDROP_MINIDUMP_TOOLS", ""), "minidump_stackwalk")
have_stackwalk = os.path.isfile(stackwalk)
if not have_stackwalk:
    if require_readers:
        print("FAILED: minidump_stackwalk not found (CRASHDROP_MINIDUMP_TOOLS)")
        sys.exit(1)
    print("warning: minidump_stackwalk not found (CRASHDROP_MINIDUMP_TOOLS): dumps are not read")


def check_threads(app):
    name, cc, san, impl = app
    problems = []
    db = os.path.join(work, name + "-threads-db")
    r = run([os.path.join(work, name), "threads", db], timeout=120, env=env)
    out = r.stdout + r.stderr
    if r.returncode != 0:
        problems.append(f"threads: exit {r.returncode}")
    lines = dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)
    note = lines.get("note", "")
    if san in NOTE:
        if NOTE[san] not in note or "prepare_thread" not in note:
            problems.append(f"start()'s note should name {NOTE[san]} and what is lost: {note!r}")
    elif note != "-":
        problems.append(f"start() should have no note: {note!r}")
    if lines.get("message") != "-":
        problems.append("a successful start() has a message: " + lines.get("message", "(none printed)"))
    threads = lines.get("threads", "")
    if not threads.startswith("6 ran"):
        problems.append("not every thread ran: " + (threads or "(none printed)"))
    if san in ("undefined", "static", "static-pie") and threads != "6 ran, 6 with an alternate stack":
        problems.append("crashdrop should give every thread an alternate stack: " + threads)
    if san == "thread" and threads != "6 ran, 0 with an alternate stack":
        problems.append("under TSan crashdrop should leave the threads alone: " + threads)
    for key, want in (("write_dump", "ok"), ("check_handlers", "handler_replaced, reinstall: ok, check again: ok"),
                      ("only_this_module start", "ok"), ("C start", "ok, same note: yes")):
        if lines.get(key) != want:
            problems.append(f"{key}: {lines.get(key)!r}, expected {want!r}")
    reports = [marker for marker in SANITIZER_REPORT if marker in out]
    if reports:
        problems.append("a sanitizer report: " + ", ".join(reports))
    return problems, out


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def check_crash(app, mode="crash"):
    name, cc, san, impl = app
    problems = []
    db = os.path.join(work, name + "-" + mode + "-db")
    cmd = [os.path.join(work, name), mode, db]
    if mode == "crash" and san.startswith("static"):
        cmd.append("https://127.0.0.1:9/upload")
    if mode == "overflow" and san == "thread":
        cmd.append("prepare")  # TSan's threads have no alternate stack: the documented remedy
    r = run(cmd, timeout=120, env=env)
    out = r.stdout + r.stderr
    # Death by SIGSEGV, or by the sanitizer's report of it (crashdrop chains to its handler).
    if r.returncode not in (-11, 1, 66):
        problems.append(f"{mode}: exit {r.returncode}, expected SIGSEGV or the sanitizer's exit")
    pending = os.path.join(db, "pending")
    if not wait_for(lambda: len(glob.glob(os.path.join(pending, "*.meta"))) >= 1, 30):
        problems.append(mode + ": no report stored (no .meta in pending/)")
    dumps = glob.glob(os.path.join(pending, "*.dmp"))
    if len(dumps) != 1:
        problems.append(f"{mode}: expected one dump, found {dumps}")
    elif have_stackwalk:
        walk = run([stackwalk, dumps[0]], timeout=120)
        text = walk.stdout
        if "Crash reason:  SIGSEGV" not in text:
            problems.append("minidump_stackwalk: no SIGSEGV crash reason\n" + text[:1500] + walk.stderr[-1500:])
        crashed = [line for line in text.splitlines() if line.startswith("Thread ") and "(crashed)" in line]
        if not crashed or crashed[0].startswith("Thread 0 "):
            problems.append(f"{mode}: the crashed thread should be the second one: {crashed}")
    if "data race" in out:
        problems.append("TSan reports a data race in crashdrop's crash path")
    if mode == "crash" and san.startswith("static"):
        log = os.path.join(db, "helper.log")

        def said_so():
            return os.path.exists(log) and "statically linked program cannot load" in open(log, errors="replace").read()

        if not wait_for(said_so, 30):
            problems.append("the static helper should refuse libcurl: " + (open(log, errors="replace").read()[-1500:] if os.path.exists(log) else "no helper.log"))
    return problems, out


def build_and_run(app):
    app, error = link(app)
    if error:
        return app, [error], ""
    problems, out = [], ""
    for check in (check_threads, check_crash, lambda a: check_crash(a, "overflow")):
        found, text = check(app)
        problems += found
        out += text
    return app, problems, out


with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
    for app, problems, out in pool.map(build_and_run, APPS):
        if problems:
            fail(app[0] + ": " + "; ".join(problems) + "\n--- output ---\n" + out[-4000:])
        else:
            print("ok      " + app[0])
print(f"compile {compiled - started:.1f} s, link and run {time.monotonic() - compiled:.1f} s")
sys.exit(1 if failures else 0)
