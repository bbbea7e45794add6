"""Issue 14, part 2: the tone ladder.

A template may carry [reminder.1], [reminder.2], ..., [reminder.last]
beside [reminder]: reminder step N uses [reminder.last] when it is the
item's last step, else [reminder.N], else [reminder] (docs/templates.md).
Through the real binary with --now and a real SMTP server (aiosmtpd); the
shipped invoice and organizer ladders in English and Dutch, a template
without a ladder, a count shorter and longer than the ladder, a partial
ladder in a named template, and malformed section names refused with
FILE:LINE.
"""
import os
import shutil
import unittest

import tkharness as h
from tkharness import MailCase, at, body

INVOICE = {"amount": "450.00", "currency": "EUR", "due_date": "2026-12-31"}


def reminders(srv):
    return [m for _, m in srv.messages() if m["X-Tickler-Kind"] == "reminder"]


class Ladder(MailCase):
    def account(self, language="en"):
        self.n = getattr(self, "n", 0) + 1
        return self.t.account("Acme %s %d" % (language, self.n), language,
                              (("ann@acme.example", "Ann", True),))

    def run_steps(self, item_args, days, fields=INVOICE, type_="invoice", language="en"):
        """Send, tick at each of DAYS; the reminders' (subject, body)."""
        t = self.t
        acc = self.account(language)
        item = t.send(type_, acc, "Fees", *item_args, fields=fields, now=at(0))
        for d in days:
            t.ok("tick", now=at(d))
        got = [(str(m["Subject"]), body(m)) for m in reminders(self.srv)]
        self.assertEqual(len(got), len(days), got)
        self.assertEqual(t.show(item)["reminders"]["sent"], len(days))
        return item, got

    def templates_dir(self):
        t = self.t
        d = os.path.join(t.dir, "templates")
        shutil.copytree(os.path.join(h.SHARE, "templates"), d)
        t.ini = t.ini.replace("dir = " + os.path.join(h.SHARE, "templates"), "dir = " + d)
        with open(t.config, "w") as f:
            f.write(t.ini)
        return d

    def test_invoice_three_steps_three_wordings_en(self):
        self.deploy()
        _, got = self.run_steps(["--template", "payment-reminders"], (7, 14, 21))
        subjects = [s for s, _ in got]
        self.assertTrue(subjects[0].startswith("Payment reminder: invoice "), subjects)
        self.assertTrue(subjects[1].startswith("Second payment reminder: invoice "), subjects)
        self.assertTrue(subjects[2].startswith("Final notice: invoice "), subjects)
        self.assertEqual(len({b for _, b in got}), 3, "three different bodies")
        # before the due date (31 December): coming up, never "was due"
        self.assertIn("is coming up: it is due on 31 December 2026", got[0][1])
        for _, b in got:
            self.assertNotIn("was due", b)
        self.assertIn("last reminder", got[2][1])

    def test_invoice_ladder_nl_and_overdue_wording(self):
        self.deploy()
        _, got = self.run_steps(["--template", "payment-reminders"], (7, 35, 42), language="nl")
        subjects = [s for s, _ in got]
        self.assertTrue(subjects[0].startswith("Betalingsherinnering: factuur "), subjects)
        self.assertTrue(subjects[1].startswith("Tweede betalingsherinnering: factuur "), subjects)
        self.assertTrue(subjects[2].startswith("Laatste aanmaning: factuur "), subjects)
        self.assertNotIn("vervaldatum was", got[0][1])
        self.assertIn("vervalt", got[0][1])
        # 5 and 12 January 2027: overdue
        for _, b in got[1:]:
            self.assertIn("de vervaldatum was 31 december 2026", b)

    def test_organizer_ladders_en_and_nl(self):
        self.deploy()
        _, en = self.run_steps(["--template", "annual"], (5, 10, 15), fields={}, type_="organizer")
        self.assertEqual([s for s, _ in en],
                         ["A friendly reminder: your annual tax organizer",
                          "Reminder: please submit your annual tax organizer",
                          "Final reminder: your annual tax organizer"])
        self.srv.clear()
        _, nl = self.run_steps(["--template", "annual"], (5, 10, 15), fields={}, type_="organizer",
                               language="nl")
        self.assertEqual([s for s, _ in nl],
                         ["Vriendelijke herinnering: uw vragenlijst voor de aangifte",
                          "Herinnering: wilt u uw vragenlijst voor de aangifte indienen?",
                          "Laatste herinnering: uw vragenlijst voor de aangifte"])

    def test_template_without_ladder_uses_reminder(self):
        self.deploy()
        _, got = self.run_steps(["--every", "7", "--count", "3"], (7, 14, 21))
        for s, _ in got:
            self.assertTrue(s.startswith("Reminder: invoice ") and s.endswith(" is still open"), s)
        self.assertEqual(len({s for s, _ in got}), 1)

    def test_last_wins_on_a_short_count_and_reminder_fills_a_long_one(self):
        self.deploy()
        # count 2: the second step is the last one: the final notice, not [reminder.2]
        _, got = self.run_steps(["--template", "payment-reminders", "--count", "2"], (7, 14))
        self.assertTrue(got[0][0].startswith("Payment reminder: "), got[0][0])
        self.assertTrue(got[1][0].startswith("Final notice: "), got[1][0])
        self.srv.clear()
        # count 5: 1, 2, [reminder] twice (its own numbering), then the final notice
        _, got = self.run_steps(["--template", "payment-reminders", "--count", "5"],
                                (7, 14, 21, 28, 35))
        s = [x for x, _ in got]
        self.assertTrue(s[0].startswith("Payment reminder: "), s)
        self.assertTrue(s[1].startswith("Second payment reminder: "), s)
        self.assertTrue(s[2].startswith("Payment reminder 3: "), s)
        self.assertTrue(s[3].startswith("Payment reminder 4: "), s)
        self.assertTrue(s[4].startswith("Final notice: "), s)

    def test_partial_ladder_in_a_named_template(self):
        self.deploy()
        d = self.templates_dir()
        with open(os.path.join(d, "en", "invoice", "short.tmpl"), "w") as f:
            f.write("description = short\nreminders = on\nevery_days = 1\ncount = 3\n\n"
                    "[notification]\nSubject: n\n\nn\n\n"
                    "[reminder.2]\nSubject: two {{reminder.number}}/{{reminder.count}}\n\nr2\n\n"
                    "[reminder.last]\nSubject: last\n\nrl\n")
        _, got = self.run_steps(["--template", "short"], (1, 2, 3))
        # step 1: no [reminder.1] nor [reminder] in short.tmpl: the default's [reminder]
        self.assertTrue(got[0][0].startswith("Reminder: invoice "), got[0][0])
        self.assertEqual([s for s, _ in got[1:]], ["two 2/3", "last"])

    def test_malformed_step_sections_refused_with_file_and_line(self):
        t = self.deploy()
        d = self.templates_dir()
        path = os.path.join(d, "en", "invoice", "bad.tmpl")
        for name, why in (("reminder.0", "a reminder step is a number from 1 to 1000 or 'last'"),
                          ("reminder.x", "a reminder step is a number from 1 to 1000 or 'last'"),
                          ("reminder.01", "a reminder step is a number from 1 to 1000 or 'last'"),
                          ("reminder.1001", "a reminder step is a number from 1 to 1000 or 'last'"),
                          ("reminder.", "a reminder step is a number from 1 to 1000 or 'last'"),
                          ("reminder.last.1", "a reminder step is a number from 1 to 1000 or 'last'"),
                          ("notification.1", "only [reminder] has steps")):
            with open(path, "w") as f:
                f.write("description = bad\n\n[notification]\nSubject: n\n\nn\n\n"
                        "[%s]\nSubject: r\n\nr\n" % name)
            r = t.run("check", now="")
            self.assertEqual(r.rc, 1, r)
            self.assertIn("%s:8: section [%s]: %s" % (path, name, why), r.out, name)
        with open(path, "w") as f:
            f.write("description = good\n\n[notification]\nSubject: n\n\nn\n\n"
                    "[reminder.1000]\nSubject: r\n\nr\n\n[reminder.last]\nSubject: l\n\nl\n")
        self.assertEqual(t.run("check", now="").rc, 0)


if __name__ == "__main__":
    unittest.main()
