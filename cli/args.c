/* args.c - helpers every command shares for reading its arguments and files. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/fs.h"
#include "common/status.h"
#include "worker/shard.h"

_Static_assert(sizeof(loaa_compress) == sizeof(int), "--compress stores a loaa_compress through an int");
const loaa_opt_choice loaa_cli_compress_choices[] = {
    {"none", LOAA_COMPRESS_NONE}, {"gz", LOAA_COMPRESS_GZ}, {"zst", LOAA_COMPRESS_ZST}, {NULL, 0},
};

/* Config files and sweep files are small; a larger file is a mistake, not data. */
#define CLI_FILE_CAP (16u << 20)

char *loaa_cli_read_file(const char *path)
{
    char *text;
    size_t len;
    return loaa_fs_read_file(path, CLI_FILE_CAP, "16 MiB", &text, &len) ? NULL : text;
}

loaa_status loaa_cli_copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return loaa_fail(LOAA_ERR_NOTFOUND, "%s: cannot open: %s", from, strerror(errno));
    loaa_fs_atomic a; /* a fresh O_EXCL temporary beside to; fsync, rename, fsync of the folder */
    loaa_status st = loaa_fs_atomic_open(&a, to);
    FILE *out = st ? NULL : loaa_fs_atomic_stream(&a);
    if (!out) {
        fclose(in);
        if (!st) {
            loaa_fs_atomic_abort(&a);
            st = loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", to);
        }
        return st;
    }
    char buf[1 << 16];
    size_t n;
    int bad = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            bad = 1;
    bad |= ferror(in);
    fclose(in);
    if (bad) {
        loaa_fs_atomic_abort(&a);
        return loaa_fail(LOAA_ERR_IO, "%s: cannot write", to);
    }
    return loaa_fs_atomic_commit(&a);
}

/* "an integer in 1..100" or "an integer >= 1". */
static loaa_status range_error(const char *flag, const char *what, const char *text, double lo, double hi)
{
    if (hi >= LOAA_OPT_NO_MAX)
        return loaa_fail(LOAA_ERR_USAGE, "%s needs %s >= %.15g, got '%s'", flag, what, lo, text);
    return loaa_fail(LOAA_ERR_USAGE, "%s needs %s in %.15g..%.15g, got '%s'", flag, what, lo, hi, text);
}

loaa_status loaa_cli_int64(const char *flag, const char *text, double lo, double hi, int64_t *out)
{
    assert(flag && text && out && lo <= hi);
    char *end;
    errno = 0;
    long long x = strtoll(text, &end, 10);
    if (errno || *end || end == text || (double)x < lo || (double)x > hi)
        return range_error(flag, "an integer", text, lo, hi);
    *out = x;
    return LOAA_OK;
}

loaa_status loaa_cli_double(const char *flag, const char *text, double lo, double hi, double *out)
{
    assert(flag && text && out && lo <= hi);
    char *end;
    double x = strtod(text, &end);
    if (*end || end == text || !isfinite(x) || !(x >= lo && x <= hi))
        return range_error(flag, "a number", text, lo, hi);
    *out = x;
    return LOAA_OK;
}

loaa_status loaa_cli_config_file(loaa_config *cfg, int *argc, char **argv)
{
    if (*argc < 2 || argv[1][0] == '-')
        return LOAA_OK;
    const char *path = argv[1];
    char *text = loaa_cli_read_file(path);
    if (!text)
        return loaa_fail(LOAA_ERR_IO, "%s: cannot read", path);
    loaa_status st = loaa_config_parse(cfg, text);
    free(text);
    if (st)
        return loaa_fail_prefix(st, "%s: ", path);
    memmove(argv + 1, argv + 2, (size_t)(*argc - 1) * sizeof *argv); /* with the NULL at argv[argc] */
    *argc -= 1;
    return LOAA_OK;
}
