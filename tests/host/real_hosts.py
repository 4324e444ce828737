#!/usr/bin/env python3
"""crashdrop inside real hosts nobody here wrote: a CPython extension module run by
`python3 -X faulthandler`, and a Node-API addon run by `node`. Each is built the way a user builds
one (plain g++ -shared -fPIC against single_include/crashdrop.hpp and the host's own headers,
started as docs/plugins.md says: fork helper, hidden visibility), and each case runs once with
Options::only_this_module on ("only") and once off ("all"). The host runs in a child process; the
crash database (pending/ + completed/) and the dumps (read with Breakpad's minidump_stackwalk)
are inspected from outside, after the fork helper has said "helper exits".

    real_hosts.py --workdir DIR build          build both modules (and their Breakpad symbols)
    real_hosts.py --workdir DIR run CASE       one case (after build), e.g. node.host_crash.only
    real_hosts.py --workdir DIR all            build, then every case

Cases (CASE.only and CASE.all each):
  python.extension_crash   a SIGSEGV in the extension: one dump naming the extension's frames,
                           faulthandler's "Fatal Python error: Segmentation fault" traceback,
                           death by SIGSEGV
  python.host_crash        ctypes.string_at(0), a fault in Python's own code (libc's strlen called
                           by _ctypes): faulthandler's traceback, death by SIGSEGV; a dump only
                           without only_this_module
  node.wasm_then_addon_crash
                           1000 out-of-bounds WebAssembly loads (V8 turns each SIGSEGV into a
                           RuntimeError): no report, every trap caught, check_handlers() ok; then
                           a SIGSEGV in the addon: one dump naming the addon's frames, Node's own
                           SIGSEGV handler still runs (see below), death by SIGSEGV
  node.host_crash          `node --stack-size=65500` overflowing its 8 MiB stack in V8's own code:
                           death by SIGSEGV; no dump and Node's handler runs with only_this_module,
                           a dump without it. (Why this fault: it is a real SIGSEGV in node's own
                           binary, every time; process.abort() is SIGABRT, and the crashes of
                           misused internal bindings such as an uninitialised HTTPParser are not
                           deterministic - one run in ten ends in std::bad_alloc, SIGABRT.)
(Python has no WebAssembly, and CPython recovers from no fault of its own, so only Node runs the
recovered-fault loop.)

What Node prints on SIGSEGV: nothing. Its handler (node::TrapWebAssemblyOrContinue, installed at
start-up because V8's WebAssembly trap handler is on) gives V8 the fault; when it is not a
WebAssembly trap it puts SIG_DFL back, resets the terminal (ResetStdio: the tty mode a script set
with setRawMode) and raises the signal again. --report-on-fatalerror covers V8's fatal errors,
not signals. So the proof that Node's handler ran is the terminal: the script puts its stdin, a
pseudo-terminal, in raw mode; after the death the terminal must be back in canonical mode with
echo on, which only that handler does (a process killed outright leaves the tty raw).

A case in KNOWN_FAILURES (a known crashdrop bug) passes only while it fails, and fails once it
passes, so that the entry goes with the fix.

Exit status: 0 passed, 1 failed, 77 skipped (a host or its headers missing: fails instead when
CI or CRASHDROP_REQUIRE_HOSTS=1 is set). Standard library only.
"""
import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HEADER_DIR = os.path.join(ROOT, "single_include")
SKIP = 77
TRAPS = 1000
PY_FAULT = "0x51"    # tests/host/python_extension.cpp
NODE_FAULT = "0x52"  # tests/host/node_addon.cpp

CASES = ["python.extension_crash.only", "python.extension_crash.all",
         "python.host_crash.only", "python.host_crash.all",
         "node.wasm_then_addon_crash.only", "node.wasm_then_addon_crash.all",
         "node.host_crash.only", "node.host_crash.all"]

# Cases that fail on this commit because of a known bug in crashdrop, kept running and visible:
# such a case passes only while it still fails (printing why), and fails once it passes, so that
# the entry is removed with the fix.
KNOWN_FAILURES = {
    "python.host_crash.only":
        "issue 13 part 6: the extension's call before the crash (check_handlers) left a return address "
        "into the extension on the stack below Python's frames; only_this_module's stack scan takes "
        "that stale word for a live frame and claims Python's own crash",
}

