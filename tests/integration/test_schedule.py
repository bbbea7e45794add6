"""Issue 14: deadlines and anchored schedules.

`send ... --due DATE --schedule OFFSETS`: each reminder step goes out on
its day (due date + offset, in the client's zone) at the window's opening,
instead of every N days; a closed day (weekend, holiday) defers the step
to the next opening.  Through the real binary with --now and a real SMTP
server (aiosmtpd): a -7,0,7 schedule around a due date with the right
ladder section and wording per step, a step on a holiday, steps whose day
passed before the item was made, refusals (no due date, bad offsets), a
template's schedule, `reminders ITEM --schedule`, the preview, and the
show --json keys.
"""
import email.utils
import os
import shutil
import unittest
from zoneinfo import ZoneInfo

import tkharness as h
from tkharness import MailCase, SmtpServer, Tickler, at, body, iso, parse_iso

AMS = "Europe/Amsterdam"
INVOICE = {"amount": "450.00", "currency": "EUR"}


def reminders(srv):
    return [m for _, m in srv.messages() if m["X-Tickler-Kind"] == "reminder"]


def local(m):
    return email.utils.parsedate_to_datetime(str(m["Date"])).astimezone(ZoneInfo(AMS))


class Schedule(MailCase):
    def account(self, *args):
        self.n = getattr(self, "n", 0) + 1
        return self.t.account("Acme %d" % self.n, None, (("ann@acme.example", "Ann", True),), args)

    def amsterdam(self):
        return self.account("--timezone", AMS, "--window", "mon-fri 09:00-17:00", "--holidays",
                            "nl")

    def tick_days(self, start, end, early=()):
        """Tick at 08:00 UTC (09:00 Amsterdam) of each day from START to END
        (ISO dates), and at 07:59 UTC (08:59 local) on the days in EARLY
        too; {tick time: reminders it sent}."""
        t, got, seen = self.t, {}, 0
        day = parse_iso(start + "T00:00:00Z")
        while day <= parse_iso(end + "T00:00:00Z"):
            times = [8 * 3600]
            if iso(day)[:10] in early:
                times.insert(0, 7 * 3600 + 59 * 60)
            for s in times:
                now = iso(day + s)
                t.ok("tick", now=now)
                n = len(reminders(self.srv))
                if n > seen:
                    got[now] = reminders(self.srv)[seen:n]
                    seen = n
            day += 86400
        return got

    def test_minus7_0_7_around_a_due_date_right_section_per_step(self):
        t = self.deploy()
        acc = self.amsterdam()
        item = t.send("invoice", acc, "Fees", "--template", "payment-reminders", "--due",
                      "2026-12-31", "--schedule", "-7,0,7", fields=INVOICE, now=at(0))
        rem = t.show(item)["reminders"]
        self.assertEqual(rem["due"], "2026-12-31")
        self.assertEqual(rem["schedule"], [-7, 0, 7])
        self.assertEqual(rem["count"], 3)
        self.assertTrue(rem["enabled"])
        # step 1: Thursday 24 December, 09:00 Amsterdam (08:00 UTC)
        self.assertEqual(rem["next_at"], "2026-12-24T08:00:00Z")
        got = self.tick_days("2026-12-02", "2027-01-09",
                             early=("2026-12-24", "2026-12-31", "2027-01-07"))
        # nothing in between; each at 09:00 local on its day, never 08:59
        self.assertEqual(sorted(got), ["2026-12-24T08:00:00Z", "2026-12-31T08:00:00Z",
                                       "2027-01-07T08:00:00Z"], got)
        msgs = [got[k][0] for k in sorted(got)]
        for m in msgs:
            self.assertEqual((local(m).hour, local(m).minute), (9, 0))
        subjects = [str(m["Subject"]) for m in msgs]
        self.assertTrue(subjects[0].startswith("Payment reminder: invoice "), subjects)
        self.assertTrue(subjects[1].startswith("Second payment reminder: invoice "), subjects)
        self.assertTrue(subjects[2].startswith("Final notice: invoice "), subjects)
        b = [body(m) for m in msgs]
        # before the due date: coming up, never "was due"; on the day: due;
        # a week after: was due
        self.assertIn("is coming up: it is due on 31 December 2026", b[0])
        self.assertNotIn("was due", b[0])
        self.assertIn("it is due on 31 December 2026", b[1])
        self.assertNotIn("was due", b[1])
        self.assertIn("which was due on 31 December 2026", b[2])
        self.assertEqual(t.show(item)["reminders"]["sent"], 3)

    def test_step_on_a_holiday_waits_for_the_next_opening(self):
        # due Friday 1 January 2027 (New Year: a Dutch holiday); -7 is
        # Christmas (Friday 25 December), then Boxing Day and the weekend:
        # step 1 goes out Monday 28 December at 09:00; step 2 (New Year's
        # Day) on Monday 4 January; step 3 on Friday 8 January.
        t = self.deploy()
        acc = self.amsterdam()
        t.send("invoice", acc, "Fees", "--due", "2027-01-01", "--schedule", "-7,0,7",
               fields=INVOICE, now=at(0))
        got = self.tick_days("2026-12-23", "2027-01-09",
                             early=("2026-12-28", "2027-01-04", "2027-01-08"))
        self.assertEqual(sorted(got), ["2026-12-28T08:00:00Z", "2027-01-04T08:00:00Z",
                                       "2027-01-08T08:00:00Z"], got)

    def test_window_always_is_local_midnight(self):
        t = self.deploy()
        acc = self.account("--timezone", AMS, "--window", "always")
        item = t.send("organizer", acc, "Tax 2026", "--due", "2026-12-31", "--schedule", "-1",
                      now=at(0))
        # 30 December 00:00 Amsterdam = 29 December 23:00 UTC
        self.assertEqual(t.show(item)["reminders"]["next_at"], "2026-12-29T23:00:00Z")

    def test_past_steps_are_skipped_never_a_burst(self):
        t = self.deploy()
        acc = self.amsterdam()
        # made on 28 December: -7 (24 Dec) already passed: skipped, the first
        # reminder is the due day's, as step 2 of 3 (its ladder section)
        item = t.send("invoice", acc, "Fees", "--template", "payment-reminders", "--due",
                      "2026-12-31", "--schedule", "-7,0,7", fields=INVOICE,
                      now="2026-12-28T10:00:00Z")
        self.assertEqual(t.show(item)["reminders"]["next_at"], "2026-12-31T08:00:00Z")
        # a tick long after the last step's day sends one reminder, not three
        t.ok("tick", now="2027-01-20T10:00:00Z")
        got = reminders(self.srv)
        self.assertEqual(len(got), 1, [str(m["Subject"]) for m in got])
        self.assertTrue(str(got[0]["Subject"]).startswith("Second payment reminder: "),
                        got[0]["Subject"])
        # made after every step's day: no reminder at all
        item2 = t.send("invoice", acc, "Old", "--due", "2026-12-01", "--schedule", "-7,0",
                       fields=INVOICE, now="2026-12-28T10:00:00Z")
        rem = t.show(item2)["reminders"]
        self.assertIsNone(rem["next_at"])

    def test_refusals_create_nothing(self):
        t = self.deploy()
        acc = self.amsterdam()
        cases = [
            (["--schedule", "-7,0,7"], "due date"),
            (["--due", "2026-12-31", "--schedule", "-7,x"], "not a whole number"),
            (["--due", "2026-12-31", "--schedule", ""], "empty"),
            (["--due", "2026-12-31", "--schedule", "-7,,0"], "not a whole number"),
            (["--due", "2026-12-31", "--schedule", "-7,0,"], "not a whole number"),
            (["--due", "2026-12-31", "--schedule", "4000"], "-3650 to 3650"),
            (["--due", "2026-12-31", "--schedule", "3,-1,3"], "given twice"),
            (["--due", "2026-12-31", "--schedule", "-7,0", "--every", "3"], "one or the other"),
            (["--due", "2026-12-31", "--schedule", ",".join(str(i) for i in range(33))],
             "at most 32"),
            (["--due", "2026-13-01", "--schedule", "0"], "not a date"),
            (["--due", "31-12-2026"], "not a date"),
        ]
        for extra, words in cases:
            err = t.fails("send", "invoice", "--account", acc, "--title", "X", "--set",
                          "amount=1.00", "--set", "currency=EUR", *extra, rc=2)
            self.assertIn(words, err, extra)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertEqual(t.json("list", "--account", acc), [])
        self.assertEqual(self.srv.messages(), [])

    def test_due_for_any_type_and_reminders_command(self):
        t = self.deploy()
        acc = self.amsterdam()
        item = t.send("approval", acc, "Sign off", "--due", "2026-12-31", now=at(0))
        shown = t.show(item)
        self.assertEqual(shown["fields"]["due_date"], "2026-12-31")
        self.assertEqual(shown["reminders"]["due"], "2026-12-31")
        self.assertNotIn("schedule", shown["reminders"])
        t.ok("reminders", item, "on", "--schedule", "-3,0", now=at(1))
        rem = t.show(item)["reminders"]
        self.assertEqual(rem["schedule"], [-3, 0])
        self.assertEqual(rem["count"], 2)
        self.assertEqual(rem["next_at"], "2026-12-28T08:00:00Z")  # Monday 09:00
        why = t.ok("why", item, now=at(1))
        self.assertIn("schedule -3,0 days from due 2026-12-31, 0 of 2 sent", why)
        self.assertIn("2026-12-28T08:00:00Z", why)
        # a new due date moves the steps
        t.ok("reminders", item, "on", "--due", "2027-01-14", now=at(1))
        self.assertEqual(t.show(item)["reminders"]["next_at"], "2027-01-11T08:00:00Z")
        # back to every N days
        t.ok("reminders", item, "on", "--schedule", "none", now=at(1))
        self.assertNotIn("schedule", t.show(item)["reminders"])
        # no due date: refused
        other = t.send("approval", acc, "No date", now=at(0))
        err = t.fails("reminders", other, "on", "--schedule", "-1", rc=1)
        self.assertIn("no due date", err)
        t.fails("reminders", other, "on", "--schedule", "1,1", rc=2)
        self.assertNotIn("schedule", t.show(other)["reminders"])

    def test_event_set_due_date_moves_the_steps_like_reminders_due(self):
        # `event ITEM EVENT --set due_date=DATE` (the invoice's due date
        # field) moves the next reminder exactly as `reminders ITEM on --due`
        t = self.deploy()
        acc = self.amsterdam()
        args = ("--template", "payment-reminders", "--due", "2026-12-31", "--schedule", "-7,0,7")
        by_event = t.send("invoice", acc, "By event", *args, fields=INVOICE, now=at(0))
        by_cmd = t.send("invoice", acc, "By command", *args, fields=INVOICE, now=at(0))
        self.assertEqual(t.show(by_event)["reminders"]["next_at"], "2026-12-24T08:00:00Z")
        t.ok("event", by_event, "viewed", "--set", "due_date=2027-01-14", now=at(1))
        t.ok("reminders", by_cmd, "on", "--due", "2027-01-14", now=at(1))
        ev, cmd = t.show(by_event)["reminders"], t.show(by_cmd)["reminders"]
        self.assertEqual(ev["next_at"], "2027-01-07T08:00:00Z")
        for k in ("next_at", "sent", "due", "schedule", "count"):
            self.assertEqual(ev[k], cmd[k], k)
        audit = [a["detail"] for a in t.json("audit", by_event) if a["action"] == "event"]
        self.assertIn("next reminder 2027-01-07T08:00:00Z", audit[-1])
        # the same date again moves nothing; a bad date is refused, nothing changed
        t.ok("event", by_event, "viewed", "--set", "due_date=2027-01-14", now=at(2))
        self.assertEqual(t.show(by_event)["reminders"]["next_at"], "2027-01-07T08:00:00Z")
        t.fails("event", by_event, "viewed", "--set", "due_date=next week", now=at(2))
        self.assertEqual(t.show(by_event)["fields"]["due_date"], "2027-01-14")
        # the old step's day sends nothing; the new one's says "coming up"
        t.ok("tick", now="2026-12-24T08:00:00Z")
        self.assertEqual(reminders(self.srv), [])
        t.ok("tick", now="2027-01-07T08:00:00Z")
        got = {str(m["Subject"]): body(m) for m in reminders(self.srv)}
        self.assertEqual(len(got), 2)
        for b in got.values():
            self.assertIn("is coming up: it is due on 14 January 2027", b)
            self.assertNotIn("was due", b)
        # a completing event with a new date: stopped, nothing moved back on
        t.ok("event", by_event, "paid", "--set", "due_date=2027-02-01", now="2027-01-08T08:00:00Z")
        self.assertIsNone(t.show(by_event)["reminders"].get("next_at"))

    def test_template_schedule_and_fallback(self):
        t = self.deploy()
        d = os.path.join(t.dir, "templates")
        shutil.copytree(os.path.join(h.SHARE, "templates"), d)
        t.ini = t.ini.replace("dir = " + os.path.join(h.SHARE, "templates"), "dir = " + d)
        with open(t.config, "w") as f:
            f.write(t.ini)
        src = os.path.join(d, "en", "invoice", "payment-reminders.tmpl")
        with open(src) as f:
            text = f.read()
        text = text.replace("every_days = 7\ncount = 3\n", "schedule = 7, -7, 0\n")
        with open(os.path.join(d, "en", "invoice", "deadline.tmpl"), "w") as f:
            f.write(text)
        acc = self.amsterdam()
        item = t.send("invoice", acc, "Fees", "--template", "deadline", "--due", "2026-12-31",
                      fields=INVOICE, now=at(0))
        rem = t.show(item)["reminders"]
        self.assertEqual(rem["schedule"], [-7, 0, 7])
        self.assertTrue(rem["enabled"])
        self.assertEqual(rem["next_at"], "2026-12-24T08:00:00Z")
        # the command line overrides the template (R8)
        item = t.send("invoice", acc, "Fees", "--template", "deadline", "--due", "2026-12-31",
                      "--every", "5", fields=INVOICE, now=at(0))
        self.assertNotIn("schedule", t.show(item)["reminders"])
        # no due date: every N days instead, with a warning
        r = t.run("send", "invoice", "--account", acc, "--title", "Fees", "--template",
                  "deadline", "--set", "amount=1.00", "--set", "currency=EUR", now=at(0))
        self.assertEqual(r.rc, 0, r)
        self.assertIn("no due date", r.err)
        # a bad schedule in a template: FILE:LINE
        with open(os.path.join(d, "en", "invoice", "bad.tmpl"), "w") as f:
            f.write(text.replace("schedule = 7, -7, 0", "schedule = -7,x"))
        err = t.fails("send", "invoice", "--account", acc, "--title", "X", "--template", "bad",
                      "--due", "2026-12-31", "--set", "amount=1.00", "--set", "currency=EUR",
                      now=at(0))
        self.assertIn("bad.tmpl:", err)
        self.assertIn("schedule", err)

    def test_preview_lists_the_anchored_steps(self):
        t = self.deploy()
        acc = self.amsterdam()
        item = t.send("invoice", acc, "Fees", "--due", "2026-12-31", "--schedule", "-7,0,7",
                      fields=INVOICE, now=at(0))
        p = t.json("preview", "--days", "40", now=at(0))
        rows = p if isinstance(p, list) else p.get("emails", p.get("items", []))
        mine = [r for r in rows if r.get("item") == int(item)]
        self.assertEqual([r["at"] for r in mine], ["2026-12-24T08:00:00Z",
                                                   "2026-12-31T08:00:00Z",
                                                   "2027-01-07T08:00:00Z"], mine)
        self.assertEqual([r["step"] for r in mine], [1, 2, 3])

    LUA = """
local F = { amount = "10.00", currency = "EUR" }
pipeline("Deadline", {
  { stage = "S", on_enter = function(job)
      job:create_invoice{ title = "anchored", fields = F, due = "2026-12-31",
                          reminders = { schedule = { 7, -7, 0 } } }
      job:create("organizer", { title = "field", fields = { due_date = "2026-12-31" },
                                reminders = { schedule = { -1 } } })
  end },
})
pipeline("NoDue", {
  { stage = "S", on_enter = function(job)
      job:create_invoice{ title = "x", fields = F, reminders = { schedule = { -1 } } }
  end },
})
pipeline("BadList", {
  { stage = "S", on_enter = function(job)
      job:create_invoice{ title = "x", fields = F, due = "2026-12-31",
                          reminders = { schedule = { -1, "soon" } } }
  end },
})
pipeline("Both", {
  { stage = "S", on_enter = function(job)
      job:create_invoice{ title = "x", fields = F, due = "2026-12-31",
                          reminders = { schedule = { -1 }, every = 3 } }
  end },
})
"""

    def test_lua_pipeline_schedule(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="tk-lua-")
        self.addCleanup(shutil.rmtree, d)
        with open(os.path.join(d, "deadline.lua"), "w") as f:
            f.write(self.LUA)
        self.srv = SmtpServer(self)
        t = self.t = Tickler(self, smtp=self.srv, extra_ini="[lua]\nscripts = %s\n" % d)
        acc = self.amsterdam()
        job = t.ok("job", "add", "Deadline", "--account", acc, now=at(0)).strip()
        items = {t.show(i)["title"]: t.show(i) for i in t.json("job", "show", job)["items"]}
        rem = items["anchored"]["reminders"]
        self.assertEqual((rem["due"], rem["schedule"], rem["count"], rem["enabled"]),
                         ("2026-12-31", [-7, 0, 7], 3, True))
        self.assertEqual(rem["next_at"], "2026-12-24T08:00:00Z")
        rem = items["field"]["reminders"]
        self.assertEqual((rem["due"], rem["schedule"]), ("2026-12-31", [-1]))
        self.assertEqual(rem["next_at"], "2026-12-30T08:00:00Z")
        for name, words in (("NoDue", "due date"), ("BadList", "schedule[2]"),
                            ("Both", "one or the other")):
            err = t.fails("job", "add", name, "--account", acc, now=at(0))
            self.assertIn(words, err, name)
            self.assertIn("deadline.lua:", err, name)
        self.assertEqual(len(t.json("list", "--account", acc)), 2)



