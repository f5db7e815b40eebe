/* report.c - leaderboards, the cross-dataset table, and the HTML page with SVG charts. */
#include "coordinator/report.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/dataset.h"
#include "common/fs.h"
#include "coordinator/query.h"
#include "coordinator/stats.h"

typedef struct row {
    long long trial_id;
    char *sweep, *metric, *goal, *dataset, *method, *backbone, *config, *mconfig, *params, *state;
    const char *sel_metric, *shown_metric; /* static names: the validation metric that selects, the metric tables show */
    long long seed;
    int fold, best_epoch;
    double value;  /* of metric (the leaderboard's ranking) */
    double sel;    /* of sel_metric */
    double shown;  /* of shown_metric */
    double trainable_pct, seconds;
} row;

typedef struct rows {
    row *r;
    size_t n, cap;
} rows;

static void rows_free(rows *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        row *r = &rs->r[i];
        free(r->sweep);
        free(r->metric);
        free(r->goal);
        free(r->dataset);
        free(r->method);
        free(r->backbone);
        free(r->config);
        free(r->mconfig);
        free(r->params);
        free(r->state);
    }
    free(rs->r);
    memset(rs, 0, sizeof *rs);
}

loaa_status loaa_report_format_parse(const char *name, loaa_report_format *out)
{
    if (!strcmp(name, "table"))
        *out = LOAA_REPORT_TABLE;
    else if (!strcmp(name, "csv"))
        *out = LOAA_REPORT_CSV;
    else if (!strcmp(name, "json"))
        *out = LOAA_REPORT_JSON;
    else if (!strcmp(name, "markdown") || !strcmp(name, "md"))
        *out = LOAA_REPORT_MARKDOWN;
    else
        return loaa_fail(LOAA_ERR_USAGE, "--format: unknown '%s' (expected table, csv, json or markdown)", name);
    return LOAA_OK;
}

typedef struct cond {
    char key[LOAA_NAME_MAX];
    char op[3];
    json_t *value;
} cond;

static loaa_status parse_where(const char *text, cond *c)
{
    static const char *const ops[] = {"!=", "<>", "<=", ">=", "=", "<", ">", NULL};
    const char *at = NULL, *op = NULL;
    for (const char *p = text; *p && !at; p++)
        for (int i = 0; ops[i]; i++)
            if (!strncmp(p, ops[i], strlen(ops[i]))) {
                at = p;
                op = ops[i];
                break;
            }
    if (!at || at == text)
        return loaa_fail(LOAA_ERR_USAGE, "--where '%s': expected KEY=VALUE (or != <> < <= > >=)", text);
    size_t n = (size_t)(at - text);
    if (n >= sizeof c->key)
        return loaa_fail(LOAA_ERR_USAGE, "--where '%s': key too long", text);
    memcpy(c->key, text, n);
    c->key[n] = '\0';
    if (!loaa_config_key(c->key))
        return loaa_fail(LOAA_ERR_USAGE, "--where '%s': unknown key '%s' (see 'loaa help keys')", text, c->key);
    snprintf(c->op, sizeof c->op, "%s", op);
    if (strchr("=<>!", at[strlen(op)]) && at[strlen(op)])
        return loaa_fail(LOAA_ERR_USAGE, "--where '%s': unknown operator (expected = != <> < <= > >=)", text);
    c->value = loaa_core_scalar(at + strlen(op));
    if (!c->value)
        return loaa_fail(LOAA_ERR_USAGE, "--where '%s': unreadable value", text);
    return LOAA_OK;
}

static void reduce_params(rows *rs);

/* Grows rs by one zeroed row; NULL on no memory. */
static row *rows_push(rows *rs)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        row *r = realloc(rs->r, cap * sizeof *r);
        if (!r)
            return NULL;
        rs->r = r;
        rs->cap = cap;
    }
    row *r = &rs->r[rs->n++];
    memset(r, 0, sizeof *r);
    return r;
}

/* The validation metric a sweep's metric selects on: itself, or for an old database's test metric the one standing for it. */
static const char *selection_metric(const char *sweep_metric)
{
    static const char *const selecting[] = {"val_acc", "val_map", "val_loss", "train_loss"}; /* static text for the rows */
    const char *v = loaa_metric_validation_for(sweep_metric);
    for (size_t i = 0; !v && i < sizeof selecting / sizeof selecting[0]; i++)
        if (!strcmp(sweep_metric, selecting[i]))
            v = selecting[i];
    return v ? v : "val_acc";
}

/* The test metric reported for what a validation metric chose: test_map for val_map, else test_acc. */
static const char *test_metric_for(const char *sel) { return !strcmp(sel, "val_map") ? "test_map" : "test_acc"; }

