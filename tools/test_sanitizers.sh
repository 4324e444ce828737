#!/usr/bin/env bash
# The unit, upload and host suites again, built with
# AddressSanitizer + UndefinedBehaviorSanitizer: any report fails the run.
#   tools/test_sanitizers.sh [builddir]     (default build/sanitize)
# A separate CMake build (-fsanitize=address,undefined -fno-sanitize-recover=all), only the
# targets those suites need, run with ctest. Environment: CRASHDROP_JOBS (default nproc),
# CRASHDROP_SANITIZE_CXX / CRASHDROP_SANITIZE_CC (default: CMake's choice, g++ here),
# CRASHDROP_SANITIZE_BUILD_ONLY=1 (build, do not run).
#
# These suites crash programs on purpose (upload_target, the host's plugins) and test that
# crashdrop's handler writes the dump and the process then dies by its signal. ASan installs
# handlers for SIGSEGV, SIGBUS, SIGFPE (and SIGILL, SIGABRT when asked) at startup and would
# report such a crash itself and exit(1); a real application has no ASan handler below
# crashdrop's. So ASan leaves those signals alone (handle_segv=0 ...): crashdrop's handler runs
# and chains to what was there before, as in production, and a memory error ASan finds is still
# reported (its reports do not go through signals). Leaks are checked in every process that
# exits normally (the test runners, the helpers); a process that dies by a signal leaves none.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/sanitize}
jobs=${CRASHDROP_JOBS:-$(nproc)}
started=$(date +%s)
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
compilers=()
[ -n "${CRASHDROP_SANITIZE_CXX:-}" ] && compilers+=(-DCMAKE_CXX_COMPILER="$CRASHDROP_SANITIZE_CXX")
[ -n "${CRASHDROP_SANITIZE_CC:-}" ] && compilers+=(-DCMAKE_C_COMPILER="$CRASHDROP_SANITIZE_CC")

# A report in a process no test watches the stderr of (the helper, whose stderr is helper.log in
# its database) still fails the phase: the tests' work folders are searched for reports after
# ctest. (log_path would be neater, but g++'s UBSan ignores it next to ASan.)
work="$build/tests/work"
[ ! -d "$work" ] || find "$work" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
echo "== sanitizers: configuring $build ($flags) =="
cmake -S . -B "$build" -G Ninja "${compilers[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1" \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" -DCMAKE_MODULE_LINKER_FLAGS="$flags" \
    -DCRASHDROP_TEST_AARCH64=OFF >/dev/null

# (The fuzz targets' replays are not repeated here: tools/fuzz.sh replays them under ASan+UBSan.)
targets=(unit_tests_split unit_context_internals unit_gzip unit_amend upload_tests host_tests)
echo "== sanitizers: building ${targets[*]} =="
cmake --build "$build" -j "$jobs" --target "${targets[@]}"
built=$(date +%s)
# CRASHDROP_SANITIZE_BUILD_ONLY=1: built, not run (tools/test.sh builds it at the lowest priority
# while its ctest runs).
if [ "${CRASHDROP_SANITIZE_BUILD_ONLY:-0}" = 1 ]; then
    echo "== sanitizers: built in $((built - started)) s (build only) =="
    exit 0
fi

export ASAN_OPTIONS="handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
echo "== sanitizers: ctest (ASAN_OPTIONS=$ASAN_OPTIONS) =="
status=0
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 900 \
    -R '^(unit-split|unit-context-internals|gzip|amend|upload|host):' || status=1
while IFS= read -r -d '' f; do
    echo "FAILED: a sanitizer report in $f:" >&2
    grep -m1 -B2 -A40 -E 'runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer' "$f" >&2
    status=1
done < <(grep -rlZ -E 'runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer' "$work" 2>/dev/null)
[ $status = 0 ] || { echo "FAILED: sanitizers" >&2; exit 1; }
echo "== sanitizers: clean (build $((built - started)) s, tests $(( $(date +%s) - built )) s) =="
