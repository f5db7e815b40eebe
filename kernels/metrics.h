/*
 * metrics.h - evaluation metrics from logits: top-1, top-5, mAP, mean
 * per-class accuracy and the confusion matrix (EPIC-SOUNDS reports all four).
 *
 * Targets are either class indices (labels, N) or multi-hot rows (targets,
 * (N,C), an entry >= 0.5 is a positive). Ranking ties are broken by the
 * lower class index, so results never depend on sort stability.
 *
 *  - top-k: a sample is a hit when one of its k highest logits is a positive
 *    (k is capped at C).
 *  - mAP: mean over the classes with at least one positive of the
 *    one-vs-rest average precision, AP = sum_n (R_n - R_{n-1}) P_n over the
 *    distinct score thresholds (scikit-learn's average_precision_score).
 *  - mean per-class accuracy: the mean over classes present of the share of
 *    their samples whose top-1 prediction is that class; with multi-hot
 *    targets a sample's class is its first highest target.
 */
#ifndef LOAA_METRICS_H
#define LOAA_METRICS_H

#include <stdint.h>

#include "common/status.h"

typedef struct loaa_metrics {
    double top1, top5, map, mpca;
    int classes_present; /* classes with a positive: the mAP and mpca denominators */
} loaa_metrics;

/*
 * logits (N,C); exactly one of labels (N) and targets (N,C) non-NULL;
 * confusion (C,C) int64 or NULL: row = true class, column = predicted,
 * overwritten. Failure: LOAA_ERR_SHAPE (n or c < 1, a label outside
 * 0..C-1, naming the sample), LOAA_ERR_NUMERIC (a NaN/Inf logit, naming the
 * sample), LOAA_ERR_NOMEM; *out is then unspecified.
 */
loaa_status loaa_metrics_compute(loaa_metrics *out, const float *logits, const int *labels, const float *targets,
                                 int n, int c, int64_t *confusion);

/* One-vs-rest average precision of scores (N) against binary positives (N); -1 when no positive. */
double loaa_average_precision(const float *scores, const unsigned char *positive, int n);

#endif
