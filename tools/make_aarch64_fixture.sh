#!/usr/bin/env bash
# Regenerates tests/fixtures/aarch64 from a cross build: runs fixture_target under qemu-aarch64
# (one thread, no helper), keeps its dump, the .sym dump_syms makes of the binary (stored as
# symbols/<name>/<debug id>/<name>.sym) and expect.txt (what tests/crash/fixture_tests.cpp
# asserts). Needs g++-aarch64-linux-gnu, qemu-user and CRASHDROP_MINIDUMP_TOOLS (tools/setup.sh).
#   tools/make_aarch64_fixture.sh BUILD_DIR     (the aarch64 build holding fixture_target)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: tools/make_aarch64_fixture.sh AARCH64_BUILD_DIR}
tools=${CRASHDROP_MINIDUMP_TOOLS:?set CRASHDROP_MINIDUMP_TOOLS (source tools/setup.sh)}
out=tests/fixtures/aarch64
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/db"
set +e
qemu-aarch64 -L /usr/aarch64-linux-gnu "$build/fixture_target" "$work/db" >"$work/live.txt" 2>"$work/err.txt"
status=$?
set -e
[ "$status" -eq 139 ] || { echo "fixture_target: expected death by SIGSEGV, got status $status" >&2; cat "$work/err.txt" >&2; exit 1; }
dumps=("$work"/db/pending/*.dmp)
[ "${#dumps[@]}" -eq 1 ] || { echo "expected one dump, found ${#dumps[@]}" >&2; exit 1; }

"$tools/dump_syms" "$build/fixture_target" >"$work/fixture_target.sym"
id=$(head -1 "$work/fixture_target.sym" | cut -d' ' -f4)
rm -rf "$out/symbols" "$out/fixture_target.dmp"
mkdir -p "$out/symbols/fixture_target/$id"
cp "$work/fixture_target.sym" "$out/symbols/fixture_target/$id/fixture_target.sym"
cp "${dumps[0]}" "$out/fixture_target.dmp"
{
    cat "$work/live.txt"
    echo "reason=SIGSEGV /SEGV_MAPERR"
    echo "address=0x0"
    echo "frames=fixture_leaf,fixture_middle,fixture_outer,main"
    echo "debug_id=$id"
} >"$out/expect.txt"
ls -l "$out" "$out/symbols/fixture_target/$id"
