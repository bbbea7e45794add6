"""Issue 14, part 2: a reminder step with nobody to send to.

Through the real binary with --now and a real SMTP server (aiosmtpd): an
item whose account has no contact with notify on does not spend its step:
it waits (looked at again a day later), `why` says so, staff (the
account's manager) are told once, and a contact added later gets the
item's notification first, then "reminder 1 of N", not "reminder 2 of 2".
"""
import unittest

from tkharness import SmtpServer, Tickler, at

BOSS = "boss@bakker.example"


class NobodyToSendTo(unittest.TestCase):
    def setUp(self):
        self.srv = SmtpServer(self)
        self.t = Tickler(self, smtp=self.srv)

    def kinds(self, to=None):
        return [m["X-Tickler-Kind"] for _, m in self.srv.messages()
                if to is None or m["To"].addresses[0].addr_spec == to]

    def test_waits_then_a_new_contact_gets_the_notification_first(self):
        t = self.t
        acc = t.ok("account", "add", "Acme BV", "--manager", BOSS).strip()
        t.ok("contact", "add", acc, "quiet@acme.example", "--no-notify")
        item = t.send("organizer", acc, "Questionnaire", "--every", "2", "--count", "2", now=at(0))
        for d in range(2, 9):  # due at day 2: waits, looked at once a day
            got = t.json("tick", now=at(d))
            self.assertEqual(got["reminders"], 0)
        shown = t.show(item)["reminders"]
        self.assertEqual(shown["sent"], 0, "no step spent on nobody")
        self.assertEqual(shown["next_at"], at(9), "looked at again a day later, not every tick")
        self.assertEqual(self.kinds("ann@acme.example"), [])
        # staff told once, not once per tick
        self.assertEqual(self.kinds(BOSS), ["staff-notice"])
        waiting = [a for a in t.json("audit", item) if a["action"] == "reminder-waiting"]
        self.assertEqual(len(waiting), 7)
        self.assertIn("notify on", waiting[0]["detail"])
        why = t.json("why", item)
        self.assertTrue(why["nobody_notified"])
        self.assertFalse(why["nobody_left"])
        self.assertIn("no contact of the account has notify on", t.ok("why", item))
        # a contact added later: the notification first, no step spent
        t.ok("contact", "add", acc, "ann@acme.example", "--name", "Ann", now=at(8, 2))
        t.ok("tick", now=at(9))
        self.assertEqual(self.kinds("ann@acme.example"), ["notification"])
        shown = t.show(item)["reminders"]
        self.assertEqual(shown["sent"], 0)
        self.assertEqual(shown["last_mail_at"], at(9))
        self.assertEqual(shown["next_at"], at(11))
        self.assertFalse(t.json("why", item)["nobody_notified"])
        t.ok("tick", now=at(11))
        t.ok("tick", now=at(13))
        self.assertEqual(self.kinds("ann@acme.example"), ["notification", "reminder", "reminder"])
        rem = [m for _, m in self.srv.messages() if m["X-Tickler-Kind"] == "reminder"]
        first = [m for _, m in self.srv.messages() if m["X-Tickler-Kind"] == "notification"][0]
        self.assertEqual(str(rem[0]["In-Reply-To"]), str(first["Message-ID"]))
        details = [a["detail"] for a in t.json("audit", item) if a["action"] == "reminder"]
        self.assertTrue(details[0].startswith("automatic reminder 1 of 2"), details)
        self.assertTrue(details[1].startswith("automatic reminder 2 of 2"), details)
        self.assertEqual(self.kinds(BOSS), ["staff-notice"])

    def test_a_newcomer_beside_others_gets_the_notification(self):
        t = self.t
        acc = t.account()
        item = t.send("organizer", acc, "Q", "--every", "2", "--count", "3", now=at(0))
        t.ok("tick", now=at(2))
        t.ok("contact", "add", acc, "bob@acme.example", "--name", "Bob", now=at(3))
        t.ok("tick", now=at(4))
        self.assertEqual(self.kinds("ann@acme.example"), ["notification", "reminder", "reminder"])
        self.assertEqual(self.kinds("bob@acme.example"), ["notification"])
        self.assertEqual(t.show(item)["reminders"]["sent"], 2)
        t.ok("tick", now=at(6))
        self.assertEqual(self.kinds("bob@acme.example"), ["notification", "reminder"])

    def test_staff_told_again_only_for_a_new_set_of_contacts(self):
        t = self.t
        acc = t.ok("account", "add", "Acme BV", "--manager", BOSS).strip()
        a = t.send("organizer", acc, "A", "--every", "1", "--count", "1", now=at(0))
        b = t.send("organizer", acc, "B", "--every", "1", "--count", "1", now=at(0))
        for d in range(1, 5):
            t.ok("tick", now=at(d))
        self.assertEqual(self.kinds(BOSS), ["staff-notice"], "once for the account, not per item")
        self.assertEqual({t.show(i)["reminders"]["sent"] for i in (a, b)}, {0})


if __name__ == "__main__":
    unittest.main()
