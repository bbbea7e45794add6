#!/usr/bin/python3
"""A real SMTP server for the tests: Debian's aiosmtpd, capturing to a folder.

    /usr/bin/python3 smtpd.py --port 0 --dir DIR [--fail-rcpt ADDR=CODE]...
                              [--fail-all CODE] [--delay SECONDS]
                              [--hang-after-data] [--hang-on-quit] [--smtputf8]
                              [--fail-rcpt-raw ADDR=HEX]... [--lease-db PATH]

Prints "READY <port>" on stdout once it listens.  Every accepted message is
written atomically as DIR/<seq>.eml (the DATA as received) with DIR/<seq>.json
beside it ({"mail_from", "rcpt_tos", "session", "peer", "mail_at": the real
time MAIL FROM arrived, as time.time(); "data_at": the real time the body was
answered, after --delay}), one file pair per message.
--lease-db reads, at each accepted RCPT TO, that recipient's queued outbox
row's lease_until from the SQLite store PATH (read-only) into the .json's
"lease_until" (the largest; 0 if none): what was left of the sender's lease
when it started the message (test_delivery_crash).  --fail-rcpt answers RCPT TO for ADDR with CODE (e.g. 550 or 451);
--fail-rcpt-raw answers RCPT TO for ADDR with the reply line HEX
(hex-encoded bytes, so that a test can send bytes that are not UTF-8);
--fail-all answers every MAIL FROM with CODE (an outage that still accepts
connections); --delay sleeps before answering DATA (a slow server).
--hang-after-data reads the whole body and then never answers again (a
server gone silent after DATA: the fault that stands beside the real
server to test bounded waits); it records the message as DIR/<seq>.hung.
--hang-on-quit accepts every message but never answers QUIT.
--smtputf8 offers SMTPUTF8 (RFC 6531) in EHLO; without it aiosmtpd does
not, and refuses a UTF-8 address in MAIL or RCPT.
SIGTERM stops it.
"""
import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import sqlite3
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as _SMTP  # noqa: F401  (import check)


class Capture:
    def __init__(self, folder, fail_rcpt, fail_all, delay, hang=False, hang_quit=False,
                 fail_rcpt_raw=None, lease_db=None):
        self.folder = folder
        self.lease_db = lease_db
        self.hang = hang
        self.hang_quit = hang_quit
        self.fail_rcpt = fail_rcpt
        self.fail_rcpt_raw = fail_rcpt_raw or {}
        self.fail_all = fail_all
        self.delay = delay
        self.seq = itertools.count(1)
        self.sessions = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.tk_id = next(self.sessions)
        session.host_name = hostname
        return responses

    async def handle_QUIT(self, server, session, envelope):
        if self.hang_quit:
            await asyncio.Event().wait()
        return "221 Bye"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.fail_all:
            return "%d Service not available, try later" % self.fail_all if self.fail_all < 500 \
                else "%d Rejected" % self.fail_all
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        envelope.tk_mail_at = time.time()
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        raw = self.fail_rcpt_raw.get(address.lower())
        if raw:
            return raw  # bytes: aiosmtpd writes them as they are
        code = self.fail_rcpt.get(address.lower())
        if code:
            return "%d %s <%s>" % (code, "Mailbox unavailable" if code >= 500 else "Try again later", address)
        envelope.rcpt_tos.append(address)
        if self.lease_db:
            envelope.tk_lease_until = self.lease_until(address)
        return "250 OK"

    def lease_until(self, address):
        db = sqlite3.connect("file:%s?mode=ro" % self.lease_db, uri=True, timeout=30)
        try:
            row = db.execute("SELECT MAX(lease_until) FROM outbox WHERE recipient = ? AND state = 0",
                             (address,)).fetchone()
            return row[0] or 0
        finally:
            db.close()

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            n = next(self.seq)
        base = os.path.join(self.folder, "%06d" % n)
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                "mail_options": envelope.mail_options,
                "session": getattr(session, "tk_id", 0), "peer": str(session.peer),
                "mail_at": getattr(envelope, "tk_mail_at", 0), "data_at": time.time()}
        if self.lease_db:
            meta["lease_until"] = getattr(envelope, "tk_lease_until", 0)
        if self.hang:
            with open(base + ".hung", "w") as f:
                json.dump(meta, f)
            # Silent from now on: no reply to the body, nor to QUIT.
            await asyncio.Event().wait()
        # .eml first: readers find a message by its .json, so the .json
        # must not appear before the .eml it points to.
        for ext, data in ((".eml", envelope.original_content), (".json", json.dumps(meta).encode())):
            tmp = base + ext + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, base + ext)
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--fail-rcpt", action="append", default=[])
    ap.add_argument("--fail-all", type=int, default=0)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--hang-after-data", action="store_true")
    ap.add_argument("--hang-on-quit", action="store_true")
    ap.add_argument("--smtputf8", action="store_true")
    ap.add_argument("--fail-rcpt-raw", action="append", default=[])
    ap.add_argument("--lease-db")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    fail = {}
    for spec in a.fail_rcpt:
        addr, code = spec.rsplit("=", 1)
        fail[addr.lower()] = int(code)
    port = a.port
    if port == 0:
        s = socket.socket()
        s.bind((a.host, 0))
        port = s.getsockname()[1]
        s.close()
    raw = {}
    for spec in a.fail_rcpt_raw:
        addr, hexline = spec.rsplit("=", 1)
        raw[addr.lower()] = bytes.fromhex(hexline)
    handler = Capture(a.dir, fail, a.fail_all, a.delay, a.hang_after_data, a.hang_on_quit,
                      fail_rcpt_raw=raw, lease_db=a.lease_db)
    ctl = Controller(handler, hostname=a.host, port=port, decode_data=False,
                     data_size_limit=64 * 1024 * 1024, ready_timeout=10,
                     enable_SMTPUTF8=a.smtputf8)
    ctl.start()
    print("READY %d" % port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.2):
        pass
    ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
