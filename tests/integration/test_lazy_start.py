#!/usr/bin/python3
"""Commands load only what they need (issue 17, CLI start): the plugins at
their first use, the Lua scripts only for commands that run automations.

The guard of that fast path is that every check still happens where it is
needed, with the same one-line error: a broken plugin in the folder refuses
every command that uses a plugin (an item's type, the transport, a bulk
command) with exactly the line `tickler plugins` prints, changing nothing,
and refuses tick, run and init at start; a command that needs no plugin
(show, list, audit, ...) works.  A configuration section that only a plugin
could claim is checked by every command, as before; a [transport] key of the
transport's is checked by every command that loads the transport."""
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tkharness import BIN, FIXTURES, PLUGINS, SmtpServer, Tickler, at  # noqa: E402


def lazy_libs_built():
    """TK_LAZY_LIBS of the build the binary comes from (BUILD/bin/tickler):
    on by default on x86-64, off in the sanitizer builds."""
    cache = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(BIN))),
                         "CMakeCache.txt")
    try:
        with open(cache) as f:
            return "TK_LAZY_LIBS:BOOL=ON" in f.read()
    except OSError:
        return platform.machine() == "x86_64"


def last_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    return lines[-1] if lines else ""


class LazyPlugins(unittest.TestCase):
    def deploy(self):
        """A deployment whose plugins folder is a copy of the real one, with
        an account, a sent invoice and its message in the store."""
        d = tempfile.mkdtemp(prefix="tk-lazy-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        for so in glob.glob(os.path.join(PLUGINS, "*.so")):
            shutil.copy(so, d)
        t = Tickler(self, init=False)
        with open(t.config) as f:
            ini = f.read().replace("dir = " + PLUGINS, "dir = " + d)
        with open(t.config, "w") as f:
            f.write(ini)
        t.ok("init")
        acc = t.account()
        item = t.send("invoice", acc, "Fees", "--reminders", "on", "--every", "1")
        self.assertEqual(len(t.spooled()), 1)
        return t, d, acc, item

    def snapshot(self, t):
        return (t.json("list"), t.json("outbox"), t.json("audit"), sorted(t.spooled()))

    def test_broken_plugin_refuses_what_needs_plugins_only(self):
        t, d, acc, item = self.deploy()
        bad = os.path.join(d, "zz_widget.so")
        shutil.copy(os.path.join(FIXTURES, "plugins", "wrong_abi", "widget.so"), bad)
        os.chmod(bad, 0o755)
        r = t.run("plugins")
        self.assertEqual(r.rc, 1, r)
        line = last_line(r.err)
        self.assertTrue(line.startswith("tickler: plugin ") and "zz_widget.so" in line, r.err)
        before = self.snapshot(t)

        # Every command that uses a plugin refuses with the loader's line.
        # (`reminders ITEM off` and `list --type` are not among them: they
        # need no plugin, so that the items of a plugin that is gone can be
        # listed and withdrawn, test_isolation.py.)
        for args in (("send", "invoice", "--account", acc, "--title", "More",
                      "--set", "amount=1.00", "--set", "currency=EUR"),
                     ("send", "chat", "--account", acc, "--title", "Hello"),
                     ("resend", item),
                     ("event", item, "paid"),
                     ("request-approvals", acc),
                     ("tick",),
                     ("init",)):
            r = t.run(*args, now="2026-12-03T09:00:00Z")
            self.assertEqual(r.rc, 1, (args, r))
            self.assertEqual(last_line(r.err), line, args)
        self.assertEqual(self.snapshot(t), before)

        # What reads the store only works, without loading any plugin.
        self.assertEqual(t.show(item)["state"], "pending")
        t.ok("list")
        t.ok("audit", item)
        t.ok("todo", acc)
        t.ok("outbox")
        t.ok("account", "list")
        t.ok("contact", "list", acc)
        t.ok("job", "list")

        # Fixed: everything works again.
        os.unlink(bad)
        self.assertGreaterEqual(t.json("tick", now="2026-12-03T09:00:00Z")["reminders"], 1)
        self.assertEqual(len(t.spooled()), 2)

    @unittest.skipUnless(shutil.which("strace"), "needs strace")
    def test_send_leaves_its_plugins_to_the_exit_and_still_finis_them(self):
        # A command's last close runs every plugin's fini, as before, but
        # leaves the objects mapped for the kernel to drop at exit: no
        # dlclose, so no second open of /proc/self/fd/N per plugin (the
        # loader's probe after a dlclose).  What the command prints and
        # stores is unchanged (bench/samepath.py).
        import subprocess
        t, d, acc, item = self.deploy()
        good = os.path.join(FIXTURES, "plugins", "good", "widget.so")
        shutil.copy(good, os.path.join(d, "widget.so"))
        os.chmod(os.path.join(d, "widget.so"), 0o755)
        nplugins = len(glob.glob(os.path.join(d, "*.so")))
        trace = os.path.join(t.dir, "strace.out")
        env = dict(os.environ, TICKLER_CONFIG=t.config)
        env.pop("TICKLER_NOW", None)
        # LeakSanitizer stops the world with ptrace, which strace holds
        asan = env.get("ASAN_OPTIONS", "")
        env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "detect_leaks=0"
        cp = subprocess.run(["strace", "-f", "-o", trace, "-e", "trace=openat,munmap",
                             BIN, "--now", "2026-12-03T09:00:00Z", "send", "chat",
                             "--account", acc, "--title", "Hello"],
                            env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        # the widget's init and fini lines, fini last: it ran at the close
        lines = [l for l in cp.stderr.splitlines() if l.startswith("tickler: widget: ")]
        self.assertEqual(len(lines), 2, cp.stderr)
        self.assertTrue(lines[0].startswith("tickler: widget: init "), cp.stderr)
        self.assertEqual(lines[1], "tickler: widget: fini", cp.stderr)
        self.assertEqual(last_line(cp.stderr), "tickler: widget: fini", cp.stderr)
        with open(trace) as f:
            calls = f.read().splitlines()
        opens = [l for l in calls if '"/proc/self/fd/' in l]
        self.assertEqual(len(opens), nplugins, opens)
        self.assertEqual(len(t.json("list")), 2)

    def test_foreign_library_code_never_runs_for_show(self):
        # The canary's constructor would run on dlopen: nothing opens it for
        # show, and the loader still refuses it before it runs for send.
        t, d, acc, item = self.deploy()
        src = os.path.join(t.dir, "ctor.c")
        with open(src, "w") as f:
            f.write('#include <fcntl.h>\n#include <stdlib.h>\n'
                    '__attribute__((constructor)) static void c(void)'
                    '{ const char *p = getenv("TK_CANARY"); if (p) creat(p, 0600); }\n'
                    'int some_function(void) { return 1; }\n')
        so = os.path.join(d, "zz_ctor.so")
        import subprocess
        subprocess.run(["cc", "-shared", "-fPIC", "-o", so, src], check=True)
        os.chmod(so, 0o755)
        canary = os.path.join(t.dir, "canary")
        r = t.run("show", item, env={"TK_CANARY": canary})
        self.assertEqual(r.rc, 0, r)
        r = t.run("resend", item, env={"TK_CANARY": canary})
        self.assertEqual(r.rc, 1, r)
        self.assertIn("zz_ctor.so: refused: not a tickler plugin", last_line(r.err))
        self.assertFalse(os.path.exists(canary))


class LazyLibraries(unittest.TestCase):
    def test_show_and_send_load_no_library_they_do_not_use(self):
        # libcurl (webhooks, IMAP), libical (holiday files) and, through
        # cmake/lazylib.cmake, GMime, libmicrohttpd, libcrypto and libsodium
        # are opened at their first use: a command that needs none of them
        # maps none of them, nor their dependencies (bench/RESULTS.md update
        # 10: 32.4M -> 3.2M instructions for `show 1`, almost all of it the
        # dynamic loader's symbol lookups).  On SQLite: the PostgreSQL
        # driver opens libpq, which itself needs libcrypto, libssl and
        # GnuTLS (CI's PostgreSQL stage).
        t = Tickler(self, store="sqlite")
        acc = t.account()
        item = t.send("approval", acc, "Fees")
        plain = t.run("show", item)
        self.assertEqual(plain.rc, 0, plain)
        for args in (("show", item), ("--json", "show", item), ("list",),
                     ("send", "approval", "--account", acc, "--title", "More")):
            r = t.run(*args, env={"LD_DEBUG": "files"})
            self.assertEqual(r.rc, 0, (args, r))
            libs = ["libcurl.so", "libical.so", "libicuuc.so"]
            if lazy_libs_built():
                libs += ["libgmime-3.0.so", "libglib-2.0.so", "libmicrohttpd.so",
                         "libcrypto.so", "libsodium.so", "libgnutls.so"]
            for lib in libs:
                self.assertNotIn("file=" + lib, r.err, (args, lib))
        r = t.run("show", item, env={"LD_DEBUG": "files"})
        self.assertEqual(r.out, plain.out)
        # and a holiday file still loads libical when it is needed
        ics = os.path.join(t.dir, "days.ics")
        with open(ics, "w") as f:
            f.write("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
                    "BEGIN:VEVENT\r\nUID:a@t\r\nDTSTAMP:20260101T000000Z\r\n"
                    "DTSTART;VALUE=DATE:20261225\r\nSUMMARY:Xmas\r\nEND:VEVENT\r\n"
                    "END:VCALENDAR\r\n")
        r = t.run("account", "add", "Holidays", "--holidays", ics, env={"LD_DEBUG": "files"})
        self.assertEqual(r.rc, 0, r)
        self.assertIn("file=libical.so", r.err)

    def test_static_archives_leave_nothing_to_map(self):
        # SQLite, Lua, jansson and inih come from Debian's static archives
        # when the build finds them (CMakeLists.txt TK_STATIC_LIBS=AUTO; the
        # sanitizer builds keep the shared libraries): the loader's symbol
        # lookups for libsqlite3.so were a third of `show 1` (bench/RESULTS.md
        # update 58).  `--json -V` says which ones ("linked_in"); a command
        # maps exactly the shared ones, and prints the same either way.
        v = json.loads(subprocess.run([BIN, "--json", "-V"], capture_output=True,
                                      text=True, check=True).stdout)
        linked = v["linked_in"]
        shared = {"sqlite": "libsqlite3.so", "lua": "liblua5.4.so",
                  "jansson": "libjansson.so", "inih": "libinih.so"}
        self.assertTrue(set(linked) <= set(shared), linked)
        cache = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(BIN))),
                             "CMakeCache.txt")
        if os.path.exists(cache):
            with open(cache) as f:
                text = f.read()
            sanitized = "TK_SANITIZE:BOOL=ON" in text or "TK_TSAN:BOOL=ON" in text
            if "TK_STATIC_LIBS:STRING=OFF" in text or (
                    "TK_STATIC_LIBS:STRING=AUTO" in text and sanitized):
                self.assertEqual(linked, [])
            elif ("TK_STATIC_LIBS:STRING=" in text and "TK_SQLITE_ARCHIVE:FILEPATH=/" in text):
                self.assertIn("sqlite", linked)  # the default build found the archive
        t = Tickler(self, store="sqlite")
        acc = t.account()
        item = t.send("approval", acc, "Fees")
        plain = t.run("show", item)
        for args in (("show", item), ("send", "approval", "--account", acc, "--title", "More")):
            r = t.run(*args, env={"LD_DEBUG": "files"})
            self.assertEqual(r.rc, 0, (args, r))
            for key, lib in shared.items():
                if key in linked:
                    self.assertNotIn("file=" + lib, r.err, (args, lib))
                else:
                    self.assertIn("file=" + lib, r.err, (args, lib))
        self.assertEqual(t.run("show", item).out, plain.out)

    def test_smtp_send_maps_no_libidn2_for_ascii_domains(self):
        # The smtp plugin opens libidn2 at the first international domain
        # (test_addresses.py delivers to one, as punycode, through both
        # clients); a `send` to ASCII addresses maps neither it nor
        # libunistring, and queues the same message.
        import socket

        class Closed:
            def __init__(self):
                s = socket.socket()
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
                s.close()
                self.url = "smtp://127.0.0.1:%d" % self.port

        t = Tickler(self, smtp=Closed())
        acc = t.account()
        r = t.run("send", "approval", "--account", acc, "--title", "More",
                  env={"LD_DEBUG": "files"})
        self.assertEqual(r.rc, 0, r)
        self.assertIn("file=/proc/self/fd/", r.err)  # the plugins did load
        # no plugin brings a library of its own; whether the process maps
        # libidn2 at all depends on the rest: libpq's GnuTLS on PostgreSQL,
        # and a build without TK_LAZY_LIBS links GnuTLS (through MHD)
        self.assertEqual([l for l in r.err.splitlines() if "needed by /proc/self/fd/" in l], [])
        if t.store != "postgres" and lazy_libs_built():
            for lib in ("libidn2.so", "libunistring.so"):
                self.assertNotIn("file=" + lib, r.err, lib)
        self.assertEqual(len(t.rows("SELECT id FROM outbox")), 1)


