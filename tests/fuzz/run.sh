#!/bin/sh
# run.sh [SECONDS] - build the libFuzzer targets with clang in a separate
# folder and run each for SECONDS (default 20).  Exits non-zero as soon as a
# target finds a crash, leak or failed assertion (the reproducer is left in
# the build folder as crash-*/leak-*/oom-*).
#
#   TK_FUZZ_BUILD  build folder (default build-fuzz in the source tree, so
#                  two checkouts never share one CMake cache)
set -eu

secs=${1:-20}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${TK_FUZZ_BUILD:-$src/build-fuzz}
targets="fuzz_mail fuzz_template fuzz_calendar fuzz_inbound fuzz_address fuzz_json fuzz_http fuzz_webhook fuzz_web"

command -v clang >/dev/null || { echo "run.sh: clang not found" >&2; exit 2; }

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
      -DBUILD_TESTING=ON -DTK_FUZZ=ON >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log" >&2; exit 1; }
# fuzz_webhook runs a real engine: the plugins it loads, and the templates
cmake --build "$build" -j2 --target $targets organizer proposal invoice chat signature approval file
export TK_PLUGIN_DIR="$build/lib/tickler/plugins" TK_SOURCE_DIR="$src"

fuzzdir=$build/tests/fuzz

# Seed corpora: the shipped templates, a few hand-written messages, the
# inbound fixtures (real bounces, replies, junk), and hostile record values.
mkdir -p "$fuzzdir/corpus/mail" "$fuzzdir/corpus/template" "$fuzzdir/corpus/calendar" \
    "$fuzzdir/corpus/inbound" "$fuzzdir/corpus/address" "$fuzzdir/corpus/json" \
    "$fuzzdir/corpus/http" "$fuzzdir/corpus/webhook" "$fuzzdir/corpus/web"
