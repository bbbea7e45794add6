"""The HTTP API (issue 13) end to end: a real `tickler run` with [http]
listen, a real HTTP client (http.client) on loopback, a real SMTP server
(aiosmtpd) where mail matters.  Every endpoint's status and shape, shapes
equal to the CLI's --json for the same state, the audit actor, tokens and
scopes, hostile input (bad JSON, wrong types, unknown fields, bodies and
headers over the limits, a slowloris client), 10,000 requests from 50
clients, idempotency under 100 concurrent replays, kill -9 during a burst
of writes, SIGTERM stopping within seconds, health's 503, and HTTPS with
[http] tls_cert and tls_key."""
import json
import os
import shutil
import subprocess
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tkharness import SmtpServer, Tickler  # noqa: E402
from httpharness import Daemon, http_ini  # noqa: E402

PIPELINE = """
pipeline("Onboarding", {
  { stage = "intake" },
  { stage = "review" },
})
"""


def deploy(tc, smtp=None, extra="", lua=False, store=None):
    ini = http_ini(extra=extra)
    if lua:
        import tempfile
        d = tempfile.mkdtemp(prefix="tk-lua-")
        with open(os.path.join(d, "onboarding.lua"), "w") as f:
            f.write(PIPELINE)
        tc.addCleanup(lambda: (os.unlink(os.path.join(d, "onboarding.lua")), os.rmdir(d)))
        ini += "\n[lua]\nscripts = %s\n" % d
    t = Tickler(tc, smtp=smtp, extra_ini=ini, store=store)
    t.now = None  # the daemon runs on the real clock: so do the CLI calls
    return t


