#!/usr/bin/env python3
"""The header compiles warning-free (-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror)
with g++ and clang++, C++17 with and without -fno-exceptions -fno-rtti, C++20 once per compiler
(from include/, and from single_include/ once per compiler). Each C++17 binary from include/ runs
(start + write_dump) and its crash path is checked with tools/check_sigsafe.py, so both compilers'
code generation is covered; the C++20 and single_include/ cells are compiled for their warnings
only (-fsyntax-only), their code being the same."""
import argparse
import concurrent.futures
import itertools
import os
import shutil
import subprocess
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--source-dir", required=True)
parser.add_argument("--work-dir", required=True)
args = parser.parse_args()

compilers = ["g++", "clang++"]
missing = [c for c in compilers if shutil.which(c) is None]
if missing:
    print("missing compilers:", missing)
    sys.exit(1)
warnings = ["-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror"]
shutil.rmtree(args.work_dir, ignore_errors=True)
os.makedirs(args.work_dir)
source = os.path.join(args.source_dir, "tests", "build", "strict_main.cpp")
checker = os.path.join(args.source_dir, "tools", "check_sigsafe.py")


def build(combo):
    cxx, std, noexc, include, whole = combo
    name = f"{cxx.replace('+', 'x')}-{std}-{'noexc' if noexc else 'exc'}-{include}"
    out = os.path.join(args.work_dir, name)
    # No -g: debug info is not what this checks, and it is 40% of the compile time.
    cmd = [cxx, f"-std={std}", "-O2", *warnings, "-I", os.path.join(args.source_dir, include),
           source, "-o", out, "-pthread", "-ldl"]
    if noexc:
        cmd[2:2] = ["-fno-exceptions", "-fno-rtti"]
    if not whole:
        # The language's warnings only (-fsyntax-only): the code generated is the C++17 one's.
        cmd = [c for c in cmd if c not in ("-o", out, "-pthread", "-ldl")] + ["-fsyntax-only"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        return name, False, " ".join(cmd) + "\n" + result.stderr[-6000:]
    if not whole:
        return name + " (warnings only)", True, ""
    run = subprocess.run([out, os.path.join(args.work_dir, name + "-db")], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        return name, False, f"running it failed ({run.returncode}): {run.stderr}"
    check = subprocess.run([sys.executable, checker, out], capture_output=True, text=True)
    if check.returncode != 0:
        return name, False, check.stdout + check.stderr
    return name, True, ""


# Both compilers with and without exceptions and RTTI in C++17, from include/; C++20 once per
# compiler (one with exceptions, one without: the language version changes no crashdrop code
# path, exceptions do); the single header (identical code, checked by amalgamate --check and the
# unit tests) once per compiler.
# Those four are compiled for their warnings only (-fsyntax-only): their code is the C++17
# builds' (the optimiser's flow warnings and the crash-path check come from those four).
combos = list(itertools.product(compilers, ["c++17"], [False, True], ["include"], [True]))
combos += [("g++", "c++20", False, "include", False), ("clang++", "c++20", True, "include", False)]
combos += [(cxx, "c++17", True, "single_include", False) for cxx in compilers]
failed = 0
with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
    for name, ok, detail in pool.map(build, combos):
        print(("ok      " if ok else "FAILED  ") + name)
        if not ok:
            failed += 1
            print(detail)
sys.exit(1 if failed else 0)
