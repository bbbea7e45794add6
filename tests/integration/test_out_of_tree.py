"""The seventh item type, built outside the tree from an installed tickler.

Given TK_INSTALL_PREFIX (a tickler installed with `cmake --install BUILD
--prefix DIR`; .ci/run does this), copies examples/request away from the
source tree and builds it twice, from the prefix only: with pkg-config and
make (PKG_CONFIG_LIBDIR is the prefix's, so no other tickler.pc can be
found), and with the CMake package (find_package(Tickler)).  Each build is
loaded by the installed binary through [plugins] dir and run end to end:
send, a reminder after --now days, `viewed` (reminders go on), `uploaded`
(they stop), the Lua verb request_documents from a pipeline script, Dutch
templates, and `tickler check`.

Without TK_INSTALL_PREFIX every test is skipped (ctest runs the suite on
the build tree, where there is no installed SDK to build against).
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import tkharness as h

PREFIX = os.environ.get("TK_INSTALL_PREFIX", "")
EXAMPLE = os.path.join(h.SOURCE, "examples", "request")
DOCS = "Bank statements 2025; Payslips ;; Mortgage statement"


def sh(cmd, cwd, env=None):
    e = dict(os.environ)
    e.pop("PKG_CONFIG_PATH", None)
    e.pop("CMAKE_PREFIX_PATH", None)
    if env:
        e.update(env)
    cp = subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True, timeout=300)
    if cp.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(cmd), cp.returncode, cp.stdout,
                                                          cp.stderr))
    return cp.stdout + cp.stderr


@unittest.skipUnless(PREFIX, "needs TK_INSTALL_PREFIX (an installed tickler; see .ci/run)")
class OutOfTree(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tk-oot-")
        cls.bin = os.path.join(PREFIX, "bin", "tickler")
        cls.installed_plugins = os.path.join(PREFIX, "lib", "tickler", "plugins")
        cls.share = os.path.join(PREFIX, "share", "tickler")
        assert os.access(cls.bin, os.X_OK), "no %s" % cls.bin
        cls.folders = {}
        cls.logs = {}
        for how in ("make", "cmake"):
            src = os.path.join(cls.tmp, "src-" + how)
            shutil.copytree(EXAMPLE, src)
            # a plugins folder of our own: the installed ones plus request.so
            plugins = os.path.join(cls.tmp, "plugins-" + how)
            os.makedirs(plugins)
            for so in os.listdir(cls.installed_plugins):
                shutil.copy(os.path.join(cls.installed_plugins, so), plugins)
            if how == "make":
                pc = os.path.join(PREFIX, "share", "pkgconfig")
                env = {"PKG_CONFIG_LIBDIR": pc, "PKG_CONFIG_PATH": ""}
                log = sh(["make"], src, env)
                log += sh(["make", "install", "PLUGINDIR=" + plugins], src, env)
            else:
                log = sh(["cmake", "-S", ".", "-B", "build", "-DCMAKE_PREFIX_PATH=" + PREFIX,
                          "-DTICKLER_PLUGIN_INSTALL_DIR=" + plugins], src)
                log += sh(["cmake", "--build", "build", "-v"], src)
                log += sh(["cmake", "--install", "build"], src)
            cls.folders[how] = plugins
            cls.logs[how] = log

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def deployment(self, how, extra_ini=""):
        h.BIN = self.bin
        h.PLUGINS = self.folders[how]
        h.SHARE = self.share
        return h.Tickler(self, extra_ini=extra_ini)

    def test_built_from_the_prefix_only(self):
        for how, log in self.logs.items():
            self.assertNotIn(h.SOURCE, log, how)
            # the SDK headers came from the prefix
            self.assertRegex(log, r"(-I|-isystem )%s/" % re.escape(PREFIX), how)
            so = os.path.join(self.folders[how], "request.so")
            self.assertEqual(os.stat(so).st_mode & 0o777, 0o755)
            syms = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True,
                                  text=True).stdout.split()
            self.assertEqual([s for s in syms if not s.startswith("0") and len(s) > 1],
                             ["tk_plugin_entry"], how)
        self.assertIn("tickler %s" % json.loads(
            subprocess.run([self.bin, "--json", "-V"], capture_output=True, text=True).stdout)["version"],
            self.logs["cmake"])

    def test_end_to_end(self):
        for how in ("make", "cmake"):
            with self.subTest(how=how):
                self.run_scenario(how)

    def run_scenario(self, how):
        t = self.deployment(how)
        plugins = {p["name"]: p for p in t.json("plugins")}
        req = plugins["request"]
        self.assertEqual(req["lua_verb"], "request_documents")
        self.assertEqual(req["events"], [{"name": "uploaded", "final_state": "received"},
                                         {"name": "viewed", "final_state": None}])
        self.assertEqual(req["file"], os.path.join(self.folders[how], "request.so"))
        self.assertEqual(t.run("check", now="").rc, 0)

        acc = t.account("Acme BV")
        item = t.send("request", acc, "Year-end 2025", "--reminders", "on", "--every", "2",
                      "--count", "2", fields={"documents": DOCS, "due_date": "2026-12-20"})
        shown = t.show(item)
        self.assertEqual(shown["fields"]["documents"],
                         "Bank statements 2025; Payslips; Mortgage statement")
        [m] = t.messages()
        self.assertEqual(m["Subject"], "Documents needed: Year-end 2025")
        body = m.get_content().replace("\r\n", "\n")
        self.assertIn("we need 3 documents from you:\n\n- Bank statements 2025\n- Payslips\n"
                      "- Mortgage statement\n", body)
        self.assertIn("We need them by 20 December 2026.", body)

        # viewed does not stop reminders; the first one comes after 2 days
        t.ok("event", item, "viewed", now=h.at(1))
        self.assertEqual(t.show(item)["state"], "pending")
        t.ok("tick", now=h.at(2))
        msgs = t.messages()
        self.assertEqual(len(msgs), 2)
        self.assertEqual(msgs[1]["Subject"], "Reminder 1 of 2: documents needed for Year-end 2025")
        # uploaded completes it: nothing more, ever
        t.ok("event", item, "uploaded", now=h.at(3))
        self.assertEqual(t.show(item)["state"], "received")
        t.ok("tick", now=h.at(4))
        t.ok("tick", now=h.at(30))
        self.assertEqual(len(t.messages()), 2)
        self.assertEqual(t.show(item)["reminders"]["next_at"], None)

        # refusals come from the plugin, one line, nothing created
        err = t.fails("send", "request", "--account", acc, "--title", "Nothing",
                      "--set", "documents= ; ")
        self.assertIn("request: documents must name at least one document", err)
        err = t.fails("event", item, "downloaded")
        self.assertIn("downloaded", err)

        # Dutch
        nl = t.account("Jansen Holding", language="nl",
                       contacts=(("jan@jansen.example", "Jan Jansen", True),))
        t.clear()
        t.send("request", nl, "Jaarrekening 2025", fields={"documents": "Loonstroken; Bankafschriften",
                                                            "due_date": "2027-01-31"})
        [m] = t.messages()
        self.assertEqual(m["Subject"], "Documenten nodig: Jaarrekening 2025")
        body = m.get_content().replace("\r\n", "\n")
        self.assertIn("hebben wij 2 documenten van u nodig", body)
        self.assertIn("uiterlijk 31 januari 2027", body)

    def test_lua_verb_from_a_pipeline(self):
        for how in ("make", "cmake"):
            with self.subTest(how=how):
                scripts = tempfile.mkdtemp(prefix="tk-oot-lua-")
                self.addCleanup(shutil.rmtree, scripts, True)
                shutil.copy(os.path.join(EXAMPLE, "pipeline.lua"), scripts)
                t = self.deployment(how, extra_ini="[lua]\nscripts = %s\n" % scripts)
                acc = t.account("Acme BV")
                job = t.json("job", "add", "Year-end documents", "--account", acc, "--title",
                             "2026")["id"]
                j = t.json("job", "show", job)
                self.assertEqual(j["stage"], "Collect")
                [item] = j["items"]
                it = t.show(item)
                self.assertEqual((it["type"], it["template"], it["title"]),
                                 ("request", "year-end", "Year-end 2026"))
                self.assertEqual((it["reminders"]["enabled"], it["reminders"]["every_days"],
                                  it["reminders"]["count"]), (True, 3, 3))
                [m] = t.messages()
                self.assertEqual(m["Subject"], "Your year-end documents: Year-end 2026")
                self.assertIn("- Mortgage statement", m.get_content().replace("\r\n", "\n"))
                t.ok("tick", now=h.at(3))
                self.assertEqual(len(t.messages()), 2)
                r = t.run("event", item, "uploaded", now=h.at(4))
                self.assertEqual(r.rc, 0, r)
                self.assertIn("request %s uploaded for job %s" % (item, job), r.err)
                self.assertEqual(t.json("job", "show", job)["stage"], "Book")
                t.ok("tick", now=h.at(30))
                self.assertEqual(len(t.messages()), 2)


if __name__ == "__main__":
    h.main()
