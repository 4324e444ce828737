#!/usr/bin/env python3
"""compile_bench.py - what including crashdrop costs a build (issue 17).

Run on demand, never as a test:
    python3 tests/bench/compile_bench.py [--runs R] [--cxx g++] [--header PATH] [--std c++17]
                                         [--compare OLD_HEADER] [--skip-size]

It writes a few one-line translation units into a temporary folder and compiles each of them
R times (default 5), interleaved (one round compiles every case once, so a neighbour's load
falls on all of them alike), with the compiler given (default g++):

  empty        an empty TU: the compiler's own start-up
  std          the standard headers the public API needs (the baseline of the header's cost)
  header       #include "crashdrop.hpp" without the implementation
  impl -O0     #define CRASHDROP_IMPLEMENTATION + #include "crashdrop.hpp", -O0
  impl -O2     the same at -O2

and prints each case's median wall time beside its baseline (header - std, impl / empty...).
Then it links a small program that calls crashdrop::start() (-O2, with the implementation) and
the same program without crashdrop, and reports the size the implementation adds (text, data,
bss of both, from `size`), and the .text/.data of the implementation's object alone.
Standard library only. Every figure comes from this one run.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The standard headers the public API (api.hpp, options.hpp, report.hpp, status.hpp, context.hpp)
# includes: a TU including crashdrop.hpp without the implementation pays at least these.
PUBLIC_STD_HEADERS = ["cstddef", "cstdint", "ctime", "functional", "map", "string", "string_view",
                      "utility", "vector", "signal.h"]

PROGRAM = r"""
#include <cstdio>
#include <string>
%s
int main(int argc, char** argv) {
    std::string db = argc > 1 ? argv[1] : "/tmp/compile-bench-db";
%s
    std::printf("%%s\n", db.c_str());
    return 0;
}
"""

PROGRAM_WITH = """    crashdrop::Options o;
    o.database_path = db;
    o.product_name = "compile_bench";
    o.helper_mode = crashdrop::HelperMode::none;
    crashdrop::Status s = crashdrop::start(o);
    if (!s.ok()) std::printf("%s\\n", s.message().c_str());
    crashdrop::stop();"""


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def compile_once(cxx, std, args, cwd):
    """(wall seconds, CPU seconds of the compiler and its children: user + system)."""
    cmd = [cxx, "-std=" + std] + args
    c0 = children_cpu()
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.stderr.write("compile_bench: %s failed:\n%s\n" % (" ".join(cmd), r.stderr[-4000:]))
        sys.exit(1)
    return dt, children_cpu() - c0


def size_of(path):
    """text, data, bss of a binary or object, from binutils' size (Berkeley format)."""
    r = subprocess.run(["size", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return None
    fields = r.stdout.splitlines()[1].split()
    return int(fields[0]), int(fields[1]), int(fields[2])


def text_section_of(path):
    """bytes of code alone: the .text* sections (size -A), without .rodata, .eh_frame..."""
    r = subprocess.run(["size", "-A", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return None
    total = 0
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0].startswith(".text") and f[1].isdigit():
            total += int(f[1])
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="compiles of each case, interleaved (default 5)")
    ap.add_argument("--cxx", default=os.environ.get("CXX", "g++"), help="the compiler (default g++)")
    ap.add_argument("--std", default="c++17", help="the -std= value (default c++17)")
    ap.add_argument("--header", default=os.path.join(ROOT, "single_include", "crashdrop.hpp"),
                    help="the header to measure (default single_include/crashdrop.hpp)")
    ap.add_argument("--compare", metavar="OLD_HEADER",
                    help="also compile another crashdrop.hpp (e.g. `git show main:single_include/crashdrop.hpp`"
                         " saved to a file) in the same rounds, for before/after figures from one run")
    ap.add_argument("--skip-size", action="store_true", help="do not link the size programs")
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    header = os.path.abspath(a.header)
    if not os.path.isfile(header):
        ap.error("no header at %s" % header)
    if shutil.which(a.cxx) is None:
        ap.error("no compiler %s on PATH" % a.cxx)

    tmp = tempfile.mkdtemp(prefix="crashdrop-compile-bench-")
    try:
        inc = '#include "%s"\n' % header
        write(os.path.join(tmp, "empty.cpp"), "")
        write(os.path.join(tmp, "std.cpp"), "".join("#include <%s>\n" % h for h in PUBLIC_STD_HEADERS))
        write(os.path.join(tmp, "header.cpp"), inc)
        write(os.path.join(tmp, "impl.cpp"), "#define CRASHDROP_IMPLEMENTATION\n" + inc)
        cases = [
            ("empty", ["-O2", "-c", "empty.cpp", "-o", "empty.o"]),
            ("std", ["-O2", "-c", "std.cpp", "-o", "std.o"]),
            ("header", ["-O2", "-c", "header.cpp", "-o", "header.o"]),
            ("impl -O0", ["-O0", "-c", "impl.cpp", "-o", "impl_O0.o"]),
            ("impl -O2", ["-O2", "-c", "impl.cpp", "-o", "impl_O2.o"]),
        ]
        if a.compare:
            old = os.path.abspath(a.compare)
            if not os.path.isfile(old):
                ap.error("no header at %s" % old)
            inc_old = '#include "%s"\n' % old
            write(os.path.join(tmp, "old_header.cpp"), inc_old)
            write(os.path.join(tmp, "old_impl.cpp"), "#define CRASHDROP_IMPLEMENTATION\n" + inc_old)
            cases += [
                ("old header", ["-O2", "-c", "old_header.cpp", "-o", "old_header.o"]),
                ("old -O0", ["-O0", "-c", "old_impl.cpp", "-o", "old_impl_O0.o"]),
                ("old -O2", ["-O2", "-c", "old_impl.cpp", "-o", "old_impl_O2.o"]),
            ]
            print("compared with %s (the \"old\" rows)" % old)
        times = {name: [] for name, _ in cases}
        cpu = {name: [] for name, _ in cases}
        ver = subprocess.run([a.cxx, "--version"], stdout=subprocess.PIPE, text=True).stdout.splitlines()[0]
        print("compile_bench: %s, -std=%s, %d runs interleaved, header %s" % (ver, a.std, a.runs, header))
        print("(wall: what a build waits for, but it grows with the machine's other load; CPU: user +"
              " system time of the compiler, steadier on a shared machine)")
        for r in range(a.runs):
            for name, args in cases:
                w, c = compile_once(a.cxx, a.std, args, tmp)
                times[name].append(w)
                cpu[name].append(c)
            sys.stderr.write("  round %d/%d done\n" % (r + 1, a.runs))
        med = {k: statistics.median(v) for k, v in times.items()}
        mcpu = {k: statistics.median(v) for k, v in cpu.items()}
        targets = {"header": "target: <= +0.1 s over std", "impl -O0": "target: <= 1.2 s",
                   "impl -O2": "target: <= 3 s"}
        print("\n%-10s %9s %9s %9s %9s   %s" % ("case", "wall med", "wall min", "wall max", "CPU med",
                                              "beside its baseline (medians, wall; CPU in brackets)"))
        for name, _ in cases:
            v = times[name]
            if name == "empty":
                rel = ""
            elif name in ("std",):
                rel = "+%.3f s over the empty TU (+%.3f)" % (med[name] - med["empty"], mcpu[name] - mcpu["empty"])
            elif name == "header":
                rel = "+%.3f s over std (+%.3f); %s" % (med[name] - med["std"], mcpu[name] - mcpu["std"], targets[name])
            elif name.startswith("old"):
                new = {"old header": "header", "old -O0": "impl -O0", "old -O2": "impl -O2"}[name]
                rel = "the new one: %+.2f s (%+.2f), %+.0f %% of CPU" % (
                    med[new] - med[name], mcpu[new] - mcpu[name], 100.0 * (mcpu[new] - mcpu[name]) / mcpu[name])
            else:
                rel = "+%.2f s over header (+%.2f), %.0fx the empty TU; %s" % (
                    med[name] - med["header"], mcpu[name] - mcpu["header"], med[name] / med["empty"], targets[name])
            print("%-10s %9.3f %9.3f %9.3f %9.3f   %s" % (name, med[name], min(v), max(v), mcpu[name], rel))

        if a.skip_size:
            return 0
        print("\nsize the implementation adds (-O2, from `size`: text data bss in bytes)")
        obj = size_of(os.path.join(tmp, "impl_O2.o"))
        if a.compare:
            old_obj = size_of(os.path.join(tmp, "old_impl_O2.o"))
            if old_obj:
                print("  old_impl_O2.o alone:       text %8d  data %6d  bss %6d  (code, .text*: %d)" % (
                    old_obj + (text_section_of(os.path.join(tmp, "old_impl_O2.o")),)))
        if obj:
            print("  impl_O2.o alone:           text %8d  data %6d  bss %6d  (code, .text*: %d)" % (
                obj + (text_section_of(os.path.join(tmp, "impl_O2.o")),)))
        write(os.path.join(tmp, "with.cpp"), PROGRAM % ("#define CRASHDROP_IMPLEMENTATION\n" + inc, PROGRAM_WITH))
        write(os.path.join(tmp, "without.cpp"), PROGRAM % ("", ""))
        linked = {}
        for name, extra in (("without", []), ("with", ["-pthread", "-ldl"])):
            compile_once(a.cxx, a.std, ["-O2", name + ".cpp", "-o", name] + extra, tmp)
            subprocess.run(["strip", "-o", name + ".stripped", name], cwd=tmp, check=False)
            linked[name] = (size_of(os.path.join(tmp, name)),
                            os.path.getsize(os.path.join(tmp, name + ".stripped"))
                            if os.path.exists(os.path.join(tmp, name + ".stripped")) else None)
        (sw, fw), (sn, fn) = linked["with"], linked["without"]
        print("  program without crashdrop: text %8d  data %6d  bss %6d  stripped file %8s" % (sn + (fn,)))
        print("  program with crashdrop:    text %8d  data %6d  bss %6d  stripped file %8s" % (sw + (fw,)))
        print("  added:                     text %8d  data %6d  bss %6d  stripped file %8s" % (
            sw[0] - sn[0], sw[1] - sn[1], sw[2] - sn[2], (fw - fn) if fw and fn else "?"))
        tw, tn = text_section_of(os.path.join(tmp, "with")), text_section_of(os.path.join(tmp, "without"))
        if tw is not None and tn is not None:
            print("  code alone (.text* sections) added: %d bytes; `size`'s text also counts .rodata,"
                  " .eh_frame and the other read-only sections" % (tw - tn))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