class Endpoints(unittest.TestCase):
    def setUp(self):
        self.t = deploy(self, lua=True)
        self.d = Daemon(self, self.t)
        self.w = self.d.token("ci", "write")
        self.r = self.d.token("reader", "read")

    def call(self, method, path, body=None, status=200, token=None, **kw):
        st, h, b = self.d.api(method, path, body, token=token or self.w, **kw)
        self.assertEqual(st, status, "%s %s: %r" % (method, path, b))
        return b

    def test_item_read_equals_the_cli_for_hostile_text(self):
        """GET /items/ID writes the item straight into the answer
        (tk_json_item_dump; byte-for-byte against jansson in
        unit.test_json_item, also for control characters and text that is
        not UTF-8, which the front ends refuse): the same item as
        `--json show` for quotes, backslashes, slashes and non-ASCII text."""
        t = self.t
        t.account("Acme", contacts=(("a@acme.example", "A", True),))
        titles = ['q " b \\ s / caf\u00e9 \u20ac \U0001F600 </script>', "Fees"]
        for title in titles:
            r = t.run("--json", "send", "invoice", "--account", "Acme", "--title", title,
                      "--set", "amount=1.00", "--set", "currency=EUR", "--set", "number=N\u00ba \"1\"\\2/3")
            self.assertEqual(r.rc, 0, r)
            iid = json.loads(r.out)["id"]
            got = self.call("GET", "/api/v1/items/%d" % iid, token=self.r)
            self.assertEqual(got, t.show(iid))
            self.assertEqual(self.call("POST", "/api/v1/items/%d/events" % iid, {"event": "viewed"}),
                             t.show(iid))

    def test_event_answer_equals_the_cli_with_automations(self):
        """POST /items/ID/events answers with the item the event left
        (no second read) unless an automation may have changed it since:
        an on("TYPE.EVENT") handler or a job.  Every case must still equal
        `--json show` after it: no handler, a handler, an item of a job
        whose stage moves on (advance = when_done), a completing event and
        the same completing event again."""
        import tempfile
        d = tempfile.mkdtemp(prefix="tk-lua-")
        with open(os.path.join(d, "billing.lua"), "w") as f:
            f.write('pipeline("Billing", {\n'
                    '  { stage = "Bill", advance = "when_done", on_enter = function(job)\n'
                    '      job:create_invoice{ title = "job fee", fields = { amount = "5.00", currency = "EUR" } }\n'
                    '    end },\n'
                    '  { stage = "Done" },\n'
                    '})\n'
                    'on("invoice.viewed", function(item, job) end)\n')
        self.addCleanup(lambda: (os.unlink(os.path.join(d, "billing.lua")), os.rmdir(d)))
        self.d.stop()
        t = deploy(self, extra="[lua]\nscripts = %s\n" % d)
        dm = Daemon(self, t)
        w = dm.token("ci", "write")
        t.account("Acme", contacts=(("a@acme.example", "A", True),))

        def event(iid, name):
            st, _, b = dm.api("POST", "/api/v1/items/%d/events" % iid, {"event": name}, token=w)
            self.assertEqual(st, 200, b)
            self.assertEqual(b, t.show(iid))
            return b

        r = t.run("--json", "send", "invoice", "--account", "Acme", "--title", "Fees",
                  "--set", "amount=1.00", "--set", "currency=EUR")
        self.assertEqual(r.rc, 0, r)
        plain = json.loads(r.out)["id"]
        event(plain, "viewed")  # a handler: read again
        self.assertEqual(event(plain, "paid")["state"], "paid")  # no handler: as written
        self.assertEqual(event(plain, "paid")["state"], "paid")  # already paid: as read
        r = t.run("job", "add", "Billing", "--account", "Acme", "--title", "2026")
        self.assertEqual(r.rc, 0, r)
        job = int(r.out.strip().splitlines()[-1])
        item = t.json("job", "show", str(job))["items"][0]
        event(item, "viewed")
        self.assertEqual(event(item, "paid")["state"], "paid")  # the job moves on
        self.assertEqual(t.json("job", "show", str(job))["stage"], "Done")

    def test_every_endpoint_and_the_cli_shapes(self):
        t = self.t
        st, _, h = self.d.api("GET", "/api/v1/health")
        self.assertEqual(st, 200)
        self.assertEqual(h["status"], "ok")
        self.assertEqual(h["store"]["driver"], t.store)
        self.assertEqual(h["transport"]["plugin"], "file")

        acc = self.call("POST", "/api/v1/accounts", {"name": "Acme BV", "language": "nl"}, 201)
        self.assertEqual((acc["name"], acc["language"], acc["contacts"]), ("Acme BV", "nl", 0))
        aid = acc["id"]
        c = self.call("POST", "/api/v1/accounts/Acme%20BV/contacts",
                      {"email": "ann@acme.example", "name": "Ann"}, 201)
        self.assertEqual((c["email"], c["name"], c["notify"]), ("ann@acme.example", "Ann", True))
        self.call("POST", "/api/v1/accounts/%d/contacts" % aid, {"email": "bob@acme.example", "notify": False}, 201)
        p = self.call("PATCH", "/api/v1/accounts/%d/contacts/bob@acme.example" % aid, {"notify": True})
        self.assertTrue(p["notify"])
        self.assertEqual(self.call("GET", "/api/v1/accounts", token=self.r), t.json("account", "list"))
        self.assertEqual(self.call("GET", "/api/v1/accounts/%d" % aid, token=self.r),
                         t.json("account", "list")[0])
        self.assertEqual(self.call("GET", "/api/v1/accounts/Acme%20BV/contacts", token=self.r),
                         t.json("contact", "list", "Acme BV"))

        inv = self.call("POST", "/api/v1/items", {
            "type": "invoice", "account": "Acme BV", "title": "Fees 2026",
            "reminders": {"enabled": True, "every_days": 5, "count": 2},
            "fields": {"amount": "450.00", "currency": "EUR"}}, 201)
        self.assertEqual(inv, t.show(inv["id"]))
        self.assertEqual(inv["reminders"]["every_days"], 5)
        appr = self.call("POST", "/api/v1/items", {"type": "approval", "account": aid, "title": "Annual accounts"}, 201)
        self.assertEqual(self.call("GET", "/api/v1/items/%d" % inv["id"], token=self.r), t.show(inv["id"]))
        self.assertEqual(self.call("GET", "/api/v1/accounts/%d/todo" % aid, token=self.r), t.json("todo", "Acme BV"))

        page1 = self.call("GET", "/api/v1/items?limit=1", token=self.r)
        self.assertEqual(len(page1["items"]), 1)
        page2 = self.call("GET", "/api/v1/items?limit=1&cursor=" + page1["next_cursor"], token=self.r)
        self.assertEqual(page2["items"][0]["id"], appr["id"])
        self.assertIsNone(page2["next_cursor"])
        listed = self.call("GET", "/api/v1/items?account=Acme+BV&type=invoice&pending=true", token=self.r)
        cli = t.json("list", "--account", "Acme BV", "--type", "invoice", "--pending")
        for x in cli:
            x.pop("position")
        self.assertEqual(listed["items"], cli)

        r = self.call("POST", "/api/v1/items/%d/resend" % inv["id"])
        self.assertEqual(r["resends"], 1)
        r = self.call("PATCH", "/api/v1/items/%d/reminders" % inv["id"], {"enabled": False})
        self.assertFalse(r["reminders"]["enabled"])
        r = self.call("PATCH", "/api/v1/items/%d/reminders" % inv["id"], {"every_days": 7, "count": 3})
        self.assertEqual((r["reminders"]["every_days"], r["reminders"]["count"], r["reminders"]["enabled"]), (7, 3, False))
        r = self.call("POST", "/api/v1/items/%d/events" % inv["id"], {"event": "paid"})
        self.assertEqual(r["state"], "paid")
        self.assertEqual(r, t.show(inv["id"]))
        # ?dry_run=true: what would go out, nothing written
        outbox = t.rows("SELECT COUNT(*) FROM outbox")
        d = self.call("POST", "/api/v1/accounts/%d/bulk/request-approvals?dry_run=true" % aid,
                      {"message": "Please"})
        self.assertEqual((d["account"], d["items"], d["dry_run"], len(d["item_ids"])), (aid, 1, True, 1))
        self.assertEqual(sorted(m["to"] for m in d["mails"]), ["ann@acme.example", "bob@acme.example"])
        self.assertTrue(all("Please" in m["message"] and m["subject"] for m in d["mails"]))
        self.assertEqual(t.rows("SELECT COUNT(*) FROM outbox"), outbox)
        self.call("POST", "/api/v1/accounts/%d/bulk/request-approvals?dry_run=yes" % aid, {}, 400)
        b = self.call("POST", "/api/v1/accounts/%d/bulk/request-approvals" % aid, {"message": "Please"})
        self.assertEqual(b, {"account": aid, "items": 1})

        audit = self.call("GET", "/api/v1/audit?item=%d" % inv["id"], token=self.r)
        self.assertEqual(audit, t.json("audit", inv["id"]))
        self.assertEqual({a["actor"] for a in audit}, {"api:ci"})
        self.assertEqual(self.call("GET", "/api/v1/audit?account=%d" % aid, token=self.r),
                         t.json("audit", "--account", "Acme BV"))
        time.sleep(0.5)  # the daemon delivers what the writes enqueued
        self.assertEqual(self.call("GET", "/api/v1/outbox", token=self.r), t.json("outbox"))
        self.assertEqual(self.call("GET", "/api/v1/outbox?failed=true", token=self.r), [])
        st, _, e = self.d.api("POST", "/api/v1/outbox/1/retry", token=self.w)
        self.assertEqual((st, e), (409, {"error": t.fails("outbox", "retry", "1").strip()[len("tickler: "):]}))

        job = self.call("POST", "/api/v1/jobs", {"pipeline": "Onboarding", "account": "Acme BV", "title": "2026"}, 201)
        self.assertEqual(job["stage"], "intake")
        self.assertEqual(job, t.json("job", "show", job["id"])[0] if isinstance(t.json("job", "show", job["id"]), list) else t.json("job", "show", job["id"]))
        j = self.call("POST", "/api/v1/jobs/%d/move" % job["id"], {"stage": "review"})
        self.assertEqual(j["stage"], "review")
        j = self.call("POST", "/api/v1/jobs/%d/archive" % job["id"])
        self.assertEqual(j["state"], "archived")
        self.assertEqual(self.call("GET", "/api/v1/jobs/%d" % job["id"], token=self.r)["state"], "archived")

        m = self.call("GET", "/metrics", token=self.r)
        self.assertIn('tickler_items{type="invoice",state="paid"} 1', m)
        self.assertIn('tickler_outbox_messages{state="dead"} 0', m)
        self.assertIn("tickler_delivery_latency_seconds_bucket{le=\"+Inf\"}", m)
        self.assertIn('tickler_http_requests_total{status="201"}', m)

    def test_errors_are_the_cli_words_and_change_nothing(self):
        t = self.t
        before = t.json("audit")
        cases = [
            ("POST", "/api/v1/accounts", {"name": "123"}, 400),
            ("POST", "/api/v1/accounts", {"name": "X", "language": "de"}, 400),
            ("POST", "/api/v1/accounts", {"name": 5}, 400),
            ("POST", "/api/v1/accounts", {"name": "X", "colour": "red"}, 400),
            ("POST", "/api/v1/items", {"type": "invoice", "account": "nobody", "title": "x"}, 404),
            ("POST", "/api/v1/items", {"type": "nosuch", "account": "x", "title": "x"}, 404),
            ("POST", "/api/v1/items", {"type": "invoice", "account": "x", "title": 7}, 400),
            ("POST", "/api/v1/items", {"type": "invoice", "account": "x", "title": "t", "reminders": {"every_days": 0}}, 400),
            ("POST", "/api/v1/items", {"type": "invoice", "account": "x", "title": "t", "fields": {"a": [1]}}, 400),
            ("GET", "/api/v1/items/999", None, 404),
            ("GET", "/api/v1/items/abc", None, 404),
            ("POST", "/api/v1/items/999/events", {"event": "paid"}, 404),
            ("GET", "/api/v1/nosuch", None, 404),
            ("DELETE", "/api/v1/accounts", None, 405),
            ("GET", "/api/v1/items?limit=0", None, 400),
            ("GET", "/api/v1/items?cursor=x", None, 400),
            ("GET", "/api/v1/items?pending=maybe", None, 400),
            ("POST", "/api/v1/jobs", {"pipeline": "Nope", "account": "x"}, 404),
        ]
        for method, path, body, status in cases:
            st, _, b = self.d.api(method, path, body, token=self.w)
            self.assertEqual(st, status, "%s %s %r: %r" % (method, path, body, b))
            self.assertEqual(list(b.keys()), ["error"], b)
            self.assertNotIn("\n", b["error"])
            self.assertNotIn("SELECT", b["error"])
        # the same words as the CLI
        st, _, b = self.d.api("POST", "/api/v1/accounts", {"name": "X", "language": "de"}, token=self.w)
        self.assertIn("de", b["error"])
        st, _, b = self.d.api("GET", "/api/v1/items/999", token=self.r)
        self.assertEqual(b["error"], t.fails("show", "999").strip()[len("tickler: "):])
        for raw in (b"{", b"[1,2]", b"\"x\"", b"{\"name\": \"a\", \"name\": \"b\"}", b"{\"name\": \"a\u0000b\"}"):
            st, _, b = self.d.api("POST", "/api/v1/accounts", raw=raw, token=self.w,
                                  headers={"Content-Type": "application/json"})
            self.assertEqual(st, 400, (raw, b))
        st, _, b = self.d.api("POST", "/api/v1/accounts", raw=b"name=x", token=self.w,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(st, 415)
        self.assertEqual(t.json("audit"), before)
        self.assertEqual(t.json("account", "list"), [])

    def test_limits(self):
        big = {"name": "x" * (300 * 1024)}
        st, _, b = self.d.api("POST", "/api/v1/accounts", big, token=self.w)
        self.assertEqual(st, 413)
        # chunked, no Content-Length: 413 once it ends
        c = self.d.conn()
        c.putrequest("POST", "/api/v1/accounts")
        c.putheader("Authorization", "Bearer " + self.w)
        c.putheader("Content-Type", "application/json")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        chunk = b"x" * 65536
        for _ in range(5):
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        self.assertEqual(r.status, 413, r.read())
        c.close()
        # a 1 MB header: refused (431) or the connection closed, and the
        # server goes on serving
        reply = self.raw_header_reply(b"X-Big", b"a" * (1 << 20))
        self.assertFalse(reply.startswith(b"HTTP/1.1 200"), reply)
        self.assertEqual(self.d.api("GET", "/api/v1/health")[0], 200)

        # the bound is 32 KiB of request line and headers (docs/api.md): a
        # block of about 31 KiB is served, for a read and for a write with
        # a body, twice on one keep-alive connection (as a proxy sends
        # them); one of 40 KiB (under the old 64 KiB bound) is not
        pad = {"X-Pad": "p" * (31 * 1024 - 400)}
        c = self.d.conn()
        try:
            for _ in range(2):
                st, _, b = self.d.api("GET", "/api/v1/accounts", token=self.w, headers=pad, conn=c)
                self.assertEqual((st, b), (200, []))
                st, _, b = self.d.api("POST", "/api/v1/accounts/nobody/contacts",
                                      {"email": "a@b.example"}, token=self.w, headers=pad, conn=c)
                self.assertEqual(st, 404, b)
        finally:
            c.close()
        reply = self.raw_header_reply(b"X-Pad", b"p" * (40 * 1024))
        self.assertFalse(reply.startswith(b"HTTP/1.1 2"), reply)
        self.assertEqual(self.d.api("GET", "/api/v1/health")[0], 200)
        self.assertEqual(self.t.json("account", "list"), [])

    def raw_header_reply(self, name, value):
        """The first bytes answered to a health GET with header NAME:
        VALUE, sent raw; b"" when the server cut the connection."""
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        try:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n" + name + b": ")
            try:
                s.sendall(value + b"\r\n\r\n")
                return s.recv(200)
            except (ConnectionResetError, BrokenPipeError):
                return b""
        finally:
            s.close()

    def test_slowloris_does_not_block_others(self):
        socks = []
        for _ in range(100):
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
            s.sendall(b"POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        try:
            t0 = time.time()
            for i in range(30):
                for s in socks[:20]:
                    try:
                        s.sendall(b"X-Slow: 1\r\n")
                    except OSError:
                        pass
                st, _, b = self.d.api("POST", "/api/v1/accounts", {"name": "Client %d" % i}, token=self.w)
                self.assertEqual(st, 201, b)
            self.assertLess(time.time() - t0, 10)
        finally:
            for s in socks:
                s.close()
        self.assertEqual(len(self.t.json("account", "list")), 30)

    def test_concurrent_writes_beside_200_open_connections(self):
        # The listener selects over every open connection each round
        # (server.c listen_main, libmicrohttpd's select mode) and sends a
        # resumed group's answers in the round that queues them: with 200
        # idle keep-alive sockets in its sets, 8 concurrent writers are
        # each answered their own account, every write is in the store
        # once, and the idle sockets are still served afterwards.
        def health_on(socks):
            for s in socks:
                s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            for s in socks:
                got = b""
                while b"\r\n\r\n" not in got:
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, got)
                    got += chunk
                self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:80])
                head, body = got.split(b"\r\n\r\n", 1)
                length = int([h.split(b":")[1] for h in head.split(b"\r\n")
                              if h.lower().startswith(b"content-length:")][0])
                while len(body) < length:
                    body += s.recv(4096)

        idle = []
        try:
            for _ in range(200):
                idle.append(socket.create_connection(("127.0.0.1", self.d.port), timeout=10))
            health_on(idle)  # accepted and answered once: now idle in the sets
            errors, made = [], []
            lock = threading.Lock()

            def writer(n):
                c = self.d.conn()
                try:
                    for i in range(15):
                        name = "Writer %d-%d" % (n, i)
                        st, _, b = self.d.api("POST", "/api/v1/accounts", {"name": name},
                                              token=self.w, conn=c)
                        with lock:
                            if st != 201 or not isinstance(b, dict) or b.get("name") != name:
                                errors.append((name, st, b))
                            else:
                                made.append((b["id"], name))
                except Exception as e:  # noqa: BLE001
                    with lock:
                        errors.append(repr(e))
                finally:
                    c.close()

            threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
            t0 = time.time()
            for th in threads:
                th.start()
            for th in threads:
                th.join(60)
            self.assertLess(time.time() - t0, 10)
            self.assertEqual(errors, [])
            self.assertEqual(len(made), 120)
            health_on(idle)
        finally:
            for s in idle:
                s.close()
        accounts = {a["id"]: a["name"] for a in self.t.json("account", "list")}
        self.assertEqual(accounts, dict(made))

    def test_an_idle_connection_is_closed_at_the_inactivity_timeout(self):
        # The listener thread sleeps no longer than libmicrohttpd's next
        # time-out (server.c listen_main): with no other traffic to wake
        # it, a connection that sent half a request and then nothing is
        # still closed after [15 s] (INACTIVITY_TIMEOUT), not kept forever.
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=35)
        try:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
            t0 = time.time()
            while True:
                try:
                    if not s.recv(4096):
                        break
                except ConnectionResetError:
                    break
            waited = time.time() - t0
        finally:
            s.close()
        self.assertGreater(waited, 10, waited)
        self.assertLess(waited, 30, waited)
        self.assertEqual(self.d.api("GET", "/api/v1/health")[0], 200)


