"""What the delivery tests (test_delivery_*.py) share: a store with
thousands of queued messages made quickly, `tickler run` daemons as real
processes, and checks that every outbox row reached the SMTP server.

Messages are made by the real engine: contacts are inserted straight into
the SQLite store (thousands of `contact add` processes would take minutes),
then a few `send` commands notify every contact.  The sends run while the
SMTP port is still closed, so everything stays queued (connection refused is
a temporary failure); the server is started afterwards on that port.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time

import tkharness
from tkharness import BIN, SmtpServer, Tickler, at


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ClosedPort:
    """Stands in for an SmtpServer that is not running yet."""

    def __init__(self, port):
        self.port = port

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port


def delivery_ini(lease=3, poll=1, base=1, cap=2, connections=1, extra="", unrecorded=None):
    return ("[delivery]\nlease_seconds = %d\nretry_base_seconds = %d\nretry_cap_seconds = %d\n%s"
            "[scheduler]\npoll_seconds = %d\n[transport]\nconnections = %d\n%s"
            % (lease, base, cap, "unrecorded_max = %d\n" % unrecorded if unrecorded else "",
               poll, connections, extra))


def populate(tc, n_contacts, n_sends, ini, port=None):
    """A deployment whose outbox holds n_contacts * n_sends queued messages
    for an SMTP server on PORT (closed for now).  Returns (tickler, port)."""
    port = port or free_port()
    t = Tickler(tc, smtp=ClosedPort(port), extra_ini=ini)
    acc = int(t.ok("account", "add", "Many BV").strip())
    if getattr(t, "store", "sqlite") == "postgres":
        import pgcluster
        pgcluster.psql(t.dsn, "INSERT INTO contacts (account_id, email, name, notify, created_at) "
                       "SELECT %d, 'c' || lpad(i::text, 5, '0') || '@many.example', 'Contact ' || i, 1, 0 "
                       "FROM generate_series(0, %d) AS i" % (acc, n_contacts - 1))
        return _send_all(tc, t, acc, n_sends), port
    db = sqlite3.connect(os.path.join(t.dir, "tickler.db"), timeout=30)
    db.executemany("INSERT INTO contacts (account_id, email, name, notify, created_at) "
                   "VALUES (?, ?, ?, 1, 0)",
                   [(acc, "c%05d@many.example" % i, "Contact %d" % i) for i in range(n_contacts)])
    db.commit()
    db.close()
    return _send_all(tc, t, acc, n_sends), port


def copy_sqlite_store(t):
    """Copy T's SQLite store, its log copied in first, to copy.db beside
    it; (store path, copy path): os.replace(copy, store) puts the same rows
    back for a second run."""
    db = os.path.join(t.dir, "tickler.db")
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    copy = os.path.join(t.dir, "copy.db")
    shutil.copyfile(db, copy)
    return db, copy


def _send_all(tc, t, acc, n_sends):
    for s in range(n_sends):
        r = t.run("send", "invoice", "--account", acc, "--title", "Invoice %d" % s,
                  "--set", "amount=%d.00" % (100 + s), "--set", "currency=EUR")
        tc.assertEqual(r.rc, 0, r)
    return t


def _pg_rows(t, sql):
    """Rows of SQL on a PostgreSQL deployment, as lists of strings."""
    import pgcluster
    return [l.split("|") for l in pgcluster.psql(t.dsn, sql).splitlines() if l]


def outbox_states(t):
    """{state: count} straight from the store (cheap enough to poll)."""
    if getattr(t, "store", "sqlite") == "postgres":
        return {k: int(v) for k, v in _pg_rows(t, "SELECT CASE state WHEN 0 THEN 'queued' WHEN 1 THEN 'sent' "
                                               "ELSE 'dead' END, COUNT(*) FROM outbox GROUP BY state")}
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(t.dir, "tickler.db"), uri=True, timeout=30)
    try:
        return dict(db.execute("SELECT CASE state WHEN 0 THEN 'queued' WHEN 1 THEN 'sent' "
                               "ELSE 'dead' END, COUNT(*) FROM outbox GROUP BY state").fetchall())
    finally:
        db.close()


def leased(t):
    """Queued rows still under a lease (claimed, not given back)."""
    if getattr(t, "store", "sqlite") == "postgres":
        return int(_pg_rows(t, "SELECT COUNT(*) FROM outbox WHERE state = 0 AND lease_until > 0")[0][0])
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(t.dir, "tickler.db"), uri=True, timeout=30)
    try:
        return db.execute("SELECT COUNT(*) FROM outbox WHERE state = 0 AND lease_until > 0").fetchone()[0]
    finally:
        db.close()


class Daemon:
    """One `tickler run` process with its clock at NOW; stderr to a file."""

    def __init__(self, t, now=None, name="run"):
        self.t = t
        self.log = os.path.join(t.dir, "%s-%d.log" % (name, time.monotonic_ns()))
        env = dict(os.environ)
        env.pop("TICKLER_NOW", None)
        env["TICKLER_CONFIG"] = t.config
        self.errf = open(self.log, "wb")
        cmd = [BIN] + (["--now", now] if now else []) + ["run"]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=self.errf)
        t.tc.addCleanup(self.kill)

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.errf.closed:
            self.errf.close()

    def stop(self, timeout=10):
        """SIGTERM; returns (exit status, seconds taken)."""
        t0 = time.monotonic()
        self.signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stacks = tkharness.thread_stacks(self.proc.pid)
            self.kill()
            self.t.tc.fail("tickler run did not stop within %d s of SIGTERM\n%s\n%s"
                           % (timeout, self.text(), stacks))
        self.errf.close()
        return rc, time.monotonic() - t0

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")


def wait_for(pred, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def check_delivered(tc, t, srv):
    """Every outbox row sent and on the server; every delivery is a known
    row's Message-ID for that row's recipient.  Returns (rows, deliveries,
    duplicates)."""
    rows = t.json("outbox")
    by_mid = {r["message_id"]: r for r in rows}
    tc.assertEqual(len(by_mid), len(rows), "a Message-ID was given to two outbox rows")
    tc.assertEqual(len({(r["kind"], r["item"], r["step"], r["recipient"]) for r in rows}), len(rows))
    stuck = [r for r in rows if r["state"] != "sent"]
    tc.assertEqual(stuck, [], "rows not sent")
    seen = {}
    envs = srv.envelopes()
    for env in envs:
        head = env["raw"].split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
        mids = [l.split(":", 1)[1].strip() for l in head.split("\r\n") if l.lower().startswith("message-id:")]
        tc.assertEqual(len(mids), 1, head)
        mid = mids[0].strip("<>")
        row = by_mid.get(mid) or by_mid.get("<%s>" % mid)
        tc.assertIsNotNone(row, "delivered message %s matches no outbox row" % mid)
        tc.assertEqual(env["rcpt_tos"], [row["recipient"]])
        seen[row["id"]] = seen.get(row["id"], 0) + 1
    missing = [r["id"] for r in rows if r["id"] not in seen]
    tc.assertEqual(missing, [], "sent rows never reached the server")
    return len(rows), len(envs), len(envs) - len(seen)


def report(name, **kv):
    """One line of measured numbers in the test log."""
    print("\nMEASURED %s: %s" % (name, json.dumps(kv, sort_keys=True)), flush=True)
