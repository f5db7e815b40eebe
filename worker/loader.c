/*
 * loader.c - the epoch's sample stream (shard order, shuffle buffer), a
 * reader thread that decodes into a ring of preallocated slots, and batch
 * assembly with augmentation on the caller's thread (see loader.h).
 *
 * Determinism: every random choice comes from a stream split off the trial
 * seed by purpose and index -- ("shards", epoch), ("buffer", epoch),
 * ("mixup", epoch) -> ("batch", b), ("augment", epoch) -> ("sample", i) -- so
 * the batches depend on (seed, epoch) and the data alone.
 */
#include "worker/loader.h"

#include <assert.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/parse.h"
#include "common/rng.h"
#include "kernels/model.h"
#include "worker/features.h"
#include "worker/shard.h"

typedef struct slot {
    float *x;  /* (M, T) */
    float *y;  /* (C) */
    int label;
    int decoded;
} slot;

typedef struct pending {
    loaa_raw_sample raw;
    float *y;
    int label;
    long start, end;
    char shard[LOAA_PATH_MAX];
} pending;

struct loaa_loader {
    const loaa_dataset *ds;
    loaa_config cfg;
    loaa_loader_opts o;
    loaa_split split;
    int epoch, train, augment;
    int M, T, C, B;
    char **shards;
    int n_shards;
    loaa_rng root;
    loaa_featurizer *feat; /* the reader thread's */
    /* the ring: the reader fills [head + count, ...), the trainer drains [head, head + count) */
    slot *ring;
    int cap, head, count;
    int done, stop;
    loaa_status err;
    char errmsg[1024];
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    pthread_t thread;
    int thread_started;
    /* reader-side state */
    long emitted;
    pending *pool;        /* buf_cap + 1 members, each with its own y */
    pending **bufp;       /* the shuffle buffer: buf_n members of pool */
    pending **spare_pool; /* spare_pool[i]: a member free after i + 1 are buffered */
    int buf_cap, buf_n;
    long plan_batch; /* the batch whose mixup plan the reader holds */
    int *plan_mix, *plan_partner;
    float *plan_lam;
    /* trainer-side state */
    long batch, seen;
    long bad; /* atomic */
    int finished;
    int *c_mix, *c_partner;
    float *c_lam;
};

void loaa_loader_opts_default(loaa_loader_opts *o)
{
    memset(o, 0, sizeof *o);
    o->ranks = 1;
}

void loaa_loader_slice_rows(int B, int n, int rank, int ranks, int *lo, int *hi)
{
    if (ranks <= 1) {
        *lo = 0;
        *hi = n;
        return;
    }
    int first, count;
    loaa_model_batch_share(B, rank, ranks, &first, &count); /* the group's one partition rule, on the full batch */
    *lo = first < n ? first : n;
    *hi = first + count < n ? first + count : n;
}

/* --- labels --- */

static loaa_status set_class(const loaa_dataset *ds, const char *tok, size_t len, const char *name, float *y, int *label)
{
    char word[256];
    if (len == 0 || len >= sizeof word)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: bad label '%.*s'", name, (int)(len < 64 ? len : 64), tok);
    memcpy(word, tok, len);
    word[len] = '\0';
    int C = loaa_dataset_num_classes(ds);
    long k;
    if (loaa_parse_long(word, LONG_MIN, LONG_MAX, &k)) { /* not a number: a class name */
        k = loaa_dataset_class_index(ds, word);
        if (k < 0)
            return loaa_fail(LOAA_ERR_FORMAT, "%s: label '%s' is not one of the %d classes", name, word, C);
    } else if (k < 0 || k >= C) {
        return loaa_fail(LOAA_ERR_FORMAT, "%s: label %ld is outside the %d classes (0..%d)", name, k, C, C - 1);
    }
    y[k] = 1.0f;
    *label = (int)k;
    return LOAA_OK;
}

static loaa_status label_json(const loaa_dataset *ds, const json_t *v, const char *name, float *y, int *label, int *n)
{
    if (json_is_integer(v)) {
        char t[32];
        int len = snprintf(t, sizeof t, "%lld", (long long)json_integer_value(v));
        (*n)++;
        return set_class(ds, t, (size_t)len, name, y, label);
    }
    if (json_is_string(v)) {
        (*n)++;
        return set_class(ds, json_string_value(v), json_string_length(v), name, y, label);
    }
    return loaa_fail(LOAA_ERR_FORMAT, "%s: a label must be a class index or a class name", name);
}

