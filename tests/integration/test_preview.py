"""Issue 14: `tickler preview` and `tickler why`.

Through the real binary with --now and a real SMTP server (aiosmtpd): the
preview taken before the ticks lists exactly what the following ticks send
(times, items, steps, recipients, subjects), with send windows, holidays
and holds applied; it changes nothing (the store's dump and file are the
same afterwards); bad options are refused with exit 2.  `why` explains the
next send and what moves it.
"""
import email.utils
import hashlib
import json
import os
import re
import sqlite3
import unittest

from tkharness import MailCase, SmtpServer, Tickler, at, iso, parse_iso

INVOICE = {"amount": "450.00", "currency": "EUR"}
T0 = "2026-12-01T22:00:00Z"  # Tuesday 17:00 New York


def utc(msg):
    return iso(email.utils.parsedate_to_datetime(str(msg["Date"])).timestamp())


class PreviewCase(MailCase):
    def setup_ny(self):
        """A New York account (mon-fri 09:00-17:00) with two notified
        contacts and one that is not, and items of every kind of case."""
        t = self.deploy()
        acc = t.ok("account", "add", "Acme NY", "--timezone", "America/New_York", "--window",
                   "mon-fri 09:00-17:00").strip()
        t.ok("contact", "add", acc, "ann@acme.example", "--name", "Ann", now=T0)
        t.ok("contact", "add", acc, "bob@acme.example", "--name", "Bob", now=T0)
        t.ok("contact", "add", acc, "cc@acme.example", "--no-notify", now=T0)
        items = {
            # due Friday 17:00 New York (closed): Monday 09:00, then D1 from it
            "friday": t.send("invoice", acc, "Fees", "--every", "3", "--count", "3",
                             fields=INVOICE, now=T0),
            "daily": t.send("organizer", acc, "Docs", "--every", "1", "--count", "4", now=T0),
            "held_until": t.send("proposal", acc, "Offer", "--every", "1", "--count", "2", now=T0),
            "held": t.send("proposal", acc, "Frozen", "--every", "1", "--count", "2", now=T0),
        }
        # held until Saturday 12:00 New York: resumes Monday 09:00
        t.ok("hold", items["held_until"], "--until", "2026-12-05T17:00:00Z", now=T0)
        t.ok("hold", items["held"], now=T0)
        self.srv.clear()  # the notifications
        return t, acc, items

    def reminders(self):
        """Every automatic email aiosmtpd received: (at, item, kind, to, subject)."""
        out = []
        for rcpts, m in self.srv.messages():
            if m["X-Tickler-Kind"] in ("reminder", "notification", "escalation"):
                out.append((utc(m), int(m["X-Tickler-Item"]), str(m["X-Tickler-Kind"]),
                            rcpts[0], str(m["Subject"])))
        return sorted(out)

    def tick_through(self, t, pv, days):
        """A tick at every moment the preview names, and twice a day between."""
        end = parse_iso(T0) + days * 86400
        moments = {parse_iso(p["at"]) for p in pv}
        moments |= set(range(parse_iso(T0) + 3600, int(end), 12 * 3600))
        for m in sorted(moments):
            t.ok("tick", now=iso(m))
        return end


