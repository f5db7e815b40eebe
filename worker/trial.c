/* trial.c - the trial runner: epoch loop, best-epoch selection, checkpoints, export; noop trials and fault injection. */
#include "config.h"

#include "worker/trial.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dataset.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/timer.h"
#include "kernels/checkpoint.h"
#include "kernels/metrics.h"
#include "kernels/model.h"
#include "kernels/schedule.h"
#include "kernels/weights.h"
#include "worker/loader.h"
#include "worker/spec.h"

/* ---- fault injection (tests only) ---- */

/* One "KIND[:ARG][@KEY=VALUE]" item: 1 when it applies to this trial (kind and arg filled). */
static int fault_item(const loaa_config *cfg, char *spec, char kind[32], double *arg)
{
    char *cond = strchr(spec, '@');
    if (cond) {
        *cond++ = '\0';
        char *eq = strchr(cond, '=');
        if (!eq)
            return 0;
        *eq = '\0';
        json_t *all = loaa_config_to_json(cfg, 1);
        json_t *v = all ? json_object_get(all, cond) : NULL;
        char *text = v ? loaa_json_canonical(v) : NULL;
        int match = text && (!strcmp(text, eq + 1) || (json_is_string(v) && !strcmp(json_string_value(v), eq + 1)));
        free(text);
        json_decref(all);
        if (!match)
            return 0;
    }
    char *colon = strchr(spec, ':');
    if (colon) {
        *colon++ = '\0';
        *arg = strtod(colon, NULL);
    }
    snprintf(kind, 32, "%s", spec);
    return 1;
}

const char *loaa_trial_fault(const loaa_config *cfg, char kind[32], double *arg)
{
    char spec[LOAA_NAME_MAX];
    kind[0] = '\0';
    *arg = 0;
    snprintf(spec, sizeof spec, "%s", cfg->fault);
    /* A comma-separated list: the first item whose condition holds (fault is no identity key, so one value serves a sweep). */
    char *save = NULL;
    for (char *item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save))
        if (fault_item(cfg, item, kind, arg))
            break;
    return kind;
}

static void crash_now(const char *kind)
{
    fflush(NULL);
    if (!strcmp(kind, "abort"))
        abort();
    /* A real invalid write, so the signal is what a bug would give; the default action first, so a
     * sanitizer's handler (which would exit with a status instead) does not mask the signal. */
    signal(SIGSEGV, SIG_DFL);
    volatile int *volatile p = NULL;
    *p = 1;
    raise(SIGSEGV);
}

