/*
 * schema.c - numbered schema migrations, recorded in schema_version.
 *
 * Each migration has a text per schema dialect (enum tk_db_schema_sql; the
 * driver says which its server runs).  Only key columns differ: SQLite needs
 * INTEGER PRIMARY KEY to alias the rowid, PostgreSQL a BIGSERIAL.
 * AUTOINCREMENT keeps SQLite ids from ever being reused, as a sequence does
 * (except the audit's since v15: an append-only table needs no high-water
 * mark, its largest id + 1 is never an id it gave out before).
 * Columns are BIGINT so that times and ids are 64-bit on PostgreSQL (SQLite
 * gives BIGINT integer affinity).  A migration is appended, never edited.
 */
#include "db/db.h"

/* The text of a migration for each enum tk_db_schema_sql; the driver's
 * dialect says which one its server runs. */
struct migration {
    int version;
    const char *sql[TK_DB_SCHEMA_NSQL];
};

#define V1_SQL(ID)                                                                                 \
    "CREATE TABLE accounts ("                                                                      \
    " id " ID ","                                                                                  \
    " name TEXT NOT NULL UNIQUE,"                                                                  \
    " language TEXT NOT NULL DEFAULT 'en',"                                                        \
    " created_at BIGINT NOT NULL);"                                                                \
    "CREATE TABLE contacts ("                                                                      \
    " id " ID ","                                                                                  \
    " account_id BIGINT NOT NULL REFERENCES accounts(id),"                                         \
    " email TEXT NOT NULL,"                                                                        \
    " name TEXT,"                                                                                  \
    " notify BIGINT NOT NULL DEFAULT 1,"                                                           \
    " created_at BIGINT NOT NULL,"                                                                 \
    " UNIQUE (account_id, email));"                                                                \
    "CREATE TABLE jobs ("                                                                          \
    " id " ID ","                                                                                  \
    " pipeline TEXT NOT NULL,"                                                                     \
    " stage TEXT NOT NULL,"                                                                        \
    " account_id BIGINT NOT NULL REFERENCES accounts(id),"                                         \
    " title TEXT NOT NULL,"                                                                        \
    " state TEXT NOT NULL DEFAULT 'active',"                                                       \
    " created_at BIGINT NOT NULL,"                                                                 \
    " updated_at BIGINT NOT NULL);"                                                                \
    "CREATE INDEX jobs_account ON jobs(account_id);"                                               \
    "CREATE TABLE items ("                                                                         \
    " id " ID ","                                                                                  \
    " type TEXT NOT NULL,"                                                                         \
    " account_id BIGINT NOT NULL REFERENCES accounts(id),"                                         \
    " job_id BIGINT,"                                                                              \
    " title TEXT,"                                                                                 \
    " template TEXT NOT NULL,"                                                                     \
    " state TEXT NOT NULL DEFAULT 'pending',"                                                      \
    " archived BIGINT NOT NULL DEFAULT 0,"                                                         \
    " created_at BIGINT NOT NULL,"                                                                 \
    " completed_at BIGINT,"                                                                        \
    " resends BIGINT NOT NULL DEFAULT 0,"                                                          \
    " todo_seq BIGINT NOT NULL,"                                                                   \
    " rem_enabled BIGINT NOT NULL DEFAULT 0,"                                                      \
    " rem_every_days BIGINT NOT NULL DEFAULT 0,"                                                   \
    " rem_count BIGINT NOT NULL DEFAULT 0,"                                                        \
    " rem_sent BIGINT NOT NULL DEFAULT 0,"                                                         \
    " last_mail_at BIGINT,"                                                                        \
    " next_at BIGINT);"                                                                            \
    "CREATE INDEX items_due ON items(next_at) WHERE next_at IS NOT NULL;"                          \
    "CREATE INDEX items_todo ON items(account_id, todo_seq);"                                      \
    "CREATE INDEX items_job ON items(job_id);"                                                     \
    "CREATE TABLE item_fields ("                                                                   \
    " item_id BIGINT NOT NULL REFERENCES items(id),"                                               \
    " name TEXT NOT NULL,"                                                                         \
    " value TEXT,"                                                                                 \
    " pos BIGINT NOT NULL DEFAULT 0,"                                                              \
    " PRIMARY KEY (item_id, name));"                                                               \
    "CREATE TABLE audit ("                                                                         \
    " id " ID ","                                                                                  \
    " at BIGINT NOT NULL,"                                                                         \
    " actor TEXT NOT NULL,"                                                                        \
    " account_id BIGINT,"                                                                          \
    " item_id BIGINT,"                                                                             \
    " job_id BIGINT,"                                                                              \
    " action TEXT NOT NULL,"                                                                       \
    " detail TEXT);"                                                                               \
    "CREATE INDEX audit_item ON audit(item_id);"                                                   \
    "CREATE INDEX audit_account ON audit(account_id);"                                             \
    "CREATE TABLE outbox ("                                                                        \
    " id " ID ","                                                                                  \
    " item_id BIGINT,"                                                                             \
    " account_id BIGINT,"                                                                          \
    " kind TEXT NOT NULL,"                                                                         \
    " step BIGINT NOT NULL DEFAULT 0,"                                                             \
    " recipient TEXT NOT NULL,"                                                                    \
    " idem_key TEXT NOT NULL UNIQUE,"                                                              \
    " message_id TEXT,"                                                                            \
    " sender TEXT,"                                                                                \
    " data TEXT,"                                                                                  \
    " state BIGINT NOT NULL DEFAULT 0,"                                                            \
    " attempts BIGINT NOT NULL DEFAULT 0,"                                                         \
    " created_at BIGINT NOT NULL,"                                                                 \
    " next_attempt_at BIGINT NOT NULL DEFAULT 0,"                                                  \
    " sent_at BIGINT,"                                                                             \
    " lease_token BIGINT NOT NULL DEFAULT 0,"                                                      \
    " lease_until BIGINT NOT NULL DEFAULT 0,"                                                      \
    " reply_code BIGINT,"                                                                          \
    " last_reply TEXT);"                                                                           \
    "CREATE INDEX outbox_ready ON outbox(next_attempt_at) WHERE state = 0;"                        \
    "CREATE INDEX outbox_dead ON outbox(id) WHERE state = 2;"                                      \
    "CREATE INDEX outbox_item ON outbox(item_id);"                                                 \
    "CREATE TABLE sequences ("                                                                     \
    " name TEXT PRIMARY KEY,"                                                                      \
    " value BIGINT NOT NULL);"

