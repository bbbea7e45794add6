"""The smtp and file transport plugins, driven through the plugin ABI.

A small C driver (transport_driver.c, compiled here with gcc) dlopens the
built plugin from TK_PLUGIN_DIR exactly as the host does, gives it a minimal
struct tk_host whose config comes from key=value arguments, opens one batch
and sends the messages it is given.  The smtp plugin talks to a real
aiosmtpd (smtpd.py); the file plugin writes into real folders.
"""
import glob
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

import tkharness
from tkharness import SmtpServer

DELIVERED, TEMPORARY, PERMANENT, UNKNOWN = 0, 1, 2, 3
TK_ETEMP, TK_EINVAL = 8, 3

PLUGIN_DIR = tkharness.PLUGINS
DRIVER_SRC = os.path.join(tkharness.HERE, "transport_driver.c")
BUILD = None
DRIVER = None


def plugin(name):
    return os.path.join(PLUGIN_DIR, name + ".so")


def setUpModule():
    global BUILD, DRIVER
    if not PLUGIN_DIR or not os.path.exists(plugin("smtp")) or not os.path.exists(plugin("file")):
        raise unittest.SkipTest("TK_PLUGIN_DIR has no smtp.so/file.so")
    BUILD = tempfile.mkdtemp(prefix="tk-transports-")
    DRIVER = os.path.join(BUILD, "driver")
    cmd = ["gcc", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-g",
           "-I" + os.path.join(tkharness.SOURCE, "include"), "-o", DRIVER, DRIVER_SRC, "-ldl"]
    # A sanitized plugin can only be loaded into a sanitized program.
    needed = subprocess.run(["readelf", "-d", plugin("smtp")], capture_output=True, text=True).stdout
    if "libasan" in needed:
        cmd[1:1] = ["-fsanitize=address,undefined"]
    subprocess.run(cmd, check=True)


def tearDownModule():
    if BUILD:
        shutil.rmtree(BUILD, True)


