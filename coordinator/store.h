/*
 * store.h - the SQLite results store (schema/schema.sql + migrations).
 *
 * One writer: the coordinator opens the store with LOAA_STORE_WRITER, which
 * takes an exclusive lock on DB.lock (fcntl, the holder's pid written inside)
 * for the lifetime of the handle, so a second coordinator on the same file
 * gets LOAA_ERR_LOCKED naming the holder's pid. Readers (`loaa report`,
 * sqlite3) open without the lock and query while a sweep writes (WAL).
 * The store owns every SQL statement: this header holds the writes and the
 * coordinator's questions, coordinator/query.h the reports' and export's;
 * no SQLite handle leaves coordinator/store.c and coordinator/query.c.
 * On NFS/Lustre/GPFS/CIFS the writer warns and falls back to a rollback
 * journal with exclusive locking (WAL needs shared memory the network file
 * systems do not give); readers then wait until the sweep ends.
 *
 * Writes are batched: every write joins the open transaction (BEGIN
 * IMMEDIATE on first use); loaa_store_flush commits it. Callers flush at
 * intervals and before they exit; a crash loses at most the unflushed batch,
 * never consistency (SQLite's journal). Every value is bound, never spliced
 * into SQL text.
 *
 * Failure: functions return LOAA_ERR_DB with SQLite's message and the
 * database path in the detail; a failed write rolls the batch back.
 */
#ifndef LOAA_STORE_H
#define LOAA_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

typedef struct loaa_store loaa_store;

typedef enum loaa_store_mode {
    LOAA_STORE_READER = 0, /* read-only, no lock, refuses an unmigrated database */
    LOAA_STORE_WRITER = 1  /* creates/migrates, exclusive lock for the handle's life */
} loaa_store_mode;

/* The schema version this loaa writes (1 + number of migrations). */
int loaa_store_latest_version(void);

/*
 * Opens (a writer creates) the database at path. LOAA_ERR_LOCKED when
 * another writer holds it ("in use by pid N"); LOAA_ERR_DB when the file is
 * not a loaa database or was written by a newer schema; a reader on a
 * missing file is LOAA_ERR_NOTFOUND. Caller closes.
 */
loaa_status loaa_store_open(loaa_store **out, const char *path, loaa_store_mode mode);

/* Commits the open batch (a writer) and closes; releases the lock. NULL is fine. */
void loaa_store_close(loaa_store *s);

/* The database path as given to loaa_store_open. */
const char *loaa_store_path(const loaa_store *s);

/* The database's schema version. */
int loaa_store_version(const loaa_store *s);

/* 1 when the writer fell back to a rollback journal (network file system). */
int loaa_store_network_fs(const loaa_store *s);

/* The connection's journal mode as SQLite names it ("wal", "delete", ...) into out[cap]; LOAA_ERR_DB. */
loaa_status loaa_store_journal_mode(loaa_store *s, char *out, size_t cap);

/* Commits the open batch, if any. */
loaa_status loaa_store_flush(loaa_store *s);

/* Rows written since the last flush (the coordinator flushes by size and time). */
int loaa_store_pending_writes(const loaa_store *s);

/*
 * Creates the sweep or updates its spec (a changed file keeps its trials:
 * the sweep is its name). *sweep_id gets its id.
 */
loaa_status loaa_store_sweep_upsert(loaa_store *s, const char *name, const char *spec_yaml, const char *metric,
                                    const char *goal, const char *method, int ranks_per_trial, int64_t *sweep_id);

/* The id of a sweep by name; LOAA_ERR_NOTFOUND if none. */
loaa_status loaa_store_sweep_find(loaa_store *s, const char *name, int64_t *sweep_id);

/*
 * Makes interrupted and running trials of the sweep pending again (a killed
 * or stopped job costs no attempt) and, with retry_failed, failed ones too
 * (attempts reset). *reset gets the number of trials made pending.
 */
loaa_status loaa_store_sweep_reset(loaa_store *s, int64_t sweep_id, int retry_failed, int *reset);

/* One expanded trial, as the store records it. */
typedef struct loaa_store_trial_spec {
    int64_t number;            /* position in the sweep's expansion */
    const char *config_json;   /* canonical identity keys */
    const char *exec_json;     /* execution settings (ranks_per_trial, threads, fault, ...) */
    const char *hash;          /* identity, 64 hex */
    const char *dataset, *dataset_sha256;
    const char *backbone, *backbone_sha256, *backbone_ref; /* NULL when none */
    const char *method;
    int64_t seed;
    int fold;                  /* -1 = null */
    const json_t *params;      /* object: the swept keys and their values */
} loaa_store_trial_spec;

/*
 * Records the trial unless the sweep has it already (same identity), and
 * refreshes the execution settings of one that has not finished. Gives its
 * id, state ("pending", "done", ...; state must hold 16 bytes) and attempts.
 */
loaa_status loaa_store_trial_add(loaa_store *s, int64_t sweep_id, const loaa_store_trial_spec *t, int64_t *trial_id,
                                 char *state, int *attempts);

/* The stored config, execution settings, attempts and identity of a trial; caller frees both texts. */
loaa_status loaa_store_trial_config(loaa_store *s, int64_t trial_id, char **config_json, char **exec_json, int *attempts,
                                    char hash[65]);

/* running, started now, on a group of `ranks` ranks; log_path NULL keeps the recorded one. */
loaa_status loaa_store_trial_started(loaa_store *s, int64_t trial_id, int ranks, const char *log_path);

/* One epoch's metrics (EPOCH payload's "metrics" object); train_*, val_*, lr go to their splits. */
loaa_status loaa_store_trial_epoch(loaa_store *s, int64_t trial_id, int epoch, const json_t *metrics);

/* A finished (or pruned) trial: the RESULT payload. */
loaa_status loaa_store_trial_finish(loaa_store *s, int64_t trial_id, const json_t *result);

/*
 * A failed trial. crash: the trial's own process died, which counts as an
 * attempt; while attempts < max_attempts the trial goes back to pending and
 * *requeue is 1. Any other failure is final.
 */
loaa_status loaa_store_trial_failed(loaa_store *s, int64_t trial_id, const char *error, const char *log_path, int crash,
                                    int max_attempts, int *requeue);

/* A trial stopped from outside goes back to pending, its attempts unchanged. */
loaa_status loaa_store_trial_requeue(loaa_store *s, int64_t trial_id);

/* Marks the sweep's running trials interrupted (SIGTERM: no attempt counted). */
loaa_status loaa_store_mark_interrupted(loaa_store *s, int64_t sweep_id);

/*
 * The best finished trial of the named sweep by its metric and goal, and the
 * backbone file it exported (chained sweeps). LOAA_ERR_NOTFOUND with a clear
 * message when the sweep does not exist, has no finished trial, or its best
 * trial exported no backbone.
 */
loaa_status loaa_store_best_backbone(loaa_store *s, const char *sweep, int64_t *trial_id, char *path, size_t cap);

/* Calls fn for every recorded value of metric `name` of the sweep's trials, in (trial, epoch) order. */
loaa_status loaa_store_metric_history(loaa_store *s, int64_t sweep_id, const char *name,
                                      void (*fn)(void *ctx, int64_t trial_id, int epoch, double value), void *ctx);

#endif
