#!/bin/sh
# package.sh - build the Debian package: tickler installed to /usr, with
# its service (systemd unit, sysusers.d, tmpfiles.d, logrotate,
# /etc/tickler/tickler.ini as a conffile).  Prints the .deb's path.
#   scripts/package.sh [BUILD_DIR] [extra cmake -D options...]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$here/build-deb"}
[ $# -gt 0 ] && shift
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
    -DTK_INSTALL_SYSTEM=ON -DTK_SYSTEMD=ON -DBUILD_TESTING=OFF "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
cd "$build"
rm -f tickler_*.deb
cpack -G DEB >/dev/null
ls "$build"/tickler_*.deb
