"""tickler.service's system call filter against what tickler really calls.

The unit (packaging/tickler.service.in) allows @system-service and denies
@privileged and @resources; a denied call kills the daemon with SIGSYS.
This runs the real binary under strace(1) as an unprivileged user, as the
service runs, through what a deployment does (init, send by file and by
SMTP with both clients, tick, check, run with sd_notify, SIGHUP, SIGTERM),
and checks every system call it made against the sets that systemd 252
itself expands (`systemd-analyze syscall-filter`)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import tkharness as h

UNIT = os.path.join(h.SOURCE, "packaging", "tickler.service.in")


def syscall_sets():
    """{"@name": set(calls)} with nested groups expanded."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                         check=True).stdout
    raw, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^(@[a-z-]+)$", line.strip()) if not line.startswith("    ") else None
        if m:
            cur = raw.setdefault(m.group(1), set())
            continue
        s = line.strip()
        if cur is not None and s and not s.startswith("#"):
            cur.add(s)

    def expand(name, seen=()):
        calls = set()
        for x in raw.get(name, ()):
            calls |= expand(x, seen + (name,)) if x.startswith("@") and x not in seen else {x}
        return calls

    return {name: expand(name) for name in raw}


def unit_filter():
    allow, deny = set(), set()
    with open(UNIT) as f:
        for line in f:
            m = re.match(r"SystemCallFilter=(~?)(.*)", line.strip())
            if m:
                (deny if m.group(1) else allow).update(m.group(2).split())
    return allow, deny


@unittest.skipUnless(shutil.which("strace") and shutil.which("systemd-analyze"),
                     "needs strace and systemd-analyze")
class ServiceSyscalls(unittest.TestCase):
    def setUp(self):
        libs = subprocess.run(["ldd", h.BIN], capture_output=True, text=True).stdout
        if "libasan" in libs or "libtsan" in libs:
            self.skipTest("a sanitizer runtime makes calls of its own")
        self.trace_dir = tempfile.mkdtemp(prefix="tk-strace-")
        self.addCleanup(shutil.rmtree, self.trace_dir, True)
        self.n = 0
        self.user = ["-u", "nobody"] if os.geteuid() == 0 else []

    def traced(self, t, *args, env=None):
        """Command line running ARGS of T's deployment under strace."""
        self.n += 1
        out = os.path.join(self.trace_dir, "trace.%d" % self.n)
        return ["strace", "-f", "-qq", "-o", out] + self.user + [h.BIN] + list(args)

    def run_traced(self, t, *args, env=None, rc=0):
        e = dict(os.environ, TICKLER_CONFIG=t.config, TICKLER_NOW=t.now)
        e.update(env or {})
        cp = subprocess.run(self.traced(t, *args), env=e, capture_output=True, text=True, timeout=120)
        self.assertEqual(cp.returncode, rc, cp)
        return cp.stdout

    def deployment(self, **kw):
        t = h.Tickler(self, init=False, **kw)
        if self.user:
            for dirpath, dirs, files in os.walk(t.dir):
                for p in [dirpath] + [os.path.join(dirpath, f) for f in files]:
                    os.chown(p, 65534, 65534)
        return t

    def called(self):
        calls = set()
        for name in os.listdir(self.trace_dir):
            with open(os.path.join(self.trace_dir, name)) as f:
                for line in f:
                    m = re.match(r"^\d+\s+([a-z0-9_]+)\(", line)
                    if m:
                        calls.add(m.group(1))
        return calls

    def test_calls_are_within_the_units_filter(self):
        srv = h.SmtpServer(self)
        for smtp_extra in ("", "pipelining = off\n"):
            t = self.deployment(smtp=srv, extra_ini="")
            if smtp_extra:
                t.ini = t.ini.replace("url = ", smtp_extra + "url = ")
                with open(t.config, "w") as f:
                    f.write(t.ini)
            self.run_traced(t, "init")
            acc = self.run_traced(t, "account", "add", "Acme").strip()
            self.run_traced(t, "contact", "add", acc, "ann@acme.example")
            self.run_traced(t, "send", "invoice", "--account", acc, "--title", "Fees", "--set",
                            "amount=10.00", "--set", "currency=EUR", "--reminders", "on")
            self.run_traced(t, "tick", env={"TICKLER_NOW": h.at(5)})
            self.run_traced(t, "check")
        self.assertGreaterEqual(len(srv.envelopes()), 4)

        # the file transport, and the daemon with sd_notify, SIGHUP, SIGTERM
        t = self.deployment()
        self.run_traced(t, "init")
        acc = self.run_traced(t, "account", "add", "Acme").strip()
        self.run_traced(t, "contact", "add", acc, "ann@acme.example")
        self.run_traced(t, "send", "chat", "--account", acc, "--title", "Hello", "--reminders", "on",
                        "--every", "1")
        sock_path = os.path.join(t.dir, "notify")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.bind(sock_path)
        os.chmod(sock_path, 0o777)
        s.settimeout(30)
        e = dict(os.environ, TICKLER_CONFIG=t.config, NOTIFY_SOCKET=sock_path)
        e.pop("TICKLER_NOW", None)
        p = subprocess.Popen(self.traced(t, "--now", h.at(3), "run"), env=e,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        self.assertIn(b"READY=1", s.recv(4096))
        os.kill(self.tracee_pid(p.pid), signal.SIGHUP)
        self.assertIn(b"RELOADING=1", s.recv(4096))
        self.assertIn(b"READY=1", s.recv(4096))
        time.sleep(0.3)
        os.kill(self.tracee_pid(p.pid), signal.SIGTERM)
        self.assertIn(b"STOPPING=1", s.recv(4096))
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertTrue(any(f.endswith(".eml") for f in os.listdir(t.spool)))

        calls = self.called()
        self.assertIn("sendmsg", calls)  # sd_notify
        self.assertIn("connect", calls)  # SMTP
        sets = syscall_sets()
        allow, deny = unit_filter()
        self.assertEqual(allow, {"@system-service"})
        self.assertEqual(deny, {"@privileged", "@resources"})
        allowed = set().union(*(sets[g] for g in allow))
        denied = set().union(*(sets[g] for g in deny))
        self.assertGreater(len(allowed), 100)
        self.assertEqual(sorted(calls & denied), [], "calls the unit's filter kills")
        self.assertEqual(sorted(calls - allowed), [], "calls outside @system-service")

    def tracee_pid(self, strace_pid):
        """The tickler process strace started (its child)."""
        for _ in range(100):
            try:
                with open("/proc/%d/task/%d/children" % (strace_pid, strace_pid)) as f:
                    kids = f.read().split()
                if kids:
                    return int(kids[0])
            except OSError:
                pass
            time.sleep(0.05)
        self.fail("no tickler under strace")


if __name__ == "__main__":
    h.main()
