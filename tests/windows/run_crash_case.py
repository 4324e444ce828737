#!/usr/bin/env python3
"""Runs one case of crash_target_win.exe under wine and checks its dump from outside with the
Linux readers: Breakpad's minidump_stackwalk (crash reason, address, threads, modules) and
lldb-14 (named frames; mingw builds carry DWARF, which lldb reads from the .exe and .dll).

    run_crash_case.py --wine WINE --exe crash_target_win.exe --case null_write --work DIR
        [--parent exit_code_win.exe] [--stackwalk PATH] [--lldb PATH] [--memory LEVEL]

The wine prefix comes from the environment (WINEPREFIX; tools/test_windows.sh makes it).
Linux sees only the low byte of a Windows exit code. With --parent the target is started by
exit_code_win.exe, a Windows program that prints the child's full 32-bit exit code, and that
code is checked against the expected one; without it only the low byte is.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time

# case -> (exception name as minidump_stackwalk prints it, full exit code, address check,
#          frames that must be on the crashing thread's stack)
# Address checks: "zero" the address written (0), "exe" inside the .exe, "dll" inside DLL.
DLL = "crash_dll_win.dll"
NO_LLDB = {"stack_overflow", "seh_catches_stack_overflow"}
CASES = {
    # 16 bytes of the environment's secret in xmm7 and 8 of the argument's in r12 at the fault:
    # the helper clears both registers (check_privacy finds neither secret in any byte).
    "register_secret": ("EXCEPTION_ACCESS_VIOLATION_WRITE", 0xC0000005, "zero",
                        ["crash_with_secrets_in_registers", "main"]),
    "null_write": ("EXCEPTION_ACCESS_VIOLATION_WRITE", 0xC0000005, "zero", ["crash_null_write", "main"]),
    # rbx holds the address of a heap secret at the fault, a stack word points into it; run at
    # each Options::memory_capture level (--memory): check_memory_level.
    "heap_secret": ("EXCEPTION_ACCESS_VIOLATION_WRITE", 0xC0000005, "zero",
                    ["heap_secret_leaf", "heap_secret_middle", "run_heap_secret", "main"]),
    "divide_by_zero": ("EXCEPTION_INT_DIVIDE_BY_ZERO", 0xC0000094, "exe", ["crash_divide_by_zero", "main"]),
    # msvcrt's abort raises SIGABRT (crashdrop's handler captures), then exits with 3.
    "abort": ("0x40000015", 3, "exe", ["win_on_sigabrt", "raise", "abort", "crash_abort", "main"]),
    "thread_null_write": ("EXCEPTION_ACCESS_VIOLATION_WRITE", 0xC0000005, "zero",
                          ["crash_null_write", "worker_thread_body"]),
    # Captured by the vectored handler, which then ends the process with the code itself.
    # lldb-14 itself crashes on this dump (unbounded recursion inside liblldb, even for
    # `bt 5`), so the crash address is named with addr2line from the .exe's DWARF instead.
    "stack_overflow": ("EXCEPTION_STACK_OVERFLOW", 0xC00000FD, "exe", ["recurse_forever"]),
    # mingw: __cxa_throw finds no handler and calls std::terminate -> crashdrop's terminate
    # handler -> libstdc++'s verbose handler -> abort(): captured as the abort is.
    "uncaught_exception": ("0x40000015", 3, "exe",
                           ["win_on_sigabrt", "abort", "__verbose_terminate_handler", "win_terminate_handler",
                            "std::terminate", "__cxa_throw", "throw_uncaught", "main"]),
    # mingw, statically linked: the vtable slot refers to __cxa_pure_virtual weakly and nothing
    # else pulls libstdc++'s definition in, so the slot is 0 and the call jumps to address 0: an
    # access violation (execute) with the caller's frames intact, not std::terminate.
    "pure_virtual": ("EXCEPTION_ACCESS_VIOLATION_EXEC", 0xC0000005, "zero",
                     ["call_speak", "crash_pure_virtual", "main"]),
    # ucrtbase.dll's memcpy_s(NULL, ...) calls crashdrop's invalid-parameter handler.
    "invalid_parameter_ucrt": ("0xc0000417", 0xC0000417, "exe",
                               ["win_capture_crt_failure", "win_on_invalid_parameter", "_invalid_parameter",
                                "memcpy_s", "crash_invalid_parameter_ucrt", "main"]),
    # ucrtbase.dll's _purecall (what an MSVC-built module's pure virtual call runs) calls
    # crashdrop's purecall handler: STATUS_NONCONTINUABLE_EXCEPTION.
    "purecall_ucrt": ("EXCEPTION_NONCONTINUABLE_EXCEPTION", 0xC0000025, "exe",
                      ["win_capture_crt_failure", "win_on_purecall", "_purecall", "crash_purecall_ucrt", "main"]),
    # An unhandled-exception filter installed before start(): it runs after the dump (it prints
    # "previous filter ran") and the process still ends with the original code.
    "chained_filter": ("EXCEPTION_ACCESS_VIOLATION_WRITE", 0xC0000005, "zero", ["crash_null_write", "main"]),
    # The process heap and the CRT's heap are locked by another thread for good when the main
    # thread crashes: the crash path and the hand-off to the helper allocate nothing, so the dump
    # still arrives (a crash path that allocated would hang until the runner's timeout). The
    # target's own filter, chained after the dump, ends the process: wine's default unhandled-
    # exception path would wait for the locked heap itself.
    "heap_locked": ("EXCEPTION_ACCESS_VIOLATION_WRITE", 0xC0000005, "zero",
                    ["crash_null_write", "crash_with_heaps_locked", "main"]),
    # A DLL loaded with LoadLibrary after start() divides by zero.
    "dll_divide_by_zero": ("EXCEPTION_INT_DIVIDE_BY_ZERO", 0xC0000094, "dll",
                           ["crashdrop_test_dll_divide", "crash_in_dll", "main"]),
    # host_win.exe (--exe): crashdrop in plugin_win.dll; the host recovers from 3 access
    # violations of its own first (a vectored handler that continues execution / SEH with
    # __try1/__except1). Only the plugin's null write afterwards may become a report.
    "veh_recovers_then_plugin_crash": ("EXCEPTION_ACCESS_VIOLATION_WRITE", 0xC0000005, "zero",
                                       ["plugin_win_crash", "main"]),
    "seh_recovers_then_plugin_crash": ("EXCEPTION_ACCESS_VIOLATION_WRITE", 0xC0000005, "zero",
                                       ["plugin_win_crash", "main"]),
    # The host guards a runaway recursion with __try1/__except1 for EXCEPTION_STACK_OVERFLOW:
    # crashdrop's vectored handler reports the overflow and ends the process first (its filter
    # never runs; handler_windows.hpp says why).
    "seh_catches_stack_overflow": ("EXCEPTION_STACK_OVERFLOW", 0xC00000FD, "exe", ["host_recurse"]),
}
# Cases run with host_win.exe: the product its plugin names, what the host must have printed and
# what it must not have.
HOST_CASES = {
    "veh_recovers_then_plugin_crash": ("host_win_plugin", "host: vectored handler recovered 3 faults", None),
    "seh_recovers_then_plugin_crash": ("host_win_plugin", "host: __try1/__except1 caught 3 faults", None),
    "seh_catches_stack_overflow": ("host_win_plugin", None, "host: guarded recursion"),
}


def fail(msg, detail=""):
    print("FAIL: " + msg)
    if detail:
        print(detail)
    sys.exit(1)


def secret(prefix):
    """A string nobody else writes: a prefix and 24 random letters and digits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(alphabet[b % 62] for b in os.urandom(24))