loaa_status loaa_loader_parse_label(const loaa_dataset *ds, const char *cls, const char *json, const char *name, float *y,
                                    int *label, long *start, long *end)
{
    int C = loaa_dataset_num_classes(ds), multi = loaa_dataset_multilabel(ds), n = 0;
    loaa_status st;
    memset(y, 0, (size_t)C * sizeof(float));
    *label = -1;
    *start = -1;
    *end = -1;
    json_t *root = NULL;
    if (json) {
        json_error_t err;
        root = json_loads(json, 0, &err);
        if (!root || !json_is_object(root)) {
            json_decref(root);
            return loaa_fail(LOAA_ERR_FORMAT, "%s: .json: %s", name, root ? "must be an object" : err.text);
        }
        const json_t *s = json_object_get(root, "start"), *e = json_object_get(root, "end");
        if ((s && !json_is_integer(s)) || (e && !json_is_integer(e)) || (s && json_integer_value(s) < 0) ||
            (e && json_integer_value(e) < 0)) {
            json_decref(root);
            return loaa_fail(LOAA_ERR_FORMAT, "%s: .json: 'start' and 'end' must be sample offsets >= 0", name);
        }
        if (s)
            *start = (long)json_integer_value(s);
        if (e)
            *end = (long)json_integer_value(e);
    }
    if (cls) {
        const char *p = cls;
        for (;;) {
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')
                p++;
            if (!*p)
                break;
            const char *q = p;
            while (*q && *q != ',' && *q != '\n' && *q != '\r' && (multi ? *q != ' ' && *q != '\t' : 1))
                q++;
            size_t len = (size_t)(q - p);
            while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
                len--;
            if ((st = set_class(ds, p, len, name, y, label))) {
                json_decref(root);
                return st;
            }
            n++;
            p = q;
        }
    } else if (root) {
        const json_t *l = json_object_get(root, "label"), *ls = json_object_get(root, "labels");
        if (l && (st = label_json(ds, l, name, y, label, &n))) {
            json_decref(root);
            return st;
        }
        if (ls) {
            if (!json_is_array(ls)) {
                json_decref(root);
                return loaa_fail(LOAA_ERR_FORMAT, "%s: .json: 'labels' must be a list", name);
            }
            for (size_t i = 0; i < json_array_size(ls); i++)
                if ((st = label_json(ds, json_array_get(ls, i), name, y, label, &n))) {
                    json_decref(root);
                    return st;
                }
        }
    }
    json_decref(root);
    if (n == 0)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: no label (needs KEY.cls, or KEY.json with \"label\"/\"labels\")", name);
    if (!multi && n > 1)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: %d labels for a single-label dataset", name, n);
    if (multi)
        *label = -1;
    return LOAA_OK;
}

/* --- mixup plan: a function of (seed, epoch, batch) --- */

static double gamma10(loaa_rng *r)
{
    double s = 0;
    for (int i = 0; i < 10; i++)
        s -= log(1.0 - loaa_rng_uniform(r));
    return s;
}

static void make_plan(const loaa_loader *l, long b, int *mix, int *partner, float *lam)
{
    loaa_rng mr = loaa_rng_split(&l->root, "mixup", (uint64_t)l->epoch);
    loaa_rng r = loaa_rng_split(&mr, "batch", (uint64_t)b);
    for (int j = 0; j < l->B; j++) {
        double u = loaa_rng_uniform(&r);
        partner[j] = (int)loaa_rng_below(&r, (uint64_t)l->B);
        double g1 = gamma10(&r), g2 = gamma10(&r);
        lam[j] = (float)(g1 / (g1 + g2));
        mix[j] = l->augment && l->cfg.mixup > 0 && u < l->cfg.mixup && partner[j] != j;
    }
}

/* Whether this rank needs sample j of batch b decoded (its own rows, or a partner of one). */
static int needs_decode(loaa_loader *l, long b, int j)
{
    if (l->o.ranks <= 1)
        return 1;
    int lo, hi;
    loaa_loader_slice_rows(l->B, l->B, l->o.rank, l->o.ranks, &lo, &hi);
    if (j >= lo && j < hi)
        return 1;
    if (!(l->augment && l->cfg.mixup > 0))
        return 0;
    if (l->plan_batch != b) {
        make_plan(l, b, l->plan_mix, l->plan_partner, l->plan_lam);
        l->plan_batch = b;
    }
    for (int k = lo; k < hi; k++)
        if (l->plan_mix[k] && l->plan_partner[k] == j)
            return 1;
    return 0;
}

