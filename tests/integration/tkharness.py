"""tkharness - what every integration test shares.

Drives the real `tickler` binary (TICKLER_BIN) with the real plugins
(TK_PLUGIN_DIR) in a throwaway folder, and starts real servers:

    t = Tickler(self)                       # file transport, fresh store
    t.ok("init")
    acc = t.ok("account", "add", "Acme").strip()
    t.ok("contact", "add", acc, "ann@example.com", "--name", "Ann")
    item = t.json("send", "invoice", "--account", acc, "--title", "Fees",
                  "--set", "amount=10.00", "--set", "currency=EUR")["id"]
    msgs = t.messages()                     # parsed, checked for defects

    srv = SmtpServer(self)                  # aiosmtpd on loopback
    t = Tickler(self, smtp=srv)

Every message read is parsed with email.policy.default and must have no
defects.
"""
import email
import email.policy
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sqlite3
import sys
import tempfile
import time
import unittest

BIN = os.environ.get("TICKLER_BIN", "tickler")
PLUGINS = os.environ.get("TK_PLUGIN_DIR", "")
SHARE = os.environ.get("TK_SHARE_DIR", "")
FIXTURES = os.environ.get("TK_FIXTURE_DIR", "")
SOURCE = os.environ.get("TK_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

DAY = 86400


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_iso(s):
    import calendar
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


T0 = parse_iso("2026-12-01T09:00:00Z")


def schema_versions():
    """The schema versions this tree's migrations apply, in order (core/db/schema.c's
    table; the numbers need not be dense while branches reserve some)."""
    with open(os.path.join(SOURCE, "core", "db", "schema.c")) as f:
        return sorted(int(m) for m in re.findall(r"(?m)^\s*\{(\d+),", f.read()))


def newest_schema_version():
    """The newest schema version this tree's migrations reach (core/db/schema.c's
    table), so that tests need no edit when a migration is added."""
    return schema_versions()[-1]


def at(days=0, hours=0, minutes=0, seconds=0):
    """ISO time DAYS/HOURS/... after 2026-12-01T09:00:00Z."""
    return iso(T0 + days * DAY + hours * 3600 + minutes * 60 + seconds)


def parse_message(raw, tc=None):
    """Parse RAW bytes with policy.default; fail TC on any defect."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = list(msg.defects)
    for part in msg.walk():
        defects.extend(part.defects)
    for name in msg.keys():
        h = msg[name]
        defects.extend(getattr(h, "defects", ()))
    if tc is not None:
        tc.assertEqual(defects, [], "message has defects: %r\n%s" % (defects, raw[:2000]))
    if b"\r\n" in raw:
        stripped = raw.replace(b"\r\n", b"")
        if tc is not None:
            tc.assertNotIn(b"\n", stripped, "bare LF in message")
            tc.assertNotIn(b"\r", stripped, "bare CR in message")
    return msg


def thread_stacks(pid):
    """What each thread of a process that hangs is doing: its name, state
    and system call from /proc, then its stack from gdb when gdb is
    installed and answers within 20 s (it does not attach to a
    ThreadSanitizer build).  A test that timed out waiting for the process
    prints it, so that a hang seen once on CI says where it was."""
    lines = []
    try:
        tids = sorted(os.listdir("/proc/%d/task" % pid), key=int)
    except OSError:
        return "(process %d has exited)" % pid
    for tid in tids:
        def read(name, tid=tid):
            try:
                with open("/proc/%d/task/%s/%s" % (pid, tid, name)) as f:
                    return f.read().strip()
            except OSError:
                return "?"
        state = [x for x in read("status").splitlines() if x.startswith("State:")]
        lines.append("thread %s %s: %s, wchan %s, syscall %s" % (
            tid, read("comm"), state[0][6:].strip() if state else "?", read("wchan"),
            read("syscall").split(" ")[0]))
    gdb = shutil.which("gdb")
    if gdb:
        try:
            r = subprocess.run([gdb, "-batch", "-nx", "-p", str(pid), "-ex", "thread apply all bt"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=20)
            lines.append(r.stdout.decode("utf-8", "replace"))
        except (OSError, subprocess.TimeoutExpired) as e:
            lines.append("(gdb: %s)" % e)
    return "\n".join(lines)


class Result:
    def __init__(self, cp):
        self.rc = cp.returncode
        self.out = cp.stdout
        self.err = cp.stderr

    def __repr__(self):
        return "rc=%d\nstdout=%s\nstderr=%s" % (self.rc, self.out, self.err)


class SmtpServer:
    """aiosmtpd on 127.0.0.1, capturing into a folder; stopped at cleanup."""

    def __init__(self, tc, *extra, port=0, folder=None):
        self.tc = tc
        self.dir = folder or tempfile.mkdtemp(prefix="tk-smtp-")
        self.extra = list(extra)
        self.proc = None
        self.port = port
        self.start()
        tc.addCleanup(self.stop)
        if folder is None:
            tc.addCleanup(shutil.rmtree, self.dir, True)

    def start(self):
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(HERE, "smtpd.py"), "--port", str(self.port), "--dir", self.dir] + self.extra,
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError("smtpd did not start: %r" % line)
        self.port = int(line.split()[1])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def envelopes(self):
        out = []
        for j in sorted(glob.glob(os.path.join(self.dir, "*.json"))):
            with open(j) as f:
                meta = json.load(f)
            with open(j[:-5] + ".eml", "rb") as f:
                meta["raw"] = f.read()
            out.append(meta)
        return out

    def messages(self):
        """[(rcpt_tos, EmailMessage)] in arrival order, each checked for defects."""
        return [(e["rcpt_tos"], parse_message(e["raw"], self.tc)) for e in self.envelopes()]

    def clear(self):
        for f in glob.glob(os.path.join(self.dir, "*")):
            os.unlink(f)


class Tickler:
    """A tickler deployment in a temporary folder."""

    def __init__(self, tc, smtp=None, extra_ini="", transport=None, language=None, init=True,
                 folder=None, store=None, dsn=None):
        self.tc = tc
        self.dir = folder or tempfile.mkdtemp(prefix="tk-")
        if folder is None:
            tc.addCleanup(shutil.rmtree, self.dir, True)
        self.spool = os.path.join(self.dir, "spool")
        os.makedirs(self.spool, exist_ok=True)
        self.config = os.path.join(self.dir, "tickler.ini")
        self.smtp = smtp
        lines = ["[store]"]
        store = store or os.environ.get("TK_TEST_STORE", "sqlite")
        self.store = store
        self.dsn = None
        if store == "postgres":
            # A fresh database per deployment on the server of DSN (else
            # $TK_TEST_DSN), dropped at cleanup: tests never see each
            # other's rows, as with a SQLite file per folder.
            import pgcluster
            self.dsn = pgcluster.create_database(dsn or os.environ["TK_TEST_DSN"])
            tc.addCleanup(pgcluster.drop_database, self.dsn)
            lines += ["driver = postgres", "dsn = " + self.dsn]
        else:
            lines += ["path = " + os.path.join(self.dir, "tickler.db")]
        lines += ["", "[transport]"]
        if smtp is not None:
            lines += ["plugin = smtp", "url = " + smtp.url]
        else:
            lines += ["plugin = file", "dir = " + self.spool]
        lines += ["from = Bakker & Co <office@bakker.example>", ""]
        lines += ["[firm]", "name = Bakker & Co Accountants", ""]
        if PLUGINS:
            lines += ["[plugins]", "dir = " + PLUGINS, ""]
        if SHARE:
            lines += ["[templates]", "dir = " + os.path.join(SHARE, "templates"), ""]
        self.ini = "\n".join(lines) + "\n" + extra_ini
        with open(self.config, "w") as f:
            f.write(self.ini)
        self.now = at(0)
        if init:
            self.ok("init")

    # -- running the binary ------------------------------------------------
    def run(self, *args, now=None, env=None, timeout=120, input=None):
        e = dict(os.environ)
        e.pop("TICKLER_NOW", None)
        e["TICKLER_CONFIG"] = self.config
        if env:
            e.update(env)
        cmd = [BIN]
        when = now if now is not None else self.now
        if when:
            cmd += ["--now", when]
        cmd += [str(a) for a in args]
        cp = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout, input=input)
        return Result(cp)

    def rows(self, sql):
        """Rows of SQL on this deployment's store, SQLite or PostgreSQL,
        as tuples; PostgreSQL's text values that are whole numbers come
        back as ints, as SQLite's do, and NULL as None."""
        if self.store == "postgres":
            import pgcluster

            def value(v):
                if v == "\\N":
                    return None
                return int(v) if v.lstrip("-").isdigit() else v
            return [tuple(value(v) for v in r) for r in pgcluster.rows(self.dsn, sql)]
        con = sqlite3.connect(os.path.join(self.dir, "tickler.db"))
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def execute(self, sql):
        """Run SQL (one or more statements that return nothing) on this
        deployment's store, SQLite or PostgreSQL, and commit: for a test
        that must make a store as an older tickler left it."""
        if self.store == "postgres":
            import pgcluster
            pgcluster.rows(self.dsn, sql)
            return
        con = sqlite3.connect(os.path.join(self.dir, "tickler.db"))
        try:
            con.executescript(sql)
            con.commit()
        finally:
            con.close()

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        self.tc.assertEqual(r.rc, 0, "tickler %s failed: %r" % (" ".join(map(str, args)), r))
        return r.out

    def fails(self, *args, rc=1, **kw):
        r = self.run(*args, **kw)
        self.tc.assertEqual(r.rc, rc, "tickler %s: expected exit %d: %r" % (" ".join(map(str, args)), rc, r))
        lines = [l for l in r.err.splitlines() if l.strip()]
        self.tc.assertTrue(lines and lines[-1].startswith("tickler: "), "no 'tickler: ' error line: %r" % r)
        return r.err

    def json(self, *args, **kw):
        r = self.run("--json", *args, **kw)
        self.tc.assertEqual(r.rc, 0, "tickler --json %s failed: %r" % (" ".join(map(str, args)), r))
        return json.loads(r.out)

    # -- fixtures --------------------------------------------------------------
    def account(self, name="Acme BV", language="en", contacts=(("ann@acme.example", "Ann Acme", True),),
                settings=()):
        """A new account NAME (LANGUAGE None: the deployment's default) with
        SETTINGS (`account add` options) and CONTACTS (email, name, notify)."""
        args = ["account", "add", name] + (["--language", language] if language else []) + list(settings)
        acc = self.ok(*args).strip()
        for email_, cname, notify in contacts:
            args = ["contact", "add", acc, email_]
            if cname:
                args += ["--name", cname]
            if not notify:
                args += ["--no-notify"]
            self.ok(*args)
        return acc

    def send(self, type_, account, title="Item", *extra, fields=None, now=None):
        args = ["send", type_, "--account", account, "--title", title]
        if fields is None and type_ == "invoice":
            fields = {"amount": "450.00", "currency": "EUR"}
        for k, v in (fields or {}).items():
            args += ["--set", "%s=%s" % (k, v)]
        args += list(extra)
        return self.json(*args, now=now)["id"]

    def show(self, item):
        return self.json("show", item)

    # -- messages ------------------------------------------------------------
    def spooled(self):
        """Raw .eml files in the spool, oldest first."""
        files = sorted(glob.glob(os.path.join(self.spool, "*.eml")), key=lambda p: (os.stat(p).st_mtime_ns, p))
        return files

    def messages(self):
        """Every message delivered so far (spool or SMTP), parsed and checked."""
        if self.smtp is not None:
            return [m for _, m in self.smtp.messages()]
        out = []
        for p in self.spooled():
            with open(p, "rb") as f:
                out.append(parse_message(f.read(), self.tc))
        return out

    def clear(self):
        if self.smtp is not None:
            self.smtp.clear()
        for p in glob.glob(os.path.join(self.spool, "*.eml")):
            os.unlink(p)


def body(msg):
    """The text/plain part of a parsed message."""
    return msg.get_body(("plain",)).get_content()


class MailCase(unittest.TestCase):
    """A case whose deployment (self.t) delivers to a real SMTP server (self.srv)."""

    def deploy(self, extra_ini=""):
        self.srv = SmtpServer(self)
        self.t = Tickler(self, smtp=self.srv, extra_ini=extra_ini)
        return self.t


def main():
    unittest.main(verbosity=2)
