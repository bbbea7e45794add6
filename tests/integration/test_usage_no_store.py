"""A usage error changes nothing: no store file, no database contacted
(issue 11, "no store file created by a usage error").

Every command checks its arguments (its parse phase, core/cli/cli.h)
before tickler reads the configuration or opens the store.  The commands
are taken from `tickler --help`, which prints the command table, so a new
command without a parse phase fails here.  For each command a few usage
errors are tried (an unknown option, too many words, no arguments for a
command that needs some); at least one must be a usage error, and every
one that is (exit 2) must print one line and leave the folder without
tickler.db, -wal or -shm.  With a PostgreSQL store the DSN
points at a loopback socket that listens but is no server: a usage error
must not even connect to it.
"""
import concurrent.futures
import functools
import json
import os
import re
import socket
import subprocess
import tempfile
import shutil
import threading
import time
import unittest

from tkharness import BIN, PLUGINS, SHARE, Tickler, main

# Runs are independent (a folder each), so they go in parallel: some 200
# short runs of the binary.
WORKERS = 6

STORE_FILES = ("tickler.db", "tickler.db-wal", "tickler.db-shm", "tickler.db-journal")


@functools.lru_cache(maxsize=None)
def table_commands():
    """((name, sub or None, needs_args), ...) from `tickler --help` (the
    command table) and `tickler help NAME SUB` (each command's usage)."""
    cp = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp
    found, in_commands = [], False
    for line in cp.stdout.splitlines():
        if line.startswith("commands:"):
            in_commands = True
            continue
        if not in_commands or not line.startswith("  ") or line.startswith("   "):
            continue
        words = line.split()
        if not words or not re.match(r"^[a-z][a-z-]*$", words[0]):
            continue  # the bulk-command line (COMMAND ACCOUNT ...)
        # the second word is a sub-command or the help column ("init  create
        # or upgrade ..."): `tickler help NAME WORD` tells
        cand = words[1] if len(words) > 1 and re.match(r"^[a-z][a-z-]*$", words[1]) else None
        if (words[0], cand) not in found:
            found.append((words[0], cand))

    def describe(entry):
        name, cand = entry
        cp = subprocess.run([BIN, "help", name] + ([cand] if cand else []), capture_output=True,
                            text=True, timeout=30)
        assert cp.returncode == 0, cp
        usage = cp.stdout.splitlines()[0].split("[--json] ", 1)[1]
        sub = cand if cand and usage.split()[1:2] == [cand] else None
        rest = " ".join(usage.split()[2 if sub else 1:])
        while re.search(r"\[[^\[\]]*\]", rest):
            rest = re.sub(r"\[[^\[\]]*\]", "", rest)
        return name, sub, bool(rest.replace(".", "").strip())

    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        out = []
        for d in pool.map(describe, found):
            if d not in out:
                out.append(d)
    return tuple(out)


# Usage errors tried for every command: one of them at least must be one.
# No arguments at all only for the commands that need some (tickler run
# without arguments is the daemon).
VARIANTS = (
    ["--no-such-option"],
    ["w1", "w2", "w3", "w4", "w5", "w6", "w7"],
)


