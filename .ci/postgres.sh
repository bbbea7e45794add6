#!/bin/bash
# .ci/postgres.sh BUILD_DIR - the whole ctest suite again, on PostgreSQL.
#
# Starts a throwaway cluster (initdb + pg_ctl, as an unprivileged user, on a
# free loopback port, in a temporary folder), points the tests at it with
# TK_TEST_STORE=postgres and TK_TEST_DSN (tkharness creates one database per
# deployment on it), then stops and removes the cluster, whatever happens.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$here/build"}
py=/usr/bin/python3
[ -x "$py" ] || py=python3

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "postgres.sh: PostgreSQL server not installed (apt-get install postgresql)" >&2
    exit 1
fi
[ -x "$build/bin/tickler" ] || "$here/scripts/test.sh" "$build" >/dev/null

dir=$(mktemp -d /tmp/tk-ci-pg.XXXXXX)
cleanup() { "$py" "$here/tests/integration/pgcluster.py" stop "$dir" || true; }
trap cleanup EXIT INT TERM

dsn=$("$py" "$here/tests/integration/pgcluster.py" start "$dir")
echo "postgres.sh: cluster in $dir, $dsn"
cd "$build"
TK_TEST_STORE=postgres TK_TEST_DSN="$dsn" ctest --output-on-failure -j"$(nproc)" --timeout 900
