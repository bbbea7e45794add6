"""Inbound webhooks end to end on a real deployment (SQLite, or PostgreSQL
with TK_TEST_STORE=postgres): the shipped example scripts
(scripts/webhooks/) in [lua] scripts, secrets in [hooks], each delivery
through tk_engine_webhook_receive as the HTTP front end calls it
(tk_webhook_driver), and the result read back with the real CLI.

A signed payment notification marks the invoice paid and stops its
reminders; a bad signature, a replay and a payload naming an unknown item
change nothing; the form-encoded e-signature example; and the inbound
event raises the outbound item.completed event to a real receiver.
"""
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import unittest

from tkharness import Tickler, SOURCE, at
from webhook_receiver import Receiver, signature_ok

DRIVER = os.environ.get("TK_WEBHOOK_DRIVER")
PAY = "pay-secret-0123456789abcdef"
SIGN = "esign-secret-0123456789abcdef"


def sign(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@unittest.skipUnless(DRIVER, "TK_WEBHOOK_DRIVER not set (run through ctest)")
class InboundTest(unittest.TestCase):
    def setUp(self):
        scripts = None
        self.t = Tickler(self, init=False, extra_ini="")
        scripts = os.path.join(self.t.dir, "scripts")
        os.makedirs(scripts)
        for f in ("payments.lua", "esign.lua"):
            shutil.copy(os.path.join(SOURCE, "scripts", "webhooks", f), scripts)
        with open(self.t.config, "a") as f:
            f.write("[lua]\nscripts = %s\n\n[hooks]\npayments = %s\nesign = %s\n" % (scripts, PAY, SIGN))
        self.t.ok("init")
        self.acc = self.t.account()
        self.invoice = self.t.send("invoice", self.acc, "Fees", "--reminders", "on", "--every", "3",
                                   "--count", "2")
        self.letter = self.t.send("signature", self.acc, "Engagement letter")

    def deliver(self, hook, body, headers=(), secret=None, header="X-Tickler-Signature",
                prefix="sha256=", content_type="application/json", now=None):
        if isinstance(body, str):
            body = body.encode()
        hdrs = ["Content-Type: " + content_type]
        if secret:
            hdrs.append("%s: %s%s" % (header, prefix, sign(secret, body)))
        hdrs += list(headers)
        cp = subprocess.run([DRIVER, self.t.config, now or at(hours=1), hook] + hdrs, input=body,
                            capture_output=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp)
        status, reply = cp.stdout.decode().split("\n", 1)
        return int(status), json.loads(reply), cp.stderr.decode()

    def state(self):
        """What a delivery may change: items, audit trail, outbox."""
        return (self.t.json("list"), self.t.json("audit"), self.t.json("outbox"))

    def payment(self, item, evid="pay_evt_1"):
        return json.dumps({"id": evid, "type": "invoice.paid",
                           "data": {"amount": "450.00", "metadata": {"tickler_item": int(item)}}})

    def test_signed_payment_marks_paid_and_stops_reminders(self):
        self.assertIsNotNone(self.t.show(self.invoice)["reminders"]["next_at"])
        status, reply, _ = self.deliver("payments", self.payment(self.invoice), secret=PAY)
        self.assertEqual((status, reply), (200, {"status": "ok", "item": int(self.invoice)}))
        item = self.t.show(self.invoice)
        self.assertEqual(item["state"], "paid")
        self.assertIsNone(item["reminders"]["next_at"])
        audit = [a for a in self.t.json("audit", self.invoice) if a["action"] == "event"]
        self.assertEqual([a["actor"] for a in audit], ["webhook:payments"])
        # no reminder goes out any more
        self.t.ok("tick", now=at(days=10))
        kinds = [r["kind"] for r in self.t.json("outbox", "--item", self.invoice)]
        self.assertNotIn("reminder", kinds)

    def test_bad_signature_replay_and_unknown_item_change_nothing(self):
        body = self.payment(self.invoice)
        before = self.state()
        for kw in ({"secret": "not-the-secret-0123456"}, {}, {"secret": PAY, "prefix": "sha1="},
                   {"secret": SIGN}):
            status, reply, log = self.deliver("payments", body, **kw)
            self.assertEqual(status, 401, kw)
            self.assertIn("error", reply)
            self.assertIn("webhook payments:", log)
            self.assertNotIn(PAY, log)
            self.assertNotIn("pay_evt_1", log)
        self.assertEqual(self.state(), before)
        status, reply, _ = self.deliver("payments", self.payment(999999, "pay_evt_9"), secret=PAY)
        self.assertEqual(status, 422)
        self.assertEqual(reply, {"error": "no item 999999"})
        self.assertEqual(self.state(), before)
        # the real one, then its replay
        self.assertEqual(self.deliver("payments", body, secret=PAY)[0], 200)
        after = self.state()
        status, reply, _ = self.deliver("payments", body, secret=PAY, now=at(hours=2))
        self.assertEqual((status, reply), (200, {"status": "duplicate"}))
        self.assertEqual(self.state(), after)
        self.assertEqual(self.deliver("nope", body, secret=PAY)[0], 404)

    def test_form_encoded_esign(self):
        body = "event_id=ev-7731&status=completed&tickler_item=%s" % self.letter
        status, reply, _ = self.deliver("esign", body, secret=SIGN, header="X-Esign-Signature",
                                        prefix="", content_type="application/x-www-form-urlencoded")
        self.assertEqual((status, reply), (200, {"status": "ok"}))
        self.assertEqual(self.t.show(self.letter)["state"], "signed")
        audit = [a for a in self.t.json("audit", self.letter) if a["action"] == "event"]
        self.assertEqual([a["actor"] for a in audit], ["webhook:esign"])
        status, reply, _ = self.deliver("esign", body, secret=SIGN, header="X-Esign-Signature",
                                        prefix="", content_type="application/x-www-form-urlencoded")
        self.assertEqual(reply, {"status": "duplicate"})
        # an item that cannot be signed: 422, nothing changed
        before = self.state()
        body = "event_id=ev-2&status=completed&tickler_item=%s" % self.invoice
        status, reply, _ = self.deliver("esign", body, secret=SIGN, header="X-Esign-Signature",
                                        prefix="", content_type="application/x-www-form-urlencoded")
        self.assertEqual(status, 422)
        self.assertIn("no event 'signed'", reply["error"])
        self.assertEqual(self.state(), before)

    def test_inbound_event_raises_the_outbound_event(self):
        rcv = Receiver(self)
        self.t.ok("webhook", "add", rcv.url, "--events", "item.completed", "--secret", "out-secret")
        self.assertEqual(self.deliver("payments", self.payment(self.invoice), secret=PAY)[0], 200)
        self.t.ok("tick", now=at(hours=1))   # the daemon's dispatcher posts it
        ev = rcv.events()
        self.assertEqual([e["type"] for e in ev], ["item.completed"])
        self.assertEqual(ev[0]["data"]["state"], "paid")
        self.assertTrue(signature_ok("out-secret", rcv.requests[0]))


class HttpRouteTest(unittest.TestCase):
    """POST /hooks/NAME through a real `tickler run` with [http] listen and a
    real HTTP client (core/http/hooks.c over the same engine function)."""

    def test_post_hooks_name(self):
        import httpharness as hh
        t = Tickler(self, init=False, extra_ini=hh.http_ini())
        scripts = os.path.join(t.dir, "scripts")
        os.makedirs(scripts)
        shutil.copy(os.path.join(SOURCE, "scripts", "webhooks", "payments.lua"), scripts)
        with open(t.config, "a") as f:
            f.write("[lua]\nscripts = %s\n\n[hooks]\npayments = %s\n" % (scripts, PAY))
        t.ini = open(t.config).read()
        t.ok("init")
        acc = t.account()
        inv = t.send("invoice", acc, "Fees", "--reminders", "on")
        d = hh.Daemon(self, t)
        body = json.dumps({"id": "pay_evt_http", "type": "invoice.paid",
                           "data": {"metadata": {"tickler_item": int(inv)}}}).encode()
        good = {"Content-Type": "application/json",
                "X-Tickler-Signature": "sha256=" + sign(PAY, body)}
        status, _, reply = d.api("POST", "/hooks/payments", raw=body,
                                 headers=dict(good, **{"X-Tickler-Signature": "sha256=" + "0" * 64}))
        self.assertEqual(status, 401)
        self.assertEqual(t.show(inv)["state"], "pending")
        status, _, reply = d.api("POST", "/hooks/nope", raw=body, headers=good)
        self.assertEqual(status, 404)
        status, _, reply = d.api("POST", "/hooks/payments", raw=body, headers=good)
        self.assertEqual((status, reply), (200, {"status": "ok", "item": int(inv)}))
        self.assertEqual(t.show(inv)["state"], "paid")
        status, _, reply = d.api("POST", "/hooks/payments", raw=body, headers=good)
        self.assertEqual((status, reply), (200, {"status": "duplicate"}))
        actors = [a["actor"] for a in t.json("audit", inv) if a["action"] == "event"]
        self.assertEqual(actors, ["webhook:payments"])
        d.stop()
        self.assertIn("webhook payments: bad signature", d.read_log())
        self.assertNotIn(PAY, d.read_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
