/*
 * console.h - the staff console's routes (issue 18, docs/console.md): the
 * pages and forms of core/web served by this server.
 */
#ifndef TK_HTTP_CONSOLE_H
#define TK_HTTP_CONSOLE_H

#include "http/router.h"

/* Register /, /login, /logout, /accounts..., /items..., /upcoming,
 * /outbox..., /static/NAME on R. */
int tk_http_console_routes(struct tk_http_router *r, struct tk_error *err);

#endif