static double result_of(const json_t *results, const char *name)
{
    const json_t *v = json_object_get(results, name);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

typedef struct load_ctx {
    rows *rs;
    const loaa_report_opts *o;
} load_ctx;

/* The store's row callback: keeps a copy of the row, with its values of the ranking, selection and shown metrics. */
static loaa_status keep_row(void *ctx, const loaa_store_report_row *in)
{
    const load_ctx *lc = ctx;
    row *r = rows_push(lc->rs);
    if (!r)
        return loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
    json_t *results = json_loads(in->results, 0, NULL);
    r->sel_metric = selection_metric(in->sweep_metric);
    r->shown_metric = lc->o->metric ? lc->o->metric : test_metric_for(r->sel_metric);
    const char *metric = lc->o->metric ? lc->o->metric : r->sel_metric;
    r->value = result_of(results, metric);
    r->sel = result_of(results, r->sel_metric);
    r->shown = result_of(results, r->shown_metric);
    json_decref(results);
    r->trial_id = in->trial_id;
    r->sweep = strdup(in->sweep);
    r->metric = strdup(metric);
    r->goal = strdup(loaa_metric_goal(metric) ? loaa_metric_goal(metric) : in->goal);
    r->dataset = strdup(in->dataset);
    r->method = strdup(in->method);
    r->seed = in->seed;
    r->fold = in->fold;
    r->backbone = strdup(in->backbone);
    r->config = strdup(in->config);
    r->mconfig = strdup(in->mconfig);
    r->params = strdup(in->params);
    r->state = strdup(in->state);
    r->trainable_pct = in->trainable_pct;
    r->best_epoch = in->best_epoch;
    r->seconds = in->seconds;
    if (!r->sweep || !r->metric || !r->goal || !r->dataset || !r->method || !r->backbone || !r->config || !r->mconfig || !r->params ||
        !r->state)
        return loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
    return LOAA_OK;
}

/* Trials matching the filters, of every state, with their metric values (NAN = metric missing). LOAA_ERR_CONFIG for an unknown --metric. */
static loaa_status load_rows(loaa_store *s, const loaa_report_opts *o, rows *rs)
{
    assert(o->n_where >= 0 && o->n_where <= LOAA_REPORT_MAX_WHERE && LOAA_REPORT_MAX_WHERE <= LOAA_STORE_MAX_CONDS);
    cond conds[LOAA_REPORT_MAX_WHERE];
    loaa_store_cond where[LOAA_REPORT_MAX_WHERE];
    int n_conds = 0;
    loaa_status st = LOAA_OK;
    for (int i = 0; i < o->n_where && !st; i++) {
        if ((st = parse_where(o->where[i], &conds[n_conds])))
            break;
        where[n_conds] = (loaa_store_cond){.key = conds[n_conds].key, .op = conds[n_conds].op, .value = conds[n_conds].value};
        n_conds++;
    }
    loaa_store_report_filter f = {.metric = o->metric, .sweep = o->sweep, .dataset = o->dataset, .method = o->method,
                                  .conds = where, .n_conds = n_conds, .all_states = 1};
    load_ctx lc = {rs, o};
    if (!st && o->metric)
        st = loaa_metric_check(o->metric, "--metric", 0);
    if (!st)
        st = loaa_store_report_rows(s, &f, keep_row, &lc);
    if (!st)
        reduce_params(rs);
    for (int i = 0; i < n_conds; i++)
        json_decref(conds[i].value);
    return st;
}

/* Drops from every row's parameters the keys whose value is the same in all rows: the leaderboard shows what differs. */
static void reduce_params(rows *rs)
{
    if (rs->n < 2)
        return;
    json_t **p = calloc(rs->n, sizeof *p);
    if (!p)
        return;
    for (size_t i = 0; i < rs->n; i++)
        p[i] = json_loads(rs->r[i].params, 0, NULL);
    json_t *constant = json_object();
    const char *key;
    json_t *v;
    if (p[0] && constant)
        json_object_foreach(p[0], key, v) {
            int same = 1;
            for (size_t i = 1; i < rs->n && same; i++)
                same = p[i] && json_equal(v, json_object_get(p[i], key));
            if (same)
                json_object_set(constant, key, v);
        }
    for (size_t i = 0; i < rs->n; i++) {
        if (!p[i])
            continue;
        json_object_foreach(constant, key, v)
            json_object_del(p[i], key);
        char *text = json_dumps(p[i], JSON_COMPACT | JSON_SORT_KEYS);
        if (text) {
            free(rs->r[i].params);
            rs->r[i].params = text;
        }
        json_decref(p[i]);
    }
    json_decref(constant);
    free(p);
}

/* ---- the cross-dataset table ---- */

/* One configuration on one dataset: the shown metric over its done trials, the selection metric, and every trial counted. */
typedef struct cell {
    double sum, sumsq;
    int n;                          /* done trials with the shown metric: the mean's n */
    double sel_sum;
    int sel_n;                      /* done trials with the selection metric */
    int total, pruned, failed, unfinished; /* every trial; unfinished: pending, running or interrupted */
} cell;

typedef struct xrow xrow;
struct xrow {
    const char *mconfig, *method, *backbone, *sweep, *metric, *sel_metric;
    char label[512];
    cell *cells;     /* one per dataset */
    double pct_sum;
    int pct_n;
    const xrow **picked; /* protocol rows: per dataset the validation-selected configuration (NULL: none); else NULL */
    int *configs;        /* protocol rows: per dataset the configurations it was selected from */
};

typedef struct xtable {
    const char **datasets;
    size_t n_datasets;
    xrow *rows;
    size_t n_rows;
} xtable;

static void xtable_free(xtable *x)
{
    for (size_t i = 0; i < x->n_rows; i++) {
        free(x->rows[i].cells);
        free(x->rows[i].picked);
        free(x->rows[i].configs);
    }
    free(x->rows);
    free(x->datasets);
    memset(x, 0, sizeof *x);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The keys whose values differ between the method configurations: they name the rows. */
static void label_rows(xtable *x)
{
    json_t **cfg = calloc(x->n_rows ? x->n_rows : 1, sizeof *cfg);
    if (!cfg)
        return;
    for (size_t i = 0; i < x->n_rows; i++)
        cfg[i] = json_loads(x->rows[i].mconfig, 0, NULL);
    for (size_t i = 0; i < x->n_rows; i++) {
        xrow *r = &x->rows[i];
        snprintf(r->label, sizeof r->label, "%s", r->method);
        if (!cfg[i])
            continue;
        const char *key;
        json_t *v;
        json_object_foreach(cfg[i], key, v) {
            if (!strcmp(key, "method") || !strcmp(key, "backbone"))
                continue;
            int differs = 0;
            for (size_t j = 0; j < x->n_rows && !differs; j++)
                if (cfg[j] && !json_equal(v, json_object_get(cfg[j], key)))
                    differs = 1;
            if (!differs)
                continue;
            char *text = json_is_string(v) ? strdup(json_string_value(v)) : loaa_json_canonical(v);
            size_t used = strlen(r->label);
            if (text && used + 1 < sizeof r->label)
                snprintf(r->label + used, sizeof r->label - used, " %s=%s", key, text);
            free(text);
        }
    }
    for (size_t i = 0; i < x->n_rows; i++)
        json_decref(cfg[i]);
    free(cfg);
}

static loaa_status build_xtable(const rows *rs, xtable *x)
{
    memset(x, 0, sizeof *x);
    x->datasets = malloc((rs->n ? rs->n : 1) * sizeof *x->datasets);
    x->rows = calloc(rs->n ? rs->n : 1, sizeof *x->rows);
    if (!x->datasets || !x->rows)
        return loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
    for (size_t i = 0; i < rs->n; i++) {
        size_t d = 0;
        while (d < x->n_datasets && strcmp(x->datasets[d], rs->r[i].dataset))
            d++;
        if (d == x->n_datasets)
            x->datasets[x->n_datasets++] = rs->r[i].dataset;
    }
    qsort(x->datasets, x->n_datasets, sizeof *x->datasets, cmp_str);
    for (size_t i = 0; i < rs->n; i++) {
        const row *r = &rs->r[i];
        size_t k = 0;
        while (k < x->n_rows && (strcmp(x->rows[k].mconfig, r->mconfig) || strcmp(x->rows[k].sweep, r->sweep) ||
                                 strcmp(x->rows[k].backbone, r->backbone)))
            k++;
        if (k == x->n_rows) {
            xrow *n = &x->rows[x->n_rows++];
            n->mconfig = r->mconfig;
            n->method = r->method;
            n->backbone = r->backbone;
            n->sweep = r->sweep;
            n->metric = r->shown_metric;
            n->sel_metric = r->sel_metric;
            n->cells = calloc(x->n_datasets, sizeof *n->cells);
            if (!n->cells)
                return loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
        }
        xrow *xr = &x->rows[k];
        size_t d = 0;
        while (strcmp(x->datasets[d], r->dataset))
            d++;
        cell *c = &xr->cells[d];
        c->total++;
        c->pruned += !strcmp(r->state, "pruned");
        c->failed += !strcmp(r->state, "failed");
        int done = !strcmp(r->state, "done");
        c->unfinished += !done && strcmp(r->state, "pruned") && strcmp(r->state, "failed");
        if (done && !isnan(r->shown)) {
            c->sum += r->shown;
            c->sumsq += r->shown * r->shown;
            c->n++;
        }
        if (done && !isnan(r->sel)) {
            c->sel_sum += r->sel;
            c->sel_n++;
        }
        if (!isnan(r->trainable_pct)) {
            xr->pct_sum += r->trainable_pct;
            xr->pct_n++;
        }
    }
    label_rows(x);
    return LOAA_OK;
}

static double cell_mean(const cell *c) { return c->n ? c->sum / c->n : NAN; }

static double cell_std(const cell *c)
{
    if (c->n < 2)
        return 0;
    double m = c->sum / c->n, var = (c->sumsq - c->n * m * m) / (c->n - 1);
    return var > 0 ? sqrt(var) : 0;
}

/* Accuracy-like metrics read as percentages; losses as they are. */
static int is_fraction(const char *metric) { return strstr(metric, "loss") == NULL; }

static void fmt_value(const char *metric, double v, char *out, size_t cap)
{
    if (isnan(v))
        snprintf(out, cap, "-");
    else if (is_fraction(metric))
        snprintf(out, cap, "%.2f", 100 * v);
    else
        snprintf(out, cap, "%.4f", v);
}

/* "(n=9 of 15, 6 pruned)": the mean's n, and when it is not every trial, what the others were. */
static void fmt_count(const cell *c, char *out, size_t cap)
{
    if (c->n == c->total) {
        snprintf(out, cap, "(n=%d)", c->n);
        return;
    }
    int len = snprintf(out, cap, "(n=%d of %d", c->n, c->total);
    const struct {
        int count;
        const char *what;
    } parts[] = {{c->pruned, "pruned"}, {c->failed, "failed"}, {c->unfinished, "unfinished"}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && len > 0 && (size_t)len < cap; i++)
        if (parts[i].count)
            len += snprintf(out + len, cap - (size_t)len, ", %d %s", parts[i].count, parts[i].what);
    if (len > 0 && (size_t)len < cap)
        snprintf(out + len, cap - (size_t)len, ")");
}

static void fmt_cell(const char *metric, const cell *c, char *out, size_t cap)
{
    char m[32], s[32], n[80];
    if (!c->total) {
        snprintf(out, cap, "-");
        return;
    }
    fmt_count(c, n, sizeof n);
    if (!c->n) {
        snprintf(out, cap, "- %s", n);
        return;
    }
    fmt_value(metric, cell_mean(c), m, sizeof m);
    fmt_value(metric, cell_std(c), s, sizeof s);
    snprintf(out, cap, "%s ± %s %s", m, s, n);
}

/* ---- the paper's protocol: per (dataset, method, backbone) the configuration with the best mean validation metric ---- */

/* 1 when configuration cell a is a better choice than b (NULL: none yet): configurations without pruned trials first
 * (the pruner judged the others), then the better mean selection metric over done trials in its direction. */
static int better_choice(const cell *a, const cell *b, const char *sel_metric)
{
    if (!a->sel_n)
        return 0;
    if (!b)
        return 1;
    if ((a->pruned == 0) != (b->pruned == 0))
        return a->pruned == 0;
    double ma = a->sel_sum / a->sel_n, mb = b->sel_sum / b->sel_n;
    return loaa_metric_direction(sel_metric) < 0 ? ma < mb : ma > mb;
}

/* p: one row per (method, backbone) of x, each dataset's cell the validation-selected configuration's. */
static loaa_status build_protocol(const xtable *x, xtable *p)
{
    memset(p, 0, sizeof *p);
    p->datasets = malloc((x->n_datasets ? x->n_datasets : 1) * sizeof *p->datasets);
    p->rows = calloc(x->n_rows ? x->n_rows : 1, sizeof *p->rows);
    if (!p->datasets || !p->rows)
        return loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
    memcpy(p->datasets, x->datasets, x->n_datasets * sizeof *p->datasets);
    p->n_datasets = x->n_datasets;
    for (size_t i = 0; i < x->n_rows; i++) {
        const xrow *r = &x->rows[i];
        size_t k = 0;
        while (k < p->n_rows && (strcmp(p->rows[k].method, r->method) || strcmp(p->rows[k].backbone, r->backbone)))
            k++;
        xrow *pr = &p->rows[k];
        if (k == p->n_rows) {
            p->n_rows++;
            *pr = (xrow){.mconfig = r->mconfig, .method = r->method, .backbone = r->backbone, .sweep = r->sweep,
                         .metric = r->metric, .sel_metric = r->sel_metric};
            snprintf(pr->label, sizeof pr->label, "%s", r->method);
            pr->cells = calloc(x->n_datasets ? x->n_datasets : 1, sizeof *pr->cells);
            pr->picked = calloc(x->n_datasets ? x->n_datasets : 1, sizeof *pr->picked);
            pr->configs = calloc(x->n_datasets ? x->n_datasets : 1, sizeof *pr->configs);
            if (!pr->cells || !pr->picked || !pr->configs)
                return loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
        }
        for (size_t d = 0; d < x->n_datasets; d++) {
            if (!r->cells[d].total)
                continue;
            pr->configs[d]++;
            const xrow *best = pr->picked[d];
            cell *c = &pr->cells[d];
            if (better_choice(&r->cells[d], best ? &best->cells[d] : NULL, pr->sel_metric)) {
                pr->picked[d] = r;
                *c = r->cells[d];
            } else if (!best) { /* nothing to select yet: the cell counts every trial of the group */
                c->total += r->cells[d].total;
                c->pruned += r->cells[d].pruned;
                c->failed += r->cells[d].failed;
                c->unfinished += r->cells[d].unfinished;
            }
        }
        if (r->pct_n) {
            pr->pct_sum += r->pct_sum;
            pr->pct_n += r->pct_n;
        }
    }
    return LOAA_OK;
}

/* ---- output helpers ---- */

typedef struct table {
    char ***cells; /* rows x cols of owned strings */
    size_t n_rows, n_cols;
} table;

static int table_init(table *t, size_t cols)
{
    memset(t, 0, sizeof *t);
    t->n_cols = cols;
    return 0;
}

static void table_add(table *t, char **cells)
{
    char ***c = realloc(t->cells, (t->n_rows + 1) * sizeof *c);
    if (!c)
        return;
    t->cells = c;
    t->cells[t->n_rows++] = cells;
}

static char **row_new(size_t cols) { return calloc(cols, sizeof(char *)); }

static void table_free(table *t)
{
    for (size_t i = 0; i < t->n_rows; i++) {
        for (size_t j = 0; j < t->n_cols; j++)
            free(t->cells[i][j]);
        free(t->cells[i]);
    }
    free(t->cells);
}

/* Display width in characters (UTF-8 continuation bytes do not count). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void csv_field(FILE *out, const char *s)
{
    if (strpbrk(s, ",\"\n\r")) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
}

static void md_field(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s == '\n' ? ' ' : *s, out);
    }
}

static void table_print(FILE *out, const table *t, loaa_report_format f)
{
    if (!t->n_rows)
        return;
    if (f == LOAA_REPORT_CSV) {
        for (size_t i = 0; i < t->n_rows; i++)
            for (size_t j = 0; j < t->n_cols; j++) {
                csv_field(out, t->cells[i][j] ? t->cells[i][j] : "");
                fputc(j + 1 == t->n_cols ? '\n' : ',', out);
            }
        return;
    }
    if (f == LOAA_REPORT_MARKDOWN) {
        for (size_t i = 0; i < t->n_rows; i++) {
            fputs("|", out);
            for (size_t j = 0; j < t->n_cols; j++) {
                fputc(' ', out);
                md_field(out, t->cells[i][j] ? t->cells[i][j] : "");
                fputs(" |", out);
            }
            fputc('\n', out);
            if (i == 0) {
                fputs("|", out);
                for (size_t j = 0; j < t->n_cols; j++)
                    fputs(j ? "---:|" : "---|", out);
                fputc('\n', out);
            }
        }
        return;
    }
    size_t *w = calloc(t->n_cols, sizeof *w);
    if (!w)
        return;
    for (size_t i = 0; i < t->n_rows; i++)
        for (size_t j = 0; j < t->n_cols; j++) {
            size_t x = width(t->cells[i][j] ? t->cells[i][j] : "");
            if (x > w[j])
                w[j] = x;
        }
    for (size_t i = 0; i < t->n_rows; i++) {
        for (size_t j = 0; j < t->n_cols; j++) {
            const char *s = t->cells[i][j] ? t->cells[i][j] : "";
            size_t pad = w[j] - width(s);
            if (j == 0) {
                fputs(s, out);
                fprintf(out, "%*s", (int)pad, "");
            } else {
                fprintf(out, "  %*s%s", (int)pad, "", s);
            }
        }
        fputc('\n', out);
        if (i == 0) {
            size_t total = 0;
            for (size_t j = 0; j < t->n_cols; j++)
                total += w[j] + (j ? 2 : 0);
            for (size_t k = 0; k < total; k++)
                fputc('-', out);
            fputc('\n', out);
        }
    }
    free(w);
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *dupf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static int better(const row *a, const row *b)
{
    if (isnan(a->value))
        return 0;
    if (isnan(b->value))
        return 1;
    return strcmp(a->goal, "minimize") ? a->value > b->value : a->value < b->value;
}

/* Leaderboard order of states: done trials are ranked, then pruned ones (their best epoch before the cut), then the rest. */
static int state_order(const char *state) { return !strcmp(state, "done") ? 0 : !strcmp(state, "pruned") ? 1 : 2; }

static int cmp_rank(const void *pa, const void *pb)
{
    const row *a = *(const row *const *)pa, *b = *(const row *const *)pb;
    int c = strcmp(a->dataset, b->dataset);
    if (c)
        return c;
    if (state_order(a->state) != state_order(b->state))
        return state_order(a->state) - state_order(b->state);
    if (better(a, b))
        return -1;
    if (better(b, a))
        return 1;
    return a->trial_id < b->trial_id ? -1 : a->trial_id > b->trial_id;
}

/* Rows sorted by dataset, then best first. Caller frees the array (not the rows). */
static const row **ranked(const rows *rs)
{
    const row **v = malloc((rs->n ? rs->n : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < rs->n; i++)
        v[i] = &rs->r[i];
    qsort(v, rs->n, sizeof *v, cmp_rank);
    return v;
}

/* Counts of rows v[i..j) by state into c (total, pruned, failed, unfinished; n = done). */
static void count_states(const row *const *v, size_t i, size_t j, cell *c)
{
    memset(c, 0, sizeof *c);
    for (size_t k = i; k < j; k++) {
        c->total++;
        int st = state_order(v[k]->state);
        c->n += st == 0;
        c->pruned += st == 1;
        c->failed += !strcmp(v[k]->state, "failed");
        c->unfinished += st == 2 && strcmp(v[k]->state, "failed");
    }
}

/* One leaderboard row: rank among done trials ("-" for the others), state, the ranking and shown metrics. */
static char **leaderboard_row(const row *r, size_t rank, int two_metrics)
{
    char **c = row_new(12);
    if (!c)
        return NULL;
    char val[32], shown[32];
    fmt_value(r->metric, r->value, val, sizeof val);
    fmt_value(r->shown_metric, r->shown, shown, sizeof shown);
    c[0] = strcmp(r->state, "done") ? strdup("-") : dupf("%zu", rank);
    c[1] = dupf("%lld", r->trial_id);
    c[2] = strdup(r->state);
    c[3] = strdup(r->sweep);
    c[4] = strdup(r->method);
    c[5] = strdup(r->backbone);
    c[6] = dupf("%lld", r->seed);
    c[7] = r->fold >= 0 ? dupf("%d", r->fold) : strdup("-");
    c[8] = strdup(val);
    c[9] = strdup(two_metrics ? shown : "");
    c[10] = isnan(r->trainable_pct) ? strdup("-") : dupf("%.2f", r->trainable_pct);
    c[11] = strdup(r->params);
    return c;
}

/* Rows per dataset shown: --top N of them (0: all). */
static size_t shown_rows(const loaa_report_opts *o, size_t n) { return o->top && (size_t)o->top < n ? (size_t)o->top : n; }

static void write_leaderboard(FILE *out, const rows *rs, const loaa_report_opts *o)
{
    const row **v = ranked(rs);
    if (!v)
        return;
    for (size_t i = 0; i < rs->n;) {
        size_t j = i;
        while (j < rs->n && !strcmp(v[j]->dataset, v[i]->dataset))
            j++;
        int two = strcmp(v[i]->metric, v[i]->shown_metric) != 0;
        table t;
        table_init(&t, two ? 12 : 11);
        char **h = row_new(12);
        const char *heads[] = {"rank", "trial", "state", "sweep", "method", "backbone", "seed", "fold", v[i]->metric,
                               two ? v[i]->shown_metric : "", "trainable %", "parameters"};
        for (int k = 0; h && k < 12; k++)
            h[k] = strdup(heads[k]);
        if (h && !two) { /* no second metric column: shift the last two left */
            free(h[9]);
            h[9] = h[10];
            h[10] = h[11];
            h[11] = NULL;
        }
        table_add(&t, h);
        size_t n_shown = shown_rows(o, j - i);
        for (size_t k = i; k < i + n_shown; k++) {
            char **c = leaderboard_row(v[k], k - i + 1, two);
            if (c && !two) {
                free(c[9]);
                c[9] = c[10];
                c[10] = c[11];
                c[11] = NULL;
            }
            if (c)
                table_add(&t, c);
        }
        cell counts;
        count_states(v, i, j, &counts);
        char n[96];
        fmt_count(&counts, n, sizeof n);
        if (o->format == LOAA_REPORT_MARKDOWN)
            fprintf(out, "\n### Leaderboard: %s %s\n\n", v[i]->dataset, n);
        else if (o->format == LOAA_REPORT_TABLE)
            fprintf(out, "\nLeaderboard: %s (%s%s; %zu of %d trials shown; n counts done trials; pruned trials show the best epoch "
                         "before the cut and are ranked after the done ones) %s\n",
                    v[i]->dataset, v[i]->metric, is_fraction(v[i]->metric) ? ", %" : "", n_shown, counts.total, n);
        table_print(out, &t, o->format);
        table_free(&t);
        i = j;
    }
    free(v);
}

static void write_cross(FILE *out, const xtable *x, loaa_report_format f)
{
    if (!x->n_rows)
        return;
    size_t cols = 4 + x->n_datasets;
    table t;
    table_init(&t, cols);
    char **h = row_new(cols);
    if (!h)
        return;
    h[0] = strdup("configuration");
    h[1] = strdup("backbone");
    h[2] = strdup("sweep");
    for (size_t d = 0; d < x->n_datasets; d++)
        h[3 + d] = strdup(x->datasets[d]);
    h[cols - 1] = strdup("trainable %");
    table_add(&t, h);
    for (size_t i = 0; i < x->n_rows; i++) {
        const xrow *r = &x->rows[i];
        char **c = row_new(cols);
        if (!c)
            break;
        c[0] = strdup(r->label);
        c[1] = strdup(r->backbone);
        c[2] = strdup(r->sweep);
        for (size_t d = 0; d < x->n_datasets; d++) {
            char text[192];
            fmt_cell(r->metric, &r->cells[d], text, sizeof text);
            c[3 + d] = strdup(text);
        }
        c[cols - 1] = r->pct_n ? dupf("%.2f", r->pct_sum / r->pct_n) : strdup("-");
        table_add(&t, c);
    }
    const char *how = x->rows[0].picked ? "; per method and backbone the configuration with the best mean validation metric, then"
                                          " its mean ± std"
                                        : "; per configuration, mean ± std";
    if (f == LOAA_REPORT_MARKDOWN || f == LOAA_REPORT_TABLE)
        fprintf(out, "\n%sCross-dataset comparison (%s%s%s over seeds and folds of done trials%s%s; pruned, failed and "
                     "unfinished trials counted, not averaged)\n%s",
                f == LOAA_REPORT_MARKDOWN ? "### " : "", x->rows[0].metric, is_fraction(x->rows[0].metric) ? ", %" : "", how,
                x->rows[0].picked ? ", selected on " : "", x->rows[0].picked ? x->rows[0].sel_metric : "",
                f == LOAA_REPORT_MARKDOWN ? "\n" : "");
    table_print(out, &t, f);
    table_free(&t);
}

/* Which configuration validation chose for each protocol cell, and among how many. */
static void write_selection(FILE *out, const xtable *p, loaa_report_format f)
{
    table t;
    table_init(&t, 6);
    char **h = row_new(6);
    const char *heads[] = {"dataset", "method", "backbone", "selected configuration", p->n_rows ? p->rows[0].sel_metric : "", "of"};
    for (int k = 0; h && k < 6; k++)
        h[k] = strdup(heads[k]);
    table_add(&t, h);
    for (size_t d = 0; d < p->n_datasets; d++)
        for (size_t i = 0; i < p->n_rows; i++) {
            const xrow *pr = &p->rows[i], *r = pr->picked[d];
            char **c = pr->configs[d] ? row_new(6) : NULL;
            if (!c)
                continue;
            char sel[32];
            fmt_value(pr->sel_metric, r ? r->cells[d].sel_sum / r->cells[d].sel_n : NAN, sel, sizeof sel);
            c[0] = strdup(p->datasets[d]);
            c[1] = strdup(pr->method);
            c[2] = strdup(pr->backbone);
            c[3] = strdup(r ? r->label : "none (no done trial)");
            c[4] = strdup(sel);
            c[5] = dupf("%d configuration%s%s", pr->configs[d], pr->configs[d] == 1 ? "" : "s",
                        r && r->cells[d].pruned ? " (every one had pruned trials)" : "");
            table_add(&t, c);
        }
    if (f == LOAA_REPORT_MARKDOWN || f == LOAA_REPORT_TABLE)
        fprintf(out, "\n%sValidation-selected configurations (mean %s over done trials; configurations with pruned trials only "
                     "when every one has some)\n%s",
                f == LOAA_REPORT_MARKDOWN ? "### " : "", p->n_rows ? p->rows[0].sel_metric : "", f == LOAA_REPORT_MARKDOWN ? "\n" : "");
    table_print(out, &t, f);
    table_free(&t);
}

static json_t *num_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

static loaa_status write_json(FILE *out, const rows *rs, const xtable *x, const loaa_report_opts *o)
{
    json_t *root = json_object(), *lb = json_array(), *xr = json_array(), *ds = json_array();
    if (!root || !lb || !xr || !ds) {
        json_decref(root);
        json_decref(lb);
        json_decref(xr);
        json_decref(ds);
        return loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
    }
    const row **v = ranked(rs);
    for (size_t i = 0, first = 0; v && i < rs->n; i++) {
        const row *r = v[i];
        if (strcmp(r->dataset, v[first]->dataset))
            first = i;
        if (i - first >= shown_rows(o, rs->n))
            continue;
        json_t *params = json_loads(r->params, 0, NULL);
        json_array_append_new(lb, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:s,s:o,s:s,s:o,s:o,s:o,s:o}", "trial",
                                            (json_int_t)r->trial_id, "state", r->state,
                                            "sweep", r->sweep, "dataset", r->dataset, "method", r->method, "backbone", r->backbone,
                                            "seed", (json_int_t)r->seed, "fold", r->fold >= 0 ? json_integer(r->fold) : json_null(),
                                            "metric", r->metric, "value", num_or_null(r->value), "shown_metric", r->shown_metric,
                                            "shown_value", num_or_null(r->shown), "trainable_pct",
                                            num_or_null(r->trainable_pct), "best_epoch", json_integer(r->best_epoch), "params",
                                            params ? params : json_object()));
    }
    free(v);
    for (size_t d = 0; d < x->n_datasets; d++)
        json_array_append_new(ds, json_string(x->datasets[d]));
    for (size_t i = 0; i < x->n_rows; i++) {
        const xrow *r = &x->rows[i];
        json_t *cells = json_object();
        for (size_t d = 0; cells && d < x->n_datasets; d++)
            if (r->cells[d].n)
                json_object_set_new(cells, x->datasets[d],
                                    json_pack("{s:o,s:o,s:i,s:i,s:i,s:i,s:i,s:s?,s:i}", "mean", num_or_null(cell_mean(&r->cells[d])),
                                              "std", json_real(cell_std(&r->cells[d])), "n", r->cells[d].n, "trials",
                                              r->cells[d].total, "pruned", r->cells[d].pruned, "failed", r->cells[d].failed,
                                              "unfinished", r->cells[d].unfinished, "selected",
                                              r->picked && r->picked[d] ? r->picked[d]->label : NULL, "configurations",
                                              r->configs ? r->configs[d] : 1));
        json_t *cfg = r->picked ? NULL : json_loads(r->mconfig, 0, NULL);
        json_array_append_new(xr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "label", r->label, "method", r->method,
                                            "backbone", r->backbone, "sweep", r->sweep, "metric", r->metric, "selected_on",
                                            r->sel_metric, "config", cfg && !r->picked ? cfg : json_object(),
                                            "cells", cells ? cells : json_object(), "trainable_pct",
                                            r->pct_n ? json_real(r->pct_sum / r->pct_n) : json_null()));
    }
    int sections = o->sections;
    if (!sections || (sections & 1))
        json_object_set_new(root, "leaderboard", lb);
    else
        json_decref(lb);
    if (!sections || (sections & 2))
        json_object_set_new(root, "cross_dataset", json_pack("{s:s,s:o,s:o}", "view", o->per_config ? "per-configuration" :
                                                             "validation-selected", "datasets", ds, "rows", xr));
    else {
        json_decref(ds);
        json_decref(xr);
    }
    char *text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (!text)
        return loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
    fprintf(out, "%s\n", text);
    free(text);
    return LOAA_OK;
}

