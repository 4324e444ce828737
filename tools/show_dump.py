#!/usr/bin/env python3
"""Prints what a minidump says, as read by Breakpad's processor (not by crashdrop): crash reason
and address, the threads (with names), and the crashing thread's top frames, symbolized with
dump_syms output for every module that exists on this machine.

    CRASHDROP_MINIDUMP_TOOLS=<folder with minidump_stackwalk, minidump_dump, dump_syms> \\
        tools/show_dump.py DUMP [--symbols DIR] [--frames N]
"""
import argparse
import os
import re
import subprocess
import sys


def tool(name):
    folder = os.environ.get("CRASHDROP_MINIDUMP_TOOLS", "")
    path = os.path.join(folder, name)
    if not folder or not os.access(path, os.X_OK):
        sys.exit(f"show_dump: {name} not found; set CRASHDROP_MINIDUMP_TOOLS (tools/setup.sh does)")
    return path


def make_symbols(modules, symbol_dir):
    for path in modules:
        if not path.startswith("/") or not os.path.exists(path):
            continue
        # A module whose .sym is there already (e.g. laid out by crashdrop_add_symbols, maybe from
        # a binary stripped since) keeps it: only the missing ones are made.
        head = subprocess.run([tool("dump_syms"), "-i", path], capture_output=True, text=True)
        first = head.stdout.split("\n", 1)[0].split()
        if head.returncode != 0 or len(first) < 5 or first[0] != "MODULE":
            continue
        debug_id, name = first[3], first[4]
        folder = os.path.join(symbol_dir, name, debug_id)
        if os.path.exists(os.path.join(folder, name + ".sym")):
            continue
        out = subprocess.run([tool("dump_syms"), path], capture_output=True, text=True)
        if out.returncode != 0 or not out.stdout.startswith("MODULE "):
            continue
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, name + ".sym"), "w") as f:
            f.write(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump")
    parser.add_argument("--symbols", default=None, help="symbol folder (default: next to the dump)")
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    symbol_dir = args.symbols or os.path.join(os.path.dirname(os.path.abspath(args.dump)), "symbols")
    os.makedirs(symbol_dir, exist_ok=True)

    dumped = subprocess.run([tool("minidump_dump"), args.dump], capture_output=True, text=True,
                            errors="replace").stdout
    modules = re.findall(r'^\s+\(code_file\)\s+= "(.*)"$', dumped, re.M)
    annotations = dict(re.findall(r'^\s+simple_annotations\["(.*?)"\] = (.*)$', dumped, re.M))
    names = {}
    for tid, name in re.findall(r'thread_id\s+= (0x[0-9a-f]+)\n\s+thread_name_rva\s+= \S+\n\s+thread_name\s+= "(.*)"',
                                dumped):
        names[int(tid, 16)] = name
    tids = [int(t, 16) for t in re.findall(r"^MDRawThread\n\s+thread_id\s+= (0x[0-9a-f]+)", dumped, re.M)]
    make_symbols(modules, symbol_dir)

    walk = subprocess.run([tool("minidump_stackwalk"), "-m", args.dump, symbol_dir], capture_output=True, text=True,
                          errors="replace")
    if walk.returncode != 0:
        sys.exit(f"show_dump: minidump_stackwalk could not read {args.dump}:\n{walk.stderr[-2000:]}")
    crash, frames = None, {}
    for line in walk.stdout.splitlines():
        f = line.split("|")
        if f[0] == "Crash":
            crash = f
        elif len(f) >= 7 and f[0].isdigit():
            frames.setdefault(int(f[0]), []).append(f)

    def thread_label(index):
        tid = tids[index] if index < len(tids) else 0
        name = names.get(tid, "")
        return f'#{index} tid {tid}' + (f' "{name}"' if name else "")

    size = os.path.getsize(args.dump)
    print(f"Dump {os.path.basename(args.dump)} ({size / 1024:.0f} KiB), read by Breakpad's minidump_stackwalk")
    if annotations:
        print("  annotations: " + ", ".join(f"{k}={v}" for k, v in sorted(annotations.items())))
    if crash:
        crashed = int(crash[3]) if crash[3].isdigit() else -1
        print(f"  crash:       {crash[1]} at {crash[2]}")
        print(f"  threads:     {len(frames)}; crashing thread {thread_label(crashed)}")
        print(f"  modules:     {len(modules)}")
        print("  crashing thread, top frames:")
        for fr in frames.get(crashed, [])[: args.frames]:
            where = f"  {os.path.basename(fr[4])}:{fr[5]}" if fr[4] else ""
            fn = fr[3] or f"{fr[2]} +{fr[6]}"
            print(f"    {fr[1]:>2}  {fn}{where}")
        others = [i for i in sorted(frames) if i != crashed]
        if others:
            print("  other threads (top frame):")
            for i in others:
                top = frames[i][0]
                print(f"    {thread_label(i)}: {top[3] or top[2] + ' +' + top[6]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
