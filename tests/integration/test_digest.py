"""Issue 14: one digest per person.

Through the real binary with --now and a real SMTP server (aiosmtpd): with
digest on (`account set --digest on`, or `[reminders] digest = on` for
accounts left at default), every automatic reminder due for one contact
address on one local day goes out as ONE email listing every item, across
accounts that share the address, in the language of the lowest account;
each item still counts its own step and has its own audit entry; a kill -9
of the tick never leads to both the digest and single emails.
"""
import os
import random
import signal
import subprocess
import time
import unittest

from tkharness import BIN, MailCase, SmtpServer, Tickler, at, body

ANN = "ann@shared.example"


def of_kind(srv, kind):
    return [m for _, m in srv.messages() if m["X-Tickler-Kind"] == kind]


class Digest(MailCase):
    def account(self, name, *settings, language="en", contacts=((ANN, "Ann"),)):
        return self.t.account(name, language, [c + (True,) for c in contacts], settings)

    def item(self, acc, title, type_="organizer"):
        return self.t.send(type_, acc, title, "--every", "1", "--count", "2", now=at(0))

    def reminder_audit(self, item):
        return [a["detail"] for a in self.t.json("audit", item) if a["action"] == "reminder"]

    def test_three_items_two_accounts_one_email(self):
        t = self.deploy()
        a = self.account("Acme BV", "--digest", "on",
                         contacts=((ANN, "Ann"), ("bob@acme.example", "Bob")))
        b = self.account("Ann Holding BV", "--digest", "on")
        items = [self.item(a, "Fees 2026", "invoice"), self.item(a, "Questionnaire"),
                 self.item(b, "Annual accounts")]
        t.ok("tick", now=at(0, 1))
        self.assertEqual(len(of_kind(self.srv, "notification")), 5)
        self.srv.clear()
        got = t.json("tick", now=at(1))
        self.assertEqual(got["reminders"], 3)
        self.assertEqual(of_kind(self.srv, "reminder"), [], "no single emails")
        digests = of_kind(self.srv, "digest")
        self.assertEqual(sorted(m["To"] for m in digests), ["Ann <%s>" % ANN, "Bob <bob@acme.example>"])
        ann = [m for m in digests if ANN in m["To"]][0]
        self.assertEqual(str(ann["Subject"]), "3 items waiting for you")
        self.assertIsNone(ann["In-Reply-To"])
        text = body(ann)
        for title in ("Fees 2026", "Questionnaire", "Annual accounts"):
            self.assertIn("- %s (reminder 1 of 2)" % title, text)
        self.assertIn("Ann Holding BV", text)  # two accounts: each line names its own
        bob = [m for m in digests if "bob@" in m["To"]][0]
        self.assertEqual(str(bob["Subject"]), "2 items waiting for you")
        self.assertNotIn("Annual accounts", body(bob))
        for i in items:
            self.assertEqual(t.show(i)["reminders"]["sent"], 1)
            audit = self.reminder_audit(i)
            self.assertEqual(len(audit), 1, audit)
            self.assertIn("automatic reminder 1 of 2 sent to", audit[0])
            self.assertIn(ANN + " (in digest, outbox ", audit[0])
        # why lists the digests an item's reminder went in among its last
        # emails (the digest's row names no item), newest first
        w = t.json("why", items[2])  # Ann Holding BV: Ann only
        self.assertEqual([(e["kind"], e["recipient"], e["step"]) for e in w["emails"]][:1],
                         [("digest", ANN, 0)])
        self.assertEqual(w["emails"][0]["state"], "sent")
        self.assertEqual([e["kind"] for e in w["emails"]][1:], ["notification"])
        w = t.json("why", items[0])  # Acme BV: Ann and Bob each got a digest
        self.assertEqual(sorted(e["recipient"] for e in w["emails"] if e["kind"] == "digest"),
                         [ANN, "bob@acme.example"])
        self.assertIn("digest 0 to " + ANN, t.ok("why", items[0]))
        # the next day: the second step, again one digest each
        self.srv.clear()
        t.ok("tick", now=at(2))
        self.assertEqual(len(of_kind(self.srv, "digest")), 2)
        self.assertEqual(of_kind(self.srv, "reminder"), [])
        self.assertIn("- Fees 2026 (reminder 2 of 2)", body(
            [m for m in of_kind(self.srv, "digest") if ANN in m["To"]][0]))
        for i in items:
            self.assertEqual(t.show(i)["reminders"]["sent"], 2)
            self.assertEqual(len(self.reminder_audit(i)), 2)

    def test_off_by_default_single_emails(self):
        t = self.deploy()
        a = self.account("Acme BV")
        for title in ("One", "Two"):
            self.item(a, title)
        t.ok("tick", now=at(1))
        self.assertEqual(of_kind(self.srv, "digest"), [])
        self.assertEqual(len(of_kind(self.srv, "reminder")), 2)

    def test_config_default_and_account_override(self):
        t = self.deploy(extra_ini="[reminders]\ndigest = on\n")
        a = self.account("Acme BV")  # default: on from the configuration
        c = self.account("Corp BV", "--digest", "off", contacts=(("cy@corp.example", "Cy"),))
        for title in ("One", "Two"):
            self.item(a, title)
            self.item(c, title)
        self.srv.clear()
        t.ok("tick", now=at(1))
        self.assertEqual([m["To"] for m in of_kind(self.srv, "digest")], ["Ann <%s>" % ANN])
        self.assertEqual(sorted(m["To"] for m in of_kind(self.srv, "reminder")),
                         ["Cy <cy@corp.example>"] * 2)

    def test_one_item_goes_as_its_reminder(self):
        t = self.deploy()
        a = self.account("Acme BV", "--digest", "on")
        i = self.item(a, "Only one")
        self.srv.clear()
        t.ok("tick", now=at(1))
        self.assertEqual(of_kind(self.srv, "digest"), [])
        rem = of_kind(self.srv, "reminder")
        self.assertEqual(len(rem), 1)
        self.assertIsNotNone(rem[0]["In-Reply-To"])  # threaded, as always
        audit = self.reminder_audit(i)
        self.assertEqual(len(audit), 1)
        self.assertNotIn("digest", audit[0])

    def test_dutch_digest(self):
        t = self.deploy()
        a = self.account("Jansen BV", "--digest", "on", language="nl")
        for title in ("Jaarrekening", "Aangifte BTW – één"):
            self.item(a, title)
        self.srv.clear()
        t.ok("tick", now=at(1))
        d = of_kind(self.srv, "digest")
        self.assertEqual(len(d), 1)
        self.assertEqual(str(d[0]["Subject"]), "2 openstaande punten")
        self.assertIn("- Jaarrekening (herinnering 1 van 2)", body(d[0]))
        self.assertIn("Beste Ann", body(d[0]))
        self.assertIn("- Aangifte BTW – één (herinnering 1 van 2)", body(d[0]))

    def test_different_local_days_separate_emails(self):
        t = self.deploy()
        # at(1) is 09:00 UTC on 2 Dec, still 23:00 on 1 Dec in Honolulu
        a = self.account("Acme BV", "--digest", "on")
        b = self.account("Aloha LLC", "--digest", "on", "--timezone", "Pacific/Honolulu")
        for title in ("A1", "A2"):
            self.item(a, title)
        for title in ("K1", "K2"):
            self.item(b, title)
        self.srv.clear()
        t.ok("tick", now=at(1))
        d = of_kind(self.srv, "digest")
        self.assertEqual(len(d), 2)
        texts = sorted(body(m) for m in d)
        self.assertIn("A1", texts[0])
        self.assertNotIn("K1", texts[0])
        self.assertIn("K1", texts[1])
        self.assertNotIn("A1", texts[1])
        self.assertEqual(sorted(str(m["Date"])[-5:] for m in d), ["+0000", "-1000"])

    def test_several_connections(self):
        # the settler thread's path (settle.c) flushes its round's digests
        t = self.deploy()
        with open(t.config) as f:
            ini = f.read().replace("[transport]\n", "[transport]\nconnections = 3\n", 1)
        with open(t.config, "w") as f:
            f.write(ini)
        a = self.account("Acme BV", "--digest", "on")
        b = self.account("Beta BV", "--digest", "on", contacts=(("bo@beta.example", "Bo"),))
        items = [self.item(a, "A%d" % i) for i in range(3)] + [self.item(b, "B%d" % i)
                                                              for i in range(2)]
        self.srv.clear()
        t.ok("tick", now=at(1))
        self.assertEqual(of_kind(self.srv, "reminder"), [])
        self.assertEqual(sorted(str(m["Subject"]) for m in of_kind(self.srv, "digest")),
                         ["2 items waiting for you", "3 items waiting for you"])
        for i in items:
            self.assertEqual(t.show(i)["reminders"]["sent"], 1)
            self.assertEqual(len(self.reminder_audit(i)), 1)

    def test_one_digest_across_scheduler_batches(self):
        # batch_size 2 and the two accounts' items interleaved in the due
        # index: an account's other due steps join its first one's digest
        t = self.deploy(extra_ini="[scheduler]\nbatch_size = 2\n")
        a = self.account("Acme BV", "--digest", "on")
        b = self.account("Beta BV", "--digest", "on", contacts=(("bo@beta.example", "Bo"),))
        items = []
        for i in range(4):
            items += [self.item(a, "A%d" % i), self.item(b, "B%d" % i)]
        self.srv.clear()
        got = t.json("tick", now=at(1))
        self.assertEqual(got["reminders"], 8)
        self.assertEqual(of_kind(self.srv, "reminder"), [])
        self.assertEqual(sorted(str(m["Subject"]) for m in of_kind(self.srv, "digest")),
                         ["4 items waiting for you"] * 2)
        for i in items:
            self.assertEqual(t.show(i)["reminders"]["sent"], 1)
            self.assertEqual(len(self.reminder_audit(i)), 1)

    def test_shared_contact_one_digest_across_accounts_and_batches(self):
        # batch_size 2, and the two accounts that share Ann far apart in the
        # due index (a digest-off account's items between them): Ann still
        # gets ONE digest that day, listing both accounts' items
        t = self.deploy(extra_ini="[scheduler]\nbatch_size = 2\n")
        a = self.account("Acme BV", "--digest", "on")
        c = self.account("Corp BV", "--digest", "off", contacts=(("cy@corp.example", "Cy"),))
        b = self.account("Beta BV", "--digest", "on",
                         contacts=((ANN, "Ann"), ("bo@beta.example", "Bo")))
        items = [self.item(a, "A0"), self.item(a, "A1")]
        items += [self.item(c, "C%d" % i) for i in range(4)]
        items += [self.item(b, "B0"), self.item(b, "B1")]
        self.srv.clear()
        got = t.json("tick", now=at(1))
        self.assertEqual(got["reminders"], 8)
        ann = [m for m in of_kind(self.srv, "digest") if ANN in m["To"]]
        self.assertEqual(len(ann), 1, [str(m["Subject"]) for m in ann])
        self.assertEqual(str(ann[0]["Subject"]), "4 items waiting for you")
        for title in ("A0", "A1", "B0", "B1"):
            self.assertIn("- %s (reminder 1 of 2)" % title, body(ann[0]))
        # Bo (Beta only) gets Beta's two; Cy (digest off) single reminders
        bo = [m for m in of_kind(self.srv, "digest") if "bo@" in m["To"]]
        self.assertEqual([str(m["Subject"]) for m in bo], ["2 items waiting for you"])
        self.assertEqual(sorted(m["To"] for m in of_kind(self.srv, "reminder")),
                         ["Cy <cy@corp.example>"] * 4)
        outbox = set()
        for i in items:
            self.assertEqual(t.show(i)["reminders"]["sent"], 1)
            audit = self.reminder_audit(i)
            self.assertEqual(len(audit), 1, audit)
            if i not in items[2:6]:
                outbox.add(audit[0].split(ANN + " (in digest, outbox ")[1].split(")")[0])
        self.assertEqual(len(outbox), 1, outbox)
        rows = t.rows("SELECT COUNT(*) FROM outbox WHERE kind = 'digest' AND recipient = '%s'" % ANN)
        self.assertEqual(rows[0][0], 1)

    def test_account_json_digest_effective(self):
        # `digest` stays the account's own setting; digest_effective is what
        # the tick uses (the account's on/off, else [reminders] digest)
        t = self.deploy(extra_ini="[reminders]\ndigest = on\n")
        a = self.account("Acme BV")
        b = self.account("Beta BV", "--digest", "off")
        c = self.account("Corp BV", "--digest", "on")
        got = {x["name"]: (x["digest"], x["digest_effective"]) for x in t.json("account", "list")}
        self.assertEqual(got, {"Acme BV": (False, True), "Beta BV": (False, False),
                               "Corp BV": (True, True)})
        shown = t.json("account", "show", a)
        self.assertEqual((shown["digest"], shown["digest_effective"]), (False, True))
        shown = t.json("account", "set", a, "--digest", "off")
        self.assertEqual((shown["digest"], shown["digest_effective"]), (False, False))

    def test_wording_is_a_template_the_firm_overrides(self):
        # TEMPLATES_DIR/LANG/digest/default.tmpl replaces the built-in
        # wording; one without a [digest] section is logged and the built-in
        # one used (the digest is written in the tick's transaction)
        t = self.deploy()
        tdir = os.path.join(t.dir, "templates")
        for lang, text in (("en", "description = ours\n\n[digest]\n"
                                  "Subject: {{digest.count}} things for {{contact.name}}\n\n"
                                  "{{digest.items}}-- {{firm.name}}\n"),
                           ("nl", "description = broken\n\n[other]\nSubject: x\n\nx\n")):
            os.makedirs(os.path.join(tdir, lang, "digest"))
            with open(os.path.join(tdir, lang, "digest", "default.tmpl"), "w") as f:
                f.write(text)
        with open(t.config) as f:
            ini = [l for l in f.read().splitlines() if not l.startswith("[templates]") and
                   not (l.startswith("dir = ") and l.endswith("templates"))]
        with open(t.config, "w") as f:
            f.write("\n".join(ini) + "\n[templates]\ndir = %s\n" % tdir)
        a = self.account("Acme BV", "--digest", "on")
        b = self.account("Jansen BV", "--digest", "on", language="nl",
                         contacts=(("jan@jansen.example", "Jan"),))
        for title in ("One", "Two"):
            self.item(a, title)
            self.item(b, title)
        self.srv.clear()
        t.ok("tick", now=at(1))
        got = {str(m["Subject"]): body(m) for m in of_kind(self.srv, "digest")}
        self.assertEqual(sorted(got), ["2 openstaande punten", "2 things for Ann"])
        self.assertIn("- One (reminder 1 of 2)\n- Two (reminder 1 of 2)\n--",
                      got["2 things for Ann"].replace("\r\n", "\n"))
        self.assertIn("Beste Jan", got["2 openstaande punten"])

    def test_bad_config_value_refused_with_file_line(self):
        self.srv = SmtpServer(self)
        t = Tickler(self, smtp=self.srv, init=False, extra_ini="[reminders]\ndigest = maybe\n")
        err = t.fails("init")
        self.assertIn("tickler.ini:", err)
        self.assertIn("digest", err)

    def test_kill9_never_digest_and_singles(self):
        """kill -9 of `tickler tick` at a random moment of each of four
        days' ticks (30 items, one step a day), then the tick to the end:
        after each kill every step of the day is spent with its one digest
        row queued, or none is; each day exactly one digest (one
        Message-ID) reached the server and no single reminder ever did."""
        t = self.deploy()
        a = self.account("Acme BV", "--digest", "on")
        items = [t.send("organizer", a, "Q%d" % i, "--every", "1", "--count", "4", now=at(0))
                 for i in range(30)]
        t.ok("tick", now=at(0, 1))
        self.srv.clear()
        rnd = random.Random(14)
        seen = []
        for day in range(1, 5):
            env = dict(os.environ, TICKLER_CONFIG=t.config)
            env.pop("TICKLER_NOW", None)
            p = subprocess.Popen([BIN, "--now", at(day), "tick"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rnd.uniform(0.01, 0.25))
            p.send_signal(signal.SIGKILL)
            p.wait()
            sent = {r[0] for r in t.rows("SELECT rem_sent FROM items")}
            digests = t.rows("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'")[0][0]
            self.assertIn((sent, digests), (({day - 1}, day - 1), ({day}, day)))
            seen.append(digests == day)
            t.ok("tick", now=at(day))
            t.ok("tick", now=at(day, 1))
            self.assertEqual({r[0] for r in t.rows("SELECT rem_sent FROM items")}, {day})
        print("kill -9 after the commit:", seen)
        self.assertEqual(of_kind(self.srv, "reminder"), [])
        ids = {}
        for m in of_kind(self.srv, "digest"):
            ids.setdefault(str(m["Date"]), set()).add(str(m["Message-ID"]))
            self.assertEqual(str(m["Subject"]), "30 items waiting for you")
        self.assertEqual(len(ids), 4, ids.keys())
        self.assertEqual({len(v) for v in ids.values()}, {1}, "one digest a day")
        for i in items:
            self.assertEqual(t.show(i)["reminders"]["sent"], 4)
            self.assertEqual(len(self.reminder_audit(i)), 4)


if __name__ == "__main__":
    unittest.main()
