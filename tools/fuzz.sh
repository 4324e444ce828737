#!/usr/bin/env bash
# Builds and runs every fuzz target (tests/fuzz/<name>_fuzz.cpp, libFuzzer with ASan+UBSan):
#   tools/fuzz.sh [seconds-per-target] [name...]
# For each target: build with clang++-14 into build/fuzz/ (again only when a source or a header
# changed), replay its regressions (tests/fuzz/regressions/<name>/) and its seed corpus
# (tests/fuzz/corpus/<name>/) input by input, then fuzz it for the given time (default 20 s;
# `tools/fuzz.sh 600` for a longer run). New inputs that cover more go to build/fuzz/<name>/corpus
# (kept between runs, never into the repository). Any finding - crash, sanitizer report, leak,
# timeout, memory limit - fails the run; its input is kept in build/fuzz/<name>/findings/ and
# printed. Prints per target: executions, coverage, findings.
# Environment: CRASHDROP_FUZZ_CXX (default clang++-14), CRASHDROP_FUZZ_DIR (default build/fuzz),
# CRASHDROP_JOBS (targets built and fuzzed at once, default nproc), CRASHDROP_FUZZ_BUILD_ONLY=1 (build,
# do not run).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
[ $# -gt 0 ] && shift
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: tools/fuzz.sh [seconds-per-target] [name...]" >&2; exit 2; }
cxx=${CRASHDROP_FUZZ_CXX:-clang++-14}
out=${CRASHDROP_FUZZ_DIR:-build/fuzz}
jobs=${CRASHDROP_JOBS:-$(nproc)}
started=$(date +%s)

command -v "$cxx" >/dev/null || { echo "FAILED: fuzzing needs $cxx (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }
if ! echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
     "$cxx" -x c++ -fsanitize=fuzzer,address,undefined - -o /dev/null 2>/dev/null; then
    echo "FAILED: $cxx cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev)" >&2
    exit 1
fi

if [ $# -gt 0 ]; then
    names=("$@")
else
    names=()
    for f in tests/fuzz/*_fuzz.cpp; do n=${f##*/}; names+=("${n%_fuzz.cpp}"); done
fi
[ ${#names[@]} -gt 0 ] || { echo "FAILED: no fuzz targets in tests/fuzz" >&2; exit 1; }
mkdir -p "$out"
# libFuzzer's driver keeps one small allocation to the end (clang 14); it is not the library's.
printf 'leak:fuzzer::FuzzerDriver\n' >"$out/lsan.supp"
export LSAN_OPTIONS="suppressions=$PWD/$out/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="handle_abort=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"  # an invariant that fails (abort) prints where

# ---- build (in parallel; a target is rebuilt when anything it includes is newer) ----
build_one() {
    local name=$1 src="tests/fuzz/$1_fuzz.cpp" bin="$out/$1/$1_fuzz"
    mkdir -p "$out/$name"
    if [ -x "$bin" ] && [ -z "$(find "$src" include tests/support -newer "$bin" -name '*.?pp' -print -quit)" ]; then
        return 0
    fi
    if ! "$cxx" -std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
         -Wall -Wextra -Iinclude "$src" -o "$bin.tmp" -pthread -ldl >"$out/$name/build.log" 2>&1; then
        echo "FAILED: building $src:" >&2
        cat "$out/$name/build.log" >&2
        return 1
    fi
    mv "$bin.tmp" "$bin"
}
export -f build_one
export cxx out
echo "== fuzz: building ${#names[@]} targets with $cxx ($jobs at once) =="
printf '%s\n' "${names[@]}" | xargs -P "$jobs" -I{} bash -c 'build_one {}' || exit 1
built=$(date +%s)
# CRASHDROP_FUZZ_BUILD_ONLY=1: the targets are built, nothing is run (tools/test.sh builds them
# at the lowest priority while ctest runs).
if [ "${CRASHDROP_FUZZ_BUILD_ONLY:-0}" = 1 ]; then
    echo "== fuzz: ${#names[@]} targets built in $((built - started)) s (build only) =="
    exit 0
fi

# ---- replay, then fuzz ----
run_one() {
    local name=$1 bin="$out/$1/$1_fuzz" dir="$out/$1"
    local seeds="tests/fuzz/corpus/$name" regressions="tests/fuzz/regressions/$name"
    local log="$dir/fuzz.log" status=0
    rm -rf "$dir/findings" && mkdir -p "$dir/findings" "$dir/corpus"
    local inputs=()
    for d in "$regressions" "$seeds"; do
        [ -d "$d" ] && while IFS= read -r -d '' f; do inputs+=("$f"); done < <(find "$d" -type f ! -name '*.md' -print0 | sort -z)
    done
    if [ ${#inputs[@]} -gt 0 ] &&
       ! "$bin" -rss_limit_mb=2048 -timeout=5 -artifact_prefix="$dir/findings/" "${inputs[@]}" >"$dir/replay.log" 2>&1; then
        echo "FAILED: $name: a regression or seed input fails (log: $dir/replay.log):" >&2
        tail -40 "$dir/replay.log" >&2
        return 1
    fi
    # Fuzzing starts from the seeds (the regressions were just replayed; some are large on
    # purpose and would raise libFuzzer's input size limit for every target input).
    local corpus_dirs=("$dir/corpus")
    [ -d "$seeds" ] && corpus_dirs+=("$seeds")
    timeout $((seconds + 300)) "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$dir/findings/" "${corpus_dirs[@]}" >"$log" 2>&1 || status=$?
    local runs cov ft findings
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    findings=$(find "$dir/findings" -type f | wc -l)
    printf 'fuzz: %-16s %9s executions in %4s s, coverage %5s edges (%s features), %3d inputs in %s, %d replayed, findings: %d\n' \
        "$name" "${runs:-?}" "$seconds" "${cov:-?}" "${ft:-?}" "$(find "$dir/corpus" -type f | wc -l)" "$dir/corpus" \
        "${#inputs[@]}" "$findings"
    if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
        echo "FAILED: $name (exit $status; log: $log):" >&2
        grep -v '^#[0-9]' "$log" | tail -60 >&2
        for f in "$dir"/findings/*; do
            [ -f "$f" ] || continue
            echo "finding kept at $f ($(wc -c <"$f") bytes); fix it, then keep it in $regressions/:" >&2
            od -A x -t x1z -v "$f" | head -32 >&2
        done
        return 1
    fi
}
export -f run_one
export seconds
echo "== fuzz: replaying regressions and seeds, then ${seconds} s per target ($jobs at once) =="
status=0
printf '%s\n' "${names[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}' || status=1
echo "== fuzz: ${#names[@]} targets, build $((built - started)) s, replay and fuzz $(( $(date +%s) - built )) s: $([ $status = 0 ] && echo clean || echo FINDINGS) =="
exit $status
