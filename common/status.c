/* status.c - loaa_strerror and the per-thread error detail. */
#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Room for several paths of LOAA_PATH_MAX bytes: a message never cuts the path it names. */
static _Thread_local char error_detail[8192];

static const char *const status_words[LOAA_STATUS_COUNT] = {
    [LOAA_OK] = "success",
    [LOAA_ERR_NOMEM] = "out of memory",
    [LOAA_ERR_IO] = "input/output error",
    [LOAA_ERR_PARSE] = "parse error",
    [LOAA_ERR_CONFIG] = "invalid configuration",
    [LOAA_ERR_FORMAT] = "corrupt or invalid file format",
    [LOAA_ERR_SHAPE] = "inconsistent shapes",
    [LOAA_ERR_NUMERIC] = "non-finite number",
    [LOAA_ERR_NOTFOUND] = "not found",
    [LOAA_ERR_LIMIT] = "resource limit exceeded",
    [LOAA_ERR_USAGE] = "usage error",
    [LOAA_ERR_DB] = "database error",
    [LOAA_ERR_LOCKED] = "resource locked by another process",
    [LOAA_ERR_MPI] = "MPI error",
    [LOAA_ERR_INTERRUPTED] = "interrupted",
    [LOAA_ERR_CRASH] = "process crashed",
    [LOAA_ERR_UNSUPPORTED] = "unsupported",
    [LOAA_ERR_INTERNAL] = "internal error",
};

const char *loaa_strerror(loaa_status st)
{
    if ((unsigned)st >= LOAA_STATUS_COUNT || !status_words[st])
        return "unknown status";
    return status_words[st];
}

loaa_status loaa_fail(loaa_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_detail, sizeof error_detail, fmt, ap);
    va_end(ap);
    return st;
}

loaa_status loaa_fail_prefix(loaa_status st, const char *fmt, ...)
{
    char prefix[2048], old[sizeof error_detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_detail, sizeof old);
    if (snprintf(error_detail, sizeof error_detail, "%s%s", prefix, old) >= (int)sizeof error_detail)
        memcpy(error_detail + sizeof error_detail - 4, "...", 4); /* too long: the end is cut, and says so */
    return st;
}

const char *loaa_error_detail(void) { return error_detail; }

void loaa_error_clear(void) { error_detail[0] = '\0'; }
