#!/bin/sh
# check.sh - mechanical style rules (docs/style.md lesson 13): no banned unsafe
# functions in tickler's C sources, and every exported core symbol uses the
# tk_ prefix.  Exit 1 with FILE:LINE for each offence.
set -u
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src" || exit 2
status=0
files=$(find core plugins include -name '*.[ch]' | sort)
# banned: sprintf strcpy strcat strtok atoi (word-bounded, not snprintf/strtok_r)
if grep -nE '(^|[^_a-zA-Z0-9])(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)[[:space:]]*\(' $files; then
    echo "style: banned function used (use snprintf, tk_strlcpy, tk_buf, tk_parse_int)"
    status=1
fi
# formatting: .clang-format is the rule; CI fails on any file it would change
if command -v clang-format >/dev/null 2>&1; then
    fmt_files=$(find core plugins include tests examples bench -name '*.[ch]' 2>/dev/null | sort)
    # shellcheck disable=SC2086
    if ! clang-format --dry-run -Werror $fmt_files 2>&1 | head -n 20 | grep . ; then
        :
    else
        echo "style: files not formatted with clang-format (run: clang-format -i FILE)"
        status=1
    fi
fi
lib=${2:-}
if [ -n "$lib" ] && [ -f "$lib" ]; then
    bad=$(nm -g --defined-only "$lib" 2>/dev/null | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^tk_' | grep -v '^__' || true)
    if [ -n "$bad" ]; then
        echo "style: exported symbols without the tk_ prefix in $lib:"
        echo "$bad"
        status=1
    fi
fi
[ $status -eq 0 ] && echo "style: 1 passed, 0 failed" || echo "style: 0 passed, 1 failed"
exit $status
