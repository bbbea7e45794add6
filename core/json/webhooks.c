/* webhooks.c - the JSON shape of an outbound webhook subscription. */
#include <string.h>

#include "engine/webhooks.h"
#include "json/json.h"

json_t *tk_json_webhook(const struct tk_webhook_info *w)
{
    json_t *o = json_object(), *ev = json_array();
    json_object_set_new(o, "id", json_integer(w->id));
    json_object_set_new(o, "url", tk_json_str(w->url));
    for (const char *p = w->events; p && *p;) {
        size_t n = strcspn(p, ",");
        json_array_append_new(ev, json_stringn(p, n));
        p += n;
        if (*p == ',')
            p++;
    }
    json_object_set_new(o, "events", ev);
    json_object_set_new(o, "created_at", tk_json_time(w->created_at));
    return o;
}