/* v2: the message text moves out of the outbox row into outbox_data.  A
 * claim and a settle rewrite the outbox row (lease, state); with a 2 KiB
 * message in it, each rewrote the whole message as well, about one page
 * per row.  The text is written once and read by the claim. */
#define V2_SQL(KEY)                                                                                \
    "CREATE TABLE outbox_data ("                                                                   \
    " outbox_id " KEY " REFERENCES outbox(id) ON DELETE CASCADE,"                                  \
    " data TEXT NOT NULL);"                                                                        \
    "INSERT INTO outbox_data (outbox_id, data) SELECT id, data FROM outbox "                       \
    "WHERE data IS NOT NULL;"                                                                      \
    "ALTER TABLE outbox DROP COLUMN data;"

/* v3: data lifecycle (issue 16).  data_dropped_at: when [retention]
 * message_days dropped the row's text from outbox_data (NULL: kept).  The
 * partial index holds only sent rows whose text is still kept, so the
 * retention pass of every tick is one index probe when nothing is old, and
 * a row leaves the index once its text is gone.  State 3 (cancelled: never
 * to be sent, by an erasure or a withdrawal) needs no DDL. */
#define V3_SQL                                                                                     \
    "ALTER TABLE outbox ADD COLUMN data_dropped_at BIGINT;"                                        \
    "CREATE INDEX outbox_retention ON outbox(sent_at) "                                            \
    "WHERE state = 1 AND data_dropped_at IS NULL;"
