"""Issue 14, part 1: reminders that fit the client's calendar.

Through the real binary with --now and a real SMTP server (aiosmtpd): the
client's time zone, send window and holidays defer automatic reminders to
the next opening (never skip, never spend a step early); holds; partial
payments and the balance; threading headers; the Date header in the
client's zone; --every/--count alone; "is due" / "was due" wording; and a
property test that no automatic email is ever sent outside the window.

Local times are checked with Python's zoneinfo (the system tz database),
independently of tickler's own TZif reader.
"""
import datetime
import email.utils
import os
import random
import unittest
from zoneinfo import ZoneInfo

from tkharness import MailCase, SmtpServer, Tickler, at, body, iso, parse_iso

INVOICE = {"amount": "450.00", "currency": "EUR"}


def kinds(srv):
    return [m["X-Tickler-Kind"] for _, m in srv.messages()]


def reminders(srv):
    return [m for _, m in srv.messages() if m["X-Tickler-Kind"] == "reminder"]


def local(msg, zone):
    """The instant of MSG's Date header as a local datetime in ZONE."""
    return email.utils.parsedate_to_datetime(str(msg["Date"])).astimezone(ZoneInfo(zone))


class CalendarCase(MailCase):
    def account(self, *settings, name="Acme BV", language="en"):
        return self.t.account(name, language, (("ann@acme.example", "Ann", True),), settings)


