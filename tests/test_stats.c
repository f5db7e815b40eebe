/* test_stats.c - coordinator/stats against worked examples computed with scipy (tests/fixtures/stats/make_fixtures.py). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "coordinator/stats.h"
#include "tests/fixtures/stats/stats_fixtures.h"
#include "tests/tap.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* Relative-or-absolute closeness: |got - want| <= tol * max(1, |want|). */
static int close_to(double got, double want, double tol) { return fabs(got - want) <= tol * fmax(1.0, fabs(want)); }

static void test_metric_names(void)
{
    TAP_OK(loaa_metric_direction("train_loss") == -1 && loaa_metric_direction("val_loss") == -1, "losses minimise");
    TAP_OK(loaa_metric_direction("val_acc") == 1 && loaa_metric_direction("test_map") == 1, "accuracy and mAP maximise");
    TAP_OK(loaa_metric_direction("val_accuracy") == 0 && loaa_metric_direction(NULL) == 0, "unknown names have no direction");
    TAP_OK(loaa_metric_is_test("test_top5") && !loaa_metric_is_test("val_acc") && !loaa_metric_is_test("test_x"),
           "test metrics are known by name");
    TAP_OK(!strcmp(loaa_metric_validation_for("test_acc"), "val_acc") && !strcmp(loaa_metric_validation_for("test_map"), "val_map") &&
               !strcmp(loaa_metric_validation_for("test_mpca"), "val_acc") && !loaa_metric_validation_for("val_acc"),
           "each test metric names the validation metric to select on");
    TAP_OK(strstr(loaa_metric_names(), "val_map") != NULL, "the name list for messages");
    TAP_OK(!strcmp(loaa_metric_goal("train_loss"), "minimize") && !strcmp(loaa_metric_goal("test_acc"), "maximize") &&
               !loaa_metric_goal("nope"),
           "goal spelled as sweeps.goal, from the name");
    TAP_OK(loaa_metric_check("val_acc", "--metric", 1) == LOAA_OK && loaa_metric_check("test_acc", "--metric", 0) == LOAA_OK,
           "known names pass; a test metric may be shown");
    loaa_status st = loaa_metric_check("accuracy", "--metric", 0);
    TAP_OK(st == LOAA_ERR_CONFIG && strstr(loaa_error_detail(), "--metric: unknown metric 'accuracy' (expected one of train_loss"),
           "an unknown --metric is refused: %s", loaa_error_detail());
    st = loaa_metric_check("test_map", "--metric", 1);
    TAP_OK(st == LOAA_ERR_CONFIG && strstr(loaa_error_detail(), "use val_map"), "a test metric cannot choose the best: %s", loaa_error_detail());
}

static void test_distributions(void)
{
    for (size_t i = 0; i < COUNT(fx_incbeta); i++) {
        const double *c = fx_incbeta[i];
        double got = loaa_incbeta(c[0], c[1], c[2]);
        TAP_OK(close_to(got, c[3], 1e-12), "I_%g(%g, %g) = %.15g (scipy %.15g)", c[2], c[0], c[1], got, c[3]);
    }
    for (size_t i = 0; i < COUNT(fx_tcdf); i++) {
        const double *c = fx_tcdf[i];
        double got = loaa_t_cdf(c[0], c[1]);
        TAP_OK(fabs(got - c[2]) <= 1e-11 * fmax(1e-3, c[2]) + 1e-15, "t CDF(%g; df %g) = %.15g (scipy %.15g)", c[0], c[1], got, c[2]);
    }
    TAP_OK(loaa_t_cdf(INFINITY, 3) == 1 && loaa_t_cdf(-INFINITY, 3) == 0, "t CDF at +-inf");
    for (size_t i = 0; i < COUNT(fx_tq); i++) {
        const double *c = fx_tq[i];
        double got = loaa_t_quantile(c[0], c[1]);
        TAP_OK(close_to(got, c[2], 1e-12) && close_to(got, c[3], 1e-9), "t quantile(%g; df %g) = %.15g (40-digit root %.15g, scipy %.15g)", c[0],
               c[1], got, c[2], c[3]);
    }
}