/* --- the reader thread --- */

static int should_stop(loaa_loader *l)
{
    pthread_mutex_lock(&l->mu);
    int s = l->stop;
    pthread_mutex_unlock(&l->mu);
    return s;
}

static loaa_status emit(loaa_loader *l, pending *p)
{
    long i = l->emitted;
    long b = i / l->B;
    int j = (int)(i % l->B);
    int need = needs_decode(l, b, j);
    pthread_mutex_lock(&l->mu);
    while (l->count == l->cap && !l->stop)
        pthread_cond_wait(&l->not_full, &l->mu);
    int stop = l->stop;
    slot *s = &l->ring[(l->head + l->count) % l->cap];
    pthread_mutex_unlock(&l->mu);
    if (stop)
        return LOAA_ERR_INTERRUPTED;
    char name[LOAA_PATH_MAX + LOAA_KEY_MAX + 16];
    snprintf(name, sizeof name, "%s: key '%s'", p->shard, p->raw.key);
    s->decoded = 0;
    if (need) {
        loaa_status st;
        if (p->raw.npy)
            st = loaa_featurizer_run(l->feat, s->x, p->raw.npy, p->raw.npy_size, "npy", p->start, p->end, name);
        else
            st = loaa_featurizer_run(l->feat, s->x, p->raw.audio, p->raw.audio_size, p->raw.audio_ext, p->start, p->end,
                                     name);
        if (st) {
            if (!l->o.skip_bad || l->o.ranks > 1)
                return st;
            __atomic_add_fetch(&l->bad, 1, __ATOMIC_RELAXED);
            loaa_raw_sample_clear(&p->raw);
            return LOAA_OK;
        }
        s->decoded = 1;
    }
    memcpy(s->y, p->y, (size_t)l->C * sizeof(float));
    s->label = p->label;
    loaa_raw_sample_clear(&p->raw);
    l->emitted++;
    pthread_mutex_lock(&l->mu);
    l->count++;
    pthread_cond_signal(&l->not_empty);
    pthread_mutex_unlock(&l->mu);
    return LOAA_OK;
}

static loaa_status run_reader(loaa_loader *l)
{
    loaa_shard_limits lim = {l->o.max_entry_bytes, 0};
    int S = l->buf_cap;
    loaa_rng buf_rng = loaa_rng_split(&l->root, "buffer", (uint64_t)l->epoch);
    pending *in = &l->pool[S]; /* the spare: pool members rotate between `in` and the buffer */
    loaa_status st = LOAA_OK;
    for (int si = 0; si < l->n_shards && !st; si++) {
        loaa_shard *sh;
        if ((st = loaa_shard_open(l->shards[si], &lim, &sh))) {
            if (l->o.skip_bad && st != LOAA_ERR_NOMEM) {
                __atomic_add_fetch(&l->bad, 1, __ATOMIC_RELAXED);
                st = LOAA_OK;
            }
            continue;
        }
        for (;;) {
            int got;
            if (should_stop(l)) {
                st = LOAA_ERR_INTERRUPTED;
                break;
            }
            if ((st = loaa_shard_next(sh, &in->raw, &got))) {
                /* a broken shard ends there; with skip_bad the rest of the epoch goes on */
                if (l->o.skip_bad && st != LOAA_ERR_NOMEM) {
                    __atomic_add_fetch(&l->bad, 1, __ATOMIC_RELAXED);
                    st = LOAA_OK;
                }
                break;
            }
            if (!got)
                break;
            snprintf(in->shard, sizeof in->shard, "%s", l->shards[si]);
            char name[LOAA_PATH_MAX + LOAA_KEY_MAX + 16];
            snprintf(name, sizeof name, "%s: key '%s'", in->shard, in->raw.key);
            if (!in->raw.audio && !in->raw.npy)
                st = loaa_fail(LOAA_ERR_FORMAT, "%s: no audio or features (KEY.wav/.flac/.ogg/.npy)", name);
            else
                st = loaa_loader_parse_label(l->ds, in->raw.cls, in->raw.json, name, in->y, &in->label, &in->start, &in->end);
            if (st) {
                if (!l->o.skip_bad || st == LOAA_ERR_NOMEM)
                    break;
                __atomic_add_fetch(&l->bad, 1, __ATOMIC_RELAXED);
                loaa_raw_sample_clear(&in->raw);
                st = LOAA_OK;
                continue;
            }
            if (S == 0) {
                if ((st = emit(l, in)))
                    break;
                continue;
            }
            /* shuffle buffer: fill to S, then each arrival takes the place of a random member, which goes out */
            if (l->buf_n < S) {
                l->bufp[l->buf_n++] = in;
                in = l->spare_pool[l->buf_n - 1];
                continue;
            }
            int k = (int)loaa_rng_below(&buf_rng, (uint64_t)S);
            pending *leave = l->bufp[k];
            l->bufp[k] = in;
            in = leave;
            if ((st = emit(l, leave)))
                break;
        }
        loaa_shard_close(sh);
    }
    while (!st && l->buf_n > 0) {
        int k = (int)loaa_rng_below(&buf_rng, (uint64_t)l->buf_n);
        pending *leave = l->bufp[k];
        l->bufp[k] = l->bufp[--l->buf_n];
        st = emit(l, leave);
    }
    return st;
}

