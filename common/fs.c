/* fs.c - mkdir -p and whole-file reads (see fs.h). */
#include "common/fs.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/dynbuf.h"

/* mkdir that accepts an existing folder. */
static loaa_status make_one(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return loaa_fail(LOAA_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    return LOAA_OK;
}

loaa_status loaa_fs_make_dirs(const char *dir)
{
    assert(dir);
    char path[PATH_MAX];
    size_t n = strlen(dir);
    if (n >= sizeof path)
        return loaa_fail(LOAA_ERR_LIMIT, "cannot create %.64s...: the path is %zu bytes, over %zu", dir, n, sizeof path - 1);
    memcpy(path, dir, n + 1);
    loaa_status st;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if ((st = make_one(path)))
            return st;
        *p = '/';
    }
    return make_one(path);
}

loaa_status loaa_fs_read_file(const char *path, size_t max, const char *what, char **data, size_t *len)
{
    assert(path && what && data && len && max >= 1);
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return loaa_fail(errno == ENOENT ? LOAA_ERR_NOTFOUND : LOAA_ERR_IO, "%s: %s", path, strerror(errno));
    loaa_dyn b;
    loaa_dyn_init(&b, max);
    int over = 0;
    for (;;) {
        size_t want = max - loaa_dyn_len(&b) < 4096 ? max - loaa_dyn_len(&b) : 4096;
        if (want == 0) { /* at the cap: one more byte means too large */
            over = fgetc(f) != EOF;
            break;
        }
        char *room = loaa_dyn_space(&b, want);
        if (!room)
            break;
        size_t got = fread(room, 1, want, f);
        loaa_dyn_advance(&b, got);
        if (got < want)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    loaa_status st = over ? LOAA_ERR_LIMIT : loaa_dyn_status(&b);
    if (st == LOAA_ERR_LIMIT) {
        loaa_dyn_free(&b);
        return loaa_fail(st, "%s: larger than %s", path, what);
    }
    if (st)
        return loaa_fail(st, "%s: out of memory", path);
    if (bad) {
        loaa_dyn_free(&b);
        return loaa_fail(LOAA_ERR_IO, "%s: read error", path);
    }
    *data = loaa_dyn_take(&b, len);
    if (!*data) { /* an empty file: an empty string, not NULL */
        loaa_dyn_add(&b, "", 0);
        if (!(*data = loaa_dyn_take(&b, len)))
            return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", path);
    }
    return LOAA_OK;
}