/* v4: the HTTP API (issue 13).  Tokens are stored as the hex SHA-256 of
 * the token, never the token; an idempotency record keeps the first answer
 * to a POST under (token, key) with a hash of the request it answered, so
 * that a retry gets that answer and another body under the same key is
 * refused.  Records older than 24 h are pruned by the server. */
#define V4_SQL(ID)                                                                                 \
    "CREATE TABLE api_tokens ("                                                                    \
    " id " ID ","                                                                                  \
    " name TEXT NOT NULL UNIQUE,"                                                                  \
    " scope TEXT NOT NULL,"                                                                        \
    " hash TEXT NOT NULL UNIQUE,"                                                                  \
    " created_at BIGINT NOT NULL,"                                                                 \
    " last_used_at BIGINT);"                                                                       \
    "CREATE TABLE api_idempotency ("                                                               \
    " token TEXT NOT NULL,"                                                                        \
    " idem_key TEXT NOT NULL,"                                                                     \
    " request_hash TEXT NOT NULL,"                                                                 \
    " status BIGINT NOT NULL,"                                                                     \
    " body TEXT NOT NULL,"                                                                         \
    " created_at BIGINT NOT NULL,"                                                                 \
    " PRIMARY KEY (token, idem_key));"                                                             \
    "CREATE INDEX api_idempotency_age ON api_idempotency(created_at);"

/* v5 (issue 11): an item whose reminder could not be made (a bad address,
 * a broken or missing template, a missing plugin) records why and how
 * often in a row, and waits (next_at) instead of stopping every tick; an
 * audit entry records the real time it was written (recorded_at) beside
 * the business time (at, which --now sets), so the trail cannot be
 * backdated unseen.  Rows from before v5 have no real time: NULL. */
#define V5_SQL                                                                                     \
    "ALTER TABLE items ADD COLUMN fail_count BIGINT NOT NULL DEFAULT 0;"                           \
    "ALTER TABLE items ADD COLUMN fail_at BIGINT;"                                                 \
    "ALTER TABLE items ADD COLUMN fail_text TEXT;"                                                 \
    "ALTER TABLE audit ADD COLUMN recorded_at BIGINT;"

/* v6 (issue 14): the client's calendar and manager on the account (NULL:
 * the [calendar] / [reminders] defaults, so that a deployment's defaults
 * still reach accounts that never chose), and holds on items. */
#define V6_SQL                                                                                     \
    "ALTER TABLE accounts ADD COLUMN timezone TEXT;"                                               \
    "ALTER TABLE accounts ADD COLUMN send_window TEXT;"                                            \
    "ALTER TABLE accounts ADD COLUMN holidays TEXT;"                                               \
    "ALTER TABLE accounts ADD COLUMN manager TEXT;"                                                \
    "ALTER TABLE accounts ADD COLUMN digest BIGINT;"                                               \
    "ALTER TABLE items ADD COLUMN hold_since BIGINT;"                                              \
    "ALTER TABLE items ADD COLUMN hold_until BIGINT;"                                              \
    "ALTER TABLE items ADD COLUMN hold_reason TEXT;"

/* v7 (issue 13): webhooks.  Outbound subscriptions (the secret is kept as
 * given: it signs every body, so it cannot be a hash), and the delivery
 * ids of inbound webhooks seen in the last 24 h, for replays.  Outbound
 * events themselves are outbox rows (kind "webhook:TYPE"). */
#define V7_SQL(ID)                                                                                 \
    "CREATE TABLE webhooks ("                                                                      \
    " id " ID ","                                                                                  \
    " url TEXT NOT NULL,"                                                                          \
    " events TEXT NOT NULL,"                                                                       \
    " secret TEXT NOT NULL,"                                                                       \
    " created_at BIGINT NOT NULL);"                                                                \
    "CREATE TABLE webhook_seen ("                                                                  \
    " hook TEXT NOT NULL,"                                                                         \
    " delivery TEXT NOT NULL,"                                                                     \
    " seen_at BIGINT NOT NULL,"                                                                    \
    " PRIMARY KEY (hook, delivery));"                                                              \
    "CREATE INDEX webhook_seen_at ON webhook_seen(seen_at);"

