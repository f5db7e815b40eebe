/*
 * trial.c - the trial runner (see trial.h), a short pipeline that reads top
 * to bottom at the end of this file: run_model = trial_setup -> trial_resume
 * -> trial_epoch per epoch (train_epoch over a batch_source, evaluate,
 * save_epoch) -> trial_finish (result, trial_export). Fault injection goes
 * through trial_fault's named points; the eight result metrics are named
 * once, in metric_defs.
 */
#include "config.h"

#include "worker/trial.h"

#include <assert.h>
#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dataset.h"
#include "common/dynbuf.h"
#include "common/fs.h"
#include "common/jsontext.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/timer.h"
#include "kernels/checkpoint.h"
#include "kernels/gemm.h"
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

/* The parsed fault of a trial: what to inject and where (the named points below). */
typedef enum fault_kind { FAULT_NONE, FAULT_CRASH, FAULT_ABORT, FAULT_CRASH_ONCE, FAULT_NAN, FAULT_FAIL, FAULT_SLEEP } fault_kind;

typedef struct trial_fault {
    fault_kind kind;
    double arg;      /* sleep: seconds per epoch */
    const char *dir; /* the trial's folder, for crash-once's marker */
} trial_fault;

/* cfg->fault parsed once; an unknown kind injects nothing. */
static trial_fault fault_parse(const loaa_config *cfg, const char *dir)
{
    static const char *const names[] = {"", "crash", "abort", "crash-once", "nan", "fail", "sleep"};
    char kind[32];
    trial_fault f = {FAULT_NONE, 0, dir};
    loaa_trial_fault(cfg, kind, &f.arg);
    for (size_t i = 1; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(kind, names[i]))
            f.kind = (fault_kind)i;
    return f;
}

/* Point "start": fail makes the trial an ordinary error before anything runs. */
static loaa_status fault_at_start(const trial_fault *f)
{
    return f->kind == FAULT_FAIL ? loaa_fail(LOAA_ERR_CONFIG, "fault injection: this trial fails on purpose") : LOAA_OK;
}

/* Point "loss": 1 when the loss of this epoch's steps is to be NaN (nan: the first epoch). */
static int fault_nan_loss(const trial_fault *f, int epoch)
{
    return f->kind == FAULT_NAN && epoch == 0;
}

/* Point "work": sleep takes share x its seconds (a whole epoch of noop, one batch of a model: 1/10). */
static void fault_sleep(const trial_fault *f, double share)
{
    if (f->kind == FAULT_SLEEP)
        loaa_sleep(f->arg * share);
}

/* Point "reported": after the first epoch's report (partial metrics exist), crash, abort or crash-once fire. */
static void fault_after_report(const trial_fault *f, int first_epoch)
{
    if (!first_epoch)
        return;
    if (f->kind == FAULT_CRASH || (f->kind == FAULT_CRASH_ONCE && crash_once_armed(f->dir)))
        crash_now("crash");
    if (f->kind == FAULT_ABORT)
        crash_now("abort");
}

/*
 * The trial folder, made (mkdir -p). Every file of a trial is the folder
 * plus a name of at most TRIAL_FILE_NAME_MAX bytes ("/backbone.safetensors"),
 * and every buffer for one has LOAA_PATH_MAX + 32 bytes or more: a longer
 * folder is refused naming it, so that no name is ever truncated (last and
 * best checkpoints would otherwise collide into one file).
 */
#define TRIAL_FILE_NAME_MAX 31
static loaa_status make_trial_dir(const char *dir)
{
    size_t n = strlen(dir);
    if (n + TRIAL_FILE_NAME_MAX > LOAA_PATH_MAX + 31)
        return loaa_fail(LOAA_ERR_LIMIT, "trial folder of %zu bytes (at most %d fit the trial's file names): %s", n,
                         LOAA_PATH_MAX, dir);
    return loaa_fs_make_dirs(dir);
}

/* ---- the eight metrics of a trial result, named once ---- */

enum { M_TRAIN_LOSS, M_VAL_LOSS, M_VAL_ACC, M_VAL_MAP, M_TEST_ACC, M_TEST_TOP5, M_TEST_MAP, M_TEST_MPCA, N_METRICS };

#define NOT_REPORTED ((size_t)-1)

/* Name (payloads, store, checkpoint bookkeeping), place in loaa_trial_result, place in loaa_epoch_report (or NOT_REPORTED). */
static const struct metric_def {
    const char *name;
    size_t in_result, in_report;
} metric_defs[N_METRICS] = {
    [M_TRAIN_LOSS] = {"train_loss", offsetof(loaa_trial_result, train_loss), offsetof(loaa_epoch_report, train_loss)},
    [M_VAL_LOSS] = {"val_loss", offsetof(loaa_trial_result, val_loss), offsetof(loaa_epoch_report, val_loss)},
    [M_VAL_ACC] = {"val_acc", offsetof(loaa_trial_result, val_acc), offsetof(loaa_epoch_report, val_acc)},
    [M_VAL_MAP] = {"val_map", offsetof(loaa_trial_result, val_map), offsetof(loaa_epoch_report, val_map)},
    [M_TEST_ACC] = {"test_acc", offsetof(loaa_trial_result, test_acc), NOT_REPORTED},
    [M_TEST_TOP5] = {"test_top5", offsetof(loaa_trial_result, test_top5), NOT_REPORTED},
    [M_TEST_MAP] = {"test_map", offsetof(loaa_trial_result, test_map), NOT_REPORTED},
    [M_TEST_MPCA] = {"test_mpca", offsetof(loaa_trial_result, test_mpca), NOT_REPORTED},
};

