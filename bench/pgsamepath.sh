#!/bin/sh
# bench/pgsamepath.sh OLD_BUILD OLD_OUT NEW_BUILD NEW_OUT PGHOST PGPORT [N]
#
# samepath.py's check on PostgreSQL, for the dispatch path: one store with N
# (1000) queued notifications (bench/seed, as bench.py's dispatch section),
# made by OLD's tickler and seed, copied twice (CREATE DATABASE ... TEMPLATE);
# `tickler tick` at the same --now to smtp-sink with each build; then every
# row of every table of both copies compared (schema_version apart: a newer
# build may migrate).  OUT: a BENCH_OUT of bench/run.sh (its bin/seed built
# against that build, its templates).  PGHOST/PGPORT: a running cluster
# (user postgres, trust).  Prints "same TABLE" per table; exits 1 on a
# difference.
set -eu
[ $# -ge 6 ] || { echo "usage: $0 OLD_BUILD OLD_OUT NEW_BUILD NEW_OUT PGHOST PGPORT [N]" >&2; exit 2; }
old=$1 oldout=$2 new=$3 newout=$4 host=$5 port=$6 n=${7:-1000}
work=$(mktemp -d /tmp/pgsamepath.XXXXXX)
trap 'rm -rf "$work"' EXIT
P="psql -h $host -p $port -U postgres -XAtq"
sinkuser=""
[ "$(id -u)" = 0 ] && sinkuser="-u nobody"
ini() { # DB BUILD OUT SMTPPORT
    printf '[store]\ndriver = postgres\ndsn = host=%s port=%s dbname=%s user=postgres\n[transport]\nplugin = smtp\nurl = smtp://127.0.0.1:%s\n[plugins]\ndir = %s/lib/tickler/plugins\n[templates]\ndir = %s/templates\n' \
        "$host" "$port" "$1" "$4" "$2" "$3" > "$work/$1.ini"
}
for db in tksame_q tksame_old tksame_new; do $P -d postgres -c "DROP DATABASE IF EXISTS $db" 2>/dev/null; done
$P -d postgres -c "CREATE DATABASE tksame_q"
ini tksame_q "$old" "$oldout" 1
"$old/bin/tickler" -c "$work/tksame_q.ini" init >/dev/null
"$oldout/bin/seed" accounts "$work/tksame_q.ini" 100 >/dev/null
"$oldout/bin/seed" engine "$work/tksame_q.ini" "$n" 500 >/dev/null
$P -d postgres -c "CREATE DATABASE tksame_old TEMPLATE tksame_q" -c "CREATE DATABASE tksame_new TEMPLATE tksame_q"
now=$(date -u -d "+60 sec" +%Y-%m-%dT%H:%M:%SZ) # the items were sent now: only the queued go out
smtp=$((20000 + $$ % 20000))
ini tksame_old "$old" "$oldout" "$smtp"
ini tksame_new "$new" "$newout" "$smtp"
for side in old new; do
    eval build=\$$side
    smtp-sink $sinkuser -c "127.0.0.1:$smtp" 1000 >/dev/null & sink=$!
    sleep 0.3
    "$build/bin/tickler" -c "$work/tksame_$side.ini" --now "$now" tick
    kill "$sink"; wait "$sink" 2>/dev/null || true
done
rc=0
for t in $($P -d tksame_old -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"); do
    [ "$t" = schema_version ] && continue
    q="SELECT * FROM $t ORDER BY 1"
    if [ "$($P -d tksame_old -c "$q" | md5sum)" = "$($P -d tksame_new -c "$q" | md5sum)" ]; then
        echo "same $t ($($P -d tksame_old -c "SELECT count(*) FROM $t") rows)"
    else
        echo "DIFFERENT $t"; rc=1
    fi
done
echo "schema versions: old $($P -d tksame_old -c 'SELECT max(version) FROM schema_version')," \
     "new $($P -d tksame_new -c 'SELECT max(version) FROM schema_version')"
for db in tksame_q tksame_old tksame_new; do $P -d postgres -c "DROP DATABASE IF EXISTS $db"; done
exit $rc
