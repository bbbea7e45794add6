"""Issue 14, part 2: escalation to the account's manager.

Through the real binary with --now and a real SMTP server (aiosmtpd): once
an item has used its last automatic reminder and [reminders]
escalate_after_days more days pass without completion, the account's
manager gets ONE email naming the item, the client and what was sent when
(audit "escalated"); it is deferred to the window like any automatic
email, held by a hold, cancelled by completion, never sent twice, and
without a manager recorded once with nothing sent.
"""
import os
import random
import signal
import subprocess
import time
import unittest

from tkharness import BIN, MailCase, SmtpServer, Tickler, at, body

BOSS = "boss@bakker.example"


def of_kind(srv, kind):
    return [m for _, m in srv.messages() if m["X-Tickler-Kind"] == kind]


class Escalation(MailCase):
    def account(self, *settings, name="Acme BV", language="en"):
        return self.t.account(name, language, (("ann@acme.example", "Ann", True),), settings)

    def exhaust(self, acc, title="Fees"):
        """An invoice whose two reminders (every 2 days) went out at days 2 and 4."""
        t = self.t
        item = t.send("invoice", acc, title, "--every", "2", "--count", "2", now=at(0))
        t.ok("tick", now=at(2))
        t.ok("tick", now=at(4))
        self.assertEqual(t.show(item)["reminders"]["sent"], 2)
        return item

    def escalated(self, item):
        return [a for a in self.t.json("audit", item) if a["action"] == "escalated"]

    def test_manager_told_once_after_the_last_step(self):
        t = self.deploy()
        acc = self.account("--manager", BOSS)
        item = self.exhaust(acc)
        # next_at rides the due index: the last email + 3 days (the default)
        self.assertEqual(t.show(item)["reminders"]["next_at"], at(7))
        why = t.json("why", item)
        self.assertEqual(why["escalation"], at(7))
        self.assertFalse(why["escalated"])
        self.assertIn("manager is told at", t.ok("why", item))
        t.ok("tick", now=at(6, 23))
        self.assertEqual(of_kind(self.srv, "escalation"), [])
        got = t.json("tick", now=at(7))
        self.assertEqual(got["reminders"], 0, "an escalation is not a reminder")
        esc = of_kind(self.srv, "escalation")
        self.assertEqual(len(esc), 1)
        m = esc[0]
        self.assertEqual(m["To"], BOSS)
        self.assertIn("Acme BV", str(m["Subject"]))
        self.assertIn("Fees", str(m["Subject"]))
        text = body(m)
        self.assertIn("item %s" % item, text)
        self.assertIn("notification to ann@acme.example", text)
        self.assertIn("reminder 1 to ann@acme.example", text)
        self.assertIn("reminder 2 to ann@acme.example", text)
        self.assertIn("2026-12-03 09:00", text)  # reminder 1, day 2, in the client's zone (UTC)
        self.assertIn("2026-12-05 09:00", text)  # reminder 2
        self.assertEqual(len(self.escalated(item)), 1)
        self.assertIn(BOSS, self.escalated(item)[0]["detail"])
        self.assertIsNone(t.show(item)["reminders"]["next_at"])
        # never twice: later ticks, a hold and release, a resend
        t.ok("tick", now=at(8))
        t.ok("hold", item, now=at(9))
        t.ok("release", item, now=at(9, 1))
        t.ok("tick", now=at(10))
        t.ok("resend", item, now=at(11))
        t.ok("tick", now=at(15))
        t.ok("tick", now=at(30))
        self.assertEqual(len(of_kind(self.srv, "escalation")), 1)
        self.assertEqual(len(self.escalated(item)), 1)
        why = t.json("why", item)
        self.assertTrue(why["escalated"])
        self.assertIsNone(why["escalation"])

    def test_completion_first_cancels_it(self):
        t = self.deploy()
        acc = self.account("--manager", BOSS)
        item = self.exhaust(acc)
        t.ok("event", item, "paid", now=at(6))
        t.ok("tick", now=at(7))
        t.ok("tick", now=at(12))
        self.assertEqual(of_kind(self.srv, "escalation"), [])
        self.assertEqual(self.escalated(item), [])

    def test_no_manager_recorded_once_nothing_sent(self):
        t = self.deploy()
        acc = self.account()
        item = self.exhaust(acc)
        r = t.run("tick", now=at(7))
        self.assertEqual(r.rc, 0, r)
        self.assertIn("no manager", r.err)
        t.ok("tick", now=at(8))
        t.ok("tick", now=at(20))
        self.assertEqual(of_kind(self.srv, "escalation"), [])
        self.assertEqual([m["X-Tickler-Kind"] for _, m in self.srv.messages()],
                         ["notification", "reminder", "reminder"])
        got = self.escalated(item)
        self.assertEqual(len(got), 1)
        self.assertIn("no manager", got[0]["detail"])

    def test_deferred_to_the_window(self):
        t = self.deploy()
        acc = self.account("--manager", BOSS, "--timezone", "America/New_York",
                           "--window", "mon-fri 09:00-17:00")
        # Tuesday 1 Dec 10:00 New York; reminders Thu 3 and Sat 5 -> Mon 7 Dec 09:00
        item = t.send("organizer", acc, "Questionnaire", "--every", "2", "--count", "1",
                      now="2026-12-01T15:00:00Z")
        t.ok("tick", now="2026-12-03T15:00:00Z")
        self.assertEqual(len(of_kind(self.srv, "reminder")), 1)
        # escalation due Sunday 6 Dec 10:00 New York: closed, Monday 09:00
        t.ok("tick", now="2026-12-06T15:00:00Z")
        self.assertEqual(of_kind(self.srv, "escalation"), [])
        self.assertEqual(t.show(item)["reminders"]["next_at"], "2026-12-07T14:00:00Z")
        deferred = [a["detail"] for a in t.json("audit", item) if a["action"] == "deferred"]
        self.assertTrue(any("escalation" in d and "2026-12-07 09:00" in d for d in deferred),
                        deferred)
        t.ok("tick", now="2026-12-07T13:59:00Z")
        self.assertEqual(of_kind(self.srv, "escalation"), [])
        t.ok("tick", now="2026-12-07T14:00:00Z")
        esc = of_kind(self.srv, "escalation")
        self.assertEqual(len(esc), 1)
        self.assertEqual(str(esc[0]["Date"]), "Mon, 07 Dec 2026 09:00:00 -0500")

    def test_a_hold_keeps_it_back(self):
        t = self.deploy()
        acc = self.account("--manager", BOSS)
        item = self.exhaust(acc)
        t.ok("hold", item, "--until", at(10), now=at(5))
        t.ok("tick", now=at(7))
        t.ok("tick", now=at(9))
        self.assertEqual(of_kind(self.srv, "escalation"), [])
        t.ok("tick", now=at(10))
        self.assertEqual(len(of_kind(self.srv, "escalation")), 1)

    def test_dutch_wording_and_days_setting(self):
        t = self.deploy(extra_ini="[reminders]\nescalate_after_days = 5\n")
        acc = self.account("--manager", BOSS, name="Jansen BV", language="nl")
        item = self.exhaust(acc, title="Jaarrekening")
        self.assertEqual(t.show(item)["reminders"]["next_at"], at(9))
        t.ok("tick", now=at(8))
        self.assertEqual(of_kind(self.srv, "escalation"), [])
        t.ok("tick", now=at(9))
        m = of_kind(self.srv, "escalation")[0]
        self.assertIn("Escalatie", str(m["Subject"]))
        self.assertIn("Jansen BV", str(m["Subject"]))
        text = body(m)
        self.assertIn("herinnering 2 aan ann@acme.example", text)
        self.assertIn("5 dagen later", text)

    def test_zero_days_never(self):
        t = self.deploy(extra_ini="[reminders]\nescalate_after_days = 0\n")
        acc = self.account("--manager", BOSS)
        item = self.exhaust(acc)
        self.assertIsNone(t.show(item)["reminders"]["next_at"])
        t.ok("tick", now=at(30))
        self.assertEqual(of_kind(self.srv, "escalation"), [])
        self.assertEqual(self.escalated(item), [])

    def test_items_exhausted_before_escalation_existed_get_one(self):
        # a store as tickler left it before escalation (schema v11): the
        # items whose last reminder went out have no next_at.  Made here
        # with escalate_after_days = 0, then the store's v13 taken back (and
        # the migrations after it: v14, the outbox's fillfactor on
        # PostgreSQL, nothing on SQLite, runs again harmlessly).
        t = self.deploy(extra_ini="[reminders]\nescalate_after_days = 0\n")
        acc = self.account("--manager", BOSS)
        old = self.exhaust(acc, "Old")
        done = self.exhaust(acc, "Paid meanwhile")
        t.ok("event", done, "paid", now=at(4, 1))
        self.assertIsNone(t.show(old)["reminders"]["next_at"])
        t.execute("DROP INDEX contacts_email; DELETE FROM schema_version WHERE version >= 13")
        with open(t.config) as f:
            ini = f.read()
        with open(t.config, "w") as f:
            f.write(ini.replace("escalate_after_days = 0", "escalate_after_days = 3"))
        # the next tick (which migrates) computes the moment: last email + 3 days
        t.ok("tick", now=at(5))
        self.assertEqual(of_kind(self.srv, "escalation"), [])
        self.assertEqual(t.show(old)["reminders"]["next_at"], at(7))
        self.assertIsNone(t.show(done)["reminders"]["next_at"])
        t.ok("tick", now=at(7))
        esc = of_kind(self.srv, "escalation")
        self.assertEqual(len(esc), 1)
        self.assertIn("Old", str(esc[0]["Subject"]))
        self.assertEqual(len(self.escalated(old)), 1)
        self.assertEqual(self.escalated(done), [])
        t.ok("tick", now=at(30))
        self.assertEqual(len(of_kind(self.srv, "escalation")), 1)

    def test_wording_is_a_template_the_firm_overrides(self):
        # the built-in text (the tests above) is the default; a firm's
        # TEMPLATES_DIR/LANG/escalation/default.tmpl replaces it, per language
        t = self.deploy()
        tdir = os.path.join(t.dir, "templates")
        os.makedirs(os.path.join(tdir, "nl", "escalation"))
        with open(os.path.join(tdir, "nl", "escalation", "default.tmpl"), "w") as f:
            f.write("description = ours\n\n[escalation]\n"
                    "Subject: Geen antwoord: {{account.name}} / {{item.title}}\n\n"
                    "Item {{item.id}}: {{escalation.reminders}} herinnering"
                    "{{^escalation.one_reminder}}en{{/escalation.one_reminder}}, "
                    "de laatste {{escalation.last_email}}, {{escalation.days}} dagen.\n"
                    "{{escalation.sent}}-- {{firm.name}}\n")
        with open(t.config) as f:
            ini = [l for l in f.read().splitlines() if not l.startswith("[templates]") and
                   not (l.startswith("dir = ") and l.endswith("templates"))]
        with open(t.config, "w") as f:
            f.write("\n".join(ini) + "\n[templates]\ndir = %s\n" % tdir)
        nl = self.account("--manager", BOSS, name="Jansen BV", language="nl")
        en = self.account("--manager", BOSS, name="Acme BV")
        a, b = self.exhaust(nl, "Jaarrekening"), self.exhaust(en, "Fees")
        t.ok("tick", now=at(7))
        got = {str(m["Subject"]): body(m) for m in of_kind(self.srv, "escalation")}
        self.assertEqual(sorted(got), ['Escalation: no response from Acme BV on "Fees"',
                                       "Geen antwoord: Jansen BV / Jaarrekening"])
        text = got["Geen antwoord: Jansen BV / Jaarrekening"]
        self.assertIn("Item %s: 2 herinneringen, de laatste 2026-12-05 09:00" % a, text)
        self.assertIn("herinnering 2 aan ann@acme.example", text)
        self.assertIn("All 2 automatic reminders have been sent", got['Escalation: no response from Acme BV on "Fees"'])
        self.assertEqual(len(self.escalated(a)) + len(self.escalated(b)), 2)

    def test_bad_setting_names_file_and_line(self):
        self.srv = SmtpServer(self)
        for bad in ("-1", "soon", "99999"):
            t = Tickler(self, smtp=self.srv, init=False,
                        extra_ini="[reminders]\nescalate_after_days = %s\n" % bad)
            err = t.fails("init")
            self.assertIn("tickler.ini:", err)
            self.assertIn("escalate_after_days", err)

    def test_kill9_around_the_escalating_tick_never_twice(self):
        """kill -9 of `tickler tick` at random moments while it escalates
        30 items, then a tick to the end: one escalation per item enqueued
        (one audit entry, one Message-ID at the SMTP server)."""
        t = self.deploy()
        acc = self.account("--manager", BOSS)
        items = [t.send("organizer", acc, "Q%d" % i, "--every", "1", "--count", "1", now=at(0))
                 for i in range(30)]
        t.ok("tick", now=at(1))
        rnd = random.Random(14)
        for _ in range(8):
            env = dict(os.environ, TICKLER_CONFIG=t.config)
            env.pop("TICKLER_NOW", None)
            p = subprocess.Popen([BIN, "--now", at(4), "tick"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            time.sleep(rnd.uniform(0.05, 0.6))
            p.send_signal(signal.SIGKILL)
            p.wait()
        t.ok("tick", now=at(4))
        t.ok("tick", now=at(5))
        esc = of_kind(self.srv, "escalation")
        per_item = {}
        for m in esc:
            per_item.setdefault(m["X-Tickler-Item"], set()).add(str(m["Message-ID"]))
        self.assertEqual(sorted(per_item), sorted(str(i) for i in items))
        self.assertEqual({len(v) for v in per_item.values()}, {1}, "one escalation per item")
        for i in items:
            self.assertEqual(len(self.escalated(i)), 1, i)


if __name__ == "__main__":
    unittest.main()