static void *reader_main(void *arg)
{
    loaa_loader *l = arg;
    loaa_status st = run_reader(l);
    pthread_mutex_lock(&l->mu);
    if (st && st != LOAA_ERR_INTERRUPTED) {
        l->err = st;
        snprintf(l->errmsg, sizeof l->errmsg, "%s", loaa_error_detail());
    }
    l->done = 1;
    pthread_cond_broadcast(&l->not_empty);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* --- open / next / close --- */

loaa_status loaa_loader_open(loaa_loader **out, const loaa_dataset *ds, const loaa_config *cfg, loaa_split split,
                             int epoch)
{
    return loaa_loader_open_opts(out, ds, cfg, split, epoch, NULL);
}

/* Copies the split's shard paths into l (shuffled by (seed, epoch) for training). Errors: the dataset's, LOAA_ERR_NOMEM. */
static loaa_status loader_shards(loaa_loader *l, int fold)
{
    const char *const *paths;
    loaa_status st = loaa_dataset_shards(l->ds, l->split, fold, &paths, &l->n_shards);
    if (st)
        return st;
    l->shards = calloc(l->n_shards ? l->n_shards : 1, sizeof(char *));
    if (!l->shards)
        return loaa_fail(LOAA_ERR_NOMEM, "loader: out of memory");
    for (int i = 0; i < l->n_shards; i++)
        if (!(l->shards[i] = strdup(paths[i])))
            return loaa_fail(LOAA_ERR_NOMEM, "loader: out of memory");
    if (l->train && l->n_shards > 1) {
        loaa_rng r = loaa_rng_split(&l->root, "shards", (uint64_t)l->epoch);
        for (int i = l->n_shards - 1; i > 0; i--) {
            int k = (int)loaa_rng_below(&r, (uint64_t)i + 1);
            char *t = l->shards[i];
            l->shards[i] = l->shards[k];
            l->shards[k] = t;
        }
    }
    return LOAA_OK;
}

/* The prefetch ring (cap slots of (M, T) and C floats), the shuffle buffer's pool and the mixup plans. Errors: LOAA_ERR_NOMEM. */
static loaa_status loader_buffers(loaa_loader *l)
{
    size_t per = (size_t)l->M * l->T;
    l->cap = l->o.prefetch > 0 ? l->o.prefetch : 2 * l->B;
    if (l->cap < l->B)
        l->cap = l->B;
    int S = l->train ? (l->o.shuffle_buffer > 0 ? l->o.shuffle_buffer : 256) : 0;
    l->buf_cap = S;
    l->ring = calloc(l->cap, sizeof(slot));
    l->pool = calloc(S + 1, sizeof(pending));
    l->bufp = calloc(S + 1, sizeof(pending *));
    l->spare_pool = calloc(S + 1, sizeof(pending *));
    l->plan_mix = calloc(l->B, sizeof(int));
    l->plan_partner = calloc(l->B, sizeof(int));
    l->plan_lam = calloc(l->B, sizeof(float));
    l->c_mix = calloc(l->B, sizeof(int));
    l->c_partner = calloc(l->B, sizeof(int));
    l->c_lam = calloc(l->B, sizeof(float));
    if (!l->ring || !l->pool || !l->bufp || !l->spare_pool || !l->plan_mix || !l->plan_partner || !l->plan_lam || !l->c_mix || !l->c_partner || !l->c_lam)
        return loaa_fail(LOAA_ERR_NOMEM, "loader: out of memory");
    for (int i = 0; i < l->cap; i++) {
        l->ring[i].x = malloc(per * sizeof(float));
        l->ring[i].y = malloc((size_t)l->C * sizeof(float));
        if (!l->ring[i].x || !l->ring[i].y)
            return loaa_fail(LOAA_ERR_NOMEM, "loader: out of memory (prefetch of %d samples of %dx%d)", l->cap, l->M, l->T);
    }
    for (int i = 0; i <= S; i++)
        if (!(l->pool[i].y = malloc((size_t)l->C * sizeof(float))))
            return loaa_fail(LOAA_ERR_NOMEM, "loader: out of memory");
    /* while filling, the i-th buffered member came from `in`; the next `in` is pool[i] */
    for (int i = 0; i < S; i++)
        l->spare_pool[i] = &l->pool[i];
    return LOAA_OK;
}

loaa_status loaa_loader_open_opts(loaa_loader **out, const loaa_dataset *ds, const loaa_config *cfg, loaa_split split,
                                  int epoch, const loaa_loader_opts *opts)
{
    assert(out && ds && cfg);
    *out = NULL;
    if (cfg->batch_size < 1)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'batch_size': must be >= 1, got %d", cfg->batch_size);
    loaa_loader_opts o;
    if (opts)
        o = *opts;
    else
        loaa_loader_opts_default(&o);
    if (o.ranks < 1)
        o.ranks = 1;
    if (o.rank < 0 || o.rank >= o.ranks)
        return loaa_fail(LOAA_ERR_CONFIG, "loader: rank %d outside 0..%d", o.rank, o.ranks - 1);
    loaa_loader *l = calloc(1, sizeof *l);
    if (!l)
        return loaa_fail(LOAA_ERR_NOMEM, "loader: out of memory");
    l->ds = ds;
    l->cfg = *cfg;
    l->o = o;
    l->split = split;
    l->epoch = epoch;
    l->train = split == LOAA_SPLIT_TRAIN;
    l->augment = l->train && !l->o.no_augment;
    l->B = cfg->batch_size;
    l->C = loaa_dataset_num_classes(ds);
    l->plan_batch = -1;
    loaa_rng_seed(&l->root, (uint64_t)cfg->seed);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->not_empty, NULL);
    pthread_cond_init(&l->not_full, NULL);
    loaa_status st = loaa_featurizer_create(ds, cfg->target_length, &l->feat);
    if (!st) {
        l->M = loaa_featurizer_rows(l->feat);
        l->T = loaa_featurizer_frames(l->feat);
        st = loader_shards(l, cfg->fold);
    }
    if (!st)
        st = loader_buffers(l);
    if (!st && pthread_create(&l->thread, NULL, reader_main, l) != 0)
        st = loaa_fail(LOAA_ERR_INTERNAL, "loader: cannot start the reader thread");
    if (st) {
        loaa_loader_close(l);
        return st;
    }
    l->thread_started = 1;
    *out = l;
    return LOAA_OK;
}

