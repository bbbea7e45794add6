"""One bad item never stops the others (issue 11 items 2 and 3).

Each case poisons one account's item the way issue 11 found it: a contact
address already in the store that the mail builder refuses, a firm template
with a typo, a named template that was deleted, an item type whose plugin
was removed.  Other accounts have reminders due in the same tick: they must
go out, the tick must exit 1 after doing them, the poisoned item must carry
its failure (`why`, the audit trail, the tick's summary) and a retry time
that grows with each failure up to [delivery] retry_cap_seconds, and it
must work again once the cause is gone.  A daemon with a poisoned item must
not spin (CPU time measured from /proc/PID/stat).
"""
import json
import os
import re
import shutil
import sqlite3
import time
import unittest

import delivery_lib as dl
from tkharness import PLUGINS, SHARE, Tickler, at, parse_iso

DUE = at(days=3, hours=1)  # every item below has its first reminder due


class Deployment:
    """A SQLite deployment with private copies of the plugins and templates
    (so a test may break or remove them) and three accounts, each with an
    invoice whose reminder is due at DUE."""

    def __init__(self, tc, extra_ini=""):
        self.t = t = Tickler(tc, store="sqlite", init=False, extra_ini=extra_ini)
        self.plugins = os.path.join(t.dir, "plugins")
        self.templates = os.path.join(t.dir, "templates")
        shutil.copytree(PLUGINS, self.plugins)
        shutil.copytree(os.path.join(SHARE, "templates"), self.templates)
        ini = t.ini.replace("dir = " + PLUGINS + "\n", "dir = " + self.plugins + "\n")
        ini = ini.replace("dir = " + os.path.join(SHARE, "templates") + "\n",
                          "dir = " + self.templates + "\n")
        with open(t.config, "w") as f:
            f.write(ini)
        t.ok("init")
        self.db = os.path.join(t.dir, "tickler.db")
        self.accounts = {}
        self.items = {}
        for name in ("Acme", "Bolt", "Cask"):
            local = name.lower()
            acc = t.account(name, contacts=(("%s@%s.example" % (local, local), name, True),))
            self.accounts[name] = acc
            self.items[name] = self.send(acc, "invoice")

    def send(self, acc, type_, *extra, fields=None):
        return self.t.send(type_, acc, "Item of %s" % acc, "--reminders", "on", *extra,
                           fields=fields)

    def sql(self, stmt, *args):
        con = sqlite3.connect(self.db)
        try:
            rows = con.execute(stmt, args).fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def reminders_to(self):
        """Recipients of the reminders spooled so far."""
        out = []
        for m in self.t.messages():
            if m["X-Tickler-Kind"] == "reminder":
                out.append(str(m["To"]))
        return out


