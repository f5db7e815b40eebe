/*
 * csv.h - a small RFC 4180 reader for packer inputs (ESC-50 meta, EPIC-SOUNDS
 * annotations, loaa's own manifests): comma-separated, double-quoted fields
 * with "" escapes, CRLF or LF. A quoted field may not span lines.
 */
#ifndef LOAA_CSV_H
#define LOAA_CSV_H

#include "common/status.h"

typedef struct loaa_csv loaa_csv;

/* Opens path; LOAA_ERR_NOTFOUND / LOAA_ERR_IO name it. */
loaa_status loaa_csv_open(const char *path, loaa_csv **out);

/*
 * The next record: *fields (owned by c, valid until the next call) and
 * *n; *n = 0 at the end. Blank lines are skipped. A malformed line is
 * LOAA_ERR_PARSE "FILE:LINE: ...".
 */
loaa_status loaa_csv_next(loaa_csv *c, char ***fields, int *n);

/* The line number of the last record returned (1-based). */
int loaa_csv_line(const loaa_csv *c);
const char *loaa_csv_path(const loaa_csv *c);

/* The index of a header name in fields[0..n), or -1. */
int loaa_csv_column(char **fields, int n, const char *name);

void loaa_csv_close(loaa_csv *c);

#endif
