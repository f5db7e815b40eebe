/* sweep.c - sweep files: a bounded YAML tree from libyaml events, checks with file:line:col, grid/random expansion. */
#include "coordinator/sweep.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/dynbuf.h"
#include "common/rng.h"
#include "common/sha256.h"
#include "coordinator/stats.h"

/* ---- a small YAML tree, built from libyaml's event stream so depth and size are checked as it grows ---- */

typedef enum ykind { Y_SCALAR, Y_SEQ, Y_MAP } ykind;

typedef struct ynode {
    ykind kind;
    char *text;           /* scalar */
    int plain, str_tag;   /* plain scalar (core schema applies); explicit !!str */
    int line, col;        /* 1-based */
    struct ynode **kids;  /* seq items; map: key, value, key, value ... */
    size_t n, cap;
} ynode;

typedef struct anchor {
    char *name;
    ynode *node;
} anchor;

typedef struct ytree {
    ynode **all;
    size_t n_all, cap_all;
    anchor *anchors;
    size_t n_anchors, cap_anchors;
    ynode *root;
} ytree;

static void tree_free(ytree *t)
{
    for (size_t i = 0; i < t->n_all; i++) {
        free(t->all[i]->text);
        free(t->all[i]->kids);
        free(t->all[i]);
    }
    free(t->all);
    for (size_t i = 0; i < t->n_anchors; i++)
        free(t->anchors[i].name);
    free(t->anchors);
    memset(t, 0, sizeof *t);
}

static ynode *new_node(ytree *t, ykind kind, const yaml_mark_t *mark)
{
    if (t->n_all >= LOAA_SWEEP_MAX_NODES)
        return NULL;
    if (loaa_dyn_reserve_array((void **)&t->all, &t->cap_all, t->n_all + 1, sizeof *t->all))
        return NULL;
    ynode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = (int)mark->line + 1;
    n->col = (int)mark->column + 1;
    t->all[t->n_all++] = n;
    return n;
}

static int add_kid(ynode *parent, ynode *kid)
{
    if (loaa_dyn_reserve_array((void **)&parent->kids, &parent->cap, parent->n + 1, sizeof *parent->kids))
        return -1;
    parent->kids[parent->n++] = kid;
    return 0;
}

static loaa_status add_anchor(ytree *t, const char *name, ynode *node)
{
    if (loaa_dyn_reserve_array((void **)&t->anchors, &t->cap_anchors, t->n_anchors + 1, sizeof *t->anchors))
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    t->anchors[t->n_anchors].name = strdup(name);
    if (!t->anchors[t->n_anchors].name)
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    t->anchors[t->n_anchors++].node = node;
    return LOAA_OK;
}

static ynode *find_anchor(const ytree *t, const char *name)
{
    for (size_t i = t->n_anchors; i-- > 0;)
        if (!strcmp(t->anchors[i].name, name))
            return t->anchors[i].node;
    return NULL;
}

/* The tree under construction: the open collections (and their anchors, registered when they end). */
typedef struct tree_builder {
    ytree *t;
    const char *file;
    ynode *stack[LOAA_SWEEP_MAX_DEPTH + 1];
    char *pending_anchor[LOAA_SWEEP_MAX_DEPTH + 1];
    int depth, docs, done;
} tree_builder;

/* A scalar event as a new node (*node; NULL when none was made). */
static loaa_status scalar_event(tree_builder *b, const yaml_event_t *ev, int line, int col, ynode **node)
{
    ynode *n = *node = new_node(b->t, Y_SCALAR, &ev->start_mark);
    if (!n)
        return loaa_fail(LOAA_ERR_LIMIT, "%s:%d:%d: more than %d YAML nodes", b->file, line, col, LOAA_SWEEP_MAX_NODES);
    n->text = malloc(ev->data.scalar.length + 1);
    if (!n->text)
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    memcpy(n->text, ev->data.scalar.value, ev->data.scalar.length);
    n->text[ev->data.scalar.length] = '\0';
    if (strlen(n->text) != ev->data.scalar.length)
        return loaa_fail(LOAA_ERR_PARSE, "%s:%d:%d: NUL character in a scalar", b->file, line, col);
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
    n->str_tag = ev->data.scalar.tag && !strcmp((const char *)ev->data.scalar.tag, YAML_STR_TAG);
    return LOAA_OK;
}

/* A sequence or mapping opens: pushed with its anchor; attached to its parent when it ends. */
static loaa_status collection_start(tree_builder *b, const yaml_event_t *ev, int line, int col)
{
    if (b->depth >= LOAA_SWEEP_MAX_DEPTH)
        return loaa_fail(LOAA_ERR_LIMIT, "%s:%d:%d: nested deeper than %d levels", b->file, line, col, LOAA_SWEEP_MAX_DEPTH);
    int seq = ev->type == YAML_SEQUENCE_START_EVENT;
    ynode *node = new_node(b->t, seq ? Y_SEQ : Y_MAP, &ev->start_mark);
    if (!node)
        return loaa_fail(LOAA_ERR_LIMIT, "%s:%d:%d: more than %d YAML nodes", b->file, line, col, LOAA_SWEEP_MAX_NODES);
    const yaml_char_t *a = seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
    b->pending_anchor[b->depth] = a ? strdup((const char *)a) : NULL;
    b->stack[b->depth++] = node;
    return LOAA_OK;
}

/* A sequence or mapping closes: popped (*node) and its anchor registered. */
static loaa_status collection_end(tree_builder *b, ynode **node)
{
    assert(b->depth > 0);
    loaa_status st = LOAA_OK;
    *node = b->stack[--b->depth];
    if (b->pending_anchor[b->depth]) {
        st = add_anchor(b->t, b->pending_anchor[b->depth], *node);
        free(b->pending_anchor[b->depth]);
        b->pending_anchor[b->depth] = NULL;
    }
    return st;
}

/* A finished node: its anchor registered, then a child of the open collection, or the root. */
static loaa_status attach(tree_builder *b, ynode *node, const char *anchor_name)
{
    loaa_status st = anchor_name ? add_anchor(b->t, anchor_name, node) : LOAA_OK;
    if (st)
        return st;
    if (b->depth == 0) {
        b->t->root = node;
        return LOAA_OK;
    }
    return add_kid(b->stack[b->depth - 1], node) ? loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory") : LOAA_OK;
}

/* One parser event into the tree. */
static loaa_status tree_event(tree_builder *b, const yaml_event_t *ev)
{
    loaa_status st = LOAA_OK;
    ynode *node = NULL;
    const char *anchor_name = NULL;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    switch (ev->type) {
    case YAML_STREAM_END_EVENT: b->done = 1; break;
    case YAML_DOCUMENT_START_EVENT:
        if (++b->docs > 1)
            st = loaa_fail(LOAA_ERR_PARSE, "%s:%d:%d: a sweep file holds one YAML document", b->file, line, col);
        break;
    case YAML_ALIAS_EVENT:
        node = find_anchor(b->t, (const char *)ev->data.alias.anchor);
        if (!node)
            st = loaa_fail(LOAA_ERR_PARSE, "%s:%d:%d: alias *%s names no finished anchor", b->file, line, col,
                           (const char *)ev->data.alias.anchor);
        break;
    case YAML_SCALAR_EVENT:
        st = scalar_event(b, ev, line, col, &node);
        anchor_name = (const char *)ev->data.scalar.anchor;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: st = collection_start(b, ev, line, col); break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: st = collection_end(b, &node); break;
    default: break;
    }
    return !st && node ? attach(b, node, anchor_name) : st;
}

/*
 * Builds the tree. Anchors register when their node is complete, so an alias
 * can only name a finished node: no cycles. Aliases share nodes (no copies);
 * what they could multiply is bounded later by the walk budget.
 */
static loaa_status build_tree(ytree *t, const char *file, const char *text, size_t len)
{
    yaml_parser_t p;
    yaml_event_t ev;
    loaa_status st = LOAA_OK;
    tree_builder b = {.t = t, .file = file};
    if (!yaml_parser_initialize(&p))
        return loaa_fail(LOAA_ERR_NOMEM, "%s: cannot start the YAML parser", file);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!b.done && !st) {
        if (!yaml_parser_parse(&p, &ev)) {
            st = loaa_fail(LOAA_ERR_PARSE, "%s:%d:%d: YAML syntax: %s%s%s", file, (int)p.problem_mark.line + 1,
                           (int)p.problem_mark.column + 1, p.problem ? p.problem : "error", p.context ? " " : "",
                           p.context ? p.context : "");
            break;
        }
        st = tree_event(&b, &ev);
        yaml_event_delete(&ev);
    }
    while (b.depth > 0)
        free(b.pending_anchor[--b.depth]);
    yaml_parser_delete(&p);
    if (!st && !t->root)
        st = loaa_fail(LOAA_ERR_PARSE, "%s:1:1: empty sweep file", file);
    return st;
}

/* ---- node helpers ---- */

typedef struct ctx {
    const char *file;
    long budget; /* nodes a value walk may still visit: bounds alias expansion */
} ctx;

