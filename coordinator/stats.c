/* stats.c - metric names and directions; incomplete beta, Student t, corrected resampled t-test, Wilcoxon signed-rank, Holm. */
#include "coordinator/stats.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct metric_info {
    const char *name;
    int direction;           /* +1 maximise, -1 minimise */
    const char *validation;  /* a test metric: the validation metric to select on; else NULL */
} metric_info;

static const metric_info metrics[] = {
    {"train_loss", -1, NULL},     {"val_loss", -1, NULL},       {"val_acc", 1, NULL},         {"val_map", 1, NULL},
    {"test_acc", 1, "val_acc"},   {"test_top5", 1, "val_acc"},  {"test_map", 1, "val_map"},   {"test_mpca", 1, "val_acc"},
};

static const metric_info *metric_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof metrics / sizeof *metrics; i++)
        if (!strcmp(metrics[i].name, name))
            return &metrics[i];
    return NULL;
}

int loaa_metric_direction(const char *name)
{
    const metric_info *m = metric_find(name);
    return m ? m->direction : 0;
}

int loaa_metric_is_test(const char *name)
{
    const metric_info *m = metric_find(name);
    return m && m->validation;
}

const char *loaa_metric_validation_for(const char *name)
{
    const metric_info *m = metric_find(name);
    return m ? m->validation : NULL;
}

const char *loaa_metric_names(void) { return "train_loss, val_loss, val_acc, val_map, test_acc, test_top5, test_map, test_mpca"; }

const char *loaa_metric_goal(const char *name)
{
    int direction = loaa_metric_direction(name);
    return direction > 0 ? "maximize" : direction < 0 ? "minimize" : NULL;
}

loaa_status loaa_metric_check(const char *name, const char *what, int for_selection)
{
    assert(what);
    if (!loaa_metric_direction(name))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: unknown metric '%s' (expected one of %s)", what, name ? name : "", loaa_metric_names());
    if (for_selection && loaa_metric_is_test(name))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: '%s' is a test metric; the best is chosen on validation only: use %s", what, name,
                         loaa_metric_validation_for(name));
    return LOAA_OK;
}

/* The continued fraction of I_x(a, b) (modified Lentz); converges fast for x < (a+1)/(a+b+2). */
static double beta_fraction(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-16;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        double aa = m * (b - m) * x / ((a - 1 + 2 * m) * (a + 2 * m));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? 1 / tiny : 1 / d;
        c = 1 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        h *= d * c;
        aa = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1 + 2 * m));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? 1 / tiny : 1 / d;
        c = 1 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        double step = d * c;
        h *= step;
        if (fabs(step - 1) < eps)
            break;
    }
    return h;
}

/* lgamma(x) - Stirling's (x - 1/2) log x - x + log(2 pi)/2, for x >= 100 (series error < 1e-20). */
static double stirling_rest(double x)
{
    assert(x >= 100);
    double x2 = x * x;
    return (1.0 / 12 - (1.0 / 360 - (1.0 / 1260 - 1.0 / (1680 * x2)) / x2) / x2) / x;
}

/*
 * log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b) without the cancellation of large lgamma
 * values (t CDF at large df: a = df/2, b = 1/2); both large: the Stirling form rearranged.
 */
static double log_beta(double a, double b)
{
    double big = a > b ? a : b, small = a > b ? b : a;
    if (big < 100)
        return lgamma(a) + lgamma(b) - lgamma(a + b);
    double sum = big + small;
    if (small < 100)
        return lgamma(small) - (big - 0.5) * log1p(small / big) - small * log(sum) + small + stirling_rest(big) - stirling_rest(sum);
    return 0.5 * log(2 * M_PI) + (a - 0.5) * log(a / sum) + (b - 0.5) * log(b / sum) - 0.5 * log(sum) + stirling_rest(a) + stirling_rest(b) -
           stirling_rest(sum);
}

/* I_x(a, b) given x and y = 1 - x separately (y is exact where x is close to 1, and x where y is). */
static double incbeta_xy(double a, double b, double x, double y)
{
    if (x <= 0)
        return 0;
    if (y <= 0)
        return 1;
    double log_x = x > 0.5 ? log1p(-y) : log(x), log_y = y > 0.5 ? log1p(-x) : log(y);
    double front = exp(a * log_x + b * log_y - log_beta(a, b));
    if (x < (a + 1) / (a + b + 2))
        return front * beta_fraction(a, b, x) / a;
    return 1 - front * beta_fraction(b, a, y) / b;
}