static double *result_metric(loaa_trial_result *r, int i) { return (double *)((char *)r + metric_defs[i].in_result); }
static double result_metric_get(const loaa_trial_result *r, int i)
{
    return *(const double *)((const char *)r + metric_defs[i].in_result);
}
static double report_metric(const loaa_epoch_report *r, int i)
{
    return *(const double *)((const char *)r + metric_defs[i].in_report);
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
    for (int i = 0; i < N_METRICS; i++)
        if (metric_defs[i].in_report != NOT_REPORTED)
            put_number(m, metric_defs[i].name, report_metric(r, i));
    put_number(m, "lr", r->lr);
    put_number(m, "seconds", r->seconds);
    json_object_set_new(obj, "epoch", json_integer(r->epoch));
    json_object_set_new(obj, "metrics", m);
    return obj;
}

static void put_text(json_t *obj, const char *key, const char *text)
{
    if (text && text[0])
        json_object_set_new(obj, key, loaa_json_bytes(text, NULL)); /* a path that is not UTF-8 is escaped, not dropped */
}

/* The "provenance" member of a result: where and with what the trial ran. */
static void put_provenance(json_t *prov, const loaa_trial_result *r)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    put_text(prov, "loaa_version", PACKAGE_VERSION);
    put_text(prov, "host", host);
    put_text(prov, "gemm_backend", r->gemm_backend);
    put_text(prov, "blas", openblas_get_config());
    put_text(prov, "scalapack", !strcmp(r->gemm_backend, "scalapack") ? "scalapack-openmpi" : "none");
    put_text(prov, "grid", r->grid);
    put_text(prov, "isa", r->isa);
    json_object_set_new(prov, "ranks", json_integer(r->ranks > 0 ? r->ranks : 1));
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
    for (int i = 0; i < N_METRICS; i++)
        put_number(res, metric_defs[i].name, result_metric_get(r, i));
    put_number(stats, "seconds", r->seconds);
    put_number(stats, "samples_per_s", r->samples_per_s);
    json_object_set_new(stats, "peak_rss", json_integer(r->peak_rss));
    json_object_set_new(stats, "trainable_params", json_integer(r->trainable_params));
    json_object_set_new(stats, "total_params", json_integer(r->total_params));
    put_text(files, "checkpoint", r->checkpoint);
    put_text(files, "best_checkpoint", r->best_checkpoint);
    put_text(files, "adapter", r->adapter);
    put_text(files, "backbone", r->backbone);
    put_provenance(prov, r);
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

typedef struct split_eval {
    double loss, top1, top5, map, mpca;
    long n;
} split_eval;

typedef struct best_state {
    int epoch;                 /* -1 = none yet */
    double value;              /* of select_on */
    double metric[N_METRICS];  /* at the best epoch */
} best_state;

static int select_maximize(const loaa_config *cfg) { return strstr(cfg->select_on, "loss") == NULL; }

/* The report's value of select_on (validation accuracy for a name that is no reported metric). */
static double selected(const loaa_config *cfg, const loaa_epoch_report *r)
{
    for (int i = 0; i < N_METRICS; i++)
        if (metric_defs[i].in_report != NOT_REPORTED && !strcmp(cfg->select_on, metric_defs[i].name))
            return report_metric(r, i);
    return r->val_acc;
}

/* 1 when epoch report r beats the best so far (ties keep the earlier epoch). */
static int is_better(const loaa_config *cfg, const loaa_epoch_report *r, const best_state *b)
{
    double v = selected(cfg, r);
    if (b->epoch < 0)
        return 1;
    if (isnan(v))
        return 0;
    if (isnan(b->value))
        return 1;
    return select_maximize(cfg) ? v > b->value : v < b->value;
}

/* Epoch r with its test metrics becomes the best. */
static void best_take(best_state *b, const loaa_config *cfg, const loaa_epoch_report *r, const split_eval *test)
{
    const double m[N_METRICS] = {[M_TRAIN_LOSS] = r->train_loss, [M_VAL_LOSS] = r->val_loss, [M_VAL_ACC] = r->val_acc,
                                 [M_VAL_MAP] = r->val_map, [M_TEST_ACC] = test->top1, [M_TEST_TOP5] = test->top5,
                                 [M_TEST_MAP] = test->map, [M_TEST_MPCA] = test->mpca};
    b->epoch = r->epoch;
    b->value = selected(cfg, r);
    memcpy(b->metric, m, sizeof m);
}