class Preview(PreviewCase):
    def test_preview_lists_exactly_what_the_ticks_send(self):
        t, acc, items = self.setup_ny()
        pv = t.json("preview", "--days", "14", now=T0)
        self.assertTrue(pv)
        expected = sorted((p["at"], p["item"], p["kind"], e["to"], e["subject"]) for p in pv
                          for e in p["emails"])
        rem = [p for p in pv if p["kind"] == "reminder"]
        for p in rem:
            self.assertEqual(p["recipients"], ["ann@acme.example", "bob@acme.example"])
            self.assertIsNone(p["error"])
            self.assertEqual(p["account"], "Acme NY")
        # after the last step, the escalation: this account has no manager,
        # so it is listed to nobody (the tick only records it)
        esc = [p for p in pv if p["kind"] == "escalation"]
        self.assertTrue(esc)
        for p in esc:
            self.assertEqual((p["recipients"], p["step"]), ([], p["count"]))
        self.assertEqual({p["kind"] for p in pv}, {"reminder", "escalation"})
        self.assertNotIn(items["held"], [p["item"] for p in pv], "held without until: nothing")
        # steps n of count, counted per item
        for name, count in (("friday", 3), ("daily", 4), ("held_until", 2)):
            steps = [(p["step"], p["count"]) for p in rem if p["item"] == items[name]]
            self.assertEqual(steps, [(i + 1, count) for i in range(len(steps))], name)
        # windows and holds applied: Friday evening -> Monday 09:00 New York
        friday = [p for p in rem if p["item"] == items["friday"]]
        self.assertEqual(friday[0]["at"], "2026-12-07T14:00:00Z")
        self.assertIn("2026-12-07 09:00", friday[0]["local"])
        self.assertIn("outside the send window", friday[0]["moved"])
        self.assertEqual(friday[1]["at"], "2026-12-10T14:00:00Z")  # D1 from the email sent
        held = [p for p in rem if p["item"] == items["held_until"]]
        self.assertEqual(held[0]["at"], "2026-12-07T14:00:00Z")
        for p in pv:  # never outside the window
            self.assertRegex(p["local"], r" (09|1[0-6]):\d\d ")
        # now tick at every moment the preview names, and twice a day between
        end = self.tick_through(t, pv, 14)
        self.assertEqual(self.reminders(), expected)
        # the steps the outbox recorded are the ones the preview named
        rows = [r for r in t.json("outbox", now=iso(end)) if r["kind"] == "reminder"]
        got = sorted((r["item"], r["step"], r["recipient"]) for r in rows)
        want = sorted((p["item"], p["step"], e["to"]) for p in rem for e in p["emails"])
        self.assertEqual(got, want)

    def test_fresh_contact_and_escalation(self):
        """A contact added after the notification gets the notification
        first (nobody.c), and the manager the escalation after the last
        step (escalate.c): the preview lists both, as aiosmtpd gets them."""
        t, acc, items = self.setup_ny()
        t.ok("account", "set", acc, "--manager", "boss@firm.example", now=T0)
        t.ok("contact", "add", acc, "cy@acme.example", "--name", "Cy", now=T0)
        pv = t.json("preview", "--days", "14", now=T0)
        self.assertEqual({p["kind"] for p in pv}, {"notification", "reminder", "escalation"})
        for p in pv:
            self.assertIsNone(p["error"])
            if p["kind"] == "notification":
                self.assertEqual((p["recipients"], p["step"]), (["cy@acme.example"], 0))
            elif p["kind"] == "reminder":
                self.assertEqual(p["recipients"][:2], ["ann@acme.example", "bob@acme.example"])
            else:
                self.assertEqual((p["recipients"], p["step"]), (["boss@firm.example"], p["count"]))
                self.assertRegex(p["local"], r" (09|1[0-6]):\d\d ")  # deferred to the window
        # one notification per item, with (not instead of) its first reminder
        for name in ("friday", "daily", "held_until"):
            mine = [(p["kind"], p["step"], p["at"]) for p in pv if p["item"] == items[name]]
            self.assertEqual(mine[0][:2], ("notification", 0), name)
            self.assertEqual(mine[1][:2], ("reminder", 1), name)
            self.assertEqual(mine[0][2], mine[1][2], name)
            # the first reminder goes to those who had the notification, the
            # later ones to cy too
            rem = [p["recipients"] for p in pv if p["item"] == items[name]
                   and p["kind"] == "reminder"]
            self.assertEqual(rem[0], ["ann@acme.example", "bob@acme.example"], name)
            for r in rem[1:]:
                self.assertEqual(r, ["ann@acme.example", "bob@acme.example", "cy@acme.example"])
        text = t.ok("preview", "--days", "14", now=T0)
        self.assertIn("notification (first email to this contact)", text)
        self.assertIn("escalation to the manager (after reminder 4 of 4)", text)
        expected = sorted((p["at"], p["item"], p["kind"], e["to"], e["subject"]) for p in pv
                          for e in p["emails"])
        self.tick_through(t, pv, 14)
        self.assertEqual(self.reminders(), expected)

    def test_digest_accounts_preview_lists_what_lands_in_the_mailbox(self):
        """Digest accounts (issue 14): the reminders due for one address at
        one moment are one digest email. The preview lists each item's step
        as kind "digest" with the digest's subject; a step due alone stays
        kind "reminder"; ticking at the moments it names, aiosmtpd gets
        exactly one email per (moment, address) with that subject."""
        t, acc, items = self.setup_ny()
        t.ok("account", "set", acc, "--digest", "on", now=T0)
        # a second digest account shares Ann; its item is due with Acme's
        other = t.ok("account", "add", "Ann Holding", "--timezone", "America/New_York",
                     "--window", "mon-fri 09:00-17:00", "--digest", "on").strip()
        t.ok("contact", "add", other, "ann@acme.example", "--name", "Ann", now=T0)
        items["holding"] = t.send("organizer", other, "Holding docs", "--every", "1", "--count",
                                  "2", now=T0)
        self.srv.clear()
        pv = t.json("preview", "--days", "14", now=T0)
        dig = [p for p in pv if p["kind"] == "digest"]
        self.assertTrue(dig)
        self.assertIn(items["holding"], {p["item"] for p in dig})
        def in_digest(e):
            return re.match(r"^\d+ items waiting for you$", e["subject"])

        for p in dig:
            self.assertIsNone(p["error"])
            self.assertTrue(any(in_digest(e) for e in p["emails"]), p)
            for e in p["emails"]:
                if not in_digest(e):
                    continue  # this address gets the item's own reminder then
                n = int(e["subject"].split()[0])
                same = [q for q in dig if q["at"] == p["at"]
                        and e in [dict(f) for f in q["emails"]]]
                self.assertEqual(len(same), n, (p["at"], e["to"]))
        self.assertTrue({p["kind"] for p in pv} <= {"digest", "reminder", "escalation"})
        text = t.ok("preview", "--days", "14", now=T0)
        self.assertIn("(inside the digest)", text)
        # a digest: one email per (moment, address); a reminder: its own
        expected = set()
        for p in pv:
            for e in p["emails"]:
                if p["kind"] == "digest" and in_digest(e):
                    expected.add((p["at"], 0, "digest", e["to"], e["subject"]))
                elif p["kind"] == "digest":
                    expected.add((p["at"], p["item"], "reminder", e["to"], e["subject"]))
                else:
                    expected.add((p["at"], p["item"], p["kind"], e["to"], e["subject"]))
        # why: the next reminder goes out inside the digest
        why = t.ok("why", items["holding"], now=T0)
        self.assertIn("inside the day's digest to ann@acme.example", why)
        self.assertTrue(t.json("why", items["holding"], now=T0)["next_send"]["digest"])
        self.tick_through(t, pv, 14)
        got = []
        for rcpts, m in self.srv.messages():
            kind = str(m["X-Tickler-Kind"])
            if kind in ("reminder", "notification", "escalation", "digest"):
                got.append((utc(m), int(m["X-Tickler-Item"] or 0), kind, rcpts[0],
                            str(m["Subject"])))
        self.assertEqual(len(got), len(set(got)), "one email per (moment, address)")
        self.assertEqual(set(got), expected)

    def test_json_is_one_document_and_render_adds_only_the_text(self):
        """--json is written as it comes (100k entries): the same document
        jansson prints (JSON_INDENT(2), JSON_ENSURE_ASCII), and without
        --render the same list as with it, less the messages."""
        t, acc, items = self.setup_ny()
        t.send("organizer", acc, "Dossier \u201cQ4\u201d \u00e9t\u00e9 \U0001F600 \\ \"x\"",
               "--every", "1", "--count", "2", now=T0)
        r = t.run("--json", "preview", "--days", "14", now=T0)
        self.assertEqual(r.rc, 0, r)
        doc = json.loads(r.out)
        dumped = json.dumps(doc, indent=2)  # jansson's layout; its \u escapes are upper case
        dumped = re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), dumped)
        self.assertEqual(r.out, dumped + "\n")
        self.assertIn("\\uD83D\\uDE00", r.out)
        whole = t.json("preview", "--days", "14", "--render", now=T0)
        for p in whole:
            for e in p["emails"]:
                self.assertTrue(e.pop("message"))
        self.assertEqual(doc, whole)
        empty = t.run("--json", "preview", "--account", t.ok("account", "add", "Empty").strip(),
                      now=T0)
        self.assertEqual(empty.out, "[]\n")

    def test_render_is_the_message_sent(self):
        t, acc, items = self.setup_ny()
        pv = t.json("preview", "--days", "7", "--render", "--account", "Acme NY", now=T0)
        first = [p for p in pv if p["item"] == items["friday"]][0]
        msg = first["emails"][0]["message"]
        self.assertIn("Subject: " + first["subject"], msg.replace("\r\n", "\n"))
        self.assertIn("Date: Mon, 07 Dec 2026 09:00:00 -0500", msg)
        self.assertIn("In-Reply-To:", msg)  # threaded under the notification
        # text output names the same
        out = t.ok("preview", "--render", now=T0)
        self.assertIn("reminder 1 of 3", out)
        self.assertIn("    | Date: Mon, 07 Dec 2026 09:00:00 -0500", out)
        t.ok("tick", now=first["at"])
        sent = [m for rc, m in self.srv.messages() if m["X-Tickler-Item"] == str(items["friday"])
                and rc == ["ann@acme.example"]]
        self.assertEqual(len(sent), 1)
        body = sent[0].get_body(("plain",)).get_content().strip()
        self.assertIn(body.splitlines()[0], msg)
        self.assertEqual(str(sent[0]["Date"]), "Mon, 07 Dec 2026 09:00:00 -0500")
        self.assertEqual(str(sent[0]["Subject"]), first["subject"])

    def test_preview_changes_nothing(self):
        t, acc, items = self.setup_ny()
        db = os.path.join(t.dir, "tickler.db")

        def state():
            con = sqlite3.connect(db)
            dump = "\n".join(con.iterdump())
            con.close()
            files = {}
            for f in sorted(os.listdir(t.dir)):
                if f.startswith("tickler.db"):
                    with open(os.path.join(t.dir, f), "rb") as fh:
                        files[f] = hashlib.sha256(fh.read()).hexdigest()
            return dump, files

        before = state()
        t.ok("preview", now=T0)
        t.json("preview", "--render", "--days", "30", now=T0)
        t.ok("preview", "--account", acc, "--render", now=iso(parse_iso(T0) + 20 * 86400))
        self.assertEqual(state(), before)

    def test_bad_options_are_refused(self):
        t, acc, items = self.setup_ny()
        for args in (("--days", "0"), ("--days", "x"), ("--days", "367"), ("--days", "-1"),
                     ("--days", ""), ("--account", "Nobody"), ("--account", "999"), ("extra",),
                     ("--bogus",)):
            err = t.fails("preview", *args, rc=2)
            self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_empty_and_account_filter(self):
        t, acc, items = self.setup_ny()
        other = t.ok("account", "add", "Other").strip()
        self.assertEqual(t.json("preview", "--account", other, now=T0), [])
        self.assertIn("no automatic email", t.ok("preview", "--account", other, now=T0))
        self.assertEqual({p["account"] for p in t.json("preview", "--account", acc, now=T0)},
                         {"Acme NY"})


