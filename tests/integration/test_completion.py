"""The bash completion (etc/completion/tickler.bash) in a real bash,
completing against the real binary and plugins: commands, sub-commands,
options and their values, item types, fields and the events of an item's
type, as a user pressing TAB would get them."""
import os
import shutil
import subprocess
import tempfile
import unittest

import tkharness as h

SCRIPT = os.path.join(h.SOURCE, "etc", "completion", "tickler.bash")
BASH = shutil.which("bash")


@unittest.skipUnless(BASH, "bash is not installed")
class Completion(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tc = unittest.TestCase()

    def setUp(self):
        self.t = h.Tickler(self)

    def complete(self, line, env=None, cwd=None):
        """COMPREPLY for LINE (the cursor at its end; a trailing space means
        a new, empty word)."""
        words = line.split()
        if line.endswith(" "):
            words.append("")
        words[0] = h.BIN
        e = dict(os.environ)
        e.pop("TICKLER_NOW", None)
        e["TICKLER_CONFIG"] = self.t.config
        if env is not None:
            e = dict(env)
        prog = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
                'COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _tickler; '
                'printf "%s\\n" "${COMPREPLY[@]}"')
        cp = subprocess.run([BASH, "--norc", "--noprofile", "-c", prog, "bash", SCRIPT] + words,
                            env=e, cwd=cwd, capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp)
        self.assertEqual(cp.stderr, "", line)
        return sorted(x for x in cp.stdout.split("\n") if x)

    def test_commands(self):
        cmds = self.complete("tickler ")
        for c in ("init", "account", "contact", "send", "resend", "event", "tick", "run", "outbox",
                  "pipeline", "job", "plugins", "check", "migrate", "help", "request-approvals",
                  "export", "erase", "backup", "restore", "serve", "token"):
            self.assertIn(c, cmds)
        self.assertEqual(self.complete("tickler se"), ["send", "serve"])
        self.assertEqual(self.complete("tickler sen"), ["send"])
        self.assertEqual(self.complete("tickler req"), ["request-approvals"])
        self.assertEqual(self.complete("tickler --js"), ["--json"])
        self.assertEqual(self.complete("tickler --json chec"), ["check"])
        self.assertEqual(self.complete("tickler help jo"), ["job"])

    def test_sub_commands(self):
        self.assertEqual(self.complete("tickler account "), ["add", "list", "remove", "rename", "set", "show"])
        self.assertEqual(self.complete("tickler contact "), ["add", "list", "notify", "remove", "unsuppress"])
        self.assertEqual(self.complete("tickler account remove Acme --"), ["--force", "--help"])
        self.assertEqual(self.complete("tickler export --"), ["--account", "--help"])
        self.assertEqual(self.complete("tickler erase --"), ["--contact", "--help"])
        self.assertEqual(self.complete("tickler job "), ["add", "archive", "list", "move", "show"])
        self.assertEqual(self.complete("tickler outbox re"), ["retry"])

    def test_item_types_options_and_values(self):
        self.assertEqual(self.complete("tickler send "),
                         ["approval", "chat", "invoice", "organizer", "proposal", "signature"])
        self.assertEqual(self.complete("tickler send inv"), ["invoice"])
        self.assertEqual(self.complete("tickler send invoice --"),
                         ["--account", "--count", "--due", "--every", "--help", "--reminders",
                          "--schedule", "--set", "--template", "--title"])
        self.assertEqual(self.complete("tickler reminders 1 on --s"), ["--schedule"])
        self.assertEqual(self.complete("tickler send invoice --reminders "), ["off", "on"])
        self.assertEqual(self.complete("tickler send invoice --account 1 --set "),
                         ["amount=", "currency=", "due_date=", "number=", "paid="])
        self.assertEqual(self.complete("tickler send organizer --set t"), ["tax_year="])
        self.assertEqual(self.complete("tickler list --type c"), ["chat"])
        self.assertEqual(self.complete("tickler account add Acme --language "), ["en", "nl"])
        self.assertEqual(self.complete("tickler account set Acme --dig"), ["--digest"])
        self.assertEqual(self.complete("tickler event 1 paid --"), ["--help", "--set"])
        self.assertEqual(self.complete("tickler contact notify Acme ann@acme.example "), ["off", "on"])
        self.assertEqual(self.complete("tickler reminders 3 "), ["off", "on"])
        self.assertEqual(self.complete("tickler outbox retry "), ["--all-failed"])
        self.assertEqual(self.complete("tickler outbox --"), ["--failed", "--help", "--item"])
        self.assertEqual(self.complete("tickler account --"), ["--help"])
        self.assertEqual(self.complete("tickler account add Acme --"),
                         ["--digest", "--help", "--holidays", "--language", "--manager", "--timezone",
                          "--window"])
        self.assertEqual(self.complete("tickler webhook "), ["add", "list", "remove"])
        self.assertEqual(self.complete("tickler webhook add https://x.example/h --"),
                         ["--events", "--help", "--secret"])
        self.assertEqual(self.complete("tickler webhook add https://x.example/h --events "),
                         ["delivery.dead", "item.completed", "item.sent", "reminder.sent"])
        self.assertEqual(self.complete("tickler webhook add https://x.example/h --events item.sent,i"),
                         ["item.sent,item.completed", "item.sent,item.sent"])
        # a value that is free text gets nothing, not the option list
        self.assertEqual(self.complete("tickler send invoice --title "), [])

    def test_events_of_the_item_type(self):
        acc = self.t.account()
        inv = self.t.send("invoice", acc, "Fees")
        chat = self.t.send("chat", acc, "Question")
        self.assertEqual(self.complete("tickler event %s " % inv),
                         ["paid", "partially-paid", "viewed", "voided"])
        self.assertEqual(self.complete("tickler event %s " % chat), ["read", "replied", "tasks-done"])
        self.assertEqual(self.complete("tickler event %s p" % inv), ["paid", "partially-paid"])
        # an unknown item: every type's events
        every = self.complete("tickler event 999 ")
        for ev in ("paid", "signed", "submitted", "approved", "replied"):
            self.assertIn(ev, every)

    def test_config_from_the_command_line(self):
        env = {k: v for k, v in os.environ.items() if k != "TICKLER_CONFIG"}
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(self.complete("tickler send ", env=env, cwd=d), [])
            self.assertIn("invoice", self.complete("tickler -c %s send " % self.t.config, env=env, cwd=d))
            self.assertIn("invoice", self.complete("tickler --config=%s send " % self.t.config,
                                                   env=env, cwd=d))
            # completing without any configuration says nothing and leaves nothing
            self.assertIn("send", self.complete("tickler ", env=env, cwd=d))
            self.assertEqual(os.listdir(d), [])


if __name__ == "__main__":
    h.main()
