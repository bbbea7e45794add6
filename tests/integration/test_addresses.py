"""Addresses end to end: what `contact add` and [transport] from accept,
how international addresses go on the wire, and that a password in the
SMTP URL is never printed.

Through the real binary and real aiosmtpd servers (smtpd.py), one that
offers SMTPUTF8 (RFC 6531, --smtputf8) and one that does not, on both
clients of the smtp plugin (its own pipelining client and libcurl,
pipelining = off).
"""
import email
import email.policy
import os
import unittest

from tkharness import SmtpServer, Tickler, parse_message

IDN = "b\u00fccher.example"           # bücher.example
IDN_ASCII = "xn--bcher-kva.example"
UTF8_LOCAL = "\u00fcn\u00ef@example.com"  # ünï@example.com
BAD_BYTE = "a\udcffb@example.com"       # a, byte 0xff, b: not UTF-8 (surrogateescape)
FROM_LINE = "from = Bakker & Co <office@bakker.example>"


def set_from(t, value):
    """Rewrite [transport] from in T's config."""
    t.ini = t.ini.replace(FROM_LINE, "from = " + value)
    with open(t.config, "w", encoding="utf-8") as f:
        f.write(t.ini)


def invoice(t, acc, title="Fees"):
    return t.json("send", "invoice", "--account", acc, "--title", title, "--set", "amount=1.00",
                  "--set", "currency=EUR")["id"]


class ContactAdd(unittest.TestCase):
    def setUp(self):
        self.t = Tickler(self)
        self.acc = self.t.ok("account", "add", "Acme BV").strip()

    def contacts(self):
        return self.t.json("contact", "list", self.acc)

    def audit(self):
        return self.t.json("audit", "--account", self.acc)

    def test_refuses_what_cannot_be_sent(self):
        before_contacts, before_audit = self.contacts(), self.audit()
        cases = [("jo.@example.com", "the part before the '@' ends with a dot"),
                 ("a..b@example.com", "two dots in a row before the '@'"),
                 (".jo@example.com", "starts with a dot"),
                 (BAD_BYTE, "'a\\xffb@example.com': not valid UTF-8"),
                 ("a\x01b@example.com", "a control character"),
                 ("ann@[192.0.2.1]", "not a host name"),
                 ("ann@exa_mple.com", "not a host name"),
                 ("x@\u2603.example", "not a valid international name"),
                 ("\"a<b\"@example.com", "'<' is not allowed"),
                 ("ann@example", "the domain has no dot")]
        for addr, why in cases:
            err = self.t.fails("contact", "add", self.acc, addr)
            lines = [l for l in err.splitlines() if l.strip()]
            self.assertEqual(len(lines), 1, err)
            self.assertIn("invalid email address", lines[0])
            self.assertIn(why, lines[0], addr)
        # nothing changed
        self.assertEqual(self.contacts(), before_contacts)
        self.assertEqual(self.audit(), before_audit)

    def test_accepts_what_can_be_sent(self):
        for addr in ("ann@example.com", "o'brien+tag@mail-1.example.co.uk", "user@" + IDN,
                     UTF8_LOCAL, "\"john doe\"@example.com", "tickler@localhost"):
            self.t.ok("contact", "add", self.acc, addr)
        emails = [c["email"] for c in self.contacts()]
        self.assertIn("user@" + IDN, emails)  # stored as written
        self.assertIn(UTF8_LOCAL, emails)
        self.assertIn("\"john doe\"@example.com", emails)

    def test_poisoned_address_no_longer_stops_a_tick(self):
        """Issue 11 item 2: a non-UTF-8 contact address made every tick
        fail for every account.  It is refused at the door now, and the
        other contacts get their mail."""
        self.t.fails("contact", "add", self.acc, BAD_BYTE)
        self.t.ok("contact", "add", self.acc, "ann@acme.example")
        invoice(self.t, self.acc)
        self.assertEqual(len(self.t.messages()), 1)
        self.t.ok("tick", now="2026-12-04T09:00:00Z")


class FromCheck(unittest.TestCase):
    def test_unsendable_from_names_file_and_line(self):
        t = Tickler(self, init=False)
        set_from(t, "Jo <jo.@bakker.example>")
        line = t.ini.splitlines().index("from = Jo <jo.@bakker.example>") + 1
        err = t.fails("init")
        self.assertIn("%s:%d:" % (t.config, line), err)
        self.assertIn("ends with a dot", err)
        self.assertFalse(os.path.exists(os.path.join(t.dir, "tickler.db")))

    def test_from_with_a_byte_that_is_not_utf8(self):
        t = Tickler(self, init=False)
        with open(t.config, "wb") as f:
            f.write(t.ini.encode().replace(b"<office@", b"<off\xffice@", 1))
        err = t.fails("init")
        self.assertIn("tickler.ini:", err)
        self.assertIn("not valid UTF-8", err)

    def test_idn_from_is_accepted(self):
        t = Tickler(self, init=False)
        set_from(t, "Bakker <office@%s>" % IDN)
        t.ok("init")


