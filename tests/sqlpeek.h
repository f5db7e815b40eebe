/*
 * sqlpeek.h - tests' own read-only look into a results database, as the
 * sqlite3 shell would open it: the store hands out no connection, so tests
 * that check what it wrote open the file themselves (committed data only:
 * flush the writer first).
 */
#ifndef LOAA_TESTS_SQLPEEK_H
#define LOAA_TESTS_SQLPEEK_H

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* A read-only connection to the database at path, waiting up to 10 s for locks; NULL when it cannot open. */
static inline sqlite3 *peek_open(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    return db;
}

/* The first column of the first row of sql as new text (caller frees); NULL when none or on any error. */
static inline char *peek_text(const char *path, const char *sql)
{
    sqlite3 *db = peek_open(path);
    sqlite3_stmt *q;
    char *out = NULL;
    if (db && sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
            out = strdup((const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return out;
}

/* The first column of the first row of sql as an integer; -1 when none or on any error. */
static inline long long peek_int(const char *path, const char *sql)
{
    char *t = peek_text(path, sql);
    long long v = t ? strtoll(t, NULL, 10) : -1;
    free(t);
    return v;
}

#endif
