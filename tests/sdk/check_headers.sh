#!/bin/sh
# check_headers.sh - every SDK header compiles alone, as strict C99 and as
# C++11, with warnings as errors (docs/style.md lesson 7: "the SDK headers
# self-contained and C++-safe").  A second translation unit per language
# expands the SDK's macros (TK_HOST_HAS, TK_DESCR_HAS, the frozen 1.0
# sizes, TK_PLUGIN_HEADER_INIT), which a bare #include would not.
#   tests/sdk/check_headers.sh [SOURCE_DIR]      CC and CXX may be set
set -u
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cc=${CC:-cc}
cxx=${CXX:-c++}
inc="$src/include"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
pass=0

try() { # try WHAT COMPILER ARGS... < source
    what=$1
    shift
    if "$@" -fsyntax-only -I"$inc" - 2>"$tmp/err" <"$tmp/src"; then
        pass=$((pass + 1))
    else
        echo "sdk: $what does not compile:"
        sed 's/^/  /' "$tmp/err"
        status=1
    fi
}

C_FLAGS="-std=c99 -pedantic -Wall -Wextra -Werror"
CXX_FLAGS="-std=c++11 -pedantic -Wall -Wextra -Werror"
for h in "$inc"/tickler/*.h; do
    name=tickler/$(basename "$h")
    printf '#include "%s"\n' "$name" >"$tmp/src"
    # shellcheck disable=SC2086
    try "$name alone as C99" "$cc" $C_FLAGS -x c
    # shellcheck disable=SC2086
    try "$name alone as C++11" "$cxx" $CXX_FLAGS -x c++
done

cat >"$tmp/src" <<'SRC'
#include "tickler/item.h"
#include "tickler/transport.h"
#ifdef TK_TEST_ABI_GROWTH
#define GROWN , NULL
#else
#define GROWN
#endif
static const struct tk_item_type item = {
    TK_PLUGIN_HEADER_INIT(struct tk_item_type, TK_PLUGIN_ITEM, "x", "1", "d"),
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL GROWN};
static const struct tk_transport transport = {
    TK_PLUGIN_HEADER_INIT(struct tk_transport, TK_PLUGIN_TRANSPORT, "y", "1", "d"),
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, TK_TRANSPORT_IDEMPOTENT GROWN};
int tk_check(const struct tk_host *h);
int tk_check(const struct tk_host *h)
{
    return TK_HOST_HAS(h, format_date) + TK_HOST_HAS(h, config_dir) +
           TK_DESCR_HAS(&item, section) + TK_DESCR_HAS(&item, on_reply) +
           TK_DESCR_HAS(&transport, close) +
           TK_DESCR_HAS(&transport, probe) + TK_DESCR_HAS(&transport, flags) +
           (int)(TK_HOST_SIZE_1_0 + TK_ITEM_TYPE_SIZE_1_0 + TK_TRANSPORT_SIZE_1_0);
}
SRC
for growth in "" "-DTK_TEST_ABI_GROWTH"; do
    # shellcheck disable=SC2086
    try "the SDK macros as C99 $growth" "$cc" $C_FLAGS $growth -x c
    # shellcheck disable=SC2086
    try "the SDK macros as C++11 $growth" "$cxx" $CXX_FLAGS $growth -x c++
done

echo "sdk headers: $pass passed, $([ $status -eq 0 ] && echo 0 || echo 'some') failed"
exit $status