/* The result's metrics and best epoch from the bookkeeping. */
static void best_to_result(const best_state *b, loaa_trial_result *out)
{
    out->best_epoch = b->epoch;
    for (int i = 0; i < N_METRICS; i++)
        *result_metric(out, i) = b->metric[i];
}

/* The bookkeeping a checkpoint carries in loaa.extra (JSON), with the epoch-length and throughput counters. */
static void extra_write(char *extra, size_t cap, const best_state *b, long batches, double seconds, long samples,
                        const char *isa)
{
    json_t *o = json_object();
    /* Any member that cannot be written (a NaN metric has no JSON number) leaves the whole text empty. */
    int bad = !o || json_object_set_new(o, "best_epoch", json_integer(b->epoch)) ||
              json_object_set_new(o, "best_value", json_real(isfinite(b->value) ? b->value : 0.0));
    for (int i = 0; i < N_METRICS; i++)
        bad = bad || json_object_set_new(o, metric_defs[i].name, json_real(b->metric[i]));
    bad = bad || json_object_set_new(o, "batches", json_integer((json_int_t)batches)) ||
          json_object_set_new(o, "seconds", json_real(seconds)) ||
          json_object_set_new(o, "samples", json_integer((json_int_t)samples)) ||
          json_object_set_new(o, "isa", json_string(isa));
    char *text = bad ? NULL : json_dumps(o, JSON_COMPACT);
    snprintf(extra, cap, "%s", text ? text : "");
    free(text);
    json_decref(o);
}

/* isa (cap bytes) gets the ISAs the checkpointed epochs ran on ("" from a checkpoint older than the record). */
static void extra_read(const char *extra, best_state *b, long *batches, double *seconds, long *samples, char *isa,
                       size_t cap)
{
    isa[0] = '\0';
    json_t *o = json_loads(extra, 0, NULL);
    if (!o)
        return;
    b->epoch = (int)json_integer_value(json_object_get(o, "best_epoch"));
    b->value = json_number_value(json_object_get(o, "best_value"));
    for (int i = 0; i < N_METRICS; i++)
        b->metric[i] = json_number_value(json_object_get(o, metric_defs[i].name));
    *batches = (long)json_integer_value(json_object_get(o, "batches"));
    *seconds = json_number_value(json_object_get(o, "seconds"));
    *samples = (long)json_integer_value(json_object_get(o, "samples"));
    const char *was = json_string_value(json_object_get(o, "isa"));
    if (was)
        snprintf(isa, cap, "%s", was);
    json_decref(o);
}

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

/* ---- noop: fixed metrics from the config, no model, no data ---- */

/* A number in [0, 1) fixed by the config: the first 32 bits of its identity hash. */
static loaa_status noop_share(const loaa_config *cfg, double *u)
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
    *u = (double)strtoul(head, NULL, 16) / 4294967296.0;
    return LOAA_OK;
}

static loaa_status run_noop(const loaa_config *cfg, const loaa_trial_opts *opts, const loaa_trial_hooks *hooks,
                            const trial_fault *fault, loaa_trial_result *out)
{
    double u = 0;
    loaa_status st = noop_share(cfg, &u);
    if (st)
        return st;
    double t0 = loaa_now();
    best_state best = {.epoch = -1, .value = NAN};
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
        fault_sleep(fault, 1.0);
        if (fault_nan_loss(fault, e))
            return loaa_fail(LOAA_ERR_NUMERIC, "epoch %d: training loss is NaN (fault injection)", e + 1);
        r.seconds = loaa_now() - t0;
        if (opts->print_epochs)
            printf("epoch %d/%d  train_loss %.4f  val_loss %.4f  val_acc %.4f  val_map %.4f\n", e + 1, epochs, r.train_loss,
                   r.val_loss, r.val_acc, r.val_map);
        if (is_better(cfg, &r, &best)) {
            split_eval test = {.top1 = r.val_acc - 0.02, .top5 = fmin(1.0, r.val_acc + 0.2), .map = r.val_map - 0.02,
                               .mpca = r.val_acc - 0.03};
            best_take(&best, cfg, &r, &test);
        }
        out->epochs_run = e + 1;
        loaa_trial_action act = hooks && hooks->on_epoch ? hooks->on_epoch(hooks->ctx, &r) : LOAA_TRIAL_CONTINUE;
        fault_after_report(fault, e == 0);
        if (act == LOAA_TRIAL_STOP && e + 1 < epochs) {
            out->pruned = 1;
            break;
        }
    }
    best_to_result(&best, out);
    out->seconds = loaa_now() - t0;
    out->trainable_params = 1000;
    out->total_params = 100000;
    out->peak_rss = loaa_peak_rss();
    snprintf(out->gemm_backend, sizeof out->gemm_backend, "none");
    return LOAA_OK;
}

/* ---- real training: where the batches come from ---- */

/*
 * The batches of one split and epoch, complete on every rank of the trial:
 * alone, straight from the loader; on a group, every rank decodes its share
 * (the one partition rule, loaa_loader_slice_rows) and an in-place
 * MPI_Allgatherv completes x. Holds one batch: x (B, M, T), y (B, C), labels (B).
 */
