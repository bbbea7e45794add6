"""The SQLite store holds names, addresses and whole messages: its files
are created 0600 whatever the umask (issue 11, item 7).

`tickler init` makes the store; a running `tickler run` holds it open, and
SQLite keeps its -wal and -shm files beside it (they stay after the last
connection closes: test_store_log.py checks them after a `send`).  Both run under umask 000, 022 and 277 (the
last would make a file the owner cannot write), and every file must come
out 0600.  A store that exists already keeps the mode its owner gave it.
"""
import os
import stat
import unittest

import delivery_lib as dl
from tkharness import Tickler


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class StoreFileModes(unittest.TestCase):
    def under_umask(self, mask, fn):
        old = os.umask(mask)
        try:
            return fn()
        finally:
            os.umask(old)

    def check(self, mask):
        t = Tickler(self, store="sqlite", init=False)
        db = os.path.join(t.dir, "tickler.db")
        self.under_umask(mask, lambda: t.ok("init"))
        self.assertEqual(oct(mode(db)), oct(0o600), "store after init under umask %03o" % mask)
        d = self.under_umask(mask, lambda: dl.Daemon(t))
        files = [db + "-wal", db + "-shm"]
        self.assertTrue(dl.wait_for(lambda: "running:" in d.text(), 20), d.text())
        self.assertTrue(all(os.path.exists(f) for f in files),
                        "no -wal/-shm while the daemon runs:\n" + d.text())
        for f in [db] + files:
            self.assertEqual(oct(mode(f)), oct(0o600), "%s under umask %03o" % (f, mask))
        # how long the stop takes is not this test's subject (test_delivery_crash
        # times it); 60 s, not 10, for a ThreadSanitizer build on a loaded
        # machine (CI once saw 10 s run out here; the harness now prints
        # each thread's state when a stop times out)
        rc, _ = d.stop(timeout=60)
        self.assertEqual(rc, 0, d.text())

    def test_umask_000(self):
        self.check(0o000)

    def test_umask_022(self):
        self.check(0o022)

    def test_umask_277(self):
        self.check(0o277)

    def test_existing_store_keeps_its_mode(self):
        t = Tickler(self, store="sqlite")
        db = os.path.join(t.dir, "tickler.db")
        os.chmod(db, 0o640)  # an admin's choice: a group of auditors may read it
        self.under_umask(0o000, lambda: t.ok("account", "add", "Acme BV"))
        self.assertEqual(oct(mode(db)), oct(0o640))

    def test_migrate_creates_a_private_target(self):
        src = Tickler(self, store="sqlite")
        src.account("Acme BV")
        target = os.path.join(src.dir, "copy.db")
        self.under_umask(0o000, lambda: src.ok("migrate", "--from",
                                               "sqlite:" + os.path.join(src.dir, "tickler.db"),
                                               "--to", "sqlite:" + target))
        self.assertEqual(oct(mode(target)), oct(0o600))


if __name__ == "__main__":
    unittest.main(verbosity=2)
