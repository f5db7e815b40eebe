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

static json_t *col_json(sqlite3_stmt *q, int i)
{
    switch (sqlite3_column_type(q, i)) {
    case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(q, i));
    case SQLITE_FLOAT: return json_real(sqlite3_column_double(q, i));
    case SQLITE_NULL: return json_null();
    default: return json_string((const char *)sqlite3_column_text(q, i));
    }
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
        return loaa_cli_report("export", st);
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
            return loaa_cli_report("export", loaa_fail(LOAA_ERR_NOTFOUND, "%s: no finished trial %lld", db, trial));
        return loaa_cli_report("export", loaa_fail(LOAA_ERR_NOTFOUND, "%s: no finished trial for %s%s%s", db,
                                                   dataset ? dataset : "", dataset && sweep ? " in sweep " : "", sweep ? sweep : ""));
    }
    long long id = sqlite3_column_int64(q, 0);
    const unsigned char *src = sqlite3_column_text(q, backbone ? 13 : 12);
    char from[4096] = "", to[4096];
    if (src)
        snprintf(from, sizeof from, "%s", (const char *)src);
    if (out)
        snprintf(to, sizeof to, "%s", out);
    else
        snprintf(to, sizeof to, "trial-%lld-%s.safetensors", id, backbone ? "backbone" : "adapter");
    json_t *card = json_object();
    json_t *cfg = json_loads((const char *)sqlite3_column_text(q, 6), 0, NULL);
    json_t *results = sqlite3_column_text(q, 14) ? json_loads((const char *)sqlite3_column_text(q, 14), 0, NULL) : NULL;
    if (card) {
        json_object_set_new(card, "trial", json_integer(id));
        json_object_set_new(card, "sweep", col_json(q, 1));
        json_object_set_new(card, "dataset", col_json(q, 2));
        json_object_set_new(card, "dataset_sha256", col_json(q, 15));
        json_object_set_new(card, "method", col_json(q, 3));
        json_object_set_new(card, "backbone", col_json(q, 4));
        json_object_set_new(card, "backbone_sha256", col_json(q, 5));
        json_object_set_new(card, "config", cfg ? cfg : json_null());
        json_object_set_new(card, "results", results ? results : json_object());
        json_object_set_new(card, "best_epoch", col_json(q, 16));
        json_object_set_new(card, "trainable_params", col_json(q, 7));
        json_object_set_new(card, "total_params", col_json(q, 8));
        json_object_set_new(card, "loaa_version", col_json(q, 9));
        json_object_set_new(card, "blas", col_json(q, 10));
        json_object_set_new(card, "host", col_json(q, 11));
        json_object_set_new(card, "kind", json_string(backbone ? "backbone" : "adapter"));
    }
    sqlite3_finalize(q);
    loaa_store_close(s);
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
