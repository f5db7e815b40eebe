/*
 * store_private.h - what coordinator/store.c shares with coordinator/query.c,
 * the store's read-side questions, and with nothing else: the store is the
 * only module that sees SQLite (scripts/checksrc refuses <sqlite3.h>
 * elsewhere outside tests/). Every other part asks the store through the
 * functions of store.h and query.h.
 */
#ifndef LOAA_STORE_PRIVATE_H
#define LOAA_STORE_PRIVATE_H

#include <sqlite3.h>

#include "coordinator/store.h"

/* The store's connection (valid until loaa_store_close); for store.c and query.c only. */
sqlite3 *loaa_store_connection(loaa_store *s);

/* LOAA_ERR_DB naming the database, what was being done and SQLite's last message. */
loaa_status loaa_store_db_fail(loaa_store *s, const char *what);

#endif