class Why(PreviewCase):
    def test_window_moves_the_next_send(self):
        t, acc, items = self.setup_ny()
        w = t.json("why", items["friday"], now="2026-12-04T23:00:00Z")
        ns = w["next_send"]
        self.assertEqual(ns["at"], "2026-12-07T14:00:00Z")
        self.assertEqual((ns["step"], ns["count"], ns["recipients"]), (1, 3, 2))
        self.assertIn("outside the send window", ns["moved"])
        self.assertIsNone(ns["error"])
        self.assertEqual(w["notify_on"], 2)
        self.assertEqual(w["suppressed"], [])
        # the emails so far: the notification to both, sent
        self.assertEqual(sorted((e["kind"], e["recipient"], e["state"]) for e in w["emails"]),
                         [("notification", "ann@acme.example", "sent"),
                          ("notification", "bob@acme.example", "sent")])
        # the keys it had before stay
        for k in ("item", "type_loaded", "next", "due_now", "retry", "nobody_left",
                  "last_failure"):
            self.assertIn(k, w)
        self.assertTrue(w["type_loaded"])
        out = t.ok("why", items["friday"], now="2026-12-04T23:00:00Z")
        self.assertNotIn("no plugin", out)
        self.assertIn("next send:     2026-12-07T14:00:00Z (2026-12-07 09:00 America/New_York), "
                      "reminder 1 of 3 to 2 recipients", out)
        self.assertIn("moved by:", out)
        self.assertIn("notification 0 to ann@acme.example, sent", out)

    def test_holds(self):
        t, acc, items = self.setup_ny()
        w = t.json("why", items["held_until"], now=T0)
        self.assertEqual(w["next_send"]["at"], "2026-12-07T14:00:00Z")
        self.assertIn("outside the send window", w["next_send"]["moved"])
        w = t.json("why", items["held_until"], now="2026-12-03T12:00:00Z")
        self.assertIn("on hold until 2026-12-05T17:00:00Z; then 2026-12-07 09:00", w["next_send"]["moved"])
        w = t.json("why", items["held"], now=T0)
        self.assertIsNone(w["next_send"])
        self.assertIn("next send:     none (on hold until released)", t.ok("why", items["held"]))

    def test_holiday(self):
        t = self.deploy()
        acc = t.ok("account", "add", "Acme NL", "--timezone", "Europe/Amsterdam", "--window",
                   "mon-fri 09:00-17:00", "--holidays", "nl").strip()
        t.ok("contact", "add", acc, "ann@acme.example")
        item = t.send("organizer", acc, "Q", "--every", "3", "--count", "1",
                      now="2026-12-22T09:00:00Z")
        w = t.json("why", item, now="2026-12-22T09:00:00Z")
        self.assertEqual(w["next_send"]["at"], "2026-12-28T08:00:00Z")
        self.assertIn("Christmas", w["next_send"]["moved"])

    def test_nobody_notify_on_and_suppressed(self):
        srv = SmtpServer(self, "--fail-rcpt", "bob@acme.example=550")
        t = self.t = Tickler(self, smtp=srv, extra_ini="[inbound]\nsuppress_after = 1\n")
        acc = t.ok("account", "add", "Acme").strip()
        t.ok("contact", "add", acc, "ann@acme.example", "--no-notify")
        item = t.send("organizer", acc, "Q", "--every", "1", "--count", "2", now=at(0))
        w = t.json("why", item, now=at(0, 1))
        self.assertEqual(w["notify_on"], 0)
        # the step waits a day at a time until someone has notify on
        # (issue 14 "nobody to send to", nobody.c): no email to come
        self.assertIsNone(w["next_send"])
        self.assertIn("no contact of the account has notify on", t.ok("why", item, now=at(0, 1)))
        t.ok("contact", "add", acc, "bob@acme.example", now=at(0, 2))
        t.ok("contact", "add", acc, "cy@acme.example", now=at(0, 2))
        t.ok("resend", item, now=at(0, 3))  # bob's RCPT gets 550: suppressed
        w = t.json("why", item, now=at(0, 4))
        self.assertEqual([c["email"] for c in w["suppressed"]], ["bob@acme.example"])
        self.assertEqual(w["next_send"]["recipients"], 1)
        dead = [e for e in w["emails"] if e["recipient"] == "bob@acme.example"]
        self.assertEqual(dead[0]["state"], "dead")
        self.assertIn("550", dead[0]["last_error"])
        out = t.ok("why", item, now=at(0, 4))
        self.assertIn("suppressed:    bob@acme.example", out)
        self.assertIn("dead", out)


if __name__ == "__main__":
    unittest.main()
