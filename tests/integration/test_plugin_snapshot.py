#!/usr/bin/python3
"""The plugin set's snapshot (issue 17, `tickler send` one process per item):
a command that needs one item type and the transport loads only those two
when the check cache holds a snapshot of this very plugin set and plugin
configuration that passed a whole load (core/plugin/loader.c,
tk_registry_load_known).

The guards: the lazy path and the whole load give the same results (exit
status, output, refusals, rows, messages) for send, resend and event; a
snapshot is stale, and the whole load runs and refuses as before, once a
plugin file is replaced, edited in place with its mtime put back, broken or
added; another build's snapshot does not count; a cache that cannot be used
means the whole load; a plugin that logs is never left unloaded; a change of
the plugins' configuration means the whole load."""
import glob
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tkharness import FIXTURES, PLUGINS, Tickler  # noqa: E402

SOME = "the others are as the check cache's snapshot of the set has them"
NOW = "2026-12-03T09:00:00Z"


def last_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    return lines[-1] if lines else ""


def user_lines(err):
    """What a command prints on stderr but the loader's debug lines (the
    check caches' hits)."""
    return [l for l in err.splitlines() if "(check cache)" not in l and SOME not in l]


def masked(path):
    """A spooled message without what differs between two deployments:
    the random part of its Message-IDs and MIME boundaries."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    text = re.sub(r"<[^<>@\s]+@", "<ID@", text)
    return re.sub(r"=_[0-9A-Za-z._-]+", "=_B", text)


class Snapshot(unittest.TestCase):
    def deploy(self, cache=True):
        """A deployment with its own copy of the plugins folder; CACHE: its
        own check cache folder, else none at all (the whole load)."""
        tmp = tempfile.mkdtemp(prefix="tk-snap-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.chmod(tmp, 0o755)
        plugins = os.path.join(tmp, "plugins")
        os.makedirs(plugins, 0o755)
        for so in glob.glob(os.path.join(PLUGINS, "*.so")):
            shutil.copy(so, plugins)
        t = Tickler(self, init=False, extra_ini="[log]\nlevel = debug\n")
        with open(t.config) as f:
            ini = f.read().replace("dir = " + PLUGINS, "dir = " + plugins)
        with open(t.config, "w") as f:
            f.write(ini)
        t.plugins = plugins
        t.cache = os.path.join(tmp, "xdg", "tickler", "plugin-check")
        t.env = ({"XDG_CACHE_HOME": os.path.join(tmp, "xdg")} if cache
                 else {"XDG_CACHE_HOME": "", "HOME": ""})
        t.nplugins = len(glob.glob(os.path.join(plugins, "*.so")))
        self.assertEqual(self.run_(t, "init").rc, 0)
        return t

    def run_(self, t, *args, json_=False):
        return t.run(*((("--json",) if json_ else ()) + args), now=NOW, env=t.env)

    def lazy(self, r):
        return SOME in r.err

    def snapshots(self, t):
        try:
            with open(t.cache) as f:
                return [l for l in f.read().splitlines() if l.startswith("S ")]
        except OSError:
            return []

    def state(self, t):
        out = []
        for args in (("list",), ("outbox",), ("audit",)):
            r = self.run_(t, *args, json_=True)
            self.assertEqual(r.rc, 0, r)
            # Message-IDs' random part (0000.RANDOM@domain) masked
            # and the spool files' names (the deployment's folder, a random
            # part), the audit's real time of recording
            text = re.sub(r"\.[0-9a-z]{20,}@", ".R@", r.out.replace(t.dir, "DIR"))
            text = re.sub(r'"recorded_at": "[^"]*"', '"recorded_at": "T"', text)
            out.append(re.sub(r"spool/[0-9]+-[0-9a-z.]+", "spool/F", text))
        return out, [masked(p) for p in t.spooled()]

    def test_lazy_path_gives_what_the_whole_load_gives(self):
        lazy, whole = self.deploy(), self.deploy(cache=False)
        script = [
            ("account", "add", "Acme BV", "--language", "en"),
            ("contact", "add", "1", "ann@acme.example", "--name", "Ann Acme"),
            ("send", "invoice", "--account", "1", "--title", "Fees", "--set", "amount=450.00",
             "--set", "currency=EUR", "--reminders", "on", "--every", "1"),
            ("send", "chat", "--account", "1", "--title", "Hello"),
            ("send", "approval", "--account", "1", "--title", "Plan", "--reminders", "on"),
            ("send", "signature", "--account", "1", "--title", "Contract"),
            ("resend", "1"),
            ("resend", "3"),
            ("event", "1", "paid"),
            ("event", "3", "approved"),
            ("event", "2", "paid"),  # refused: not an event of chat
            ("send", "invoice", "--account", "1", "--title", "No amount"),  # refused by the type
            ("send", "nosuch", "--account", "1", "--title", "X"),  # unknown type: the list of all
            ("resend", "99"),
        ]
        used = 0
        for args in script:
            for json_ in (False, True):
                a = self.run_(lazy, *args, json_=json_ and args[0] != "account")
                b = self.run_(whole, *args, json_=json_ and args[0] != "account")
                self.assertEqual((a.rc, a.out, user_lines(a.err)),
                                 (b.rc, b.out, user_lines(b.err)), args)
                self.assertFalse(self.lazy(b), b.err)
                used += self.lazy(a)
                if args[0] in ("account", "contact"):
                    break
        # the lazy path ran (every send, resend and event of a known type
        # after the first whole load), and only where it may
        self.assertGreaterEqual(used, 12)
        self.assertEqual(self.state(lazy), self.state(whole))
        self.assertEqual(len(self.snapshots(lazy)), 1)
        self.assertEqual(self.snapshots(whole), [])

    def test_unknown_type_lists_every_type(self):
        t = self.deploy()
        acc = self.warm(t)
        r = self.run_(t, "send", "nosuch", "--account", acc, "--title", "X")
        self.assertEqual(r.rc, 1, r)
        self.assertFalse(self.lazy(r), r.err)
        self.assertIn("unknown item type 'nosuch' (loaded: approval, chat, invoice", r.err)

    def warm(self, t):
        acc = self.run_(t, "account", "add", "Acme BV").out.strip()
        self.assertEqual(self.run_(t, "contact", "add", acc, "ann@acme.example").rc, 0)
        r = self.run_(t, "send", "chat", "--account", acc, "--title", "One")
        self.assertEqual(r.rc, 0, r)
        r = self.run_(t, "send", "chat", "--account", acc, "--title", "Two")
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(self.lazy(r), r.err)
        return acc

    def send_lazily(self, t, acc, expect):
        r = self.run_(t, "send", "approval", "--account", acc, "--title", "T")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.lazy(r), expect, r.err)

    def test_replaced_plugin_means_the_whole_load_once(self):
        t = self.deploy()
        acc = self.warm(t)
        chat = os.path.join(t.plugins, "chat.so")
        shutil.copy(chat, chat + ".new")
        os.rename(chat + ".new", chat)  # another inode
        self.send_lazily(t, acc, False)
        self.send_lazily(t, acc, True)

    def test_edited_in_place_with_mtime_put_back_means_the_whole_load(self):
        t = self.deploy()
        acc = self.warm(t)
        inv = os.path.join(t.plugins, "invoice.so")
        st = os.stat(inv)
        with open(inv, "rb") as f:
            data = f.read()
        with open(inv, "r+b") as f:
            f.write(data)
        os.utime(inv, ns=(st.st_atime_ns, st.st_mtime_ns))
        self.assertEqual((os.stat(inv).st_ino, os.stat(inv).st_size, os.stat(inv).st_mtime_ns),
                         (st.st_ino, st.st_size, st.st_mtime_ns))
        self.send_lazily(t, acc, False)
        self.send_lazily(t, acc, True)

    def test_broken_or_added_plugin_is_refused_as_before(self):
        t = self.deploy()
        acc = self.warm(t)
        before = self.state(t)
        bad = os.path.join(FIXTURES, "plugins", "wrong_abi", "widget.so")
        for target in ("organizer.so", "zz_widget.so"):
            path = os.path.join(t.plugins, target)
            saved = path + ".saved"
            if os.path.exists(path):
                os.rename(path, saved)
            shutil.copy(bad, path)
            os.chmod(path, 0o755)
            line = last_line(self.run_(t, "plugins").err)
            self.assertIn(target, line)
            for _ in range(2):
                for args in (("send", "approval", "--account", acc, "--title", "T"),
                             ("resend", "1"), ("event", "1", "read")):
                    r = self.run_(t, *args)
                    self.assertEqual(r.rc, 1, (args, r))
                    self.assertEqual(last_line(r.err), line, args)
            self.assertEqual(self.state(t), before)
            os.unlink(path)
            if os.path.exists(saved):
                os.rename(saved, path)
            # the set as it was (a rename back is a new ctime): one whole
            # load, then its snapshot counts
            self.assertEqual(self.run_(t, "send", "chat", "--account", acc, "--title", "W").rc, 0)
            self.send_lazily(t, acc, True)
            before = self.state(t)

    def test_another_builds_snapshot_does_not_count(self):
        t = self.deploy()
        acc = self.warm(t)
        with open(t.cache) as f:
            lines = f.read().splitlines()
        lines[0] = re.sub(r"host [0-9a-f]+", "host " + "0" * 40, lines[0])
        with open(t.cache, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.send_lazily(t, acc, False)
        self.send_lazily(t, acc, True)

    def test_unusable_cache_means_the_whole_load(self):
        t = self.deploy()
        acc = self.warm(t)
        blocker = os.path.join(os.path.dirname(os.path.dirname(t.cache)), "file")
        with open(blocker, "w") as f:
            f.write("not a folder\n")
        for env in ({"XDG_CACHE_HOME": blocker}, {"XDG_CACHE_HOME": "", "HOME": ""},
                    {"XDG_CACHE_HOME": "relative"}):
            t.env = env
            self.send_lazily(t, acc, False)

    def test_plugin_that_logs_is_never_left_unloaded(self):
        t = self.deploy()
        acc = self.warm(t)
        widget = os.path.join(t.plugins, "widget.so")
        shutil.copy(os.path.join(FIXTURES, "plugins", "good", "widget.so"), widget)
        os.chmod(widget, 0o755)
        for _ in range(2):
            r = self.run_(t, "send", "chat", "--account", acc, "--title", "T")
            self.assertEqual(r.rc, 0, r)
            self.assertFalse(self.lazy(r), r.err)
            self.assertIn("tickler: widget: init colour=none", r.err)
        self.assertEqual(len(self.snapshots(t)), 1)  # the one before widget.so

    def test_plugin_configuration_change_means_the_whole_load(self):
        t = self.deploy()
        acc = self.warm(t)
        with open(t.config) as f:
            ini = f.read()
        with open(t.config, "w") as f:
            f.write(ini.replace("[plugins]\n", "[plugins]\nmemory_limit_mb = 32\n", 1))
        self.send_lazily(t, acc, False)
        self.send_lazily(t, acc, True)
        self.assertEqual(len(self.snapshots(t)), 2)


if __name__ == "__main__":
    unittest.main()
