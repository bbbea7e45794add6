"""Smaller ones of issue 11 item 10, through the real binary: the audit
trail records the real time beside --now's business time; re-enabling
overdue reminders says "next now"; resending an item of an archived job
is refused and changes nothing."""
import json
import os
import time
import unittest

from tkharness import SOURCE, Tickler, at, parse_iso


class AuditRealTime(unittest.TestCase):
    def test_recorded_at_beside_business_time(self):
        t = Tickler(self)
        before = int(time.time())
        acc = t.account("Acme")  # at 2026-12-01 by --now, written today
        after = int(time.time())
        [e] = [e for e in t.json("audit", "--account", acc) if e["action"] == "account-added"]
        self.assertEqual(e["at"], at(0))
        rec = parse_iso(e["recorded_at"])
        self.assertTrue(before - 1 <= rec <= after + 1, e)
        text = t.ok("audit", "--account", acc)
        self.assertIn("%s (recorded %s)" % (at(0), e["recorded_at"]), text)
        # written at (about) its business time: one time only
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        t.ok("contact", "add", acc, "bob@acme.example", now=now)
        line = [l for l in t.ok("audit", "--account", acc).splitlines() if "bob@" in l][0]
        self.assertNotIn("recorded", line)


class RemindersNextNow(unittest.TestCase):
    def test_reenabling_overdue_reminders_says_now(self):
        t = Tickler(self)
        acc = t.account("Acme")
        item = t.send("invoice", acc, "Fees", "--reminders", "off")
        t.ok("reminders", item, "on", now=at(days=17))
        [e] = [e for e in t.json("audit", item) if e["action"] == "reminders"]
        self.assertIn("next now", e["detail"])
        self.assertEqual(t.json("why", item, now=at(days=17))["due_now"], True)
        self.assertIn("next:          now", t.ok("why", item, now=at(days=17)))


class ResendArchived(unittest.TestCase):
    def test_resend_of_archived_jobs_item_is_refused(self):
        t = Tickler(self, extra_ini="[lua]\nscripts = %s\n" % os.path.join(SOURCE, "scripts"))
        acc = t.account("Nova BV")
        job = t.ok("job", "add", "Client onboarding", "--account", acc).strip()
        [item] = [i for i in t.json("list", "--account", acc) if i["job"] == int(job)]
        t.ok("job", "archive", job)
        before = (t.json("show", item["id"]), t.json("audit", item["id"]), len(t.messages()))
        err = t.fails("resend", item["id"])
        self.assertIn("archived job", err)
        after = (t.json("show", item["id"]), t.json("audit", item["id"]), len(t.messages()))
        self.assertEqual(before, after)


if __name__ == "__main__":
    unittest.main(verbosity=2)