class Api(unittest.TestCase):
    """POST /api/v1/items with "due" and reminders.schedule, PATCH
    .../reminders with schedule and due; the answers are the CLI's JSON
    (the daemon runs on the real clock: the due dates lie years ahead)."""

    def test_post_and_patch_schedule(self):
        from httpharness import Daemon, http_ini
        t = Tickler(self, extra_ini=http_ini())
        t.now = None
        d = Daemon(self, t)
        w = d.token("ci", "write")
        t.ok("account", "add", "Acme BV", "--timezone", AMS, "--window", "mon-fri 09:00-17:00")

        def call(method, path, body, status):
            st, _, b = d.api(method, path, body, token=w)
            self.assertEqual(st, status, "%s %s %r: %r" % (method, path, body, b))
            return b

        inv = call("POST", "/api/v1/items", {
            "type": "invoice", "account": "Acme BV", "title": "Fees", "due": "2030-12-31",
            "reminders": {"schedule": [7, -7, 0]},
            "fields": {"amount": "450.00", "currency": "EUR"}}, 201)
        self.assertEqual(inv, t.show(inv["id"]))
        rem = inv["reminders"]
        self.assertEqual((rem["due"], rem["schedule"], rem["count"], rem["enabled"]),
                         ("2030-12-31", [-7, 0, 7], 3, True))
        self.assertEqual(rem["next_at"], "2030-12-24T08:00:00Z")  # Tuesday, 09:00 CET
        path = "/api/v1/items/%d/reminders" % inv["id"]
        r = call("PATCH", path, {"schedule": [-1], "due": "2031-01-15"}, 200)
        self.assertEqual((r["reminders"]["due"], r["reminders"]["schedule"]), ("2031-01-15", [-1]))
        self.assertEqual(r["reminders"]["next_at"], "2031-01-14T08:00:00Z")
        r = call("PATCH", path, {"schedule": None}, 200)
        self.assertNotIn("schedule", r["reminders"])
        self.assertEqual(r, t.show(inv["id"]))
        before = t.json("list")
        for bad in ({"schedule": [-1]},                       # no due date
                    {"due": "2030-12-31", "schedule": []},
                    {"due": "2030-12-31", "schedule": [1, 1]},
                    {"due": "2030-12-31", "schedule": ["1"]},
                    {"due": "2030-12-31", "schedule": [4000]},
                    {"due": "31-12-2030", "schedule": [1]},
                    {"due": "2030-12-31", "schedule": [1], "every_days": 3}):
            b = {"type": "invoice", "account": "Acme BV", "title": "X",
                 "fields": {"amount": "1.00", "currency": "EUR"}}
            if "due" in bad:
                b["due"] = bad["due"]
            b["reminders"] = {k: v for k, v in bad.items() if k != "due"}
            call("POST", "/api/v1/items", b, 400)
        call("PATCH", path, {"schedule": [1], "every_days": 3}, 400)
        self.assertEqual(t.json("list"), before)


if __name__ == "__main__":
    unittest.main()
