/* log.c - see log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <unistd.h>

static loaa_log_level current_level = LOAA_LOG_INFO;
static int current_rank = -1;

void loaa_log_set_level(loaa_log_level level) { current_level = level; }
loaa_log_level loaa_log_get_level(void) { return current_level; }
void loaa_log_set_rank(int rank) { current_rank = rank; }
int loaa_log_get_rank(void) { return current_rank; }
void loaa_log_quiet(void) { current_level = LOAA_LOG_ERROR; }
void loaa_log_verbose(void) { current_level = LOAA_LOG_DEBUG; }

int loaa_isatty(FILE *f) { return f && isatty(fileno(f)); }

void loaa_log(loaa_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    static const char *const colours[] = {"\033[31m", "\033[33m", "", "\033[2m"};
    char line[2048];
    int n = 0;
    va_list ap;

    if (level > current_level)
        return;
    int colour = loaa_isatty(stderr);
    if (current_rank >= 0)
        n += snprintf(line + n, sizeof line - n, "[r%d] ", current_rank);
    n += snprintf(line + n, sizeof line - n, "%s%s:%s ", colour ? colours[level] : "",
                  names[level], colour ? "\033[0m" : "");
    va_start(ap, fmt);
    if (n < (int)sizeof line)
        vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    /* One write per line so that ranks sharing a terminal do not interleave mid-line. */
    fprintf(stderr, "%s\n", line);
}
