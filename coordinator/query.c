/* query.c - the store's read-side SQL: report rows, learning curves, the export row, a trial's state (part of the store). */
#include "config.h"

#include "coordinator/query.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/stats.h"
#include "coordinator/store_private.h"

/* Text of a column; "" for NULL (reports show no NULLs). */
static const char *text_or_empty(sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    return t ? (const char *)t : "";
}

static double real_or_nan(sqlite3_stmt *q, int i)
{
    return sqlite3_column_type(q, i) == SQLITE_NULL ? NAN : sqlite3_column_double(q, i);
}

/* ---- report rows ---- */

/* The comparison operators a condition may use and the SQL each becomes: the only text of a condition that enters the SQL.
 * = and != compare NULL-safely (IS / IS NOT), so a key a trial does not set (fold of a split dataset) is null: fold=null
 * matches it and fold!=1 keeps it; <> is another spelling of !=. */
static const struct {
    const char *op, *sql;
} cond_ops[] = {{"=", "IS"}, {"!=", "IS NOT"}, {"<>", "IS NOT"}, {"<", "<"}, {"<=", "<="}, {">", ">"}, {">=", ">="}};

static const char *cond_sql(const char *op)
{
    for (size_t i = 0; i < sizeof cond_ops / sizeof cond_ops[0]; i++)
        if (!strcmp(op, cond_ops[i].op))
            return cond_ops[i].sql;
    return NULL;
}

/* The report query for the filter's conditions into sql[cap]: parameters ?1..?4 the fixed filters, ?5.. key/value pairs.
 * Columns 0..15 as report_row reads them, then the state, every result of the trial (JSON object) and the sweep's metric. */
static loaa_status report_sql(const loaa_store_report_filter *f, char *sql, size_t cap)
{
    int len = snprintf(sql, cap,
                       "SELECT t.trial_id, s.name, COALESCE(?1, s.metric), s.goal, t.dataset, t.method, t.seed, COALESCE(t.fold, -1), "
                       "CASE WHEN t.backbone_ref IS NOT NULL THEN 'best of ' || t.backbone_ref "
                       "WHEN t.backbone IS NULL OR t.backbone = '' THEN 'none' ELSE replace(t.backbone, rtrim(t.backbone, "
                       "replace(t.backbone, '/', '')), '') END, "
                       "t.config_json, json_remove(t.config_json, '$.seed', '$.fold', '$.dataset'), "
                       "(SELECT json_group_object(p.name, json(p.value)) FROM trial_params p WHERE p.trial_id = t.trial_id "
                       "AND p.name NOT IN ('dataset', 'seed', 'fold')), "
                       "100.0 * t.trainable_params / NULLIF(t.total_params, 0), r.value, COALESCE(t.best_epoch, -1), t.seconds, t.state, "
                       "(SELECT json_group_object(x.name, x.value) FROM trial_results x WHERE x.trial_id = t.trial_id), s.metric "
                       "FROM trials t JOIN sweeps s ON s.sweep_id = t.sweep_id "
                       "LEFT JOIN trial_results r ON r.trial_id = t.trial_id AND r.name = COALESCE(?1, s.metric) "
                       "WHERE (t.state = 'done' OR ?40) AND (?2 IS NULL OR s.name = ?2) AND (?3 IS NULL OR t.dataset = ?3) "
                       "AND (?4 IS NULL OR t.method = ?4)");
    for (int i = 0; i < f->n_conds && len > 0 && (size_t)len < cap; i++) {
        const char *op = cond_sql(f->conds[i].op);
        if (!op)
            return loaa_fail(LOAA_ERR_USAGE, "condition on '%s': unknown operator '%s'", f->conds[i].key, f->conds[i].op);
        if (json_is_null(f->conds[i].value) && op[0] != 'I')
            return loaa_fail(LOAA_ERR_USAGE, "condition on '%s': null compares only with = or !=", f->conds[i].key);
        len += snprintf(sql + len, cap - (size_t)len, " AND json_extract(t.config_json, '$.' || ?%d) %s ?%d", 5 + 2 * i, op,
                        6 + 2 * i);
    }
    if (len > 0 && (size_t)len < cap)
        len += snprintf(sql + len, cap - (size_t)len, " ORDER BY s.name, t.dataset, t.trial_id");
    if (len < 0 || (size_t)len >= cap)
        return loaa_fail(LOAA_ERR_LIMIT, "report query: too many conditions");
    return LOAA_OK;
}

