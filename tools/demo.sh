#!/usr/bin/env bash
# The demo: builds examples/demo.cpp (a small "game" that starts crashdrop and crashes in its
# simulation thread), starts a local crash collector (tools/collector.py), runs the game, and
# prints what the collector received - fields, dump size, and what Breakpad's processor reads
# from the dump: crash reason and address, threads, the crashing thread's top frames. It ends by
# printing the address of the collector's crash viewer (a web page of the reports, their fields
# and every thread's named frames, from the symbols the build laid out), which keeps running
# after the demo ends (not under CI, nor with CRASHDROP_DEMO_KEEP_VIEWER=0).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
build=${CRASHDROP_BUILD_DIR:-build/demo}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRASHDROP_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target crashdrop_demo >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/crashdrop-demo.XXXXXX")
# The viewer names frames from the folder the build laid out (crashdrop_add_symbols(crashdrop_demo)).
symbols=$(cd "$build" && pwd)/symbols
python3 tools/collector.py serve --out "$work/received" --port-file "$work/port" --symbols-dir "$symbols" \
    >"$work/collector.log" 2>&1 &
collector=$!
trap 'kill $collector 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
viewer="http://127.0.0.1:$(cat "$work/port")/"
url="${viewer}submit"
echo "== a local crash collector listens on $url =="
echo "== running $build/examples/demo (it will crash) =="
set +e
"$build/examples/demo" "$work/db" "$url"
status=$?
set -e
echo "== the demo died with status $status ($(kill -l $((status - 128)) 2>/dev/null || echo exit)), as it would without crashdrop =="
if ! python3 tools/collector.py wait "$work/received" --count 1 --timeout 30; then
    echo "the collector received nothing; the helper's log:" >&2
    cat "$work/db/helper.log" >&2 || true
    exit 1
fi
echo "== the helper process persisted the dump and sent it; its log: =="
sed 's/^/    /' "$work/db/helper.log"
echo "== what the collector received =="
# the symbols crashdrop_add_symbols(crashdrop_demo) laid out when the demo was linked
python3 tools/collector.py show "$work/received" --symbols-dir "$build/symbols"
echo "== the crash database: $work/db =="
(cd "$work/db" && ls -l pending completed | sed 's/^/    /')
echo "== the crash viewer: $viewer =="
if [ -z "${CI:-}" ] && [ "${CRASHDROP_DEMO_KEEP_VIEWER:-1}" != 0 ]; then
    # It keeps serving after the demo ends (nothing is read from the terminal, so a command
    # pasted after this one runs as it should); open the address in a browser.
    trap - EXIT
    echo "   open it in a browser; it keeps running (pid $collector): stop it with  kill $collector"
else
    echo "   (stopped now; to browse the reports later: python3 tools/collector.py serve --out $work/received --symbols-dir $symbols)"
fi