/* crash-once: crash unless the marker exists (created first, so the retry passes). */
static int crash_once_armed(const char *dir)
{
    if (!dir)
        return 1;
    char path[LOAA_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/crash-once.marker", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

static loaa_status make_dirs(const char *dir)
{
    char path[LOAA_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return loaa_fail(LOAA_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return loaa_fail(LOAA_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    return LOAA_OK;
}

/* ---- payloads ---- */

static void put_number(json_t *obj, const char *key, double v)
{
    if (isfinite(v))
        json_object_set_new(obj, key, json_real(v));
    else
        json_object_set_new(obj, key, json_null());
}

json_t *loaa_epoch_report_json(const loaa_epoch_report *r)
{
    json_t *m = json_object();
    json_t *obj = json_object();
    if (!m || !obj) {
        json_decref(m);
        json_decref(obj);
        return NULL;
    }
    put_number(m, "train_loss", r->train_loss);
    put_number(m, "val_loss", r->val_loss);
    put_number(m, "val_acc", r->val_acc);
    put_number(m, "val_map", r->val_map);
    put_number(m, "lr", r->lr);
    put_number(m, "seconds", r->seconds);
    json_object_set_new(obj, "epoch", json_integer(r->epoch));
    json_object_set_new(obj, "metrics", m);
    return obj;
}

static void put_text(json_t *obj, const char *key, const char *text)
{
    if (text && text[0])
        json_object_set_new(obj, key, json_string(text));
}

json_t *loaa_trial_result_json(const loaa_trial_result *r)
{
    json_t *obj = json_object(), *res = json_object(), *stats = json_object(), *files = json_object(), *prov = json_object();
    if (!obj || !res || !stats || !files || !prov) {
        json_decref(obj);
        json_decref(res);
        json_decref(stats);
        json_decref(files);
        json_decref(prov);
        return NULL;
    }
    put_number(res, "train_loss", r->train_loss);
    put_number(res, "val_loss", r->val_loss);
    put_number(res, "val_acc", r->val_acc);
    put_number(res, "val_map", r->val_map);
    put_number(res, "test_acc", r->test_acc);
    put_number(res, "test_top5", r->test_top5);
    put_number(res, "test_map", r->test_map);
    put_number(res, "test_mpca", r->test_mpca);
    put_number(stats, "seconds", r->seconds);
    put_number(stats, "samples_per_s", r->samples_per_s);
    json_object_set_new(stats, "peak_rss", json_integer(r->peak_rss));
    json_object_set_new(stats, "trainable_params", json_integer(r->trainable_params));
    json_object_set_new(stats, "total_params", json_integer(r->total_params));
    put_text(files, "checkpoint", r->checkpoint);
    put_text(files, "best_checkpoint", r->best_checkpoint);
    put_text(files, "adapter", r->adapter);
    put_text(files, "backbone", r->backbone);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    put_text(prov, "loaa_version", PACKAGE_VERSION);
    put_text(prov, "host", host);
    put_text(prov, "gemm_backend", r->gemm_backend);
    put_text(prov, "blas", openblas_get_config());
    put_text(prov, "scalapack", !strcmp(r->gemm_backend, "scalapack") ? "scalapack-openmpi" : "none");
    put_text(prov, "grid", r->grid);
    json_object_set_new(prov, "ranks", json_integer(r->ranks > 0 ? r->ranks : 1));
    json_object_set_new(obj, "pruned", json_boolean(r->pruned));
    json_object_set_new(obj, "best_epoch", json_integer(r->best_epoch));
    json_object_set_new(obj, "epochs_run", json_integer(r->epochs_run));
    json_object_set_new(obj, "results", res);
    json_object_set_new(obj, "stats", stats);
    json_object_set_new(obj, "files", files);
    json_object_set_new(obj, "provenance", prov);
    return obj;
}

/* ---- best-epoch bookkeeping, shared by noop and real training ---- */

static int select_maximize(const loaa_config *cfg) { return strstr(cfg->select_on, "loss") == NULL; }

static double selected(const loaa_config *cfg, const loaa_epoch_report *r)
{
    if (!strcmp(cfg->select_on, "val_loss"))
        return r->val_loss;
    if (!strcmp(cfg->select_on, "val_map"))
        return r->val_map;
    if (!strcmp(cfg->select_on, "train_loss"))
        return r->train_loss;
    return r->val_acc;
}

/* 1 when epoch report r beats the best so far (ties keep the earlier epoch). */
static int is_better(const loaa_config *cfg, const loaa_epoch_report *r, double best, int have_best)
{
    double v = selected(cfg, r);
    if (!have_best)
        return 1;
    if (isnan(v))
        return 0;
    if (isnan(best))
        return 1;
    return select_maximize(cfg) ? v > best : v < best;
}

/* ---- noop: fixed metrics from the config, no model, no data ---- */

static loaa_status run_noop(const loaa_config *cfg, const loaa_trial_opts *opts, const loaa_trial_hooks *hooks,
                            const char *fault, double fault_arg, loaa_trial_result *out)
{
    char *canon = loaa_config_canonical(cfg);
    if (!canon)
        return loaa_fail(LOAA_ERR_NOMEM, "noop trial: out of memory");
    char hex[65];
    loaa_sha256_hex(canon, strlen(canon), hex);
    free(canon);
    char head[9];
    memcpy(head, hex, 8);
    head[8] = '\0';
    double u = (double)strtoul(head, NULL, 16) / 4294967296.0;
    double t0 = loaa_now(), best = NAN;
    int have_best = 0;
    int epochs = cfg->epochs;
    for (int e = 0; e < epochs; e++) {
        double progress = (double)(e + 1) / epochs;
        loaa_epoch_report r = {
            .epoch = e,
            .train_loss = 2.0 - 1.5 * progress * (0.5 + 0.5 * u),
            .val_acc = 0.1 + 0.5 * u + 0.35 * progress,
            .lr = cfg->lr,
        };
        r.val_loss = r.train_loss + 0.1;
        r.val_map = 0.9 * r.val_acc;
        if (!strcmp(fault, "sleep"))
            loaa_sleep(fault_arg);
        if (!strcmp(fault, "nan") && e == 0)
            return loaa_fail(LOAA_ERR_NUMERIC, "epoch %d: training loss is NaN (fault injection)", e + 1);
        r.seconds = loaa_now() - t0;
        if (opts->print_epochs)
            printf("epoch %d/%d  train_loss %.4f  val_loss %.4f  val_acc %.4f  val_map %.4f\n", e + 1, epochs, r.train_loss,
                   r.val_loss, r.val_acc, r.val_map);
        if (is_better(cfg, &r, best, have_best)) {
            best = selected(cfg, &r);
            have_best = 1;
            out->best_epoch = e;
            out->train_loss = r.train_loss;
            out->val_loss = r.val_loss;
            out->val_acc = r.val_acc;
            out->val_map = r.val_map;
            out->test_acc = r.val_acc - 0.02;
            out->test_top5 = fmin(1.0, r.val_acc + 0.2);
            out->test_map = r.val_map - 0.02;
            out->test_mpca = r.val_acc - 0.03;
        }
        out->epochs_run = e + 1;
        loaa_trial_action act = hooks && hooks->on_epoch ? hooks->on_epoch(hooks->ctx, &r) : LOAA_TRIAL_CONTINUE;
        if (e == 0 && (!strcmp(fault, "crash") || !strcmp(fault, "abort") ||
                       (!strcmp(fault, "crash-once") && crash_once_armed(opts->dir))))
            crash_now(fault);
        if (act == LOAA_TRIAL_STOP && e + 1 < epochs) {
            out->pruned = 1;
            break;
        }
    }
    out->seconds = loaa_now() - t0;
    out->trainable_params = 1000;
    out->total_params = 100000;
    out->peak_rss = loaa_peak_rss();
    snprintf(out->gemm_backend, sizeof out->gemm_backend, "none");
    return LOAA_OK;
}


/* ---- real training ---- */

typedef struct split_eval {
    double loss, top1, top5, map, mpca;
    long n;
} split_eval;

typedef struct bufs {
    float *x, *y, *logits;
    int *labels;
    float *all_logits, *all_targets; /* (N, C) accumulated over a split */
    int *all_labels;
    long cap;                        /* samples the accumulators hold */
} bufs;

static loaa_status grow_eval(bufs *b, long need, int c)
{
    if (need <= b->cap)
        return LOAA_OK;
    long cap = b->cap ? b->cap * 2 : 1024;
    while (cap < need)
        cap *= 2;
    float *l = realloc(b->all_logits, (size_t)cap * (size_t)c * sizeof *l);
    if (l)
        b->all_logits = l;
    float *t = realloc(b->all_targets, (size_t)cap * (size_t)c * sizeof *t);
    if (t)
        b->all_targets = t;
    int *y = realloc(b->all_labels, (size_t)cap * sizeof *y);
    if (y)
        b->all_labels = y;
    if (!l || !t || !y)
        return loaa_fail(LOAA_ERR_NOMEM, "evaluation: out of memory for %ld samples", cap);
    b->cap = cap;
    return LOAA_OK;
}

/* The ranks sharing a trial: each decodes its block of every batch (the loader's slice mode) and the group completes x. */
typedef struct group_io {
    MPI_Comm comm; /* MPI_COMM_NULL: one process */
    int rank, size;
    size_t per;    /* floats per sample: M * T */
    int *counts, *displs;
} group_io;

static loaa_status group_open(loaa_loader **l, const loaa_dataset *ds, const loaa_config *cfg, loaa_split split, int epoch,
                              const group_io *g)
{
    loaa_loader_opts o;
    loaa_loader_opts_default(&o);
    if (g->size > 1) {
        o.rank = g->rank;
        o.ranks = g->size;
    }
    return loaa_loader_open_opts(l, ds, cfg, split, epoch, &o);
}

/*
 * loaa_loader_next for the group: every rank learns whether any rank failed (HPL style, so none waits in a
 * collective the others left), then the blocks of x are gathered in place. Same count on every rank.
 */
static loaa_status group_next(loaa_loader *l, const loaa_config *cfg, group_io *g, float *x, float *y, int *labels, int *count)
{
    loaa_status st = loaa_loader_next(l, x, y, labels, count);
    if (g->size <= 1)
        return st;
    int bad = st != LOAA_OK, any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, g->comm);
    if (any)
        return st ? st : loaa_fail(LOAA_ERR_IO, "another rank of the trial's group could not read its part of the batch");
    if (*count == 0)
        return LOAA_OK;
    for (int r = 0; r < g->size; r++) {
        int lo, hi;
        loaa_loader_slice_rows(cfg->batch_size, *count, r, g->size, &lo, &hi);
        g->counts[r] = (int)((size_t)(hi - lo) * g->per);
        g->displs[r] = (int)((size_t)lo * g->per);
    }
    if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, g->counts, g->displs, MPI_FLOAT, g->comm) != MPI_SUCCESS)
        return loaa_fail(LOAA_ERR_MPI, "MPI_Allgatherv of a batch failed");
    return LOAA_OK;
}

/* Loss and metrics of one whole split (validation or test), never augmented. */
static loaa_status evaluate(loaa_model *m, const loaa_dataset *ds, const loaa_config *cfg, loaa_split split, int epoch, bufs *b,
                            int c, group_io *g, split_eval *out)
{
    loaa_loader *l;
    loaa_status st = group_open(&l, ds, cfg, split, epoch, g);
    if (st)
        return st;
    long n = 0;
    double loss_sum = 0;
    int count;
    while (!(st = group_next(l, cfg, g, b->x, b->y, b->labels, &count)) && count > 0) {
        float loss;
        if ((st = grow_eval(b, n + count, c)) ||
            (st = loaa_model_evaluate(m, b->x, b->y, count, b->all_logits + (size_t)n * (size_t)c, &loss)))
            break;
        memcpy(b->all_targets + (size_t)n * (size_t)c, b->y, (size_t)count * (size_t)c * sizeof *b->y);
        memcpy(b->all_labels + n, b->labels, (size_t)count * sizeof *b->labels);
        loss_sum += (double)loss * count;
        n += count;
    }
    loaa_loader_close(l);
    if (st)
        return st;
    if (n == 0)
        return loaa_fail(LOAA_ERR_CONFIG, "the %s split has no samples", split == LOAA_SPLIT_VAL ? "validation" : "test");
    loaa_metrics met;
    st = loaa_metrics_compute(&met, b->all_logits, loaa_dataset_multilabel(ds) ? NULL : b->all_labels,
                              loaa_dataset_multilabel(ds) ? b->all_targets : NULL, (int)n, c, NULL);
    if (st)
        return st;
    out->loss = loss_sum / n;
    out->top1 = met.top1;
    out->top5 = met.top5;
    out->map = met.map;
    out->mpca = met.mpca;
    out->n = n;
    return LOAA_OK;
}

/* Training samples of the trial's split from the manifest's "counts" (written by pack/synth); -1 if absent. */
static long train_count(const loaa_config *cfg, const loaa_dataset *ds)
{
    char path[LOAA_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/dataset.json", cfg->dataset);
    json_t *root = json_load_file(path, 0, NULL);
    json_t *counts = json_object_get(root, "counts");
    long n = -1;
    int k = loaa_dataset_num_folds(ds);
    if (json_is_object(counts) && k == 0 && json_is_integer(json_object_get(counts, "train"))) {
        n = (long)json_integer_value(json_object_get(counts, "train"));
    } else if (json_is_object(counts) && k > 0 && cfg->fold >= 1) {
        n = 0;
        for (int f = 1; f <= k && n >= 0; f++) {
            if (f == cfg->fold || f == cfg->fold % k + 1)
                continue;
            char name[32];
            snprintf(name, sizeof name, "fold%d", f);
            json_t *v = json_object_get(counts, name);
            n = json_is_integer(v) ? n + (long)json_integer_value(v) : -1;
        }
    }
    json_decref(root);
    return n;
}

/* The front end an adapter file records: dataset.json without its lists of data. */
static char *frontend_json(const loaa_config *cfg)
{
    char path[LOAA_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/dataset.json", cfg->dataset);
    json_t *root = json_load_file(path, 0, NULL);
    if (!root)
        return NULL;
    const char *drop[] = {"classes", "splits", "folds", "counts", "name", "format", "version", "source", "created_by"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        json_object_del(root, drop[i]);
    char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    return text;
}

typedef struct best_state {
    int epoch;
    double value;
    loaa_epoch_report r;
    split_eval test;
} best_state;

/*
 * Per-epoch reports of a trial, one line each in DIR/epochs.txt, written
 * (and synced) before the epoch's checkpoint: a job killed after the
 * checkpoint but before the coordinator committed the epoch's metrics would
 * otherwise resume after that epoch with its metrics lost. A resumed trial
 * replays the reports of the epochs it skips (the store overwrites the same
 * keys). A torn last line (killed mid-write) is ignored.
 */
static void history_append(const char *dir, const loaa_epoch_report *r)
{
    char path[LOAA_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/epochs.txt", dir);
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    fprintf(f, "%d %.17g %.17g %.17g %.17g %.17g %.17g\n", r->epoch, r->train_loss, r->val_loss, r->val_acc, r->val_map, r->lr,
            r->seconds);
    fflush(f);
    fsync(fileno(f));
    fclose(f);
}

static void history_replay(const char *dir, int before, const loaa_trial_hooks *hooks)
{
    char path[LOAA_PATH_MAX + 64], line[512];
    snprintf(path, sizeof path, "%s/epochs.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    int sent = -1;
    while (fgets(line, sizeof line, f)) {
        loaa_epoch_report r;
        if (!strchr(line, '\n') || sscanf(line, "%d %lf %lf %lf %lf %lf %lf", &r.epoch, &r.train_loss, &r.val_loss, &r.val_acc,
                                           &r.val_map, &r.lr, &r.seconds) != 7)
            continue;
        if (r.epoch > sent && r.epoch < before) {
            hooks->on_epoch(hooks->ctx, &r); /* already decided: the run went on after this epoch */
            sent = r.epoch;
        }
    }
    fclose(f);
}

static void extra_write(char *extra, size_t cap, const best_state *b, long batches, double seconds, long samples)
{
    json_t *o = json_pack("{s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:I,s:f,s:I}", "best_epoch", b->epoch, "best_value",
                          isfinite(b->value) ? b->value : 0.0, "train_loss", b->r.train_loss, "val_loss", b->r.val_loss, "val_acc",
                          b->r.val_acc, "val_map", b->r.val_map, "test_acc", b->test.top1, "test_top5", b->test.top5, "test_map",
                          b->test.map, "test_mpca", b->test.mpca, "batches", (json_int_t)batches, "seconds", seconds, "samples",
                          (json_int_t)samples);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    snprintf(extra, cap, "%s", text ? text : "");
    free(text);
    json_decref(o);
}

static void extra_read(const char *extra, best_state *b, long *batches, double *seconds, long *samples)
{
    json_t *o = json_loads(extra, 0, NULL);
    if (!o)
        return;
    b->epoch = (int)json_integer_value(json_object_get(o, "best_epoch"));
    b->value = json_number_value(json_object_get(o, "best_value"));
    b->r.train_loss = json_number_value(json_object_get(o, "train_loss"));
    b->r.val_loss = json_number_value(json_object_get(o, "val_loss"));
    b->r.val_acc = json_number_value(json_object_get(o, "val_acc"));
    b->r.val_map = json_number_value(json_object_get(o, "val_map"));
    b->test.top1 = json_number_value(json_object_get(o, "test_acc"));
    b->test.top5 = json_number_value(json_object_get(o, "test_top5"));
    b->test.map = json_number_value(json_object_get(o, "test_map"));
    b->test.mpca = json_number_value(json_object_get(o, "test_mpca"));
    *batches = (long)json_integer_value(json_object_get(o, "batches"));
    *seconds = json_number_value(json_object_get(o, "seconds"));
    *samples = (long)json_integer_value(json_object_get(o, "samples"));
    json_decref(o);
}

static loaa_status run_model(const loaa_config *cfg_in, const loaa_trial_opts *opts, const loaa_trial_hooks *hooks, const char *fault,
                             double fault_arg, loaa_trial_result *out)
{
    loaa_config cfg = *cfg_in;
    loaa_dataset *ds = NULL;
    loaa_model *m = NULL;
    char *canon = NULL; /* the trial's canonical config: checkpoint and adapter metadata */
    bufs b = {0};
    group_io gio = {0};
    loaa_status st;
    int grank = 0, gsize = 1;
    if (opts->group != MPI_COMM_NULL) {
        MPI_Comm_rank(opts->group, &grank);
        MPI_Comm_size(opts->group, &gsize);
    }
    int writer = grank == 0 && opts->dir; /* one rank of a group writes the files */
    if ((st = loaa_dataset_open(cfg.dataset, &ds)))
        return loaa_fail_prefix(st, "key 'dataset': ");
    int c = loaa_dataset_num_classes(ds);
    loaa_model_shape shape = {.n_mel = loaa_dataset_num_mel(ds),
                              .n_frames = cfg.target_length ? cfg.target_length : loaa_dataset_target_length(ds),
                              .n_classes = c, .max_batch = cfg.batch_size};
    if ((st = loaa_spec_prepare(&cfg, &shape)) || (st = loaa_spec_create_model(&m, &cfg, &shape)))
        goto done;
    loaa_schedule_spec sched = loaa_spec_schedule_from_config(&cfg);
    if (!(canon = loaa_config_canonical(&cfg))) {
        st = loaa_fail(LOAA_ERR_NOMEM, "config");
        goto done;
    }
    if (gsize > 1 && (st = loaa_model_set_group(m, opts->group, cfg.grid_p, cfg.grid_q)))
        goto done;
    if ((st = loaa_model_init(m, (uint64_t)cfg.seed)))
        goto done;
    if (cfg.backbone_kind == LOAA_BACKBONE_PATH && (st = loaa_weights_load_backbone(m, cfg.backbone)))
        goto done;
    size_t per = (size_t)shape.n_mel * (size_t)shape.n_frames;
    gio.comm = opts->group;
    gio.rank = grank;
    gio.size = gsize;
    gio.per = per;
    if (gsize > 1) {
        gio.counts = malloc((size_t)gsize * sizeof *gio.counts);
        gio.displs = malloc((size_t)gsize * sizeof *gio.displs);
        if (!gio.counts || !gio.displs) {
            st = loaa_fail(LOAA_ERR_NOMEM, "group buffers");
            goto done;
        }
    }
    b.x = malloc((size_t)cfg.batch_size * per * sizeof *b.x);
    b.y = malloc((size_t)cfg.batch_size * (size_t)c * sizeof *b.y);
    b.logits = malloc((size_t)cfg.batch_size * (size_t)c * sizeof *b.logits);
    b.labels = malloc((size_t)cfg.batch_size * sizeof *b.labels);
    if (!b.x || !b.y || !b.logits || !b.labels) {
        st = loaa_fail(LOAA_ERR_NOMEM, "batch buffers of %d samples", cfg.batch_size);
        goto done;
    }
    char last[LOAA_PATH_MAX + 64] = "", bestp[LOAA_PATH_MAX + 64] = "";
    if (opts->dir) {
        snprintf(last, sizeof last, "%s/last.ckpt", opts->dir);
        snprintf(bestp, sizeof bestp, "%s/best.ckpt", opts->dir);
    }
    best_state best = {.epoch = -1, .value = NAN};
    long batches_per_epoch = -1, samples = 0;
    double train_seconds = 0;
    int start = 0;
    loaa_checkpoint_state cs;
    memset(&cs, 0, sizeof cs);
    if (opts->dir && opts->resume && access(last, R_OK) == 0) {
        /* Parameters, AdamW moments and step come back; the data order depends on (seed, epoch) only.
         * A damaged checkpoint (truncated by a full disk, say) leaves the model as initialised: the trial
         * starts over instead of failing, and the bad file is kept aside for inspection. */
        if ((st = loaa_checkpoint_load(last, m, canon, &cs))) {
            char aside[LOAA_PATH_MAX + 80];
            snprintf(aside, sizeof aside, "%s.bad", last);
            printf("cannot resume from %s (%s: %s); starting over, the file is kept as %s\n", last, loaa_strerror(st),
                   loaa_error_detail(), aside);
            if (writer) {
                rename(last, aside);
                char hist[LOAA_PATH_MAX + 80], hist_aside[LOAA_PATH_MAX + 90];
                snprintf(hist, sizeof hist, "%s/epochs.txt", opts->dir);
                snprintf(hist_aside, sizeof hist_aside, "%s/epochs.txt.bad", opts->dir);
                rename(hist, hist_aside); /* its epochs belong to the run that is discarded */
            }
            memset(&cs, 0, sizeof cs);
            st = LOAA_OK;
        } else {
            start = (int)cs.epoch;
            extra_read(cs.extra, &best, &batches_per_epoch, &train_seconds, &samples);
            printf("resumed from %s after epoch %d\n", last, start);
        }
        if (hooks && hooks->on_epoch)
            history_replay(opts->dir, start, hooks);
    }
    long train_n = train_count(&cfg, ds);
    if (train_n > 0)
        batches_per_epoch = (train_n + cfg.batch_size - 1) / cfg.batch_size;
    for (int e = start; e < cfg.epochs; e++) {
        double te = loaa_now();
        loaa_loader *l;
        if ((st = group_open(&l, ds, &cfg, LOAA_SPLIT_TRAIN, e, &gio)))
            goto done;
        long nb = 0, epoch_samples = 0;
        double loss_sum = 0;
        int count;
        while (!(st = group_next(l, &cfg, &gio, b.x, b.y, b.labels, &count)) && count > 0) {
            /* Fractional epochs for warm-up and cosine; an unknown epoch length counts from the last epoch's. */
            double frac = batches_per_epoch > 0 ? (double)nb / (double)batches_per_epoch : 0;
            double lr = loaa_schedule_lr(&sched, e + (frac < 1 ? frac : 1));
            float loss;
            if (!strcmp(fault, "nan") && e == 0)
                st = loaa_fail(LOAA_ERR_NUMERIC, "loss is NaN (fault injection)");
            else
                st = loaa_model_train_step(m, b.x, b.y, count, lr, &loss);
            if (st)
                break;
            loss_sum += (double)loss * count;
            samples += count;
            epoch_samples += count;
            nb++;
            if (!strcmp(fault, "sleep"))
                loaa_sleep(fault_arg / 10);
        }
        loaa_loader_close(l);
        if (st) {
            loaa_fail_prefix(st, "epoch %d: ", e + 1);
            goto done;
        }
        if (nb == 0) {
            st = loaa_fail(LOAA_ERR_CONFIG, "the training split has no samples");
            goto done;
        }
        if (batches_per_epoch <= 0 || train_n <= 0)
            batches_per_epoch = nb;
        train_seconds += loaa_now() - te;
        split_eval val;
        if ((st = evaluate(m, ds, &cfg, LOAA_SPLIT_VAL, e, &b, c, &gio, &val))) {
            loaa_fail_prefix(st, "epoch %d: validation: ", e + 1);
            goto done;
        }
        loaa_epoch_report r = {.epoch = e, .train_loss = loss_sum / (double)epoch_samples, .val_loss = val.loss,
                               .val_acc = val.top1, .val_map = val.map, .lr = loaa_schedule_lr(&sched, e + 1.0),
                               .seconds = loaa_now() - te};
        int improved = is_better(&cfg, &r, best.value, best.epoch >= 0);
        if (improved) {
            split_eval test;
            if ((st = evaluate(m, ds, &cfg, LOAA_SPLIT_TEST, e, &b, c, &gio, &test))) {
                loaa_fail_prefix(st, "epoch %d: test: ", e + 1);
                goto done;
            }
            best.epoch = e;
            best.value = selected(&cfg, &r);
            best.r = r;
            best.test = test;
        }
        if (opts->print_epochs)
            printf("epoch %d/%d  lr %.3g  train_loss %.4f  val_loss %.4f  val_acc %.4f  val_map %.4f%s  %.1fs\n", e + 1, cfg.epochs,
                   r.lr, r.train_loss, r.val_loss, r.val_acc, r.val_map, improved ? "  *" : "", r.seconds);
        cs.epoch = e + 1;
        cs.batch = 0;
        extra_write(cs.extra, sizeof cs.extra, &best, batches_per_epoch, train_seconds, samples);
        if (writer && opts->dir)
            history_append(opts->dir, &r);
        /* best before last: a kill between the two must not leave a last.ckpt whose best epoch has no best.ckpt */
        if (writer && ((improved && (st = loaa_checkpoint_save(bestp, m, canon, &cs))) || (st = loaa_checkpoint_save(last, m, canon, &cs))))
            goto done;
        out->epochs_run = e + 1;
        loaa_trial_action act = hooks && hooks->on_epoch ? hooks->on_epoch(hooks->ctx, &r) : LOAA_TRIAL_CONTINUE;
        if (e == start && (!strcmp(fault, "crash") || !strcmp(fault, "abort") ||
                           (!strcmp(fault, "crash-once") && crash_once_armed(opts->dir))))
            crash_now(fault);
        if (act == LOAA_TRIAL_STOP && e + 1 < cfg.epochs) {
            out->pruned = 1;
            break;
        }
    }
    if (out->epochs_run == 0)
        out->epochs_run = start;
    out->best_epoch = best.epoch;
    out->train_loss = best.r.train_loss;
    out->val_loss = best.r.val_loss;
    out->val_acc = best.r.val_acc;
    out->val_map = best.r.val_map;
    out->test_acc = best.test.top1;
    out->test_top5 = best.test.top5;
    out->test_map = best.test.map;
    out->test_mpca = best.test.mpca;
    out->seconds = train_seconds;
    out->samples_per_s = train_seconds > 0 ? samples / train_seconds : 0;
    out->peak_rss = loaa_peak_rss();
    out->trainable_params = (long long)loaa_model_trainable_params(m);
    out->total_params = (long long)loaa_model_total_params(m);
    int gp = 1, gq = 1;
    snprintf(out->gemm_backend, sizeof out->gemm_backend, "%s", loaa_model_backend(m, &gp, &gq));
    snprintf(out->grid, sizeof out->grid, "%dx%d", gp, gq);
    if (writer) {
        snprintf(out->checkpoint, sizeof out->checkpoint, "%s", last);
        if (best.epoch >= 0)
            snprintf(out->best_checkpoint, sizeof out->best_checkpoint, "%s", bestp);
        /* The adapter holds the best epoch's weights: reload them when training went past it. */
        if (best.epoch >= 0 && best.epoch + 1 != out->epochs_run) {
            loaa_checkpoint_state bs;
            if ((st = loaa_checkpoint_load(bestp, m, canon, &bs)))
                goto done;
        }
        const char **names = malloc((size_t)c * sizeof *names);
        char *front = frontend_json(&cfg);
        if (!names) {
            free(front);
            st = loaa_fail(LOAA_ERR_NOMEM, "adapter export");
            goto done;
        }
        for (int k = 0; k < c; k++)
            names[k] = loaa_dataset_class_name(ds, k);
        loaa_checkpoint_adapter_info info = {.class_names = names, .n_classes = c, .fbank_json = front,
                                  .backbone_path = cfg.backbone_kind == LOAA_BACKBONE_PATH ? cfg.backbone : NULL,
                                  .n_mel = shape.n_mel, .n_frames = shape.n_frames, .dist_token = shape.dist_token};
        snprintf(out->adapter, sizeof out->adapter, "%s/adapter.safetensors", opts->dir);
        st = loaa_checkpoint_adapter_export(out->adapter, m, canon, &info);
        free(names);
        free(front);
        /* A trial that trained every tensor is a backbone for chained sweeps. */
        if (!st && cfg.method == LOAA_METHOD_FULL) {
            snprintf(out->backbone, sizeof out->backbone, "%s/backbone.safetensors", opts->dir);
            st = loaa_weights_export_backbone(out->backbone, m, canon);
        }
    }
done:
    free(canon);
    free(gio.counts);
    free(gio.displs);
    loaa_model_free(m);
    loaa_dataset_free(ds);
    free(b.x);
    free(b.y);
    free(b.logits);
    free(b.labels);
    free(b.all_logits);
    free(b.all_targets);
    free(b.all_labels);
    return st;
}

loaa_status loaa_trial_run(const loaa_config *cfg, const loaa_trial_opts *opts, const loaa_trial_hooks *hooks,
                           loaa_trial_result *out)
{
    loaa_status st;
    char fault[32];
    double fault_arg;
    memset(out, 0, sizeof *out);
    out->best_epoch = -1;
    out->ranks = 1;
    if (opts->group != MPI_COMM_NULL)
        MPI_Comm_size(opts->group, &out->ranks);
    loaa_trial_fault(cfg, fault, &fault_arg);
    if (opts->dir && (st = make_dirs(opts->dir)))
        return st;
    if (!strcmp(fault, "fail"))
        return loaa_fail(LOAA_ERR_CONFIG, "fault injection: this trial fails on purpose");
    if (cfg->method == LOAA_METHOD_NOOP)
        st = run_noop(cfg, opts, hooks, fault, fault_arg, out);
    else
        st = run_model(cfg, opts, hooks, fault, fault_arg, out);
    if (st)
        return st;
    if (hooks && hooks->on_result)
        hooks->on_result(hooks->ctx, out);
    return LOAA_OK;
}