FLAGS = ["-std=c++17", "-O2", "-g", "-shared", "-fPIC", "-fvisibility=hidden", "-fvisibility-inlines-hidden",
         "-Wl,-Bsymbolic", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror"]

PYTHON_SCRIPT = r'''
import ctypes, sys
sys.path.insert(0, sys.argv[1])
import crashdrop_pyext
database, mode, what = sys.argv[2:5]
print("start:", crashdrop_pyext.start(database, mode == "only"), flush=True)
print("check:", crashdrop_pyext.check_handlers(), flush=True)
if what == "extension":
    crashdrop_pyext.crash()
else:
    ctypes.string_at(0)  # strlen(NULL) in libc, called by CPython's _ctypes: Python's own crash
print("survived", flush=True)
'''

NODE_SCRIPT = r'''
'use strict';
const [addonPath, database, mode, what] = process.argv.slice(2);
const addon = require(addonPath);
console.log('start: ' + addon.start(database, mode === 'only'));
console.log('previous SIGSEGV handler: ' + addon.previousHandler());
process.stdin.setRawMode(true);  // as a REPL or a terminal UI does; Node's crash handler undoes it
console.log('raw: ' + process.stdin.isRaw);
if (what === 'wasm-then-addon') {
  // (module (memory 1) (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))
  const bytes = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01,
    0x07, 0x08, 0x01, 0x04, 0x6c, 0x6f, 0x61, 0x64, 0x00, 0x00,
    0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x28, 0x02, 0x00, 0x0b]);
  const load = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.load;
  let caught = 0;
  for (let i = 0; i < @TRAPS@; ++i) {
    try {
      load(0x7ffffff0 - i);  // far beyond the one 64 KiB page: V8's guard region, a SIGSEGV
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) ++caught;
      else console.log('not a RuntimeError: ' + e);
    }
  }
  console.log('traps caught as RuntimeError: ' + caught);
  console.log('check: ' + addon.checkHandlers());
  addon.crash();
} else {
  const deeper = (n) => deeper(n + 1) + 1;  // V8 believes --stack-size: it overflows the real stack
  deeper(0);
}
console.log('survived');
'''.replace("@TRAPS@", str(TRAPS))


class Skip(Exception):
    pass


def required():
    return bool(os.environ.get("CI")) or os.environ.get("CRASHDROP_REQUIRE_HOSTS") == "1"


def unavailable(why):
    """A host or its headers are missing: a loud skip, or a failure where they are required."""
    if required():
        print(f"FAILED: {why} (required: CI or CRASHDROP_REQUIRE_HOSTS=1)", file=sys.stderr)
        sys.exit(1)
    print("#" * 80 + f"\n## SKIPPED: {why}\n" + "#" * 80, file=sys.stderr)
    raise Skip(why)


# ---- the hosts and their headers -------------------------------------------------------------

def python_host(exe):
    """(interpreter, include dir, extension file name) of the Python that runs the extension."""
    if not exe or not os.access(exe, os.X_OK):
        unavailable(f"the Python host {exe!r} is not there (Debian: apt-get install python3)")
    r = subprocess.run([exe, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['include']); "
                        "print(sysconfig.get_config_var('EXT_SUFFIX'))"], capture_output=True, text=True)
    lines = r.stdout.split()
    if r.returncode != 0 or len(lines) != 2:
        unavailable(f"{exe} does not answer sysconfig: {r.stderr.strip()}")
    include, suffix = lines
    if not os.path.exists(os.path.join(include, "Python.h")):
        unavailable(f"{include}/Python.h is missing (apt-get install python3-dev)")
    return exe, include, "crashdrop_pyext" + suffix


def node_host(exe):
    """(node, include dir) for the addon: Node's own headers, or npm's node-api-headers that
    tools/setup.sh fetches when they are missing (CRASHDROP_NODE_API_INCLUDE)."""
    if not exe or not os.access(exe, os.X_OK):
        unavailable(f"the Node host {exe!r} is not there (Debian: apt-get install nodejs)")
    candidates = [os.environ.get("CRASHDROP_NODE_API_INCLUDE", ""),
                  os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(exe))), "include", "node"),
                  "/usr/include/node"]
    for include in candidates:
        if include and os.path.exists(os.path.join(include, "node_api.h")):
            return exe, include
    unavailable("node_api.h is missing (tools/setup.sh fetches npm's node-api-headers and sets "
                "CRASHDROP_NODE_API_INCLUDE)")


def hosts(args):
    """Which hosts to use: what the build recorded (so build and run agree)."""
    return {"python": args.python or "/usr/bin/python3", "node": args.node or shutil.which("node") or ""}


