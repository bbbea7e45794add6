/* routes.c - every table of routes the server serves.  A new file of
 * routes (a console page, an endpoint group) adds its registration
 * function here, one line (http.h says how to write one). */
#include "http/api.h"
#include "http/console.h"
#include "http/router.h"

int tk_http_register_all(struct tk_http_router *r, struct tk_error *err)
{
    int rc;
    if ((rc = tk_http_api_routes(r, err)) || (rc = tk_http_hook_routes(r, err)))
        return rc;
    if ((rc = tk_http_console_routes(r, err)))
        return rc;
    return 0;
}
