#!/usr/bin/python3
"""The plugin check cache (issue 17, `tickler send` one process per item):
a plugin file whose compiled-in templates passed the check is not parsed
again by the next command (core/plugin/checkcache.c).

The guards: what a command prints and does is the same with the cache as
without it; a plugin that is broken is refused on every run and never
recorded; one that passed and is then replaced by another file, or edited
in place with its mtime put back (`touch -r`), or whose cache entry belongs
to another host, is checked again (and refused when broken); a cache
location that cannot be read or written, or none at all, means the full
check and never an error; `tickler check` always parses everything."""
import glob
import os
import shutil
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tkharness import FIXTURES, PLUGINS, Tickler  # noqa: E402

HIT = "its templates passed the check before (check cache), not parsed again"


def last_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    return lines[-1] if lines else ""


class CheckCache(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tk-cc-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.chmod(self.tmp, 0o755)
        self.plugins = os.path.join(self.tmp, "plugins")
        os.makedirs(self.plugins, 0o755)
        for so in glob.glob(os.path.join(PLUGINS, "*.so")):
            shutil.copy(so, self.plugins)
        self.widget = os.path.join(self.plugins, "widget.so")
        shutil.copy(os.path.join(FIXTURES, "plugins", "good", "widget.so"), self.widget)
        os.chmod(self.widget, 0o755)
        self.xdg = os.path.join(self.tmp, "xdg")
        self.cache = os.path.join(self.xdg, "tickler", "plugin-check")
        self.t = Tickler(self, init=False, extra_ini="[log]\nlevel = debug\n")
        with open(self.t.config) as f:
            ini = f.read().replace("dir = " + PLUGINS, "dir = " + self.plugins)
        with open(self.t.config, "w") as f:
            f.write(ini)
        self.env = {"XDG_CACHE_HOME": self.xdg}

    def run_plugins(self, env=None):
        return self.t.run("plugins", env=env if env is not None else self.env)

    def hits(self, r):
        return sorted(os.path.basename(l.split("plugin ", 2)[-1].split(":")[0])
                      for l in r.err.splitlines() if HIT in l)

    def entries(self):
        with open(self.cache) as f:
            return f.read().splitlines()[1:]

    def test_second_run_skips_and_prints_the_same(self):
        first = self.run_plugins()
        self.assertEqual(first.rc, 0, first)
        self.assertEqual(self.hits(first), [])
        items = sorted(os.path.basename(p) for p in glob.glob(os.path.join(self.plugins, "*.so"))
                       if os.path.basename(p) not in ("file.so", "smtp.so"))
        # one line a plugin with templates (the item types), none for a transport
        self.assertEqual(len(self.entries()), len(items))
        second = self.run_plugins()
        self.assertEqual(second.rc, 0, second)
        self.assertEqual(self.hits(second), items)
        self.assertEqual(second.out, first.out)
        # the old path, no cache at all: the same output
        none = self.run_plugins(env={"XDG_CACHE_HOME": "", "HOME": ""})
        self.assertEqual(none.rc, 0, none)
        self.assertEqual(self.hits(none), [])
        self.assertEqual(none.out, first.out)
        # and a command that uses them works from the cache
        r = self.t.run("init", env=self.env)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("widget.so", self.hits(r))

    def refused(self, r):
        self.assertEqual(r.rc, 1, r)
        line = last_line(r.err)
        self.assertTrue(line.startswith("tickler: plugin ") and "widget.so" in line, r.err)
        self.assertIn("template", line, r.err)
        return line

    def test_broken_plugin_is_refused_every_time_and_never_recorded(self):
        shutil.copy(os.path.join(FIXTURES, "plugins", "broken_template", "widget.so"),
                    self.widget)
        lines = [self.refused(self.run_plugins()) for _ in range(3)]
        self.assertEqual(len(set(lines)), 1, lines)
        st = os.stat(self.widget)
        for e in self.entries() if os.path.exists(self.cache) else []:
            self.assertNotEqual(e.split()[1], str(st.st_ino), e)

    def test_replaced_plugin_is_checked_again(self):
        self.assertEqual(self.run_plugins().rc, 0)
        self.assertIn("widget.so", self.hits(self.run_plugins()))
        # a new file renamed over the old one, as `install` and package
        # managers do
        new = os.path.join(self.plugins, ".widget.new")
        shutil.copy(os.path.join(FIXTURES, "plugins", "broken_template", "widget.so"), new)
        os.chmod(new, 0o755)
        os.rename(new, self.widget)
        self.refused(self.run_plugins())
        self.refused(self.run_plugins())

    def test_edited_in_place_with_mtime_put_back_is_checked_again(self):
        self.assertEqual(self.run_plugins().rc, 0)
        self.assertIn("widget.so", self.hits(self.run_plugins()))
        before = os.stat(self.widget)
        with open(self.widget, "rb") as f:
            data = f.read()
        good = b"Subject: Widget {{item.title}}\n"
        self.assertGreaterEqual(data.count(good), 1)
        data = data.replace(good, b"Subject: Widget {{item.title}\n\n", 1)  # same length
        with open(self.widget, "r+b") as f:  # the same inode, the same size
            f.write(data)
        os.utime(self.widget, ns=(before.st_atime_ns, before.st_mtime_ns))  # touch -r
        after = os.stat(self.widget)
        self.assertEqual((after.st_ino, after.st_size, after.st_mtime_ns),
                         (before.st_ino, before.st_size, before.st_mtime_ns))
        self.refused(self.run_plugins())
        self.refused(self.run_plugins())

    def test_another_hosts_entries_do_not_count(self):
        self.assertEqual(self.run_plugins().rc, 0)
        with open(self.cache) as f:
            head, rest = f.read().split("\n", 1)
        words = head.split()
        self.assertEqual(words[:2], ["tickler-plugin-check", "1"])
        words[-1] = "0" * len(words[-1])  # another build of tickler
        with open(self.cache, "w") as f:
            f.write(" ".join(words) + "\n" + rest)
        r = self.run_plugins()
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.hits(r), [])
        # rewritten for this host
        self.assertIn("widget.so", self.hits(self.run_plugins()))

    def test_garbage_cache_is_an_empty_one(self):
        os.makedirs(os.path.dirname(self.cache))
        with open(self.cache, "wb") as f:
            f.write(os.urandom(20000))
        r = self.run_plugins()
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.hits(r), [])
        self.assertIn("widget.so", self.hits(self.run_plugins()))

    def test_unusable_cache_location_means_the_full_check(self):
        reference = self.run_plugins(env={"XDG_CACHE_HOME": "", "HOME": ""})
        self.assertEqual(reference.rc, 0, reference)
        blocker = os.path.join(self.tmp, "a-file")
        with open(blocker, "w") as f:
            f.write("not a folder\n")
        readonly = os.path.join(self.tmp, "ro")
        os.makedirs(readonly)
        os.chmod(readonly, 0o555)
        self.addCleanup(os.chmod, readonly, 0o755)
        for env in ({"XDG_CACHE_HOME": blocker},                   # not a folder
                    {"XDG_CACHE_HOME": os.path.join(blocker, "x")},  # under a file
                    {"XDG_CACHE_HOME": readonly},                  # not writable (as non-root)
                    {"XDG_CACHE_HOME": "relative/path", "HOME": ""},  # ignored, as XDG says
                    {"XDG_CACHE_HOME": "", "HOME": ""}):            # nowhere at all
            for _ in range(2):
                r = self.run_plugins(env=env)
                self.assertEqual(r.rc, 0, (env, r))
                self.assertEqual(r.out, reference.out, env)
                if os.geteuid() != 0 or env["XDG_CACHE_HOME"] != readonly:
                    self.assertEqual(self.hits(r), [], env)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "relative")))
        # a broken plugin is still refused there
        shutil.copy(os.path.join(FIXTURES, "plugins", "broken_template", "widget.so"),
                    self.widget)
        self.refused(self.run_plugins(env={"XDG_CACHE_HOME": blocker}))

    def test_home_cache_is_made(self):
        home = os.path.join(self.tmp, "home")
        os.makedirs(home)
        env = {"XDG_CACHE_HOME": "", "HOME": home}
        self.assertEqual(self.run_plugins(env=env).rc, 0)
        made = os.path.join(home, ".cache", "tickler", "plugin-check")
        self.assertTrue(os.path.exists(made))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(made)).st_mode), 0o700)
        self.assertIn("widget.so", self.hits(self.run_plugins(env=env)))

    def test_check_command_parses_everything(self):
        self.assertEqual(self.run_plugins().rc, 0)
        self.assertIn("widget.so", self.hits(self.run_plugins()))
        r = self.t.run("check", env=self.env)
        self.assertEqual(self.hits(r), [], r)


if __name__ == "__main__":
    unittest.main()
