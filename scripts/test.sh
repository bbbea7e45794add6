#!/bin/sh
# test.sh - build (if needed) and run the whole test suite with ctest.
#   scripts/test.sh [BUILD_DIR] [extra cmake -D options...]
# Set TK_TEST_STORE=postgres and TK_TEST_DSN to run against PostgreSQL.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$here/build"}
[ $# -gt 0 ] && shift
cmake -S "$here" -B "$build" "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
exec ctest --output-on-failure -j"$(nproc)" --timeout 900
