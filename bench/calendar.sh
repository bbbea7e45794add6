#!/bin/sh
# bench/calendar.sh - ns per call of core/calendar's questions (bench/calendar.c):
# next_opening for a few calendars, to_local, the Date header, building a
# calendar from cached pieces.  Builds tickler in Release mode into
# bench/out/build unless TICKLER_BUILD names a build folder.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${BENCH_OUT:-$here/out}
build=${TICKLER_BUILD:-$out/build}
mkdir -p "$out/bin"
if [ -z "${TICKLER_BUILD:-}" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2 --target tkcore >/dev/null
fi
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -Wall -Wextra -I"$root/core" -I"$root/include" "$here/calendar.c" \
    "$build/core/libtkcore.a" $(pkg-config --libs libical) -lm -o "$out/bin/calendar"
exec "$out/bin/calendar" "$root/tests/fixtures/calendar"
