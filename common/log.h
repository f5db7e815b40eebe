/*
 * log.h - leveled logging to stderr with an MPI rank prefix.
 *
 * Lines look like "[r3] warn: message". The rank prefix is set once by the
 * process (loaa_log_set_rank); -1 (the default) prints no prefix, as in
 * plain single-process commands. Colour is used only when stderr is a TTY.
 */
#ifndef LOAA_LOG_H
#define LOAA_LOG_H

#include <stdio.h>

typedef enum loaa_log_level {
    LOAA_LOG_ERROR = 0,
    LOAA_LOG_WARN,
    LOAA_LOG_INFO,
    LOAA_LOG_DEBUG
} loaa_log_level;

void loaa_log_set_level(loaa_log_level level);
loaa_log_level loaa_log_get_level(void);
void loaa_log_set_rank(int rank);
int loaa_log_get_rank(void);

/* -q lowers to errors only, -v raises to debug; called by cli's option parser. */
void loaa_log_quiet(void);
void loaa_log_verbose(void);

/* True when the stream is a terminal (progress redraws, colours). */
int loaa_isatty(FILE *f);

void loaa_log(loaa_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define loaa_error(...) loaa_log(LOAA_LOG_ERROR, __VA_ARGS__)
#define loaa_warn(...) loaa_log(LOAA_LOG_WARN, __VA_ARGS__)
#define loaa_info(...) loaa_log(LOAA_LOG_INFO, __VA_ARGS__)
#define loaa_debug(...) loaa_log(LOAA_LOG_DEBUG, __VA_ARGS__)

#endif
