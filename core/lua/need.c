/* need.c - the checks every front end makes before a job command, written
 * once (the CLI's job commands and the HTTP API's /jobs). */
#include <string.h>

#include "lua/pipeline.h"

int tk_pipelines_need(const struct tk_pipelines *p, struct tk_error *err)
{
    if (!p)
        return tk_error_set(err, TK_EINVAL,
                            "no pipelines: set [lua] scripts = FOLDER in the configuration");
    return 0;
}

int tk_pipeline_job_title_check(const char *title, struct tk_error *err)
{
    if (title &&
        (strlen(title) > 200 || strpbrk(title, "\r\n") || !tk_utf8_valid(title, strlen(title))))
        return tk_error_set(err, TK_EINVAL, "a job title is one line of at most 200 characters");
    return 0;
}
