#!/usr/bin/python3
"""Bad plugins and bad configuration through the real binary: one clear line
naming the file (and line, or the reason), exit 1, nothing changed."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tkharness import FIXTURES, PLUGINS, Tickler  # noqa: E402


class PluginRefusals(unittest.TestCase):
    def deploy(self, case, writable=None):
        """A plugins folder with the real plugins plus fixture CASE."""
        d = tempfile.mkdtemp(prefix="tk-plugins-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        for so in glob.glob(os.path.join(PLUGINS, "*.so")):
            shutil.copy(so, d)
        bad = []
        if case:
            for so in glob.glob(os.path.join(FIXTURES, "plugins", case, "*.so")):
                dst = os.path.join(d, "zz_" + os.path.basename(so))
                shutil.copy(so, dst)
                os.chmod(dst, 0o755)
                bad.append(dst)
        if writable == "file":
            os.chmod(os.path.join(d, "invoice.so"), 0o775)
        elif writable == "dir":
            os.chmod(d, 0o777)
        t = Tickler(self, init=False, extra_ini="")
        with open(t.config) as f:
            ini = f.read().replace("dir = " + PLUGINS, "dir = " + d)
        with open(t.config, "w") as f:
            f.write(ini)
        return t, d, bad

    def refused(self, case, words, writable=None):
        t, d, bad = self.deploy(case, writable)
        r = t.run("plugins")
        self.assertEqual(r.rc, 1, r)
        lines = r.err.strip().splitlines()
        self.assertEqual(len(lines), 1, r.err)
        self.assertTrue(lines[0].startswith("tickler: plugin "), r.err)
        for w in words:
            self.assertIn(w, lines[0])
        # nothing was created: no store file
        self.assertFalse(os.path.exists(os.path.join(t.dir, "tickler.db")))
        return lines[0]

    def test_good_set_loads(self):
        t, d, _ = self.deploy("good")
        ps = t.json("plugins")
        self.assertIn("widget", [p["name"] for p in ps])

    def test_wrong_abi(self):
        self.refused("wrong_abi", ["zz_widget.so", "ABI"])

    def test_short_struct(self):
        self.refused("short_struct", ["zz_widget.so"])

    def test_not_a_plugin(self):
        self.refused("no_entry", ["zz_widget.so", "tk_plugin_entry"])

    def test_unresolved_symbol(self):
        self.refused("unresolved", ["zz_widget.so", "undefined symbol"])

    def test_duplicate_type(self):
        line = self.refused("duplicate", ["dupe", "zz_dup_a.so", "zz_dup_b.so"])
        self.assertIn("both", line)

    def test_init_failure(self):
        self.refused("init_fails", ["zz_widget.so", "database of colours is missing"])

    def test_no_plugin_code_runs_for_a_foreign_library(self):
        t, d, _ = self.deploy(None)
        src = os.path.join(d, "ctor.c")
        with open(src, "w") as f:
            f.write('#include <fcntl.h>\n#include <stdlib.h>\n'
                    '__attribute__((constructor)) static void c(void)'
                    '{ const char *p = getenv("TK_CANARY"); if (p) creat(p, 0600); }\n'
                    'int some_function(void) { return 1; }\n')
        so = os.path.join(d, "zz_ctor.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", so, src], check=True)
        os.unlink(src)
        os.chmod(so, 0o755)
        canary = os.path.join(t.dir, "canary")
        r = t.run("plugins", env={"TK_CANARY": canary})
        self.assertEqual(r.rc, 1, r)
        self.assertIn("zz_ctor.so: refused: not a tickler plugin", r.err)
        self.assertFalse(os.path.exists(canary), "the foreign library's constructor ran")

    def test_not_a_shared_object(self):
        t, d, _ = self.deploy(None)
        with open(os.path.join(d, "zz_text.so"), "w") as f:
            f.write("hello\n")
        os.chmod(os.path.join(d, "zz_text.so"), 0o644)
        r = t.run("plugins")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("zz_text.so: refused: not a shared object", r.err)

    def test_group_writable_file(self):
        self.refused(None, ["invoice.so", "writable"], writable="file")

    def test_world_writable_folder(self):
        self.refused(None, ["writable"], writable="dir")


class ConfigRefusals(unittest.TestCase):
    def check(self, extra, words):
        t = Tickler(self, init=False, extra_ini=extra)
        r = t.run("init")
        self.assertEqual(r.rc, 1, r)
        line = r.err.strip().splitlines()[-1]
        self.assertTrue(line.startswith("tickler: " + t.config + ":"), line)
        for w in words:
            self.assertIn(w, line)
        self.assertFalse(os.path.exists(os.path.join(t.dir, "tickler.db")))

    def test_unknown_section(self):
        n = self.nlines()
        self.check("[colours]\nred = 1\n", [":%d:" % (n + 2), "colours"])

    def test_unknown_key(self):
        n = self.nlines()
        self.check("[reminders]\nevery = 3\n", [":%d:" % (n + 2), "every"])

    def test_bad_value(self):
        n = self.nlines()
        self.check("[reminders]\ndefault_count = many\n", [":%d:" % (n + 2), "default_count"])

    def test_unknown_plugin_key(self):
        n = self.nlines()
        self.check("[invoice]\ncolour = red\n", [":%d:" % (n + 2), "colour"])

    def test_broken_script_refuses_automations_only(self):
        # issue 11: a broken script is contained (test_lua_broken_script.py)
        d = tempfile.mkdtemp(prefix="tk-scripts-")
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, "bad.lua"), "w") as f:
            f.write('pipeline("x", {\n')
        t = Tickler(self, init=False, extra_ini="[lua]\nscripts = %s\n" % d)
        self.assertEqual(t.run("init").rc, 0)
        self.assertEqual(t.run("list").rc, 0)
        r = t.run("job", "add", "x", "--account", t.account())
        self.assertEqual(r.rc, 1, r)
        self.assertIn(os.path.join(d, "bad.lua") + ":2:", r.err)

    def nlines(self):
        t = Tickler(self, init=False)
        return t.ini.count("\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
