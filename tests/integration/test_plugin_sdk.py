#!/usr/bin/python3
"""The plugin SDK and loader through the real binary (issues 11, 12, 16):
a plugin built against the ABI 1.0 headers works in today's host; every
descriptor string the host prints or routes by is checked; compiled-in
templates are parsed at load and template files at the start of every
command that sends; the plugin search path; the permission walk up to /;
the per-plugin memory cap; dates and amounts written by the host in the
account's language."""
import glob
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tkharness import FIXTURES, PLUGINS, SHARE, Tickler, at, body  # noqa: E402


class Base(unittest.TestCase):
    def folder(self, parent=None, mode=0o755):
        d = tempfile.mkdtemp(prefix="tk-plugins-", dir=parent)
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, mode)
        return d

    def plugins(self, *cases, real=True, parent=None):
        """A plugins folder: the real plugins (REAL) plus each fixture CASE."""
        d = self.folder(parent)
        if real:
            for so in glob.glob(os.path.join(PLUGINS, "*.so")):
                shutil.copy(so, d)
        for case in cases:
            for so in glob.glob(os.path.join(FIXTURES, "plugins", case, "*.so")):
                dst = os.path.join(d, "zz_" + os.path.basename(so))
                shutil.copy(so, dst)
                os.chmod(dst, 0o755)
        return d

    def deploy(self, plugins_line, extra_ini="", init=True):
        """A deployment whose [plugins] section is PLUGINS_LINE."""
        t = Tickler(self, init=False, extra_ini=extra_ini)
        ini = t.ini.replace("dir = " + PLUGINS, plugins_line)
        with open(t.config, "w") as f:
            f.write(ini)
        t.ini = ini
        if init:
            t.ok("init")
        return t

    def refused_line(self, t, *words, cmd="plugins"):
        r = t.run(cmd)
        self.assertEqual(r.rc, 1, r)
        lines = r.err.strip().splitlines()
        self.assertEqual(len(lines), 1, r.err)
        self.assertTrue(lines[0].startswith("tickler: plugin "), r.err)
        for w in words:
            self.assertIn(w, lines[0])
        self.assertNotIn("\x1b", r.err)
        return lines[0]


class Abi10Plugin(Base):
    """Issue 12: a plugin compiled against a copy of the 1.0 headers
    (tests/fixtures/sdk-1.0) loads into this host (ABI 1.3, whose struct
    tk_host has grown) and works: send, reminder, event."""

    def test_sends_reminds_and_completes(self):
        t = self.deploy("dir = " + self.plugins("sdk10"))
        ps = {p["name"]: p for p in t.json("plugins")}
        self.assertEqual(ps["legacy"]["abi"], "1.0")
        self.assertEqual(ps["invoice"]["abi"], "1.3")
        acc = t.account()
        item = t.send("legacy", acc, "Old style", "--reminders", "on", "--every", "2", "--count", "1")
        self.assertEqual(t.show(item)["fields"]["number"], "W-1")
        msgs = t.messages()
        self.assertEqual(len(msgs), 1)
        self.assertEqual(str(msgs[0]["Subject"]), "Widget Old style")
        self.assertIn("Please finish Old style (W-1, none).", body(msgs[0]))
        t.clear()
        out = t.json("tick", now=at(2, hours=1))
        self.assertEqual(out["reminders"], 1)
        self.assertEqual(str(t.messages()[0]["Subject"]), "Reminder: widget Old style")
        t.ok("event", item, "done")
        self.assertEqual(t.show(item)["state"], "done")

    def test_a_newer_minor_is_refused(self):
        t = self.deploy("dir = " + self.plugins("grown"), init=False)
        self.refused_line(t, "zz_grown.so", "built for ABI 1.4, newer than this tickler's ABI 1.3")
        self.assertFalse(os.path.exists(os.path.join(t.dir, "tickler.db")))


class DescriptorStrings(Base):
    """Issue 11: names, events, verbs, commands and texts are checked."""

    def check(self, case, *words, file="zz_widget.so"):
        t = self.deploy("dir = " + self.plugins(case), init=False)
        self.refused_line(t, file + ": refused: ", *words)
        self.assertFalse(os.path.exists(os.path.join(t.dir, "tickler.db")))

    def test_event_name_with_a_newline(self):
        self.check("bad_event", "bad event name 'done\\x0ax'")

    def test_type_named_transport_cannot_take_over_the_section(self):
        self.check("reserved_transport", "item type 'transport' has the name of a tickler config section")

    def test_description_with_a_terminal_escape(self):
        self.check("esc_description", "bad description 'Test \\x1b[31mwidgets'")

    def test_bulk_command_that_is_a_tickler_command(self):
        self.check("cli_bulk", "bulk command 'list' is a tickler command")

    def test_lua_verb_that_is_not_an_identifier(self):
        self.check("bad_verb", "bad Lua verb 'create-widget'")

    def test_two_types_one_lua_verb(self):
        self.check("verb_clash", "Lua verb 'create_widget' claimed by both", file="zz_b_widget.so")


