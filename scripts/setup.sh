#!/bin/sh
# setup.sh - on a fresh Debian 12 machine: install what is missing, build,
# install tickler into /usr/local, then run the demo.  Run as root (or with
# sudo available).  Safe to run again.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# libsystemd-dev: sd_notify under systemd; scdoc: the man pages; man-db and
# bash-completion: `man tickler` and TAB completion once installed
PKGS="build-essential cmake pkg-config liblua5.4-dev libinih-dev libcurl4-openssl-dev libidn2-dev
libjansson-dev libsqlite3-dev libpq-dev libical-dev tzdata python3 python3-aiosmtpd sqlite3
libgmime-3.0-dev libssl-dev libsystemd-dev scdoc man-db bash-completion libmicrohttpd-dev libsodium-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing:$missing"
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
fi

cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build" -j"$(nproc)"
$SUDO cmake --install "$here/build" >/dev/null
echo "setup: installed $(command -v tickler || echo /usr/local/bin/tickler)"
# the demo runs the installed binary: it finds its plugins and templates beside itself
exec sh "$here/scripts/demo.sh" "$(command -v tickler || echo /usr/local/bin/tickler)"