/* ---- paired comparison of methods (--compare A,B[,C...]) ---- */

#define COMPARE_MAX_METHODS 8
#define COMPARE_MAX_FOLDS 128

/* Per fold (slot fold + 1; slot 0 = no fold), the mean over seeds of the shown metric of configuration r's done trials on d. */
static void fold_means(const rows *rs, const xrow *r, const char *dataset, double *mean, int *n)
{
    double sum[COMPARE_MAX_FOLDS] = {0};
    memset(n, 0, COMPARE_MAX_FOLDS * sizeof *n);
    for (size_t i = 0; i < rs->n; i++) {
        const row *t = &rs->r[i];
        int slot = t->fold + 1;
        if (slot < 0 || slot >= COMPARE_MAX_FOLDS || strcmp(t->state, "done") || isnan(t->shown) || strcmp(t->dataset, dataset) ||
            strcmp(t->mconfig, r->mconfig) || strcmp(t->sweep, r->sweep) || strcmp(t->backbone, r->backbone))
            continue;
        sum[slot] += t->shown;
        n[slot]++;
    }
    for (int f = 0; f < COMPARE_MAX_FOLDS; f++)
        mean[f] = n[f] ? sum[f] / n[f] : NAN;
}

/*
 * n_test/n_train of the corrected t for dataset folds f[0..n): from the manifest's sample counts (mean over the folds),
 * else (k-2):1 training to test for k folds (loaa's fold rule: fold f tests, f+1 validates, the other k-2 train); k the
 * manifest's folds, else the largest fold number seen. *how says which.
 */