typedef struct batch_source {
    const loaa_dataset *ds;
    const loaa_config *cfg;
    MPI_Comm comm;        /* MPI_COMM_NULL: one process, no MPI calls */
    int rank, size;
    size_t per;           /* floats per sample: M * T */
    int *counts, *displs; /* the Allgatherv layout, one entry per rank */
    loaa_loader *loader;  /* the open split; NULL between splits */
    float *x, *y;
    int *labels;
} batch_source;

/* Buffers for batches of cfg->batch_size samples of shape; LOAA_ERR_NOMEM naming them. */
static loaa_status source_init(batch_source *s, const loaa_dataset *ds, const loaa_config *cfg, MPI_Comm group,
                               const loaa_model_shape *shape)
{
    memset(s, 0, sizeof *s);
    s->ds = ds;
    s->cfg = cfg;
    s->comm = group;
    s->size = 1;
    if (group != MPI_COMM_NULL) {
        MPI_Comm_rank(group, &s->rank);
        MPI_Comm_size(group, &s->size);
    }
    s->per = (size_t)shape->n_mel * (size_t)shape->n_frames;
    if (s->size > 1) {
        s->counts = malloc((size_t)s->size * sizeof *s->counts);
        s->displs = malloc((size_t)s->size * sizeof *s->displs);
        if (!s->counts || !s->displs)
            return loaa_fail(LOAA_ERR_NOMEM, "group buffers");
    }
    size_t batch = (size_t)cfg->batch_size;
    s->x = malloc(batch * s->per * sizeof *s->x);
    s->y = malloc(batch * (size_t)shape->n_classes * sizeof *s->y);
    s->labels = malloc(batch * sizeof *s->labels);
    if (!s->x || !s->y || !s->labels)
        return loaa_fail(LOAA_ERR_NOMEM, "batch buffers of %d samples", cfg->batch_size);
    return LOAA_OK;
}

static void source_free(batch_source *s)
{
    loaa_loader_close(s->loader);
    free(s->counts);
    free(s->displs);
    free(s->x);
    free(s->y);
    free(s->labels);
}

/* Opens split at epoch (this rank's share of each batch on a group); the loader's failures. */
static loaa_status source_open(batch_source *s, loaa_split split, int epoch)
{
    assert(!s->loader);
    loaa_loader_opts o;
    loaa_loader_opts_default(&o);
    if (s->size > 1) {
        o.rank = s->rank;
        o.ranks = s->size;
    }
    return loaa_loader_open_opts(&s->loader, s->ds, s->cfg, split, epoch, &o);
}

static void source_close(batch_source *s)
{
    loaa_loader_close(s->loader);
    s->loader = NULL;
}

/*
 * The next batch into s->x, s->y, s->labels, *count samples (0 at the end).
 * On a group every rank first learns whether any rank failed (HPL style, so
 * none waits in a collective the others left); then the shares of x are
 * gathered in place. Same count on every rank.
 */
static loaa_status source_next(batch_source *s, int *count)
{
    loaa_status st = loaa_loader_next(s->loader, s->x, s->y, s->labels, count);
    if (s->size <= 1)
        return st;
    int bad = st != LOAA_OK, any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, s->comm);
    if (any)
        return st ? st : loaa_fail(LOAA_ERR_IO, "another rank of the trial's group could not read its part of the batch");
    if (*count == 0)
        return LOAA_OK;
    for (int r = 0; r < s->size; r++) {
        int lo, hi;
        loaa_loader_slice_rows(s->cfg->batch_size, *count, r, s->size, &lo, &hi);
        s->counts[r] = (int)((size_t)(hi - lo) * s->per);
        s->displs[r] = (int)((size_t)lo * s->per);
    }
    if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, s->x, s->counts, s->displs, MPI_FLOAT, s->comm) != MPI_SUCCESS)
        return loaa_fail(LOAA_ERR_MPI, "MPI_Allgatherv of a batch failed");
    return LOAA_OK;
}

/* ---- real training: one trial's state, from setup to the exports ---- */

/* A split's logits, targets and labels, accumulated for its metrics. */
typedef struct eval_bufs {
    float *logits, *targets; /* (N, C) */
    int *labels;             /* (N) */
    long cap;                /* samples they hold */
} eval_bufs;

typedef struct trial {
    loaa_config cfg; /* as given, with the backbone's architecture applied */
    const loaa_trial_opts *opts;
    const loaa_trial_hooks *hooks;
    const trial_fault *fault;
    loaa_schedule_spec sched;
    char *canon; /* the canonical config: checkpoint and adapter metadata */
    loaa_dataset *ds;
    loaa_model *m;
    loaa_model_shape shape;
    batch_source src;
    eval_bufs eval;
    int writer; /* this rank writes the files: rank 0 of the group, with a folder */
    char last[LOAA_PATH_MAX + 32], bestp[LOAA_PATH_MAX + 32]; /* as long as the result's names of them */
    best_state best;
    loaa_checkpoint_state cs; /* what the next checkpoint records */
    char isa[LOAA_TRIAL_ISA_MAX];  /* the oneDNN ISAs the trial's epochs ran on, comma-separated in order */
    int start;                /* the first epoch to run: 0, or after the resumed one */
    long train_n;             /* training samples per the manifest, -1 unknown */
    long batches_per_epoch;   /* for fractional epochs: the manifest's, else the last epoch's */
    long samples;             /* trained over, all epochs */
    double train_seconds;
} trial;

