/*
 * query.h - the results store's read-side questions (coordinator/query.c,
 * part of the store module with store.c): the finished trials `loaa
 * report` ranks and tabulates, a trial's learning curve, the trial `loaa
 * export` copies out, and a trial's recorded state for `loaa sweep
 * --dry-run`. The SQL lives here; callers get plain C structs, through a
 * row callback where there are many rows. Every value is bound, never
 * spliced into SQL text; reading never writes the database.
 *
 * Failure: LOAA_ERR_DB with SQLite's message (and the database path where
 * the function says so); a callback's non-zero status stops the rows and is
 * returned as it is.
 */
#ifndef LOAA_QUERY_H
#define LOAA_QUERY_H

#include <jansson.h>
#include <stdint.h>

#include "common/status.h"
#include "coordinator/store.h"

/*
 * One condition on the trial config: KEY OP VALUE, op one of = != <> < <= > >=
 * (<> is !=). = and != are NULL-safe: a key the trial does not set is null,
 * so KEY=null matches it and KEY!=V keeps it; null with < <= > >= is refused.
 */
typedef struct loaa_store_cond {
    const char *key;      /* a key of the config table (the caller checks it) */
    const char *op;
    const json_t *value;  /* integer, real, string, boolean or null; any other value matches nothing */
} loaa_store_cond;

#define LOAA_STORE_MAX_CONDS 16

/* Which finished trials a report reads; NULL members match everything. */
typedef struct loaa_store_report_filter {
    const char *metric;            /* NULL = each sweep's own metric */
    const char *sweep, *dataset, *method;
    const loaa_store_cond *conds;  /* all must hold; at most LOAA_STORE_MAX_CONDS */
    int n_conds;
    int all_states;                /* 0: finished ('done') trials only; 1: every trial whatever its state */
} loaa_store_report_filter;

/* A trial as reports see it. Text is never NULL ("" when not recorded). */
typedef struct loaa_store_report_row {
    int64_t trial_id;
    const char *sweep, *metric, *goal, *dataset, *method;
    const char *backbone;   /* "none", the weights file's base name, or "best of SWEEP" */
    const char *config;     /* canonical config JSON */
    const char *mconfig;    /* the config without dataset, seed and fold: the method configuration */
    const char *params;     /* JSON object: the swept keys except dataset, seed and fold */
    int64_t seed;
    int fold;               /* -1 = none */
    int best_epoch;         /* -1 = not recorded */
    double trainable_pct;   /* 100 * trainable / total parameters; NAN when unknown */
    double value;           /* the metric's result; NAN when the trial has none */
    double seconds;         /* NAN when unknown */
    const char *state;      /* pending, running, done, failed, pruned or interrupted */
    const char *results;    /* JSON object: every recorded result (the best epoch's metrics), name -> value; "{}" when none */
    const char *sweep_metric; /* the sweep's own metric (metric is the filter's when it names one) */
} loaa_store_report_row;

typedef loaa_status (*loaa_store_report_fn)(void *ctx, const loaa_store_report_row *row);

/*
 * Calls fn for every finished ('done') trial the filter selects (every trial
 * with all_states), ordered by sweep name, dataset and trial id; the row's
 * text is valid during the call only. LOAA_ERR_USAGE for an operator outside
 * the seven or null compared with < <= > >=; LOAA_ERR_DB "report query: MESSAGE".
 */
loaa_status loaa_store_report_rows(loaa_store *s, const loaa_store_report_filter *f, loaa_store_report_fn fn, void *ctx);

/*
 * Calls fn(ctx, epoch, value) for each recorded epoch of metric `name` of
 * one trial, in epoch order (value NAN when recorded as NULL); fn returns
 * non-zero to stop early. LOAA_ERR_DB "report: MESSAGE" when the query
 * cannot be prepared.
 */
loaa_status loaa_store_trial_curve(loaa_store *s, int64_t trial_id, const char *name,
                                   int (*fn)(void *ctx, int epoch, double value), void *ctx);

/*
 * Which finished trial `loaa export` copies: one by id, or the best of a
 * dataset and/or sweep by metric, in the metric's own direction
 * (loaa_metric_goal: losses minimise); without a metric by each sweep's
 * metric and goal, an old database's test metric replaced by the validation
 * metric that stands for it (val_map for test_map, else val_acc): a test
 * metric never chooses. The caller checks a metric name (loaa_metric_check).
 */
typedef struct loaa_store_export_query {
    int64_t trial_id;                      /* -1: the best by metric */
    const char *dataset, *sweep, *metric;  /* NULL = any; metric NULL = each sweep's own */
} loaa_store_export_query;

/* The recorded facts of one finished trial; text owned (NULL when not recorded), numbers -1 when not recorded. */
typedef struct loaa_store_export_row {
    int64_t trial_id;
    char *sweep, *dataset, *dataset_sha256, *method;
    char *backbone;          /* the sweep it came from ("best of" chains), else the file, else "none" */
    char *backbone_sha256;
    char *config_json;       /* canonical config */
    char *results_json;      /* JSON object: result name -> value; NULL when none */
    char *loaa_version, *blas, *host;
    char *adapter_path, *backbone_export_path;
    int64_t trainable_params, total_params, best_epoch;
} loaa_store_export_row;

/*
 * Fills *out with the trial the query selects (ties: the lower trial id;
 * trials without the metric rank last). LOAA_ERR_NOTFOUND when no finished
 * trial matches; LOAA_ERR_DB "PATH: MESSAGE"; LOAA_ERR_NOMEM. Caller frees
 * with loaa_store_export_row_free (also after a failure).
 */
loaa_status loaa_store_export_find(loaa_store *s, const loaa_store_export_query *q, loaa_store_export_row *out);

/* Frees the row's text and zeroes it; a zeroed row is fine. */
void loaa_store_export_row_free(loaa_store_export_row *r);

/*
 * The recorded state ("pending", "running", "done", ...) of the sweep's trial
 * with identity `hash`; LOAA_ERR_NOTFOUND when the sweep has no such trial.
 */
loaa_status loaa_store_trial_state(loaa_store *s, int64_t sweep_id, const char *hash, char state[16]);

/*
 * The backbone file the trials of sweep `sweep` already resolved for their
 * chained backbone {sweep: ref, best: true} (trials.backbone of the latest
 * such trial) into path[cap]. LOAA_ERR_NOTFOUND when the sweep has no such
 * trial yet; LOAA_ERR_LIMIT when the path does not fit; LOAA_ERR_DB.
 */
loaa_status loaa_store_resolved_backbone(loaa_store *s, const char *sweep, const char *ref, char *path, size_t cap);

#endif