static double fold_ratio(const char *dataset, const int *folds, int n, int max_fold, const char **how)
{
    loaa_dataset *ds = NULL;
    double sum = 0;
    int counted = 0, k = max_fold;
    if (!loaa_dataset_open(dataset, &ds)) {
        k = loaa_dataset_num_folds(ds) > 0 ? loaa_dataset_num_folds(ds) : k;
        for (int i = 0; i < n; i++) {
            long te = loaa_dataset_split_samples(ds, LOAA_SPLIT_TEST, folds[i]), tr = loaa_dataset_split_samples(ds, LOAA_SPLIT_TRAIN, folds[i]);
            if (te > 0 && tr > 0) {
                sum += (double)te / (double)tr;
                counted++;
            }
        }
        loaa_dataset_free(ds);
    }
    if (counted == n && n > 0) {
        *how = "manifest counts";
        return sum / counted;
    }
    *how = "(k-2):1 folds";
    return k >= 3 ? 1.0 / (k - 2) : 1.0;
}

typedef struct pair_result {
    const char *a, *b, *dataset, *backbone; /* dataset NULL: pooled over datasets */
    int n;
    double ratio;
    const char *ratio_how;
    loaa_comparison cmp;
    int tested;      /* n >= 2 */
    double mean;     /* mean difference (also when not tested) */
    double p_holm;
} pair_result;

