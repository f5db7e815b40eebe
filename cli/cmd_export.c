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
#include "coordinator/query.h"
#include "coordinator/stats.h"
#include "coordinator/store.h"

static json_t *count_or_null(int64_t n) { return n >= 0 ? json_integer(n) : json_null(); }

/* The card of an exported file: what the store recorded of the trial. NULL on no memory. */
static json_t *export_card(const loaa_store_export_row *t, int backbone)
{
    json_t *card = json_object();
    if (!card)
        return NULL;
    json_t *cfg = t->config_json ? json_loads(t->config_json, 0, NULL) : NULL;
    json_t *results = t->results_json ? json_loads(t->results_json, 0, NULL) : NULL;
    const struct {
        const char *name;
        const char *text;
    } texts[] = {{"sweep", t->sweep},        {"dataset", t->dataset}, {"dataset_sha256", t->dataset_sha256},
                 {"method", t->method},      {"backbone", t->backbone}, {"backbone_sha256", t->backbone_sha256},
                 {"loaa_version", t->loaa_version}, {"blas", t->blas}, {"host", t->host}};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        json_object_set_new(card, texts[i].name, texts[i].text ? json_string(texts[i].text) : json_null());
    json_object_set_new(card, "trial", json_integer(t->trial_id));
    json_object_set_new(card, "config", cfg ? cfg : json_null());
    json_object_set_new(card, "results", results ? results : json_object());
    json_object_set_new(card, "best_epoch", count_or_null(t->best_epoch));
    json_object_set_new(card, "trainable_params", count_or_null(t->trainable_params));
    json_object_set_new(card, "total_params", count_or_null(t->total_params));
    json_object_set_new(card, "kind", json_string(backbone ? "backbone" : "adapter"));
    return card;
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
        OPT_STRING("metric", &o->metric, "M", "with --best: rank by this validation metric or loss, in its direction (default: the sweep's)"),
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
    /* A test metric never chooses: --best ranks by a validation metric (or a loss) in its own direction. */
    loaa_status st = o->metric ? loaa_metric_check(o->metric, "--metric", 1) : LOAA_OK;
    if (st) {
        *rc = loaa_cli_report("export", st);
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
    loaa_store_export_query eq = {.trial_id = trial, .dataset = dataset, .sweep = sweep, .metric = metric};
    loaa_store_export_row t;
    st = loaa_store_export_find(s, &eq, &t);
    loaa_store_close(s);
    if (st == LOAA_ERR_NOTFOUND && trial >= 0)
        st = loaa_fail(LOAA_ERR_NOTFOUND, "%s: no finished trial %lld", db, trial);
    else if (st == LOAA_ERR_NOTFOUND)
        st = loaa_fail(LOAA_ERR_NOTFOUND, "%s: no finished trial for %s%s%s", db, dataset ? dataset : "",
                       dataset && sweep ? " in sweep " : "", sweep ? sweep : "");
    if (st) {
        loaa_store_export_row_free(&t);
        return st;
    }
    *id = t.trial_id;
    const char *src = backbone ? t.backbone_export_path : t.adapter_path;
    if (src)
        snprintf(from, from_cap, "%s", src);
    json_t *c = export_card(&t, backbone);
    loaa_store_export_row_free(&t);
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
