#!/usr/bin/python3
"""A broken pipeline script is contained (issue 11, item 4): with a script
in [lua] scripts that fails to load, the commands that could run an
automation (job add, job move, event) are refused with the script's
FILE:LINE and change nothing; every other command works; the daemon starts,
keeps scheduling and delivering reminders, and writes the broken script to
[log] file at start and on every SIGHUP."""
import os
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import delivery_lib as dl  # noqa: E402
from tkharness import Tickler, at  # noqa: E402

GOOD = """pipeline('Good', {
  { stage = 'Start', on_enter = function(job)
      job:send_message{ title = 'Welcome ' .. job.title }
    end },
  { stage = 'Done' },
})
"""
BAD = "pipeline('Bad', {\n  { stage = 'A' }\n  { stage = 'B' }\n})\n"   # line 3: '}' expected


class BrokenScript(unittest.TestCase):
    def folder(self, **scripts):
        d = tempfile.mkdtemp(prefix="tk-broken-")
        self.addCleanup(lambda: [os.unlink(os.path.join(d, f)) for f in os.listdir(d)] and os.rmdir(d))
        for name, text in scripts.items():
            with open(os.path.join(d, name + ".lua"), "w") as f:
                f.write(text)
        return d

    def deploy(self, folder, extra=""):
        return Tickler(self, extra_ini="[lua]\nscripts = %s\n%s" % (folder, extra))

    def snapshot(self, t):
        return (t.json("list"), t.json("job", "list"), t.json("outbox"), t.json("audit"))

    def test_automations_refused_everything_else_works(self):
        good = self.folder(good=GOOD)
        t = self.deploy(good)
        acc = t.account()
        job = t.json("job", "add", "Good", "--account", acc, "--title", "2026")["id"]
        inv = t.send("invoice", acc, "Fees", "--reminders", "on", "--every", "1")
        # Now a second script with a syntax error lands in the folder.
        bad = os.path.join(good, "bad.lua")
        with open(bad, "w") as f:
            f.write(BAD)
        where = "%s:3:" % bad
        before = self.snapshot(t)

        # Refused, with FILE:LINE, changing nothing.
        for args in (("job", "add", "Good", "--account", acc),
                     ("job", "move", job, "Done"),
                     ("event", inv, "paid")):
            err = t.fails(*args)
            self.assertIn("refused: a pipeline script failed to load", err)
            self.assertIn(where, err)
        self.assertEqual(self.snapshot(t), before)
        self.assertEqual(t.show(inv)["state"], "pending")

        # Everything that runs no automation works.
        self.assertEqual([a["name"] for a in t.json("account", "list")], ["Acme BV"])
        t.ok("contact", "list", acc)
        t.ok("show", inv)
        t.ok("list")
        t.ok("todo", acc)
        t.ok("audit")
        t.ok("outbox")
        self.assertEqual(t.json("job", "show", job)["stage"], "Start")
        self.assertEqual(len(t.json("job", "list")), 1)
        item = t.send("proposal", acc, "Engagement")          # send runs no on() handler
        t.ok("resend", item)
        t.ok("reminders", item, "on", "--every", "2")
        t.now = at(days=2)
        self.assertGreaterEqual(t.json("tick")["reminders"], 1)
        t.ok("job", "archive", job)                          # no automation either
        self.assertEqual(t.json("job", "show", job)["state"], "archived")

        # pipeline list shows what loaded and fails naming the broken one.
        r = t.run("pipeline", "list")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("Good", r.out)
        self.assertIn(where, r.err)
        # pipeline check names it too.
        self.assertIn(where, t.fails("pipeline", "check", bad))

        # Fixed: automations run again.
        with open(bad, "w") as f:
            f.write("pipeline('Bad', { { stage = 'A' }, { stage = 'B' } })\n")
        t.json("job", "add", "Good", "--account", acc)
        t.ok("event", inv, "paid")

    def test_two_broken_scripts_and_a_duplicate(self):
        d = self.folder(a_good=GOOD, b_bad=BAD, c_dup="pipeline('Good', { { stage = 'X' } })\n",
                        d_boom="pipeline('Boom', { { stage = 'A' } })\nerror('boom')\n")
        t = self.deploy(d)
        acc = t.account()
        err = t.fails("job", "add", "Good", "--account", acc)
        self.assertIn("refused: 3 pipeline scripts failed to load", err)
        self.assertIn(os.path.join(d, "b_bad.lua") + ":3:", err)
        r = t.run("pipeline", "list")
        self.assertEqual(r.rc, 1)
        self.assertIn("Good", r.out)
        self.assertNotIn("Boom", r.out)

    def test_unreadable_folder(self):
        missing = os.path.join(tempfile.gettempdir(), "tk-no-such-folder-%d" % os.getpid())
        t = self.deploy(missing)
        acc = t.account()
        t.ok("account", "list")
        err = t.fails("job", "add", "Good", "--account", acc)
        self.assertIn("cannot open folder %s" % missing, err)

    def test_daemon_runs_and_logs_the_broken_script(self):
        d = self.folder(good=GOOD, bad=BAD)
        bad = os.path.join(d, "bad.lua")
        where = "pipeline script failed to load: %s:3:" % bad
        t0 = self.deploy(d)
        log = os.path.join(t0.dir, "tickler.log")
        with open(t0.config, "a") as f:
            f.write("\n[log]\nfile = %s\n" % log)
        t = t0
        acc = t.account()
        item = t.send("invoice", acc, "Fees", "--reminders", "on", "--every", "1", "--count", "2")
        self.assertEqual(len(t.messages()), 1)

        def text():
            return open(log).read() if os.path.exists(log) else ""

        daemon = dl.Daemon(t, now=at(days=1, hours=1))
        # It starts, says which script is broken, and delivers the reminder.
        self.assertTrue(dl.wait_for(lambda: where in text(), 20), text())
        self.assertTrue(dl.wait_for(lambda: len(t.messages()) == 2, 20), text())
        self.assertIn("running", text())
        self.assertEqual(t.show(item)["reminders"]["sent"], 1)
        # Every SIGHUP says it again.
        daemon.signal(signal.SIGHUP)
        self.assertTrue(dl.wait_for(lambda: text().count(where) == 2, 20), text())
        daemon.signal(signal.SIGHUP)
        self.assertTrue(dl.wait_for(lambda: text().count(where) == 3, 20), text())
        # Fixed and reloaded: no more complaint.
        with open(bad, "w") as f:
            f.write("pipeline('Bad', { { stage = 'A' }, { stage = 'B' } })\n")
        daemon.signal(signal.SIGHUP)
        self.assertTrue(dl.wait_for(lambda: text().count("SIGHUP") == 3, 20), text())
        rc, _ = daemon.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(text().count(where), 3)
        self.assertIn("log reopened, templates reloaded", text())
        self.assertIn("stopping", text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
