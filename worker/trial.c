/* trial.c - the trial runner: epoch loop, best-epoch selection, checkpoints, export; noop trials and fault injection. */
#include "config.h"

#include "worker/trial.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sha256.h"
#include "common/timer.h"

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
    /* A real invalid write, so the signal is what a bug would give. */
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
    if (cfg->method != LOAA_METHOD_NOOP)
        return loaa_fail(LOAA_ERR_UNSUPPORTED, "method '%s': training is not wired yet", loaa_method_name(cfg->method));
    st = run_noop(cfg, opts, hooks, fault, fault_arg, out);
    if (st)
        return st;
    if (hooks && hooks->on_result)
        hooks->on_result(hooks->ctx, out);
    return LOAA_OK;
}