static void augment_sample(const loaa_loader *l, float *x, long index, float *tmp)
{
    int M = l->M, T = l->T;
    const loaa_config *c = &l->cfg;
    loaa_rng ar = loaa_rng_split(&l->root, "augment", (uint64_t)l->epoch);
    loaa_rng r = loaa_rng_split(&ar, "sample", (uint64_t)index);
    float fill = (float)((0.0 - loaa_dataset_mean(l->ds)) / (2.0 * loaa_dataset_std(l->ds)));
    if (c->freqm > 0) {
        int w = (int)loaa_rng_below(&r, (uint64_t)c->freqm);
        int room = M - w;
        int f0 = room > 0 ? (int)loaa_rng_below(&r, (uint64_t)room) : 0;
        for (int m = f0; m < f0 + w && m < M; m++)
            for (int t = 0; t < T; t++)
                x[(size_t)m * T + t] = fill;
    }
    if (c->timem > 0) {
        int w = (int)loaa_rng_below(&r, (uint64_t)c->timem);
        int room = T - w;
        int t0 = room > 0 ? (int)loaa_rng_below(&r, (uint64_t)room) : 0;
        for (int m = 0; m < M; m++)
            for (int t = t0; t < t0 + w && t < T; t++)
                x[(size_t)m * T + t] = fill;
    }
    if (c->noise > 0) {
        float u = (float)(loaa_rng_uniform(&r) * c->noise);
        for (size_t i = 0; i < (size_t)M * T; i++)
            x[i] += u * (float)loaa_rng_uniform(&r);
    }
    if (c->timeroll > 0) {
        int shift = (int)loaa_rng_below(&r, (uint64_t)(2 * c->timeroll + 1)) - c->timeroll;
        shift = ((shift % T) + T) % T;
        if (shift) {
            for (int m = 0; m < M; m++) {
                float *row = x + (size_t)m * T;
                memcpy(tmp, row, (size_t)T * sizeof(float));
                for (int t = 0; t < T; t++)
                    row[(t + shift) % T] = tmp[t];
            }
        }
    }
}