cp "$src"/tests/fixtures/inbound/*.eml "$fuzzdir/corpus/inbound/"
# inputs that once failed, run first every time (tests/fuzz/regress/TARGET/)
cp "$src"/tests/fuzz/regress/inbound/* "$fuzzdir/corpus/inbound/"
if [ -d "$src/etc/templates" ]; then
    find "$src/etc/templates" -name '*.tmpl' | while read -r f; do
        cp "$f" "$fuzzdir/corpus/template/$(echo "$f" | tr '/' '_')"
    done
fi
printf 'description = x\nreminders = on\n\n[notification]\nSubject: Hi {{firm.name}}\n\n{{#item.title}}\nT {{item.title}}\n{{/item.title}}\n\\[x]\n' \
    >"$fuzzdir/corpus/template/seed1"
printf 'Subject \303\251 \r\nBcc: x@y\0Jane\nDoe\0"Q" <x>\0jane@x.example\0body\r\nline\r\0<p>h</p>\0v\r\nX: y' \
    >"$fuzzdir/corpus/mail/seed1"

# calendar: the first byte picks the parser (0 window, 1 .ics, 2 TZif)
n=0
for w in "mon-fri 09:00-17:00" "always" "Mon-Fri 9:00-12:00, 13:00-17:00; sat 10:00-12:00" \
         "fri-mon 22:00-24:00" "09:00-17:00" "sat,sun"; do
    printf '\000%s' "$w" >"$fuzzdir/corpus/calendar/window$n"
    n=$((n + 1))
done
for f in "$src"/tests/fixtures/calendar/*.ics; do
    { printf '\001'; cat "$f"; } >"$fuzzdir/corpus/calendar/ics_$(basename "$f")"
done
for z in UTC Europe/Amsterdam America/New_York Australia/Lord_Howe America/Nuuk; do
    [ -f "/usr/share/zoneinfo/$z" ] &&
        { printf '\002'; cat "/usr/share/zoneinfo/$z"; } >"$fuzzdir/corpus/calendar/tzif_$(echo "$z" | tr / _)"
done

# Addresses: plain, IDN, UTF-8 local part, quoted, and the refused shapes
# the checker names (dots, bad UTF-8, controls, literals, hyphens).
i=0
for a in 'ann@example.com' 'user@b\303\274cher.example' '\303\274n\303\257@example.com' \
         '"john doe"@example.com' '"a\\"b@c"@example.com' 'jo.@example.com' 'a..b@example.com' \
         'a\377b@example.com' 'x@xn--bcher-kva.example' 'x@xn--zz.example' 'x@[192.0.2.1]' \
         'x@-a.example' 'tickler@localhost' 'x@\342\230\203.example' 'a@b@c.example' \
         'o\047brien+tag@mail-1.example.co.uk' 'x@stra\303\237e.de' 'a\001b@example.com' \
         'a\302\205b@example.com'; do
    i=$((i + 1))
    printf "$a" >"$fuzzdir/corpus/address/seed$i"
done

# JSON: NUL-separated values for the records' strings (fuzz_json.c): plain
# text, a byte that is not UTF-8, a truncated sequence, a surrogate, an
# overlong slash, controls, and a field name that is not UTF-8.
printf 'invoice\0Fees \033[2J\0pending\0default\0amount\0450.00\0EUR\0Acme BV\0Ann\0en\0ann@acme.example\0550 no' \
    >"$fuzzdir/corpus/json/seed1"
printf 'x\377y\0caf\303\0\355\240\200\0\300\257\0n\342\202\0\001\037\177\0\302\233\0k\377\0v\0\360\237\230\200\0' \
    >"$fuzzdir/corpus/json/seed2"

# HTTP: selector byte, path and query, NUL, body (fuzz_http.c)
printf '\001/api/v1/items?account=Acme+BV&pending=true&limit=5&cursor=12\0{"type":"invoice","account":"Acme BV","title":"Fees","reminders":{"enabled":true,"every_days":3,"count":2},"fields":{"amount":"450.00","currency":"EUR","n":1.5}}' \
    >"$fuzzdir/corpus/http/seed1"
printf '\006/api/v1/accounts/Acme%%20BV/contacts/ann%%40x.example?x=%%zz\0{"enabled":false,"every_days":365,"count":0}' \
    >"$fuzzdir/corpus/http/seed2"
printf '\010/api/v1/items?limit=1000&cursor=9223372036854775807&type=%%00\0' >"$fuzzdir/corpus/http/seed3"
printf '\015/hooks/payments\0{"name":"a","name":"b","notify":1,"email":5}' >"$fuzzdir/corpus/http/seed4"

# Webhooks: hook/signing byte, content-type byte, headers, empty line, body
# (fuzz_webhook.c).
printf '\004\000X-Tickler-Delivery: d1\0\0{"id":"e1","item":1,"event":"paid"}' \
    >"$fuzzdir/corpus/webhook/seed1"
printf '\005\001\0\0a=1&b=x+y%%21&c&=d' >"$fuzzdir/corpus/webhook/seed2"
printf '\006\003Sig: v1,00\0\0{"item":"1","event":"paid","call":true,"id":7}' \
    >"$fuzzdir/corpus/webhook/seed3"
printf '\004\000\0\0[[[[{"a":[1,2,{"b":null}]}]]]]' >"$fuzzdir/corpus/webhook/seed4"
# web: the console's form bodies, with the XSS payloads the browser test
# stores, broken escapes and bytes that are not UTF-8
printf 'csrf=0123&op=on&every_days=5&count=2' >"$fuzzdir/corpus/web/seed1"
printf 'username=%%3Cscript%%3Ealert(1)%%3C%%2Fscript%%3E&password=x+y&q=%%22%%3E%%3Cimg+src%%3Dx%%3E' \
    >"$fuzzdir/corpus/web/seed2"
printf 'a=%%ff%%c3&b=%%e2%%82&c=javascript:alert(1)&d=%%0d%%0a&e=%%4&f=%%zz' >"$fuzzdir/corpus/web/seed3"

# TK_FUZZ_SEED fixes libFuzzer's seed (CI sets it, so that a run can be
# replayed); unset, every run explores afresh.
seed_opt=""
[ -n "${TK_FUZZ_SEED:-}" ] && seed_opt="-seed=$TK_FUZZ_SEED"
for t in $targets; do
    echo "== $t for ${secs}s $seed_opt"
    # shellcheck disable=SC2086
    (cd "$fuzzdir" && ASAN_OPTIONS=detect_leaks=1 "./$t" -max_total_time="$secs" $seed_opt \
        -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 "corpus/${t#fuzz_}")
done
echo "run.sh: all fuzz targets ran ${secs}s without findings"