double loaa_incbeta(double a, double b, double x)
{
    assert(a > 0 && b > 0 && x >= 0 && x <= 1);
    return incbeta_xy(a, b, x, 1 - x);
}

/* P(|T| >= |t|) for Student t with df degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2). */
static double t_two_tail(double t, double df)
{
    if (isinf(t))
        return 0;
    double t2 = t * t;
    return incbeta_xy(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
}

double loaa_t_cdf(double t, double df)
{
    assert(df > 0 && !isnan(t));
    double half_tail = 0.5 * t_two_tail(t, df);
    return t >= 0 ? 1 - half_tail : half_tail;
}

double loaa_t_quantile(double p, double df)
{
    assert(p > 0 && p < 1 && df > 0);
    if (p < 0.5)
        return -loaa_t_quantile(1 - p, df);
    double tail = 2 * (1 - p); /* the two-sided tail P(|T| >= t) to reach */
    double lo = 0, hi = 1;
    while (t_two_tail(hi, df) > tail && hi < 1e300)
        hi *= 2;
    for (int i = 0; i < 2000 && hi - lo > 1e-15 * (1 + hi); i++) {
        double mid = 0.5 * (lo + hi);
        if (t_two_tail(mid, df) > tail)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

void loaa_paired_diff(const double *a, const double *b, size_t n, double *d)
{
    assert(n == 0 || (a && b && d));
    for (size_t i = 0; i < n; i++)
        d[i] = a[i] - b[i];
}

loaa_ttest loaa_corrected_ttest(const double *d, size_t n, double test_train_ratio)
{
    assert(d && n >= 2 && test_train_ratio >= 0 && isfinite(test_train_ratio));
    loaa_ttest r = {.n = n, .df = (double)(n - 1)};
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        assert(isfinite(d[i]));
        sum += d[i];
    }
    r.mean = sum / (double)n;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (d[i] - r.mean) * (d[i] - r.mean);
    double var = ss / (double)(n - 1);
    r.se = sqrt((1.0 / (double)n + test_train_ratio) * var);
    if (r.se == 0) {
        r.t = r.mean == 0 ? 0 : copysign(INFINITY, r.mean);
        r.p = r.mean == 0 ? 1 : 0;
        r.lo = r.hi = r.mean;
        return r;
    }
    r.t = r.mean / r.se;
    r.p = t_two_tail(r.t, r.df);
    double q = loaa_t_quantile(0.975, r.df);
    r.lo = r.mean - q * r.se;
    r.hi = r.mean + q * r.se;
    return r;
}

typedef struct abs_item {
    double abs;
    int positive;
} abs_item;

static int cmp_abs(const void *a, const void *b)
{
    double x = ((const abs_item *)a)->abs, y = ((const abs_item *)b)->abs;
    return (x > y) - (x < y);
}

/* Two-sided exact p of W (doubled mid-ranks r2, sum of doubled ranks w2) over all 2^n sign patterns. NAN on no memory. */
static double wilcoxon_exact_p(const long *r2, size_t n, long w2)
{
    long total = (long)(n * (n + 1));
    double *count = calloc((size_t)total + 1, sizeof *count); /* count[s]: sign patterns with doubled R+ = s */
    if (!count)
        return NAN;
    count[0] = 1;
    long reach = 0;
    for (size_t i = 0; i < n; i++) {
        reach += r2[i];
        for (long s = reach; s >= r2[i]; s--)
            count[s] += count[s - r2[i]];
    }
    double below = 0;
    for (long s = 0; s <= w2; s++)
        below += count[s];
    free(count);
    double p = 2 * below / ldexp(1.0, (int)n);
    return p < 1 ? p : 1;
}

/* Two-sided normal-approximation p of W (no continuity correction), variance reduced by tie_term = sum (t^3 - t) / 48. */
static double wilcoxon_normal_p(double w, size_t n, double tie_term)
{
    double nn = (double)n;
    double mean = nn * (nn + 1) / 4, var = nn * (nn + 1) * (2 * nn + 1) / 24 - tie_term;
    if (var <= 0)
        return 1;
    return erfc(fabs(w - mean) / sqrt(var) / sqrt(2.0));
}

loaa_wilcoxon loaa_wilcoxon_signed_rank(const double *d, size_t n_all)
{
    assert(n_all == 0 || d);
    loaa_wilcoxon r = {.p = 1, .p_min = 1, .exact = 1};
    abs_item *items = n_all ? malloc(n_all * sizeof *items) : NULL;
    long *r2 = n_all ? malloc(n_all * sizeof *r2) : NULL;
    if (n_all && (!items || !r2)) {
        free(items);
        free(r2);
        r.p = r.p_min = NAN;
        return r;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_all; i++) {
        assert(isfinite(d[i]));
        if (d[i] != 0) /* zero_method 'wilcox': zeros are dropped */
            items[n++] = (abs_item){fabs(d[i]), d[i] > 0};
    }
    r.n = n;
    if (n > 0) {
        qsort(items, n, sizeof *items, cmp_abs);
        long plus2 = 0;
        double tie_term = 0;
        for (size_t lo = 0, hi; lo < n; lo = hi + 1) {
            for (hi = lo; hi + 1 < n && items[hi + 1].abs == items[lo].abs; hi++)
                ;
            double t = (double)(hi - lo + 1);
            tie_term += (t * t * t - t) / 48;
            for (size_t i = lo; i <= hi; i++) {
                r2[i] = (long)(lo + hi + 2); /* twice the mid-rank of positions lo..hi (ranks lo+1..hi+1) */
                plus2 += items[i].positive ? r2[i] : 0;
            }
        }
        long total2 = (long)(n * (n + 1)); /* the sum of all doubled ranks */
        long w2 = plus2 < total2 - plus2 ? plus2 : total2 - plus2;
        r.w = (double)w2 / 2;
        r.exact = n <= LOAA_WILCOXON_EXACT_MAX;
        if (r.exact) {
            r.p = wilcoxon_exact_p(r2, n, w2);
            r.p_min = wilcoxon_exact_p(r2, n, 0);
        } else {
            r.p = wilcoxon_normal_p(r.w, n, tie_term);
            r.p_min = wilcoxon_normal_p(0, n, tie_term);
        }
    }
    free(items);
    free(r2);
    return r;
}

loaa_status loaa_compare_paired(const double *a, const double *b, size_t n, double test_train_ratio, loaa_comparison *out)
{
    assert(a && b && out && n >= 2);
    double *d = malloc(n * sizeof *d);
    if (!d)
        return loaa_fail(LOAA_ERR_NOMEM, "paired comparison: out of memory");
    loaa_paired_diff(a, b, n, d);
    loaa_comparison c = {loaa_corrected_ttest(d, n, test_train_ratio), loaa_wilcoxon_signed_rank(d, n)};
    free(d);
    if (isnan(c.wilcoxon.p))
        return loaa_fail(LOAA_ERR_NOMEM, "paired comparison: out of memory");
    *out = c;
    return LOAA_OK;
}

typedef struct p_item {
    double p;
    size_t index;
} p_item;

static int cmp_p(const void *a, const void *b)
{
    const p_item *x = a, *y = b;
    if (x->p != y->p)
        return (x->p > y->p) - (x->p < y->p);
    return (x->index > y->index) - (x->index < y->index);
}

int loaa_holm(const double *p, size_t m, double *adj)
{
    assert(m == 0 || (p && adj));
    if (m == 0)
        return 0;
    p_item *items = malloc(m * sizeof *items);
    if (!items)
        return -1;
    for (size_t i = 0; i < m; i++) {
        assert(p[i] >= 0 && p[i] <= 1);
        items[i] = (p_item){p[i], i};
    }
    qsort(items, m, sizeof *items, cmp_p);
    double running = 0;
    for (size_t i = 0; i < m; i++) {
        double v = (double)(m - i) * items[i].p;
        if (v > 1)
            v = 1;
        if (v > running)
            running = v;
        adj[items[i].index] = running;
    }
    free(items);
    return 0;
}
