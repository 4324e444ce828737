#!/usr/bin/env python3
"""The symbols tests (docs/symbols.md): crashdrop_add_symbols(), the meson helper and
tools/crashdrop_symbols.py lay out symbols with which Breakpad names a real crash.

    check_symbols.py MODE --source-dir SRC --work-dir DIR [--build-dir BUILD] [--generator G]

MODE
  cmake-installed  crashdrop installed from BUILD (cmake --install), tests/symbols/project built
                   with find_package(crashdrop) and crashdrop_add_symbols() for its executable
                   and its shared library; the pkg-config file names the script too
  cmake-subdir     the same project with add_subdirectory(crashdrop) and SPLIT_DEBUG: the stripped
                   binaries keep their debug ids, carry a .gnu_debuglink to their .debug files,
                   and gdb finds those through the symbols folder
  meson            the project's meson.build with crashdrop as a subproject, the symbols_script
                   variable run by custom targets (the library split)
  script           tools/crashdrop_symbols.py on its own: a library's symlink, a rerun on a split
                   binary, the sentry-cli command line (a fake sentry-cli), clear errors (no
                   dump_syms, a PE file, not a binary)

In the build modes the program crashes in a worker thread inside the library; minidump_stackwalk
with the folder the build laid out (and nothing else) must name every frame of the crashing
thread from the fault down to the thread's entry (worker_entry), and each module's .sym must be
at <module>/<debug id of the dump>/<module>.sym. Exit 77 (skipped) without the readers unless
CRASHDROP_REQUIRE_READERS=1.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time
import zlib

SKIP = 77
problems = []


def fail(what):
    problems.append(what)
    print("FAILED: " + what, file=sys.stderr)


def run(cmd, check=True, env=None, timeout=600, cwd=None):
    print("+ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", env=env, timeout=timeout, cwd=cwd)
    if check and r.returncode != 0:
        sys.exit(f"FAILED: exit {r.returncode}: {' '.join(cmd)}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return r


def readers():
    folder = os.environ.get("CRASHDROP_MINIDUMP_TOOLS", "")
    tools = {name: os.path.join(folder, name) for name in ("minidump_stackwalk", "dump_syms")}
    if folder and all(os.access(p, os.X_OK) for p in tools.values()):
        return tools
    if os.environ.get("CRASHDROP_REQUIRE_READERS") == "1":
        sys.exit("FAILED: Breakpad's readers are missing (CRASHDROP_MINIDUMP_TOOLS; tools/setup.sh)")
    print("SKIPPED: Breakpad's readers are missing (CRASHDROP_MINIDUMP_TOOLS; source tools/setup.sh)")
    sys.exit(SKIP)


def dump_syms_id(tools, binary, name=False):
    first = run([tools["dump_syms"], "-i", binary]).stdout.split("\n", 1)[0].split()
    debug_id = first[3] if len(first) == 5 else ""
    return (debug_id, first[4] if len(first) == 5 else "") if name else debug_id


def sections(binary):
    out = run(["readelf", "-S", "-W", binary]).stdout
    return set(re.findall(r"\]\s+(\.\S+)", out))


# ---- the crash and what Breakpad reads from it -----------------------------------------------

def crash_and_walk(tools, app, symbols, work, split):
    """Runs app (it crashes), walks its dump with `symbols`; checks layout and frames."""
    db = os.path.join(work, "db")
    shutil.rmtree(db, ignore_errors=True)
    r = run([app, db], check=False, timeout=120)
    if r.returncode != -11:
        fail(f"{app} should die of SIGSEGV, exit {r.returncode}: {r.stdout}{r.stderr}")
    pending = os.path.join(db, "pending")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not glob.glob(os.path.join(pending, "*.meta")):
        time.sleep(0.1)
    dumps = glob.glob(os.path.join(pending, "*.dmp"))
    if len(dumps) != 1:
        fail(f"expected one dump in {pending}, found {dumps}")
        return
    walk = run([tools["minidump_stackwalk"], "-m", dumps[0], symbols])
    modules, frames, crash_thread = {}, [], None
    for line in walk.stdout.splitlines():
        f = line.split("|")
        if f[0] == "Module" and len(f) >= 5:
            modules[os.path.basename(f[3])] = f[4]
        elif f[0] == "Crash" and len(f) >= 4:
            crash_thread = f[3]
    for line in walk.stdout.splitlines():
        f = line.split("|")
        if len(f) >= 7 and f[0] == crash_thread:
            frames.append((os.path.basename(f[2]), f[3]))

    # Each of the project's modules: its .sym where the dump's debug id says, and nothing else made.
    ours = {}
    for name in sorted(os.listdir(symbols)):
        if name == ".build-id" and split:
            continue
        if name not in modules:
            fail(f"{symbols}/{name} is not a module of the dump (modules: {sorted(modules)})")
            continue
        ours[name] = modules[name]
        sym = os.path.join(symbols, name, modules[name], name + ".sym")
        if not os.path.isfile(sym):
            fail(f"no {sym}: the dump's {name} has debug id {modules[name]}; the folder holds "
                 f"{os.listdir(os.path.join(symbols, name))}")
    for want in ("symapp", "libsymlib.so.1"):  # a library by its SONAME, as dump_syms and the dump name it
        if want not in ours:
            fail(f"no symbols for {want} in {symbols}: {os.listdir(symbols)}")

    # Every frame from the fault down to the thread's entry named, in order.
    print("crashing thread: " + "; ".join(f"{m}!{fn}" for m, fn in frames))
    names = [re.sub(r"\(.*", "", fn) for _, fn in frames]
    expected = ["symlib_crash", "symapp::step_two", "symapp::step_one", "symapp::worker_entry"]
    if names[:len(expected)] != expected:
        fail(f"the crashing thread's frames should begin {expected}, they are {frames}")
    if "symapp::worker_entry" in names:
        entry = names.index("symapp::worker_entry")
        unnamed = [i for i in range(entry + 1) if not frames[i][1]]
        if unnamed:
            fail(f"frames {unnamed} above the thread's entry are unnamed: {frames}")
    # and every frame in the project's own modules (below the entry too: std::thread's, crashdrop's)
    for i, (module, fn) in enumerate(frames):
        if module in ours and not fn:
            fail(f"frame {i} in {module} is unnamed")


def check_split(tools, binary, symbols):
    """A split binary: stripped, same debug id, a debuglink to its .debug file (CRC right)."""
    debug_id, name = dump_syms_id(tools, binary, name=True)
    folder = os.path.join(symbols, name, debug_id)
    debug_file = os.path.join(folder, name + ".debug")
    if not os.path.isfile(os.path.join(folder, name + ".sym")):
        fail(f"the stripped {name}'s debug id {debug_id} has no .sym in {symbols}/{name}: "
             f"{os.listdir(os.path.join(symbols, name)) if os.path.isdir(os.path.join(symbols, name)) else 'none'}")
    if ".debug_info" in sections(binary):
        fail(f"{binary} still has .debug_info after SPLIT_DEBUG")
    if not os.path.isfile(debug_file) or ".debug_info" not in sections(debug_file):
        fail(f"no debug info in {debug_file}")
        return
    if dump_syms_id(tools, debug_file) != debug_id:
        fail(f"{debug_file} has another debug id than {binary}")
    link = run(["readelf", "--string-dump=.gnu_debuglink", binary]).stdout
    if name + ".debug" not in link:
        fail(f"{binary} has no .gnu_debuglink naming {name}.debug: {link}")
    raw = run(["objcopy", "--dump-section", f".gnu_debuglink={binary}.link", binary, binary + ".copy"], check=False)
    if os.path.exists(binary + ".copy"):
        os.unlink(binary + ".copy")
    if raw.returncode != 0 or not os.path.exists(binary + ".link") or os.path.getsize(binary + ".link") < 8:
        fail(f"no .gnu_debuglink section to read in {binary}: {raw.stderr}")
    else:
        data = open(binary + ".link", "rb").read()
        stored = int.from_bytes(data[-4:], "little")
        with open(debug_file, "rb") as f:
            actual = zlib.crc32(f.read()) & 0xFFFFFFFF
        if stored != actual:
            fail(f"{binary}'s debuglink CRC {stored:08x} is not its .debug file's {actual:08x}")
        os.unlink(binary + ".link")
    build_id = glob.glob(os.path.join(symbols, ".build-id", "*", "*.debug"))
    if not any(os.path.realpath(p) == os.path.realpath(debug_file) for p in build_id):
        fail(f"no .build-id link to {debug_file}: {build_id}")


def check_gdb(binary, symbols, function):
    """gdb finds the split debug info through `set debug-file-directory <symbols>`."""
    if not shutil.which("gdb"):
        print("warning: gdb not installed; the debug-file-directory check is skipped")
        return
    r = run(["gdb", "-nx", "-batch", "-iex", f"set debug-file-directory {symbols}",
             "-ex", f"info line {function}", binary], check=False)
    if not re.search(r'Line \d+ of "[^"]*app\.cpp"', r.stdout):
        fail(f"gdb found no line for {function} in {binary} through {symbols}: {r.stdout}{r.stderr}")


# ---- modes ----------------------------------------------------------------------------------

def fake_sentry_cli(folder):
    """A sentry-cli that writes the token it saw and its arguments, a line each, to <itself>.args."""
    fake = os.path.join(folder, "sentry-cli")
    os.makedirs(folder, exist_ok=True)
    with open(fake, "w") as f:
        f.write("#!/bin/sh\nprintf '%s\\n' \"$SENTRY_AUTH_TOKEN\" \"$@\" > \"$0.args\"\n")
    os.chmod(fake, 0o755)
    return fake


def fake_args(fake):
    return open(fake + ".args").read().split("\n")[:-1] if os.path.exists(fake + ".args") else []


def cmake_project(args, tools, extra, label, env=None):
    work = os.path.join(args.work_dir, label)
    shutil.rmtree(work, ignore_errors=True)
    build = os.path.join(work, "build")
    run(["cmake", "-S", os.path.join(args.source_dir, "tests", "symbols", "project"), "-B", build,
         "-G", args.generator, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"] + extra)
    run(["cmake", "--build", build], env=env)
    return work, build


def mode_cmake_installed(args, tools):
    prefix = os.path.join(args.work_dir, "installed-prefix")
    shutil.rmtree(prefix, ignore_errors=True)
    run(["cmake", "--install", args.build_dir, "--prefix", prefix])
    # the library's step has SENTRY_UPLOAD: with a token in the build's environment it runs sentry-cli
    fake = fake_sentry_cli(os.path.join(args.work_dir, "installed-sentry"))
    if os.path.exists(fake + ".args"):
        os.unlink(fake + ".args")
    env = dict(os.environ, SENTRY_AUTH_TOKEN="token-2", SENTRY_CLI=fake)
    work, build = cmake_project(args, tools, [f"-DCMAKE_PREFIX_PATH={prefix}"], "installed", env=env)
    symbols = os.path.join(build, "symbols")
    want = ["token-2", "debug-files", "upload", "--org", "acme", "--project", "game",
            os.path.join(build, "libsymlib.so.1.0.0")]
    if fake_args(fake) != want:
        fail(f"crashdrop_add_symbols(symlib SENTRY_UPLOAD ...) ran sentry-cli with {fake_args(fake)}, expected {want}")
    crash_and_walk(tools, os.path.join(build, "symapp"), symbols, work, split=False)
    # meson's route to an installed crashdrop: the pkg-config file names the installed script
    pc_dirs = glob.glob(os.path.join(prefix, "*", "pkgconfig")) + glob.glob(os.path.join(prefix, "*", "*", "pkgconfig"))
    env = dict(os.environ, PKG_CONFIG_PATH=":".join(pc_dirs))
    script = run(["pkg-config", "--variable=symbols_script", "crashdrop"], env=env).stdout.strip()
    if not (os.path.isfile(script) and os.access(script, os.X_OK)):
        fail(f"pkg-config's symbols_script {script!r} is not the installed, executable script")


def mode_cmake_subdir(args, tools):
    work, build = cmake_project(args, tools, [f"-DSYMAPP_CRASHDROP_SOURCE={args.source_dir}", "-DSYMAPP_SPLIT=ON"],
                                "subdir")
    symbols = os.path.join(build, "symbols")
    app, lib = os.path.join(build, "symapp"), os.path.join(build, "libsymlib.so.1.0.0")
    for binary in (app, lib):
        check_split(tools, binary, symbols)
    check_gdb(app, symbols, "symapp::step_one")
    crash_and_walk(tools, app, symbols, work, split=True)


def mode_meson(args, tools):
    work = os.path.join(args.work_dir, "meson")
    shutil.rmtree(work, ignore_errors=True)
    project = os.path.join(work, "project")
    shutil.copytree(os.path.join(args.source_dir, "tests", "symbols", "project"), project)
    os.makedirs(os.path.join(project, "subprojects"))
    os.symlink(args.source_dir, os.path.join(project, "subprojects", "crashdrop"))
    build = os.path.join(work, "build")
    run(["meson", "setup", build, project, "--buildtype=plain"])
    run(["meson", "compile", "-C", build])
    symbols = os.path.join(build, "symbols")
    check_split(tools, os.path.join(build, "libsymlib.so.1.0.0"), symbols)
    if ".debug_info" not in sections(os.path.join(build, "symapp")):
        fail("meson: the executable (not split) lost its debug info")
    crash_and_walk(tools, os.path.join(build, "symapp"), symbols, work, split=True)


def mode_script(args, tools):
    work = os.path.join(args.work_dir, "script")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    script = os.path.join(args.source_dir, "tools", "crashdrop_symbols.py")
    src = os.path.join(work, "lib.c")
    with open(src, "w") as f:
        f.write("int lib_function(int x) { return x * 3; }\n")
    real = os.path.join(work, "libtiny.so.2.0")
    run(["cc", "-g", "-O1", "-shared", "-fPIC", "-Wl,-soname,libtiny.so.2", src, "-o", real])
    os.symlink("libtiny.so.2.0", os.path.join(work, "libtiny.so"))
    symbols = os.path.join(work, "symbols")
    base = [sys.executable, script, "--out", symbols, "--dump-syms", tools["dump_syms"]]

    # given the symlink, the library itself is read; its symbols go by its SONAME, the name
    # crashdrop's dumps (and Breakpad's) give it
    run(base + [os.path.join(work, "libtiny.so")])
    debug_id = dump_syms_id(tools, real)
    sym = os.path.join(symbols, "libtiny.so.2", debug_id, "libtiny.so.2.sym")
    if not os.path.isfile(sym) or "FUNC" not in open(sym).read() or os.listdir(symbols) != ["libtiny.so.2"]:
        fail(f"no {sym} (the library's SONAME), or more: {os.listdir(symbols)}")
    first = open(sym).readline().split() if os.path.isfile(sym) else []
    if first[:2] != ["MODULE", "Linux"] or first[3:] != [debug_id, "libtiny.so.2"]:
        fail(f"{sym} starts {first}")
    funcs = open(sym).read().count("\nFUNC ") if os.path.isfile(sym) else 0

    # split, then again: the second run reads the .debug file back, the .sym stays whole
    run(base + ["--split-debug", real])
    check_split(tools, real, symbols)
    again = run(base + ["--split-debug", real]).stdout
    if "split already" not in again:
        fail(f"a rerun on a split binary should say so: {again}")
    if not os.path.isfile(sym) or open(sym).read().count("\nFUNC ") != funcs or funcs == 0:
        fail(f"a rerun on the split binary spoilt {sym}")
    check_split(tools, real, symbols)

    # a stripped copy of the same build (no DWARF, no debuglink) leaves its symbols alone
    copy = os.path.join(work, "copy", "libtiny.so.2.0")
    os.makedirs(os.path.dirname(copy))
    run(["strip", "--strip-debug", "-o", copy, real])
    run(["objcopy", "--remove-section=.gnu_debuglink", copy])
    debug_file = os.path.join(symbols, "libtiny.so.2", debug_id, "libtiny.so.2.debug")
    before = (open(sym).read(), open(debug_file, "rb").read()) if os.path.isfile(debug_file) else None
    run(base + ["--split-debug", copy])
    if before != (open(sym).read(), open(debug_file, "rb").read()):
        fail("the script on a stripped copy of the build changed its .sym or .debug file")

    # sentry-cli: skipped unless configured; then run with the org, project and files
    fake = fake_sentry_cli(work)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    out = run(base + ["--sentry-upload", "--sentry-cli", fake, real], env=env).stdout
    if "sentry upload skipped" not in out or "SENTRY_AUTH_TOKEN" not in out or os.path.exists(fake + ".args"):
        fail(f"without SENTRY_AUTH_TOKEN nothing is uploaded, saying why: {out}")
    env.update(SENTRY_AUTH_TOKEN="token-1", SENTRY_ORG="acme", SENTRY_PROJECT="game")
    run(base + ["--sentry-upload", "--sentry-cli", fake, real], env=env)
    got = fake_args(fake)
    debug_file = os.path.join(symbols, "libtiny.so.2", debug_id, "libtiny.so.2.debug")
    want = ["token-1", "debug-files", "upload", "--org", "acme", "--project", "game", real, debug_file]
    if got != want:
        fail(f"sentry-cli ran with {got}, expected {want}")
    printed = run(base + ["--sentry-upload", "--print-upload", "--sentry-org", "other", real], env=env).stdout
    if f"sentry-cli debug-files upload --org other --project game {real} {debug_file}" not in printed.replace(fake, "sentry-cli"):
        fail(f"--print-upload printed {printed}")

    # clear errors: no dump_syms, a PE file, not a binary, no such file
    pe = os.path.join(work, "game.exe")
    with open(pe, "wb") as f:
        f.write(b"MZ" + b"\0" * 200)
    text = os.path.join(work, "notes.txt")
    with open(text, "w") as f:
        f.write("hello\n")
    cases = [
        (["--dump-syms", os.path.join(work, "missing", "dump_syms"), real], "dump_syms not found"),
        ([pe], "Windows PE"),
        ([text], "is not an ELF binary"),
        ([os.path.join(work, "nothing")], "no such file"),
    ]
    for extra, message in cases:
        cmd = [sys.executable, script, "--out", os.path.join(work, "symbols-errors")] + (
            [] if extra[0] == "--dump-syms" else ["--dump-syms", tools["dump_syms"]]) + extra
        r = run(cmd, check=False)
        if r.returncode != 1 or message not in r.stderr or "Traceback" in r.stderr:
            fail(f"{extra}: expected exit 1 saying {message!r}, got {r.returncode}: {r.stdout}{r.stderr}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["cmake-installed", "cmake-subdir", "meson", "script"])
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--build-dir", help="crashdrop's build (cmake-installed)")
    parser.add_argument("--generator", default="Ninja")
    args = parser.parse_args()
    args.source_dir = os.path.abspath(args.source_dir)
    args.work_dir = os.path.abspath(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    tools = readers()
    {"cmake-installed": mode_cmake_installed, "cmake-subdir": mode_cmake_subdir, "meson": mode_meson,
     "script": mode_script}[args.mode](args, tools)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