static loaa_status grow_eval(eval_bufs *b, long need, int c)
{
    assert(need >= 0 && c > 0);
    /* one row of logits and targets per sample: the arrays grow together, b->cap the smallest of them */
    size_t cl = (size_t)b->cap, ct = (size_t)b->cap, cy = (size_t)b->cap, row = (size_t)c * sizeof(float);
    loaa_status st = loaa_dyn_reserve_array((void **)&b->logits, &cl, (size_t)need, row);
    if (!st)
        st = loaa_dyn_reserve_array((void **)&b->targets, &ct, (size_t)need, row);
    if (!st)
        st = loaa_dyn_reserve_array((void **)&b->labels, &cy, (size_t)need, sizeof *b->labels);
    if (st)
        return loaa_fail(LOAA_ERR_NOMEM, "evaluation: out of memory for %ld samples", need);
    b->cap = (long)(cl < ct ? (cl < cy ? cl : cy) : (ct < cy ? ct : cy));
    return LOAA_OK;
}

/* Loss and metrics of one whole split (validation or test) at epoch, never augmented. */
static loaa_status evaluate(trial *t, loaa_split split, int epoch, split_eval *out)
{
    loaa_status st = source_open(&t->src, split, epoch);
    if (st)
        return st;
    int c = t->shape.n_classes, count;
    long n = 0;
    double loss_sum = 0;
    eval_bufs *b = &t->eval;
    while (!(st = source_next(&t->src, &count)) && count > 0) {
        float loss;
        if ((st = grow_eval(b, n + count, c)) ||
            (st = loaa_model_evaluate(t->m, t->src.x, t->src.y, count, b->logits + (size_t)n * (size_t)c, &loss)))
            break;
        memcpy(b->targets + (size_t)n * (size_t)c, t->src.y, (size_t)count * (size_t)c * sizeof *t->src.y);
        memcpy(b->labels + n, t->src.labels, (size_t)count * sizeof *t->src.labels);
        loss_sum += (double)loss * count;
        n += count;
    }
    source_close(&t->src);
    if (st)
        return st;
    if (n == 0)
        return loaa_fail(LOAA_ERR_CONFIG, "the %s split has no samples", split == LOAA_SPLIT_VAL ? "validation" : "test");
    loaa_metrics met;
    int multi = loaa_dataset_multilabel(t->ds);
    if ((st = loaa_metrics_compute(&met, b->logits, multi ? NULL : b->labels, multi ? b->targets : NULL, (int)n, c, NULL)))
        return st;
    *out = (split_eval){.loss = loss_sum / n, .top1 = met.top1, .top5 = met.top5, .map = met.map, .mpca = met.mpca, .n = n};
    return LOAA_OK;
}

/* Frees what trial_setup made (also after a partial setup). */
static void trial_free(trial *t)
{
    source_free(&t->src);
    free(t->eval.logits);
    free(t->eval.targets);
    free(t->eval.labels);
    loaa_model_free(t->m);
    loaa_dataset_free(t->ds);
    free(t->canon);
}

/*
 * Refuses a trial one of whose splits (training, validation, test; of its fold
 * on a k-fold dataset) lists no shards or, by the manifest's counts, no
 * samples, before the first epoch rather than after it (issue 18 #4):
 * LOAA_ERR_CONFIG naming the dataset and the split; the split's own errors
 * (key 'fold' missing or out of range).
 */
static loaa_status check_splits_nonempty(const loaa_dataset *ds, int fold)
{
    static const char *const names[3] = {"training", "validation", "test"};
    for (int s = 0; s < 3; s++) {
        const char *const *paths;
        int count;
        loaa_status st = loaa_dataset_shards(ds, (loaa_split)s, fold, &paths, &count);
        if (st)
            return st;
        if (count > 0 && loaa_dataset_split_samples(ds, (loaa_split)s, fold) != 0)
            continue;
        char of_fold[32] = "";
        if (loaa_dataset_num_folds(ds) > 0)
            snprintf(of_fold, sizeof of_fold, " of fold %d", fold);
        return loaa_fail(LOAA_ERR_CONFIG, "dataset '%s': the %s split%s has no samples (%s); refused before the first epoch",
                         loaa_dataset_name(ds), names[s], of_fold, count == 0 ? "no shards listed" : "its count in dataset.json is 0");
    }
    return LOAA_OK;
}

/*
 * The trial before its first epoch: dataset, model (backbone applied,
 * group joined, initialised, backbone loaded), schedule, canonical config,
 * batch buffers, file names. Failures name the key, file or buffer.
 */
