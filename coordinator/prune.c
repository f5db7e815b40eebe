/* prune.c - median stopping rule and ASHA over per-epoch select_on values, within groups of comparable trials, per configuration. */
#include "coordinator/prune.h"

#include "common/sha256.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    int64_t trial_id;
    uint64_t group, config; /* as in trial_best */
    double best;           /* best so far at that epoch */
} entry;

typedef struct list {
    entry *e;
    size_t n, cap;
} list;

typedef struct trial_best {
    int64_t trial_id;
    uint64_t group;  /* key of its group_by values; unassigned: that of no values (one shared group) */
    uint64_t config; /* key of its identity keys but seed; unassigned: of its trial id (its own) */
    double best;
    int used;
} trial_best;

struct loaa_pruner {
    loaa_early_terminate et;
    int maximize;
    list *epochs;        /* median: per epoch; asha: per rung */
    size_t n_epochs;
    trial_best *trials;  /* open addressing by trial id */
    size_t cap_trials, n_trials;
};

loaa_pruner *loaa_pruner_new(const loaa_early_terminate *et, int maximize)
{
    loaa_pruner *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->et = *et;
    p->maximize = maximize;
    return p;
}

void loaa_pruner_free(loaa_pruner *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_epochs; i++)
        free(p->epochs[i].e);
    free(p->epochs);
    free(p->trials);
    free(p);
}

static int better(const loaa_pruner *p, double a, double b) { return p->maximize ? a > b : a < b; }

/* A 64-bit key for text: the head of its SHA-256 (groups and configurations are told apart by a tag in the text). */
static uint64_t key_of(const char *tag, const char *text)
{
    loaa_sha256 h;
    uint8_t digest[32];
    loaa_sha256_init(&h);
    loaa_sha256_update(&h, tag, strlen(tag));
    loaa_sha256_update(&h, text, strlen(text));
    loaa_sha256_final(&h, digest);
    uint64_t k = 0;
    for (int i = 0; i < 8; i++)
        k = k << 8 | digest[i];
    return k;
}

/* key_of for the canonical text of a JSON value; 0 with *ok = 0 on no memory. */
static uint64_t key_of_json(const char *tag, const json_t *v, int *ok)
{
    char *text = v ? loaa_json_canonical(v) : NULL;
    if (!text) {
        *ok = 0;
        return 0;
    }
    uint64_t k = key_of(tag, text);
    free(text);
    return k;
}

static trial_best *slot(loaa_pruner *p, int64_t id)
{
    if ((p->n_trials + 1) * 2 > p->cap_trials) {
        size_t cap = p->cap_trials ? p->cap_trials * 2 : 256;
        trial_best *t = calloc(cap, sizeof *t);
        if (!t)
            return NULL;
        for (size_t i = 0; i < p->cap_trials; i++)
            if (p->trials[i].used)
                for (size_t j = (size_t)p->trials[i].trial_id & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (!t[j].used) {
                        t[j] = p->trials[i];
                        break;
                    }
        free(p->trials);
        p->trials = t;
        p->cap_trials = cap;
    }
    for (size_t j = (size_t)id & (p->cap_trials - 1);; j = (j + 1) & (p->cap_trials - 1)) {
        if (p->trials[j].used && p->trials[j].trial_id == id)
            return &p->trials[j];
        if (!p->trials[j].used) {
            p->trials[j].used = 1;
            p->trials[j].trial_id = id;
            char id_text[32];
            snprintf(id_text, sizeof id_text, "%lld", (long long)id);
            p->trials[j].group = key_of("group ", "[]");
            p->trials[j].config = key_of("trial ", id_text);
            p->trials[j].best = NAN;
            p->n_trials++;
            return &p->trials[j];
        }
    }
}

loaa_status loaa_pruner_assign(loaa_pruner *p, int64_t trial_id, const char *config_json)
{
    assert(p && config_json);
    json_t *cfg = json_loads(config_json, 0, NULL);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return loaa_fail(LOAA_ERR_PARSE, "pruner: trial %lld: its identity keys are no JSON object", (long long)trial_id);
    }
    json_t *group = json_array();
    for (int i = 0; group && i < p->et.n_group_by; i++) {
        json_t *v = json_object_get(cfg, p->et.group_by[i]);
        if (json_array_append_new(group, v ? json_incref(v) : json_null())) {
            json_decref(group);
            group = NULL;
        }
    }
    json_object_del(cfg, "seed"); /* a configuration: every identity key but the seed */
    int ok = 1;
    uint64_t group_key = key_of_json("group ", group, &ok), config_key = key_of_json("config ", cfg, &ok);
    json_decref(group);
    json_decref(cfg);
    trial_best *t = ok ? slot(p, trial_id) : NULL;
    if (!t)
        return loaa_fail(LOAA_ERR_NOMEM, "pruner: out of memory");
    t->group = group_key;
    t->config = config_key;
    return LOAA_OK;
}