class Defer(CalendarCase):
    def test_friday_evening_new_york_goes_out_monday_0900(self):
        t = self.deploy()
        acc = self.account("--timezone", "America/New_York", "--window", "mon-fri 09:00-17:00")
        # Tuesday 2026-12-01 17:00 New York; every 3 days: due Friday 17:00 (closed)
        item = t.send("invoice", acc, "Fees", "--reminders", "on", "--every", "3", "--count", "2",
                      fields=INVOICE, now="2026-12-01T22:00:00Z")
        for when in ("2026-12-04T22:00:00Z", "2026-12-05T15:00:00Z", "2026-12-06T23:00:00Z",
                     "2026-12-07T13:59:59Z"):
            self.assertEqual(t.json("tick", now=when)["reminders"], 0, "deferred: nothing enqueued")
            self.assertEqual(reminders(self.srv), [], when)
            self.assertEqual(t.show(item)["reminders"]["sent"], 0, "a deferred step is not spent")
        # deferred to Monday 09:00 New York = 14:00Z: out of the due index until then
        self.assertEqual(t.show(item)["reminders"]["next_at"], "2026-12-07T14:00:00Z")
        self.assertEqual(t.json("tick", now="2026-12-07T14:00:00Z")["reminders"], 1)
        rem = reminders(self.srv)
        self.assertEqual(len(rem), 1)
        self.assertEqual(str(rem[0]["Date"]), "Mon, 07 Dec 2026 09:00:00 -0500")
        shown = t.show(item)["reminders"]
        self.assertEqual(shown["sent"], 1)
        # D1 counts from the email actually sent
        self.assertEqual(shown["last_mail_at"], "2026-12-07T14:00:00Z")
        self.assertEqual(shown["next_at"], "2026-12-10T14:00:00Z")
        audit = t.json("audit", item)
        deferred = [a for a in audit if a["action"] == "deferred"]
        self.assertEqual(len(deferred), 1)
        self.assertIn("2026-12-07 09:00 America/New_York", deferred[0]["detail"])

    def test_christmas_in_amsterdam(self):
        t = self.deploy()
        acc = self.account("--timezone", "Europe/Amsterdam", "--window", "mon-fri 09:00-17:00",
                           "--holidays", "nl")
        # Tuesday 22 Dec 10:00 CET; due Friday 25 Dec 10:00 (Christmas Day)
        item = t.send("organizer", acc, "Questionnaire", "--every", "3", "--count", "1",
                      now="2026-12-22T09:00:00Z")
        t.ok("tick", now="2026-12-25T09:00:00Z")
        t.ok("tick", now="2026-12-28T07:59:00Z")  # Monday 08:59 CET
        self.assertEqual(reminders(self.srv), [])
        audit = [a["detail"] for a in t.json("audit", item) if a["action"] == "deferred"]
        self.assertEqual(len(audit), 1)
        self.assertIn("Christmas", audit[0])
        self.assertIn("2026-12-28 09:00 Europe/Amsterdam", audit[0])
        t.ok("tick", now="2026-12-28T08:00:00Z")
        rem = reminders(self.srv)
        self.assertEqual(len(rem), 1)
        self.assertEqual(str(rem[0]["Date"]), "Mon, 28 Dec 2026 09:00:00 +0100")

    def test_dst_change_in_amsterdam(self):
        t = self.deploy()
        acc = self.account("--timezone", "Europe/Amsterdam", "--window", "mon-fri 09:00-17:00")
        # Wednesday 24 March 2027 12:00 CET; due Saturday 27 March; the clocks go
        # forward on Sunday 28 March: Monday 09:00 is 07:00Z (CEST), not 08:00Z.
        item = t.send("proposal", acc, "Engagement", "--every", "3", "--count", "1",
                      now="2027-03-24T11:00:00Z")
        t.ok("tick", now="2027-03-27T11:00:00Z")
        t.ok("tick", now="2027-03-29T06:59:00Z")
        self.assertEqual(reminders(self.srv), [])
        self.assertEqual(t.show(item)["reminders"]["next_at"], "2027-03-29T07:00:00Z")
        t.ok("tick", now="2027-03-29T07:00:00Z")
        rem = reminders(self.srv)
        self.assertEqual(len(rem), 1)
        self.assertEqual(str(rem[0]["Date"]), "Mon, 29 Mar 2027 09:00:00 +0200")

    def test_ics_holiday(self):
        t = self.deploy()
        ics = os.path.join(t.dir, "office.ics")
        with open(ics, "w") as f:
            f.write("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
                    "BEGIN:VEVENT\r\nUID:closed@test\r\nSUMMARY:Office outing\r\n"
                    "DTSTART;VALUE=DATE:20261207\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        acc = self.account("--timezone", "America/New_York", "--window", "mon-fri 09:00-17:00",
                           "--holidays", "office.ics")
        self.assertEqual(t.json("account", "show", acc)["holidays"], "office.ics")
        item = t.send("signature", acc, "Sign", "--every", "3", "--count", "1",
                      now="2026-12-04T15:00:00Z")  # Friday 10:00; due Monday 7 Dec 10:00
        t.ok("tick", now="2026-12-07T15:00:00Z")
        self.assertEqual(reminders(self.srv), [])
        self.assertIn("Office outing", [a for a in t.json("audit", item)
                                         if a["action"] == "deferred"][0]["detail"])
        self.assertEqual(t.show(item)["reminders"]["next_at"], "2026-12-08T14:00:00Z")
        t.ok("tick", now="2026-12-08T14:00:00Z")
        self.assertEqual(len(reminders(self.srv)), 1)

    def test_deferral_with_several_connections(self):
        """The tick's other path: with [transport] connections > 1 the
        dispatching thread writes the reminders (settle.c) and decides the
        same way."""
        t = self.deploy(extra_ini="")
        with open(t.config) as f:
            ini = f.read().replace("[transport]\n", "[transport]\nconnections = 3\n", 1)
        with open(t.config, "w") as f:
            f.write(ini)
        acc = self.account("--timezone", "America/New_York", "--window", "mon-fri 09:00-17:00")
        items = [t.send("organizer", acc, "O%d" % i, "--every", "3", "--count", "1",
                        now="2026-12-01T22:00:00Z") for i in range(12)]
        got = t.json("tick", now="2026-12-04T22:00:00Z")
        self.assertEqual(got["reminders"], 0)
        self.assertEqual(reminders(self.srv), [])
        self.assertEqual({t.show(i)["reminders"]["next_at"] for i in items}, {"2026-12-07T14:00:00Z"})
        got = t.json("tick", now="2026-12-07T14:00:00Z")
        self.assertEqual(got["reminders"], 12)
        self.assertEqual(len(reminders(self.srv)), 12)
        self.assertEqual({str(m["Date"]) for m in reminders(self.srv)},
                         {"Mon, 07 Dec 2026 09:00:00 -0500"})

    def test_notifications_and_resends_go_out_at_once(self):
        t = self.deploy()
        acc = self.account("--timezone", "Europe/Amsterdam", "--window", "mon-fri 09:00-17:00")
        item = t.send("approval", acc, "Approve", "--every", "3", now="2026-12-05T22:00:00Z")
        t.ok("resend", item, now="2026-12-06T03:00:00Z")  # Sunday night
        self.assertEqual(kinds(self.srv), ["notification", "resend"])
        self.assertEqual(str(self.srv.messages()[1][1]["Date"]), "Sun, 06 Dec 2026 04:00:00 +0100")

    def test_calendar_defaults_from_config(self):
        t = self.deploy(extra_ini="[calendar]\ntimezone = Europe/Amsterdam\n"
                                  "window = Mon-Fri 9:00-17:00\nholidays = nl\n")
        acc = self.account()
        shown = t.json("account", "show", acc)
        self.assertEqual((shown["timezone"], shown["window"], shown["holidays"]),
                         ("Europe/Amsterdam", "mon-fri 09:00-17:00", "nl"))
        item = t.send("chat", acc, "Questions", "--every", "1", now="2026-12-24T09:00:00Z")
        t.ok("tick", now="2026-12-25T09:00:00Z")
        self.assertEqual(reminders(self.srv), [])
        self.assertEqual(t.show(item)["reminders"]["next_at"], "2026-12-28T08:00:00Z")
        # an account's own setting wins over the default, and applies at once
        t.ok("account", "set", acc, "--window", "always", "--holidays", "none",
             now="2026-12-25T10:00:00Z")
        self.assertEqual(t.show(item)["reminders"]["next_at"], "2026-12-25T09:00:00Z")
        t.ok("tick", now="2026-12-25T10:00:00Z")
        self.assertEqual(len(reminders(self.srv)), 1)
        self.assertEqual(t.show(item)["reminders"]["sent"], 1)

    def test_default_keeps_todays_behaviour(self):
        t = self.deploy()
        acc = self.account()
        shown = t.json("account", "show", acc)
        self.assertEqual((shown["timezone"], shown["window"], shown["holidays"], shown["manager"],
                          shown["digest"]), ("UTC", "always", "none", None, False))
        item = t.send("organizer", acc, "O", "--every", "1", now="2026-12-05T23:30:00Z")
        t.ok("tick", now="2026-12-06T23:30:00Z")  # a Sunday night, UTC
        self.assertEqual(len(reminders(self.srv)), 1)
        self.assertEqual(str(reminders(self.srv)[0]["Date"]), "Sun, 06 Dec 2026 23:30:00 +0000")
        self.assertEqual(t.show(item)["reminders"]["sent"], 1)


