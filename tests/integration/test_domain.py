#!/usr/bin/python3
"""Every rule of ../shared/domain.md (R1-R14, D1-D4), end to end through the
real binary, the real plugins and the file transport (and one real SMTP
server run).  Each test names the rule it guards."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tkharness import DAY, Tickler, SmtpServer, at  # noqa: E402


def subjects(msgs):
    return [str(m["Subject"]) for m in msgs]


def to_addrs(msgs):
    return sorted(m["To"].addresses[0].addr_spec for m in msgs)


class Base(unittest.TestCase):
    def setUp(self):
        self.t = Tickler(self)
        self.acc = self.t.account("Acme BV", contacts=(
            ("ann@acme.example", "Ann Acme", True),
            ("bob@acme.example", "Bob Acme", True),
            ("carl@acme.example", "Carl Quiet", False)))

    def tick(self, when):
        return self.t.json("tick", now=when)

    def kinds(self):
        return [m["X-Tickler-Kind"] for m in self.t.messages()]


class R1Notification(Base):
    def test_notify_on_contacts_get_one_email_each(self):
        self.t.send("organizer", self.acc, "2026 organizer")
        msgs = self.t.messages()
        self.assertEqual(to_addrs(msgs), ["ann@acme.example", "bob@acme.example"])
        self.assertTrue(all(m["X-Tickler-Kind"] == "notification" for m in msgs))

    def test_contact_list_shows_who_is_notified(self):
        cs = self.t.json("contact", "list", self.acc)
        self.assertEqual({c["email"]: c["notify"] for c in cs},
                         {"ann@acme.example": True, "bob@acme.example": True, "carl@acme.example": False})
        out = self.t.ok("contact", "list", "Acme BV")
        self.assertIn("not notified", out)

    def test_toggle_changes_recipients_of_later_reminders(self):
        item = self.t.send("proposal", self.acc, "Engagement", "--reminders", "on")
        self.t.ok("contact", "notify", self.acc, "bob@acme.example", "off")
        self.t.ok("contact", "notify", self.acc, "carl@acme.example", "on")
        self.t.clear()
        self.tick(at(3))
        self.assertEqual(to_addrs(self.t.messages()), ["ann@acme.example", "carl@acme.example"])
        self.assertEqual(self.t.show(item)["reminders"]["sent"], 1)

    def test_no_recipients_still_creates_item_and_warns(self):
        acc = self.t.account("Quiet Ltd", contacts=(("q@quiet.example", None, False),))
        r = self.t.run("send", "chat", "--account", acc, "--title", "Hello")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("warning", r.err)
        item = int(r.out.strip())
        self.assertEqual(self.t.show(item)["state"], "pending")
        audit = self.t.json("audit", item)
        self.assertIn("nobody", audit[0]["detail"])
        self.assertEqual(self.t.messages(), [])


class R2ManualResend(Base):
    def test_resend_emails_moves_to_top_and_audits(self):
        a = self.t.send("organizer", self.acc, "Organizer A")
        b = self.t.send("proposal", self.acc, "Proposal B", now=at(0, minutes=1))
        self.assertEqual([i["id"] for i in self.t.json("todo", self.acc)], [b, a])
        self.t.clear()
        self.t.ok("resend", a, now=at(1))
        msgs = self.t.messages()
        self.assertEqual(to_addrs(msgs), ["ann@acme.example", "bob@acme.example"])
        self.assertTrue(all(m["X-Tickler-Kind"] == "resend" for m in msgs))
        self.assertEqual([i["id"] for i in self.t.json("todo", self.acc)], [a, b])
        actions = [e["action"] for e in self.t.json("audit", a)]
        self.assertEqual(actions, ["sent", "resent"])

    def test_resend_also_with_automatic_reminders_on(self):
        item = self.t.send("invoice", self.acc, "Fees", "--reminders", "on", "--count", "2")
        self.t.ok("resend", item, now=at(1))
        self.assertEqual(self.t.show(item)["reminders"]["enabled"], True)

    def test_resend_of_completed_item_is_refused_and_changes_nothing(self):
        item = self.t.send("signature", self.acc, "Letter")
        self.t.ok("event", item, "signed")
        before = self.t.json("audit", item)
        self.t.clear()
        err = self.t.fails("resend", item)
        self.assertIn("signed", err)
        self.assertEqual(self.t.json("audit", item), before)
        self.assertEqual(self.t.messages(), [])


class R3InvoiceResend(Base):
    def test_unpaid_invoice_resend_is_a_payment_reminder(self):
        item = self.t.send("invoice", self.acc, "Fees")
        self.t.clear()
        self.t.ok("resend", item)
        body = self.t.messages()[0].get_body(("plain",)).get_content()
        self.assertIn("450.00", body)

    def test_paid_invoice_is_resent_as_a_copy_never_a_reminder(self):
        item = self.t.send("invoice", self.acc, "Fees", "--reminders", "on")
        unpaid = self.t.messages()[0]
        self.t.ok("event", item, "paid")
        self.t.clear()
        self.t.ok("resend", item, now=at(1))
        msgs = self.t.messages()
        self.assertEqual(len(msgs), 2)
        m = msgs[0]
        self.assertEqual(m["X-Tickler-Kind"], "resend")
        self.assertNotEqual(str(m["Subject"]), str(unpaid["Subject"]))
        text = (str(m["Subject"]) + m.get_body(("plain",)).get_content()).lower()
        self.assertIn("copy", text)
        self.assertNotIn("remind", text)
        self.assertNotIn("please pay", text)
        self.assertEqual(self.t.show(item)["state"], "paid")
        self.assertIsNone(self.t.show(item)["reminders"]["next_at"])


class R4BulkApproval(Base):
    def test_one_request_covers_all_pending_approvals(self):
        a = self.t.send("approval", self.acc, "Annual accounts 2025")
        b = self.t.send("approval", self.acc, "VAT return Q3")
        c = self.t.send("approval", self.acc, "Payroll summary")
        self.t.ok("event", c, "approved")
        self.t.clear()
        out = self.t.json("request-approvals", self.acc, "--message", "Please approve these before Friday.",
                          now=at(1))
        self.assertEqual(out["items"], 2)
        msgs = self.t.messages()
        self.assertEqual(to_addrs(msgs), ["ann@acme.example", "bob@acme.example"])
        body = msgs[0].get_body(("plain",)).get_content()
        self.assertIn("Annual accounts 2025", body)
        self.assertIn("VAT return Q3", body)
        self.assertNotIn("Payroll summary", body)
        self.assertIn("Please approve these before Friday.", body)
        for i in (a, b):
            self.assertEqual([e["action"] for e in self.t.json("audit", i)][-1], "resent")
        self.assertEqual([e["action"] for e in self.t.json("audit", c)][-1], "event")

    def test_nothing_pending_is_an_error(self):
        err = self.t.fails("request-approvals", self.acc)
        self.assertIn("no pending", err)


class R5AutomaticReminders(Base):
    def test_defaults_three_days_one_reminder(self):
        item = self.t.send("organizer", self.acc, "Organizer", "--reminders", "on")
        r = self.t.show(item)["reminders"]
        self.assertEqual((r["enabled"], r["every_days"], r["count"], r["sent"]), (True, 3, 1, 0))
        self.assertEqual(r["next_at"], at(3))
        self.t.clear()
        self.assertEqual(self.tick(at(3) if False else at(2, hours=23))["reminders"], 0)
        self.assertEqual(self.tick(at(3))["reminders"], 1)
        self.assertEqual(self.kinds(), ["reminder", "reminder"])
        self.assertEqual(self.tick(at(30))["reminders"], 0)
        self.assertEqual(self.t.show(item)["reminders"]["sent"], 1)

    def test_values_may_be_changed(self):
        item = self.t.send("chat", self.acc, "Question", "--reminders", "on", "--every", "2", "--count", "3")
        for day, expect in ((2, 1), (3, 0), (4, 1), (6, 1), (8, 0)):
            self.assertEqual(self.tick(at(day))["reminders"], expect, "day %d" % day)
        self.assertEqual(self.t.show(item)["reminders"]["sent"], 3)

    def test_reminders_off_by_default(self):
        item = self.t.send("proposal", self.acc, "Proposal")
        self.assertFalse(self.t.show(item)["reminders"]["enabled"])
        self.assertEqual(self.tick(at(10))["reminders"], 0)

    def test_reminder_is_auto_submitted(self):
        self.t.send("organizer", self.acc, "Organizer", "--reminders", "on")
        self.t.clear()
        self.tick(at(3))
        for m in self.t.messages():
            self.assertEqual(m["Auto-Submitted"], "auto-generated")


class R6ChangeSettings(Base):
    def test_switch_off_and_on_while_pending(self):
        item = self.t.send("invoice", self.acc, "Fees", "--reminders", "on", "--count", "3")
        self.t.ok("reminders", item, "off", now=at(1))
        self.assertEqual(self.tick(at(5))["reminders"], 0)
        self.t.ok("reminders", item, "on", "--every", "5", now=at(5))
        self.assertEqual(self.t.show(item)["reminders"]["every_days"], 5)
        self.assertEqual(self.tick(at(5))["reminders"], 1)  # D4: due since day 5 (last mail day 0)
        actions = [e["action"] for e in self.t.json("audit", item)]
        self.assertEqual(actions.count("reminders"), 2)

    def test_bad_values_are_refused_and_change_nothing(self):
        item = self.t.send("invoice", self.acc, "Fees", "--reminders", "on")
        before = self.t.show(item)
        self.t.fails("reminders", item, "on", "--every", "0", rc=2)
        self.t.fails("reminders", item, "maybe", rc=2)
        self.t.fails("reminders", 999, "on")
        self.assertEqual(self.t.show(item), before)


class R7R8Defaults(Base):
    def test_template_carries_reminder_defaults(self):
        item = self.t.send("invoice", self.acc, "Fees", "--template", "payment-reminders")
        r = self.t.show(item)["reminders"]
        self.assertEqual((r["enabled"], r["every_days"], r["count"]), (True, 7, 3))

    def test_command_line_beats_template(self):
        item = self.t.send("invoice", self.acc, "Fees", "--template", "payment-reminders", "--count", "1",
                           "--every", "2")
        r = self.t.show(item)["reminders"]
        self.assertEqual((r["enabled"], r["every_days"], r["count"]), (True, 2, 1))
        item = self.t.send("invoice", self.acc, "Fees", "--template", "payment-reminders", "--reminders", "off")
        self.assertFalse(self.t.show(item)["reminders"]["enabled"])

    def test_config_defaults_apply_when_template_is_silent(self):
        t = Tickler(self, extra_ini="[reminders]\ndefault_every_days = 5\ndefault_count = 2\n")
        acc = t.account()
        item = t.send("organizer", acc, "Organizer", "--reminders", "on")
        r = t.show(item)["reminders"]
        self.assertEqual((r["every_days"], r["count"]), (5, 2))

    def test_unknown_template_is_refused(self):
        self.t.fails("send", "invoice", "--account", self.acc, "--title", "X", "--template", "nope",
                     "--set", "amount=1.00", "--set", "currency=EUR")
        self.assertEqual(self.t.json("list"), [])


class StopRules(Base):
    def check_stops(self, type_, event, final):
        item = self.t.send(type_, self.acc, "Item", "--reminders", "on", "--count", "5", "--every", "1")
        self.assertEqual(self.tick(at(1))["reminders"], 1)
        self.t.ok("event", item, event, now=at(1, hours=2))
        s = self.t.show(item)
        self.assertEqual(s["state"], final)
        self.assertIsNone(s["reminders"]["next_at"])
        self.t.clear()
        self.assertEqual(self.tick(at(10))["reminders"], 0)
        self.assertEqual(self.t.messages(), [])
        self.assertNotIn(item, [i["id"] for i in self.t.json("todo", self.acc)])
        return item

    def check_count_stops(self, type_):
        item = self.t.send(type_, self.acc, "Item", "--reminders", "on", "--count", "2", "--every", "1")
        sent = sum(self.tick(at(d))["reminders"] for d in range(1, 8))
        self.assertEqual(sent, 2)
        self.assertEqual(self.t.show(item)["state"], "pending")

    def test_r9_organizer(self):
        self.check_stops("organizer", "submitted", "submitted")
        self.check_stops("organizer", "sealed", "sealed")
        self.check_count_stops("organizer")

    def test_r10_proposal(self):
        self.check_stops("proposal", "signed", "signed")
        self.check_count_stops("proposal")

    def test_r11_invoice_and_partial_payment(self):
        item = self.t.send("invoice", self.acc, "Fees", "--reminders", "on", "--count", "3", "--every", "1")
        self.t.ok("event", item, "partially-paid", now=at(0, hours=5))
        self.assertEqual(self.t.show(item)["state"], "pending")
        self.assertEqual(self.tick(at(1))["reminders"], 1)
        self.t.ok("event", item, "paid", now=at(1, hours=1))
        self.assertEqual(self.tick(at(5))["reminders"], 0)
        self.assertEqual(self.t.show(item)["state"], "paid")
        self.check_count_stops("invoice")

    def test_r12_signature_and_settings_after_signing(self):
        item = self.check_stops("signature", "signed", "signed")
        r = self.t.run("reminders", item, "on", "--every", "2", "--count", "4", now=at(11))
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.t.show(item)["reminders"]["count"], 4)
        self.assertEqual(self.tick(at(20))["reminders"], 0)
        self.assertEqual(self.t.messages(), [])
        self.check_count_stops("signature")

    def test_r13_approval(self):
        self.check_stops("approval", "approved", "approved")
        self.check_count_stops("approval")

    def test_r14_chat_reply_tasks_and_read(self):
        item = self.t.send("chat", self.acc, "Questions", "--reminders", "on", "--count", "3", "--every", "1")
        self.t.ok("event", item, "read", now=at(0, hours=1))
        self.assertEqual(self.tick(at(1))["reminders"], 1)  # reading does not stop them
        self.t.ok("event", item, "replied", now=at(1, hours=1))
        self.assertEqual(self.tick(at(5))["reminders"], 0)
        self.check_stops("chat", "tasks-done", "done")
        self.check_count_stops("chat")

    def test_repeated_completing_event_is_harmless(self):
        item = self.t.send("proposal", self.acc, "P")
        self.t.ok("event", item, "signed")
        audit = self.t.json("audit", item)
        self.t.ok("event", item, "signed", now=at(1))
        self.assertEqual(self.t.json("audit", item), audit)
        self.assertEqual(self.t.show(item)["state"], "signed")

    def test_unknown_event_is_refused_and_changes_nothing(self):
        item = self.t.send("invoice", self.acc, "Fees", "--reminders", "on")
        before = (self.t.show(item), self.t.json("audit", item))
        err = self.t.fails("event", item, "signed")
        self.assertIn("paid", err)  # names the events it knows
        self.assertEqual((self.t.show(item), self.t.json("audit", item)), before)


class D1D2D3D4Schedule(Base):
    def test_d1_counts_from_previous_email(self):
        item = self.t.send("organizer", self.acc, "O", "--reminders", "on", "--every", "3", "--count", "2")
        self.assertEqual(self.tick(at(3, hours=5))["reminders"], 1)
        self.assertEqual(self.t.show(item)["reminders"]["next_at"], at(6, hours=5))

    def test_d2_resend_does_not_use_count_and_pushes_next(self):
        item = self.t.send("organizer", self.acc, "O", "--reminders", "on", "--every", "3", "--count", "1")
        self.t.ok("resend", item, now=at(2))
        s = self.t.show(item)["reminders"]
        self.assertEqual((s["sent"], s["next_at"]), (0, at(5)))
        self.assertEqual(self.tick(at(3))["reminders"], 0)
        self.assertEqual(self.tick(at(5))["reminders"], 1)

    def test_d3_late_tick_sends_once_and_reschedules_from_then(self):
        item = self.t.send("chat", self.acc, "C", "--reminders", "on", "--every", "1", "--count", "5")
        self.t.clear()
        self.assertEqual(self.tick(at(10, hours=4))["reminders"], 1)
        self.assertEqual(len(self.t.messages()), 2)  # one reminder, two contacts
        self.assertEqual(self.t.show(item)["reminders"]["next_at"], at(11, hours=4))

    def test_d4_switch_on_later_and_lower_count(self):
        item = self.t.send("proposal", self.acc, "P", "--reminders", "off")
        self.t.ok("reminders", item, "on", "--every", "3", now=at(1))
        self.assertEqual(self.t.show(item)["reminders"]["next_at"], at(3))
        self.t.ok("reminders", item, "on", "--every", "3", now=at(10))
        self.assertEqual(self.tick(at(10))["reminders"], 1)  # the passed moment: next tick
        self.t.ok("reminders", item, "on", "--count", "1", now=at(11))
        r = self.t.run("reminders", item, "on", "--count", "1", now=at(11))
        self.assertEqual(r.rc, 0)
        # no reminder left; next_at is now the escalation to the account's
        # manager ([reminders] escalate_after_days = 3 after the last email,
        # docs/reminders.md), which is not a reminder
        self.assertEqual(self.t.show(item)["reminders"]["next_at"], at(13))
        self.assertEqual(self.tick(at(40))["reminders"], 0)
        self.assertIsNone(self.t.show(item)["reminders"]["next_at"])


class AuditAndTodo(Base):
    def test_every_action_is_audited_with_actor(self):
        item = self.t.send("invoice", self.acc, "Fees", "--reminders", "on")
        self.t.ok("resend", item, now=at(1))
        self.t.ok("reminders", item, "on", "--count", "2", now=at(1))
        self.tick(at(4))
        self.t.ok("event", item, "paid", now=at(5))
        trail = self.t.json("audit", item)
        self.assertEqual([(e["action"], e["actor"]) for e in trail],
                         [("sent", "cli"), ("resent", "cli"), ("reminders", "cli"),
                          ("reminder", "scheduler"), ("event", "cli")])
        self.assertEqual(trail[0]["at"], at(0))
        account_trail = self.t.json("audit", "--account", self.acc)
        self.assertTrue(any(e["action"] == "contact-added" for e in account_trail))

    def test_todo_most_recent_on_top_done_items_leave(self):
        a = self.t.send("organizer", self.acc, "A")
        b = self.t.send("proposal", self.acc, "B", now=at(1))
        c = self.t.send("chat", self.acc, "C", now=at(2))
        self.assertEqual([i["id"] for i in self.t.json("todo", self.acc)], [c, b, a])
        self.t.ok("event", b, "signed", now=at(3))
        self.assertEqual([i["id"] for i in self.t.json("todo", self.acc)], [c, a])


class CliContract(Base):
    def test_send_prints_id_alone(self):
        r = self.t.run("send", "invoice", "--account", "Acme BV", "--title", "Fees",
                       "--set", "amount=12.50", "--set", "currency=EUR")
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.out, r"^\d+\n$")
        s = self.t.show(int(r.out))
        self.assertEqual(set(["id", "type", "account", "title", "state", "fields", "reminders"]) - set(s), set())
        self.assertEqual(set(s["reminders"]), {"enabled", "every_days", "count", "sent", "next_at", "last_mail_at"})
        self.assertRegex(s["fields"]["number"], r"\d")

    def test_invoice_field_validation(self):
        for fields, word in (({"currency": "EUR"}, "amount"), ({"amount": "abc", "currency": "EUR"}, "amount"),
                             ({"amount": "1.00", "currency": "euro"}, "currency"),
                             ({"amount": "1.00", "currency": "EUR", "due_date": "2026-02-30"}, "due_date"),
                             ({"amount": "1.00", "currency": "EUR", "colour": "red"}, "colour")):
            args = ["send", "invoice", "--account", self.acc, "--title", "X"]
            for k, v in fields.items():
                args += ["--set", "%s=%s" % (k, v)]
            err = self.t.fails(*args)
            self.assertIn(word, err)
        self.assertEqual(self.t.json("list"), [])
        self.assertEqual(self.t.messages(), [])

    def test_usage_errors_exit_2(self):
        self.t.fails("send", rc=2)
        self.t.fails("frobnicate", rc=2)
        self.t.fails("send", "invoice", "--account", self.acc, "--title", "X", "--every", "x", rc=2)
        r = self.t.run("--now", "yesterday", "list")
        self.assertEqual(r.rc, 2)

    def test_unknown_account_and_type(self):
        self.t.fails("send", "invoice", "--account", "Nobody", "--title", "X")
        err = self.t.fails("send", "letter", "--account", self.acc, "--title", "X")
        self.assertIn("organizer", err)

    def test_help_lists_commands(self):
        r = self.t.run("--help")
        self.assertEqual(r.rc, 0)
        for word in ("init", "account add", "contact notify", "send TYPE", "resend", "reminders", "event",
                     "tick", "run", "todo", "audit", "plugins"):
            self.assertIn(word, r.out)

    def test_init_is_idempotent(self):
        self.t.ok("init")
        self.t.ok("init")
        self.assertEqual(len(self.t.json("account", "list")), 1)

    def test_plugins_lists_all(self):
        ps = self.t.json("plugins")
        names = {p["name"]: p["kind"] for p in ps}
        for n in ("organizer", "proposal", "invoice", "chat", "signature", "approval"):
            self.assertEqual(names.get(n), "item")
        self.assertEqual(names.get("file"), "transport")
        self.assertEqual(names.get("smtp"), "transport")

    def test_dutch_account_gets_dutch_templates(self):
        acc = self.t.account("Jansen BV", language="nl", contacts=(("jan@jansen.example", "Jan", True),))
        self.t.clear()
        self.t.send("invoice", acc, "Honorarium")
        body = self.t.messages()[0].get_body(("plain",)).get_content()
        self.assertIn("Beste", body)


class SmtpEndToEnd(unittest.TestCase):
    def test_reminders_reach_a_real_smtp_server(self):
        srv = SmtpServer(self)
        t = Tickler(self, smtp=srv)
        acc = t.account("Acme BV", contacts=(("ann@acme.example", "Ann Ärger", True),))
        item = t.send("invoice", acc, "Fees €", "--reminders", "on", "--count", "2", "--every", "3")
        t.json("tick", now=at(3))
        t.json("tick", now=at(6))
        msgs = srv.messages()
        self.assertEqual([m["X-Tickler-Kind"] for _, m in msgs], ["notification", "reminder", "reminder"])
        self.assertEqual(len({m["Message-ID"] for _, m in msgs}), 3)
        self.assertEqual(msgs[0][0], ["ann@acme.example"])
        self.assertEqual(str(msgs[0][1]["To"].addresses[0].display_name), "Ann Ärger")
        self.assertIn("€", str(msgs[0][1]["Subject"]) + msgs[0][1].get_body(("plain",)).get_content())
        self.assertEqual(t.show(item)["reminders"]["sent"], 2)

    def test_server_down_loses_nothing(self):
        srv = SmtpServer(self)
        t = Tickler(self, smtp=srv)
        acc = t.account("Acme BV")
        srv.stop()
        r = t.run("send", "organizer", "--account", acc, "--title", "O", "--reminders", "on", "--every", "1")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("queued", r.err)
        item = int(r.out)
        r = t.run("tick", now=at(1))
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(t.show(item)["reminders"]["sent"], 1)
        self.assertEqual(srv.messages(), [])
        srv.start()
        t.json("tick", now=at(1, hours=2))
        kinds = sorted(m["X-Tickler-Kind"] for _, m in srv.messages())
        self.assertEqual(kinds, ["notification", "reminder"])
        self.assertEqual(t.json("tick", now=at(1, hours=3))["queued"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
