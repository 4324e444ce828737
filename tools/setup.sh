#!/usr/bin/env bash
# Installs what building, testing and the demo need, then exports where the dump readers are.
# Sourced by tools/test.sh and tools/demo.sh; may also be run on its own.
#   - Debian packages (apt-get, when root): compilers, cmake, ninja, meson, Catch2, lldb-14, node/npm;
#     clang-14 with libclang-rt-14-dev for the fuzz targets (tools/fuzz.sh)
#   - (chromium, for the crash viewer's browser test, is installed by tools/test.sh while it builds)
#   - Breakpad's prebuilt processor from the npm package "minidump" (minidump_stackwalk,
#     minidump_dump, dump_syms), unpacked into a cache folder, never into the repository.
#   - Sentry's own CLI from the npm package "@sentry/cli-linux-x64" (sentry-cli, one static
#     binary), the same way: the test that our module ids are the ids Sentry computes for the
#     files runs `sentry-cli debug-files check` (tests/crash/crash_tests.cpp).
# Exports CRASHDROP_MINIDUMP_TOOLS (folder of those three binaries) and CRASHDROP_SENTRY_CLI.
set -euo pipefail

# "command-or-file:debian-package": a package is installed only when what it provides is missing.
crashdrop_needs=(g++:g++ clang++:clang cmake:cmake ninja:ninja-build meson:meson lldb-14:lldb-14 python3:python3
                 node:nodejs npm:npm pkg-config:pkg-config objdump:binutils c++filt:binutils
                 /usr/include/catch2/catch.hpp:catch2)
crashdrop_minidump_version=0.26.0
crashdrop_cache=${CRASHDROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crashdrop}