static void bind_report_filter(sqlite3_stmt *q, const loaa_store_report_filter *f)
{
    const char *fixed[4] = {f->metric, f->sweep, f->dataset, f->method};
    _Static_assert(6 + 2 * LOAA_STORE_MAX_CONDS < 40, "?40 (every state) comes after the conditions' parameters");
    sqlite3_bind_int(q, 40, f->all_states);
    for (int i = 0; i < 4; i++)
        if (fixed[i])
            sqlite3_bind_text(q, i + 1, fixed[i], -1, SQLITE_STATIC);
    for (int i = 0; i < f->n_conds; i++) {
        sqlite3_bind_text(q, 5 + 2 * i, f->conds[i].key, -1, SQLITE_STATIC);
        const json_t *v = f->conds[i].value;
        if (json_is_integer(v))
            sqlite3_bind_int64(q, 6 + 2 * i, json_integer_value(v));
        else if (json_is_real(v))
            sqlite3_bind_double(q, 6 + 2 * i, json_real_value(v));
        else if (json_is_string(v))
            sqlite3_bind_text(q, 6 + 2 * i, json_string_value(v), -1, SQLITE_STATIC);
        else if (json_is_boolean(v))
            sqlite3_bind_int(q, 6 + 2 * i, json_is_true(v));
    }
}

static loaa_store_report_row report_row(sqlite3_stmt *q)
{
    return (loaa_store_report_row){
        .trial_id = sqlite3_column_int64(q, 0),
        .sweep = text_or_empty(q, 1),
        .metric = text_or_empty(q, 2),
        .goal = text_or_empty(q, 3),
        .dataset = text_or_empty(q, 4),
        .method = text_or_empty(q, 5),
        .seed = sqlite3_column_int64(q, 6),
        .fold = sqlite3_column_int(q, 7),
        .backbone = text_or_empty(q, 8),
        .config = text_or_empty(q, 9),
        .mconfig = text_or_empty(q, 10),
        .params = text_or_empty(q, 11),
        .trainable_pct = real_or_nan(q, 12),
        .value = real_or_nan(q, 13),
        .best_epoch = sqlite3_column_int(q, 14),
        .seconds = real_or_nan(q, 15),
        .state = text_or_empty(q, 16),
        .results = sqlite3_column_type(q, 17) == SQLITE_NULL ? "{}" : text_or_empty(q, 17),
        .sweep_metric = text_or_empty(q, 18),
    };
}

