/*
 * json.h - the JSON shapes of tickler's records, shared by every front end:
 * the CLI's --json output and the HTTP API print the same objects, so one
 * document describes both (docs/cli.md).  Keys and their order are a
 * contract: extend, never rename.
 *
 * Every string goes through tk_json_str(): text that is not valid UTF-8
 * (a byte a mail server sent, a value written into the store by another
 * program) is repaired, each ill-formed sequence becoming U+FFFD, instead
 * of making jansson refuse the value and the key vanish.
 *
 * Ownership: every function returns a new reference that the caller owns
 * (json_decref, or hand it to json_object_set_new / json_array_append_new);
 * NULL only when out of memory.  Records passed in are borrowed for the
 * call; nothing of them is kept.
 */
#ifndef TK_JSON_H
#define TK_JSON_H

#include <jansson.h>

#include "engine/engine.h"
#include "lua/pipeline.h"

/* ---- values ---------------------------------------------------------- */

/* S as a JSON string, repaired to UTF-8; NULL gives JSON null. */
json_t *tk_json_str(const char *s);
/* An ISO 8601 UTC string ("2026-12-01T09:00:00Z"), or null for 0. */
json_t *tk_json_time(tk_time t);
/* S as tk_json_str's value appears in the CLI's output (json_dumps with
 * JSON_ENSURE_ASCII: "\u00E9", surrogate pairs), appended to B: for lists
 * too long to build as a tree first (`preview --json`).  NULL: null.
 * 0, or -1 when out of memory. */
int tk_json_write_str(struct tk_buf *b, const char *s);
/* The writer under it and under the items present.c dumps: S, N bytes of
 * valid UTF-8 (the caller checked), as jansson's dump_string writes it,
 * with ASCII as JSON_ENSURE_ASCII.  0, or -1 when out of memory. */
int tk_json_write_strn(struct tk_buf *b, const char *s, size_t n, int ascii);
/* Set O[KEY] = V, KEY repaired to UTF-8 too; takes V (also on failure).
 * 0 on success. */
int tk_json_set(json_t *o, const char *key, json_t *v);

/* ---- records ---------------------------------------------------------- */

/* {"id", "type", "account", "title", "state", "fields": {...},
 *  "reminders": {"enabled", "every_days", "count", "sent", "next_at",
 *  "last_mail_at"}, "template", "job", "archived", "resends", "created_at",
 *  "completed_at"} and, when ACCOUNT_NAME is not NULL, "account_name"
 *  (`tickler show`). */
json_t *tk_json_item(const struct tk_item *it, const char *account_name);
/* The same item appended to B as json_dumps(tk_json_item(IT, ACCOUNT_NAME),
 * JSON_COMPACT | JSON_PRESERVE_ORDER) would write it, without building the
 * tree.  1: not written, use the tree (a string that is not valid UTF-8, a
 * field name twice); -1: out of memory (B as it was). */
int tk_json_item_dump(struct tk_buf *b, const struct tk_item *it, const char *account_name);
/* {"id", "name", "language", "contacts", "notified"}: CS are the account's
 * contacts (NULL: none), counted. */
json_t *tk_json_account(const struct tk_account *a, const struct tk_contacts *cs);
/* {"id", "email", "name" (null: none), "notify"} */
json_t *tk_json_contact(const struct tk_contact *c);
/* {"id", "at", "actor", "account", "item", "job", "action", "detail"}; ids
 * of 0 are null. */
json_t *tk_json_audit(const struct tk_audit_entry *ae);
/* {"id", "item", "account", "kind", "step", "recipient", "message_id",
 *  "state", "attempts", "created_at", "next_attempt_at", "sent_at",
 *  "reply_code", "reply"} (the message text is not included). */
json_t *tk_json_outbox(const struct tk_outbox_row *r);
/* "queued", "sent" or "dead" for an outbox state. */
const char *tk_json_outbox_state(int state);
/* {"id", "pipeline", "stage", "account", "title", "state", "items": [ids],
 *  "created_at", "updated_at"}: ITEMS are the job's item ids (N of them). */
json_t *tk_json_job(const struct tk_job *j, const int64_t *items, size_t n);
/* {"name", "kind", "abi", "version", "file", "description"}, for an item
 * type "events": [{"name", "final_state"}] and "lua_verb", then
 * "config_keys": [{"name", "description"}] and, for an item type,
 * "fields": [{"name", "kind", "required", "description"}] and "bulk":
 * [{"command", "section", "description"}]. */
json_t *tk_json_plugin(const struct tk_plugin *p);
/* {"id", "name", "language", "created_at"}: a staff user of the console
 * (no password, not even its hash). */
json_t *tk_json_user(const struct tk_user *u);
/* {"name", "script", "line", "stages": [{"name", "advance", "automation"}]} */
json_t *tk_json_pipeline(const struct tk_pipeline_info *pl);

/* {"id", "url" (password masked), "events": ["item.sent", ...],
 *  "created_at"}: an outbound webhook subscription, never its secret
 *  (`tickler webhook list --json`, webhooks.c). */
struct tk_webhook_info;
json_t *tk_json_webhook(const struct tk_webhook_info *w);

#endif
