#!/bin/sh
# check_deb.sh DEB - install the tickler package into an empty root and check
# what it installed, as root on a CI machine (dpkg needs it).
#
# How: `dpkg --root=ROOT --force-script-chrootless -i`.  dpkg unpacks into
# ROOT, records the package in ROOT's database and runs the maintainer
# scripts on the host with $DPKG_ROOT=ROOT, which they honour (postinst
# runs systemd-sysusers/systemd-tmpfiles --root).  So the real postinst
# creates the user and the folders, and the real conffile handling runs,
# without a chroot: a chroot would need the package's dependencies (libc,
# libcurl, systemd, ...) installed in it first, debootstrap's minutes.
# ROOT starts from what every Debian system has: base-passwd's passwd and
# group (the adm group of the log folder).  The dependencies are not in
# ROOT (--force-depends), so the installed binary runs on the host's
# libraries, and systemd-analyze verify gets the host's systemd units and
# kill(1) copied into ROOT (the dependencies systemd and procps provide).
#
# Checked: the package status and conffiles, the tickler user and group,
# the folders' owners and modes, the configuration readable by the
# service's group only, `systemd-analyze verify` (no warning at all) and
# the security exposure of the installed unit, man -l on every installed
# page, the installed binary's --version, its default config path, its
# `check` against the installed configuration (paths moved into ROOT) run
# as the tickler user, the demo, the SDK files, and remove/purge keeping
# the store.
set -eu
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
root=$(mktemp -d /tmp/tickler-root.XXXXXX)
work=$(mktemp -d /tmp/tickler-pkgtest.XXXXXX)
trap 'rm -rf "$root" "$work"' EXIT
chmod 755 "$root" "$work"
fails=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND...
    what=$1
    shift
    if "$@" >"$work/out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/     /' "$work/out"; fi
}

mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/etc"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
cp /usr/share/base-passwd/passwd.master "$root/etc/passwd"
cp /usr/share/base-passwd/group.master "$root/etc/group"

dpkg --root="$root" --force-script-chrootless --force-depends --log=/dev/null -i "$deb" \
    >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; exit 1; }
grep -E "Creating|Setting up" "$work/dpkg.log" || true

check "dpkg: tickler is installed" sh -c \
    "dpkg --root='$root' -s tickler | grep -qx 'Status: install ok installed'"
check "dpkg: /etc/tickler/tickler.ini and the logrotate file are conffiles" sh -c \
    "dpkg-query --admindir='$root/var/lib/dpkg' -W -f='\${Conffiles}' tickler |
     grep -q '^ /etc/tickler/tickler.ini ' &&
     dpkg-query --admindir='$root/var/lib/dpkg' -W -f='\${Conffiles}' tickler |
     grep -q '^ /etc/logrotate.d/tickler '"

uid=$(awk -F: '$1 == "tickler" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "tickler" { print $3 }' "$root/etc/group")
adm=$(awk -F: '$1 == "adm" { print $3 }' "$root/etc/group")
check "sysusers: a tickler system user and group, home /var/lib/tickler, no login" sh -c \
    "[ -n '$uid' ] && [ '$uid' -lt 1000 ] && [ -n '$gid' ] &&
     grep -q '^tickler:x:$uid:$gid:[^:]*:/var/lib/tickler:/usr/sbin/nologin$' '$root/etc/passwd'"
owner() { stat -c '%u:%g %a' "$root$1"; }
check "tmpfiles: /var/lib/tickler tickler:tickler 0750" test "$(owner /var/lib/tickler)" = "$uid:$gid 750"
check "tmpfiles: /var/lib/tickler/spool tickler:tickler 0750" \
    test "$(owner /var/lib/tickler/spool)" = "$uid:$gid 750"
check "tmpfiles: /var/log/tickler tickler:adm 0750" test "$(owner /var/log/tickler)" = "$uid:$adm 750"
check "postinst: /etc/tickler/tickler.ini root:tickler 0640" \
    test "$(owner /etc/tickler/tickler.ini)" = "0:$gid 640"
check "/etc/tickler/plugins root:root 0755 (the search path's second folder)" \
    test "$(owner /etc/tickler/plugins)" = "0:0 755"
for f in /usr/bin/tickler /usr/lib/tickler/plugins/invoice.so /usr/lib/tickler/plugins/smtp.so \
    /usr/share/tickler/templates/en/invoice/default.tmpl /usr/include/tickler/item.h \
    /usr/share/pkgconfig/tickler.pc /usr/share/cmake/Tickler/TicklerConfig.cmake \
    /usr/share/cmake/Tickler/embed_templates.cmake /usr/share/doc/tickler/templates.md \
    /usr/share/bash-completion/completions/tickler /usr/lib/sysusers.d/tickler.conf \
    /usr/lib/tmpfiles.d/tickler.conf /etc/logrotate.d/tickler; do
    [ -e "$root$f" ] || bad "installed: $f"
done
ok "installed: binary, plugins, templates, SDK, docs, completion, sysusers/tmpfiles/logrotate"
unit=$(dpkg --root="$root" -L tickler | grep '/systemd/system/tickler.service$')
check "the unit is installed ($unit)" test -f "$root$unit"