class FdSetSize(unittest.TestCase):
    def test_a_socket_numbered_past_fd_setsize_is_refused_and_the_rest_served(self):
        # libmicrohttpd in select mode (server.c listen_main) cannot wait on
        # a socket numbered FD_SETSIZE (1024) or more: it closes such a
        # connection at accept and logs it.  The daemon inherits descriptors
        # 64-1299, so its first connections get the numbers below 64 and the
        # next ones 1300 and up: those are refused cleanly, the daemon keeps
        # serving the others and, once they close, new ones.
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 1400:
            if hard != resource.RLIM_INFINITY and hard < 1400:
                self.skipTest("RLIMIT_NOFILE hard limit %d is below 1400" % hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (1400, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        null = os.open(os.devnull, os.O_RDONLY)
        held = []
        try:
            for fd in range(64, 1300):
                try:
                    os.fstat(fd)
                    continue  # ours already: not passed, a hole the daemon may use
                except OSError:
                    pass
                os.dup2(null, fd)
                held.append(fd)
        finally:
            os.close(null)
        try:
            t = deploy(self)
            w = Daemon(self, t, start=False)
            w.pass_fds = tuple(held)
            w.start()
        finally:
            for fd in held:
                os.close(fd)
        tok = w.token("fd", "write")
        socks, answered, refused = [], 0, 0
        try:
            # 300: more refusals than the 256 a client address may hold, so a
            # refused socket that stayed counted would show in the last write
            for _ in range(300):
                s = socket.create_connection(("127.0.0.1", w.port), timeout=10)
                socks.append(s)
                try:
                    s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                    got = s.recv(4096)
                except (ConnectionResetError, BrokenPipeError):
                    got = b""
                if got.startswith(b"HTTP/1.1 200"):
                    answered += 1
                else:
                    self.assertEqual(got, b"")
                    refused += 1
            self.assertIsNone(w.proc.poll())
            self.assertGreater(answered, 5)
            self.assertGreater(refused, 5)
            log = w.read_log()
            self.assertIn("is not less than FD_SETSIZE", log)
            self.assertNotIn("connection limit", log)  # a refused socket is not counted
        finally:
            for s in socks:
                s.close()
        time.sleep(0.5)
        st, _, b = w.api("POST", "/api/v1/accounts", {"name": "After"}, token=tok)
        self.assertEqual(st, 201, b)
        self.assertEqual([a["name"] for a in t.json("account", "list")], ["After"])


class Auth(unittest.TestCase):
    def test_tokens_and_scopes(self):
        t = deploy(self)
        d = Daemon(self, t)
        w = d.token("writer", "write")
        r = d.token("reader", "read")
        a = d.token("admin", "admin")
        gone = d.token("gone", "write")
        self.assertRegex(w, r"^tk_[0-9a-f]{64}$")
        t.ok("token", "revoke", "gone")
        listed = t.json("token", "list")
        self.assertEqual([x["name"] for x in listed], ["admin", "reader", "writer"])
        self.assertNotIn(w, json.dumps(listed))
        if t.store == "sqlite":
            with open(os.path.join(t.dir, "tickler.db"), "rb") as f:
                self.assertNotIn(w.encode(), f.read())
        else:
            self.assertNotIn(w, repr(t.rows("SELECT * FROM api_tokens")))
        before = t.json("audit")
        body = {"name": "Acme"}
        for tok, status in ((None, 401), ("wrong", 401), ("tk_" + "0" * 64, 401), (gone, 401),
                            (w[:-1] + ("0" if w[-1] != "0" else "1"), 401), (r, 403)):
            st, h, b = d.api("POST", "/api/v1/accounts", body, token=tok)
            self.assertEqual(st, status, (tok, b))
            if status == 401:
                self.assertIn("www-authenticate", h)
        self.assertEqual(d.api("GET", "/api/v1/accounts")[0], 401)
        self.assertEqual(d.api("GET", "/metrics")[0], 401)
        self.assertEqual(t.json("audit"), before)
        self.assertEqual(d.api("GET", "/api/v1/accounts", token=r)[0], 200)
        self.assertEqual(d.api("POST", "/api/v1/accounts", body, token=a)[0], 201)
        self.assertEqual(t.json("audit")[-1]["actor"], "api:admin")
        # the client's address in the log line of a refused request: made
        # once per connection, so three on one keep-alive connection name
        # it as the first does (the peer is also the console's rate key)
        c = d.conn()
        try:
            for i in range(3):
                st, _, b = d.api("GET", "/api/v1/accounts", token="peer%d" % i, conn=c)
                self.assertEqual(st, 401, b)
        finally:
            c.close()
        t.fails("token", "add", "x", "--scope", "root", rc=2)
        t.fails("token", "add", "writer", "--scope", "read")
        t.fails("token", "revoke", "nobody")
        d.stop()
        log = d.read_log()
        self.assertIn("bad token", log)
        self.assertEqual(log.count("401 GET /api/v1/accounts from 127.0.0.1: bad token"), 3, log)
        for tok in (w, r, a, gone):
            self.assertNotIn(tok, log)
            self.assertNotIn(tok[3:], log)


class Paging(unittest.TestCase):
    def test_keyset_cursor_stable_while_items_are_added(self):
        t = deploy(self)
        d = Daemon(self, t)
        w = d.token("ci", "write")
        self.assertEqual(d.api("POST", "/api/v1/accounts", {"name": "Acme"}, token=w)[0], 201)

        def add(n):
            for i in range(n):
                st, _, b = d.api("POST", "/api/v1/items", {"type": "invoice", "account": "Acme",
                                                             "title": "Invoice %d" % i,
                                                             "fields": {"amount": "1.00", "currency": "EUR"}}, token=w)
                self.assertEqual(st, 201, b)
        add(23)
        seen, cursor, pages = [], None, 0
        while True:
            path = "/api/v1/items?limit=10" + ("&cursor=" + cursor if cursor else "")
            st, _, b = d.api("GET", path, token=w)
            self.assertEqual(st, 200, b)
            seen += [x["id"] for x in b["items"]]
            cursor = b["next_cursor"]
            pages += 1
            if pages == 1:
                self.assertRegex(cursor, r"^[A-Za-z0-9_-]+$")
                self.assertFalse(cursor.isdigit())  # opaque, not the id
                add(7)  # added between pages: they come at the end
            if cursor is None:
                break
        self.assertEqual(len(seen), 30)
        self.assertEqual(seen, sorted(set(seen)))  # no duplicates, in id order
        self.assertEqual(seen, [x["id"] for x in t.json("list")])  # no gaps
        # a filtered list pages the same way
        st, _, b = d.api("GET", "/api/v1/items?account=Acme&pending=true&limit=29", token=w)
        self.assertEqual((st, len(b["items"])), (200, 29))
        st, _, b2 = d.api("GET", "/api/v1/items?account=Acme&pending=true&limit=29&cursor=" +
                          b["next_cursor"], token=w)
        self.assertEqual([x["id"] for x in b2["items"]], seen[29:])
        self.assertIsNone(b2["next_cursor"])
        for bad in ("10", "x", "djE6MA", "djI6MTA", "%00", "a" * 100):
            st, _, b = d.api("GET", "/api/v1/items?cursor=" + bad, token=w)
            self.assertEqual(st, 400, bad)
            self.assertIn("cursor", b["error"])
            self.assertNotIn("\n", b["error"])


class TokenUse(unittest.TestCase):
    def test_last_used_once_a_minute_and_revoke_within_a_second(self):
        t = deploy(self)
        d = Daemon(self, t)
        r = d.token("reader", "read")
        w = d.token("writer", "write")
        listed = {x["name"]: x for x in t.json("token", "list")}
        self.assertIsNone(listed["reader"]["last_used_at"])
        self.assertIn("last used never", t.ok("token", "list"))
        self.assertEqual(d.api("GET", "/api/v1/accounts", token=r)[0], 200)
        self.assertEqual(d.api("POST", "/api/v1/accounts", {"name": "Acme"}, token=w)[0], 201)
        deadline = time.time() + 10
        while time.time() < deadline:
            listed = {x["name"]: x for x in t.json("token", "list")}
            if listed["reader"]["last_used_at"] and listed["writer"]["last_used_at"]:
                break
            time.sleep(0.1)
        first = listed["reader"]["last_used_at"]
        self.assertIsNotNone(first)
        self.assertIsNotNone(listed["writer"]["last_used_at"])
        line = [x for x in t.ok("token", "list").splitlines() if x.startswith("reader ")][0]
        self.assertNotIn("never", line)
        # further requests within the minute write nothing: the value stays
        for _ in range(30):
            self.assertEqual(d.api("GET", "/api/v1/items", token=r)[0], 200)
        time.sleep(1.5)
        self.assertEqual({x["name"]: x for x in t.json("token", "list")}["reader"]["last_used_at"], first)
        # revoke (another process): refused within a second, in both threads
        t.ok("token", "revoke", "reader")
        t.ok("token", "revoke", "writer")
        time.sleep(1.1)
        self.assertEqual(d.api("GET", "/api/v1/accounts", token=r)[0], 401)
        self.assertEqual(d.api("POST", "/api/v1/accounts", {"name": "Late"}, token=w)[0], 401)
        self.assertEqual([x["name"] for x in t.json("account", "list")], ["Acme"])


class Load(unittest.TestCase):
    def test_10000_requests_from_50_clients(self):
        t = deploy(self)
        d = Daemon(self, t)
        w = d.token("load", "write")
        errors, created = [], []
        lock = threading.Lock()

        def client(n):
            c = d.conn()
            mine = []
            try:
                for i in range(200):
                    if i % 2 == 0:
                        name = "Client %d-%d" % (n, i)
                        st, _, b = d.api("POST", "/api/v1/accounts", {"name": name}, token=w, conn=c)
                        if st != 201:
                            errors.append((st, b))
                        else:
                            mine.append((b["id"], name))
                    else:
                        st, _, b = d.api("GET", "/api/v1/accounts/%d" % mine[-1][0] if mine else "/api/v1/health",
                                         token=w, conn=c)
                        if st != 200:
                            errors.append((st, b))
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                c.close()
            with lock:
                created.extend(mine)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
        t0 = time.time()
        for th in threads:
            th.start()
        for th in threads:
            th.join(300)
        took = time.time() - t0
        self.assertEqual(errors[:5], [])
        self.assertEqual(len(created), 5000)
        accounts = {a["id"]: a["name"] for a in t.json("account", "list")}
        self.assertEqual(accounts, dict(created))
        print("10,000 requests from 50 clients in %.1f s" % took, file=sys.stderr)


class Idempotency(unittest.TestCase):
    def test_100_concurrent_replays_make_one_item_and_one_email(self):
        smtp = SmtpServer(self)
        t = deploy(self, smtp=smtp)
        t.ok("account", "add", "Acme")
        t.ok("contact", "add", "Acme", "ann@acme.example")
        d = Daemon(self, t)
        w = d.token("ci", "write")
        body = {"type": "invoice", "account": "Acme", "title": "Fees",
                "fields": {"amount": "10.00", "currency": "EUR"}}
        answers = []
        lock = threading.Lock()
        go = threading.Event()

        def replay():
            go.wait()
            st, h, b = d.api("POST", "/api/v1/items", body, token=w, headers={"Idempotency-Key": "order-42"})
            with lock:
                answers.append((st, json.dumps(b, sort_keys=True)))

        threads = [threading.Thread(target=replay) for _ in range(100)]
        for th in threads:
            th.start()
        go.set()
        for th in threads:
            th.join(60)
        self.assertEqual(len(answers), 100)
        self.assertEqual({a[0] for a in answers}, {201})
        self.assertEqual(len({a[1] for a in answers}), 1)
        self.assertEqual(len(t.json("list")), 1)
        other = dict(body, title="Other")
        st, _, b = d.api("POST", "/api/v1/items", other, token=w, headers={"Idempotency-Key": "order-42"})
        self.assertEqual(st, 422, b)
        # another token's key space is its own
        w2 = d.token("ci2", "write")
        st, _, b = d.api("POST", "/api/v1/items", other, token=w2, headers={"Idempotency-Key": "order-42"})
        self.assertEqual(st, 201, b)
        deadline = time.time() + 15
        while time.time() < deadline and len(smtp.envelopes()) < 2:
            time.sleep(0.1)
        time.sleep(0.5)
        subjects = sorted(str(m["Subject"]) for _, m in smtp.messages())
        self.assertEqual(len(subjects), 2, subjects)
        self.assertEqual(len(t.json("list")), 2)


class Crash(unittest.TestCase):
    def test_kill_9_during_a_burst_of_writes(self):
        t = deploy(self)
        d = Daemon(self, t)
        w = d.token("ci", "write")
        acked, lock = [], threading.Lock()
        stop = threading.Event()

        def writer(n):
            i = 0
            while not stop.is_set():
                name = "W%d-%d" % (n, i)
                i += 1
                try:
                    st, _, b = d.api("POST", "/api/v1/accounts", {"name": name}, token=w)
                except Exception:  # noqa: BLE001
                    return
                if st == 201:
                    with lock:
                        acked.append((b["id"], name))

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for th in threads:
            th.start()
        time.sleep(1.5)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        stop.set()
        for th in threads:
            th.join(30)
        self.assertGreater(len(acked), 10)
        accounts = {a["id"]: a["name"] for a in t.json("account", "list")}
        for aid, name in acked:
            self.assertEqual(accounts.get(aid), name)
        # nothing half-written: every account has its audit entry, and no
        # audit entry names an account that is not there
        added = {e["account"] for e in t.json("audit") if e["action"] == "account-added"}
        self.assertEqual(added, set(accounts))

    def test_sigterm_stops_within_seconds_with_clients_connected(self):
        t = deploy(self)
        d = Daemon(self, t)
        w = d.token("ci", "write")
        socks = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(20)]
        for s in socks:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        self.assertEqual(d.api("POST", "/api/v1/accounts", {"name": "A"}, token=w)[0], 201)
        took = d.stop()
        for s in socks:
            s.close()
        self.assertLess(took, 5)
        self.assertIn("stopping", d.read_log())


class Checkpoints(unittest.TestCase):
    @unittest.skipUnless(shutil.which("strace"), "needs strace")
    def test_the_writer_never_flushes_the_checkpointer_does(self):
        """The writer thread (the one every write waits for) never runs a
        checkpoint's two fdatasyncs; the checkpointer thread does, once the
        log reached 1000 pages, and the log starts again instead of growing
        (the writer flushes only a restarted log's header, as SQLite does).
        SQLite only: PostgreSQL keeps no log beside the store."""
        t = deploy(self, store="sqlite")
        d = Daemon(self, t, command="serve")
        w = d.token("ci", "write")
        trace = os.path.join(t.dir, "strace.out")
        st = subprocess.Popen(["strace", "-f", "-o", trace, "-e", "trace=fsync,fdatasync",
                               "-p", str(d.proc.pid)], stderr=subprocess.PIPE)
        self.addCleanup(lambda: st.poll() is not None or (st.kill(), st.wait()))
        st.stderr.readline()  # "strace: Process N attached ..."
        time.sleep(0.5)

        def syncs():
            with open(trace) as f:
                return [l for l in f if "sync(" in l]

        c = d.conn()
        n, deadline = 0, time.time() + 120
        while time.time() < deadline and n < 5000:
            for _ in range(50):
                n += 1
                s_, _, b = d.api("POST", "/api/v1/accounts", {"name": "A%d" % n}, token=w, conn=c)
                self.assertEqual(s_, 201, b)
            if syncs():
                break
        for _ in range(100):  # past the checkpoint: the log starts again
            n += 1
            s_, _, b = d.api("POST", "/api/v1/accounts", {"name": "A%d" % n}, token=w, conn=c)
            self.assertEqual(s_, 201, b)
        c.close()
        time.sleep(0.5)  # the checkpoint's second flush
        names = {}
        for tid in os.listdir("/proc/%d/task" % d.proc.pid):
            with open("/proc/%d/task/%s/comm" % (d.proc.pid, tid)) as f:
                names[tid] = f.read().strip()
        st.send_signal(signal.SIGINT)  # detach before the daemon exits
        st.wait(30)
        by = [names.get(l.split()[0], "?") for l in syncs()]
        self.assertIn("tk-http-ckpt", by, (n, by))
        self.assertEqual(set(by) - {"tk-http-ckpt", "tk-http-write"}, set(), by)
        # a checkpoint flushes the log and the store (2); the writer flushes
        # only the header of a log it starts again after a whole checkpoint
        # (SQLite's own, at most one per checkpoint), never a checkpoint
        self.assertLessEqual(by.count("tk-http-write"), by.count("tk-http-ckpt") // 2, by)
        # the log started again: far below the pages n writes put in it
        self.assertLess(os.path.getsize(os.path.join(t.dir, "tickler.db-wal")), 3000 * 4096)
        self.assertEqual(len(t.json("account", "list")), n)


class Health(unittest.TestCase):
    def test_503_when_the_store_is_gone_and_200_when_it_is_back(self):
        t = deploy(self, store="sqlite")  # a store made unreachable by moving its file
        d = Daemon(self, t, command="serve")
        db = os.path.join(t.dir, "tickler.db")
        self.assertEqual(d.api("GET", "/api/v1/health")[0], 200)
        os.rename(db, db + ".away")
        try:
            st, h, b = d.api("GET", "/api/v1/health")
        finally:
            os.rename(db + ".away", db)
        self.assertEqual(st, 503, b)
        self.assertEqual((b["status"], b["store"]["ok"]), ("unavailable", False))
        self.assertIn("retry-after", h)
        self.assertNotIn(t.dir, json.dumps(b))
        st, _, b = d.api("GET", "/api/v1/health")
        self.assertEqual((st, b["status"]), (200, "ok"))


class Tls(unittest.TestCase):
    def test_https_with_tls_cert_and_key(self):
        import shutil
        import ssl
        import subprocess
        import tempfile
        if not shutil.which("openssl"):
            self.skipTest("openssl is not installed")
        d = tempfile.mkdtemp(prefix="tk-tls-")
        self.addCleanup(shutil.rmtree, d, True)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=60)
        t = deploy(self, extra="tls_cert = %s\ntls_key = %s\n" % (cert, key))
        dm = Daemon(self, t, command="serve")
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        import http.client
        c = http.client.HTTPSConnection("127.0.0.1", dm.port, context=ctx, timeout=30)
        c.request("GET", "/api/v1/health")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.read())["status"], "ok")
        c.close()
        # plain HTTP on the TLS port gets no answer that looks like one
        st = None
        try:
            st = dm.api("GET", "/api/v1/health")[0]
        except Exception:  # noqa: BLE001
            pass
        self.assertNotEqual(st, 200)

    def test_cert_without_key_is_refused(self):
        t = Tickler(self, extra_ini="[http]\nlisten = 127.0.0.1:1\ntls_cert = /nonexistent.pem\n")
        err = t.fails("serve")
        self.assertIn("tls_key", err)


class Serve(unittest.TestCase):
    def test_serve_answers_and_does_not_deliver(self):
        t = deploy(self)
        t.ok("account", "add", "Acme")
        t.ok("contact", "add", "Acme", "ann@acme.example")
        d = Daemon(self, t, command="serve")
        w = d.token("ci", "write")
        st, _, b = d.api("POST", "/api/v1/items", {"type": "approval", "account": "Acme", "title": "x"}, token=w)
        self.assertEqual(st, 201, b)
        time.sleep(0.5)
        self.assertEqual([m["state"] for m in t.json("outbox")], ["queued"])
        self.assertLess(d.stop(), 5)

    def test_serve_without_listen_is_a_usage_error(self):
        t = Tickler(self)
        t.fails("serve", rc=2)

    def test_bad_listen_names_the_problem(self):
        t = Tickler(self, extra_ini="[http]\nlisten = nowhere\n")
        err = t.fails("serve")
        self.assertIn("listen", err)


if __name__ == "__main__":
    unittest.main()