/* v8 (issue 15): what comes back.  `suppressions` holds the addresses
 * tickler never writes to again (a verified hard bounce, or
 * [inbound] suppress_after synchronous 5xx at RCPT): one row per address,
 * lower-cased, for every account.  `inbound` records each message that
 * came back under its key (its Message-ID or the hash of its bytes),
 * UNIQUE, in the transaction that acts on it, so that a message handed
 * over twice (an IMAP crash between recording and flagging, an MTA
 * retrying a pipe) has one effect.  Replies are matched by the Message-IDs
 * tickler sent: outbox_msgid makes that a lookup. */
#define V8_SQL(ID)                                                                                 \
    "CREATE TABLE suppressions ("                                                                  \
    " id " ID ","                                                                                  \
    " email TEXT NOT NULL UNIQUE,"                                                                 \
    " reason TEXT NOT NULL,"                                                                       \
    " at BIGINT NOT NULL,"                                                                         \
    " outbox_id BIGINT,"                                                                           \
    " source TEXT NOT NULL);"                                                                      \
    "CREATE TABLE inbound ("                                                                       \
    " id " ID ","                                                                                  \
    " msg_key TEXT NOT NULL UNIQUE,"                                                               \
    " at BIGINT NOT NULL,"                                                                         \
    " class TEXT NOT NULL,"                                                                        \
    " reason TEXT,"                                                                                \
    " sender TEXT,"                                                                                \
    " subject TEXT,"                                                                               \
    " item_id BIGINT,"                                                                             \
    " account_id BIGINT,"                                                                          \
    " outbox_id BIGINT,"                                                                           \
    " action TEXT NOT NULL);"                                                                      \
    "CREATE INDEX outbox_msgid ON outbox(message_id);"

/* v9 (issue 18): the staff console's users and their sessions.  A user's
 * password is an Argon2id string (libsodium's crypto_pwhash_str), a
 * session is kept by the hash of its cookie (a stolen store opens no
 * session).  The indexes serve the console's dashboard and cover its
 * counts (no table lookups): emails sent and items completed per day over
 * the last 30 days, completions after reminder N, pending items by type. */
#define V9_SQL(ID)                                                                                 \
    "CREATE TABLE users ("                                                                         \
    " id " ID ","                                                                                  \
    " name TEXT NOT NULL UNIQUE,"                                                                  \
    " language TEXT NOT NULL DEFAULT 'en',"                                                        \
    " pw_hash TEXT NOT NULL,"                                                                      \
    " created_at BIGINT NOT NULL);"                                                                \
    "CREATE TABLE sessions ("                                                                      \
    " id " ID ","                                                                                  \
    " token_hash TEXT NOT NULL UNIQUE,"                                                            \
    " user_id BIGINT NOT NULL REFERENCES users(id),"                                               \
    " created_at BIGINT NOT NULL,"                                                                 \
    " expires_at BIGINT NOT NULL);"                                                                \
    "CREATE INDEX sessions_user ON sessions(user_id);"                                             \
    "CREATE INDEX outbox_sent ON outbox(sent_at, state) WHERE sent_at IS NOT NULL;"                \
    "CREATE INDEX items_completed ON items(completed_at, rem_sent) WHERE completed_at IS NOT "     \
    "NULL;"                                                                                        \
    "CREATE INDEX items_pending_type ON items(type) WHERE state = 'pending' AND archived = 0;"

/* v10 (issue 18): the dashboard's two slowest counts at 100k items read
 * only an index.  SQLite takes a partial index as covering only when the
 * columns of its WHERE are in it, so "pending by type" read every pending
 * row through items_pending_type(type); the new index holds state and
 * archived too and replaces it.  "Completed after reminder N" groups by
 * rem_sent: an index led by rem_sent counts in order without a sort or a
 * table read (items_completed stays for the chart's per-day counts). */