class LazyIdnUnloadable(unittest.TestCase):
    """libidn2 is opened at the first international domain (core/util/
    idnfn.c, compiled into core and into smtp.so).  When it cannot be
    loaded, such a domain is neither accepted nor refused as invalid: the
    CLI refuses with one line naming libidn2 and changes nothing, and a
    queued message to it stays queued (temporary) with that reason until a
    later attempt can load it.  $TK_TEST_IDN_LIBRARY (idnfn.h, tests only)
    names the file opened in place of libidn2.so.0: a path that does not
    exist makes the real dlopen fail in that process only."""

    IDN = "b\u00fccher.example"           # bücher.example
    IDN_ASCII = "xn--bcher-kva.example"

    def missing(self, t):
        path = os.path.join(t.dir, "no-such-folder", "libidn2.so.0")
        why = ("cannot load libidn2.so.0: %s: cannot open shared object file: "
               "No such file or directory" % path)
        return {"TK_TEST_IDN_LIBRARY": path}, why

    def test_contact_add_refuses_with_one_line_and_changes_nothing(self):
        t = Tickler(self)
        acc = t.ok("account", "add", "Acme BV").strip()
        # a library that loads but is no libidn2
        stub = os.path.join(t.dir, "libstub.so")
        src = os.path.join(t.dir, "stub.c")
        with open(src, "w") as f:
            f.write("int stub_function(void) { return 1; }\n")
        import subprocess
        subprocess.run(["cc", "-shared", "-fPIC", "-o", stub, src], check=True)
        env, why = self.missing(t)
        state = lambda: (t.json("contact", "list", acc), t.json("audit"))  # noqa: E731
        before = state()
        for knob, reason in ((env, why),
                             ({"TK_TEST_IDN_LIBRARY": stub},
                              "libidn2.so.0 has no idn2_to_ascii_8z")):
            r = t.run("contact", "add", acc, "ann@" + self.IDN, "--name", "Ann", env=knob)
            self.assertEqual(r.rc, 1, r)  # a failure, not a usage error (docs/cli.md)
            self.assertEqual(r.out, "", r)
            self.assertEqual(r.err.splitlines(),
                             ["tickler: international domain %s: %s" % (self.IDN, reason)], r)
            self.assertEqual(state(), before)
        # an ASCII domain needs no libidn2
        t.ok("contact", "add", acc, "bob@example.com", env=env)
        # loadable again: the same address is accepted, stored as written
        t.ok("contact", "add", acc, "ann@" + self.IDN, "--name", "Ann")
        self.assertEqual(sorted(c["email"] for c in t.json("contact", "list", acc)),
                         ["ann@" + self.IDN, "bob@example.com"])

    def test_queued_message_waits_for_libidn2_then_goes_out(self):
        # Ann's domain is international, Bob's is not.
        srv = SmtpServer(self)
        srv.stop()  # the relay is down while the item is sent: both queue
        t = Tickler(self, smtp=srv)
        acc = t.ok("account", "add", "Acme BV").strip()
        ann = "ann@" + self.IDN
        t.ok("contact", "add", acc, ann, "--name", "Ann")
        t.ok("contact", "add", acc, "bob@example.com", "--name", "Bob")
        env, why = self.missing(t)
        send = ("send", "invoice", "--account", acc, "--title", "Fees", "--reminders", "off",
                "--set", "amount=1.00", "--set", "currency=EUR")
        state = lambda: (t.json("list"), t.json("outbox"), t.json("audit"))  # noqa: E731
        before = state()

        # A message cannot be built for Ann's domain: `send` refuses whole,
        # with the reason (not "invalid To address"), and changes nothing.
        r = t.run(*send, env=env)
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.err.splitlines(),
                         ["tickler: mail: To address: international domain %s: %s"
                          % (self.IDN, why)], r)
        self.assertEqual(state(), before)

        t.ok(*send)
        rows = t.json("outbox")
        self.assertEqual(sorted((r["recipient"], r["state"]) for r in rows),
                         [(ann, "queued"), ("bob@example.com", "queued")], rows)

        # The relay is back, libidn2 is not: Bob's message goes out, Ann's
        # stays queued (temporary, not dead) with the reason in one line.
        # It is its own failure, not the relay's (reply code 451, not 0):
        # the messages after it in the batch are not held back.
        srv.start()
        t.ok("tick", now=at(days=1), env=env)
        self.assertEqual([e["rcpt_tos"] for e in srv.envelopes()], [["bob@example.com"]])
        row, = [r for r in t.json("outbox") if r["recipient"] == ann]
        self.assertEqual((row["state"], row["attempts"], row["reply_code"]), ("queued", 2, 451),
                         row)
        self.assertEqual(row["reply"], "the domain of the recipient address: " + why, row)
        self.assertNotIn("\n", row["reply"])
        self.assertEqual(t.json("outbox", "--failed"), [])

        # libidn2 loads again: the next tick delivers it, as punycode
        t.ok("tick", now=at(days=2))
        self.assertEqual(sorted(e["rcpt_tos"][0] for e in srv.envelopes()),
                         ["ann@" + self.IDN_ASCII, "bob@example.com"])
        row, = [r for r in t.json("outbox") if r["recipient"] == ann]
        self.assertEqual(row["state"], "sent", row)

    def test_due_reminder_is_skipped_with_the_reason(self):
        # A reminder's message is built at the tick: the item is skipped
        # and retried, `why` names libidn2, nothing goes out for it.
        t = Tickler(self)
        acc = t.ok("account", "add", "Acme BV").strip()
        t.ok("contact", "add", acc, "ann@" + self.IDN, "--name", "Ann")
        item = t.send("invoice", acc, "Fees", "--reminders", "on", "--every", "1")
        sent = len(t.spooled())
        env, why = self.missing(t)
        r = t.run("tick", now=at(days=2), env=env)
        self.assertEqual(r.rc, 1, r)
        reason = "mail: To address: international domain %s: %s" % (self.IDN, why)
        self.assertIn("tickler: warning: item %s skipped until " % item, r.err)
        self.assertTrue(r.err.splitlines()[0].endswith(": " + reason), r.err)
        self.assertEqual(t.json("why", item, now=at(days=2))["last_failure"]["error"], reason)
        self.assertEqual(len(t.spooled()), sent)
        self.assertGreaterEqual(t.json("tick", now=at(days=2, minutes=1))["reminders"], 1)
        self.assertEqual(len(t.spooled()), sent + 1)