# systemd-analyze verify: the host's systemd units and kill(1) stand in for
# the dependencies; a warning (an unknown key is only a warning) fails too
mkdir -p "$root/bin" "$root$(dirname "$unit")"
cp /bin/kill "$root/bin/kill"
cp -an /lib/systemd/system/. "$root$(dirname "$unit")/"
check "systemd-analyze verify: no error, no warning" sh -c \
    "out=\$(systemd-analyze verify --root='$root' --man=no tickler.service 2>&1) &&
     [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
for key in Type=notify ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes \
    Restart=on-failure "ReadWritePaths=/var/lib/tickler /var/log/tickler" User=tickler \
    "ExecStart=/usr/bin/tickler run" "Environment=TICKLER_CONFIG=/etc/tickler/tickler.ini"; do
    grep -qx "$key" "$root$unit" || bad "unit: $key"
done
ok "unit: Type=notify, ProtectSystem=strict, ReadWritePaths, NoNewPrivileges, PrivateTmp, Restart"
exposure=$(systemd-analyze security --offline=yes --root="$root" tickler.service 2>/dev/null |
    sed -n 's/.*Overall exposure level for tickler.service: \([0-9.]*\).*/\1/p')
echo "     systemd-analyze security: exposure $exposure"
check "systemd-analyze security: exposure below 2.0 ($exposure)" \
    awk -v e="$exposure" 'BEGIN { exit !(e != "" && e < 2.0) }'

for page in man1/tickler.1 man5/tickler.ini.5 man7/tickler-lua.7 man7/tickler-plugin.7; do
    check "man -l $page.gz" sh -c \
        "out=\$(MANWIDTH=80 man --warnings -P cat -l '$root/usr/share/man/$page.gz' 2>&1 >/dev/null) &&
         [ -z \"\$out\" ] && MANWIDTH=80 man -P cat -l '$root/usr/share/man/$page.gz' | grep -q '^NAME'"
done

bin=$root/usr/bin/tickler
check "tickler -V" sh -c "'$bin' -V | grep -q '^tickler [0-9.]* (plugin ABI [0-9.]*)$'"
check "the default configuration is /etc/tickler/tickler.ini" sh -c \
    "cd '$work' && ! env -u TICKLER_CONFIG '$bin' list 2>'$work/err'; cat '$work/err';
     grep -q '/etc/tickler/tickler.ini exists' '$work/err'"
check "pkg-config: plugindir is the installed plugins folder" sh -c \
    "d=\$(PKG_CONFIG_LIBDIR='$root/usr/share/pkgconfig' pkg-config --variable=plugindir tickler) &&
     [ \"\$(cd \"\$d\" && pwd -P)\" = \"\$(cd '$root/usr/lib/tickler/plugins' && pwd -P)\" ]"

# The installed configuration, its /var paths moved into ROOT, checked and
# used as the service would: as the tickler user.
conf=$root/etc/tickler/ci.ini
sed -e "s#/var/lib/tickler#$root/var/lib/tickler#g" -e "s#/var/log/tickler#$root/var/log/tickler#g" \
    "$root/etc/tickler/tickler.ini" >"$conf"
chgrp "$gid" "$conf"
chmod 640 "$conf"
as_tickler() { setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@"; }
check "check before init: the missing store is the one problem" sh -c \
    "! as_out=\$(setpriv --reuid=$uid --regid=$gid --clear-groups '$bin' -c '$conf' check 2>&1);
     echo \"\$as_out\"; echo \"\$as_out\" | grep -q '^store *FAIL' &&
     [ \"\$(echo \"\$as_out\" | grep -c FAIL)\" = 1 ]"
check "init as the tickler user" as_tickler "$bin" -c "$conf" init
check "check: every step ok as the tickler user" sh -c \
    "setpriv --reuid=$uid --regid=$gid --clear-groups '$bin' -c '$conf' check &&
     setpriv --reuid=$uid --regid=$gid --clear-groups '$bin' -c '$conf' --json check |
     grep -q '\"ok\": true'"
check "send with the installed config: a message in the spool" sh -c \
    "t='$bin -c $conf'; a=\$(setpriv --reuid=$uid --regid=$gid --clear-groups \$t account add Acme) &&
     setpriv --reuid=$uid --regid=$gid --clear-groups \$t contact add \$a ann@acme.example &&
     setpriv --reuid=$uid --regid=$gid --clear-groups \$t send invoice --account \$a --title Fees \
        --set amount=1.00 --set currency=EUR >/dev/null &&
     ls '$root/var/lib/tickler/spool/' | grep -q '\\.eml\$'"
check "the demo runs on the installed binary" sh -c \
    "sh '$src/scripts/demo.sh' '$bin' > '$work/demo.log' 2>&1; rc=\$?; tail -n 1 '$work/demo.log';
     [ \$rc = 0 ] && tail -n 1 '$work/demo.log' | grep -q '^demo: [0-9]* messages'"
# the demo leaves its folder for the reader; remove this run's only
demo_dir=$(sed -n 's/^== a fresh store in //p' "$work/demo.log")
case $demo_dir in /tmp/tickler-demo.*) rm -rf "$demo_dir" ;; esac

check "remove: the service files go, the conffile stays" sh -c \
    "dpkg --root='$root' --force-script-chrootless --log=/dev/null -r tickler >/dev/null &&
     [ ! -e '$root/usr/bin/tickler' ] && [ -e '$root/etc/tickler/tickler.ini' ]"
check "purge: the configuration and logs go, the store stays" sh -c \
    "dpkg --root='$root' --force-script-chrootless --log=/dev/null -P tickler >/dev/null &&
     [ ! -e '$root/etc/tickler/tickler.ini' ] && [ ! -e '$root/var/log/tickler' ] &&
     [ -e '$root/var/lib/tickler/tickler.db' ]"

if [ $fails -ne 0 ]; then
    echo "check_deb: $fails failed"
    exit 1
fi
echo "check_deb: all passed"
