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
#include "common/sha256.h"
#include "common/status.h"
#include "coordinator/query.h"
#include "coordinator/store.h"

static loaa_status copy_file(const char *from, const char *to)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", to);
    FILE *in = fopen(from, "rb");
    if (!in)
        return loaa_fail(LOAA_ERR_NOTFOUND, "%s: cannot open: %s", from, strerror(errno));
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        fclose(in);
        return loaa_fail(LOAA_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    char buf[1 << 16];
    size_t n;
    int bad = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            bad = 1;
    bad |= ferror(in);
    fclose(in);
    if (fclose(out) != 0 || bad || rename(tmp, to) != 0) {
        unlink(tmp);
        return loaa_fail(LOAA_ERR_IO, "%s: cannot write", to);
    }
    return LOAA_OK;
}

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

int cmd_export(int argc, char **argv)
{
    for (int k = 1; k < argc; k++)
        if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
            char *help_argv[] = {"help", "export", NULL};
            return cmd_help(2, help_argv);
        }
    const char *db = NULL, *dataset = NULL, *sweep = NULL, *metric = NULL, *out = NULL;
    long long trial = -1;
    int best = 0, backbone = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--db") && has)
            db = argv[++i];
        else if (!strcmp(a, "--trial") && has) {
            char *end;
            trial = strtoll(argv[++i], &end, 10);
            if (*end || trial < 1)
                return loaa_cli_report("export", loaa_fail(LOAA_ERR_USAGE, "--trial needs a trial number"));
        } else if (!strcmp(a, "--best"))
            best = 1;
        else if (!strcmp(a, "--backbone"))
            backbone = 1;
        else if (!strcmp(a, "--dataset") && has)
            dataset = argv[++i];
        else if (!strcmp(a, "--sweep") && has)
            sweep = argv[++i];
        else if (!strcmp(a, "--metric") && has)
            metric = argv[++i];
        else if (!strcmp(a, "--out") && has)
            out = argv[++i];
        else
            return loaa_cli_report("export", loaa_fail(LOAA_ERR_USAGE, "unknown argument '%s' (see 'loaa help export')", a));
    }
    if (!db || (trial < 0) == !best || (best && !dataset && !sweep))
        return loaa_cli_report("export", loaa_fail(LOAA_ERR_USAGE, "usage: loaa export --db DB (--trial N | --best --dataset D "
                                                                   "[--sweep S]) [--metric M] [--backbone] [--out FILE]"));
    loaa_store *s;
    loaa_status st = loaa_store_open(&s, db, LOAA_STORE_READER);
    if (st)
        return loaa_cli_report("export", st);
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
        return loaa_cli_report("export", st);
    }
    long long id = t.trial_id;
    const char *src = backbone ? t.backbone_export_path : t.adapter_path;
    char from[4096] = "", to[4096];
    if (src)
        snprintf(from, sizeof from, "%s", src);
    if (out)
        snprintf(to, sizeof to, "%s", out);
    else
        snprintf(to, sizeof to, "trial-%lld-%s.safetensors", id, backbone ? "backbone" : "adapter");
    json_t *card = export_card(&t, backbone);
    loaa_store_export_row_free(&t);
    if (!card)
        return loaa_cli_report("export", loaa_fail(LOAA_ERR_NOMEM, "out of memory"));
    if (!from[0]) {
        json_decref(card);
        return loaa_cli_report("export", loaa_fail(LOAA_ERR_NOTFOUND, "trial %lld recorded no %s file%s", id,
                                                   backbone ? "backbone" : "adapter",
                                                   backbone ? " (only trials that train every tensor export one)" : ""));
    }
    if ((st = copy_file(from, to))) {
        json_decref(card);
        return loaa_cli_report("export", st);
    }
    char hex[65];
    if (!loaa_sha256_file(to, hex))
        json_object_set_new(card, "sha256", json_string(hex));
    json_object_set_new(card, "file", json_string(to));
    char card_path[4200];
    snprintf(card_path, sizeof card_path, "%s.json", to);
    if (json_dump_file(card, card_path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        st = loaa_fail(LOAA_ERR_IO, "%s: cannot write", card_path);
    json_decref(card);
    if (!st)
        printf("trial %lld -> %s (card %s)\n", id, to, card_path);
    return loaa_cli_report("export", st);
}