#define V10_SQL                                                                                    \
    "DROP INDEX items_pending_type;"                                                               \
    "CREATE INDEX items_pending_state ON items(type, state, archived) WHERE state = 'pending' "    \
    "AND archived = 0;"                                                                            \
    "CREATE INDEX items_completed_after ON items(rem_sent, completed_at) WHERE completed_at IS "   \
    "NOT NULL;"

/* Version 11 (issue 14, anchored schedules): an item's reminder offsets
 * relative to its due_date field, as text "-7,0,7"; NULL: every N days. */
#define V11_SQL "ALTER TABLE items ADD COLUMN rem_schedule TEXT;"

/* v12 (issue 18's gap on PostgreSQL): the due index carries id, so that a
 * page of due items in (next_at, id) order, resumed after the last one
 * with "(next_at, id) > (?, ?)", is one index range without a sort (the
 * console's /upcoming sorted the whole range on each page: 117 ms at 100k
 * items).  SQLite's items_due(next_at) already ends with the rowid, which
 * is id, so its migration changes nothing. */
#define V12_SQL_POSTGRES                                                                           \
    "DROP INDEX items_due;"                                                                        \
    "CREATE INDEX items_due ON items(next_at, id) WHERE next_at IS NOT NULL;"

/* Version 13 (issue 14; 12 is reserved for another branch, the
 * migrations need not be dense):
 *  - one digest across accounts: the tick finds every account that shares
 *    a contact address with a digest's recipient (contacts_email);
 *  - escalation for items whose last reminder went out before escalation
 *    existed: they have no next_at, so the tick never looked at them.
 *    Their next_at becomes their last email's moment, so the next tick
 *    looks at each once and computes the escalation there (escalate.c:
 *    last email + [reminders] escalate_after_days, deferred to that moment
 *    when still to come; nothing when 0 or when the item was escalated
 *    already).  Data only, nothing to undo. */
#define V13_SQL                                                                                    \
    "CREATE INDEX contacts_email ON contacts(email);"                                              \
    "UPDATE items SET next_at = last_mail_at WHERE next_at IS NULL AND state = 'pending' AND "     \
    "archived = 0 AND rem_enabled = 1 AND rem_count > 0 AND rem_sent >= rem_count AND "            \
    "last_mail_at IS NOT NULL AND last_mail_at > 0;"

/* v14 (issue 17): the outbox's pages keep half their room free, so that
 * an UPDATE that changes no indexed column is HOT (no new entry in any of
 * the table's 8 indexes, the new version on its page).  A claim rewrites
 * only lease_token and lease_until, of 64 consecutive rows in one
 * transaction, so a page needs room for a second copy of every row on it:
 * measured by hand (bench/RESULTS.md, update 29), fillfactor 100 made 0.11
 * of the 2 outbox updates per message HOT, 70 made 0.52, 50 made 1.0 (every
 * claim).  A settle changes state and sent_at, which the partial indexes
 * cover, and is never HOT.  A storage parameter: no rewrite, it applies to
 * pages written from then on.  SQLite has no such thing.  (Until v14 the
 * driver set it from each session's first query: core/db/postgres.c.) */
#define V14_SQL_POSTGRES "ALTER TABLE outbox SET (fillfactor = 50);"

/* v15 (issue 17): the audit table without AUTOINCREMENT on SQLite.  With
 * it every INSERT read the table's row of sqlite_sequence (a scan of that
 * table by name) and wrote it back: about 5k instructions of a reminder's
 * ~185k, and a page of every savepoint's journal (bench/RESULTS.md, update
 * 68).  The audit is append-only (audit.c: nothing deletes or re-keys a
 * row), so the rowid's own choice, the largest id + 1, is the id
 * AUTOINCREMENT gave: the same ids, and none ever given out twice.  SQLite
 * cannot drop AUTOINCREMENT in place: the table is copied into a new one
 * with the same columns in the same order (recorded_at came last, v5) and
 * its two indexes made again.  Nothing references the audit (no foreign
 * key, trigger or view).  DROP TABLE removes its sqlite_sequence row.
 * PostgreSQL's BIGSERIAL is a sequence: nothing to do there. */