# ---- build -----------------------------------------------------------------------------------

def compile_if_stale(cxx, header_dir, source, output, includes):
    inputs = [source, os.path.join(header_dir, "crashdrop.hpp"), os.path.abspath(__file__)]
    if os.path.exists(output) and os.path.getmtime(output) >= max(os.path.getmtime(p) for p in inputs):
        return None
    flags = list(FLAGS)
    if "clang" not in os.path.basename(cxx):
        flags.append("-fno-gnu-unique")  # what docs/plugins.md asks of g++-built plugins
    command = [cxx, *flags, *[f"-isystem{i}" for i in includes], f"-I{header_dir}", source,
               "-o", output + ".tmp", "-pthread", "-ldl"]
    print("build:", " ".join(command), flush=True)
    return subprocess.Popen(command), output


def module_paths(workdir):
    return os.path.join(workdir, "modules"), os.path.join(workdir, "symbols")


def store_symbols(symbols, module):
    """dump_syms output stored where minidump_stackwalk looks: <name>/<id>/<name>.sym."""
    tools = os.environ.get("CRASHDROP_MINIDUMP_TOOLS", "")
    dump_syms = os.path.join(tools, "dump_syms")
    if not tools or not os.access(dump_syms, os.X_OK):
        return
    r = subprocess.run([dump_syms, module], capture_output=True)
    first = r.stdout.split(b"\n", 1)[0].decode(errors="replace").split(" ")
    if r.returncode != 0 or len(first) < 5 or first[0] != "MODULE":
        raise SystemExit(f"dump_syms {module} failed: {r.stderr.decode(errors='replace')}")
    folder = os.path.join(symbols, first[4], first[3])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, first[4] + ".sym"), "wb") as f:
        f.write(r.stdout)


def build(args):
    modules, symbols = module_paths(args.workdir)
    os.makedirs(modules, exist_ok=True)
    h = hosts(args)
    jobs, skipped = [], []
    try:
        _, include, name = python_host(h["python"])
        jobs.append(compile_if_stale(args.cxx, args.header_dir, os.path.join(HERE, "python_extension.cpp"),
                                     os.path.join(modules, name), [include]))
    except Skip as s:
        skipped.append(str(s))
    try:
        _, include = node_host(h["node"])
        jobs.append(compile_if_stale(args.cxx, args.header_dir, os.path.join(HERE, "node_addon.cpp"),
                                     os.path.join(modules, "crashdrop_addon.node"), [include]))
    except Skip as s:
        skipped.append(str(s))
    failed = False
    for job in jobs:
        if job is None:
            continue
        proc, output = job
        if proc.wait() != 0:
            failed = True
            continue
        os.replace(output + ".tmp", output)
        store_symbols(symbols, output)
    if failed:
        print("FAILED: a module did not build", file=sys.stderr)
        return 1
    return SKIP if len(skipped) == 2 else 0


# ---- reading the results -----------------------------------------------------------------------

class Checks:
    def __init__(self, name):
        self.name, self.failures, self.context = name, [], []

    def check(self, ok, what):
        print(("  ok    " if ok else "  FAIL  ") + what, flush=True)
        if not ok:
            self.failures.append(what)
        return ok


def wait_for_helper(database, seconds=30):
    """The fork helper outlives the host; it logs "helper exits" once it has stored everything."""
    log = os.path.join(database, "helper.log")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(log, errors="replace") as f:
                if "helper exits" in f.read():
                    return True
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    return False


def dumps_in(database):
    found = []
    for folder in ("pending", "completed"):
        d = os.path.join(database, folder)
        if os.path.isdir(d):
            found += sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".dmp"))
    return found


def stackwalk(dump, symbols):
    """minidump_stackwalk -m: (crash reason, address, crashing thread's [(module, function)])."""
    tools = os.environ.get("CRASHDROP_MINIDUMP_TOOLS", "")
    exe = os.path.join(tools, "minidump_stackwalk")
    if not tools or not os.access(exe, os.X_OK):
        if os.environ.get("CRASHDROP_REQUIRE_READERS") == "1":
            raise SystemExit("FAILED: minidump_stackwalk missing and CRASHDROP_REQUIRE_READERS=1")
        print("WARNING: Breakpad's readers missing (CRASHDROP_MINIDUMP_TOOLS): frames not checked",
              file=sys.stderr)
        return None
    r = subprocess.run([exe, "-m", dump, symbols], capture_output=True, text=True, errors="replace")
    reason, address, thread, frames = "", "", -1, []
    for line in r.stdout.splitlines():
        f = line.split("|")
        if f[0] == "Crash" and len(f) >= 4:
            reason, address, thread = f[1], f[2], int(f[3]) if f[3] else -1
        elif len(f) >= 7 and f[0].isdigit() and int(f[0]) == thread:
            frames.append((f[2], f[3].split("(")[0]))
    return reason, address, frames


