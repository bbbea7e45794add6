"""The SQLite log between commands (issue 17, docs/delivery.md "A
command's commit and the SQLite files at its exit", docs/data.md).

A command does not checkpoint when it exits: tickler.db-wal stays beside
the store with the last commits in it, and a command that wrote flushes it
once before it exits.  What operators rely on must hold all the same: the
next process sees the change, the log is as private as the store, a kill -9
leaves a sound store, `tickler backup` right after a command holds its
change, restore works on a store with a leftover log, an erasure leaves no
erased address in the log, and the log stays bounded.

Every test reads tickler.db-wal itself, a file only the SQLite store has:
pinned to SQLite.
"""
import os
import random
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time
import unittest

import delivery_lib as dl
from tkharness import BIN, Tickler

ADDR = "ann.erasable@acme.example"
BOUND = 128  # LOG_BOUND_PAGES in core/db/sqlite.c


class ClosedPort:
    """An SMTP "server" nobody listens on: messages stay queued."""

    def __init__(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.url = "smtp://127.0.0.1:%d" % s.getsockname()[1]
        s.close()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def titles(path):
    """Item titles in the store file PATH (and its -wal, if beside it)."""
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return sorted(r[0] for r in con.execute("SELECT title FROM items"))
    finally:
        con.close()


class StoreLog(unittest.TestCase):
    def deployment(self, **kw):
        t = Tickler(self, store="sqlite", **kw)
        t.db = os.path.join(t.dir, "tickler.db")
        t.wal = t.db + "-wal"
        return t

    def test_send_leaves_a_private_flushed_log_the_next_process_reads(self):
        t = self.deployment(init=False)
        old = os.umask(0o022)
        try:
            t.ok("init")
            acc = t.account("Acme BV")
            item = t.send("approval", acc, "Annual accounts 2026")
        finally:
            os.umask(old)
        # The log stays between commands, as private as the store.
        self.assertTrue(os.path.exists(t.wal))
        self.assertGreater(os.path.getsize(t.wal), 0)
        for f in (t.db, t.wal, t.db + "-shm"):
            self.assertEqual(oct(mode(f)), oct(0o600), f)
        # A fresh process sees the item.
        self.assertEqual(t.show(item)["title"], "Annual accounts 2026")
        # The commit is in the log, not yet in tickler.db: a copy of
        # tickler.db alone is not a backup, a copy with its -wal taken while
        # nothing runs is (docs/data.md).
        copy = tempfile.mkdtemp(prefix="tk-copy-")
        self.addCleanup(shutil.rmtree, copy, True)
        shutil.copyfile(t.db, os.path.join(copy, "tickler.db"))
        shutil.copyfile(t.wal, os.path.join(copy, "tickler.db-wal"))
        self.assertIn("Annual accounts 2026", titles(os.path.join(copy, "tickler.db")))

    @unittest.skipUnless(shutil.which("strace"), "needs strace")
    def test_send_flushes_once(self):
        """Once the log exists, a `send` flushes it once (fdatasync) and
        removes no file: the checkpoint at exit cost 4 and 2 unlinks.  The
        transport is SMTP at a closed port (the file transport's own fsync
        of a spool file is not the store's)."""
        t = self.deployment(smtp=ClosedPort())
        acc = t.account("Acme BV")
        t.send("approval", acc, "warm")  # the log exists from here on
        trace = os.path.join(t.dir, "strace.out")
        env = dict(os.environ, TICKLER_CONFIG=t.config)
        env.pop("TICKLER_NOW", None)
        # LeakSanitizer stops the world with ptrace, which strace already
        # holds: under ASan it aborts at exit unless leak checks are off.
        asan = env.get("ASAN_OPTIONS", "")
        env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "detect_leaks=0"
        subprocess.run(["strace", "-f", "-o", trace, "-e", "trace=fsync,fdatasync,unlink,unlinkat",
                        BIN, "--now", t.now, "send", "approval", "--account", acc, "--title", "X"],
                       env=env, check=True, capture_output=True, timeout=120)
        calls = [l for l in read(trace).decode().splitlines() if "(" in l and "+++" not in l]
        syncs = [l for l in calls if "sync(" in l]
        self.assertEqual(len(syncs), 1, calls)
        self.assertIn("fdatasync(", syncs[0])
        # the store's files only: a sanitizer's runtime removes its own
        # temporary files (ThreadSanitizer: /tmp/tsan.rodata.PID)
        self.assertEqual([l for l in calls if "unlink" in l and "tickler.db" in l], [], calls)
        self.assertEqual(len(t.json("list")), 2)

    def test_backup_right_after_send_holds_it(self):
        t = self.deployment()
        acc = t.account("Acme BV")
        t.send("approval", acc, "Just sent")
        self.assertGreater(os.path.getsize(t.wal), 0)
        out = os.path.join(t.dir, "b.db")
        t.ok("backup", out)
        self.assertFalse(os.path.exists(out + "-wal"))
        self.assertIn("Just sent", titles(out))
        self.assertEqual(oct(mode(out)), oct(0o600))

    def test_restore_on_a_store_with_a_leftover_log(self):
        t = self.deployment()
        acc = t.account("Acme BV")
        t.send("approval", acc, "Before")
        out = os.path.join(t.dir, "b.db")
        t.ok("backup", out)
        t.send("approval", acc, "After")  # only in the log
        self.assertGreater(os.path.getsize(t.wal), 0)
        t.ok("restore", out)
        self.assertEqual([x["title"] for x in t.json("list")], ["Before"])
        self.assertEqual(t.rows("PRAGMA integrity_check"), [("ok",)])
        # and it refuses while the daemon runs, as before
        d = dl.Daemon(t)
        self.assertTrue(dl.wait_for(lambda: "running:" in d.text(), 20), d.text())
        t.fails("restore", out)
        rc, _ = d.stop()
        self.assertEqual(rc, 0, d.text())

    def test_erase_leaves_no_address_in_the_log(self):
        t = self.deployment()
        acc = t.account("Acme BV", contacts=((ADDR, "Ann Erasable", True),))
        t.send("approval", acc, "Annual accounts")
        t.ok("tick")  # a message with the address in its text
        self.assertTrue(t.spooled())
        # The address is in the log before the erasure (else this test
        # proves nothing).
        self.assertIn(ADDR.encode(), read(t.wal))
        t.json("erase", "--contact", ADDR)
        self.assertNotIn(ADDR.encode(), read(t.wal) if os.path.exists(t.wal) else b"")
        self.assertEqual(t.rows("SELECT COUNT(*) FROM contacts"), [(0,)])
        self.assertEqual(t.rows("PRAGMA integrity_check"), [("ok",)])

    def test_the_log_stays_bounded(self):
        """A writing command that leaves the log past its bound (BOUND
        pages) checkpoints it and cuts it to zero bytes as it exits; the
        items are all there."""
        t = self.deployment()
        acc = t.account("Acme BV")
        longest = 0
        for i in range(60):
            t.send("approval", acc, "Item %d" % i)
            size = os.path.getsize(t.wal)
            longest = max(longest, size)
            if size == 0:
                break
        self.assertEqual(os.path.getsize(t.wal), 0, "the log never came back to zero: %d" % longest)
        self.assertGreater(longest, 0)
        self.assertLess(longest, (BOUND + 64) * (4096 + 24) + 32)
        self.assertEqual(len(t.json("list")), i + 1)
        # and the next command starts a new log
        t.send("approval", acc, "After the cut")
        self.assertGreater(os.path.getsize(t.wal), 0)
        self.assertEqual(len(t.json("list")), i + 2)

    def test_kill9_in_send_leaves_a_sound_store(self):
        t = self.deployment()
        acc = t.account("Acme BV")
        t.send("approval", acc, "first")
        env = dict(os.environ, TICKLER_CONFIG=t.config)
        env.pop("TICKLER_NOW", None)
        rnd = random.Random(17)
        for i in range(8):
            p = subprocess.Popen([BIN, "--now", t.now, "send", "approval", "--account", acc,
                                  "--title", "K%d" % i], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            time.sleep(rnd.uniform(0.0, 0.05))
            p.send_signal(signal.SIGKILL)
            p.wait()
            self.assertEqual(t.rows("PRAGMA integrity_check"), [("ok",)])
            # An item is there whole (its notification and its text, one
            # transaction) or not at all.
            per_item = t.rows("SELECT i.id, COUNT(o.id), COUNT(d.outbox_id) FROM items i "
                              "LEFT JOIN outbox o ON o.item_id = i.id AND o.kind = 'notification' "
                              "LEFT JOIN outbox_data d ON d.outbox_id = o.id GROUP BY i.id")
            self.assertTrue(all(n == 1 and d == 1 for _, n, d in per_item), per_item)
        n = len(t.json("list"))
        t.send("approval", acc, "after")
        self.assertEqual(len(t.json("list")), n + 1)
        self.assertEqual(t.rows("PRAGMA integrity_check"), [("ok",)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
