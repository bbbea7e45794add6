#!/bin/sh
# layers.sh [SRC] - the folder tree is the architecture (docs/ARCHITECTURE.md):
#   - front ends (core/cli, core/http, core/web) reach the store only through the
#     engine: they include no "store/..." or "db/..." header, call no
#     tk_store_* or tk_db_* function and use no tk_cursor_*, and include no
#     module's internal.h;
#   - nothing below a front end includes the front end's headers (no
#     folder cycle: core/lua once held CLI commands that included cli/cli.h);
#     core/cli may include http/http.h alone: main() hosts the server
#     (tickler run, tickler serve), it does not reach into it.
#     core/web (the staff console's pages) sits below core/http, whose
#     console routes include it, and beside core/cli; nothing else
#     includes web/.
# Exit 1 with FILE:LINE for each offence.
#   layers.sh --self-test   proves each rule fails on a planted offence.
set -u

check() {
    src=$1
    status=0
    fronts=""
    for d in core/cli core/http core/web; do
        [ -d "$src/$d" ] && fronts="$fronts $src/$d"
    done
    if [ -n "$fronts" ]; then
        # shellcheck disable=SC2086
        files=$(find $fronts -name '*.[ch]' | sort)
        if [ -n "$files" ]; then
            # shellcheck disable=SC2086
            if grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](store|db)/' $files; then
                echo "layers: a front end includes the store or the driver; use engine/engine.h"
                status=1
            fi
            # shellcheck disable=SC2086
            if grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([a-z]+/)?internal\.h' $files; then
                echo "layers: a front end includes another module's internal.h"
                status=1
            fi
            # shellcheck disable=SC2086
            if grep -HnE '(^|[^A-Za-z0-9_])tk_(store|db|cursor)_[A-Za-z0-9_]+' $files; then
                echo "layers: a front end uses the store or the driver directly; use a tk_engine_* function"
                status=1
            fi
        fi
    fi
    # No folder cycle: only a front end includes its own headers.
    for f in cli http; do
        others=$(find "$src/core" -name '*.[ch]' ! -path "$src/core/$f/*" 2>/dev/null | sort)
        [ -n "$others" ] || continue
        if [ "$f" = http ]; then
            # shellcheck disable=SC2086
            if grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]http/' $others |
                grep -vE '^[^:]*/core/cli/[^:]*:[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*"http/http\.h"'; then
                echo "layers: core/http is a front end; nothing below it includes its headers (core/cli: http/http.h only)"
                status=1
            fi
            continue
        fi
        # shellcheck disable=SC2086
        if grep -HnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]$f/" $others; then
            echo "layers: core/$f is a front end; nothing below it includes its headers"
            status=1
        fi
    done
    others=$(find "$src/core" -name '*.[ch]' ! -path "$src/core/web/*" ! -path "$src/core/http/*" \
        ! -path "$src/core/cli/*" 2>/dev/null | sort)
    # shellcheck disable=SC2086
    if [ -n "$others" ] && grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]web/' $others; then
        echo "layers: core/web is a front end; only core/http and core/cli include its headers"
        status=1
    fi
    return $status
}

self_test() {
    tmp=$(mktemp -d) || exit 2
    trap 'rm -rf "$tmp"' EXIT
    fails=0
    plant() { # NAME FILE TEXT: the rule must catch TEXT in FILE
        rm -rf "$tmp/core"
        mkdir -p "$tmp/core/cli" "$tmp/core/http" "$tmp/core/lua" "$tmp/core/engine" "$tmp/core/web"
        printf '#include "engine/engine.h"\nint ok(void);\n' >"$tmp/core/cli/ok.c"
        mkdir -p "$(dirname "$tmp/$2")"
        printf '%s\n' "$3" >"$tmp/$2"
        if check "$tmp" >"$tmp/out" 2>&1; then
            echo "layers self-test: '$1' was not caught"
            fails=1
        elif ! grep -q "$2" "$tmp/out"; then
            echo "layers self-test: '$1' was caught without naming $2"
            fails=1
        fi
    }
    rm -rf "$tmp/core"
    mkdir -p "$tmp/core/cli"
    printf '#include "engine/engine.h"\nint ok(void);\n' >"$tmp/core/cli/ok.c"
    check "$tmp" >/dev/null || { echo "layers self-test: a clean tree fails"; fails=1; }
    plant "store include" core/cli/bad.c '#include "store/store.h"'
    plant "db include" core/http/bad.c '#include "db/db.h"'
    plant "store call" core/cli/bad.c 'int f(void) { return tk_store_item_get(0, 1, 0, 0); }'
    plant "db call" core/http/bad.h 'static int g(void) { return tk_db_begin(0, 0, 0); }'
    plant "cursor" core/cli/bad.c 'void h(void) { tk_cursor_close(0); }'
    plant "internal" core/cli/bad.c '#include "engine/internal.h"'
    plant "cycle" core/lua/bad.c '#include "cli/cli.h"'
    plant "http cycle" core/engine/bad.c '#include "http/http.h"'
    plant "cli into the server" core/cli/bad.c '#include "http/router.h"'
    plant "web store include" core/web/bad.c '#include "store/users.h"'
    plant "web store call" core/web/bad.c 'int f(void) { return tk_store_user_get(0, 0, 0, 0, 0); }'
    plant "web cycle" core/engine/bad.c '#include "web/web.h"'
    [ $fails -eq 0 ] && echo "layers self-test: every planted offence caught"
    return $fails
}

if [ "${1:-}" = "--self-test" ]; then
    self_test
    exit $?
fi
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
if check "$src"; then
    echo "layers: 1 passed, 0 failed"
    exit 0
fi
echo "layers: 0 passed, 1 failed"
exit 1