crashdrop_install_packages() {
    local missing=() need what pkg
    for need in "${crashdrop_needs[@]}"; do
        what=${need%%:*} pkg=${need##*:}
        if [[ $what == /* ]]; then [ -e "$what" ] && continue; else command -v "$what" >/dev/null && continue; fi
        [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null || { echo "setup: apt-get update failed" >&2; return 1; }
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
            { echo "setup: apt-get install ${missing[*]} failed" >&2; return 1; }
    else
        echo "setup: missing: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
        return 1
    fi
}

crashdrop_fetch_readers() {
    local dir="$crashdrop_cache/minidump-$crashdrop_minidump_version"
    local bin="$dir/package/bin/linux-x64"
    if [ ! -x "$bin/minidump_stackwalk" ] || [ ! -x "$bin/dump_syms" ] || [ ! -x "$bin/minidump_dump" ]; then
        echo "setup: fetching npm minidump@$crashdrop_minidump_version into $dir" >&2
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
        (cd "$dir.tmp" && npm pack --silent "minidump@$crashdrop_minidump_version" >/dev/null && tar xzf "minidump-$crashdrop_minidump_version.tgz")
        chmod +x "$dir.tmp/package/bin/linux-x64/"* 2>/dev/null || true
        rm -rf "$dir" && mv "$dir.tmp" "$dir"
    fi
    local usage
    usage=$("$bin/minidump_stackwalk" 2>&1 || true)
    if [[ $usage != *Usage* ]]; then
        echo "setup: $bin/minidump_stackwalk does not run on this machine" >&2
        return 1
    fi
    export CRASHDROP_MINIDUMP_TOOLS="$bin"
}

# sentry-cli, pinned like the minidump package; fetched with npm pack (the package's own install
# script, which would download the binary again, is never run). A failure stops the setup as a
# missing reader does: tools/test.sh (and so CI) never runs without it.
crashdrop_sentry_cli_version=3.8.0
crashdrop_fetch_sentry_cli() {
    local v=$crashdrop_sentry_cli_version
    local dir="$crashdrop_cache/sentry-cli-$v"
    local bin="$dir/package/bin/sentry-cli"
    if [ ! -x "$bin" ]; then
        echo "setup: fetching npm @sentry/cli-linux-x64@$v into $dir" >&2
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
        (cd "$dir.tmp" && npm pack --silent "@sentry/cli-linux-x64@$v" >/dev/null && tar xzf "sentry-cli-linux-x64-$v.tgz") ||
            { echo "setup: could not fetch @sentry/cli-linux-x64@$v" >&2; rm -rf "$dir.tmp"; return 1; }
        chmod +x "$dir.tmp/package/bin/sentry-cli" 2>/dev/null || true
        rm -rf "$dir" && mv "$dir.tmp" "$dir"
    fi
    local version
    version=$(SENTRY_DISABLE_UPDATE_CHECK=1 "$bin" --version 2>&1 || true)
    if [[ $version != "sentry-cli $v" ]]; then
        echo "setup: $bin does not run on this machine (said: $version)" >&2
        return 1
    fi
    export CRASHDROP_SENTRY_CLI="$bin"
}

# Node-API's headers for the addon of the real-host tests (tests/host/real_hosts.py): Node's own
# (/usr/include/node), or where a package has none, npm's node-api-headers (ABI-stable) unpacked
# into the cache; exports CRASHDROP_NODE_API_INCLUDE then.
crashdrop_node_api_headers_version=1.1.0
crashdrop_fetch_node_api_headers() {
    [ -e /usr/include/node/node_api.h ] && return 0
    local v=$crashdrop_node_api_headers_version
    local dir="$crashdrop_cache/node-api-headers-$v"
    if [ ! -e "$dir/package/include/node_api.h" ]; then
        echo "setup: fetching npm node-api-headers@$v into $dir" >&2
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
        (cd "$dir.tmp" && npm pack --silent "node-api-headers@$v" >/dev/null && tar xzf "node-api-headers-$v.tgz") ||
            { echo "setup: could not fetch node-api-headers@$v" >&2; return 0; }
        rm -rf "$dir" && mv "$dir.tmp" "$dir"
    fi
    export CRASHDROP_NODE_API_INCLUDE="$dir/package/include"
}

# The cross compiler, its sysroot and qemu-user: what the aarch64 crash tests need
# (tools/test.sh installs them when root; they are optional elsewhere).
crashdrop_have_aarch64() {
    command -v aarch64-linux-gnu-g++ >/dev/null && command -v qemu-aarch64 >/dev/null &&
        command -v aarch64-linux-gnu-objdump >/dev/null && [ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ]
}

crashdrop_have_windows() {
    command -v x86_64-w64-mingw32-g++-posix >/dev/null &&
        { [ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null; } && command -v wineserver >/dev/null
}

# clang 14 with its sanitizer and libFuzzer runtimes: what tools/fuzz.sh needs (optional here;
# tools/test.sh fails under CI without it, as for the cross builds).
crashdrop_have_fuzzer() {
    command -v clang++-14 >/dev/null &&
        echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
        clang++-14 -x c++ -fsanitize=fuzzer,address,undefined - -o /dev/null 2>/dev/null
}

crashdrop_install_fuzzer() {
    crashdrop_have_fuzzer && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing clang-14 libclang-rt-14-dev (fuzzing)" >&2
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends clang-14 libclang-rt-14-dev >/dev/null; } ||
            echo "setup: could not install clang-14 libclang-rt-14-dev" >&2
    fi
}

# Headless Chromium renders the crash viewer in its test (tests/viewer_test.py; optional here:
# the test and tools/test.sh fail under CI without it, and skip loudly elsewhere).
crashdrop_have_browser() {
    command -v "${CRASHDROP_CHROMIUM:-chromium}" >/dev/null
}


crashdrop_install_packages || return 1 2>/dev/null || exit 1
crashdrop_install_fuzzer
crashdrop_fetch_readers || return 1 2>/dev/null || exit 1
crashdrop_fetch_sentry_cli || return 1 2>/dev/null || exit 1
crashdrop_fetch_node_api_headers
export CRASHDROP_LLDB=${CRASHDROP_LLDB:-lldb-14}
echo "setup: readers in $CRASHDROP_MINIDUMP_TOOLS, lldb is $CRASHDROP_LLDB, sentry-cli is $CRASHDROP_SENTRY_CLI" >&2
