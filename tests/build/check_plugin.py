#!/usr/bin/env python3
"""A plugin built with -fvisibility=hidden embeds crashdrop: it works, and its dynamic symbol
table exports its own entry points only - no crashdrop symbol but the one table copies of
crashdrop find each other by (crashdrop_chain_v1), no pthread_create."""
import os
import shutil
import subprocess
import sys

host, plugin, work = sys.argv[1:4]
exported = subprocess.run(["nm", "-D", "--defined-only", plugin], capture_output=True, text=True, check=True).stdout
names = [line.split()[-1] for line in exported.splitlines() if line.strip()]
DELIBERATE = {"crashdrop_chain_v1"}
leaked = [n for n in names if ("crashdrop" in n.lower() and not n.startswith("embed_plugin_") and n not in DELIBERATE)
          or n == "pthread_create"]
if leaked:
    print("exported from the plugin but should be hidden:", leaked)
    sys.exit(1)
for needed in ("embed_plugin_start", "embed_plugin_write_dump", "crashdrop_chain_v1"):
    if needed not in names:
        print("missing export", needed)
        sys.exit(1)
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
run = subprocess.run([host, plugin, os.path.join(work, "db")], capture_output=True, text=True, timeout=60)
print(run.stdout, run.stderr)
if run.returncode != 0:
    print("host failed with", run.returncode)
    sys.exit(1)
dumps = [f for f in os.listdir(os.path.join(work, "db", "pending")) if f.endswith(".dmp")]
if len(dumps) != 1:
    print("expected one dump, found", dumps)
    sys.exit(1)
print("ok: exports", names)