/* The protocol row of method m with backbone b, NULL when none. */
static const xrow *protocol_row(const xtable *p, const char *m, const char *b)
{
    for (size_t i = 0; i < p->n_rows; i++)
        if (!strcmp(p->rows[i].method, m) && !strcmp(p->rows[i].backbone, b))
            return &p->rows[i];
    return NULL;
}

/* A versus B on dataset d: folds where both validation-selected configurations have done trials, seeds averaged. */
static int compare_dataset(const rows *rs, const xtable *p, const xrow *ra, const xrow *rb, size_t d, pair_result *out)
{
    static double ma[COMPARE_MAX_FOLDS], mb[COMPARE_MAX_FOLDS];
    static int na[COMPARE_MAX_FOLDS], nb[COMPARE_MAX_FOLDS];
    double a[COMPARE_MAX_FOLDS], b[COMPARE_MAX_FOLDS];
    int folds[COMPARE_MAX_FOLDS], n = 0, max_fold = 0;
    if (!ra || !rb || !ra->picked[d] || !rb->picked[d])
        return 0;
    fold_means(rs, ra->picked[d], p->datasets[d], ma, na);
    fold_means(rs, rb->picked[d], p->datasets[d], mb, nb);
    for (int f = 0; f < COMPARE_MAX_FOLDS; f++)
        if (na[f] && nb[f]) {
            a[n] = ma[f];
            b[n] = mb[f];
            folds[n++] = f - 1;
            max_fold = f - 1 > max_fold ? f - 1 : max_fold;
        }
    if (!n)
        return 0;
    *out = (pair_result){.a = ra->method, .b = rb->method, .dataset = p->datasets[d], .backbone = ra->backbone, .n = n,
                         .p_holm = NAN};
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += a[i] - b[i];
    out->mean = sum / n;
    out->ratio = fold_ratio(p->datasets[d], folds, n, max_fold, &out->ratio_how);
    out->tested = n >= 2 && !loaa_compare_paired(a, b, (size_t)n, out->ratio, &out->cmp);
    return 1;
}