class AccountSettings(CalendarCase):
    def test_set_list_show_and_audit(self):
        t = self.deploy()
        acc = self.account()
        out = t.json("account", "set", acc, "--timezone", "Asia/Kathmandu", "--window",
                     "Mon,Wed 10:00-12:00", "--manager", "Boss@Bakker.EXAMPLE", "--digest", "on")
        self.assertEqual(out["timezone"], "Asia/Kathmandu")
        self.assertEqual(out["window"], "mon,wed 10:00-12:00")
        self.assertEqual(out["manager"], "Boss@bakker.example")
        self.assertTrue(out["digest"])
        listed = t.json("account", "list")[0]
        for k in ("timezone", "window", "holidays", "manager", "digest"):
            self.assertEqual(listed[k], out[k], k)
        audit = [a for a in t.json("audit", "--account", acc) if a["action"] == "account-settings"]
        self.assertEqual(len(audit), 1)
        self.assertIn("timezone=Asia/Kathmandu", audit[0]["detail"])
        t.ok("account", "set", acc, "--manager", "none", "--timezone", "default")
        out = t.json("account", "show", acc)
        self.assertIsNone(out["manager"])
        self.assertEqual(out["timezone"], "UTC")
        # the Date header of every email of the account is in its zone
        t.ok("account", "set", acc, "--timezone", "Asia/Kathmandu")
        t.send("organizer", acc, "O", now="2026-12-01T09:00:00Z")
        self.assertEqual(str(self.srv.messages()[-1][1]["Date"]), "Tue, 01 Dec 2026 14:45:00 +0545")

    def test_add_with_options(self):
        t = self.deploy()
        acc = t.ok("account", "add", "Smit", "--language", "nl", "--timezone", "Europe/Amsterdam",
                   "--window", "mon-fri 09:00-17:00", "--holidays", "nl", "--digest", "off").strip()
        out = t.json("account", "show", acc)
        self.assertEqual((out["language"], out["timezone"], out["holidays"], out["digest"]),
                         ("nl", "Europe/Amsterdam", "nl", False))

    def test_bad_settings_are_refused_and_change_nothing(self):
        t = self.deploy()
        acc = self.account()
        before = t.json("account", "show", acc)
        n_audit = len(t.json("audit", "--account", acc))
        for args, words in (
                (("--timezone", "Mars/Olympus"), "Mars/Olympus"),
                (("--timezone", "../../etc/passwd"), "passwd"),
                (("--window", "monday 09:00-17:00"), "monday"),
                (("--window", "mon-fri 17:00-09:00"), "window"),
                (("--holidays", "fr"), "fr"),
                (("--holidays", "missing.ics"), "missing.ics"),
                (("--manager", "not an address"), "manager"),
                (("--digest", "maybe"), "--digest"),
                (("--timezone", "Europe/Amsterdam", "--window", "never"), "never")):
            err = t.fails("account", "set", acc, *args, rc=2 if args[0] == "--digest" else 1)
            self.assertIn(words, err, args)
        self.assertEqual(t.json("account", "show", acc), before)
        self.assertEqual(len(t.json("audit", "--account", acc)), n_audit)
        # account add refuses before creating anything
        t.fails("account", "add", "Other", "--timezone", "Nowhere/Land")
        self.assertEqual(len(t.json("account", "list")), 1)

    def test_bad_calendar_config_names_file_and_line(self):
        self.srv = SmtpServer(self)
        t = Tickler(self, smtp=self.srv, init=False,
                    extra_ini="[calendar]\ntimezone = Europe/Amsterdam\nwindow = sunday\n")
        err = t.fails("init")
        self.assertIn("tickler.ini:", err)
        self.assertIn("sunday", err)


