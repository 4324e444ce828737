#!/usr/bin/env python3
"""Runs one case of crash_target_win.exe under wine and checks its dump from outside with the
Linux readers: Breakpad's minidump_stackwalk (crash reason, address, threads, modules) and
lldb-14 (named frames down to main; mingw builds carry DWARF, which lldb reads from the .exe).

    run_crash_case.py --wine WINE --exe crash_target_win.exe --case null_write --work DIR
        [--stackwalk PATH] [--lldb PATH]

The wine prefix comes from the environment (WINEPREFIX; tools/test_windows.sh makes it).
Linux sees only the low byte of a Windows exit code, so that is what is checked here.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import time

# case -> (exception name as minidump_stackwalk prints it, low byte of the exit code,
#          address check, frames that must be on the crashing thread's stack)
CASES = {
    "null_write": ("EXCEPTION_ACCESS_VIOLATION_WRITE", 0x05, "zero", ["crash_null_write", "main"]),
    "divide_by_zero": ("EXCEPTION_INT_DIVIDE_BY_ZERO", 0x94, "exe", ["crash_divide_by_zero", "main"]),
    "abort": ("0x40000015", 0x03, "exe", ["win_on_sigabrt", "main"]),  # msvcrt has no symbols here: raise and abort are one unnamed frame
    "thread_null_write": ("EXCEPTION_ACCESS_VIOLATION_WRITE", 0x05, "zero", ["crash_null_write", "worker_thread_body"]),
}


def fail(msg, detail=""):
    print("FAIL: " + msg)
    if detail:
        print(detail)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wine", required=True)
    ap.add_argument("--exe", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--work", required=True)
    ap.add_argument("--stackwalk", default=os.path.expanduser(
        "~/.cache/crashdrop/minidump-0.26.0/package/bin/linux-x64/minidump_stackwalk"))
    ap.add_argument("--lldb", default="lldb-14")
    a = ap.parse_args()
    reason, exit_low, address_rule, frames = CASES[a.case]

    db = os.path.join(a.work, a.case)
    shutil.rmtree(db, ignore_errors=True)
    os.makedirs(a.work, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("WINEDEBUG", "-all")
    t0 = time.monotonic()
    try:
        p = subprocess.run([a.wine, a.exe, "Z:" + db.replace("/", "\\"), a.case], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    except subprocess.TimeoutExpired:
        fail("the target did not end within 60 s")
    elapsed = time.monotonic() - t0
    print(f"{a.case}: exit status {p.returncode} after {elapsed:.2f} s")
    if p.returncode != exit_low:
        fail(f"exit status {p.returncode}, expected {exit_low} (low byte of the exception code)",
             p.stdout.decode(errors="replace")[-2000:])

    pending = os.path.join(db, "pending")
    dumps = glob.glob(os.path.join(pending, "*.dmp"))
    leftovers = [f for f in os.listdir(pending) if f.endswith(".tmp")]
    if len(dumps) != 1 or leftovers:
        fail(f"expected one dump and no temporary file in {pending}: {sorted(os.listdir(pending))}")
    dump = dumps[0]
    print(f"dump {os.path.basename(dump)}, {os.path.getsize(dump)} bytes")

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
    want_threads = 2 if a.case.startswith("thread_") else 1
    if len(threads) < want_threads + 1:  # + crashdrop's dump-writer thread
        fail(f"{len(threads)} threads in the dump, expected at least {want_threads + 1}")
    for name in ("ntdll.dll", "kernel32.dll"):
        if not any(m[1].lower() == name for m in modules):
            fail(f"module {name} missing")
    print(f"stackwalk: {crash[0][1]} at {address:#x}, thread {crash[0][3]}, {len(threads)} threads, "
          f"{len(modules)} modules")

    # ---- LLDB: named frames, from the DWARF in the .exe ----
    env = dict(os.environ, PYTHONPATH="/usr/lib/llvm-14/lib/python3.11/dist-packages")
    ll = subprocess.run([a.lldb, "-b", "-O", "settings set target.exec-search-paths " + os.path.dirname(os.path.abspath(a.exe)),
                         "-c", dump, "-o", "bt"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=120)
    bt = ll.stdout.decode(errors="replace")
    frame_lines = [l for l in bt.splitlines() if l.strip().startswith(("* frame #", "frame #"))]
    missing = [f for f in frames if not any(f in l for l in frame_lines)]
    if missing:
        fail(f"lldb's backtrace lacks {missing}", bt[-3000:])
    print(f"lldb: {len(frame_lines)} frames, found {frames}")
    print("PASS")


if __name__ == "__main__":
    main()