static loaa_status trial_setup(trial *t, const loaa_config *cfg, const loaa_trial_opts *opts, const loaa_trial_hooks *hooks,
                               const trial_fault *fault)
{
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    t->opts = opts;
    t->hooks = hooks;
    t->fault = fault;
    t->best = (best_state){.epoch = -1, .value = NAN};
    t->batches_per_epoch = -1;
    int grank = 0, gsize = 1;
    if (opts->group != MPI_COMM_NULL) {
        MPI_Comm_rank(opts->group, &grank);
        MPI_Comm_size(opts->group, &gsize);
    }
    t->writer = grank == 0 && opts->dir;
    loaa_status st;
    if ((st = loaa_dataset_open(t->cfg.dataset, &t->ds)))
        return loaa_fail_prefix(st, "key 'dataset': ");
    if ((st = check_splits_nonempty(t->ds, t->cfg.fold)))
        return st;
    t->shape = (loaa_model_shape){.n_mel = loaa_dataset_num_mel(t->ds),
                                  .n_frames = t->cfg.target_length ? t->cfg.target_length : loaa_dataset_target_length(t->ds),
                                  .n_classes = loaa_dataset_num_classes(t->ds), .max_batch = t->cfg.batch_size};
    if ((st = loaa_spec_prepare(&t->cfg, &t->shape)) || (st = loaa_spec_create_model(&t->m, &t->cfg, &t->shape)) ||
        (gsize > 1 && (st = loaa_model_set_group(t->m, opts->group, t->cfg.grid_p, t->cfg.grid_q))) ||
        (st = loaa_model_init(t->m, (uint64_t)t->cfg.seed)) ||
        (t->cfg.backbone_kind == LOAA_BACKBONE_PATH && (st = loaa_weights_load_backbone(t->m, t->cfg.backbone))))
        return st;
    t->sched = loaa_spec_schedule_from_config(&t->cfg);
    snprintf(t->isa, sizeof t->isa, "%s", loaa_gemm_isa());
    if (!(t->canon = loaa_config_canonical(&t->cfg)))
        return loaa_fail(LOAA_ERR_NOMEM, "config");
    if ((st = source_init(&t->src, t->ds, &t->cfg, opts->group, &t->shape)))
        return st;
    if (opts->dir) {
        snprintf(t->last, sizeof t->last, "%s/last.ckpt", opts->dir);
        snprintf(t->bestp, sizeof t->bestp, "%s/best.ckpt", opts->dir);
    }
    t->train_n = loaa_dataset_split_samples(t->ds, LOAA_SPLIT_TRAIN, t->cfg.fold);
    return LOAA_OK;
}

static void note_resumed_isa(trial *t, const char *was)
{
    const char *last = strrchr(was, ',');
    last = last ? last + 1 : was;
    if (!was[0] || !strcmp(last, t->isa))
        return;
    /* bf16 results differ in their last bits between AMX and AVX512-BF16: say so, and keep both in the provenance. */
    loaa_warn("resumed on ISA '%s'; the earlier epochs ran on '%s' (bf16 results differ in their last bits)", t->isa, was);
    char both[LOAA_TRIAL_ISA_MAX];
    if ((size_t)snprintf(both, sizeof both, "%s,%s", was, t->isa) < sizeof both)
        snprintf(t->isa, sizeof t->isa, "%s", both);
}

/*
 * Continues from last.ckpt when asked and present: parameters, AdamW
 * moments and step come back (the data order depends on (seed, epoch)
 * only), and the epochs done are replayed to on_epoch. A damaged checkpoint
 * (truncated by a full disk, say) leaves the model as initialised: the
 * trial starts over instead of failing, and the bad file is kept aside.
 * A checkpoint of another trial config is no damage: LOAA_ERR_CONFIG naming
 * the first differing key, and nothing in the folder is moved or replaced.
 */
static loaa_status trial_resume(trial *t)
{
    const loaa_trial_opts *opts = t->opts;
    if (opts->dir && opts->resume && access(t->last, R_OK) == 0) {
        loaa_status st = loaa_checkpoint_load(t->last, t->m, t->canon, &t->cs);
        if (st == LOAA_ERR_CONFIG) /* another trial's folder: its results are not ours to replace */
            return loaa_fail_prefix(st, "%s holds another trial (nothing changed; use another folder): ", opts->dir);
        if (st) {
            char aside[LOAA_PATH_MAX + 80];
            snprintf(aside, sizeof aside, "%s.bad", t->last);
            printf("cannot resume from %s (%s: %s); starting over, the file is kept as %s\n", t->last, loaa_strerror(st),
                   loaa_error_detail(), aside);
            if (t->writer) {
                rename(t->last, aside);
                char hist[LOAA_PATH_MAX + 80], hist_aside[LOAA_PATH_MAX + 90];
                snprintf(hist, sizeof hist, "%s/epochs.txt", opts->dir);
                snprintf(hist_aside, sizeof hist_aside, "%s/epochs.txt.bad", opts->dir);
                rename(hist, hist_aside); /* its epochs belong to the run that is discarded */
            }
            memset(&t->cs, 0, sizeof t->cs);
        } else {
            t->start = (int)t->cs.epoch;
            char was[LOAA_TRIAL_ISA_MAX];
            extra_read(t->cs.extra, &t->best, &t->batches_per_epoch, &t->train_seconds, &t->samples, was, sizeof was);
            printf("resumed from %s after epoch %d\n", t->last, t->start);
            note_resumed_isa(t, was);
        }
        if (t->hooks && t->hooks->on_epoch)
            history_replay(opts->dir, t->start, t->hooks);
    }
    if (t->train_n > 0)
        t->batches_per_epoch = (t->train_n + t->cfg.batch_size - 1) / t->cfg.batch_size;
    return LOAA_OK;
}

