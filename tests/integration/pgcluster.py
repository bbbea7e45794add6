"""pgcluster - a throwaway PostgreSQL cluster for tests, and databases on it.

    c = Cluster()                 # initdb + pg_ctl start in a temp folder
    dsn = c.create_database()     # a fresh, empty database; its DSN
    c.restart()                   # pg_ctl restart -m fast
    c.stop()                      # stop and remove everything

The server runs as an unprivileged user (postgres, else nobody) when the
tests run as root, listens on a free loopback port only, keeps its socket in
its own folder and trusts local connections: it holds nothing but test data.
Durability is off (fsync, synchronous_commit): a test never survives a power
loss, and it makes CREATE DATABASE and commits cheap.

Also used as a program by .ci/postgres.sh:
    pgcluster.py start DIR        prints the server DSN, leaves it running
    pgcluster.py stop DIR
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid


def bin_dir():
    """The newest installed server's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


def available():
    return bin_dir() is not None


def _psql():
    b = bin_dir()
    if b and os.path.exists(os.path.join(b, "psql")):
        return os.path.join(b, "psql")
    return shutil.which("psql") or "psql"


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def parse_dsn(dsn):
    """key=value DSN -> dict (values without spaces or quotes)."""
    out = {}
    for tok in dsn.split():
        k, _, v = tok.partition("=")
        out[k] = v
    return out


def with_db(dsn, dbname):
    d = parse_dsn(dsn)
    d["dbname"] = dbname
    return " ".join("%s=%s" % kv for kv in d.items())


def psql(dsn, sql, timeout=60):
    """Run SQL on DSN; returns stdout (unaligned, tuples only, '|' between
    columns, NULL shown as \\N)."""
    cp = subprocess.run([_psql(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-P", "null=\\N",
                         "-d", dsn, "-c", sql], capture_output=True, text=True, timeout=timeout)
    if cp.returncode != 0:
        raise RuntimeError("psql failed (%d): %s" % (cp.returncode, cp.stderr.strip()))
    return cp.stdout


def rows(dsn, sql, timeout=60):
    """Rows of SQL as lists of strings (NULL as \\N); values may hold
    newlines, so records and fields are split on control characters."""
    cp = subprocess.run([_psql(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-P", "null=\\N",
                         "-F", "\x1f", "-R", "\x1e", "-d", dsn, "-c", sql],
                        capture_output=True, timeout=timeout)  # bytes: keep CRLF as it is
    if cp.returncode != 0:
        raise RuntimeError("psql failed (%d): %s" % (cp.returncode, cp.stderr.decode().strip()))
    out = cp.stdout.decode("utf-8")
    out = out[:-1] if out.endswith("\n") else out
    return [r.split("\x1f") for r in out.split("\x1e")] if out else []


def create_database(server_dsn, prefix="tk"):
    """A new empty database on SERVER_DSN's server; returns its DSN."""
    name = "%s_%s" % (prefix, uuid.uuid4().hex[:12])
    psql(with_db(server_dsn, "postgres"), "CREATE DATABASE %s" % name)
    return with_db(server_dsn, name)


def drop_database(dsn):
    name = parse_dsn(dsn)["dbname"]
    try:
        psql(with_db(dsn, "postgres"), "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
    except (RuntimeError, subprocess.TimeoutExpired):
        pass  # the cluster may be gone already


class Cluster:
    def __init__(self, folder=None):
        b = bin_dir()
        if not b:
            raise RuntimeError("PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin)")
        self.bin = b
        self.dir = folder or tempfile.mkdtemp(prefix="tk-pg-")
        os.makedirs(self.dir, exist_ok=True)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.uid = self.gid = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    pw = pwd.getpwnam(name)
                    self.uid, self.gid = pw.pw_uid, pw.pw_gid
                    break
                except KeyError:
                    continue
            if self.uid is None:
                raise RuntimeError("no unprivileged user (postgres or nobody) to run PostgreSQL as")
            os.chown(self.dir, self.uid, self.gid)
            os.chmod(self.dir, 0o700)
        self.port = None
        self._run(["initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--no-locale", "--no-sync"])
        for attempt in range(5):
            self.port = _free_port()
            try:
                self.start()
                break
            except RuntimeError:
                if attempt == 4:
                    raise

    def _as_user(self):
        if self.uid is not None:
            os.setgid(self.gid)
            os.setuid(self.uid)

    def _run(self, argv, check=True, timeout=120):
        argv = [os.path.join(self.bin, argv[0])] + argv[1:]
        cp = subprocess.run(argv, preexec_fn=self._as_user, capture_output=True, text=True,
                            timeout=timeout, cwd=self.dir)
        if check and cp.returncode != 0:
            log = ""
            if os.path.exists(self.log):
                with open(self.log) as f:
                    log = f.read()[-2000:]
            raise RuntimeError("%s failed (%d): %s %s\n%s" % (argv[0], cp.returncode, cp.stdout,
                                                              cp.stderr, log))
        return cp

    def _opts(self):
        return ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB"
                % (self.port, self.dir))

    def start(self):
        self._run(["pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", self._opts(),
                   "start"])
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                psql(self.dsn("postgres"), "SELECT 1", timeout=10)
                return
            except (RuntimeError, subprocess.TimeoutExpired):
                time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not accept connections on port %d" % self.port)

    def restart(self):
        self._run(["pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-m", "fast",
                   "-o", self._opts(), "restart"])
        self._wait_ready()

    def stop_server(self):
        self._run(["pg_ctl", "-D", self.data, "-w", "-t", "60", "-m", "fast", "stop"], check=False)

    def stop(self):
        if os.path.exists(self.data):
            self.stop_server()
        shutil.rmtree(self.dir, True)

    def dsn(self, dbname="postgres"):
        return "host=127.0.0.1 port=%d user=postgres dbname=%s" % (self.port, dbname)

    def create_database(self, prefix="tk"):
        return create_database(self.dsn(), prefix)


def main(argv):
    if len(argv) == 3 and argv[1] == "start":
        c = Cluster(folder=argv[2])
        with open(os.path.join(argv[2], "port"), "w") as f:
            f.write(str(c.port))
        print(c.dsn())
        return 0
    if len(argv) == 3 and argv[1] == "stop":
        data = os.path.join(argv[2], "data")
        b = bin_dir()
        if b and os.path.exists(data):
            c = Cluster.__new__(Cluster)
            c.bin, c.dir, c.data = b, argv[2], data
            st = os.stat(argv[2])
            c.uid, c.gid = (st.st_uid, st.st_gid) if os.geteuid() == 0 and st.st_uid != 0 else (None, None)
            c.stop_server()
        shutil.rmtree(argv[2], True)
        return 0
    print("usage: pgcluster.py start|stop DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