class Wire(unittest.TestCase):
    """International addresses through both clients."""

    def deploy(self, pipelining, *server_args, from_=None):
        srv = SmtpServer(self, *server_args)
        t = Tickler(self, smtp=srv, init=False,
                    extra_ini="[transport]\npipelining = %s\ntimeout_seconds = 10\n" % pipelining)
        if from_:
            set_from(t, from_)
        t.ok("init")
        return srv, t

    def idn(self, pipelining):
        srv, t = self.deploy(pipelining, from_="Bakker <office@%s>" % IDN)
        acc = t.ok("account", "add", "Acme BV").strip()
        t.ok("contact", "add", acc, "ann@" + IDN, "--name", "Ann")
        invoice(t, acc)
        envs = srv.envelopes()
        self.assertEqual(len(envs), 1, t.json("outbox"))
        self.assertEqual(envs[0]["rcpt_tos"], ["ann@" + IDN_ASCII])
        self.assertEqual(envs[0]["mail_from"], "office@" + IDN_ASCII)
        self.assertNotIn("SMTPUTF8", envs[0]["mail_options"])
        raw = envs[0]["raw"]
        raw.decode("ascii")  # all ASCII: no SMTPUTF8 needed
        msg = parse_message(raw, self)
        self.assertEqual(msg["To"].addresses[0].addr_spec, "ann@" + IDN_ASCII)
        self.assertEqual(msg["From"].addresses[0].addr_spec, "office@" + IDN_ASCII)
        self.assertTrue(msg["Message-ID"].endswith("@%s>" % IDN_ASCII), msg["Message-ID"])
        # the outbox and the contact keep the address as it was written
        self.assertEqual(t.json("outbox")[0]["recipient"], "ann@" + IDN)
        self.assertEqual(t.json("outbox")[0]["state"], "sent")

    def test_idn_as_punycode_own_client(self):
        self.idn("auto")

    def test_idn_as_punycode_libcurl(self):
        self.idn("off")

    def smtputf8_offered(self, pipelining):
        srv, t = self.deploy(pipelining, "--smtputf8")
        acc = t.ok("account", "add", "Acme BV").strip()
        t.ok("contact", "add", acc, UTF8_LOCAL, "--name", "\u00dcn\u00ef")
        t.ok("contact", "add", acc, "bob@acme.example")
        invoice(t, acc)
        envs = {e["rcpt_tos"][0]: e for e in srv.envelopes()}
        self.assertEqual(sorted(envs), sorted([UTF8_LOCAL, "bob@acme.example"]))
        self.assertIn("SMTPUTF8", envs[UTF8_LOCAL]["mail_options"])
        self.assertNotIn("SMTPUTF8", envs["bob@acme.example"]["mail_options"])
        raw = envs[UTF8_LOCAL]["raw"]
        # RFC 6532: the address as UTF-8 in To:, the name as encoded words
        head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8")
        to = [l for l in head.split("\r\n") if l.startswith("To:")]
        self.assertEqual(len(to), 1, head)
        self.assertTrue(to[0].endswith("<%s>" % UTF8_LOCAL), to[0])
        self.assertIn("=?UTF-8?", to[0])
        msg = email.message_from_string(raw.decode("utf-8"), policy=email.policy.SMTPUTF8)
        self.assertEqual(msg["To"].addresses[0].addr_spec, UTF8_LOCAL)
        self.assertEqual(msg["To"].addresses[0].display_name, "\u00dcn\u00ef")
        self.assertEqual({r["state"] for r in t.json("outbox")}, {"sent"})

    def test_smtputf8_offered_own_client(self):
        self.smtputf8_offered("auto")

    def test_smtputf8_offered_libcurl(self):
        self.smtputf8_offered("off")

    def smtputf8_missing(self, pipelining):
        srv, t = self.deploy(pipelining)
        acc = t.ok("account", "add", "Acme BV").strip()
        t.ok("contact", "add", acc, UTF8_LOCAL)
        t.ok("contact", "add", acc, "bob@acme.example")
        r = t.run("send", "invoice", "--account", acc, "--title", "Fees", "--set", "amount=1.00",
                  "--set", "currency=EUR")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("refused for good", r.err)
        # the other contact got hers; nothing UTF-8 reached the server
        self.assertEqual([e["rcpt_tos"] for e in srv.envelopes()], [["bob@acme.example"]])
        failed = t.json("outbox", "--failed")
        self.assertEqual([(f["recipient"], f["state"], f["reply_code"] or 0) for f in failed],
                         [(UTF8_LOCAL, "dead", 0)])
        self.assertIn("does not offer SMTPUTF8", failed[0]["reply"])
        self.assertIn(UTF8_LOCAL, failed[0]["reply"])
        text = t.ok("outbox", "--failed")
        self.assertIn("does not offer SMTPUTF8", text)

    def test_smtputf8_missing_is_permanent_own_client(self):
        self.smtputf8_missing("auto")

    def test_smtputf8_missing_is_permanent_libcurl(self):
        self.smtputf8_missing("off")

    def test_utf8_from_both_clients(self):
        """A UTF-8 part before the '@' of [transport] from: SMTPUTF8 for
        every message, or every message refused naming the from address."""
        sender = "b\u00fcro@bakker.example"
        for pipelining in ("auto", "off"):
            for offered in (True, False):
                srv, t = self.deploy(pipelining, *(["--smtputf8"] if offered else []),
                                     from_="Bakker <%s>" % sender)
                acc = t.ok("account", "add", "Acme BV").strip()
                t.ok("contact", "add", acc, "ann@acme.example")
                invoice(t, acc)
                envs = srv.envelopes()
                rows = t.json("outbox")
                if offered:
                    self.assertEqual([(e["mail_from"], "SMTPUTF8" in e["mail_options"]) for e in envs],
                                     [(sender, True)], pipelining)
                    self.assertEqual(rows[0]["state"], "sent")
                else:
                    self.assertEqual(envs, [], pipelining)
                    self.assertEqual(rows[0]["state"], "dead")
                    self.assertIn("does not offer SMTPUTF8, which the address %s needs" % sender,
                                  rows[0]["reply"])

    def test_quoted_local_part_both_clients(self):
        for pipelining in ("auto", "off"):
            srv, t = self.deploy(pipelining)
            acc = t.ok("account", "add", "Acme BV").strip()
            t.ok("contact", "add", acc, "\"john doe\"@acme.example")
            invoice(t, acc)
            envs = srv.envelopes()
            self.assertEqual([e["rcpt_tos"] for e in envs], [["\"john doe\"@acme.example"]],
                             pipelining)
            msg = parse_message(envs[0]["raw"], self)
            self.assertEqual(msg["To"].addresses[0].addr_spec, "\"john doe\"@acme.example")


