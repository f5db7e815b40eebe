/* test_metrics.c - metrics against hand-computed values, and the learning-rate schedules. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/config.h"
#include "kernels/metrics.h"
#include "kernels/schedule.h"
#include "tests/tap.h"
#include "worker/spec.h"

static void test_average_precision(void)
{
    /* scikit-learn's documented example: average_precision_score([0,0,1,1], [.1,.4,.35,.8]) = 0.8333 */
    float s[4] = {0.1f, 0.4f, 0.35f, 0.8f};
    unsigned char y[4] = {0, 0, 1, 1};
    TAP_NEAR(loaa_average_precision(s, y, 4), 0.8333333333, 1e-9, "AP of the scikit-learn example");
    /* Tied scores form one threshold: (.5 - 0) * 1/2 + (1 - .5) * 2/3 */
    float t[3] = {0.5f, 0.5f, 0.2f};
    unsigned char yt[3] = {1, 0, 1};
    TAP_NEAR(loaa_average_precision(t, yt, 3), 0.25 + 1.0 / 3, 1e-9, "AP with tied scores");
    unsigned char none[3] = {0, 0, 0};
    TAP_OK(loaa_average_precision(t, none, 3) == -1, "AP without positives is -1");
}

static void test_single_label(void)
{
    const float logits[4 * 3] = {2, 1, 0, 0.5f, 0.2f, 0.9f, 0.1f, 0.3f, 0.8f, 0.2f, 0.7f, 0.1f};
    const int labels[4] = {0, 1, 2, 1};
    int64_t conf[9];
    loaa_metrics m;
    TAP_OK(loaa_metrics_compute(&m, logits, labels, NULL, 4, 3, conf) == LOAA_OK, "metrics computed");
    TAP_NEAR(m.top1, 0.75, 1e-12, "top-1 3/4");
    TAP_NEAR(m.top5, 1.0, 1e-12, "top-5 with 3 classes is top-3");
    /* AP per class: 1, 0.5, 0.5 (worked out by hand in the comment of the test plan) */
    TAP_NEAR(m.map, 2.0 / 3, 1e-12, "mAP = (1 + .5 + .5) / 3");
    TAP_NEAR(m.mpca, (1 + 0.5 + 1) / 3, 1e-12, "mean per-class accuracy");
    TAP_OK(m.classes_present == 3, "3 classes present");
    const int64_t want[9] = {1, 0, 0, 0, 1, 1, 0, 0, 1};
    TAP_OK(!memcmp(conf, want, sizeof want), "confusion matrix (rows true, columns predicted)");

    /* top-5 over 7 classes with all logits equal: ranks follow the class index. */
    float flat[2 * 7] = {0};
    int lab[2] = {4, 5};
    TAP_OK(loaa_metrics_compute(&m, flat, lab, NULL, 2, 7, NULL) == LOAA_OK && fabs(m.top5 - 0.5) < 1e-12 &&
               m.top1 == 0,
           "ties ranked by class index: label 4 in the top 5, label 5 not");
    /* Classes absent from the labels do not count in mAP or mpca. */
    const float l2[2 * 3] = {1, 0, 0, 0, 0, 1};
    int lab2[2] = {0, 0};
    TAP_OK(loaa_metrics_compute(&m, l2, lab2, NULL, 2, 3, NULL) == LOAA_OK && m.classes_present == 1 &&
               fabs(m.map - 1.0) < 1e-12 && fabs(m.mpca - 0.5) < 1e-12,
           "only classes present are averaged");
}

static void test_multi_hot(void)
{
    const float logits[2 * 3] = {0.1f, 0.5f, 0.9f, 0.9f, 0.1f, 0.2f};
    const float targets[2 * 3] = {1, 0, 1, 0, 1, 0};
    loaa_metrics m;
    TAP_OK(loaa_metrics_compute(&m, logits, NULL, targets, 2, 3, NULL) == LOAA_OK, "multi-hot metrics");
    TAP_NEAR(m.top1, 0.5, 1e-12, "multi-hot top-1: prediction among the positives");
    TAP_NEAR(m.map, 2.0 / 3, 1e-12, "multi-hot mAP = (.5 + .5 + 1) / 3");
    TAP_NEAR(m.mpca, 0, 1e-12, "multi-hot mpca uses the first positive as the class");
}