class Holds(CalendarCase):
    def test_hold_without_until_then_release(self):
        t = self.deploy()
        acc = self.account()
        item = t.send("organizer", acc, "O", "--every", "2", "--count", "3", now=at(0))
        out = t.json("hold", item, "--reason", "client on holiday", now=at(1))
        self.assertEqual(out["hold"], {"since": at(1), "until": None, "reason": "client on holiday"})
        self.assertEqual(t.show(item)["hold"]["reason"], "client on holiday")
        self.assertIsNone(t.show(item)["reminders"]["next_at"], "held: out of the due index")
        for d in (2, 5, 9):
            t.ok("tick", now=at(d))
        self.assertEqual(reminders(self.srv), [])
        # a manual resend still goes out, with a warning
        r = t.run("resend", item, now=at(9, 1))
        self.assertEqual(r.rc, 0, r)
        self.assertIn("on hold", r.err)
        self.assertEqual(kinds(self.srv), ["notification", "resend"])
        t.ok("release", item, now=at(10))
        self.assertIsNone(t.show(item)["hold"])
        t.ok("tick", now=at(11, 1))  # D2: 2 days after the resend
        self.assertEqual(len(reminders(self.srv)), 1)
        actions = [a["action"] for a in t.json("audit", item)]
        self.assertIn("hold", actions)
        self.assertIn("released", actions)
        self.assertLess(actions.index("hold"), actions.index("released"))
        t.fails("release", item)  # not on hold

    def test_hold_until_ends_by_itself_at_the_next_opening(self):
        t = self.deploy()
        acc = self.account("--timezone", "America/New_York", "--window", "mon-fri 09:00-17:00")
        item = t.send("invoice", acc, "Fees", "--every", "1", "--count", "5", fields=INVOICE,
                      now="2026-12-01T15:00:00Z")
        # until Saturday 12 Dec: the next reminder then goes out Monday 09:00 New York
        t.ok("hold", item, "--until", "2026-12-12T15:00:00Z", now="2026-12-01T16:00:00Z")
        self.assertEqual(t.show(item)["reminders"]["next_at"], "2026-12-12T15:00:00Z")
        for when in ("2026-12-02T15:00:00Z", "2026-12-08T15:00:00Z", "2026-12-12T14:59:00Z"):
            t.ok("tick", now=when)
        self.assertEqual(reminders(self.srv), [])
        t.ok("tick", now="2026-12-12T15:00:00Z")
        self.assertEqual(reminders(self.srv), [])
        shown = t.show(item)
        self.assertIsNone(shown["hold"])
        self.assertEqual(shown["reminders"]["next_at"], "2026-12-14T14:00:00Z")
        self.assertIn("hold-ended", [a["action"] for a in t.json("audit", item)])
        t.ok("tick", now="2026-12-14T14:00:00Z")
        self.assertEqual(len(reminders(self.srv)), 1)
        self.assertEqual(t.show(item)["reminders"]["sent"], 1)

    def test_hold_account_and_refusals(self):
        t = self.deploy()
        acc = self.account()
        a = t.send("organizer", acc, "A", "--every", "1", now=at(0))
        b = t.send("proposal", acc, "B", "--every", "1", now=at(0))
        out = t.json("hold", "--account", acc, "--until", at(5), now=at(0, 1))
        self.assertEqual(out["items"], 2)
        t.ok("tick", now=at(3))
        self.assertEqual(reminders(self.srv), [])
        t.fails("hold", a, "--until", at(-1), now=at(0, 2))   # in the past
        t.fails("hold", a, "--until", "tomorrow", rc=2)
        t.fails("hold", a, "--account", acc, rc=2)            # both
        t.fails("hold", rc=2)                                  # neither
        t.fails("hold", "999")                                 # no such item
        t.ok("event", b, "signed")
        t.fails("hold", b)                                     # not pending
        self.assertEqual(t.json("release", "--account", acc, now=at(4))["items"], 1)
        t.ok("tick", now=at(4))
        self.assertEqual(len(reminders(self.srv)), 1)


