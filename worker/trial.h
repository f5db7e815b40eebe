/*
 * trial.h - the trial runner: trains and evaluates one trial config, the
 * same code under `loaa train`, a sweep's trial process (launcher) and an
 * MPI worker group.
 *
 *     loaa_trial_result r;
 *     loaa_trial_opts o = {.dir = "artifacts/sweep/ab12...", .resume = 1, .group = MPI_COMM_NULL};
 *     loaa_trial_hooks h = {.ctx = me, .on_epoch = report_epoch};
 *     st = loaa_trial_run(&cfg, &o, &h, &r);
 *
 * Epoch loop: train over the training split with the schedule's learning
 * rate, evaluate validation (val_loss, val_acc, val_map) and test, keep the
 * test metrics of the epoch that is best on cfg->select_on, save the last
 * and best checkpoints (dir/last.ckpt, dir/best.ckpt; resume continues from
 * last.ckpt exactly), call on_epoch (which may stop the trial: early
 * termination keeps what it has as a pruned result), then export the
 * adapter file (dir/adapter.safetensors; a trial that trained every tensor
 * also names it as its backbone export, for chained sweeps).
 *
 * `method: noop` trains nothing and reads no data: it reports cfg->epochs
 * epochs of metrics that are a fixed function of the config, at once (the
 * orchestration benchmark and tests use it).
 *
 * Test-only fault injection, cfg->fault = "KIND[:ARG][@KEY=VALUE]": crash
 * (SIGSEGV), abort (SIGABRT), crash-once (crash unless dir/crash-once.marker
 * exists; it creates the marker first), nan (loss NaN in the first epoch),
 * fail (an ordinary error), sleep:SECONDS (sleeps that long in every epoch).
 * "@KEY=VALUE" limits the fault to trials whose key has that value (JSON
 * text or a bare string), so one sweep can hold a faulty trial among good
 * ones; a comma-separated list takes the first item that applies (fault is
 * an execution setting, so a sweep gives one value for all its trials).
 * Crashes fire after the first epoch's report, so partial metrics exist.
 *
 * Failure: the status with a detail; on_result is not called. A NaN loss is
 * LOAA_ERR_NUMERIC naming the epoch. *out is filled on success (also for a
 * pruned trial, with pruned = 1).
 */
#ifndef LOAA_TRIAL_H
#define LOAA_TRIAL_H

#include <jansson.h>
#include <mpi.h>
#include <stddef.h>

#include "common/config.h"
#include "common/status.h"

typedef struct loaa_epoch_report {
    int epoch; /* 0-based */
    double train_loss, val_loss, val_acc, val_map, lr, seconds;
} loaa_epoch_report;

/* Room for the ISA names a trial ran on (a resume on another node appends one). */
#define LOAA_TRIAL_ISA_MAX 128

typedef struct loaa_trial_result {
    int best_epoch, epochs_run, pruned;
    double train_loss, val_loss, val_acc, val_map;   /* at the best epoch */
    double test_acc, test_top5, test_map, test_mpca; /* at the best epoch */
    double seconds, samples_per_s;
    long peak_rss;
    long long trainable_params, total_params;
    char checkpoint[LOAA_PATH_MAX + 32], best_checkpoint[LOAA_PATH_MAX + 32];
    char adapter[LOAA_PATH_MAX + 32], backbone[LOAA_PATH_MAX + 32];
    char gemm_backend[16], grid[32];
    char isa[LOAA_TRIAL_ISA_MAX];    /* oneDNN ISA(s) the epochs ran on, "A,B" when resumed elsewhere */
    int ranks;
} loaa_trial_result;

typedef enum loaa_trial_action { LOAA_TRIAL_CONTINUE = 0, LOAA_TRIAL_STOP = 1 } loaa_trial_action;

typedef struct loaa_trial_hooks {
    void *ctx;
    /* After each epoch; NULL = always continue. Called on every rank of a group. */
    loaa_trial_action (*on_epoch)(void *ctx, const loaa_epoch_report *r);
    /* Once, with the final result; NULL = none. */
    void (*on_result)(void *ctx, const loaa_trial_result *r);
} loaa_trial_hooks;

typedef struct loaa_trial_opts {
    const char *dir;  /* the trial's folder (created); NULL = keep nothing on disk */
    int resume;       /* continue from dir/last.ckpt when it matches the config */
    MPI_Comm group;   /* ranks sharing the trial; MPI_COMM_NULL = one process, no MPI calls */
    int print_epochs; /* print one line per epoch on stdout */
} loaa_trial_opts;

loaa_status loaa_trial_run(const loaa_config *cfg, const loaa_trial_opts *opts, const loaa_trial_hooks *hooks,
                           loaa_trial_result *out);

/* The protocol payloads (common/protocol.h) of an epoch report and a result; NULL on no memory. */
json_t *loaa_epoch_report_json(const loaa_epoch_report *r);
json_t *loaa_trial_result_json(const loaa_trial_result *r);

/* "crash", "abort", ... when cfg->fault applies to this trial, else "" (parsed, condition checked). */
const char *loaa_trial_fault(const loaa_config *cfg, char kind[32], double *arg);

#endif