loaa_status loaa_loader_next(loaa_loader *l, float *x, float *y, int *labels, int *count)
{
    *count = 0;
    if (l->finished)
        return LOAA_OK;
    pthread_mutex_lock(&l->mu);
    while (l->count < l->B && !l->done && !l->err)
        pthread_cond_wait(&l->not_empty, &l->mu);
    loaa_status err = l->err;
    int n = l->count < l->B ? l->count : l->B;
    pthread_mutex_unlock(&l->mu);
    if (err) {
        l->finished = 1;
        return loaa_fail(err, "%s", l->errmsg);
    }
    if (n == 0) {
        l->finished = 1;
        return LOAA_OK;
    }
    size_t per = (size_t)l->M * l->T;
    int lo = 0, hi = n;
    loaa_loader_slice_rows(l->B, n, l->o.rank, l->o.ranks, &lo, &hi);
    int mixing = l->augment && l->cfg.mixup > 0;
    if (mixing)
        make_plan(l, l->batch, l->c_mix, l->c_partner, l->c_lam);
    for (int j = 0; j < n; j++) {
        const slot *s = &l->ring[(l->head + j) % l->cap];
        float *yj = y + (size_t)j * l->C;
        labels[j] = s->label;
        int p = mixing && l->c_mix[j] && l->c_partner[j] < n ? l->c_partner[j] : -1;
        const slot *ps = p >= 0 ? &l->ring[(l->head + p) % l->cap] : NULL;
        float lam = l->c_lam[j];
        for (int c = 0; c < l->C; c++)
            yj[c] = ps ? lam * s->y[c] + (1 - lam) * ps->y[c] : s->y[c];
        if (j < lo || j >= hi)
            continue;
        float *xj = x + (size_t)j * per;
        if (ps)
            for (size_t i = 0; i < per; i++)
                xj[i] = lam * s->x[i] + (1 - lam) * ps->x[i];
        else
            memcpy(xj, s->x, per * sizeof(float));
    }
    if (l->augment && (l->cfg.freqm > 0 || l->cfg.timem > 0 || l->cfg.noise > 0 || l->cfg.timeroll > 0)) {
        float *tmp = malloc((size_t)l->T * sizeof(float));
        if (!tmp)
            return loaa_fail(LOAA_ERR_NOMEM, "loader: out of memory");
        for (int j = lo; j < hi; j++)
            augment_sample(l, x + (size_t)j * per, l->seen + j, tmp);
        free(tmp);
    }
    pthread_mutex_lock(&l->mu);
    l->head = (l->head + n) % l->cap;
    l->count -= n;
    pthread_cond_signal(&l->not_full);
    pthread_mutex_unlock(&l->mu);
    l->seen += n;
    l->batch++;
    *count = n;
    return LOAA_OK;
}

void loaa_loader_close(loaa_loader *l)
{
    if (!l)
        return;
    if (l->thread_started) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->not_full);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    loaa_featurizer_free(l->feat);
    for (int i = 0; i < l->n_shards && l->shards; i++)
        free(l->shards[i]);
    free(l->shards);
    if (l->ring)
        for (int i = 0; i < l->cap; i++) {
            free(l->ring[i].x);
            free(l->ring[i].y);
        }
    free(l->ring);
    if (l->pool)
        for (int i = 0; i <= l->buf_cap; i++) {
            loaa_raw_sample_clear(&l->pool[i].raw);
            free(l->pool[i].y);
        }
    free(l->pool);
    free(l->bufp);
    free(l->spare_pool);
    free(l->plan_mix);
    free(l->plan_partner);
    free(l->plan_lam);
    free(l->c_mix);
    free(l->c_partner);
    free(l->c_lam);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->not_empty);
    pthread_cond_destroy(&l->not_full);
    free(l);
}

int loaa_loader_n_mel(const loaa_loader *l) { return l->M; }
int loaa_loader_target_length(const loaa_loader *l) { return l->T; }
int loaa_loader_n_classes(const loaa_loader *l) { return l->C; }
long loaa_loader_samples_seen(const loaa_loader *l) { return l->seen; }
long loaa_loader_bad_skipped(const loaa_loader *l) { return __atomic_load_n(&l->bad, __ATOMIC_RELAXED); }
