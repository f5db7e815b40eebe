/*
 * csv.c - the CSV reader (see csv.h).
 */
#include "worker/csv.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"

struct loaa_csv {
    FILE *f;
    char *path;
    char *line;
    size_t cap;
    char **fields;
    size_t fcap; /* fields allocated */
    int lineno;
};

loaa_status loaa_csv_open(const char *path, loaa_csv **out)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return loaa_fail(errno == ENOENT ? LOAA_ERR_NOTFOUND : LOAA_ERR_IO, "%s: %s", path, strerror(errno));
    loaa_csv *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        fclose(f);
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", path);
    }
    c->f = f;
    *out = c;
    return LOAA_OK;
}

const char *loaa_csv_path(const loaa_csv *c) { return c->path; }
int loaa_csv_line(const loaa_csv *c) { return c->lineno; }

void loaa_csv_close(loaa_csv *c)
{
    if (!c)
        return;
    if (c->f)
        fclose(c->f);
    free(c->path);
    free(c->line);
    free(c->fields);
    free(c);
}

int loaa_csv_column(char **fields, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(fields[i], name))
            return i;
    return -1;
}

loaa_status loaa_csv_next(loaa_csv *c, char ***fields, int *n)
{
    assert(c && fields && n);
    *n = 0;
    for (;;) {
        ssize_t len = getline(&c->line, &c->cap, c->f);
        if (len < 0) {
            if (ferror(c->f))
                return loaa_fail(LOAA_ERR_IO, "%s: read error", c->path);
            return LOAA_OK;
        }
        c->lineno++;
        while (len > 0 && (c->line[len - 1] == '\n' || c->line[len - 1] == '\r'))
            c->line[--len] = '\0';
        if (len == 0)
            continue;
        if (c->lineno == 1 && (unsigned char)c->line[0] == 0xef && (unsigned char)c->line[1] == 0xbb)
            memmove(c->line, c->line + 3, (size_t)len - 2); /* a UTF-8 byte-order mark */
        /* split in place: quoted fields are unescaped into the same buffer */
        int k = 0;
        char *p = c->line;
        for (;;) {
            if (loaa_dyn_reserve_array((void **)&c->fields, &c->fcap, (size_t)k + 1, sizeof *c->fields))
                return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", c->path);
            if (*p == '"') {
                char *w = ++p;
                c->fields[k++] = w;
                for (;;) {
                    if (!*p)
                        return loaa_fail(LOAA_ERR_PARSE, "%s:%d: unterminated quoted field", c->path, c->lineno);
                    if (*p == '"' && p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                    } else if (*p == '"') {
                        p++;
                        break;
                    } else {
                        *w++ = *p++;
                    }
                }
                *w = '\0';
                if (*p && *p != ',')
                    return loaa_fail(LOAA_ERR_PARSE, "%s:%d: text after a closing quote", c->path, c->lineno);
            } else {
                c->fields[k++] = p;
                while (*p && *p != ',')
                    p++;
            }
            if (!*p)
                break;
            *p++ = '\0';
        }
        *fields = c->fields;
        *n = k;
        return LOAA_OK;
    }
}
