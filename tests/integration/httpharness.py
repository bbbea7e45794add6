"""httpharness - a running `tickler run` (or `serve`) with [http] listen on
a free loopback port, and a small real HTTP client (http.client).

    t = Tickler(self, extra_ini=http_ini())     # see http_ini
    d = Daemon(self, t)                         # started, stopped at cleanup
    tok = d.token("ci", "write")
    st, hdrs, body = d.api("POST", "/api/v1/accounts", {"name": "Acme"}, token=tok)
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import time

from tkharness import BIN, thread_stacks


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_ini(port=None, extra=""):
    port = port or free_port()
    return "[http]\nlisten = 127.0.0.1:%d\n%s" % (port, extra)


class Daemon:
    def __init__(self, tc, t, command="run", start=True, pass_fds=()):
        self.tc = tc
        self.pass_fds = tuple(pass_fds)  # descriptors the daemon inherits
        self.t = t
        self.command = command
        self.port = None
        for line in t.ini.splitlines():
            if line.startswith("listen = "):
                self.port = int(line.rsplit(":", 1)[1])
        self.log = os.path.join(t.dir, "daemon-%d.log" % id(self))
        self.proc = None
        if start:
            self.start()
        tc.addCleanup(self.stop)

    def start(self, timeout=15):
        env = dict(os.environ)
        env.pop("TICKLER_NOW", None)
        env["TICKLER_CONFIG"] = self.t.config
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([BIN, self.command], env=env, stdout=subprocess.DEVNULL,
                                     stderr=self.logf, pass_fds=self.pass_fds)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.tc.fail("tickler %s exited: %s" % (self.command, self.read_log()))
            if "listening on" in self.read_log():
                return
            time.sleep(0.05)
        self.tc.fail("tickler %s did not listen: %s" % (self.command, self.read_log()))

    def read_log(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stop the daemon; returns the seconds it took."""
        if not self.proc or self.proc.poll() is not None:
            if self.proc and not self.logf.closed:
                self.logf.close()
            return 0.0
        t0 = time.time()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stacks = thread_stacks(self.proc.pid)
            self.proc.kill()
            self.proc.wait()
            self.logf.close()
            self.tc.fail("tickler %s did not stop within %d s\n%s\n%s"
                         % (self.command, timeout, self.read_log(), stacks))
        self.logf.close()
        return time.time() - t0

    def token(self, name, scope):
        out = self.t.ok("token", "add", name, "--scope", scope)
        return out.strip().splitlines()[-1]

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def api(self, method, path, body=None, token=None, headers=None, raw=None, conn=None):
        """(status, headers dict lower-cased, parsed JSON or text)."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c = conn or self.conn()
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            text = r.read().decode("utf-8", "replace")
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            if conn is None:
                c.close()
        if hdrs.get("content-type", "").startswith("application/json"):
            return r.status, hdrs, json.loads(text)
        return r.status, hdrs, text
