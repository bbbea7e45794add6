"""The smtp and file transport plugins, driven through the plugin ABI.

A small C driver (transport_driver.c, compiled here with gcc) dlopens the
built plugin from TK_PLUGIN_DIR exactly as the host does, gives it a minimal
struct tk_host whose config comes from key=value arguments, opens one batch
and sends the messages it is given.  The smtp plugin talks to a real
aiosmtpd (smtpd.py); the file plugin writes into real folders.
"""
import glob
import os
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
        p = subprocess.Popen([DRIVER, "--step", plugin("smtp"), "url=" + srv.url, "--",
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
                 ({"url": "smtp://h:25", "helo": "a b"}, "helo")]
        for config, key in cases:
            r = self.drive("smtp", config, [])
            self.assertEqual(r.rc, 3, "%r: %r" % (config, r))
            self.assertTrue(r.out.startswith("INIT-FAILED %d " % TK_EINVAL), r)
            self.assertIn("[transport] %s:" % key, r.out, config)


class FileTest(DriverCase):
    def spool(self, folder):
        return sorted(os.path.basename(p) for p in glob.glob(os.path.join(folder, "*.eml")))

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
                self.assertEqual(f.read(), data)
        self.assertEqual(os.listdir(os.path.join(d, "tmp")), [])
        self.assertEqual(sorted(os.listdir(d)), sorted(names + ["tmp"]))

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