def run_host(command, rundir, stdin_tty, stack_limit=None):
    """Runs a host, its stdin a pseudo-terminal: (returncode, stdout, stderr, tty back in
    canonical mode with echo after the host ended)."""
    master, slave = os.openpty()
    try:
        def limits():
            if stack_limit is not None:
                resource.setrlimit(resource.RLIMIT_STACK, (stack_limit, stack_limit))
        r = subprocess.run(command, cwd=rundir, stdin=slave if stdin_tty else subprocess.DEVNULL,
                           capture_output=True, text=True, errors="replace", timeout=120, preexec_fn=limits)
        lflag = termios.tcgetattr(slave)[3]
        cooked = bool(lflag & termios.ICANON) and bool(lflag & termios.ECHO)
    finally:
        os.close(master)
        os.close(slave)
    return r.returncode, r.stdout, r.stderr, cooked


def check_common(c, rc, out, database):
    c.check("start: ok" in out, "crashdrop::start() in the module said ok")
    c.check(rc == -signal.SIGSEGV, f"the host died by SIGSEGV (exit status {rc})")
    c.check("survived" not in out, "the host did not go on after the crash")
    c.check(wait_for_helper(database), "the fork helper stored what it had and exited")


def check_one_dump(c, database, symbols, want_address, want_frames, top_module):
    dumps = dumps_in(database)
    if not c.check(len(dumps) == 1, f"exactly one dump in pending/ + completed/ (found {len(dumps)})"):
        return
    sw = stackwalk(dumps[0], symbols)
    if sw is None:
        return
    reason, address, frames = sw
    print("  crashing thread: " + " | ".join(f"{m}!{f}" for m, f in frames[:8]))
    c.check(reason.startswith("SIGSEGV"), f"the dump's crash reason is SIGSEGV ({reason})")
    if want_address is not None:
        c.check(address and int(address, 16) == int(want_address, 16),
                f"the dump's crash address is {want_address} ({address})")
    if want_frames:
        c.check([f for _, f in frames[:len(want_frames)]] == want_frames,
                "minidump_stackwalk names the module's frames on top: " + " <- ".join(want_frames))
    if top_module:
        c.check(bool(frames) and top_module(frames[0][0]), f"the top frame is in the expected module ({frames[:1]})")


# ---- the cases -------------------------------------------------------------------------------------