/* Pooled over datasets: per-dataset mean differences of one pair (res[0..n) with its dataset set) as independent units. */
static void compare_pooled(const pair_result *res, int n, pair_result *out)
{
    double a[256], zero[256];
    int k = 0;
    for (int i = 0; i < n && k < 256; i++) {
        a[k] = res[i].mean;
        zero[k++] = 0;
    }
    *out = (pair_result){.a = res[0].a, .b = res[0].b, .backbone = res[0].backbone, .n = k, .ratio = 0, .ratio_how = "datasets",
                         .p_holm = NAN};
    double sum = 0;
    for (int i = 0; i < k; i++)
        sum += a[i];
    out->mean = k ? sum / k : NAN;
    out->tested = k >= 2 && !loaa_compare_paired(a, zero, (size_t)k, 0, &out->cmp);
}

/* Holm's correction of the corrected-t p-values of the tested results sharing a dataset (pooled: dataset NULL). */
static void holm_by_dataset(pair_result *res, int n)
{
    for (int i = 0; i < n; i++) {
        if (!isnan(res[i].p_holm) || !res[i].tested)
            continue;
        double p[64];
        int idx[64], m = 0;
        for (int j = i; j < n && m < 64; j++)
            if (res[j].tested && ((!res[i].dataset && !res[j].dataset) || (res[i].dataset && res[j].dataset && !strcmp(res[i].dataset, res[j].dataset))) &&
                !strcmp(res[i].backbone, res[j].backbone)) {
                p[m] = res[j].cmp.t.p;
                idx[m++] = j;
            }
        if (loaa_holm(p, (size_t)m, p))
            return;
        for (int j = 0; j < m; j++)
            res[idx[j]].p_holm = p[j];
    }
}

#define COMPARE_MAX_RESULTS 512

/* Every pair (i < j) of the listed methods, per backbone both have, per dataset, then pooled; Holm within each. */
static loaa_status run_compare(const rows *rs, const xtable *p, const char *list, pair_result *res, int *n_res)
{
    char buf[1024], *methods[COMPARE_MAX_METHODS], *save = NULL;
    int m = 0;
    *n_res = 0;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (m == COMPARE_MAX_METHODS)
            return loaa_fail(LOAA_ERR_USAGE, "--compare: at most %d methods", COMPARE_MAX_METHODS);
        methods[m++] = t;
    }
    if (m < 2)
        return loaa_fail(LOAA_ERR_USAGE, "--compare '%s': give two or more methods, e.g. --compare loaa-tf,lora", list);
    for (int i = 0; i < m; i++)
        if (!protocol_row(p, methods[i], p->n_rows ? p->rows[0].backbone : "")) {
            int seen = 0;
            for (size_t k = 0; k < p->n_rows && !seen; k++)
                seen = !strcmp(p->rows[k].method, methods[i]);
            if (!seen)
                return loaa_fail(LOAA_ERR_USAGE, "--compare: no trials of method '%s' match", methods[i]);
        }
    for (size_t k = 0; k < p->n_rows; k++) {
        const char *bb = p->rows[k].backbone;
        int first = 1;
        for (size_t q = 0; q < k; q++)
            first &= strcmp(p->rows[q].backbone, bb) != 0;
        for (int i = 0; first && i < m; i++)
            for (int j = i + 1; j < m; j++) {
                const xrow *ra = protocol_row(p, methods[i], bb), *rb = protocol_row(p, methods[j], bb);
                int start = *n_res;
                for (size_t d = 0; d < p->n_datasets && *n_res < COMPARE_MAX_RESULTS - 1; d++)
                    *n_res += compare_dataset(rs, p, ra, rb, d, &res[*n_res]);
                if (*n_res > start) {
                    compare_pooled(res + start, *n_res - start, &res[*n_res]);
                    (*n_res)++;
                }
            }
    }
    holm_by_dataset(res, *n_res);
    return LOAA_OK;
}

/* "0.0062" style p-values; "-" when not tested. */
static char *fmt_p(double p, int tested) { return tested && !isnan(p) ? dupf("%.4g", p) : strdup("-"); }

static void write_compare(FILE *out, const pair_result *res, int n, const char *metric, loaa_report_format f)
{
    table t;
    table_init(&t, 10);
    char **h = row_new(10);
    const char *heads[] = {"A - B", "dataset", "backbone", "n", "mean diff", "95% interval", "p (corrected t)", "p (Holm)",
                           "Wilcoxon p (min p)", "test/train"};
    for (int k = 0; h && k < 10; k++)
        h[k] = strdup(heads[k]);
    table_add(&t, h);
    for (int i = 0; i < n; i++) {
        const pair_result *r = &res[i];
        char **c = row_new(10);
        if (!c)
            break;
        char mean[32], lo[32], hi[32];
        fmt_value(metric, r->mean, mean, sizeof mean);
        fmt_value(metric, r->cmp.t.lo, lo, sizeof lo);
        fmt_value(metric, r->cmp.t.hi, hi, sizeof hi);
        c[0] = dupf("%s - %s", r->a, r->b);
        c[1] = strdup(r->dataset ? r->dataset : "(pooled over datasets)");
        c[2] = strdup(r->backbone);
        c[3] = dupf("%d", r->n);
        c[4] = strdup(mean);
        c[5] = r->tested ? dupf("[%s, %s]", lo, hi) : strdup("-");
        c[6] = fmt_p(r->cmp.t.p, r->tested);
        c[7] = fmt_p(r->p_holm, r->tested);
        c[8] = r->tested ? dupf("%.4g (%.4g)", r->cmp.wilcoxon.p, r->cmp.wilcoxon.p_min) : strdup("-");
        c[9] = r->dataset ? dupf("%.4g (%s)", r->ratio, r->ratio_how) : strdup("0 (independent)");
        table_add(&t, c);
    }
    if (f == LOAA_REPORT_MARKDOWN || f == LOAA_REPORT_TABLE)
        fprintf(out, "\n%sPaired comparison (%s%s at each method's validation-selected configuration; per fold the mean over seeds; "
                     "Nadeau-Bengio corrected resampled t over folds, pooled: per-dataset means; Holm over the pairs)\n%s",
                f == LOAA_REPORT_MARKDOWN ? "### " : "", metric, is_fraction(metric) ? ", %" : "", f == LOAA_REPORT_MARKDOWN ? "\n" : "");
    table_print(out, &t, f);
    table_free(&t);
}

