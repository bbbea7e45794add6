"""The file transport records results in groups (TK_TRANSPORT_IDEMPOTENT):
a spool file's name comes from its row's Message-ID, so a re-delivery after
a crash renames over the same file instead of adding a second one.

- kill -9 of `tickler tick` while it delivers into the spool, at random
  moments: afterwards every outbox row is sent and is exactly one file in
  the spool, named after its Message-ID, whole (Return-Path and the row's
  message, byte for byte); no file matches no row; the store passes its
  integrity check; each row's reply names its file.
- the grouped path (unrecorded_max 8) writes the same files, byte for
  byte and under the same names, and leaves the same outbox rows as the
  path that records each result before the next send (unrecorded_max 1).
- that grouped path on SQLite reads, writes and records up to
  unrecorded_max rows in one transaction (claim and result in one row
  write, dispatch.c work_inline); unrecorded_max 1 still claims, sends
  and settles: every column of every outbox row and the lease sequence are
  the same after either (the fencing tokens included).
"""
import os
import random
import re
import signal
import sqlite3
import subprocess
import time
import unittest

import delivery_lib as dl
from tkharness import BIN, at

NOW = at(hours=1)  # past the backoff of the attempt made while the port was closed


def spool_name(mid):
    """The name docs/transports.md gives the message with Message-ID MID
    (tickler's own forms: "<" seconds in base 36 "." 5-digit count "." 128
    random bits as 26 base-32 digits "@" domain ">", and the older "<" 32
    hex "." seconds "@" domain ">" of rows stored before 2026-12): the
    second in ns, "-", the random bits as 32 hex digits."""
    m = re.match(r"^<([0-9a-z]{1,7})\.[0-9a-z]{5}\.([0-7][0-9a-v]{25})@", mid)
    if m:
        return "%020d-%032x.eml" % (int(m.group(1), 36) * 10**9, int(m.group(2), 32))
    m = re.match(r"^<([0-9a-f]{32})\.([0-9a-z]{1,7})@", mid)
    assert m, mid
    return "%020d-%s.eml" % (int(m.group(2), 36) * 10**9, m.group(1))


def to_file_transport(t, spool, unrecorded=None):
    """Point T's configuration at the file transport writing into SPOOL,
    with [delivery] unrecorded_max = UNRECORDED when set."""
    ini = re.sub(r"plugin = smtp\nurl = [^\n]*\n", "plugin = file\ndir = %s\nfsync = off\n" % spool, t.ini)
    if unrecorded:
        ini = ini.replace("[delivery]\n", "[delivery]\nunrecorded_max = %d\n" % unrecorded, 1)
    with open(t.config, "w") as f:
        f.write(ini)
    t.ini = ini


