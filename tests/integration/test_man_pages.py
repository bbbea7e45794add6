"""The man pages: each one built by the build (scdoc) renders with man -l
without a groff warning, and says what docs/ and the binary say: every
command and option of `tickler --help` is in tickler(1), every key of
docs/configuration.md in tickler.ini(5), every name of the script API in
docs/lua.md in tickler-lua(7), every descriptor member, host service and
transport slot of docs/plugins.md in tickler-plugin(7)."""
import os
import re
import shutil
import subprocess
import unittest

import tkharness as h

MAN_DIR = os.path.join(os.path.dirname(h.SHARE), "man") if h.SHARE else ""
PAGES = {"tickler": 1, "tickler.ini": 5, "tickler-lua": 7, "tickler-plugin": 7}


def doc(name):
    with open(os.path.join(h.SOURCE, "docs", name)) as f:
        return f.read()


def table_keys(md, heading_re):
    """The first-column `names` of the table(s) under headings matching
    HEADING_RE, as {heading: [names]}."""
    out, current = {}, None
    for line in md.splitlines():
        m = re.match(r"#+ (.*)", line)
        if m:
            current = m.group(1) if re.search(heading_re, m.group(1)) else None
            continue
        if current is not None:
            m = re.match(r"\| `([^`]+)`", line)
            if m:
                out.setdefault(current, []).append(m.group(1))
    return out


@unittest.skipUnless(shutil.which("scdoc"), "scdoc is not installed: the build makes no man pages")
class ManPages(unittest.TestCase):
    rendered = {}

    @classmethod
    def setUpClass(cls):
        if not shutil.which("man"):
            raise unittest.SkipTest("man-db is not installed")
        env = dict(os.environ, MANWIDTH="100", LC_ALL="C.UTF-8")
        for page, sec in PAGES.items():
            path = os.path.join(MAN_DIR, "man%d" % sec, "%s.%d" % (page, sec))
            assert os.path.exists(path), "not built: %s" % path
            cp = subprocess.run(["man", "--warnings", "-P", "cat", "-l", path], env=env,
                                capture_output=True, text=True, timeout=60)
            cls.rendered[page] = (cp, path)

    def text(self, page):
        cp, _ = self.rendered[page]
        # undo the hyphenation of a narrow terminal and any overstrike
        out = re.sub(r".\x08", "", cp.stdout)
        out = re.sub(r"\u2010\n +", "", out)  # groff's hyphenation
        return re.sub(r"-\n +", "-", out)

    def test_each_page_renders(self):
        for page, sec in PAGES.items():
            cp, path = self.rendered[page]
            self.assertEqual(cp.returncode, 0, "%s: %s" % (path, cp.stderr))
            self.assertEqual(cp.stderr.strip(), "", "groff warnings for %s" % path)
            out = self.text(page)
            self.assertTrue(out.startswith("%s(%d)" % (page, sec)), out[:80])
            for section in ("NAME", "SEE ALSO"):
                self.assertIn("\n%s\n" % section, out, page)
            # and the compressed copy that is installed is the same page
            self.assertTrue(os.path.exists(path + ".gz"), path)

    def test_tickler_1_has_every_command_and_option(self):
        out = " ".join(self.text("tickler").split())
        r = subprocess.run([h.BIN, "--help"], capture_output=True, text=True)
        usages = [re.split(r"\s{2,}", l.strip())[0] for l in r.stdout.split("commands:\n", 1)[1].splitlines()
                  if l.startswith("  ") and l[2:3] not in ("", " ")]
        self.assertGreater(len(usages), 25)
        for usage in usages:
            if usage.startswith("COMMAND"):
                continue
            words = []
            for tok in usage.split():
                if not re.fullmatch(r"[a-z][a-z-]*", tok) or len(words) == 2:
                    break
                words.append(tok)
            self.assertIn(" ".join(words), out, usage)
            for opt in re.findall(r"--[a-z][a-z-]*", usage):
                self.assertIn(opt, out, "%s of '%s'" % (opt, usage))
        for opt in ("-c FILE", "--now TIME", "--json", "-V, --version", "-h, --help", "request-approvals",
                    "TICKLER_CONFIG", "TICKLER_NOW", "TICKLER_DSN", "NOTIFY_SOCKET", "/etc/tickler/tickler.ini"):
            self.assertIn(opt, out)

    def test_tickler_ini_5_has_every_key(self):
        out = " ".join(self.text("tickler.ini").split())
        sections = table_keys(doc("configuration.md"), r"^\[[a-z]+\]$")
        self.assertGreaterEqual(len(sections), 9)
        for heading, keys in sections.items():
            self.assertIn("\n%s\n" % heading, self.text("tickler.ini"), heading)
            for key in keys:
                self.assertRegex(out, r"(^|\s)%s = " % re.escape(key), "%s %s" % (heading, key))
        for plugin_key in ("number_prefix", "dir", "fsync", "url", "username", "password", "tls",
                           "timeout_seconds", "connect_timeout_seconds", "ca_file", "helo", "pipelining"):
            self.assertIn(plugin_key, out)

    def test_tickler_lua_7_has_every_api_name(self):
        out = " ".join(self.text("tickler-lua").split())
        md = doc("lua.md")
        names = set(re.findall(r"`(job[.:][a-z_]+)", md))
        names |= set(re.findall(r"`(job:[a-z_]+)\(", md))
        self.assertGreater(len(names), 12)
        for verb in re.findall(r"`(send_proposal|create_[a-z]+|send_message|request_[a-z]+)`", md):
            names.add("job:" + verb)
        for name in sorted(names):
            self.assertIn(name, out)
        for key in table_keys(md, r"^`pipeline\(NAME, STAGES\)`$").get("`pipeline(NAME, STAGES)`", []):
            self.assertIn(key, out)
        for word in ("pipeline(", "on(", "when_done", "manual", "on_enter", "memory_limit_mb",
                     "instruction_limit", "time_limit_ms", "pcall", "string.dump", "os.time"):
            self.assertIn(word, out)

    def test_tickler_plugin_7_has_every_sdk_name(self):
        out = " ".join(self.text("tickler-plugin").split())
        md = doc("plugins.md")
        tables = table_keys(md, r"^(What the descriptor declares|Host services and ownership|"
                                r"Transport plugins)$")
        self.assertEqual(len(tables), 3, tables.keys())
        for heading, names in tables.items():
            for name in names:
                # "alloc`, `realloc`, `free" or "format_date(ctx, ...)": the names
                for part in re.split(r"`?,\s*`", name.split("(")[0]):
                    part = part.strip("` ")
                    if part:
                        self.assertIn(part, out, "%s: %s" % (heading, name))
        for word in ("tk_plugin_entry", "TK_PLUGIN_HEADER_INIT", "TK_PLUGIN_EXPORT", "TK_ABI_MAJOR",
                     "TK_ABI_MINOR", "pkg-config --cflags tickler", "--variable=plugindir",
                     "find_package(Tickler", "tickler_add_plugin", "-fvisibility=hidden", "-z,defs",
                     "probe"):
            self.assertIn(word, out)


if __name__ == "__main__":
    h.main()
