"""`tickler migrate` between SQLite and PostgreSQL, both ways, from every
schema version, compared row by row.

A deployment is built through the real CLI (accounts, contacts with and
without notify, invoices and an organizer, a resend, a payment, a tick
that sends reminders, so that every table has rows), then copied with
`tickler migrate --from ... --to ...`, and every row of every table of the
target (schema_version included) must equal the source's.  The copy must
then work as a store: the same items, the same audit trail, and the next
item gets the next id.

Older stores: a store at schema version 1 is made from a current one the
way version 1 kept it (the message text in outbox.data, no outbox_data, no
version 2 row); migrate upgrades the source first, then copies, and the
texts arrive.

The PostgreSQL server is $TK_TEST_DSN's (.ci/postgres.sh) or a throwaway
cluster (pgcluster.py); the module is skipped only when no PostgreSQL
server is installed.
"""
import os
import sqlite3
import unittest

import pgcluster
from tkharness import Tickler, at, newest_schema_version

SERVER = None
CLUSTER = None
NEWEST = newest_schema_version()


def setUpModule():
    global SERVER, CLUSTER
    if os.environ.get("TK_TEST_DSN"):
        SERVER = os.environ["TK_TEST_DSN"]
        return
    if not pgcluster.available():
        raise unittest.SkipTest("no PostgreSQL server installed")
    CLUSTER = pgcluster.Cluster()
    SERVER = CLUSTER.dsn()


def tearDownModule():
    if CLUSTER is not None:
        CLUSTER.stop()


