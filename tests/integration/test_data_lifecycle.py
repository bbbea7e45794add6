"""The data lifecycle (issue 16, docs/data.md), through the real binary, on
the store the suite runs on (SQLite, or PostgreSQL under .ci/postgres.sh):

- account rename, contact remove, account remove (refused while items are
  pending; --force withdraws them), each with its audit entry;
- export of one account as one JSON document with every row about it;
- erase --contact: export, erase, export shows the address gone (a marker
  in its place, counts and dates kept) and every other account's export
  byte for byte the same; a queued message to it is never sent; the
  dispatcher and later reminders carry on;
- [retention] message_days: the texts of old sent messages go, their rows
  and the audit trail stay.

Backup and restore have their own file (test_backup.py).
"""
import json
import os
import unittest

from tkharness import Tickler, at


class Unreachable:
    """An SMTP relay nobody listens on: every delivery is a temporary
    failure, so that messages stay queued."""
    url = "smtp://127.0.0.1:9"


def export(t, account, now=None):
    r = t.run("export", "--account", account, now=now)
    t.tc.assertEqual(r.rc, 0, r)
    return r.out


def use_file_transport(t):
    """Point the deployment at the spool (the relay is 'repaired')."""
    ini = t.ini.split("[transport]")[0] + (
        "[transport]\nplugin = file\ndir = %s\nfrom = Bakker & Co <office@bakker.example>\n"
        % t.spool) + "\n[firm]" + t.ini.split("[firm]", 1)[1]
    with open(t.config, "w") as f:
        f.write(ini)
    t.ini = ini
    t.smtp = None