def run_case(args, case):
    host, what, mode = case.split(".")
    c = Checks(case)
    modules, symbols = module_paths(args.workdir)
    rundir = os.path.join(args.workdir, "runs", case)
    shutil.rmtree(rundir, ignore_errors=True)
    os.makedirs(rundir)
    database = os.path.join(rundir, "db")
    h = hosts(args)
    print(f"== {case} ({'only_this_module' if mode == 'only' else 'only_this_module off'}) in {rundir}")

    if host == "python":
        exe, _, name = python_host(h["python"])
        if not os.path.exists(os.path.join(modules, name)):
            raise SystemExit(f"FAILED: {modules}/{name} is not built (run: real_hosts.py build)")
        script = os.path.join(rundir, "host.py")
        with open(script, "w") as f:
            f.write(PYTHON_SCRIPT)
        command = [exe, "-I", "-X", "faulthandler", script, modules, database, mode,
                   "extension" if what == "extension_crash" else "python"]
        rc, out, err, _ = run_host(command, rundir, stdin_tty=False)
        print("  stdout:\n" + out + "  stderr:\n" + err)
        check_common(c, rc, out, database)
        c.check("check: ok" in out, "check_handlers() ok after start()")
        # faulthandler's own report, with the Python frame that crashed
        c.check("Fatal Python error: Segmentation fault" in err, "faulthandler printed 'Fatal Python error: Segmentation fault'")
        line = PYTHON_SCRIPT.split("\n").index("    crashdrop_pyext.crash()") + 1
        frame = f'File "{script}", line {line} in <module>' if what == "extension_crash" else "in string_at"
        c.check(frame in err, f"faulthandler's traceback shows the Python frame ({frame})")
        if what == "extension_crash":
            check_one_dump(c, database, symbols, PY_FAULT, ["crashdrop_pyext_crash_leaf", "crashdrop_pyext_crash"],
                           lambda m: m == name)
        elif mode == "only":
            c.check(dumps_in(database) == [], "no dump: Python's own crash is not the extension's")
        else:
            check_one_dump(c, database, symbols, "0x0", None, lambda m: m.startswith("libc.so"))
    else:
        exe, _ = node_host(h["node"])
        addon = os.path.join(modules, "crashdrop_addon.node")
        if not os.path.exists(addon):
            raise SystemExit(f"FAILED: {addon} is not built (run: real_hosts.py build)")
        script = os.path.join(rundir, "host.js")
        with open(script, "w") as f:
            f.write(NODE_SCRIPT)
        if what == "wasm_then_addon_crash":
            command = [exe, script, addon, database, mode, "wasm-then-addon"]
            rc, out, err, cooked = run_host(command, rundir, stdin_tty=True)
        else:
            # The real stack is 8 MiB (set here, whatever the caller's ulimit); V8 is told 64 MiB.
            command = [exe, "--stack-size=65500", script, addon, database, mode, "host"]
            rc, out, err, cooked = run_host(command, rundir, stdin_tty=True, stack_limit=8 << 20)
        print("  stdout:\n" + out + "  stderr:\n" + err)
        check_common(c, rc, out, database)
        c.check("raw: true" in out, "the script put its terminal in raw mode")
        if what == "wasm_then_addon_crash":
            # Without V8's trap handler the loads would be bounds-checked in code, with no signal.
            c.check("TrapWebAssemblyOrContinue" in out,
                    "Node's SIGSEGV handler (V8's WebAssembly traps) was installed before crashdrop")
            c.check(f"traps caught as RuntimeError: {TRAPS}" in out, f"all {TRAPS} traps became RuntimeErrors")
            c.check("check: ok" in out, "check_handlers() ok after the traps: crashdrop is still installed")
            c.check(cooked, "Node's own SIGSEGV handler ran after crashdrop's (it reset the terminal)")
            check_one_dump(c, database, symbols, NODE_FAULT, ["crashdrop_addon_crash_leaf", "crashdrop_addon_crash"],
                           lambda m: m == "crashdrop_addon.node")
        elif mode == "only":
            c.check(dumps_in(database) == [], "no dump: Node's own crash is not the addon's")
            c.check(cooked, "Node's own SIGSEGV handler ran after crashdrop's (it reset the terminal)")
        else:
            # Node installs its handler without SA_ONSTACK: after crashdrop has written the dump and
            # re-raised, the kernel cannot run it on the overflowed stack (nor can it without
            # crashdrop), so the terminal is not asserted here.
            print(f"  note: terminal reset by Node's handler: {cooked} (not asserted: see the comment)")
            check_one_dump(c, database, symbols, None, None, lambda m: m == "node" or m.startswith("libnode"))
    known = KNOWN_FAILURES.get(case)
    if c.failures and known:
        print(f"EXPECTED FAILURE {case} (known bug, see KNOWN_FAILURES): {known}\n  failed: " + "; ".join(c.failures))
        return 0
    if c.failures:
        print(f"FAILED {case}: " + "; ".join(c.failures), file=sys.stderr)
        return 1
    if known:
        print(f"UNEXPECTED PASS {case}: the known bug is fixed; remove it from KNOWN_FAILURES", file=sys.stderr)
        return 1
    print(f"passed {case}")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--cxx", default=os.environ.get("CXX", "g++"))
    p.add_argument("--python", help="the Python host (default /usr/bin/python3)")
    p.add_argument("--node", help="the Node host (default: node on PATH)")
    p.add_argument("--header-dir", default=HEADER_DIR, help="where crashdrop.hpp is (default: single_include/)")
    p.add_argument("action", choices=["build", "run", "all"])
    p.add_argument("case", nargs="?", choices=CASES)
    args = p.parse_args()
    args.workdir = os.path.abspath(args.workdir)
    try:
        if args.action == "build":
            return build(args)
        if args.action == "run":
            if not args.case:
                p.error("run needs a case")
            return run_case(args, args.case)
        status = build(args)
        if status == 1:
            return 1
        results = []
        for case in CASES:
            try:
                results.append(run_case(args, case))
            except Skip:
                results.append(SKIP)
        return 1 if 1 in results else (SKIP if all(r == SKIP for r in results) else 0)
    except Skip:
        return SKIP


if __name__ == "__main__":
    sys.exit(main())