def tick(t, minutes=0):
    """`tickler tick` MINUTES after NOW: each process's clock starts at its
    --now, so a later one finds the leases of a killed one run out."""
    env = dict(os.environ)
    env.pop("TICKLER_NOW", None)
    env["TICKLER_CONFIG"] = t.config
    return subprocess.Popen([BIN, "--now", at(hours=1, minutes=minutes), "tick"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def outbox(t):
    return t.rows("SELECT o.id, o.message_id, o.sender, d.data, o.state, o.attempts, o.recipient "
                  "FROM outbox o LEFT JOIN outbox_data d ON d.outbox_id = o.id ORDER BY o.id")


def spool_files(spool):
    return sorted(n for n in os.listdir(spool) if n.endswith(".eml"))


class SpoolCrashTest(unittest.TestCase):
    def check_spool(self, t, spool):
        rows = outbox(t)
        self.assertEqual([r for r in rows if r[4] != 1], [], "rows not sent")
        want = {spool_name(r[1]): r for r in rows}
        self.assertEqual(len(want), len(rows), "two rows with one spool name")
        names = spool_files(spool)
        self.assertEqual(sorted(set(names) - set(want)), [], "files that match no row")
        self.assertEqual(sorted(set(want) - set(names)), [], "sent rows missing from the spool")
        for name in names:
            r = want[name]
            with open(os.path.join(spool, name), "rb") as f:
                got = f.read()
            body = r[3].encode() if isinstance(r[3], str) else bytes(r[3])
            self.assertEqual(got, b"Return-Path: <%s>\r\n" % r[2].encode() + body, name)
        # each row's reply names its file (formatted by hand since issue 17)
        real = os.path.realpath(spool)
        for mid, reply in t.rows("SELECT message_id, last_reply FROM outbox ORDER BY id"):
            self.assertEqual(reply, "written %s/%s" % (real, spool_name(mid)))
        return len(rows)

    def test_kill9_during_a_spool_tick(self):
        """kill -9 of `tickler tick` at random moments: one file per row."""
        t, port = dl.populate(self, 600, 4, dl.delivery_ini(lease=2))
        spool = os.path.join(t.dir, "out")
        os.makedirs(spool)
        to_file_transport(t, spool)
        self.assertEqual(dl.outbox_states(t), {"queued": 2400})
        rnd = random.Random(17)
        killed_with_queued = unrecorded = 0
        for k in range(12):
            before = len(spool_files(spool))
            p = tick(t, k)
            # once it delivers (a PostgreSQL tick takes longer to get
            # there than a SQLite one), at a random moment
            dl.wait_for(lambda: p.poll() is not None or len(spool_files(spool)) > before, 30, 0.005)
            # soon: a quiet machine delivers the 2400 rows in well under
            # 0.15 s since the delivery work of 2026-12-01
            time.sleep(rnd.uniform(0, 0.02))
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
            p.wait()
            p.stderr.close()
            if dl.outbox_states(t).get("queued", 0):
                killed_with_queued += 1
            # rows in the spool whose result the kill lost: sent again later
            files = set(spool_files(spool))
            unrecorded += sum(1 for r in outbox(t) if r[4] == 0 and spool_name(r[1]) in files)
            time.sleep(rnd.uniform(0, 0.3))
        dl.report("spool kill -9", kills=12, with_queued=killed_with_queued,
                  delivered_unrecorded_at_kill=unrecorded)
        self.assertGreater(killed_with_queued, 1, "the kills should land while mail is queued")
        # the case this guards: files whose rows were sent again later
        self.assertGreater(unrecorded, 0, "no kill landed between a file and its result")
        # drain: minutes later the killed ticks' leases (2 s) have run out
        for k in range(20, 25):
            if not dl.outbox_states(t).get("queued", 0):
                break
            p = tick(t, k)
            err = p.communicate(timeout=120)[1]
            self.assertEqual(p.returncode, 0, err)
        self.assertEqual(self.check_spool(t, spool), 2400)
        if t.store == "sqlite":  # PostgreSQL checks itself; SQLite's file is ours to check
            db = sqlite3.connect(os.path.join(t.dir, "tickler.db"))
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            db.close()

    def one_then_grouped(self, snapshot):
        """A store of 210 queued messages delivered into a spool by a
        one-connection tick twice, from copies of the same store file:
        unrecorded_max 1 (claimed, each result committed alone), then 8
        (read, written and recorded in one transaction).  SNAPSHOT(t,
        spool) is taken after each: (t, one, group, its two values)."""
        t, port = dl.populate(self, 70, 3, dl.delivery_ini(lease=30))
        if t.store != "sqlite":
            self.skipTest("the second run starts from a copy of the SQLite store file")
        db, copy = dl.copy_sqlite_store(t)
        one, group = os.path.join(t.dir, "one"), os.path.join(t.dir, "group")
        os.makedirs(one)
        os.makedirs(group)
        base = t.ini
        seen = []
        for spool, window in ((one, 1), (group, 8)):
            if seen:
                os.replace(copy, db)  # the same queued rows again
                t.ini = base
            to_file_transport(t, spool, window)
            p = tick(t, 1)
            self.assertEqual(p.communicate(timeout=120)[1], b"")
            self.assertEqual(p.returncode, 0)
            seen.append(snapshot(t, spool))
        return t, one, group, seen[0], seen[1]

    def test_grouped_results_write_what_one_by_one_writes(self):
        """unrecorded_max 8 (grouped) against 1 (a commit per message):
        the same files under the same names and the same outbox rows."""
        t, one, group, rows_one, rows_group = self.one_then_grouped(lambda t, spool: outbox(t))
        self.assertEqual(len(rows_one), 210)
        self.assertEqual(rows_one, rows_group)
        self.assertEqual(spool_files(one), spool_files(group))
        self.assertEqual(len(spool_files(one)), 210)
        for name in spool_files(one):
            with open(os.path.join(one, name), "rb") as a, open(os.path.join(group, name), "rb") as b:
                self.assertEqual(a.read(), b.read(), name)
        self.check_spool(t, group)

    def test_inline_rows_match_the_claimed_path(self):
        """unrecorded_max 8 (read, written and recorded in one transaction)
        against 1 (claimed, then each result in its own): every column of
        the outbox rows, the spool's path masked in the replies, and the
        lease sequence."""

        def everything(t, spool):
            rows = t.rows("SELECT * FROM outbox ORDER BY id")
            seq = t.rows("SELECT name, value FROM sequences ORDER BY name")
            return [tuple(v.replace(spool, "SPOOL") if isinstance(v, str) else v for v in r)
                    for r in rows], seq

        t, one, group, (rows_one, seq_one), (rows_group, seq_group) = self.one_then_grouped(everything)
        self.assertEqual(len(rows_one), 210)
        self.assertEqual(dl.outbox_states(t), {"sent": 210})
        self.assertEqual(rows_one, rows_group)
        self.assertEqual(seq_one, seq_group)
        self.assertEqual(spool_files(one), spool_files(group))


if __name__ == "__main__":
    unittest.main()
