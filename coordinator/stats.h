/*
 * stats.h - the statistics a paired comparison of methods reports, and the
 * one table of metric names and directions. Pure C, no SQL: the report
 * gathers the numbers, this module computes on them.
 *
 * Metric names: every metric loaa records as a selection or result metric,
 * with its direction (losses minimise, accuracies and mAP maximise) and its
 * split. Selection (a sweep's `metric`, `{best: true}`, `export --best`,
 * every "best" a report shows) uses validation metrics only.
 *
 * Paired comparison of methods A and B on one dataset (doc/architecture.md,
 * "Statistics"): per fold j = 1..J, d_j = mean over seeds of A's test metric
 * minus B's at their validation-selected configurations. Then:
 *
 *  - Nadeau-Bengio corrected resampled t-test (Nadeau & Bengio 2003,
 *    "Inference for the generalization error", Machine Learning 52):
 *        mean  dbar = (1/J) sum d_j
 *        s^2   = sum (d_j - dbar)^2 / (J - 1)          (sample variance)
 *        var   = (1/J + n_test/n_train) * s^2          (corrected variance)
 *        t     = dbar / sqrt(var),   df = J - 1
 *        95 %  dbar -+ t_{0.975, J-1} * sqrt(var)
 *        p     = 2 * (1 - F_t(|t|; J - 1))             (two-sided)
 *    n_test/n_train is the ratio of one fold's test size to its training
 *    size (k-fold CV: 1/(k-1), e.g. 0.25 for ESC-50's 5 folds). The folds
 *    share training data, so the plain paired t (ratio 0) is
 *    anti-conservative; ratio 0 is right only for independent units, e.g.
 *    per-dataset means pooled over datasets.
 *    When s^2 = 0: t = 0, p = 1 if dbar = 0, else t = +-inf, p = 0, and the
 *    interval is the point dbar.
 *  - Wilcoxon signed-rank test, two-sided, zero_method 'wilcox' (as scipy's
 *    default): zero differences are dropped, n counts the rest; ties get
 *    mid-ranks. Statistic W = min(R+, R-). For n <= LOAA_WILCOXON_EXACT_MAX
 *    the p-value is exact: p = min(1, 2 P(W' <= W)) under the null
 *    distribution of W' over all 2^n sign patterns of the observed ranks
 *    (with ties this is the exact conditional distribution on the mid-ranks;
 *    scipy switches to the normal approximation there, we do not). Above,
 *    the normal approximation with the tie correction and no continuity
 *    correction (scipy's method='approx', correction=False). The smallest
 *    p reachable at n (all differences of one sign) is reported beside it:
 *    2^(1-n) when exact, so 5 folds can never give p < 0.0625.
 *  - Holm's step-down correction of m p-values (Holm 1979): with p sorted
 *    ascending p_(1) <= ... <= p_(m), adj_(i) = max_{j<=i} min(1, (m-j+1) p_(j)).
 *
 * The Student t CDF is computed from the regularized incomplete beta
 * function I_x(a, b) (continued fraction, Lentz's method):
 *    F_t(t; v) = 1 - I_{v/(v+t^2)}(v/2, 1/2) / 2   for t >= 0, symmetric below.
 */
#ifndef LOAA_STATS_H
#define LOAA_STATS_H

#include <stddef.h>

#include "common/status.h"

/* ---- metric names ---- */

/* +1: larger is better (accuracy, mAP); -1: smaller is better (losses); 0: not a loaa metric name (NULL too). */
int loaa_metric_direction(const char *name);

/* 1 when name is a known test-split metric (test_acc, test_top5, test_map, test_mpca), else 0. */
int loaa_metric_is_test(const char *name);

/*
 * The validation metric to select on instead of a test metric: "val_map"
 * for test_map (multi-label), "val_acc" for the other test metrics; NULL
 * when name is no test metric.
 */
const char *loaa_metric_validation_for(const char *name);

/* "train_loss, val_loss, ..." - the known names, for error messages. Static text. */
const char *loaa_metric_names(void);

