/* parse.c - integers from text and JSON (see parse.h). */
#include "common/parse.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

loaa_status loaa_parse_long(const char *text, long lo, long hi, long *out)
{
    assert(text && out && lo <= hi);
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || end == text || *end || errno)
        return LOAA_ERR_PARSE;
    if (v < lo || v > hi)
        return LOAA_ERR_CONFIG;
    *out = v;
    return LOAA_OK;
}

int loaa_parse_json_int(const json_t *v, int64_t *out, double *as_double)
{
    assert(out);
    double x;
    if (json_is_integer(v))
        x = (double)json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))
        x = json_real_value(v);
    else
        return 0;
    if (json_is_integer(v))
        *out = (int64_t)json_integer_value(v);
    else
        *out = x >= 9223372036854775807.0 ? INT64_MAX : x <= -9223372036854775808.0 ? INT64_MIN : (int64_t)x;
    if (as_double)
        *as_double = x;
    return 1;
}
