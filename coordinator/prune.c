/* prune.c - median stopping rule and ASHA over per-epoch select_on values. */
#include "coordinator/prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    int64_t trial_id;
    double best; /* best so far at that epoch */
} entry;

typedef struct list {
    entry *e;
    size_t n, cap;
} list;

typedef struct trial_best {
    int64_t trial_id;
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
            p->trials[j].best = NAN;
            p->n_trials++;
            return &p->trials[j];
        }
    }
}

/* Adds (or updates) a trial's value in list k. */
static list *record(loaa_pruner *p, size_t k, int64_t id, double v)
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
        if (l->e[i].trial_id == id) {
            l->e[i].best = v; /* a resumed trial reports an epoch again */
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
    l->e[l->n++] = (entry){id, v};
    return l;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
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

static int decide(loaa_pruner *p, int64_t id, int epoch, double value, int want_decision)
{
    if (!isfinite(value))
        return want_decision && p->et.type != LOAA_EARLY_NONE; /* a diverged trial stops */
    trial_best *t = slot(p, id);
    if (!t)
        return 0;
    if (isnan(t->best) || better(p, value, t->best))
        t->best = value;
    double best = t->best;
    int completed = epoch + 1;
    if (p->et.type == LOAA_EARLY_MEDIAN) {
        list *l = record(p, (size_t)epoch, id, best);
        if (!l || !want_decision || completed < p->et.min_epochs)
            return 0;
        size_t others = 0;
        double *v = malloc(l->n * sizeof *v);
        if (!v)
            return 0;
        for (size_t i = 0; i < l->n; i++)
            if (l->e[i].trial_id != id)
                v[others++] = l->e[i].best;
        int stop = 0;
        if (others >= 2) {
            qsort(v, others, sizeof *v, cmp_double);
            double median = others % 2 ? v[others / 2] : 0.5 * (v[others / 2 - 1] + v[others / 2]);
            stop = better(p, median, best);
        }
        free(v);
        return stop;
    }
    if (p->et.type == LOAA_EARLY_ASHA) {
        long k = rung_of(p, completed);
        if (k < 0)
            return 0;
        list *l = record(p, (size_t)k, id, best);
        if (!l || !want_decision)
            return 0;
        size_t ahead = 0;
        for (size_t i = 0; i < l->n; i++)
            if (l->e[i].trial_id != id && better(p, l->e[i].best, best))
                ahead++;
        size_t keep = l->n / (size_t)p->et.eta;
        if (keep < 1)
            keep = 1;
        return ahead >= keep;
    }
    return 0;
}

void loaa_pruner_seed(loaa_pruner *p, int64_t trial_id, int epoch, double value) { decide(p, trial_id, epoch, value, 0); }

int loaa_pruner_report(loaa_pruner *p, int64_t trial_id, int epoch, double value)
{
    return decide(p, trial_id, epoch, value, 1);
}