/* "maximize" or "minimize" by the metric's direction (the sweeps.goal spelling); NULL for an unknown name. */
const char *loaa_metric_goal(const char *name);

/*
 * Checks a metric name a user gave (what: e.g. "--metric", for the message):
 * LOAA_ERR_CONFIG for an unknown name, listing the known ones; with
 * for_selection (the name chooses a best trial or configuration, e.g.
 * `loaa export --best --metric`), also for a test metric, naming the
 * validation metric to use. LOAA_OK otherwise.
 */
loaa_status loaa_metric_check(const char *name, const char *what, int for_selection);

/* ---- distributions ---- */

/* Regularized incomplete beta I_x(a, b), a > 0, b > 0, 0 <= x <= 1 (asserted). Error within 1e-11 relative (1e-13 for a, b < 100). */
double loaa_incbeta(double a, double b, double x);

/* Student t CDF P(T <= t) with df > 0 degrees of freedom (asserted); t may be +-inf. */
double loaa_t_cdf(double t, double df);

/* The t with P(T <= t) = p, 0 < p < 1 and df > 0 (asserted); |error| < 1e-12. */
double loaa_t_quantile(double p, double df);

/* ---- tests ---- */

/* d[i] = a[i] - b[i] for i < n (d may alias a or b). */
void loaa_paired_diff(const double *a, const double *b, size_t n, double *d);

typedef struct loaa_ttest {
    size_t n;          /* J, the number of paired differences */
    double mean;       /* dbar */
    double se;         /* sqrt((1/J + ratio) s^2) */
    double t, df;      /* statistic and degrees of freedom (J - 1) */
    double lo, hi;     /* 95 % interval of the mean difference */
    double p;          /* two-sided */
} loaa_ttest;

/*
 * The Nadeau-Bengio corrected resampled t-test on n >= 2 paired differences
 * d (asserted; all finite), test_train_ratio = n_test/n_train >= 0 of the
 * folds (0 = the plain paired t-test). Formula above. Never fails.
 */
loaa_ttest loaa_corrected_ttest(const double *d, size_t n, double test_train_ratio);

#define LOAA_WILCOXON_EXACT_MAX 50

typedef struct loaa_wilcoxon {
    size_t n;          /* differences left after dropping zeros */
    double w;          /* min(R+, R-) */
    double p;          /* two-sided; 1 when n = 0 */
    double p_min;      /* the smallest p reachable at this n (all differences of one sign) */
    int exact;         /* 1: exact null distribution; 0: normal approximation */
} loaa_wilcoxon;

/*
 * The two-sided Wilcoxon signed-rank test on n paired differences (finite,
 * asserted; n may be 0), as documented above. Returns n = 0, p = p_min = 1
 * when every difference is zero or on no memory (n > 0 needs a scratch
 * array: then p is NAN).
 */
loaa_wilcoxon loaa_wilcoxon_signed_rank(const double *d, size_t n);

typedef struct loaa_comparison {
    loaa_ttest t;           /* Nadeau-Bengio corrected resampled t-test on a - b */
    loaa_wilcoxon wilcoxon; /* Wilcoxon signed-rank on a - b */
} loaa_comparison;

/*
 * Both tests on the paired values a[i], b[i] (i < n, n >= 2, finite;
 * asserted): per fold, method A's and method B's metric, seeds averaged
 * within the fold; test_train_ratio as loaa_corrected_ttest. Returns
 * LOAA_ERR_NOMEM (out untouched) or LOAA_OK.
 */
loaa_status loaa_compare_paired(const double *a, const double *b, size_t n, double test_train_ratio, loaa_comparison *out);

/*
 * Holm's step-down adjustment of m p-values (each in [0, 1], asserted):
 * adj[i] is p[i]'s adjusted value, in the input order (adj may alias p).
 * Returns 0, or -1 on no memory (adj untouched).
 */
int loaa_holm(const double *p, size_t m, double *adj);

#endif