static void test_ttest(void)
{
    for (size_t i = 0; i < COUNT(fx_ttest); i++) {
        const fx_ttest_case *c = &fx_ttest[i];
        loaa_ttest r = loaa_corrected_ttest(c->d, (size_t)c->n, c->ratio);
        int ok = r.n == (size_t)c->n && r.df == c->n - 1 && close_to(r.mean, c->mean, 1e-13) && close_to(r.se, c->se, 1e-12) &&
                 close_to(r.t, c->t, 1e-12) && close_to(r.p, c->p, 1e-11) && close_to(r.lo, c->lo, 1e-11) && close_to(r.hi, c->hi, 1e-11);
        TAP_OK(ok, "corrected t, J=%d, n_test/n_train=%g: mean %.6g, t %.10g, p %.10g, 95%% [%.6g, %.6g]", c->n, c->ratio, r.mean, r.t, r.p,
               r.lo, r.hi);
        if (!ok)
            TAP_DIAG("want mean %.15g se %.15g t %.15g p %.15g lo %.15g hi %.15g", c->mean, c->se, c->t, c->p, c->lo, c->hi);
    }
    /* The correction widens the interval: the same differences at ratio 0.25 give a larger p than the plain test. */
    loaa_ttest plain = loaa_corrected_ttest(fx_ttest[0].d, 5, 0), nb = loaa_corrected_ttest(fx_ttest[0].d, 5, 0.25);
    TAP_OK(nb.p > plain.p && nb.hi - nb.lo > plain.hi - plain.lo, "the Nadeau-Bengio correction is more conservative (p %.4f > %.4f)", nb.p,
           plain.p);

    double d[COUNT(fx_rel_a)];
    loaa_paired_diff(fx_rel_a, fx_rel_b, COUNT(fx_rel_a), d);
    loaa_ttest rel = loaa_corrected_ttest(d, COUNT(d), 0);
    TAP_OK(close_to(rel.t, fx_rel_t, 1e-9) && close_to(rel.p, fx_rel_p, 1e-9), "ratio 0 on paired differences is scipy's ttest_rel (t %.10g, p %.10g)",
           rel.t, rel.p);

    loaa_comparison cmp = {0};
    loaa_status st = loaa_compare_paired(fx_rel_a, fx_rel_b, COUNT(fx_rel_a), 0.25, &cmp);
    TAP_OK(st == LOAA_OK && cmp.t.n == 5 &&
               close_to(cmp.t.mean, rel.mean, 1e-15) && cmp.t.p > rel.p && cmp.wilcoxon.n == 5 && cmp.wilcoxon.p == 0.0625 &&
               cmp.wilcoxon.p_min == 0.0625,
           "compare_paired: corrected t (p %.4f) and Wilcoxon (p %.4f, at best %.4f with 5 folds) on a - b", cmp.t.p, cmp.wilcoxon.p,
           cmp.wilcoxon.p_min);

    const double same[] = {0.02, 0.02, 0.02}, zero[] = {0, 0, 0};
    loaa_ttest s = loaa_corrected_ttest(same, 3, 0.5), z = loaa_corrected_ttest(zero, 3, 0.5);
    TAP_OK(isinf(s.t) && s.t > 0 && s.p == 0 && s.lo == 0.02 && s.hi == 0.02, "no spread and a non-zero mean: t = inf, p = 0");
    TAP_OK(z.t == 0 && z.p == 1, "all differences zero: t = 0, p = 1");
}

static void test_wilcoxon(void)
{
    for (size_t i = 0; i < COUNT(fx_wilcoxon); i++) {
        const fx_wilcoxon_case *c = &fx_wilcoxon[i];
        loaa_wilcoxon r = loaa_wilcoxon_signed_rank(c->d, (size_t)c->n_all);
        int ok = r.n == (size_t)c->n && r.exact && r.w == c->w && close_to(r.p, c->p, 1e-13) && close_to(r.p_min, c->p_min, 1e-15);
        TAP_OK(ok, "Wilcoxon exact, %d differences (%d non-zero%s): W %g, p %.10g, smallest p %.6g%s", c->n_all, c->n, c->ties ? ", ties" : "",
               r.w, r.p, r.p_min, c->ties ? " (exact on mid-ranks; scipy's approximation differs)" : " (= scipy exact)");
        if (!ok)
            TAP_DIAG("want n %d W %g p %.15g p_min %.15g", c->n, c->w, c->p, c->p_min);
    }
    loaa_wilcoxon big = loaa_wilcoxon_signed_rank(fx_wbig, COUNT(fx_wbig));
    TAP_OK(!big.exact && big.n == COUNT(fx_wbig) - 1 && big.w == fx_wbig_w && close_to(big.p, fx_wbig_p, 1e-12),
           "Wilcoxon, n = %zu > %d: normal approximation with tie correction = scipy's (p %.10g)", big.n, LOAA_WILCOXON_EXACT_MAX, big.p);
    TAP_OK(big.p_min < 1e-9, "the smallest p at n = %zu is tiny (%.3g)", big.n, big.p_min);
    const double zeros[] = {0, 0, 0};
    loaa_wilcoxon z = loaa_wilcoxon_signed_rank(zeros, 3);
    TAP_OK(z.n == 0 && z.p == 1 && z.p_min == 1, "all differences zero: n = 0, p = 1");
}

static void test_holm(void)
{
    for (size_t i = 0; i < COUNT(fx_holm); i++) {
        const fx_holm_case *c = &fx_holm[i];
        double adj[6];
        int ok = loaa_holm(c->p, (size_t)c->m, adj) == 0;
        for (int k = 0; k < c->m; k++)
            ok &= close_to(adj[k], c->adj[k], 1e-15);
        TAP_OK(ok, "Holm over %d p-values, in input order", c->m);
    }
    double p[] = {0.04, 0.01};
    TAP_OK(loaa_holm(p, 2, p) == 0 && p[0] == 0.04 && p[1] == 0.02, "Holm in place");
}

int main(void)
{
    test_metric_names();
    test_distributions();
    test_ttest();
    test_wilcoxon();
    test_holm();
    return tap_done();
}
