/*
 * report.h - `loaa report`: what a results database says, for people.
 *
 *  - Leaderboard per dataset: finished trials ranked by the metric (the
 *    sweep's own metric and goal unless --metric), with method, backbone,
 *    seed, fold, trainable-parameter share and the swept keys.
 *  - Cross-dataset table: rows = method configurations (the config without
 *    dataset, seed and fold; labelled by method, backbone and the keys that
 *    differ between rows), columns = datasets, cells = mean ± sample std over
 *    seeds and folds (n trials), plus the trainable-parameter %.
 *  - Formats: aligned text, CSV, JSON, Markdown; HTML as one self-contained
 *    page with inline SVG learning curves per trial and bar charts comparing
 *    methods per dataset.
 *
 * Filters: sweep name, dataset path, method, and KEY OP VALUE conditions on
 * the trial config (OP one of = != < <= > >=; KEY from the key table); every
 * value is a bound parameter. Reading never writes the database.
 */
#ifndef LOAA_REPORT_H
#define LOAA_REPORT_H

#include <stdio.h>

#include "common/status.h"
#include "coordinator/store.h"

typedef enum loaa_report_format {
    LOAA_REPORT_TABLE,
    LOAA_REPORT_CSV,
    LOAA_REPORT_JSON,
    LOAA_REPORT_MARKDOWN
} loaa_report_format;

#define LOAA_REPORT_MAX_WHERE 16

typedef struct loaa_report_opts {
    const char *sweep, *dataset, *method;
    const char *metric;                         /* NULL = each sweep's metric */
    const char *where[LOAA_REPORT_MAX_WHERE];   /* "KEY=VALUE", "lr<0.01", ... */
    int n_where;
    loaa_report_format format;
    int sections;                               /* bit 1: leaderboard, bit 2: cross-dataset; 0 = both */
    int top;                                    /* leaderboard rows per dataset; 0 = all (also in JSON) */
    int per_config;                             /* cross-dataset table: 1 = per configuration; 0 = validation-selected */
    const char *compare;                        /* "A,B[,C...]": the paired comparison of these methods instead of the tables */
} loaa_report_opts;

/* Parses a format name (table, csv, json, markdown/md). */
loaa_status loaa_report_format_parse(const char *name, loaa_report_format *out);

/* Writes the report. LOAA_ERR_USAGE for a malformed --where (naming it); LOAA_ERR_DB from SQLite. */
loaa_status loaa_report_write(loaa_store *s, const loaa_report_opts *o, FILE *out);

/* Writes the HTML page to path (atomically: a temporary file, then rename). */
loaa_status loaa_report_html(loaa_store *s, const loaa_report_opts *o, const char *path);

#endif
