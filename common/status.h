/*
 * status.h - the one error-code enum every loaa module returns.
 *
 * Functions that can fail return loaa_status. LOAA_OK is zero, so
 *
 *     loaa_status st = loaa_something(...);
 *     if (st) return st;
 *
 * propagates failures. Besides the code, the failing function records a
 * human-readable detail (the file, key, line or tensor at fault) with
 * loaa_fail(); callers print it with loaa_error_detail(). The detail is
 * per thread, so reader threads do not clobber the trainer's message.
 */
#ifndef LOAA_STATUS_H
#define LOAA_STATUS_H

typedef enum loaa_status {
    LOAA_OK = 0,
    LOAA_ERR_NOMEM,       /* allocation failed */
    LOAA_ERR_IO,          /* open/read/write/rename failed */
    LOAA_ERR_PARSE,       /* malformed text: JSON, YAML, CSV, flags */
    LOAA_ERR_CONFIG,      /* a well-formed setting with a bad value */
    LOAA_ERR_FORMAT,      /* corrupt or inconsistent binary file */
    LOAA_ERR_SHAPE,       /* tensor or model shapes that do not fit */
    LOAA_ERR_NUMERIC,     /* NaN or Inf where numbers must be finite */
    LOAA_ERR_NOTFOUND,    /* a named file, key, tensor or trial is missing */
    LOAA_ERR_LIMIT,       /* a resource cap refused the input */
    LOAA_ERR_USAGE,       /* the command line is wrong (exit code 2) */
    LOAA_ERR_DB,          /* SQLite said no */
    LOAA_ERR_LOCKED,      /* another process holds the resource */
    LOAA_ERR_MPI,         /* an MPI or BLACS call failed */
    LOAA_ERR_INTERRUPTED, /* stopped by a signal or a stop request */
    LOAA_ERR_CRASH,       /* a child process died */
    LOAA_ERR_UNSUPPORTED, /* valid, but this build cannot do it */
    LOAA_ERR_INTERNAL,    /* a bug in loaa */
    LOAA_STATUS_COUNT
} loaa_status;

/* Words for a status code; never NULL, also for out-of-range values. */
const char *loaa_strerror(loaa_status st);

/*
 * Records a detail message for the calling thread and returns st, so that
 * a failure reads as one line:  return loaa_fail(LOAA_ERR_IO, "%s: %s", ...);
 */
loaa_status loaa_fail(loaa_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The calling thread's last detail, "" if none. Valid until the next loaa_fail. */
const char *loaa_error_detail(void);

/* Clears the calling thread's detail. */
void loaa_error_clear(void);

/*
 * Prefixes the current detail with context ("file.yaml: " + detail) and
 * returns st. Used where a caller knows the file and the callee the key.
 */
loaa_status loaa_fail_prefix(loaa_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
