/*
 * sweep.h - sweep files: reading (libyaml, YAML 1.2 core schema for plain
 * scalars), checking, and expansion into trial configs.
 *
 * A sweep file, W&B style (doc/architecture.md, "Sweep files"):
 *
 *     name: esc50-methods             # the sweep's identity in the database
 *     method: grid                    # or random (with run_cap)
 *     metric: {name: test_acc, goal: maximize}
 *     datasets: [data/esc50]          # axes, crossed with everything
 *     folds: [0, 1, 2, 3, 4]
 *     seeds: [0, 1, 2]
 *     ranks_per_trial: 1
 *     max_attempts: 3                 # deaths of a trial's own process before it is failed
 *     early_terminate: {type: median, min_epochs: 3}    # or {type: asha, min_epochs: 1, eta: 3}
 *                                     # group_by: [dataset, fold, method, backbone] (the default; [] = whole sweep)
 *     parameters:
 *       method: {values: [loaa-tf, adapter, lora]}
 *       lr: {distribution: log_uniform_values, min: 1e-4, max: 1e-2}   # random only (every W&B distribution)
 *       backbone: {value: {sweep: vision-pretrain, best: true}}
 *       warmup_epochs: {by: method, cases: {full: [2]}, default: [1]}  # conditional on another key's value
 *
 * Parameter names are the trial keys (loaa help keys); every value goes
 * through loaa_config_set_json, so the key table is the only contract.
 * Every error names FILE:LINE:COL of the offending node, and the whole file
 * is checked (values, datasets, backbone files) before anything runs.
 * Resource caps: file size, nesting depth, node count and alias expansion
 * are bounded (LOAA_ERR_LIMIT), as is the number of trials (max_trials).
 */
#ifndef LOAA_SWEEP_H
#define LOAA_SWEEP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/status.h"

typedef struct loaa_sweep loaa_sweep;

#define LOAA_SWEEP_MAX_BYTES (1 << 20)
#define LOAA_SWEEP_MAX_DEPTH 32
#define LOAA_SWEEP_MAX_NODES 200000
#define LOAA_SWEEP_DEFAULT_MAX_TRIALS 1000000
#define LOAA_SWEEP_MAX_CASES 1024 /* cases of one conditional parameter */

typedef enum loaa_early_type { LOAA_EARLY_NONE, LOAA_EARLY_MEDIAN, LOAA_EARLY_ASHA } loaa_early_type;

#define LOAA_GROUP_BY_MAX 8

typedef struct loaa_early_terminate {
    loaa_early_type type;
    int min_epochs; /* median: no stop before this many epochs; asha: first rung */
    int eta;        /* asha: keep the best 1/eta at each rung; rungs at min_epochs * eta^k */
    /* Trials are compared only with trials that share these identity keys' values (coordinator/prune.h);
     * a sweep file's default is dataset, fold, method, backbone; 0 keys: the whole sweep is one group. */
    int n_group_by;
    char group_by[LOAA_GROUP_BY_MAX][LOAA_NAME_MAX];
} loaa_early_terminate;

/*
 * Reads and checks a sweep file. With check_files, dataset folders and
 * backbone files must exist (their SHA-256 enter the identities); without,
 * paths stand for themselves (the fuzzer, unit tests). Caller frees.
 */
loaa_status loaa_sweep_load(loaa_sweep **out, const char *path);
loaa_status loaa_sweep_parse(loaa_sweep **out, const char *text, size_t len, const char *filename, int check_files);
void loaa_sweep_free(loaa_sweep *sw);

const char *loaa_sweep_name(const loaa_sweep *sw);
const char *loaa_sweep_text(const loaa_sweep *sw);      /* the file as read */
const char *loaa_sweep_method(const loaa_sweep *sw);    /* "grid" or "random" */
const char *loaa_sweep_metric(const loaa_sweep *sw);    /* e.g. "test_acc" */
const char *loaa_sweep_goal(const loaa_sweep *sw);      /* "maximize" or "minimize" */
int loaa_sweep_ranks_per_trial(const loaa_sweep *sw);
int loaa_sweep_max_attempts(const loaa_sweep *sw);
const loaa_early_terminate *loaa_sweep_early(const loaa_sweep *sw);
/* The select_on metric every trial uses (constant when early termination is on). */
const char *loaa_sweep_select_on(const loaa_sweep *sw);

/* The sweeps named as {sweep: NAME, best: true} backbones, in file order. */
size_t loaa_sweep_backbone_refs(const loaa_sweep *sw, const char *const **names);

/*
 * Resolves a chained backbone to a file (the coordinator asks the store);
 * the file is hashed now, so a missing file fails here citing the backbone
 * value's FILE:LINE:COL.
 */
loaa_status loaa_sweep_resolve_backbone(loaa_sweep *sw, const char *sweep_name, const char *path);

/* One expanded trial, valid during the callback. */
typedef struct loaa_sweep_trial {
    int64_t number;               /* position in the expansion, 0-based */
    const loaa_config *cfg;       /* validated; a chained backbone is its resolved path */
    const char *config_json;      /* canonical identity keys */
    const char *exec_json;        /* execution settings as canonical JSON */
    const char *hash;             /* identity, 64 hex */
    const char *dataset_sha256;   /* NULL without check_files */
    const char *backbone_sha256;  /* NULL when none */
    const char *backbone_ref;     /* the chained sweep's name, else NULL */
    const json_t *params;         /* swept keys -> values (those the file names) */
} loaa_sweep_trial;

typedef loaa_status (*loaa_sweep_fn)(void *ctx, const loaa_sweep_trial *trial);

/* How many trials the expansion yields before dedup; LOAA_ERR_LIMIT above max_trials. */
loaa_status loaa_sweep_count(const loaa_sweep *sw, int64_t max_trials, int64_t *count);

/*
 * Expands the sweep and calls fn once per distinct identity, in order;
 * stops at the first failing callback (its status returned). A trial that
 * fails cross-key validation fails the expansion, citing the parameters.
 * Unresolved chained backbones are LOAA_ERR_CONFIG unless allow_unresolved
 * (--dry-run without a database), which hashes the reference text instead.
 */
loaa_status loaa_sweep_expand(loaa_sweep *sw, int64_t max_trials, int allow_unresolved, loaa_sweep_fn fn, void *ctx,
                              int64_t *unique, int64_t *duplicates);

#endif
