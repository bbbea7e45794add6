#!/bin/sh
# bench/run.sh [--quick] [--only smtp,file,store,cli,scale,calendar,preview,daemon,dispatch,api,console]
#
# Builds tickler (Release) into bench/out/build unless TICKLER_BUILD names a
# build folder, compiles the bench helpers against its libtkcore.a, and runs
# bench/bench.py.  BENCH_CMAKE_ARGS (e.g. -DTK_STATIC_LIBS=OFF) is passed to
# that cmake.  See bench/README.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${BENCH_OUT:-$here/out}
build=${TICKLER_BUILD:-$out/build}
mkdir -p "$out/bin"

for tool in smtp-sink smtp-source msmtp cc cmake; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
        echo "bench: '$tool' not found; install: apt-get install postfix msmtp build-essential cmake" >&2
        exit 1
    fi
done
PATH=$PATH:/usr/sbin
export PATH

if [ -z "${TICKLER_BUILD:-}" ]; then
    # shellcheck disable=SC2086 # BENCH_CMAKE_ARGS: several words
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${BENCH_CMAKE_ARGS:-} >/dev/null
    cmake --build "$build" -j2 >/dev/null
fi
[ -x "$build/bin/tickler" ] || { echo "bench: no $build/bin/tickler" >&2; exit 1; }

cflags="-std=gnu11 -O2 -Wall -Wextra -I$root/core -I$root/include"
libs="-llua5.4 -linih -lcurl -ljansson -lsqlite3 -ldl -lm"
pkg-config --exists libpq 2>/dev/null && libs="$libs -lpq"
libs="$libs $(pkg-config --libs libical)"  # core/calendar
libs="$libs $(pkg-config --libs libidn2)"  # core/mail (IDN addresses)
libs="$libs $(pkg-config --libs libmicrohttpd gmime-3.0 libcrypto) -lpthread"  # core/http, core/inbound
libs="$libs $(pkg-config --libs libsodium)"  # core/engine users, core/web CSRF
cc $cflags "$here/seed.c" "$build/core/libtkcore.a" $libs -o "$out/bin/seed"
cc $cflags "$here/spoolwrite.c" -o "$out/bin/spoolwrite"
cc $cflags "$here/showrow.c" -lsqlite3 -o "$out/bin/showrow"
cc $cflags "$here/curlloop.c" -lcurl -o "$out/bin/curlloop"
cc $cflags "$here/mhdfixed.c" $(pkg-config --cflags --libs libmicrohttpd) -o "$out/bin/mhdfixed"
cc $cflags "$here/consolepages.c" "$build/core/libtkcore.a" $libs -o "$out/bin/consolepages"

exec /usr/bin/python3 "$here/bench.py" --build "$build" --out "$out" "$@"
