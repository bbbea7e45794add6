#!/usr/bin/python3
"""Hostile text through the real binary (issue 11 items 8 and 10).

--json: a value that is not valid UTF-8 - a contact's address written into
the store by another program, an audit detail, a mail server's reply - is
repaired (each ill-formed sequence becomes U+FFFD); its key never
disappears.

Text output: control characters in names, titles and details reach the
terminal escaped ("\\x1b"), never raw; bytes that are not UTF-8 show as
"\\xff".
"""
import json
import os
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tkharness import BIN, SmtpServer, Tickler  # noqa: E402

FFFD = "\ufffd"


def run_bytes(t, *args):
    """Run tickler, stdout and stderr as bytes (no decoding may hide a byte)."""
    env = dict(os.environ)
    env.pop("TICKLER_NOW", None)
    env["TICKLER_CONFIG"] = t.config
    cp = subprocess.run([BIN, "--now", t.now] + [str(a) for a in args], env=env,
                        capture_output=True, timeout=60)
    return cp.returncode, cp.stdout, cp.stderr


def raw_json(t, *args):
    rc, out, err = run_bytes(t, "--json", *args)
    if rc != 0:
        raise AssertionError("tickler --json %s: %d %r" % (args, rc, err))
    out.decode("ascii")  # --json is ASCII: every other character escaped
    return json.loads(out)


class InvalidUtf8InJson(unittest.TestCase):
    def setUp(self):
        # SQLite: bytes that are not UTF-8 are planted with sqlite3, as
        # another program could; PostgreSQL's text refuses them at the door
        self.t = Tickler(self, store="sqlite")
        self.acc = self.t.account("Acme BV", contacts=())
        self.db = os.path.join(self.t.dir, "tickler.db")

    def write(self, sql, *params):
        """Write into the store as another program would, bytes as they are."""
        con = sqlite3.connect(self.db)
        try:
            con.execute(sql, params)
            con.commit()
        finally:
            con.close()

    def test_contact_email_with_an_invalid_byte(self):
        self.write("INSERT INTO contacts (account_id, email, name, notify, created_at) "
                   "VALUES (?, CAST(? AS TEXT), CAST(? AS TEXT), 1, 0)",
                   int(self.acc), b"ann@\xffacme.example", b"Ann \xc3")
        cs = raw_json(self.t, "contact", "list", self.acc)
        self.assertEqual(len(cs), 1)
        self.assertEqual(set(cs[0]), {"id", "email", "name", "notify", "suppressed"})
        self.assertIsNone(cs[0]["suppressed"])
        self.assertEqual(cs[0]["email"], "ann@" + FFFD + "acme.example")
        self.assertEqual(cs[0]["name"], "Ann " + FFFD)
        rc, out, _ = run_bytes(self.t, "contact", "list", self.acc)
        self.assertEqual(rc, 0)
        self.assertIn(b"ann@\\xffacme.example", out)
        self.assertIn(b"Ann \\xc3", out)
        self.assertNotIn(b"\xff", out)

    def test_audit_detail_with_invalid_utf8(self):
        # a truncated sequence, a lone continuation byte and a surrogate
        self.write("INSERT INTO audit (at, actor, account_id, action, detail) "
                   "VALUES (0, 'cli', ?, 'note', CAST(? AS TEXT))",
                   int(self.acc), b"caf\xc3 \x80 \xed\xa0\x80 ok \xe2\x82\xac")
        trail = raw_json(self.t, "audit", "--account", self.acc)
        note = [e for e in trail if e["action"] == "note"]
        self.assertEqual(len(note), 1)
        self.assertIn("detail", note[0])
        self.assertEqual(note[0]["detail"],
                         "caf" + FFFD + " " + FFFD + " " + FFFD * 3 + " ok \u20ac")
        for e in trail:
            self.assertEqual(set(e), {"id", "at", "actor", "account", "item", "job", "action",
                                      "detail", "recorded_at"})


class InvalidUtf8FromAMailServer(unittest.TestCase):
    def test_smtp_reply_with_an_invalid_byte(self):
        bad = "nobody@acme.example"
        reply = b"550 5.1.1 mailbox \xff\xfe unknown"
        srv = SmtpServer(self, "--fail-rcpt-raw", "%s=%s" % (bad, reply.hex()))
        t = Tickler(self, smtp=srv)
        acc = t.account("Acme BV", contacts=((bad, "Nobody", True),))
        t.send("proposal", acc, "Engagement letter")
        dead = raw_json(t, "outbox", "--failed")
        self.assertEqual(len(dead), 1, dead)
        self.assertIn("reply", dead[0])
        self.assertEqual(dead[0]["reply_code"], 550)
        self.assertIn("mailbox " + FFFD + FFFD + " unknown", dead[0]["reply"])
        failed = [e for e in raw_json(t, "audit", "--account", acc)
                  if e["action"] == "delivery-failed"]
        self.assertEqual(len(failed), 1)
        self.assertIn("mailbox " + FFFD + FFFD + " unknown", failed[0]["detail"])
        rc, out, _ = run_bytes(t, "outbox", "--failed")
        self.assertEqual(rc, 0)
        # repaired once, where the reply comes in (settle.c), so the store
        # (PostgreSQL too), the JSON and the text all carry the same U+FFFD
        self.assertIn(("mailbox " + FFFD + FFFD + " unknown").encode(), out)
        self.assertNotIn(b"\xff", out)


class ControlCharactersInText(unittest.TestCase):
    ESC = "\x1b"

    def test_names_titles_and_details_are_escaped(self):
        t = Tickler(self)
        name = "Evil\x1b[2J\x1b]0;pwned\x07 BV"
        acc = t.account(name, contacts=(("ann@acme.example", "Ann\x1b[8m", True),))
        item = t.send("proposal", acc, "Letter\x1b[1A\x9b\u0085done")
        outputs = [
            run_bytes(t, "account", "list"),
            run_bytes(t, "contact", "list", acc),
            run_bytes(t, "show", item),
            run_bytes(t, "list"),
            run_bytes(t, "todo", acc),
            run_bytes(t, "audit", "--account", acc),
            run_bytes(t, "outbox"),
        ]
        for rc, out, err in outputs:
            self.assertEqual(rc, 0, err)
            self.assertNotIn(b"\x1b", out)
            self.assertNotIn(b"\x07", out)
            self.assertNotIn("\u0085".encode(), out)
        self.assertIn(b"Evil\\x1b[2J\\x1b]0;pwned\\x07 BV", outputs[0][1])
        self.assertIn(b"Ann\\x1b[8m", outputs[1][1])
        self.assertIn(b"Letter\\x1b[1A\\u009b\\u0085done", outputs[2][1])
        # an error quoting what the user typed is one escaped line too
        rc, out, err = run_bytes(t, "contact", "add", "No\x1b[31mSuch", "x@y.example")
        self.assertEqual(rc, 1)
        self.assertNotIn(b"\x1b", err)
        self.assertIn(b"No\\x1b[31mSuch", err)
        # --json keeps the value itself (JSON escapes it)
        self.assertEqual(t.json("show", item)["title"], "Letter\x1b[1A\x9b\u0085done")
        self.assertEqual([a["name"] for a in t.json("account", "list")], [name])


if __name__ == "__main__":
    unittest.main(verbosity=2)
