/* fs.c - mkdir -p, whole-file reads and atomic, durable file replacement (see fs.h). */
#include "common/fs.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* A name suffix no other process predicts: pid, a per-process counter and the clock's nanoseconds, mixed. */
static unsigned long long tmp_suffix(void)
{
    static unsigned long long counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long x = ((unsigned long long)ts.tv_sec * 1000000007ULL) ^ (unsigned long long)ts.tv_nsec ^
                           ((unsigned long long)getpid() << 32) ^ (__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9e3779b97f4a7c15ULL);
    x ^= x >> 33; /* splitmix64's finaliser */
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

loaa_status loaa_fs_atomic_open(loaa_fs_atomic *a, const char *path)
{
    assert(a && path);
    a->fd = -1;
    a->stream = NULL;
    a->tmp[0] = '\0';
    size_t n = strlen(path);
    if (n + 40 >= sizeof a->tmp)
        return loaa_fail(LOAA_ERR_LIMIT, "cannot write %.64s...: the path is %zu bytes, over %zu", path, n, sizeof a->tmp - 41);
    memcpy(a->path, path, n + 1);
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld.%016llx", path, (long)getpid(), tmp_suffix());
        a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (a->fd >= 0)
            return LOAA_OK;
        if (errno != EEXIST)
            break;
    }
    loaa_status st = loaa_fail(LOAA_ERR_IO, "cannot create %s: %s", a->tmp, strerror(errno));
    a->tmp[0] = '\0';
    return st;
}

FILE *loaa_fs_atomic_stream(loaa_fs_atomic *a)
{
    assert(a && a->fd >= 0);
    if (!a->stream)
        a->stream = fdopen(a->fd, "w");
    return a->stream;
}

/* Closes a's file (through its stream when there is one): 0, or -1 with errno set. */
static int close_tmp(loaa_fs_atomic *a)
{
    int r = a->stream ? fclose(a->stream) : a->fd >= 0 ? close(a->fd) : 0;
    a->stream = NULL;
    a->fd = -1;
    return r;
}

/* fsyncs the folder that holds path, so that a rename into it survives a crash: 0, or -1 with errno set. */
static int sync_folder(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

loaa_status loaa_fs_atomic_commit(loaa_fs_atomic *a)
{
    assert(a && a->fd >= 0);
    const char *step = "write";
    int bad = a->stream && fflush(a->stream) != 0;
    if (!bad && fsync(a->fd) != 0)
        bad = 1, step = "fsync";
    int e = errno;
    if (close_tmp(a) != 0 && !bad)
        bad = 1, step = "close", e = errno;
    if (!bad && rename(a->tmp, a->path) != 0)
        bad = 1, step = "rename", e = errno;
    if (bad) {
        unlink(a->tmp);
        a->tmp[0] = '\0';
        return loaa_fail(LOAA_ERR_IO, "%s: %s: %s", a->path, step, strerror(e));
    }
    a->tmp[0] = '\0';
    if (sync_folder(a->path) != 0)
        return loaa_fail(LOAA_ERR_IO, "%s: fsync of its folder: %s", a->path, strerror(errno));
    return LOAA_OK;
}

void loaa_fs_atomic_abort(loaa_fs_atomic *a)
{
    assert(a);
    close_tmp(a);
    if (a->tmp[0])
        unlink(a->tmp);
    a->tmp[0] = '\0';
}

loaa_status loaa_fs_write_atomic(const char *path, const void *data, size_t len)
{
    assert(path && (data || !len));
    loaa_fs_atomic a;
    loaa_status st = loaa_fs_atomic_open(&a, path);
    if (st)
        return st;
    const char *p = data;
    while (len) {
        ssize_t w = write(a.fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = loaa_fail(LOAA_ERR_IO, "%s: write: %s", path, w < 0 ? strerror(errno) : "no progress");
            loaa_fs_atomic_abort(&a);
            return st;
        }
        p += w;
        len -= (size_t)w;
    }
    return loaa_fs_atomic_commit(&a);
}
