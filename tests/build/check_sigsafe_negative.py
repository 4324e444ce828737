#!/usr/bin/env python3
"""tools/check_sigsafe.py must fail on a binary whose crash section calls malloc, memcpy and
printf, and name each of them: the positive checks mean something only if this one holds."""
import subprocess
import sys

checker, binary = sys.argv[1:3]
run = subprocess.run([sys.executable, checker, binary], capture_output=True, text=True)
print(run.stdout, run.stderr)
if run.returncode == 0:
    print("check_sigsafe.py accepted a crash path that allocates and uses stdio")
    sys.exit(1)
missing = [name for name in ("malloc", "memcpy", "printf") if name not in run.stdout]
if missing:
    print("check_sigsafe.py did not report:", missing)
    sys.exit(1)
print("ok: check_sigsafe.py rejects malloc, memcpy and printf in the crash section")
