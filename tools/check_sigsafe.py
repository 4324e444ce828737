#!/usr/bin/env python3
"""Proves, from the machine code, that crashdrop's crash path stays signal-safe.

Every function that may run after a fault is marked CRASHDROP_SIGSAFE, which places it in the
ELF section "crashdrop_sigsafe". This disassembles that section of each binary given and fails
when an instruction transfers control outside it, except to the async-signal-safe libc
functions listed below (through the PLT), or indirectly anywhere but in forward_signal and
pass_on (which call the handler installed before crashdrop's, by design). A compiler-generated memcpy/memset, a
stray malloc or printf, or an unmarked helper all show up here.

    tools/check_sigsafe.py BINARY...
"""
import re
import shutil
import subprocess
import sys

# POSIX async-signal-safe functions the crash path may call (signal-safety(7)).
ALLOWED_LIBC = {
    "sigaction", "sigprocmask", "pthread_sigmask", "sigemptyset", "sigfillset", "sigaddset",
    "sigdelset",
    # Only reached when the stack protector finds the stack smashed: the process is doomed anyway.
    "__stack_chk_fail",
}
# Functions allowed to contain indirect calls or jumps, and why.
INDIRECT_OK = {
    "forward_signal": "calls the handler that owned the capture signal before crashdrop",
    "pass_on": "calls the fatal-signal handler installed before crashdrop's with a crash that is not ours",
}
MUST_CONTAIN = ["fatal_handler", "capture_handler", "write_minidump"]
SECTION = "crashdrop_sigsafe"

BRANCH = re.compile(r"^\s*([0-9a-f]+):\s+(?:(?:notrack|bnd|rex\.W)\s+)*([a-z][a-z0-9.]*)\s*(.*)$")
FUNC = re.compile(r"^([0-9a-f]+) <(.+)>:$")
TARGET = re.compile(r"(?:0x)?([0-9a-f]+)\s*<([^>]+)>")


def objdump():
    for name in ("objdump", "x86_64-linux-gnu-objdump", "aarch64-linux-gnu-objdump"):
        if shutil.which(name):
            return name
    sys.exit("objdump not found")


def section_range(tool, binary):
    out = subprocess.run([tool, "-h", "-w", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] == SECTION:
            size, vma = int(parts[2], 16), int(parts[3], 16)
            return vma, vma + size
    return None


def demangle(names):
    if not names or shutil.which("c++filt") is None:
        return {n: n for n in names}
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
    return dict(zip(names, out))


def architecture(tool, binary):
    out = subprocess.run([tool, "-f", binary], capture_output=True, text=True, check=True).stdout
    return "aarch64" if "aarch64" in out else "x86_64"


def classify(arch, mnemonic, operand):
    """None (not a branch), 'direct' or 'indirect'."""
    if arch == "x86_64":
        if mnemonic.startswith(("call", "jmp")) or (mnemonic.startswith("j") and len(mnemonic) <= 5):
            return "indirect" if operand.startswith("*") else "direct"
        return None
    if mnemonic in ("br", "blr") or mnemonic.startswith(("braa", "blraa", "brab", "blrab")):
        return "indirect"
    if mnemonic in ("b", "bl", "cbz", "cbnz", "tbz", "tbnz") or mnemonic.startswith("b."):
        return "direct"
    return None


def check(tool, binary):
    rng = section_range(tool, binary)
    if rng is None:
        return [f"{binary}: no section {SECTION} (is CRASHDROP_SIGSAFE still applied?)"]
    lo, hi = rng
    arch = architecture(tool, binary)
    dis = subprocess.run([tool, "-d", "-w", "--no-show-raw-insn", "-j", SECTION, binary],
                         capture_output=True, text=True, check=True).stdout
    functions, current, branches = [], "?", []
    for line in dis.splitlines():
        f = FUNC.match(line)
        if f:
            current = f.group(2)
            functions.append(current)
            continue
        m = BRANCH.match(line)
        if not m:
            continue
        addr, mnemonic, operand = m.group(1), m.group(2), m.group(3).strip()
        kind = classify(arch, mnemonic, operand)
        if kind:
            branches.append((current, addr, mnemonic, operand, kind))
    names = demangle(sorted(set(functions)))
    problems = []
    for fn, addr, mnemonic, operand, kind in branches:
        pretty = names.get(fn, fn)
        if kind == "indirect":
            if not any(ok in pretty for ok in INDIRECT_OK):
                problems.append(f"indirect {mnemonic} {operand} at {addr} in {pretty}")
            continue
        # aarch64 operands read "<addr> <label>" after a register for cbz/tbz: take the last part.
        t = TARGET.search(operand) if arch == "aarch64" else TARGET.match(operand)
        if not t:
            continue
        target, label = int(t.group(1), 16), t.group(2)
        if lo <= target < hi:
            continue
        base = re.split(r"[@+]", label)[0]
        if base in ALLOWED_LIBC:
            continue
        problems.append(f"{mnemonic} to {label} (outside {SECTION}) at {addr} in {pretty}")
    for needed in MUST_CONTAIN:
        if not any(needed in names.get(f, f) for f in functions):
            problems.append(f"{needed} is not in {SECTION}")
    return problems


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    tool = objdump()
    failed = False
    for binary in sys.argv[1:]:
        problems = check(tool, binary)
        if problems:
            failed = True
            print(f"FAILED {binary}:")
            for p in problems:
                print("  " + p)
        else:
            print(f"ok     {binary}: crash path calls only itself and async-signal-safe libc")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