def sqlite_tables(path):
    con = sqlite3.connect(path)
    try:
        return sorted(r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
    finally:
        con.close()


def sqlite_rows(path, table):
    """Every row of TABLE, every column, as strings (NULL as \\N), sorted."""
    con = sqlite3.connect(path)
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(%s)" % table)]
        order = ", ".join(cols)
        rows = [["\\N" if v is None else str(v) for v in row]
                for row in con.execute("SELECT %s FROM %s ORDER BY %s" % (order, table, order))]
        return cols, rows
    finally:
        con.close()


def pg_tables(dsn):
    return sorted(r[0] for r in pgcluster.rows(
        dsn, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"))


def pg_rows(dsn, table, cols):
    order = ", ".join(cols)
    return pgcluster.rows(dsn, "SELECT %s FROM %s ORDER BY %s" % (order, table, order))


def build(tc, t):
    """Rows in every table, through the CLI; returns the item ids."""
    acc = t.account("Acme BV", contacts=(("ann@acme.example", "Ann", True),
                                         ("bob@acme.example", None, False)))
    nl = t.account("B\u00e4kkerij 'De Zon'", language="nl",
                   contacts=(("kees@bakkerij.example", "Kees", True),))
    items = [t.send("invoice", acc, "Fees 2026", "--reminders", "on", "--every", "2"),
             t.send("invoice", nl, "Jaarrekening \u20ac"),
             t.send("organizer", acc, "Organizer 2026", fields={"tax_year": "2026"})]
    t.ok("resend", items[0])
    t.ok("event", items[1], "paid")
    t.ok("tick", now=at(days=3))
    t.ok("contact", "notify", acc, "bob@acme.example", "on")
    t.ok("webhook", "add", "https://u:pw@hooks.example/t", "--events", "item.sent,delivery.dead",
         "--secret", "s3cret")                      # schema v3's table
    return acc, items


class Migrate(unittest.TestCase):
    def assert_same(self, sqlite_path, dsn):
        """Every table of both stores, every row, every column."""
        tables = [x for x in sqlite_tables(sqlite_path)]
        self.assertEqual(pg_tables(dsn), tables)
        for table in ("accounts", "contacts", "items", "item_fields", "audit", "outbox",
                      "outbox_data", "sequences", "schema_version"):
            self.assertIn(table, tables)
        total = 0
        for table in tables:
            cols, want = sqlite_rows(sqlite_path, table)
            got = pg_rows(dsn, table, cols)
            self.assertEqual(got, want, "table %s differs after migrate" % table)
            total += len(want)
        self.assertGreater(total, 40)
        return total

    def pg(self):
        dsn = pgcluster.create_database(SERVER)
        self.addCleanup(pgcluster.drop_database, dsn)
        return dsn

    def pg_deployment(self, dsn):
        t = Tickler(self, store="sqlite", init=False)
        t.ini = t.ini.replace("path = " + os.path.join(t.dir, "tickler.db"),
                              "driver = postgres\ndsn = " + dsn)
        with open(t.config, "w") as f:
            f.write(t.ini)
        t.store, t.dsn = "postgres", dsn
        return t

    def sqlite_deployment(self, path):
        t = Tickler(self, store="sqlite", init=False)
        t.ini = t.ini.replace(os.path.join(t.dir, "tickler.db"), path)
        with open(t.config, "w") as f:
            f.write(t.ini)
        return t

    def check_works(self, src, dst, acc, items):
        for it in items:
            self.assertEqual(dst.show(it), src.show(it))
        self.assertEqual(dst.json("audit"), src.json("audit"))
        new = dst.send("invoice", acc, "After the move")
        self.assertEqual(int(new), max(int(i) for i in items) + 1)

    def test_sqlite_to_postgres_and_back(self):
        src = Tickler(self, store="sqlite")
        acc, items = build(self, src)
        db = os.path.join(src.dir, "tickler.db")
        dsn = self.pg()
        out = src.ok("migrate", "--from", "sqlite:" + db, "--to", "postgres:" + dsn)
        self.assertIn("copied", out)
        self.assertNotIn("dbname", out, "the DSN (maybe with a password) must not be echoed")
        self.assertNotIn("upgraded", out)
        self.assert_same(db, dsn)

        # and back, into a SQLite file that does not exist yet
        back = os.path.join(src.dir, "back.db")
        r = src.json("migrate", "--from", "postgres:" + dsn, "--to", "sqlite:" + back)
        self.assertEqual((r["from"], r["to"]), ("postgres", "sqlite"))
        self.assertEqual(r["source_schema_version"], r["schema_version"])
        self.assertEqual(r["rows"], sum(r["tables"].values()))
        self.assertEqual(sorted(r["tables"]), sorted(set(sqlite_tables(db)) - {"schema_version"}))
        self.assert_same(back, dsn)

        # both copies are working stores
        pgt = self.pg_deployment(dsn)
        self.check_works(src, pgt, acc, items)
        bt = self.sqlite_deployment(back)
        self.check_works(src, bt, acc, items)

    def test_postgres_to_sqlite(self):
        dsn = self.pg()
        src = self.pg_deployment(dsn)
        src.ok("init")
        acc, items = build(self, src)
        target = os.path.join(src.dir, "copy.db")
        out = src.ok("migrate", "--from", "postgres:" + dsn, "--to", "sqlite:" + target)
        self.assertIn("copied", out)
        self.assertIn("from postgres to sqlite", out)
        self.assert_same(target, dsn)
        self.check_works(src, self.sqlite_deployment(target), acc, items)
        # The DSN can come from the environment: `postgres:` alone.
        again = os.path.join(src.dir, "again.db")
        src.ok("migrate", "--from", "postgres:", "--to", "sqlite:" + again,
               env={"TICKLER_DSN": dsn})
        self.assert_same(again, dsn)

    # -- stores at schema version 1 ------------------------------------------
    # back to v1: v13's index (issue 14's digest across accounts), v12's due index on (next_at, id) (PostgreSQL; on SQLite the same index again), v11's column (issue 14's anchored schedules), v10's indexes (issue 18's dashboard; it dropped v9's
    # items_pending_type, put back here for V6_UNDO's line to drop), v9's tables and indexes (issue 18), v8's tables (issue 15), v7's tables (issue 13's webhooks), v6's columns (issue 14), v5's (issue 11), then v3's column
    # and index (issue 16's data lifecycle) go first
    V6_UNDO = ("DROP INDEX contacts_email;"
               "DROP INDEX items_due; CREATE INDEX items_due ON items(next_at) WHERE next_at IS NOT NULL;"
               "DROP INDEX items_pending_state; DROP INDEX items_completed_after;"
               "CREATE INDEX items_pending_type ON items(type) WHERE state = 'pending' AND archived = 0;"
               "DROP TABLE sessions; DROP TABLE users; DROP INDEX outbox_sent;"
               "DROP INDEX items_completed; DROP INDEX items_pending_type;"
               "DROP TABLE suppressions; DROP TABLE inbound; DROP INDEX outbox_msgid;"
               "DROP TABLE webhooks; DROP TABLE webhook_seen;"
               "ALTER TABLE accounts DROP COLUMN timezone;"
               "ALTER TABLE accounts DROP COLUMN send_window;"
               "ALTER TABLE accounts DROP COLUMN holidays;"
               "ALTER TABLE accounts DROP COLUMN manager;"
               "ALTER TABLE accounts DROP COLUMN digest;"
               "ALTER TABLE items DROP COLUMN rem_schedule;"
               "ALTER TABLE items DROP COLUMN hold_since;"
               "ALTER TABLE items DROP COLUMN hold_until;"
               "ALTER TABLE items DROP COLUMN hold_reason;"
               "ALTER TABLE items DROP COLUMN fail_count;"
               "ALTER TABLE items DROP COLUMN fail_at;"
               "ALTER TABLE items DROP COLUMN fail_text;"
               "ALTER TABLE audit DROP COLUMN recorded_at;")
    V1_SQLITE = V6_UNDO + ("DROP INDEX outbox_retention; ALTER TABLE outbox DROP COLUMN data_dropped_at;"
                 "ALTER TABLE outbox ADD COLUMN data TEXT;"
                 "UPDATE outbox SET data = (SELECT data FROM outbox_data WHERE outbox_id = outbox.id);"
                 "DROP TABLE outbox_data;"
                 "DROP TABLE api_idempotency; DROP TABLE api_tokens;"
                 "DELETE FROM schema_version WHERE version > 1;")
    V1_POSTGRES = V6_UNDO + ("DROP INDEX outbox_retention; ALTER TABLE outbox DROP COLUMN data_dropped_at;"
                   "ALTER TABLE outbox ADD COLUMN data TEXT;"
                   "UPDATE outbox o SET data = d.data FROM outbox_data d WHERE d.outbox_id = o.id;"
                   "DROP TABLE outbox_data;"
                   "DROP TABLE api_idempotency; DROP TABLE api_tokens;"
                   "DELETE FROM schema_version WHERE version > 1;")

    def texts_sqlite(self, path):
        con = sqlite3.connect(path)
        try:
            return sorted(r[0] for r in con.execute("SELECT data FROM outbox_data"))
        finally:
            con.close()

    def test_sqlite_v1_to_postgres(self):
        src = Tickler(self, store="sqlite")
        acc, items = build(self, src)
        db = os.path.join(src.dir, "tickler.db")
        texts = self.texts_sqlite(db)
        self.assertGreaterEqual(len(texts), 5)
        con = sqlite3.connect(db)
        con.executescript(self.V1_SQLITE)
        con.close()
        self.assertEqual(sqlite_tables(db).count("outbox_data"), 0)

        dsn = self.pg()
        r = src.json("migrate", "--from", "sqlite:" + db, "--to", "postgres:" + dsn)
        self.assertEqual(r["source_schema_version"], 1)
        self.assertEqual(r["schema_version"], NEWEST)
        # the source was upgraded in place first, then copied
        self.assertIn("outbox_data", sqlite_tables(db))
        self.assertEqual(self.texts_sqlite(db), texts)
        self.assert_same(db, dsn)
        self.assertEqual(sorted(x[0] for x in pgcluster.rows(dsn, "SELECT data FROM outbox_data")),
                         texts)
        self.check_works(src, self.pg_deployment(dsn), acc, items)

    def test_postgres_v1_to_sqlite(self):
        dsn = self.pg()
        src = self.pg_deployment(dsn)
        src.ok("init")
        acc, items = build(self, src)
        texts = sorted(x[0] for x in pgcluster.rows(dsn, "SELECT data FROM outbox_data"))
        pgcluster.psql(dsn, self.V1_POSTGRES)
        self.assertNotIn("outbox_data", pg_tables(dsn))

        target = os.path.join(src.dir, "copy.db")
        out = src.ok("migrate", "--from", "postgres:" + dsn, "--to", "sqlite:" + target)
        self.assertIn("upgraded from schema version 1 to %d" % NEWEST, out)
        self.assertEqual(pgcluster.psql(dsn, "SELECT MAX(version) FROM schema_version").strip(),
                         str(NEWEST))
        self.assert_same(target, dsn)
        self.assertEqual(self.texts_sqlite(target), texts)
        self.check_works(src, self.sqlite_deployment(target), acc, items)

    # -- refusals ------------------------------------------------------------------
    def test_refusals_change_nothing(self):
        src = Tickler(self, store="sqlite")
        build(self, src)
        db = os.path.join(src.dir, "tickler.db")
        dsn = self.pg()
        src.ok("migrate", "--from", "sqlite:" + db, "--to", "postgres:" + dsn)
        before = pgcluster.psql(dsn, "SELECT COUNT(*) FROM items")
        # into a store that holds rows, either way
        err = src.fails("migrate", "--from", "sqlite:" + db, "--to", "postgres:" + dsn)
        self.assertIn("not empty", err)
        self.assertEqual(pgcluster.psql(dsn, "SELECT COUNT(*) FROM items"), before)
        err = src.fails("migrate", "--from", "postgres:" + dsn, "--to", "sqlite:" + db)
        self.assertIn("not empty", err)
        # a missing source is refused, not created
        missing = db + ".missing"
        err = src.fails("migrate", "--from", "sqlite:" + missing, "--to", "postgres:" + dsn)
        self.assertIn("no SQLite store", err)
        self.assertFalse(os.path.exists(missing))
        # malformed specs are usage errors (exit 2)
        for spec in ("tickler.db", "mysql:x", "sqlite:", "postgres:"):
            err = src.fails("migrate", "--from", spec, "--to", "sqlite:" + db + ".new", rc=2,
                            env={"TICKLER_DSN": ""})
            self.assertIn("migrate", err)
        self.assertFalse(os.path.exists(db + ".new"))
        src.fails("migrate", "--from", "sqlite:" + db, rc=2)
        # an unreachable server: one clear line, the source untouched
        err = src.fails("migrate", "--from", "sqlite:" + db,
                        "--to", "postgres:host=127.0.0.1 port=1 dbname=x connect_timeout=2")
        self.assertIn("cannot connect", err)
        self.assertEqual(len([l for l in err.splitlines() if l.strip()]), 1, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
