/*
 * api.h - the JSON API under /api/v1 (docs/api.md, docs/openapi.json):
 * one file per group of endpoints, each handler mapping a request onto the
 * same engine functions the CLI calls, and the JSON shapes of json/json.h.
 */
#ifndef TK_HTTP_API_H
#define TK_HTTP_API_H

#include "http/router.h"

/* Register every /api/ route and GET /metrics. */
int tk_http_api_routes(struct tk_http_router *r, struct tk_error *err);

/* The routes of each file (api_accounts.c, api_items.c, api_webhooks.c); api_ops.c's
 * tk_http_api_routes registers them all. */
int tk_http_api_accounts_routes(struct tk_http_router *r, struct tk_error *err);
int tk_http_api_items_routes(struct tk_http_router *r, struct tk_error *err);
/* /api/v1/webhooks (api_webhooks.c), admin scope */
int tk_http_api_webhooks_routes(struct tk_http_router *r, struct tk_error *err);

/* ---- what the endpoint files share (api_common.c) ----------------------- */

/* The request body as a JSON object into *out (caller decrefs): 400
 * through ERR for bad JSON or another type; an empty body is {} when
 * EMPTY_OK. */
int tk_api_body(const struct tk_http_request *rq, int empty_ok, json_t **out, struct tk_error *err);
/* Refuse any key of O not in ALLOWED (NULL-terminated): TK_EINVAL
 * "unknown field 'x'". */
int tk_api_only(json_t *o, const char *const *allowed, struct tk_error *err);
/* O[KEY] as a string: *out NULL when absent (or null) and !REQUIRED;
 * TK_EINVAL "field KEY: ..." for another type or when required and absent. */
int tk_api_string(json_t *o, const char *key, int required, const char **out, struct tk_error *err);
/* O[KEY] as an integer in [MIN, MAX]; *out untouched when absent. */
int tk_api_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out,
               struct tk_error *err);
/* O[KEY] as a boolean into *out (0/1); *out untouched when absent. */
int tk_api_bool(json_t *o, const char *key, int *out, struct tk_error *err);
/* A path or body id: a positive integer (TK_ENOTFOUND "no WHAT 'S'" when not). */
int tk_api_id(const char *s, const char *what, int64_t *out, struct tk_error *err);
/* The account an id or a name names (engine: tk_engine_account_find). */
int tk_api_account(struct tk_engine *e, const char *id_or_name, struct tk_account *out,
                   struct tk_error *err);

/* ---- requests mapped to engine arguments (api_parse.c) -------------------
 *
 * Pure functions (no engine, no store): what a request says, checked, as
 * the arguments of the engine call.  tests/fuzz/fuzz_http.c runs them on
 * hostile bodies and query strings. */

/* POST /api/v1/items.  REQ's strings point into BODY and ACCOUNT_NUM; the
 * caller frees with tk_api_new_item_free (also on failure). */
struct tk_api_new_item {
    json_t *body;
    struct tk_send_req req; /* account_id left 0: resolve ACCOUNT */
    const char *account;    /* id or name */
    char account_num[32];
    struct tk_kv fields;
    char schedule[TK_SCHEDULE_TEXT_MAX]; /* reminders.schedule as "-7,0,7" (req.schedule) */
};
int tk_api_parse_new_item(const struct tk_http_request *rq, struct tk_api_new_item *out,
                          struct tk_error *err);
void tk_api_new_item_free(struct tk_api_new_item *x);

/* PATCH /api/v1/items/{item}/reminders: -1 for what is not given. */
struct tk_api_reminders {
    int enabled;
    int every, count;
    const char *schedule; /* NULL: keep; "none" (JSON null): every N days */
    const char *due;      /* NULL: keep */
    char schedule_text[TK_SCHEDULE_TEXT_MAX];
    char due_text[16];
};
int tk_api_parse_reminders(const struct tk_http_request *rq, struct tk_api_reminders *out,
                           struct tk_error *err);

/* The item list's opaque keyset cursor after LAST_ID, and back (-1: not
 * one this API makes). */
#define TK_API_CURSOR_MAX 48
void tk_api_cursor_make(int64_t last_id, char out[TK_API_CURSOR_MAX]);
int tk_api_cursor_read(const char *s, int64_t *last_id);
/* GET /api/v1/items?account=&type=&pending=&limit=&cursor= */
struct tk_api_item_query {
    const char *account, *type; /* NULL: any; point into the buffers */
    int pending;
    int64_t after;
    size_t limit;
    char account_buf[256], type_buf[128];
};
int tk_api_parse_item_query(const struct tk_http_request *rq, struct tk_api_item_query *out,
                            struct tk_error *err);

#endif