class Isolation(unittest.TestCase):
    def tick(self, d, now=DUE):
        r = d.t.run("--json", "tick", now=now)
        return r, json.loads(r.out) if r.out.strip() else None

    def check_isolated(self, d, bad, cause, now=DUE):
        """Tick at NOW: the other accounts' reminders go out, BAD is skipped
        with CAUSE in the summary, the audit trail and why."""
        r, summary = self.tick(d, now)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("1 item skipped", r.err)
        self.assertEqual(summary["skipped"], 1, summary)
        [skip] = summary["skipped_items"]
        self.assertEqual(skip["item"], int(bad))
        self.assertIn(cause, skip["error"])
        retry = parse_iso(skip["retry_at"])
        self.assertGreater(retry, parse_iso(now))
        sent = d.reminders_to()
        for name, item in d.items.items():
            if item != bad:
                self.assertTrue(any(name.lower() + "@" in s for s in sent), (name, sent))
        audit = [e for e in d.t.json("audit", bad, now=now) if e["action"] == "reminder-failed"]
        self.assertEqual(len(audit), 1, audit)
        self.assertIn(cause, audit[0]["detail"])
        why = d.t.json("why", bad, now=now)
        self.assertEqual(why["last_failure"]["count"], 1)
        self.assertIn(cause, why["last_failure"]["error"])
        self.assertTrue(why["retry"])
        self.assertEqual(parse_iso(why["next"]), retry)
        text = d.t.ok("why", bad, now=now)
        self.assertIn("last failure:", text)
        self.assertIn(cause, text)
        # nothing about the bad item reached the outbox, the rest did not
        # block on it, and a second tick before the retry time skips nothing
        self.assertEqual(d.t.json("outbox", "--item", bad, now=now)[1:], [])
        r2, s2 = self.tick(d, now)
        self.assertEqual(r2.rc, 0, r2)
        self.assertEqual(s2["skipped"], 0)
        return retry

    def test_bad_address_in_store(self):
        d = Deployment(self)
        bad = d.items["Acme"]
        # a byte that is not UTF-8, stored before addresses were checked
        d.sql("UPDATE contacts SET email = CAST(X'61636D6540FF61636D652E6578616D706C65' AS TEXT) "
              "WHERE account_id = ?", int(d.accounts["Acme"]))
        retry = self.check_isolated(d, bad, "invalid To address")
        # fixed: the retry sends it and clears the failure
        d.sql("UPDATE contacts SET email = 'acme@acme.example' WHERE account_id = ?",
              int(d.accounts["Acme"]))
        r, s = self.tick(d, iso_after(retry))
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(s["reminders"], 1)
        self.assertIn("acme@acme.example", " ".join(d.reminders_to()))
        why = d.t.json("why", bad, now=iso_after(retry))
        self.assertIsNone(why["last_failure"])

    def test_broken_template_names_file_and_line(self):
        d = Deployment(self)
        acc = d.t.account("Dune", contacts=(("dune@dune.example", "Dune", True),))
        bad = d.send(acc, "chat")
        d.items["Dune"] = bad
        path = os.path.join(d.templates, "en", "chat", "default.tmpl")
        with open(path) as f:
            lines = f.read().split("\n")
        n = next(i for i, l in enumerate(lines) if "awaiting your reply." in l)
        lines[n] = lines[n].replace("awaiting your reply.", "awaiting your reply {{item.title}.")
        with open(path, "w") as f:
            f.write("\n".join(lines))
        self.check_isolated(d, bad, "%s:%d:" % (path, n + 1))

    def test_deleted_named_template(self):
        d = Deployment(self)
        folder = os.path.join(d.templates, "en", "invoice")
        shutil.copy(os.path.join(folder, "default.tmpl"), os.path.join(folder, "gone.tmpl"))
        acc = d.t.account("Dune", contacts=(("dune@dune.example", "Dune", True),))
        bad = d.send(acc, "invoice", "--template", "gone")
        d.items["Dune"] = bad
        os.unlink(os.path.join(folder, "gone.tmpl"))
        self.check_isolated(d, bad, "no template gone")

    def test_missing_plugin_item_waits_and_comes_back(self):
        d = Deployment(self)
        acc = d.t.account("Dune", contacts=(("dune@dune.example", "Dune", True),))
        bad = d.send(acc, "proposal")
        d.items["Dune"] = bad
        other = d.send(acc, "proposal")
        so = os.path.join(d.plugins, "proposal.so")
        shutil.move(so, os.path.join(d.t.dir, "proposal.so"))
        # still listable, showable, and can be withdrawn (reminders off)
        self.assertIn(bad, [i["id"] for i in d.t.json("list", "--type", "proposal")])
        self.assertEqual(d.t.json("show", bad)["type"], "proposal")
        d.t.ok("reminders", other, "off")
        why = d.t.json("why", bad)
        self.assertFalse(why["type_loaded"])
        r, s = self.tick(d)
        self.assertEqual(r.rc, 1, r)
        self.assertEqual([k["item"] for k in s["skipped_items"]], [int(bad)])
        self.assertIn("proposal", s["skipped_items"][0]["error"])
        self.assertEqual(sorted(d.reminders_to()),
                         sorted(["%s <%s@%s.example>" % (n, n.lower(), n.lower())
                                 for n in ("Acme", "Bolt", "Cask")]))
        # the plugin returns: the item works again at its retry
        shutil.move(os.path.join(d.t.dir, "proposal.so"), so)
        retry = parse_iso(s["skipped_items"][0]["retry_at"])
        r, s = self.tick(d, iso_after(retry))
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(s["reminders"], 1)
        self.assertIn("dune@dune.example", " ".join(d.reminders_to()))
        # the withdrawn one sent nothing
        self.assertEqual(d.t.json("why", other)["next"], None)

    def test_backoff_grows_to_the_cap(self):
        d = Deployment(self, extra_ini="[delivery]\nretry_base_seconds = 60\n"
                                       "retry_cap_seconds = 240\n")
        bad = d.items["Acme"]
        d.sql("UPDATE contacts SET email = CAST(X'61636D6540FF61636D652E6578616D706C65' AS TEXT) "
              "WHERE account_id = ?", int(d.accounts["Acme"]))
        now = parse_iso(DUE)
        delays = []
        for k in range(5):
            r, s = self.tick(d, iso(now))
            self.assertEqual(r.rc, 1, r)
            retry = parse_iso(s["skipped_items"][0]["retry_at"])
            delays.append(retry - now)
            why = d.t.json("why", bad, now=iso(now))
            self.assertEqual(why["last_failure"]["count"], k + 1)
            now = retry
        # full jitter: attempt k waits between the base and min(cap, base * 2^(k-1))
        for k, delay in enumerate(delays):
            self.assertGreaterEqual(delay, 60, delays)
            self.assertLessEqual(delay, min(240, 60 * 2 ** k), delays)
        self.assertEqual(len([e for e in d.t.json("audit", bad, now=iso(now))
                              if e["action"] == "reminder-failed"]), 5)