class PartialPayments(CalendarCase):
    def test_payments_add_up_and_reminders_ask_for_the_balance(self):
        t = self.deploy()
        acc = self.account()
        item = t.send("invoice", acc, "Fees", "--every", "3", "--count", "3",
                      fields=dict(INVOICE, due_date="2026-12-02"), now=at(0))
        t.ok("event", item, "partially-paid", "--set", "paid=200.00", now=at(1))
        t.ok("event", item, "partially-paid", "--set", "paid=50", now=at(1, 1))
        shown = t.show(item)
        self.assertEqual(shown["fields"]["paid"], "250.00")
        self.assertEqual(shown["state"], "pending")
        details = [a["detail"] for a in t.json("audit", item) if a["action"] == "event"]
        self.assertIn("paid +50 = 250.00", details[-1])
        t.ok("tick", now=at(4, 2))
        text = body(reminders(self.srv)[0])
        self.assertIn("€200.00", text)
        self.assertIn("we have received €250.00", text)
        self.assertNotIn("Amount still to pay: €450.00", text)
        # refused, nothing changed: more than the amount, a bad amount, an unknown field
        t.fails("event", item, "partially-paid", "--set", "paid=200.01")
        t.fails("event", item, "partially-paid", "--set", "paid=-5")
        t.fails("event", item, "partially-paid", "--set", "tip=5.00")
        t.fails("event", item, "partially-paid", "--set", "paid", rc=2)
        self.assertEqual(t.show(item)["fields"]["paid"], "250.00")
        # payment in full stops them (R11)
        t.ok("event", item, "paid")
        t.ok("tick", now=at(20))
        self.assertEqual(len(reminders(self.srv)), 1)

    def test_dutch_balance(self):
        t = self.deploy()
        acc = self.account(language="nl")
        item = t.send("invoice", acc, "Jaarrekening", "--every", "3",
                      fields={"amount": "1000.00", "currency": "EUR"}, now=at(0))
        t.ok("event", item, "partially-paid", "--set", "paid=400.00")
        t.ok("tick", now=at(3))
        self.assertIn("Nog te betalen: € 600,00", body(reminders(self.srv)[0]))


