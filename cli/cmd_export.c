/*
 * cmd_export.c - `loaa export --db DB (--trial N | --best --dataset D)
 * [--sweep S] [--metric M] [--backbone] [--out FILE]`: copies a finished
 * trial's adapter file (or, with --backbone, the whole-model file it
 * exported) out of the artifacts folder, with FILE.json: a small card
 * (sweep, dataset, method, backbone, config, results, parameter counts,
 * provenance, the file's SHA-256).
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/sha256.h"
#include "common/status.h"
#include "coordinator/store.h"

static json_t *col_json(sqlite3_stmt *q, int i)
{
    switch (sqlite3_column_type(q, i)) {
    case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(q, i));
    case SQLITE_FLOAT: return json_real(sqlite3_column_double(q, i));
    case SQLITE_NULL: return json_null();
    default: return json_string((const char *)sqlite3_column_text(q, i));
    }
}

typedef struct export_opts {
    const char *db, *dataset, *sweep, *metric, *out;
    int64_t trial; /* -1: --best */
    int best, backbone;
} export_opts;

static const char export_usage[] =
    "usage: loaa export --db results.db (--trial N | --best --dataset D [--sweep S]) [--metric M]\n"
    "                   [--backbone] [--out FILE]\n"
    "Copies a finished trial's adapter file (or the whole-model file of a 'method: full' trial)\n"
    "and writes FILE.json beside it: sweep, dataset, method, backbone, config, results,\n"
    "parameter counts, provenance and the file's SHA-256.\n";

/* Reads the arguments into o; 0, or -1 with *rc the exit code (help printed or usage error reported). */
static int parse_args(int argc, char **argv, export_opts *o, int *rc)
{
    *o = (export_opts){.trial = -1};
    const loaa_option opts[] = {
        OPT_PATH("db", &o->db, "results.db", "the results database (required)"),
        OPT_INT64("trial", &o->trial, 1, LOAA_OPT_NO_MAX, "N", "this trial number"),
        OPT_FLAG("best", &o->best, "the best finished trial of --dataset and/or --sweep by the metric"),
        OPT_STRING("dataset", &o->dataset, "D", "with --best: among this dataset's trials"),
        OPT_STRING("sweep", &o->sweep, "S", "with --best: among this sweep's trials"),
        OPT_STRING("metric", &o->metric, "M", "with --best: rank by this metric (default: the sweep's)"),
        OPT_FLAG("backbone", &o->backbone, "the whole-model backbone file instead of the adapter"),
        OPT_PATH("out", &o->out, "FILE", "where to copy it (default trial-N-adapter.safetensors)"),
        OPT_END(),
    };
    const loaa_cli_spec spec = {.command = "export", .usage = export_usage, .options = opts};
    if (loaa_cli_parse(&spec, argc, argv, rc) < 0)
        return -1;
    if (!o->db || (o->trial < 0) == !o->best || (o->best && !o->dataset && !o->sweep)) {
        *rc = loaa_cli_report("export", loaa_fail(LOAA_ERR_USAGE, "usage: loaa export --db DB (--trial N | --best --dataset D "
                                                                  "[--sweep S]) [--metric M] [--backbone] [--out FILE]"));
        return -1;
    }
    return 0;
}

/*
 * The chosen finished trial's card (*card, caller frees), its number and the
 * file to copy (from: "" when the trial recorded none). LOAA_ERR_NOTFOUND
 * when no finished trial matches; LOAA_ERR_DB from SQLite.
 */
