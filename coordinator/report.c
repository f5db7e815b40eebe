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
#include "common/fs.h"
#include "coordinator/query.h"

typedef struct row {
    long long trial_id;
    char *sweep, *metric, *goal, *dataset, *method, *backbone, *config, *mconfig, *params;
    long long seed;
    int fold, best_epoch;
    double value, trainable_pct, seconds;
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
    static const char *const ops[] = {"!=", "<=", ">=", "=", "<", ">", NULL};
    const char *at = NULL, *op = NULL;
    for (const char *p = text; *p && !at; p++)
        for (int i = 0; ops[i]; i++)
            if (!strncmp(p, ops[i], strlen(ops[i]))) {
                at = p;
                op = ops[i];
                break;
            }
    if (!at || at == text)
        return loaa_fail(LOAA_ERR_USAGE, "--where '%s': expected KEY=VALUE (or != < <= > >=)", text);
    size_t n = (size_t)(at - text);
    if (n >= sizeof c->key)
        return loaa_fail(LOAA_ERR_USAGE, "--where '%s': key too long", text);
    memcpy(c->key, text, n);
    c->key[n] = '\0';
    if (!loaa_config_key(c->key))
        return loaa_fail(LOAA_ERR_USAGE, "--where '%s': unknown key '%s' (see 'loaa help keys')", text, c->key);
    snprintf(c->op, sizeof c->op, "%s", op);
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

/* The store's row callback: keeps a copy of the row. */
static loaa_status keep_row(void *ctx, const loaa_store_report_row *in)
{
    row *r = rows_push(ctx);
    if (!r)
        return loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
    r->trial_id = in->trial_id;
    r->sweep = strdup(in->sweep);
    r->metric = strdup(in->metric);
    r->goal = strdup(in->goal);
    r->dataset = strdup(in->dataset);
    r->method = strdup(in->method);
    r->seed = in->seed;
    r->fold = in->fold;
    r->backbone = strdup(in->backbone);
    r->config = strdup(in->config);
    r->mconfig = strdup(in->mconfig);
    r->params = strdup(in->params);
    r->trainable_pct = in->trainable_pct;
    r->value = in->value;
    r->best_epoch = in->best_epoch;
    r->seconds = in->seconds;
    if (!r->sweep || !r->metric || !r->goal || !r->dataset || !r->method || !r->backbone || !r->config || !r->mconfig || !r->params)
        return loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
    return LOAA_OK;
}

/* Finished trials matching the filters, with their metric value (NAN = metric missing). */
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
                                  .conds = where, .n_conds = n_conds};
    if (!st)
        st = loaa_store_report_rows(s, &f, keep_row, rs);
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

typedef struct cell {
    double sum, sumsq;
    int n;
} cell;

typedef struct xrow {
    const char *mconfig, *method, *backbone, *sweep, *metric;
    char label[512];
    cell *cells;     /* one per dataset */
    double pct_sum;
    int pct_n;
} xrow;

typedef struct xtable {
    const char **datasets;
    size_t n_datasets;
    xrow *rows;
    size_t n_rows;
} xtable;