class Wording(CalendarCase):
    def test_before_the_due_date_never_was_due(self):
        t = self.deploy()
        for lang, was in (("en", "was due"), ("nl", "vervaldatum was")):
            acc = self.account(name="Acme " + lang, language=lang)
            item = t.send("invoice", acc, "Fees", "--every", "7", "--count", "5",
                          "--template", "payment-reminders",
                          fields=dict(INVOICE, due_date="2026-12-31"), now=at(0))
            self.srv.clear()
            t.ok("tick", now=at(7))  # 8 December: 23 days before
            text = body(reminders(self.srv)[0])
            self.assertNotIn(was, text)
            self.assertIn("31 december 2026" if lang == "nl" else "31 December 2026", text)
            self.srv.clear()
            t.ok("tick", now=at(35))  # 5 January 2027: overdue
            self.assertIn(was, body(reminders(self.srv)[0]))
            t.ok("event", item, "paid")

    def test_approval_signature_chat_coming_up_then_was_due(self):
        # the shipped [reminder] of approval, signature and chat (en, nl)
        # name a due date as coming up before it and on the day, and say it
        # was due only after it; without a due date they say neither
        t = self.deploy()
        want = {"en": ("The deadline is coming up", "by 31 December 2026", "It was due on 31 December 2026"),
                "nl": ("De uiterste datum komt eraan", "uiterlijk 31 december 2026",
                       "De uiterste datum was 31 december 2026")}
        for lang in ("en", "nl"):
            acc = self.account(name="Acme " + lang, language=lang)
            items = [t.send(ty, acc, ty.title(), "--due", "2026-12-31", "--every", "7", "--count", "9",
                            now=at(0)) for ty in ("approval", "signature", "chat")]
            plain = t.send("approval", acc, "No date", "--every", "7", "--count", "9", now=at(0))
            for day, before in ((7, True), (30, True), (37, False)):  # 8 Dec, 31 Dec, 7 Jan
                self.srv.clear()
                t.ok("tick", now=at(day))
                texts = [body(m) for m in reminders(self.srv)]
                self.assertEqual(len(texts), 4, texts)
                dated = [x for x in texts if "2026" in x]
                self.assertEqual(len(dated), 3, texts)
                for x in dated:
                    if before:
                        self.assertIn(want[lang][0], x)
                        self.assertIn(want[lang][1], x)
                        self.assertNotIn(want[lang][2], x)
                    else:
                        self.assertIn(want[lang][2], x)
                        self.assertNotIn(want[lang][0], x)
                for x in texts:
                    if x not in dated:
                        self.assertNotIn(want[lang][0], x)
                        self.assertNotIn(want[lang][2], x)
            for i in items + [plain]:
                t.ok("reminders", i, "off")

    def test_days_to_due_in_the_clients_zone(self):
        t = self.deploy()
        tdir = os.path.join(t.dir, "templates", "en", "invoice")
        os.makedirs(tdir)
        with open(os.path.join(tdir, "days.tmpl"), "w") as f:
            f.write("description = days\nreminders = on\nevery_days = 1\ncount = 9\n\n"
                    "[notification]\nSubject: n\n\nn\n\n"
                    "[reminder]\nSubject: d={{item.days_to_due}}"
                    "{{#item.overdue}} late={{item.days_overdue}}{{/item.overdue}}\n\nr\n")
        # the folder is this one (the shipped files are not needed: the
        # plugin's compiled-in defaults stand behind it)
        with open(t.config) as f:
            ini = [l for l in f.read().splitlines() if not l.startswith("[templates]") and
                   not (l.startswith("dir = ") and l.endswith("templates"))]
        with open(t.config, "w") as f:
            f.write("\n".join(ini) + "\n[templates]\ndir = %s\n" % os.path.join(t.dir, "templates"))
        acc = self.account("--timezone", "Pacific/Auckland")
        t.send("invoice", acc, "Fees", "--template", "days",
               fields=dict(INVOICE, due_date="2026-12-03"), now="2026-12-01T09:00:00Z")
        # 2026-12-02T11:00Z is already 3 December (00:00 NZDT) in Auckland: 0 days
        t.ok("tick", now="2026-12-02T11:00:00Z")
        t.ok("tick", now="2026-12-03T12:00:00Z")  # 4 December there: overdue by 1
        self.assertEqual([str(m["Subject"]) for m in reminders(self.srv)], ["d=0", "d=-1 late=1"])


