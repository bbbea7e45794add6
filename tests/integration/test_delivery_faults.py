"""Delivery through faults: an SMTP outage (refused, then 4xx, then back),
a permanent refusal of one recipient, a full spool disk, and bodies around
the 64 KiB boundary on the wire.

Time jumps with --now instead of sleeping wherever the daemon is not the
point: `tickler tick --now T` delivers what is due at T.
"""
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

import delivery_lib as dl
from tkharness import SmtpServer, Tickler, at, parse_iso, iso, T0

BASE, CAP = 30, 3600
EARLY = 20  # seconds before a row is due; under BASE, so after the last tick


def rows_by_id(t):
    return {r["id"]: r for r in t.json("outbox")}


class OutageTest(unittest.TestCase):
    def window(self, attempts):
        """Largest delay after the ATTEMPTS-th attempt (docs/delivery.md)."""
        return min(CAP, BASE * 2 ** (attempts - 1))

    def tick(self, t, when):
        """Tick at WHEN; check that exactly the rows due then were tried,
        each rescheduled inside its backoff window.  Returns the rows."""
        before = rows_by_id(t)
        due = {i for i, r in before.items() if r["state"] == "queued" and parse_iso(r["next_attempt_at"]) <= when}
        r = t.run("--json", "tick", now=iso(when))
        self.assertEqual(r.rc, 0, r)
        after = rows_by_id(t)
        for i, row in after.items():
            tried = row["attempts"] - before[i]["attempts"]
            self.assertEqual(tried, 1 if i in due else 0, (row, before[i]))
            if i in due and row["state"] == "queued":
                delay = parse_iso(row["next_attempt_at"]) - when
                self.assertGreaterEqual(delay, BASE, row)
                self.assertLessEqual(delay, self.window(row["attempts"]) + 2, row)
        return after

    def test_refused_then_4xx_then_back(self):
        t, port = dl.populate(self, 10, 2, "")
        rows = rows_by_id(t)
        self.assertEqual(len(rows), 20)
        # The sends met a closed port: one attempt each, retry after BASE.
        self.assertEqual({(r["state"], r["attempts"], r["next_attempt_at"]) for r in rows.values()},
                         {("queued", 1, at(seconds=BASE))})
        # The claim reads the real clock from --now on (leases run in real
        # time, core/engine/dispatch.h): "before it is due" keeps a margin
        # that a slow tick (ASan on a loaded machine) cannot eat, not 1 s.
        now = T0 + BASE - EARLY
        self.tick(t, now)                       # not yet due: nothing is tried
        now = T0 + BASE
        rows = self.tick(t, now)                # still refused
        self.assertTrue(all("onnect" in r["reply"] for r in rows.values()), rows)
        srv = SmtpServer(self, "--fail-all", "421", port=port)
        four = 0
        for _ in range(3):                      # the server answers 421
            soonest = min(parse_iso(r["next_attempt_at"]) for r in rows.values())
            self.tick(t, soonest - EARLY)       # no tight loop: nothing before it is due
            now = max(parse_iso(r["next_attempt_at"]) for r in rows.values())
            rows = self.tick(t, now)
            self.assertEqual({r["reply_code"] for r in rows.values()}, {421})
            four += 1
        attempts = sorted({r["attempts"] for r in rows.values()})
        self.assertEqual(attempts, [5])
        self.assertEqual(t.json("outbox", "--failed"), [])
        self.assertEqual(srv.envelopes(), [])
        srv.stop()
        srv = SmtpServer(self, port=port)       # back
        t.smtp = srv
        now = max(parse_iso(r["next_attempt_at"]) for r in rows.values())
        rows = self.tick(t, now)
        n, deliveries, dups = dl.check_delivered(self, t, srv)
        self.assertEqual((n, deliveries, dups), (20, 20, 0))
        self.assertEqual(t.json("outbox", "--failed"), [])
        dl.report("outage", rounds_4xx=four, attempts_per_message=6,
                  minutes_simulated=round((now - T0) / 60, 1))

    def test_daemon_does_not_spin_while_server_is_down(self):
        ini = dl.delivery_ini(lease=5, poll=1, base=1, cap=2)
        t, port = dl.populate(self, 5, 1, ini)
        d = dl.Daemon(t, now=at(0))             # the clock runs on from the sends' time
        time.sleep(4)
        rows = t.json("outbox")
        # One attempt per 1-2 s at most, not hundreds.
        self.assertLessEqual(max(r["attempts"] for r in rows), 6, rows)
        self.assertEqual({r["state"] for r in rows}, {"queued"})
        srv = SmtpServer(self, port=port)
        t.smtp = srv
        self.assertTrue(dl.wait_for(lambda: dl.outbox_states(t) == {"sent": 5}, 15))
        rc, _ = d.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(dl.check_delivered(self, t, srv), (5, 5, 0))
        self.assertIn("Couldn't connect", d.text())