static void test_bad_input(void)
{
    float logits[2 * 2] = {0, 1, NAN, 0};
    int labels[2] = {0, 1};
    loaa_metrics m;
    TAP_OK(loaa_metrics_compute(&m, logits, labels, NULL, 2, 2, NULL) == LOAA_ERR_NUMERIC &&
               strstr(loaa_error_detail(), "sample 1"),
           "NaN logit refused naming the sample");
    logits[2] = 0;
    labels[1] = 2;
    TAP_OK(loaa_metrics_compute(&m, logits, labels, NULL, 2, 2, NULL) == LOAA_ERR_SHAPE &&
               strstr(loaa_error_detail(), "sample 1: label 2"),
           "label out of range refused");
    TAP_OK(loaa_metrics_compute(&m, logits, NULL, NULL, 2, 2, NULL) == LOAA_ERR_SHAPE, "no targets refused");
    TAP_OK(loaa_metrics_compute(&m, logits, labels, NULL, 0, 2, NULL) == LOAA_ERR_SHAPE, "N = 0 refused");
}

/* The learning rate of a config's schedule spec (the translation worker/spec.c makes for a trial). */
static double lr_at(const loaa_config *c, double epoch)
{
    loaa_schedule_spec spec = loaa_spec_schedule_from_config(c);
    return loaa_schedule_lr(&spec, epoch);
}

static void test_schedule(void)
{
    loaa_config c;
    loaa_config_defaults(&c);
    c.lr = 1e-3;
    c.epochs = 10;
    c.warmup_epochs = 1;
    c.schedule = LOAA_SCHED_COSINE;
    TAP_NEAR(lr_at(&c, 0), 0, 1e-15, "cosine: 0 at the start of the warm-up");
    TAP_NEAR(lr_at(&c, 0.5), 5e-4, 1e-15, "cosine: half-way through the warm-up");
    TAP_NEAR(lr_at(&c, 1), 1e-3, 1e-15, "cosine: peak after the warm-up");
    TAP_NEAR(lr_at(&c, 5.5), 5e-4, 1e-15, "cosine: half at the middle of the decay");
    TAP_NEAR(lr_at(&c, 3.25), 1e-3 * 0.5 * (1 + cos(M_PI * 0.25)), 1e-15, "cosine: a quarter in");
    TAP_NEAR(lr_at(&c, 10), 0, 1e-15, "cosine: 0 at the end");
    TAP_NEAR(lr_at(&c, 12), 0, 1e-15, "cosine: clamped after the end");
    c.warmup_epochs = 0;
    TAP_NEAR(lr_at(&c, 0), 1e-3, 1e-15, "cosine without warm-up starts at lr");
    c.schedule = LOAA_SCHED_STEP;
    c.epochs = 30;
    TAP_NEAR(lr_at(&c, 4.99), 1e-3, 1e-15, "step: epochs 0-4 at lr");
    TAP_NEAR(lr_at(&c, 5), 0.85e-3, 1e-15, "step: epoch 5 at 0.85 lr");
    TAP_NEAR(lr_at(&c, 6.5), 0.85 * 0.85e-3, 1e-15, "step: epoch 6 at 0.85^2 lr");
    TAP_NEAR(lr_at(&c, 29), 1e-3 * pow(0.85, 25), 1e-15, "step: epoch 29");
    c.warmup_epochs = 2;
    TAP_NEAR(lr_at(&c, 0.5), 0.25e-3, 1e-15, "step with warm-up: linear ramp first");
}

int main(void)
{
    test_average_precision();
    test_single_label();
    test_multi_hot();
    test_bad_input();
    test_schedule();
    return tap_done();
}
