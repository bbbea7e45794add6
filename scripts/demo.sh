#!/bin/sh
# demo.sh - tickler on the embedded default (SQLite + file spool) in a
# temporary folder: a firm sends one item of each type and the simulated
# days go by with --now, so reminders go out, clients act, reminders stop.
#   scripts/demo.sh [TICKLER_BINARY]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-}
if [ -z "$bin" ]; then
    if [ -x "$here/build/bin/tickler" ]; then bin="$here/build/bin/tickler"
    else bin=$(command -v tickler); fi
fi
dir=$(mktemp -d /tmp/tickler-demo.XXXXXX)
cp "$here/etc/tickler.ini" "$dir/tickler.ini"
export TICKLER_CONFIG="$dir/tickler.ini"
day() { printf '2026-12-%02dT09:00:00Z' "$1"; }
tk() { "$bin" "$@"; }
say() { printf '\n== %s\n' "$*"; }

say "a fresh store in $dir"
tk init
acme=$(tk account add "Acme BV")
jansen=$(tk account add "Jansen Holding" --language nl)
tk contact add "$acme" ann@acme.example --name "Ann de Vries"
tk contact add "$acme" bob@acme.example --name "Bob Acme" --no-notify
tk contact add "$jansen" jan@jansen.example --name "Jan Jansen"
tk contact list "$acme"

say "day 1: the firm sends one item of each type (R1, R5)"
export TICKLER_NOW=$(day 1)
org=$(tk send organizer --account "$acme" --title "2026 tax organizer" --reminders on --every 3 --count 2)
prop=$(tk send proposal --account "$acme" --title "Engagement letter 2027" --template engagement)
inv=$(tk send invoice --account "$jansen" --title "Jaarrekening 2025" --template payment-reminders \
      --set amount=450.00 --set currency=EUR --set due_date=2026-12-15)
chat=$(tk send chat --account "$acme" --title "Questions about your car lease" --reminders on --every 2 --count 3)
sig=$(tk send signature --account "$jansen" --title "Volmacht belastingaangifte" --reminders on)
appr=$(tk send approval --account "$acme" --title "Annual accounts 2025" --reminders on)
tk list
echo "spooled messages: $(ls "$dir/spool" | grep -c '\.eml$')"

say "day 2: Ann reads the chat (reading does not stop reminders, R14); Jansen pays part of the invoice"
export TICKLER_NOW=$(day 2)
tk event "$chat" read
tk event "$inv" partially-paid --set paid=150.00   # reminders now ask for the balance
tk resend "$org"        # R2: by hand, moves to the top of the to-do list
tk todo "$acme"

for d in 3 4 5 6 8 9 12; do
    export TICKLER_NOW=$(day "$d")
    say "day $d"
    tk tick
    case $d in
        4) tk event "$prop" signed; echo "Acme signed the engagement letter (R10)";;
        5) tk event "$chat" replied; echo "Ann answered the chat (R14)";;
        6) tk event "$inv" paid; echo "Jansen paid in full (R11)"; tk resend "$inv"; echo "a copy of the paid invoice (R3)";;
        8) tk request-approvals "$acme" --message "Please approve before the 15th."; echo "bulk approval request (R4)";;
        9) tk event "$appr" approved; tk event "$sig" signed;;
    esac
done

say "what the client sees: Acme's to-do list"
tk todo "$acme"
say "the audit trail of the organizer"
tk audit "$org"
say "the last message in the spool"
last=$(ls "$dir/spool"/*.eml | tail -n 1)
sed -n '1,40p' "$last"
echo
echo "demo: $(ls "$dir/spool" | grep -c '\.eml$') messages in $dir/spool; store $dir/tickler.db"