static void xtable_free(xtable *x)
{
    for (size_t i = 0; i < x->n_rows; i++)
        free(x->rows[i].cells);
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
            n->metric = r->metric;
            n->cells = calloc(x->n_datasets, sizeof *n->cells);
            if (!n->cells)
                return loaa_fail(LOAA_ERR_NOMEM, "report: out of memory");
        }
        xrow *xr = &x->rows[k];
        size_t d = 0;
        while (strcmp(x->datasets[d], r->dataset))
            d++;
        if (!isnan(r->value)) {
            xr->cells[d].sum += r->value;
            xr->cells[d].sumsq += r->value * r->value;
            xr->cells[d].n++;
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

static void fmt_cell(const char *metric, const cell *c, char *out, size_t cap)
{
    char m[32], s[32];
    if (!c->n) {
        snprintf(out, cap, "-");
        return;
    }
    fmt_value(metric, cell_mean(c), m, sizeof m);
    fmt_value(metric, cell_std(c), s, sizeof s);
    snprintf(out, cap, "%s ± %s (n=%d)", m, s, c->n);
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

static int cmp_rank(const void *pa, const void *pb)
{
    const row *a = *(const row *const *)pa, *b = *(const row *const *)pb;
    int c = strcmp(a->dataset, b->dataset);
    if (c)
        return c;
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

static void write_leaderboard(FILE *out, const rows *rs, const loaa_report_opts *o)
{
    const row **v = ranked(rs);
    if (!v)
        return;
    for (size_t i = 0; i < rs->n;) {
        size_t j = i;
        while (j < rs->n && !strcmp(v[j]->dataset, v[i]->dataset))
            j++;
        table t;
        table_init(&t, 10);
        char **h = row_new(10);
        const char *heads[] = {"rank", "trial", "sweep", "method", "backbone", "seed", "fold", v[i]->metric, "trainable %", "parameters"};
        for (int k = 0; h && k < 10; k++)
            h[k] = strdup(heads[k]);
        table_add(&t, h);
        for (size_t k = i; k < j && (!o->top || k - i < (size_t)o->top); k++) {
            const row *r = v[k];
            char **c = row_new(10);
            if (!c)
                break;
            char val[32];
            fmt_value(r->metric, r->value, val, sizeof val);
            c[0] = dupf("%zu", k - i + 1);
            c[1] = dupf("%lld", r->trial_id);
            c[2] = strdup(r->sweep);
            c[3] = strdup(r->method);
            c[4] = strdup(r->backbone);
            c[5] = dupf("%lld", r->seed);
            c[6] = r->fold >= 0 ? dupf("%d", r->fold) : strdup("-");
            c[7] = strdup(val);
            c[8] = isnan(r->trainable_pct) ? strdup("-") : dupf("%.2f", r->trainable_pct);
            c[9] = strdup(r->params);
            table_add(&t, c);
        }
        if (o->format == LOAA_REPORT_MARKDOWN)
            fprintf(out, "\n### Leaderboard: %s\n\n", v[i]->dataset);
        else if (o->format == LOAA_REPORT_TABLE)
            fprintf(out, "\nLeaderboard: %s (%s%s)\n", v[i]->dataset, v[i]->metric,
                    is_fraction(v[i]->metric) ? ", %" : "");
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
            char text[96];
            fmt_cell(r->metric, &r->cells[d], text, sizeof text);
            c[3 + d] = strdup(text);
        }
        c[cols - 1] = r->pct_n ? dupf("%.2f", r->pct_sum / r->pct_n) : strdup("-");
        table_add(&t, c);
    }
    if (f == LOAA_REPORT_MARKDOWN)
        fprintf(out, "\n### Cross-dataset comparison (%s%s, mean ± std over seeds and folds)\n\n", x->rows[0].metric,
                is_fraction(x->rows[0].metric) ? ", %" : "");
    else if (f == LOAA_REPORT_TABLE)
        fprintf(out, "\nCross-dataset comparison (%s%s, mean ± std over seeds and folds)\n", x->rows[0].metric,
                is_fraction(x->rows[0].metric) ? ", %" : "");
    table_print(out, &t, f);
    table_free(&t);
}

static json_t *num_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

static loaa_status write_json(FILE *out, const rows *rs, const xtable *x, int sections)
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
    for (size_t i = 0; v && i < rs->n; i++) {
        const row *r = v[i];
        json_t *params = json_loads(r->params, 0, NULL);
        json_array_append_new(lb, json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:o,s:s,s:o,s:o,s:o,s:o}", "trial", (json_int_t)r->trial_id,
                                            "sweep", r->sweep, "dataset", r->dataset, "method", r->method, "backbone", r->backbone,
                                            "seed", (json_int_t)r->seed, "fold", r->fold >= 0 ? json_integer(r->fold) : json_null(),
                                            "metric", r->metric, "value", num_or_null(r->value), "trainable_pct",
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
                                    json_pack("{s:o,s:o,s:i}", "mean", num_or_null(cell_mean(&r->cells[d])), "std",
                                              json_real(cell_std(&r->cells[d])), "n", r->cells[d].n));
        json_t *cfg = json_loads(r->mconfig, 0, NULL);
        json_array_append_new(xr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "label", r->label, "method", r->method, "backbone",
                                            r->backbone, "sweep", r->sweep, "metric", r->metric, "config", cfg ? cfg : json_object(),
                                            "cells", cells ? cells : json_object(), "trainable_pct",
                                            r->pct_n ? json_real(r->pct_sum / r->pct_n) : json_null()));
    }
    if (!sections || (sections & 1))
        json_object_set_new(root, "leaderboard", lb);
    else
        json_decref(lb);
    if (!sections || (sections & 2))
        json_object_set_new(root, "cross_dataset", json_pack("{s:o,s:o}", "datasets", ds, "rows", xr));
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

loaa_status loaa_report_write(loaa_store *s, const loaa_report_opts *o, FILE *out)
{
    rows rs = {0};
    xtable x = {0};
    loaa_status st = load_rows(s, o, &rs);
    if (!st)
        st = build_xtable(&rs, &x);
    if (!st) {
        if (o->format == LOAA_REPORT_JSON) {
            st = write_json(out, &rs, &x, o->sections);
        } else if (!rs.n) {
            if (o->format == LOAA_REPORT_TABLE || o->format == LOAA_REPORT_MARKDOWN)
                fprintf(out, "no finished trials match\n");
        } else if (o->format == LOAA_REPORT_CSV) {
            /* One table per CSV file: the cross-dataset table unless only the leaderboard is asked for. */
            if (o->sections == 1)
                write_leaderboard(out, &rs, o);
            else
                write_cross(out, &x, o->format);
        } else {
            if (!o->sections || (o->sections & 1))
                write_leaderboard(out, &rs, o);
            if (!o->sections || (o->sections & 2))
                write_cross(out, &x, o->format);
        }
    }
    xtable_free(&x);
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
            char text[96];
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
