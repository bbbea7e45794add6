"""The daemon's log ([log] target, file, level; issue 11 item 6, issue 16).

A log file that cannot be opened is a startup error; the file is created
0600 whatever the umask; every line has a time, a level and the pid;
[log] level filters core and plugin lines alike; SIGHUP after a rotation
opens the new file (the old one keeps what was written before), and a
reopen that fails keeps the old file and says so in it.  Spool files of the
file transport are 0640 whatever the umask (issue 11 item 7).
"""
import os
import re
import signal
import stat
import subprocess
import time
import unittest

import delivery_lib as dl
from tkharness import BIN, Tickler, at

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (error|warn|info|debug) tickler\[(\d+)\]: ")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class Log(unittest.TestCase):
    def deployment(self, log_ini, store=None):
        return Tickler(self, extra_ini="[scheduler]\npoll_seconds = 1\n[log]\n" + log_ini,
                       store=store)

    def test_unopenable_log_is_a_startup_error(self):
        t = self.deployment("file = /nonexistent-folder/tickler.log\n")
        r = t.run("run", timeout=20)
        self.assertEqual(r.rc, 1, r)
        self.assertRegex(r.err.strip().splitlines()[-1],
                         r"^tickler: cannot open log file /nonexistent-folder/tickler.log: ")

    def test_target_file_needs_a_file(self):
        t = Tickler(self, init=False, extra_ini="[log]\ntarget = file\n")
        err = t.fails("account", "list")
        self.assertIn("target = file needs [log] file", err)

    def start(self, t, umask=None):
        old = os.umask(umask) if umask is not None else None
        try:
            d = dl.Daemon(t, now=at(0))
        finally:
            if old is not None:
                os.umask(old)
        return d

    def test_file_lines_mode_and_rotation(self):
        t = self.deployment("file = %s\n" % "LOGPATH")
        log = os.path.join(t.dir, "tickler.log")
        with open(t.config) as f:
            ini = f.read().replace("LOGPATH", log)
        with open(t.config, "w") as f:
            f.write(ini)
        d = self.start(t, umask=0o000)
        self.assertTrue(dl.wait_for(lambda: os.path.exists(log) and "running:" in open(log).read(), 20))
        self.assertEqual(oct(mode(log)), oct(0o600))
        lines = [l for l in open(log).read().splitlines() if l]
        for l in lines:
            m = LINE.match(l)
            self.assertTrue(m, "line without time, level and pid: %r" % l)
            self.assertEqual(int(m.group(2)), d.pid)
        # rotation: the old file moved away, SIGHUP opens a new one
        os.rename(log, log + ".1")
        d.signal(signal.SIGHUP)
        self.assertTrue(dl.wait_for(lambda: os.path.exists(log) and "log reopened" in open(log).read(), 20),
                        open(log + ".1").read())
        self.assertEqual(oct(mode(log)), oct(0o600))
        self.assertNotIn("log reopened", open(log + ".1").read())
        # a reopen that fails keeps the old file and says so in it
        # (a folder where the file should be: refused even to root)
        os.rename(log, log + ".2")
        os.mkdir(log)
        d.signal(signal.SIGHUP)
        self.assertTrue(dl.wait_for(lambda: "log NOT reopened" in open(log + ".2").read(), 20),
                        open(log + ".2").read())
        text = open(log + ".2").read()
        self.assertIn("going on with the log file open before", text)
        self.assertIn("Is a directory", text)
        rc, _ = d.stop()
        self.assertEqual(rc, 0)
        self.assertIn("stopping", open(log + ".2").read())

    def test_existing_log_keeps_its_mode(self):
        t = self.deployment("file = LOGPATH\n")
        log = os.path.join(t.dir, "tickler.log")
        with open(t.config) as f:
            ini = f.read().replace("LOGPATH", log)
        with open(t.config, "w") as f:
            f.write(ini)
        with open(log, "w"):
            pass
        os.chmod(log, 0o640)  # an admin's choice: a group may read it
        d = self.start(t)
        self.assertTrue(dl.wait_for(lambda: "running:" in open(log).read(), 20))
        d.stop()
        self.assertEqual(oct(mode(log)), oct(0o640))

    def test_level_filters_core_lines(self):
        # warn: the skipped item's warning is there, the info lines are not
        # SQLite: the poisoned address (a byte that is not UTF-8) is planted
        # with sqlite3; PostgreSQL's text refuses such a byte at the door
        t = self.deployment("level = warn\n", store="sqlite")
        acc = t.account("Acme")
        t.send("invoice", acc, "Fees", "--reminders", "on")
        import sqlite3
        con = sqlite3.connect(os.path.join(t.dir, "tickler.db"))
        con.execute("UPDATE contacts SET email = CAST(X'616E6E40FF612E6578616D706C65' AS TEXT)")
        con.commit()
        con.close()
        d = dl.Daemon(t, now=at(days=4))
        self.assertTrue(dl.wait_for(lambda: "skipped until" in d.text(), 20), d.text())
        d.stop()
        text = d.text()
        self.assertNotIn("running:", text)
        self.assertNotIn(" info ", text)
        self.assertRegex(text, r"warn tickler\[\d+\]: item 1 skipped until")
        # stderr target: the same line format
        for l in text.splitlines():
            self.assertTrue(LINE.match(l), l)

    def test_level_filters_plugin_lines(self):
        srv = dl.SmtpServer(self)
        for level, seen in (("warn", True), ("error", False)):
            t = Tickler(self, smtp=srv, extra_ini="[transport]\nusername = u\npassword = p\n"
                                                  "[log]\nlevel = %s\n" % level)
            r = t.run("tick")  # loads the transport (plugins load when first used)
            self.assertEqual(r.rc, 0, r)
            self.assertEqual("password crosses the network in clear" in r.err, seen, (level, r))

    def test_syslog_and_journal_targets_start(self):
        # No syslog daemon or journald runs here: syslog(3) drops lines it
        # cannot deliver, so only the start is checked; journal needs
        # libsystemd, opened at start (an error if it cannot be loaded).
        t = self.deployment("target = syslog\n")
        d = dl.Daemon(t, now=at(0))
        time.sleep(2)  # nothing to wait for on stderr: give it time to start
        self.assertIsNone(d.proc.poll(), d.text())
        rc, _ = d.stop()
        self.assertEqual(rc, 0, d.text())
        self.assertEqual(d.text(), "")  # nothing on stderr: it all went to syslog


class SpoolModes(unittest.TestCase):
    def test_spool_files_0640_whatever_the_umask(self):
        for mask in (0o000, 0o022, 0o277):
            t = Tickler(self)
            acc = t.account("Acme")
            old = os.umask(mask)
            try:
                t.send("invoice", acc, "Fees")
            finally:
                os.umask(old)
            files = t.spooled()
            self.assertEqual(len(files), 1)
            self.assertEqual(oct(mode(files[0])), oct(0o640), "umask %03o" % mask)


class NowRange(unittest.TestCase):
    def test_now_before_1970_or_after_9999_is_refused(self):
        t = Tickler(self)
        for when in ("1969-12-31T23:59:59Z", "1900-01-01T00:00:00Z", "10000-01-01T00:00:00Z"):
            err = t.fails("account", "add", "Acme", rc=2, now=when)
            self.assertIn("--now", err)
        self.assertEqual(t.json("account", "list"), [])
        t.ok("account", "list", now="9999-12-31T23:59:59Z")
        t.ok("account", "list", now="1970-01-01T00:00:01Z")


if __name__ == "__main__":
    unittest.main(verbosity=2)
