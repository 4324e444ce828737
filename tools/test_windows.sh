#!/bin/sh
# Builds crashdrop's Windows x64 tests with mingw-w64 and runs them under wine.
#     tools/test_windows.sh [build-dir]        (default: build/mingw)
# As root it installs what is missing (g++-mingw-w64-x86-64, wine, wine64). The wine prefix
# lives inside the build tree (<build>/wineprefix), made once with `wineboot -i`; a persistent
# `wineserver -p` keeps later wine starts fast and is ended when the tests are done. No
# display is needed. tools/test.sh runs it (and CI requires it).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/mingw}
NICE="nice -n 19"

need=""
command -v x86_64-w64-mingw32-g++-posix >/dev/null 2>&1 || need="$need g++-mingw-w64-x86-64"
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null 2>&1 || need="$need wine wine64"
if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive $NICE apt-get install -y --no-install-recommends $need
    else
        echo "test_windows.sh: missing packages:$need (run as root, or install them)" >&2
        exit 1
    fi
fi

mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)  # wine wants an absolute WINEPREFIX
export WINEPREFIX="$BUILD/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" DISPLAY=
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    echo "-- creating the wine prefix $WINEPREFIX"
    $NICE wineboot -i >/dev/null 2>&1 || true
    # No crash debugger (winedbg --auto): with none to start, an unhandled exception ends the
    # process with its code at once, as on a Windows machine without a JIT debugger.
    $NICE wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' /v Debugger /t REG_SZ \
        /d crashdrop-no-debugger.exe /f >/dev/null 2>&1
    wineserver -w
fi
$NICE wineserver -p &
SERVER=$!
trap 'wineserver -k >/dev/null 2>&1 || true; wait $SERVER 2>/dev/null || true' EXIT
# Start wine's own service processes now, with their output going nowhere: started by the first
# test instead, they would inherit ctest's output pipe and ctest would wait for them to end.
$NICE wine cmd /c exit </dev/null >/dev/null 2>&1 || true

GEN=""
command -v ninja >/dev/null 2>&1 && GEN="-G Ninja"
# Optimised, without -g by default: the targets whose dumps are read with symbols add -g.
$NICE cmake -S "$ROOT" -B "$BUILD" $GEN -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 \
    -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchains/x86_64-w64-mingw32.cmake" >/dev/null
$NICE cmake --build "$BUILD" -j2
# One at a time: the upload cases measure deadlines, which a loaded machine would blur.
cd "$BUILD" && $NICE ctest --output-on-failure -j1
