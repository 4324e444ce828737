#!/usr/bin/env python3
"""Proves, from the machine code, that crashdrop's crash path stays signal-safe.

Every function that may run after a fault is marked CRASHDROP_SIGSAFE, which places it in the
ELF section "crashdrop_sigsafe". This disassembles that section of each binary given and fails
when an instruction transfers control outside it, except to the async-signal-safe libc
functions listed below (through the PLT), or indirectly anywhere but in forward_signal and
pass_on (which call the handler installed before crashdrop's, by design). A compiler-generated memcpy/memset, a
stray malloc or printf, or an unmarked helper all show up here.

    tools/check_sigsafe.py BINARY...

x86_64 and aarch64 binaries (call/jmp/jcc; bl/b/b.cond/cbz/tbz, blr/br), each disassembled by an
objdump that knows its machine (aarch64-linux-gnu-objdump for aarch64).
"""
import re
import shutil
import subprocess
import sys

# POSIX async-signal-safe functions the crash path may call (signal-safety(7)).
ALLOWED_LIBC = {
    "sigaction", "sigprocmask", "pthread_sigmask", "sigemptyset", "sigfillset", "sigaddset",
    "sigdelset", "sigismember",
    # Only reached when the stack protector finds the stack smashed: the process is doomed anyway.
    "__stack_chk_fail",
}
# aarch64: GCC's -moutline-atomics (Debian's default) turns atomic operations into calls to
# libgcc's helpers (__aarch64_cas4_acq_rel and friends, linked statically into every binary):
# one LSE atomic instruction, or a load-exclusive/store-exclusive loop, chosen by a flag set at
# start-up. They take no locks and call nothing; check_helper() proves that for each one used.
OUTLINE_ATOMIC = re.compile(r"^__aarch64_(cas|casp|swp|ldadd|ldclr|ldeor|ldset)(1|2|4|8|16)_(relax|acq|rel|acq_rel|sync)$")
# Functions allowed to contain indirect calls or jumps, and why.
INDIRECT_OK = {
    "forward_signal": "calls the handler that owned the capture signal before crashdrop",
    "pass_on": "calls the fatal-signal handler installed before crashdrop's with a crash that is not ours",
    "call_previous": "calls the fatal-signal handler installed before crashdrop's (pass_on, the first chance)",
    "ask_fault_filter": "calls Options::fault_filter, the embedder's own recovery from faults",
    "fail_safe": "__builtin_longjmp back to run_crash_writer (same section) when the dump writer faults",
}
MUST_CONTAIN = ["fatal_handler", "capture_handler", "write_minidump"]
SECTION = "crashdrop_sigsafe"

BRANCH = re.compile(r"^\s*([0-9a-f]+):\s+(?:(?:notrack|bnd|rex\.W)\s+)*([a-z][a-z0-9.]*)\s*(.*)$")
FUNC = re.compile(r"^([0-9a-f]+) <(.+)>:$")
TARGET = re.compile(r"(?:0x)?([0-9a-f]+)\s*<([^>]+)>")


EM_X86_64, EM_AARCH64 = 62, 183


def elf_machine(binary):
    """The ELF header's e_machine (little-endian files only), or None."""
    with open(binary, "rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[5] != 1:
        return None
    return int.from_bytes(head[18:20], "little")


def objdump(binary):
    """An objdump that disassembles this binary: the cross binutils' for an aarch64 object
    (Debian's plain objdump knows only x86), the host's otherwise."""
    machine = elf_machine(binary)
    if machine == EM_AARCH64:
        names = ("aarch64-linux-gnu-objdump", "objdump")
    elif machine == EM_X86_64:
        names = ("objdump", "x86_64-linux-gnu-objdump")
    else:
        names = ("objdump",)
    for name in names:
        if shutil.which(name):
            return name
    sys.exit(f"no objdump for {binary} (install binutils" +
             (", binutils-aarch64-linux-gnu)" if machine == EM_AARCH64 else ")"))


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


def architecture(binary):
    return "aarch64" if elf_machine(binary) == EM_AARCH64 else "x86_64"


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


def check_helper(tool, binary, name):
    """Problems with a helper the crash path may call: it must branch only within itself."""
    dis = subprocess.run([tool, "-d", "-w", "--no-show-raw-insn", f"--disassemble={name}", binary],
                         capture_output=True, text=True, check=True).stdout
    problems, inside, seen = [], False, False
    for line in dis.splitlines():
        f = FUNC.match(line)
        if f:
            inside = f.group(2) == name
            seen = seen or inside
            continue
        m = BRANCH.match(line) if inside else None
        if not m:
            continue
        kind = classify("aarch64", m.group(2), m.group(3).strip())
        t = TARGET.search(m.group(3))
        if kind == "indirect" or (kind == "direct" and (not t or not t.group(2).startswith(name))):
            problems.append(f"{name} (an outline atomic) branches out: {m.group(2)} {m.group(3).strip()}")
    if not seen:
        problems.append(f"{name}: not found in the binary")
    return problems


def check(tool, binary):
    rng = section_range(tool, binary)
    if rng is None:
        return [f"{binary}: no section {SECTION} (is CRASHDROP_SIGSAFE still applied?)"]
    lo, hi = rng
    arch = architecture(binary)
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
    problems, helpers = [], set()
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
        if arch == "aarch64" and OUTLINE_ATOMIC.match(base) and "+" not in label:
            helpers.add(base)
            continue
        problems.append(f"{mnemonic} to {label} (outside {SECTION}) at {addr} in {pretty}")
    for helper in sorted(helpers):
        problems += check_helper(tool, binary, helper)
    for needed in MUST_CONTAIN:
        if not any(needed in names.get(f, f) for f in functions):
            problems.append(f"{needed} is not in {SECTION}")
    return problems


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    failed = False
    for binary in sys.argv[1:]:
        problems = check(objdump(binary), binary)
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