def control_string(*passed):
    """The control the target keeps on its stack (it gets it reversed, in its environment). The
    helper rightly clears a stack word equal to 4 characters (UTF-16) of any environment or
    command-line string, so no 4 characters in a row of the control may occur in what the target
    is given: not in the secrets or paths, and not in the reversed control itself (a palindrome
    such as "4LL4" inside the random part would be in both, and the control check would fail
    one run in a few hundred)."""
    while True:
        control = secret("zqKEPT-")
        given = [control[::-1]] + [p for p in passed if p]
        if not any(control[i:i + 4] in g for i in range(len(control) - 3) for g in given):
            return control


def find_secret(data, value, random_from=10):
    """Where any 8 characters in a row of value's random part occur in data (bytes), as ASCII or
    UTF-16LE (a register holds 8 or 16 bytes: a part of a secret is a leak too); None if nowhere."""
    for i in range(random_from, len(value) - 7):
        part = value[i:i + 8]
        for encoding in ("ascii", "utf-16-le"):
            at = data.find(part.encode(encoding))
            if at >= 0:
                return f"{part!r} ({encoding}) at offset {at}"
    return None


def check_privacy(db, dump, env_secret, arg_secret, control, scrubbed=False):
    """Privacy by default: neither the environment's secret nor the argument's is in any byte of
    the dump or of any other file in the database; the control string the target keeps on its
    main thread's stack is (in both encodings), so the search can fail. With `scrubbed`
    (memory_capture scrubbed_stacks, which zeroes stack data) the control must be gone instead."""
    data = open(dump, "rb").read()
    for encoding in ("ascii", "utf-16-le"):
        if (control.encode(encoding) in data) == scrubbed:
            fail(f"control: the string the target keeps on its stack is {'in' if scrubbed else 'not in'} the dump ({encoding})")
    for root, _, files in os.walk(db):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                content = f.read()
            for what, value in (("MY_API_TOKEN", env_secret), ("argument", arg_secret)):
                where = find_secret(content, value)
                if where:
                    fail(f"the {what} secret is in {path}: {where}")
    print("privacy: no secret in the dump or the database; the control string "
          f"{'zeroed (scrubbed_stacks)' if scrubbed else 'found'} (ASCII and UTF-16)")