class Lifecycle(unittest.TestCase):
    def world(self, **kw):
        t = Tickler(self, **kw)
        a = t.account("Acme BV", contacts=(("ann@acme.example", "Ann Acme", True),
                                           ("bob@acme.example", "Bob Acme", True)))
        b = t.account("Beta BV", contacts=(("carol@beta.example", "Carol Beta", True),))
        c = t.account("Gamma BV", contacts=(("dave@gamma.example", None, True),))
        return t, a, b, c

    # -- rename ----------------------------------------------------------------
    def test_rename(self):
        t, a, b, _ = self.world()
        out = t.json("account", "rename", "Acme BV", "Acme Holding")
        self.assertEqual(out, {"id": int(a), "name": "Acme Holding", "was": "Acme BV"})
        names = [x["name"] for x in t.json("account", "list")]
        self.assertEqual(names, ["Acme Holding", "Beta BV", "Gamma BV"])
        audit = t.json("audit", "--account", a)
        self.assertEqual(audit[-1]["action"], "account-renamed")
        self.assertIn("'Acme BV' to 'Acme Holding'", audit[-1]["detail"])
        # items sent afterwards name the new account
        t.send("invoice", a, "Fees")
        self.assertIn("Acme Holding", t.messages()[-1].get_content())

        before = t.ok("audit")
        t.fails("account", "rename", "Acme Holding", "Beta BV")           # taken
        t.fails("account", "rename", "Acme Holding", "12345")             # only digits
        t.fails("account", "rename", "Acme Holding", "two\nlines")
        t.fails("account", "rename", "Acme Holding", "x" * 201)
        t.fails("account", "rename", "Nobody", "New")                     # unknown
        t.fails("account", "rename", "Acme Holding", rc=2)                # usage
        self.assertEqual(t.ok("audit"), before)
        self.assertEqual([x["name"] for x in t.json("account", "list")],
                         ["Acme Holding", "Beta BV", "Gamma BV"])
        # its own name: nothing to record
        t.ok("account", "rename", "Beta BV", "Beta BV")
        self.assertEqual(t.ok("audit"), before)

    # -- contact remove --------------------------------------------------------
    def test_contact_remove_cancels_its_queued_mail(self):
        t = Tickler(self, smtp=Unreachable())
        a = t.account("Acme BV", contacts=(("ann@acme.example", "Ann", True),
                                           ("bob@acme.example", "Bob", True)))
        item = t.send("invoice", a, "Fees")
        queued = t.json("outbox")
        self.assertEqual(sorted(m["state"] for m in queued), ["queued", "queued"])
        out = t.json("contact", "remove", a, "ann@ACME.example")  # domain in any case
        self.assertEqual(out["cancelled"], 1)
        self.assertEqual([c["email"] for c in t.json("contact", "list", a)], ["bob@acme.example"])
        states = {m["recipient"]: m["state"] for m in t.json("outbox")}
        self.assertEqual(states, {"ann@acme.example": "cancelled", "bob@acme.example": "queued"})
        self.assertEqual(t.json("audit", "--account", a)[-1]["action"], "contact-removed")
        # the relay comes back: only Bob's message goes out, also later
        use_file_transport(t)
        t.ok("tick", now=at(hours=2))
        t.ok("tick", now=at(days=1))
        self.assertEqual([m["To"] for m in t.messages()], ["Bob <bob@acme.example>"])
        # a resend reaches only who is left
        t.clear()
        t.ok("resend", item, now=at(days=1))
        self.assertEqual([m["To"] for m in t.messages()], ["Bob <bob@acme.example>"])
        # refusals change nothing
        before = t.ok("audit")
        t.fails("contact", "remove", a, "ann@acme.example")      # gone already
        t.fails("contact", "remove", "Nobody", "bob@acme.example")
        t.fails("contact", "remove", a, rc=2)
        self.assertEqual(t.ok("audit"), before)

    # -- account remove --------------------------------------------------------
    def test_account_remove_refused_while_pending_then_forced(self):
        t, a, b, c = self.world()
        other_b, other_c = export(t, b), export(t, c)
        i1 = t.send("invoice", a, "Fees", "--reminders", "on")
        i2 = t.send("proposal", a, "Engagement")
        t.ok("event", i2, "signed")
        t.ok("job", "list")  # no jobs needed; the command runs
        before = t.ok("audit")
        err = t.fails("account", "remove", a)
        self.assertIn("1 pending item", err)
        self.assertIn("--force", err)
        self.assertEqual(t.ok("audit"), before)
        self.assertEqual(t.show(i1)["state"], "pending")

        out = t.json("account", "remove", a, "--force", now=at(hours=1))
        self.assertEqual(out, {"id": int(a), "contacts": 2, "items": 2, "withdrawn": 1, "jobs": 0,
                               "messages": 4})
        self.assertEqual([x["name"] for x in t.json("account", "list")], ["Beta BV", "Gamma BV"])
        t.fails("show", i1)
        t.fails("export", "--account", a)
        # the audit trail keeps the account's history, and says what happened
        audit = [e for e in t.json("audit") if e["account"] == int(a)]
        actions = [e["action"] for e in audit]
        self.assertEqual(actions[-2:], ["withdrawn", "account-removed"])
        self.assertEqual(audit[-2]["item"], int(i1))
        self.assertNotIn("Acme", audit[-1]["detail"])
        # no reminder for the withdrawn item, ever
        t.clear()
        r = t.json("tick", now=at(days=10))
        self.assertEqual(r["reminders"], 0)
        self.assertEqual(t.messages(), [])
        # the others are untouched, byte for byte
        self.assertEqual(export(t, b), other_b)
        self.assertEqual(export(t, c), other_c)

    def test_account_remove_without_pending_items(self):
        t, a, b, _ = self.world()
        i = t.send("signature", b, "Sign")
        t.ok("event", i, "signed")
        out = t.json("account", "remove", "Beta BV")
        self.assertEqual(out["withdrawn"], 0)
        self.assertEqual(out["items"], 1)
        t.fails("account", "remove", "Beta BV")
        t.fails("account", "remove", rc=2)
        t.fails("account", "remove", "Acme BV", "--forced", rc=2)

    # -- export ---------------------------------------------------------------
    def test_export_holds_every_row_about_the_account(self):
        t, a, b, _ = self.world()
        i = t.send("invoice", a, "Fees", "--reminders", "on", "--every", "1")
        t.ok("tick", now=at(days=1, hours=1))
        t.send("invoice", b, "Other")
        doc = json.loads(export(t, a, now=at(days=2)))
        self.assertEqual(doc["tickler_export"], 1)
        self.assertEqual(doc["exported_at"], at(days=2))
        self.assertEqual(doc["account"]["name"], "Acme BV")
        self.assertEqual([c["email"] for c in doc["contacts"]],
                         ["ann@acme.example", "bob@acme.example"])
        self.assertEqual([x["id"] for x in doc["items"]], [int(i)])
        self.assertEqual(doc["items"][0]["fields"]["amount"], "450.00")
        # 2 notifications + 2 reminders, each with its whole text
        self.assertEqual(len(doc["outbox"]), 4)
        for m in doc["outbox"]:
            self.assertEqual(m["account"], int(a))
            self.assertIn("Message-ID: " + m["message_id"], m["text"])
            self.assertIn(m["recipient"], m["text"])
        self.assertEqual({m["kind"] for m in doc["outbox"]}, {"notification", "reminder"})
        # the audit is the account's, nothing of Beta's
        self.assertTrue(doc["audit"])
        self.assertTrue(all(e["account"] == int(a) for e in doc["audit"]))
        self.assertNotIn("beta", json.dumps(doc).lower())
        # refusals
        t.fails("export", rc=2)
        t.fails("export", "--account", "Nobody")
        t.fails("export", "--account", a, "extra", rc=2)

    # -- erase ------------------------------------------------------------------
    def test_export_erase_export(self):
        t, a, b, c = self.world()
        # Carol is on Beta and Gamma too: erasing Ann must leave both alone
        i1 = t.send("invoice", a, "Fees", "--reminders", "on", "--every", "1", "--count", "3")
        t.ok("tick", now=at(days=1, hours=1))
        t.send("invoice", b, "Other")
        t.send("proposal", c, "Third")
        before_a = json.loads(export(t, a))
        before_b, before_c = export(t, b), export(t, c)
        self.assertIn("ann@acme.example", json.dumps(before_a))

        r = t.json("erase", "--contact", "ann@acme.example")
        self.assertRegex(r["marker"], r"^erased-\d+@invalid$")
        self.assertEqual((r["accounts"], r["contacts"], r["messages"], r["cancelled"]), (1, 1, 2, 0))
        after_a = json.loads(export(t, a))
        text = json.dumps(after_a)
        self.assertNotIn("ann@acme.example", text)
        self.assertNotIn("Ann Acme", text)
        self.assertIn(r["marker"], text)
        # the contact is gone; every message and every audit entry is still
        # there, with its dates and counts
        self.assertEqual([x["email"] for x in after_a["contacts"]], ["bob@acme.example"])
        self.assertEqual(len(after_a["outbox"]), len(before_a["outbox"]))
        for old, new in zip(before_a["outbox"], after_a["outbox"]):
            for k in ("id", "kind", "step", "state", "created_at", "sent_at", "message_id"):
                self.assertEqual(old[k], new[k])
            if old["recipient"] == "ann@acme.example":
                self.assertEqual(new["recipient"], r["marker"])
                self.assertTrue(new["idem_key"].endswith("/" + r["marker"]))
                self.assertIn("\r\nTo: %s\r\n" % r["marker"], new["text"])
            else:
                self.assertEqual(old, new)
        self.assertEqual(len(after_a["audit"]), len(before_a["audit"]) + 1)
        for old, new in zip(before_a["audit"], after_a["audit"]):
            self.assertEqual((old["id"], old["at"], old["action"]), (new["id"], new["at"], new["action"]))
        self.assertEqual(after_a["audit"][-1]["action"], "contact-erased")
        self.assertEqual(after_a["items"], before_a["items"])
        # every other account: byte for byte
        self.assertEqual(export(t, b), before_b)
        self.assertEqual(export(t, c), before_c)
        # the rest of the CLI agrees, and the dispatcher and the reminders go on
        self.assertNotIn("ann@acme.example", t.ok("audit"))
        self.assertNotIn("ann@acme.example", t.ok("outbox"))
        t.clear()
        res = t.json("tick", now=at(days=2, hours=2))
        self.assertEqual((res["reminders"], res["failed"], res["queued"]), (1, 0, 0))
        self.assertEqual([m["To"] for m in t.messages()], ["Bob Acme <bob@acme.example>"])
        t.ok("resend", i1, now=at(days=2, hours=3))
        # the address is free again: it may come back as a new contact
        t.ok("contact", "add", a, "ann@acme.example")
        # nothing left to erase but the new contact; unknown addresses refused
        before = t.ok("audit")
        t.fails("erase", "--contact", "nobody@nowhere.example")
        t.fails("erase", "--contact", "@")
        t.fails("erase", "--contact", "not an address")
        t.fails("erase", rc=2)
        t.fails("erase", "--contact", "", rc=1)
        self.assertEqual(t.ok("audit"), before)

    def test_erase_cancels_queued_mail_and_it_is_never_sent(self):
        t = Tickler(self, smtp=Unreachable())
        a = t.account("Acme BV", contacts=(("ann@acme.example", "Ann", True),
                                           ("bob@acme.example", "Bob", True)))
        b = t.account("Other BV", contacts=(("ann@acme.example", "Ann Elsewhere", True),))
        t.send("invoice", a, "Fees")
        t.send("invoice", b, "Fees too")
        self.assertEqual([m["state"] for m in t.json("outbox")], ["queued"] * 3)
        r = t.json("erase", "--contact", "ann@acme.example")
        self.assertEqual((r["accounts"], r["contacts"], r["messages"], r["cancelled"]), (2, 2, 2, 2))
        rows = t.json("outbox")
        self.assertEqual(sorted((m["recipient"], m["state"]) for m in rows),
                         sorted([("bob@acme.example", "queued"), (r["marker"], "cancelled"),
                                 (r["marker"], "cancelled")]))
        use_file_transport(t)
        t.ok("tick", now=at(days=1))
        self.assertEqual([m["To"] for m in t.messages()], ["Bob <bob@acme.example>"])
        # a cancelled message is not "failed": retrying it is refused
        for m in rows:
            if m["state"] == "cancelled":
                t.fails("outbox", "retry", m["id"])
        self.assertEqual(t.json("tick", now=at(days=2))["delivered"], 0)
        for acc in (a, b):
            self.assertEqual(t.json("audit", "--account", acc)[-1]["action"], "contact-erased")

    def test_erase_touches_no_longer_address_and_reaches_an_audit_only_address(self):
        t = Tickler(self)
        a = t.account("Acme BV", contacts=(("ann@acme.example", "Ann", True),))
        b = t.account("Other BV", contacts=(("nn@acme.example", None, True),))
        t.send("invoice", a, "Fees")
        t.send("invoice", b, "Fees")
        before_a = export(t, a)
        r = t.json("erase", "--contact", "nn@acme.example")
        self.assertEqual(r["contacts"], 1)
        self.assertEqual(export(t, a), before_a)
        self.assertNotIn("nn@acme.example", export(t, b).replace("ann@acme.example", ""))
        # a contact removed with its account lives on only in the audit trail:
        # erase still finds it there, and only there
        t.ok("account", "remove", a, "--force")
        self.assertIn("ann@acme.example", t.ok("audit"))
        r = t.json("erase", "--contact", "ann@acme.example")
        self.assertEqual((r["accounts"], r["contacts"], r["messages"]), (0, 0, 0))
        self.assertGreater(r["audit"], 0)
        self.assertNotIn("ann@acme.example", t.ok("audit"))
        self.assertEqual(t.json("audit")[-1]["action"], "contact-erased")
        before = t.ok("audit")
        t.fails("erase", "--contact", "ann@acme.example")
        self.assertEqual(t.ok("audit"), before)

    # -- retention --------------------------------------------------------------
    def test_retention_drops_old_texts_and_keeps_the_audit(self):
        t = Tickler(self, extra_ini="[retention]\nmessage_days = 30\n")
        a = t.account("Acme BV")
        old = t.send("invoice", a, "Old", "--reminders", "off")
        new = t.send("invoice", a, "New", "--reminders", "off", now=at(days=20))
        audit = t.ok("audit")
        t.ok("tick", now=at(days=29))
        self.assertTrue(all(m["text"] for m in json.loads(export(t, a))["outbox"]))
        t.ok("tick", now=at(days=31))
        doc = json.loads(export(t, a))
        by_item = {m["item"]: m for m in doc["outbox"]}
        self.assertIsNone(by_item[int(old)]["text"])
        self.assertEqual(by_item[int(old)]["text_dropped_at"], at(days=31))
        self.assertEqual(by_item[int(old)]["state"], "sent")
        self.assertEqual(by_item[int(old)]["recipient"], "ann@acme.example")
        self.assertIn("Message-ID", by_item[int(new)]["text"])
        self.assertIsNone(by_item[int(new)]["text_dropped_at"])
        self.assertEqual(t.ok("audit"), audit)
        # later ticks drop the newer one when its turn comes, nothing twice
        t.ok("tick", now=at(days=51))
        doc = json.loads(export(t, a))
        self.assertEqual([m["text"] for m in doc["outbox"]], [None, None])
        self.assertEqual({m["item"]: m["text_dropped_at"] for m in doc["outbox"]},
                         {int(old): at(days=31), int(new): at(days=51)})
        self.assertEqual(t.ok("audit"), audit)
        # the outbox listing still shows both
        self.assertEqual(len(t.json("outbox")), 2)

    def test_retention_default_and_off(self):
        t = Tickler(self)
        a = t.account("Acme BV")
        t.send("invoice", a, "Fees", "--reminders", "off")
        t.ok("tick", now=at(days=399))
        self.assertTrue(json.loads(export(t, a))["outbox"][0]["text"])
        t.ok("tick", now=at(days=401))   # default 400 days
        self.assertIsNone(json.loads(export(t, a))["outbox"][0]["text"])

        t2 = Tickler(self, extra_ini="[retention]\nmessage_days = 0\n")
        a2 = t2.account("Acme BV")
        t2.send("invoice", a2, "Fees", "--reminders", "off")
        t2.ok("tick", now=at(days=5000))
        self.assertTrue(json.loads(export(t2, a2))["outbox"][0]["text"])

        bad = Tickler(self, extra_ini="[retention]\nmessage_days = -1\n", init=False)
        err = bad.fails("init")
        self.assertIn("message_days", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