def message(rcpt, body="Hello.\r\n", subject="Test"):
    return ("From: Bakker & Co <office@bakker.example>\r\n"
            "To: <%s>\r\n"
            "Subject: %s\r\n"
            "Message-ID: <%s@tickler.example>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "\r\n" % (rcpt, subject, re.sub(r"\W", ".", rcpt + subject)) + body).encode()


class Run:
    def __init__(self, cp):
        self.rc = cp.returncode
        self.out = cp.stdout
        self.err = cp.stderr
        self.sent = []
        for line in cp.stdout.splitlines():
            if line.startswith("SENT "):
                _, i, status, code, reply = (line.split(" ", 4) + [""])[:5]
                self.sent.append((int(status), int(code), reply))

    def __repr__(self):
        return "rc=%d\nstdout=%s\nstderr=%s" % (self.rc, self.out, self.err)


class DriverCase(unittest.TestCase):
    def tmp(self):
        d = tempfile.mkdtemp(prefix="tk-tr-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def write_messages(self, folder, msgs):
        """MSGS: [(rcpt, bytes)] -> ["rcpt=path"]."""
        specs = []
        for i, (rcpt, data) in enumerate(msgs):
            p = os.path.join(folder, "in-%03d.eml" % i)
            with open(p, "wb") as f:
                f.write(data)
            specs.append("%s=%s" % (rcpt, p))
        return specs

    def drive(self, name, config, msgs, flags=(), cwd=None, timeout=60, sender="office@bakker.example"):
        specs = self.write_messages(self.tmp(), msgs)
        args = [DRIVER] + list(flags) + [plugin(name)]
        args += ["%s=%s" % kv for kv in config.items()] + ["--", sender] + specs
        return Run(subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd))


class ExportTest(unittest.TestCase):
    def test_only_entry_is_exported(self):
        for name in ("smtp", "file"):
            out = subprocess.run(["nm", "-D", "--defined-only", plugin(name)],
                                 capture_output=True, text=True, check=True).stdout
            syms = {l.split()[-1] for l in out.splitlines() if l.strip()}
            syms -= {"_init", "_fini", "_edata", "_end", "__bss_start"}
            self.assertEqual(syms, {"tk_plugin_entry"}, name)


class SmtpTest(DriverCase):
    """Runs with the default configuration (pipelining = auto: the native
    client, since tls = none and no username); subclasses repeat every test
    with pipelining = off (libcurl) and explicitly auto."""
    PIPELINING = None

    def drive(self, name, config, msgs, **kw):
        if name == "smtp" and self.PIPELINING and config:
            config = dict({"pipelining": self.PIPELINING}, **config)
        return DriverCase.drive(self, name, config, msgs, **kw)

    def test_batch_is_one_session(self):
        srv = SmtpServer(self)
        body = "Line one.\r\n.starts with a dot\r\n..two dots\r\n" + "x" * 998 + "\r\n"
        msgs = [("ann@acme.example", message("ann@acme.example", body)),
                ("bob@acme.example", message("bob@acme.example")),
                ("cy@beta.example", message("cy@beta.example", "B\r\n" * 20000))]
        r = self.drive("smtp", {"url": srv.url}, msgs)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual([s for s, _, _ in r.sent], [DELIVERED] * 3, r)
        self.assertEqual([c for _, c, _ in r.sent], [250] * 3, r)
        self.assertIn("250", r.sent[0][2])
        env = srv.envelopes()
        self.assertEqual(len(env), 3)
        self.assertEqual(len({e["session"] for e in env}), 1, "not one SMTP session: %r" % env)
        for e, (rcpt, data) in zip(env, msgs):
            self.assertEqual(e["rcpt_tos"], [rcpt])
            self.assertEqual(e["mail_from"], "office@bakker.example")
            self.assertEqual(e["raw"], data)  # dot-stuffing undone, bytes intact
        srv.messages()  # parses without defects

    def test_550_is_permanent_and_next_message_goes_out(self):
        srv = SmtpServer(self, "--fail-rcpt", "gone@acme.example=550")
        msgs = [(a, message(a)) for a in ("ann@acme.example", "gone@acme.example", "bob@acme.example")]
        r = self.drive("smtp", {"url": srv.url}, msgs)
        self.assertEqual([s for s, _, _ in r.sent], [DELIVERED, PERMANENT, DELIVERED], r)
        status, code, reply = r.sent[1]
        self.assertEqual(code, 550)
        self.assertIn("550", reply)
        self.assertIn("gone@acme.example", reply)
        self.assertEqual([e["rcpt_tos"] for e in srv.envelopes()],
                         [["ann@acme.example"], ["bob@acme.example"]])

    def test_451_is_temporary(self):
        srv = SmtpServer(self, "--fail-rcpt", "busy@acme.example=451")
        r = self.drive("smtp", {"url": srv.url}, [("busy@acme.example", message("busy@acme.example"))])
        self.assertEqual(r.sent, [(TEMPORARY, 451, r.sent[0][2])], r)
        self.assertIn("451", r.sent[0][2])
        self.assertEqual(srv.envelopes(), [])

    def test_outage_codes(self):
        for code, want in ((421, TEMPORARY), (554, PERMANENT)):
            srv = SmtpServer(self, "--fail-all", str(code))
            r = self.drive("smtp", {"url": srv.url}, [("ann@acme.example", message("ann@acme.example"))])
            self.assertEqual(len(r.sent), 1, r)
            self.assertEqual(r.sent[0][:2], (want, code), r)
            self.assertIn(str(code), r.sent[0][2])

    def test_closed_port_is_temporary(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        msgs = [(a, message(a)) for a in ("ann@acme.example", "bob@acme.example")]
        r = self.drive("smtp", {"url": "smtp://127.0.0.1:%d" % port}, msgs)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual([(s, c) for s, c, _ in r.sent], [(TEMPORARY, 0)] * 2, r)
        self.assertRegex(r.sent[0][2], r"(?i)connect")

    def test_timeout_after_body_is_unknown(self):
        srv = SmtpServer(self, "--delay", "4")
        r = self.drive("smtp", {"url": srv.url, "timeout_seconds": "1"},
                       [("ann@acme.example", message("ann@acme.example"))])
        self.assertEqual(len(r.sent), 1, r)
        self.assertEqual(r.sent[0][:2], (UNKNOWN, 0), r)
        self.assertIn("after the message was sent", r.sent[0][2])

    def test_server_restart_mid_batch(self):
        srv = SmtpServer(self)
        first = srv.dir
        msgs = [(a, message(a)) for a in ("ann@acme.example", "bob@acme.example", "cy@acme.example")]
        specs = self.write_messages(self.tmp(), msgs)
        extra = ["pipelining=" + self.PIPELINING] if self.PIPELINING else []
        p = subprocess.Popen([DRIVER, "--step", plugin("smtp"), "url=" + srv.url] + extra + ["--",
                              "office@bakker.example"] + specs,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.wait, 30)
        lines = []

        def step():
            line = p.stdout.readline()
            self.assertTrue(line.startswith("READY"), line)
            p.stdin.write("go\n")
            p.stdin.flush()
            lines.append(p.stdout.readline().split(" ", 4))

        step()
        srv.stop()                    # the cached connection dies with it
        second = srv.dir = self.tmp()  # the new server numbers from 1 again
        srv.start()                   # same port
        step()
        step()
        p.stdin.close()
        self.assertEqual(p.wait(30), 0)
        p.stdout.close()
        statuses = [int(l[2]) for l in lines]
        self.assertEqual(statuses[0], DELIVERED, lines)
        # curl notices the dead connection and reconnects; if it cannot tell,
        # the failed message is at worst TEMPORARY, never lost or PERMANENT.
        self.assertIn(statuses[1], (DELIVERED, TEMPORARY), lines)
        self.assertEqual(statuses[2], DELIVERED, lines)
        srv.dir = first
        self.assertEqual([e["rcpt_tos"] for e in srv.envelopes()], [["ann@acme.example"]])
        srv.dir = second
        after = [e["rcpt_tos"][0] for e in srv.envelopes()]
        want = [a for (a, _), st in zip(msgs[1:], statuses[1:]) if st == DELIVERED]
        self.assertEqual(after, want)

    def test_helo_and_tls_none(self):
        srv = SmtpServer(self)
        r = self.drive("smtp", {"url": srv.url, "helo": "mail.bakker.example", "tls": "none",
                                "connect_timeout_seconds": "5"},
                       [("ann@acme.example", message("ann@acme.example"))])
        self.assertEqual(r.sent[0][0], DELIVERED, r)

    def test_starttls_required_but_not_offered(self):
        srv = SmtpServer(self)
        r = self.drive("smtp", {"url": srv.url, "tls": "starttls"},
                       [("ann@acme.example", message("ann@acme.example"))])
        # no server verdict: reply code 0, which the engine reads as "down"
        self.assertEqual(r.sent[0][:2], (TEMPORARY, 0), r)
        self.assertIn("STARTTLS", r.sent[0][2])
        self.assertEqual(srv.envelopes(), [])

    def test_invalid_envelope_is_refused_locally(self):
        srv = SmtpServer(self)
        r = self.drive("smtp", {"url": srv.url},
                       [("ann@acme.example>\r\nRSET", message("x@acme.example"))])
        self.assertEqual(r.sent[0][0], PERMANENT, r)
        self.assertEqual(srv.envelopes(), [])

    def test_config_errors_name_the_key(self):
        cases = [({}, "url"),
                 ({"url": "ftp://x"}, "url"),
                 ({"url": "smtp://"}, "url"),
                 ({"url": "smtp://h:25", "tls": "maybe"}, "tls"),
                 ({"url": "smtps://h:465", "tls": "none"}, "tls"),
                 ({"url": "smtp://h:25", "timeout_seconds": "abc"}, "timeout_seconds"),
                 ({"url": "smtp://h:25", "connect_timeout_seconds": "0"}, "connect_timeout_seconds"),
                 ({"url": "smtp://h:25", "password": "x"}, "password"),
                 ({"url": "smtp://h:25", "username": "x"}, "username"),
                 ({"url": "smtp://h:25", "ca_file": "/nonexistent/ca.pem"}, "ca_file"),
                 ({"url": "smtp://h:25", "helo": "a b"}, "helo"),
                 ({"url": "smtp://h:25", "pipelining": "on"}, "pipelining")]
        for config, key in cases:
            r = self.drive("smtp", config, [])
            self.assertEqual(r.rc, 3, "%r: %r" % (config, r))
            self.assertTrue(r.out.startswith("INIT-FAILED %d " % TK_EINVAL), r)
            self.assertIn("[transport] %s:" % key, r.out, config)


class SmtpCurlTest(SmtpTest):
    PIPELINING = "off"


class SmtpAutoTest(SmtpTest):
    PIPELINING = "auto"


class Script:
    """A scripted SMTP server on 127.0.0.1 for what aiosmtpd cannot show:
    it offers PIPELINING and answers the envelope only once MAIL, RCPT and
    DATA have all arrived, so a client that waits for each reply hangs
    (and times out) instead of passing.  ACT(session, n, rcpt) picks what
    happens to message n: "ok", "refuse-rcpt", "421-mail", "drop-after-body".
    Every line received is kept per session in self.log."""

    def __init__(self, tc, act=lambda s, n, rcpt: "ok", pipelining=True):
        import threading
        self.act, self.pipelining = act, pipelining
        self.log, self.bodies = [], []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.url = "smtp://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.done = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        tc.addCleanup(self.stop)

    def stop(self):
        self.done = True
        self.thread.join(10)
        self.sock.close()

    def serve(self):
        while not self.done:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(10)
                try:
                    self.session(conn, len(self.log))
                except (OSError, EOFError):
                    pass

    def session(self, conn, sid):
        log = []
        self.log.append(log)
        f = conn.makefile("rb")

        def line():
            l = f.readline()
            if not l:
                raise EOFError
            log.append(l.rstrip(b"\r\n").decode())
            return log[-1]

        conn.sendall(b"220 script ESMTP\r\n")
        self.assert_cmd(line(), "EHLO ")
        conn.sendall(b"250-script\r\n250-SIZE 1000000\r\n" +
                     (b"250-PIPELINING\r\n" if self.pipelining else b"") + b"250 8BITMIME\r\n")
        while True:
            cmd = line()
            if cmd == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            if cmd == "RSET":
                conn.sendall(b"250 reset\r\n")
                continue
            self.assert_cmd(cmd, "MAIL FROM:<")
            if self.pipelining:
                rcpt = line()
                data = line()
            act = self.act(sid, len(self.bodies), log[-2] if self.pipelining else None)
            if act == "421-mail":
                conn.sendall(b"421 shutting down\r\n")
                return
            if not self.pipelining:
                conn.sendall(b"250 sender ok\r\n")
                rcpt = line()
                conn.sendall(b"250 rcpt ok\r\n")
                data = line()
            self.assert_cmd(rcpt, "RCPT TO:<")
            self.assert_cmd(data, "DATA")
            if act == "refuse-rcpt":
                conn.sendall((b"250 sender ok\r\n" if self.pipelining else b"") +
                             b"550 5.1.1 no such user\r\n" + b"554 no valid recipients\r\n")
                continue
            conn.sendall((b"250 sender ok\r\n250 rcpt ok\r\n" if self.pipelining else b"") +
                         b"354 go ahead\r\n")
            body = b""
            while True:
                l = f.readline()
                if not l:
                    raise EOFError
                if l == b".\r\n":
                    break
                body += l[1:] if l.startswith(b".") else l
            self.bodies.append(body)
            if act == "drop-after-body":
                return
            conn.sendall(b"250 2.0.0 queued as %d\r\n" % len(self.bodies))

    @staticmethod
    def assert_cmd(got, want):
        if not got.startswith(want):
            raise EOFError("expected %r, got %r" % (want, got))


class SmtpWireTest(DriverCase):
    """The native client (pipelining = auto) against Script."""

    def drive_script(self, srv, msgs, **config):
        return self.drive("smtp", dict({"url": srv.url, "timeout_seconds": "5"}, **config), msgs)

    def test_pipelined_batch_one_session_exact_bytes(self):
        srv = Script(self)
        body = ".leading dot\r\nmiddle\r\n..two\r\n.\r\nlast line without CRLF"
        msgs = [("ann@acme.example", message("ann@acme.example", body)),
                ("bob@acme.example", message("bob@acme.example", "x" * 70000 + "\r\n"))]
        r = self.drive_script(srv, msgs)
        self.assertEqual([(s, c) for s, c, _ in r.sent], [(DELIVERED, 250)] * 2, r)
        self.assertEqual(r.sent[1][2], "250 2.0.0 queued as 2")
        self.assertEqual(len(srv.log), 1, srv.log)
        self.assertEqual(srv.bodies[0], msgs[0][1] + b"\r\n")  # the missing CRLF is added
        self.assertEqual(srv.bodies[1], msgs[1][1])
        log = srv.log[0]
        self.assertEqual(log[0], "EHLO " + log[0].split()[1])
        self.assertIn("RCPT TO:<bob@acme.example>", log)
        self.assertEqual(log[-1], "QUIT")

    def test_pipelining_off_uses_curl(self):
        # Script answers MAIL only once RCPT and DATA are in: curl waits for
        # each reply, so it cannot get through (a timeout, not a delivery).
        srv = Script(self)
        r = self.drive_script(srv, [("ann@acme.example", message("ann@acme.example"))],
                              pipelining="off", timeout_seconds="2")
        self.assertEqual(r.sent[0][0], TEMPORARY, r)
        self.assertEqual(srv.bodies, [])

    def test_no_pipelining_offered_one_command_at_a_time(self):
        srv = Script(self, pipelining=False)
        msgs = [(a, message(a)) for a in ("ann@acme.example", "bob@acme.example")]
        r = self.drive_script(srv, msgs)
        self.assertEqual([s for s, _, _ in r.sent], [DELIVERED] * 2, r)
        self.assertEqual(srv.bodies, [d for _, d in msgs])
        self.assertEqual(len(srv.log), 1)

    def test_refused_rcpt_is_permanent_then_rset(self):
        srv = Script(self, act=lambda s, n, rcpt: "refuse-rcpt" if rcpt and "gone" in rcpt else "ok")
        msgs = [(a, message(a)) for a in ("gone@acme.example", "bob@acme.example")]
        r = self.drive_script(srv, msgs)
        self.assertEqual(r.sent[0][:2], (PERMANENT, 550), r)
        self.assertEqual(r.sent[0][2], "550 5.1.1 no such user")
        self.assertEqual(r.sent[1][:2], (DELIVERED, 250), r)
        self.assertEqual(len(srv.log), 1, srv.log)
        log = srv.log[0]
        self.assertEqual(log[log.index("DATA") + 1], "RSET", log)
        self.assertEqual(srv.bodies, [msgs[1][1]])

    def test_lost_after_body_is_unknown_then_reconnects(self):
        srv = Script(self, act=lambda s, n, rcpt: "drop-after-body" if n == 0 else "ok")
        msgs = [(a, message(a)) for a in ("ann@acme.example", "bob@acme.example")]
        r = self.drive_script(srv, msgs)
        self.assertEqual(r.sent[0][:2], (UNKNOWN, 0), r)
        self.assertIn("after the message was sent", r.sent[0][2])
        self.assertEqual(r.sent[1][:2], (DELIVERED, 250), r)
        self.assertEqual(len(srv.log), 2, srv.log)

    def test_421_is_temporary_and_connection_dropped(self):
        srv = Script(self, act=lambda s, n, rcpt: "421-mail" if s == 0 else "ok")
        msgs = [(a, message(a)) for a in ("ann@acme.example", "bob@acme.example")]
        r = self.drive_script(srv, msgs)
        self.assertEqual(r.sent[0][:2], (TEMPORARY, 421), r)
        self.assertIn("421 shutting down", r.sent[0][2])
        self.assertEqual(r.sent[1][:2], (DELIVERED, 250), r)
        self.assertEqual(len(srv.log), 2, srv.log)
        self.assertNotIn("RSET", srv.log[0])

    def test_silent_server_times_out_temporary(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)  # accepts (in the kernel) but never greets
        self.addCleanup(s.close)
        r = self.drive("smtp", {"url": "smtp://127.0.0.1:%d" % s.getsockname()[1],
                                "connect_timeout_seconds": "1"},
                       [("ann@acme.example", message("ann@acme.example"))])
        self.assertEqual(r.sent[0][:2], (TEMPORARY, 0), r)
        self.assertIn("timed out", r.sent[0][2])

    @unittest.skipUnless(shutil.which("smtp-sink") or os.path.exists("/usr/sbin/smtp-sink"),
                         "postfix smtp-sink not installed")
    def test_postfix_smtp_sink(self):
        sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        out = os.path.join(self.tmp(), "sink.out")
        with open(out, "wb") as f:
            p = subprocess.Popen([sink, "-c"] + (["-u", "nobody"] if os.geteuid() == 0 else []) +
                                 ["127.0.0.1:%d" % port, "10"], stdout=f, stderr=subprocess.STDOUT)
        self.addCleanup(p.wait, 10)
        self.addCleanup(p.terminate)
        import time
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        msgs = [("r%d@acme.example" % i, message("r%d@acme.example" % i)) for i in range(50)]
        r = self.drive("smtp", {"url": "smtp://127.0.0.1:%d" % port}, msgs)
        self.assertEqual([s for s, _, _ in r.sent], [DELIVERED] * 50, r)
        time.sleep(0.2)
        p.terminate()
        p.wait(10)
        with open(out, "rb") as f:
            counters = [x for x in f.read().decode().replace("\r", "\n").split("\n")
                        if x.startswith("sess=")]
        fields = dict(kv.split("=") for kv in counters[-1].split())
        self.assertEqual(int(fields["mesg"]), 50, counters)
        self.assertEqual(int(fields["sess"]), 2, counters)  # the probe above, then one session


class FileTest(DriverCase):
    def spool(self, folder):
        return sorted(os.path.basename(p) for p in glob.glob(os.path.join(folder, "*.eml")))

    def deliver_ids(self, d, mids):
        """One message a Message-ID of MIDS (message I's body "n=I"), sent
        in one connection into the spool D; every one must be delivered.
        Returns the run and the driver's specs."""
        src, specs = self.tmp(), []
        for i, mid in enumerate(mids):
            p = os.path.join(src, "in-%03d.eml" % i)
            with open(p, "wb") as f:
                f.write(message("r%d@acme.example" % i, "n=%d\r\n" % i))
            specs.append("r%d@acme.example=%s=%s" % (i, p, mid))
        r = Run(subprocess.run([DRIVER, plugin("file"), "dir=" + d, "fsync=off", "--",
                                "office@bakker.example"] + specs, capture_output=True, text=True, timeout=60))
        self.assertEqual([s for s, _, _ in r.sent], [DELIVERED] * len(specs), r)
        return r, specs

    def test_messages_land_whole_and_in_order(self):
        d = self.tmp()
        msgs = [("r%d@acme.example" % i, message("r%d@acme.example" % i, "Body %d\r\n" % i * (1 + 7000 * (i == 2))))
                for i in range(5)]
        r = self.drive("file", {"dir": d}, msgs)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual([s for s, _, _ in r.sent], [DELIVERED] * 5, r)
        names = self.spool(d)
        self.assertEqual(len(names), 5)
        for n in names:
            self.assertRegex(n, r"^\d{20}-\d+-\d{6}\.eml$")
        for n, (_, data) in zip(names, msgs):
            with open(os.path.join(d, n), "rb") as f:
                # the envelope sender first, as a delivery agent writes it
                self.assertEqual(f.read(), b"Return-Path: <office@bakker.example>\r\n" + data)
        self.assertEqual(os.listdir(os.path.join(d, "tmp")), [])
        self.assertEqual(sorted(os.listdir(d)), sorted(names + ["tmp"]))

    def test_names_from_message_ids(self):
        """docs/transports.md: a file's name comes from tickler's own
        Message-ID, in the form made since 2026-12 ("<" seconds in base 36
        "." 5-digit count "." 128 random bits as 26 base-32 digits "@"
        domain ">") and in the older one of rows stored before it ("<" 32
        hex "." seconds "@" domain ">"), which keeps its name: <the second
        in ns, 20 digits>-<the 128 bits as 32 hex digits>.  The same ID
        again renames over its file.  Any other form, near misses included,
        is named by the time of writing."""
        hexa = "0123456789abcdef" * 2
        b32 = "7vvvvvvvvvvvvvvvvvvvvvvvvv"  # all 128 bits set
        b32b = "0123456789abcdefghijklmnop"
        t = int("tpczo0", 36)
        own = {"<%s.tpczo0@acme.example>" % hexa: "%020d-%s.eml" % (t * 10**9, hexa),
               "<tpczo0.0002s.%s@acme.example>" % b32: "%020d-%s.eml" % (t * 10**9, "f" * 32),
               "<1.00000.%s@a.example>" % b32b: "%020d-%032x.eml" % (10**9, int(b32b, 32))}
        other = ["<tpczo0.002s.%s@acme.example>" % b32b,     # a count of 4 digits
                 "<tpczo0.0002s.%s@acme.example>" % b32b[:25],  # 25 base-32 digits
                 "<tpczo0.0002s.%s0@acme.example>" % b32b,   # 27
                 "<tpczo0.0002s.8%s@acme.example>" % b32b[1:],  # past 128 bits
                 "<tpczo0.0002s.%sw@acme.example>" % b32b[:25],  # not base 32
                 "<tpczo0.0002s.%s@acme.example>" % b32b.upper(),
                 "<tpczo000.0002s.%s@acme.example>" % b32b,  # 8 digits of time
                 "<tpczo0.0002s.%s@acme.example>" % hexa,    # 32 hex digits
                 "<%s.tpczo0.0002s@acme.example>" % hexa,    # parts in another order
                 "<%s@acme.example>" % hexa]
        self.assertEqual("%032x" % int(b32b, 32), "0110c8531d0952d8d73e1194e95b5f19")
        d = self.tmp()
        r, specs = self.deliver_ids(d, list(own) + other + list(own))
        names = self.spool(d)
        self.assertEqual(len(names), len(own) + len(other), names)
        for mid, name in own.items():
            self.assertIn(name, names, mid)
        want = list(own.values())
        for i, (_, _, reply) in enumerate(r.sent):
            if i < len(own) or i >= len(own) + len(other):
                self.assertEqual(reply, "written %s/%s" % (os.path.realpath(d), want[i % (len(own) + len(other))]))
        timed = [n for n in names if n not in want]
        self.assertEqual(len(timed), len(other))
        for n in timed:
            self.assertRegex(n, r"^\d{20}-\d+-\d{6}\.eml$")
        # each repeat of an ID replaced its file: the text of the second send
        for k, name in enumerate(want):
            with open(os.path.join(d, name), "rb") as f:
                self.assertIn(b"n=%d\r\n" % (len(own) + len(other) + k), f.read())

    def test_names_as_their_formula(self):
        """The names built by hand (file.c: the second's 11 digits and nine
        zeros, the 26 base-32 digits to hex five bits at a time) against
        the formula of the docs, "%020d-%032x" of the second in ns and the
        128 bits, for random IDs tickler could make: times of 1-7 base-36
        digits up to the 20-digit limit (9999999999 s) and just past it,
        which is named by the time of writing."""
        rnd = random.Random(17)
        b32a = "0123456789abcdefghijklmnopqrstuv"
        b36a = "0123456789abcdefghijklmnopqrstuvwxyz"

        def b36(v):
            s = ""
            while True:
                s, v = b36a[v % 36] + s, v // 36
                if not v:
                    return s
        times = [1, 35, 36, 9999999999, 10000000000, 36**7 - 1] + [rnd.randrange(1, 36**6) for _ in range(40)]
        d, mids, want = self.tmp(), [], {}
        for i, t in enumerate(times):
            digits = b32a[rnd.randrange(8)] + "".join(rnd.choice(b32a) for _ in range(25))
            mids.append("<%s.%s.%s@acme.example>" % (b36(t), "".join(rnd.choice(b36a) for _ in range(5)), digits))
            if t <= 9999999999:
                want[i] = "%020d-%032x.eml" % (t * 10**9, int(digits, 32))
        r, specs = self.deliver_ids(d, mids)
        for i, (_, _, reply) in enumerate(r.sent):
            if i in want:
                self.assertEqual(reply, "written %s/%s" % (os.path.realpath(d), want[i]), specs[i])
            else:
                self.assertRegex(reply, r"/\d{20}-\d+-\d{6}\.eml$", specs[i])
        self.assertEqual(len(self.spool(d)), len(specs))

    def test_mode_0640_whatever_the_umask(self):
        # O_CREAT gives 0640 when the umask leaves it whole; else an fchmod
        # does (file.c): the same mode and the same bytes either way
        for mask in (0o000, 0o022, 0o027, 0o277, 0o077):
            d = self.tmp()
            data = message("u@acme.example", "Body\r\n" * 900)
            old = os.umask(mask)
            try:
                r = self.drive("file", {"dir": d, "fsync": "off"}, [("u@acme.example", data)])
                r2 = self.drive("file", {"dir": d, "fsync": "off"}, [("v@acme.example", data)], sender="")
            finally:
                os.umask(old)
            self.assertEqual([s for s, _, _ in r.sent + r2.sent], [DELIVERED] * 2, r)
            names = self.spool(d)
            self.assertEqual(len(names), 2)
            for n in names:
                self.assertEqual(oct(os.stat(os.path.join(d, n)).st_mode & 0o7777), oct(0o640),
                                 "%s under umask %03o" % (n, mask))
            with open(os.path.join(d, names[0]), "rb") as f:
                self.assertEqual(f.read(), b"Return-Path: <office@bakker.example>\r\n" + data)
            with open(os.path.join(d, names[1]), "rb") as f:
                self.assertEqual(f.read(), data)  # no envelope sender: no Return-Path

    def test_fsync_off_and_relative_dir(self):
        base = self.tmp()
        os.mkdir(os.path.join(base, "spool"))
        r = self.drive("file", {"dir": "spool", "fsync": "off"},
                       [("a@acme.example", message("a@acme.example"))], cwd=base)
        self.assertEqual(r.sent[0][0], DELIVERED, r)
        self.assertEqual(len(self.spool(os.path.join(base, "spool"))), 1)
        self.assertIn(os.path.join(base, "spool"), r.sent[0][2])

    def test_two_processes_never_collide(self):
        d = self.tmp()
        procs = []
        for who in ("a", "b"):
            msgs = [("%s%d@acme.example" % (who, i), message("%s%d@acme.example" % (who, i), "n=%d\r\n" % i))
                    for i in range(40)]
            specs = self.write_messages(self.tmp(), msgs)
            procs.append(subprocess.Popen([DRIVER, plugin("file"), "dir=" + d, "--", "o@x.example"] + specs,
                                          stdout=subprocess.PIPE, text=True))
        for p in procs:
            out, _ = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, out)
            self.assertEqual(out.count("SENT "), 40)
        names = self.spool(d)
        self.assertEqual(len(names), 80)
        by_pid = {}
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                m = re.search(rb"n=(\d+)", f.read())
            by_pid.setdefault(n.split("-")[1], []).append(int(m.group(1)))
        self.assertEqual(sorted(by_pid.values()), [list(range(40))] * 2)

    def test_config_errors_name_the_key(self):
        d = self.tmp()
        afile = os.path.join(d, "plain")
        open(afile, "w").close()
        for config, key in (({}, "dir"), ({"dir": os.path.join(d, "missing", "deeper")}, "dir"),
                            ({"dir": afile}, "dir"), ({"dir": d, "fsync": "maybe"}, "fsync")):
            r = self.drive("file", config, [])
            self.assertEqual(r.rc, 3, r)
            self.assertIn("[transport] %s:" % key, r.out)

    def test_missing_spool_folder_is_created(self):
        d = os.path.join(self.tmp(), "spool")
        r = self.drive("file", {"dir": d}, [("a@acme.example", message("a@acme.example"))])
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(len(self.spool(d)), 1)

    def test_unusable_tmp_fails_open_temporarily(self):
        d = self.tmp()
        open(os.path.join(d, "tmp"), "w").close()  # a file where the folder should be
        r = self.drive("file", {"dir": d}, [("a@acme.example", message("a@acme.example"))])
        self.assertEqual(r.rc, 4, r)
        self.assertTrue(r.out.startswith("OPEN-FAILED %d " % TK_ETEMP), r)
        self.assertIn("tmp", r.out)
        self.assertEqual(self.spool(d), [])

    def test_failed_write_is_temporary_and_leaves_nothing(self):
        d = self.tmp()
        big = message("big@acme.example", "x" * 5000 + "\r\n")
        small = message("small@acme.example")
        r = self.drive("file", {"dir": d}, [("big@acme.example", big), ("small@acme.example", small)],
                       flags=["--fsize", "2000"])
        self.assertEqual([s for s, _, _ in r.sent], [TEMPORARY, DELIVERED], r)
        self.assertIn("File too large", r.sent[0][2])
        self.assertEqual(len(self.spool(d)), 1)
        self.assertEqual(os.listdir(os.path.join(d, "tmp")), [])

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("mount"), "needs root to mount a tmpfs")
    def test_disk_full_is_temporary(self):
        d = self.tmp()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d],
                          capture_output=True).returncode != 0:
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(subprocess.run, ["umount", d])
        big = message("big@acme.example", "y" * 200000 + "\r\n")
        r = self.drive("file", {"dir": d}, [("big@acme.example", big)])
        self.assertEqual(r.sent[0][0], TEMPORARY, r)
        self.assertIn("No space left on device", r.sent[0][2])
        self.assertEqual(self.spool(d), [])
        self.assertEqual(os.listdir(os.path.join(d, "tmp")), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
