#!/usr/bin/python3
"""A real IMAP server for the tests: Debian's dovecot-imapd, unprivileged, in
a temporary folder.

    with Dovecot(tc) as imap:                # or imap = Dovecot(tc); imap.start()
        imap.append(raw_bytes or [raw, ...]) # APPEND through imaplib, a real client
        url = imap.url()                     # imap://127.0.0.1:PORT/INBOX
        imap.flags()                         # {uid: {"\\Seen", "$TicklerDone"}, ...}

The server gets its own dovecot.conf (listen on 127.0.0.1, a free port,
maildir under the folder, a plain-text passwd-file with one user, no
chroot), runs as the current user, or as "nobody" when the tests run as
root (dovecot refuses to run its login processes as root), and is stopped
(SIGTERM, then SIGKILL of its process group) at cleanup.  tls=True adds an
imaps listener with a self-signed certificate (openssl), whose file is
imap.ca_file, and allows STARTTLS on the plain port.

The folder, user and password are attributes, so tests can break things on
purpose (imap.password = "wrong" before using imap.url()).
"""
import imaplib
import os
import pwd
import grp
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Dovecot:
    def __init__(self, tc=None, user="tickler", password="imap-pw-4711", tls=False, extra_conf=""):
        self.tc = tc
        self.user = user
        self.password = password
        self.tls = tls
        self.extra_conf = extra_conf
        self.dir = tempfile.mkdtemp(prefix="tk-imap-")
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.ca_file = None
        self.proc = None
        if tc is not None:
            tc.addCleanup(self.cleanup)

    # -- life cycle ------------------------------------------------------------
    def _identity(self):
        if os.geteuid() == 0:
            pw = pwd.getpwnam("nobody")
        else:
            pw = pwd.getpwuid(os.geteuid())
        return pw.pw_name, grp.getgrgid(pw.pw_gid).gr_name, pw.pw_uid, pw.pw_gid

    def _write_conf(self):
        name, group, uid, gid = self._identity()
        d = self.dir
        for sub in ("run", "state", "mail", "home"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(os.path.join(d, "passwd"), "w") as f:
            f.write("%s:{PLAIN}%s\n" % (self.user, self.password))
        ssl = "no"
        if self.tls:
            self.ca_file = os.path.join(d, "cert.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", os.path.join(d, "key.pem"), "-out", self.ca_file,
                            "-days", "2", "-subj", "/CN=localhost",
                            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                           check=True, capture_output=True, timeout=60)
            ssl = "yes\nssl_cert = <%s\nssl_key = <%s" % (self.ca_file, os.path.join(d, "key.pem"))
        conf = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{d}/mail/%u
first_valid_uid = 1
default_login_user = {name}
default_internal_user = {name}
default_internal_group = {group}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
{extra}
""".format(d=d, ssl=ssl, name=name, group=group, uid=uid, gid=gid, port=self.port,
           tls_port=self.tls_port, extra=self.extra_conf)
        self.conf = os.path.join(d, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        if os.geteuid() == 0:
            os.chmod(d, 0o755)
            for root, dirs, files in os.walk(d):
                for x in dirs + files:
                    os.chown(os.path.join(root, x), uid, gid)
            os.chown(d, uid, gid)

    def start(self, timeout=20):
        self._write_conf()
        cmd = ["dovecot", "-F", "-c", self.conf]
        if os.geteuid() == 0:
            cmd = ["setpriv", "--reuid=nobody", "--regid=%s" % self._identity()[1],
                   "--clear-groups"] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dovecot exited: %s %s" % (self.proc.stderr.read().decode(),
                                                              self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("dovecot did not answer on port %d: %s" % (self.port, self.log()))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc:
            self.proc.stderr.close()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    # -- what a client sees ---------------------------------------------------------
    def url(self, mailbox="INBOX", tls=False):
        if tls:
            return "imaps://127.0.0.1:%d/%s" % (self.tls_port, mailbox)
        return "imap://127.0.0.1:%d/%s" % (self.port, mailbox)

    def client(self):
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        c.login(self.user, self.password)
        return c

    def append(self, raw, mailbox="INBOX", flags=""):
        """APPEND one message (bytes) or several (a list), in one session."""
        c = self.client()
        try:
            for one in raw if isinstance(raw, list) else [raw]:
                typ, data = c.append(mailbox, flags, None, one)
                if typ != "OK":
                    raise RuntimeError("APPEND failed: %r" % data)
        finally:
            c.logout()

    def flags(self, mailbox="INBOX"):
        """{uid: set of flags} of every message in MAILBOX."""
        c = self.client()
        try:
            typ, _ = c.select(mailbox, readonly=True)
            if typ != "OK":
                return {}
            typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
            out = {}
            for line in data:
                if not line:
                    continue
                line = line.decode() if isinstance(line, bytes) else line
                m = re.search(r"UID (\d+) FLAGS \(([^)]*)\)", line) or \
                    re.search(r"FLAGS \(([^)]*)\) UID (\d+)", line)
                if not m:
                    continue
                if m.re.pattern.startswith("UID"):
                    out[int(m.group(1))] = set(m.group(2).split())
                else:
                    out[int(m.group(2))] = set(m.group(1).split())
            return out
        finally:
            c.logout()

    def uidvalidity(self, mailbox="INBOX"):
        c = self.client()
        try:
            typ, data = c.status(mailbox, "(UIDVALIDITY)")
            return int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
        finally:
            c.logout()
