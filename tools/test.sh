#!/usr/bin/env bash
# Runs every test: installs what is missing (tools/setup.sh), then builds and tests with CMake
# (ctest) and again with meson (meson test). The readers (Breakpad's processor, lldb-14) are
# required: a missing one fails the run instead of being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
export CRASHDROP_REQUIRE_READERS=1
build=${CRASHDROP_BUILD_DIR:-build/test}
jobs=${CRASHDROP_JOBS:-$(nproc)}
started=$(date +%s)

echo "== CMake build ($build/cmake) =="
cmake -S . -B "$build/cmake" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build/cmake" -j "$jobs"
echo "== ctest =="
ctest --test-dir "$build/cmake" --output-on-failure -j "$jobs" --timeout 900

echo "== meson build ($build/meson) =="
if [ -d "$build/meson" ]; then
    meson setup --reconfigure "$build/meson" >/dev/null
else
    meson setup "$build/meson" >/dev/null
fi
meson compile -C "$build/meson" -j "$jobs"
echo "== meson test =="
meson test -C "$build/meson" --print-errorlogs --num-processes "$jobs"

echo "== all tests passed in $(( $(date +%s) - started )) s =="
