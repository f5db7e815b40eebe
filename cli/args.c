/* args.c - helpers every command shares for reading its arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/status.h"

/* Config files and sweep files are small; a larger file is a mistake, not data. */
#define CLI_FILE_CAP (16u << 20)

char *loaa_cli_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *p = cap < CLI_FILE_CAP ? realloc(buf, cap * 2) : NULL;
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

int loaa_cli_long(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || end == v || x < lo || x > hi) {
        loaa_fail(LOAA_ERR_USAGE, "%s needs an integer in %ld..%ld", flag, lo, hi);
        return 0;
    }
    *out = x;
    return 1;
}

int loaa_cli_double(const char *flag, const char *v, double lo, double hi, double *out)
{
    char *end;
    double x = v ? strtod(v, &end) : 0;
    if (!v || *end || end == v || !(x >= lo && x <= hi)) {
        loaa_fail(LOAA_ERR_USAGE, "%s needs a number in %g..%g", flag, lo, hi);
        return 0;
    }
    *out = x;
    return 1;
}

loaa_status loaa_cli_config_file(loaa_config *cfg, int argc, char **argv, int *next)
{
    int i = *next;
    if (i >= argc || strncmp(argv[i], "--", 2) == 0)
        return LOAA_OK;
    char *text = loaa_cli_read_file(argv[i]);
    if (!text)
        return loaa_fail(LOAA_ERR_IO, "%s: cannot read", argv[i]);
    loaa_status st = loaa_config_parse(cfg, text);
    free(text);
    if (st)
        return loaa_fail_prefix(st, "%s: ", argv[i]);
    *next = i + 1;
    return LOAA_OK;
}