class LazyConfig(unittest.TestCase):
    def test_plugin_section_checked_by_every_command(self):
        t = Tickler(self)
        acc = t.account()
        item = t.send("invoice", acc, "Fees")
        with open(t.config, "a") as f:
            f.write("[invoice]\ncolour = red\n")
        n = len(t.ini.splitlines()) + 2
        for args in (("show", item), ("list",), ("audit",)):
            err = t.fails(*args)
            self.assertIn("%s:%d:" % (t.config, n), last_line(err))
            self.assertIn("colour", last_line(err))

    def test_transport_key_checked_where_the_transport_loads(self):
        t = Tickler(self)
        acc = t.account()
        item = t.send("invoice", acc, "Fees")
        with open(t.config) as f:
            ini = f.read()
        with open(t.config, "w") as f:
            f.write(ini.replace("[transport]\n", "[transport]\ncolour = red\n", 1))
        n = ini.splitlines().index("[transport]") + 2
        before = (t.json("list"), t.json("outbox"), t.json("audit"))
        for args in (("send", "chat", "--account", acc, "--title", "Hi"), ("resend", item),
                     ("tick",)):
            err = t.fails(*args)
            self.assertIn("%s:%d: unknown key 'colour' in [transport]" % (t.config, n),
                          last_line(err))
        self.assertEqual((t.json("list"), t.json("outbox"), t.json("audit")), before)
        self.assertEqual(t.show(item)["state"], "pending")


class LazyScripts(unittest.TestCase):
    def test_scripts_read_only_by_commands_that_run_automations(self):
        # A script that records each load in a file it may not write would
        # fail the sandbox; count loads through a broken script's refusal
        # instead: commands that run no automation never see it.
        d = tempfile.mkdtemp(prefix="tk-lazy-lua-")
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, "bad.lua"), "w") as f:
            f.write("pipeline('x', {\n")
        t = Tickler(self, extra_ini="[lua]\nscripts = %s\n" % d)
        acc = t.account()
        item = t.send("invoice", acc, "Fees")
        for args in (("show", item), ("list",), ("resend", item), ("outbox",),
                     ("reminders", item, "on")):
            r = t.run(*args)
            self.assertEqual(r.rc, 0, (args, r))
            self.assertNotIn("bad.lua", r.err, args)
        for args in (("event", item, "paid"), ("job", "add", "x", "--account", acc)):
            self.assertIn("bad.lua:", t.fails(*args))


if __name__ == "__main__":
    unittest.main()
