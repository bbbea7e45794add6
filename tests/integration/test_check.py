"""tickler check [--json]: every problem of a deployment listed at once,
with FILE:LINE where there is one, exit 0 or 1; the store read, never
created or changed.  Real plugins, a real SMTP server (aiosmtpd) and a
really closed port."""
import json
import os
import shutil
import socket
import sqlite3
import stat

import tkharness as h
import unittest


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Check(unittest.TestCase):
    def check(self, t, *args, rc):
        r = t.run("check", *args, now="")
        self.assertEqual(r.rc, rc, r)
        if rc:
            self.assertRegex(r.err.strip().splitlines()[-1], r"^tickler: check: \d+ problems? found$")
        return r

    def check_json(self, t, rc):
        r = t.run("--json", "check", now="")
        self.assertEqual(r.rc, rc, r)
        return json.loads(r.out)

    def problems(self, j, step=None):
        return [p for p in j["problems"] if step is None or p["check"] == step]

    def templates_dir(self, t):
        d = os.path.join(t.dir, "templates")
        shutil.copytree(os.path.join(h.SHARE, "templates"), d)
        t.ini = t.ini.replace("dir = " + os.path.join(h.SHARE, "templates"), "dir = " + d)
        with open(t.config, "w") as f:
            f.write(t.ini)
        return d

    def set_ini(self, t, text):
        t.ini = text
        with open(t.config, "w") as f:
            f.write(text)

    def test_a_sound_deployment_passes(self):
        t = h.Tickler(self)
        r = self.check(t, rc=0)
        for step in ("config", "plugins", "templates", "lua", "store", "transport", "log"):
            self.assertRegex(r.out, r"(?m)^%s\s+ok\s" % step)
        j = self.check_json(t, 0)
        self.assertEqual(j["ok"], True)
        self.assertEqual(j["problems"], [])
        self.assertEqual(j["config"], t.config)
        self.assertEqual([c["check"] for c in j["checks"]],
                         ["config", "plugins", "templates", "lua", "store", "transport", "log"])
        self.assertTrue(all(c["ok"] for c in j["checks"]))
        # --json after the command works too
        self.assertEqual(json.loads(t.run("check", "--json", now="").out)["ok"], True)

    def test_broken_template_file_and_line(self):
        t = h.Tickler(self)
        d = self.templates_dir(t)
        path = os.path.join(d, "en", "invoice", "default.tmpl")
        with open(path) as f:
            lines = f.read().split("\n")
        at = next(i for i, l in enumerate(lines) if l.startswith("Subject:"))
        lines[at] = "Subject: Invoice {{item.title}"
        with open(path, "w") as f:
            f.write("\n".join(lines))
        r = self.check(t, rc=1)
        self.assertIn("%s:%d: malformed placeholder" % (path, at + 1), r.out)
        j = self.check_json(t, 1)
        [p] = self.problems(j, "templates")
        self.assertEqual((p["file"], p["line"]), (path, at + 1))

    def test_template_for_no_loaded_type(self):
        t = h.Tickler(self)
        d = self.templates_dir(t)
        os.makedirs(os.path.join(d, "en", "invoices"))
        shutil.copy(os.path.join(d, "en", "invoice", "default.tmpl"), os.path.join(d, "en", "invoices"))
        r = self.check(t, rc=1)
        self.assertIn("no loaded item type is called 'invoices'", r.out)

    def test_broken_lua_script(self):
        t = h.Tickler(self)
        scripts = os.path.join(t.dir, "scripts")
        os.makedirs(scripts)
        with open(os.path.join(scripts, "a-good.lua"), "w") as f:
            f.write('pipeline("P", { { stage = "One" } })\n')
        with open(os.path.join(scripts, "b-bad.lua"), "w") as f:
            f.write('-- a typo on line 3\n\nlocal x = = 1\npipeline("Q", { { stage = "One" } })\n')
        with open(os.path.join(scripts, "c-event.lua"), "w") as f:
            f.write('on("invoice.payed", function(item, job) end)\n')
        self.set_ini(t, t.ini + "[lua]\nscripts = %s\n" % scripts)
        j = self.check_json(t, 1)
        probs = self.problems(j, "lua")
        self.assertEqual(len(probs), 2, probs)
        self.assertEqual((probs[0]["file"], probs[0]["line"]), (os.path.join(scripts, "b-bad.lua"), 3))
        self.assertEqual(probs[1]["file"], os.path.join(scripts, "c-event.lua"))
        self.assertIn("invoice has no event 'payed'", probs[1]["message"])

    def test_unknown_config_key(self):
        t = h.Tickler(self)
        self.set_ini(t, t.ini + "[reminders]\ndefault_count = 2\ncolour = blue\n")
        n = t.ini.count("\n")
        r = self.check(t, rc=1)
        self.assertIn("%s:%d: unknown key 'colour' in [reminders]" % (t.config, n), r.out)
        j = self.check_json(t, 1)
        self.assertEqual([(p["check"], p["line"]) for p in j["problems"]], [("config", n)])

    def test_unknown_key_in_a_plugin_section(self):
        t = h.Tickler(self)
        self.set_ini(t, t.ini + "[invoice]\nnumber_prefix = A-\nshape = round\n")
        j = self.check_json(t, 1)
        [p] = j["problems"]
        self.assertIn("unknown key 'shape' in [invoice]", p["message"])
        self.assertEqual(p["file"], t.config)

    def test_smtp_reachable_and_unreachable(self):
        srv = h.SmtpServer(self)
        t = h.Tickler(self, smtp=srv)
        r = self.check(t, rc=0)
        self.assertRegex(r.out, r"(?m)^transport\s+ok\s+smtp: reachable")
        self.assertEqual(srv.envelopes(), [])  # a probe sends nothing
        self.set_ini(t, t.ini.replace(srv.url, "smtp://127.0.0.1:%d" % closed_port()))
        r = self.check(t, rc=1)
        self.assertRegex(r.out, r"(?m)^transport\s+FAIL\s+smtp: .*(refused|connect)")
        j = self.check_json(t, 1)
        self.assertEqual([p["check"] for p in j["problems"]], ["transport"])

    def test_plugin_folder_with_bad_permissions(self):
        t = h.Tickler(self)
        plugins = os.path.join(t.dir, "plugins")
        os.makedirs(plugins)
        for so in os.listdir(h.PLUGINS):
            if so.endswith(".so"):
                shutil.copy(os.path.join(h.PLUGINS, so), plugins)
                os.chmod(os.path.join(plugins, so), 0o755)
        os.chmod(plugins, 0o777)
        self.set_ini(t, t.ini.replace("dir = " + h.PLUGINS, "dir = " + plugins))
        r = self.check(t, rc=1)
        self.assertRegex(r.out, r"(?m)^plugins\s+FAIL\s+plugin (folder )?%s\S*: refused: .*"
                                r"writable by group or others \(mode 0777\)" % plugins)
        # the rest is still checked, or said to be skipped
        self.assertRegex(r.out, r"(?m)^store\s+ok\s")
        self.assertRegex(r.out, r"(?m)^transport\s+skip\s+file: plugins not loaded")
        os.chmod(plugins, 0o755)
        self.check(t, rc=0)

    def test_every_problem_at_once(self):
        t = h.Tickler(self)
        d = self.templates_dir(t)
        with open(os.path.join(d, "nl", "chat", "default.tmpl"), "a") as f:
            f.write("\n{{#contact.name}} never closed\n")
        scripts = os.path.join(t.dir, "scripts")
        os.makedirs(scripts)
        with open(os.path.join(scripts, "x.lua"), "w") as f:
            f.write("local x = = 1\n")
        ini = t.ini.replace("plugin = file", "plugin = smtp\nurl = smtp://127.0.0.1:%d" % closed_port())
        ini = ini.replace("dir = " + t.spool + "\n", "")
        self.set_ini(t, ini + "[lua]\nscripts = %s\n" % scripts)
        j = self.check_json(t, 1)
        self.assertEqual(sorted(p["check"] for p in j["problems"]), ["lua", "templates", "transport"])
        r = self.check(t, rc=1)
        self.assertIn("tickler: check: 3 problems found", r.err)

    def test_store_missing_is_not_created(self):
        t = h.Tickler(self, init=False)
        if t.store != "sqlite":
            self.skipTest("SQLite file checks")
        r = self.check(t, rc=1)
        self.assertRegex(r.out, r"(?m)^store\s+FAIL\s+.*tickler\.db: No such file or directory "
                                r"\(tickler init creates the store\)")
        self.assertFalse(os.path.exists(os.path.join(t.dir, "tickler.db")))

    def test_store_newer_schema_and_unchanged_store(self):
        t = h.Tickler(self)
        if t.store != "sqlite":
            self.skipTest("writes the SQLite file directly")
        db = os.path.join(t.dir, "tickler.db")
        t.ok("account", "add", "Acme")
        self.check(t, rc=0)
        before = sqlite3.connect(db).execute("SELECT COUNT(*), MAX(version) FROM schema_version").fetchone()
        for _ in range(2):
            self.check(t, rc=0)
        after = sqlite3.connect(db).execute("SELECT COUNT(*), MAX(version) FROM schema_version").fetchone()
        self.assertEqual(before, after)
        con = sqlite3.connect(db)
        con.execute("INSERT INTO schema_version (version) VALUES (99)")
        con.commit()
        con.close()
        r = self.check(t, rc=1)
        self.assertRegex(r.out, r"(?m)^store\s+FAIL\s+.*schema version 99 is newer than this "
                                r"tickler knows")

    def test_unreadable_config(self):
        t = h.Tickler(self, init=False)
        self.set_ini(t, "[store\n")
        j = self.check_json(t, 1)
        [p] = j["problems"]
        self.assertEqual((p["check"], p["file"], p["line"]), ("config", t.config, 1))
        self.assertEqual([c["check"] for c in j["checks"]], ["config"])


if __name__ == "__main__":
    h.main()