class UrlPassword(unittest.TestCase):
    def test_password_in_url_is_masked(self):
        for url, extra in (("ftp://tickler:s3cret-pw@mail.example:25", ""),
                           ("smtps://tickler:s3cret-pw@mail.example:465", "tls = none\n"),
                           ("smtp://tickler:s3cret/pw@mail.example:25/x", "helo = h.example\n"),
                           ("smtp://tickler:s3cret-pw@", "")):
            t = Tickler(self, init=False)
            t.ini = t.ini.replace("plugin = file", "plugin = smtp\nurl = %s\n%s" % (url, extra))
            t.ini = "\n".join(l for l in t.ini.splitlines() if not l.startswith("dir = " + t.spool))
            with open(t.config, "w") as f:
                f.write(t.ini + "\n")
            r = t.run("init")
            self.assertNotEqual(r.rc, 0, r)
            self.assertIn("url", r.err)
            self.assertNotIn("s3cret", r.err, url)
            self.assertIn("tickler:***@", r.err, url)

    def test_password_in_a_postgres_dsn_is_masked(self):
        """libpq quotes a malformed URI back whole: the error is masked
        where every error is made (tk_error_set)."""
        t = Tickler(self, init=False, store="sqlite")
        t.ini = t.ini.replace("path = " + os.path.join(t.dir, "tickler.db"),
                              "driver = postgres\ndsn = postgresql://tickler:s3cret@[::1/x")
        with open(t.config, "w") as f:
            f.write(t.ini)
        r = t.run("init")
        self.assertNotEqual(r.rc, 0, r)
        if "postgres" not in r.err or "not built" in r.err:
            self.skipTest("built without PostgreSQL: %s" % r.err.strip())
        self.assertNotIn("s3cret", r.err)
        self.assertIn("tickler:***@", r.err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
