/*
 * metrics.c - top-k, mAP, mean per-class accuracy, confusion matrix.
 */
#include "kernels/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct scored {
    float s;
    int pos;
} scored;

static int cmp_desc(const void *a, const void *b)
{
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return x > y ? -1 : x < y;
}

/* Ties share one threshold: precision is taken after the whole group, as scikit-learn does. */
static double ap_sorted(const scored *v, int n, int npos)
{
    double ap = 0, prev_recall = 0;
    int tp = 0, seen = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && v[j].s == v[i].s) {
            tp += v[j].pos;
            j++;
        }
        seen = j;
        double recall = (double)tp / npos, precision = (double)tp / seen;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j;
    }
    return ap;
}

double loaa_average_precision(const float *scores, const unsigned char *positive, int n)
{
    int npos = 0;
    for (int i = 0; i < n; i++)
        npos += positive[i] != 0;
    if (npos == 0)
        return -1;
    scored *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return -1;
    for (int i = 0; i < n; i++)
        v[i] = (scored){scores[i], positive[i] != 0};
    qsort(v, (size_t)n, sizeof *v, cmp_desc);
    double ap = ap_sorted(v, n, npos);
    free(v);
    return ap;
}

/* Rank of class k in row (0 = highest); equal logits rank by lower index first. */
static int rank_of(const float *row, int c, int k)
{
    int r = 0;
    for (int j = 0; j < c; j++)
        if (row[j] > row[k] || (row[j] == row[k] && j < k))
            r++;
    return r;
}

static int argmax(const float *row, int c)
{
    int best = 0;
    for (int j = 1; j < c; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

static int is_pos(const int *labels, const float *targets, int i, int j, int c)
{
    return labels ? labels[i] == j : targets[(size_t)i * c + j] >= 0.5f;
}

loaa_status loaa_metrics_compute(loaa_metrics *out, const float *logits, const int *labels, const float *targets,
                                 int n, int c, int64_t *confusion)
{
    if (n < 1 || c < 1 || !logits || (!labels == !targets))
        return loaa_fail(LOAA_ERR_SHAPE, "metrics: need N >= 1 samples, C >= 1 classes and either labels or targets"
                                         " (got N=%d, C=%d)", n, c);
    for (int i = 0; i < n; i++) {
        if (labels && (labels[i] < 0 || labels[i] >= c))
            return loaa_fail(LOAA_ERR_SHAPE, "metrics: sample %d: label %d outside 0..%d", i, labels[i], c - 1);
        for (int j = 0; j < c; j++)
            if (!isfinite(logits[(size_t)i * c + j]))
                return loaa_fail(LOAA_ERR_NUMERIC, "metrics: sample %d: logit %d is not finite", i, j);
    }
    int k5 = c < 5 ? c : 5;
    int64_t *per_total = calloc((size_t)c, sizeof *per_total), *per_hit = calloc((size_t)c, sizeof *per_hit);
    scored *v = malloc((size_t)n * sizeof *v);
    if (!per_total || !per_hit || !v) {
        free(per_total);
        free(per_hit);
        free(v);
        return loaa_fail(LOAA_ERR_NOMEM, "metrics: %d samples x %d classes", n, c);
    }
    if (confusion)
        memset(confusion, 0, (size_t)c * c * sizeof *confusion);
    int hit1 = 0, hit5 = 0;
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * c;
        int pred = argmax(row, c);
        int truth = labels ? labels[i] : argmax(targets + (size_t)i * c, c);
        hit1 += is_pos(labels, targets, i, pred, c);
        int h5 = 0;
        for (int j = 0; j < c && !h5; j++)
            h5 = is_pos(labels, targets, i, j, c) && rank_of(row, c, j) < k5;
        hit5 += h5;
        per_total[truth]++;
        per_hit[truth] += pred == truth;
        if (confusion)
            confusion[(size_t)truth * c + pred]++;
    }
    double map = 0, mpca = 0;
    int present = 0, present_acc = 0;
    for (int j = 0; j < c; j++) {
        int npos = 0;
        for (int i = 0; i < n; i++) {
            v[i].s = logits[(size_t)i * c + j];
            v[i].pos = is_pos(labels, targets, i, j, c);
            npos += v[i].pos;
        }
        if (npos) {
            qsort(v, (size_t)n, sizeof *v, cmp_desc);
            map += ap_sorted(v, n, npos);
            present++;
        }
        if (per_total[j]) {
            mpca += (double)per_hit[j] / per_total[j];
            present_acc++;
        }
    }
    out->top1 = (double)hit1 / n;
    out->top5 = (double)hit5 / n;
    out->map = present ? map / present : 0;
    out->mpca = present_acc ? mpca / present_acc : 0;
    out->classes_present = present;
    free(per_total);
    free(per_hit);
    free(v);
    return LOAA_OK;
}