class RunsAsItems(unittest.TestCase):
    """tick.c's runs (issue 17): the items of a scheduler transaction share
    one savepoint, and an item that fails on its own has the run rolled
    back and its earlier items written again, one savepoint each.  Guard:
    the store and the messages end as the old path, one savepoint an item
    (TK_TEST_ITEM_SAVEPOINTS), leaves them, at 1 connection and at 4 (the
    dispatching thread's rounds), with items failing first, in the middle
    and last, two in a row, by an address the mail builder refuses and by
    a deleted template, and an item that waits for a notify-on contact
    (counted apart) in a run that is rolled back."""

    MID = re.compile(r"<[^<>@\s]+@[^<>\s]+>")
    CAST = "CAST(X'61636D6540FF61636D652E6578616D706C65' AS TEXT)"

    def dump(self, d, racy):
        con = sqlite3.connect(d.db)
        con.text_factory = lambda b: b.decode(errors="replace")  # the refused address
        out = []
        try:
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = "
                                                "'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")]
            for t in tables:
                cols = [r[1] for r in con.execute("PRAGMA table_info(%s)" % t)]
                order = ", ".join(str(i + 1) for i in range(min(len(cols), 2)))
                for row in con.execute("SELECT * FROM %s ORDER BY %s" % (t, order)):
                    vals = []
                    for c, v in zip(cols, row):
                        if c == "message_id" and v:
                            v = "<masked>"
                        elif t == "audit" and c == "recorded_at":
                            v = "<real clock>"
                        elif racy and (c == "lease_token" or (t == "sequences" and c == "value"
                                                              and row[0] == "lease")):
                            v = "<racy>"
                        elif isinstance(v, str):
                            v = re.sub(r"^written \S+$", "written <spool file>",
                                       self.MID.sub("<masked>", v))
                        vals.append(repr(v))
                    out.append("%s: %s" % (t, ", ".join(vals)))
        finally:
            con.close()
        return out

    def spooled(self, d):
        texts = []
        for name in os.listdir(d.t.spool):
            if not name.endswith(".eml"):
                continue
            with open(os.path.join(d.t.spool, name), "rb") as f:
                texts.append(self.MID.sub("<masked>", f.read().decode(errors="replace")))
        return sorted(texts)

    def test_runs_write_what_one_savepoint_an_item_writes(self):
        # base = cap: the retry times have no jitter, so both paths agree
        d = Deployment(self, extra_ini="[delivery]\nretry_base_seconds = 60\n"
                                       "retry_cap_seconds = 60\n")
        for name in ("Dune", "Echo", "Fern", "Gale", "Hale", "Iris", "Jade", "Kite"):
            acc = d.t.account(name, contacts=(("%s@%s.example" % (name.lower(), name.lower()),
                                               name, True),))
            d.accounts[name] = acc
            d.items[name] = d.send(acc, "invoice")
        folder = os.path.join(d.templates, "en", "invoice")
        shutil.copy(os.path.join(folder, "default.tmpl"), os.path.join(folder, "gone.tmpl"))
        d.items["Lark"] = d.send(d.accounts["Gale"], "invoice", "--template", "gone")
        os.unlink(os.path.join(folder, "gone.tmpl"))
        due = sorted(int(i) for i in d.items.values())
        bad = {due[0], due[4], due[5]}  # first, two in a row (Lark, last, by its template)
        for item in bad:
            d.sql("UPDATE contacts SET email = %s WHERE account_id = (SELECT account_id "
                  "FROM items WHERE id = ?)" % self.CAST, item)
        bad.add(int(d.items["Lark"]))
        # nobody notify-on: the step waits (nobody.c), counted as deferred,
        # in a run that an item after it rolls back (due[4])
        d.sql("UPDATE contacts SET notify = 0 WHERE account_id = ?", int(d.accounts["Dune"]))
        self.assertEqual(int(d.items["Dune"]), due[3])
        d.sql("PRAGMA wal_checkpoint(TRUNCATE)")
        with open(d.db, "rb") as f:
            store = f.read()
        with open(d.t.config) as f:
            ini = f.read()
        for conns in (1, 4):
            got = {}
            for mode, env in (("runs", None), ("items", {"TK_TEST_ITEM_SAVEPOINTS": "1"})):
                for suffix in ("-wal", "-shm"):
                    if os.path.exists(d.db + suffix):
                        os.unlink(d.db + suffix)
                with open(d.db, "wb") as f:
                    f.write(store)
                for name in os.listdir(d.t.spool):
                    if name.endswith(".eml"):
                        os.unlink(os.path.join(d.t.spool, name))
                with open(d.t.config, "w") as f:
                    f.write(ini.replace("plugin = file\n",
                                        "plugin = file\nconnections = %d\n" % conns))
                r = d.t.run("--json", "tick", now=DUE, env=env)
                self.assertEqual(r.rc, 1, r)
                summary = json.loads(r.out)
                self.assertEqual(sorted(k["item"] for k in summary["skipped_items"]),
                                 sorted(bad), summary)
                got[mode] = (self.dump(d, conns > 1), self.spooled(d), summary)
            self.assertEqual(len(got["runs"][1]), len(due) - len(bad) - 1)
            self.assertEqual(got["runs"][2]["reminders"], len(due) - len(bad) - 1)
            self.assertEqual(got["runs"][0], got["items"][0], conns)
            self.assertEqual(got["runs"][1], got["items"][1], conns)
            self.assertEqual(got["runs"][2], got["items"][2], conns)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def iso_after(t):
    return iso(t + 1)


