"""The operator's surface of the real binary: -V/--version, COMMAND --help
(which must read no configuration and touch no store), where the
configuration is looked up, and sd_notify under a real $NOTIFY_SOCKET
(libsystemd's sd_notify talking to a socket this test listens on, as
systemd's would)."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import unittest

import tkharness as h


def run(args, cwd=None, env=None, timeout=60):
    e = dict(os.environ)
    e.pop("TICKLER_NOW", None)
    e.pop("TICKLER_CONFIG", None)
    if env:
        e.update(env)
    return subprocess.run([h.BIN] + list(args), cwd=cwd, env=e, capture_output=True, text=True,
                          timeout=timeout)


def table_commands():
    """Every command of the table, as the words that name it, read from
    `tickler --help` (so a new command is covered without editing this)."""
    r = run(["--help"])
    assert r.returncode == 0, r
    cmds = []
    lines = r.stdout.split("commands:\n", 1)[1].splitlines()
    for line in lines:
        # "  USAGE   help"; a long USAGE has its help on the next line,
        # which starts with blanks only
        if not line.startswith("  ") or line[2:3] in ("", " "):
            continue
        words = []
        for tok in re.split(r"\s{2,}", line.strip())[0].split():
            if not re.fullmatch(r"[a-z][a-z-]*", tok) or len(words) == 2:
                break
            words.append(tok)
        if words and words not in cmds:
            cmds.append(words)
    return cmds


class Version(unittest.TestCase):
    def test_version_names_abi_and_libraries(self):
        for flag in ("-V", "--version"):
            r = run([flag])
            self.assertEqual(r.returncode, 0, r)
            first, second = r.stdout.splitlines()[:2]
            self.assertRegex(first, r"^tickler \d+\.\d+\.\d+ \(plugin ABI \d+\.\d+\)$")
            for lib in ("SQLite 3.", "libcurl ", "Lua 5.4"):
                self.assertIn(lib, second)
        j = json.loads(run(["--json", "--version"]).stdout)
        for key in ("version", "abi", "sqlite", "libcurl", "lua", "jansson", "libpq", "sd_notify",
                    "linked_in"):
            self.assertIn(key, j)
        # the libraries linked from their static archives (packaging/README.md)
        self.assertTrue(set(j["linked_in"]) <= {"sqlite", "lua", "jansson", "inih"}, j)
        self.assertRegex(j["abi"], r"^\d+\.\d+$")

    def test_version_reads_no_configuration(self):
        with tempfile.TemporaryDirectory() as d:
            r = run(["-V"], cwd=d, env={"TICKLER_CONFIG": os.path.join(d, "missing.ini")})
            self.assertEqual(r.returncode, 0, r)
            self.assertEqual(os.listdir(d), [])


class Help(unittest.TestCase):
    def test_the_table_is_read(self):
        cmds = table_commands()
        # a handful that must be there, so that a broken parse cannot pass
        for words in (["init"], ["send"], ["account", "add"], ["outbox", "retry"], ["check"],
                      ["job", "move"], ["migrate"]):
            self.assertIn(words, cmds)
        self.assertGreaterEqual(len(cmds), 25)

    def test_help_for_every_command_leaves_an_empty_folder_empty(self):
        cmds = table_commands() + [["request-approvals"], ["account"], ["job"], ["outbox"]]
        with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as other:
            # A working configuration elsewhere: help must not open its store.
            ini = os.path.join(other, "tickler.ini")
            with open(ini, "w") as f:
                f.write("[store]\npath = tickler.db\n[transport]\nplugin = file\ndir = spool\n")
            runs = [(words + ["--help"], {"TICKLER_CONFIG": ini}) for words in cmds]
            runs += [(words + ["-h"], {"TICKLER_CONFIG": os.path.join(d, "nope.ini")})
                     for words in cmds[::4]]
            runs += [(["help"] + words, {"HOME": d}) for words in cmds[::6]]
            for form, env in runs:
                words = [w for w in form if w not in ("help", "-h", "--help")]
                r = run(form, cwd=d, env=env)
                self.assertEqual(r.returncode, 0, "%s: %r" % (form, r))
                self.assertEqual(r.stderr, "", form)
                self.assertIn("usage:", r.stdout, form)
                self.assertIn(" ".join(words), r.stdout, form)
                self.assertIn("man tickler", r.stdout, form)
            self.assertEqual(os.listdir(d), [])
            self.assertEqual(sorted(os.listdir(other)), ["tickler.ini"])

    def test_help_after_arguments_and_options(self):
        with tempfile.TemporaryDirectory() as d:
            r = run(["send", "invoice", "--account", "1", "--help"], cwd=d)
            self.assertEqual(r.returncode, 0, r)
            self.assertIn("send TYPE --account A --title T", r.stdout)
            # after "--" it is an argument, not a request for help
            r = run(["-c", os.path.join(d, "x.ini"), "send", "--", "--help"], cwd=d)
            self.assertNotEqual(r.returncode, 0)
            self.assertEqual(os.listdir(d), [])

    def test_unknown_sub_command(self):
        r = run(["account", "frobnicate", "--help"])
        self.assertEqual(r.returncode, 2, r)
        self.assertTrue(r.stderr.startswith("tickler: unknown command 'account frobnicate'"), r)

    def test_main_help_points_at_the_manual(self):
        r = run(["--help"])
        self.assertIn("man tickler", r.stdout)
        self.assertNotIn("docs/cli.md", r.stdout)
        self.assertIn("-V, --version", r.stdout)


class ConfigLookup(unittest.TestCase):
    def write(self, d, store):
        with open(os.path.join(d, "tickler.ini"), "w") as f:
            f.write("[store]\npath = %s\n[transport]\nplugin = file\ndir = spool\n"
                    "[plugins]\ndir = %s\n" % (store, h.PLUGINS))

    def test_order(self):
        with tempfile.TemporaryDirectory() as cwd, tempfile.TemporaryDirectory() as env_dir, \
                tempfile.TemporaryDirectory() as arg_dir:
            self.write(cwd, "cwd.db")
            self.write(env_dir, "env.db")
            self.write(arg_dir, "arg.db")
            envini = os.path.join(env_dir, "tickler.ini")
            argini = os.path.join(arg_dir, "tickler.ini")
            r = run(["init"], cwd=cwd)
            self.assertEqual(r.returncode, 0, r)
            self.assertTrue(os.path.exists(os.path.join(cwd, "cwd.db")))
            r = run(["init"], cwd=cwd, env={"TICKLER_CONFIG": envini})
            self.assertEqual(r.returncode, 0, r)
            self.assertTrue(os.path.exists(os.path.join(env_dir, "env.db")))
            r = run(["-c", argini, "init"], cwd=cwd, env={"TICKLER_CONFIG": envini})
            self.assertEqual(r.returncode, 0, r)
            self.assertTrue(os.path.exists(os.path.join(arg_dir, "arg.db")))

    def test_none_found_names_both_defaults(self):
        with tempfile.TemporaryDirectory() as d:
            r = run(["list"], cwd=d)
            self.assertEqual(r.returncode, 1, r)
            self.assertRegex(r.stderr, r"^tickler: no configuration: neither \./tickler\.ini nor "
                                       r"/\S*/tickler/tickler\.ini exists")
            self.assertEqual(os.listdir(d), [])


class Notify(unittest.TestCase):
    """tickler run speaks the sd_notify protocol (Type=notify)."""

    def setUp(self):
        if not json.loads(run(["--json", "-V"]).stdout)["sd_notify"]:
            self.skipTest("built without libsystemd (TK_SYSTEMD=OFF)")

    def test_ready_reloading_stopping(self):
        t = h.Tickler(self)
        sock_path = os.path.join(t.dir, "notify")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.bind(sock_path)
        s.settimeout(20)
        env = dict(os.environ)
        env.pop("TICKLER_NOW", None)
        env["TICKLER_CONFIG"] = t.config
        env["NOTIFY_SOCKET"] = sock_path
        p = subprocess.Popen([h.BIN, "run"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())

        def next_message():
            return dict(l.split("=", 1) for l in s.recv(4096).decode().splitlines())

        m = next_message()
        self.assertEqual(m.get("READY"), "1", m)
        p.send_signal(signal.SIGHUP)
        m = next_message()
        self.assertEqual(m.get("RELOADING"), "1", m)
        self.assertRegex(m.get("MONOTONIC_USEC", ""), r"^\d+$")
        m = next_message()
        self.assertEqual(m.get("READY"), "1", m)
        p.send_signal(signal.SIGTERM)
        m = next_message()
        self.assertEqual(m.get("STOPPING"), "1", m)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("SIGHUP: log reopened", err)

    def test_silent_without_notify_socket(self):
        t = h.Tickler(self)
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env["TICKLER_CONFIG"] = t.config
        p = subprocess.Popen([h.BIN, "run"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        # the signal handlers are in place once it says it runs
        line = p.stderr.readline()
        self.assertRegex(line, r" tickler\[\d+\]: running:")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)


if __name__ == "__main__":
    h.main()