class Threading(CalendarCase):
    def test_reminders_and_resends_thread_under_the_first_email(self):
        t = self.deploy()
        acc = self.account()
        item = t.send("organizer", acc, "O", "--every", "1", "--count", "2", now=at(0))
        t.ok("tick", now=at(1))
        t.ok("resend", item, now=at(1, 2))
        t.ok("contact", "add", acc, "bob@acme.example", now=at(1, 3))
        t.ok("tick", now=at(2, 3))
        msgs = [m for _, m in self.srv.messages()]
        self.assertEqual([m["X-Tickler-Kind"] for m in msgs][:3],
                         ["notification", "reminder", "resend"])
        # Bob, added later, gets the item's notification first, not
        # "reminder 2 of 2" (docs/reminders.md); Ann the reminder
        self.assertEqual(sorted(m["X-Tickler-Kind"] for m in msgs[3:]),
                         ["notification", "reminder"])
        first = msgs[0]["Message-ID"]
        self.assertIsNone(msgs[0]["In-Reply-To"])
        for m in msgs[1:4]:
            if m["To"].addresses[0].addr_spec == "ann@acme.example":
                self.assertEqual(m["In-Reply-To"], first)
                self.assertEqual(m["References"], first)
        # Bob's first email about the item starts his own thread
        bob = [m for m in msgs if m["To"].addresses[0].addr_spec == "bob@acme.example"]
        self.assertEqual(len(bob), 1)
        self.assertEqual(bob[0]["X-Tickler-Kind"], "notification")
        self.assertIsNone(bob[0]["In-Reply-To"])


