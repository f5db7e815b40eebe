/*
 * prune.h - early termination of trials from their per-epoch select_on
 * values: the median stopping rule (Google Vizier, Optuna's MedianPruner)
 * and asynchronous successive halving (ASHA, Li et al. 2018).
 *
 * The coordinator feeds every epoch report; the answer decides whether the
 * trial continues. Values are "best so far" in the metric's direction, so a
 * noisy epoch does not stop a trial that was doing well.
 *
 * Comparable trials only (doc/architecture.md, "Pruning groups"):
 *  - a trial is compared only with trials of its group: those whose
 *    identity keys named in early_terminate's group_by have the same values
 *    (a sweep file's default: dataset, fold, method, backbone), so a method
 *    that starts slowly on a hard dataset is not stopped because another
 *    dataset is easy;
 *  - within a group the unit is a configuration (all identity keys but
 *    `seed`): seeds of one configuration are never ranked against each
 *    other; a configuration's value at an epoch or rung is the mean of the
 *    best-so-far of its seeds that reached it.
 *  A trial the pruner was not told about (loaa_pruner_assign) is its own
 *  configuration in one shared group (group_by empty behaves the same).
 *
 *  - median: from min_epochs completed epochs on, stop a trial whose
 *    configuration's value is worse than the median of the other
 *    configurations' values in its group at the same epoch (at least two
 *    others needed).
 *  - asha: rungs at min_epochs * eta^k completed epochs; a trial reaching a
 *    rung continues only while its configuration ranks within the best
 *    max(1, n/eta) of the n configurations of its group recorded at that
 *    rung so far.
 */
#ifndef LOAA_PRUNE_H
#define LOAA_PRUNE_H

#include <stdint.h>

#include "coordinator/sweep.h"

typedef struct loaa_pruner loaa_pruner;

/* NULL on no memory. maximize: larger values are better (accuracy, mAP). et is copied. */
loaa_pruner *loaa_pruner_new(const loaa_early_terminate *et, int maximize);
void loaa_pruner_free(loaa_pruner *p);

/*
 * Places a trial in its group and configuration from its identity keys
 * (config_json: a JSON object, e.g. loaa_sweep_trial.config_json; a key
 * absent from it counts as null). Call before the trial's first value.
 * LOAA_ERR_PARSE when config_json is no JSON object, LOAA_ERR_NOMEM.
 */
loaa_status loaa_pruner_assign(loaa_pruner *p, int64_t trial_id, const char *config_json);

/* Records a value without a decision (history from an earlier run). */
void loaa_pruner_seed(loaa_pruner *p, int64_t trial_id, int epoch, double value);

/* Records trial's value after epoch (0-based); returns 1 when the trial should stop now. */
int loaa_pruner_report(loaa_pruner *p, int64_t trial_id, int epoch, double value);

#endif
