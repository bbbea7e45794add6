"""Outbound webhooks (issue 13, docs/webhooks.md) through the real binary
and a real HTTP receiver (webhook_receiver.py, Python's http.server on
loopback): events written in the transaction of their change, posted by
the dispatcher with the outbox's leases, backoff and dead state, signed
with HMAC-SHA256, with one event id on every retry.

Time jumps with --now: `tickler tick --now T` posts what is due at T.
"""
import os
import random
import shutil
import signal
import sqlite3
import tempfile
import time
import unittest

import delivery_lib as dl
from tkharness import SmtpServer, Tickler, at
from webhook_receiver import Receiver, signature_ok

SECRET = "s3cret-for-tests"
INI = "[delivery]\nretry_base_seconds = 30\nretry_cap_seconds = 60\nmax_attempts = 6\n"


def webhook_rows(t):
    return [r for r in t.json("outbox") if r["kind"].startswith("webhook:")]


class OutboundTest(unittest.TestCase):
    def deployment(self, rcv, events="item.sent,item.completed,reminder.sent,delivery.dead",
                   **kw):
        t = Tickler(self, extra_ini=kw.pop("extra_ini", INI), **kw)
        wid = t.json("webhook", "add", rcv.url, "--events", events, "--secret", SECRET)["id"]
        return t, wid

    def test_500_three_times_then_200_arrives_once_with_one_id(self):
        rcv = Receiver(self, statuses=[500, 500, 500])
        t, _ = self.deployment(rcv, events="item.sent")
        acc = t.account()
        item = t.send("invoice", acc, "Fees")            # attempt 1 (500), by send's dispatch
        shown = t.show(item)
        for minutes in (2, 4, 6, 8, 10):                  # past each backoff window (<= 60 s)
            t.ok("tick", now=at(minutes=minutes))
        self.assertEqual(len(rcv.requests), 4)
        self.assertEqual([r["status"] for r in rcv.requests], [500, 500, 500, 200])
        bodies = {r["body"] for r in rcv.requests}
        self.assertEqual(len(bodies), 1, "every retry sends the same bytes")
        ev = rcv.events()[0]
        self.assertTrue(ev["id"].startswith("evt_"))
        self.assertEqual(ev["type"], "item.sent")
        self.assertEqual(ev["data"], shown, "data is the item as `tickler --json show` prints it")
        self.assertEqual(ev["created_at"], at(0))
        for r in rcv.requests:
            self.assertTrue(signature_ok(SECRET, r), r["headers"])
            self.assertEqual(r["headers"]["X-Tickler-Delivery"], ev["id"])
            self.assertEqual(r["headers"]["X-Tickler-Event"], "item.sent")
            self.assertEqual(r["headers"]["Content-Type"], "application/json")
        self.assertEqual(rcv.delivered(), [ev["id"]])
        rows = webhook_rows(t)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["state"], "sent")
        self.assertEqual(rows[0]["attempts"], 4)
        self.assertEqual(rows[0]["message_id"], ev["id"])
        self.assertEqual(rows[0]["kind"], "webhook:item.sent")
        # the email went out as before
        self.assertEqual(len(t.messages()), 1)

    def test_each_event_type(self):
        rcv = Receiver(self)
        t, _ = self.deployment(rcv)
        acc = t.account()
        item = t.send("invoice", acc, "Fees", "--reminders", "on", "--every", "3", "--count", "1")
        t.ok("tick", now=at(days=3, minutes=1))         # the reminder
        t.ok("event", item, "paid", now=at(days=4))     # completes it
        t.ok("tick", now=at(days=5))
        types = [e["type"] for e in rcv.events()]
        self.assertEqual(types, ["item.sent", "reminder.sent", "item.completed"])
        ev = rcv.events()
        self.assertEqual(len({e["id"] for e in ev}), 3)
        self.assertEqual(ev[1]["data"]["reminders"]["sent"], 1)
        self.assertEqual(ev[2]["data"]["state"], "paid")
        self.assertEqual(ev[2]["data"], t.show(item))
        self.assertTrue(all(signature_ok(SECRET, r) for r in rcv.requests))
        # a non-completing event (invoice's partial payment, if any) sends nothing;
        # only subscribed types go out
        self.assertEqual(len(rcv.requests), 3)

    def test_subscription_filters_types(self):
        rcv = Receiver(self)
        t, _ = self.deployment(rcv, events="item.completed")
        acc = t.account()
        item = t.send("invoice", acc, "Fees")
        self.assertEqual(rcv.requests, [])
        t.ok("event", item, "paid")
        self.assertEqual([e["type"] for e in rcv.events()], ["item.completed"])

    def test_delivery_dead_for_a_dead_email(self):
        rcv = Receiver(self)
        srv = SmtpServer(self, "--fail-rcpt", "ann@acme.example=550")
        t, _ = self.deployment(rcv, events="delivery.dead", smtp=srv)
        acc = t.account()
        item = t.send("invoice", acc, "Fees")
        dead = t.json("outbox", "--failed")
        self.assertEqual(len(dead), 1)
        self.assertEqual(dead[0]["kind"], "notification")
        ev = rcv.events()
        self.assertEqual([e["type"] for e in ev], ["delivery.dead"])
        self.assertEqual(ev[0]["data"]["id"], int(item))
        self.assertTrue(signature_ok(SECRET, rcv.requests[0]))

    def test_webhooks_go_out_while_the_mail_relay_is_down(self):
        rcv = Receiver(self)
        t, _ = self.deployment(rcv, events="item.sent", smtp=dl.ClosedPort(dl.free_port()))
        acc = t.account()
        t.send("invoice", acc, "Fees")
        self.assertEqual([e["type"] for e in rcv.events()], ["item.sent"])
        states = {r["kind"]: r["state"] for r in t.json("outbox")}
        self.assertEqual(states, {"notification": "queued", "webhook:item.sent": "sent"})

    def test_dead_webhook_retry_and_no_event_about_itself(self):
        rcv = Receiver(self, statuses=[503] * 20)
        t, _ = self.deployment(rcv, extra_ini=INI.replace("max_attempts = 6", "max_attempts = 2"))
        acc = t.account()
        t.send("invoice", acc, "Fees")
        t.ok("tick", now=at(minutes=5))
        rows = webhook_rows(t)
        self.assertEqual([(r["kind"], r["state"]) for r in rows], [("webhook:item.sent", "dead")])
        self.assertEqual(rows[0]["reply_code"], 503)
        failed = t.json("outbox", "--failed")
        self.assertEqual([r["id"] for r in failed], [rows[0]["id"]])
        # a dead webhook event does not raise a delivery.dead event of its own
        self.assertEqual(len(webhook_rows(t)), 1)
        audit = [a["action"] for a in t.json("audit")]
        self.assertIn("delivery-failed", audit)
        # outbox retry brings it back with the same id; the receiver is fine now
        rcv.statuses = []
        t.ok("outbox", "retry", rows[0]["id"], now=at(minutes=6))
        t.ok("tick", now=at(minutes=6))
        self.assertEqual(webhook_rows(t)[0]["state"], "sent")
        self.assertEqual(len({r["body"] for r in rcv.requests}), 1)
        self.assertEqual(rcv.delivered(), [rows[0]["message_id"]])

    def test_remove_stops_deliveries(self):
        rcv = Receiver(self, statuses=[500] * 50)
        t, wid = self.deployment(rcv, events="item.sent")
        acc = t.account()
        t.send("invoice", acc, "Fees")
        t.send("invoice", acc, "More fees")
        self.assertEqual(len(rcv.requests), 2)
        self.assertEqual(len(webhook_rows(t)), 2)
        out = t.ok("webhook", "remove", wid)
        self.assertIn("removed", out)
        self.assertEqual(webhook_rows(t), [])
        t.ok("tick", now=at(minutes=10))
        t.send("invoice", acc, "After removal", now=at(minutes=11))
        self.assertEqual(len(rcv.requests), 2, "nothing posted after remove")
        self.assertEqual(t.json("webhook", "list"), [])
        self.assertIn("webhook-removed", [a["action"] for a in t.json("audit")])
        t.fails("webhook", "remove", wid)

    def test_list_hides_secrets_and_masks_passwords(self):
        t = Tickler(self)
        t.ok("webhook", "add", "https://user:pa55word@hooks.example/x?y=1", "--events",
             "item.sent,delivery.dead", "--secret", "topsecret-value")
        lst = t.json("webhook", "list")
        self.assertEqual(lst[0]["url"], "https://user:***@hooks.example/x?y=1")
        self.assertEqual(lst[0]["events"], ["item.sent", "delivery.dead"])
        self.assertEqual(sorted(lst[0]), ["created_at", "events", "id", "url"])
        text = t.ok("webhook", "list")
        self.assertNotIn("pa55word", text)
        self.assertNotIn("topsecret", text)
        audit = t.ok("audit")
        self.assertNotIn("pa55word", audit)
        self.assertNotIn("topsecret", audit)

    def test_bad_input_changes_nothing(self):
        t = Tickler(self)
        for args in (["ftp://x.example/", "--events", "item.sent", "--secret", "s"],
                     ["http://x.example/", "--events", "item.lost", "--secret", "s"],
                     ["http://x.example/", "--events", "item.sent,", "--secret", "s"],
                     ["http://x.example/a b", "--events", "item.sent", "--secret", "s"],
                     ["http://x.example/", "--events", "item.sent", "--secret", ""],
                     ["http:///path", "--events", "item.sent", "--secret", "s"]):
            t.fails("webhook", "add", *args)
        t.fails("webhook", "add", "http://x.example/", rc=2)
        t.fails("webhook", "remove", "abc", rc=2)
        self.assertEqual(t.json("webhook", "list"), [])

    def test_unreachable_receiver_password_masked_in_errors(self):
        port = dl.free_port()
        t = Tickler(self, extra_ini=INI)
        t.ok("webhook", "add", "http://u:hunter2@127.0.0.1:%d/h" % port, "--events", "item.sent",
             "--secret", SECRET)
        acc = t.account()
        t.send("invoice", acc, "Fees")
        rows = webhook_rows(t)
        self.assertEqual(rows[0]["state"], "queued")
        self.assertNotIn("hunter2", rows[0]["reply"] or "")
        self.assertNotIn("hunter2", rows[0]["recipient"])
        self.assertIn("u:***@", rows[0]["recipient"])

    def test_events_are_written_with_their_change_or_not_at_all(self):
        """A pipeline automation that sends an item and then fails rolls
        back the item and its item.sent event together: nothing is posted."""
        rcv = Receiver(self)
        scripts = tempfile.mkdtemp(prefix="tk-hooks-")
        self.addCleanup(shutil.rmtree, scripts, True)
        with open(os.path.join(scripts, "p.lua"), "w") as f:
            f.write('pipeline("p", {\n'
                    '  {stage = "ok", on_enter = function(job) job:create_invoice{title = "A", '
                    'fields = {amount = "1.00", currency = "EUR"}} end},\n'
                    '  {stage = "bad", on_enter = function(job) job:create_invoice{title = "B", '
                    'fields = {amount = "1.00", currency = "EUR"}}; error("stop") end},\n'
                    '})\n')
        t, _ = self.deployment(rcv, events="item.sent",
                               extra_ini=INI + "[lua]\nscripts = %s\n" % scripts)
        acc = t.account()
        job = t.ok("job", "add", "p", "--account", acc).strip()
        self.assertEqual([e["data"]["title"] for e in rcv.events()], ["A"])
        t.fails("job", "move", job, "bad")
        self.assertEqual([e["data"]["title"] for e in rcv.events()], ["A"])
        self.assertEqual(len(webhook_rows(t)), 1)
        self.assertEqual([i["title"] for i in t.json("list")], ["A"])

    def test_four_connections_post_each_event_once(self):
        """[transport] connections = 4: webhook events and emails delivered
        by four workers, each event exactly once."""
        port = dl.free_port()
        t = Tickler(self, extra_ini=INI + "[transport]\nconnections = 4\n")
        t.ok("webhook", "add", "http://127.0.0.1:%d/h" % port, "--events", "item.sent",
             "--secret", SECRET)
        acc = t.account()
        for i in range(30):                      # receiver down: all stay queued
            t.ok("send", "invoice", "--account", acc, "--title", "Fees %d" % i,
                 "--set", "amount=1.00", "--set", "currency=EUR")
        rcv = Receiver(self, delay=0.01, port=port)
        t.ok("tick", now=at(hours=1))
        rows = webhook_rows(t)
        self.assertEqual({r["state"] for r in rows}, {"sent"})
        got = [e["id"] for e in rcv.events()]
        self.assertEqual(sorted(got), sorted(r["message_id"] for r in rows))
        self.assertEqual(len(got), 30)
        self.assertEqual(len(t.messages()), 30)

    def test_kill9_during_webhook_delivery_loses_none(self):
        """kill -9 of `tickler run` while it posts to a slow receiver: every
        event is delivered, each duplicate carries its original's id."""
        port = dl.free_port()
        ini = dl.delivery_ini(lease=5, base=1, cap=1)
        t = Tickler(self, extra_ini=ini)
        t.ok("webhook", "add", "http://127.0.0.1:%d/h" % port, "--events", "item.sent",
             "--secret", SECRET)
        acc = t.account()
        n = 40
        for i in range(n):                                  # receiver down: all stay queued
            t.ok("send", "invoice", "--account", acc, "--title", "Fees %d" % i,
                 "--set", "amount=1.00", "--set", "currency=EUR")
        self.assertEqual(len([r for r in webhook_rows(t) if r["state"] == "queued"]), n)
        rcv = Receiver(self, delay=0.05, port=port)
        rnd = random.Random(13)
        kills = 6
        for _ in range(kills):
            d = dl.Daemon(t, now=at(hours=1), name="kill")
            time.sleep(rnd.uniform(0.3, 1.0))
            d.signal(signal.SIGKILL)
            d.proc.wait()
            d.kill()
        d = dl.Daemon(t, now=at(hours=1), name="final")
        self.assertTrue(dl.wait_for(
            lambda: all(r["state"] == "sent" for r in webhook_rows(t)), 60), webhook_rows(t))
        rc, _ = d.stop()
        self.assertEqual(rc, 0)
        rows = webhook_rows(t)
        ids = {r["message_id"] for r in rows}
        self.assertEqual(len(ids), n)
        got = [e["id"] for e in rcv.events()]
        self.assertEqual(set(got), ids, "every event arrived")
        self.assertLessEqual(len(got) - n, kills, "at most one duplicate per kill")
        self.assertTrue(all(signature_ok(SECRET, r) for r in rcv.requests))


if __name__ == "__main__":
    unittest.main(verbosity=2)