/* One pass over the training split at the schedule's rate; *train_loss = the mean over its samples. */
static loaa_status train_epoch(trial *t, int e, double *train_loss)
{
    loaa_status st = source_open(&t->src, LOAA_SPLIT_TRAIN, e);
    if (st)
        return st;
    long nb = 0, n = 0;
    double loss_sum = 0;
    int count;
    while (!(st = source_next(&t->src, &count)) && count > 0) {
        /* Fractional epochs for warm-up and cosine; an unknown epoch length counts from the last epoch's. */
        double frac = t->batches_per_epoch > 0 ? (double)nb / (double)t->batches_per_epoch : 0;
        double lr = loaa_schedule_lr(&t->sched, e + (frac < 1 ? frac : 1));
        float loss;
        st = fault_nan_loss(t->fault, e) ? loaa_fail(LOAA_ERR_NUMERIC, "loss is NaN (fault injection)")
                                         : loaa_model_train_step(t->m, t->src.x, t->src.y, count, lr, &loss);
        if (st)
            break;
        loss_sum += (double)loss * count;
        n += count;
        nb++;
        fault_sleep(t->fault, 0.1);
    }
    long bad = st ? 0 : loaa_loader_bad_skipped(t->src.loader);
    source_close(&t->src);
    if (st)
        return loaa_fail_prefix(st, "epoch %d: ", e + 1);
    if (nb == 0)
        return loaa_fail(LOAA_ERR_CONFIG, "the training split has no samples");
    /* Issue 18 #17: the schedule's epoch length came from dataset.json's counts; the shards must agree. */
    if (t->train_n > 0 && n + bad != t->train_n)
        return loaa_fail(LOAA_ERR_FORMAT, "dataset '%s': dataset.json's counts give the training split %ld samples, its shards held %ld "
                         "(%ld skipped as bad) in epoch %d; the learning-rate schedule would follow the wrong epoch length "
                         "(re-pack the dataset or drop its counts)", loaa_dataset_name(t->ds), t->train_n, n + bad, bad, e + 1);
    if (t->batches_per_epoch <= 0 || t->train_n <= 0)
        t->batches_per_epoch = nb;
    t->samples += n;
    *train_loss = loss_sum / (double)n;
    return LOAA_OK;
}

/* The epoch's report on disk: history line, then best.ckpt when improved, then last.ckpt (so a kill between
 * the two never leaves a last.ckpt whose best epoch has no best.ckpt). */
static loaa_status save_epoch(trial *t, const loaa_epoch_report *r, int improved)
{
    t->cs.epoch = r->epoch + 1;
    t->cs.batch = 0;
    extra_write(t->cs.extra, sizeof t->cs.extra, &t->best, t->batches_per_epoch, t->train_seconds, t->samples, t->isa);
    if (!t->writer)
        return LOAA_OK;
    history_append(t->opts->dir, r);
    loaa_status st = improved ? loaa_checkpoint_save(t->bestp, t->m, t->canon, &t->cs) : LOAA_OK;
    return st ? st : loaa_checkpoint_save(t->last, t->m, t->canon, &t->cs);
}

/*
 * Epoch e: train, validate, test when it is the best so far on select_on
 * (ties keep the earlier), print, save, report to on_epoch. *stop = 1 when
 * on_epoch stops the trial before its last epoch.
 */
static loaa_status trial_epoch(trial *t, int e, int *stop)
{
    double t0 = loaa_now();
    loaa_epoch_report r = {.epoch = e};
    loaa_status st = train_epoch(t, e, &r.train_loss);
    if (st)
        return st;
    t->train_seconds += loaa_now() - t0;
    split_eval val, test;
    if ((st = evaluate(t, LOAA_SPLIT_VAL, e, &val)))
        return loaa_fail_prefix(st, "epoch %d: validation: ", e + 1);
    r.val_loss = val.loss;
    r.val_acc = val.top1;
    r.val_map = val.map;
    r.lr = loaa_schedule_lr(&t->sched, e + 1.0);
    r.seconds = loaa_now() - t0;
    int improved = is_better(&t->cfg, &r, &t->best);
    if (improved) {
        if ((st = evaluate(t, LOAA_SPLIT_TEST, e, &test)))
            return loaa_fail_prefix(st, "epoch %d: test: ", e + 1);
        best_take(&t->best, &t->cfg, &r, &test);
    }
    if (t->opts->print_epochs)
        printf("epoch %d/%d  lr %.3g  train_loss %.4f  val_loss %.4f  val_acc %.4f  val_map %.4f%s  %.1fs\n", e + 1,
               t->cfg.epochs, r.lr, r.train_loss, r.val_loss, r.val_acc, r.val_map, improved ? "  *" : "", r.seconds);
    if ((st = save_epoch(t, &r, improved)))
        return st;
    const loaa_trial_hooks *h = t->hooks;
    loaa_trial_action act = h && h->on_epoch ? h->on_epoch(h->ctx, &r) : LOAA_TRIAL_CONTINUE;
    fault_after_report(t->fault, e == t->start);
    *stop = act == LOAA_TRIAL_STOP && e + 1 < t->cfg.epochs;
    return LOAA_OK;
}

