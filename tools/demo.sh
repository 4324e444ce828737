#!/usr/bin/env bash
# The demo: builds examples/demo.cpp (a small "game" that starts crashdrop and crashes in its
# simulation thread), runs it, and shows what the captured dump says, read by Breakpad's
# processor: crash reason and address, threads, the crashing thread's top frames.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
build=${CRASHDROP_BUILD_DIR:-build/demo}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRASHDROP_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target crashdrop_demo >/dev/null
db=$(mktemp -d "${TMPDIR:-/tmp}/crashdrop-demo.XXXXXX")
echo "== running $build/examples/demo (it will crash) =="
set +e
"$build/examples/demo" "$db"
status=$?
set -e
echo "== the demo died with status $status ($(kill -l $((status - 128)) 2>/dev/null || echo exit)), as it would without crashdrop =="
dump=$(ls "$db"/pending/*.dmp 2>/dev/null | head -n 1)
if [ -z "$dump" ]; then
    echo "no dump was written to $db/pending" >&2
    exit 1
fi
echo "== captured: $dump =="
python3 tools/show_dump.py "$dump" --symbols "$db/symbols"