class PermanentTest(unittest.TestCase):
    def test_one_recipient_refused_for_good(self):
        srv = SmtpServer(self, "--fail-rcpt", "ann@acme.example=550")
        t = Tickler(self, smtp=srv)
        acc = t.account(contacts=(("ann@acme.example", "Ann", True), ("bob@acme.example", "Bob", True)))
        r = t.run("--json", "send", "invoice", "--account", acc, "--title", "Fees",
                  "--set", "amount=10.00", "--set", "currency=EUR")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("refused for good", r.err)
        item = int(__import__("json").loads(r.out)["id"])
        self.assertEqual([e["rcpt_tos"] for e in srv.envelopes()], [["bob@acme.example"]])
        failed = t.json("outbox", "--failed")
        self.assertEqual(len(failed), 1)
        f = failed[0]
        for key in ("id", "item", "kind", "recipient", "state", "attempts", "reply_code", "reply"):
            self.assertIn(key, f)
        self.assertEqual((f["item"], f["kind"], f["recipient"], f["state"], f["attempts"], f["reply_code"]),
                         (item, "notification", "ann@acme.example", "dead", 1, 550))
        self.assertIn("Mailbox unavailable", f["reply"])
        self.assertIn("550", t.ok("outbox", "--failed"))
        trail = t.json("audit", item)
        dead = [e for e in trail if e["action"] == "delivery-failed"]
        self.assertEqual(len(dead), 1, trail)
        self.assertIn("ann@acme.example", dead[0]["detail"])
        self.assertIn("550", dead[0]["detail"])
        # Nothing retries a dead row on its own.
        t.ok("tick", now=at(days=1))
        self.assertEqual(len(srv.envelopes()), 1)
        # Retry by hand, after the mailbox was fixed.
        srv.stop()
        srv2 = SmtpServer(self, port=srv.port)
        t.smtp = srv2
        self.assertEqual(t.json("outbox", "retry", f["id"])["retried"], 1)
        self.assertEqual(t.json("outbox", "--failed"), [])
        self.assertEqual([e["action"] for e in t.json("audit", item)][-1], "delivery-retry")
        t.ok("tick", now=at(days=1))
        self.assertEqual([e["rcpt_tos"] for e in srv2.envelopes()], [["ann@acme.example"]])
        self.assertEqual({r["state"] for r in t.json("outbox")}, {"sent"})
        self.assertEqual(t.json("outbox", "retry", "--all-failed")["retried"], 0)
        # Retrying a sent row is refused, changes nothing.
        t.fails("outbox", "retry", f["id"])


    def test_a_row_whose_text_is_gone_goes_dead_and_the_rest_is_sent(self):
        """A queued row whose outbox_data row was removed by hand (its text
        is gone) is refused for good with a clear reply; the tick neither
        crashes nor holds up the other rows."""
        srv = SmtpServer(self)
        t = Tickler(self, smtp=srv)
        acc = t.account(contacts=(("ann@acme.example", "Ann", True), ("bob@acme.example", "Bob", True)))
        srv.stop()
        r = t.run("send", "approval", "--account", acc, "--title", "Letter")
        self.assertEqual(r.rc, 0, r)
        rows = sorted((o["id"], o["recipient"], o["state"]) for o in t.json("outbox"))
        self.assertEqual([r[1:] for r in rows], [("ann@acme.example", "queued"), ("bob@acme.example", "queued")])
        t.execute("DELETE FROM outbox_data WHERE outbox_id = %d" % rows[0][0])
        srv2 = SmtpServer(self, port=srv.port)
        t.smtp = srv2
        r = t.run("tick", now=at(days=1))
        self.assertEqual(r.rc, 0, r)
        self.assertEqual([e["rcpt_tos"] for e in srv2.envelopes()], [["bob@acme.example"]])
        failed = t.json("outbox", "--failed")
        self.assertEqual([(f["id"], f["state"]) for f in failed], [(rows[0][0], "dead")], failed)
        self.assertIn("message text is missing", failed[0]["reply"])