class TemplatesAtLoad(Base):
    """Issue 16: a malformed placeholder is found when things load."""

    def test_broken_compiled_in_template_refuses_the_plugin(self):
        t = self.deploy("dir = " + self.plugins("broken_template"), init=False)
        line = self.refused_line(t, "zz_widget.so: refused: template en/default:4: ")
        self.assertRegex(line, r"template en/default:4: .*\S")

    def templates(self):
        d = tempfile.mkdtemp(prefix="tk-templates-")
        self.addCleanup(shutil.rmtree, d, True)
        shutil.copytree(os.path.join(SHARE, "templates"), os.path.join(d, "t"))
        return os.path.join(d, "t")

    def test_broken_template_file_is_named_but_stops_nothing_else(self):
        tdir = self.templates()
        path = os.path.join(tdir, "en", "invoice", "default.tmpl")
        with open(path) as f:
            lines = f.read().split("\n")
        n = next(i for i, l in enumerate(lines) if "{{invoice.amount_text}}" in l)
        lines[n] = lines[n].replace("{{invoice.amount_text}}", "{{invoice.amount_text}", 1)
        with open(path, "w") as f:
            f.write("\n".join(lines))
        where = "%s:%d: " % (path, n + 1)
        t = Tickler(self, init=False)
        ini = t.ini.replace("dir = " + os.path.join(SHARE, "templates"), "dir = " + tdir)
        self.assertNotEqual(ini, t.ini)
        with open(t.config, "w") as f:
            f.write(ini)
        self.assertEqual(t.run("init").rc, 0)
        acc = t.account()
        # a command that sends names the broken file, and still sends the rest
        r = t.run("--json", "send", "chat", "--account", acc, "--title", "Hello")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("tickler: warning: " + where, r.err)
        self.assertEqual(len(t.messages()), 1)
        # the email that needs the broken file is refused with FILE:LINE,
        # and nothing is created
        err = t.fails("send", "invoice", "--account", acc, "--title", "Fees",
                      "--set", "amount=10.00", "--set", "currency=EUR")
        self.assertIn(where, err.strip().splitlines()[-1])
        self.assertEqual([i["type"] for i in t.json("list")], ["chat"])
        # commands that do not send say nothing about templates
        r = t.run("list")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.err, "")
        # tick reports it too
        r = t.run("tick")
        self.assertEqual(r.rc, 0, r)
        self.assertIn(where, r.err)
        # the Dutch invoice template is another file, and fine
        nl = t.account("Bakker NL", language="nl", contacts=(("jan@nl.example", "Jan", True),))
        t.send("invoice", nl, "Nota")


class SearchPath(Base):
    """Issue 16: [plugins] path, allow_override, dir as a one-folder path."""

    def test_a_later_folder_cannot_shadow_an_earlier_one(self):
        a = self.plugins()
        b = self.folder()
        shutil.copy(os.path.join(PLUGINS, "invoice.so"), b)
        t = self.deploy("path = %s:%s" % (a, b), init=False)
        self.refused_line(t, os.path.join(b, "invoice.so"),
                          "type 'invoice' is already loaded from " + os.path.join(a, "invoice.so"),
                          "allow_override")

    def test_allow_override_lets_it(self):
        a = self.plugins()
        b = self.folder()
        shutil.copy(os.path.join(PLUGINS, "invoice.so"), b)
        t = self.deploy("path = %s:%s\nallow_override = yes" % (a, b))
        ps = {p["name"]: p for p in t.json("plugins")}
        self.assertEqual(ps["invoice"]["file"], os.path.join(b, "invoice.so"))
        self.assertEqual(ps["chat"]["file"], os.path.join(a, "chat.so"))
        acc = t.account()
        t.send("invoice", acc, "Fees")

    def test_default_path_skips_a_missing_local_folder(self):
        """No [plugins] key: the installed folder, then
        SYSCONFDIR/tickler/plugins, which need not exist."""
        t = self.deploy("", init=False)
        files = {p["name"]: p["file"] for p in t.json("plugins")}
        self.assertEqual(os.path.dirname(files["invoice"]), os.path.realpath(PLUGINS))

    def test_relative_folders_and_missing_ones(self):
        a = self.plugins()
        t = self.deploy("path = %s:missing" % a, init=False)
        r = t.run("plugins")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("cannot open plugins folder %s/missing: No such file or directory" % t.dir, r.err)

    def test_path_and_dir_together_is_a_config_error(self):
        t = self.deploy("dir = %s\npath = %s" % (PLUGINS, PLUGINS), init=False)
        r = t.run("plugins")
        self.assertEqual(r.rc, 1, r)
        self.assertRegex(r.err, r"^tickler: %s:\d+: \[plugins\] path and dir are both set" % re.escape(t.config))


