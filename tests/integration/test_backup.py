"""tickler backup FILE / tickler restore FILE (issue 16, docs/data.md).

Backup goes through SQLite's online backup API while a `tickler run`
daemon and a writer keep changing the store: each backup is a sound, 0600,
self-contained file whose rows are consistent (every item has its
notifications: they are written in one transaction).  Restore refuses while
the daemon runs, checks what it is given, and afterwards the store's rows
are the backup's.  On PostgreSQL both refuse and point at pg_dump.
"""
import os
import sqlite3
import stat
import threading
import time
import unittest

import delivery_lib as dl
from tkharness import Tickler

TABLES = ["accounts", "contacts", "jobs", "items", "item_fields", "audit", "outbox",
          "outbox_data", "sequences", "schema_version"]


def rows(path):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return {t: sorted(con.execute("SELECT * FROM %s" % t).fetchall(), key=repr) for t in TABLES}
    finally:
        con.close()


@unittest.skipIf(os.environ.get("TK_TEST_STORE", "sqlite") != "sqlite", "SQLite's backup API")
class Backup(unittest.TestCase):
    def deployment(self):
        t = Tickler(self, store="sqlite", extra_ini="[scheduler]\npoll_seconds = 1\n")
        t.db = os.path.join(t.dir, "tickler.db")
        return t

    def test_backup_while_the_daemon_runs_and_writes_go_on_then_restore(self):
        t = self.deployment()
        acc = t.account("Acme BV", contacts=(("ann@acme.example", "Ann", True),
                                             ("bob@acme.example", "Bob", True)))
        d = dl.Daemon(t)
        self.assertTrue(dl.wait_for(lambda: "running:" in d.text(), 20), d.text())
        stop = threading.Event()
        sent = []

        def writer():
            while not stop.is_set():
                r = t.run("--json", "send", "invoice", "--account", acc, "--title", "W",
                          "--set", "amount=1.00", "--set", "currency=EUR", now="")
                if r.rc == 0:
                    sent.append(r.out)

        w = threading.Thread(target=writer)
        w.start()
        try:
            backups = []
            for n in range(4):
                dl.wait_for(lambda: len(sent) > n * 2, 20)
                f = os.path.join(t.dir, "b%d.db" % n)
                out = t.ok("backup", f, now="")
                self.assertIn(f, out)
                backups.append(f)
        finally:
            stop.set()
            w.join(60)
        self.assertGreater(len(sent), 4)
        # restore is refused while the daemon holds the store, and changes nothing
        before = rows(t.db)
        err = t.fails("restore", backups[0], now="")
        self.assertIn("tickler run", err)
        self.assertEqual(rows(t.db), before)
        rc, _ = d.stop()
        self.assertEqual(rc, 0, d.text())

        for f in backups:
            self.assertEqual(oct(stat.S_IMODE(os.stat(f).st_mode)), oct(0o600))
            self.assertFalse(os.path.exists(f + "-wal"))
            con = sqlite3.connect(f)
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0], "delete")
            # consistent: each item with both notifications (one transaction)
            per_item = con.execute("SELECT i.id, COUNT(o.id) FROM items i LEFT JOIN outbox o "
                                   "ON o.item_id = i.id AND o.kind = 'notification' "
                                   "GROUP BY i.id").fetchall()
            self.assertTrue(all(n == 2 for _, n in per_item), per_item)
            texts = con.execute("SELECT COUNT(*) FROM outbox o JOIN outbox_data d "
                                "ON d.outbox_id = o.id").fetchone()[0]
            self.assertEqual(texts, con.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
            con.close()
        self.assertNotEqual(rows(backups[0])["items"], rows(backups[-1])["items"])

        # restore the first: the store's rows are the backup's, plus the
        # audit entry that says so
        want = rows(backups[0])
        out = t.ok("restore", backups[0], now="")
        self.assertIn("schema version", out)
        got = rows(t.db)
        for table in TABLES:
            if table != "audit":
                self.assertEqual(got[table], want[table], table)
        added = set(got["audit"]) - set(want["audit"])
        self.assertEqual([e[6] for e in added], ["store-restored"])  # column 6: action
        self.assertEqual(len(got["audit"]), len(want["audit"]) + 1)
        # the restored store works: the CLI sees it, a new item goes out
        self.assertEqual(len(t.json("list", now="")), len(want["items"]))
        t.send("invoice", acc, "After restore", now="")
        self.assertEqual(t.json("tick", now="")["failed"], 0)

    def test_backup_overwrites_a_file_atomically_and_refusals(self):
        t = self.deployment()
        t.account("Acme BV")
        f = os.path.join(t.dir, "b.db")
        with open(f, "w") as x:
            x.write("old")
        t.ok("backup", f)
        self.assertEqual(rows(f)["accounts"][0][1], "Acme BV")
        self.assertEqual([n for n in os.listdir(t.dir) if ".tmp-" in n], [])
        t.fails("backup", rc=2)
        t.fails("backup", t.db, rc=1)                                  # the store itself
        t.fails("backup", os.path.join(t.dir, "no", "such", "dir.db"))
        self.assertEqual([n for n in os.listdir(t.dir) if ".tmp-" in n], [])

    def test_restore_checks_what_it_is_given(self):
        t = self.deployment()
        t.account("Acme BV")
        before = rows(t.db)
        junk = os.path.join(t.dir, "junk.db")
        with open(junk, "wb") as x:
            x.write(b"this is not a database" * 100)
        self.assertIn("not a sound SQLite", t.fails("restore", junk))
        other = os.path.join(t.dir, "other.db")
        con = sqlite3.connect(other)
        con.execute("CREATE TABLE x (y)")
        con.commit()
        con.close()
        self.assertIn("not a tickler store", t.fails("restore", other))
        newer = os.path.join(t.dir, "newer.db")
        t.ok("backup", newer)
        con = sqlite3.connect(newer)
        con.execute("INSERT INTO schema_version (version) VALUES (99)")
        con.commit()
        con.close()
        self.assertIn("newer than this tickler knows", t.fails("restore", newer))
        t.fails("restore", os.path.join(t.dir, "missing.db"))
        t.fails("restore", t.dir)
        t.fails("restore", t.db)
        t.fails("restore", rc=2)
        self.assertEqual(rows(t.db), before)


@unittest.skipIf(os.environ.get("TK_TEST_STORE", "sqlite") != "postgres", "PostgreSQL run")
class PostgresAdvice(unittest.TestCase):
    def test_backup_and_restore_point_at_pg_dump(self):
        t = Tickler(self)
        self.assertIn("pg_dump", t.fails("backup", "/tmp/never-written.db"))
        self.assertFalse(os.path.exists("/tmp/never-written.db"))
        self.assertIn("pg_restore", t.fails("restore", "/tmp/never-written.db"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