#define V15_SQL_SQLITE                                                                             \
    "CREATE TABLE audit_v15 ("                                                                     \
    " id INTEGER PRIMARY KEY,"                                                                     \
    " at BIGINT NOT NULL,"                                                                         \
    " actor TEXT NOT NULL,"                                                                        \
    " account_id BIGINT,"                                                                          \
    " item_id BIGINT,"                                                                             \
    " job_id BIGINT,"                                                                              \
    " action TEXT NOT NULL,"                                                                       \
    " detail TEXT,"                                                                                \
    " recorded_at BIGINT);"                                                                        \
    "INSERT INTO audit_v15 (id, at, actor, account_id, item_id, job_id, action, detail, "          \
    "recorded_at) SELECT id, at, actor, account_id, item_id, job_id, action, detail, recorded_at " \
    "FROM audit ORDER BY id;"                                                                      \
    "DROP TABLE audit;"                                                                            \
    "ALTER TABLE audit_v15 RENAME TO audit;"                                                       \
    "CREATE INDEX audit_item ON audit(item_id);"                                                   \
    "CREATE INDEX audit_account ON audit(account_id);"

static const struct migration migrations[] = {
    {1,
     {[TK_DB_SCHEMA_SQLITE] = V1_SQL("INTEGER PRIMARY KEY AUTOINCREMENT"),
      [TK_DB_SCHEMA_POSTGRES] = V1_SQL("BIGSERIAL PRIMARY KEY")}},
    {2,
     {[TK_DB_SCHEMA_SQLITE] = V2_SQL("INTEGER PRIMARY KEY"),
      [TK_DB_SCHEMA_POSTGRES] = V2_SQL("BIGINT PRIMARY KEY")}},
    {3, {[TK_DB_SCHEMA_SQLITE] = V3_SQL, [TK_DB_SCHEMA_POSTGRES] = V3_SQL}},
    {4,
     {[TK_DB_SCHEMA_SQLITE] = V4_SQL("INTEGER PRIMARY KEY AUTOINCREMENT"),
      [TK_DB_SCHEMA_POSTGRES] = V4_SQL("BIGSERIAL PRIMARY KEY")}},
    {5, {[TK_DB_SCHEMA_SQLITE] = V5_SQL, [TK_DB_SCHEMA_POSTGRES] = V5_SQL}},
    {6, {[TK_DB_SCHEMA_SQLITE] = V6_SQL, [TK_DB_SCHEMA_POSTGRES] = V6_SQL}},
    {7,
     {[TK_DB_SCHEMA_SQLITE] = V7_SQL("INTEGER PRIMARY KEY AUTOINCREMENT"),
      [TK_DB_SCHEMA_POSTGRES] = V7_SQL("BIGSERIAL PRIMARY KEY")}},
    {8,
     {[TK_DB_SCHEMA_SQLITE] = V8_SQL("INTEGER PRIMARY KEY AUTOINCREMENT"),
      [TK_DB_SCHEMA_POSTGRES] = V8_SQL("BIGSERIAL PRIMARY KEY")}},
    {9,
     {[TK_DB_SCHEMA_SQLITE] = V9_SQL("INTEGER PRIMARY KEY AUTOINCREMENT"),
      [TK_DB_SCHEMA_POSTGRES] = V9_SQL("BIGSERIAL PRIMARY KEY")}},
    {10, {[TK_DB_SCHEMA_SQLITE] = V10_SQL, [TK_DB_SCHEMA_POSTGRES] = V10_SQL}},
    {11, {[TK_DB_SCHEMA_SQLITE] = V11_SQL, [TK_DB_SCHEMA_POSTGRES] = V11_SQL}},
    {12, {[TK_DB_SCHEMA_SQLITE] = "", [TK_DB_SCHEMA_POSTGRES] = V12_SQL_POSTGRES}},
    {13, {[TK_DB_SCHEMA_SQLITE] = V13_SQL, [TK_DB_SCHEMA_POSTGRES] = V13_SQL}},
    {14, {[TK_DB_SCHEMA_SQLITE] = "", [TK_DB_SCHEMA_POSTGRES] = V14_SQL_POSTGRES}},
    {15, {[TK_DB_SCHEMA_SQLITE] = V15_SQL_SQLITE, [TK_DB_SCHEMA_POSTGRES] = ""}},
};

