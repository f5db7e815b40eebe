/*
 * fs.h - the file-system steps several modules take: making a folder with
 * its parents (mkdir -p), reading a whole file under a size cap, and
 * replacing a file atomically and durably through a fresh temporary file.
 */
#ifndef LOAA_FS_H
#define LOAA_FS_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "common/status.h"

/*
 * Makes the folder dir and any missing parents, mode 0755 (existing ones
 * are fine). Errors, with a detail naming the path: LOAA_ERR_LIMIT when dir
 * is longer than PATH_MAX (nothing is made; never truncated), LOAA_ERR_IO
 * "cannot create PATH: REASON" naming the first component that failed.
 */
loaa_status loaa_fs_make_dirs(const char *dir);

/*
 * Reads the whole file at path into *data (NUL-terminated; caller frees)
 * and *len. Errors, with a detail naming the path: LOAA_ERR_NOTFOUND,
 * LOAA_ERR_IO (cannot open, read error), LOAA_ERR_LIMIT ("larger than
 * WHAT" when over max bytes; what: the cap in words, e.g. "64 MiB"),
 * LOAA_ERR_NOMEM. *data is NULL after a failure.
 */
loaa_status loaa_fs_read_file(const char *path, size_t max, const char *what, char **data, size_t *len);

/*
 * A file being written under a temporary name beside its final path, then
 * renamed over it (issue 18 #6). The temporary file is created with
 * O_CREAT|O_EXCL|O_NOFOLLOW (mode 0644 before the umask) under a name no
 * other process can predict (PATH.tmp.PID.RANDOM, retried on a clash), so a
 * planted file or symlink is never opened, followed or overwritten.
 * Commit fsyncs the file, renames it into place and fsyncs the folder.
 *
 *     loaa_fs_atomic a;
 *     if ((st = loaa_fs_atomic_open(&a, path))) return st;
 *     ... write(a.fd, ...) or fprintf(loaa_fs_atomic_stream(&a), ...) ...
 *     st = bad ? (loaa_fs_atomic_abort(&a), err) : loaa_fs_atomic_commit(&a);
 */
typedef struct loaa_fs_atomic {
    int fd;              /* the open temporary file (-1 once closed) */
    FILE *stream;        /* NULL until loaa_fs_atomic_stream; then it owns fd */
    char path[PATH_MAX]; /* the final name */
    char tmp[PATH_MAX];  /* the temporary name, in path's folder */
} loaa_fs_atomic;

/*
 * Creates the temporary file for path. Errors, naming the path: LOAA_ERR_LIMIT
 * when path and its temporary suffix do not fit PATH_MAX (never truncated),
 * LOAA_ERR_IO "cannot create TMP: REASON". On failure nothing is left open.
 */
loaa_status loaa_fs_atomic_open(loaa_fs_atomic *a, const char *path);

/* A stdio stream over a's file (made once; a keeps owning it); NULL when out of memory. */
FILE *loaa_fs_atomic_stream(loaa_fs_atomic *a);

/*
 * Flushes and fsyncs the file, closes it, renames it to its final path and
 * fsyncs the folder. On any failure the temporary file is removed and the
 * final path is left as it was (LOAA_ERR_IO naming the path and the step).
 */
loaa_status loaa_fs_atomic_commit(loaa_fs_atomic *a);

/* Closes and removes the temporary file (the final path is untouched). Safe after a failed open. */
void loaa_fs_atomic_abort(loaa_fs_atomic *a);

/* Writes len bytes to path through a loaa_fs_atomic (errors as its open and commit). */
loaa_status loaa_fs_write_atomic(const char *path, const void *data, size_t len);

#endif