# crash_target_win's heap secret (the target keeps it xored: only its heap copy is in the clear).
HEAP_MARKER = "heap-secret-WIN-Av4wV[2h"


def check_memory_level(dump, level, output, written_by_helper=True):
    """Options::memory_capture: the heap secret rbx points at is in a full dump (so the search
    can fail) and in no byte of a stacks_only or scrubbed_stacks one, as ASCII or UTF-16 (any 8
    characters of it in a row); the stack word pointing into it survives full and stacks_only
    and is zeroed by scrubbed_stacks; the writer-errors stream names a level other than full."""
    data = open(dump, "rb").read()
    m = re.search(r"^heap_pointer=(?:0x)?([0-9A-Fa-f]+)\r?$", output, re.M)
    if not m:
        fail("the target printed no heap_pointer", output[-2000:])
    pointer = int(m.group(1), 16).to_bytes(8, "little")
    where = find_secret(data, HEAP_MARKER, random_from=0)
    if level == "full":
        if HEAP_MARKER.encode("ascii") not in data:
            fail("memory_capture full: the heap secret rbx points at is not in the dump (the memory around registers is missing)")
    elif where:
        fail(f"memory_capture {level}: the heap secret is in the dump: {where}")
    if (pointer in data) != (level != "scrubbed_stacks"):
        fail(f"memory_capture {level}: the stack word pointing into the secret is "
             f"{'in' if pointer in data else 'not in'} the dump")
    if written_by_helper and level != "full" and f"memory_capture: {level}".encode() not in data:
        fail(f"memory_capture {level}: the writer-errors stream does not name the level")
    print(f"memory_capture {level}: heap secret {'found (full)' if level == 'full' else 'absent (ASCII and UTF-16)'}, "
          f"stack word pointing into it {'zeroed' if level == 'scrubbed_stacks' else 'kept'}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wine", required=True)
    ap.add_argument("--exe", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--work", required=True)
    ap.add_argument("--parent", help="exit_code_win.exe: start the target from a Windows parent")
    ap.add_argument("--no-helper", action="store_true",
                    help="HelperMode::none: the target's in-process writer writes the dump (no annotations, no writer errors)")
    ap.add_argument("--memory", choices=["full", "stacks_only", "scrubbed_stacks"],
                    help="Options::memory_capture of the target (CRASHDROP_TEST_MEMORY)")
    ap.add_argument("--stackwalk", default=os.path.expanduser(
        "~/.cache/crashdrop/minidump-0.26.0/package/bin/linux-x64/minidump_stackwalk"))
    ap.add_argument("--lldb", default="lldb-14")
    ap.add_argument("--addr2line", default="x86_64-w64-mingw32-addr2line")
    ap.add_argument("--wine-dlls", default="/usr/lib/x86_64-linux-gnu/wine/x86_64-windows",
                    help="wine's own PE DLLs (ntdll, msvcrt, ucrtbase): lldb unwinds through them with their .pdata")
    a = ap.parse_args()
    reason, exit_code, address_rule, frames = CASES[a.case]

    db = os.path.join(a.work, a.case + ("-" + a.memory if a.memory else "") + ("-nohelper" if a.no_helper else ""))
    shutil.rmtree(db, ignore_errors=True)
    os.makedirs(a.work, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("WINEDEBUG", "-all")
    # Every case runs with a secret in the environment and one on the command line.
    env_secret, arg_secret = secret("envSECRET-"), secret("argSECRET-")
    control = control_string(env_secret, arg_secret, db)
    env.update(MY_API_TOKEN=env_secret, CRASHDROP_TEST_PRIVACY="1", CRASHDROP_TEST_CONTROL=control[::-1])
    if a.memory:
        env["CRASHDROP_TEST_MEMORY"] = a.memory
    if a.no_helper:
        env["CRASHDROP_TEST_NO_HELPER"] = "1"
    t0 = time.monotonic()
    command = [a.wine] + ([a.parent] if a.parent else []) + [a.exe, "Z:" + db.replace("/", "\\"), a.case,
                                                             "--token=" + arg_secret]
    try:
        p = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=100)
    except subprocess.TimeoutExpired:
        fail("the target did not end within 100 s")
    elapsed = time.monotonic() - t0
    output = p.stdout.decode(errors="replace")
    print(f"{a.case}: exit status {p.returncode} after {elapsed:.2f} s")
    if p.returncode != exit_code & 0xFF:
        fail(f"exit status {p.returncode}, expected {exit_code & 0xFF} (low byte of {exit_code:#x})", output[-2000:])
    if a.case == "chained_filter" and "previous filter ran" not in output:
        fail("the filter installed before crashdrop's did not run", output[-2000:])
    if a.case in HOST_CASES:
        _, must, must_not = HOST_CASES[a.case]
        if must and must not in output:
            fail(f"the host did not print {must!r}: it did not recover from its own faults", output[-2000:])
        if must_not and must_not in output:
            fail(f"the host printed {must_not!r}", output[-2000:])
    if a.parent:
        m = re.search(r"^child exit code 0x([0-9A-F]{8})\r?$", output, re.M)
        if not m:
            fail("exit_code_win.exe printed no exit code", output[-2000:])
        full = int(m.group(1), 16)
        if full != exit_code:
            fail(f"full exit code {full:#010x}, expected {exit_code:#010x}", output[-2000:])
        print(f"full exit code {full:#010x} (seen by a Windows parent)")

    pending = os.path.join(db, "pending")
    dumps = glob.glob(os.path.join(pending, "*.dmp"))
    leftovers = [f for f in os.listdir(pending) if f.endswith(".tmp")]
    if len(dumps) != 1 or leftovers:
        fail(f"expected one dump and no temporary file in {pending}: {sorted(os.listdir(pending))}")
    dump = dumps[0]
    print(f"dump {os.path.basename(dump)}, {os.path.getsize(dump)} bytes")
    check_privacy(db, dump, env_secret, arg_secret, control, scrubbed=a.memory == "scrubbed_stacks")
    if a.memory:
        check_memory_level(dump, a.memory, output, written_by_helper=not a.no_helper)

    # ---- Breakpad's minidump_dump: the annotations the helper added (Crashpad's info stream) ----
    dumper = os.path.join(os.path.dirname(a.stackwalk), "minidump_dump")
    md = subprocess.run([dumper, dump], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
    annotations = dict(re.findall(r'simple_annotations\["([^"]*)"\] = (.*)', md.stdout.decode(errors="replace")))
    want = {"prod": HOST_CASES[a.case][0] if a.case in HOST_CASES else "crash_target_win", "ver": "1.0",
            "crash_kind": "crash"}  # what the dump is, written by the helper
    if a.case == "uncaught_exception":
        want.update({"exception_type": "std::runtime_error", "exception_what": "crashdrop test: nobody catches this"})
    if a.no_helper:
        want = {}  # the annotations are the helper's (Crashpad's info stream)
    for key, value in want.items():
        if annotations.get(key) != value:
            fail(f"annotation {key} = {annotations.get(key)!r}, expected {value!r}", repr(annotations))
    print(f"annotations: {sorted(annotations)}")

    # ---- Breakpad's reader ----
    sw = subprocess.run([a.stackwalk, "-m", dump], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if sw.returncode != 0:
        fail("minidump_stackwalk could not read the dump", sw.stderr.decode(errors="replace")[-2000:])
    lines = sw.stdout.decode(errors="replace").splitlines()
    crash = [l.split("|") for l in lines if l.startswith("Crash|")]
    modules = [l.split("|") for l in lines if l.startswith("Module|")]
    threads = {l.split("|")[0] for l in lines if l[:1].isdigit()}
    if not crash or not crash[0][1].startswith(reason):
        fail(f"crash reason {crash[0][1] if crash else None}, expected {reason}", "\n".join(lines[:12]))
    address = int(crash[0][2], 16)
    exe_name = os.path.basename(a.exe).lower()
    exe = [m for m in modules if m[1].lower() == exe_name]
    if not exe or exe[0][7] != "1":
        fail(f"{exe_name} is not the main module", "\n".join(l for l in lines if l.startswith("Module|")))
    base, end = int(exe[0][5], 16), int(exe[0][6], 16)
    if address_rule == "zero" and address != 0:
        fail(f"crash address {address:#x}, expected 0 (the address written)")
    if address_rule == "exe" and not base <= address <= end:
        fail(f"crash address {address:#x} is outside {exe_name} ({base:#x}-{end:#x})")
    if address_rule == "dll":
        dll = [m for m in modules if m[1].lower() == DLL]
        if not dll:
            fail(f"{DLL} is not in the module list", "\n".join(l for l in lines if l.startswith("Module|")))
        dll_base, dll_end = int(dll[0][5], 16), int(dll[0][6], 16)
        if not dll_base <= address <= dll_end:
            fail(f"crash address {address:#x} is outside {DLL} ({dll_base:#x}-{dll_end:#x})")
    want_threads = 2 if a.case.startswith("thread_") else 1
    if len(threads) < want_threads + 1:  # + crashdrop's dump-writer thread
        fail(f"{len(threads)} threads in the dump, expected at least {want_threads + 1}")
    for name in ("ntdll.dll", "kernel32.dll"):
        if not any(m[1].lower() == name for m in modules):
            fail(f"module {name} missing")
    print(f"stackwalk: {crash[0][1]} at {address:#x}, thread {crash[0][3]}, {len(threads)} threads, "
          f"{len(modules)} modules")

    if a.case in NO_LLDB:
        a2l = subprocess.run([a.addr2line, "-f", "-C", "-e", a.exe, f"{address:#x}"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=60)
        name = a2l.stdout.decode(errors="replace").splitlines()[0] if a2l.stdout else ""
        if not any(re.search(r"(^|::)" + re.escape(f) + r"(?![\w])", name) for f in frames):
            fail(f"the crash address {address:#x} is in {name!r}, expected {frames}")
        print(f"addr2line: crash address in {name}")
        print("PASS")
        return

    # ---- LLDB: named frames, from the DWARF in the .exe ----
    env = dict(os.environ, PYTHONPATH="/usr/lib/llvm-14/lib/python3.11/dist-packages")
    search = [os.path.dirname(os.path.abspath(a.exe))] + ([a.wine_dlls] if os.path.isdir(a.wine_dlls) else [])
    ll = subprocess.run([a.lldb, "-b", "-O", "settings set target.exec-search-paths " + " ".join(search),
                         "-c", dump, "-o", "bt 64"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=120)
    bt = ll.stdout.decode(errors="replace")
    frame_lines = [l for l in bt.splitlines() if l.strip().startswith(("* frame #", "frame #"))]
    # The function part of a frame line ("module`ns::function(args) at file"), matched by name.
    functions = [l.split("`", 1)[1] for l in frame_lines if "`" in l]
    missing = [f for f in frames if not any(re.search(r"(^|::)" + re.escape(f) + r"(?![\w])", fn) for fn in functions)]
    if missing:
        fail(f"lldb's backtrace lacks {missing}", bt[-3000:])
    print(f"lldb: {len(frame_lines)} frames, found {frames}")
    print("PASS")


if __name__ == "__main__":
    main()