#define NMIGRATIONS (sizeof migrations / sizeof migrations[0])

int tk_db_schema_version(void)
{
    return migrations[NMIGRATIONS - 1].version;
}

static const char *sql_for(struct tk_db *db, const struct migration *m)
{
    return m->sql[tk_db_dialect(db)->schema_sql];
}

/* Run migration M and record it, in the caller's transaction.  A dialect
 * with nothing to do (SQLite's v12 and v14, PostgreSQL's v15) has "": no
 * script (PostgreSQL calls an empty one an error). */
static int apply_one(struct tk_db *db, const struct migration *m, struct tk_error *err)
{
    const char *sql = sql_for(db, m);
    int rc = *sql ? tk_db_exec_script(db, sql, err) : 0;
    if (rc == 0)
        rc = tk_db_exec(db, err, "INSERT INTO schema_version (version) VALUES (?)", "i",
                        (int64_t)m->version);
    if (rc != 0)
        tk_error_prefix(err, "migration %d", m->version);
    return rc;
}

/* The version recorded in the store, 0 for a new one.  Runs inside the
 * caller's transaction. */
static int current_version(struct tk_db *db, int64_t *v, struct tk_error *err)
{
    return tk_db_int(db, v, err, "SELECT COALESCE(MAX(version), 0) FROM schema_version", "");
}

static int check_not_newer(int64_t v, struct tk_error *err)
{
    if (v > tk_db_schema_version())
        return tk_error_set(err, TK_ECONFLICT,
                            "store: schema version %lld is newer than this tickler knows (%d); "
                            "use a newer tickler",
                            (long long)v, tk_db_schema_version());
    return 0;
}

int tk_db_store_version(struct tk_db *db)
{
    struct tk_error probe = {0};
    int64_t v = 0;
    return current_version(db, &v, &probe) == 0 ? (int)v : 0;
}

int tk_db_migrate(struct tk_db *db, struct tk_error *err)
{
    return tk_db_migrate_to(db, tk_db_schema_version(), err);
}

/* Every missing migration in one transaction: DDL is transactional on both
 * servers, so a failed upgrade leaves nothing behind.  TK_TX_IMMEDIATE
 * serializes SQLite's migrators; PostgreSQL's queue up behind the
 * dialect's advisory lock instead of racing on CREATE TABLE.  Either way a
 * process that waited finds the schema ready and does nothing. */
int tk_db_migrate_to(struct tk_db *db, int target, struct tk_error *err)
{
    const char *lock = tk_db_dialect(db)->schema_lock;
    int64_t v = 0;
    struct tk_error probe = {0};
    /* Fast path without a lock: an up-to-date store is the common case
     * (every command checks).  A missing table is an error here, and fine. */
    if (current_version(db, &v, &probe) == 0 && v >= target)
        return check_not_newer(v, err);
    int rc = tk_db_begin(db, TK_TX_IMMEDIATE, err);
    if (rc != 0)
        return rc;
    if ((!lock || (rc = tk_db_exec(db, err, lock, "")) == 0) &&
        (rc = tk_db_exec_script(
             db, "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL PRIMARY KEY)",
             err)) == 0 &&
        (rc = current_version(db, &v, err)) == 0 && (rc = check_not_newer(v, err)) == 0) {
        for (size_t i = 0; rc == 0 && i < NMIGRATIONS; i++) {
            const struct migration *m = &migrations[i];
            if (m->version <= v || m->version > target)
                continue;
            rc = apply_one(db, m, err);
        }
    }
    if (rc != 0) {
        tk_db_rollback(db);
        return rc;
    }
    return tk_db_commit(db, err);
}