static json_t *compare_json(const pair_result *res, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) {
        const pair_result *r = &res[i];
        json_array_append_new(a, json_pack("{s:s,s:s,s:o,s:s,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "a", r->a, "b", r->b, "dataset",
                                           r->dataset ? json_string(r->dataset) : json_null(), "backbone", r->backbone, "n", r->n,
                                           "mean_diff", num_or_null(r->mean), "lo", r->tested ? num_or_null(r->cmp.t.lo) : json_null(),
                                           "hi", r->tested ? num_or_null(r->cmp.t.hi) : json_null(), "p",
                                           r->tested ? num_or_null(r->cmp.t.p) : json_null(), "p_holm",
                                           r->tested ? num_or_null(r->p_holm) : json_null(), "wilcoxon_p",
                                           r->tested ? num_or_null(r->cmp.wilcoxon.p) : json_null(), "wilcoxon_min_p",
                                           r->tested ? num_or_null(r->cmp.wilcoxon.p_min) : json_null(), "test_train_ratio",
                                           num_or_null(r->ratio), "t", r->tested ? num_or_null(r->cmp.t.t) : json_null()));
    }
    return a;
}

/* --compare: the paired figures, as a table or JSON. */
static loaa_status write_compare_view(FILE *out, const rows *rs, const xtable *p, const loaa_report_opts *o)
{
    pair_result *res = calloc(COMPARE_MAX_RESULTS, sizeof *res);
    if (!res)
        return loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
    int n = 0;
    loaa_status st = run_compare(rs, p, o->compare, res, &n);
    const char *metric = p->n_rows ? p->rows[0].metric : "test_acc";
    if (!st && o->format == LOAA_REPORT_JSON) {
        json_t *root = json_pack("{s:s,s:o}", "metric", metric, "compare", compare_json(res, n));
        char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
        json_decref(root);
        if (text)
            fprintf(out, "%s\n", text);
        else
            st = loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
        free(text);
    } else if (!st) {
        write_compare(out, res, n, metric, o->format);
    }
    free(res);
    return st;
}

loaa_status loaa_report_write(loaa_store *s, const loaa_report_opts *o, FILE *out)
{
    rows rs = {0};
    xtable per_config = {0}, protocol = {0};
    loaa_status st = load_rows(s, o, &rs);
    if (!st)
        st = build_xtable(&rs, &per_config);
    if (!st && (!o->per_config || o->compare))
        st = build_protocol(&per_config, &protocol);
    const xtable *x = o->per_config ? &per_config : &protocol;
    if (!st && o->compare) {
        st = write_compare_view(out, &rs, &protocol, o);
    } else if (!st) {
        if (o->format == LOAA_REPORT_JSON) {
            st = write_json(out, &rs, x, o);
        } else if (!rs.n) {
            if (o->format == LOAA_REPORT_TABLE || o->format == LOAA_REPORT_MARKDOWN)
                fprintf(out, "no trials match\n");
        } else if (o->format == LOAA_REPORT_CSV) {
            /* One table per CSV file: the cross-dataset table unless only the leaderboard is asked for. */
            if (o->sections == 1)
                write_leaderboard(out, &rs, o);
            else
                write_cross(out, x, o->format);
        } else {
            if (!o->sections || (o->sections & 1))
                write_leaderboard(out, &rs, o);
            if ((!o->sections || (o->sections & 2)) && !o->per_config)
                write_selection(out, x, o->format);
            if (!o->sections || (o->sections & 2))
                write_cross(out, x, o->format);
        }
    }
    xtable_free(&protocol);
    xtable_free(&per_config);
    rows_free(&rs);
    return st;
}

/* ---- HTML ---- */

static void html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

typedef struct curve {
    int *epoch;
    double *v;
    int n, cap;
} curve;

/* The store's curve callback: appends one point; stops (non-zero) when out of memory. */
static int curve_point(void *ctx, int epoch, double value)
{
    curve *c = ctx;
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        int *e = realloc(c->epoch, (size_t)cap * sizeof *e);
        if (e)
            c->epoch = e;
        double *v = realloc(c->v, (size_t)cap * sizeof *v);
        if (v)
            c->v = v;
        if (!e || !v)
            return 1;
        c->cap = cap;
    }
    c->epoch[c->n] = epoch;
    c->v[c->n++] = value;
    return 0;
}

/* A trial's learning curve of metric `name`; a curve cut short by no memory is drawn as far as it goes. */
static loaa_status load_curve(loaa_store *s, long long trial, const char *name, curve *c)
{
    memset(c, 0, sizeof *c);
    return loaa_store_trial_curve(s, trial, name, curve_point, c);
}

/* One small SVG line chart of several curves (a learning curve: epochs on x). */
static void svg_curves(FILE *f, curve *cs, const char *const *names, int n, const char *title)
{
    const double W = 320, H = 180, L = 40, R = 10, T = 20, B = 25;
    double ymin = INFINITY, ymax = -INFINITY;
    int emax = 1;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < cs[i].n; k++) {
            if (isfinite(cs[i].v[k])) {
                ymin = fmin(ymin, cs[i].v[k]);
                ymax = fmax(ymax, cs[i].v[k]);
            }
            if (cs[i].epoch[k] + 1 > emax)
                emax = cs[i].epoch[k] + 1;
        }
    if (!isfinite(ymin)) {
        ymin = 0;
        ymax = 1;
    }
    if (ymax - ymin < 1e-9)
        ymax = ymin + 1e-3;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%g' height='%g' class='chart'>", W, H);
    fprintf(f, "<text x='%g' y='14' font-size='12'>", L);
    html_text(f, title);
    fprintf(f, "</text><rect x='%g' y='%g' width='%g' height='%g' fill='none' stroke='#ccc'/>", L, T, W - L - R, H - T - B);
    fprintf(f, "<text x='2' y='%g' font-size='10'>%.3g</text><text x='2' y='%g' font-size='10'>%.3g</text>", T + 8, ymax,
            H - B, ymin);
    fprintf(f, "<text x='%g' y='%g' font-size='10'>epoch</text><text x='%g' y='%g' font-size='10'>%d</text>", (W - L) / 2 + L,
            H - 5, W - R - 12, H - B + 12, emax);
    for (int i = 0; i < n; i++) {
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='", palette[i % 10]);
        for (int k = 0; k < cs[i].n; k++)
            if (isfinite(cs[i].v[k]))
                fprintf(f, "%.1f,%.1f ", L + (W - L - R) * (emax > 1 ? (double)cs[i].epoch[k] / (emax - 1) : 0.5),
                        T + (H - T - B) * (1 - (cs[i].v[k] - ymin) / (ymax - ymin)));
        fprintf(f, "'/>");
        fprintf(f, "<text x='%g' y='%g' font-size='10' fill='%s'>", W - R - 90, T + 12 + 11.0 * i, palette[i % 10]);
        html_text(f, names[i]);
        fprintf(f, "</text>");
    }
    fprintf(f, "</svg>\n");
}

