#!/usr/bin/python3
"""samepath.py OLD_BUILD NEW_BUILD - the same tick on the same store, two builds.

Guards the speed work of bench/RESULTS.md (update 5): a faster path must
write what the old one wrote.  Seeds one SQLite store (bench/seed scale:
200 accounts with three contacts each, half of them notify-on, 2000 pending
items, 10 % due), copies it, runs `tickler tick` (file transport) with
each build at the same --now, with 1 and with 4 connections, and a list of
CLI commands, one process each (send, resend, event, bulk, ...), and
compares:

- every row of every table of both stores (the Message-ID, random by
  design, is masked, in the outbox and in the message texts, and so is
  the spool file's name in the transport's reply; with 4 connections,
  which claim took which rows is a race, so its fencing tokens are too);
- the spool files, byte for byte once the Message-ID line is masked,
  compared as sorted lists (their names hold the time and the pid).

The store is made by OLD_BUILD (`init`), so that both builds can open it
when NEW_BUILD's schema is newer: NEW_BUILD then upgrades it in its first
command, as it would a deployment's store.  `schema_version` is left out
of the comparison (its rows are the versions each build knows) and printed
instead; every other table must hold the same rows.  Since schema v15 the
audit table is rebuilt without AUTOINCREMENT on SQLite: its rows and ids
compare as before (sqlite_sequence is not compared: a bookkeeping table of
SQLite's, whose `audit` row v15 drops).

Prints "identical" per case and exits 0, or the first differences and
exits 1.  Needs bench/out/bin/seed (bench/run.sh builds it).
"""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("BENCH_OUT", os.path.join(HERE, "out"))
NOW = "2026-12-01T09:00:00Z"
MID = re.compile(rb"<[^<>@\s]+@[^<>\s]+>")


def seed_store(path, seed, tickler, plugins):
    cfg = path + ".ini"
    with open(cfg, "w") as f:
        f.write("[store]\npath = %s\n[transport]\nplugin = file\ndir = %s\n[plugins]\ndir = %s\n"
                % (path, os.path.dirname(path), plugins))
    subprocess.run([tickler, "-c", cfg, "init"], check=True, capture_output=True)
    subprocess.run([seed, "scale", path, "2000", "100", "1796115600"], check=True,
                   capture_output=True)
    # three contacts per account, two of them more, notify on and off: the
    # recipients' order and filter are part of what must not change
    db = sqlite3.connect(path)
    for acc, in db.execute("SELECT id FROM accounts").fetchall():
        for k, notify in ((2, 1), (3, 0)):
            db.execute("INSERT INTO contacts (account_id, email, name, notify, created_at) "
                       "VALUES (?, ?, ?, ?, 0)", (acc, "c%d-%d@bench.example" % (k, acc),
                                                  "Contact %d" % k, notify))
    # suppressed addresses (issue 15): one notify-on contact of every 7th
    # account (the reminder goes to the others), every notify-on contact of
    # every 11th (the reminder waits), one address in capitals matched in
    # lower case: which contacts a reminder reads, once per item since
    # issue 17, must not change whom it writes to
    rows = db.execute("SELECT id, account_id, email, notify FROM contacts").fetchall()
    for cid, acc, email, notify in rows:
        if acc % 13 == 0 and email.startswith("c2-"):
            db.execute("UPDATE contacts SET email = upper(email) WHERE id = ?", (cid,))
        if notify and ((acc % 7 == 0 and email.startswith("c2-")) or acc % 11 == 0 or
                       (acc % 13 == 0 and email.startswith("c2-"))):
            db.execute("INSERT OR IGNORE INTO suppressions (email, reason, at, source) "
                       "VALUES (?, 'hard bounce', 1796000000, 'dsn')", (email.lower(),))
    db.commit()
    db.close()


def dump(path, racy):
    db = sqlite3.connect(path)
    out = []
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    for t in tables:
        if t == "schema_version":
            continue  # the versions each build knows: printed by main()
        cols = [r[1] for r in db.execute("PRAGMA table_info(%s)" % t)]
        order = ", ".join(str(i + 1) for i in range(min(len(cols), 2)))
        for row in db.execute("SELECT * FROM %s ORDER BY %s" % (t, order)):
            vals = []
            for c, v in zip(cols, row):
                if c == "message_id" and v:
                    v = "<masked>"
                elif t == "audit" and c == "recorded_at":
                    v = "<real clock>"  # when it was written, not --now
                elif racy and (c == "lease_token" or (t == "sequences" and c == "value"
                                                      and row[0] == "lease")):
                    v = "<racy>"
                elif isinstance(v, str):
                    v = MID.sub(b"<masked>", v.encode()).decode()
                    v = re.sub(r"^written \S+$", "written <spool file>", v)
                vals.append(repr(v))
            out.append("%s: %s" % (t, ", ".join(vals)))
    db.close()
    return out


def version(path):
    db = sqlite3.connect(path)
    v = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    db.close()
    return v


def spool(d):
    files = []
    for name in os.listdir(d):
        if name.endswith(".eml"):
            with open(os.path.join(d, name), "rb") as f:
                files.append(MID.sub(b"<masked>", f.read()))
    return sorted(files)


def copy_store(src, dst):
    """SRC with its log: since issue 17 a command leaves its last commits
    in SRC-wal (docs/data.md); a copy of the file alone would miss them."""
    shutil.copyfile(src, dst)
    if os.path.exists(src + "-wal"):
        shutil.copyfile(src + "-wal", dst + "-wal")