class ScheduleFlags(CalendarCase):
    def test_every_or_count_alone_switch_reminders_on(self):
        t = self.deploy()
        acc = self.account()
        a = t.send("proposal", acc, "P", "--every", "5", "--count", "2", now=at(0))
        b = t.send("proposal", acc, "P", "--every", "5", now=at(0))
        c = t.send("proposal", acc, "P", "--count", "2", now=at(0))
        d = t.send("proposal", acc, "P", "--reminders", "off", "--every", "5", now=at(0))
        e = t.send("proposal", acc, "P", now=at(0))
        on = {i: t.show(i)["reminders"]["enabled"] for i in (a, b, c, d, e)}
        self.assertEqual(on, {a: True, b: True, c: True, d: False, e: False})
        self.assertEqual(t.show(c)["reminders"]["every_days"], 3)  # [reminders] default
        t.ok("tick", now=at(5))
        self.assertEqual(sorted(int(m["X-Tickler-Item"]) for m in reminders(self.srv)),
                         sorted([a, b, c]))


# ---- property: no automatic email outside the window ----------------------

def easter(y):
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month = (h + l - 7 * m + 114) // 31
    day = (h + l - 7 * m + 114) % 31 + 1
    return datetime.date(y, month, day)


def nl_holidays(y):
    e = easter(y)
    king = datetime.date(y, 4, 27)
    if king.isoweekday() == 7:
        king = datetime.date(y, 4, 26)
    return {datetime.date(y, 1, 1), e, e + datetime.timedelta(1), king, datetime.date(y, 5, 5),
            e + datetime.timedelta(39), e + datetime.timedelta(49), e + datetime.timedelta(50),
            datetime.date(y, 12, 25), datetime.date(y, 12, 26)}


DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ZONES = ["America/New_York", "Europe/Amsterdam", "Asia/Kathmandu", "Australia/Lord_Howe",
         "Pacific/Chatham", "America/St_Johns", "UTC", "Asia/Tokyo"]


def random_window(rng):
    days = sorted(rng.sample(range(7), rng.randint(1, 5)))
    start = rng.randint(0, 20 * 4) * 15
    end = min(24 * 60, start + rng.randint(1, 8) * 30)
    spec = "%s %02d:%02d-%02d:%02d" % (",".join(DAYS[d] for d in days), start // 60, start % 60,
                                       end // 60, end % 60)
    return spec, set(d + 1 for d in days), start, end


class Property(CalendarCase):
    def test_no_automatic_email_outside_the_window(self):
        seed = int(os.environ.get("TK_PROPERTY_SEED", random.randrange(1 << 30)))
        rng = random.Random(seed)
        t = self.deploy()
        accounts = {}
        start = parse_iso("2027-03-20T00:00:00Z")  # around the spring DST changes, and Easter
        for n in range(6):
            spec, days, lo, hi = random_window(rng)
            zone = rng.choice(ZONES)
            hol = rng.choice(["none", "nl"])
            acc = self.account("--timezone", zone, "--window", spec, "--holidays", hol,
                               name="Acc%d" % n)
            accounts[acc] = (zone, days, lo, hi, hol, spec)
            for k in range(2):
                t.send("organizer", acc, "O%d" % k, "--every", "1", "--count", "20",
                       now=iso(start + rng.randint(0, 86400)))
        when = start
        for _ in range(70):
            when += rng.randint(1800, 6 * 3600)
            t.ok("tick", now=iso(when))
        sent = 0
        for m in reminders(self.srv):
            item = t.show(m["X-Tickler-Item"])
            zone, days, lo, hi, hol, spec = accounts[str(item["account"])]
            loc = local(m, zone)
            minute = loc.hour * 60 + loc.minute
            what = "seed %d: %s %s %s sent at %s" % (seed, zone, spec, hol, loc.isoformat())
            self.assertIn(loc.isoweekday(), days, what)
            self.assertTrue(lo <= minute < hi, what)
            if hol == "nl":
                self.assertNotIn(loc.date(), nl_holidays(loc.year), what)
            sent += 1
        self.assertGreater(sent, 0, "seed %d: nothing was sent at all" % seed)


if __name__ == "__main__":
    unittest.main()