loaa_status loaa_store_report_rows(loaa_store *s, const loaa_store_report_filter *f, loaa_store_report_fn fn, void *ctx)
{
    assert(s && f && fn);
    assert(f->n_conds >= 0 && f->n_conds <= LOAA_STORE_MAX_CONDS && (f->conds || !f->n_conds));
    char sql[8192];
    loaa_status st = report_sql(f, sql, sizeof sql);
    if (st)
        return st;
    sqlite3 *db = loaa_store_connection(s);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        return loaa_fail(LOAA_ERR_DB, "report query: %s", sqlite3_errmsg(db));
    bind_report_filter(q, f);
    int rc;
    while (!st && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        loaa_store_report_row row = report_row(q);
        st = fn(ctx, &row);
    }
    if (!st && rc != SQLITE_DONE)
        st = loaa_fail(LOAA_ERR_DB, "report query: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return st;
}

/* ---- learning curves ---- */

loaa_status loaa_store_trial_curve(loaa_store *s, int64_t trial_id, const char *name,
                                   int (*fn)(void *ctx, int epoch, double value), void *ctx)
{
    assert(s && name && fn);
    sqlite3 *db = loaa_store_connection(s);
    sqlite3_stmt *q;
    /* "+name": the primary key (trial_id first) finds a trial's few rows; the (name, epoch) index would scan every trial's. */
    if (sqlite3_prepare_v2(db, "SELECT epoch, value FROM trial_metrics WHERE trial_id = ? AND +name = ? ORDER BY epoch", -1, &q,
                           NULL) != SQLITE_OK)
        return loaa_fail(LOAA_ERR_DB, "report: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(q, 1, trial_id);
    sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
    while (sqlite3_step(q) == SQLITE_ROW && !fn(ctx, sqlite3_column_int(q, 0), real_or_nan(q, 1)))
        ;
    sqlite3_finalize(q);
    return LOAA_OK;
}

/* ---- the export row ---- */

/* A sweep's selection metric in SQL: its metric, or for an old database's test metric the validation metric that
 * stands for it (coordinator/stats.h loaa_metric_validation_for: val_map for test_map, val_acc for the others). */
#define SELECTION_METRIC                                                                                                      \
    "CASE WHEN s.metric = 'test_map' THEN 'val_map' WHEN s.metric LIKE 'test^_%' ESCAPE '^' THEN 'val_acc' ELSE s.metric END"

/* Owned text of a column, NULL for NULL; *nomem set when a copy fails. */
static char *text_copy(sqlite3_stmt *q, int i, int *nomem)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    if (!t)
        return NULL;
    char *copy = strdup((const char *)t);
    *nomem |= !copy;
    return copy;
}

static int64_t int_or_minus_one(sqlite3_stmt *q, int i)
{
    return sqlite3_column_type(q, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, i);
}

/* The export query's columns into *out (the text columns by position, NULL where no text column sits). */
static loaa_status export_row(sqlite3_stmt *q, loaa_store_export_row *out)
{
    char **text[] = {NULL, &out->sweep, &out->dataset, &out->method, &out->backbone, &out->backbone_sha256, &out->config_json,
                     NULL, NULL, &out->loaa_version, &out->blas, &out->host, &out->adapter_path, &out->backbone_export_path,
                     &out->results_json, &out->dataset_sha256, NULL};
    int nomem = 0;
    for (int i = 0; i < (int)(sizeof text / sizeof text[0]); i++)
        if (text[i])
            *text[i] = text_copy(q, i, &nomem);
    out->trial_id = sqlite3_column_int64(q, 0);
    out->trainable_params = int_or_minus_one(q, 7);
    out->total_params = int_or_minus_one(q, 8);
    out->best_epoch = int_or_minus_one(q, 16);
    return nomem ? loaa_fail(LOAA_ERR_NOMEM, "export: out of memory") : LOAA_OK;
}

loaa_status loaa_store_export_find(loaa_store *s, const loaa_store_export_query *eq, loaa_store_export_row *out)
{
    assert(s && eq && out);
    memset(out, 0, sizeof *out);
    sqlite3 *db = loaa_store_connection(s);
    sqlite3_stmt *q;
    const char *sql =
        "SELECT t.trial_id, s.name, t.dataset, t.method, COALESCE(t.backbone_ref, t.backbone, 'none'), t.backbone_sha256, "
        "t.config_json, t.trainable_params, t.total_params, t.loaa_version, t.blas, t.host, t.adapter_path, "
        "t.backbone_export_path, (SELECT json_group_object(name, value) FROM trial_results WHERE trial_id = t.trial_id), "
        "t.dataset_sha256, t.best_epoch "
        "FROM trials t JOIN sweeps s ON s.sweep_id = t.sweep_id "
        "LEFT JOIN trial_results r ON r.trial_id = t.trial_id AND r.name = COALESCE(?4, " SELECTION_METRIC ") "
        "WHERE t.state = 'done' AND (?1 < 0 OR t.trial_id = ?1) AND (?2 IS NULL OR t.dataset = ?2) AND (?3 IS NULL OR s.name = ?3) "
        "ORDER BY CASE WHEN r.value IS NULL THEN 1 ELSE 0 END, "
        "CASE WHEN COALESCE(?5, s.goal) = 'minimize' THEN r.value ELSE -r.value END, t.trial_id LIMIT 1";
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        return loaa_fail(LOAA_ERR_DB, "%s: %s", loaa_store_path(s), sqlite3_errmsg(db));
    sqlite3_bind_int64(q, 1, eq->trial_id);
    const char *text[4] = {eq->dataset, eq->sweep, eq->metric, eq->metric ? loaa_metric_goal(eq->metric) : NULL};
    for (int i = 0; i < 4; i++)
        if (text[i])
            sqlite3_bind_text(q, 2 + i, text[i], -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    loaa_status st;
    if (rc == SQLITE_ROW)
        st = export_row(q, out);
    else if (rc == SQLITE_DONE)
        st = loaa_fail(LOAA_ERR_NOTFOUND, "%s: no finished trial matches", loaa_store_path(s));
    else
        st = loaa_fail(LOAA_ERR_DB, "%s: %s", loaa_store_path(s), sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return st;
}

void loaa_store_export_row_free(loaa_store_export_row *r)
{
    if (!r)
        return;
    char **text[] = {&r->sweep, &r->dataset, &r->dataset_sha256, &r->method, &r->backbone, &r->backbone_sha256, &r->config_json,
                     &r->results_json, &r->loaa_version, &r->blas, &r->host, &r->adapter_path, &r->backbone_export_path};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        free(*text[i]);
    memset(r, 0, sizeof *r);
}

/* ---- a trial's state ---- */

loaa_status loaa_store_trial_state(loaa_store *s, int64_t sweep_id, const char *hash, char state[16])
{
    assert(s && hash && state);
    sqlite3 *db = loaa_store_connection(s);
    sqlite3_stmt *q;
    state[0] = '\0';
    if (sqlite3_prepare_v2(db, "SELECT state FROM trials WHERE sweep_id = ? AND config_hash = ?", -1, &q, NULL) != SQLITE_OK)
        return loaa_store_db_fail(s, "trial state");
    sqlite3_bind_int64(q, 1, sweep_id);
    sqlite3_bind_text(q, 2, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        snprintf(state, 16, "%s", text_or_empty(q, 0));
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return LOAA_OK;
    if (rc == SQLITE_DONE)
        return loaa_fail(LOAA_ERR_NOTFOUND, "%s: no trial %.12s in sweep %lld", loaa_store_path(s), hash, (long long)sweep_id);
    return loaa_store_db_fail(s, "trial state");
}

/* ---- a chained sweep's resolved backbone ---- */

loaa_status loaa_store_resolved_backbone(loaa_store *s, const char *sweep, const char *ref, char *path, size_t cap)
{
    assert(s && sweep && ref && path && cap > 0);
    sqlite3 *db = loaa_store_connection(s);
    sqlite3_stmt *q;
    path[0] = '\0';
    if (sqlite3_prepare_v2(db,
                           "SELECT t.backbone FROM trials t JOIN sweeps s ON s.sweep_id = t.sweep_id WHERE s.name = ? "
                           "AND t.backbone_ref = ? AND t.backbone IS NOT NULL AND t.backbone <> '' ORDER BY t.trial_id DESC LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK)
        return loaa_store_db_fail(s, "resolved backbone");
    sqlite3_bind_text(q, 1, sweep, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, ref, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    loaa_status st = LOAA_OK;
    if (rc == SQLITE_ROW && strlen(text_or_empty(q, 0)) >= cap)
        st = loaa_fail(LOAA_ERR_LIMIT, "%s: backbone path too long", loaa_store_path(s));
    else if (rc == SQLITE_ROW)
        snprintf(path, cap, "%s", text_or_empty(q, 0));
    else if (rc == SQLITE_DONE)
        st = loaa_fail(LOAA_ERR_NOTFOUND, "sweep '%s' has no trial with backbone {sweep: %s, best: true} yet", sweep, ref);
    else
        st = loaa_store_db_fail(s, "resolved backbone");
    sqlite3_finalize(q);
    return st;
}