def run(build, store, spooldir, conns):
    cfg = store + ".tick.ini"
    with open(cfg, "w") as f:
        f.write("[store]\npath = %s\n[transport]\nplugin = file\ndir = %s\nfsync = off\n"
                "connections = %d\nfrom = Bench <bench@localhost>\n[plugins]\ndir = %s\n"
                "[templates]\ndir = %s\n" % (store, spooldir, conns,
                                             os.path.join(build, "lib/tickler/plugins"),
                                             os.path.join(OUT, "templates")))
    p = subprocess.run([os.path.join(build, "bin/tickler"), "-c", cfg, "--now", NOW, "--json",
                        "tick"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("%s: tick failed: %s" % (build, p.stderr.strip()))


# Commands one process each (items 2001-2004 are the ones they send), as a shell loop or a front end would run them:
# the CLI's lazy start (bench/RESULTS.md update 6: plugins at first use,
# scripts only for automations) must write what the eager one wrote.
CLI = [
    ["account", "add", "Samepath BV", "--language", "nl"],
    ["contact", "add", "Samepath BV", "sp@bench.example", "--name", "Sam Path"],
    ["send", "approval", "--account", "1", "--title", "Annual accounts", "--template", "bench",
     "--reminders", "on"],
    ["send", "invoice", "--account", "Samepath BV", "--title", "Fees", "--set", "amount=450.00",
     "--set", "currency=EUR"],
    ["send", "chat", "--account", "2", "--title", "A question"],
    ["--json", "send", "approval", "--account", "3", "--title", "Json", "--template", "bench"],
    ["resend", "2001"],
    ["reminders", "2002", "on", "--every", "2", "--count", "3"],
    ["event", "2002", "paid"],
    ["show", "2001"],
    ["list", "--type", "invoice"],
    ["request-approvals", "1", "--message", "Please approve"],
    ["outbox", "retry", "--all-failed"],
]


def run_cli(build, store, spooldir):
    cfg = store + ".cli.ini"
    with open(cfg, "w") as f:
        f.write("[store]\npath = %s\n[transport]\nplugin = file\ndir = %s\nfsync = off\n"
                "from = Bench <bench@localhost>\n[plugins]\ndir = %s\n[templates]\ndir = %s\n"
                % (store, spooldir, os.path.join(build, "lib/tickler/plugins"),
                   os.path.join(OUT, "templates")))
    codes = []
    for args in CLI:
        p = subprocess.run([os.path.join(build, "bin/tickler"), "-c", cfg, "--now", NOW] + args,
                           capture_output=True, text=True)
        # what it printed too (`send --json` byte-identical, issue 17)
        codes.append((p.returncode, p.stderr.strip(), p.stdout))
    return codes


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    old, new = (os.path.abspath(a) for a in sys.argv[1:])
    seed = os.path.join(OUT, "bin", "seed")
    if not os.path.isdir(os.path.join(OUT, "templates")):
        raise SystemExit("samepath: run bench/run.sh once first (templates, seed)")
    work = tempfile.mkdtemp(prefix="tk-samepath-")
    bad = 0
    try:
        base = os.path.join(work, "base.db")
        seed_store(base, seed, os.path.join(old, "bin/tickler"),
                   os.path.join(old, "lib/tickler/plugins"))
        print("schema version of the seeded store: %s" % version(base))
        for conns in (1, 4):
            got = {}
            for label, build in (("old", old), ("new", new)):
                store = os.path.join(work, "%s-%d.db" % (label, conns))
                copy_store(base, store)
                d = os.path.join(work, "spool-%s-%d" % (label, conns))
                os.makedirs(d)
                run(build, store, d, conns)
                got[label] = (dump(store, conns > 1), spool(d))
            print("  schema versions after the tick: old %s, new %s" % (
                version(os.path.join(work, "old-%d.db" % conns)),
                version(os.path.join(work, "new-%d.db" % conns))))
            rows_same = got["old"][0] == got["new"][0]
            mail_same = got["old"][1] == got["new"][1]
            print("connections=%d: %d rows, %d messages: %s" % (
                conns, len(got["new"][0]), len(got["new"][1]),
                "identical" if rows_same and mail_same else "DIFFERENT"))
            if not rows_same:
                bad = 1
                a, b = set(got["old"][0]), set(got["new"][0])
                for line in sorted(a - b)[:5]:
                    print("  old only: " + line[:200])
                for line in sorted(b - a)[:5]:
                    print("  new only: " + line[:200])
            if not mail_same:
                bad = 1
                print("  messages differ (%d old, %d new)" % (len(got["old"][1]), len(got["new"][1])))
        got = {}
        for label, build in (("old", old), ("new", new)):
            store = os.path.join(work, "%s-cli.db" % label)
            copy_store(base, store)
            d = os.path.join(work, "spool-%s-cli" % label)
            os.makedirs(d)
            codes = run_cli(build, store, d)
            got[label] = (dump(store, False), spool(d), codes)
        same = got["old"] == got["new"]
        print("cli commands, one process each: %d rows, %d messages, exit codes %s: %s" % (
            len(got["new"][0]), len(got["new"][1]), [c[0] for c in got["new"][2]],
            "identical" if same else "DIFFERENT"))
        if not same:
            bad = 1
            a, b = set(got["old"][0]), set(got["new"][0])
            for line in sorted(a - b)[:5]:
                print("  old only: " + line[:200])
            for line in sorted(b - a)[:5]:
                print("  new only: " + line[:200])
            if got["old"][2] != got["new"][2]:
                print("  exit codes: old %s, new %s" % (got["old"][2], got["new"][2]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return bad


if __name__ == "__main__":
    sys.exit(main())