static loaa_status at(const ctx *c, const ynode *n, loaa_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static loaa_status at(const ctx *c, const ynode *n, loaa_status st, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return loaa_fail(st, "%s:%d:%d: %s", c->file, n->line, n->col, msg);
}

static const char *kind_words(const ynode *n)
{
    return n->kind == Y_MAP ? "a mapping" : n->kind == Y_SEQ ? "a list" : "a scalar";
}

/* The error for the mapping key at kids[i] of n that repeats an earlier key (value mappings, as check_map does elsewhere). */
static loaa_status duplicate_in_value(const ctx *c, const ynode *n, size_t i)
{
    const ynode *k = n->kids[i];
    size_t first = 0;
    while (first < i && (n->kids[first]->kind != Y_SCALAR || strcmp(n->kids[first]->text, k->text)))
        first += 2;
    return at(c, k, LOAA_ERR_CONFIG, "duplicate key '%s' in a value (first at line %d)", k->text, n->kids[first]->line);
}

/* The JSON value of a node: plain scalars by the YAML 1.2 core schema, quoted ones as strings. */
static loaa_status to_json(ctx *c, const ynode *n, int depth, json_t **out)
{
    *out = NULL;
    if (--c->budget < 0)
        return at(c, n, LOAA_ERR_LIMIT, "value expands to too many nodes (YAML alias bomb?)");
    if (depth > LOAA_SWEEP_MAX_DEPTH)
        return at(c, n, LOAA_ERR_LIMIT, "value nested deeper than %d levels", LOAA_SWEEP_MAX_DEPTH);
    if (n->kind == Y_SCALAR) {
        int core = n->plain && !n->str_tag;
        *out = core ? loaa_core_scalar(n->text) : json_string(n->text);
        if (*out)
            return LOAA_OK;
        json_t *as_text = core ? json_string(n->text) : NULL;
        json_decref(as_text);
        /* A plain scalar that is valid text but no JSON value is a float the core schema reads as non-finite. */
        if (as_text)
            return at(c, n, LOAA_ERR_CONFIG, "value '%s' must be a finite number (.nan, .inf and numbers beyond 1.8e308 are not)", n->text);
        return at(c, n, LOAA_ERR_PARSE, "not valid UTF-8 text");
    }
    json_t *v = n->kind == Y_SEQ ? json_array() : json_object();
    if (!v)
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    loaa_status st = LOAA_OK;
    if (n->kind == Y_SEQ) {
        for (size_t i = 0; i < n->n && !st; i++) {
            json_t *item;
            if (!(st = to_json(c, n->kids[i], depth + 1, &item)))
                json_array_append_new(v, item);
        }
    } else {
        for (size_t i = 0; i + 1 < n->n && !st; i += 2) {
            const ynode *k = n->kids[i];
            if (k->kind != Y_SCALAR) {
                st = at(c, k, LOAA_ERR_PARSE, "mapping keys must be scalars");
                break;
            }
            if (json_object_get(v, k->text)) {
                st = duplicate_in_value(c, n, i);
                break;
            }
            json_t *item;
            if (!(st = to_json(c, n->kids[i + 1], depth + 1, &item)) && json_object_set_new(v, k->text, item))
                st = at(c, k, LOAA_ERR_PARSE, "mapping key is not valid UTF-8 text");
        }
    }
    if (st) {
        json_decref(v);
        return st;
    }
    *out = v;
    return LOAA_OK;
}

/* A mapping key and its index among the mapping's kids. */
typedef struct key_pos {
    const char *text;
    size_t index;
} key_pos;

/* Orders keys by text, then by position. */
static int by_key_then_position(const void *a, const void *b)
{
    const key_pos *x = a, *y = b;
    int d = strcmp(x->text, y->text);
    return d ? d : (x->index > y->index) - (x->index < y->index);
}

/*
 * The earliest scalar key of mapping n that repeats an earlier one: its kids
 * index in *dup and the first occurrence's in *first (n->n when none), in
 * O(n log n) by sorting the keys (a pairwise scan was quadratic: 34 s for 99k
 * keys). Fails only for memory.
 */
static loaa_status find_duplicate_key(const ynode *n, size_t *dup, size_t *first)
{
    size_t count = 0;
    key_pos *keys = malloc((n->n / 2 + 1) * sizeof *keys);
    *dup = *first = n->n;
    if (!keys)
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    for (size_t i = 0; i + 1 < n->n; i += 2)
        if (n->kids[i]->kind == Y_SCALAR)
            keys[count++] = (key_pos){n->kids[i]->text, i};
    qsort(keys, count, sizeof *keys, by_key_then_position);
    for (size_t g = 0; g < count;) {
        size_t e = g + 1;
        while (e < count && !strcmp(keys[g].text, keys[e].text))
            e++;
        if (e > g + 1 && keys[g + 1].index < *dup) {
            *dup = keys[g + 1].index;
            *first = keys[g].index;
        }
        g = e;
    }
    free(keys);
    return LOAA_OK;
}

/* Checks a mapping: scalar keys, no duplicates, every key among `allowed`; the first offence in file order is reported. */
static loaa_status check_map(const ctx *c, const ynode *n, const char *what, const char *const *allowed)
{
    if (n->kind != Y_MAP)
        return at(c, n, LOAA_ERR_CONFIG, "%s must be a mapping, got %s", what, kind_words(n));
    size_t dup, first;
    loaa_status st = find_duplicate_key(n, &dup, &first);
    if (st)
        return st;
    for (size_t i = 0; i + 1 < n->n; i += 2) {
        const ynode *k = n->kids[i];
        if (k->kind != Y_SCALAR)
            return at(c, k, LOAA_ERR_CONFIG, "%s: keys must be scalars", what);
        if (i == dup)
            return at(c, k, LOAA_ERR_CONFIG, "%s: duplicate key '%s' (first at line %d)", what, k->text, n->kids[first]->line);
        if (allowed) {
            int ok = 0;
            char list[512] = "";
            for (int a = 0; allowed[a]; a++) {
                if (!strcmp(allowed[a], k->text))
                    ok = 1;
                strncat(list, a ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, allowed[a], sizeof list - strlen(list) - 1);
            }
            if (!ok)
                return at(c, k, LOAA_ERR_CONFIG, "%s: unknown key '%s' (expected %s)", what, k->text, list);
        }
    }
    return LOAA_OK;
}

static const ynode *map_get(const ynode *n, const char *key, const ynode **key_node)
{
    for (size_t i = 0; n && n->kind == Y_MAP && i + 1 < n->n; i += 2)
        if (n->kids[i]->kind == Y_SCALAR && !strcmp(n->kids[i]->text, key)) {
            if (key_node)
                *key_node = n->kids[i];
            return n->kids[i + 1];
        }
    return NULL;
}

static loaa_status get_string(ctx *c, const ynode *n, const char *what, char *out, size_t cap)
{
    json_t *v;
    loaa_status st;
    if (n->kind != Y_SCALAR)
        return at(c, n, LOAA_ERR_CONFIG, "%s must be text, got %s", what, kind_words(n));
    if ((st = to_json(c, n, 0, &v)))
        return st;
    if (!json_is_string(v) || !json_string_value(v)[0]) {
        json_decref(v);
        return at(c, n, LOAA_ERR_CONFIG, "%s must be non-empty text, got '%s'", what, n->text);
    }
    if (strlen(json_string_value(v)) >= cap) {
        json_decref(v);
        return at(c, n, LOAA_ERR_LIMIT, "%s longer than %zu characters", what, cap - 1);
    }
    snprintf(out, cap, "%s", json_string_value(v));
    json_decref(v);
    return LOAA_OK;
}

static loaa_status get_int(ctx *c, const ynode *n, const char *what, long long lo, long long hi, long long *out)
{
    json_t *v;
    loaa_status st;
    if (n->kind != Y_SCALAR)
        return at(c, n, LOAA_ERR_CONFIG, "%s must be an integer, got %s", what, kind_words(n));
    if ((st = to_json(c, n, 0, &v)))
        return st;
    int ok = json_is_integer(v);
    long long x = ok ? (long long)json_integer_value(v) : 0;
    json_decref(v);
    if (!ok)
        return at(c, n, LOAA_ERR_CONFIG, "%s must be an integer, got '%s'", what, n->text);
    if (x < lo || x > hi)
        return at(c, n, LOAA_ERR_CONFIG, "%s must be between %lld and %lld, got %lld", what, lo, hi, x);
    *out = x;
    return LOAA_OK;
}

static loaa_status get_number(ctx *c, const ynode *n, const char *what, double *out)
{
    json_t *v;
    loaa_status st;
    if (n->kind != Y_SCALAR)
        return at(c, n, LOAA_ERR_CONFIG, "%s must be a number, got %s", what, kind_words(n));
    if ((st = to_json(c, n, 0, &v)))
        return st;
    int ok = json_is_number(v) && isfinite(json_number_value(v));
    double x = ok ? json_number_value(v) : 0;
    json_decref(v);
    if (!ok)
        return at(c, n, LOAA_ERR_CONFIG, "%s must be a finite number, got '%s'", what, n->text);
    *out = x;
    return LOAA_OK;
}

/* ---- the sweep ---- */

/* How a sample is drawn: from the listed values, or a continuous shape (then optionally quantized by q). */
typedef enum pkind { P_VALUES, P_UNIFORM, P_LOG_UNIFORM, P_INT_UNIFORM, P_INV_LOG_UNIFORM, P_NORMAL, P_LOG_NORMAL } pkind;

typedef struct param {
    char name[LOAA_NAME_MAX];
    pkind kind;
    int axis;          /* datasets/folds/seeds: crossed even in random sweeps */
    json_t *values;    /* P_VALUES (also categorical) */
    int *lines, *cols; /* mark of each value */
    double min, max;   /* the sample's range (normal shapes: truncation, default mu -/+ 8 sigma) */
    double q;          /* > 0: samples are multiples of q within [min, max] (the q_ distributions) */
    double mu, sigma;  /* normal and log_normal (of log x) */
    int integer;       /* the key takes integers: samples are emitted as integers */
    int line, col;     /* mark of the parameter */
    /* Conditional ({by: KEY, cases: {VALUE: SPEC, ...}, default: SPEC}): n_cases > 0, the default (if any) last. */
    char by_name[LOAA_NAME_MAX];
    int by;                 /* index of the condition's parameter (resolved after all are read) */
    int by_line, by_col;
    struct param *cases;    /* each a whole spec of this key */
    json_t *labels;         /* the case values (core schema); null for the default */
    int *label_lines, *label_cols;
    size_t n_cases;
    int has_default;
    int *case_of;           /* per value index of the condition: its case, or -1 (the key is left at its default) */
} param;

typedef struct file_hash {
    char *path;   /* as written (datasets) or resolved (backbones) */
    char *ref;    /* chained backbone: the sweep name; else NULL */
    char sha[65];
    int resolved;
    int line, col;
} file_hash;

struct loaa_sweep {
    char *file, *text;
    char name[256], method[16], metric[32], goal[16], select_on[LOAA_NAME_MAX];
    int random, ranks_per_trial, max_attempts, check_files;
    int64_t run_cap;
    loaa_early_terminate early;
    param *params;
    size_t n_params;
    file_hash *datasets, *backbones;
    size_t n_datasets, n_backbones;
    const char **ref_names;
    size_t n_refs;
    int params_line, params_col;
};

static const char *const top_keys[] = {"name", "description", "method", "metric", "run_cap", "parameters", "datasets", "seeds",
                                       "folds", "ranks_per_trial", "max_attempts", "early_terminate", NULL};

/* Frees what a parameter holds (its cases too), not the struct itself. */
static void param_free(param *p)
{
    json_decref(p->values);
    free(p->lines);
    free(p->cols);
    for (size_t i = 0; p->cases && i < p->n_cases; i++)
        param_free(&p->cases[i]);
    free(p->cases);
    json_decref(p->labels);
    free(p->label_lines);
    free(p->label_cols);
    free(p->case_of);
}

void loaa_sweep_free(loaa_sweep *sw)
{
    if (!sw)
        return;
    for (size_t i = 0; i < sw->n_params; i++)
        param_free(&sw->params[i]);
    free(sw->params);
    for (size_t i = 0; i < sw->n_datasets; i++)
        free(sw->datasets[i].path);
    for (size_t i = 0; i < sw->n_backbones; i++) {
        free(sw->backbones[i].path);
        free(sw->backbones[i].ref);
    }
    free(sw->datasets);
    free(sw->backbones);
    free(sw->ref_names);
    free(sw->file);
    free(sw->text);
    free(sw);
}

static param *new_param(loaa_sweep *sw, const char *name, const ynode *mark)
{
    param *p = realloc(sw->params, (sw->n_params + 1) * sizeof *p);
    if (!p)
        return NULL;
    sw->params = p;
    p = &sw->params[sw->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->line = mark->line;
    p->col = mark->col;
    p->by = -1;
    p->values = json_array();
    return p->values ? p : NULL;
}

static param *find_param(loaa_sweep *sw, const char *name)
{
    for (size_t i = 0; i < sw->n_params; i++)
        if (!strcmp(sw->params[i].name, name))
            return &sw->params[i];
    return NULL;
}

/* Appends one value after checking it against the key table on a scratch config. */
static loaa_status add_value(ctx *c, param *p, const ynode *n, json_t *v)
{
    loaa_config scratch;
    loaa_config_defaults(&scratch);
    loaa_status st = loaa_config_set_json(&scratch, p->name, v);
    if (st) {
        json_decref(v);
        return loaa_fail_prefix(st, "%s:%d:%d: ", c->file, n->line, n->col);
    }
    size_t i = json_array_size(p->values);
    int *lines = realloc(p->lines, (i + 1) * sizeof *lines);
    if (lines)
        p->lines = lines;
    int *cols = realloc(p->cols, (i + 1) * sizeof *cols);
    if (cols)
        p->cols = cols;
    if (!lines || !cols || json_array_append_new(p->values, v))
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    p->lines[i] = n->line;
    p->cols[i] = n->col;
    return LOAA_OK;
}

static loaa_status add_values_from_list(ctx *c, param *p, const ynode *list, const char *what)
{
    loaa_status st;
    if (list->kind != Y_SEQ)
        return at(c, list, LOAA_ERR_CONFIG, "%s must be a list, got %s", what, kind_words(list));
    if (list->n == 0)
        return at(c, list, LOAA_ERR_CONFIG, "%s is empty: give at least one value", what);
    for (size_t i = 0; i < list->n; i++) {
        json_t *v;
        if ((st = to_json(c, list->kids[i], 0, &v)) || (st = add_value(c, p, list->kids[i], v)))
            return st;
    }
    return LOAA_OK;
}

static const char *const param_keys[] = {"value", "values", "distribution", "min", "max", "q", "mu", "sigma", NULL};

/* The W&B distributions (docs.wandb.ai, sweep configuration keys) and how each is drawn here. */
typedef struct dist_info {
    const char *name;
    pkind kind;
    int quantized;   /* q_ form: q (default 1) */
    int exp_bounds;  /* log_uniform, inv_log_uniform: min and max are natural logs of the range */
} dist_info;

static const dist_info dists[] = {
    {"uniform", P_UNIFORM, 0, 0},
    {"q_uniform", P_UNIFORM, 1, 0},
    {"int_uniform", P_INT_UNIFORM, 0, 0},
    {"log_uniform", P_LOG_UNIFORM, 0, 1},
    {"log_uniform_values", P_LOG_UNIFORM, 0, 0},
    {"q_log_uniform", P_LOG_UNIFORM, 1, 1},
    {"q_log_uniform_values", P_LOG_UNIFORM, 1, 0},
    {"inv_log_uniform", P_INV_LOG_UNIFORM, 0, 1},
    {"inv_log_uniform_values", P_INV_LOG_UNIFORM, 0, 0},
    {"normal", P_NORMAL, 0, 0},
    {"q_normal", P_NORMAL, 1, 0},
    {"log_normal", P_LOG_NORMAL, 0, 0},
    {"q_log_normal", P_LOG_NORMAL, 1, 0},
};

#define DIST_NAMES                                                                                                              \
    "categorical (with values), constant (with value), uniform, q_uniform, int_uniform, log_uniform, log_uniform_values, "    \
    "q_log_uniform, q_log_uniform_values, inv_log_uniform, inv_log_uniform_values, normal, q_normal, log_normal, q_log_normal"

/* x moved onto the grid of multiples of q inside [lo, hi] (round, then one step inward if rounding left the range). */
static double quantize(double x, double q, double lo, double hi)
{
    double k = round(x / q);
    if (k * q < lo)
        k += 1;
    if (k * q > hi)
        k -= 1;
    return k * q;
}

/* The value of the key for a number x (an integer for integer keys). */
static json_t *number_value(const param *p, double x)
{
    return p->integer ? json_integer((json_int_t)llround(x)) : json_real(x);
}

/* Checks that the key accepts x, citing n's position. */
static loaa_status key_accepts(ctx *c, const param *p, const ynode *n, double x)
{
    json_t *v = number_value(p, x);
    loaa_config scratch;
    loaa_config_defaults(&scratch);
    loaa_status st = v ? loaa_config_set_json(&scratch, p->name, v) : loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    json_decref(v);
    return st ? loaa_fail_prefix(st, "%s:%d:%d: ", c->file, n->line, n->col) : LOAA_OK;
}

/* An optional number of a distribution into *out (left as it is when absent). */
static loaa_status optional_number(ctx *c, const ynode *spec, const char *key, double *out)
{
    const ynode *n = map_get(spec, key, NULL);
    return n ? get_number(c, n, key, out) : LOAA_OK;
}

/* The range [min, max] of a distribution from its keys: given, or from mu/sigma for the normal shapes. */
static loaa_status dist_range(ctx *c, param *p, const dist_info *d, const ynode *spec)
{
    loaa_status st;
    const ynode *mn = map_get(spec, "min", NULL), *mx = map_get(spec, "max", NULL);
    const char *name = p->name;
    if (p->kind == P_NORMAL || p->kind == P_LOG_NORMAL) {
        p->mu = 0;
        p->sigma = 1;
        if ((st = optional_number(c, spec, "mu", &p->mu)) || (st = optional_number(c, spec, "sigma", &p->sigma)))
            return st;
        if (!(p->sigma > 0))
            return at(c, map_get(spec, "sigma", NULL), LOAA_ERR_CONFIG, "parameter '%s': sigma must be > 0", name);
        p->min = p->mu - 8 * p->sigma;
        p->max = p->mu + 8 * p->sigma;
        if (p->kind == P_LOG_NORMAL) {
            p->min = exp(p->min);
            p->max = exp(p->max);
        }
        if ((st = optional_number(c, spec, "min", &p->min)) || (st = optional_number(c, spec, "max", &p->max)))
            return st;
        if (!isfinite(p->max))
            return at(c, spec, LOAA_ERR_CONFIG, "parameter '%s': %s reaches infinity: give max", name, d->name);
    } else {
        if (map_get(spec, "mu", NULL) || map_get(spec, "sigma", NULL))
            return at(c, spec, LOAA_ERR_CONFIG, "parameter '%s': mu and sigma belong to normal, q_normal, log_normal, q_log_normal", name);
        if (!mn || !mx)
            return at(c, spec, LOAA_ERR_CONFIG, "parameter '%s': distribution %s needs min and max", name, d->name);
        if ((st = get_number(c, mn, "min", &p->min)) || (st = get_number(c, mx, "max", &p->max)))
            return st;
        if (d->exp_bounds) {
            p->min = exp(p->min);
            p->max = exp(p->max);
            if (!isfinite(p->max) || p->min <= 0)
                return at(c, mx, LOAA_ERR_CONFIG, "parameter '%s': %s takes natural logs as min and max; exp() of them is out of range",
                          name, d->name);
        }
    }
    if (!(p->min <= p->max))
        return at(c, mx ? mx : spec, LOAA_ERR_CONFIG, "parameter '%s': max %g is below min %g", name, p->max, p->min);
    if ((p->kind == P_LOG_UNIFORM || p->kind == P_INV_LOG_UNIFORM) && p->min <= 0)
        return at(c, mn, LOAA_ERR_CONFIG, "parameter '%s': %s needs min > 0", name, d->name);
    if (p->kind == P_LOG_NORMAL && p->min < 0)
        return at(c, mn, LOAA_ERR_CONFIG, "parameter '%s': log_normal samples are positive; min must be >= 0", name);
    if (p->kind == P_INT_UNIFORM && (p->min != floor(p->min) || p->max != floor(p->max)))
        return at(c, mn, LOAA_ERR_CONFIG, "parameter '%s': int_uniform needs integer min and max", name);
    return LOAA_OK;
}

/* {distribution: D, ...} other than categorical/constant: the shape, its range, q, and the key's acceptance of both ends. */
static loaa_status parse_distribution(ctx *c, loaa_sweep *sw, param *p, const ynode *spec, const ynode *dist, const char *dname)
{
    loaa_status st;
    const dist_info *d = NULL;
    for (size_t i = 0; i < sizeof dists / sizeof dists[0]; i++)
        if (!strcmp(dists[i].name, dname))
            d = &dists[i];
    if (!d)
        return at(c, dist, LOAA_ERR_CONFIG, "parameter '%s': unknown distribution '%s' (supported: " DIST_NAMES ")", p->name, dname);
    if (!sw->random)
        return at(c, dist, LOAA_ERR_CONFIG,
                  "parameter '%s': a distribution needs 'method: random' (grid sweeps take value/values)", p->name);
    p->kind = d->kind;
    const loaa_key_info *key = loaa_config_key(p->name);
    p->integer = d->kind == P_INT_UNIFORM || (key && key->type == LOAA_KEY_INT);
    if ((st = dist_range(c, p, d, spec)))
        return st;
    const ynode *qn = map_get(spec, "q", NULL);
    if (qn && !d->quantized)
        return at(c, qn, LOAA_ERR_CONFIG, "parameter '%s': q belongs to the q_ distributions, not %s", p->name, d->name);
    if (d->quantized) {
        p->q = 1;
        if (qn && (st = get_number(c, qn, "q", &p->q)))
            return st;
        if (!(p->q > 0) || (p->integer && p->q != floor(p->q)))
            return at(c, qn ? qn : spec, LOAA_ERR_CONFIG, "parameter '%s': q must be %s", p->name,
                      p->integer ? "a positive integer (the key takes integers)" : "> 0");
        double lo = ceil(p->min / p->q) * p->q, hi = floor(p->max / p->q) * p->q;
        if (lo > hi)
            return at(c, spec, LOAA_ERR_CONFIG, "parameter '%s': no multiple of q %g lies in [%g, %g]", p->name, p->q, p->min, p->max);
        p->min = lo;
        p->max = hi;
    } else if (p->integer && d->kind != P_INT_UNIFORM) {
        return at(c, dist, LOAA_ERR_CONFIG, "parameter '%s' takes integers: use int_uniform or a q_ distribution with an integer q",
                  p->name);
    }
    /* Both ends must be acceptable values of the key, so no sample can fail later. */
    const ynode *mn = map_get(spec, "min", NULL), *mx = map_get(spec, "max", NULL);
    if (!(st = key_accepts(c, p, mn ? mn : spec, p->min)))
        st = key_accepts(c, p, mx ? mx : spec, p->max);
    if (!st || (mn && mx))
        return st;
    return loaa_fail_prefix(st, "(the range of %s, mu -/+ 8 sigma unless min/max bound it) ", d->name);
}

static loaa_status parse_spec(ctx *c, loaa_sweep *sw, param *p, const ynode *spec);

/* One case of a conditional parameter: a spec, or the shorthands [V, ...] (values) and V (value). */
static loaa_status parse_case(ctx *c, loaa_sweep *sw, param *p, const ynode *spec)
{
    json_t *v;
    loaa_status st;
    if (spec->kind == Y_SEQ)
        return add_values_from_list(c, p, spec, "a case's values");
    if (spec->kind == Y_SCALAR)
        return (st = to_json(c, spec, 0, &v)) ? st : add_value(c, p, spec, v);
    if (map_get(spec, "by", NULL))
        return at(c, spec, LOAA_ERR_CONFIG, "parameter '%s': a case cannot itself be conditional (one 'by' per parameter)", p->name);
    return parse_spec(c, sw, p, spec);
}

/* A new case of p (its spec still to read), marked at n. */
static param *new_case(param *p, const ynode *n)
{
    param *k = &p->cases[p->n_cases++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", p->name);
    k->by = -1;
    k->line = n->line;
    k->col = n->col;
    k->values = json_array();
    return k->values ? k : NULL;
}

/*
 * {by: KEY, cases: {VALUE: SPEC, ...}, default: SPEC}: p's spec depends on
 * the value KEY takes in the trial. KEY and the case values are checked
 * once every parameter is read (resolve_conditions).
 */
static loaa_status parse_conditional(ctx *c, loaa_sweep *sw, param *p, const ynode *spec)
{
    static const char *const keys[] = {"by", "cases", "default", NULL};
    loaa_status st;
    const ynode *by = map_get(spec, "by", NULL), *cases = map_get(spec, "cases", NULL), *dflt = map_get(spec, "default", NULL);
    if ((st = check_map(c, spec, p->name, keys)) || (st = get_string(c, by, "by", p->by_name, sizeof p->by_name)))
        return st;
    p->by_line = by->line;
    p->by_col = by->col;
    if (!cases)
        return at(c, spec, LOAA_ERR_CONFIG, "parameter '%s': by needs cases: {VALUE: [...], ...}", p->name);
    if ((st = check_map(c, cases, "cases", NULL)))
        return st;
    if (cases->n == 0)
        return at(c, cases, LOAA_ERR_CONFIG, "parameter '%s': cases is empty", p->name);
    /* Cases are matched to the condition's values pairwise (resolve_condition): bounded so that stays fast. */
    if (cases->n / 2 > LOAA_SWEEP_MAX_CASES)
        return at(c, cases, LOAA_ERR_LIMIT, "parameter '%s': more than %d cases", p->name, LOAA_SWEEP_MAX_CASES);
    size_t n = cases->n / 2 + !!dflt;
    p->cases = calloc(n, sizeof *p->cases);
    p->label_lines = calloc(n, sizeof *p->label_lines);
    p->label_cols = calloc(n, sizeof *p->label_cols);
    p->labels = json_array();
    if (!p->cases || !p->label_lines || !p->label_cols || !p->labels)
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    for (size_t i = 0; i + 1 < cases->n; i += 2) {
        const ynode *label = cases->kids[i];
        json_t *v;
        param *k = new_case(p, cases->kids[i + 1]);
        if (!k)
            return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
        p->label_lines[p->n_cases - 1] = label->line;
        p->label_cols[p->n_cases - 1] = label->col;
        if ((st = to_json(c, label, 0, &v)))
            return st;
        if (json_array_append_new(p->labels, v))
            return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
        if ((st = parse_case(c, sw, k, cases->kids[i + 1])))
            return st;
    }
    if (dflt) {
        param *k = new_case(p, dflt);
        if (!k || json_array_append_new(p->labels, json_null()))
            return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
        p->label_lines[p->n_cases - 1] = dflt->line;
        p->label_cols[p->n_cases - 1] = dflt->col;
        p->has_default = 1;
        return parse_case(c, sw, k, dflt);
    }
    return LOAA_OK;
}

static loaa_status parse_parameter(ctx *c, loaa_sweep *sw, const ynode *key, const ynode *spec)
{
    const char *name = key->text;
    if (!loaa_config_key(name))
        return at(c, key, LOAA_ERR_CONFIG, "parameters: unknown key '%s' (see 'loaa help keys')", name);
    if (!strcmp(name, "ranks_per_trial"))
        return at(c, key, LOAA_ERR_CONFIG, "ranks_per_trial is one value per sweep: set it at the top level, not under parameters");
    if (!strcmp(name, "dataset"))
        return at(c, key, LOAA_ERR_CONFIG, "datasets are an axis: write 'datasets: [PATH, ...]' at the top level");
    if (spec->kind != Y_MAP)
        return at(c, spec, LOAA_ERR_CONFIG,
                  "parameter '%s': expected {value: X}, {values: [...]}, {distribution, min, max} or {by, cases, default}, got %s",
                  name, kind_words(spec));
    param *p = new_param(sw, name, key);
    if (!p)
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    p->by = -1;
    return map_get(spec, "by", NULL) ? parse_conditional(c, sw, p, spec) : parse_spec(c, sw, p, spec);
}

/* One spec of p (a map): value, values, or a distribution with its keys. */
static loaa_status parse_spec(ctx *c, loaa_sweep *sw, param *p, const ynode *spec)
{
    loaa_status st;
    const char *name = p->name;
    if ((st = check_map(c, spec, name, param_keys)))
        return st;
    const ynode *value = map_get(spec, "value", NULL), *values = map_get(spec, "values", NULL);
    const ynode *dist = map_get(spec, "distribution", NULL);
    char dname[32] = "";
    if (dist && (st = get_string(c, dist, "distribution", dname, sizeof dname)))
        return st;
    int listed = !strcmp(dname, "categorical") || !strcmp(dname, "constant");
    int ranged = map_get(spec, "min", NULL) || map_get(spec, "max", NULL) || map_get(spec, "q", NULL) || map_get(spec, "mu", NULL) ||
                 map_get(spec, "sigma", NULL);
    if (!!value + !!values + ((dist && !listed) || ranged) != 1)
        return at(c, spec, LOAA_ERR_CONFIG, "parameter '%s': give exactly one of value, values, or a distribution with its keys", name);
    if (dist && listed && !(values && !strcmp(dname, "categorical")) && !(value && !strcmp(dname, "constant")))
        return at(c, dist, LOAA_ERR_CONFIG, "parameter '%s': distribution %s takes %s", name, dname,
                  strcmp(dname, "categorical") ? "value: X" : "values: [...]");
    if (value) {
        json_t *v;
        if ((st = to_json(c, value, 0, &v)))
            return st;
        return add_value(c, p, value, v);
    }
    if (values)
        return add_values_from_list(c, p, values, "values");
    if (!dist)
        return at(c, spec, LOAA_ERR_CONFIG, "parameter '%s': min/max need a distribution (supported: " DIST_NAMES ")", name);
    return parse_distribution(c, sw, p, spec, dist, dname);
}

static loaa_status parse_axis(ctx *c, loaa_sweep *sw, const ynode *key, const ynode *list, const char *pname)
{
    if (find_param(sw, pname))
        return at(c, key, LOAA_ERR_CONFIG, "'%s' is given both as an axis and under parameters", pname);
    param *p = new_param(sw, pname, key);
    if (!p)
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    p->axis = 1;
    return add_values_from_list(c, p, list, key->text);
}

static loaa_status hash_dataset(ctx *c, loaa_sweep *sw, const char *path, int line, int col)
{
    for (size_t i = 0; i < sw->n_datasets; i++)
        if (!strcmp(sw->datasets[i].path, path))
            return LOAA_OK;
    file_hash *d = realloc(sw->datasets, (sw->n_datasets + 1) * sizeof *d);
    if (!d)
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    sw->datasets = d;
    d = &sw->datasets[sw->n_datasets];
    memset(d, 0, sizeof *d);
    if (!(d->path = strdup(path)))
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    sw->n_datasets++;
    d->line = line;
    d->col = col;
    if (sw->check_files) {
        char manifest[LOAA_PATH_MAX + 32];
        snprintf(manifest, sizeof manifest, "%s/dataset.json", path);
        if (loaa_sha256_file(manifest, d->sha))
            return loaa_fail(LOAA_ERR_NOTFOUND, "%s:%d:%d: dataset '%s': no readable %s (make one with 'loaa pack' or 'loaa synth')",
                             c->file, line, col, path, manifest);
        d->resolved = 1;
    }
    return LOAA_OK;
}

static loaa_status note_backbone(ctx *c, loaa_sweep *sw, const json_t *v, int line, int col)
{
    loaa_config scratch;
    loaa_config_defaults(&scratch);
    if (loaa_config_set_json(&scratch, "backbone", v) || scratch.backbone_kind == LOAA_BACKBONE_NONE)
        return LOAA_OK;
    int chained = scratch.backbone_kind == LOAA_BACKBONE_SWEEP;
    for (size_t i = 0; i < sw->n_backbones; i++)
        if (!strcmp(chained ? (sw->backbones[i].ref ? sw->backbones[i].ref : "") : sw->backbones[i].path, scratch.backbone) &&
            !!sw->backbones[i].ref == chained)
            return LOAA_OK;
    file_hash *b = realloc(sw->backbones, (sw->n_backbones + 1) * sizeof *b);
    if (!b)
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    sw->backbones = b;
    b = &sw->backbones[sw->n_backbones];
    memset(b, 0, sizeof *b);
    b->line = line;
    b->col = col;
    if (chained) {
        if (!strcmp(scratch.backbone, sw->name))
            return loaa_fail(LOAA_ERR_CONFIG, "%s:%d:%d: backbone: a sweep cannot take its backbone from itself", c->file, line, col);
        b->ref = strdup(scratch.backbone);
        b->path = strdup("");
    } else {
        b->path = strdup(scratch.backbone);
    }
    if (!b->path || (chained && !b->ref))
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    sw->n_backbones++;
    if (!chained && sw->check_files) {
        if (loaa_sha256_file(b->path, b->sha))
            return loaa_fail(LOAA_ERR_NOTFOUND, "%s:%d:%d: backbone '%s': cannot read the file", c->file, line, col, b->path);
        b->resolved = 1;
    }
    if (chained) {
        const char **names = realloc(sw->ref_names, (sw->n_refs + 1) * sizeof *names);
        if (!names)
            return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
        sw->ref_names = names;
        sw->ref_names[sw->n_refs++] = b->ref;
    }
    return LOAA_OK;
}

/* early_terminate group_by: a list of distinct identity keys other than seed (coordinator/prune.h). */
static loaa_status parse_group_by(ctx *c, loaa_early_terminate *et, const ynode *list)
{
    loaa_status st;
    if (list->kind != Y_SEQ)
        return at(c, list, LOAA_ERR_CONFIG, "early_terminate group_by: expected a list of trial keys, e.g. [dataset, fold, method, backbone]");
    if (list->n > LOAA_GROUP_BY_MAX)
        return at(c, list, LOAA_ERR_CONFIG, "early_terminate group_by: at most %d keys", LOAA_GROUP_BY_MAX);
    et->n_group_by = 0;
    for (size_t i = 0; i < list->n; i++) {
        char *name = et->group_by[et->n_group_by];
        if ((st = get_string(c, list->kids[i], "early_terminate group_by item", name, LOAA_NAME_MAX)))
            return st;
        const loaa_key_info *k = loaa_config_key(name);
        if (!k || !k->identity)
            return at(c, list->kids[i], LOAA_ERR_CONFIG, "early_terminate group_by: '%s' is no identity key (see loaa help keys)", name);
        if (!strcmp(name, "seed"))
            return at(c, list->kids[i], LOAA_ERR_CONFIG,
                      "early_terminate group_by: seeds are never compared with each other: a configuration is judged on the mean of its seeds");
        for (int j = 0; j < et->n_group_by; j++)
            if (!strcmp(et->group_by[j], name))
                return at(c, list->kids[i], LOAA_ERR_CONFIG, "early_terminate group_by: '%s' is named twice", name);
        et->n_group_by++;
    }
    return LOAA_OK;
}

static loaa_status parse_early(ctx *c, loaa_sweep *sw, const ynode *n)
{
    static const char *const keys[] = {"type", "min_epochs", "min_iter", "eta", "group_by", NULL};
    static const char *const default_group_by[] = {"dataset", "fold", "method", "backbone"};
    loaa_status st;
    char type[32];
    long long x;
    if ((st = check_map(c, n, "early_terminate", keys)))
        return st;
    const ynode *t = map_get(n, "type", NULL);
    if (!t)
        return at(c, n, LOAA_ERR_CONFIG, "early_terminate: 'type' is required (median, asha or hyperband)");
    if ((st = get_string(c, t, "early_terminate type", type, sizeof type)))
        return st;
    if (!strcmp(type, "median"))
        sw->early.type = LOAA_EARLY_MEDIAN;
    else if (!strcmp(type, "asha") || !strcmp(type, "hyperband"))
        sw->early.type = LOAA_EARLY_ASHA;
    else
        return at(c, t, LOAA_ERR_CONFIG, "early_terminate: unknown type '%s' (expected median, asha or hyperband)", type);
    sw->early.min_epochs = sw->early.type == LOAA_EARLY_MEDIAN ? 3 : 1;
    sw->early.eta = 3;
    const ynode *m = map_get(n, "min_epochs", NULL);
    const ynode *mi = map_get(n, "min_iter", NULL);
    if (m && mi)
        return at(c, mi, LOAA_ERR_CONFIG, "early_terminate: min_iter is another name for min_epochs; give one");
    if ((m || mi) && (st = get_int(c, m ? m : mi, "early_terminate min_epochs", 1, 100000, &x)))
        return st;
    if (m || mi)
        sw->early.min_epochs = (int)x;
    const ynode *e = map_get(n, "eta", NULL);
    if (e && sw->early.type != LOAA_EARLY_ASHA)
        return at(c, e, LOAA_ERR_CONFIG, "early_terminate: eta belongs to asha/hyperband");
    if (e && (st = get_int(c, e, "early_terminate eta", 2, 1000, &x)))
        return st;
    if (e)
        sw->early.eta = (int)x;
    sw->early.n_group_by = 4;
    for (int i = 0; i < 4; i++)
        snprintf(sw->early.group_by[i], sizeof sw->early.group_by[i], "%s", default_group_by[i]);
    const ynode *g = map_get(n, "group_by", NULL);
    return g ? parse_group_by(c, &sw->early, g) : LOAA_OK;
}

/* method (grid | random) and run_cap (random sweeps need it). */
static loaa_status parse_method(ctx *c, loaa_sweep *sw, const ynode *root)
{
    loaa_status st;
    const ynode *n;
    long long x;
    snprintf(sw->method, sizeof sw->method, "grid");
    if ((n = map_get(root, "method", NULL))) {
        if ((st = get_string(c, n, "method", sw->method, sizeof sw->method)))
            return st;
        if (!strcmp(sw->method, "random"))
            sw->random = 1;
        else if (strcmp(sw->method, "grid"))
            return at(c, n, LOAA_ERR_CONFIG, "unknown method '%s' (expected grid or random)", n->text);
    }
    if ((n = map_get(root, "run_cap", NULL))) {
        if (!sw->random)
            return at(c, n, LOAA_ERR_CONFIG,
                      "run_cap belongs to method random (how many points to sample); a grid runs every point: remove run_cap, "
                      "or use method: random (a grid cut at N trials would leave configurations with some of their seeds)");
        if ((st = get_int(c, n, "run_cap", 1, 100000000, &x)))
            return st;
        sw->run_cap = x;
    } else if (sw->random) {
        return at(c, root, LOAA_ERR_CONFIG, "method random needs run_cap (how many parameter points to sample)");
    }
    return LOAA_OK;
}

/* metric: {name, goal}; default val_acc, maximize (a loss minimizes); a test metric is refused (selection on validation only). */
static loaa_status parse_metric(ctx *c, loaa_sweep *sw, const ynode *root)
{
    loaa_status st;
    const ynode *n;
    snprintf(sw->metric, sizeof sw->metric, "val_acc");
    snprintf(sw->goal, sizeof sw->goal, "maximize");
    if (!(n = map_get(root, "metric", NULL)))
        return LOAA_OK;
    static const char *const keys[] = {"name", "goal", NULL};
    if ((st = check_map(c, n, "metric", keys)))
        return st;
    const ynode *mn = map_get(n, "name", NULL), *mg = map_get(n, "goal", NULL);
    if (!mn)
        return at(c, n, LOAA_ERR_CONFIG, "metric: 'name' is required");
    if ((st = get_string(c, mn, "metric name", sw->metric, sizeof sw->metric)))
        return st;
    if (!loaa_metric_direction(sw->metric))
        return at(c, mn, LOAA_ERR_CONFIG, "metric: unknown name '%s' (expected one of %s)", sw->metric, loaa_metric_names());
    if (loaa_metric_is_test(sw->metric))
        return at(c, mn, LOAA_ERR_CONFIG,
                  "metric: '%s' is a test metric; a sweep selects (best seed, configuration, {best: true}, export --best) on "
                  "validation only: use {name: %s}; test metrics are still reported for what validation chose. "
                  "An existing chained sweep keeps the backbone it resolved (trials.backbone_sha256) unless "
                  "loaa sweep --reselect-backbones",
                  sw->metric, loaa_metric_validation_for(sw->metric));
    if (loaa_metric_direction(sw->metric) < 0)
        snprintf(sw->goal, sizeof sw->goal, "minimize");
    if (mg) {
        if ((st = get_string(c, mg, "metric goal", sw->goal, sizeof sw->goal)))
            return st;
        if (strcmp(sw->goal, "maximize") && strcmp(sw->goal, "minimize"))
            return at(c, mg, LOAA_ERR_CONFIG, "metric: goal must be maximize or minimize, got '%s'", sw->goal);
    }
    return LOAA_OK;
}

/* An optional integer top-level key in [lo, hi] into *out (left as it is when absent). */
static loaa_status parse_top_int(ctx *c, const ynode *root, const char *key, long long lo, long long hi, int *out)
{
    const ynode *n = map_get(root, key, NULL);
    long long x;
    loaa_status st = n ? get_int(c, n, key, lo, hi, &x) : LOAA_OK;
    if (n && !st)
        *out = (int)x;
    return st;
}

/* parameters: each a trial key with {value} / {values} / {distribution, ...}. */
static loaa_status parse_parameters(ctx *c, loaa_sweep *sw, const ynode *root)
{
    loaa_status st;
    const ynode *k;
    const ynode *params = map_get(root, "parameters", &k);
    if (!params) {
        sw->params_line = root->line;
        sw->params_col = root->col;
        return LOAA_OK;
    }
    sw->params_line = k->line;
    sw->params_col = k->col;
    if ((st = check_map(c, params, "parameters", NULL)))
        return st;
    for (size_t i = 0; i + 1 < params->n; i += 2)
        if ((st = parse_parameter(c, sw, params->kids[i], params->kids[i + 1])))
            return st;
    return LOAA_OK;
}

/* The axes datasets (required), folds, seeds: last, seeds innermost, so trials of one configuration run side by side. */
static loaa_status parse_axes(ctx *c, loaa_sweep *sw, const ynode *root)
{
    loaa_status st;
    const ynode *k, *n;
    if (!(n = map_get(root, "datasets", &k)))
        return at(c, root, LOAA_ERR_CONFIG, "'datasets' is required: a list of loaa dataset folders");
    if ((st = parse_axis(c, sw, k, n, "dataset")))
        return st;
    if ((n = map_get(root, "folds", &k)) && (st = parse_axis(c, sw, k, n, "fold")))
        return st;
    if ((n = map_get(root, "seeds", &k)) && (st = parse_axis(c, sw, k, n, "seed")))
        return st;
    return LOAA_OK;
}

/* The identities of the files the sweep names: every dataset hashed, every backbone file hashed or its chain noted. */
static loaa_status identify_files(ctx *c, loaa_sweep *sw)
{
    loaa_status st;
    param *ds = find_param(sw, "dataset");
    assert(ds);
    for (size_t i = 0; i < json_array_size(ds->values); i++)
        if ((st = hash_dataset(c, sw, json_string_value(json_array_get(ds->values, i)), ds->lines[i], ds->cols[i])))
            return st;
    param *bb = find_param(sw, "backbone");
    for (size_t k = 0; bb && k < (bb->n_cases ? bb->n_cases : 1); k++) {
        const param *spec = bb->n_cases ? &bb->cases[k] : bb;
        for (size_t i = 0; i < json_array_size(spec->values); i++)
            if ((st = note_backbone(c, sw, json_array_get(spec->values, i), spec->lines[i], spec->cols[i])))
                return st;
    }
    return LOAA_OK;
}

/* A case's value equals a value of the condition: the same JSON, numbers by value (1 and 1.0, 1e-3 and 0.001). */
static int same_value(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal(a, b);
}

/* The condition's values as text for a message (bounded). */
static void values_text(const param *cond, char *out, size_t cap)
{
    char *text = json_dumps(cond->values, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(out, cap, "%s", text ? text : "");
    free(text);
}

/* One conditional parameter: its condition is a listed, unconditional parameter, and every case names one of its values. */
static loaa_status resolve_condition(ctx *c, loaa_sweep *sw, size_t index)
{
    param *p = &sw->params[index];
    const param *cond = find_param(sw, p->by_name);
    char list[256];
    if (!loaa_config_key(p->by_name))
        return loaa_fail(LOAA_ERR_CONFIG, "%s:%d:%d: parameter '%s': by '%s' is no trial key (see 'loaa help keys')", c->file, p->by_line,
                         p->by_col, p->name, p->by_name);
    if (!cond)
        return loaa_fail(LOAA_ERR_CONFIG, "%s:%d:%d: parameter '%s': by '%s': the sweep does not set '%s' (a condition names a parameter "
                         "with value/values, or datasets, folds, seeds)", c->file, p->by_line, p->by_col, p->name, p->by_name, p->by_name);
    if (cond == p)
        return loaa_fail(LOAA_ERR_CONFIG, "%s:%d:%d: parameter '%s' cannot depend on itself", c->file, p->by_line, p->by_col, p->name);
    if (cond->n_cases || cond->kind != P_VALUES)
        return loaa_fail(LOAA_ERR_CONFIG, "%s:%d:%d: parameter '%s': by '%s': a condition must be listed (value/values or an axis), not %s",
                         c->file, p->by_line, p->by_col, p->name, p->by_name, cond->n_cases ? "conditional itself" : "a distribution");
    p->by = (int)(cond - sw->params);
    size_t nv = json_array_size(cond->values), labelled = p->n_cases - (size_t)p->has_default;
    p->case_of = malloc((nv + 1) * sizeof *p->case_of);
    if (!p->case_of)
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    for (size_t v = 0; v < nv; v++) {
        p->case_of[v] = p->has_default ? (int)labelled : -1;
        for (size_t k = 0; k < labelled; k++)
            if (same_value(json_array_get(p->labels, k), json_array_get(cond->values, v))) {
                p->case_of[v] = (int)k;
                break;
            }
    }
    values_text(cond, list, sizeof list);
    for (size_t k = 0; k < labelled; k++) {
        int used = 0;
        for (size_t v = 0; v < nv; v++)
            used |= p->case_of[v] == (int)k;
        for (size_t j = 0; j < k; j++)
            if (same_value(json_array_get(p->labels, j), json_array_get(p->labels, k)))
                return loaa_fail(LOAA_ERR_CONFIG, "%s:%d:%d: parameter '%s': case repeats the case at line %d", c->file, p->label_lines[k],
                                 p->label_cols[k], p->name, p->label_lines[j]);
        if (!used)
            return loaa_fail(LOAA_ERR_CONFIG, "%s:%d:%d: parameter '%s': case is not a value of '%s' (its values: %s)", c->file,
                             p->label_lines[k], p->label_cols[k], p->name, p->by_name, list);
    }
    return LOAA_OK;
}

static loaa_status resolve_conditions(ctx *c, loaa_sweep *sw)
{
    loaa_status st;
    for (size_t i = 0; i < sw->n_params; i++)
        if (sw->params[i].n_cases && (st = resolve_condition(c, sw, i)))
            return st;
    return LOAA_OK;
}

/* select_on (default val_acc): early termination needs one value. */
static loaa_status parse_select_on(ctx *c, loaa_sweep *sw)
{
    snprintf(sw->select_on, sizeof sw->select_on, "val_acc");
    param *sel = find_param(sw, "select_on");
    if (!sel)
        return LOAA_OK;
    if (sel->n_cases)
        return loaa_fail(LOAA_ERR_CONFIG, "%s:%d:%d: select_on is one metric per trial's configuration: it cannot be conditional",
                         c->file, sel->line, sel->col);
    snprintf(sw->select_on, sizeof sw->select_on, "%s", json_string_value(json_array_get(sel->values, 0)));
    if (sw->early.type != LOAA_EARLY_NONE && json_array_size(sel->values) != 1)
        return loaa_fail(LOAA_ERR_CONFIG, "%s:%d:%d: early_terminate compares trials on one select_on metric; give select_on one value",
                         c->file, sel->line, sel->col);
    return LOAA_OK;
}

/* The whole file, in the order its errors are reported: shape, name, method, metric, limits, parameters, axes, files. */
static loaa_status parse_sweep(ctx *c, loaa_sweep *sw, const ynode *root)
{
    loaa_status st;
    const ynode *n;
    if (root->kind != Y_MAP)
        return at(c, root, LOAA_ERR_CONFIG, "a sweep file is a mapping (name:, parameters:, ...), got %s", kind_words(root));
    if ((st = check_map(c, root, "sweep", top_keys)))
        return st;
    if (!(n = map_get(root, "name", NULL)))
        return at(c, root, LOAA_ERR_CONFIG, "'name' is required: it identifies the sweep in the database");
    if ((st = get_string(c, n, "name", sw->name, sizeof sw->name)) || (st = parse_method(c, sw, root)) ||
        (st = parse_metric(c, sw, root)))
        return st;
    sw->ranks_per_trial = 1;
    sw->max_attempts = 3;
    if ((st = parse_top_int(c, root, "ranks_per_trial", 1, 4096, &sw->ranks_per_trial)) ||
        (st = parse_top_int(c, root, "max_attempts", 1, 1000, &sw->max_attempts)))
        return st;
    if ((n = map_get(root, "early_terminate", NULL)) && (st = parse_early(c, sw, n)))
        return st;
    if ((st = parse_parameters(c, sw, root)) || (st = parse_axes(c, sw, root)) || (st = resolve_conditions(c, sw)) ||
        (st = identify_files(c, sw)))
        return st;
    return parse_select_on(c, sw);
}

loaa_status loaa_sweep_parse(loaa_sweep **out, const char *text, size_t len, const char *filename, int check_files)
{
    ytree t = {0};
    loaa_status st;
    *out = NULL;
    if (len > LOAA_SWEEP_MAX_BYTES)
        return loaa_fail(LOAA_ERR_LIMIT, "%s: larger than %d bytes", filename, LOAA_SWEEP_MAX_BYTES);
    loaa_sweep *sw = calloc(1, sizeof *sw);
    if (!sw)
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    sw->check_files = check_files;
    sw->file = strdup(filename);
    sw->text = malloc(len + 1);
    if (!sw->file || !sw->text) {
        loaa_sweep_free(sw);
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    }
    memcpy(sw->text, text, len);
    sw->text[len] = '\0';
    ctx c = {.file = sw->file, .budget = 4L * LOAA_SWEEP_MAX_NODES};
    if ((st = build_tree(&t, filename, text, len)) || (st = parse_sweep(&c, sw, t.root))) {
        tree_free(&t);
        loaa_sweep_free(sw);
        return st;
    }
    tree_free(&t);
    *out = sw;
    return LOAA_OK;
}

loaa_status loaa_sweep_load(loaa_sweep **out, const char *path)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return loaa_fail(LOAA_ERR_NOTFOUND, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(LOAA_SWEEP_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    }
    size_t n = fread(buf, 1, LOAA_SWEEP_MAX_BYTES + 1, f);
    int err = ferror(f);
    fclose(f);
    loaa_status st;
    if (err)
        st = loaa_fail(LOAA_ERR_IO, "%s: read error", path);
    else
        st = loaa_sweep_parse(out, buf, n, path, 1);
    free(buf);
    return st;
}

const char *loaa_sweep_name(const loaa_sweep *sw) { return sw->name; }
const char *loaa_sweep_text(const loaa_sweep *sw) { return sw->text; }
const char *loaa_sweep_method(const loaa_sweep *sw) { return sw->method; }
const char *loaa_sweep_metric(const loaa_sweep *sw) { return sw->metric; }
const char *loaa_sweep_goal(const loaa_sweep *sw) { return sw->goal; }
int loaa_sweep_ranks_per_trial(const loaa_sweep *sw) { return sw->ranks_per_trial; }
int loaa_sweep_max_attempts(const loaa_sweep *sw) { return sw->max_attempts; }
const loaa_early_terminate *loaa_sweep_early(const loaa_sweep *sw) { return &sw->early; }
const char *loaa_sweep_select_on(const loaa_sweep *sw) { return sw->select_on; }

size_t loaa_sweep_backbone_refs(const loaa_sweep *sw, const char *const **names)
{
    *names = sw->ref_names;
    return sw->n_refs;
}

loaa_status loaa_sweep_resolve_backbone(loaa_sweep *sw, const char *sweep_name, const char *path)
{
    for (size_t i = 0; i < sw->n_backbones; i++) {
        file_hash *b = &sw->backbones[i];
        if (!b->ref || strcmp(b->ref, sweep_name))
            continue;
        char *p = strdup(path);
        if (!p)
            return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
        free(b->path);
        b->path = p;
        if (sw->check_files && loaa_sha256_file(path, b->sha))
            return loaa_fail(LOAA_ERR_NOTFOUND, "%s:%d:%d: backbone {sweep: %s, best: true}: its file %s cannot be read",
                             sw->file, b->line, b->col, sweep_name, path);
        if (!sw->check_files)
            loaa_sha256_hex(path, strlen(path), b->sha);
        b->resolved = 1;
        return LOAA_OK;
    }
    return loaa_fail(LOAA_ERR_NOTFOUND, "%s: no backbone refers to sweep '%s'", sw->file, sweep_name);
}

/* ---- expansion ---- */

static loaa_status mul_checked(int64_t *acc, int64_t by, int64_t cap, const loaa_sweep *sw)
{
    if (by <= 0 || *acc > cap / by)
        return loaa_fail(LOAA_ERR_LIMIT, "%s: the sweep expands to more than %lld trials (raise --max-trials to allow it)", sw->file,
                         (long long)cap);
    *acc *= by;
    return LOAA_OK;
}

/* How many values a grid gives p when its condition takes its value v (1 when the key is left unset). */
static int64_t case_size(const param *p, size_t v)
{
    int k = p->case_of[v];
    return k < 0 ? 1 : (int64_t)json_array_size(p->cases[k].values);
}

/*
 * The factor a listed parameter contributes: its number of values, or, for a
 * condition, the sum over its values of the product of its dependants' case
 * sizes (in a random sweep only axes are crossed and a dependant gives one value).
 */
static loaa_status factor(const loaa_sweep *sw, size_t index, int64_t max_trials, int64_t *out)
{
    loaa_status st;
    const param *cond = &sw->params[index];
    size_t nv = json_array_size(cond->values);
    int64_t sum = 0;
    for (size_t v = 0; v < nv; v++) {
        int64_t prod = 1;
        for (size_t j = 0; !sw->random && j < sw->n_params; j++)
            if (sw->params[j].n_cases && sw->params[j].by == (int)index && (st = mul_checked(&prod, case_size(&sw->params[j], v), max_trials, sw)))
                return st;
        if (prod > max_trials - sum)
            return loaa_fail(LOAA_ERR_LIMIT, "%s: the sweep expands to more than %lld trials (raise --max-trials to allow it)", sw->file,
                             (long long)max_trials);
        sum += prod;
    }
    *out = sum;
    return LOAA_OK;
}

loaa_status loaa_sweep_count(const loaa_sweep *sw, int64_t max_trials, int64_t *count)
{
    loaa_status st;
    int64_t n = sw->random ? sw->run_cap : 1, f = 0;
    if (n > max_trials)
        return loaa_fail(LOAA_ERR_LIMIT, "%s: run_cap %lld is above the trial cap %lld (--max-trials)", sw->file,
                         (long long)n, (long long)max_trials);
    for (size_t i = 0; i < sw->n_params; i++) {
        const param *p = &sw->params[i];
        if ((sw->random && !p->axis) || p->n_cases)
            continue;
        if ((st = factor(sw, i, max_trials, &f)) || (st = mul_checked(&n, f, max_trials, sw)))
            return st;
    }
    *count = n;
    return LOAA_OK;
}

/* A set of identities seen in this expansion (open addressing on the first 16 hex digits). */
typedef struct hash_set {
    uint64_t *keys;
    size_t cap, n;
} hash_set;

static int set_insert(hash_set *s, const char *hex)
{
    uint64_t k = strtoull((char[17]){hex[0], hex[1], hex[2], hex[3], hex[4], hex[5], hex[6], hex[7], hex[8], hex[9], hex[10],
                                     hex[11], hex[12], hex[13], hex[14], hex[15], 0},
                          NULL, 16);
    if (k == 0)
        k = 1; /* 0 marks an empty slot */
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *keys = calloc(cap, sizeof *keys);
        if (!keys)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i])
                for (size_t j = s->keys[i] & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (!keys[j]) {
                        keys[j] = s->keys[i];
                        break;
                    }
        free(s->keys);
        s->keys = keys;
        s->cap = cap;
    }
    for (size_t j = k & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->keys[j] == k)
            return 0;
        if (!s->keys[j]) {
            s->keys[j] = k;
            s->n++;
            return 1;
        }
    }
}

/* A continuous sample clamped to [min, max] (exp(log(x)) may land an ulp outside); an empty range gives its bound exactly. */
static double in_range(const param *p, double x)
{
    if (p->min == p->max)
        return p->min;
    return x < p->min ? p->min : x > p->max ? p->max : x;
}

/* A normal draw truncated to [min, max] by rejection (64 tries, then clamped). */
static double truncated_normal(const param *p, loaa_rng *rng, int log_scale)
{
    double x = 0;
    for (int tries = 0; tries < 64; tries++) {
        x = p->mu + p->sigma * loaa_rng_normal(rng);
        if (log_scale)
            x = exp(x);
        if (x >= p->min && x <= p->max)
            return x;
    }
    return in_range(p, x);
}

/* A continuous draw of p's shape within [min, max]. */
static double continuous(const param *p, loaa_rng *rng)
{
    double u;
    switch (p->kind) {
    case P_UNIFORM: return in_range(p, p->min + (p->max - p->min) * loaa_rng_uniform(rng));
    case P_LOG_UNIFORM: return in_range(p, exp(log(p->min) + (log(p->max) - log(p->min)) * loaa_rng_uniform(rng)));
    case P_INV_LOG_UNIFORM:
        u = loaa_rng_uniform(rng);
        return in_range(p, 1 / exp(log(1 / p->max) + (log(1 / p->min) - log(1 / p->max)) * u));
    case P_NORMAL: return truncated_normal(p, rng, 0);
    case P_LOG_NORMAL: return truncated_normal(p, rng, 1);
    default: break;
    }
    assert(!"not a continuous shape");
    return 0;
}

static json_t *sample(const param *p, loaa_rng *rng)
{
    switch (p->kind) {
    case P_VALUES:
        return json_incref(json_array_get(p->values, (size_t)loaa_rng_below(rng, json_array_size(p->values))));
    case P_INT_UNIFORM:
        return json_integer((json_int_t)p->min + (json_int_t)loaa_rng_below(rng, (uint64_t)(p->max - p->min) + 1));
    default: break;
    }
    double x = continuous(p, rng);
    if (p->q > 0)
        x = p->min == p->max ? p->min : quantize(x, p->q, p->min, p->max);
    return number_value(p, x);
}

static const file_hash *lookup(const file_hash *list, size_t n, const char *path, const char *ref)
{
    for (size_t i = 0; i < n; i++)
        if (ref ? (list[i].ref && !strcmp(list[i].ref, ref)) : (!list[i].ref && !strcmp(list[i].path, path)))
            return &list[i];
    return NULL;
}

typedef struct expand_state {
    loaa_sweep *sw;
    int allow_unresolved;
    loaa_sweep_fn fn;
    void *ctx;
    hash_set seen;
    int64_t number, unique, duplicates;
    size_t *value_index;   /* per parameter: the index of its current value (listed parameters) */
    json_t **case_draws;   /* random: per conditional parameter, this point's draw of each case */
} expand_state;

static loaa_status describe_trial(const loaa_sweep *sw, const json_t *params, loaa_status st)
{
    char *text = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    st = loaa_fail_prefix(st, "%s:%d:%d: parameters give an invalid trial %.300s: ", sw->file, sw->params_line, sw->params_col,
                          text ? text : "");
    free(text);
    return st;
}

/* Builds, checks and hands over one trial from its parameter values. */
static loaa_status emit(expand_state *es, json_t *params)
{
    loaa_sweep *sw = es->sw;
    loaa_config cfg;
    loaa_status st;
    const char *key;
    json_t *v;
    const char *backbone_ref = NULL, *backbone_sha = NULL, *dataset_sha = NULL;
    char unresolved_sha[65];

    loaa_config_defaults(&cfg);
    cfg.ranks_per_trial = sw->ranks_per_trial;
    json_object_foreach(params, key, v) {
        if ((st = loaa_config_set_json(&cfg, key, v)))
            return describe_trial(sw, params, st);
    }
    const file_hash *d = lookup(sw->datasets, sw->n_datasets, cfg.dataset, NULL);
    if (d && d->resolved)
        dataset_sha = d->sha;
    if (cfg.backbone_kind == LOAA_BACKBONE_SWEEP) {
        const file_hash *b = lookup(sw->backbones, sw->n_backbones, NULL, cfg.backbone);
        backbone_ref = b ? b->ref : NULL;
        if (b && b->resolved) {
            backbone_sha = b->sha;
            snprintf(cfg.backbone, sizeof cfg.backbone, "%s", b->path);
            cfg.backbone_kind = LOAA_BACKBONE_PATH;
        } else if (es->allow_unresolved) {
            char text[LOAA_PATH_MAX + 16];
            snprintf(text, sizeof text, "sweep:%s", cfg.backbone);
            loaa_sha256_hex(text, strlen(text), unresolved_sha);
            backbone_sha = unresolved_sha;
        } else {
            return loaa_fail(LOAA_ERR_CONFIG, "%s: backbone {sweep: %s, best: true} is not resolved", sw->file, cfg.backbone);
        }
    } else if (cfg.backbone_kind == LOAA_BACKBONE_PATH) {
        const file_hash *b = lookup(sw->backbones, sw->n_backbones, cfg.backbone, NULL);
        if (b && b->resolved)
            backbone_sha = b->sha;
    }
    if ((st = loaa_config_validate(&cfg)))
        return describe_trial(sw, params, st);

    char hash[65];
    if ((st = loaa_config_identity(&cfg, dataset_sha, backbone_sha, hash)))
        return st;
    int fresh = set_insert(&es->seen, hash);
    if (fresh < 0)
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    es->number++;
    if (!fresh) {
        es->duplicates++;
        return LOAA_OK;
    }
    char *canon = loaa_config_canonical(&cfg);
    json_t *all = loaa_config_to_json(&cfg, 1);
    json_t *exec = json_object();
    char *exec_text = NULL;
    if (all && exec) {
        size_t nkeys;
        const loaa_key_info *keys = loaa_config_keys(&nkeys);
        for (size_t i = 0; i < nkeys; i++)
            if (!keys[i].identity)
                json_object_set(exec, keys[i].name, json_object_get(all, keys[i].name));
        exec_text = loaa_json_canonical(exec);
    }
    json_decref(all);
    json_decref(exec);
    if (!canon || !exec_text) {
        free(canon);
        free(exec_text);
        return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    }
    loaa_sweep_trial t = {
        .number = es->number - 1,
        .cfg = &cfg,
        .config_json = canon,
        .exec_json = exec_text,
        .hash = hash,
        .dataset_sha256 = dataset_sha,
        .backbone_sha256 = cfg.backbone_kind == LOAA_BACKBONE_NONE ? NULL : backbone_sha,
        .backbone_ref = backbone_ref,
        .params = params,
    };
    es->unique++;
    st = es->fn(es->ctx, &t);
    free(canon);
    free(exec_text);
    return st;
}

/*
 * Sets crossed digit i's parameter from its index and returns the digit's
 * radix: its values, or for a conditional parameter the case its
 * condition's current value selects (random: this point's one draw of it);
 * with no case the key is removed (left at its default) and the radix is 1.
 */
static size_t set_digit(expand_state *es, json_t *params, size_t param_index, size_t idx)
{
    const loaa_sweep *sw = es->sw;
    const param *p = &sw->params[param_index];
    if (!p->n_cases) {
        es->value_index[param_index] = idx;
        json_object_set(params, p->name, json_array_get(p->values, idx));
        return json_array_size(p->values);
    }
    int k = p->case_of[es->value_index[p->by]];
    if (k < 0) {
        json_object_del(params, p->name);
        return 1;
    }
    if (sw->random) {
        json_object_set(params, p->name, json_array_get(es->case_draws[param_index], (size_t)k));
        return 1;
    }
    json_object_set(params, p->name, json_array_get(p->cases[k].values, idx));
    return json_array_size(p->cases[k].values);
}

/* Walks the mixed-radix odometer over the crossed parameters (the last one fastest; a radix may depend on earlier digits). */
static loaa_status cross(expand_state *es, json_t *params, const size_t *crossed, size_t n_crossed)
{
    loaa_sweep *sw = es->sw;
    size_t idx[64] = {0}, radix[64];
    loaa_status st;
    if (n_crossed > 64)
        return loaa_fail(LOAA_ERR_LIMIT, "%s: more than 64 swept keys", sw->file);
    for (;;) {
        for (size_t i = 0; i < n_crossed; i++)
            radix[i] = set_digit(es, params, crossed[i], idx[i]);
        if ((st = emit(es, params)))
            return st;
        size_t i = n_crossed;
        while (i > 0) {
            i--;
            if (++idx[i] < radix[i])
                break;
            idx[i] = 0;
            if (i == 0)
                return LOAA_OK;
        }
        if (n_crossed == 0)
            return LOAA_OK;
    }
}

/*
 * The crossed parameters in odometer order: file order (then datasets,
 * folds, seeds), except that a conditional parameter comes right after its
 * condition when the condition comes later. Random sweeps sample the other
 * parameters, so only axes and conditional parameters are crossed.
 */
static size_t crossing_order(const loaa_sweep *sw, size_t *crossed)
{
    size_t n = 0;
    for (size_t i = 0; i < sw->n_params && n < 64; i++) {
        const param *p = &sw->params[i];
        if (p->n_cases ? p->by < (int)i : (!sw->random || p->axis))
            crossed[n++] = i;
        for (size_t j = 0; j < sw->n_params && n < 64; j++)
            if (sw->params[j].n_cases && sw->params[j].by == (int)i && (int)j < sw->params[j].by)
                crossed[n++] = j;
    }
    return n;
}

/* Random: one point's draws, the listed parameters' value indices noted for conditions; each case drawn from its own stream. */
static loaa_status draw_point(expand_state *es, json_t *params, const loaa_rng *root, int64_t point)
{
    loaa_sweep *sw = es->sw;
    loaa_rng rng = loaa_rng_split(root, "sample", (uint64_t)point);
    for (size_t j = 0; j < sw->n_params; j++) {
        const param *p = &sw->params[j];
        if (p->axis || p->n_cases)
            continue;
        json_t *v;
        if (p->kind == P_VALUES) {
            es->value_index[j] = (size_t)loaa_rng_below(&rng, json_array_size(p->values));
            v = json_incref(json_array_get(p->values, es->value_index[j]));
        } else {
            v = sample(p, &rng);
        }
        if (!v || json_object_set_new(params, p->name, v))
            return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    }
    for (size_t j = 0; j < sw->n_params; j++) {
        const param *p = &sw->params[j];
        if (!p->n_cases)
            continue;
        loaa_rng case_rng = loaa_rng_split(root, p->name, (uint64_t)point);
        json_decref(es->case_draws[j]);
        es->case_draws[j] = json_array();
        for (size_t k = 0; k < p->n_cases; k++) {
            json_t *v = sample(&p->cases[k], &case_rng);
            if (!v || !es->case_draws[j] || json_array_append_new(es->case_draws[j], v))
                return loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
        }
    }
    return LOAA_OK;
}

loaa_status loaa_sweep_expand(loaa_sweep *sw, int64_t max_trials, int allow_unresolved, loaa_sweep_fn fn, void *fn_ctx,
                              int64_t *unique, int64_t *duplicates)
{
    int64_t count;
    loaa_status st = loaa_sweep_count(sw, max_trials, &count);
    if (st)
        return st;
    expand_state es = {.sw = sw, .allow_unresolved = allow_unresolved, .fn = fn, .ctx = fn_ctx};
    size_t crossed[64], n_crossed = crossing_order(sw, crossed);
    json_t *params = json_object();
    es.value_index = calloc(sw->n_params + 1, sizeof *es.value_index);
    es.case_draws = calloc(sw->n_params + 1, sizeof *es.case_draws);
    if (!params || !es.value_index || !es.case_draws) {
        st = loaa_fail(LOAA_ERR_NOMEM, "sweep: out of memory");
    } else if (!sw->random) {
        st = cross(&es, params, crossed, n_crossed);
    } else {
        /* Samples depend on the sweep's name and their index only: a larger run_cap extends, never reshuffles. */
        loaa_rng root;
        char hex[65];
        loaa_sha256_hex(sw->name, strlen(sw->name), hex);
        loaa_rng_seed(&root, strtoull((char[17]){hex[0], hex[1], hex[2], hex[3], hex[4], hex[5], hex[6], hex[7], hex[8], hex[9],
                                                 hex[10], hex[11], hex[12], hex[13], hex[14], hex[15], 0},
                                      NULL, 16));
        for (int64_t i = 0; i < sw->run_cap && !st; i++)
            if (!(st = draw_point(&es, params, &root, i)))
                st = cross(&es, params, crossed, n_crossed);
    }
    json_decref(params);
    for (size_t j = 0; es.case_draws && j < sw->n_params; j++)
        json_decref(es.case_draws[j]);
    free(es.case_draws);
    free(es.value_index);
    free(es.seen.keys);
    if (unique)
        *unique = es.unique;
    if (duplicates)
        *duplicates = es.duplicates;
    return st;
}