static loaa_status find_trial(const export_opts *o, json_t **card, long long *id, char *from, size_t from_cap)
{
    const char *db = o->db, *dataset = o->dataset, *sweep = o->sweep, *metric = o->metric;
    long long trial = o->trial;
    int backbone = o->backbone;
    *card = NULL;
    from[0] = '\0';
    loaa_store *s;
    loaa_status st = loaa_store_open(&s, db, LOAA_STORE_READER);
    if (st)
        return st;
    sqlite3_stmt *q;
    const char *sql =
        "SELECT t.trial_id, s.name, t.dataset, t.method, COALESCE(t.backbone_ref, t.backbone, 'none'), t.backbone_sha256, "
        "t.config_json, t.trainable_params, t.total_params, t.loaa_version, t.blas, t.host, t.adapter_path, "
        "t.backbone_export_path, (SELECT json_group_object(name, value) FROM trial_results WHERE trial_id = t.trial_id), "
        "t.dataset_sha256, t.best_epoch "
        "FROM trials t JOIN sweeps s ON s.sweep_id = t.sweep_id "
        "LEFT JOIN trial_results r ON r.trial_id = t.trial_id AND r.name = COALESCE(?4, s.metric) "
        "WHERE t.state = 'done' AND (?1 < 0 OR t.trial_id = ?1) AND (?2 IS NULL OR t.dataset = ?2) AND (?3 IS NULL OR s.name = ?3) "
        "ORDER BY CASE WHEN r.value IS NULL THEN 1 ELSE 0 END, CASE WHEN s.goal = 'minimize' THEN r.value ELSE -r.value END, "
        "t.trial_id LIMIT 1";
    if (sqlite3_prepare_v2(loaa_store_db(s), sql, -1, &q, NULL) != SQLITE_OK) {
        st = loaa_fail(LOAA_ERR_DB, "%s: %s", db, sqlite3_errmsg(loaa_store_db(s)));
        loaa_store_close(s);
        return st;
    }
    sqlite3_bind_int64(q, 1, trial);
    if (dataset)
        sqlite3_bind_text(q, 2, dataset, -1, SQLITE_STATIC);
    if (sweep)
        sqlite3_bind_text(q, 3, sweep, -1, SQLITE_STATIC);
    if (metric)
        sqlite3_bind_text(q, 4, metric, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_finalize(q);
        loaa_store_close(s);
        if (trial >= 0)
            return loaa_fail(LOAA_ERR_NOTFOUND, "%s: no finished trial %lld", db, trial);
        return loaa_fail(LOAA_ERR_NOTFOUND, "%s: no finished trial for %s%s%s", db, dataset ? dataset : "",
                         dataset && sweep ? " in sweep " : "", sweep ? sweep : "");
    }
    *id = sqlite3_column_int64(q, 0);
    const unsigned char *src = sqlite3_column_text(q, backbone ? 13 : 12);
    if (src)
        snprintf(from, from_cap, "%s", (const char *)src);
    json_t *c = json_object();
    json_t *cfg = json_loads((const char *)sqlite3_column_text(q, 6), 0, NULL);
    json_t *results = sqlite3_column_text(q, 14) ? json_loads((const char *)sqlite3_column_text(q, 14), 0, NULL) : NULL;
    if (c) {
        json_object_set_new(c, "trial", json_integer(*id));
        json_object_set_new(c, "sweep", col_json(q, 1));
        json_object_set_new(c, "dataset", col_json(q, 2));
        json_object_set_new(c, "dataset_sha256", col_json(q, 15));
        json_object_set_new(c, "method", col_json(q, 3));
        json_object_set_new(c, "backbone", col_json(q, 4));
        json_object_set_new(c, "backbone_sha256", col_json(q, 5));
        json_object_set_new(c, "config", cfg ? cfg : json_null());
        json_object_set_new(c, "results", results ? results : json_object());
        json_object_set_new(c, "best_epoch", col_json(q, 16));
        json_object_set_new(c, "trainable_params", col_json(q, 7));
        json_object_set_new(c, "total_params", col_json(q, 8));
        json_object_set_new(c, "loaa_version", col_json(q, 9));
        json_object_set_new(c, "blas", col_json(q, 10));
        json_object_set_new(c, "host", col_json(q, 11));
        json_object_set_new(c, "kind", json_string(backbone ? "backbone" : "adapter"));
    }
    sqlite3_finalize(q);
    loaa_store_close(s);
    if (!c)
        return loaa_fail(LOAA_ERR_NOMEM, "out of memory");
    *card = c;
    return LOAA_OK;
}

/* Copies from to the export path and writes the card beside it; prints the line saying where. */
static loaa_status write_export(const export_opts *o, json_t *card, long long id, const char *from)
{
    const char *kind = o->backbone ? "backbone" : "adapter";
    if (!from[0])
        return loaa_fail(LOAA_ERR_NOTFOUND, "trial %lld recorded no %s file%s", id, kind,
                         o->backbone ? " (only trials that train every tensor export one)" : "");
    char to[4096];
    if (o->out)
        snprintf(to, sizeof to, "%s", o->out);
    else
        snprintf(to, sizeof to, "trial-%lld-%s.safetensors", id, kind);
    loaa_status st = loaa_cli_copy_file(from, to);
    if (st)
        return st;
    char hex[65];
    if (!loaa_sha256_file(to, hex))
        json_object_set_new(card, "sha256", json_string(hex));
    json_object_set_new(card, "file", json_string(to));
    char card_path[4200];
    snprintf(card_path, sizeof card_path, "%s.json", to);
    if (json_dump_file(card, card_path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        return loaa_fail(LOAA_ERR_IO, "%s: cannot write", card_path);
    printf("trial %lld -> %s (card %s)\n", id, to, card_path);
    return LOAA_OK;
}

int cmd_export(int argc, char **argv)
{
    export_opts o;
    json_t *card;
    long long id = 0;
    char from[4096];
    int rc;
    if (parse_args(argc, argv, &o, &rc))
        return rc;
    loaa_status st = find_trial(&o, &card, &id, from, sizeof from);
    if (!st)
        st = write_export(&o, card, id, from);
    json_decref(card);
    return loaa_cli_report("export", st);
}