/* Adds (or updates) a trial's value in list k. */
static list *record(loaa_pruner *p, size_t k, const trial_best *t)
{
    if (k >= p->n_epochs) {
        list *e = realloc(p->epochs, (k + 1) * sizeof *e);
        if (!e)
            return NULL;
        memset(e + p->n_epochs, 0, (k + 1 - p->n_epochs) * sizeof *e);
        p->epochs = e;
        p->n_epochs = k + 1;
    }
    list *l = &p->epochs[k];
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].trial_id == t->trial_id) {
            l->e[i].best = t->best; /* a resumed trial reports an epoch again */
            return l;
        }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        entry *e = realloc(l->e, cap * sizeof *e);
        if (!e)
            return NULL;
        l->e = e;
        l->cap = cap;
    }
    l->e[l->n++] = (entry){t->trial_id, t->group, t->config, t->best};
    return l;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_config(const void *a, const void *b)
{
    uint64_t x = ((const entry *)a)->config, y = ((const entry *)b)->config;
    return (x > y) - (x < y);
}

/*
 * The configurations of t's group in list l, each as the mean of its seeds' values there: *mine is
 * t's configuration's mean, others (caller frees) the other configurations' means. Returns how many
 * others, or -1 on no memory.
 */
static long group_means(const list *l, const trial_best *t, double *mine, double **others)
{
    entry *g = malloc(l->n * sizeof *g);
    double *v = malloc(l->n * sizeof *v);
    if (!g || !v) {
        free(g);
        free(v);
        return -1;
    }
    size_t n = 0, k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].group == t->group)
            g[n++] = l->e[i];
    qsort(g, n, sizeof *g, cmp_config);
    *mine = t->best;
    for (size_t lo = 0, hi; lo < n; lo = hi) {
        double sum = 0;
        for (hi = lo; hi < n && g[hi].config == g[lo].config; hi++)
            sum += g[hi].best;
        double mean = sum / (double)(hi - lo);
        if (g[lo].config == t->config)
            *mine = mean;
        else
            v[k++] = mean;
    }
    free(g);
    *others = v;
    return (long)k;
}

/* The ASHA rung index for `completed` epochs, or -1 when it is no rung. */
static long rung_of(const loaa_pruner *p, int completed)
{
    long r = p->et.min_epochs;
    for (long k = 0; r <= completed; k++, r *= p->et.eta)
        if (r == completed)
            return k;
    return -1;
}

/*
 * Whether t stops: its configuration's mean against the other configurations of its group in
 * list l. Median: worse than their median (needs two others). ASHA: outside the best
 * max(1, n/eta) of the n configurations at the rung. 0 on no memory.
 */
static int configuration_stops(const loaa_pruner *p, const list *l, const trial_best *t)
{
    double mine, *v;
    long others = group_means(l, t, &mine, &v);
    if (others < 0)
        return 0;
    int stop = 0;
    if (p->et.type == LOAA_EARLY_MEDIAN && others >= 2) {
        qsort(v, (size_t)others, sizeof *v, cmp_double);
        double median = others % 2 ? v[others / 2] : 0.5 * (v[others / 2 - 1] + v[others / 2]);
        stop = better(p, median, mine);
    } else if (p->et.type == LOAA_EARLY_ASHA) {
        size_t ahead = 0, keep = (size_t)(others + 1) / (size_t)p->et.eta;
        for (long i = 0; i < others; i++)
            ahead += better(p, v[i], mine);
        stop = ahead >= (keep < 1 ? 1 : keep);
    }
    free(v);
    return stop;
}

static int decide(loaa_pruner *p, int64_t id, int epoch, double value, int want_decision)
{
    if (!isfinite(value))
        return want_decision && p->et.type != LOAA_EARLY_NONE; /* a diverged trial stops */
    trial_best *t = slot(p, id);
    if (!t)
        return 0;
    if (isnan(t->best) || better(p, value, t->best))
        t->best = value;
    int completed = epoch + 1;
    if (p->et.type == LOAA_EARLY_MEDIAN) {
        list *l = record(p, (size_t)epoch, t);
        if (!l || !want_decision || completed < p->et.min_epochs)
            return 0;
        return configuration_stops(p, l, t);
    }
    if (p->et.type == LOAA_EARLY_ASHA) {
        long k = rung_of(p, completed);
        if (k < 0)
            return 0;
        list *l = record(p, (size_t)k, t);
        if (!l || !want_decision)
            return 0;
        return configuration_stops(p, l, t);
    }
    return 0;
}

void loaa_pruner_seed(loaa_pruner *p, int64_t trial_id, int epoch, double value) { decide(p, trial_id, epoch, value, 0); }

int loaa_pruner_report(loaa_pruner *p, int64_t trial_id, int epoch, double value)
{
    return decide(p, trial_id, epoch, value, 1);
}