class Listener:
    """A loopback socket that is no PostgreSQL server: it accepts and
    closes at once (so a client that does connect fails fast) and counts."""

    def __init__(self, tc):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.seen = 0
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()
        tc.addCleanup(self.close)

    def loop(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.close()
            self.count += 1

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()

    def contacted(self):
        """Connections since the last call (after a short settle)."""
        time.sleep(0.05)
        n, self.seen = self.count - self.seen, self.count
        return n > 0


def run_in(folder, config, *args):
    env = dict(os.environ)
    env.pop("TICKLER_NOW", None)
    env.pop("TICKLER_CONFIG", None)
    return subprocess.run([BIN, "-c", config] + list(args), cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def store_files(folder):
    return [f for f in STORE_FILES if os.path.exists(os.path.join(folder, f))]


def write_config(folder, store_lines):
    config = os.path.join(folder, "tickler.ini")
    lines = ["[store]"] + store_lines + ["",
             "[transport]", "plugin = file", "dir = " + folder,
             "from = Bakker & Co <office@bakker.example>", "",
             "[firm]", "name = Bakker & Co Accountants", ""]
    if PLUGINS:
        lines += ["[plugins]", "dir = " + PLUGINS, ""]
    if SHARE:
        lines += ["[templates]", "dir = " + os.path.join(SHARE, "templates"), ""]
    with open(config, "w") as f:
        f.write("\n".join(lines) + "\n")
    return config




class UsageNoStore(unittest.TestCase):
    def setUp(self):
        self.commands = table_commands()
        # the table has every family the docs list; a short list would mean
        # the --help parsing above broke
        self.assertGreater(len(self.commands), 40, self.commands)
        names = [(n, s) for n, s, _ in self.commands]
        for must in [("send", None), ("account", "add"), ("outbox", "retry"), ("check", None),
                     ("migrate", None), ("user", "password"), ("webhook", "remove")]:
            self.assertIn(must, names)
        self.assertIn(("send", None, True), self.commands)
        self.assertIn(("run", None, False), self.commands)

    @staticmethod
    def words(cmd):
        return tuple([cmd[0]] + ([cmd[1]] if cmd[1] else []))

    def tries(self):
        """Every (command words + variant) to try."""
        out = []
        for cmd in self.commands:
            for extra in VARIANTS + (([],) if cmd[2] else ()):
                out.append((cmd, self.words(cmd) + tuple(extra)))
        return out

    def sqlite_try(self, try_):
        """One run in a folder of its own: (args, exit, stderr, stdout, store files)."""
        args = try_[1]
        folder = tempfile.mkdtemp(prefix="tk-usage-")
        try:
            config = write_config(folder, ["path = " + os.path.join(folder, "tickler.db")])
            cp = run_in(folder, config, *args)
            return args, cp.returncode, cp.stderr, cp.stdout, store_files(folder)
        finally:
            shutil.rmtree(folder, True)

    def assert_usage_error(self, args, rc, stderr, stdout, files):
        lines = [l for l in stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "tickler %s: %r" % (" ".join(args), stderr))
        self.assertTrue(lines[0].startswith("tickler: "), lines)
        self.assertEqual(stdout, "", args)
        self.assertEqual(files, [], "tickler %s (exit 2) created the store" % " ".join(args))

    def usage_tries(self):
        """Run every try on SQLite; check each usage error; return them."""
        tries = self.tries()
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(self.sqlite_try, tries))
        usage = {}
        for (cmd, _), (args, rc, stderr, stdout, files) in zip(tries, results):
            if rc == 2:
                self.assert_usage_error(args, rc, stderr, stdout, files)
                usage.setdefault(cmd, []).append(args)
        for cmd in self.commands:
            self.assertIn(cmd, usage, "no usage error found for %s" % " ".join(self.words(cmd)))
        return usage

    def check_help(self, folder, config):
        for args in (["--help"], ["help"], ["help", "send"], ["send", "--help"],
                     ["account", "add", "--help"], ["job", "--help"], ["outbox", "retry", "-h"]):
            cp = run_in(folder, config, *args)
            self.assertEqual(cp.returncode, 0, (args, cp))
            self.assertEqual(store_files(folder), [], args)

    def test_usage_errors(self):
        usage = self.usage_tries()
        # every command, and more than one form for most
        self.assertGreater(sum(len(v) for v in usage.values()), 2 * len(self.commands))
        t = Tickler(self, init=False, store="sqlite")
        self.check_help(t.dir, t.config)
        self.assertEqual(store_files(t.dir), [])
        # the same unknown option with a store that exists: same message, exit 2
        t.ok("init")
        cp = run_in(t.dir, t.config, "send", "--no-such-option")
        self.assertEqual((cp.returncode, cp.stderr),
                         (2, "tickler: unknown option --no-such-option\n"))

        # PostgreSQL: the same usage errors never connect.  The DSN points at
        # a loopback socket that accepts and hangs up; it counts connections.
        probe = Listener(self)
        folder = tempfile.mkdtemp(prefix="tk-usage-")
        self.addCleanup(shutil.rmtree, folder, True)
        config = write_config(folder, [
            "driver = postgres",
            "dsn = host=127.0.0.1 port=%d dbname=tickler_nowhere connect_timeout=2" % probe.port])
        self.check_help(folder, config)

        def pg_try(args):
            cp = run_in(folder, config, *args)
            return args, cp.returncode, cp.stderr, cp.stdout, store_files(folder)

        # one usage error per command is enough to show nothing connects
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(pg_try, [v[0] for v in usage.values()]))
        self.assertEqual(len(results), len(self.commands))
        for args, rc, stderr, stdout, files in results:
            self.assertEqual(rc, 2, (args, stderr))
            self.assert_usage_error(args, rc, stderr, stdout, files)
        self.assertFalse(probe.contacted(), "a usage error contacted the database")
        # the probe does work: a command that opens the store connects (and
        # fails: nothing there speaks PostgreSQL)
        version = json.loads(subprocess.run([BIN, "--version", "--json"], capture_output=True,
                                            text=True, timeout=30).stdout)
        cp = run_in(folder, config, "account", "list")
        self.assertEqual(cp.returncode, 1, cp)
        if version.get("libpq"):
            self.assertTrue(probe.contacted(), "the probe saw no connection: it proves nothing")

    def test_bulk_and_unknown_commands(self):
        t = Tickler(self, init=False, store="sqlite")
        # a plugin's bulk command without its ACCOUNT, and a word that is no
        # command: both usage errors, neither creates the store
        for args, msg in ((["request-approvals"],
                           "tickler: usage: tickler request-approvals ACCOUNT [--message TEXT]"),
                          (["request-approvals", "1", "--bogus"], "tickler: unknown option --bogus"),
                          (["no-such-command"],
                           "tickler: unknown command 'no-such-command' (see tickler --help)"),
                          (["account", "frobnicate"],
                           "tickler: unknown command 'account frobnicate' (see tickler --help)")):
            cp = run_in(t.dir, t.config, *args)
            self.assertEqual(cp.returncode, 2, (args, cp))
            self.assertEqual(cp.stderr.strip(), msg)
            self.assertEqual(store_files(t.dir), [], args)
        # and the bulk command still works once the store exists
        t.ok("init")
        acc = t.account()
        cp = run_in(t.dir, t.config, "request-approvals", acc)
        self.assertEqual(cp.returncode, 1, cp)
        self.assertIn("has no pending approval items", cp.stderr)


if __name__ == "__main__":
    main()