class Permissions(Base):
    """Issue 11: every folder up to / is checked, as sshd's StrictModes."""

    def test_writable_parent_folder(self):
        top = self.folder()
        mid = os.path.join(top, "mid")
        os.mkdir(mid)
        os.chmod(mid, 0o777)
        d = self.plugins(parent=mid)
        t = self.deploy("dir = " + d, init=False)
        r = t.run("plugins")
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.err.strip(),
                         "tickler: plugin folder %s: refused: %s above it is writable by group or "
                         "others (mode 0777)" % (d, mid))
        # sticky, as /tmp is: accepted above the plugins folder
        os.chmod(mid, 0o1777)
        self.assertEqual(t.run("plugins").rc, 0)

    def test_symlinked_plugin_file_is_refused(self):
        d = self.plugins()
        os.symlink(os.path.join(PLUGINS, "invoice.so"), os.path.join(d, "zz_link.so"))
        t = self.deploy("dir = " + d, init=False)
        self.refused_line(t, "zz_link.so: refused: not a regular file (a symbolic link)")


class MemoryLimit(Base):
    """Issue 12: [plugins] memory_limit_mb is a real cap."""

    def test_a_plugin_past_its_cap_is_stopped_and_named(self):
        t = self.deploy("dir = %s\nmemory_limit_mb = 1" % self.plugins("hog"), init=False)
        r = t.run("plugins")
        self.assertEqual(r.rc, 1, r)
        last = r.err.strip().splitlines()[-1]
        self.assertIn("zz_widget.so: init failed: out of memory at 2097152 bytes "
                      "(it reached [plugins] memory_limit_mb = 1)", last)
        self.assertIn("allocation of 1048576 bytes refused", r.err)

    def test_out_of_range(self):
        t = self.deploy("dir = %s\nmemory_limit_mb = 0" % PLUGINS, init=False)
        r = t.run("plugins")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("bad value '0' for memory_limit_mb", r.err)


class TransportThreads(Base):
    """Issue 12: send() runs on [transport] connections threads sharing one
    state; the file transport keeps to the contract (and TSan watches it in
    CI)."""

    def test_file_transport_on_four_connections(self):
        t = Tickler(self)
        ini = t.ini.replace("[transport]\n", "[transport]\nconnections = 4\n", 1)
        with open(t.config, "w") as f:
            f.write(ini)
        acc = t.account(contacts=(("ann@acme.example", "Ann", True), ("bob@acme.example", "Bob", True)))
        for i in range(20):
            t.send("chat", acc, "Thread %d" % i, "--reminders", "on", "--every", "1", "--count", "1")
        self.assertEqual(len(t.spooled()), 40)
        out = t.json("tick", now=at(1, hours=1))
        self.assertEqual((out["reminders"], out["delivered"], out["queued"]), (20, 40, 0))
        files = t.spooled()
        self.assertEqual(len(files), 80)
        self.assertEqual(len({os.path.basename(f) for f in files}), 80)
        ids = {str(m["Message-ID"]) for m in t.messages()}
        self.assertEqual(len(ids), 80)


class LanguageFormats(Base):
    """Issue 16: the host writes dates and amounts in the account's
    language; the built-in types use it."""

    def test_english_and_dutch(self):
        t = Tickler(self)
        en = t.account()
        nl = t.account("Bakker NL", language="nl", contacts=(("jan@nl.example", "Jan", True),))
        fields = {"amount": "1234.50", "currency": "EUR", "due_date": "2026-12-31"}
        t.send("invoice", en, "Fees", fields=fields)
        t.send("invoice", nl, "Nota", fields=fields)
        en_msg, nl_msg = t.messages()
        self.assertIn("€1,234.50", body(en_msg))
        self.assertIn("31 December 2026", body(en_msg))
        self.assertIn("€ 1.234,50", body(nl_msg))
        self.assertIn("31 december 2026", body(nl_msg))


if __name__ == "__main__":
    unittest.main(verbosity=2)