def cpu_seconds(pid):
    """utime + stime of PID from /proc/PID/stat, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class NoBusyLoop(unittest.TestCase):
    def test_daemon_with_a_poisoned_item_does_not_spin(self):
        # retry_base/cap 1 s: the poisoned item is due again every second;
        # the daemon's own backoff after partial ticks grows to poll_seconds
        d = Deployment(self, extra_ini="[delivery]\nretry_base_seconds = 1\n"
                                       "retry_cap_seconds = 1\n[scheduler]\npoll_seconds = 30\n")
        d.sql("UPDATE contacts SET email = CAST(X'61636D6540FF61636D652E6578616D706C65' AS TEXT) "
              "WHERE account_id = ?", int(d.accounts["Acme"]))
        daemon = dl.Daemon(d.t, now=DUE)
        self.assertTrue(dl.wait_for(lambda: "stale, 1 skipped" in daemon.text(), 20), daemon.text())
        c0, t0 = cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(6)
        used, wall = cpu_seconds(daemon.pid) - c0, time.monotonic() - t0
        text = daemon.text()
        rc, _ = daemon.stop()
        self.assertEqual(rc, 0, text)
        # a spin was ~100% of a core; a backoff of 1, 2, 4 ... s is a few ticks
        self.assertLess(used, 0.1 * wall, "daemon used %.2f s of CPU in %.1f s:\n%s" % (used, wall, text))
        self.assertLessEqual(text.count("stale, 1 skipped"), 5, text)
        # the others' reminders went out in the first tick
        self.assertEqual(len(d.reminders_to()), 2, text)


class DispatcherIsolation(unittest.TestCase):
    """One outbox row the transport refuses locally does not stop the batch."""

    def check(self, pipelining):
        port = dl.free_port()
        extra = "[delivery]\nretry_base_seconds = 1\nretry_cap_seconds = 1\n"
        if pipelining is not None:
            extra += "[transport]\npipelining = %s\n" % pipelining
        t = Tickler(self, smtp=dl.ClosedPort(port), store="sqlite", extra_ini=extra)
        items = {}
        for name in ("Acme", "Bolt", "Cask"):
            local = name.lower()
            acc = t.account(name, contacts=(("%s@%s.example" % (local, local), name, True),))
            items[name] = t.send("invoice", acc, "Fees")  # queued: the port is closed
        con = sqlite3.connect(os.path.join(t.dir, "tickler.db"))
        con.execute("UPDATE outbox SET recipient = CAST(X'626F6C7440FF626F6C742E6578616D706C65' "
                    "AS TEXT) WHERE item_id = ?", (items["Bolt"],))
        con.commit()
        con.close()
        srv = dl.SmtpServer(self, port=port)
        t.smtp = srv
        r = t.run("tick", now=at(minutes=5))
        got = sorted(rc[0] for rc, _ in srv.messages())
        self.assertEqual(got, ["acme@acme.example", "cask@cask.example"], r)
        failed = t.json("outbox", "--failed", now=at(minutes=5))
        self.assertEqual([row["item"] for row in failed], [items["Bolt"]], failed)
        self.assertEqual(failed[0]["state"], "dead", failed)
        self.assertIn("recipient", failed[0]["reply"], failed)

    def test_wire_client(self):
        self.check(None)

    def test_libcurl_client(self):
        self.check("off")


if __name__ == "__main__":
    unittest.main(verbosity=2)
