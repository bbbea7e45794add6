#!/usr/bin/python3
"""Issue 15 phase 2: what tickler does about what comes back, end to end
through the real binary: a real dovecot mailbox (imapd.py) polled by
`tickler inbound --poll` / `tickler run`, the same messages through
`tickler inbound` on standard input, a real aiosmtpd server (smtpd.py) for
what is sent afterwards.  The bounces are the real-MTA fixtures of
tests/fixtures/inbound (Postfix made them with the VERP tags of outbox rows
1 and 2 under the secret below, so they verify as they are); the replies'
In-Reply-To are pointed at the Message-IDs this deployment really sent."""
import os
import random
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imapd import Dovecot  # noqa: E402
from tkharness import SmtpServer, Tickler  # noqa: E402

SRC = os.environ.get("TK_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
FIXTURES = os.path.join(SRC, "tests", "fixtures", "inbound")
SECRET = "fixture-secret-0123456789abcdef"
INBOUND = "[inbound]\nsecret = %s\nreturn_path = bounces@bakker.example\nforward_to = staff@bakker.example\n" % SECRET

# the Message-IDs the hand-made fixtures answer, replaced by ours
OOO_ID = b"<5d0e3a2b7c9f41e08a6b2c3d4e5f6a7b.tq1x2y@bakker.example>"
HUMAN_ID = b"<80c43cfaf64109c12416b3c8163cd78d.tpb7g8@bakker.example>"
CHAT_ID = b"<c4a1e2f3b5d64e7f8091a2b3c4d5e6f7.tc4h5j@bakker.example>"


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


class Deployment:
    """Client BV (jane = outbox row 1, slow = row 2, an invoice) and Jansen
    (pieter = row 3, a chat), sent through the file transport or SMTP."""

    def __init__(self, tc, extra="", smtp=None):
        self.tc = tc
        self.t = Tickler(tc, smtp=smtp, extra_ini=INBOUND + extra)
        self.client = self.t.account("Client BV", contacts=(
            ("jane@client.example", "Jane Client", True), ("slow@client.example", "Sam Slow", True)))
        self.jansen = self.t.account("Jansen", language="nl", contacts=(("pieter@jansen.example", "Pieter", True),))
        self.invoice = self.t.send("invoice", self.client, "Fees 2026", "--reminders", "on", "--every", "3", "--count", "3")
        self.chat = self.t.send("chat", self.jansen, "bonnetjes 2026", "--reminders", "on")
        self.rows = {r["recipient"]: r for r in self.t.json("outbox")}
        tc.assertEqual([self.rows[a]["id"] for a in ("jane@client.example", "slow@client.example", "pieter@jansen.example")], [1, 2, 3])

    def messages(self):
        rows = self.rows
        return {
            "dsn-hard": fixture("postfix-dsn-hard.eml"),
            "dsn-delay": fixture("postfix-dsn-delay.eml"),
            "exim": fixture("sisimai-exim-02.eml"),
            "ooo": fixture("ooo-en.eml").replace(OOO_ID, rows["slow@client.example"]["message_id"].encode()),
            "human": fixture("reply-human.eml").replace(HUMAN_ID, rows["jane@client.example"]["message_id"].encode()),
            "chat": fixture("reply-chat.eml").replace(CHAT_ID, rows["pieter@jansen.example"]["message_id"].encode()),
            "junk": fixture("junk.eml"),
        }

    def audit(self, item):
        return [a["action"] for a in self.t.json("audit", item)]

    def contacts(self, acc):
        return {c["email"]: c for c in self.t.json("contact", "list", acc)}

    def state(self):
        """Everything the messages may change, to compare before and after."""
        return (self.t.json("audit"), self.t.json("outbox"), self.t.json("contact", "list", self.client),
                self.t.json("contact", "list", self.jansen), self.t.json("show", self.invoice),
                self.t.json("show", self.chat))

    def check_effects(self):
        tc = self.tc
        cs = self.contacts(self.client)
        jane = cs["jane@client.example"]["suppressed"]
        tc.assertIsNotNone(jane, "the verified Postfix DSN suppresses jane")
        tc.assertIn("5.1.1", jane["reason"])
        tc.assertIn("at", jane)
        tc.assertIsNone(cs["slow@client.example"]["suppressed"], "a delay (4.x.x) suppresses nothing")
        acts = self.audit(self.invoice)
        for a in ("suppressed", "bounce-soft", "auto-reply", "reply"):
            tc.assertIn(a, acts)
        tc.assertEqual(acts.count("suppressed"), 1)
        tc.assertEqual(acts.count("reply"), 1)
        # the invoice is still pending (a reply does not complete it) ...
        tc.assertEqual(self.t.json("show", self.invoice)["state"], "pending")
        # ... but its reminders wait [inbound] reply_hold_days (7) for staff
        hold = self.t.json("show", self.invoice)["hold"]
        tc.assertIsNotNone(hold, "a person's reply holds the invoice's reminders")
        tc.assertEqual(hold["reason"], "client replied")
        tc.assertIsNotNone(hold["until"])
        tc.assertEqual(acts.count("hold"), 1)
        # the chat's plugin answered with its event instead: no hold
        tc.assertIsNone(self.t.json("show", self.chat)["hold"])
        # ... the chat reply is the chat's "replied" event (R14)
        tc.assertEqual(self.t.json("show", self.chat)["state"], "answered")
        tc.assertIn("reply", self.audit(self.chat))
        tc.assertIn("event", self.audit(self.chat))
        # staff hear: jane's suppression once, each reply forwarded once
        staff = [r for r in self.t.json("outbox") if r["recipient"] == "staff@bakker.example"]
        tc.assertEqual(len(staff), 3, staff)
        tc.assertTrue(all(r["kind"] == "staff-notice" for r in staff))
        # the Exim bounce is addressed to no tag of ours, the junk matches nothing:
        # nobody else is suppressed
        tc.assertIsNone(self.contacts(self.jansen)["pieter@jansen.example"]["suppressed"])


class InboundActions(unittest.TestCase):
    def test_verp_senders_and_return_path(self):
        d = Deployment(self)
        for addr, r in d.rows.items():
            self.assertRegex(r["sender"], r"^bounces\+%d-[a-z2-7]{16}@bakker\.example$" % r["id"])
        # the fixture was made by Postfix with row 1's tag: the same as ours
        self.assertIn(d.rows["jane@client.example"]["sender"].encode(), fixture("postfix-dsn-hard.eml"))
        # the file transport writes the envelope sender as Return-Path
        heads = []
        for p in d.t.spooled():
            with open(p, "rb") as f:
                heads.append(f.read().split(b"\r\n", 1)[0])
        self.assertIn(b"Return-Path: <%s>" % d.rows["slow@client.example"]["sender"].encode(), heads)

    def test_imap_poll_acts_once_and_marks_all(self):
        with Dovecot(self) as imap:
            extra = "url = %s\nusername = %s\npassword = %s\n" % (imap.url(), imap.user, imap.password)
            d = Deployment(self, extra)
            msgs = d.messages()
            imap.append(list(msgs.values()))
            out = d.t.json("inbound", "--poll")
            self.assertEqual(out["found"], len(msgs))
            self.assertEqual(out["processed"], len(msgs))
            flags = imap.flags()
            self.assertEqual(len(flags), len(msgs))
            self.assertTrue(all("$TicklerDone" in f for f in flags.values()), flags)
            d.check_effects()
            before = d.state()
            out = d.t.json("inbound", "--poll")
            self.assertEqual(out["found"], 0)
            self.assertEqual(d.state(), before, "a second poll changes nothing")
            # the same messages again through the pipe: recorded already
            for raw in msgs.values():
                r = d.t.json("inbound", input=raw.decode("latin-1"))
                self.assertTrue(r["duplicate"], r)
            self.assertEqual(d.state(), before)

    def test_stdin_has_the_same_effects(self):
        d = Deployment(self)
        for name, raw in d.messages().items():
            r = d.t.run("--json", "inbound", input=raw.decode("latin-1"))
            self.assertEqual(r.rc, 0, (name, r))
        d.check_effects()
        # --recipient gives the envelope recipient: the Exim text bounce
        # sent to jane's tag names other addresses, so it does not verify
        r = d.t.json("inbound", "--recipient", d.rows["slow@client.example"]["sender"],
                     input=fixture("sisimai-exim-02.eml").replace(b"Message-Id", b"X-Old-Id").decode("latin-1"))
        self.assertEqual(r["class"], "hard-bounce")
        self.assertNotEqual(r["action"], "suppressed")
        self.assertIsNone(d.contacts(d.client)["slow@client.example"]["suppressed"])

    def test_the_accounts_manager_hears_before_forward_to(self):
        d = Deployment(self)
        d.t.ok("account", "set", d.client, "--manager", "boss@bakker.example")
        msgs = d.messages()
        for name in ("dsn-hard", "human"):
            r = d.t.run("--json", "inbound", input=msgs[name].decode("latin-1"))
            self.assertEqual(r.rc, 0, (name, r))
        to = [r["recipient"] for r in d.t.json("outbox") if r["kind"] == "staff-notice"]
        self.assertEqual(to, ["boss@bakker.example"] * 2, to)
        # Jansen has no manager: forward_to hears about its chat reply
        r = d.t.run("--json", "inbound", input=msgs["chat"].decode("latin-1"))
        self.assertEqual(r.rc, 0, r)
        to = [r["recipient"] for r in d.t.json("outbox") if r["kind"] == "staff-notice"]
        self.assertEqual(to[-1], "staff@bakker.example")

    def test_forged_bounces_suppress_nothing(self):
        d = Deployment(self)
        hard = fixture("postfix-dsn-hard.eml")
        tag = d.rows["jane@client.example"]["sender"].encode()
        wrong = tag[:-len("@bakker.example") - 1] + (b"a" if tag[-len("@bakker.example") - 1:-len("@bakker.example")] != b"a" else b"b") + b"@bakker.example"
        forged = [
            hard.replace(tag, wrong).replace(b"<2026113009525", b"<x2026113009525"),  # wrong HMAC
            fixture("forged-dsn.eml"),  # jane's real tag, a DSN naming boss@other.example
        ]
        for raw in forged:
            r = d.t.json("inbound", input=raw.decode("latin-1"))
            self.assertEqual(r["class"], "hard-bounce")
            self.assertEqual(r["action"], "ignored", r)
        self.assertTrue(all(c["suppressed"] is None for c in d.contacts(d.client).values()))
        self.assertNotIn("suppressed", d.audit(d.invoice))
        self.assertIn("bounce-unverified", d.audit(d.invoice))

    def test_junk_and_bad_input_exit_0_and_store_errors_exit_1(self):
        d = Deployment(self)
        for raw in (b"", b"\x00\xff garbage", b"Subject: hi\n\nno sender\n"):
            r = d.t.run("--json", "inbound", input=raw.decode("latin-1"))
            self.assertEqual(r.rc, 0, r)
        # a store that cannot be opened: exit 1, so that the MTA keeps the
        # message and tries again
        bad = os.path.join(d.t.dir, "bad.ini")
        with open(bad, "w") as f:
            f.write(re.sub(r"\[store\]\n(?:[a-z]+ = .*\n)+", "[store]\npath = /nonexistent/folder/t.db\n", d.t.ini))
        r = d.t.run("inbound", input=fixture("ooo-nl.eml").decode("latin-1"), env={"TICKLER_CONFIG": bad})
        self.assertEqual(r.rc, 1, r)
        self.assertTrue(r.err.strip().splitlines()[-1].startswith("tickler: "), r)

    def test_suppressed_contact_gets_no_mail_until_unsuppressed(self):
        smtp = SmtpServer(self)
        d = Deployment(self, smtp=smtp)
        env = smtp.envelopes()
        self.assertTrue(all(e["mail_from"].startswith("bounces+") for e in env), [e["mail_from"] for e in env])
        smtp.clear()
        d.t.json("inbound", input=fixture("postfix-dsn-hard.eml").decode("latin-1"))
        d.t.ok("resend", d.invoice)
        rcpts = sorted(r for e in smtp.envelopes() for r in e["rcpt_tos"])
        self.assertEqual(rcpts, ["slow@client.example", "staff@bakker.example"])
        text = d.t.ok("contact", "list", d.client)
        self.assertIn("SUPPRESSED", text)
        smtp.clear()
        d.t.ok("contact", "unsuppress", d.client, "jane@client.example")
        self.assertIsNone(d.contacts(d.client)["jane@client.example"]["suppressed"])
        d.t.ok("resend", d.invoice)
        rcpts = sorted(r for e in smtp.envelopes() for r in e["rcpt_tos"])
        self.assertEqual(rcpts, ["jane@client.example", "slow@client.example"])
        self.assertIn("unsuppressed", [a["action"] for a in d.t.json("audit", "--account", d.client)])
        d.t.fails("contact", "unsuppress", d.client, "jane@client.example")

    def test_rcpt_5xx_suppresses_after_suppress_after(self):
        smtp = SmtpServer(self, "--fail-rcpt", "jane@client.example=550")
        d = Deployment(self, "suppress_after = 2\n", smtp=smtp)
        # one permanent refusal: not yet
        self.assertIsNone(d.contacts(d.client)["jane@client.example"]["suppressed"])
        d.t.ok("resend", d.invoice)
        sup = d.contacts(d.client)["jane@client.example"]["suppressed"]
        self.assertIsNotNone(sup)
        self.assertIn("RCPT", sup["reason"])

    def test_nobody_left_reminders_wait(self):
        d = Deployment(self)
        hard = fixture("postfix-dsn-hard.eml")
        d.t.json("inbound", input=hard.decode("latin-1"))
        # slow bounces too: a second Postfix-made DSN, for row 2
        slow_tag = d.rows["slow@client.example"]["sender"].encode()
        jane_tag = d.rows["jane@client.example"]["sender"].encode()
        self.assertNotEqual(slow_tag, jane_tag)
        # nobody left is told to staff once; the reminder waits
        before = len(d.t.json("outbox"))
        d.t.ok("contact", "notify", d.client, "slow@client.example", "off")
        d.t.ok("tick", now="2026-12-31T09:00:00Z")
        acts = d.audit(d.invoice)
        self.assertIn("reminder-waiting", acts)
        self.assertNotIn("reminder", acts)
        staff = [r for r in d.t.json("outbox") if r["recipient"] == "staff@bakker.example"]
        self.assertEqual(len(staff), 2, staff)  # the suppression and nobody left
        d.t.ok("tick", now="2027-01-02T09:00:00Z")
        staff = [r for r in d.t.json("outbox") if r["recipient"] == "staff@bakker.example"]
        self.assertEqual(len(staff), 2, "told once")
        self.assertGreater(len(d.t.json("outbox")), before - 1)
        # why says so, in text and JSON
        self.assertTrue(d.t.json("why", d.invoice)["nobody_left"])
        self.assertIn("every notify-on contact of the account is suppressed", d.t.ok("why", d.invoice))
        # a contact back: reminders go on
        d.t.ok("contact", "unsuppress", d.client, "jane@client.example")
        self.assertFalse(d.t.json("why", d.invoice)["nobody_left"])
        d.t.ok("tick", now="2027-01-04T09:00:00Z")
        self.assertIn("reminder", d.audit(d.invoice))

    def test_kill_9_during_poll_loses_and_doubles_nothing(self):
        with Dovecot(self) as imap:
            extra = "url = %s\nusername = %s\npassword = %s\n" % (imap.url(), imap.user, imap.password)
            d = Deployment(self, extra)
            ref = d.rows["jane@client.example"]["message_id"]
            n = 30
            imap.append([("From: Jane <jane@client.example>\r\nTo: office@bakker.example\r\n"
                          "Subject: Re: invoice %d\r\nMessage-ID: <r%d@client.example>\r\n"
                          "In-Reply-To: %s\r\n\r\nAnswer %d.\r\n" % (i, i, ref, i)).encode() for i in range(n)])
            rnd = random.Random(15)
            env = dict(os.environ, TICKLER_CONFIG=d.t.config)
            for _ in range(8):
                p = subprocess.Popen([os.environ.get("TICKLER_BIN", "tickler"), "inbound", "--poll"],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(rnd.uniform(0.05, 0.6))
                p.send_signal(signal.SIGKILL)
                p.wait()
            d.t.ok("inbound", "--poll")
            self.assertEqual(d.t.json("inbound", "--poll")["found"], 0)
            self.assertTrue(all("$TicklerDone" in f for f in imap.flags().values()))
            self.assertEqual(d.audit(d.invoice).count("reply"), n)
            staff = [r for r in d.t.json("outbox") if r["recipient"] == "staff@bakker.example"]
            self.assertEqual(len(staff), n)

    def test_run_polls_the_mailbox(self):
        with Dovecot(self) as imap:
            extra = "url = %s\nusername = %s\npassword = %s\npoll_seconds = 1\n" % (imap.url(), imap.user, imap.password)
            d = Deployment(self, extra)
            imap.append(d.messages()["chat"])
            env = dict(os.environ, TICKLER_CONFIG=d.t.config)
            p = subprocess.Popen([os.environ.get("TICKLER_BIN", "tickler"), "run"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.time() + 20
                while time.time() < deadline and d.t.json("show", d.chat)["state"] != "answered":
                    time.sleep(0.3)
            finally:
                p.send_signal(signal.SIGTERM)
                p.communicate(timeout=20)
            self.assertEqual(d.t.json("show", d.chat)["state"], "answered")
            self.assertTrue(all("$TicklerDone" in f for f in imap.flags().values()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
