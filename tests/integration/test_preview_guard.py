"""Issue 14: the faster preview prints what the old one printed.

The preview was made faster (batched "already escalated?" lookups, subjects
made from only the variables they use, local times remembered, JSON
written directly).  This guard runs one small store with send windows,
holidays, a hold, the tone ladder, an anchored schedule, an escalation
(with and without a manager), a digest account and a fresh contact, and
compares `preview` (text), `preview --json` and `preview --json --render`
byte for byte with what the binary before those changes printed
(tests/integration/preview_guard/, written by that binary with
TK_PREVIEW_GUARD_WRITE=1).  Message-IDs are random: each distinct one is
replaced by its number of appearance before comparing.
"""
import os
import re
import unittest

from tkharness import SOURCE, SmtpServer, Tickler

INVOICE = {"amount": "450.00", "currency": "EUR"}
T0 = "2026-12-01T08:00:00Z"  # Tuesday 09:00 Amsterdam
GOLDEN = os.path.join(SOURCE, "tests", "integration", "preview_guard")
MSGID = re.compile(r"<[0-9A-Za-z._+-]+@[0-9A-Za-z.-]+>")


def normal(text):
    seen = {}
    return MSGID.sub(lambda m: "<msgid-%d>" % seen.setdefault(m.group(0), len(seen) + 1), text)


class PreviewGuard(unittest.TestCase):
    def test_preview_output_is_unchanged(self):
        srv = SmtpServer(self)
        # store="sqlite" not needed: everything goes through the binary
        t = Tickler(self, smtp=srv)
        a = t.ok("account", "add", "Bakker BV", "--language", "nl", "--timezone",
                 "Europe/Amsterdam", "--window", "mon-fri 09:00-17:00", "--holidays", "nl",
                 "--manager", "boss@bakker.example", now=T0).strip()
        t.ok("contact", "add", a, "ann@bakker.example", "--name", "Ann", now=T0)
        t.ok("contact", "add", a, "bob@bakker.example", now=T0)
        t.ok("contact", "add", a, "cc@bakker.example", "--no-notify", now=T0)
        b = t.ok("account", "add", "Digest Co", "--digest", "on", now=T0).strip()
        t.ok("contact", "add", b, "carol@digest.example", "--name", "Carol \"C\" \u00e9", now=T0)
        c = t.ok("account", "add", "No Manager Ltd", "--timezone", "America/New_York", now=T0).strip()
        t.ok("contact", "add", c, "dan@nomanager.example", now=T0)
        t.send("invoice", a, "Fees 2026", "--template", "payment-reminders", "--every", "3",
               "--count", "3", fields=INVOICE, now=T0)
        t.send("invoice", a, "Q4 \"VAT\" \u20ac", "--due", "2026-12-25", "--schedule", "-7,0,7",
               fields=INVOICE, now=T0)
        t.send("organizer", a, "Docs", "--every", "1", "--count", "2", now=T0)
        held = t.send("proposal", a, "Offer", "--every", "1", "--count", "2", now=T0)
        t.ok("hold", held, "--until", "2026-12-05T12:00:00Z", "--reason", "waiting", now=T0)
        frozen = t.send("proposal", a, "Frozen", "--every", "2", "--count", "2", now=T0)
        t.ok("hold", frozen, now=T0)
        t.send("approval", b, "Jaarrekening", "--every", "2", "--count", "2", now=T0)
        t.send("organizer", b, "Bank statements", "--every", "2", "--count", "3", now=T0)
        t.send("invoice", c, "Fees", "--every", "2", "--count", "1", fields=INVOICE, now=T0)
        t.ok("tick", now="2026-12-01T08:30:00Z")  # the notifications go out
        t.ok("contact", "add", a, "fresh@bakker.example", "--name", "Fresh",
             now="2026-12-01T09:00:00Z")
        now = "2026-12-01T10:00:00Z"
        outs = {
            "text.txt": t.ok("preview", "--days", "30", now=now),
            "json.txt": t.ok("--json", "preview", "--days", "30", now=now),
            "render.txt": t.ok("--json", "preview", "--days", "30", "--render", now=now),
            "account.txt": t.ok("--json", "preview", "--account", b, "--days", "9", now=now),
            "render-text.txt": t.ok("preview", "--account", c, "--days", "30", "--render", now=now),
        }
        for name, text in sorted(outs.items()):
            path = os.path.join(GOLDEN, name)
            if os.environ.get("TK_PREVIEW_GUARD_WRITE"):
                with open(path, "w", encoding="utf-8") as f:
                    f.write(normal(text))
                continue
            with open(path, encoding="utf-8") as f:
                want = f.read()
            self.assertEqual(normal(text), want, name)


if __name__ == "__main__":
    unittest.main()