class DiskFullTest(unittest.TestCase):
    def test_full_spool_marks_nothing_sent_and_drains_later(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        t = Tickler(self, extra_ini=dl.delivery_ini(lease=5, poll=1, base=1, cap=2))
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tickler-full", t.spool],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: %s" % r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", t.spool])
        filler = os.path.join(t.spool, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 512) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        contacts = [("c%d@full.example" % i, "C %d" % i, True) for i in range(8)]
        acc = t.account(contacts=contacts)
        r = t.run("send", "invoice", "--account", acc, "--title", "Fees",
                  "--set", "amount=10.00", "--set", "currency=EUR")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("stay", r.err)
        d = dl.Daemon(t, now=at(0))
        time.sleep(3)
        self.assertIsNone(d.proc.poll(), "the daemon must stay up")
        self.assertEqual(dl.outbox_states(t), {"queued": 8})
        self.assertEqual(t.spooled(), [])
        self.assertEqual(os.listdir(os.path.join(t.spool, "tmp")) if os.path.isdir(os.path.join(t.spool, "tmp")) else [], [])
        os.unlink(filler)
        self.assertTrue(dl.wait_for(lambda: dl.outbox_states(t) == {"sent": 8}, 20), dl.outbox_states(t))
        rc, _ = d.stop()
        self.assertEqual(rc, 0)
        msgs = t.messages()
        got = sorted(str(m["Message-ID"]).strip("<>") for m in msgs)
        want = sorted(r["message_id"].strip("<>") for r in t.json("outbox"))
        self.assertEqual(got, want)
        self.assertRegex(d.text(), re.compile("space", re.I))


def big_text(n):
    """N bytes of awkward text: long unbroken lines, UTF-8, dots at line
    starts, trailing blanks, and a line longer than 998 bytes."""
    parts = ["Dear client,", ".leading dot", "trailing blanks   ", "caf\u00e9 na\u00efve \u20ac", "x" * 2000]
    s = "\n".join(parts) + "\n"
    while len(s.encode()) < n:
        s += "line %d " % len(s) + "abcdefghij" * 9 + "\n"
    b = s.encode()[:n]
    while True:
        try:
            return b.decode()
        except UnicodeDecodeError:
            b = b[:-1] + b"y"


class WireTest(unittest.TestCase):
    """Around 64 KiB through the real CLI (a command-line argument is capped
    at 128 KiB, so 10 MiB is covered at the mail-builder level, in
    tests/unit/test_mail.c)."""

    def test_bodies_around_64k(self):
        srv = SmtpServer(self)
        t = Tickler(self, smtp=srv)
        acc = t.account()
        t.send("approval", acc, "Annual accounts")
        for i, size in enumerate((65535, 65536, 65537)):
            srv.clear()
            text = big_text(size)
            self.assertEqual(len(text.encode()), size)
            r = t.run("request-approvals", acc, "--message", text, now=at(days=i + 1))
            self.assertEqual(r.rc, 0, r)
            envs = srv.envelopes()
            self.assertEqual(len(envs), 1)
            raw = envs[0]["raw"]
            for line in raw.split(b"\r\n"):
                self.assertLessEqual(len(line), 998)
            msg = srv.messages()[0][1]                # no defects, no bare CR/LF
            body = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
            self.assertIn(text.rstrip("\n"), body)


if __name__ == "__main__":
    unittest.main(verbosity=2)
