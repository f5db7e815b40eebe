/*
 * prune.h - early termination of trials from their per-epoch select_on
 * values: the median stopping rule (Google Vizier, Optuna's MedianPruner)
 * and asynchronous successive halving (ASHA, Li et al. 2018).
 *
 * The coordinator feeds every epoch report; the answer decides whether the
 * trial continues. Values are "best so far" in the metric's direction, so a
 * noisy epoch does not stop a trial that was doing well.
 *
 *  - median: from min_epochs completed epochs on, stop a trial whose best so
 *    far is worse than the median of the other trials' best so far at the
 *    same epoch (at least two others needed).
 *  - asha: rungs at min_epochs * eta^k completed epochs; a trial reaching a
 *    rung continues only while it ranks within the best max(1, n/eta) of
 *    the n trials recorded at that rung so far.
 */
#ifndef LOAA_PRUNE_H
#define LOAA_PRUNE_H

#include <stdint.h>

#include "coordinator/sweep.h"

typedef struct loaa_pruner loaa_pruner;

/* NULL on no memory. maximize: larger values are better (accuracy, mAP). */
loaa_pruner *loaa_pruner_new(const loaa_early_terminate *et, int maximize);
void loaa_pruner_free(loaa_pruner *p);

/* Records a value without a decision (history from an earlier run). */
void loaa_pruner_seed(loaa_pruner *p, int64_t trial_id, int epoch, double value);

/* Records trial's value after epoch (0-based); returns 1 when the trial should stop now. */
int loaa_pruner_report(loaa_pruner *p, int64_t trial_id, int epoch, double value);

#endif