/* Bars with error whiskers: one bar per configuration for one dataset. */
static void svg_bars(FILE *f, const xtable *x, size_t d, const char *metric)
{
    int n = 0;
    double vmax = 0;
    for (size_t i = 0; i < x->n_rows; i++)
        if (x->rows[i].cells[d].n) {
            n++;
            vmax = fmax(vmax, cell_mean(&x->rows[i].cells[d]) + cell_std(&x->rows[i].cells[d]));
        }
    if (!n)
        return;
    if (vmax <= 0)
        vmax = 1;
    const double bar = 22, L = 260, W = 640;
    double H = 30 + bar * n;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%g' height='%g' class='chart'>", W, H);
    fprintf(f, "<text x='4' y='14' font-size='12'>");
    html_text(f, x->datasets[d]);
    fprintf(f, ": ");
    html_text(f, metric);
    fprintf(f, " (mean &#177; std)</text>");
    int k = 0;
    for (size_t i = 0; i < x->n_rows; i++) {
        const cell *c = &x->rows[i].cells[d];
        if (!c->n)
            continue;
        double m = cell_mean(c), s = cell_std(c), y = 22 + bar * k;
        double w = (W - L - 60) * m / vmax;
        fprintf(f, "<text x='4' y='%g' font-size='10'>", y + 13);
        char label[600];
        snprintf(label, sizeof label, "%s [%s]", x->rows[i].label, x->rows[i].backbone);
        html_text(f, label);
        fprintf(f, "</text><rect x='%g' y='%g' width='%g' height='%g' fill='%s'/>", L, y + 2, w > 0 ? w : 0, bar - 6,
                palette[k % 10]);
        double x0 = L + (W - L - 60) * (m - s) / vmax, x1 = L + (W - L - 60) * (m + s) / vmax;
        fprintf(f, "<line x1='%g' x2='%g' y1='%g' y2='%g' stroke='black'/>", x0, x1, y + bar / 2 - 1, y + bar / 2 - 1);
        char val[32];
        fmt_value(metric, m, val, sizeof val);
        fprintf(f, "<text x='%g' y='%g' font-size='10'>%s</text>", x1 + 4, y + 13, val);
        k++;
    }
    fprintf(f, "</svg>\n");
}

#define HTML_MAX_CURVES 200
#define HTML_MAX_ROWS 2000

/* The cross-dataset table and a bar chart per dataset. */
static void html_cross(FILE *f, const xtable *x)
{
    fprintf(f, "<h2>Cross-dataset comparison</h2>\n<p>");
    html_text(f, x->rows[0].metric);
    fprintf(f, ", mean &#177; sample std over seeds and folds (n trials).</p>\n<table><tr><th>configuration</th><th>backbone</th>"
               "<th>sweep</th>");
    for (size_t d = 0; d < x->n_datasets; d++) {
        fprintf(f, "<th>");
        html_text(f, x->datasets[d]);
        fprintf(f, "</th>");
    }
    fprintf(f, "<th>trainable %%</th></tr>\n");
    for (size_t i = 0; i < x->n_rows; i++) {
        fprintf(f, "<tr><td>");
        html_text(f, x->rows[i].label);
        fprintf(f, "</td><td>");
        html_text(f, x->rows[i].backbone);
        fprintf(f, "</td><td>");
        html_text(f, x->rows[i].sweep);
        fprintf(f, "</td>");
        for (size_t d = 0; d < x->n_datasets; d++) {
            char text[192];
            fmt_cell(x->rows[i].metric, &x->rows[i].cells[d], text, sizeof text);
            fprintf(f, "<td class='n'>");
            html_text(f, text);
            fprintf(f, "</td>");
        }
        if (x->rows[i].pct_n)
            fprintf(f, "<td class='n'>%.2f</td></tr>\n", x->rows[i].pct_sum / x->rows[i].pct_n);
        else
            fprintf(f, "<td class='n'>-</td></tr>\n");
    }
    fprintf(f, "</table>\n<h2>Methods per dataset</h2>\n");
    for (size_t d = 0; d < x->n_datasets; d++)
        svg_bars(f, x, d, x->rows[0].metric);
}

/* The leaderboard of the first HTML_MAX_ROWS ranked rows (v: ranked, n of them). */
static void html_leaderboard(FILE *f, const row *const *v, size_t n)
{
    fprintf(f, "<h2>Leaderboard</h2>\n<table><tr><th>dataset</th><th>trial</th><th>sweep</th><th>method</th><th>backbone</th>"
               "<th>seed</th><th>fold</th><th>metric</th><th>value</th><th>trainable %%</th><th>parameters</th></tr>\n");
    for (size_t i = 0; v && i < n && i < HTML_MAX_ROWS; i++) {
        const row *r = v[i];
        char val[32];
        fmt_value(r->metric, r->value, val, sizeof val);
        fprintf(f, "<tr><td>");
        html_text(f, r->dataset);
        fprintf(f, "</td><td class='n'><a href='#t%lld'>%lld</a></td><td>", r->trial_id, r->trial_id);
        html_text(f, r->sweep);
        fprintf(f, "</td><td>");
        html_text(f, r->method);
        fprintf(f, "</td><td>");
        html_text(f, r->backbone);
        fprintf(f, "</td><td class='n'>%lld</td><td class='n'>", r->seed);
        if (r->fold >= 0)
            fprintf(f, "%d", r->fold);
        fprintf(f, "</td><td>");
        html_text(f, r->metric);
        fprintf(f, "</td><td class='n'>%s</td><td class='n'>", val);
        if (!isnan(r->trainable_pct))
            fprintf(f, "%.2f", r->trainable_pct);
        fprintf(f, "</td><td>");
        html_text(f, r->params);
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
    if (n > HTML_MAX_ROWS)
        fprintf(f, "<p>The first %d of %zu rows (loaa report --format csv --leaderboard lists all).</p>\n", HTML_MAX_ROWS, n);
}

/* Learning curves (losses, then val_acc) of the first HTML_MAX_CURVES ranked rows. */
static void html_curves(FILE *f, loaa_store *s, const row *const *v, size_t n)
{
    fprintf(f, "<h2>Learning curves</h2>\n");
    if (n > HTML_MAX_CURVES)
        fprintf(f, "<p>The %d best trials of %zu.</p>\n", HTML_MAX_CURVES, n);
    fprintf(f, "<div class='curves'>\n");
    for (size_t i = 0; v && i < n && i < HTML_MAX_CURVES; i++) {
        const row *r = v[i];
        curve cs[3];
        const char *names[3] = {"train_loss", "val_loss", "val_acc"};
        for (int k = 0; k < 3; k++)
            load_curve(s, r->trial_id, names[k], &cs[k]);
        char title[256];
        snprintf(title, sizeof title, "trial %lld: %s, %s, seed %lld", r->trial_id, r->method, r->backbone, r->seed);
        fprintf(f, "<div id='t%lld'>", r->trial_id);
        svg_curves(f, cs, names, 2, title);
        svg_curves(f, cs + 2, names + 2, 1, "val_acc");
        fprintf(f, "</div>\n");
        for (int k = 0; k < 3; k++) {
            free(cs[k].epoch);
            free(cs[k].v);
        }
    }
    fprintf(f, "</div>\n");
}

/* The whole page into f. */
static void html_page(FILE *f, loaa_store *s, const rows *rs, const xtable *x)
{
    fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>loaa report</title><style>"
               "body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin:1em 0}"
               "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}th{background:#f4f4f4}td.n{text-align:right}"
               ".chart{margin:6px;border:1px solid #eee}.curves{display:flex;flex-wrap:wrap}"
               "</style></head><body>\n<h1>loaa report</h1>\n");
    if (!rs->n) {
        fprintf(f, "<p>No finished trials match.</p>\n");
    } else {
        html_cross(f, x);
        const row **v = ranked(rs);
        html_leaderboard(f, v, rs->n);
        html_curves(f, s, v, rs->n);
        free(v);
    }
    fprintf(f, "</body></html>\n");
}

loaa_status loaa_report_html(loaa_store *s, const loaa_report_opts *o, const char *path)
{
    assert(s && o && path);
    rows rs = {0};
    xtable x = {0};
    loaa_status st = load_rows(s, o, &rs);
    if (!st)
        st = build_xtable(&rs, &x);
    loaa_fs_atomic tmp; /* a fresh O_EXCL temporary beside path; fsync, rename, fsync of the folder */
    if (!st)
        st = loaa_fs_atomic_open(&tmp, path);
    FILE *f = st ? NULL : loaa_fs_atomic_stream(&tmp);
    if (!st && !f) {
        loaa_fs_atomic_abort(&tmp);
        st = loaa_fail(LOAA_ERR_NOMEM, "%s: cannot write: out of memory", path);
    }
    if (!st) {
        html_page(f, s, &rs, &x);
        st = loaa_fs_atomic_commit(&tmp);
    }
    xtable_free(&x);
    rows_free(&rs);
    return st;
}
