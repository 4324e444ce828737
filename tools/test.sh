#!/usr/bin/env bash
# Runs every test: installs what is missing (tools/setup.sh), then builds and tests with CMake
# (ctest), fuzzes every parser for a bounded time (tools/fuzz.sh), runs the unit, upload and host
# suites under ASan+UBSan (tools/test_sanitizers.sh), the Windows x64 build under wine
# (tools/test_windows.sh), and again with meson (meson test). The readers (Breakpad's processor, lldb-14,
# sentry-cli) are required: a missing one fails the run instead of being skipped. The ctest run includes the
# crash tests for aarch64 under qemu-user (see below); meson does not repeat them.
set -euo pipefail
cd "$(dirname "$0")/.."
caller_required=${CRASHDROP_REQUIRE_READERS:-0}
source tools/setup.sh
export CRASHDROP_REQUIRE_READERS=1
build=${CRASHDROP_BUILD_DIR:-build/test}
jobs=${CRASHDROP_JOBS:-$(nproc)}
started=$(date +%s)
phase() { echo "== $* ($(( $(date +%s) - started )) s) =="; }

# The crash tests again for Linux aarch64: targets cross-built with g++-aarch64-linux-gnu, run
# under qemu-aarch64 by the native test runner (tests/CMakeLists.txt, CRASHDROP_TEST_AARCH64).
# And the Windows x64 tests: built with mingw-w64, run under wine (tools/test_windows.sh).
# Their packages are installed when missing and root; otherwise they are skipped loudly - or,
# under CI (CI set, CRASHDROP_REQUIRE_READERS=1, CRASHDROP_REQUIRE_AARCH64=1 or
# CRASHDROP_REQUIRE_WINDOWS=1 from the caller), the run fails.
missing=""
crashdrop_have_aarch64 || missing="$missing g++-aarch64-linux-gnu qemu-user"
# Not needed before their own phase: installed while the CMake build runs (below).
later=""
crashdrop_have_windows || later="$later g++-mingw-w64-x86-64 wine wine64"
crashdrop_have_browser || later="$later chromium"
# The real-host tests' extension module is built against Debian's Python and its headers.
crashdrop_have_python_dev() { /usr/bin/python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' 2>/dev/null; }
crashdrop_have_python_dev || missing="$missing python3-dev"
if [ -n "$missing" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing$missing (aarch64 and Windows tests)" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null; } ||
        echo "setup: could not install$missing" >&2
fi
mkdir -p "$build"
later_pid=""
if [ -n "$later" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing$later (Windows tests, crash viewer) while the CMake build runs; its output: $build/install-later.log" >&2
    ( export DEBIAN_FRONTEND=noninteractive
      apt-get update -q && nice -n 10 apt-get install -y -q --no-install-recommends $later ) >"$build/install-later.log" 2>&1 &
    later_pid=$!
fi
skip_or_fail() {  # $1: what, $2: the variable that makes it required, $3: how to install
    if [ -n "${CI:-}" ] || [ "$caller_required" = 1 ] || [ "${!2:-0}" = 1 ]; then
        echo "FAILED: the $1 tests need $3" >&2
        exit 1
    fi
    echo "################################################################################" >&2
    echo "## $1 tests SKIPPED: not installed, and not root to install them. Run: $3" >&2
    echo "################################################################################" >&2
}
aarch64=ON
if ! crashdrop_have_aarch64; then
    skip_or_fail aarch64 CRASHDROP_REQUIRE_AARCH64 "sudo apt-get install g++-aarch64-linux-gnu qemu-user"
    aarch64=OFF
fi
fuzz=ON
if ! crashdrop_have_fuzzer; then
    skip_or_fail "fuzz" CRASHDROP_REQUIRE_FUZZ "sudo apt-get install clang-14 libclang-rt-14-dev"
    fuzz=OFF
fi
if ! crashdrop_have_python_dev; then
    skip_or_fail "Python host" CRASHDROP_REQUIRE_HOSTS "sudo apt-get install python3-dev"
fi

phase "CMake build ($build/cmake, aarch64 crash tests $aarch64)"
# Optimised as released, without -g by default: the targets whose dumps are read with symbols
# (crash targets, plugins, the C example) add -g themselves; debug info everywhere else only
# made the build slower.
cmake -S . -B "$build/cmake" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -DCRASHDROP_TEST_AARCH64=$aarch64 >/dev/null
cmake --build "$build/cmake" -j "$jobs"
# The packages installed in the background: ended by now (the build takes longer), or never needed.
if [ -n "$later_pid" ] && ! wait "$later_pid"; then
    echo "setup: could not install$later:" >&2
    tail -n 20 "$build/install-later.log" >&2 || true
fi
if ! crashdrop_have_browser; then
    skip_or_fail "crash viewer (headless Chromium)" CRASHDROP_REQUIRE_BROWSER "sudo apt-get install chromium"
fi
# Much of ctest waits (on crashing children, helpers, timeouts, the network): meanwhile the fuzz
# and sanitizer builds take the idle CPU at the lowest priority (their phases below then find
# them built; a failure here shows again there). Their output: $build/background-builds.log.
( if [ "$fuzz" = ON ]; then CRASHDROP_FUZZ_DIR="$build/fuzz" CRASHDROP_FUZZ_BUILD_ONLY=1 nice -n 19 tools/fuzz.sh || true; fi
  CRASHDROP_SANITIZE_BUILD_ONLY=1 nice -n 19 tools/test_sanitizers.sh "$build/sanitize" || true
) >"$build/background-builds.log" 2>&1 &
background_builds=$!
phase "ctest"
ctest_status=0
ctest --test-dir "$build/cmake" --output-on-failure -j "$jobs" --timeout 900 || ctest_status=$?
wait "$background_builds" || true
[ "$ctest_status" = 0 ] || exit "$ctest_status"

# Every fuzz target (tests/fuzz), each fuzzed for a bounded time after its regressions and seeds
# are replayed; any finding fails the run (tools/fuzz.sh; longer: tools/fuzz.sh 600).
if [ "$fuzz" = ON ]; then
    phase "fuzz: ${CRASHDROP_FUZZ_SECONDS:-10} s per target ($build/fuzz)"
    CRASHDROP_FUZZ_DIR="$build/fuzz" tools/fuzz.sh "${CRASHDROP_FUZZ_SECONDS:-10}"
fi
# The unit, upload and host suites again under ASan+UBSan (a separate build).
phase "sanitizers: unit, upload and host suites under ASan+UBSan ($build/sanitize)"
tools/test_sanitizers.sh "$build/sanitize"

windows=ON
if ! crashdrop_have_windows; then
    skip_or_fail Windows CRASHDROP_REQUIRE_WINDOWS "sudo apt-get install g++-mingw-w64-x86-64 wine wine64"
    windows=OFF
fi
if [ "$windows" = ON ]; then
    phase "Windows x64: mingw-w64 build, tests under wine ($build/mingw)"
    tools/test_windows.sh "$PWD/$build/mingw"
fi

phase "meson build ($build/meson)"
if [ -d "$build/meson" ]; then
    meson setup --reconfigure "$build/meson" >/dev/null
else
    meson setup "$build/meson" >/dev/null
fi
meson compile -C "$build/meson" -j "$jobs"
phase "meson test"
# The warnings matrix compiles the headers itself, independent of the build system, and the
# upload suite (the helper and the transports against the Python collector) depends on no build
# setting meson could get wrong: ctest ran both, and the real hosts (tests/host/real_hosts.py builds
# its modules itself). Everything else runs again from meson's build.
meson test -C "$build/meson" --print-errorlogs --num-processes "$jobs" --no-suite matrix --no-suite upload --no-suite real_hosts

echo "== all tests passed in $(( $(date +%s) - started )) s (aarch64 crash tests $aarch64, Windows tests $windows, fuzzing $fuzz) =="
