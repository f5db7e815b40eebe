/*
 * fs.h - the file-system steps several modules take: making a folder with
 * its parents (mkdir -p) and reading a whole file under a size cap.
 */
#ifndef LOAA_FS_H
#define LOAA_FS_H

#include <stddef.h>

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

#endif