/* The files a finished trial hands out (writer only): the adapter of the best epoch, and a full trial's backbone. */
static loaa_status trial_export(trial *t, loaa_trial_result *out)
{
    loaa_status st;
    /* The adapter holds the best epoch's weights: reload them when training went past it. */
    if (t->best.epoch >= 0 && t->best.epoch + 1 != out->epochs_run) {
        loaa_checkpoint_state bs;
        if ((st = loaa_checkpoint_load(t->bestp, t->m, t->canon, &bs)))
            return st;
    }
    loaa_checkpoint_adapter_info info = {.dataset = t->ds, /* class names and front end */
                                         .backbone_path = t->cfg.backbone_kind == LOAA_BACKBONE_PATH ? t->cfg.backbone : NULL,
                                         .n_mel = t->shape.n_mel, .n_frames = t->shape.n_frames,
                                         .dist_token = t->shape.dist_token};
    snprintf(out->adapter, sizeof out->adapter, "%s/adapter.safetensors", t->opts->dir);
    if ((st = loaa_checkpoint_adapter_export(out->adapter, t->m, t->canon, &info)))
        return st;
    /* A trial that trained every tensor is a backbone for chained sweeps. */
    if (t->cfg.method == LOAA_METHOD_FULL) {
        snprintf(out->backbone, sizeof out->backbone, "%s/backbone.safetensors", t->opts->dir);
        st = loaa_weights_export_backbone(out->backbone, t->m, t->canon);
    }
    return st;
}

/* The result: the best epoch's metrics, statistics, provenance, then the files. */
static loaa_status trial_finish(trial *t, loaa_trial_result *out)
{
    if (out->epochs_run == 0)
        out->epochs_run = t->start;
    best_to_result(&t->best, out);
    out->seconds = t->train_seconds;
    out->samples_per_s = t->train_seconds > 0 ? t->samples / t->train_seconds : 0;
    out->peak_rss = loaa_peak_rss();
    out->trainable_params = (long long)loaa_model_trainable_params(t->m);
    out->total_params = (long long)loaa_model_total_params(t->m);
    int gp = 1, gq = 1;
    snprintf(out->gemm_backend, sizeof out->gemm_backend, "%s", loaa_model_backend(t->m, &gp, &gq));
    snprintf(out->grid, sizeof out->grid, "%dx%d", gp, gq);
    snprintf(out->isa, sizeof out->isa, "%s", t->isa);
    if (!t->writer)
        return LOAA_OK;
    snprintf(out->checkpoint, sizeof out->checkpoint, "%s", t->last);
    if (t->best.epoch >= 0)
        snprintf(out->best_checkpoint, sizeof out->best_checkpoint, "%s", t->bestp);
    return trial_export(t, out);
}

/* A trial that trains: setup -> resume -> epochs -> finish. */
static loaa_status run_model(const loaa_config *cfg, const loaa_trial_opts *opts, const loaa_trial_hooks *hooks,
                             const trial_fault *fault, loaa_trial_result *out)
{
    trial t;
    loaa_status st = trial_setup(&t, cfg, opts, hooks, fault);
    if (!st) {
        st = trial_resume(&t);
        int stop = 0;
        for (int e = t.start; e < t.cfg.epochs && !st && !stop; e++)
            if (!(st = trial_epoch(&t, e, &stop)))
                out->epochs_run = e + 1;
        out->pruned = stop;
        if (!st)
            st = trial_finish(&t, out);
    }
    trial_free(&t);
    return st;
}

loaa_status loaa_trial_run(const loaa_config *cfg, const loaa_trial_opts *opts, const loaa_trial_hooks *hooks,
                           loaa_trial_result *out)
{
    loaa_status st;
    memset(out, 0, sizeof *out);
    out->best_epoch = -1;
    out->ranks = 1;
    if (opts->group != MPI_COMM_NULL)
        MPI_Comm_size(opts->group, &out->ranks);
    trial_fault fault = fault_parse(cfg, opts->dir);
    if (opts->dir && (st = make_trial_dir(opts->dir)))
        return st;
    if ((st = fault_at_start(&fault)))
        return st;
    if (cfg->method == LOAA_METHOD_NOOP)
        st = run_noop(cfg, opts, hooks, &fault, out);
    else
        st = run_model(cfg, opts, hooks, &fault, out);
    if (st)
        return st;
    if (hooks && hooks->on_result)
        hooks->on_result(hooks->ctx, out);
    return LOAA_OK;
}
