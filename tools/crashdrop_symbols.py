#!/usr/bin/env python3
"""Lays out Breakpad symbols for binaries: symbols/<module name>/<debug id>/<module name>.sym.

    tools/crashdrop_symbols.py BINARY... [--out symbols] [--split-debug] [--sentry-upload]

For each binary (an ELF executable or shared library), Breakpad's dump_syms writes the .sym file,
whose first line "MODULE Linux x86_64 <debug id> <module name>" says where it goes: the folder
minidump_stackwalk (and Socorro's and Crashpad's symbol servers) look in. The debug id comes from
the GNU build id, so a dump of the same binary - stripped or not - finds these symbols.

--split-debug then moves the debug info out of the binary: the DWARF goes to
<out>/<module name>/<debug id>/<module name>.debug (next to the .sym; with a build id also
reachable as <out>/.build-id/xx/rest.debug, the layout gdb, lldb and debuginfod look in), the
binary is stripped of it and gets a .gnu_debuglink naming that file. Running again on a binary
that was split already reads its .debug file back instead of splitting twice.

--sentry-upload also runs `sentry-cli debug-files upload` for each binary (and its .debug file)
when SENTRY_AUTH_TOKEN is set and an organisation and project are given (--sentry-org and
--sentry-project, or SENTRY_ORG and SENTRY_PROJECT); without them it says so and uploads nothing.

dump_syms is found as --dump-syms, else $CRASHDROP_DUMP_SYMS, else in $CRASHDROP_MINIDUMP_TOOLS,
else on PATH, else where tools/setup.sh unpacks it (~/.cache/crashdrop/minidump-0.26.0/...).
Used by crashdrop_add_symbols() (cmake/crashdropSymbols.cmake) and the meson helper (see
docs/symbols.md). Python standard library only.
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

MINIDUMP_PACKAGE_VERSION = "0.26.0"  # the npm package tools/setup.sh fetches


class Failure(Exception):
    pass


def log(quiet, message):
    if not quiet:
        print(f"crashdrop_symbols: {message}")


# ---- finding the tools ----------------------------------------------------------------------

def default_cache_dump_syms():
    cache = os.environ.get("CRASHDROP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "crashdrop")
    return os.path.join(cache, f"minidump-{MINIDUMP_PACKAGE_VERSION}", "package", "bin", "linux-x64", "dump_syms")


def find_dump_syms(given):
    tried = []
    candidates = []
    if given:
        candidates.append(("--dump-syms", given))
    elif os.environ.get("CRASHDROP_DUMP_SYMS"):
        candidates.append(("CRASHDROP_DUMP_SYMS", os.environ["CRASHDROP_DUMP_SYMS"]))
    else:
        if os.environ.get("CRASHDROP_MINIDUMP_TOOLS"):
            candidates.append(("CRASHDROP_MINIDUMP_TOOLS",
                               os.path.join(os.environ["CRASHDROP_MINIDUMP_TOOLS"], "dump_syms")))
        on_path = shutil.which("dump_syms")
        if on_path:
            candidates.append(("PATH", on_path))
        candidates.append(("tools/setup.sh's cache", default_cache_dump_syms()))
    for where, path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        tried.append(f"{path} ({where})")
    raise Failure("Breakpad's dump_syms not found; tried: " + ", ".join(tried) + ". Run tools/setup.sh "
                  f"(it unpacks the npm package minidump@{MINIDUMP_PACKAGE_VERSION}), or give its path "
                  "with --dump-syms (CMake: DUMP_SYMS or -DCRASHDROP_DUMP_SYMS=...), or set "
                  "CRASHDROP_MINIDUMP_TOOLS to the folder that holds it")


def find_tool(given, env, name):
    path = given or os.environ.get(env) or shutil.which(name)
    if not path or not (os.path.isfile(path) and os.access(path, os.X_OK)):
        path = shutil.which(path) if path else None
    if not path:
        raise Failure(f"{name} not found (needed by --split-debug; binutils), or give its path with --{name}")
    return path


# ---- what kind of file: ELF sections, or a PE (mingw) --------------------------------------

def elf_sections(path):
    """Section names of an ELF file; raises Failure for anything else, saying what it is."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:2] == b"MZ":
            raise Failure(f"{path} is a Windows PE file: Breakpad's Linux dump_syms reads ELF only, and "
                          "mingw's DWARF has no PDB for Windows' dump_syms either (docs/symbols.md#windows-mingw)")
        if head[:4] != b"\x7fELF":
            raise Failure(f"{path} is not an ELF binary")
        is64 = head[4] == 2
        end = "<" if head[5] == 1 else ">"
        if is64:
            shoff, = struct.unpack_from(end + "Q", head, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", head, 0x3A)
        else:
            shoff, = struct.unpack_from(end + "I", head, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", head, 0x2E)
        if shoff == 0 or shnum == 0 or shstrndx >= shnum:
            return set()
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        headers = []
        for i in range(shnum):
            entry = table[i * shentsize:(i + 1) * shentsize]
            if is64:
                name, _, _, _, offset, size = struct.unpack_from(end + "IIQQQQ", entry)
            else:
                name, _, _, _, offset, size = struct.unpack_from(end + "IIIIII", entry)
            headers.append((name, offset, size))
        _, stroff, strsize = headers[shstrndx]
        f.seek(stroff)
        strings = f.read(strsize)
        names = set()
        for name, _, _ in headers:
            stop = strings.find(b"\0", name)
            names.add(strings[name:stop if stop >= 0 else None].decode("latin-1"))
        return names


# ---- one binary -----------------------------------------------------------------------------

def run(cmd, what, stdout=None):
    r = subprocess.run(cmd, stdout=stdout if stdout is not None else subprocess.PIPE,
                       stderr=subprocess.PIPE, text=stdout is None, errors="replace" if stdout is None else None)
    if r.returncode != 0:
        err = r.stderr if isinstance(r.stderr, str) else r.stderr.decode("utf-8", "replace")
        raise Failure(f"{what} failed (exit {r.returncode}): {' '.join(cmd)}\n{err.strip()[-2000:]}")
    return r


def module_header(dump_syms, binary):
    """(os, arch, debug id, module name, code id or '') from dump_syms -i."""
    out = run([dump_syms, "-i", binary], "dump_syms -i").stdout
    first = out.split("\n", 1)[0].split()
    if len(first) != 5 or first[0] != "MODULE":
        raise Failure(f"dump_syms printed no MODULE line for {binary}: {out[:200]!r}")
    _, os_name, arch, debug_id, name = first
    if not re.fullmatch(r"[0-9A-F]{33}", debug_id):
        raise Failure(f"dump_syms gave {binary} an unexpected debug id {debug_id!r}")
    if name in (".", "..") or "/" in name or "\\" in name:
        raise Failure(f"dump_syms gave {binary} an unusable module name {name!r}")
    m = re.search(r"^INFO CODE_ID ([0-9A-Fa-f]+)\s*$", out, re.M)
    return os_name, arch, debug_id, name, (m.group(1).lower() if m else "")


def write_sym(dump_syms, binary, debug_dirs, target):
    """dump_syms into target (atomically); returns the number of FUNC records."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".sym.", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as f:
            run([dump_syms, binary] + debug_dirs, "dump_syms", stdout=f)
        funcs = 0
        with open(tmp, "rb") as f:
            for line in f:
                if line.startswith(b"FUNC "):
                    funcs += 1
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; a symbols folder is shared
        os.replace(tmp, target)
        return funcs
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def build_id_link(out, code_id, debug_file):
    """<out>/.build-id/xx/rest.debug -> the module's .debug file (relative symlink)."""
    if len(code_id) < 4:
        return None
    link = os.path.join(out, ".build-id", code_id[:2], code_id[2:] + ".debug")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    rel = os.path.relpath(debug_file, os.path.dirname(link))
    tmp = link + f".tmp{os.getpid()}"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(rel, tmp)
    os.replace(tmp, link)
    return link


def process(binary, args, dump_syms):
    if not os.path.isfile(binary):
        raise Failure(f"no such file: {binary}")
    # A library given as its symlink (libfoo.so): the file itself is read and, split, rewritten. Its
    # module name is dump_syms's: a library's DT_SONAME (libfoo.so.1), as crashdrop's dumps name it.
    binary = os.path.realpath(binary)
    sections = elf_sections(binary)
    has_dwarf = ".debug_info" in sections
    os_name, arch, debug_id, name, code_id = module_header(dump_syms, binary)
    folder = os.path.join(args.out, name, debug_id)
    sym = os.path.join(folder, name + ".sym")
    debug_file = os.path.join(folder, name + ".debug")
    already_split = not has_dwarf and ".gnu_debuglink" in sections
    if already_split and not os.path.isfile(debug_file):
        raise Failure(f"{binary} was stripped (it has a .gnu_debuglink but no DWARF) and its debug file is "
                      f"not at {debug_file}: relink it, or give the symbols folder it was split into")
    if not has_dwarf and not already_split and os.path.isfile(sym):
        # e.g. a stripped copy of a build whose symbols were made already: they stay as they are
        log(args.quiet, f"{binary} has no debug info; the symbols of its build id stay: {sym}")
        return [binary]
    # dump_syms follows .gnu_debuglink into the folder of the .debug file
    funcs = write_sym(dump_syms, binary, [folder] if already_split else [], sym)
    log(args.quiet, f"{binary} -> {sym} ({os_name} {arch}, {funcs} functions)")
    if funcs == 0:
        print(f"crashdrop_symbols: warning: {binary} has no debug info (DWARF): its .sym names only exported "
              "symbols; build it with -g (e.g. CMAKE_BUILD_TYPE=RelWithDebInfo)", file=sys.stderr)
    kept = None
    if args.split_debug and not already_split and not has_dwarf:
        print(f"crashdrop_symbols: warning: {binary} has no debug info to split off; left as it is",
              file=sys.stderr)
    elif args.split_debug and not already_split:
        objcopy = find_tool(args.objcopy, "OBJCOPY", "objcopy")
        strip = find_tool(args.strip, "STRIP", "strip")
        # The debuglink records the file's base name and CRC: make it under its final name, then move.
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            staged = os.path.join(tmp, name + ".debug")
            run([objcopy, "--only-keep-debug", binary, staged], "objcopy --only-keep-debug")
            stripped = os.path.join(tmp, name + ".stripped")
            run([strip, "--strip-unneeded" if args.strip_unneeded else "--strip-debug", "-o", stripped, binary],
                "strip")
            run([objcopy, "--add-gnu-debuglink=" + staged, stripped], "objcopy --add-gnu-debuglink")
            os.replace(staged, debug_file)
            shutil.copymode(binary, stripped)
            os.replace(stripped, binary)  # the binary last: an interrupted run leaves it whole
        link = build_id_link(args.out, code_id, debug_file)
        log(args.quiet, f"split: {binary} stripped, its debug info in {debug_file}"
            + (f" (also {os.path.relpath(link, args.out)})" if link else ""))
        kept = debug_file
    elif already_split:
        kept = debug_file
        build_id_link(args.out, code_id, debug_file)
        log(args.quiet, f"{binary} was split already; its debug info stays in {debug_file}")
    return [binary] + ([kept] if kept else [])


# ---- sentry-cli -----------------------------------------------------------------------------

def sentry_command(args, files):
    """The sentry-cli command line for these files, or (None, why not)."""
    org = args.sentry_org or os.environ.get("SENTRY_ORG")
    project = args.sentry_project or os.environ.get("SENTRY_PROJECT")
    missing = [what for what, value in (("SENTRY_AUTH_TOKEN", os.environ.get("SENTRY_AUTH_TOKEN")),
                                        ("--sentry-org or SENTRY_ORG", org),
                                        ("--sentry-project or SENTRY_PROJECT", project)) if not value]
    if missing:
        return None, "not configured; missing: " + ", ".join(missing)
    cli = args.sentry_cli or os.environ.get("SENTRY_CLI") or shutil.which("sentry-cli") or "sentry-cli"
    return [cli, "debug-files", "upload", "--org", org, "--project", project] + files, ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("binaries", nargs="+", metavar="BINARY")
    parser.add_argument("--out", default="symbols", help="the symbols folder (default: ./symbols)")
    parser.add_argument("--dump-syms", help="Breakpad's dump_syms")
    parser.add_argument("--split-debug", action="store_true",
                        help="move the debug info into <out>/<name>/<id>/<name>.debug, strip the binary, "
                             "add a .gnu_debuglink")
    parser.add_argument("--strip-unneeded", action="store_true",
                        help="with --split-debug: strip --strip-unneeded (also the symbol table) "
                             "instead of --strip-debug")
    parser.add_argument("--objcopy", help="objcopy for --split-debug (default: $OBJCOPY or PATH)")
    parser.add_argument("--strip", help="strip for --split-debug (default: $STRIP or PATH)")
    parser.add_argument("--sentry-upload", action="store_true",
                        help="upload with sentry-cli debug-files upload when configured (else skipped)")
    parser.add_argument("--sentry-org")
    parser.add_argument("--sentry-project")
    parser.add_argument("--sentry-cli", help="sentry-cli (default: $SENTRY_CLI or PATH)")
    parser.add_argument("--print-upload", action="store_true",
                        help="print the sentry-cli command line instead of running it")
    parser.add_argument("--stamp", help="touch this file when done (for build systems)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        args.out = os.path.abspath(args.out)
        dump_syms = find_dump_syms(args.dump_syms)
        files = []
        for binary in args.binaries:
            files += process(binary, args, dump_syms)
        if args.sentry_upload:
            cmd, why = sentry_command(args, files)
            if cmd is None:
                print(f"crashdrop_symbols: sentry upload skipped ({why})")
            elif args.print_upload:
                print(" ".join(cmd))
            else:
                log(args.quiet, "uploading: " + " ".join(cmd))
                try:
                    r = subprocess.run(cmd)
                except OSError as e:
                    raise Failure(f"could not run {cmd[0]}: {e} (npm install @sentry/cli, or --sentry-cli PATH)")
                if r.returncode != 0:
                    raise Failure(f"sentry-cli debug-files upload failed (exit {r.returncode})")
        if args.stamp:
            with open(args.stamp, "w") as f:
                f.write("\n".join(files) + "\n")
    except Failure as e:
        print(f"crashdrop_symbols: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
